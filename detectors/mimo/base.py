r"""The contract of the multiuser MIMO detectors.

``det(y, no, h=None)``:

- ``y`` ``[..., T, N]``: ``T`` channel uses of ``N`` receive antennas,
  frames in the leading dimensions; real on a real channel with a real
  constellation (the SED profile with BPSK/PAM), complex otherwise. As
  for the ISI detectors (:mod:`detectors.base`), complex samples of a real
  constellation are read as their real part at ``no / 2``.
- ``no``: noise variance of ``y`` (per real dimension for real ``y``,
  total for complex ``y``), a scalar or one per frame (the leading shape).
- ``h``: the channel the receiver believes, ``[N, K]`` or one per frame
  ``[..., N, K]``; ``None`` takes the one the detector was built with.
  Detectors that do not use a channel (:attr:`MIMODetector.takes_channel`
  False: DeepSIC, the black box) learn it from pilots instead.

Output: per-user symbol log-probabilities ``[..., T, K, M]``, normalised
over the ``M`` points of each user; ``int32`` indices ``[..., T, K]`` with
``hard_out=True``. :meth:`MIMODetector.bit_llrs` gives bit LLRs ``[..., T,
K, bits]`` in Sionna's convention ``log p(b=1) / p(b=0)`` (Sionna's
``SymbolLogits2LLRs("app")``, the conversion the ISI detectors use), the
layout of Sionna's MIMO detectors' bit output.

A subclass writes ``symbol_logits(y, no, h)``: ``y`` ``[B, T, N]`` in the
detector's dtype, ``no`` ``[B]`` real, ``h`` ``[B, N, K]`` in ``y``'s
dtype (``None`` for detectors that do not take a channel), returning
unnormalised ``[B, T, K, M]`` logits; the base class checks, flattens,
normalises, decides and converts.
"""

import numpy as np
import tensorflow as tf
from signals.checks import check_int, check_noise_variance, check_received

from ..base import SymbolDetector

__all__ = ["MIMODetector"]


class MIMODetector(SymbolDetector):
    r"""Base class of the multiuser MIMO detectors (module notes).

    Parameters
    ----------
    users : int
        K.
    antennas : int
        N.
    h : None or [N, K] or [batch, N, K], array_like
        The channel the receiver believes (model-based detectors); ``None``
        for detectors that learn it.
    constellation : None | str | sionna.phy.mapping.Constellation
        The users' alphabet (``None``: BPSK).
    hard_out : bool
        Return indices ``[..., T, K]`` instead of log-probabilities.
    precision : None | "single" | "double"

    Input
    -----
    y : [..., T, N], tf.float or tf.complex
    no : scalar or [...], tf.float
    h : None or [N, K] or [..., N, K]

    Output
    ------
    : [..., T, K, M] tf.float log-probabilities, or [..., T, K] tf.int32

    Example
    -------
    >>> import numpy as np
    >>> from detectors.mimo import MIMODetector
    >>> class Nearest(MIMODetector):          # matched filter, per user
    ...     def symbol_logits(self, y, no, h):
    ...         z = tf.einsum("bnk,btn->btk", h, y)
    ...         return -(z[..., None] - self.points) ** 2
    >>> det = Nearest(users=2, antennas=2, h=np.eye(2), hard_out=True)
    >>> det([[[0.9, -1.2]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    #: Whether the detector reads a believed channel ``h`` (the link hands
    #: it the CSI case's channel when True).
    takes_channel = True
    #: Whether the detector needs at least as many antennas as users.
    needs_antennas_ge_users = False

    def __init__(self, *, users, antennas, h=None, constellation=None,
                 hard_out=False, precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._users = check_int(users, "users")
        self._antennas = check_int(antennas, "antennas")
        if self.needs_antennas_ge_users and self._antennas < self._users:
            raise ValueError(
                f"{type(self).__name__} needs at least as many receive "
                f"antennas as users (N >= K), got users = {self._users}, "
                f"antennas = {self._antennas}; use an LMMSE, EP, ML or "
                "soft-IC detector, or add antennas.")
        self._h = None if h is None else self._check_channel(h)

    # -- what the detector is --------------------------------------------
    @property
    def users(self):
        """int : K."""
        return self._users

    @property
    def antennas(self):
        """int : N."""
        return self._antennas

    @property
    def y_dtype(self):
        """tf.DType the detector computes ``y`` and ``h`` in."""
        return self.cdtype if self.is_complex else self.rdtype

    @property
    def h(self):
        """None or tf.Tensor : the channel the detector was built with."""
        return self._h

    # -- checks -------------------------------------------------------------
    def _check_channel(self, h, batch=None):
        """``h`` as a ``[N, K]`` or ``[B, N, K]`` tensor of ``y``'s dtype."""
        h = tf.convert_to_tensor(h)
        if h.dtype.is_integer:
            h = tf.cast(h, tf.float64)
        if h.dtype.is_complex and not self.is_complex:
            raise TypeError(
                f"`h` is complex but the constellation "
                f"{self._constellation.constellation_type!r} is real: a "
                "complex channel needs complex samples (build the detector "
                "with the channel's constellation, e.g. "
                "MIMOChannel(...).constellation).")
        shape = h.shape.as_list()
        if len(shape) not in (2, 3) or shape[-2:] != [self._antennas,
                                                      self._users]:
            raise ValueError(
                f"`h` must be [N, K] = [{self._antennas}, {self._users}] or "
                f"one per frame [batch, N, K], got shape {shape}.")
        if batch is not None and len(shape) == 3 and shape[0] not in (
                1, batch, None) and isinstance(batch, int):
            raise ValueError(f"`h` has {shape[0]} frames but `y` has "
                             f"{batch}.")
        if tf.executing_eagerly() and not bool(tf.reduce_all(
                tf.math.is_finite(tf.abs(h)))):
            raise ValueError("`h` contains NaN or Inf.")
        return tf.cast(h, self.y_dtype)

    def _flatten(self, y, no, h):
        """``(y [B, T, N], no [B], h [B, N, K] or None, lead)``, checked."""
        y = tf.convert_to_tensor(y)
        if y.dtype.is_integer or y.dtype == tf.bool:
            raise TypeError(f"`y` must be float or complex, got "
                            f"{y.dtype.name}.")
        no = tf.convert_to_tensor(no, dtype_hint=self.rdtype)
        if y.dtype.is_complex and not self.is_complex:
            y = tf.math.real(y)
            no = tf.cast(no, y.dtype) / 2
        shape = y.shape.as_list()
        if len(shape) < 2 or shape[-1] != self._antennas:
            raise ValueError(
                f"`y` must be [..., T, N] with N = {self._antennas} receive "
                f"antennas (one sample per antenna per channel use), got "
                f"shape {shape}.")
        if any(d is None for d in shape[:-2]):
            raise ValueError(f"`y` of shape {shape}: leading dimensions "
                             "must be known.")
        lead = shape[:-2]
        frames = int(np.prod(lead)) if lead else 1
        y = tf.reshape(y, [frames] + shape[-2:])
        check_received(tf.reshape(y, [frames, -1]))
        y = tf.cast(y, self.y_dtype)
        if no.shape.rank not in (None, 0):
            try:
                no = tf.reshape(tf.broadcast_to(no, lead), [frames])
            except (ValueError, tf.errors.InvalidArgumentError):
                raise ValueError(
                    f"`no` of shape {no.shape.as_list()} does not fit the "
                    f"leading shape {lead} of `y`; give a scalar or one "
                    "value per frame.") from None
        check_noise_variance(no, batch_size=frames)
        no = tf.broadcast_to(tf.cast(no, self.rdtype), [frames])
        if not self.takes_channel:
            return y, no, None, lead
        if h is None:
            if self._h is None:
                raise ValueError(
                    f"{type(self).__name__} needs the channel it believes: "
                    "give `h` [N, K] to the constructor or to the call.")
            h = self._h
        else:
            h = self._check_channel(h)
        if h.shape.rank == 3 and len(lead) > 1:
            h = tf.reshape(h, [-1, self._antennas, self._users])
        h = tf.broadcast_to(h, [frames, self._antennas, self._users])
        return y, no, h, lead

    # -- the contract -----------------------------------------------------
    def call(self, y, no, h=None):
        y, no, h, lead = self._flatten(y, no, h)
        if self._hard_out:
            out = self._hard_decisions(y, no, h)
        else:
            out = self._normalised(y, no, h)
        return tf.reshape(out, lead + out.shape[1:].as_list())

    def log_probs(self, y, no, h=None):
        """Normalised log-probabilities ``[..., T, K, M]`` whatever
        ``hard_out`` says."""
        y, no, h, lead = self._flatten(y, no, h)
        out = self._normalised(y, no, h)
        return tf.reshape(out, lead + out.shape[1:].as_list())

    def bit_llrs(self, y, no, h=None):
        """Bit LLRs ``[..., T, K, bits]``, ``log p(b=1 | y) / p(b=0 | y)``
        (Sionna's convention and labelling)."""
        y, no, h, lead = self._flatten(y, no, h)
        llr = self._logits2llrs(self._normalised(y, no, h))
        return tf.reshape(llr, lead + llr.shape[1:].as_list())

    def _normalised(self, y, no, h):
        logits = self.symbol_logits(y, no, h)
        return logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)

    def _hard_decisions(self, y, no, h):
        return tf.argmax(self.symbol_logits(y, no, h), axis=-1,
                         output_type=tf.int32)

    def symbol_logits(self, y, no, h):
        """Unnormalised per-user logits ``[B, T, K, M]`` (the method a new
        detector implements; see the module notes)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement symbol_logits(y, no, h).")
