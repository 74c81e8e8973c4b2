"""channels.TDLChannel beyond block fading: continuous (within-frame)
fading, speed ranges, real constellations embedded in the complex plane,
transmit / split_seed and the per-frame pilot CSI of estimate_taps.

Statistical bounds are Z = 5 standard errors of an estimated mean, the
standard error taken from the spread of independent frames (frames are
independent draws; symbols within a frame are not); every draw is seeded.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import j0
from sionna.phy.channel import cir_to_time_channel
from sionna.phy.mapping import Demapper, Mapper

from channels import TDLChannel
from detectors import BCJRDetector, LMMSEDetector
from signals.constellations import (complex_baseband, constellation_name,
                                    constellation_points, is_real,
                                    make_constellation)

Z = 5.0
W = 10e6
FC = 3.5e9
DS = 100e-9
C = 299792458.0       # speed of light [m/s], Sionna's SPEED_OF_LIGHT


def make(model="A", **kw):
    kw.setdefault("delay_spread", DS if len(model) == 1 else None)
    kw.setdefault("symbol_rate", W)
    kw.setdefault("carrier_frequency", FC)
    return TDLChannel(model, **kw)


def frames(constellation, batch, T, seed):
    pts = constellation_points(complex_baseband(constellation),
                               tf.complex128).numpy()
    s = np.random.default_rng(seed).integers(0, len(pts), (batch, T))
    return s, pts[s].astype(np.complex64), pts


def numpy_tdl(x, full, i0, preamble):
    """``y[k] = sum_i h_i[k] x[k + i0 - i]`` (``full`` [B, T, n] or
    [B, n]); symbols outside the frame the preamble point."""
    B, T = x.shape
    if full.ndim == 2:
        full = np.repeat(full[:, None], T, axis=1)
    n = full.shape[-1]
    xe = np.concatenate([np.full((B, n), preamble), x,
                         np.full((B, n), preamble)], axis=1)
    y = np.zeros((B, T), np.complex128)
    for i in range(n):
        y += full[:, :, i] * xe[:, n + i0 - i:n + i0 - i + T]
    return y


def mean_se(v, axis=0):
    """Mean and its standard error over independent rows."""
    v = np.asarray(v)
    return v.mean(axis), v.std(axis) / np.sqrt(v.shape[axis])


# -- configuration ------------------------------------------------------------

def test_properties_and_keys():
    """Bug caught: fading or the speed range missing from draw_key (two
    channels with different draws sharing a key)."""
    block, cont = make(), make(fading="continuous")
    assert block.fading == "block" and cont.fading == "continuous"
    assert block.speed == 0.0
    assert make(speed=(1.0, 5.0)).speed == (1.0, 5.0)
    keys = {make(**kw).draw_key() for kw in [
        {}, {"fading": "continuous"}, {"speed": 3.0},
        {"speed": (3.0, 5.0)}, {"speed": (3.0, 5.0), "fading": "continuous"}]}
    assert len(keys) == 5
    # (v, v) is the float v: same draws, same key
    assert make(speed=(3.0, 3.0)).draw_key() == make(speed=3.0).draw_key()


def test_block_fading_ignores_speed():
    """Bug caught: block fading taps depending on the speed (the module
    doc says they do not: one time step at t = 0)."""
    ref, _ = make("D", speed=0.0).draw_taps(20, seed=4)
    for speed in (30.0, (10.0, 500.0)):
        full, _ = make("D", speed=speed).draw_taps(20, seed=4)
        np.testing.assert_array_equal(full, ref)


@pytest.mark.parametrize("fading", ["block", "continuous"])
def test_speed_pair_equal_ends_is_the_float(fading):
    """Bug caught: a pair (v, v) not drawing what the float v draws."""
    a, _ = make(speed=(40.0, 40.0), fading=fading).draw_taps(
        4, seed=2, num_symbols=30)
    b, _ = make(speed=40.0, fading=fading).draw_taps(4, seed=2,
                                                     num_symbols=30)
    np.testing.assert_array_equal(a, b)


# -- applying the taps --------------------------------------------------------

@pytest.mark.parametrize("model,memory,constellation,fading", [
    ("A", 3, "qpsk", "block"), ("A", 3, "qpsk", "continuous"),
    ("C", 4, "qam16", "continuous"), ("D", 1, "bpsk", "continuous"),
    ("B", 2, "pam4", "block")])
def test_applies_taps_per_symbol_aligned(model, memory, constellation,
                                         fading):
    """Bug caught: per-symbol taps applied to the wrong symbol (off by the
    precursor delay), taps varying within a block-fading frame, the kept
    window of per-symbol taps not the window of each symbol's taps."""
    # a fast channel so that taps change visibly within 60 symbols
    ch = make(model, memory=memory, constellation=constellation,
              fading=fading, speed=3000.0)
    _, x, pts = frames(constellation, 3, 60, 1)
    y, full, kept = ch(x, 0.0, seed=[2, 3], return_taps=True)
    T, n = 60, ch.num_discrete_taps
    assert full.shape == ([3, T, n] if fading == "continuous" else [3, n])
    i0 = ch.window_start
    np.testing.assert_array_equal(kept, full.numpy()[..., i0:i0 + memory])
    ref = numpy_tdl(x.astype(np.complex128), full.numpy(), i0, pts[0])
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-5)
    if fading == "continuous":
        h = full.numpy()
        assert np.max(np.abs(h[:, -1] - h[:, 0])) > 0.05   # taps vary
        # ... and the frame is not the per-frame convolution of any one
        # symbol's taps
        frozen = numpy_tdl(x.astype(np.complex128), h[:, 0], i0, pts[0])
        assert np.max(np.abs(y.numpy() - frozen)) > 1e-2


def test_continuous_taps_are_sionnas_cir():
    """Bug caught: the path filter of continuous fading not Sionna's
    cir_to_time_channel of the (a, tau) its TDL drew over T steps at
    sampling_frequency = symbol_rate (wrong steps, rate, normalisation)."""
    ch = make("A", fading="continuous", speed=300.0)
    drawn = []
    real_tdl = ch._tdl                      # pylint: disable=protected-access

    def recording(*args):
        drawn.append(args)
        out = real_tdl(*args)
        drawn.append(out)
        return out
    ch._tdl = recording                     # pylint: disable=protected-access
    full, _ = ch.draw_taps(6, seed=1, num_symbols=25)
    (batch, steps, rate), (a, tau) = drawn
    assert (batch, steps, rate) == (6, 25, W)
    l_min, l_max = ch.lags
    h = cir_to_time_channel(W, a, tau, l_min, l_max).numpy()
    h = h.reshape(6, 25, -1) / np.sqrt(ch.raw_energy)
    np.testing.assert_allclose(full.numpy(), h, rtol=1e-5, atol=1e-6)


# -- statistics of continuous fading -----------------------------------------

def _jakes(ch, w, speed, lags, batch=2000, T=40, seed=5):
    """Measured ``R(d) = sum_l E[h_l[k + d] h_l[k]^*]`` per frame, and
    its expectation.

    Sionna's sum of N sinusoids: ``h(t) = N^-1/2 sum_n exp(j (w_D t
    cos(alpha_n) + phi_n))``, ``alpha_n = 2 pi n / N + theta_n``,
    ``theta_n ~ U(-pi/N, pi/N)``, ``phi_n ~ U(-pi, pi)``, all independent.
    The cross terms vanish with the independent phases and the N sectors
    of alpha_n tile the circle uniformly, so ``E[h(t + tau) h(t)^*] =
    (1/2pi) int exp(j w_D tau cos a) da = J0(2 pi f_D tau)`` exactly, for
    any N (N shows only in the spread of one frame's estimate, which the
    standard error measures). Every Rayleigh path has it, the sinc filter
    is linear and ``sum_l p_l = 1``: ``R(d) = J0(2 pi f_D d / W)``, and
    with the speed uniform on a range its average over ``f_D``.
    """
    full, _ = ch.draw_taps(batch, seed=seed, num_symbols=T)
    h = full.numpy().astype(np.complex128)
    lo, hi = (speed, speed) if np.isscalar(speed) else speed
    speeds = np.linspace(lo, hi, 2001)
    out = []
    for d in lags:
        per_frame = np.mean(np.sum(h[:, d:] * np.conj(h[:, :T - d]), -1), 1)
        f_d = speeds * FC / C
        expected = np.mean(j0(2 * np.pi * f_d * d / w)) if hi == lo else \
            np.trapezoid(j0(2 * np.pi * f_d * d / w), f_d) / (f_d[-1] -
                                                              f_d[0])
        out.append((per_frame, expected))
    return out


@pytest.mark.parametrize("speed", [300.0, (100.0, 500.0)])
def test_continuous_autocorrelation_is_jakes(speed):
    """Bug caught: Doppler wrong (speed, carrier or sampling frequency
    mixed up), taps constant or white within a frame, the speed range not
    passed on. TDL-A (NLoS: a LoS tap adds a specular line, Sionna's
    ``los_angle_of_arrival``, not J0) at 100 kHz, where 300 m/s at
    3.5 GHz (f_D = 3.5 kHz) puts J0's first zero near 11 symbols."""
    ch = make("A", symbol_rate=1e5, fading="continuous", speed=speed)
    lags = [0, 1, 5, 11, 20, 30]
    for d, (per_frame, expected) in zip(lags, _jakes(ch, 1e5, speed, lags)):
        m_re, se_re = mean_se(per_frame.real)
        assert abs(m_re - expected) < Z * se_re, (d, m_re, expected, se_re)
        if d:
            m_im, se_im = mean_se(per_frame.imag)
            assert abs(m_im) < Z * se_im, (d, m_im, se_im)
    # discriminating: J0 at 5 symbols is 0.72 at 300 m/s, 0.11 at 600
    assert abs(_jakes(ch, 1e5, speed, [5], batch=1)[0][1] -
               j0(2 * np.pi * 2 * 3502.0 * 5 / 1e5)) > 0.3


@pytest.mark.parametrize("model", ["A", "D"])
def test_continuous_unit_energy(model):
    """Bug caught: continuous taps not normalised like block ones (every
    symbol's average channel energy is 1, LoS or not)."""
    ch = make(model, fading="continuous", speed=1000.0)
    full, _ = ch.draw_taps(1000, seed=8, num_symbols=20)
    e = np.sum(np.abs(full.numpy().astype(np.complex128)) ** 2, -1)
    for k in (0, 19):                    # first and last symbol
        m, se = mean_se(e[:, k])
        assert abs(m - 1.0) < Z * se
    m, se = mean_se(e.mean(1))
    assert abs(m - 1.0) < Z * se


def test_continuous_frames_independent():
    """Bug caught: one draw shared by the frames of a batch."""
    ch = make("A", fading="continuous", speed=30.0)
    full, _ = ch.draw_taps(2000, seed=9, num_symbols=4)
    i = int(np.argmax(ch.average_tap_powers))
    h = full.numpy().astype(np.complex128)[:, 0, i]
    a, b = h[:-1], h[1:]
    r = np.vdot(b, a) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)
    assert abs(r) < Z / np.sqrt(len(a))


# -- transmit, seeds ----------------------------------------------------------

@pytest.mark.parametrize("fading", ["block", "continuous"])
@pytest.mark.parametrize("seed", [[5, 6], 123456789])
def test_call_is_draw_then_transmit(fading, seed):
    """Bug caught: the call's taps or noise not those of draw_taps /
    transmit with the split seed (a link could not reproduce a frame)."""
    ch = make("C", memory=4, fading=fading, speed=100.0)
    _, x, _ = frames("qpsk", 3, 40, 0)
    no = np.array([0.1, 0.2, 0.3])
    y, full, kept = ch(x, no, seed=seed, return_taps=True)
    f2, k2 = ch.draw_taps(3, seed, num_symbols=40)
    np.testing.assert_array_equal(full, f2)
    np.testing.assert_array_equal(kept, k2)
    tap_seed, noise_seed = ch.split_seed(seed)
    y2 = ch.transmit(x, f2, no, seed=noise_seed)
    np.testing.assert_array_equal(y, y2)
    assert tap_seed.dtype == tf.int32
    # the noise is CN(0, no) from the noise seed alone
    assert not np.array_equal(y, ch.transmit(x, f2, no, seed=tap_seed))
    compiled = tf.function(lambda s: ch(x, no, seed=s))
    np.testing.assert_allclose(compiled(tf.constant([5, 6])),
                               ch(x, no, seed=[5, 6]), atol=1e-5)


def test_transmit_per_frame_taps_on_continuous_channel():
    """Per-frame taps are per-symbol taps repeated over the frame."""
    ch = make("A", memory=3, fading="continuous")
    full, _ = make("A", memory=3).draw_taps(2, seed=1)
    _, x, _ = frames("qpsk", 2, 30, 3)
    rep = tf.repeat(full[:, None], 30, axis=1)
    np.testing.assert_allclose(ch.transmit(x, full, 0.0, seed=1),
                               ch.transmit(x, rep, 0.0, seed=1), atol=1e-6)


def test_bad_calls():
    ch = make("A", memory=3, fading="continuous")
    with pytest.raises(ValueError, match="`num_symbols`"):
        ch.draw_taps(2, seed=1)
    _, x, _ = frames("qpsk", 2, 30, 3)
    full, _ = ch.draw_taps(2, seed=1, num_symbols=30)
    with pytest.raises(ValueError, match="`full_taps`"):
        ch.transmit(x, full[..., :5], 0.1)
    with pytest.raises(ValueError, match="`full_taps`"):
        ch.transmit(x, full[:, :10], 0.1)           # 10 symbols, not 30
    with pytest.raises(ValueError, match="`num_pilots`"):
        ch.estimate_taps(full, 0.1, 3)              # = memory
    with pytest.raises(ValueError, match="`num_pilots`"):
        ch.estimate_taps(full, 0.1, 2)
    # block fading ignores num_symbols (a link may always pass it)
    assert make("A").draw_taps(2, seed=1, num_symbols=30)[0].shape == \
        [2, 43]


# -- pilot-based CSI ----------------------------------------------------------

# 100 kHz: 14 discrete taps; memory None keeps them all (window_start 0)
SLOW = {"symbol_rate": 1e5, "memory": None}


@pytest.mark.parametrize("fading", ["block", "continuous"])
def test_estimate_taps_high_snr(fading):
    """Bug caught: pilots through other taps than the frame's (or its
    first symbol's), misaligned regressors, a wrong pilot alphabet."""
    ch = make("A", memory=4, fading=fading, speed=3000.0)
    assert ch.residual_energy > 0.05           # the taps outside matter
    full, kept = ch.draw_taps(50, seed=1, num_symbols=20)
    first = full.numpy()[:, 0] if fading == "continuous" else full.numpy()
    # noiseless: the pilots see exactly the residual taps, which then are
    # the only error; with all taps kept the estimate is exact
    every = make("A", memory=None, fading=fading, speed=3000.0)
    h_all, no_all = every.estimate_taps(full, 1e-8, 200, seed=2)
    np.testing.assert_allclose(h_all, first, atol=2e-3)
    assert np.all(no_all.numpy() < 1e-6)
    h_hat, no_hat = ch.estimate_taps(full, 1e-8, 200, seed=2)
    assert h_hat.shape == [50, 4] and no_hat.shape == [50]
    err = np.abs(h_hat.numpy() - first[:, ch.window_start:
                                      ch.window_start + 4]) ** 2
    assert np.mean(np.sum(err, 1)) < 0.2 * ch.residual_energy
    assert kept.shape[-1] == 4


def test_estimate_taps_unbiased_and_noise_variance():
    """Bug caught: biased taps (e.g. pilots and regressors shifted),
    no_hat with the wrong degrees of freedom or the real/complex variance
    confused. All taps kept: LS is unbiased with E[no_hat] = no."""
    ch = make("A", **SLOW)
    n, no, N = 2000, 0.2, 40
    full, kept = ch.draw_taps(n, seed=3)
    h_hat, no_hat = ch.estimate_taps(full, no, N, seed=4)
    e = (h_hat.numpy() - kept.numpy()).astype(np.complex128)
    for part in (e.real, e.imag):
        m, se = mean_se(part)
        assert np.all(np.abs(m) < Z * se)
    m, se = mean_se(no_hat.numpy())
    assert abs(m - no) < Z * se, (m, se)
    # DoF: N - 1 instead of N - L would be off by a factor (N-L)/(N-1)
    assert abs(no * (N - 14) / (N - 1) - no) > Z * se


def test_estimate_noise_includes_residual_taps():
    """Bug caught: residual taps not applied to the pilots, or no_hat not
    the residual power. Same seed, so the same pilots and noise stream:
    given the taps and pilots, E_w[no_hat(no)] = no_hat(0) + no, where
    no_hat(0) is the residual taps' power the window cannot explain."""
    ch = make("C", memory=3)
    n, no = 2000, 0.05
    full, _ = ch.draw_taps(n, seed=5)
    _, base = ch.estimate_taps(full, 0.0, 64, seed=6)
    _, noisy = ch.estimate_taps(full, no, 64, seed=6)
    m, se = mean_se(noisy.numpy().astype(np.float64) - base.numpy())
    assert abs(m - no) < Z * se, (m, se)
    # the residual taps reach the pilots: with i.i.d. unit-power pilots
    # no_hat(0) is about the residual energy (not exactly: the preamble
    # edges and the projection), far from 0
    assert 0.5 * ch.residual_energy < base.numpy().mean() < \
        1.5 * ch.residual_energy


# -- real constellations -----------------------------------------------------

@pytest.mark.parametrize("name", ["bpsk", "pam4", "pam8"])
def test_complex_baseband(name):
    """Bug caught: points, index order or bit labels of the embedding not
    the PAM's; the embedding taken for real."""
    real = make_constellation(name)
    c = complex_baseband(name)
    assert is_real(real) and not is_real(c)
    assert constellation_name(c) == name
    np.testing.assert_array_equal(c.points.numpy(), real.points.numpy())
    assert complex_baseband(c) is c and complex_baseband("qam16") \
        .constellation_type == "qam"
    # a custom constellation with other points is not named a PAM
    other = make_constellation("qpsk")
    assert constellation_name(complex_baseband(other)) == "qam4"
    # Sionna's Mapper / Demapper: same points per bit label as the PAM
    bits = tf.constant(np.random.default_rng(0).integers(
        0, 2, (4, 60 * real.num_bits_per_symbol)), tf.float32)
    xc = Mapper(constellation=c)(bits)
    xr = Mapper(constellation=real)(bits)
    assert xc.dtype.is_complex
    np.testing.assert_array_equal(xc.numpy(), xr.numpy())
    llr = Demapper("app", constellation=c)(xc, tf.constant(1e-3))
    # Sionna's LLR: log p(b=1)/p(b=0), so bit 1 <-> positive
    np.testing.assert_array_equal((llr.numpy() > 0).astype(np.float32),
                                  bits.numpy())
    ch = make(constellation=name)
    assert ch.constellation.constellation_type == "custom"
    assert constellation_name(ch.constellation) == name


@pytest.mark.parametrize("fading", ["block", "continuous"])
def test_bpsk_detected_through_tdl(fading):
    """Bug caught: BPSK samples treated as real (the imaginary part, where
    complex taps put half the signal, dropped) or the embedding's labels
    wrong. Kept window of 3 taps holding all energy (the taps outside set
    to 0), 40 dB, perfect kept taps: BCJR (per-frame or per-symbol taps)
    and LMMSE (per frame) detect nearly every symbol; Rayleigh deep fades
    leave about 1 / (4 SNR) = 2.5e-5 for BCJR."""
    c = complex_baseband("bpsk")
    ch = make("A", symbol_rate=1e6, memory=3, constellation="bpsk",
              fading=fading, speed=30.0)
    B, T, no = 100, 100, 1e-4
    s, x, _ = frames("bpsk", B, T, 0)
    full, kept = ch.draw_taps(B, 1, num_symbols=T)
    i0 = ch.window_start
    mask = np.zeros(ch.num_discrete_taps, np.float32)
    mask[i0:i0 + 3] = 1
    y = ch.transmit(x, full * mask, no, seed=2)
    assert np.mean(np.abs(y.numpy().imag)) > 0.3       # really complex
    dets = [BCJRDetector(kept, constellation=c, hard_out=True)]
    if fading == "block":
        dets.append(LMMSEDetector(kept, constellation=c, hard_out=True))
    for det, bound in zip(dets, (2e-3, 2e-2)):
        ser = np.mean(det(y, no).numpy() != s)
        assert ser < bound, (type(det).__name__, ser)
    # real BPSK cannot take these taps: why the embedding exists
    with pytest.raises(TypeError):
        BCJRDetector(kept, constellation="bpsk")
