"""rxsim: link-level receiver simulator (TensorFlow + Sionna).

What a script needs is importable from here: build a config
(:func:`parse_config` from a dict, :func:`load_config` from TOML), run it
(:func:`run_sweep`, resumable), read the rows back (:class:`ResultsStore`),
or simulate one point of a hand-built :class:`Link` / :class:`CodedLink`
(:func:`simulate_point`).

Names load on first use, so ``rxsim --help`` and the CLI's log filter
(:mod:`rxsim.native_log`, which must start before TensorFlow) do not wait
for TensorFlow.
"""

import importlib
import os

# TensorFlow's C++ start-up chatter (CUDA probing, XLA service lines) buries
# the results table (failures still surface as Python exceptions). Set the
# variable yourself to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "Link": "link",
    "CodedLink": "coded",
    "Transmitter": "transmitter",
    "simulate_point": "montecarlo",
    "simulate_points": "montecarlo",
    "PointResult": "montecarlo",
    "point_seed": "montecarlo",
    "ResultsStore": "store",
    "PointKey": "store",
    "StoreError": "store",
    "load_config": "config",
    "parse_config": "config",
    "SweepConfig": "config",
    "ConfigError": "config",
    "snr_to_no": "config",
    "run_sweep": "sweep",
    "sweep_points": "sweep",
    "wilson_interval": "stats",
    "clopper_pearson_interval": "stats",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rxsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value          # later look-ups skip this function
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
