"""Sionna's own LMMSE equaliser on a whole ISI frame, as a reference row."""

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import SymbolDemapper
from sionna.phy.mimo import lmmse_equalizer

from signals.models import NO_FLOOR

from .base import TapsDetector

__all__ = ["SionnaLMMSEDetector"]


class SionnaLMMSEDetector(TapsDetector):
    r"""Sionna's LMMSE equaliser (:func:`sionna.phy.mimo.lmmse_equalizer`)
    on the frame's convolution matrix, then Sionna's
    :class:`~sionna.phy.mapping.SymbolDemapper`: a reference, for frames
    of up to a few hundred symbols.

    The frame of ``T`` symbols is one MIMO vector: ``y = H x + n`` with
    ``H`` the ``T x T`` banded lower-triangular convolution matrix,
    ``H[k, j] = h_k[k - j]`` for ``0 <= k - j < L`` (Toeplitz for fixed
    taps; ``h_k`` is the tap set of time ``k`` for per-symbol taps). The
    ``L - 1`` symbols before the frame are the preamble point (index 0,
    as in :func:`channels.convolve_with_preamble`): their contribution is
    known and subtracted from ``y`` first. Nothing of the equaliser is
    re-derived here; the detector only puts the frame into the form
    Sionna's function assumes, zero-mean unit-energy symbols
    (``x = m + sqrt(E_s) u`` with ``m``, ``E_s`` the mean and energy of
    the points, uniform symbols, so ``y - known - m H 1 = sqrt(E_s) H u +
    n``) and noise covariance ``S = no I``, and maps the answer back:
    ``x_hat = m + sqrt(E_s) u_hat`` and ``no_eff = E_s no_eff_u`` where
    ``(u_hat, no_eff_u) = lmmse_equalizer(y', sqrt(E_s) H, no I,
    whiten_interference=False)`` is the
    unbiased estimate ``diag(G H)^{-1} G y'`` with ``G = H'^H (H' H'^H +
    S)^{-1}`` and its per-symbol error variance ``1 / diag(G H') - 1``.
    The symbol log-probabilities are ``SymbolDemapper(x_hat, no_eff)``,
    ``log_softmax(-|x_hat - c|^2 / no_eff)`` over the points ``c``.

    **Real constellations** (BPSK, PAM, OOK; real ``y`` and taps): Sionna's
    equaliser computes in complex arithmetic, and with a real ``H`` and
    ``S = no I`` (``no`` per real dimension, this package's convention for
    real ``y``) its ``G`` and ``diag(G H)`` are those of the real LMMSE
    equaliser, so ``x_hat`` is real and ``no_eff`` is the variance of its
    real error. Sionna's demapper assumes circular complex noise
    (``-|y - c|^2 / no``), so it is handed ``2 no_eff``: the logits are
    the real Gaussian ``-(x_hat - c)^2 / (2 no_eff)``.

    Without a prior this is the whole-frame LMMSE estimate, the same as
    :class:`~detectors.LMMSEDetector` with a window covering the frame
    (``window = 2T - 1``, ``delay = T - 1``), whose biased estimate and
    Gaussian output model ``mu (1 - mu) E_s`` give the same symbol
    log-probabilities (``no_eff = E_s (1 - mu) / mu``).

    **Cost.** One ``T x T`` Cholesky solve per frame (one per call for
    fixed taps and a scalar ``no``): ``O(T^3)`` time and a few ``batch x
    T x T`` complex matrices of memory. Frames longer than
    :attr:`MAX_FRAME_LENGTH` (2048) symbols are refused with a
    ``ValueError``; the sliding-window :class:`~detectors.LMMSEDetector`
    is the detector for long frames. XLA on CPU (the Monte Carlo
    engine's default) is slow at batched Cholesky: with per-frame taps
    (imperfect CSI), 100 frames of T = 100 took 2-4 s per call against
    0.12 s without XLA (fixed taps: 0.04 s with XLA; 2 shared cores).

    Parameters
    ----------
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Taps the receiver believes: fixed, one row per frame or one tap
        set per symbol.
    constellation : None | str | Constellation
        ``None`` -> BPSK.
    hard_out : bool
        Return indices ``[batch, T]`` (argmax of the soft output).
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
        ``T <= MAX_FRAME_LENGTH``.
    no : scalar or [batch], tf.float
        Noise variance (per real dimension for real ``y``, total for
        complex ``y``). Values below ``100 eps (E_s |h|^2 + 1)`` (``eps``
        of the precision) are raised to it so that ``S`` stays positive
        definite at ``no = 0``.
    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T, M], tf.float (normalised log-probabilities) or
      [batch, T], tf.int32 if ``hard_out``

    Example
    -------
    >>> from detectors import SionnaLMMSEDetector
    >>> det = SionnaLMMSEDetector([1.0, 0.5], hard_out=True)
    >>> det([[1.4, 0.6, -0.4, -1.6]], 0.1).numpy()
    array([[0, 0, 1, 1]], dtype=int32)

    Sionna's unbiased estimates ``x_hat = x + e`` and the variance of ``e``:

    >>> x_hat, no_eff = det.equalize([[1.4, 0.6, -0.4, -1.6]], 0.1)
    >>> x_hat.numpy().round(2)
    array([[ 0.9 ,  0.2 , -0.56, -1.38]], dtype=float32)
    >>> no_eff.numpy().round(3)
    array([[0.097, 0.119, 0.124, 0.128]], dtype=float32)
    """

    #: Frames longer than this are refused (``O(T^3)`` per frame).
    MAX_FRAME_LENGTH = 2048
    per_symbol_taps = True
    no_prior_reason = (
        "Sionna's lmmse_equalizer has no input for the symbols' a-priori "
        "means and variances (soft interference cancellation), so a prior "
        "could only be added to the logits of an estimate that ignored it; "
        "LMMSEDetector takes a prior (MMSE-SIC)")

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(taps, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._demapper = SymbolDemapper(constellation=self._constellation,
                                        precision=precision)
        pts = self._points
        self._sym_mean = tf.reduce_mean(pts)
        self._sym_var = tf.reduce_mean(tf.abs(pts - self._sym_mean) ** 2)

    def equalize(self, y, no, taps=None):
        r"""Sionna's estimates and their effective noise, per symbol.

        Input
        -----
        y : [batch, T], tf.float or tf.complex
        no : scalar or [batch], tf.float
        taps : None or [L] or [batch, L] or [batch, T, L]
            Believed taps for this call only.

        Output
        ------
        x_hat : [batch, T], real for real constellations, else complex
            Unbiased whole-frame LMMSE estimates, ``x_hat = x + e``.
        no_eff : [batch, T], tf.float
            Variance of ``e`` (per real dimension for real constellations,
            total for complex ones), floored at ``NO_FLOOR``.
        """
        y, no, taps = self._prepare_with_taps(y, no, taps)
        return self._equalize(y, no, taps)

    def _equalize(self, y, no, taps):
        t = self._frame_length(y)
        dtype = y.dtype
        es = tf.cast(self._sym_var, self.rdtype)
        m = tf.cast(self._sym_mean, dtype)
        preamble = tf.cast(self._points[0], dtype)

        taps = self.taps_per_symbol(taps)                  # [Bt, T|1, L]
        h = self._convolution_matrix(taps, t)              # [Bt, T, T]
        # Known part of every sample: the preamble symbols before the
        # frame and the mean of the frame's symbols.
        inside = tf.reduce_sum(h, axis=-1)                 # [Bt, T]
        total = tf.reduce_sum(taps, axis=-1)               # [Bt, T|1]
        y = y - (m * inside + preamble * (total - inside))

        energy = tf.reduce_max(tf.reduce_sum(tf.abs(taps) ** 2, axis=-1),
                               axis=-1)                    # [Bt]
        eps = np.finfo(self.rdtype.as_numpy_dtype).eps
        no = tf.maximum(tf.reshape(no, [-1]),
                        100.0 * eps * (es * energy + 1.0))  # [B|1]
        s = tf.cast(no, self.cdtype)[:, None, None] * tf.eye(t, dtype=self.cdtype)

        # S = no I: whitening is a scalar scale here and H H^H + S has the
        # eigenvalues of H^H H + S (square H), so Sionna's unwhitened form
        # is as well conditioned and skips the Cholesky factor of S (XLA
        # on CPU: 1.8 s instead of 4.3 s for 100 systems of T = 100).
        u_hat, no_eff = lmmse_equalizer(
            tf.cast(y, self.cdtype),
            tf.cast(tf.sqrt(es), self.cdtype) * tf.cast(h, self.cdtype),
            s, whiten_interference=False, precision=self.precision)
        if not self.is_complex:
            u_hat = tf.math.real(u_hat)
        x_hat = m + tf.cast(tf.sqrt(es), dtype) * u_hat
        no_eff = tf.maximum(es * no_eff, tf.cast(NO_FLOOR, self.rdtype))
        return x_hat, tf.broadcast_to(no_eff, tf.shape(x_hat))

    def _frame_length(self, y):
        t = y.shape[1]
        if t is None:
            raise ValueError(f"{type(self).__name__} needs the frame length "
                             "T of `y` (its second dimension) to be known: "
                             "it builds a T x T matrix.")
        if t > self.MAX_FRAME_LENGTH:
            raise ValueError(
                f"{type(self).__name__} builds a T x T matrix per frame "
                f"(O(T^3)); frame length T = {t} of `y` exceeds its limit "
                f"of {self.MAX_FRAME_LENGTH} symbols. Use LMMSEDetector "
                "(sliding window) for long frames.")
        return t

    def _convolution_matrix(self, taps, t):
        """``H [Bt, T, T]``, ``H[b, k, j] = taps[b, k or 0, k - j]`` for
        ``0 <= k - j < L``, else 0, from taps ``[Bt, T|1, L]``."""
        L = taps.shape[-1]
        k = np.arange(t)
        lag = k[:, None] - k[None, :]
        index = np.where((lag >= 0) & (lag < L), lag, L).astype(np.int32)
        padded = tf.pad(taps, [[0, 0], [0, 0], [0, 1]])    # tap L is 0
        if taps.shape[1] == 1:
            return tf.gather(padded[:, 0], index, axis=1)
        index = tf.broadcast_to(index, [tf.shape(taps)[0], t, t])
        return tf.gather(padded, index, axis=2, batch_dims=2)

    def symbol_logits(self, y, no, taps):
        """Sionna's ``SymbolDemapper`` on the equalised frame ``[batch, T,
        M]`` (already normalised)."""
        x_hat, no_eff = self._equalize(y, no, taps)
        if not self.is_complex:
            # Real error of variance no_eff; the demapper's -|d|^2 / no is
            # the circular complex Gaussian's.
            x_hat = tf.complex(x_hat, tf.zeros_like(x_hat))
            no_eff = 2.0 * no_eff
        return self._demapper(x_hat, no_eff)
