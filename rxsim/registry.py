"""Detectors by name, as configs and the CLI refer to them.

Each entry says which ``detectors`` class it builds, which options a config
may pass (with their types) and fixed keyword arguments. Adding a detector
to the CLI is one entry here.
"""

from dataclasses import dataclass, field

import detectors

__all__ = ["DETECTORS", "DetectorEntry", "build_detector",
           "check_detector_options"]


@dataclass(frozen=True)
class DetectorEntry:
    """How to build one named detector."""
    cls_name: str
    summary: str
    options: dict = field(default_factory=dict)   # option -> type
    fixed: dict = field(default_factory=dict)     # always-passed kwargs

    def build(self, taps, constellation, options):
        cls = getattr(detectors, self.cls_name)
        return cls(taps, constellation=constellation,
                   **{**self.fixed, **options})


_TRELLIS = {"initial_state": str}
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
                not isinstance(value, allowed[key]):
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
