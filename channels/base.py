"""What every channel given by taps shares: the taps (with a per-call
override), the constellation and its preamble point, and the checks of a
call's inputs."""

import numpy as np
import tensorflow as tf
from sionna.phy import Block

from signals.checks import (as_taps, check_noise_variance, check_received,
                              check_taps)
from signals.constellations import constellation_points, make_constellation

__all__ = ["TapChannel"]


class TapChannel(Block):
    """Base of :class:`channels.ISIChannel` and
    :class:`channels.PoissonChannel`.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
    constellation : None | str | Constellation
        Only used for the preamble point (index 0).
    precision : None | "single" | "double"

    Subclasses may override ``_as_taps`` (dtype rules of their taps).

    Example
    -------
    >>> from channels import ISIChannel
    >>> from channels.base import TapChannel
    >>> ch = ISIChannel([[1.0, 0.5], [0.8, 0.2]])   # taps per frame
    >>> isinstance(ch, TapChannel), ch.memory, ch.taps.shape
    (True, 2, TensorShape([2, 2]))
    """

    def __init__(self, taps, *, constellation=None, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._taps = self._as_taps(taps)
        self._constellation = make_constellation(constellation)
        self._preamble_point = constellation_points(
            self._constellation, tf.float64)[0]

    def _as_taps(self, taps, batch_size=None):
        taps = as_taps(taps, batch_size=batch_size)
        return tf.cast(taps, self.cdtype if taps.dtype.is_complex
                       else self.rdtype)

    def draw_key(self):
        """What this channel's output depends on besides its inputs: its
        class, precision, taps and preamble point. Two channels with equal
        keys give the same output for the same input, noise and seed (the
        Monte Carlo engine draws a batch once for links whose channels
        and transmitters have equal keys)."""
        return (type(self).__module__, type(self).__qualname__,
                self.rdtype.name, _array_key(self._taps),
                _array_key(self._preamble_point))

    @property
    def taps(self):
        """tf.Tensor : taps [L] or [batch, L]."""
        return self._taps

    @property
    def memory(self):
        """int : L."""
        return int(self._taps.shape[-1])

    @property
    def constellation(self):
        """sionna.phy.mapping.Constellation"""
        return self._constellation

    def _inputs(self, x, no, taps):
        """Checked ``x``, ``no`` and the taps of this call (``taps`` or the
        constructor's)."""
        x = tf.convert_to_tensor(x)
        check_received(x, name="x")
        batch_size = x.shape[0]
        taps = self._taps if taps is None else self._as_taps(taps, batch_size)
        check_taps(taps, batch_size=batch_size)
        no = tf.convert_to_tensor(no, dtype_hint=self.rdtype)
        check_noise_variance(no, batch_size=batch_size)
        return x, no, taps


def _array_key(value):
    """A hashable key of an array's dtype, shape and contents."""
    arr = np.asarray(value)
    return arr.dtype.str, arr.shape, arr.tobytes()
