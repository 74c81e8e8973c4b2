r"""Gaussian branch metrics from the taps the receiver believes:
``log p(y[k] | s, m) = gaussian_loglik(y[k], mu[s, m], no)`` with the
branch outputs ``mu`` of :func:`detectors.metrics.branch_means`.

Taps may be fixed ``[L]``, per frame ``[batch, L]`` or per symbol
``[batch, T, L]`` (the tap set believed at time ``k`` is ``taps[b, k]``:
``mu[k, s, m]`` then changes with ``k``)."""

import numpy as np
import tensorflow as tf

from signals.models import NO_FLOOR

from ..gaussian import gaussian_loglik
from ..trellis import BranchMetrics
from .linear import branch_means, branch_regressors

__all__ = ["gaussian_branch_metrics", "GaussianBranchMetrics"]


def _taps_like(y, taps):
    """``taps`` as a tensor of ``y``'s dtype, checked against ``y``: per-
    symbol taps ``[B|1, T, L]`` must have the frames' T."""
    taps = tf.convert_to_tensor(taps)
    if taps.dtype.is_complex and not y.dtype.is_complex:
        raise TypeError("`taps` are complex but `y` is real.")
    if taps.shape.rank not in (1, 2, 3):
        raise ValueError(f"`taps` must have shape [L], [batch, L] or "
                         f"[batch, T, L], got {taps.shape.as_list()}.")
    if taps.shape.rank == 3:
        steps, T = taps.shape[1], y.shape[1]
        if steps is not None and T is not None and steps != T:
            raise ValueError(f"`taps` has tap sets for {steps} symbols but "
                             f"`y` has T = {T}; per-symbol taps are "
                             f"[batch, T, L].")
    return tf.cast(taps, y.dtype)


def _noise_per_frame(y, no):
    """``no`` (scalar or ``[batch]``) as ``[batch]`` in the real dtype of
    ``y`` (a Python float keeps its precision)."""
    if not tf.is_tensor(no):
        no = np.asarray(no, dtype=y.dtype.real_dtype.as_numpy_dtype)
    no = tf.reshape(tf.cast(no, y.dtype.real_dtype), [-1])
    return no * tf.ones([tf.shape(y)[0]], no.dtype)


def _means_and_noise(y, no, taps, points):
    """Branch means ``[B|1, S, M]`` (per-symbol taps: ``[B|1, T, S, M]``,
    dtype of ``y``) and noise variances ``[B]``."""
    taps = _taps_like(y, taps)
    taps = taps[None] if taps.shape.rank == 1 else taps
    mu = branch_means(taps, tf.cast(points, taps.dtype))
    return mu, _noise_per_frame(y, no)


def gaussian_branch_metrics(y, no, taps, points):
    r"""Gaussian branch log-likelihoods as a full tensor.

    Parameters
    ----------
    y : [batch, T], tf.float or tf.complex
        Received samples.
    no : scalar or [batch], tf.float
        Noise variance (per real dimension for real, total for complex).
    taps : [L] or [batch, L] or [batch, T, L], same dtype family as ``y``
        Taps the receiver believes: fixed, per frame or per symbol (the
        tap set of time ``k`` is ``taps[b, k]``; a batch axis of 1 fits
        any batch).
    points : [M]
        Constellation points.

    Output
    ------
    : [batch, T, S, M], tf.float
        ``log p(y[k] | s, m)`` up to a per-sample constant, in the numbering
        of :mod:`detectors.trellis`. Differentiable in ``y``, ``no`` and
        ``taps``.

    Example
    -------
    >>> from detectors.metrics import gaussian_branch_metrics
    >>> gaussian_branch_metrics([[1.5]], 0.5, [1.0, 0.5], [1.0, -1.0]).numpy()
    array([[[[-0., -4.],
             [-1., -9.]]]], dtype=float32)
    >>> gaussian_branch_metrics([[1.5, 1.5]], 0.5, [[[1.0, 0.5],
    ...                                              [0.5, 0.5]]],
    ...                         [1.0, -1.0]).numpy()[0, 1]   # taps of k = 1
    array([[-0.25, -2.25],
           [-2.25, -6.25]], dtype=float32)
    """
    y = tf.convert_to_tensor(y)
    mu, no = _means_and_noise(y, no, taps, points)
    if mu.shape.rank == 3:                      # fixed or per-frame taps
        mu = mu[:, None]
    return gaussian_loglik(y[:, :, None, None], mu, no[:, None, None, None])


class GaussianBranchMetrics(BranchMetrics):
    r"""Gaussian branch metrics computed step by step inside the recursions
    (never materialised for the whole block).

    Expanding the square of :func:`gaussian_branch_metrics`, the branch
    metric is ``(y mu - mu**2 / 2) / no`` (real) or
    ``(2 Re(y conj(mu)) - |mu|**2) / no`` (complex), i.e. ``log p(y | s, m)``
    up to the per-sample constant ``-|y|**2 / (2 no)`` (resp. ``/ no``)
    which cancels in every posterior and decision. With fixed or per-frame
    taps the weights ``mu / no`` and ``-mu**2 / (2 no)`` are computed once
    per call, so a step is one or two fused multiply-adds per branch and no
    division. (The price: metric differences carry a rounding error of
    ``eps |y mu| / no`` instead of ``eps |y - mu|**2 / no``, i.e. ~1e-3
    nats in float32 at 40 dB, where posteriors are saturated anyway.)

    With per-symbol taps ``[batch, T, L]`` the step inputs are the sample
    and the tap set of time ``k`` (``[T, 1 + L, batch]``, time-major), and
    a step first forms its branch means ``mu_k = R h_k``
    (:func:`detectors.metrics.branch_regressors`, one ``[S M, L]`` matrix
    product), then the same expression: memory stays ``O(T L batch)``.

    Parameters
    ----------
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
    taps : [L] or [batch, L] or [batch, T, L]
        Fixed, per-frame or per-symbol believed taps.
    points : [M]

    Example
    -------
    >>> from detectors.metrics import GaussianBranchMetrics
    >>> m = GaussianBranchMetrics([[1.5]], 0.5, [1.0, 0.5], [1.0, -1.0])
    >>> m.num_states, m.num_points, m.at(0)[..., 0].numpy()   # [S, M]
    (2, 2, array([[ 2.25, -1.75],
           [ 1.25, -6.75]], dtype=float32))
    >>> p = GaussianBranchMetrics([[1.5]], 0.5, [[[1.0, 0.5]]], [1.0, -1.0])
    >>> p.at(0)[..., 0].numpy()                     # per-symbol: the same
    array([[ 2.25, -1.75],
           [ 1.25, -6.75]], dtype=float32)
    """

    def __init__(self, y, no, taps, points):
        y = tf.convert_to_tensor(y)
        taps = _taps_like(y, taps)
        if taps.shape.rank == 3:
            self._init_per_symbol(y, no, taps, points)
            return
        mu, no = _means_and_noise(y, no, taps, points)
        mu = tf.transpose(mu, [1, 2, 0])               # [S, M, B|1]
        rdtype = y.dtype.real_dtype
        # Same floor as gaussian_loglik: no = 0 stays finite.
        w = 1.0 / tf.maximum(no, tf.cast(NO_FLOOR, rdtype))  # [B]
        if y.dtype.is_complex:
            mr, mi = tf.math.real(mu), tf.math.imag(mu)
            bias = -(mr ** 2 + mi ** 2) * w
            ar, ai = 2.0 * mr * w, 2.0 * mi * w          # [S, M, B]
            # time-major [T, 2, B]: real and imaginary parts of y[k]
            inputs = tf.transpose(tf.stack([tf.math.real(y),
                                            tf.math.imag(y)]), [2, 0, 1])

            def step(y_k):                             # [2, B]
                return y_k[0] * ar + (y_k[1] * ai + bias)
        else:
            bias = -0.5 * mu ** 2 * w
            a = mu * w
            inputs = tf.transpose(y)                   # [T, B]

            def step(y_k):                             # [B]
                return y_k * a + bias
        super().__init__(inputs, step, mu.shape[0], mu.shape[1])

    def _init_per_symbol(self, y, no, taps, points):
        L = taps.shape[-1]
        regress = branch_regressors(tf.cast(points, y.dtype), L)  # [S, M, L]
        S, M = regress.shape[0], regress.shape[1]
        regress = tf.reshape(regress, [S * M, L])
        no = _noise_per_frame(y, no)
        rdtype = y.dtype.real_dtype
        w = 1.0 / tf.maximum(no, tf.cast(NO_FLOOR, rdtype))  # [B]
        taps = tf.broadcast_to(taps, tf.concat(
            [tf.shape(y)[:1], tf.shape(taps)[1:]], 0))       # [B, T, L]
        # time-major [T, 1 + L, B]: y[k] and the tap set of time k
        inputs = tf.concat([tf.transpose(y)[:, None],
                            tf.transpose(taps, [1, 2, 0])], axis=1)

        def means(x_k):                                # [S, M, B]
            return tf.reshape(tf.matmul(regress, x_k[1:]), [S, M, -1])

        if y.dtype.is_complex:
            def step(x_k):                             # [1 + L, B]
                mu = means(x_k)
                mr, mi = tf.math.real(mu), tf.math.imag(mu)
                bias = -(mr ** 2 + mi ** 2) * w
                ar, ai = 2.0 * mr * w, 2.0 * mi * w
                return (tf.math.real(x_k[0]) * ar
                        + (tf.math.imag(x_k[0]) * ai + bias))
        else:
            def step(x_k):                             # [1 + L, B]
                mu = means(x_k)
                return x_k[0] * (mu * w) + (-0.5 * mu ** 2 * w)
        super().__init__(inputs, step, S, M)
