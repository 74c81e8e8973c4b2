"""Transmitter: uniform random symbol indices mapped to constellation points."""

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config

from signals.constellations import constellation_points, make_constellation

__all__ = ["Transmitter"]


class Transmitter(Block):
    """Draws i.i.d. uniform symbol indices and maps them to points.

    Parameters
    ----------
    constellation : None | str | Constellation
        ``None`` -> BPSK. PAM gives real points, QAM complex ones.
    precision : None | "single" | "double"

    Input
    -----
    batch_size : int
    num_symbols : int
        T, symbols per frame.
    seed : None or [2], tf.int32
        Stateless seed; ``None`` uses Sionna's global RNG.

    Output
    ------
    s : [batch_size, num_symbols], tf.int32
        Symbol indices.
    x : [batch_size, num_symbols], tf.float or tf.complex
        The points ``constellation.points[s]``.

    Example
    -------
    >>> import numpy as np
    >>> from rxsim import Transmitter
    >>> tx = Transmitter("qpsk")
    >>> s, x = tx(2, 5, seed=[1, 2])          # the same seed, the same frames
    >>> s.shape, x.dtype.name
    (TensorShape([2, 5]), 'complex64')
    >>> bool(np.all(x.numpy() == tx.constellation.points.numpy()[s.numpy()]))
    True
    """

    def __init__(self, constellation=None, *, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._constellation = make_constellation(constellation,
                                                 precision=precision)
        self._points = constellation_points(self._constellation, self.rdtype)

    @property
    def constellation(self):
        """sionna.phy.mapping.Constellation"""
        return self._constellation

    def draw_key(self):
        """What the frames drawn from a seed depend on: the precision and
        the constellation's points (see :meth:`channels.base.TapChannel.
        draw_key`)."""
        points = np.asarray(self._points)
        return ("Transmitter", self.rdtype.name, points.dtype.str,
                points.tobytes())

    @property
    def bits_per_symbol(self):
        """int"""
        return self._constellation.num_bits_per_symbol

    def call(self, batch_size, num_symbols, seed=None):
        shape = [batch_size, num_symbols]
        m = self._constellation.num_points
        if seed is None:
            s = config.tf_rng.uniform(shape, 0, m, dtype=tf.int32)
        else:
            s = tf.random.stateless_uniform(shape, seed, 0, m,
                                            dtype=tf.int32)
        return s, tf.gather(self._points, s)
