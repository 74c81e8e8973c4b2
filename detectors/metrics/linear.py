r"""The linear ISI model as a trellis sees it: the noiseless channel output
of every branch, ``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]``."""

import tensorflow as tf

from ..trellis import Trellis

__all__ = ["branch_means"]


def branch_means(taps, points):
    r"""Noiseless channel output of every branch.

    Parameters
    ----------
    taps : [..., L], tf.float or tf.complex
        Channel taps (fixed ``[L]`` or per frame ``[batch, L]``).
    points : [M], tf.float or tf.complex
        Constellation points; index ``i`` <-> ``points[i]``.

    Output
    ------
    : [..., S, M], dtype of ``taps``
        ``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]`` in the
        state numbering of :mod:`detectors.trellis`.

    Example
    -------
    >>> from detectors.metrics import branch_means
    >>> branch_means([1.0, 0.5], [1.0, -1.0]).numpy()   # rows: x[k-1]
    array([[ 1.5, -0.5],
           [ 0.5, -1.5]], dtype=float32)
    """
    taps = tf.convert_to_tensor(taps)
    L = taps.shape[-1]
    points = tf.cast(points, taps.dtype)
    M = points.shape[0]
    trellis = Trellis(M, L)
    head = taps[..., :1, None] * points                # [..., 1, M]
    if L == 1:
        return head
    past = tf.gather(points, trellis.state_symbols)    # [S, L-1]
    isi = tf.einsum("...j,sj->...s", taps[..., 1:], past)
    return isi[..., :, None] + head                    # [..., S, M]
