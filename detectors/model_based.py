r"""Model-based trellis detectors: branch metrics from the taps the
receiver believes (:mod:`detectors.metrics`), inference by
:class:`detectors.TrellisDetector`.

The branch metric of state ``s`` and input ``m`` at time ``k`` is
``log p(y[k] | s, m) = gaussian_loglik(y[k], mu[s, m], no)`` with
``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]``
(:func:`detectors.metrics.branch_means`). Imperfect CSI is expressed by
handing the detectors estimated or perturbed taps, at construction or per
call (``det(y, no, taps=...)``): fixed ``[L]``, per frame ``[batch, L]``,
or per symbol ``[batch, T, L]``, where the tap set believed at time ``k``
is ``taps[b, k]`` and the branch means become ``mu_k[s, m]`` (the
mismatched Viterbi of the authors' first ViterbiNet evaluation script
draws an additive tap error for every symbol; ``channels.csi`` case
``perturbed:var=0.1,mode=additive,per=symbol``). Fixed and per-frame taps
keep their own, cheaper path: the means are computed once per call.

With ``likelihood="poisson"`` the same detectors use the branch metrics of
the Poisson channel (:mod:`detectors.poisson`: on-off keying, ``no = 1 /
rho``), ``log p(y[k] | s, m) = y log(lam[s, m]) - lam[s, m]`` with
``lam = mu / sqrt(no) + 1``.
"""

from .base import TapsDetector
from .metrics.gaussian import GaussianBranchMetrics, gaussian_branch_metrics
from .metrics.poisson import PoissonBranchMetrics
from .poisson import LIKELIHOODS
from .trellis_detector import TrellisDetector

__all__ = ["gaussian_branch_metrics", "GaussianBranchMetrics",
           "ViterbiDetector", "BCJRDetector"]

_METRICS = {"gaussian": GaussianBranchMetrics,
            "poisson": PoissonBranchMetrics}


class _ModelBased(TrellisDetector, TapsDetector):
    """Branch metrics of the believed taps (Gaussian or Poisson)."""

    per_symbol_taps = True

    def __init__(self, taps, *, likelihood="gaussian", **kwargs):
        super().__init__(taps, **kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"`likelihood` must be one of {LIKELIHOODS}, "
                             f"got {likelihood!r}.")
        if likelihood == "poisson" and self.is_complex:
            raise ValueError("`likelihood='poisson'` needs a real "
                             "constellation (counts of on-off keying: use "
                             "constellation='ook').")
        self._likelihood = likelihood

    @property
    def likelihood(self):
        """str : ``"gaussian"`` or ``"poisson"`` branch metrics."""
        return self._likelihood

    def branch_metrics(self, y, no, taps=None, points=None):
        """Lazy :class:`detectors.metrics.GaussianBranchMetrics` (or
        :class:`detectors.metrics.PoissonBranchMetrics`) of validated
        ``(y, no)`` under the believed ``taps`` (default: the
        constructor's) and ``points`` (default: the constellation's)."""
        taps = self._taps if taps is None else taps
        points = self._points if points is None else points
        return _METRICS[self._likelihood](y, no, taps, points)

    def metric_inputs(self, taps):
        # The points are an input, not a constant of the compiled code, so
        # every constellation of one size shares it.
        return {"taps": taps, "points": self._points}

    def metric_key(self):
        return self._likelihood


class ViterbiDetector(_ModelBased):
    r"""Maximum-likelihood sequence detector (Viterbi algorithm) for a
    linear Gaussian channel with the taps the receiver believes.

    Hard output is the ML sequence by full traceback over the frame (or,
    with ``chunk_size``, over windows reaching ``overlap`` symbols beyond
    each chunk). Soft output is max-log: ``log p(x[k] = m | y)`` approximated
    by the best sequence with ``x[k] = m`` (max-product forward-backward),
    normalised over ``m``.

    Parameters
    ----------
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Channel taps the receiver believes (perfect or imperfect CSI):
        fixed, per frame (must match the batch of ``y``) or per symbol
        (``taps[b, k]`` is the tap set of time ``k``; must match the batch
        and the T of ``y``; a batch axis of 1 fits any batch).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK. Real (PAM) or complex (QAM) of any order, with
        ``M**(L-1) <= signals.checks.MAX_STATES`` states.
    hard_out : bool
        Return the ML sequence (indices) instead of log-probabilities.
    initial_state : "known" | "unknown"
        ``"known"``: the frame follows the preamble (state 0);
        ``"unknown"``: the initial state is free (uniform).
    chunk_size : None | int
        ``None`` decodes each frame as one block; N decodes in overlapping
        windows of ``N + overlap`` symbols, memory independent of T.
    overlap : None | int
        Traceback depth beyond each chunk, ``>= 5 L`` (default ``10 L``).
    precision : None | "single" | "double"
    likelihood : "gaussian" | "poisson"
        Branch metrics: linear Gaussian channel (default) or the Poisson
        channel of :mod:`detectors.poisson` (real constellation, e.g.
        ``"ook"``; ``no = 1 / rho``; rates below ``RATE_FLOOR`` clipped).

    Input
    -----
    y : [batch, T], tf.float or tf.complex
        Received samples (counts for ``likelihood="poisson"``).
    no : scalar or [batch], tf.float
        Noise variance (``1 / rho`` for ``likelihood="poisson"``).
    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T], tf.int32
        ML sequence if ``hard_out``, else
    : [batch, T, M], tf.float
        Normalised max-log symbol log-probabilities.

    Example
    -------
    >>> from detectors import ViterbiDetector
    >>> det = ViterbiDetector([1.0, 0.5], hard_out=True)
    >>> det([[1.4, 0.6, -0.4, -1.6]], 0.1).numpy()   # x = +1 +1 -1 -1
    array([[0, 0, 1, 1]], dtype=int32)

    Per-symbol believed taps ``[batch, T, L]``, here a sign flip of the
    second tap from time 2 on:

    >>> import numpy as np
    >>> taps = np.array([[[1.0, 0.5]] * 2 + [[1.0, -0.5]] * 2])  # [1, 4, 2]
    >>> det([[1.4, 0.6, -1.4, -0.4]], 0.1, taps=taps).numpy()
    array([[0, 0, 1, 1]], dtype=int32)
    """

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 initial_state="known", chunk_size=None, overlap=None,
                 precision=None, likelihood="gaussian", **kwargs):
        super().__init__(taps, constellation=constellation,
                         hard_out=hard_out, max_log=True, traceback=True,
                         initial_state=initial_state, chunk_size=chunk_size,
                         overlap=overlap, precision=precision,
                         likelihood=likelihood, **kwargs)


class BCJRDetector(_ModelBased):
    r"""Symbol-wise MAP detector (BCJR forward-backward) for a linear
    Gaussian channel with the taps the receiver believes.

    Parameters
    ----------
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Channel taps the receiver believes: fixed, per frame or per symbol
        (as in :class:`ViterbiDetector`).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK.
    max_log : bool
        ``False``: exact posteriors (sum-product); ``True``: max-log
        approximation (max-product, as :class:`ViterbiDetector`'s soft
        output).
    hard_out : bool
        Return the symbol-wise argmax of the posteriors.
    initial_state : "known" | "unknown"
    chunk_size, overlap : None | int
        Windowed (continuous) mode as in :class:`ViterbiDetector`; the
        backward recursion of a window starts uniform ``overlap`` symbols
        beyond its chunk.
    precision : None | "single" | "double"
    likelihood : "gaussian" | "poisson"
        Branch metrics, as in :class:`ViterbiDetector`.

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
        Noise variance (``1 / rho`` for ``likelihood="poisson"``).
    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities ``log p(x[k] = m | y)``, or
    : [batch, T], tf.int32
        Their argmax if ``hard_out``.

    Example
    -------
    >>> from detectors import BCJRDetector
    >>> det = BCJRDetector([1.0, 0.5])
    >>> lp = det([[1.4, 0.6, -0.4, -1.6]], 0.1)       # [1, T, M]
    >>> lp.shape, lp.numpy().argmax(-1)
    (TensorShape([1, 4, 2]), array([[0, 0, 1, 1]]))
    """

    def __init__(self, taps, *, constellation=None, max_log=False,
                 hard_out=False, initial_state="known", chunk_size=None,
                 overlap=None, precision=None, likelihood="gaussian",
                 **kwargs):
        super().__init__(taps, constellation=constellation,
                         hard_out=hard_out, max_log=max_log, traceback=False,
                         initial_state=initial_state, chunk_size=chunk_size,
                         overlap=overlap, precision=precision,
                         likelihood=likelihood, **kwargs)
