"""Detectors by name, as configs and the CLI refer to them.

Each entry says which ``detectors`` class it builds, which options a config
may pass (with their types) and fixed keyword arguments. Adding a detector
to the CLI is one entry here; a detector class of your own joins the
configs of your process with :func:`register_detector`.
"""

from dataclasses import dataclass, field

import detectors
import detectors.training
import detectors.trellis_detector

__all__ = ["DETECTORS", "DetectorEntry", "build_detector",
           "MIMO_DETECTORS", "MIMOEntry", "entry_for",
           "check_detector_options", "training_options", "TRAINING_OPTIONS",
           "LINK_OPTIONS", "RETRAIN_OPTIONS",
           "register_detector"]


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
    # likelihood option -> class, for entries whose Poisson model is
    # another class (the option is then consumed, not passed on)
    variants: dict = field(default_factory=dict)
    # a class of the user's (register_detector) instead of detectors.<name>
    cls: type | None = None

    def detector_class(self, options):
        """The class a config entry with ``options`` builds."""
        cls_name = self.cls_name
        if self.variants:
            cls_name = self.variants.get(
                {**self.fixed, **options}.get("likelihood"), cls_name)
        return self.cls or getattr(detectors, cls_name)

    def build(self, taps, constellation, options):
        kwargs = {**self.fixed, **{k: v for k, v in options.items()
                                   if k not in TRAINING_OPTIONS
                                   and k not in LINK_OPTIONS
                                   and k not in RETRAIN_OPTIONS}}
        cls = self.detector_class(kwargs)
        if self.variants:           # the option chose the class
            kwargs.pop("likelihood", None)
        if not self.learned:
            return cls(taps, constellation=constellation, **kwargs)
        if self.cls_name == "SBRNN":
            window = kwargs.pop("window", 4 * len(taps))
            return cls(window, constellation=constellation, **kwargs)
        return cls(len(taps), constellation=constellation, **kwargs)


# Options of every learned entry that control its pilots, not the model.
# train_per: "point" trains one model per (channel, SNR) point on pilots at
# that SNR; "channel" trains one model per channel on the same number of
# pilots spread evenly over the sweep's SNR grid (SNR-agnostic training,
# for models too slow to train per point, e.g. a CPU-bound SBRNN).
# train_seed: a training-seed replicate (the sweep derives the pilots and
# the fit seed from it). pilots_across_snr: "fresh" pilots at every SNR,
# or "reuse" one pilot sequence per channel at every SNR (the same
# symbols and the same unit-variance noise draw, scaled to each SNR).
TRAINING_OPTIONS = {"train_symbols": int, "train_frame_length": int,
                    "train_per": str, "train_seed": int,
                    "pilots_across_snr": str}
_TRAINING_DEFAULTS = {"train_symbols": 5000, "train_frame_length": 500,
                      "train_per": "point", "train_seed": 0,
                      "pilots_across_snr": "fresh"}
# What the authors' recipe changes in them (unless given): one 5000-symbol
# pilot sequence per channel, reused across SNRs (Test_ViterbiNet.m).
_AUTHORS_TRAINING = {"train_frame_length": 5000, "pilots_across_snr": "reuse"}


def training_options(options):
    """What a sweep needs to build a learned detector's pilots, from its
    config options: ``train_symbols`` (5000), ``train_frame_length`` (500;
    5000 with ``recipe = "authors"``), ``train_per`` (``"point"``),
    ``train_seed`` (0) and ``pilots_across_snr`` (``"fresh"``;
    ``"reuse"`` with ``recipe = "authors"``), each as given or defaulted.

    Example
    -------
    >>> from rxsim.registry import training_options
    >>> training_options({"recipe": "authors"})["train_frame_length"]
    5000
    >>> training_options({})["pilots_across_snr"]
    'fresh'
    """
    defaults = dict(_TRAINING_DEFAULTS)
    if options.get("recipe") == "authors":
        defaults.update(_AUTHORS_TRAINING)
    return {k: options.get(k, v) for k, v in defaults.items()}


# Options of the model-based entries that the link consumes, not the class:
# residual_noise (fading channels with a kept window, rxsim.Link): add the
# power of the taps outside the window to the believed noise variance.
LINK_OPTIONS = {"residual_noise": bool}
# Options of the learned trellis entries the link consumes: retrain_pilots
# fine-tunes the model per frame on that many pilots through the frame's
# own (fading) channel, retrain_epochs steps each (rxsim.Link).
RETRAIN_OPTIONS = {"retrain_pilots": int, "retrain_epochs": int}
# Counts that must be positive (the SBRNN's sizes, per-frame retraining).
_AT_LEAST_ONE = {*RETRAIN_OPTIONS, "stride", "layers", "units"}
_TRELLIS = {"initial_state": str}
# Model-based detectors under CSI "estimated:from=training" estimate from
# the pilots of training replicate train_seed (rxsim.sweep); without that
# CSI case the option has no effect. Not passed to the class; nor are the
# LINK_OPTIONS every model-based entry takes.
_REPLICATE = {"train_seed": int, **LINK_OPTIONS}
# Hard decisions of the Viterbi detectors: "traceback" (ML sequence) or
# "fixed-lag" (the authors' decoder, detectors.trellis.fixed_lag).
_DECISION = {"decision": str}
# Branch metrics of the model-based detectors: "gaussian" (ISI + AWGN) or
# "poisson" (on-off keying over a Poisson channel, detectors.poisson).
_LIKELIHOOD = {"likelihood": str}
_OPTION_VALUES = {"likelihood": ("gaussian", "poisson"),
                  "train_per": ("point", "channel"),
                  "pilots_across_snr": ("fresh", "reuse"),
                  "recipe": tuple(detectors.training.RECIPES),
                  "decision": detectors.trellis_detector.DECISIONS,
                  "clip": detectors.training.CLIP_MODES}
# Training options of the learned trellis detectors: a recipe and the
# options that replace its values (detectors.factor_graph).
# metric_table (ViterbiNet, BCJRNet on real constellations): branch
# metrics read from a table of the classifier (detectors.factor_graph).
_LEARNED = {**TRAINING_OPTIONS, "metric_table": int, "recipe": str,
            "epochs": int,
            "patience": int, "learning_rate": float, "batch_size": int,
            "validation": float, "weight_decay": float, "clip": str,
            "marginal": str}
DETECTORS = {
    "symbolwise": DetectorEntry(
        "SymbolwiseDetector", "symbol-by-symbol, ISI treated as noise",
        {**_LIKELIHOOD, **_REPLICATE}, variants={"gaussian": "SymbolwiseDetector",
                               "poisson": "PoissonSymbolwiseDetector"}),
    "lmmse": DetectorEntry(
        "LMMSEDetector", "sliding-window linear MMSE equalizer",
        {"window": int, "delay": int, **_REPLICATE}),
    "sionna-lmmse": DetectorEntry(
        "SionnaLMMSEDetector", "Sionna's LMMSE equaliser (lmmse_equalizer) "
        "on the frame's convolution matrix, reference", {**_REPLICATE}),
    "viterbi": DetectorEntry(
        "ViterbiDetector", "ML sequence (max-product), hard decisions",
        {**_TRELLIS, **_LIKELIHOOD, **_DECISION, **_REPLICATE}),
    "bcjr": DetectorEntry(
        "BCJRDetector", "exact symbol MAP (sum-product)",
        {**_TRELLIS, **_LIKELIHOOD, **_REPLICATE}),
    "maxlog-bcjr": DetectorEntry(
        "BCJRDetector", "max-log BCJR (max-product soft output)",
        {**_TRELLIS, **_LIKELIHOOD, **_REPLICATE}, fixed={"max_log": True}),
    "viterbinet": DetectorEntry(
        "ViterbiNet", "learned branch metrics + Viterbi (trained per point)",
        {**_LEARNED, **_TRELLIS, **_DECISION, **RETRAIN_OPTIONS},
        learned=True),
    "bcjrnet": DetectorEntry(
        "LearnedFactorGraph", "learned branch metrics + BCJR (trained per "
        "point)", {**_LEARNED, **_TRELLIS, "max_log": bool,
                   **RETRAIN_OPTIONS}, learned=True),
    "sbrnn": DetectorEntry(
        "SBRNN", "sliding bidirectional LSTM (trained per point)",
        {**TRAINING_OPTIONS, "window": int, "stride": int,
         "matmul_dtype": str, "layers": int, "units": int,
         "dropout": float, "epochs": int, "patience": int,
         "learning_rate": float, "batch_size": int}, learned=True),
}


def check_detector_options(name, options, table=None):
    """Problems (list of str) with ``options`` for detector ``name`` (of
    ``table``: :data:`DETECTORS`, the default, or :data:`MIMO_DETECTORS`)."""
    if not isinstance(options, dict):
        return [f"options must be a table, got {options!r}"]
    table = DETECTORS if table is None else table
    allowed = table[name].options
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
        elif value not in _OPTION_VALUES.get(key, (value,)):
            problems.append(f"option {key} must be one of "
                            f"{', '.join(map(repr, _OPTION_VALUES[key]))}, "
                            f"got {value!r}")
        elif key == "train_seed" and value < 0:
            problems.append(f"option train_seed must be an integer >= 0, "
                            f"got {value!r}")
        elif key in _AT_LEAST_ONE and value < 1:
            problems.append(f"option {key} must be >= 1, got {value!r}")
    if "retrain_epochs" in options and "retrain_pilots" not in options:
        problems.append("option retrain_epochs sets the steps of per-frame "
                        "retraining, which retrain_pilots = N turns on; "
                        "give retrain_pilots or remove retrain_epochs")
    if problems or not table[name].learned or table is not DETECTORS:
        return problems
    train = training_options(options)
    if train["pilots_across_snr"] == "reuse" and \
            train["train_per"] != "point":
        problems.append(
            "option pilots_across_snr = 'reuse' trains one model per point "
            "on one pilot sequence reused at every SNR; it needs train_per "
            "= 'point' (train_per = 'channel' spreads the pilots over the "
            "SNR grid)")
    if "recipe" in allowed and DETECTORS[name].cls is None:
        given = {k: options.get(k) for k in
                 detectors.training.RECIPES["rxsim"] if k in allowed}
        try:
            detectors.training.recipe_options(
                options.get("recipe", "rxsim"), given)
        except ValueError as exc:
            problems.append(str(exc).rstrip("."))
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


_BUILT_IN = frozenset(DETECTORS)
_OPTION_TYPES = (int, float, bool, str)


def register_detector(name, cls, options=None, summary=None, learned=False,
                      replace=False):
    """Make a detector class of your own usable from configs by ``name``.

    After ``register_detector("dfe", DFEDetector, {"window": int})`` a
    config's ``[[detector]]`` table may say ``name = "dfe"`` (with
    ``window = ...``), and :func:`rxsim.config.parse_config` /
    :func:`rxsim.sweep.run_sweep` build it like a built-in one.

    Parameters
    ----------
    name : str
        The config name; built-in names cannot be taken.
    cls : subclass of detectors.Detector
        Built as ``cls(taps, constellation=..., **options)`` with the taps
        the detector believes under its CSI case (``[L]``, real or
        complex), or, with ``learned``, as ``cls(L, constellation=...,
        **options)`` and then trained per point by ``fit(y, s, seed=...,
        verbose=False)`` (it must also have ``save`` / ``load``, e.g. a
        :class:`detectors.LearnedDetector`).
    options : None or dict
        Option name -> type (``int``, ``float``, ``bool`` or ``str``) that
        configs may pass to ``cls``.
    summary : None or str
        One line for ``rxsim detectors``; default: the first line of the
        class docstring.
    learned : bool
        See ``cls``.
    replace : bool
        Allow registering ``name`` again (e.g. after editing the class in
        a notebook).

    Notes
    -----
    Registration lives in this process: run such configs from Python
    (``run_sweep``), not through the ``rxsim`` command or Ray workers,
    which do not import your module. A curve's config hash covers the
    name and options, not the class's code: after changing what the
    class computes, register it under a new name (or use a new
    experiment name) so that its old rows are not resumed.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a built-in detector; register yours "
                         "under another name.")
    if name in DETECTORS and not replace:
        raise ValueError(f"a detector {name!r} is registered already; pass "
                         "replace=True to register it again.")
    if not (isinstance(cls, type) and issubclass(cls, detectors.Detector)):
        raise TypeError(f"`cls` must be a subclass of detectors.Detector "
                        f"(or TapsDetector), got {cls!r}.")
    if learned and not all(hasattr(cls, a) for a in ("fit", "save", "load")):
        raise TypeError(f"a learned detector needs fit, save and load; "
                        f"{cls.__name__} lacks some (subclass "
                        "detectors.LearnedDetector).")
    options = dict(options or {})
    for key, kind in options.items():
        if not isinstance(key, str) or kind not in _OPTION_TYPES:
            raise TypeError(f"`options` maps option names to one of int, "
                            f"float, bool, str; got {key!r}: {kind!r}.")
    if summary is None:
        summary = ((cls.__doc__ or "").strip().splitlines() or
                   [cls.__name__])[0]
    DETECTORS[name] = DetectorEntry(cls.__name__, summary, options,
                                    learned=bool(learned), cls=cls)
    return DETECTORS[name]


# -- multiuser MIMO (configs with [channel] kind = "mimo") -------------------

@dataclass(frozen=True)
class MIMOEntry:
    """How to build one named MIMO detector (:mod:`detectors.mimo`).

    Model-based entries are built from the channel the receiver believes
    at construction (the channel's mean; the link hands each frame's
    believed channel at every call); ``learned`` ones from ``(users,
    antennas)`` and trained per point on pilots (:mod:`rxsim.mimo_config`).
    """
    cls_name: str
    summary: str
    options: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    learned: bool = False

    def detector_class(self, options=None):
        """The :mod:`detectors.mimo` class of this entry."""
        import detectors.mimo
        return getattr(detectors.mimo, self.cls_name)

    def build(self, h, constellation, options):
        """The detector, believing ``h`` ``[N, K]`` (model-based) or of
        its shape (learned), with the config's ``options`` (the pilot
        options left out)."""
        kwargs = {**self.fixed, **{k: v for k, v in options.items()
                                   if k not in TRAINING_OPTIONS
                                   and k not in RETRAIN_OPTIONS}}
        cls = self.detector_class()
        if self.learned:
            antennas, users = h.shape[-2:]
            return cls(int(users), int(antennas),
                       constellation=constellation, **kwargs)
        return cls(h, constellation=constellation, **kwargs)


# What a learned MIMO entry may set besides its pilots (train_symbols:
# pilot channel uses; train_frame_length: channel uses per pilot frame,
# each with its own draw of the pilots' channel).
_MIMO_TRAINING = {"train_symbols": int, "train_frame_length": int,
                  "train_seed": int, "epochs": int, "learning_rate": float,
                  "batch_size": int, "patience": int}
MIMO_DETECTORS = {
    "ml": MIMOEntry("MIMOMLDetector", "Sionna's MaximumLikelihoodDetector "
                    "(exact per-user APP, M**K vectors)"),
    "lmmse": MIMOEntry("MIMOLinearDetector", "Sionna's LinearDetector, "
                       "LMMSE equaliser + demapper", fixed={
                           "equalizer": "lmmse"}),
    "zf": MIMOEntry("MIMOLinearDetector", "Sionna's LinearDetector, "
                    "zero-forcing (N >= K)", fixed={"equalizer": "zf"}),
    "kbest": MIMOEntry("MIMOKBestDetector", "Sionna's KBestDetector "
                       "(N >= K)", {"k": int}),
    "ep": MIMOEntry("MIMOEPDetector", "Sionna's EPDetector (expectation "
                    "propagation)", {"iterations": int, "beta": float}),
    "mmse-pic": MIMOEntry("MIMOMMSEPICDetector", "Sionna's MMSEPICDetector "
                          "(uniform prior)", {"iterations": int}),
    "soft-ic": MIMOEntry("SoftICDetector", "iterative soft interference "
                         "cancellation (the model DeepSIC unfolds)",
                         {"iterations": int}),
    "deepsic": MIMOEntry("DeepSIC", "DeepSIC: K x I learned soft-IC "
                         "networks (trained per point)",
                         {**_MIMO_TRAINING, "iterations": int,
                          "hidden": int, "training": str, "augment": int,
                          **RETRAIN_OPTIONS}, learned=True),
    "detnet": MIMOEntry("DetNet", "deep-unfolded projected gradient "
                        "(DetNet-style; reads the believed channel)",
                        {**_MIMO_TRAINING, "layers": int, "hidden": int,
                         "step": str},
                        learned=True),
    "dnn": MIMOEntry("MIMODNN", "black-box MLP of DeepSIC's size (trained "
                     "per point)", {**_MIMO_TRAINING, "augment": int},
                     learned=True),
}
_OPTION_VALUES["training"] = ("sequential", "end-to-end")
_OPTION_VALUES["step"] = ("gradient", "newton")         # DetNet's layers
_AT_LEAST_ONE.update({"iterations", "k", "hidden"})


def entry_for(det, kind="isi"):
    """The registry entry of a config's detector ``det`` (a
    :class:`rxsim.config.DetectorSpec`) on channels of ``kind``."""
    return (MIMO_DETECTORS if kind == "mimo" else DETECTORS)[det.name]
