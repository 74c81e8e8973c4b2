"""The detector contract shared by every detector in this package.

``det(y, no)`` with ``y`` ``[batch, T]`` and ``no`` scalar or ``[batch]``
returns normalised symbol log-probabilities ``[batch, T, M]`` (or ``int32``
indices ``[batch, T]`` with ``hard_out=True``). Subclasses implement
``_symbol_logits`` (unnormalised log-probabilities) and may override
``_hard_decisions`` when their hard output is not the symbol-wise argmax
(Viterbi's ML sequence).
"""

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.mapping import SymbolLogits2LLRs

from signals.checks import (as_taps, check_noise_variance, check_received,
                     check_taps)
from signals.constellations import (constellation_points, is_real,
                                    make_constellation)

__all__ = ["Detector", "TapsDetector"]


class Detector(Block):
    """Base class of all detectors.

    Parameters
    ----------
    constellation : None | str | sionna.phy.mapping.Constellation
        Symbol alphabet; ``None`` means BPSK.
    hard_out : bool
        Return symbol indices instead of log-probabilities.
    precision : None | "single" | "double"
        Sionna precision of internal computations.

    Input
    -----
    y : [batch, T], tf.float or tf.complex
        Received samples (complex for complex constellations).
    no : scalar or [batch], tf.float
        Noise variance (per real dimension for real channels, total for
        complex channels).

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities ``log p(s_k = i | y)``, or
    : [batch, T], tf.int32
        Symbol indices if ``hard_out`` is True.
    """

    def __init__(self, constellation=None, hard_out=False, precision=None,
                 **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._constellation = make_constellation(constellation,
                                                 precision=precision)
        self._hard_out = bool(hard_out)
        self._points = constellation_points(self._constellation, self.rdtype)
        self._logits2llrs = SymbolLogits2LLRs(
            "app", self._constellation.num_bits_per_symbol,
            precision=precision)

    @property
    def constellation(self):
        """sionna.phy.mapping.Constellation : the symbol alphabet."""
        return self._constellation

    @property
    def num_points(self):
        """int : M, the number of constellation points."""
        return self._constellation.num_points

    @property
    def hard_out(self):
        """bool : whether calls return indices instead of log-probs."""
        return self._hard_out

    @property
    def is_complex(self):
        """bool : True when received samples are complex."""
        return not is_real(self._constellation)

    # -- the contract -----------------------------------------------------
    def _prepare(self, y, no):
        """Validate and cast ``(y, no)``; returns them as tensors."""
        y = tf.convert_to_tensor(y)
        if y.dtype.is_integer or y.dtype == tf.bool:
            raise TypeError(f"`y` must be float or complex, got "
                            f"{y.dtype.name}.")
        check_received(y)
        if self.is_complex:
            y = tf.cast(y, self.cdtype)
        elif y.dtype.is_complex:
            raise TypeError("`y` is complex but the constellation "
                            f"{self._constellation.constellation_type!r} is "
                            "real; pass tf.math.real(y) or use a complex "
                            "constellation.")
        else:
            y = tf.cast(y, self.rdtype)
        no = tf.convert_to_tensor(no, dtype_hint=self.rdtype)
        check_noise_variance(no, batch_size=y.shape[0])
        no = tf.cast(no, self.rdtype)
        return y, no

    def call(self, y, no):
        y, no = self._prepare(y, no)
        if self._hard_out:
            return self._hard_decisions(y, no)
        return self._normalised(y, no)

    def log_probs(self, y, no):
        """Normalised symbol log-probabilities ``[batch, T, M]``,
        whatever ``hard_out`` says."""
        return self._normalised(*self._prepare(y, no))

    def _normalised(self, y, no):
        logits = self._symbol_logits(y, no)
        return logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)

    def bit_llrs(self, y, no):
        """Bit LLRs ``[batch, T * bits_per_symbol]`` in Sionna's convention
        ``log p(b=1 | y) / p(b=0 | y)``, ready for Sionna's decoders."""
        llr = self._logits2llrs(self.log_probs(y, no))
        return tf.reshape(llr, [tf.shape(llr)[0], -1])

    def _hard_decisions(self, y, no):
        return tf.argmax(self._symbol_logits(y, no), axis=-1,
                         output_type=tf.int32)

    def _symbol_logits(self, y, no):
        """Unnormalised symbol log-probabilities ``[batch, T, M]``."""
        raise NotImplementedError

    @staticmethod
    def _noise_per_frame(no, y):
        """Broadcast ``no`` (scalar or [batch]) to shape ``[batch, 1]``."""
        return tf.reshape(no, [-1, 1]) * tf.ones_like(tf.math.real(y[:, :1]))


class TapsDetector(Detector):
    """A detector that is given the channel taps it believes.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Channel taps the receiver assumes (perfect or imperfect CSI).
        Per-frame taps ``[batch, L]`` must match the batch of ``y``.
    constellation, hard_out, precision
        As in :class:`Detector`.

    Input
    -----
    y, no
        As in :class:`Detector`.
    taps : None or [L] or [batch, L]
        Believed taps for this call only (per-frame imperfect CSI).
        Subclasses must read taps through ``self._taps`` /
        ``self._taps_per_frame`` at call time (not capture them when
        compiling) so that this override reaches them.
    """

    def __init__(self, taps, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._taps = self._as_taps(taps)

    def _as_taps(self, taps, memory=None):
        taps = as_taps(taps, memory=memory)
        if taps.dtype.is_complex and not self.is_complex:
            raise TypeError("`taps` are complex but the constellation is "
                            "real; use a complex constellation (qam).")
        return tf.cast(taps, self.cdtype if self.is_complex else self.rdtype)

    def call(self, y, no, taps=None):
        """``det(y, no)``; ``taps`` (``[L]`` or ``[batch, L]``) optionally
        replaces the believed taps for this call only, which is how
        per-frame imperfect CSI reaches a compiled link."""
        if taps is None:
            return super().call(y, no)
        kept = self._taps
        self._taps = self._as_taps(taps, memory=self.memory)
        try:
            return super().call(y, no)
        finally:
            self._taps = kept

    @property
    def taps(self):
        """tf.Tensor : the taps this detector believes, [L] or [batch, L]."""
        return self._taps

    @property
    def memory(self):
        """int : L, the number of taps."""
        return int(self._taps.shape[-1])

    def _prepare(self, y, no):
        y, no = super()._prepare(y, no)
        check_taps(self._taps, batch_size=y.shape[0])
        return y, no

    def _taps_per_frame(self, y):
        """Taps as ``[batch or 1, L]``."""
        taps = self._taps
        return taps[None] if taps.shape.rank == 1 else taps
