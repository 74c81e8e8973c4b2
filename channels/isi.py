"""Linear ISI channel with AWGN."""

import tensorflow as tf
from .base import TapChannel
from .noise import gaussian_noise

__all__ = ["ISIChannel", "convolve_with_preamble"]


def convolve_with_preamble(x, taps, preamble_point):
    """``sum_l h[l] x[k-l]`` over a frame preceded by L-1 known symbols.

    Parameters
    ----------
    x : [batch, T] tensor of transmitted points
    taps : [L], [batch, L] or [batch, T, L] tensor (same dtype as ``x``)
        Fixed, per frame, or per output sample (time-varying:
        ``y[k] = sum_l taps[b, k, l] x[k-l]``).
    preamble_point : scalar, the point of the preamble symbol (index 0)

    Output
    ------
    : [batch, T], noiseless received samples

    Example
    -------
    >>> import tensorflow as tf
    >>> from channels import convolve_with_preamble
    >>> x = tf.constant([[1.0, -1.0]])
    >>> convolve_with_preamble(x, tf.constant([1.0, 0.5]), 1.0).numpy()
    array([[ 1.5, -0.5]], dtype=float32)
    >>> convolve_with_preamble(x, tf.constant([[[1.0, 0.5], [0.0, 1.0]]]),
    ...                        1.0).numpy()                 # per symbol
    array([[1.5, 1. ]], dtype=float32)
    """
    taps = taps[None] if taps.shape.rank == 1 else taps
    L = taps.shape[-1]
    T = tf.shape(x)[1]
    pre = tf.fill([tf.shape(x)[0], L - 1], tf.cast(preamble_point, x.dtype))
    xp = tf.concat([pre, x], axis=1)
    # L is static and small: one shifted product per tap.
    if taps.shape.rank == 3:
        return tf.add_n([taps[:, :, l] * xp[:, L - 1 - l:L - 1 - l + T]
                         for l in range(L)])
    return tf.add_n([taps[:, l:l + 1] * xp[:, L - 1 - l:L - 1 - l + T]
                     for l in range(L)])


class ISIChannel(TapChannel):
    r"""Inter-symbol-interference channel with additive white Gaussian noise.

    ``y[k] = sum_{l=0}^{L-1} h[l] x[k-l] + w[k]`` where the L-1 symbols
    before the frame are the preamble (constellation index 0, i.e. +1 for
    BPSK). Real inputs and taps give ``w ~ N(0, no)``; complex ones give
    ``w ~ CN(0, no)``.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Channel taps, fixed or one row per frame.
    constellation : None | str | Constellation
        Only used for the preamble point; ``None`` -> BPSK.
    precision : None | "single" | "double"

    Input
    -----
    x : [batch, T], tf.float or tf.complex
        Transmitted constellation points.
    no : scalar or [batch], tf.float
        Noise variance.
    taps : None or [L] or [batch, L]
        Overrides the taps given at construction for this call (per-frame
        CSI models, time-varying channels).
    seed : None or [2], tf.int32
        Stateless seed of the noise; ``None`` uses Sionna's global RNG.

    Output
    ------
    y : [batch, T], same dtype family as ``x`` (complex if ``x`` or the
        taps are complex)

    Example
    -------
    >>> import numpy as np
    >>> from channels import ISIChannel
    >>> ch = ISIChannel([1.0, 0.5])
    >>> ch(np.array([[1.0, -1.0, -1.0]]), 0.0).numpy()   # preamble +1
    array([[ 1.5, -0.5, -1.5]], dtype=float32)
    >>> y = ch(np.ones((2, 100)), 0.1, seed=[1, 2])       # N(0, 0.1) noise
    >>> y.shape, y.dtype.name
    (TensorShape([2, 100]), 'float32')
    >>> ch(np.ones((2, 3)), 0.0, taps=[[1.0, 0.0], [0.5, 0.5]]).numpy()
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    >>> qpsk = ISIChannel([1.0, 0.5j], constellation="qpsk")
    >>> qpsk(np.ones((2, 4), np.complex64), 0.1, seed=[1, 2]).dtype.name
    'complex64'
    """

    def call(self, x, no, taps=None, seed=None):
        x, no, taps = self._inputs(x, no, taps)
        complex_out = x.dtype.is_complex or taps.dtype.is_complex
        dtype = self.cdtype if complex_out else self.rdtype
        x = tf.cast(x, dtype)
        taps = tf.cast(taps, dtype)
        clean = convolve_with_preamble(x, taps, self._preamble_point)
        no = tf.reshape(tf.cast(no, self.rdtype), [-1, 1])
        return clean + gaussian_noise(tf.shape(clean), no, dtype, seed)
