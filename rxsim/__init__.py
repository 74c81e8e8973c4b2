"""rxsim: link-level receiver simulator (TensorFlow + Sionna)."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, XLA service lines) buries
# the results table (failures still surface as Python exceptions). Set the
# variable yourself to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

from .link import Link
from .montecarlo import PointResult, point_seed, simulate_point
from .stats import clopper_pearson_interval, wilson_interval
from .store import PointKey, ResultsStore, StoreError
from .transmitter import Transmitter

__all__ = ["Link", "Transmitter", "simulate_point", "PointResult",
           "point_seed", "ResultsStore", "PointKey", "StoreError",
           "wilson_interval", "clopper_pearson_interval", "__version__"]
