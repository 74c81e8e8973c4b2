r"""Model-based trellis detectors: Gaussian branch metrics from the taps the
receiver believes, fed to the recursions of :mod:`detectors.trellis`.

The branch metric of state ``s`` and input ``m`` at time ``k`` is
``log p(y[k] | s, m) = gaussian_loglik(y[k], mu[s, m], no)`` with
``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]``
(:func:`detectors.trellis.branch_means`). Imperfect CSI is expressed by
handing the detectors estimated or perturbed taps.

With ``likelihood="poisson"`` the same detectors use the branch metrics of
the Poisson channel (:mod:`detectors.poisson`: on-off keying, ``no = 1 /
rho``), ``log p(y[k] | s, m) = y log(lam[s, m]) - lam[s, m]`` with
``lam = mu / sqrt(no) + 1``.
"""

import numpy as np
import tensorflow as tf

from .base import TapsDetector
from .gaussian import NO_FLOOR, gaussian_loglik
from .poisson import LIKELIHOODS, PoissonBranchMetrics
from .trellis import (INITIAL_STATES, BranchMetrics, Trellis, branch_means,
                      check_chunking, compiled_with_gradient,
                      forward_backward_time_major, viterbi_time_major)

__all__ = ["gaussian_branch_metrics", "GaussianBranchMetrics",
           "ViterbiDetector", "BCJRDetector"]


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


_METRICS = {"gaussian": GaussianBranchMetrics,
            "poisson": PoissonBranchMetrics}


def _soft(y, no, taps, points, max_log, initial_state, chunk_size, overlap,
          likelihood="gaussian"):
    lp = forward_backward_time_major(
        _METRICS[likelihood](y, no, taps, points), max_log, initial_state,
        chunk_size, overlap)
    return tf.transpose(lp, [1, 0, 2])


def _hard(y, no, taps, points, viterbi, max_log, initial_state, chunk_size,
          overlap, likelihood="gaussian"):
    if viterbi:
        return tf.transpose(viterbi_time_major(
            _METRICS[likelihood](y, no, taps, points), initial_state,
            chunk_size, overlap))
    return tf.argmax(_soft(y, no, taps, points, max_log, initial_state,
                           chunk_size, overlap, likelihood), axis=-1,
                     output_type=tf.int32)


_COMPILED = {}


def _compiled(hard, *options, likelihood="gaussian"):
    """Recursions compiled once per option set (and likelihood) and shared
    by all detector instances: the taps and points are inputs, so a new
    detector (new CSI) with the same shapes reuses the compiled code
    instead of compiling anew."""
    key = (hard, likelihood) + options
    if key not in _COMPILED:
        if hard:
            _COMPILED[key] = tf.function(
                lambda y, no, taps, points: _hard(y, no, taps, points,
                                                  *options, likelihood),
                jit_compile=True, autograph=False)
        else:
            _COMPILED[key] = compiled_with_gradient(
                lambda y, no, taps, points: _soft(y, no, taps, points,
                                                  *options, likelihood))
    return _COMPILED[key]


class _TrellisDetector(TapsDetector):
    """Shared plumbing: trellis, options, compiled recursions."""

    _max_log = False
    _viterbi_hard = False

    def __init__(self, taps, constellation=None, hard_out=False,
                 initial_state="known", chunk_size=None, overlap=None,
                 precision=None, likelihood="gaussian", **kwargs):
        super().__init__(taps, constellation=constellation,
                         hard_out=hard_out, precision=precision, **kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"`likelihood` must be one of {LIKELIHOODS}, "
                             f"got {likelihood!r}.")
        if likelihood == "poisson" and self.is_complex:
            raise ValueError("`likelihood='poisson'` needs a real "
                             "constellation (counts of on-off keying: use "
                             "constellation='ook').")
        self._likelihood = likelihood
        self._trellis = Trellis(self.num_points, self.memory)
        if initial_state not in INITIAL_STATES:
            raise ValueError(f"`initial_state` must be one of "
                             f"{INITIAL_STATES}, got {initial_state!r}.")
        self._initial_state = initial_state
        self._chunk_size, self._overlap = check_chunking(
            chunk_size, overlap, self.memory)

    @property
    def trellis(self):
        """detectors.trellis.Trellis : the trellis (states, numbering)."""
        return self._trellis

    @property
    def initial_state(self):
        """str : ``"known"`` (preamble) or ``"unknown"`` (uniform)."""
        return self._initial_state

    @property
    def likelihood(self):
        """str : ``"gaussian"`` or ``"poisson"`` branch metrics."""
        return self._likelihood

    def branch_metrics(self, y, no):
        """Lazy :class:`GaussianBranchMetrics` (or
        :class:`detectors.poisson.PoissonBranchMetrics`) of validated
        ``(y, no)``."""
        return _METRICS[self._likelihood](y, no, self._taps, self._points)

    def _options(self):
        return (self._initial_state, self._chunk_size, self._overlap)

    # Inside a user's tf.function the compiled recursions are traced in
    # place (inlined under XLA). They already normalise: no second
    # log-sum-exp from the base class.
    def _normalised(self, y, no):
        return _compiled(False, self._max_log, *self._options(),
                         likelihood=self._likelihood)(
            y, no, self._taps, self._points)

    def _symbol_logits(self, y, no):
        return self._normalised(y, no)

    def _hard_decisions(self, y, no):
        return _compiled(True, self._viterbi_hard, self._max_log,
                         *self._options(), likelihood=self._likelihood)(
            y, no, self._taps, self._points)


class ViterbiDetector(_TrellisDetector):
    r"""Maximum-likelihood sequence detector (Viterbi algorithm) for a
    linear Gaussian channel with the taps the receiver believes.

    Hard output is the ML sequence by full traceback over the frame (or,
    with ``chunk_size``, over windows reaching ``overlap`` symbols beyond
    each chunk). Soft output is max-log: ``log p(x[k] = m | y)`` approximated
    by the best sequence with ``x[k] = m`` (max-product forward-backward),
    normalised over ``m``.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Channel taps the receiver believes (perfect or imperfect CSI);
        per-frame taps must match the batch of ``y``.
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK. Real (PAM) or complex (QAM) of any order, with
        ``M**(L-1) <= detectors.checks.MAX_STATES`` states.
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

    Output
    ------
    : [batch, T], tf.int32
        ML sequence if ``hard_out``, else
    : [batch, T, M], tf.float
        Normalised max-log symbol log-probabilities.
    """

    _max_log = True
    _viterbi_hard = True


class BCJRDetector(_TrellisDetector):
    r"""Symbol-wise MAP detector (BCJR forward-backward) for a linear
    Gaussian channel with the taps the receiver believes.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Channel taps the receiver believes.
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

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities ``log p(x[k] = m | y)``, or
    : [batch, T], tf.int32
        Their argmax if ``hard_out``.
    """

    def __init__(self, taps, constellation=None, max_log=False,
                 hard_out=False, initial_state="known", chunk_size=None,
                 overlap=None, precision=None, likelihood="gaussian",
                 **kwargs):
        super().__init__(taps, constellation=constellation,
                         hard_out=hard_out, initial_state=initial_state,
                         chunk_size=chunk_size, overlap=overlap,
                         precision=precision, likelihood=likelihood,
                         **kwargs)
        self._max_log = bool(max_log)

    @property
    def max_log(self):
        """bool : max-log approximation instead of exact posteriors."""
        return self._max_log
