r"""Multiuser MIMO: ``K`` single-antenna users, ``N`` receive antennas,
``y = H x + w`` per channel use.

A frame holds ``T`` channel uses, each carrying one symbol per user, and
one channel matrix ``H`` ``[N, K]`` (block fading: new per frame where the
profile is random). Profiles:

- ``"sed"``: the spatial exponential decay of the DeepSIC paper
  (Shlezinger, Fu, Eldar 2020), ``H[i, j] = exp(-|i - j|)``, the same in
  every frame, real. With ``time_varying=True`` each entry is multiplied
  by ``0.8 + 0.2 cos(2 pi t / P_i)``, ``t`` the frame's index and ``P_i``
  a period per receive antenna (``SED_PERIODS``, cycled): the
  cosine-modulated SED of the DeepSIC paper's online-learning setting,
  with the constants of the authors' published channel code.
- ``"rayleigh"``: i.i.d. ``CN(0, 1)`` entries, new every frame.
- ``"kronecker"``: ``R_rx^{1/2} G R_tx^{1/2}`` with ``G`` i.i.d. ``CN(0,
  1)`` and exponential correlation matrices ``R[i, j] = rho^|i - j|``
  (Sionna's ``exp_corr_mat`` and ``KroneckerModel``), new every frame.

Real constellations (BPSK, PAM) on the real SED channel stay real (real
``H``, real noise ``N(0, no)`` per sample); on the complex profiles they
are sent as complex points (:func:`signals.constellations.complex_baseband`)
and ``no`` is the total complex noise variance, as everywhere in rxsim.
SNR: ``no = 10**(-snr_db / 10)`` with the unnormalised ``H`` (as the
DeepSIC paper states it).
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block

from signals.checks import check_int
from signals.constellations import complex_baseband, is_real, \
    make_constellation

from .noise import gaussian_noise

__all__ = ["MIMOChannel", "MIMO_PROFILES", "SED_PERIODS", "sed_matrix",
           "perturb_channel", "estimate_channel"]

MIMO_PROFILES = ("sed", "rayleigh", "kronecker")
#: Periods (in frames) of the cosine modulation of the time-varying SED
#: channel, one per receive antenna, cycled (the DeepSIC authors' code).
SED_PERIODS = (51, 39, 33, 21)
#: The constant part of that modulation (``0.8 + 0.2 cos(...)``).
SED_COEF = 0.8


def sed_matrix(antennas, users, frame_index=None):
    """The SED channel ``exp(-|i - j|)`` ``[N, K]`` (numpy float64); with
    ``frame_index`` (int or ``[batch]`` ints) the cosine-modulated one of
    those frames (``[batch, N, K]`` for an array)."""
    i = np.arange(antennas)[:, None]
    j = np.arange(users)[None, :]
    h = np.exp(-np.abs(i - j)).astype(np.float64)
    if frame_index is None:
        return h
    t = np.asarray(frame_index, dtype=np.float64)
    periods = np.array([SED_PERIODS[a % len(SED_PERIODS)]
                        for a in range(antennas)], dtype=np.float64)
    fade = SED_COEF + (1 - SED_COEF) * np.cos(
        2 * np.pi * t[..., None] / periods)            # [..., N]
    return h * fade[..., :, None]


class MIMOChannel(Block):
    r"""A multiuser MIMO channel ``y = H x + w`` (see the module notes).

    Parameters
    ----------
    users : int
        K, single-antenna users.
    antennas : int
        N, receive antennas.
    profile : "sed" | "rayleigh" | "kronecker"
    constellation : str | sionna.phy.mapping.Constellation
        The users' alphabet (all users alike); real ones are embedded in
        complex baseband on the complex profiles (:attr:`constellation`).
    rx_correlation, tx_correlation : float
        ``rho`` of the receive / transmit exponential correlation
        (``"kronecker"`` only), in ``[0, 1)``.
    time_varying : bool
        Cosine-modulated SED (``"sed"`` only); the frame index is the
        batch row plus ``frame_offset`` of the call.
    precision : None | "single" | "double"

    Input
    -----
    x : [batch, T, K], the sent points (complex on a complex channel)
    no : scalar or [batch], tf.float, noise variance
    seed : None or [2], tf.int32, stateless seed
    return_channel : bool
        Also return the frames' ``H``.
    frame_offset : int
        Index of the batch's first frame (time-varying SED).
    frame_index : None or [batch], int
        The frames' indices instead (time-varying SED; e.g. drawn at random
        over :attr:`cycle`, as :class:`rxsim.mimo_link.MIMOLink` does).

    Output
    ------
    y : [batch, T, N], real on the real SED channel, else complex
    h : [batch, N, K] (with ``return_channel``)

    Example
    -------
    >>> import tensorflow as tf
    >>> from channels import MIMOChannel
    >>> ch = MIMOChannel(4, 4, profile="sed")
    >>> y, h = ch(tf.ones([2, 10, 4]), 0.1, seed=[1, 2], return_channel=True)
    >>> y.shape, h.shape
    (TensorShape([2, 10, 4]), TensorShape([2, 4, 4]))
    """

    def __init__(self, users, antennas, *, profile="sed",
                 constellation="bpsk", rx_correlation=0.5,
                 tx_correlation=0.5, time_varying=False, precision=None,
                 **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._users = check_int(users, "users")
        self._antennas = check_int(antennas, "antennas")
        if profile not in MIMO_PROFILES:
            raise ValueError(f"`profile` {profile!r} unknown; allowed: "
                             f"{', '.join(map(repr, MIMO_PROFILES))}.")
        if time_varying and profile != "sed":
            raise ValueError("`time_varying` modulates the SED channel; "
                             f"profile {profile!r} is drawn anew every "
                             "frame already.")
        for name, rho in (("rx_correlation", rx_correlation),
                          ("tx_correlation", tx_correlation)):
            if not 0.0 <= float(rho) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {rho!r}.")
        self._profile = profile
        self._time_varying = bool(time_varying)
        self._rho = (float(rx_correlation), float(tx_correlation))
        c = make_constellation(constellation, precision=precision)
        if profile != "sed" and is_real(c):
            c = complex_baseband(c)
        self._constellation = c
        self._complex = profile != "sed" or not is_real(c)

    # -- what the channel is ---------------------------------------------
    @property
    def users(self):
        """int : K."""
        return self._users

    @property
    def antennas(self):
        """int : N."""
        return self._antennas

    @property
    def profile(self):
        """str : the profile."""
        return self._profile

    @property
    def constellation(self):
        """The constellation the users send (a real one embedded in complex
        baseband on the complex profiles)."""
        return self._constellation

    @property
    def is_complex(self):
        """bool : whether ``y`` and ``H`` are complex."""
        return self._complex

    @property
    def time_varying(self):
        """bool : whether ``H`` follows the cosine-modulated SED in time."""
        return self._time_varying

    @property
    def cycle(self):
        """int or None : frames after which the time-varying SED repeats
        (the least common multiple of the antennas' periods; 51 051 for
        four antennas), ``None`` for the other channels."""
        if not self._time_varying:
            return None
        return int(np.lcm.reduce([SED_PERIODS[a % len(SED_PERIODS)]
                                  for a in range(self._antennas)]))

    @property
    def h_dtype(self):
        """tf.DType of ``H``."""
        if self._profile == "sed":
            return self.rdtype
        return self.cdtype

    @property
    def y_dtype(self):
        """tf.DType of ``y``."""
        return self.cdtype if self._complex else self.rdtype

    @property
    def points(self):
        """[M] tf.Tensor of :attr:`y_dtype`: the constellation's points as
        they are sent (real on a real channel)."""
        return _as_dtype(self._constellation.points, self.y_dtype)

    @property
    def mean_channel(self):
        """[N, K] numpy: the SED matrix, or zeros for the zero-mean random
        profiles (the ``mean`` a receiver without CSI could assume). On
        the time-varying SED it is the channel of frame 0 (fade 1), not
        the time average (fade 0.8 on average): what a receiver that
        learned the channel at the start believes."""
        if self._profile == "sed":
            return sed_matrix(self._antennas, self._users)
        return np.zeros([self._antennas, self._users])

    def draw_key(self):
        """What a batch drawn from a seed depends on (see
        :meth:`rxsim.Link.draw_key`)."""
        return ("MIMOChannel", self._users, self._antennas, self._profile,
                self._rho, self._time_varying, self.y_dtype.name)

    # -- drawing -----------------------------------------------------------
    def channel_matrices(self, batch_size, seed=None, frame_offset=0,
                         frame_index=None):
        """``H`` of ``batch_size`` frames ``[batch, N, K]``; on the
        time-varying SED those of frames ``frame_offset + row``, or of the
        frames ``frame_index`` (``[batch]`` ints) when given."""
        n, k = self._antennas, self._users
        if self._profile == "sed":
            h = tf.constant(sed_matrix(n, k), self.h_dtype)
            if self._time_varying:
                # the phase in float64: in float32, 2 pi t / P at t ~ 5e4
                # (late in the cycle) is off by ~1e-3 rad
                t = tf.cast(tf.range(batch_size), tf.float64) + \
                    tf.cast(frame_offset, tf.float64)
                if frame_index is not None:
                    t = tf.cast(frame_index, tf.float64)
                periods = tf.constant(
                    [SED_PERIODS[a % len(SED_PERIODS)] for a in range(n)],
                    tf.float64)
                fade = SED_COEF + (1 - SED_COEF) * tf.cos(
                    2 * np.pi * t[:, None] / periods)       # [batch, N]
                return h * tf.cast(fade, self.rdtype)[:, :, None]
            return tf.broadcast_to(h, [batch_size, n, k])
        g = gaussian_noise([batch_size, n, k], tf.ones([], self.rdtype),
                           self.cdtype, seed)
        if self._profile == "rayleigh":
            return g
        from sionna.phy.channel import KroneckerModel, exp_corr_mat
        r_rx = exp_corr_mat(self._rho[0], n, precision=self.precision)
        r_tx = exp_corr_mat(self._rho[1], k, precision=self.precision)
        return KroneckerModel(r_tx, r_rx, precision=self.precision)(g)

    @staticmethod
    def split_seed(seed):
        """``(channel-matrix seed, noise seed)`` of a seed ``[2]``."""
        if seed is None:
            return None, None
        return tuple(tf.unstack(
            tf.random.experimental.stateless_split(seed, 2)))

    def through(self, x, h, no, seed=None):
        """``H x + w`` for given matrices ``h`` ``[batch, N, K]``, points
        ``x`` ``[batch, T, K]`` and a noise seed."""
        x = _as_dtype(x, self.y_dtype)
        y = tf.einsum("bnk,btk->btn", _as_dtype(h, self.y_dtype), x)
        no = tf.cast(no, self.rdtype)
        if no.shape.rank == 1:
            no = no[:, None, None]
        return y + gaussian_noise(tf.shape(y), no, self.y_dtype, seed)

    def call(self, x, no, seed=None, return_channel=False, frame_offset=0,
             frame_index=None):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 3 or x.shape[-1] != self._users:
            raise ValueError(f"`x` must be [batch, T, K = {self._users}] "
                             f"(one point per user per channel use), got "
                             f"shape {x.shape}.")
        h_seed, w_seed = self.split_seed(seed)
        h = self.channel_matrices(tf.shape(x)[0] if x.shape[0] is None
                                  else x.shape[0], h_seed, frame_offset,
                                  frame_index)
        y = self.through(x, h, no, w_seed)
        return (y, h) if return_channel else y

    def pilot_frames(self, h, no, num_pilots, *, seed=None):
        """``(s, y)``: ``num_pilots`` channel uses of uniform known symbols
        per frame through each frame's ``h`` ``[batch, N, K]``, before the
        data (indices ``[batch, P, K]`` int32, samples ``[batch, P, N]``)."""
        num_pilots = check_int(num_pilots, "num_pilots")
        s_seed, w_seed = self.split_seed(seed)
        batch = tf.shape(h)[0] if h.shape[0] is None else h.shape[0]
        m = self._constellation.num_points
        shape = [batch, num_pilots, self._users]
        if s_seed is None:
            s = tf.random.uniform(shape, 0, m, tf.int32)
        else:
            s = tf.random.stateless_uniform(shape, s_seed, 0, m, tf.int32)
        y = self.through(tf.gather(self.points, s), h, no, w_seed)
        return s, y


def _as_dtype(x, dtype):
    """``x`` in ``dtype``; a complex ``x`` to a real dtype keeps its real
    part (real systems hold real values in Sionna's complex points, and
    ``tf.cast`` would warn that it drops the imaginary part)."""
    x = tf.convert_to_tensor(x)
    if x.dtype.is_complex and not dtype.is_complex:
        x = tf.math.real(x)
    return tf.cast(x, dtype)


def perturb_channel(h, var, *, mode="multiplicative", seed=None):
    r"""Believed channels with errors, one draw per entry and frame:
    ``H (1 + sqrt(var) n)`` (``mode="multiplicative"``, elementwise, the
    DeepSIC paper's CSI uncertainty) or ``H + sqrt(var) n``
    (``"additive"``), ``n ~ N(0, 1)`` or ``CN(0, 1)`` for complex ``H``.

    Input: ``h`` ``[batch, N, K]``. Output: the same shape and dtype.
    """
    h = tf.convert_to_tensor(h)
    if mode not in ("multiplicative", "additive"):
        raise ValueError(f"`mode` must be 'multiplicative' or 'additive', "
                         f"got {mode!r}.")
    var = float(var)
    if not var >= 0.0:
        raise ValueError(f"`var` must be >= 0, got {var!r}.")
    n = gaussian_noise(tf.shape(h), tf.ones([], h.dtype.real_dtype),
                       h.dtype, seed)
    scale = tf.cast(np.sqrt(var), h.dtype)
    return h * (1 + scale * n) if mode == "multiplicative" \
        else h + scale * n


def estimate_channel(y_pilots, x_pilots, no, *, estimator="ls",
                     prior_variance=1.0):
    r"""Per-frame channel estimates from pilots.

    ``Y = H X + W`` with pilots ``X`` ``[batch, K, P]`` and samples ``Y``
    ``[batch, N, P]`` (here given channel-use major, ``x_pilots``
    ``[batch, P, K]`` points and ``y_pilots`` ``[batch, P, N]``):

    - ``"ls"``: ``H = Y X^H (X X^H)^{-1}`` (needs ``P >= K``; the
      pseudo-inverse where a frame's random pilots do not span ``K``
      dimensions, by a vanishing ridge);
    - ``"lmmse"``: ``H = Y X^H (X X^H + no / prior_variance I)^{-1}``, the
      MMSE estimate under i.i.d. zero-mean entries of variance
      ``prior_variance`` (exact for Rayleigh entries; a shrinkage towards 0
      for the SED channel).

    Output: ``[batch, N, K]`` in the dtype of ``y_pilots``.
    """
    if estimator not in ("ls", "lmmse"):
        raise ValueError(f"`estimator` must be 'ls' or 'lmmse', got "
                         f"{estimator!r}.")
    y = tf.convert_to_tensor(y_pilots)
    x = tf.cast(x_pilots, y.dtype)
    k = x.shape[-1]
    if x.shape[-2] is not None and x.shape[-2] < k:
        raise ValueError(f"estimating H needs at least K = {k} pilot "
                         f"channel uses per frame, got {x.shape[-2]}.")
    xxh = tf.einsum("bpk,bpj->bkj", x, tf.math.conj(x))     # X X^H [K, K]
    yxh = tf.einsum("bpn,bpj->bnj", y, tf.math.conj(x))     # Y X^H [N, K]
    if estimator == "lmmse":
        ridge = tf.cast(tf.convert_to_tensor(no), y.dtype.real_dtype) / \
            float(prior_variance)
        if ridge.shape.rank == 1:
            ridge = ridge[:, None, None]
        xxh = xxh + tf.cast(ridge, y.dtype) * tf.eye(k, dtype=y.dtype)
    if estimator == "ls":
        # random pilots can fail to span K dimensions in a frame (two
        # users sending the same points): a ridge of 1e-5 of the pilots'
        # energy per user gives the minimum-norm solution there (float32
        # rounding bounds how small it can be) and shrinks a regular
        # solution by about 1e-5 relative, far below the noise
        energy = tf.math.real(tf.linalg.trace(xxh))[:, None, None] / k
        xxh = xxh + tf.cast(1e-5 * energy, y.dtype) * tf.eye(k, dtype=y.dtype)
    # H = Y X^H A^{-1}, A Hermitian: H^H = A^{-1} X Y^H
    return tf.linalg.adjoint(_solve(xxh, tf.linalg.adjoint(yxh)))


def _solve(a, b):
    """``a^-1 b``; a complex system as its real ``[[Re, -Im], [Im, Re]]``
    twin, because XLA on CPU has no complex MatrixSolve kernel (estimated
    CSI inside a compiled MIMO link)."""
    if not a.dtype.is_complex:
        return tf.linalg.solve(a, b)
    ar, ai = tf.math.real(a), tf.math.imag(a)
    big = tf.concat([tf.concat([ar, -ai], -1), tf.concat([ai, ar], -1)], -2)
    rhs = tf.concat([tf.math.real(b), tf.math.imag(b)], -2)
    x = tf.linalg.solve(big, rhs)
    k = a.shape[-1]
    return tf.complex(x[..., :k, :], x[..., k:, :])
