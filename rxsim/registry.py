"""Detectors by name, as configs and the CLI refer to them.

Each entry says which ``detectors`` class it builds, which options a config
may pass (with their types) and fixed keyword arguments. Adding a detector
to the CLI is one entry here.
"""

from dataclasses import dataclass, field

import detectors

__all__ = ["DETECTORS", "DetectorEntry", "build_detector",
           "check_detector_options", "training_options", "TRAINING_OPTIONS"]


@dataclass(frozen=True)
class DetectorEntry:
    """How to build one named detector.

    ``learned`` entries are built from the channel memory (not its taps)
    and trained per sweep point on pilots; their CSI case shapes the
    training data instead of the taps they believe.
    """
    cls_name: str
    summary: str
    options: dict = field(default_factory=dict)   # option -> type
    fixed: dict = field(default_factory=dict)     # always-passed kwargs
    learned: bool = False

    def build(self, taps, constellation, options):
        cls = getattr(detectors, self.cls_name)
        kwargs = {**self.fixed, **{k: v for k, v in options.items()
                                   if k not in TRAINING_OPTIONS}}
        if not self.learned:
            return cls(taps, constellation=constellation, **kwargs)
        if self.cls_name == "SBRNN":
            window = kwargs.pop("window", 4 * len(taps))
            return cls(window, constellation=constellation, **kwargs)
        return cls(len(taps), constellation=constellation, **kwargs)


# Options of every learned entry that control its pilots, not the model.
TRAINING_OPTIONS = {"train_symbols": int, "train_frame_length": int}
_TRAINING_DEFAULTS = {"train_symbols": 5000, "train_frame_length": 500}


def training_options(options):
    """Pilot count and frame length of a learned detector's options."""
    return {k: options.get(k, v) for k, v in _TRAINING_DEFAULTS.items()}


_TRELLIS = {"initial_state": str}
_LEARNED = {**TRAINING_OPTIONS, "epochs": int, "patience": int,
            "learning_rate": float, "marginal": str}
DETECTORS = {
    "symbolwise": DetectorEntry(
        "SymbolwiseDetector", "symbol-by-symbol, ISI treated as noise"),
    "lmmse": DetectorEntry(
        "LMMSEDetector", "sliding-window linear MMSE equalizer",
        {"window": int, "delay": int}),
    "viterbi": DetectorEntry(
        "ViterbiDetector", "ML sequence (max-product), hard decisions",
        _TRELLIS),
    "bcjr": DetectorEntry(
        "BCJRDetector", "exact symbol MAP (sum-product)", _TRELLIS),
    "maxlog-bcjr": DetectorEntry(
        "BCJRDetector", "max-log BCJR (max-product soft output)", _TRELLIS,
        fixed={"max_log": True}),
    "viterbinet": DetectorEntry(
        "ViterbiNet", "learned branch metrics + Viterbi (trained per point)",
        {**_LEARNED, **_TRELLIS}, learned=True),
    "bcjrnet": DetectorEntry(
        "LearnedFactorGraph", "learned branch metrics + BCJR (trained per "
        "point)", {**_LEARNED, **_TRELLIS, "max_log": bool}, learned=True),
    "sbrnn": DetectorEntry(
        "SBRNN", "sliding bidirectional LSTM (trained per point)",
        {**TRAINING_OPTIONS, "window": int, "layers": int, "units": int,
         "dropout": float, "epochs": int, "patience": int,
         "learning_rate": float}, learned=True),
}


def check_detector_options(name, options):
    """Problems (list of str) with ``options`` for detector ``name``."""
    if not isinstance(options, dict):
        return [f"options must be a table, got {options!r}"]
    allowed = DETECTORS[name].options
    problems = []
    for key, value in options.items():
        if key not in allowed:
            problems.append(
                f"unknown option {key!r}; allowed: "
                f"{', '.join(sorted(allowed)) or 'none'}")
        elif isinstance(value, bool) != (allowed[key] is bool) or \
                not isinstance(value, (int, float) if allowed[key] is float
                               else allowed[key]):
            problems.append(f"option {key} must be of type "
                            f"{allowed[key].__name__}, got {value!r}")
    return problems


def build_detector(name, taps, constellation, options=None):
    """Build detector ``name`` believing ``taps``."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; allowed: "
                         f"{', '.join(sorted(DETECTORS))}")
    problems = check_detector_options(name, options or {})
    if problems:
        raise ValueError(f"detector {name!r}: " + "; ".join(problems))
    return DETECTORS[name].build(taps, constellation, options or {})
