"""Detectors: every one is a ``sionna.phy.Block`` called as ``det(y, no)``.

See ``docs/design.md``: a trellis detector is branch metrics x inference.
"""

from .base import Detector, TapsDetector
from .constellations import make_constellation
from .lmmse import LMMSEDetector
from .model_based import BCJRDetector, ViterbiDetector
from .symbolwise import SymbolwiseDetector

__all__ = ["Detector", "TapsDetector", "SymbolwiseDetector", "LMMSEDetector",
           "ViterbiDetector", "BCJRDetector", "make_constellation"]
