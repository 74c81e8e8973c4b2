r"""Sionna's MIMO detectors (:mod:`sionna.phy.mimo`) behind the MIMO contract
(:class:`~detectors.mimo.base.MIMODetector`).

Nothing of the detection is re-derived here: each class puts the frames
into the form Sionna's block assumes and reads its answer back.

- **Flattening.** ``y`` ``[B, T, N]`` becomes Sionna's batch ``[B T, N]``,
  the frame's ``H`` repeated per channel use ``[B T, N, K]``, and a noise
  covariance ``S = c I`` ``[B T, N, N]`` (``c`` below); the per-user answer
  ``[B T, K, M]`` is reshaped to ``[B, T, K, M]``.
- **Complex systems** (QAM, or any complex constellation on a complex
  channel): ``S = no I`` (``no`` the total complex noise variance), Sionna's
  own model.
- **Real systems** (real ``H``, real PAM/BPSK points, real noise ``N(0,
  no)`` per sample: the SED profile). Sionna computes in complex
  arithmetic with circular noise ``CN(0, S)``. With a real ``H`` and ``y``
  cast to complex (imaginary part 0), the real and imaginary parts
  decouple, and the choice of ``S`` decides which real detector comes out:

  * likelihood metrics (ML, K-best) are ``-|y - H x|^2 / c``; the real
    likelihood ``-|y - H x|^2 / (2 no)`` needs ``S = 2 no I``;
  * the linear filters (LMMSE, ZF) are those of the real system with ``S =
    no I`` (``H^T (H H^T + no I)^{-1}``; ZF's ``no_eff = no diag(G G^T)``),
    and their ``no_eff`` is then the variance of the real error; Sionna's
    demapper is circular (``-|x_hat - c|^2 / no_eff``), so it is handed ``2
    no_eff``;
  * EP and MMSE-PIC are QAM-only in Sionna (EP builds its own PAM points)
    or tie a symbol's real and imaginary variance (MMSE-PIC). The real
    system is sent as an exact complex one: ``x`` a point of the PAM with
    ``b`` bits is the real part of a point of Sionna's normalised
    ``QAM-2^(2b)`` times ``sqrt 2``, so ``y = (sqrt 2 H) x_qam + w`` with
    ``S = 2 no I`` (real-part noise ``no``) and a fictitious imaginary part
    ``0 = sqrt 2 H Im(x_qam) + w'`` that is independent of the real part
    (real ``H``, circular noise). Sionna's QAM logits factor into real and
    imaginary PAM parts; the real part's are kept (log-sum-exp over the
    imaginary index). Exact for EP (its real-valued streams decouple) and
    for one MMSE-PIC iteration; MMSE-PIC self-iterations share one
    variance between the real part and the fictitious imaginary part, so
    ``iterations > 1`` on a real system is refused.
- **Real points on a complex channel** (:func:`complex_baseband` BPSK/PAM
  on the Rayleigh / Kronecker profiles): the symbols are real but ``H`` is
  complex, so the interference is improper and Sionna's circular LMMSE /
  EP / MMSE-PIC models would misread it. All detectors here use the exact
  real-valued equivalent ``[Re y; Im y] = [Re H; Im H] x + w`` (``2 N``
  real antennas, noise ``no / 2`` per real dimension) and then the real
  system above: widely-linear LMMSE, the exact ML and K-best metric
  ``-|y - H x|^2 / no``.

``no`` is floored at ``100 eps (1 + max_k |h_k|^2)`` (``eps`` of the
precision) so that ``S`` stays positive definite at ``no = 0``.
"""

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import Constellation, SymbolDemapper
from sionna.phy.mimo import EPDetector, KBestDetector, List2LLR, \
    MaximumLikelihoodDetector, MMSEPICDetector, lmmse_equalizer, \
    zf_equalizer

from signals.checks import check_int
from signals.models import NO_FLOOR

from .base import MIMODetector

__all__ = ["MIMOLinearDetector", "MIMOKBestDetector", "MIMOEPDetector",
           "MIMOMLDetector", "MIMOMMSEPICDetector"]


def _antennas_message(name, users, antennas):
    return (f"{name} needs at least as many receive antennas as users (N >= "
            f"K), got users = {users}, antennas = {antennas}; use an LMMSE, "
            "EP, ML or soft-IC detector, or add antennas.")


class _SionnaMIMODetector(MIMODetector):
    """Common part: the believed channel gives ``K`` and ``N``; the real /
    complex system and Sionna's flattened inputs (module notes)."""

    def __init__(self, h, *, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        if h is None:
            raise ValueError(f"{type(self).__name__} is built from the "
                             "channel the receiver believes: give `h` "
                             "[N, K].")
        shape = tf.convert_to_tensor(h).shape
        if shape.rank not in (2, 3):
            raise ValueError(f"`h` must be [N, K] or [batch, N, K], got "
                             f"shape {shape.as_list()}.")
        super().__init__(users=int(shape[-1]), antennas=int(shape[-2]), h=h,
                         constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        if self._constellation.precision != self.precision:
            raise ValueError(
                f"`constellation` has precision "
                f"{self._constellation.precision!r} but the detector "
                f"{self.precision!r}: Sionna's detectors need them equal; "
                "build the constellation with the detector's precision (or "
                "pass its name).")
        pts = np.asarray(self._constellation.points)
        #: Whether the symbols are real-valued (real system, module notes).
        self._real_symbols = (not self.is_complex) or bool(
            np.all(pts.imag == 0))
        self._real_points = pts.real

    # -- the system Sionna sees ------------------------------------------
    def _real_system(self, y, no, h):
        """``(y [B, T, N'], no [B] per real dimension, h [B, N', K])`` real,
        ``N' = N`` for a real system, ``2 N`` for real points on a complex
        channel (the real-valued equivalent)."""
        if not y.dtype.is_complex:
            return y, no, h
        y = tf.concat([tf.math.real(y), tf.math.imag(y)], axis=-1)
        h = tf.concat([tf.math.real(h), tf.math.imag(h)], axis=-2)
        return y, no / 2, h

    def _floored(self, no, h):
        eps = np.finfo(self.rdtype.as_numpy_dtype).eps
        energy = tf.reduce_max(tf.reduce_sum(tf.abs(h) ** 2, axis=-2),
                               axis=-1)                         # [B]
        return tf.maximum(no, tf.cast(100 * eps, self.rdtype) *
                          (1 + tf.cast(energy, self.rdtype)))

    def _sionna_inputs(self, y, h, c):
        """``y [B T, N]``, ``h [B T, N, K]``, ``S = c I [B T, N, N]``
        (complex) from ``y [B, T, N]``, ``h [B, N, K]``, ``c [B]``."""
        t, n = y.shape[1], y.shape[2]
        if t is None:
            t = tf.shape(y)[1]
        yc = tf.reshape(tf.cast(y, self.cdtype), [-1, n])
        hc = tf.repeat(tf.cast(h, self.cdtype), t, axis=0)
        s = tf.cast(tf.repeat(c, t, axis=0), self.cdtype)[:, None, None] * \
            tf.eye(n, dtype=self.cdtype)
        return yc, hc, s

    @staticmethod
    def _unflatten(out, y):
        t = y.shape[1] if y.shape[1] is not None else tf.shape(y)[1]
        return tf.reshape(out, tf.concat([[-1, t], tf.shape(out)[1:]], 0))

    def symbol_logits(self, y, no, h):
        if self._real_symbols:
            y, no, h = self._real_system(y, no, h)
            return self._real_logits(y, self._floored(no, h), h)
        return self._complex_logits(y, self._floored(no, h), h)

    def _real_logits(self, y, no, h):
        raise NotImplementedError

    def _complex_logits(self, y, no, h):
        raise NotImplementedError


class _QAMEmbedding:
    """A real PAM with ``b`` bits as the real part of Sionna's normalised
    ``QAM-2^(2b)`` (times ``sqrt 2``), for EP and MMSE-PIC on real
    systems (module notes)."""

    def __init__(self, name, constellation, real_points, precision):
        bits = constellation.num_bits_per_symbol
        pam = np.asarray(Constellation("pam", bits,
                                       precision=precision).points).real
        if not np.allclose(real_points, pam, atol=1e-6):
            raise ValueError(
                f"{name} on real-valued symbols needs the unit-energy PAM "
                f"(BPSK, 'pamM', or its complex_baseband embedding) in "
                f"Sionna's order: Sionna's detector works on QAM, and a real "
                f"PAM is sent as the real part of a QAM point; got points "
                f"{np.round(real_points, 4).tolist()}.")
        self.qam = Constellation("qam", 2 * bits, precision=precision)
        q = np.asarray(self.qam.points) * np.sqrt(2.0)
        re = np.argmin(np.abs(q.real[:, None] - pam[None, :]), axis=1)
        im = np.argmin(np.abs(q.imag[:, None] - pam[None, :]), axis=1)
        order = np.zeros([pam.size, pam.size], np.int32)
        order[re, im] = np.arange(q.size)
        #: ``order[i, j]``: QAM index of real PAM index i, imaginary j.
        self.order = tf.constant(order.reshape(-1))
        self.m = pam.size

    def real_part_logits(self, qam_logits):
        """``[..., M^2]`` QAM logits -> ``[..., M]`` logits of the real
        part (log-sum-exp over the imaginary index)."""
        x = tf.gather(qam_logits, self.order, axis=-1)
        x = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [self.m, self.m]], 0))
        return tf.reduce_logsumexp(x, axis=-1)


class MIMOLinearDetector(_SionnaMIMODetector):
    r"""Sionna's LMMSE or ZF equaliser (:func:`sionna.phy.mimo.lmmse_equalizer`,
    :func:`~sionna.phy.mimo.zf_equalizer`, the equalisers of Sionna's
    ``LinearDetector``) and its :class:`~sionna.phy.mapping.SymbolDemapper`,
    per channel use.

    The equaliser assumes zero-mean unit-energy symbols; other points (OOK)
    are shifted and scaled first, ``x = m + sqrt(E_s) u``, as in
    :class:`~detectors.SionnaLMMSEDetector`. ``x_hat = x + e`` is unbiased
    (LMMSE: ``diag(G H)^{-1} G y``, ``G = H^H (H H^H + S)^{-1}``, error
    variance ``1 / diag(G H) - 1``; ZF: ``H^+ y``, ``diag(H^+ S H^{+H})``)
    and the logits are ``-|x_hat - c|^2 / no_eff`` (complex) or ``-(x_hat -
    c)^2 / (2 no_eff)`` (real systems, ``S = no I`` and ``2 no_eff`` to the
    demapper; module notes). Real points on a complex channel get the
    widely-linear filter of the real-valued equivalent.

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
        The channel the receiver believes.
    equalizer : "lmmse" | "zf"
        ZF needs ``N >= K``.
    constellation : None | str | Constellation
        Any; ``None`` -> BPSK.
    hard_out : bool
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
    >>> from detectors.mimo import MIMOLinearDetector
    >>> det = MIMOLinearDetector(np.eye(2), equalizer="zf", hard_out=True)
    >>> det([[[0.9, -1.2]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    >>> x_hat, no_eff = det.equalize([[[0.9, -1.2]]], 0.1)
    >>> x_hat.numpy().round(2), no_eff.numpy().round(2)
    (array([[[ 0.9, -1.2]]], dtype=float32), array([[[0.1, 0.1]]], dtype=float32))
    """

    EQUALIZERS = ("lmmse", "zf")

    def __init__(self, h, *, equalizer="lmmse", constellation=None,
                 hard_out=False, precision=None, **kwargs):
        if equalizer not in self.EQUALIZERS:
            raise ValueError(f"`equalizer` must be 'lmmse' or 'zf', got "
                             f"{equalizer!r}.")
        super().__init__(h, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        if equalizer == "zf" and self.antennas < self.users:
            raise ValueError(_antennas_message(
                "MIMOLinearDetector(equalizer='zf')", self.users,
                self.antennas))
        self._equalizer = equalizer
        self._demapper = SymbolDemapper(constellation=self._constellation,
                                        precision=precision)
        pts = np.asarray(self._constellation.points)
        if self._real_symbols:
            pts = pts.real
        self._mean = pts.mean()
        self._es = float(np.mean(np.abs(pts - self._mean) ** 2))

    @property
    def equalizer(self):
        """str : ``"lmmse"`` or ``"zf"``."""
        return self._equalizer

    def equalize(self, y, no, h=None):
        """Sionna's unbiased estimates ``x_hat [..., T, K]`` (real for real
        symbols) and their error variance ``no_eff [..., T, K]`` (per real
        dimension for real symbols, total for complex ones)."""
        y, no, h, lead = self._flatten(y, no, h)
        if self._real_symbols:
            y, no, h = self._real_system(y, no, h)
        x_hat, no_eff = self._equalize(y, self._floored(no, h), h)
        shape = lead + x_hat.shape[1:].as_list()
        return tf.reshape(x_hat, shape), tf.reshape(no_eff, shape)

    def _equalize(self, y, no, h):
        dtype = y.dtype
        m = tf.cast(self._mean, dtype)
        sq = tf.cast(np.sqrt(self._es), dtype)
        y = y - m * tf.reduce_sum(h, axis=-1)[:, None, :]
        yc, hc, s = self._sionna_inputs(y, sq * h, no)
        if self._equalizer == "lmmse":
            u, no_eff = lmmse_equalizer(yc, hc, s, whiten_interference=False,
                                        precision=self.precision)
        else:
            u, no_eff = zf_equalizer(yc, hc, s, precision=self.precision)
        if not dtype.is_complex:
            u = tf.math.real(u)
        x_hat = m + sq * u
        no_eff = tf.maximum(self._es * no_eff, tf.cast(NO_FLOOR, self.rdtype))
        return self._unflatten(x_hat, y), self._unflatten(no_eff, y)

    def _demap(self, x_hat, no_eff):
        shape = tf.shape(x_hat)
        out = self._demapper(tf.reshape(x_hat, [-1]),
                             tf.reshape(no_eff, [-1]))
        return tf.reshape(out, tf.concat([shape, [self.num_points]], 0))

    def _real_logits(self, y, no, h):
        x_hat, no_eff = self._equalize(y, no, h)
        return self._demap(tf.complex(x_hat, tf.zeros_like(x_hat)),
                           2.0 * no_eff)

    def _complex_logits(self, y, no, h):
        return self._demap(*self._equalize(y, no, h))


class MIMOMLDetector(_SionnaMIMODetector):
    r"""Sionna's :class:`~sionna.phy.mimo.MaximumLikelihoodDetector`
    (``output="symbol"``, ``demapping_method="app"``, uniform prior): the
    exact per-user posterior marginals, ``logit(k, c) = log sum_{x: x_k = c}
    exp(-|S^{-1/2}(y - H x)|^2)``.

    ``S = no I`` on complex systems and ``S = 2 no I`` on real ones (the
    real likelihood ``exp(-|y - H x|^2 / (2 no))``; module notes). Any
    constellation (the detector's own object is handed to Sionna).

    **Cost.** All ``M^K`` symbol vectors per channel use: time ``B T M^K
    N K`` and memory ``B T M^K N`` (4x4 BPSK: 16 vectors; 8x8 QPSK: 65536,
    4 MiB of ``H x`` products per channel use in single precision, and
    Sionna's intermediates several times that). Sionna's block is
    therefore called on chunks of ``chunk`` channel uses at a time (a
    ``tf.map_fn`` loop run one chunk after the other, so it also compiles
    under XLA); each channel use is detected on its own, so the answer
    does not depend on ``chunk``.

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
    chunk : None | int
        Channel uses per call of Sionna's block. ``None``: as many as keep
        the ``M^K x N'`` candidate products of a call (``N'`` the rows of
        the system Sionna sees) under :attr:`MAX_CANDIDATE_BYTES`.
    constellation : None | str | Constellation
    hard_out : bool
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
    >>> from detectors.mimo import MIMOMLDetector
    >>> det = MIMOMLDetector([[1.0, 0.5], [0.5, 1.0]], hard_out=True)
    >>> det([[[1.4, -0.6]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    #: Bound (bytes) on one Sionna call's ``H x`` candidate products when
    #: ``chunk`` is None: 64 MiB, 16 channel uses of 8x8 QPSK. Measured
    #: (8x8 QPSK, XLA, one core): peak memory +150 MiB and 20 ms per
    #: channel use at 16, +450 MiB and 27 ms at 64, 18-22 ms from 4 to 16.
    MAX_CANDIDATE_BYTES = 64 * 2 ** 20

    def __init__(self, h, *, chunk=None, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        if chunk is not None:
            chunk = check_int(chunk, "chunk")
        super().__init__(h, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._chunk = chunk
        self._ml = MaximumLikelihoodDetector(
            "symbol", "app", self.users, constellation=self._constellation,
            precision=precision)

    def chunk_size(self, rows=None):
        """int : channel uses per call of Sionna's block, for a system of
        ``rows`` receive rows as Sionna sees it (``N``, or ``2 N`` for real
        points on a complex channel; default ``N``)."""
        if self._chunk is not None:
            return self._chunk
        rows = self.antennas if rows is None else int(rows)
        per_use = self.num_points ** self.users * rows * self.cdtype.size
        return max(1, self.MAX_CANDIDATE_BYTES // per_use)

    def _run(self, y, h, c):
        yc, hc, s = self._sionna_inputs(y, h, c)
        return self._unflatten(self._chunked(yc, hc, s), y)

    def _chunked(self, yc, hc, s):
        """Sionna's ML on ``[U, ...]`` channel uses, ``chunk_size`` at a
        time."""
        chunk = self.chunk_size(yc.shape[-1])
        if yc.shape[0] is not None and yc.shape[0] <= chunk:
            return self._ml(yc, hc, s)
        uses = tf.shape(yc)[0]
        count = (uses + chunk - 1) // chunk
        # the last chunk is filled up with copies of the last channel use
        # (a valid system, unlike zeros: S must stay invertible); their
        # answers are dropped
        fill = tf.minimum(tf.range(count * chunk), uses - 1)

        def chunks(x):
            return tf.reshape(tf.gather(x, fill),
                              tf.concat([[count, chunk], tf.shape(x)[1:]], 0))

        # parallel_iterations=1: one chunk in memory at a time
        out = tf.map_fn(lambda a: self._ml(*a),
                        (chunks(yc), chunks(hc), chunks(s)),
                        fn_output_signature=self.rdtype,
                        parallel_iterations=1)
        out = tf.reshape(out, [-1, self.users, self.num_points])
        return out[:uses]

    def _real_logits(self, y, no, h):
        return self._run(y, h, 2.0 * no)

    def _complex_logits(self, y, no, h):
        return self._run(y, h, no)


class _ListSymbolLogits(List2LLR):
    """Max-log symbol logits from a K-best candidate list: ``logit(k, c) =
    -min_{j: x_{j,k} = c} d_j``, floored at ``-(min_j d_j + clip)`` (also
    where no candidate has ``x_k = c``), the symbol-level analogue of
    Sionna's :class:`~sionna.phy.mimo.List2LLRSimple`.

    Output ``[batch, num_streams, M]`` (where Sionna's list-to-LLR output
    has ``[batch, num_streams, bits]``; the K-best detector only reorders
    its streams axis)."""

    def __init__(self, num_points, clip, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._num_points = num_points
        self._clip = float(clip)

    def call(self, y, r, dists, path_inds, path_syms):
        # dists [b, paths], path_inds [b, paths, S]
        onehot = tf.equal(path_inds[..., None],
                          tf.range(self._num_points, dtype=tf.int32))
        d = tf.where(onehot, dists[:, :, None, None],
                     tf.constant(np.inf, dists.dtype))
        best = tf.reduce_min(dists, axis=1)[:, None, None]
        logits = -tf.reduce_min(d, axis=1)                  # [b, S, M]
        return tf.maximum(logits, -(best + self._clip))


class MIMOKBestDetector(_SionnaMIMODetector):
    r"""Sionna's :class:`~sionna.phy.mimo.KBestDetector` (complex-valued
    representation, which takes any constellation, handed the detector's
    own), with max-log symbol logits from its candidate list.

    Sionna keeps the ``k`` best partial paths per layer (columns of the
    whitened ``H`` sorted by norm, QR) and ends with ``k`` candidates and
    their metrics ``d_j = |S^{-1/2}(y - H x_j)|^2``. Sionna's soft output is
    its ``List2LLRSimple``: max-log bit LLRs ``min_{b=0} d - min_{b=1} d``
    clipped at 20. Here the list goes through a list-to-logits function of
    Sionna's ``List2LLR`` interface instead, ``logit(k, c) = -min_{j: x_{j,
    k} = c} d_j`` floored at ``-(min_j d_j + clip)``: with ``k = M^K`` (the
    full list) the max-log posterior ``max_{x: x_k = c} -|y - H x|^2 / no``
    (complex; ``/(2 no)`` on real systems, ``S = 2 no I``). Bit LLRs
    (:meth:`bit_llrs`) are then the base class's ``"app"`` conversion of
    those logits (for BPSK the same as Sionna's max-log LLRs).

    Needs ``N >= K`` (Sionna's QR; ``2 N >= K`` for real points on a
    complex channel, but ``N >= K`` is asked for all).

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
    k : int
        Paths kept, at most ``M^K`` (larger values are lowered to it).
    clip : float
        Floor of the logits below the best candidate's (Sionna's LLR clip).
    constellation : None | str | Constellation
    hard_out : bool
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
    >>> from detectors.mimo import MIMOKBestDetector
    >>> det = MIMOKBestDetector([[1.0, 0.5], [0.5, 1.0]], k=2,
    ...                         hard_out=True)
    >>> det([[[1.4, -0.6]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    needs_antennas_ge_users = True

    def __init__(self, h, *, k=16, clip=20.0, constellation=None,
                 hard_out=False, precision=None, **kwargs):
        k = check_int(k, "k")
        if not float(clip) > 0:
            raise ValueError(f"`clip` must be > 0, got {clip!r}.")
        super().__init__(h, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._k = int(min(k, self.num_points ** self.users))
        self._kbest = KBestDetector(
            "bit", self.users, self._k, constellation=self._constellation,
            list2llr=_ListSymbolLogits(self.num_points, clip,
                                       precision=precision),
            precision=precision)

    @property
    def k(self):
        """int : paths kept (at most ``M^K``)."""
        return self._k

    def _run(self, y, h, c):
        yc, hc, s = self._sionna_inputs(y, h, c)
        return self._unflatten(self._kbest(yc, hc, s), y)

    def _real_logits(self, y, no, h):
        return self._run(y, h, 2.0 * no)

    def _complex_logits(self, y, no, h):
        return self._run(y, h, no)


class MIMOEPDetector(_SionnaMIMODetector):
    r"""Sionna's :class:`~sionna.phy.mimo.EPDetector` (expectation
    propagation, Cespedes et al. 2014), ``output="symbol"``.

    Sionna's EP is for QAM only: it works on the real-valued equivalent
    with its own PAM points. Complex systems: Sionna's normalised QAM
    (``"qpsk"``, ``"qamM"``), ``S = no I``. Real systems (unit-energy PAM /
    BPSK, also embedded on a complex channel via its real-valued
    equivalent): the PAM is the real part of a QAM point, ``S = 2 no I`` and
    ``sqrt 2 H``, and the real part's logits are kept (module notes; exact,
    the real-valued streams decouple). Other constellations raise
    ``ValueError``.

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
    iterations : int
        EP iterations (Sionna's ``l``).
    beta : float
        Damping in ``[0, 1]``.
    constellation : None | str | Constellation
    hard_out : bool
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
    >>> from detectors.mimo import MIMOEPDetector
    >>> det = MIMOEPDetector([[1.0, 0.5], [0.5, 1.0]], hard_out=True)
    >>> det([[[1.4, -0.6]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    def __init__(self, h, *, iterations=10, beta=0.9, constellation=None,
                 hard_out=False, precision=None, **kwargs):
        iterations = check_int(iterations, "iterations")
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"`beta` must be in [0, 1], got {beta!r}.")
        super().__init__(h, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._embedding = None
        if self._real_symbols:
            self._embedding = _QAMEmbedding(
                "MIMOEPDetector", self._constellation, self._real_points,
                precision)
            bits = self._embedding.qam.num_bits_per_symbol
        else:
            c = self._constellation
            bits = c.num_bits_per_symbol
            qam = Constellation("qam", bits, precision=precision) \
                if bits % 2 == 0 else None
            if qam is None or not np.allclose(np.asarray(c.points),
                                              np.asarray(qam.points),
                                              atol=1e-6):
                raise ValueError(
                    "MIMOEPDetector needs Sionna's unit-energy QAM ('qpsk', "
                    "'qamM') or a real unit-energy PAM ('bpsk', 'pamM'): "
                    "Sionna's EPDetector builds its own QAM points.")
        self._iterations = iterations
        self._ep = EPDetector("symbol", bits, l=iterations, beta=float(beta),
                              precision=precision)

    @property
    def iterations(self):
        """int : EP iterations."""
        return self._iterations

    def _real_logits(self, y, no, h):
        root2 = tf.cast(np.sqrt(2.0), h.dtype)
        yc, hc, s = self._sionna_inputs(y, root2 * h, 2.0 * no)
        logits = self._embedding.real_part_logits(self._ep(yc, hc, s))
        return self._unflatten(logits, y)

    def _complex_logits(self, y, no, h):
        yc, hc, s = self._sionna_inputs(y, h, no)
        return self._unflatten(self._ep(yc, hc, s), y)


class MIMOMMSEPICDetector(_SionnaMIMODetector):
    r"""Sionna's :class:`~sionna.phy.mimo.MMSEPICDetector` (MMSE with
    parallel interference cancellation, Studer et al. 2011),
    ``output="symbol"``, uniform prior (zero logits).

    Each self-iteration cancels the soft symbols of the other users,
    filters with the MMSE filter of the residual interference and noise
    (``S = no I``) and demaps; the output is the symbol logits of the last
    iteration's extrinsic bit LLRs (Sionna's ``LLRs2SymbolLogits``, which
    treats a symbol's bits as independent: exact for BPSK and QPSK). With
    ``iterations=1`` and the uniform prior this is LMMSE detection.

    Complex systems: any constellation (the detector's own object). Real
    systems (unit-energy PAM / BPSK, also embedded on a complex channel via
    the real-valued equivalent): the QAM embedding of the module notes
    (``S = 2 no I``, ``sqrt 2 H``), exact for ``iterations=1``; Sionna's
    self-iterations give the real part the variance shared with the
    fictitious imaginary part, so ``iterations > 1`` on real symbols raises
    ``ValueError`` (use :class:`~detectors.mimo.SoftICDetector`).

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
    iterations : int
        Self-iterations (Sionna's ``num_iter``).
    demapping_method : "app" | "maxlog"
    constellation : None | str | Constellation
    hard_out : bool
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
    >>> from detectors.mimo import MIMOMMSEPICDetector
    >>> det = MIMOMMSEPICDetector([[1.0, 0.5], [0.5, 1.0]], hard_out=True)
    >>> det([[[1.4, -0.6]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    def __init__(self, h, *, iterations=1, demapping_method="app",
                 constellation=None, hard_out=False, precision=None,
                 **kwargs):
        iterations = check_int(iterations, "iterations")
        if demapping_method not in ("app", "maxlog"):
            raise ValueError(f"`demapping_method` must be 'app' or 'maxlog', "
                             f"got {demapping_method!r}.")
        super().__init__(h, constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._embedding = None
        c = self._constellation
        if self._real_symbols:
            if iterations > 1:
                raise ValueError(
                    f"MIMOMMSEPICDetector: `iterations` = {iterations} on "
                    "real-valued symbols (BPSK/PAM): Sionna's MMSE-PIC "
                    "self-iterations share one variance between a symbol's "
                    "real and imaginary parts, which is wrong for real "
                    "symbols; use iterations=1 (exact LMMSE) or "
                    "SoftICDetector, or a complex constellation.")
            self._embedding = _QAMEmbedding(
                "MIMOMMSEPICDetector", c, self._real_points, precision)
            c = self._embedding.qam
        self._iterations = iterations
        self._pic = MMSEPICDetector("symbol", demapping_method, iterations,
                                    constellation=c, precision=precision)
        self._num_logits = c.num_points

    @property
    def iterations(self):
        """int : self-iterations."""
        return self._iterations

    def _run(self, y, h, c):
        yc, hc, s = self._sionna_inputs(y, h, c)
        prior = tf.zeros(tf.concat([tf.shape(yc)[:1],
                                    [self.users, self._num_logits]], 0),
                         self.rdtype)
        return self._pic(yc, hc, s, prior)

    def _real_logits(self, y, no, h):
        root2 = tf.cast(np.sqrt(2.0), h.dtype)
        logits = self._run(y, root2 * h, 2.0 * no)
        return self._unflatten(self._embedding.real_part_logits(logits), y)

    def _complex_logits(self, y, no, h):
        return self._unflatten(self._run(y, h, no), y)
