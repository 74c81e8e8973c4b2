"""Multiuser MIMO detectors: ``det(y, no, h=None)`` with ``y`` ``[..., T,
N]`` and per-user symbol log-probabilities ``[..., T, K, M]`` out (the
contract: :mod:`detectors.mimo.base`)."""

from .base import MIMODetector
from .sionna_detectors import MIMOEPDetector, MIMOKBestDetector, \
    MIMOLinearDetector, MIMOMLDetector, MIMOMMSEPICDetector
from .soft_ic import SoftICDetector
from .deepsic import DeepSIC
from .dnn import MIMODNN
from .detnet import DetNet

__all__ = ["MIMODetector", "MIMOLinearDetector", "MIMOKBestDetector",
           "MIMOEPDetector", "MIMOMLDetector", "MIMOMMSEPICDetector",
           "SoftICDetector"]
__all__ += ["DeepSIC", "MIMODNN", "DetNet"]
