"""Detectors: every one is a ``sionna.phy.Block`` called as ``det(y, no)``.

See ``docs/design.md``: a trellis detector is branch metrics x inference.

=====================  =====================  ==========================
                       max-product (Viterbi)  sum-product (BCJR)
model-based metric     ViterbiDetector        BCJRDetector
learned metric         ViterbiNet             LearnedFactorGraph
=====================  =====================  ==========================

Beside the grid: ``SBRNN`` (data-driven), ``LMMSEDetector`` (linear),
``SymbolwiseDetector`` (ignores ISI), ``BruteForceDetector`` (tests).
"""

from signals.constellations import make_constellation

from .base import Detector, TapsDetector
from .brute_force import BruteForceDetector
from .factor_graph import LearnedFactorGraph, ViterbiNet, train_many
from .learned import LearnedDetector
from .lmmse import LMMSEDetector
from .model_based import BCJRDetector, ViterbiDetector
from .poisson import PoissonSymbolwiseDetector
from .sbrnn import SBRNN
from .symbolwise import SymbolwiseDetector

__all__ = ["Detector", "TapsDetector", "SymbolwiseDetector", "LMMSEDetector",
           "ViterbiDetector", "BCJRDetector", "BruteForceDetector",
           "ViterbiNet", "LearnedFactorGraph", "SBRNN", "LearnedDetector",
           "train_many", "make_constellation",
           "PoissonSymbolwiseDetector"]
