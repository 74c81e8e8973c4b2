r"""Gaussian branch metrics from the taps the receiver believes:
``log p(y[k] | s, m) = gaussian_loglik(y[k], mu[s, m], no)`` with the
branch outputs ``mu`` of :func:`detectors.metrics.branch_means`."""

import numpy as np
import tensorflow as tf

from signals.models import NO_FLOOR

from ..gaussian import gaussian_loglik
from ..trellis import BranchMetrics
from .linear import branch_means

__all__ = ["gaussian_branch_metrics", "GaussianBranchMetrics"]


def _means_and_noise(y, no, taps, points):
    """Branch means ``[B|1, S, M]`` (dtype of ``y``) and noise variances
    ``[B]``."""
    taps = tf.convert_to_tensor(taps)
    if taps.dtype.is_complex and not y.dtype.is_complex:
        raise TypeError("`taps` are complex but `y` is real.")
    taps = tf.cast(taps, y.dtype)
    taps = taps[None] if taps.shape.rank == 1 else taps
    mu = branch_means(taps, tf.cast(points, taps.dtype))
    if not tf.is_tensor(no):        # keep a Python float's precision
        no = np.asarray(no, dtype=y.dtype.real_dtype.as_numpy_dtype)
    no = tf.reshape(tf.cast(no, y.dtype.real_dtype), [-1])
    no = no * tf.ones([tf.shape(y)[0]], no.dtype)
    return mu, no


def gaussian_branch_metrics(y, no, taps, points):
    r"""Gaussian branch log-likelihoods as a full tensor.

    Parameters
    ----------
    y : [batch, T], tf.float or tf.complex
        Received samples.
    no : scalar or [batch], tf.float
        Noise variance (per real dimension for real, total for complex).
    taps : [L] or [batch, L], same dtype family as ``y``
        Taps the receiver believes.
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
    """
    y = tf.convert_to_tensor(y)
    mu, no = _means_and_noise(y, no, taps, points)
    return gaussian_loglik(y[:, :, None, None], mu[:, None],
                           no[:, None, None, None])


class GaussianBranchMetrics(BranchMetrics):
    r"""Gaussian branch metrics computed step by step inside the recursions
    (never materialised for the whole block).

    Expanding the square of :func:`gaussian_branch_metrics`, the branch
    metric is ``(y mu - mu**2 / 2) / no`` (real) or
    ``(2 Re(y conj(mu)) - |mu|**2) / no`` (complex), i.e. ``log p(y | s, m)``
    up to the per-sample constant ``-|y|**2 / (2 no)`` (resp. ``/ no``)
    which cancels in every posterior and decision. Per branch and step this
    is one or two fused multiply-adds and no division. (The price: metric
    differences carry a rounding error of ``eps |y mu| / no`` instead of
    ``eps |y - mu|**2 / no``, i.e. ~1e-3 nats in float32 at 40 dB, where
    posteriors are saturated anyway.)

    Parameters
    ----------
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
    taps : [L] or [batch, L]
    points : [M]

    Example
    -------
    >>> from detectors.metrics import GaussianBranchMetrics
    >>> m = GaussianBranchMetrics([[1.5]], 0.5, [1.0, 0.5], [1.0, -1.0])
    >>> m.num_states, m.num_points, m.at(0)[..., 0].numpy()   # [S, M]
    (2, 2, array([[ 2.25, -1.75],
           [ 1.25, -6.75]], dtype=float32))
    """

    def __init__(self, y, no, taps, points):
        y = tf.convert_to_tensor(y)
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
