r"""The linear ISI model as a trellis sees it: the noiseless channel output
of every branch, ``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]``.

:func:`branch_means` computes it for fixed or per-frame taps (once per
call); :func:`branch_regressors` gives the symbols it weights, so that a
per-step metric can form the means of per-symbol taps ``h_k`` inside the
recursion as one small matrix product, ``mu_k = R h_k``."""

import tensorflow as tf

from ..trellis import Trellis

__all__ = ["branch_means", "branch_regressors"]


def branch_means(taps, points):
    r"""Noiseless channel output of every branch.

    Parameters
    ----------
    taps : [..., L], tf.float or tf.complex
        Channel taps (fixed ``[L]``, per frame ``[batch, L]`` or per
        symbol ``[batch, T, L]``).
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


def branch_regressors(points, memory):
    r"""The symbols each tap multiplies on every branch.

    Parameters
    ----------
    points : [M], tf.float or tf.complex
        Constellation points.
    memory : int
        L.

    Output
    ------
    : [S, M, L], dtype of ``points``
        ``R[s, m, 0] = p[m]`` and ``R[s, m, j] = p[x[k-j](s)]`` (``j >= 1``),
        so that ``mu[s, m] = sum_l R[s, m, l] h[l]`` is
        :func:`branch_means` of the taps ``h``.

    Example
    -------
    >>> from detectors.metrics import branch_regressors
    >>> branch_regressors([1.0, -1.0], 2).numpy()[1]    # state x[k-1] = -1
    array([[ 1., -1.],
           [-1., -1.]], dtype=float32)
    """
    points = tf.convert_to_tensor(points)
    M = points.shape[0]
    trellis = Trellis(M, memory)
    S = trellis.num_states
    head = tf.broadcast_to(points[None, :, None], [S, M, 1])
    if memory == 1:
        return head
    past = tf.gather(points, trellis.state_symbols)    # [S, L-1]
    past = tf.broadcast_to(past[:, None], [S, M, memory - 1])
    return tf.concat([head, past], axis=-1)
