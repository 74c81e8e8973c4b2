r"""3GPP TDL channels (TR 38.901, Sionna's ``tr38901.TDL``) as discrete-time
ISI channels, with block or continuous fading.

A frame of ``T`` symbols at rate ``W = symbol_rate`` passes through the
discrete complex-baseband channel of one TDL realisation: Sionna's
``TDL(model, delay_spread, carrier_frequency, min_speed, max_speed)``
draws the path coefficients and delays, and ``cir_to_time_channel(W, a,
tau, l_min, l_max)`` turns them into sinc filtered taps ``h_l``, ``l =
l_min .. l_max`` with ``(l_min, l_max) = time_lag_discrete_time_channel(W)``
(``l_min = -6``, ``l_max = ceil(3 us * W) + 6``): ``L_total = l_max -
l_min + 1`` discrete taps.

Fading:

- ``"block"`` (default): one time step per frame, taps fixed within a
  frame and drawn anew for every frame. The speed then has no effect on
  the taps (Sionna's phases ``2 pi f_D t cos(alpha) + phi`` at ``t = 0``
  are the random phases alone): same seed, same taps, whatever the speed.
- ``"continuous"``: ``T`` time steps at ``sampling_frequency = W``, so
  every symbol ``k`` has its own taps ``h_l[k]`` (Sionna's
  sum-of-sinusoids model, Doppler ``f_D = speed * carrier_frequency /
  c``; for Rayleigh paths the ensemble autocorrelation is Jakes'
  ``E[h_l[k + d] h_l[k]^*] = p_l J0(2 pi f_D d / W)``), still independent
  from frame to frame. Because Sionna's TDL delays are the same for every
  frame and time, the block filters the paths with
  ``cir_to_time_channel``'s taps of each unit-amplitude path, computed
  once, ``h_l[k] = sum_m a_m[k] G_{m l}``; calling
  ``cir_to_time_channel`` on ``a`` directly gives the same taps but builds
  a ``[batch, paths, T, L_total]`` intermediate.

``speed`` is a float or a pair ``(min_speed, max_speed)``: Sionna draws
each frame's speed uniformly from it.

Normalisation: Sionna's TDL normalises the path powers to
``sum_m P_m = 1``; the discrete channel's average tap powers are ``p_l =
sum_m P_m sinc^2(l - W tau_m)`` (paths are independent and zero-mean), and
``sum over all integers l`` of these is 1, but only ``[l_min, l_max]`` is
kept, so ``raw_energy = sum_{l_min}^{l_max} p_l`` is a little below 1
(about 0.98-0.99; the sinc tails outside the window are lost). The block
computes ``p_l`` with Sionna's own ``cir_to_time_channel`` (each path alone
with amplitude ``sqrt(P_m)``) and scales every tap by
``1 / sqrt(raw_energy)``, so the average channel energy ``sum_l E|h_l|^2``
is exactly 1 (at every symbol, for continuous fading too) and ``no`` means
what it says (SNR = 1 / no per complex sample, Sionna's convention: ``no``
is the total complex noise variance).

Kept window: a trellis detector handles ``memory = L`` taps. The block
keeps the ``L`` consecutive discrete taps with the largest average energy
(the window ``[i0, i0 + L)`` maximising ``sum p_l`` over it, the earliest
one on ties; fixed by the configuration, computed from the average power
delay profile). ``residual_energy = 1 - sum_{window} p_l`` is what lies
outside; the channel still applies it (it is physics), only the detector
does not model it.

Alignment: the output is delayed so that kept tap 0 multiplies ``x[k]`` at
``y[k]``, as in :class:`channels.ISIChannel`:

.. math::

    y[k] = \sum_{j=-P}^{J} g_j[k] x[k - j] + w[k], \qquad
    g_j[k] = h_{i_0 + j}[k]

with ``P = i0`` precursor taps (``j < 0``, acting on future symbols) and
``J = L_total - 1 - i0`` (block fading: ``g_j[k] = g_j``). Symbols outside
the frame (before it, and after it for the precursors) are the preamble
point (constellation index 0), as in
:func:`channels.convolve_with_preamble`.

Constellations: the channel is complex baseband. QPSK/QAM are used as
they are; a real BPSK/PAM is embedded in the complex plane
(:func:`signals.constellations.complex_baseband`: same points, complex
samples, so the detectors built with that embedding see complex ``y`` and
taps); OOK is refused.

Randomness: a call's seed is split (:meth:`TDLChannel.split_seed`) into a
tap seed (:meth:`TDLChannel.draw_taps`) and a noise seed
(:meth:`TDLChannel.transmit`), so ``ch(x, no, seed=s)`` equals
``ch.transmit(x, ch.draw_taps(B, s, num_symbols=T)[0], no,
seed=ch.split_seed(s)[1])``. :meth:`TDLChannel.estimate_taps` simulates a
receiver's per-frame pilot-based CSI (least squares, noise variance from
the residual).
"""

import importlib.resources
import re

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config
from sionna.phy.channel import cir_to_time_channel, \
    time_lag_discrete_time_channel
from sionna.phy.channel.tr38901 import TDL

from signals.checks import check_int, check_nonnegative, check_positive
from signals.constellations import complex_baseband, constellation_points
from signals.seeds import stateless_seed

from .csi import _least_squares_with_noise, _pilot_system, _random_pilots
from .isi import convolve_with_preamble
from .noise import gaussian_noise

__all__ = ["TDLChannel", "tdl_models"]

_FADINGS = ("block", "continuous")


def tdl_models():
    """The TDL model names Sionna ships (from its ``TDL-*.json`` files).

    Example
    -------
    >>> from channels.tdl import tdl_models
    >>> tdl_models()[:5]
    ('A', 'B', 'C', 'D', 'E')
    """
    files = importlib.resources.files("sionna.phy.channel.tr38901.models")
    names = [m.group(1) for f in files.iterdir()
             if (m := re.fullmatch(r"TDL-(\w+)\.json", f.name))]
    return tuple(sorted(names, key=lambda n: (len(n), n)))


def _fixed_delay_spread(model):
    """The delay spread [s] Sionna fixes for the models named by it
    ("A30" -> 30 ns), None for the scaled models A..E."""
    m = re.fullmatch(r"[A-Z](\d+)", model)
    return None if m is None else float(m.group(1) + "e-9")


def _speed(speed):
    """``(speed as given back by the property, (min_speed, max_speed))``
    from a float or a pair, checked."""
    if isinstance(speed, (tuple, list, np.ndarray)):
        if len(speed) != 2:
            raise ValueError(f"`speed` must be a float or a pair "
                             f"(min_speed, max_speed) [m/s], got {speed!r}.")
        lo = check_nonnegative(speed[0], "speed")
        hi = check_nonnegative(speed[1], "speed")
        if lo > hi:
            raise ValueError(f"`speed` (min_speed, max_speed) needs min_speed "
                             f"<= max_speed, got {tuple(speed)!r}; swap "
                             f"them.")
        return (lo, hi), (lo, hi)
    v = check_nonnegative(speed, "speed")
    return v, (v, v)


class TDLChannel(Block):
    r"""3GPP TDL channel (Sionna's ``tr38901.TDL``) as a block- or
    continuously-fading ISI channel with AWGN (see the module doc for the
    fading, the normalisation, the kept window and the alignment).

    Parameters
    ----------
    model : str
        One of :func:`tdl_models` (Sionna's: "A".."E", "A30", "B100",
        "C300").
    delay_spread : None or float
        RMS delay spread [s], >= 0; required for "A".."E". The models
        "A30", "B100", "C300" fix it (30, 100, 300 ns): give None or
        that value.
    symbol_rate : float
        Symbol rate [Hz], > 0: the bandwidth of the discrete-time channel
        (and the sampling frequency of continuous fading).
    carrier_frequency : float
        Carrier frequency [Hz], > 0.
    speed : float or (float, float)
        Speed [m/s], >= 0, or a pair ``(min_speed, max_speed)`` (each
        frame's speed uniform in it), passed to Sionna's TDL. With block
        fading it does not change the taps at all.
    memory : None or int
        ``L``, the taps kept for the detector (1 .. ``num_discrete_taps``);
        None keeps all.
    constellation : str | Constellation
        "qpsk", "qamM", or a real "bpsk"/"pamM", which is embedded in the
        complex plane (:func:`signals.constellations.complex_baseband`;
        :attr:`constellation` returns the embedding: build the detectors
        with it). OOK raises ValueError.
    fading : "block" | "continuous"
        Taps fixed within a frame (default), or varying from symbol to
        symbol at the Doppler rate.
    precision : None | "single" | "double"

    Input
    -----
    x : [batch, T], tf.complex
        Transmitted constellation points.
    no : scalar or [batch], tf.float
        Noise variance (total complex variance, ``w ~ CN(0, no)``).
    seed : None or int or [2], tf.int32
        Stateless seed of the frame's taps and noise (split by
        :meth:`split_seed`); None draws one from the operating system.
    return_taps : bool
        Also return the frame's taps.

    Output
    ------
    y : [batch, T], tf.complex
    full_taps : [batch, num_discrete_taps] (block) or [batch, T,
        num_discrete_taps] (continuous), tf.complex
        Only with ``return_taps``: all discrete taps ``h_{l_min..l_max}``
        (normalised) the frame went through (per symbol: ``[:, k]`` are the
        taps of ``y[k]``).
    kept_taps : [batch, memory] or [batch, T, memory], tf.complex
        Only with ``return_taps``: the kept window (what a perfect-CSI
        detector is handed with ``taps=``).

    Example
    -------
    >>> import numpy as np
    >>> from channels import TDLChannel
    >>> ch = TDLChannel("A", delay_spread=100e-9, symbol_rate=10e6,
    ...                 carrier_frequency=3.5e9, memory=4)
    >>> ch.num_discrete_taps, ch.memory, round(ch.total_energy, 6)
    (43, 4, 1.0)
    >>> x = np.ones((2, 50), np.complex64)
    >>> y, full, kept = ch(x, 0.1, seed=[1, 2], return_taps=True)
    >>> y.shape, full.shape, kept.shape
    (TensorShape([2, 50]), TensorShape([2, 43]), TensorShape([2, 4]))
    >>> moving = TDLChannel("A", delay_spread=100e-9, symbol_rate=10e6,
    ...                     carrier_frequency=3.5e9, memory=4,
    ...                     speed=(10.0, 30.0), fading="continuous")
    >>> y, full, kept = moving(x, 0.1, seed=[1, 2], return_taps=True)
    >>> full.shape, kept.shape
    (TensorShape([2, 50, 43]), TensorShape([2, 50, 4]))
    >>> taps_hat, no_hat = ch.estimate_taps(full, 0.1, 64, seed=3)
    >>> taps_hat.shape, no_hat.shape
    (TensorShape([2, 4]), TensorShape([2]))
    """

    def __init__(self, model, *, delay_spread=None, symbol_rate,
                 carrier_frequency, speed=0.0, memory=None,
                 constellation="qpsk", fading="block", precision=None,
                 **kwargs):
        super().__init__(precision=precision, **kwargs)
        models = tdl_models()
        if model not in models:
            raise ValueError(f"Unknown TDL `model` {model!r}; Sionna's are "
                             f"{', '.join(models)}.")
        fixed = _fixed_delay_spread(model)
        if fixed is not None:
            if delay_spread is not None and \
                    not np.isclose(float(delay_spread), fixed):
                raise ValueError(
                    f"`delay_spread`: model {model!r} fixes it to "
                    f"{fixed:g} s; give None or that value, got "
                    f"{delay_spread!r}.")
            delay_spread = fixed
        elif delay_spread is None:
            raise ValueError(f"`delay_spread` [s] is required for model "
                             f"{model!r}.")
        if fading not in _FADINGS:
            raise ValueError(f"`fading` must be one of "
                             f"{', '.join(map(repr, _FADINGS))}, got "
                             f"{fading!r}.")
        self._model = model
        self._fading = fading
        self._delay_spread = check_nonnegative(delay_spread, "delay_spread")
        self._symbol_rate = check_positive(symbol_rate, "symbol_rate")
        self._carrier_frequency = check_positive(carrier_frequency,
                                                 "carrier_frequency")
        self._speed, self._speed_range = _speed(speed)
        # complex_baseband refuses OOK (saying why) and embeds BPSK/PAM.
        self._constellation = complex_baseband(constellation)
        self._preamble_point = constellation_points(
            self._constellation, tf.float64)[0]

        lo, hi = self._speed_range
        # max_speed None for a float keeps Sionna's own default (and the
        # draws of a float speed as they were).
        self._tdl = TDL(model, self._delay_spread, self._carrier_frequency,
                        min_speed=lo, max_speed=hi if hi > lo else None,
                        precision="double")
        l_min, l_max = time_lag_discrete_time_channel(self._symbol_rate)
        self._l_min, self._l_max = int(l_min), int(l_max)
        n = self._l_max - self._l_min + 1
        self._rng = tf.random.Generator.from_seed(0)

        # Sionna's sinc filter of each unit-amplitude path, [paths, L_total]
        # (its delays do not change with the frame or the time).
        powers = self._tdl.mean_powers.numpy()
        m = len(powers)
        a = np.zeros([m, 1, 1, 1, 1, m, 1], np.complex128)
        a[np.arange(m), 0, 0, 0, 0, np.arange(m), 0] = 1.0
        tau = np.tile(self._tdl.delays.numpy()[None, None, None, :],
                      [m, 1, 1, 1])
        g = cir_to_time_channel(self._symbol_rate, tf.constant(a),
                                tf.constant(tau), self._l_min, self._l_max)
        self._path_taps = tf.reshape(g, [m, n])
        # Average power delay profile: each path alone with amplitude
        # sqrt(P_m) (the same products cir_to_time_channel forms).
        h = np.sqrt(powers)[:, None] * self._path_taps.numpy()
        p = np.sum(np.abs(h) ** 2, axis=0)
        self._raw_energy = float(np.sum(p))
        self._pdp = p / self._raw_energy

        if memory is None:
            memory = n
        memory = check_int(memory, "memory")
        if memory > n:
            raise ValueError(
                f"`memory` must be <= the discrete channel's length "
                f"{n} (lags {self._l_min}..{self._l_max} at symbol_rate "
                f"{self._symbol_rate:g} Hz), got {memory}.")
        sums = np.convolve(self._pdp, np.ones(memory), mode="valid")
        self._start = int(np.argmax(sums))
        self._memory = memory
        self._residual = float(1.0 - sums[self._start])

    # -- configuration -------------------------------------------------------
    @property
    def model(self):
        """str : the TDL model name."""
        return self._model

    @property
    def fading(self):
        """str : ``"block"`` (taps fixed within a frame) or
        ``"continuous"`` (taps per symbol)."""
        return self._fading

    @property
    def speed(self):
        """float or (float, float) : the speed [m/s] as given, or the pair
        ``(min_speed, max_speed)``."""
        return self._speed

    @property
    def lags(self):
        """(int, int) : ``(l_min, l_max)`` of the discrete channel."""
        return self._l_min, self._l_max

    @property
    def num_discrete_taps(self):
        """int : ``L_total = l_max - l_min + 1``."""
        return len(self._pdp)

    @property
    def memory(self):
        """int : ``L``, the kept taps."""
        return self._memory

    @property
    def window_start(self):
        """int : index ``i0`` (into the discrete taps) of kept tap 0; its
        lag is ``l_min + i0``; also the number of precursor taps."""
        return self._start

    @property
    def average_tap_powers(self):
        """np.ndarray [num_discrete_taps] : ``E|h_l|^2`` (normalised,
        summing to 1)."""
        return self._pdp.copy()

    @property
    def raw_energy(self):
        """float : ``sum E|h_l|^2`` over ``[l_min, l_max]`` before the
        normalisation (below 1 by the sinc tails cut off)."""
        return self._raw_energy

    @property
    def total_energy(self):
        """float : the average channel energy after normalisation (1)."""
        return float(np.sum(self._pdp))

    @property
    def residual_energy(self):
        """float : average energy outside the kept window (applied by the
        channel, not modelled by a detector given the kept taps)."""
        return self._residual

    @property
    def taps(self):
        """tf.Tensor [memory], real : the kept window's average magnitudes
        ``sqrt(E|h_l|^2)``, not a realisation (what ``Link`` reads as
        ``channel.taps``; per-frame CSI through the Link is a later
        piece: use ``return_taps`` / :meth:`draw_taps`)."""
        w = self._pdp[self._start:self._start + self._memory]
        return tf.constant(np.sqrt(w), self.rdtype)

    @property
    def constellation(self):
        """sionna.phy.mapping.Constellation : complex (a BPSK/PAM given at
        construction is its complex embedding)."""
        return self._constellation

    def draw_key(self):
        """Equal keys give equal outputs for equal inputs, noise and seed
        (see :meth:`channels.base.TapChannel.draw_key`)."""
        return (type(self).__module__, type(self).__qualname__,
                self.rdtype.name, self._model, self._delay_spread,
                self._symbol_rate, self._carrier_frequency,
                self._speed_range, self._memory,
                complex(self._preamble_point.numpy()), self._fading)

    # -- draws ---------------------------------------------------------------
    @staticmethod
    def split_seed(seed):
        """A call's seed as ``(tap_seed, noise_seed)``, ``int32 [2]`` each:
        :meth:`draw_taps` draws the call's taps from ``seed`` through the
        first, :meth:`transmit` its noise from the second.

        Parameters
        ----------
        seed : None or int or [2] int
            None draws one from the operating system.

        Example
        -------
        >>> from channels import TDLChannel
        >>> tap_seed, noise_seed = TDLChannel.split_seed([5, 6])
        >>> tap_seed.shape, noise_seed.dtype.name
        (TensorShape([2]), 'int32')
        """
        seeds = tf.random.experimental.stateless_split(
            stateless_seed(seed), 2)
        return seeds[0], seeds[1]

    def _draw(self, batch_size, tap_seed, num_symbols):
        """Normalised discrete taps from a tap seed: ``[batch, L_total]``
        (block) or ``[batch, T, L_total]`` (continuous)."""
        # Sionna's TDL draws from config.tf_rng; swap in this block's
        # generator, reset from the stateless seed, for the draw.
        s = tf.cast(tap_seed, tf.int64)
        key = s[0] * (2 ** 32) + tf.math.floormod(s[1], 2 ** 32)
        self._rng.reset(tf.stack([tf.constant(0, tf.int64),
                                  tf.constant(0, tf.int64), key]))
        steps = 1 if self._fading == "block" else num_symbols
        saved = config._tf_rng   # pylint: disable=protected-access
        config._tf_rng = self._rng   # pylint: disable=protected-access
        try:
            a, tau = self._tdl(batch_size, steps, self._symbol_rate)
        finally:
            config._tf_rng = saved   # pylint: disable=protected-access
        if self._fading == "block":
            h = cir_to_time_channel(self._symbol_rate, a, tau, self._l_min,
                                    self._l_max)
            h = tf.reshape(h, [batch_size, self.num_discrete_taps])
        else:
            # a [batch, 1, 1, 1, 1, paths, T]: filter with the paths' taps
            # (module doc) instead of cir_to_time_channel's [.., paths, T,
            # L_total] intermediate.
            a = tf.squeeze(a, axis=[1, 2, 3, 4])
            h = tf.einsum("bmt,ml->btl", a, self._path_taps)
        h = h / tf.cast(np.sqrt(self._raw_energy), h.dtype)
        return tf.cast(h, self.cdtype)

    def kept_taps(self, full_taps):
        """The kept window ``[..., memory]`` of full taps ``[...,
        num_discrete_taps]`` (per frame or per symbol): what a perfect-CSI
        detector is handed."""
        return full_taps[..., self._start:self._start + self._memory]

    def draw_taps(self, batch_size, seed, num_symbols=None):
        """The taps a call with ``seed``, ``batch_size`` frames (and
        ``num_symbols`` symbols a frame) applies.

        Parameters
        ----------
        batch_size : int
        seed : None or int or [2] int
            The call's seed (its tap half is used).
        num_symbols : None or int
            ``T``, the frame length: required for continuous fading;
            ignored by block fading (so a link may always pass it).

        Output
        ------
        : ``(full_taps, kept_taps)``, tf.complex: ``[batch,
          num_discrete_taps]`` and ``[batch, memory]`` (block), ``[batch,
          T, num_discrete_taps]`` and ``[batch, T, memory]`` (continuous)
        """
        if not tf.is_tensor(batch_size):
            batch_size = check_int(batch_size, "batch_size")
        if num_symbols is None:
            if self._fading == "continuous":
                raise ValueError(
                    "`num_symbols` (T, the frame length) is required with "
                    "fading='continuous': the taps change every symbol.")
        elif not tf.is_tensor(num_symbols):
            num_symbols = check_int(num_symbols, "num_symbols")
        h = self._draw(batch_size, self.split_seed(seed)[0], num_symbols)
        return h, self.kept_taps(h)

    def _frames(self, x, name="x"):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 2:
            raise ValueError(f"`{name}` must be [batch, T], got shape "
                             f"{x.shape}.")
        return tf.cast(x, self.cdtype)

    def transmit(self, x, full_taps, no, *, seed=None):
        """``y`` for given taps: the channel of a call without its tap draw.

        Parameters
        ----------
        x : [batch, T], tf.complex
            Transmitted constellation points.
        full_taps : [batch, num_discrete_taps] or [batch, T,
            num_discrete_taps]
            All discrete taps, per frame or per symbol (``[:, k]`` for
            ``y[k]``), as :meth:`draw_taps` returns them (either form works
            with either fading).
        no : scalar or [batch], tf.float
            Noise variance (``w ~ CN(0, no)``).
        seed : None or int or [2] int
            Stateless seed of the noise (a call uses the second half of
            :meth:`split_seed`); None draws one from the operating system.

        Output
        ------
        y : [batch, T], tf.complex

        Example
        -------
        >>> import numpy as np
        >>> from channels import TDLChannel
        >>> ch = TDLChannel("A", delay_spread=100e-9, symbol_rate=10e6,
        ...                 carrier_frequency=3.5e9, memory=4)
        >>> x = np.ones((2, 50), np.complex64)
        >>> full, _ = ch.draw_taps(2, seed=[1, 2])
        >>> y = ch.transmit(x, full, 0.1, seed=ch.split_seed([1, 2])[1])
        >>> bool(np.all(y.numpy() == ch(x, 0.1, seed=[1, 2]).numpy()))
        True
        """
        x = self._frames(x)
        h = tf.cast(tf.convert_to_tensor(full_taps), self.cdtype)
        n = self.num_discrete_taps
        if h.shape.rank not in (2, 3) or h.shape[-1] != n or (
                h.shape.rank == 3 and None not in (h.shape[1], x.shape[1])
                and h.shape[1] != x.shape[1]):
            raise ValueError(
                f"`full_taps` must be [batch, {n}] (per frame) or [batch, "
                f"T, {n}] (per symbol) for `x` of shape "
                f"{x.shape.as_list()}, got {h.shape.as_list()}.")
        P = self._start
        pre = tf.cast(self._preamble_point, self.cdtype)
        post = tf.fill([tf.shape(x)[0], P], pre)
        if h.shape.rank == 3:
            # Output k + P of the extended frame is y[k]: its taps are those
            # of symbol k; the first P outputs are dropped.
            h = tf.pad(h, [[0, 0], [P, 0], [0, 0]])
        z = convolve_with_preamble(tf.concat([x, post], axis=1), h, pre)
        clean = z[:, P:P + tf.shape(x)[1]]
        no = tf.reshape(tf.cast(no, self.rdtype), [-1, 1])
        return clean + gaussian_noise(tf.shape(clean), no, self.cdtype,
                                      stateless_seed(seed))

    def estimate_taps(self, full_taps, no, num_pilots, *, seed=None):
        r"""Per-frame pilot-based CSI: least-squares kept taps and noise
        variance, as a receiver would measure them.

        For each frame, ``num_pilots`` i.i.d. uniform constellation points
        (preceded by the usual preamble, index 0, and followed by it for
        the precursors) pass through that frame's full taps
        (:meth:`transmit`; with per-symbol taps those of the frame's first
        symbol, ``full_taps[:, 0]``: a pilot block just before the data)
        plus ``CN(0, no)`` noise. The ``memory`` kept taps, aligned like
        kept tap 0, are the least-squares fit
        (:func:`channels.estimate_taps_ls`'s regression); the precursor
        taps and the taps outside the window are not fitted and act as
        interference on the pilots. The noise variance is estimated from
        the residual, ``no_hat = sum |y - X h_hat|^2 / (N - L)``: unbiased
        for ``no`` when the window holds every tap, and otherwise
        including the part of the residual taps' signal the kept taps do
        not explain (what a receiver measures).

        Parameters
        ----------
        full_taps : [batch, num_discrete_taps] or [batch, T,
            num_discrete_taps]
            The frames' taps (:meth:`draw_taps`, or a call's
            ``return_taps``).
        no : scalar or [batch], tf.float
            Noise variance of the pilot transmission.
        num_pilots : int
            ``N > memory`` (``N = memory`` fits the taps exactly and leaves
            nothing to estimate the noise from).
        seed : None or int or [2] int
            Stateless seed (split: pilots, noise); None draws one from the
            operating system.

        Output
        ------
        taps_hat : [batch, memory], tf.complex
        no_hat : [batch], tf.float

        Example
        -------
        >>> import numpy as np
        >>> from channels import TDLChannel
        >>> ch = TDLChannel("D", delay_spread=10e-9, symbol_rate=1e6,
        ...                 carrier_frequency=3.5e9, memory=None)
        >>> full, kept = ch.draw_taps(3, seed=1)
        >>> taps_hat, no_hat = ch.estimate_taps(full, 1e-6, 100, seed=2)
        >>> bool(np.max(np.abs(taps_hat.numpy() - kept.numpy())) < 0.01)
        True
        """
        L = self._memory
        num_pilots = check_int(num_pilots, "num_pilots")
        if num_pilots <= L:
            raise ValueError(
                f"`num_pilots` = {num_pilots} cannot estimate {L} taps and "
                f"the noise variance: least squares needs num_pilots > "
                f"memory = {L}.")
        s, y = self.pilot_frames(full_taps, no, num_pilots, seed=seed)
        points = constellation_points(self._constellation, self.rdtype)
        x = tf.cast(tf.gather(points, s), self.cdtype)
        y, regressors = _pilot_system(y, x, L, points[0], "y", "x")
        return _least_squares_with_noise(regressors, y)

    def pilot_frames(self, full_taps, no, num_pilots, *, seed=None):
        r"""Known pilots sent through each frame's channel just before the
        frame: what a receiver measures its CSI on, or trains on.

        ``num_pilots`` i.i.d. uniform constellation indices per frame
        (after the usual preamble, index 0) pass through that frame's full
        taps (:meth:`transmit`; with per-symbol taps those of the frame's
        first symbol, ``full_taps[:, 0]``) plus ``CN(0, no)`` noise. The
        same ``seed`` gives the same pilots and noise, so
        :meth:`estimate_taps` (which fits these) and a learned detector
        retrained on them (:class:`rxsim.Link`'s ``retrain_pilots``) see
        the same pilots.

        Parameters
        ----------
        full_taps : [batch, num_discrete_taps] or [batch, T,
            num_discrete_taps]
        no : scalar or [batch], tf.float
        num_pilots : int
        seed : None or int or [2] int
            Stateless seed (split: pilots, noise); None draws one.

        Output
        ------
        s : [batch, num_pilots], tf.int32, the pilot indices
        y : [batch, num_pilots], tf.complex, what was received
        """
        num_pilots = check_int(num_pilots, "num_pilots")
        h = tf.convert_to_tensor(full_taps)
        if h.shape.rank == 3:
            h = h[:, 0]
        batch = h.shape[0] if h.shape[0] is not None else tf.shape(h)[0]
        points = constellation_points(self._constellation, self.rdtype)
        s, x, noise_seed = _random_pilots(points, [batch, num_pilots],
                                          stateless_seed(seed), self.cdtype)
        return s, self.transmit(x, h, no, seed=noise_seed)

    def call(self, x, no, seed=None, return_taps=False):
        x = self._frames(x)
        batch_size = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
        num_symbols = x.shape[1] if x.shape[1] is not None \
            else tf.shape(x)[1]
        tap_seed, noise_seed = self.split_seed(seed)
        h = self._draw(batch_size, tap_seed, num_symbols)
        y = self.transmit(x, h, no, seed=noise_seed)
        if return_taps:
            return y, h, self.kept_taps(h)
        return y
