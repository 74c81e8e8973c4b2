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

import tensorflow as tf

from signals.models import DARK_RATE

from .base import TapsDetector
from .metrics.poisson import (RATE_FLOOR, PoissonBranchMetrics,
                              poisson_branch_metrics, poisson_loglik,
                              poisson_rates)

__all__ = ["DARK_RATE", "RATE_FLOOR", "LIKELIHOODS", "poisson_rates",
           "poisson_loglik", "poisson_branch_metrics",
           "PoissonBranchMetrics", "PoissonSymbolwiseDetector"]

# Branch-metric families of the model-based trellis detectors.
LIKELIHOODS = ("gaussian", "poisson")


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
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Taps the receiver believes (real): fixed, per frame or per symbol
        (the tap set of time ``k`` is ``taps[b, k]``).
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

    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T, M], tf.float (normalised log-probabilities) or
      [batch, T], tf.int32 if ``hard_out``

    Example
    -------
    >>> from detectors import PoissonSymbolwiseDetector
    >>> det = PoissonSymbolwiseDetector([1.0, 0.5], hard_out=True)
    >>> det([[0.0, 9.0, 1.0]], 0.1).numpy()     # counts at 10 dB
    array([[0, 1, 0]], dtype=int32)
    """

    per_symbol_taps = True
    #: Memoryless: the prior multiplies the per-symbol likelihood.
    takes_prior = True

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(taps, constellation=constellation or "ook",
                         hard_out=hard_out, precision=precision, **kwargs)
        if self.is_complex:
            raise ValueError("The Poisson model needs a real constellation "
                             "(use 'ook').")

    def symbol_logits(self, y, no, taps):
        metrics = poisson_branch_metrics(y, no, taps,
                                         self._points)       # [B, T, S, M]
        return tf.reduce_logsumexp(metrics, axis=2)
