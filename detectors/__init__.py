"""Detectors: every one is a ``sionna.phy.Block`` called as ``det(y, no)``.

See ``docs/design.md``: a trellis detector is branch metrics x inference,
and :class:`TrellisDetector` is that product as a type (a subclass gives
only its :meth:`~TrellisDetector.branch_metrics`).

=====================  =====================  ==========================
                       max-product (Viterbi)  sum-product (BCJR)
model-based metric     ViterbiDetector        BCJRDetector
learned metric         ViterbiNet             LearnedFactorGraph
=====================  =====================  ==========================

Beside the grid: ``SBRNN`` (data-driven), ``LMMSEDetector`` (linear),
``SymbolwiseDetector`` (ignores ISI), ``BruteForceDetector`` (tests),
``SionnaLMMSEDetector`` (Sionna's ``lmmse_equalizer`` on the whole frame,
a reference).
The trellis core (``Trellis``, ``BranchMetrics``, ``viterbi_decode``,
``forward_backward``) is exported for new metrics and detectors.
"""

from signals.constellations import make_constellation

from .base import Detector, TapsDetector
from .brute_force import BruteForceDetector
from .factor_graph import LearnedFactorGraph, ViterbiNet
from .learned import LearnedDetector
from .lmmse import LMMSEDetector
from .many_models import train_many
from .model_based import BCJRDetector, ViterbiDetector
from .poisson import PoissonSymbolwiseDetector
from .sbrnn import SBRNN
from .sionna_lmmse import SionnaLMMSEDetector
from .symbolwise import SymbolwiseDetector
from .trellis import BranchMetrics, Trellis, forward_backward, viterbi_decode
from .trellis_detector import TrellisDetector

__all__ = ["Detector", "TapsDetector", "TrellisDetector",
           "SymbolwiseDetector", "LMMSEDetector", "SionnaLMMSEDetector",
           "ViterbiDetector", "BCJRDetector", "BruteForceDetector",
           "ViterbiNet", "LearnedFactorGraph", "SBRNN", "LearnedDetector",
           "train_many",
           "make_constellation", "PoissonSymbolwiseDetector",
           "Trellis", "BranchMetrics", "viterbi_decode", "forward_backward"]
