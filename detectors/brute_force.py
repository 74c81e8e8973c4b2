r"""Exhaustive detection over all symbol sequences: the independent truth the
trellis detectors are tested against (tiny blocks only).

Written plainly in numpy (float64), without the trellis: every sequence of
``T`` symbols (and, with an unknown initial state, every ``L-1`` symbols
before it) is convolved with the taps and scored by its Gaussian
log-likelihood; marginals are log-sum-exps over the sequences with
``x[k] = m``. Per-symbol taps ``[batch, T, L]`` (tap set ``taps[b, k]`` at
time ``k``) are scored the same way, so this is also the truth for the
per-symbol paths of the trellis detectors.
"""

import itertools

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from signals.constellations import constellation_points

from .base import TapsDetector

__all__ = ["BruteForceDetector", "MAX_HYPOTHESES"]

# Hypotheses (sequences x initial states) enumerated per call.
MAX_HYPOTHESES = 2 ** 16

_CRITERIA = ("map", "ml")


class BruteForceDetector(TapsDetector):
    r"""Exact symbol-wise MAP and sequence ML detection by enumeration.

    Parameters
    ----------
    taps : [L] or [batch, L] or [batch, T, L], array_like
        Channel taps the receiver believes: fixed, per frame or per symbol
        (``y[k] = sum_l taps[b, k, l] x[k-l] + w[k]``).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK.
    hard_out : bool
        Return indices instead of log-probabilities.
    criterion : "map" | "ml"
        Hard output: ``"map"`` the symbol-wise argmax of the exact
        marginals, ``"ml"`` the maximum-likelihood sequence.
    initial_state : "known" | "unknown"
        ``"known"``: the ``L-1`` symbols before the frame are the preamble
        (index 0); ``"unknown"``: they are uniform and enumerated too (the
        ML sequence then maximises jointly over them).
    precision : None | "single" | "double"
        Output dtype; the computation is float64 numpy regardless.

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
    taps : None or [L] or [batch, L] or [batch, T, L]
        Believed taps for this call only (see :class:`TapsDetector`).

    Output
    ------
    : [batch, T, M], tf.float
        Exact normalised symbol log-probabilities, or
    : [batch, T], tf.int32
        with ``hard_out``, per ``criterion``.

    Eager only (numpy inside); raises ``ValueError`` when ``M**T`` (times
    ``M**(L-1)`` initial states if unknown) exceeds ``MAX_HYPOTHESES``.

    Example
    -------
    >>> from detectors import BruteForceDetector
    >>> det = BruteForceDetector([1.0, 0.5], hard_out=True, criterion="ml")
    >>> det([[1.4, 0.6, -0.4, -1.6]], 0.1).numpy()
    array([[0, 0, 1, 1]], dtype=int32)
    """

    per_symbol_taps = True
    no_prior_reason = ("a prior would have to weight every enumerated "
                       "sequence; not written yet (BCJRDetector takes one "
                       "and computes the same posterior)")

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 criterion="map", initial_state="known", precision=None,
                 **kwargs):
        super().__init__(taps, constellation=constellation,
                         hard_out=hard_out, precision=precision, **kwargs)
        if criterion not in _CRITERIA:
            raise ValueError(f"`criterion` must be one of {_CRITERIA}, got "
                             f"{criterion!r}.")
        if initial_state not in ("known", "unknown"):
            raise ValueError("`initial_state` must be 'known' or 'unknown', "
                             f"got {initial_state!r}.")
        self._criterion = criterion
        self._initial_state = initial_state
        # Unrounded copies: the reference stays float64 whatever precision.
        cdt = np.complex128 if self.is_complex else np.float64
        self._taps64 = np.atleast_2d(np.asarray(taps).astype(cdt))
        self._points64 = np.asarray(constellation_points(
            self.constellation, tf.float64).numpy()).astype(cdt)

    def _taps_float64(self, taps):
        """The taps as float64 (complex128) ``[B|1, T|1, L]``; the
        constructor's unrounded."""
        taps = self._taps64 if taps is self._taps else \
            np.atleast_2d(taps.numpy().astype(self._taps64.dtype))
        return taps[:, None] if taps.ndim == 2 else taps

    def _scores(self, y, no, taps):
        """Log-likelihood of every hypothesis under the believed ``taps``:
        (scores [B, H], frame symbols [H, T])."""
        if not tf.executing_eagerly():
            raise RuntimeError("BruteForceDetector runs eagerly only.")
        y = y.numpy().astype(np.complex128 if self.is_complex
                             else np.float64)
        B, T = y.shape
        M, L = self.num_points, self.memory
        n_pre = L - 1 if self._initial_state == "unknown" else 0
        n_hyp = M ** (T + n_pre)
        if n_hyp > MAX_HYPOTHESES:
            what = "M**(T+L-1)" if n_pre else "M**T"
            raise ValueError(
                f"BruteForceDetector would enumerate {what} = {n_hyp} "
                f"hypotheses (limit {MAX_HYPOTHESES}); use a shorter block.")
        # All index sequences over the preamble and the frame, oldest first.
        seqs = np.array(list(itertools.product(range(M), repeat=n_pre + T)),
                        dtype=np.int64).reshape(n_hyp, n_pre + T)
        if not n_pre:
            seqs = np.concatenate(
                [np.zeros((n_hyp, L - 1), np.int64), seqs], axis=1)
        x = self._points64[seqs]                            # [H, L-1+T]
        taps = self._taps_float64(taps)
        taps = np.broadcast_to(taps, (B, taps.shape[1], L))  # [B, T|1, L]
        no = np.broadcast_to(np.reshape(no.numpy().astype(np.float64), [-1]),
                             [B])
        no = np.maximum(no, 1e-300)
        scale = 1.0 if self.is_complex else 2.0        # CN(0, no) vs N(0, no)
        scores = np.empty((B, n_hyp))
        for b in range(B):          # one frame at a time: [H, T] in memory
            mean = sum(taps[b, :, l] * x[:, L - 1 - l:L - 1 - l + T]
                       for l in range(L))
            err = np.abs(y[b] - mean) ** 2
            scores[b] = -err.sum(-1) / (scale * no[b])
        return scores, seqs[:, L - 1:]

    def symbol_logits(self, y, no, taps):
        scores, seqs = self._scores(y, no, taps)
        B, T = scores.shape[0], seqs.shape[1]
        M = self.num_points
        out = np.empty((B, T, M))
        for m in range(M):
            for k in range(T):
                sel = seqs[:, k] == m
                out[:, k, m] = logsumexp(scores[:, sel], axis=1)
        out -= logsumexp(out, axis=-1, keepdims=True)
        return tf.constant(out, self.rdtype)

    def ml_sequence(self, y, no, taps=None):
        """The maximum-likelihood sequence ``[batch, T]`` int32 (jointly
        over the initial state if unknown)."""
        y, no, taps = self._prepare_with_taps(y, no, taps)
        return self._ml(y, no, taps)

    def _ml(self, y, no, taps):
        scores, seqs = self._scores(y, no, taps)
        return tf.constant(seqs[np.argmax(scores, axis=1)], tf.int32)

    def _hard_decisions(self, y, no, taps):
        if self._criterion == "ml":
            return self._ml(y, no, taps)
        return super()._hard_decisions(y, no, taps=taps)
