"""SionnaLMMSEDetector (Sionna's lmmse_equalizer on the frame's convolution
matrix) against an independent numpy closed form, our sliding-window
LMMSEDetector with a window over the whole frame, and a seeded SER.

The references build the frame matrix, the preamble's contribution and
Sionna's unbiased estimate with numpy from their definitions, not from
the detector's code.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from scipy.special import logsumexp

from detectors import LMMSEDetector, SionnaLMMSEDetector
from rxsim.registry import build_detector
from rxsim.stats import clopper_pearson_interval
from signals.constellations import make_constellation

B, T, L = 3, 12, 3


def sionna_points(constellation):
    """The points as Sionna's Constellation has them (index i <-> point i)."""
    pts = np.asarray(make_constellation(constellation, precision="double")
                     .points, np.complex128)
    return pts.real if constellation in ("bpsk", "pam4") else pts


def frame_taps(rng, complex_, batch=B, length=L):
    h = rng.standard_normal((batch, length))
    if complex_:
        h = h + 1j * rng.standard_normal((batch, length))
    return h / np.linalg.norm(h, axis=-1, keepdims=True)


def transmit(rng, pts, taps, no):
    """Frames through the ISI channel, numpy only: per-symbol taps ``[B, T,
    L]`` (``y[k] = sum_l taps[k, l] x[k - l]``), the preamble point before
    the frame, real N(0, no) or complex CN(0, no) noise."""
    batch, t, length = taps.shape
    s = rng.integers(0, len(pts), size=(batch, t))
    xp = np.concatenate([np.full((batch, length - 1), pts[0]), pts[s]], 1)
    y = sum(taps[:, :, l] * xp[:, length - 1 - l:length - 1 - l + t]
            for l in range(length))
    no = np.broadcast_to(no, (batch,))[:, None]
    if np.iscomplexobj(pts) or np.iscomplexobj(taps):
        w = np.sqrt(no / 2) * (rng.standard_normal(y.shape)
                               + 1j * rng.standard_normal(y.shape))
    else:
        w = np.sqrt(no) * rng.standard_normal(y.shape)
    return s, y + w


def reference(y, taps, no, pts):
    """Whole-frame LMMSE as Sionna's lmmse_equalizer defines it, in closed
    form: ``W = E_s H^H (E_s H H^H + no I)^{-1}``, biased ``W (y - known)``
    with ``mu = diag(W H)``, unbiased ``x_hat = m + W (y - known) / mu``,
    ``no_eff = E_s (1 - mu) / mu``; then the Gaussian symbol
    log-probabilities (real: ``-(x_hat - c)^2 / (2 no_eff)``, complex:
    ``-|x_hat - c|^2 / no_eff``). ``taps`` per symbol ``[B, T, L]``."""
    batch, t, length = taps.shape
    m = pts.mean()
    es = np.mean(np.abs(pts - m) ** 2)
    no = np.broadcast_to(no, (batch,))
    x_hat = np.zeros((batch, t), y.dtype)
    no_eff = np.zeros((batch, t))
    for b in range(batch):
        h = np.zeros((t, t), taps.dtype)
        known = np.zeros(t, np.result_type(taps, pts))
        for k in range(t):
            for l in range(length):
                if k - l >= 0:
                    h[k, k - l] = taps[b, k, l]
                    known[k] += taps[b, k, l] * m
                else:
                    known[k] += taps[b, k, l] * pts[0]     # preamble
        w = es * h.conj().T @ np.linalg.inv(
            es * h @ h.conj().T + no[b] * np.eye(t))
        mu = np.real(np.diag(w @ h))
        x_hat[b] = m + (w @ (y[b] - known)) / mu
        no_eff[b] = es * (1 - mu) / mu
    d2 = np.abs(x_hat[..., None] - pts) ** 2
    logits = -d2 / (no_eff[..., None] * (1 if np.iscomplexobj(pts) else 2))
    return x_hat, no_eff, logits - logsumexp(logits, -1, keepdims=True)


CASES = [("bpsk", False), ("pam4", False), ("qpsk", True)]


# -- (a) the closed form ------------------------------------------------

@pytest.mark.parametrize("constellation, complex_", CASES)
def test_estimates_equal_the_closed_form_with_per_frame_taps(constellation,
                                                             complex_):
    rng = np.random.default_rng(11)
    pts = sionna_points(constellation)
    h = frame_taps(rng, complex_)                           # [B, L]
    no = np.array([0.05, 0.2, 0.6])                         # per frame
    _, y = transmit(rng, pts, np.repeat(h[:, None], T, 1), no)
    ref_x, ref_no, ref_lp = reference(y, np.repeat(h[:, None], T, 1), no,
                                      pts)
    det = SionnaLMMSEDetector(h, constellation=constellation,
                              precision="double")
    x_hat, no_eff = det.equalize(y, no)
    assert x_hat.dtype == (tf.complex128 if complex_ else tf.float64)
    np.testing.assert_allclose(x_hat.numpy(), ref_x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(no_eff.numpy(), ref_no, rtol=1e-9)
    np.testing.assert_allclose(det(y, no).numpy(), ref_lp, rtol=1e-9,
                               atol=1e-9)
    hard = SionnaLMMSEDetector(h, constellation=constellation,
                               hard_out=True, precision="double")(y, no)
    np.testing.assert_array_equal(hard.numpy(), ref_lp.argmax(-1))


@pytest.mark.parametrize("constellation, complex_", CASES)
def test_single_precision_follows_the_closed_form(constellation, complex_):
    rng = np.random.default_rng(12)
    pts = sionna_points(constellation)
    h = frame_taps(rng, complex_, batch=1)[0]               # fixed [L]
    taps = np.broadcast_to(h, (B, T, L))
    _, y = transmit(rng, pts, taps, 0.1)
    ref_x, ref_no, _ = reference(y, taps, 0.1, pts)
    det = SionnaLMMSEDetector(h, constellation=constellation)
    x_hat, no_eff = det.equalize(y.astype(np.complex64 if complex_ else
                                          np.float32), 0.1)
    np.testing.assert_allclose(x_hat.numpy(), ref_x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(no_eff.numpy(), ref_no, rtol=1e-4)


@pytest.mark.parametrize("constellation, complex_", CASES)
def test_per_symbol_taps_equal_the_closed_form(constellation, complex_):
    rng = np.random.default_rng(13)
    pts = sionna_points(constellation)
    taps = frame_taps(rng, complex_, batch=B * T).reshape(B, T, L)
    _, y = transmit(rng, pts, taps, 0.2)
    ref_x, ref_no, ref_lp = reference(y, taps, 0.2, pts)
    det = SionnaLMMSEDetector(taps, constellation=constellation,
                              precision="double")
    x_hat, no_eff = det.equalize(y, 0.2)
    np.testing.assert_allclose(x_hat.numpy(), ref_x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(no_eff.numpy(), ref_no, rtol=1e-9)
    np.testing.assert_allclose(det(y, 0.2).numpy(), ref_lp, rtol=1e-9,
                               atol=1e-9)
    # Constant per-symbol taps are the per-frame taps.
    flat = SionnaLMMSEDetector(taps[:, 0], constellation=constellation,
                               precision="double")
    np.testing.assert_allclose(
        det(y, 0.2, taps=np.repeat(taps[:, :1], T, 1)).numpy(),
        flat(y, 0.2).numpy(), rtol=1e-12, atol=1e-12)


def test_preamble_enters_the_estimate():
    # A frame of the preamble point, noiseless: every estimate is that
    # point only if the symbols before the frame are taken as the preamble.
    det = SionnaLMMSEDetector([1.0, 0.8, 0.5], constellation="pam4",
                              precision="double")
    p0 = det.points.numpy()[0]
    y = np.full((1, 6), p0 * 2.3)
    x_hat, _ = det.equalize(y, 1e-9)
    np.testing.assert_allclose(x_hat.numpy(), p0, rtol=1e-6)


def test_real_noise_is_per_real_dimension():
    # Complex samples of BPSK are read as their real part at no / 2 (base
    # class): the same estimates and log-probabilities as real samples.
    rng = np.random.default_rng(14)
    h = np.array([1.0, 0.6, 0.3])
    _, y = transmit(rng, sionna_points("bpsk"), np.broadcast_to(h, (B, T, L)),
                    0.3)
    det = SionnaLMMSEDetector(h, precision="double")
    yc = y + 1j * rng.standard_normal(y.shape)
    np.testing.assert_allclose(det(yc, 0.6).numpy(), det(y, 0.3).numpy(),
                               rtol=1e-12, atol=1e-12)


# -- (b) our LMMSE with a window over the whole frame --------------------

@pytest.mark.parametrize("constellation, complex_", CASES)
def test_equals_sliding_window_lmmse_covering_the_frame(constellation,
                                                        complex_):
    # LMMSEDetector's window y[k-d1..k+d2] with d1 = d2 = T - 1 holds every
    # sample of the frame for every k (missing samples get zero weight), so
    # its estimate is the whole-frame LMMSE; its biased model mu (1 - mu) E_s
    # and Sionna's unbiased no_eff give the same log-probabilities.
    rng = np.random.default_rng(15)
    pts = sionna_points(constellation)
    h = frame_taps(rng, complex_)
    no = np.array([0.1, 0.3, 0.5])
    _, y = transmit(rng, pts, np.repeat(h[:, None], T, 1), no)
    ours = SionnaLMMSEDetector(h, constellation=constellation,
                               precision="double")
    full = LMMSEDetector(h, constellation=constellation, window=2 * T - 1,
                         delay=T - 1, precision="double")
    np.testing.assert_allclose(ours(y, no).numpy(), full(y, no).numpy(),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.bit_llrs(y, no).numpy(),
                               full.bit_llrs(y, no).numpy(),
                               rtol=1e-9, atol=1e-9)
    # The default window (4L - 3 = 9 < 2T - 1) is not the whole frame: the
    # agreement above is the window's doing.
    short = LMMSEDetector(h, constellation=constellation, precision="double")
    assert np.max(np.abs(short(y, no).numpy() - ours(y, no).numpy())) > 1e-6


# -- (c) symbol error rate ---------------------------------------------

def test_ser_at_high_snr_on_a_mild_channel():
    # QPSK over complex taps [1, 0.3j, 0.1] (normalised) at SNR 8 dB,
    # 20000 symbols: the Gaussian model x_hat = x + CN(0, no_eff) predicts
    # SER_k = 1 - (1 - Q(1 / sqrt(no_eff_k)))^2 (2.1e-2); the residual ISI
    # is small on this channel, so the prediction must lie in the count's
    # 99.9 % Clopper-Pearson interval (seeds 16-18 gave 417, 423, 452).
    rng = np.random.default_rng(16)
    h = np.array([1.0, 0.3j, 0.1])
    h = h / np.linalg.norm(h)
    pts = sionna_points("qpsk")
    no = 10 ** (-8 / 10)
    frames, t = 100, 200
    s, y = transmit(rng, pts, np.broadcast_to(h, (frames, t, 3)), no)
    det = SionnaLMMSEDetector(h, constellation="qpsk")
    hard = SionnaLMMSEDetector(h, constellation="qpsk", hard_out=True)(
        y.astype(np.complex64), no).numpy()
    _, no_eff = det.equalize(y.astype(np.complex64), no)
    q = stats.norm.sf(1 / np.sqrt(no_eff.numpy().astype(np.float64)))
    predicted = np.mean(1 - (1 - q) ** 2)
    errors = int(np.sum(hard != s))
    lo, hi = clopper_pearson_interval(errors, s.size, confidence=0.999)
    assert 50 < errors < 2000                 # the test can see an error rate
    assert lo <= predicted <= hi, (errors / s.size, predicted)


# -- (d) refused inputs -------------------------------------------------

def test_long_frames_are_refused_naming_the_frame_length():
    det = SionnaLMMSEDetector([1.0, 0.5])
    limit = SionnaLMMSEDetector.MAX_FRAME_LENGTH
    assert limit == 2048
    with pytest.raises(ValueError, match=f"frame length T = {limit + 1}"):
        det(np.zeros((1, limit + 1), np.float32), 0.1)


def test_unknown_frame_length_is_refused():
    det = SionnaLMMSEDetector([1.0, 0.5])
    f = tf.function(lambda y: det(y, 0.1),
                    input_signature=[tf.TensorSpec([1, None], tf.float32)])
    with pytest.raises(ValueError, match="frame length T of `y`"):
        f(tf.zeros([1, 4]))


def test_prior_is_refused_with_the_reason():
    det = SionnaLMMSEDetector([1.0, 0.5])
    y = np.zeros((1, 4), np.float32)
    for call in (lambda: det(y, 0.1, prior=np.zeros((1, 4))),
                 lambda: det.bit_llrs(y, 0.1, prior=np.zeros((1, 4)))):
        with pytest.raises(TypeError, match="does not take a `prior`.*"
                                            "lmmse_equalizer"):
            call()
    assert SionnaLMMSEDetector.takes_prior is False


def test_complex_taps_with_a_real_constellation_are_refused():
    with pytest.raises(TypeError, match="`taps` are complex"):
        SionnaLMMSEDetector([1.0, 0.5j])


# -- compiled links ------------------------------------------------------

def test_xla_compiled_call_equals_eager():
    rng = np.random.default_rng(17)
    h = frame_taps(rng, True)
    _, y = transmit(rng, sionna_points("qpsk"),
                    np.repeat(h[:, None], 16, 1), 0.2)
    y = y.astype(np.complex64)
    det = SionnaLMMSEDetector(h[0], constellation="qpsk")
    f = tf.function(lambda y, t: det(y, 0.2, taps=t), jit_compile=True)
    np.testing.assert_allclose(f(y, h.astype(np.complex64)).numpy(),
                               det(y, 0.2, taps=h).numpy(),
                               rtol=1e-4, atol=1e-4)


# -- (e) registry ------------------------------------------------------

def test_registry_builds_it():
    h = [1.0, 0.4j, 0.2]
    det = build_detector("sionna-lmmse", h, "qpsk")
    assert isinstance(det, SionnaLMMSEDetector)
    assert det.constellation.num_points == 4
    np.testing.assert_allclose(det.taps.numpy(), np.asarray(h, np.complex64))
    build_detector("sionna-lmmse", h, "qpsk", {"train_seed": 2})
    with pytest.raises(ValueError, match="unknown option 'window'"):
        build_detector("sionna-lmmse", h, "qpsk", {"window": 5})
