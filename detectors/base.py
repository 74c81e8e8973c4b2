"""The detector contract shared by every detector in this package.

``det(y, no)`` with ``y`` ``[batch, T]`` and ``no`` scalar or ``[batch]``
returns normalised symbol log-probabilities ``[batch, T, M]`` (or ``int32``
indices ``[batch, T]`` with ``hard_out=True``). A subclass implements the
public extension point :meth:`Detector.symbol_logits` (unnormalised
log-probabilities) and may override ``_hard_decisions`` when its hard
output is not the symbol-wise argmax (Viterbi's ML sequence). Trellis
detectors implement :meth:`detectors.TrellisDetector.branch_metrics`
instead.

Sionna's tensors as they come (the one place this convention is written):

- **Leading dimensions.** ``y`` may be ``[..., T]`` (``[T]`` too): the
  frames are the leading entries, flattened to ``[batch, T]`` for the
  computation and restored on the output (``[..., T, M]``, ``[..., T]``,
  bit LLRs ``[..., T * bits_per_symbol]``). ``no`` is a scalar or has the
  leading shape (or broadcasts to it); per-frame taps are ``[..., L]``,
  per-symbol taps ``[..., T, L]``.
- **Noise variance.** ``no`` is the variance of the noise of ``y``: per
  real dimension for real ``y``, total (real + imaginary, Sionna's ``no``
  of ``AWGN``) for complex ``y``.
- **Complex samples of a real constellation** (Sionna's ``Mapper("pam",
  ...)`` emits complex64, and its ``AWGN`` adds complex noise): the
  the detector uses the real part, whose noise variance is ``no / 2`` (the
  imaginary part holds only noise and no information).

A-priori information (detectors with ``takes_prior = True``): ``det(y, no,
prior=P)``, ``log_probs`` and ``bit_llrs`` take ``prior``, a-priori bit
LLRs in Sionna's convention ``log p(b=1) / p(b=0)`` with the shape of the
bit-LLR output (``[..., T * bits_per_symbol]``, bits of a symbol MSB
first, as Sionna labels them). They enter as the symbol log-prior
``sum_j b_j(i) P_j`` (up to a constant per symbol): added to every branch
of a trellis (so BCJR computes the exact posterior under that prior and
Viterbi the MAP sequence), and to the symbol logits of a memoryless
detector. The LMMSE detector also reads the prior of the *other*
symbols in its likelihood (soft interference cancellation; it overrides
``_posterior_logits``), and each symbol's own prior is still added only
once, after it. ``bit_llrs(y, no, prior=P, extrinsic=True)`` returns
posterior minus prior, what a turbo loop hands the decoder. Detectors
whose output would not be the posterior under the prior refuse it with a
``TypeError`` saying why.
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block
from sionna.phy.mapping import SymbolLogits2LLRs

from signals.checks import (as_taps, check_noise_variance, check_received,
                            check_taps)
from signals.constellations import (constellation_points, is_real,
                                    make_constellation)

__all__ = ["SymbolDetector", "Detector", "TapsDetector", "per_symbol_detectors"]


class SymbolDetector(Block):
    """What every detector has: its constellation (made from a name, a
    Sionna ``Constellation`` or ``None``: BPSK), its points, whether it
    returns hard indices, and the Sionna block that turns its symbol
    log-probabilities into bit LLRs. Base of :class:`Detector` and of
    :class:`detectors.mimo.MIMODetector`; a new detector subclasses one of
    those, not this.

    Parameters
    ----------
    constellation : None | str | sionna.phy.mapping.Constellation
        Symbol alphabet; ``None`` means BPSK.
    hard_out : bool
        Whether calls return symbol indices instead of log-probabilities.
    precision : None | "single" | "double"
        Sionna precision of internal computations.

    Example
    -------
    The properties every detector shares (a subclass implements ``call``):

    >>> from detectors.base import SymbolDetector
    >>> class Probe(SymbolDetector):
    ...     def call(self, y):
    ...         return y
    >>> d = Probe(constellation="qam16")
    >>> d.num_points, d.is_complex, d.hard_out
    (16, True, False)
    >>> d.points.shape
    TensorShape([16])
    """

    def __init__(self, *, constellation=None, hard_out=False, precision=None,
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
    def points(self):
        """tf.Tensor [M] : the constellation points (real for real
        constellations), index ``i`` <-> ``points[i]``."""
        return self._points

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


class Detector(SymbolDetector):
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
    y : [..., T], tf.float or tf.complex
        Received samples (complex for complex constellations; complex
        samples of a real constellation are read as their real part, see
        the module notes), frames in the leading dimensions.
    no : scalar or [...], tf.float
        Noise variance of ``y`` (per real dimension for real ``y``, total
        for complex ``y``, as Sionna's ``AWGN``).

    Output
    ------
    : [..., T, M], tf.float
        Normalised symbol log-probabilities ``log p(s_k = i | y)``, or
    : [..., T], tf.int32
        Symbol indices if ``hard_out`` is True.

    Example
    -------
    A detector that ignores ISI and the noise level (nearest BPSK point):

    >>> import tensorflow as tf
    >>> from detectors import Detector
    >>> class Nearest(Detector):
    ...     def symbol_logits(self, y, no):
    ...         return -tf.abs(y[..., None] - self.points)
    >>> Nearest(hard_out=True)(tf.constant([[0.9, -1.2, 0.3]]), 0.1).numpy()
    array([[0, 1, 0]], dtype=int32)
    """

    #: Whether calls take a-priori bit LLRs ``prior`` (module notes).
    takes_prior = False
    #: Why not, for the error a ``prior`` gets otherwise.
    no_prior_reason = ("its output is not a posterior a prior could enter "
                       "(or it has not been written yet)")

    # -- the contract -----------------------------------------------------
    def __call__(self, y, no, **inputs):
        y, no, inputs, restore = self._flatten(y, no, inputs)
        return restore(super().__call__(y, no, **inputs))

    def _flatten(self, y, no, inputs):
        """Sionna's inputs (see the module notes) as the ``[batch, T]`` the
        detectors compute on: ``(y, no, inputs, restore)``, ``restore``
        giving an output ``[batch, T, ...]`` (or ``[batch, n]``) the
        leading shape back. ``[batch, T]`` of the constellation's kind
        passes untouched."""
        if inputs.get("prior") is not None:
            self._check_takes_prior()
        if not tf.is_tensor(y):
            y = tf.convert_to_tensor(y)
        if y.dtype.is_complex and not self.is_complex:
            y = tf.math.real(y)
            no = tf.convert_to_tensor(no, dtype_hint=y.dtype)
            if not no.dtype.is_complex:
                no = tf.cast(no, y.dtype) / 2
        rank = y.shape.rank
        if rank in (None, 0, 2):      # checked by _prepare as before
            return y, no, inputs, _same
        lead = y.shape[:-1].as_list()
        if any(d is None for d in lead):
            raise ValueError(f"`y` of shape {y.shape.as_list()}: leading "
                             "dimensions must be known.")
        frames = int(np.prod(lead))
        y = tf.reshape(y, [frames, y.shape[-1]])
        no = tf.convert_to_tensor(no, dtype_hint=y.dtype.real_dtype)
        if no.shape.rank not in (None, 0):
            try:
                no = tf.reshape(tf.broadcast_to(no, lead), [frames])
            except (ValueError, tf.errors.InvalidArgumentError):
                raise ValueError(
                    f"`no` of shape {no.shape.as_list()} does not fit the "
                    f"leading shape {lead} of `y`; give a scalar or one "
                    "value per frame.") from None
        prior = inputs.get("prior")
        if prior is not None:
            prior = tf.convert_to_tensor(prior)
            if prior.shape.rank == rank:              # [..., T * bits]
                inputs = {**inputs, "prior": tf.reshape(
                    prior, [frames, prior.shape[-1]])}
        taps = inputs.get("taps")
        if taps is not None:
            taps = tf.convert_to_tensor(taps)
            if taps.shape.rank == rank:               # [..., L]
                taps = tf.reshape(taps, [frames, taps.shape[-1]])
            elif taps.shape.rank == rank + 1:         # [..., T, L]
                taps = tf.reshape(taps, [frames] + taps.shape[-2:].as_list())
            elif taps.shape.rank != 1:
                raise ValueError(
                    f"`taps` of shape {taps.shape.as_list()} do not fit `y` "
                    f"of shape {lead + [y.shape[-1]]}: give [L], [..., L] "
                    "(per frame) or [..., T, L] (per symbol).")
            inputs = {**inputs, "taps": taps}

        def restore(out):
            return tf.reshape(out, lead + out.shape[1:].as_list())
        return y, no, inputs, restore

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

    def call(self, y, no, prior=None):
        y, no = self._prepare(y, no)
        return self._output(y, no, **self._prior_inputs(prior, y))

    def _check_takes_prior(self):
        if not self.takes_prior:
            raise TypeError(f"{type(self).__name__} does not take a `prior`: "
                            f"{self.no_prior_reason}.")

    def _prior_inputs(self, prior, y):
        """``{}`` or ``{"prior_logits": [batch, T, M]}``: the symbol
        log-prior of checked a-priori bit LLRs ``prior`` ``[batch, T *
        bits]`` (module notes)."""
        if prior is None:
            return {}
        self._check_takes_prior()
        prior = tf.convert_to_tensor(prior)
        if not (prior.dtype.is_floating or prior.dtype.is_integer):
            raise TypeError(f"`prior` must be real bit LLRs, got dtype "
                            f"{prior.dtype.name}.")
        prior = tf.cast(prior, self.rdtype)
        k = self._constellation.num_bits_per_symbol
        rows, t = y.shape[0], y.shape[1]
        if prior.shape.rank != 2 or prior.shape[1] != t * k or \
                prior.shape[0] not in (1, rows, None):
            raise ValueError(
                f"`prior` must have the shape of the bit LLRs, [batch, T * "
                f"bits_per_symbol] = [{rows}, {t * k}], got "
                f"{prior.shape.as_list()}.")
        if tf.executing_eagerly() and \
                not bool(tf.reduce_all(tf.math.is_finite(prior))):
            raise ValueError("`prior` contains NaN or Inf.")
        bits = tf.constant(
            [[(i >> (k - 1 - j)) & 1 for j in range(k)]
             for i in range(self.num_points)], self.rdtype)   # [M, K]
        llr = tf.reshape(prior, [-1, t, k])
        return {"prior_logits": tf.einsum("btk,mk->btm", llr, bits)}

    def _output(self, y, no, **inputs):
        """Hard or soft output of validated ``(y, no)``; ``inputs`` are
        what a subclass's call adds (the believed taps)."""
        if self._hard_out:
            return self._hard_decisions(y, no, **inputs)
        return self._normalised(y, no, **inputs)

    def log_probs(self, y, no, **inputs):
        """Normalised symbol log-probabilities ``[..., T, M]``,
        whatever ``hard_out`` says (``inputs``: as the call takes them,
        e.g. ``taps``, ``prior``)."""
        y, no, inputs, restore = self._flatten(y, no, inputs)
        return restore(self._log_probs(y, no, **inputs))

    def _log_probs(self, y, no, prior=None):
        y, no = self._prepare(y, no)
        return self._normalised(y, no, **self._prior_inputs(prior, y))

    def bit_llrs(self, y, no, *, extrinsic=False, **inputs):
        """Bit LLRs ``[..., T * bits_per_symbol]`` in Sionna's convention
        ``log p(b=1 | y) / p(b=0 | y)``, ready for Sionna's decoders
        (``inputs``: as the call takes them, e.g. ``taps``, ``prior``).
        With ``extrinsic=True``: the posterior minus the ``prior``."""
        y, no, inputs, restore = self._flatten(y, no, inputs)
        llr = self._logits2llrs(self._log_probs(y, no, **inputs))
        llr = tf.reshape(llr, [tf.shape(llr)[0], -1])
        if extrinsic and inputs.get("prior") is not None:
            llr = llr - tf.cast(inputs["prior"], llr.dtype)
        return restore(llr)

    def _normalised(self, y, no, prior_logits=None, **inputs):
        logits = self._posterior_logits(y, no, prior_logits, **inputs)
        return logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)

    def _hard_decisions(self, y, no, prior_logits=None, **inputs):
        logits = self._posterior_logits(y, no, prior_logits, **inputs)
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def _posterior_logits(self, y, no, prior_logits=None, **inputs):
        """Unnormalised symbol log-posteriors: the likelihood logits plus
        the symbol log-prior ``prior_logits`` ``[batch, T, M]`` (if any).
        A detector whose likelihood itself reads the prior of the *other*
        symbols (LMMSE's soft interference cancellation) overrides this
        to hand it to its ``symbol_logits``; the prior of a symbol still
        enters its own posterior only here, once."""
        logits = self.symbol_logits(y, no, **inputs)
        if prior_logits is not None:
            logits = logits + prior_logits
        return logits

    def symbol_logits(self, y, no):
        """Unnormalised symbol log-probabilities ``[batch, T, M]`` of
        validated ``(y, no)``: the method a new detector implements (the
        base class normalises, decides and converts to bit LLRs)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement symbol_logits(y, no).")

    @staticmethod
    def _noise_per_frame(no, y):
        """Broadcast ``no`` (scalar or [batch]) to shape ``[batch, 1]``."""
        return tf.reshape(no, [-1, 1]) * tf.ones_like(tf.math.real(y[:, :1]))


class TapsDetector(Detector):
    """A detector that is given the channel taps it believes.

    The believed taps travel as an argument: the call resolves them (the
    constructor's, or the call's ``taps``) and hands them to
    ``symbol_logits(y, no, taps)``; nothing of the detector changes during
    a call, so one detector may serve concurrent calls with different taps.

    Subclasses whose model allows a different tap set for every symbol set
    the class attribute ``per_symbol_taps = True``; they then also take
    taps ``[batch, T, L]`` (the tap set believed at time ``k`` is
    ``taps[b, k]``, e.g. the per-symbol CSI errors of
    ``channels.csi``), and ``symbol_logits`` receives them as they are.
    The others refuse such taps with a ``ValueError`` that lists the
    detectors which take them.

    Parameters
    ----------
    taps : [L] or [batch, L] (or [batch, T, L]), array_like
        Channel taps the receiver assumes (perfect or imperfect CSI).
        Per-frame taps ``[batch, L]`` must match the batch of ``y``,
        per-symbol taps ``[batch, T, L]`` (only if ``per_symbol_taps``)
        also its length T (a batch axis of 1 fits any batch).
    constellation, hard_out, precision
        As in :class:`Detector`.

    Input
    -----
    y, no
        As in :class:`Detector`.
    taps : None or [L] or [batch, L] (or [batch, T, L])
        Believed taps for this call only (per-frame or, where supported,
        per-symbol imperfect CSI), with the constructor's number of taps.

    Output
    ------
    As in :class:`Detector`.

    Example
    -------
    Matched filter on the first tap only; the call's taps win:

    >>> import tensorflow as tf
    >>> from detectors import TapsDetector
    >>> class FirstTap(TapsDetector):
    ...     def symbol_logits(self, y, no, taps):
    ...         h0 = self.taps_per_frame(taps)[:, :1, None]    # [B|1, 1, 1]
    ...         return -tf.square(y[..., None] - h0 * self.points) / no
    >>> det = FirstTap([1.0, 0.5], hard_out=True)
    >>> y = tf.constant([[0.8, -0.7]])
    >>> det(y, 0.1).numpy(), det(y, 0.1, taps=[-1.0, 0.5]).numpy()
    (array([[0, 1]], dtype=int32), array([[1, 0]], dtype=int32))
    """

    #: Whether this detector takes per-symbol taps ``[batch, T, L]``.
    per_symbol_taps = False

    def __init__(self, taps, *, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._taps = self._as_taps(taps)

    def _as_taps(self, taps, memory=None):
        shape = taps.shape.as_list() if tf.is_tensor(taps) else \
            list(np.shape(taps))
        if len(shape) == 3 and not self.per_symbol_taps:
            raise ValueError(
                f"{type(self).__name__} takes `taps` of shape [L] or "
                f"[batch, L], got per-symbol taps of shape {shape} "
                f"([batch, T, L]); per-symbol taps are supported by "
                f"{', '.join(per_symbol_detectors())}.")
        taps = as_taps(taps, memory=memory, per_symbol=self.per_symbol_taps)
        if taps.dtype.is_complex and not self.is_complex:
            raise TypeError("`taps` are complex but the constellation is "
                            "real; use a complex constellation (qam).")
        return tf.cast(taps, self.cdtype if self.is_complex else self.rdtype)

    def call(self, y, no, taps=None, prior=None):
        """``det(y, no)``; ``taps`` (``[L]``, ``[batch, L]`` or, if
        ``per_symbol_taps``, ``[batch, T, L]``) optionally replaces the
        believed taps for this call only, which is how per-frame (and
        per-symbol) imperfect CSI reaches a compiled link; ``prior``:
        a-priori bit LLRs (module notes)."""
        y, no, taps = self._prepare_with_taps(y, no, taps)
        return self._output(y, no, taps=taps,
                            **self._prior_inputs(prior, y))

    def _log_probs(self, y, no, taps=None, prior=None):
        y, no, taps = self._prepare_with_taps(y, no, taps)
        return self._normalised(y, no, taps=taps,
                                **self._prior_inputs(prior, y))

    def believed_taps(self, taps=None):
        """The taps a call with ``taps`` uses: the constructor's if
        ``None``, else ``taps`` checked and cast (same number of taps)."""
        if taps is None:
            return self._taps
        return self._as_taps(taps, memory=self.memory)

    def _prepare_with_taps(self, y, no, taps):
        taps = self.believed_taps(taps)
        y, no = self._prepare(y, no)
        check_taps(taps, batch_size=y.shape[0], num_symbols=y.shape[1],
                   per_symbol=self.per_symbol_taps)
        return y, no, taps

    @property
    def taps(self):
        """tf.Tensor : the taps this detector believes, [L] or [batch, L]
        (or [batch, T, L])."""
        return self._taps

    @property
    def memory(self):
        """int : L, the number of taps."""
        return int(self._taps.shape[-1])

    def symbol_logits(self, y, no, taps):
        """Unnormalised symbol log-probabilities ``[batch, T, M]`` of
        validated ``(y, no)`` under the believed ``taps`` (``[L]``,
        ``[batch, L]`` or, if ``per_symbol_taps``, ``[batch or 1, T, L]``,
        cast to the detector's dtype)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement "
            "symbol_logits(y, no, taps).")

    @staticmethod
    def taps_per_frame(taps):
        """Per-frame taps (``[L]`` or ``[batch, L]``) as ``[batch or 1,
        L]``."""
        if taps.shape.rank == 3:
            raise ValueError("per-frame taps expected, got per-symbol taps "
                             f"{taps.shape.as_list()}; use taps_per_symbol.")
        return taps[None] if taps.shape.rank == 1 else taps

    @staticmethod
    def taps_per_symbol(taps):
        """Taps of any supported shape as ``[batch or 1, T or 1, L]``.

        Example
        -------
        >>> import tensorflow as tf
        >>> from detectors import TapsDetector
        >>> TapsDetector.taps_per_symbol(tf.ones([4, 2])).shape
        TensorShape([4, 1, 2])
        """
        if taps.shape.rank == 1:
            return taps[None, None]
        return taps[:, None] if taps.shape.rank == 2 else taps


def per_symbol_detectors():
    """Names of the :class:`TapsDetector` classes that take per-symbol
    taps ``[batch, T, L]`` (those loaded, sorted; public ones only).

    Example
    -------
    >>> from detectors.base import per_symbol_detectors
    >>> "BCJRDetector" in per_symbol_detectors()
    True
    >>> "LMMSEDetector" in per_symbol_detectors()
    False
    """
    found, todo = set(), [TapsDetector]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.per_symbol_taps and not sub.__name__.startswith("_"):
                found.add(sub.__name__)
    return sorted(found)


def _same(out):
    return out
