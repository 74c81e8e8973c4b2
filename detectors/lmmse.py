"""Linear baseline: sliding-window LMMSE equalizer, Gaussian demapping."""

import numpy as np
import tensorflow as tf

from signals.checks import check_int

from .base import TapsDetector
from .gaussian import gaussian_loglik

__all__ = ["LMMSEDetector"]


def _window_and_delay(memory, window, delay):
    """Validated ``(window, delay)`` with the documented defaults."""
    if window is None:
        window = 4 * memory - 3
    window = check_int(window, "window",
                       what="number of received samples per estimate")
    if delay is None:
        # Centre the window on the L samples that carry x[k], y[k..k+L-1].
        delay = min(window - 1, (window + memory - 2) // 2)
    delay = check_int(delay, "delay", 0, maximum=window - 1,
                      what="samples after y[k] in the window")
    return window, delay


def _solve_pd(a, b):
    """``a^-1 b`` for many small Hermitian positive definite systems ``a``
    ``[..., n, n]``, ``b`` ``[..., n, 1]``: Gauss-Jordan elimination
    without pivoting (stable for positive definite matrices, whose pivots
    stay positive), unrolled over the static ``n`` as ``n`` whole-batch
    updates. The Monte Carlo engine XLA-compiles links, and XLA's batched
    Cholesky on CPU is slow for the ``batch * T`` systems of soft
    interference cancellation: 20 x 1000 systems of 17 x 17 (L = 5) took
    1.6 s per call with ``cholesky_solve`` under XLA, 0.12 s with these
    steps (0.15 s and 0.37 s without XLA; 2 shared cores)."""
    n = a.shape[-1]
    ab = tf.concat([a, b], axis=-1)                          # [..., n, n+1]
    eye = np.eye(n)
    for i in range(n):
        pivot_row = ab[..., i:i + 1, :] / ab[..., i:i + 1, i:i + 1]
        # Row i becomes the pivot row, every other row loses its column i.
        ab = ab - (ab[..., :, i:i + 1]
                   - tf.constant(eye[:, i:i + 1], ab.dtype)) * pivot_row
    return ab[..., :, n:]


class LMMSEDetector(TapsDetector):
    r"""Sliding-window linear MMSE equalizer followed by Gaussian demapping;
    with a prior, the soft-interference-cancellation (SIC) MMSE equalizer of
    turbo equalization.

    Symbol ``x[k]`` is estimated from the ``window`` received samples
    ``y[k-d1], ..., y[k+d2]`` with ``d2 = delay`` and
    ``d1 = window - 1 - delay``:

    ``x_hat[k] = m + w_k^H (y_win - E[y_win])``,
    ``w_k = (E_s H H^H + no I)^{-1} H e_d E_s``

    where ``m`` and ``E_s`` are the mean and variance of the constellation
    points (uniform symbols), ``H`` maps the window's unknown symbols to
    its samples and ``e_d`` selects ``x[k]``. The estimate is biased:
    ``x_hat[k] - m = mu_k (x[k] - m) + v_k`` with
    ``mu_k = w_k^H H e_d`` in ``[0, 1]`` and residual variance
    ``mu_k (1 - mu_k) E_s`` (noise plus residual ISI, taken as Gaussian,
    real ``N`` or circular ``CN`` like the channel noise). The symbol
    logits are the Gaussian log-likelihoods of ``x_hat[k]`` under
    ``m + mu_k (p_i - m)`` for every point ``p_i``.

    **With a prior** (a-priori bit LLRs ``prior``, module notes of
    :mod:`detectors.base`), the equalizer is the exact time-varying
    MMSE-SIC equalizer of Tuechler, Koetter and Singer ("Turbo
    equalization: principles and new results", IEEE Trans. Commun. 50(5),
    2002, Sec. III): the prior gives every symbol a mean
    ``xbar_j = E[x_j]`` and variance ``v_j = E|x_j - xbar_j|^2`` (symbol
    probabilities from the bit priors, then moments over the points, any
    constellation), and

    ``x_hat[k] = m + w_k^H (y_win - H xbar^(k))``,
    ``w_k = (H V_k H^H + no I)^{-1} H e_d E_s``

    where ``xbar^(k)`` is ``xbar`` with ``x[k]``'s entry replaced by ``m``
    and ``V_k = diag(v)`` with ``x[k]``'s entry replaced by ``E_s``: the
    reconstructed ISI of the *other* symbols is cancelled and the filter
    sees their residual variance, while ``x[k]``'s own prior enters
    neither (the estimate is extrinsic, as a turbo loop needs). The output
    model is the same as without a prior, ``x_hat[k] - m = mu_k (x[k] -
    m) + CN(0, mu_k (1 - mu_k) E_s)`` with ``mu_k = w_k^H H e_d``, which
    is the exact variance of the estimate's error given ``x[k]`` under the
    prior's moments (Tuechler et al.'s Gaussian extrinsic model); the
    base class adds the symbol log-prior to these likelihood logits, so
    ``bit_llrs(..., prior=P, extrinsic=True)`` is posterior minus prior as
    for every detector. The exact (per-symbol) filter is used, not their
    time-invariant approximation (one filter from the frame-average
    variance), which ignores which neighbours the prior is sure of: it
    is affordable, ``batch * T`` Cholesky solves of ``window x window``
    systems in one batched op, about ``batch * T * window * (window + L)``
    values of memory.
    Without a prior the detector runs the plain path below unchanged
    (bit-identical outputs); a uniform (zero) prior of a centred or any
    constellation gives ``xbar_j = m`` and ``v_j = E_s``, so SIC reduces
    to the plain equalizer up to rounding.

    Frame edges are exact, not approximated: the ``L-1`` preamble symbols
    before the frame (index 0) are known, so their contribution is
    subtracted from the samples; samples outside ``0..T-1`` do not exist
    and get zero weight. Without a prior the weights depend on the
    position only near the edges; they are computed once per edge class
    (at most ``window + L - 1`` small ``window x window`` systems per
    frame, or per call when the taps are fixed and ``no`` is a scalar), so
    cost and memory grow like ``batch * T * window``. With a prior every
    position has its own system (above).

    Per-symbol taps ``[batch, T, L]`` are refused with a ``ValueError``
    (every position would need its own window systems; the trellis and
    symbol-wise detectors take them).

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Taps the receiver believes, fixed or one row per frame.
    constellation : None | str | Constellation
        ``None`` -> BPSK.
    hard_out : bool
        Return indices ``[batch, T]`` (argmax of the soft output).
    window : None | int
        Samples per estimate, >= 1. Default ``4L-3``: twice the ``2L-1``
        samples that see ``x[k]`` or share a symbol with them. For the
        papers' L = 4 exponential taps with gamma >= 0.3 its MSE is within
        2 % of the infinite-length equalizer's up to 10 dB SNR; taps close
        to a spectral null (gamma = 0.1: 15 % at 10 dB) gain from longer
        windows.
    delay : None | int
        ``d2``, samples after ``y[k]`` in the window, in
        ``[0, window - 1]``. Default
        ``min(window - 1, (window + L - 2) // 2)``, which centres the
        window on ``y[k..k+L-1]`` (the samples carrying ``x[k]``): the
        best delay, or within 3 % of its MSE, for the exponential
        profiles up to 10 dB SNR. At high SNR a minimum-phase channel
        (decaying taps) prefers a shorter delay.
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
        Noise variance. Values below ``100 eps (E_s |h|^2 + 1)`` (``eps``
        of the precision) are raised to it so the systems stay solvable
        at ``no = 0``.
    taps : None or [L] or [batch, L]
        Believed taps for this call only (see :class:`TapsDetector`).
    prior : None or [batch, T * bits_per_symbol], tf.float
        A-priori bit LLRs ``log p(b=1) / p(b=0)`` (Sionna's convention and
        labelling, bits of a symbol MSB first; a batch of 1 fits any
        batch): switches on soft interference cancellation (above).

    Output
    ------
    : [batch, T, M], tf.float (normalised log-probabilities) or
      [batch, T], tf.int32 if ``hard_out``
        With a prior: the posterior under the SIC likelihood and the prior.

    Example
    -------
    >>> from detectors import LMMSEDetector
    >>> det = LMMSEDetector([1.0, 0.5], hard_out=True)
    >>> det([[1.4, 0.6, -0.4, -1.6]], 0.1).numpy()
    array([[0, 0, 1, 1]], dtype=int32)

    With a prior (say from a decoder) the neighbours' interference is
    cancelled; the extrinsic LLRs (posterior minus prior) are what a turbo
    loop hands back to the decoder:

    >>> det = LMMSEDetector([1.0, 0.5])
    >>> y = [[1.4, 0.6, -0.4, -1.6]]
    >>> det.bit_llrs(y, 0.1).numpy().round(1)
    array([[-18.8,  -3.3,   9.1,  19.7]], dtype=float32)
    >>> det.bit_llrs(y, 0.1, prior=[[-8.0, -8.0, 8.0, 8.0]],
    ...              extrinsic=True).numpy().round(1)
    array([[-14.1,  -7.9,  23.7,  21.9]], dtype=float32)
    """

    #: Soft interference cancellation with the prior's soft symbols.
    takes_prior = True

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 window=None, delay=None, precision=None, **kwargs):
        super().__init__(taps, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        L = self.memory
        self._window, self._delay = _window_and_delay(L, window, delay)
        n = self._window
        d2 = self._delay
        d1 = n - 1 - d2
        # The window sees x[k-d1-L+1 .. k+d2]; x[k] is column a_max.
        a_max = d1 + L - 1
        num_sym = n + L - 1
        j = np.arange(n)[:, None]
        i = np.arange(num_sym)[None, :]
        tap = j - i + L - 1                       # y[n] = sum_l h[l] x[n-l]
        self._tap_index = np.clip(tap, 0, L - 1).astype(np.int32)
        self._tap_valid = ((tap >= 0) & (tap < L)).astype(np.float64)
        # Edge classes: a = min(k, a_max) frame symbols before x[k] within
        # reach of the window, r = min(T-1-k, d2) samples after y[k].
        a = np.arange(a_max + 1)[:, None, None]
        r = np.arange(d2 + 1)[None, :, None]
        rows = np.arange(n)[None, None, :]
        row_ok = (rows >= d1 - a) & (rows <= d1 + r)
        col_ok = np.arange(num_sym)[None, None, :] >= a_max - a
        col_ok = np.broadcast_to(col_ok, (a_max + 1, d2 + 1, num_sym))
        self._row_mask = row_ok.reshape(-1, n).astype(np.float64)
        self._col_mask = col_ok.reshape(-1, num_sym).astype(np.float64)
        self._target = a_max
        self._d1 = d1
        self._class_tables = {}

        pts = self._points
        self._sym_mean = tf.reduce_mean(pts)
        self._sym_var = tf.reduce_mean(tf.abs(pts - self._sym_mean) ** 2)

    @property
    def window(self):
        """int : number of received samples per estimate."""
        return self._window

    @property
    def delay(self):
        """int : samples after ``y[k]`` in the window of ``x[k]``."""
        return self._delay

    def equalize(self, y, no, taps=None, prior=None):
        r"""The linear estimates and their Gaussian model.

        Input
        -----
        y : [batch, T], tf.float or tf.complex
        no : scalar or [batch], tf.float
        taps : None or [L] or [batch, L]
            Believed taps for this call only.
        prior : None or [batch, T * bits_per_symbol], tf.float
            A-priori bit LLRs: the soft-interference-cancellation
            estimates (class docstring) instead of the plain ones.

        Output
        ------
        x_hat : [batch, T], same dtype as the points
            Biased LMMSE estimates ``m + w_k^H (y_win - E[y_win])``.
        mu : [batch, T], tf.float
            Bias ``w_k^H h_d``: ``E[x_hat - m | x] = mu (x - m)``.
        var : [batch, T], tf.float
            ``mu (1 - mu) E_s``, the variance of ``x_hat - m - mu (x - m)``.
            The MSE of ``x_hat`` is ``E_s (1 - mu)``.
        """
        y, no, taps = self._prepare_with_taps(y, no, taps)
        if prior is None:
            return self._equalize(y, no, taps)
        return self._equalize_sic(y, no, taps,
                                  self._prior_inputs(prior, y)["prior_logits"])

    def _equalize(self, y, no, taps):
        rdtype = self.rdtype
        dtype = y.dtype
        L = self.memory
        n = self._window
        d1, d2 = self._d1, self._delay
        es = tf.cast(self._sym_var, rdtype)
        m = tf.cast(self._sym_mean, dtype)
        taps = self.taps_per_frame(taps)                        # [Bt, L]

        row_mask, col_mask, cls = self._classes(y.shape[1], tf.shape(y)[1])

        # Window model per edge class: H [Bt, K, n, n+L-1].
        h = tf.gather(taps, self._tap_index, axis=1)
        h = h * tf.cast(self._tap_valid, dtype)
        mask = row_mask[:, :, None] * col_mask[:, None, :]
        h = h[:, None] * tf.cast(mask, dtype)[None]
        cov = tf.cast(es, dtype) * tf.matmul(h, h, adjoint_b=True)
        # Missing samples: unit diagonal and no cross terms => zero weight.
        no_b = self._floored_noise(no, taps, es)                # [B|1]
        row_mask = tf.cast(row_mask, rdtype)                    # [K, n]
        diag = (row_mask[None] * no_b[:, None, None]
                + (1.0 - row_mask)[None])                       # [B|1, K, n]
        cov = cov + tf.linalg.diag(tf.cast(diag, dtype))
        h_d = h[..., self._target]                              # [Bt, K, n]
        rhs = tf.cast(es, dtype) * h_d
        rhs = tf.broadcast_to(rhs, tf.shape(cov)[:-1])[..., None]
        w = tf.linalg.cholesky_solve(tf.linalg.cholesky(cov), rhs)[..., 0]
        mu = tf.math.real(tf.reduce_sum(tf.math.conj(h_d) * w, axis=-1))
        w_k = tf.gather(w, cls, axis=1)                         # [B|1, T, n]
        mu_k = tf.gather(mu, cls, axis=1)                       # [B|1, T]

        # Remove the known part of every sample: the preamble and the mean
        # of the unknown symbols.
        t = tf.shape(y)[1]
        k = tf.range(t)
        # Cumulative tap sums as a product: XLA has no complex cumsum.
        cum = tf.matmul(taps, tf.cast(np.triu(np.ones([L, L])), dtype))
        seen = tf.gather(cum, tf.minimum(k, L - 1), axis=1)     # [Bt, T]
        preamble = tf.cast(self._points[0], dtype)
        known = m * seen + preamble * (cum[:, -1:] - seen)
        yc = tf.pad(y - known, [[0, 0], [d1, d2]])
        win = tf.stack([yc[:, j:j + t] for j in range(n)], axis=-1)
        x_hat = m + tf.reduce_sum(tf.math.conj(w_k) * win, axis=-1)

        return self._with_variance(x_hat, mu_k, es)

    def _classes(self, static_t, t):
        """Edge classes needed for frames of ``T`` symbols.

        Output: row masks ``[K, n]``, column masks ``[K, n+L-1]`` and the
        class of every position ``[T]``. With a static ``T`` only the
        ``<= n+L-1`` classes that occur are kept (for ``T`` beyond the
        window); otherwise the full ``(d1+L) x (d2+1)`` table.
        """
        d2 = self._delay
        if static_t is None:
            k = tf.range(t)
            cls = (tf.minimum(k, self._target) * (d2 + 1)
                   + tf.minimum(t - 1 - k, d2))
            return self._row_mask, self._col_mask, cls
        if static_t not in self._class_tables:
            k = np.arange(static_t)
            full = (np.minimum(k, self._target) * (d2 + 1)
                    + np.minimum(static_t - 1 - k, d2))
            used, cls = np.unique(full, return_inverse=True)
            self._class_tables[static_t] = (self._row_mask[used],
                                            self._col_mask[used],
                                            cls.astype(np.int32))
        return self._class_tables[static_t]

    def _equalize_sic(self, y, no, taps, prior_logits):
        """``_equalize`` under the symbol log-prior ``prior_logits``
        ``[batch|1, T, M]``: one MMSE-SIC filter per position (class
        docstring)."""
        rdtype = self.rdtype
        dtype = y.dtype
        L = self.memory
        n = self._window
        d1, d2 = self._d1, self._delay
        es = tf.cast(self._sym_var, rdtype)
        m = tf.cast(self._sym_mean, dtype)
        pts = tf.cast(self._points, dtype)
        taps = self.taps_per_frame(taps)                        # [Bt, L]
        t = tf.shape(y)[1]

        # Soft symbols: moments of the points under the prior. The
        # variance as E|x - xbar|^2 stays >= 0 and accurate for confident
        # priors, where E|x|^2 - |xbar|^2 would cancel to rounding noise.
        p = tf.nn.softmax(prior_logits, axis=-1)                # [B|1, T, M]
        xbar = tf.reduce_sum(tf.cast(p, dtype) * pts, axis=-1)  # [B|1, T]
        v = tf.reduce_sum(p * tf.abs(pts - xbar[..., None]) ** 2, axis=-1)

        # Variances of the n+L-1 symbols each window sees; the preamble is
        # known (0) and symbols after the frame reach only missing samples
        # (0 too). x[k] itself gets the prior-free E_s: its own prior must
        # not shape its own filter.
        s = n + L - 1
        v_pad = tf.pad(v, [[0, 0], [d1 + L - 1, d2]])
        v_win = tf.stack([v_pad[:, i:i + t] for i in range(s)], axis=-1)
        own = tf.constant(np.eye(s)[self._target], rdtype)     # [S]
        v_win = v_win * (1.0 - own) + es * own                  # [B|1, T, S]

        # Samples of the window that exist: y[k - d1 + a] with 0 <= . < T.
        pos = tf.range(t)[:, None] - d1 + tf.range(n)[None, :]
        rows = tf.cast((pos >= 0) & (pos < t), rdtype)          # [T, n]

        # Covariance of every window: rows[a] rows[b] (H V_k H^H)[a, b]
        # plus no on existing rows and 1 on missing ones (=> zero weight).
        h = tf.gather(taps, self._tap_index, axis=1)
        h = h * tf.cast(self._tap_valid, dtype)                 # [Bt, n, S]
        hv = h[:, None] * tf.cast(v_win, dtype)[:, :, None, :]  # [B, T, n, S]
        cov = tf.matmul(hv, h[:, None], adjoint_b=True)         # [B, T, n, n]
        cov = cov * tf.cast(rows[:, :, None] * rows[:, None, :], dtype)
        no_b = self._floored_noise(no, taps, es)                # [B|1]
        diag = (rows[None] * no_b[:, None, None]
                + (1.0 - rows)[None])                           # [B|1, T, n]
        cov = cov + tf.linalg.diag(tf.cast(diag, dtype))
        h_d = h[:, None, :, self._target] * tf.cast(rows, dtype)  # [Bt,T,n]
        rhs = tf.broadcast_to(tf.cast(es, dtype) * h_d,
                              tf.shape(cov)[:-1])[..., None]
        w = _solve_pd(cov, rhs)[..., 0]
        mu = tf.math.real(tf.reduce_sum(tf.math.conj(h_d) * w, axis=-1))

        # Cancel the soft ISI of every symbol (preamble: its known points)
        # once per sample, then give x[k]'s own share back per position:
        # y_win - H xbar^(k) = r_win + h_d (xbar_k - m).
        preamble = tf.cast(self._points[0], dtype)
        xbar_pre = tf.concat(
            [preamble * tf.ones_like(xbar[:, :1]) * tf.ones([1, L - 1], dtype),
             xbar], axis=1)                                     # [B|1, T+L-1]
        isi = tf.add_n([taps[:, l:l + 1] * xbar_pre[:, L - 1 - l:L - 1 - l + t]
                        for l in range(L)])
        r = tf.pad(y - isi, [[0, 0], [d1, d2]])
        win = tf.stack([r[:, j:j + t] for j in range(n)], axis=-1)
        x_hat = (m + tf.reduce_sum(tf.math.conj(w) * win, axis=-1)
                 + tf.cast(mu, dtype) * (xbar - m))

        return self._with_variance(x_hat, mu, es)

    def _floored_noise(self, no, taps, es):
        """``no`` per frame ``[B|1]``, floored at a few ulps of the received
        energy so that the covariance stays positive definite at ``no =
        0``."""
        energy = tf.reduce_sum(tf.abs(taps) ** 2, axis=-1)      # [Bt]
        eps = np.finfo(self.rdtype.as_numpy_dtype).eps
        floor = 100.0 * eps * (es * energy + 1.0)
        return tf.maximum(tf.reshape(no, [-1]), floor)

    @staticmethod
    def _with_variance(x_hat, mu, es):
        """``(x_hat, mu, var)``: the bias clipped to [0, 1] and broadcast to
        the estimates, ``var = mu (1 - mu) E_s`` (class docstring)."""
        mu = tf.broadcast_to(tf.clip_by_value(mu, 0.0, 1.0), tf.shape(x_hat))
        return x_hat, mu, mu * (1.0 - mu) * es

    def _posterior_logits(self, y, no, prior_logits=None, taps=None):
        # The SIC likelihood reads the prior of the other symbols; the
        # base class's sum adds each symbol's own prior once, after it.
        logits = self.symbol_logits(y, no, taps, prior_logits=prior_logits)
        if prior_logits is not None:
            logits = logits + prior_logits
        return logits

    def symbol_logits(self, y, no, taps, prior_logits=None):
        """Gaussian log-likelihoods ``[batch, T, M]`` of the estimates;
        ``prior_logits`` (the symbol log-prior ``[batch|1, T, M]``, as the
        base class makes it from ``prior``) selects soft interference
        cancellation and is *not* added here (the base class adds it)."""
        if prior_logits is None:
            x_hat, mu, var = self._equalize(y, no, taps)
        else:
            x_hat, mu, var = self._equalize_sic(y, no, taps, prior_logits)
        m = tf.cast(self._sym_mean, x_hat.dtype)
        mean = m + tf.cast(mu, x_hat.dtype)[..., None] * (self._points - m)
        return gaussian_loglik(x_hat[..., None], mean, var[..., None])
