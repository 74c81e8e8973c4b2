"""``[channel] kind = "tdl"``: Sionna's 3GPP TDL models in sweep configs.

One :class:`TDLSpec` per (model, speed) of the table; each builds a
:class:`channels.TDLChannel`. The keys::

    [channel]
    kind = "tdl"
    model = "C"                 # or ["A", "C"]: one channel per model
    delay_spread = 300e-9       # [s]; A30 / B100 / C300 fix it
    symbol_rate = 10e6          # [Hz], the discrete channel's bandwidth
    carrier_frequency = 3.5e9   # [Hz]
    speed = 0.0                 # [m/s]; [0.0, 30.0]: one channel each;
                                # {min = 0.0, max = 30.0}: drawn per frame
    memory = 4                  # L, the taps the detectors model
    fading = "block"            # or "continuous" (taps vary in a frame)

Everything is checked by building the channel, before any simulation:
unknown models (the allowed ones listed), a ``memory`` longer than the
discrete channel, negative speeds or delay spreads, unknown fading.
"""

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["TDLSpec", "TDL_KEYS", "FADINGS", "tdl_channels"]

#: ``[channel]`` keys of kind "tdl" (key -> TOML type).
TDL_KEYS = {"model": (str, list), "delay_spread": float,
            "symbol_rate": float, "carrier_frequency": float,
            "speed": (float, list, dict), "fading": str}
FADINGS = ("block", "continuous")


@dataclass(frozen=True)
class TDLSpec:
    """One TDL channel of a config (fields: the ``[channel]`` keys, one
    model and one speed or speed range ``(min, max)``)."""
    model: str
    delay_spread: float | None
    symbol_rate: float
    carrier_frequency: float
    speed: float | tuple
    memory: int
    fading: str = "block"
    kind: str = "tdl"

    def hash_payload(self):
        """This channel's part of a curve's config hash: all its fields."""
        return dataclasses.asdict(self)

    def block(self, constellation, precision=None):
        """A new :class:`channels.TDLChannel` of this spec (each link has
        its own, as each has its own ISI channel)."""
        return _build(self, constellation, precision)

    def signal_constellation(self, constellation):
        """The constellation the link sends: a real one (BPSK, PAM) as
        complex points (:func:`signals.constellations.complex_baseband`),
        since the TDL taps are complex."""
        from signals.constellations import complex_baseband, \
            make_constellation
        return complex_baseband(make_constellation(constellation))

    def tap_array(self):
        """The kept window's root mean powers ``sqrt(E|h_l|^2)`` ``[L]``
        (real): the ``mean`` CSI case's taps; per-frame taps come with each
        batch."""
        return np.asarray(_reference(self).taps)

    @property
    def energy(self):
        """float : average received energy per symbol (the channel is
        normalised to 1, :class:`channels.TDLChannel`)."""
        return 1.0

    @property
    def residual_energy(self):
        """float : average energy outside the kept window."""
        return _reference(self).residual_energy

    @property
    def label(self):
        """Results key, e.g. ``tdl:C,ds=300ns,W=10MHz,fc=3.5GHz,v=0,L=4``
        (``,continuous`` for within-frame fading)."""
        speed = (f"{self.speed[0]:g}-{self.speed[1]:g}"
                 if isinstance(self.speed, tuple) else f"{self.speed:g}")
        ds = ("" if self.delay_spread is None
              else f",ds={self.delay_spread * 1e9:g}ns")
        fading = "" if self.fading == "block" else f",{self.fading}"
        return (f"tdl:{self.model}{ds},W={self.symbol_rate / 1e6:g}MHz,"
                f"fc={self.carrier_frequency / 1e9:g}GHz,v={speed},"
                f"L={self.memory}{fading}")


@functools.lru_cache(maxsize=64)
def _reference(spec):
    """One channel of ``spec`` per process, for its average profile."""
    return _build(spec, "qpsk")


def _build(spec, constellation, precision=None):
    from channels import TDLChannel
    return TDLChannel(spec.model, delay_spread=spec.delay_spread,
                      symbol_rate=spec.symbol_rate,
                      carrier_frequency=spec.carrier_frequency,
                      speed=spec.speed, memory=spec.memory,
                      fading=spec.fading,
                      constellation=(spec.signal_constellation(constellation)
                                     if isinstance(constellation, str)
                                     else constellation),
                      precision=precision)


def _speeds(value, problems):
    """``speed`` -> list of floats / ``(min, max)`` tuples."""
    if isinstance(value, dict):
        if set(value) != {"min", "max"} or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in value.values()):
            problems.append(f"[channel] speed as a table is a range "
                            f"{{min = ..., max = ...}} [m/s], got {value!r}")
            return []
        return [(float(value["min"]), float(value["max"]))]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (int, float)) and
                             not isinstance(v, bool) for v in values):
        problems.append(f"[channel] speed must be a number [m/s], an array "
                        f"of them (one channel each) or a range {{min = "
                        f"..., max = ...}}, got {value!r}")
        return []
    return [float(v) for v in values]


def tdl_channels(table, constellation, problems):
    """The ``[channel]`` table of kind "tdl" -> tuple of :class:`TDLSpec`
    (appending to ``problems``; ``()`` after one); ``constellation``: the
    config's (checked by building each channel with it)."""
    before = len(problems)
    for key in ("gamma", "taps", "normalize", "phases"):
        if key in table:
            problems.append(f"[channel] {key} is for kind = 'isi' / "
                            f"'poisson'; a 'tdl' channel's taps come from "
                            f"its model, remove {key}")
    for key in ("model", "symbol_rate", "carrier_frequency", "memory"):
        if key not in table:
            problems.append(f"[channel] kind = 'tdl' needs {key}")
    fading = table.get("fading", "block")
    if fading not in FADINGS:
        problems.append(f"[channel] fading {fading!r} unknown; allowed: "
                        f"{', '.join(map(repr, FADINGS))}")
    if len(problems) > before:
        return ()
    models = table["model"] if isinstance(table["model"], list) \
        else [table["model"]]
    if not models or not all(isinstance(m, str) for m in models):
        problems.append(f"[channel] model must be a TDL model name or an "
                        f"array of them, got {table['model']!r}")
        return ()
    speeds = _speeds(table.get("speed", 0.0), problems)
    ds = table.get("delay_spread")
    memory = table["memory"]
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < 1:
        problems.append(f"[channel] memory (L, the taps the detectors "
                        f"model) must be an integer >= 1, got {memory!r}")
        return ()
    if len(problems) > before:
        return ()
    from signals.constellations import make_constellation
    try:
        make_constellation(constellation)
    except (ValueError, TypeError):
        constellation = "qpsk"      # reported with [link] already
    specs = []
    for model in models:
        for speed in speeds:
            spec = TDLSpec(model=model,
                           delay_spread=None if ds is None else float(ds),
                           symbol_rate=float(table["symbol_rate"]),
                           carrier_frequency=float(
                               table["carrier_frequency"]),
                           speed=speed, memory=memory, fading=fading)
            try:
                spec.block(constellation)
            except (ValueError, TypeError) as e:
                problems.append(f"[channel] {e}".rstrip("."))
                continue
            specs.append(spec)
    return tuple(dict.fromkeys(specs)) if len(problems) == before else ()
