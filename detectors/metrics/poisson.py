r"""Poisson branch metrics from the taps the receiver believes (model and
``no = 1 / rho`` convention: :mod:`detectors.poisson`):
``log p(y[k] | s, m) = y log(lam[s, m]) - lam[s, m]`` with
``lam = mu / sqrt(no) + DARK_RATE`` and ``mu`` of
:func:`detectors.metrics.branch_means`, for fixed ``[L]``, per-frame
``[batch, L]`` or per-symbol ``[batch, T, L]`` believed taps."""

import numpy as np
import tensorflow as tf

from signals.models import DARK_RATE, NO_FLOOR

from ..trellis import BranchMetrics
from .linear import branch_means, branch_regressors

__all__ = ["RATE_FLOOR", "poisson_rates", "poisson_loglik",
           "poisson_branch_metrics", "PoissonBranchMetrics"]

# Smallest rate a detector assumes: keeps log(lam) finite for rates that
# perturbed (possibly negative) taps push to or below zero.
RATE_FLOOR = 1e-6

def _check_real(y, taps):
    if y is not None and y.dtype.is_complex:
        raise TypeError("The Poisson model needs real samples (photon or "
                        "molecule counts); got complex `y`. Use the 'ook' "
                        "constellation.")
    if taps.dtype.is_complex:
        raise TypeError("The Poisson model needs real taps; got complex "
                        "`taps`.")
    if taps.shape.rank not in (1, 2, 3):
        raise ValueError(f"`taps` must have shape [L], [batch, L] or "
                         f"[batch, T, L], got {taps.shape.as_list()}.")
    if y is not None and taps.shape.rank == 3:
        steps, T = taps.shape[1], y.shape[1]
        if steps is not None and T is not None and steps != T:
            raise ValueError(f"`taps` has tap sets for {steps} symbols but "
                             f"`y` has T = {T}; per-symbol taps are "
                             f"[batch, T, L].")


def _rate_scale(no, dtype, batch_size=None):
    """``1 / sqrt(no)`` ``[batch or 1]`` (``no`` floored at NO_FLOOR)."""
    if not tf.is_tensor(no):        # keep a Python float's precision
        no = np.asarray(no, dtype=dtype.as_numpy_dtype)
    no = tf.reshape(tf.cast(no, dtype), [-1])
    if batch_size is not None:
        no = no * tf.ones([batch_size], dtype)
    return tf.math.rsqrt(tf.maximum(no, tf.cast(NO_FLOOR, dtype)))


def poisson_rates(no, taps, points, batch_size=None, dtype=tf.float32):
    r"""Poisson rates of every branch, ``lam[s, m] = mu[s, m] / sqrt(no) +
    DARK_RATE`` clipped below at :data:`RATE_FLOOR`.

    Parameters
    ----------
    no : scalar or [batch], tf.float
        ``1 / rho`` (module doc); floored at ``signals.models.NO_FLOOR``
        so that ``no = 0`` stays finite.
    taps : [L] or [batch, L] or [batch, T, L], tf.float
        Taps the receiver believes (fixed, per frame or per symbol).
    points : [M], tf.float
        Constellation points (OOK: ``[0, 1]``).
    batch_size : None | int | scalar int tensor
        Broadcast the result to this batch (default: what ``no`` and
        ``taps`` give).
    dtype : tf.DType
        Real dtype of the result.

    Output
    ------
    : [batch or 1, S, M] (per-symbol taps: [batch or 1, T, S, M]), ``dtype``

    Example
    -------
    >>> from detectors.metrics import poisson_rates
    >>> poisson_rates(1.0, [1.0, 0.5], [0.0, 1.0]).numpy()[0]  # rows x[k-1]
    array([[1. , 2. ],
           [1.5, 2.5]], dtype=float32)
    """
    taps = tf.convert_to_tensor(taps)
    _check_real(None, taps)
    taps = tf.cast(taps, dtype)
    taps = taps[None] if taps.shape.rank == 1 else taps
    mu = branch_means(taps, tf.cast(points, dtype))   # [B|1, (T,) S, M]
    scale = _rate_scale(no, dtype, batch_size)
    scale = tf.reshape(scale, [-1] + [1] * (mu.shape.rank - 1))
    lam = scale * mu + DARK_RATE
    return tf.maximum(lam, tf.cast(RATE_FLOOR, dtype))


def poisson_loglik(y, lam):
    """``log p(y | lam) + log(y!) = y log(lam) - lam``, elementwise with
    broadcasting (``lam > 0``)."""
    return y * tf.math.log(lam) - lam


def poisson_branch_metrics(y, no, taps, points):
    r"""Poisson branch log-likelihoods as a full tensor.

    Parameters
    ----------
    y : [batch, T], tf.float
        Received counts.
    no : scalar or [batch], tf.float
        ``1 / rho``.
    taps : [L] or [batch, L] or [batch, T, L], tf.float
        Taps the receiver believes (fixed, per frame or per symbol: the
        tap set of time ``k`` is ``taps[b, k]``).
    points : [M]
        Constellation points.

    Output
    ------
    : [batch, T, S, M], tf.float
        ``y[k] log(lam[s, m]) - lam[s, m]`` (``log p(y[k] | s, m)`` up to
        ``-log(y[k]!)``), in the numbering of :mod:`detectors.trellis`.

    Example
    -------
    >>> from detectors.metrics import poisson_branch_metrics
    >>> m = poisson_branch_metrics([[2.0]], 1.0, [1.0], [0.0, 1.0])
    >>> m.numpy().round(4)                      # [batch, T, S, M]
    array([[[[-1.    , -0.6137]]]], dtype=float32)
    """
    y = tf.convert_to_tensor(y)
    _check_real(y, tf.convert_to_tensor(taps))
    lam = poisson_rates(no, taps, points, tf.shape(y)[0], y.dtype)
    if lam.shape.rank == 3:                     # fixed or per-frame taps
        lam = lam[:, None]
    return poisson_loglik(y[:, :, None, None], lam)


class PoissonBranchMetrics(BranchMetrics):
    r"""Poisson branch metrics computed step by step inside the compiled
    recursions of :mod:`detectors.trellis` (never materialised for the
    whole block): per branch and step one multiply-add,
    ``y[k] * log(lam) - lam``, with ``log(lam)`` and ``lam`` ``[S, M,
    batch]`` computed once per call.

    Parameters
    ----------
    y : [batch, T], tf.float
        Received counts.
    no : scalar or [batch], tf.float
        ``1 / rho`` (module doc).
    taps : [L] or [batch, L] or [batch, T, L], tf.float
        Taps the receiver believes. Per-symbol taps make the step inputs
        ``[T, 1 + L, batch]`` (the count and the tap set of time ``k``);
        a step then forms its rates from ``mu_k = R h_k``
        (:func:`detectors.metrics.branch_regressors`) and takes their
        logarithm, instead of reading rates computed once per call.
    points : [M]
        Constellation points.

    Example
    -------
    One tap, ``no = 1`` (rates ``mu + 1``: 1 for "off", 2 for "on"):

    >>> from detectors.metrics import PoissonBranchMetrics
    >>> m = PoissonBranchMetrics([[2.0]], 1.0, [1.0], [0.0, 1.0])
    >>> m.at(0).numpy()[0, :, 0].round(4)       # 2 log(lam) - lam
    array([-1.    , -0.6137], dtype=float32)
    """

    def __init__(self, y, no, taps, points):
        y = tf.convert_to_tensor(y)
        taps = tf.convert_to_tensor(taps)
        _check_real(y, taps)
        if taps.shape.rank == 3:
            self._init_per_symbol(y, no, taps, points)
            return
        lam = poisson_rates(no, taps, points, tf.shape(y)[0], y.dtype)
        lam = tf.transpose(lam, [1, 2, 0])                 # [S, M, B]
        log_lam = tf.math.log(lam)
        neg_lam = -lam

        def step(y_k):                                     # [B]
            return y_k * log_lam + neg_lam

        super().__init__(tf.transpose(y), step, lam.shape[0], lam.shape[1])

    def _init_per_symbol(self, y, no, taps, points):
        dtype = y.dtype
        taps = tf.cast(taps, dtype)
        L = taps.shape[-1]
        regress = branch_regressors(tf.cast(points, dtype), L)  # [S, M, L]
        S, M = regress.shape[0], regress.shape[1]
        regress = tf.reshape(regress, [S * M, L])
        scale = _rate_scale(no, dtype, tf.shape(y)[0])       # [B]
        floor = tf.cast(RATE_FLOOR, dtype)
        taps = tf.broadcast_to(taps, tf.concat(
            [tf.shape(y)[:1], tf.shape(taps)[1:]], 0))       # [B, T, L]
        # time-major [T, 1 + L, B]: y[k] and the tap set of time k
        inputs = tf.concat([tf.transpose(y)[:, None],
                            tf.transpose(taps, [1, 2, 0])], axis=1)

        def step(x_k):                                     # [1 + L, B]
            mu = tf.reshape(tf.matmul(regress, x_k[1:]), [S, M, -1])
            lam = tf.maximum(scale * mu + DARK_RATE, floor)
            return x_k[0] * tf.math.log(lam) + (-lam)

        super().__init__(inputs, step, S, M)
