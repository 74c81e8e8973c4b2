"""Sweep configurations: TOML files validated before any work starts.

A config names the constellation, the channel(s), the SNR grid, the
stopping rule and the detectors with their options and CSI case. Every
problem found is collected and reported in one :class:`ConfigError`, so a
typo costs one run, not one run per typo. See ``configs/quick.toml``.
"""

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import numpy as np

from channels import exponential_taps
from detectors.constellations import make_constellation

from .registry import DETECTORS, check_detector_options

__all__ = ["ConfigError", "SweepConfig", "ChannelSpec", "DetectorSpec",
           "load_config", "parse_config", "snr_to_no"]


class ConfigError(ValueError):
    """A config has problems; ``problems`` lists each one."""

    def __init__(self, problems, source="config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


def snr_to_no(snr_db):
    """``no = 10**(-snr_db/10)`` (unnormalised taps, as in the papers)."""
    return 10.0 ** (-float(snr_db) / 10.0)


@dataclass(frozen=True)
class ChannelSpec:
    """One ISI channel: exponential taps ``exp(-gamma*l)`` or explicit taps."""
    memory: int
    gamma: float | None = None
    taps: tuple | None = None
    normalize: bool = False

    def tap_array(self):
        """Taps as a numpy array ``[L]``."""
        if self.taps is not None:
            return np.asarray(self.taps)
        return exponential_taps(self.memory, self.gamma,
                                normalize=self.normalize)

    @property
    def label(self):
        """Short name used as the results key, e.g. ``isi:L=4,gamma=0.2``."""
        if self.taps is not None:
            taps = ",".join(f"{t:g}" for t in self.taps)
            return f"isi:taps=[{taps}]"
        norm = ",normalized" if self.normalize else ""
        return f"isi:L={self.memory},gamma={self.gamma:g}{norm}"


@dataclass(frozen=True)
class DetectorSpec:
    """A detector by registry name, with its options and CSI case."""
    name: str
    label: str
    csi: str = "perfect"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep (see module docstring)."""
    name: str
    seed: int
    constellation: str
    frame_length: int
    batch_size: int
    channels: tuple
    snr_db: tuple
    target_errors: int
    max_symbols: int
    confidence: float
    xla: bool
    detectors: tuple

    def with_seed(self, seed):
        """A copy with another sweep seed."""
        return dataclasses.replace(self, seed=int(seed))

    def point_hash(self, channel, detector):
        """Hash of everything that determines the numbers of one
        (channel, detector) curve, SNR aside. Adding SNR points or
        detectors keeps the hashes (and finished rows) of the others."""
        payload = {
            "seed": self.seed, "constellation": self.constellation,
            "frame_length": self.frame_length, "batch_size": self.batch_size,
            "channel": dataclasses.asdict(channel),
            "detector": {"name": detector.name, "csi": detector.csi,
                         "options": detector.options},
            "target_errors": self.target_errors,
            "max_symbols": self.max_symbols, "confidence": self.confidence,
            # XLA draws other random numbers from the same stateless seeds
            "xla": self.xla,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- schema ---------------------------------------------------------------
_SECTIONS = {
    "experiment": {"name": str, "seed": int},
    "link": {"constellation": str, "frame_length": int, "batch_size": int,
             "xla": bool},
    "channel": {"kind": str, "memory": int, "gamma": (float, list),
                "taps": list, "normalize": bool},
    "sweep": {"snr_db": (list, dict), "target_errors": int,
              "max_symbols": int, "confidence": float},
    # any other key of a [[detector]] table is an option of that detector
    "detector": {"name": str, "label": str, "csi": str},
}
_MAX_SNR_POINTS = 1000
_DEFAULTS = {"seed": 1, "constellation": "bpsk", "frame_length": 100,
             "batch_size": 1000, "xla": True, "target_errors": 100,
             "max_symbols": 1_000_000, "confidence": 0.95}


def _type_ok(value, expected):
    expected = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool):
        return bool in expected
    if isinstance(value, int) and float in expected:
        return True
    return isinstance(value, expected)


def _type_name(expected):
    expected = expected if isinstance(expected, tuple) else (expected,)
    names = {str: "string", int: "integer", float: "number", bool: "boolean",
             list: "array", dict: "table"}
    return " or ".join(names[t] for t in expected)


def _check_table(table, section, problems):
    allowed = _SECTIONS[section]
    for key, value in table.items():
        if key not in allowed:
            problems.append(f"[{section}] unknown key {key!r}; allowed: "
                            f"{', '.join(sorted(allowed))}")
        elif not _type_ok(value, allowed[key]):
            problems.append(f"[{section}] {key} must be of type "
                            f"{_type_name(allowed[key])}, got {value!r}")


def _positive(table, section, key, problems, default):
    value = table.get(key, default)
    if _type_ok(value, int) and not isinstance(value, bool) and value < 1:
        problems.append(f"[{section}] {key} must be >= 1, got {value}")
    return value


def _snr_grid(spec, problems):
    if isinstance(spec, dict):
        unknown = set(spec) - {"start", "stop", "step"}
        if unknown or not {"start", "stop"} <= set(spec):
            problems.append("[sweep] snr_db as a table needs start, stop "
                            "(and optional step), e.g. "
                            "{ start = 0, stop = 10, step = 2 }")
            return ()
        start, stop = spec["start"], spec["stop"]
        step = spec.get("step", 1)
        if not all(_type_ok(v, float) and math.isfinite(v)
                   for v in (start, stop, step)) or step <= 0 or stop < start:
            problems.append(f"[sweep] snr_db range needs finite numbers with "
                            f"step > 0 and stop >= start, got {spec}")
            return ()
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n > _MAX_SNR_POINTS:
            problems.append(f"[sweep] snr_db range has {n} points; at most "
                            f"{_MAX_SNR_POINTS} (check step)")
            return ()
        return tuple(round(start + i * step, 10) for i in range(n))
    if not spec:
        problems.append("[sweep] snr_db is empty; give at least one SNR")
        return ()
    if not all(_type_ok(v, float) for v in spec):
        problems.append(f"[sweep] snr_db must hold numbers, got {spec}")
        return ()
    if not all(math.isfinite(v) for v in spec):
        problems.append(f"[sweep] snr_db must be finite, got {spec}")
        return ()
    return tuple(float(v) for v in spec)


def _channels(table, problems):
    kind = table.get("kind", "isi")
    if kind != "isi":
        problems.append(f"[channel] kind {kind!r} unknown; allowed: 'isi'")
        return ()
    taps, gamma = table.get("taps"), table.get("gamma")
    memory = table.get("memory")
    normalize = table.get("normalize", False)
    if (taps is None) == (gamma is None):
        problems.append("[channel] give either taps = [...] or gamma "
                        "(with memory = L)")
        return ()
    if taps is not None:
        if not taps or not all(_type_ok(t, float) and math.isfinite(t)
                               for t in taps):
            problems.append(f"[channel] taps must be a non-empty array of "
                            f"numbers, got {taps}")
            return ()
        if memory is not None and memory != len(taps):
            problems.append(f"[channel] memory = {memory} but {len(taps)} "
                            "taps given")
        return (ChannelSpec(memory=len(taps),
                            taps=tuple(float(t) for t in taps)),)
    if not _type_ok(memory, int) or isinstance(memory, bool) or memory < 1:
        problems.append(f"[channel] memory (L, number of taps) must be an "
                        f"integer >= 1 with gamma, got {memory!r}")
        return ()
    gammas = gamma if isinstance(gamma, list) else [gamma]
    if not gammas or not all(_type_ok(g, float) and math.isfinite(g)
                             and g >= 0 for g in gammas):
        problems.append(f"[channel] gamma must be a number >= 0 or an array "
                        f"of them, got {gamma!r}")
        return ()
    return tuple(ChannelSpec(memory=memory, gamma=float(g),
                             normalize=normalize) for g in gammas)


def _detectors(entries, problems):
    from channels.csi import parse_csi

    specs, labels = [], set()
    if not isinstance(entries, list) or not entries:
        problems.append("no detectors: add at least one [[detector]] table "
                        f"with name = one of {', '.join(sorted(DETECTORS))}")
        return ()
    for i, entry in enumerate(entries):
        where = f"[[detector]] #{i + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a table")
            continue
        before = len(problems)
        common = {k: v for k, v in entry.items() if k in _SECTIONS["detector"]}
        options = {k: v for k, v in entry.items() if k not in common}
        _check_table(common, "detector", problems)
        name = entry.get("name")
        if name not in DETECTORS:
            problems.append(f"{where} name {name!r} unknown; allowed: "
                            f"{', '.join(sorted(DETECTORS))}")
        else:
            for p in check_detector_options(name, options):
                problems.append(f"{where} ({name}) {p}")
        csi = entry.get("csi", "perfect")
        try:
            csi = str(parse_csi(csi))    # canonical spelling keys results
        except (ValueError, TypeError) as e:
            problems.append(f"{where} csi: {e}")
        if len(problems) > before:
            continue
        label = entry.get("label", name if csi == "perfect"
                          else f"{name} ({csi})")
        if label in labels:
            problems.append(f"{where} label {label!r} used twice; give "
                            "each detector a distinct label")
        labels.add(label)
        specs.append(DetectorSpec(name=name, label=label, csi=csi,
                                  options=options))
    return tuple(specs)


def parse_config(data, source="config"):
    """Validate a config dict (as read from TOML) -> :class:`SweepConfig`."""
    problems = []
    if not isinstance(data, dict):
        raise ConfigError(["the config must be a TOML table"], source)
    for key in data:
        if key not in _SECTIONS:
            problems.append(f"unknown section [{key}]; allowed: "
                            f"{', '.join(sorted(_SECTIONS))}")
    tables = {}
    for section in ("experiment", "link", "channel", "sweep"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            problems.append(f"[{section}] must be a table")
            table = {}
        _check_table(table, section, problems)
        tables[section] = table
    exp, link, chan, sweep = (tables[s] for s in
                              ("experiment", "link", "channel", "sweep"))
    if "name" not in exp:
        problems.append("[experiment] name is required (it keys the "
                        "results)")
    if "channel" not in data:
        problems.append("[channel] section is required")
    if "snr_db" not in sweep:
        problems.append("[sweep] snr_db is required")
    constellation = link.get("constellation", _DEFAULTS["constellation"])
    try:
        make_constellation(constellation)
    except (ValueError, TypeError) as e:
        problems.append(f"[link] constellation: {e}")
    confidence = sweep.get("confidence", _DEFAULTS["confidence"])
    if _type_ok(confidence, float) and not 0 < confidence < 1:
        problems.append(f"[sweep] confidence must be in (0, 1), got "
                        f"{confidence}")
    values = {k: _positive(t, s, k, problems, _DEFAULTS[k]) for s, t, k in (
        ("link", link, "frame_length"), ("link", link, "batch_size"),
        ("sweep", sweep, "target_errors"), ("sweep", sweep, "max_symbols"))}
    channels = _channels(chan, problems) if "channel" in data else ()
    snr_spec = sweep.get("snr_db")
    snrs = (_snr_grid(snr_spec, problems)
            if _type_ok(snr_spec, (list, dict)) else ())
    detectors = _detectors(data.get("detector"), problems)
    if problems:
        raise ConfigError(problems, source)
    return SweepConfig(
        name=exp["name"], seed=exp.get("seed", _DEFAULTS["seed"]),
        constellation=constellation, channels=channels, snr_db=snrs,
        confidence=float(confidence), xla=link.get("xla", _DEFAULTS["xla"]),
        detectors=detectors, **values)


def load_config(path):
    """Read and validate a TOML sweep config; raises :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError([f"cannot read {path}: {e.strerror}"],
                          str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"malformed TOML: {e}"], str(path)) from None
    return parse_config(data, source=str(path))
