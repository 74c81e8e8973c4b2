r"""Poisson channel with memory: on-off keying over an optical or molecular
link (the Poisson channel of the ViterbiNet / BCJRNet papers)."""

import tensorflow as tf
from sionna.phy import config

from signals.checks import as_taps, is_eager
from signals.constellations import constellation_points, is_real
from signals.models import DARK_RATE, NO_FLOOR

from .base import TapChannel
from .isi import convolve_with_preamble

__all__ = ["PoissonChannel"]


class PoissonChannel(TapChannel):
    r"""Poisson channel with inter-symbol interference.

    ``y[k] ~ Poisson(lam[k])``, ``lam[k] = sqrt(rho) * sum_{l=0}^{L-1}
    h[l] x[k-l] + 1``, independent over ``k`` given ``x``, where the L-1
    symbols before the frame are the preamble (constellation index 0:
    "off" for on-off keying) and ``1`` is the dark-current rate
    (``signals.models.DARK_RATE``).

    **Noise-variance convention.** Like every rxsim channel it is called
    with ``no``; for the Poisson channel ``no = 1 / rho``, so that an SNR
    ``snr_db = 10 log10 rho`` gives the usual ``no = 10**(-snr_db/10)``,
    and ``lam = mu / sqrt(no) + 1``. The detectors of
    :mod:`detectors.poisson` (and ``likelihood="poisson"`` trellis
    detectors) use the same convention. A rate below zero (only possible
    with negative taps, e.g. perturbed taps of an imperfect-CSI training
    channel) is clipped to zero.

    Sampling uses ``tf.random.stateless_poisson``, which has no XLA
    kernel: a Monte Carlo link with this channel must run with
    ``xla=False`` (sweep configs with ``kind = "poisson"`` default to it).

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        Real channel taps, fixed or one row per frame (unnormalised, e.g.
        ``exp(-gamma l)``).
    constellation : str | Constellation
        Default ``"ook"`` (points ``[0, 1]``). Must be real with
        non-negative points (rates cannot be negative); only used for the
        preamble point.
    precision : None | "single" | "double"

    Input
    -----
    x : [batch, T], tf.float
        Transmitted constellation points (``0`` or ``1`` for OOK).
    no : scalar or [batch], tf.float
        ``1 / rho``, > 0.
    taps : None or [L] or [batch, L]
        Overrides the taps given at construction for this call (per-frame
        CSI models).
    seed : None or [2], tf.int32
        Stateless seed of the counts; ``None`` draws a seed from Sionna's
        global generator (``sionna.phy.config.tf_rng``).

    Output
    ------
    y : [batch, T], tf.float
        Counts (non-negative integers stored as floats).

    Example
    -------
    >>> import numpy as np
    >>> from channels import PoissonChannel
    >>> ch = PoissonChannel([1.0, 0.5])          # on-off keying
    >>> y = ch(np.array([[1.0, 0.0, 1.0, 1.0]]), 0.01, seed=[3, 4])
    >>> y.shape, bool(np.all(y.numpy() == np.round(y.numpy())))
    (TensorShape([1, 4]), True)
    >>> dark = ch(np.zeros((100, 100)), 0.01, seed=[5, 6]).numpy()
    >>> bool(abs(dark.mean() - 1.0) < 0.05)      # "off": the dark rate
    True
    """

    def __init__(self, taps, *, constellation="ook", precision=None,
                 **kwargs):
        super().__init__(taps, constellation=constellation,
                         precision=precision, **kwargs)
        if not is_real(self._constellation):
            raise ValueError("PoissonChannel needs a real constellation with "
                             "non-negative points, e.g. 'ook'; got a complex "
                             "one.")
        points = constellation_points(self._constellation, tf.float64)
        if float(tf.reduce_min(points)) < 0:
            raise ValueError(
                "PoissonChannel needs non-negative constellation points "
                "(intensities), e.g. 'ook'; got points "
                f"{points.numpy().tolist()}.")

    def _as_taps(self, taps, batch_size=None):
        taps = as_taps(taps, batch_size=batch_size)
        if taps.dtype.is_complex:
            raise TypeError("PoissonChannel needs real taps (intensities); "
                            "got complex taps.")
        return tf.cast(taps, self.rdtype)

    def rates(self, x, no, taps=None):
        """The rates ``lam`` ``[batch, T]`` of a call (no sampling)."""
        x, no, taps = self._inputs(x, no, taps)
        if x.dtype.is_complex:
            raise TypeError("PoissonChannel needs real `x` (intensities); "
                            "got complex points.")
        if is_eager(no) and float(tf.reduce_min(no)) <= 0:
            raise ValueError("`no` (= 1/rho for the Poisson channel) must be "
                             "> 0: rho = infinity has no Poisson counts.")
        x = tf.cast(x, self.rdtype)
        clean = convolve_with_preamble(x, taps, self._preamble_point)
        no = tf.reshape(tf.cast(no, self.rdtype), [-1, 1])
        scale = tf.math.rsqrt(tf.maximum(no, tf.cast(NO_FLOOR, self.rdtype)))
        return tf.maximum(scale * clean + DARK_RATE, 0.0)

    def call(self, x, no, taps=None, seed=None):
        lam = self.rates(x, no, taps)
        if seed is None:
            seed = config.tf_rng.uniform_full_int([2], tf.int32)
        return tf.random.stateless_poisson(tf.shape(lam), seed, lam,
                                           dtype=self.rdtype)
