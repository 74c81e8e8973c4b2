r"""Poisson channel model seen by a detector: on-off keying over an optical
or molecular link with memory (the Poisson channel of the ViterbiNet /
BCJRNet papers).

Model: ``y[k] ~ Poisson(lam[k])`` with the rate

    ``lam[k] = sqrt(rho) * sum_{l=0}^{L-1} h[l] x[k-l] + DARK_RATE``,

``x`` on-off keying points (``0`` or ``1``), ``h`` the (unnormalised) taps,
``rho`` the SNR and ``DARK_RATE = 1`` the dark-current / background rate.

**Noise-variance convention.** rxsim blocks take ``no``, and an SNR in dB
means ``no = 10**(-snr_db/10)``. The Poisson channel has no additive noise;
rxsim defines ``no = 1 / rho`` for it, so that ``snr_db = 10 log10 rho``
keeps the same ``no``: the rate is ``lam = mu / sqrt(no) + DARK_RATE`` with
``mu = sum_l h[l] x[k-l]``.

**Branch metric.** For state ``s`` and input ``m`` (numbering of
:mod:`detectors.trellis`), ``log p(y | s, m) = y log(lam[s, m]) - lam[s, m]``
up to ``-log(y!)``, which is the same for every branch and is dropped.
A rate at or below zero (only possible with taps that are negative, e.g.
perturbed taps of an imperfect-CSI receiver) is clipped to
``RATE_FLOOR`` so that ``log(lam)`` stays finite: such a branch is then
merely very unlikely for any ``y > 0``, and the recursions never see
``-inf`` or NaN.
"""

import numpy as np
import tensorflow as tf

from signals.models import DARK_RATE, NO_FLOOR

from .base import TapsDetector
from .trellis import BranchMetrics, branch_means

__all__ = ["DARK_RATE", "RATE_FLOOR", "LIKELIHOODS", "poisson_rates",
           "poisson_loglik", "poisson_branch_metrics",
           "PoissonBranchMetrics", "PoissonSymbolwiseDetector"]

# Smallest rate a detector assumes: keeps log(lam) finite for rates that
# perturbed (possibly negative) taps push to or below zero.
RATE_FLOOR = 1e-6

# Branch-metric families of the model-based trellis detectors.
LIKELIHOODS = ("gaussian", "poisson")


def _check_real(y, taps):
    if y is not None and y.dtype.is_complex:
        raise TypeError("The Poisson model needs real samples (photon or "
                        "molecule counts); got complex `y`. Use the 'ook' "
                        "constellation.")
    if taps.dtype.is_complex:
        raise TypeError("The Poisson model needs real taps; got complex "
                        "`taps`.")


def poisson_rates(no, taps, points, batch_size=None, dtype=tf.float32):
    r"""Poisson rates of every branch, ``lam[s, m] = mu[s, m] / sqrt(no) +
    DARK_RATE`` clipped below at :data:`RATE_FLOOR`.

    Parameters
    ----------
    no : scalar or [batch], tf.float
        ``1 / rho`` (module doc); floored at ``detectors.gaussian.NO_FLOOR``
        so that ``no = 0`` stays finite.
    taps : [L] or [batch, L], tf.float
        Taps the receiver believes.
    points : [M], tf.float
        Constellation points (OOK: ``[0, 1]``).
    batch_size : None | int | scalar int tensor
        Broadcast the result to this batch (default: what ``no`` and
        ``taps`` give).
    dtype : tf.DType
        Real dtype of the result.

    Output
    ------
    : [batch or 1, S, M], ``dtype``
    """
    taps = tf.convert_to_tensor(taps)
    _check_real(None, taps)
    taps = tf.cast(taps, dtype)
    taps = taps[None] if taps.shape.rank == 1 else taps
    mu = branch_means(taps, tf.cast(points, dtype))        # [B|1, S, M]
    if not tf.is_tensor(no):        # keep a Python float's precision
        no = np.asarray(no, dtype=dtype.as_numpy_dtype)
    no = tf.reshape(tf.cast(no, dtype), [-1])
    if batch_size is not None:
        no = no * tf.ones([batch_size], dtype)
    scale = tf.math.rsqrt(tf.maximum(no, tf.cast(NO_FLOOR, dtype)))
    lam = scale[:, None, None] * mu + DARK_RATE
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
    taps : [L] or [batch, L], tf.float
        Taps the receiver believes.
    points : [M]
        Constellation points.

    Output
    ------
    : [batch, T, S, M], tf.float
        ``y[k] log(lam[s, m]) - lam[s, m]`` (``log p(y[k] | s, m)`` up to
        ``-log(y[k]!)``), in the numbering of :mod:`detectors.trellis`.
    """
    y = tf.convert_to_tensor(y)
    _check_real(y, tf.convert_to_tensor(taps))
    lam = poisson_rates(no, taps, points, tf.shape(y)[0], y.dtype)
    return poisson_loglik(y[:, :, None, None], lam[:, None])


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
    taps : [L] or [batch, L], tf.float
        Taps the receiver believes.
    points : [M]
        Constellation points.
    """

    def __init__(self, y, no, taps, points):
        y = tf.convert_to_tensor(y)
        _check_real(y, tf.convert_to_tensor(taps))
        lam = poisson_rates(no, taps, points, tf.shape(y)[0], y.dtype)
        lam = tf.transpose(lam, [1, 2, 0])                 # [S, M, B]
        log_lam = tf.math.log(lam)
        neg_lam = -lam

        def step(y_k):                                     # [B]
            return y_k * log_lam + neg_lam

        super().__init__(tf.transpose(y), step, lam.shape[0], lam.shape[1])


class PoissonSymbolwiseDetector(TapsDetector):
    r"""Symbol-by-symbol detector for the Poisson channel: each symbol from
    its own sample, the interference of the ``L-1`` earlier symbols
    averaged out under uniform i.i.d. symbols.

    ``log p(y[k] | x[k] = m) = logsumexp_s (y log lam[s, m] - lam[s, m])
    - log S``: the exact per-sample likelihood when the receiver ignores
    what the other samples say about the earlier symbols (the Poisson
    counterpart of :class:`detectors.SymbolwiseDetector`, which
    approximates the same mixture by one Gaussian).

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Taps the receiver believes (real).
    constellation : None | str | Constellation
        ``None`` -> ``"ook"``. Must be real.
    hard_out : bool
        Return indices ``[batch, T]`` instead of log-probabilities.
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float
        Received counts.
    no : scalar or [batch], tf.float
        ``1 / rho`` (``no = 10**(-snr_db/10)``; module doc).

    Output
    ------
    : [batch, T, M], tf.float (normalised log-probabilities) or
      [batch, T], tf.int32 if ``hard_out``
    """

    def __init__(self, taps, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(taps, constellation=constellation or "ook",
                         hard_out=hard_out, precision=precision, **kwargs)
        if self.is_complex:
            raise ValueError("The Poisson model needs a real constellation "
                             "(use 'ook').")

    def _symbol_logits(self, y, no):
        metrics = poisson_branch_metrics(y, no, self._taps_per_frame(y),
                                         self._points)       # [B, T, S, M]
        return tf.reduce_logsumexp(metrics, axis=2)
