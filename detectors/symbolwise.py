"""The "do nothing" baseline: a symbol-by-symbol detector that ignores ISI."""

import tensorflow as tf

from .base import TapsDetector
from .gaussian import gaussian_loglik

__all__ = ["SymbolwiseDetector"]


class SymbolwiseDetector(TapsDetector):
    r"""Detects each symbol from its own sample, treating ISI as noise.

    The model is ``y[k] = h[0] x[k] + v[k]`` where ``v`` collects the noise
    and the interference of the other taps, approximated as Gaussian with
    variance ``no + E_s * sum_{l>=1} |h[l]|^2`` (zero-mean constellations).
    Hard decisions are the nearest scaled point, whatever the variance; the
    variance only calibrates the soft output.

    Per-symbol taps ``[batch, T, L]`` use the tap set of time ``k``
    (``taps[b, k]``) for ``y[k]``.

    Parameters
    ----------
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Taps the receiver believes (fixed, per frame or per symbol); only
        their energy beyond ``h[0]`` and ``h[0]`` itself are used.
    constellation : None | str | Constellation
        ``None`` -> BPSK.
    hard_out : bool
        Return indices ``[batch, T]`` instead of log-probabilities.
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float

    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T, M], tf.float (normalised log-probabilities) or
      [batch, T], tf.int32 if ``hard_out``

    Example
    -------
    >>> from detectors import SymbolwiseDetector
    >>> det = SymbolwiseDetector([1.0, 0.5], hard_out=True)
    >>> det([[1.4, 0.6, -0.4, -1.6]], 0.1).numpy()
    array([[0, 0, 1, 1]], dtype=int32)
    """

    per_symbol_taps = True
    #: Memoryless: the prior multiplies the per-symbol likelihood.
    takes_prior = True

    def symbol_logits(self, y, no, taps):
        taps = self.taps_per_symbol(taps)                    # [B|1, T|1, L]
        energy = tf.reduce_mean(tf.abs(self._points) ** 2)
        isi = tf.reduce_sum(tf.abs(taps[..., 1:]) ** 2, axis=-1) * energy
        var = self._noise_per_frame(no, y) + isi             # [B, T|1]
        mean = taps[..., :1] * self._points                  # [B|1, T|1, M]
        return gaussian_loglik(y[..., None], mean, var[..., None])
