r"""3GPP TDL channels (TR 38.901, Sionna's ``tr38901.TDL``) as discrete-time
ISI channels with block fading.

A frame of ``T`` symbols at rate ``W = symbol_rate`` passes through the
discrete complex-baseband channel of one TDL realisation: Sionna's
``TDL(model, delay_spread, carrier_frequency, min_speed=speed)`` draws the
path coefficients and delays (one time step per frame: block fading, taps
fixed within a frame and drawn anew for every frame), and
``cir_to_time_channel(W, a, tau, l_min, l_max)`` turns them into sinc
filtered taps ``h_l``, ``l = l_min .. l_max`` with ``(l_min, l_max) =
time_lag_discrete_time_channel(W)`` (``l_min = -6``, ``l_max =
ceil(3 us * W) + 6``): ``L_total = l_max - l_min + 1`` discrete taps.

Normalisation: Sionna's TDL normalises the path powers to
``sum_m P_m = 1``; the discrete channel's average tap powers are ``p_l =
sum_m P_m sinc^2(l - W tau_m)`` (paths are independent and zero-mean), and
``sum over all integers l`` of these is 1, but only ``[l_min, l_max]`` is
kept, so ``raw_energy = sum_{l_min}^{l_max} p_l`` is a little below 1
(about 0.98-0.99; the sinc tails outside the window are lost). The block
computes ``p_l`` with Sionna's own ``cir_to_time_channel`` (each path alone
with amplitude ``sqrt(P_m)``) and scales every tap by
``1 / sqrt(raw_energy)``, so the average channel energy ``sum_l E|h_l|^2``
is exactly 1 and ``no`` means what it says (SNR = 1 / no per complex
sample, Sionna's convention: ``no`` is the total complex noise variance).

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

    y[k] = \sum_{j=-P}^{J} g_j x[k - j] + w[k], \qquad g_j = h_{i_0 + j}

with ``P = i0`` precursor taps (``j < 0``, acting on future symbols) and
``J = L_total - 1 - i0``. Symbols outside the frame (before it, and after
it for the precursors) are the preamble point (constellation index 0), as
in :func:`channels.convolve_with_preamble`.
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
from signals.constellations import (constellation_name, constellation_points,
                                    is_real, make_constellation)
from signals.seeds import stateless_seed

from .isi import convolve_with_preamble
from .noise import gaussian_noise

__all__ = ["TDLChannel", "tdl_models"]


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


class TDLChannel(Block):
    r"""3GPP TDL channel (Sionna's ``tr38901.TDL``) as a block-fading ISI
    channel with AWGN (see the module doc for the normalisation, the kept
    window and the alignment).

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
        Symbol rate [Hz], > 0: the bandwidth of the discrete-time channel.
    carrier_frequency : float
        Carrier frequency [Hz], > 0.
    speed : float
        Speed [m/s], >= 0, passed to Sionna's TDL (``min_speed``). With
        block fading (one time step per frame) it does not change the
        taps' statistics.
    memory : None or int
        ``L``, the taps kept for the detector (1 .. ``num_discrete_taps``);
        None keeps all.
    constellation : str | Constellation
        Complex: "qpsk", "qamM" (the taps are complex, so ``y`` is; the
        detectors refuse complex taps with a real constellation, so
        BPSK/PAM/OOK raise ValueError).
    precision : None | "single" | "double"

    Input
    -----
    x : [batch, T], tf.complex
        Transmitted constellation points.
    no : scalar or [batch], tf.float
        Noise variance (total complex variance, ``w ~ CN(0, no)``).
    seed : None or int or [2], tf.int32
        Stateless seed of the frame's taps and noise (split in two: taps,
        noise); None draws one from the operating system.
    return_taps : bool
        Also return the frame's taps.

    Output
    ------
    y : [batch, T], tf.complex
    full_taps : [batch, num_discrete_taps], tf.complex
        Only with ``return_taps``: all discrete taps ``h_{l_min..l_max}``
        (normalised) the frame went through.
    kept_taps : [batch, memory], tf.complex
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
    """

    def __init__(self, model, *, delay_spread=None, symbol_rate,
                 carrier_frequency, speed=0.0, memory=None,
                 constellation="qpsk", precision=None, **kwargs):
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
        self._model = model
        self._delay_spread = check_nonnegative(delay_spread, "delay_spread")
        self._symbol_rate = check_positive(symbol_rate, "symbol_rate")
        self._carrier_frequency = check_positive(carrier_frequency,
                                                 "carrier_frequency")
        self._speed = check_nonnegative(speed, "speed")
        self._constellation = make_constellation(constellation)
        if is_real(self._constellation):
            raise ValueError(
                f"`constellation` must be complex (qpsk, qamM): TDL taps "
                f"are complex, got "
                f"{constellation_name(self._constellation)!r}.")
        self._preamble_point = constellation_points(
            self._constellation, tf.float64)[0]

        self._tdl = TDL(model, self._delay_spread, self._carrier_frequency,
                        min_speed=self._speed, precision="double")
        l_min, l_max = time_lag_discrete_time_channel(self._symbol_rate)
        self._l_min, self._l_max = int(l_min), int(l_max)
        n = self._l_max - self._l_min + 1
        self._rng = tf.random.Generator.from_seed(0)

        # Average power delay profile of the discrete channel with Sionna's
        # own sinc filter: each path alone with amplitude sqrt(P_m).
        powers = self._tdl.mean_powers.numpy()
        m = len(powers)
        a = np.zeros([m, 1, 1, 1, 1, m, 1], np.complex128)
        a[np.arange(m), 0, 0, 0, 0, np.arange(m), 0] = np.sqrt(powers)
        tau = np.tile(self._tdl.delays.numpy()[None, None, None, :],
                      [m, 1, 1, 1])
        h = cir_to_time_channel(self._symbol_rate, tf.constant(a),
                                tf.constant(tau), self._l_min, self._l_max)
        p = np.sum(np.abs(h.numpy().reshape(m, n)) ** 2, axis=0)
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
        """sionna.phy.mapping.Constellation"""
        return self._constellation

    def draw_key(self):
        """Equal keys give equal outputs for equal inputs, noise and seed
        (see :meth:`channels.base.TapChannel.draw_key`)."""
        return (type(self).__module__, type(self).__qualname__,
                self.rdtype.name, self._model, self._delay_spread,
                self._symbol_rate, self._carrier_frequency, self._speed,
                self._memory, complex(self._preamble_point.numpy()))

    # -- draws ---------------------------------------------------------------
    def _split(self, seed):
        seeds = tf.random.experimental.stateless_split(
            stateless_seed(seed), 2)
        return seeds[0], seeds[1]

    def _draw(self, batch_size, tap_seed):
        """Normalised discrete taps ``[batch, L_total]`` from a tap seed."""
        # Sionna's TDL draws from config.tf_rng; swap in this block's
        # generator, reset from the stateless seed, for the draw.
        s = tf.cast(tap_seed, tf.int64)
        key = s[0] * (2 ** 32) + tf.math.floormod(s[1], 2 ** 32)
        self._rng.reset(tf.stack([tf.constant(0, tf.int64),
                                  tf.constant(0, tf.int64), key]))
        saved = config._tf_rng   # pylint: disable=protected-access
        config._tf_rng = self._rng   # pylint: disable=protected-access
        try:
            a, tau = self._tdl(batch_size, 1, self._symbol_rate)
        finally:
            config._tf_rng = saved   # pylint: disable=protected-access
        h = cir_to_time_channel(self._symbol_rate, a, tau, self._l_min,
                                self._l_max)
        h = tf.reshape(h, [batch_size, self.num_discrete_taps])
        h = h / tf.cast(np.sqrt(self._raw_energy), h.dtype)
        return tf.cast(h, self.cdtype)

    def draw_taps(self, batch_size, seed):
        """The taps a call with ``seed`` and ``batch_size`` frames applies.

        Output
        ------
        : ``(full_taps [batch, num_discrete_taps], kept_taps [batch,
          memory])``, tf.complex
        """
        h = self._draw(batch_size, self._split(seed)[0])
        return h, h[:, self._start:self._start + self._memory]

    def call(self, x, no, seed=None, return_taps=False):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 2:
            raise ValueError(f"`x` must be [batch, T], got shape {x.shape}.")
        x = tf.cast(x, self.cdtype)
        batch_size = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
        tap_seed, noise_seed = self._split(seed)
        h = self._draw(batch_size, tap_seed)
        pre = tf.cast(self._preamble_point, self.cdtype)
        P = self._start
        post = tf.fill([tf.shape(x)[0], P], pre)
        z = convolve_with_preamble(tf.concat([x, post], axis=1), h, pre)
        clean = z[:, P:P + tf.shape(x)[1]]
        no = tf.reshape(tf.cast(no, self.rdtype), [-1, 1])
        y = clean + gaussian_noise(tf.shape(clean), no, self.cdtype,
                                   noise_seed)
        if return_taps:
            return y, h, h[:, P:P + self._memory]
        return y
