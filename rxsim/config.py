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
from signals.constellations import make_constellation

from .registry import DETECTORS, check_detector_options
from .mimo_config import MIMO_KEYS, MIMOSpec, mimo_channels, mimo_problems
from .tdl_config import TDL_KEYS, TDLSpec, tdl_channels

__all__ = ["ConfigError", "SweepConfig", "ChannelSpec", "TDLSpec", "MIMOSpec",
           "DetectorSpec",
           "CodeSpec", "load_config", "parse_config", "snr_to_no",
           "config_hash"]


class ConfigError(ValueError):
    """A config has problems; ``problems`` lists each one."""

    def __init__(self, problems, source="config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


def snr_to_no(snr_db):
    """``no = 10**(-snr_db/10)`` (unnormalised taps, as in the papers)."""
    return 10.0 ** (-float(snr_db) / 10.0)


def config_hash(payload):
    """16 hex digits of SHA-256 over ``payload`` as sorted JSON: the key of
    a curve's rows and checkpoints (:meth:`SweepConfig.point_hash`, and
    studies that are not sweeps, e.g. ``rxsim.studies.time_varying``).

    Example
    -------
    >>> config_hash({"seed": 1, "snr_db": 6.0})
    '308fabebf8601e7d'
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: exponential taps ``exp(-gamma*l)`` or explicit taps.

    ``kind`` is ``"isi"`` (linear ISI with AWGN, ``channels.ISIChannel``)
    or ``"poisson"`` (on-off keying through ``channels.PoissonChannel``:
    counts ``~ Poisson(sqrt(rho) sum_l h[l] x[k-l] + 1)`` with the same
    SNR grid, ``no = 1/rho = 10**(-snr_db/10)``).
    ``phases`` (radians, one per tap; ISI only) rotate the taps into
    complex ones, ``h[l] exp(1j phases[l])``, for QPSK / QAM links.
    """
    memory: int
    gamma: float | None = None
    taps: tuple | None = None
    normalize: bool = False
    kind: str = "isi"
    # radians, one per tap: complex taps h[l] exp(1j phases[l])
    phases: tuple | None = None

    def hash_payload(self):
        """This channel's part of a curve's config hash: its fields, with
        ``kind`` left out for ISI channels so that the hashes (and stored
        rows) of configs written before channel kinds existed stay
        valid."""
        payload = dataclasses.asdict(self)
        if payload.get("kind") == "isi":
            del payload["kind"]
        if payload.get("phases") is None:   # likewise for real channels
            del payload["phases"]
        return payload

    def tap_array(self):
        """Taps as a numpy array ``[L]`` (complex128 with ``phases``)."""
        if self.taps is not None:
            taps = np.asarray(self.taps)
        else:
            taps = exponential_taps(self.memory, self.gamma,
                                    normalize=self.normalize)
        if self.phases is not None:
            taps = taps * np.exp(1j * np.asarray(self.phases))
        return taps

    def block(self, constellation, precision=None):
        """The channel block: :class:`channels.ISIChannel` or
        :class:`channels.PoissonChannel` with :meth:`tap_array`."""
        from channels import ISIChannel, PoissonChannel
        cls = PoissonChannel if self.kind == "poisson" else ISIChannel
        return cls(self.tap_array(), constellation=constellation,
                   precision=precision)

    def signal_constellation(self, constellation):
        """The constellation the link sends (the config's, as it is)."""
        return constellation

    @property
    def energy(self):
        """float : received energy per symbol, ``sum_l |h_l|^2``."""
        return float(np.sum(np.abs(self.tap_array()) ** 2))

    @property
    def label(self):
        """Short name used as the results key, e.g. ``isi:L=4,gamma=0.2``."""
        phases = "" if self.phases is None else (
            ",phases=[" + ",".join(f"{p:g}" for p in self.phases) + "]")
        if self.taps is not None:
            taps = ",".join(f"{t:g}" for t in self.taps)
            return f"{self.kind}:taps=[{taps}]{phases}"
        norm = ",normalized" if self.normalize else ""
        return (f"{self.kind}:L={self.memory},gamma={self.gamma:g}{norm}"
                f"{phases}")


@dataclass(frozen=True)
class DetectorSpec:
    """A detector by registry name, with its options and CSI case.

    ``output`` (``"soft"`` | ``"hard"``) is what a coded link's decoder
    gets from it and ``iterations`` its turbo passes
    (:class:`rxsim.coded.CodedLink`); both ``None`` in configs without a
    ``[code]`` section."""
    name: str
    label: str
    csi: str = "perfect"
    options: dict = field(default_factory=dict)
    output: str | None = None
    iterations: int | None = None


@dataclass(frozen=True)
class CodeSpec:
    """The ``[code]`` section: a channel code around every link.

    ``type`` is ``"ldpc5g"`` (Sionna's ``LDPC5GEncoder(k, n)`` /
    ``LDPC5GDecoder``, ``num_iter`` BP iterations); ``interleave`` and
    ``hard_llr`` as in :class:`rxsim.coded.CodedLink`. A codeword is one
    frame, so ``frame_length = n / bits_per_symbol``."""
    type: str
    k: int
    n: int
    num_iter: int = 20
    interleave: bool = True
    hard_llr: float = 2.5


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
    code: CodeSpec | None = None
    # what the snr_db grid holds: "snr" (no = 10**(-snr_db/10)) or "ebno"
    # (Eb/N0 in dB; rxsim.sweep.noise_variance)
    axis: str = "snr"

    def with_seed(self, seed):
        """A copy with another sweep seed."""
        return dataclasses.replace(self, seed=int(seed))

    def point_hash(self, channel, detector):
        """Hash of everything that determines the numbers of one
        (channel, detector) curve, SNR aside. Adding SNR points or
        detectors keeps the hashes (and finished rows) of the others."""
        return config_hash(self.hash_payload(channel, detector))

    def data_hash(self, channel):
        """Hash of everything that determines the *data* of a channel's
        points, i.e. every setting but the detector's: the transmitted
        frames, channel realisations and noise of a point depend on it and
        on the SNR only (common random numbers; see :func:`rxsim.sweep.
        sweep_points`). Listing other detectors, or changing one's
        options, leaves it alone."""
        payload = {
            "seed": self.seed, "constellation": self.constellation,
            "frame_length": self.frame_length, "batch_size": self.batch_size,
            "channel": channel.hash_payload(), "xla": self.xla,
        }
        if self.code is not None:
            payload["code"] = dataclasses.asdict(self.code)
        if self.axis != "snr":   # the default leaves older hashes alone
            payload["axis"] = self.axis
        return config_hash(payload)

    def hash_payload(self, channel, detector):
        """The dict :meth:`point_hash` hashes (as sorted JSON).

        The code and the detector's ``output`` enter only when the config
        has a ``[code]``: configs without one hash exactly as before codes
        existed, so their stored rows keep resuming."""
        payload = {
            "seed": self.seed, "constellation": self.constellation,
            "frame_length": self.frame_length, "batch_size": self.batch_size,
            "channel": channel.hash_payload(),
            "detector": {"name": detector.name, "csi": detector.csi,
                         "options": detector.options},
            "target_errors": self.target_errors,
            "max_symbols": self.max_symbols, "confidence": self.confidence,
            # XLA draws other random numbers from the same stateless seeds
            "xla": self.xla,
        }
        if self.code is not None:
            payload["code"] = dataclasses.asdict(self.code)
            payload["detector"]["output"] = detector.output
            # one-shot curves (I = 1) hash as before turbo links existed
            if detector.iterations not in (None, 1):
                payload["detector"]["iterations"] = detector.iterations
        if self.axis != "snr":   # Eb/N0 grid: other noise, other numbers
            payload["axis"] = self.axis
        return payload


# -- schema ---------------------------------------------------------------
_SECTIONS = {
    "experiment": {"name": str, "seed": int},
    "link": {"constellation": str, "frame_length": int, "batch_size": int,
             "xla": bool},
    "channel": {"kind": str, "memory": int, "gamma": (float, list),
                "taps": list, "normalize": bool, "phases": list,
                **TDL_KEYS, **MIMO_KEYS},
    "sweep": {"snr_db": (list, dict), "axis": str, "target_errors": int,
              "max_symbols": int, "confidence": float},
    # any other key of a [[detector]] table is an option of that detector
    "detector": {"name": str, "label": str, "csi": str, "output": str,
                 "iterations": (int, list)},
    "code": {"type": str, "k": int, "n": int, "num_iter": int,
             "interleave": bool, "hard_llr": float,
             "iterations": (int, list)},
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


#: Most turbo passes a config may ask for (each one costs a detector and a
#: decoder run).
_MAX_ITERATIONS = 100


def _iterations(value, where, problems):
    """``iterations = I`` or ``[I1, I2, ...]`` -> a tuple of distinct ints
    >= 1 (one curve each); ``()`` after a problem."""
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int)
           or not 1 <= v <= _MAX_ITERATIONS]
    if not values or bad or len(set(values)) != len(values):
        problems.append(
            f"{where} iterations must be an integer in 1..{_MAX_ITERATIONS} "
            f"(turbo detector passes; 1 = one-shot) or a list of distinct "
            f"ones, got {value!r}")
        return ()
    return tuple(values)


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


_CHANNEL_KINDS = ("isi", "poisson", "tdl", "mimo")
SWEEP_AXES = ("snr", "ebno")


def _sweep_axis(sweep, constellation, channels, problems):
    """``[sweep] axis``: ``"snr"`` (default) or ``"ebno"`` (the grid is
    Eb/N0 in dB, see :func:`rxsim.sweep.noise_variance`)."""
    from signals.constellations import constellation_name

    axis = sweep.get("axis", "snr")
    if not isinstance(axis, str):
        return "snr"                 # its type is reported already
    if axis not in SWEEP_AXES:
        problems.append(f"[sweep] axis {axis!r} unknown; allowed: "
                        f"{', '.join(map(repr, SWEEP_AXES))}")
        return "snr"
    if axis == "ebno":
        try:
            ook = constellation_name(make_constellation(constellation)) \
                == "ook"
        except (ValueError, TypeError):
            ook = False              # reported with [link] already
        if ook or any(c.kind == "poisson" for c in channels):
            problems.append(
                "[sweep] axis = 'ebno' needs a Gaussian ('isi') channel and "
                "a unit-energy constellation; on-off keying through a "
                "'poisson' channel has no Eb/N0 (its grid is rho in dB): "
                "use axis = 'snr'")
    return axis


def _channels(table, constellation, problems):
    kind = table.get("kind", "isi")
    if kind not in _CHANNEL_KINDS:
        problems.append(f"[channel] kind {kind!r} unknown; allowed: "
                        f"{', '.join(map(repr, _CHANNEL_KINDS))}")
        return ()
    if kind == "tdl":
        extra = sorted(k for k in MIMO_KEYS if k in table)
        if extra:
            problems.append(f"[channel] {', '.join(extra)}: keys of kind = "
                            "'mimo', not of 'tdl'; remove them")
        return tdl_channels(table, constellation, problems)
    if kind == "mimo":
        return mimo_channels(table, constellation, problems)
    for other, keys in (("tdl", TDL_KEYS), ("mimo", MIMO_KEYS)):
        extra = sorted(k for k in keys if k in table)
        if extra:
            problems.append(f"[channel] {', '.join(extra)}: keys of kind = "
                            f"{other!r}, not of {kind!r}; remove them or set "
                            f"kind = {other!r}")
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
                            taps=tuple(float(t) for t in taps), kind=kind),)
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
                             normalize=normalize, kind=kind) for g in gammas)


def _with_phases(channels, table, constellation, problems):
    """``channels`` with the ``[channel] phases`` (radians, one per tap)
    that make their taps complex, ``h[l] exp(1j phases[l])``."""
    from signals.constellations import is_real

    phases = table.get("phases")
    if phases is None or not _type_ok(phases, list):
        return channels          # absent, or its type is reported already
    before = len(problems)
    if not phases or not all(_type_ok(p, float) and math.isfinite(p)
                             for p in phases):
        problems.append(f"[channel] phases must be an array of finite "
                        f"numbers (radians, one per tap), got {phases}")
    if table.get("kind", "isi") != "isi":
        problems.append("[channel] phases (complex taps) apply to kind = "
                        "'isi' only; remove phases")
    for c in channels:
        if len(phases) != c.memory:
            problems.append(f"[channel] phases has {len(phases)} entries "
                            f"but the channel has {c.memory} taps; give one "
                            "phase per tap")
            break
    try:
        real = is_real(make_constellation(constellation))
    except (ValueError, TypeError):
        real = False             # reported with [link] already
    if real:
        problems.append(f"[channel] phases make the taps complex, which "
                        f"needs a complex constellation, but [link] "
                        f"constellation = {constellation!r} is real; use "
                        f"'qpsk' or 'qamM', or remove phases")
    if len(problems) > before:
        return channels
    return tuple(dataclasses.replace(c, phases=tuple(float(p)
                                                     for p in phases))
                 for c in channels)


def _default_xla(channels):
    """XLA unless a channel is Poisson (its sampler has no XLA kernel)."""
    return _DEFAULTS["xla"] and all(c.kind != "poisson" for c in channels)


def _channel_kind_problems(channels, constellation, link, detectors,
                           problems):
    """Combinations of channel kind, constellation, XLA and detectors that
    cannot work (a Poisson channel takes OOK, no XLA, Poisson metrics)."""
    from signals.constellations import constellation_name

    kinds = {c.kind for c in channels}
    poisson = "poisson" in kinds
    if poisson:
        try:
            name = constellation_name(make_constellation(constellation))
        except (ValueError, TypeError):
            name = None         # reported with [link] already
        if name is not None and name != "ook":
            problems.append(
                f"[channel] kind = 'poisson' needs [link] constellation = "
                f"'ook' (on-off keying: intensities 0 and 1), got "
                f"{constellation!r}")
        if link.get("xla") is True:
            problems.append(
                "[link] xla = true cannot run a 'poisson' channel: "
                "TensorFlow's Poisson sampler has no XLA kernel; set xla = "
                "false or leave it out (poisson channels default to false)")
    if "tdl" in kinds:
        _tdl_problems(channels, constellation, detectors, problems)
    for det in detectors:
        where = f"[[detector]] {det.label!r}"
        entry = DETECTORS[det.name]
        likelihood = det.options.get("likelihood")
        if "residual_noise" in det.options and "tdl" not in kinds:
            problems.append(
                f"{where} residual_noise applies to kind = 'tdl' channels "
                "(the taps outside the kept window); remove it")
        if "retrain_pilots" in det.options and "tdl" not in kinds:
            problems.append(
                f"{where} retrain_pilots retrains on each frame's own "
                "channel, which changes only on kind = 'tdl' channels; on "
                "a fixed channel train once on more pilots "
                "(train_symbols)")
        if poisson and det.csi.startswith("estimated"):
            problems.append(
                f"{where} csi = {det.csi!r}: pilot-based tap estimation "
                "assumes the Gaussian ISI channel; on a 'poisson' channel use "
                "'perfect' or 'perturbed:var=V'")
        if entry.learned:
            continue
        if poisson and "likelihood" not in entry.options:
            problems.append(
                f"{where} ({det.name}) has no Poisson model; a 'poisson' "
                "channel takes bcjr, maxlog-bcjr, viterbi or symbolwise "
                "(with likelihood = 'poisson') and the learned detectors")
        elif poisson and likelihood != "poisson":
            problems.append(
                f"{where} ({det.name}) on a 'poisson' channel needs "
                "likelihood = 'poisson' (Gaussian metrics ignore the count "
                "statistics and the dark current)")
        elif not poisson and likelihood == "poisson":
            problems.append(
                f"{where} likelihood = 'poisson' needs [channel] kind = "
                "'poisson' (the channel is Gaussian ISI)")


def _sbrnn_problems(channels, frame_length, detectors, problems):
    """SBRNN sizes that cannot run: a non-positive window, a window longer
    than the frames it reads (test frames or pilot frames), a stride
    longer than the window, an unknown matmul_dtype (all before any
    simulation; the other counts' signs are checked with the options,
    registry.check_detector_options)."""
    from detectors.sbrnn import MATMUL_DTYPES

    from .registry import training_options

    memory = max((c.memory for c in channels), default=1)
    for det in detectors:
        if det.name != "sbrnn":
            continue
        where = f"[[detector]] {det.label!r}"
        o = {k: v for k, v in det.options.items()
             if isinstance(v, int) and not isinstance(v, bool)}
        window = o.get("window", 4 * memory)
        if window < 1:
            problems.append(f"{where} window must be >= 1, got {window!r}")
            continue
        train_frame = training_options(o)["train_frame_length"]
        for length, what in ((frame_length, "[link] frame_length"),
                             (train_frame, "train_frame_length")):
            if isinstance(length, int) and window > length:
                problems.append(
                    f"{where} window = {window} is longer than the "
                    f"{length}-symbol frames it reads ({what}); use "
                    f"window <= {length}")
        matmul = det.options.get("matmul_dtype", "float32")
        if matmul not in MATMUL_DTYPES:
            problems.append(
                f"{where} matmul_dtype = {matmul!r} is not one of "
                f"{', '.join(MATMUL_DTYPES)}")
        if o.get("stride", 1) > window:
            problems.append(
                f"{where} stride = {o['stride']} is larger than the window "
                f"({window}): symbols between windows would never be "
                f"read; use stride <= {window}")


def _retrain_xla_problems(code, link, detectors, problems):
    """A detector retrained per frame runs its receiver eagerly while the
    batch is drawn compiled; Sionna's RandomInterleaver draws another
    permutation under XLA than without it, so a coded, interleaved link
    needs its draw compiled without XLA (rxsim.montecarlo checks it too)."""
    if code is None or not code.interleave or link.get("xla") is False:
        return
    for det in detectors:
        if "retrain_pilots" in det.options:
            problems.append(
                f"[[detector]] {det.label!r} retrain_pilots with an "
                "interleaved [code] needs [link] xla = false: the retrained "
                "receiver runs eagerly, and the interleaver's permutation "
                "under XLA (the batch's draw) is not the one it has "
                "eagerly (the receiver's deinterleaver)")
            return


def _tdl_problems(channels, constellation, detectors, problems):
    """What a TDL channel cannot run: on-off keying, and CSI cases that
    need a fixed channel (one fit to training pilots) or taps a fading
    frame does not have (per-symbol errors, errors on within-frame
    fading)."""
    from channels.csi import parse_csi
    from signals.constellations import constellation_name

    try:
        named = make_constellation(constellation)
        ook = constellation_name(named) == "ook"
        num_points = int(named.num_points)
    except (ValueError, TypeError):
        ook, num_points = False, None   # reported with [link] already
    if ook:
        problems.append("[link] constellation = 'ook' is for the 'poisson' "
                        "channel; a 'tdl' channel is complex baseband: use "
                        "bpsk, qpsk, pamM or qamM")
    continuous = any(c.fading == "continuous" for c in channels)
    memory = min(c.memory for c in channels)
    for det in detectors:
        where = f"[[detector]] {det.label!r}"
        spec = parse_csi(det.csi)
        pilots = det.options.get("retrain_pilots")
        if pilots is not None and num_points is not None:
            from detectors.pilots import MIN_SAMPLES_PER_CLASS
            states = num_points ** max(c.memory for c in channels)
            if pilots < MIN_SAMPLES_PER_CLASS * states:
                problems.append(
                    f"{where} retrain_pilots = {pilots} is too few: the "
                    f"trellis has {states} channel states (M**L) and "
                    f"retraining needs {MIN_SAMPLES_PER_CLASS} pilots per "
                    f"state; use retrain_pilots >= "
                    f"{MIN_SAMPLES_PER_CLASS * states} or a smaller "
                    "memory")
        if DETECTORS[det.name].learned and spec.kind != "perfect":
            problems.append(
                f"{where} csi {det.csi!r}: on a 'tdl' channel a learned "
                "detector trains on pilots through the fading channel "
                "itself (new realisations per pilot frame); use csi = "
                "'perfect'")
        elif spec.from_training:
            problems.append(
                f"{where} csi {det.csi!r}: one fit to training pilots "
                "assumes a fixed channel; a 'tdl' channel fades from frame "
                "to frame: use 'estimated:pilots=N' (pilots per frame)")
        elif spec.kind == "estimated" and spec.params["pilots"] <= memory:
            problems.append(
                f"{where} csi {det.csi!r}: {spec.params['pilots']} pilots "
                f"cannot estimate memory = {memory} taps and the noise "
                f"variance; use pilots > {memory}")
        elif spec.kind == "perturbed" and (spec.per_symbol or continuous):
            problems.append(
                f"{where} csi {det.csi!r}: on a 'tdl' channel perturbed "
                "taps are drawn per frame on block fading; use per=frame "
                "and fading = 'block', or 'estimated:pilots=N'")


# Detectors whose natural output is a hard decision (Viterbi's ML
# sequence): a coded link gives the decoder their decisions by default.
_HARD_OUTPUT = ("viterbi", "viterbinet")


def _code(data, constellation, link, problems):
    """The ``[code]`` section -> :class:`CodeSpec` (or ``None``)."""
    from .coded import CODE_TYPES, DEFAULT_HARD_LLR, DEFAULT_NUM_ITER, \
        code_problems

    if "code" not in data:
        return None
    table = data["code"]
    if not isinstance(table, dict):
        problems.append("[code] must be a table")
        return None
    before = len(problems)
    _check_table(table, "code", problems)
    kind = table.get("type")
    if kind is None:
        problems.append(f"[code] type is required; allowed: "
                        f"{', '.join(map(repr, CODE_TYPES))}")
    elif kind not in CODE_TYPES:
        problems.append(f"[code] type {kind!r} unknown; allowed: "
                        f"{', '.join(map(repr, CODE_TYPES))}")
    for key in ("k", "n"):
        if key not in table:
            problems.append(f"[code] {key} is required (k information "
                            "bits, n codeword bits per frame)")
    num_iter = _positive(table, "code", "num_iter", problems,
                         DEFAULT_NUM_ITER)
    hard_llr = table.get("hard_llr", DEFAULT_HARD_LLR)
    if _type_ok(hard_llr, float) and not (math.isfinite(hard_llr)
                                          and hard_llr > 0):
        problems.append(f"[code] hard_llr must be a finite number > 0, got "
                        f"{hard_llr}")
    if len(problems) > before:
        return None
    try:
        bps = make_constellation(constellation).num_bits_per_symbol
    except (ValueError, TypeError):
        bps = None                    # reported with [link] already
    for p in code_problems(table["k"], table["n"], bps):
        problems.append(f"[code] {p}")
    if bps is not None and "frame_length" in link and \
            link["frame_length"] * bps != table["n"]:
        problems.append(
            f"[link] frame_length = {link['frame_length']} but one codeword "
            f"of n = {table['n']} bits is {table['n'] // bps} symbols of "
            f"{bps} bit(s); leave frame_length out with [code]")
    if len(problems) > before:
        return None
    return CodeSpec(type=kind, k=table["k"], n=table["n"],
                    num_iter=num_iter,
                    interleave=table.get("interleave", True),
                    hard_llr=float(hard_llr))


def _isi_csi_problems(where, name, spec, csi):
    """What an ISI / TDL link refuses of a detector's CSI case ``spec``
    (spelled ``csi``)."""
    problems = []
    if spec.kind == "estimated" and \
            spec.params.get("estimator", "ls") != "ls":
        problems.append(
            f"{where} csi {csi!r}: estimator=lmmse is for kind = "
            "'mimo' channels; ISI taps are estimated by least squares")
    if spec.kind == "estimated" and name in DETECTORS and \
            DETECTORS[name].learned:
        problems.append(
            f"{where} csi {csi!r}: a learned detector learns its "
            "channel from its training pilots; give it 'perfect' "
            "or 'perturbed:...' (the pilots' channel), and use "
            "'estimated:...' for model-based detectors")
    if spec.per_symbol and name in DETECTORS and (
            DETECTORS[name].learned or name == "lmmse"):
        problems.append(
            f"{where} csi {csi!r}: per-symbol believed taps are for "
            "the trellis and symbol-wise detectors (a learned "
            "detector's pilots and LMMSE take per-frame taps); use "
            "per=frame")
    return problems


def _detectors(entries, problems, coded=False, iterations=(1,),
               mimo=False):
    from channels.csi import parse_csi

    from .registry import MIMO_DETECTORS

    # On a MIMO channel the names are MIMO detectors' and `iterations` is
    # their own option (soft-IC / DeepSIC iterations), not turbo passes.
    registry = MIMO_DETECTORS if mimo else DETECTORS
    common_keys = {k: v for k, v in _SECTIONS["detector"].items()
                   if not (mimo and k == "iterations")}
    specs, labels = [], set()
    if not isinstance(entries, list) or not entries:
        problems.append("no detectors: add at least one [[detector]] table "
                        f"with name = one of {', '.join(sorted(registry))}")
        return ()
    for i, entry in enumerate(entries):
        where = f"[[detector]] #{i + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a table")
            continue
        before = len(problems)
        common = {k: v for k, v in entry.items() if k in common_keys}
        options = {k: v for k, v in entry.items() if k not in common}
        _check_table(common, "detector", problems)
        name = entry.get("name")
        if name not in registry:
            problems.append(f"{where} name {name!r} unknown"
                            f"{' on a mimo channel' if mimo else ''}; "
                            f"allowed: {', '.join(sorted(registry))}")
        else:
            for p in check_detector_options(name, options, registry):
                problems.append(f"{where} ({name}) {p}")
        csi = entry.get("csi", "perfect")
        try:
            spec = parse_csi(csi)
            csi = str(spec)              # canonical spelling keys results
        except (ValueError, TypeError) as e:
            problems.append(f"{where} csi: {e}")
        else:
            if not mimo:                 # mimo: checked by mimo_problems
                problems.extend(_isi_csi_problems(where, name, spec, csi))
        output = entry.get("output")
        if "iterations" in entry and not coded and not mimo:
            problems.append(f"{where} iterations applies to coded links "
                            "(turbo detection-decoding); add a [code] "
                            "section or remove iterations")
        passes = (_iterations(entry["iterations"], where, problems)
                  if "iterations" in entry and not mimo else iterations)
        if output is not None and not coded:
            problems.append(f"{where} output = {output!r} applies to coded "
                            "links only; add a [code] section or remove "
                            "output")
        elif output is not None and output not in ("soft", "hard"):
            problems.append(f"{where} output must be 'soft' or 'hard', got "
                            f"{output!r}")
        if len(problems) > before:
            continue
        default_output = "hard" if name in _HARD_OUTPUT else "soft"
        if coded and output is None:
            output = default_output
        if coded and max(passes, default=1) > 1:
            problems.extend(_turbo_problems(where, name, output, options))
        if len(problems) > before:
            continue
        label = entry.get("label", name if csi == "perfect"
                          else f"{name} ({csi})")
        if output is not None and output != default_output and \
                "label" not in entry:
            label += f" [{output}]"
        turbo = coded and passes != (1,)
        for passes_i in (passes if coded else (None,)):
            label_i = f"{label} I={passes_i}" if turbo else label
            if label_i in labels:
                problems.append(f"{where} label {label_i!r} used twice; "
                                "give each detector a distinct label")
            labels.add(label_i)
            specs.append(DetectorSpec(name=name, label=label_i, csi=csi,
                                      options=options, output=output,
                                      iterations=passes_i))
    return tuple(specs)


def _turbo_problems(where, name, output, options):
    """Why a detector entry cannot run turbo passes (empty if it can)."""
    if output != "soft":
        return [f"{where} ({name}) iterations > 1 exchanges soft "
                f"information with the decoder; it needs output = 'soft' "
                f"(this entry's output is {output!r})"]
    cls = DETECTORS[name].detector_class(options)
    if getattr(cls, "takes_prior", False):
        return []
    return [f"{where} ({name}) iterations > 1 feeds the decoder's "
            f"extrinsic LLRs back as a prior, but {cls.__name__} does not "
            f"take one: {cls.no_prior_reason}; use iterations = 1 for it"]


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
    channels = (_channels(chan, constellation, problems)
                if "channel" in data else ())
    channels = _with_phases(channels, chan, constellation, problems)
    snr_spec = sweep.get("snr_db")
    snrs = (_snr_grid(snr_spec, problems)
            if _type_ok(snr_spec, (list, dict)) else ())
    axis = _sweep_axis(sweep, constellation, channels, problems)
    code = _code(data, constellation, link, problems)
    iterations = (1,)
    if code is not None:                    # one codeword per frame
        bps = make_constellation(constellation).num_bits_per_symbol
        values["frame_length"] = code.n // bps
        iterations = _iterations(data["code"].get("iterations", 1),
                                 "[code]", problems) or (1,)
    mimo = isinstance(chan, dict) and chan.get("kind") == "mimo"
    detectors = _detectors(data.get("detector"), problems,
                           coded="code" in data, iterations=iterations,
                           mimo=mimo)
    if mimo:
        mimo_problems(channels, constellation, code, axis,
                      values.get("frame_length"), detectors, problems)
    else:
        _channel_kind_problems(channels, constellation, link, detectors,
                               problems)
        _retrain_xla_problems(code, link, detectors, problems)
        _sbrnn_problems(channels, values.get("frame_length"), detectors,
                        problems)
    if problems:
        raise ConfigError(problems, source)
    return SweepConfig(
        name=exp["name"], seed=exp.get("seed", _DEFAULTS["seed"]),
        constellation=constellation, channels=channels, snr_db=snrs,
        confidence=float(confidence),
        xla=link.get("xla", _default_xla(channels)),
        detectors=detectors, code=code, axis=axis, **values)


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
