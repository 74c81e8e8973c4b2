"""LMMSEDetector against brute-force numpy LMMSE, closed-form MSEs and
the exact AWGN posterior.

Statistical checks use fixed seeds and bounds of 4 standard errors (about
6e-5 two-sided for a normal statistic), estimated from independent frames.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, stats

from channels import exponential_taps
from detectors import SymbolwiseDetector
from detectors.lmmse import LMMSEDetector

Z = 4.0
QPSK_0 = (1 + 1j) / np.sqrt(2)          # Sionna qam 2 bits, index 0


# -- independent references ---------------------------------------------

def block_lmmse(y, h, no, k, d1, d2, preamble=1.0):
    """LMMSE of x[k] from the available samples y[k-d1..k+d2] of a frame,
    built from the full T x T convolution matrix (no edge classes).
    Zero-mean unit-energy symbols. Returns (x_hat, mu)."""
    T, L = len(y), len(h)
    G = np.zeros((T, T), dtype=np.result_type(h, float))
    for n in range(T):
        for l in range(min(L, n + 1)):
            G[n, n - l] = h[l]
    known = np.array([preamble * np.sum(h[n + 1:]) for n in range(T)])
    rows = [n for n in range(k - d1, k + d2 + 1) if 0 <= n < T]
    g = G[rows]
    cov = g @ g.conj().T + no * np.eye(len(rows))
    w = np.linalg.solve(cov, g[:, k])
    return w.conj() @ (y[rows] - known[rows]), np.real(w.conj() @ g[:, k])


def interior_mmse(h, no, window, delay):
    """Closed-form MMSE ``Es - Es^2 h_d^H (Es H H^H + no I)^{-1} h_d``,
    Es = 1, away from the frame edges."""
    L = len(h)
    d1 = window - 1 - delay
    H = np.zeros((window, window + L - 1), dtype=np.result_type(h, float))
    for j in range(window):
        for l in range(L):
            H[j, j + L - 1 - l] = h[l]
    hd = H[:, d1 + L - 1]
    return 1.0 - np.real(hd.conj() @ np.linalg.solve(
        H @ H.conj().T + no * np.eye(window), hd))


def simulate(h, no, batch, T, complex_, seed):
    """Frames through the ISI channel with numpy (independent of TF)."""
    rng = np.random.default_rng(seed)
    L = len(h)
    if complex_:
        s = rng.integers(0, 4, size=(batch, T))
        # Sionna qam: bit 0 of the label -> real sign, bit 1 -> imag sign.
        x = ((1 - 2 * (s >> 1)) + 1j * (1 - 2 * (s & 1))) / np.sqrt(2)
        pre = QPSK_0
        w = np.sqrt(no / 2) * (rng.standard_normal((batch, T))
                               + 1j * rng.standard_normal((batch, T)))
    else:
        s = rng.integers(0, 2, size=(batch, T))
        x = 1.0 - 2.0 * s
        pre = 1.0
        w = np.sqrt(no) * rng.standard_normal((batch, T))
    xp = np.concatenate([np.full((batch, L - 1), pre), x], axis=1)
    y = sum(h[l] * xp[:, L - 1 - l:L - 1 - l + T] for l in range(L)) + w
    return s, x, y


def test_qpsk_reference_mapping_matches_sionna():
    det = LMMSEDetector([1.0], constellation="qpsk", precision="double")
    s = np.arange(4)
    x = ((1 - 2 * (s >> 1)) + 1j * (1 - 2 * (s & 1))) / np.sqrt(2)
    np.testing.assert_allclose(det._points.numpy(), x, atol=1e-7)


# -- exact agreement with the brute-force equalizer ---------------------

@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("h, window, delay, T", [
    ([1.0, 0.6, 0.3, 0.1], 7, 4, 12),      # both edges, interior
    ([1.0, 0.6, 0.3, 0.1], 7, 4, 3),       # frame shorter than the window
    ([0.9, -0.4], 3, 0, 6),                 # causal window
    ([0.3, 1.0, 0.5], 5, 4, 9),             # anticausal-heavy window
    ([1.0, 0.5, 0.2], None, None, 1),       # a single symbol
])
def test_estimates_match_block_lmmse_at_every_position(h, window, delay, T,
                                                      complex_):
    rng = np.random.default_rng(7)
    h = np.asarray(h, dtype=float)
    if complex_:
        h = h * np.exp(1j * rng.uniform(0, 2 * np.pi, len(h)))
    det = LMMSEDetector(h, constellation="qpsk" if complex_ else None,
                        window=window, delay=delay, precision="double")
    d2 = det.delay
    d1 = det.window - 1 - d2
    _, _, y = simulate(h, 0.3, 1, T, complex_, seed=1)
    no = np.float64(0.3)
    x_hat, mu, var = det.equalize(y, no)
    ref = np.array([block_lmmse(y[0], h, no, k, d1, d2,
                                QPSK_0 if complex_ else 1.0)
                    for k in range(T)])
    np.testing.assert_allclose(x_hat.numpy()[0], ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(mu.numpy()[0], ref[:, 1].real, atol=1e-12)
    np.testing.assert_allclose(var.numpy()[0],
                               ref[:, 1].real * (1 - ref[:, 1].real),
                               atol=1e-12)


def test_dynamic_frame_length_matches_static():
    h = np.array([1.0, 0.5, 0.2])
    det = LMMSEDetector(h, window=6, delay=3, precision="double")
    f = tf.function(lambda y, no: det._equalize(y, no, det.taps),
                    input_signature=[
                        tf.TensorSpec([None, None], tf.float64),
                        tf.TensorSpec([], tf.float64)])
    for T in (2, 11):
        _, _, y = simulate(h, 0.2, 3, T, False, seed=T)
        eager = det.equalize(y, np.float64(0.2))
        traced = f(tf.constant(y), tf.constant(0.2, tf.float64))
        for a, b in zip(eager, traced):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_one_tap_is_the_scalar_mmse_and_the_exact_posterior():
    h0, no = 0.8, 0.3
    y = np.array([[-1.3, -0.2, 0.0, 0.4, 2.5]])
    # numpy taps: a Python list would become float32 first.
    det = LMMSEDetector(np.array([h0]), precision="double")
    x_hat, mu, _ = det.equalize(y, np.float64(no))
    np.testing.assert_allclose(x_hat.numpy(), h0 * y / (h0 ** 2 + no),
                               rtol=1e-12)
    np.testing.assert_allclose(mu.numpy(), h0 ** 2 / (h0 ** 2 + no),
                               rtol=1e-12)
    # Gaussian demapping of the unbiased MMSE estimate = exact BPSK/AWGN
    # posterior: log p(+1 | y) = -log(1 + exp(-2 h y / no)).
    lp = det(y, np.float64(no)).numpy()
    llr = 2 * h0 * y / no
    np.testing.assert_allclose(lp[..., 0], -np.logaddexp(0, -llr),
                               atol=1e-12)
    np.testing.assert_allclose(lp[..., 1], -np.logaddexp(0, llr),
                               atol=1e-12)


@pytest.mark.parametrize("h1, no", [(0.5, 0.2), (-0.9, 0.1), (0.7j, 0.5)])
def test_long_window_reaches_infinite_length_mse(h1, no):
    # Two-sided Wiener MSE: (1/2pi) int no / (|H(w)|^2 + no) dw, which for
    # h = [1, h1] is no / sqrt((1 + |h1|^2 + no)^2 - 4 |h1|^2).
    closed = no / np.sqrt((1 + abs(h1) ** 2 + no) ** 2 - 4 * abs(h1) ** 2)
    integral = integrate.quad(
        lambda w: no / (abs(1 + h1 * np.exp(-1j * w)) ** 2 + no),
        -np.pi, np.pi)[0] / (2 * np.pi)
    assert closed == pytest.approx(integral, rel=1e-9)
    complex_ = np.iscomplex(h1)
    y = np.zeros((1, 201), dtype=complex if complex_ else float)
    mse = []
    for window in (3, 9, 81):
        det = LMMSEDetector(np.array([1.0, h1]), precision="double",
                            window=window,
                            constellation="qpsk" if complex_ else None)
        mse.append(1 - det.equalize(y, np.float64(no))[1].numpy()[0, 100])
    assert mse[0] > mse[1] > mse[2]
    assert mse[2] == pytest.approx(closed, rel=1e-6)


# -- statistics of the estimates --------------------------------------------

@pytest.mark.parametrize("complex_", [False, True])
def test_empirical_mse_matches_closed_form(complex_):
    h = np.array([1.0, 0.9])
    if complex_:
        h = np.array([1.0, 0.9 * np.exp(1j * 0.7)])
    no, batch, T = 0.5, 4000, 32
    det = LMMSEDetector(h, constellation="qpsk" if complex_ else None,
                        window=3, delay=1, precision="double")
    s, x, y = simulate(h, no, batch, T, complex_, seed=11)
    x_hat, mu, _ = det.equalize(y, np.float64(no))
    err = np.abs(x_hat.numpy() - x) ** 2                   # [batch, T]
    mu = mu.numpy()
    # Interior: the closed form, from the frame means (frames independent).
    target = interior_mmse(h, no, 3, 1)
    assert target == pytest.approx(1 - mu[0, T // 2], rel=1e-12)
    frame_mse = err[:, 2:-2].mean(axis=1)
    se = frame_mse.std(ddof=1) / np.sqrt(batch)
    assert abs(frame_mse.mean() - target) < Z * se
    # Edges: the first symbol (known preamble before it) and the last (no
    # sample after it) have their own MSE, far enough from the interior
    # one that interior weights at the edges would fail the test.
    for k in (0, T - 1):
        e = err[:, k]
        se = e.std(ddof=1) / np.sqrt(batch)
        assert abs(e.mean() - (1 - mu[0, k])) < Z * se
        assert abs((1 - mu[0, k]) - target) > 2 * Z * se
    # The bias model: E[x_hat | x] = mu x (per-frame regression slopes).
    xi, xh = x[:, 2:-2], x_hat.numpy()[:, 2:-2]
    slopes = np.real(np.sum(xh * np.conj(xi), axis=1)
                     / np.sum(np.abs(xi) ** 2, axis=1))
    assert abs(slopes.mean() - mu[0, T // 2]) < Z * slopes.std(
        ddof=1) / np.sqrt(batch)


def test_beats_symbolwise_on_isi():
    h = exponential_taps(4, 0.2)
    no = 10 ** (-10 / 10)
    batch, T = 50, 200
    s, _, y = simulate(h, no, batch, T, False, seed=3)
    n = batch * T
    err_lin = int(np.sum(LMMSEDetector(h, hard_out=True)(y, no).numpy()
                         != s))
    err_sw = int(np.sum(SymbolwiseDetector(h, hard_out=True)(y, no).numpy()
                        != s))
    # Clopper-Pearson 1e-4 intervals must not overlap.
    upper_lin = stats.beta.ppf(1 - 5e-5, err_lin + 1, n - err_lin)
    lower_sw = stats.beta.ppf(5e-5, err_sw, n - err_sw + 1)
    assert upper_lin < lower_sw, (err_lin, err_sw)


# -- contract -----------------------------------------------------------

def test_soft_output_is_normalised_and_hard_is_its_argmax():
    h = np.array([1.0, 0.4 - 0.3j, 0.2j])
    _, _, y = simulate(h, 0.2, 4, 30, True, seed=5)
    det = LMMSEDetector(h, constellation="qpsk")
    lp = det(y, 0.2).numpy()
    assert lp.shape == (4, 30, 4)
    np.testing.assert_allclose(np.log(np.exp(lp).sum(-1)), 0, atol=1e-5)
    hard = LMMSEDetector(h, constellation="qpsk", hard_out=True)(y, 0.2)
    assert hard.dtype == tf.int32
    np.testing.assert_array_equal(hard.numpy(), lp.argmax(-1))


def test_per_frame_taps_and_noise_match_frame_by_frame():
    rng = np.random.default_rng(2)
    taps = np.array([[1.0, 0.5, 0.1], [0.8, -0.6, 0.3], [1.0, 0.0, 0.0]])
    no = np.array([0.1, 0.5, 0.05])
    y = rng.standard_normal((3, 17))
    det = LMMSEDetector(taps, precision="double")
    lp = det(y, no).numpy()
    for b in range(3):
        single = LMMSEDetector(taps[b], precision="double")
        np.testing.assert_allclose(lp[b], single(y[b:b + 1], no[b])[0],
                                   atol=1e-10)
    # Per-call taps override the built ones.
    over = LMMSEDetector([1.0, 0.0, 0.0], precision="double")
    np.testing.assert_allclose(over(y, no, taps=taps).numpy(), lp,
                               atol=1e-12)


@pytest.mark.parametrize("constellation", [None, "qpsk"])
def test_compiles_with_xla(constellation):
    h = np.array([1.0, 0.5, 0.25])
    det = LMMSEDetector(h, constellation=constellation)
    _, _, y = simulate(h, 0.1, 8, 40, constellation is not None, seed=9)
    y = tf.constant(y, tf.complex64 if constellation else tf.float32)
    no = tf.constant([0.1] * 8)
    compiled = tf.function(lambda y, no: det(y, no), jit_compile=True)
    np.testing.assert_allclose(compiled(y, no).numpy(), det(y, no).numpy(),
                               rtol=1e-4, atol=1e-4)


def test_noiseless_input_gives_finite_output():
    h = np.array([1.0, 0.5])
    det = LMMSEDetector(h)                  # single precision, no = 0
    _, _, y = simulate(h, 0.0, 2, 20, False, seed=4)
    lp = det(y, 0.0).numpy()
    assert np.all(np.isfinite(lp))
    _, mu, var = det.equalize(y, 0.0)
    # A finite window cannot invert the channel: residual-ISI MSE remains.
    target = interior_mmse(h, 0.0, det.window, det.delay)
    assert 1 - mu.numpy()[0, 10] == pytest.approx(target, abs=1e-3)
    assert np.all(var.numpy() >= 0)


def test_defaults():
    det = LMMSEDetector(exponential_taps(4, 0.5))
    assert det.window == 13 and det.delay == 7
    one = LMMSEDetector([1.0])
    assert one.window == 1 and one.delay == 0


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(window=0), ValueError, "window"),
    (dict(window=2.5), ValueError, "window"),
    (dict(window=True), ValueError, "window"),
    (dict(window=5, delay=5), ValueError, "delay"),
    (dict(delay=-1), ValueError, "delay"),
    (dict(taps=[[[1.0]]]), ValueError, "taps"),
    (dict(taps=np.array([1.0, 0.5j])), TypeError, "taps"),
])
def test_bad_construction(kwargs, exc, name):
    taps = kwargs.pop("taps", [1.0, 0.5])
    with pytest.raises(exc, match=name):
        LMMSEDetector(taps, **kwargs)


@pytest.mark.parametrize("y, no, exc, name", [
    (np.zeros(()), 0.1, ValueError, "y"),
    (np.full((2, 5), np.nan), 0.1, ValueError, "y"),
    (np.zeros((2, 5), dtype=np.int32), 0.1, TypeError, "y"),
    (np.zeros((2, 3, 5)), np.ones(4), ValueError, "no"),
    (np.zeros((2, 5)), -0.1, ValueError, "no"),
    (np.zeros((2, 5)), np.ones(3), ValueError, "no"),
])
def test_bad_call(y, no, exc, name):
    with pytest.raises(exc, match=name):
        LMMSEDetector([1.0, 0.5])(y, no)


def test_per_frame_taps_must_match_batch():
    det = LMMSEDetector(np.ones((3, 2)))
    with pytest.raises(ValueError, match="taps"):
        det(np.zeros((2, 5)), 0.1)
