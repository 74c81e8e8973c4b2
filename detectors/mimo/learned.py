"""The base of the learned MIMO detectors: the MIMO contract
(:class:`~detectors.mimo.base.MIMODetector`) with trained weights
(:class:`detectors.learned.TrainedWeights`: ``save`` / ``load`` in the
checkpoint format of the ISI learned detectors, ``set_weights_from``,
``copy``)."""

from ..learned import TrainedWeights
from .base import MIMODetector

__all__ = ["LearnedMIMODetector"]


class LearnedMIMODetector(TrainedWeights, MIMODetector):
    """A MIMO detector trained on pilots (``fit``) or loaded from a
    checkpoint; calling it untrained raises ``RuntimeError``.

    Subclasses define ``fit``, ``symbol_logits``, ``_config()`` (their
    constructor arguments besides ``constellation``, ``hard_out`` and
    ``precision``, JSON types only; ``users`` and ``antennas`` included)
    and ``_variables()``.

    Example
    -------
    >>> from detectors.mimo import DeepSIC
    >>> det = DeepSIC(4, 4)                  # a LearnedMIMODetector
    >>> det.trained, det.takes_channel
    (False, False)
    >>> det([[[0.5, -0.5, 0.5, 1.0]]], 0.1)
    Traceback (most recent call last):
    ...
    RuntimeError: DeepSIC is not trained: call fit(y, s) on pilots or load a checkpoint.
    """

    takes_channel = False

    def __init__(self, *, users, antennas, constellation=None,
                 hard_out=False, precision=None, **kwargs):
        super().__init__(users=users, antennas=antennas,
                         constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._trained = False

    def _flatten(self, y, no, h):
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} is not trained: call "
                               "fit(y, s) on pilots or load a checkpoint.")
        return super()._flatten(y, no, h)
