"""The skeleton's blocks: exponential_taps, ISIChannel, Transmitter, Link and
SymbolwiseDetector, against numpy convolutions, noise statistics, closed-form
posteriors and error rates, plus their input errors.

Bounds: 4 standard errors for means and rates, 1e-4 chi-square quantiles
for variances; all draws are seeded.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from sionna.phy import config

from channels import ISIChannel, convolve_with_preamble, exponential_taps
from channels.csi import parse_csi
from detectors import SymbolwiseDetector, make_constellation
from signals.constellations import constellation_points
from rxsim import Link, Transmitter

Z = 4.0
ALPHA = 1e-4


@pytest.fixture
def chi2_ratio_ok(chi2_bounds):
    """``ok(ratio, dof)``: ``ratio`` = sample variance / true variance of
    ``dof`` draws lies in its 1 - ALPHA interval."""
    def ok(ratio, dof):
        lo, hi = chi2_bounds(dof, ALPHA)
        return lo < ratio < hi
    return ok


def numpy_isi(x, taps, preamble):
    """Per-frame ``np.convolve`` of the preamble-extended frame."""
    x = np.atleast_2d(x)
    taps = np.broadcast_to(taps, (x.shape[0], np.shape(taps)[-1]))
    L = taps.shape[1]
    out = []
    for xb, hb in zip(x, taps):
        full = np.convolve(np.concatenate([np.full(L - 1, preamble), xb]),
                           hb)
        out.append(full[L - 1:L - 1 + x.shape[1]])
    return np.array(out)


# -- exponential_taps -------------------------------------------------------

def test_exponential_taps_values():
    np.testing.assert_allclose(exponential_taps(4, 0.5),
                               np.exp(-0.5 * np.arange(4)), rtol=1e-15)
    np.testing.assert_array_equal(exponential_taps(1, 3.0), [1.0])
    np.testing.assert_array_equal(exponential_taps(3, 0), [1.0, 1.0, 1.0])
    h = exponential_taps(5, 0.2, normalize=True)
    assert np.sum(h ** 2) == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(h / h[0], exponential_taps(5, 0.2),
                               rtol=1e-14)
    assert exponential_taps(np.int64(2), 1).dtype == np.float64


@pytest.mark.parametrize("L, gamma, name", [
    (0, 0.1, "L"), (2.0, 0.1, "L"), (True, 0.1, "L"), ("4", 0.1, "L"),
    (4, -0.1, "gamma"), (4, np.nan, "gamma"), (4, np.inf, "gamma"),
])
def test_exponential_taps_errors(L, gamma, name):
    with pytest.raises(ValueError, match=name):
        exponential_taps(L, gamma)


# -- ISIChannel ---------------------------------------------------------

@pytest.mark.parametrize("constellation, taps", [
    ("bpsk", np.array([1.0, 0.6, -0.3])),
    ("pam4", np.array([0.9, 0.4])),
    ("qpsk", np.array([1.0, 0.5j, -0.2 + 0.1j])),
    ("bpsk", np.array([0.7])),
])
def test_noiseless_output_is_the_convolution_with_preamble(constellation,
                                                           taps):
    rng = np.random.default_rng(0)
    pts = constellation_points(constellation, tf.float64).numpy()
    x = pts[rng.integers(0, len(pts), size=(3, 9))]
    y = ISIChannel(taps, constellation=constellation, precision="double")(
        x, np.float64(0.0)).numpy()
    np.testing.assert_allclose(y, numpy_isi(x, taps, pts[0]), atol=1e-12)


def test_per_frame_and_per_call_taps():
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(2, 8))
    taps = np.array([[1.0, 0.5], [0.3, -1.0]])
    ch = ISIChannel(taps, precision="double")
    np.testing.assert_allclose(ch(x, np.float64(0.0)).numpy(),
                               numpy_isi(x, taps, 1.0), atol=1e-12)
    fixed = ISIChannel(np.array([1.0, 0.0]), precision="double")
    np.testing.assert_allclose(fixed(x, np.float64(0.0), taps=taps).numpy(),
                               numpy_isi(x, taps, 1.0), atol=1e-12)
    assert fixed.memory == 2 and fixed.taps.shape == (2,)


def test_convolve_with_preamble_matches_numpy():
    x = tf.constant([[1.0, -1.0, -1.0, 1.0]], tf.float64)
    taps = tf.constant([0.5, 0.25, 0.125], tf.float64)
    np.testing.assert_allclose(
        convolve_with_preamble(x, taps, -1.0).numpy(),
        numpy_isi(x.numpy(), taps.numpy(), -1.0), atol=1e-15)


def test_real_noise_statistics(chi2_ratio_ok):
    no, batch, T = 0.3, 200, 1000
    x = np.ones((batch, T))
    ch = ISIChannel(np.array([1.0, 0.5]), precision="double")
    w = (ch(x, np.float64(no), seed=[1, 2]).numpy() - 1.5).ravel()
    n = w.size
    assert abs(w.mean()) < Z * np.sqrt(no / n)
    assert chi2_ratio_ok(np.mean(w ** 2) / no, n)


def test_complex_noise_statistics(chi2_ratio_ok):
    no, batch, T = 0.8, 200, 1000
    x = np.full((batch, T), 1 + 0j)
    ch = ISIChannel(np.array([1.0]), constellation="qpsk",
                    precision="double")
    w = (ch(x, np.float64(no), seed=[3, 4]).numpy() - 1.0).ravel()
    n = w.size
    # CN(0, no): real and imaginary parts N(0, no/2), uncorrelated.
    for part in (w.real, w.imag):
        assert abs(part.mean()) < Z * np.sqrt(no / 2 / n)
        assert chi2_ratio_ok(np.mean(part ** 2) / (no / 2), n)
    assert abs(np.mean(w.real * w.imag)) < Z * (no / 2) / np.sqrt(n)


def test_per_frame_noise_variance(chi2_ratio_ok):
    no = np.array([0.01, 1.0, 4.0])
    x = np.zeros((3, 20000))
    w = ISIChannel(np.array([1.0]), precision="double")(x, no,
                                                        seed=[5, 6]).numpy()
    for b in range(3):
        assert chi2_ratio_ok(np.mean(w[b] ** 2) / no[b], w.shape[1])


def test_channel_seeds_and_global_generator():
    ch = ISIChannel(np.array([1.0, 0.5]))
    x = np.ones((2, 10))
    a = ch(x, 0.1, seed=[7, 7]).numpy()
    np.testing.assert_array_equal(a, ch(x, 0.1, seed=[7, 7]).numpy())
    assert not np.any(a == ch(x, 0.1, seed=[7, 8]).numpy())
    config.seed = 3
    b = ch(x, 0.1).numpy()
    c = ch(x, 0.1).numpy()
    config.seed = 3
    np.testing.assert_array_equal(b, ch(x, 0.1).numpy())
    assert not np.any(b == c)


def test_channel_dtypes():
    x = np.ones((1, 4))
    assert ISIChannel([1.0])(x, 0.1).dtype == tf.float32
    assert ISIChannel([1.0], precision="double")(x, 0.1).dtype == tf.float64
    # Complex taps make a real frame complex.
    y = ISIChannel(np.array([1.0, 0.5j]))(x, 0.0)
    assert y.dtype == tf.complex64
    np.testing.assert_allclose(y.numpy(), [[1 + 0.5j] * 4], atol=1e-6)


@pytest.mark.parametrize("x, no, taps, exc, name", [
    (np.ones(4), 0.1, None, ValueError, "x"),
    (np.ones((2, 0)), 0.1, None, ValueError, "x"),
    (np.full((2, 4), np.nan), 0.1, None, ValueError, "x"),
    (np.ones((2, 4)), -0.1, None, ValueError, "no"),
    (np.ones((2, 4)), np.nan, None, ValueError, "no"),
    (np.ones((2, 4)), np.ones(3), None, ValueError, "no"),
    (np.ones((2, 4)), np.ones((2, 1)), None, ValueError, "no"),
    (np.ones((2, 4)), 0.1, np.ones((3, 2)), ValueError, "taps"),
    (np.ones((2, 4)), 0.1, np.ones((1, 1, 2)), ValueError, "taps"),
])
def test_channel_call_errors(x, no, taps, exc, name):
    with pytest.raises(exc, match=name):
        ISIChannel(np.array([1.0, 0.5]))(x, no, taps=taps)


@pytest.mark.parametrize("taps", [np.ones((2, 2, 2)), np.array([1.0, np.inf]),
                                  np.zeros(0)])
def test_channel_construction_errors(taps):
    with pytest.raises(ValueError, match="taps"):
        ISIChannel(taps)


# -- Transmitter --------------------------------------------------------

@pytest.mark.parametrize("constellation", ["bpsk", "pam4", "qam16"])
def test_transmitter_maps_uniform_indices(constellation):
    tx = Transmitter(constellation)
    s, x = tx(400, 100, seed=[1, 2])
    m = tx.constellation.num_points
    s, x = s.numpy(), x.numpy()
    assert s.shape == x.shape == (400, 100) and s.dtype == np.int32
    pts = constellation_points(constellation).numpy()
    np.testing.assert_array_equal(x, pts[s])
    counts = np.bincount(s.ravel(), minlength=m)
    assert stats.chisquare(counts).pvalue > ALPHA
    assert np.iscomplexobj(x) == (constellation == "qam16")
    assert tx.bits_per_symbol == int(np.log2(m))


def test_transmitter_bpsk_convention_and_energy():
    pts = constellation_points("bpsk").numpy()
    np.testing.assert_array_equal(pts, [1.0, -1.0])
    for name in ("pam4", "pam8", "qpsk", "qam16", "qam64"):
        pts = constellation_points(name, tf.float64).numpy()
        assert np.mean(np.abs(pts) ** 2) == pytest.approx(1.0, rel=1e-6)


def test_transmitter_seeds():
    tx = Transmitter("pam4")
    a = tx(3, 50, seed=[4, 4])[0].numpy()
    np.testing.assert_array_equal(a, tx(3, 50, seed=[4, 4])[0].numpy())
    assert np.any(a != tx(3, 50, seed=[4, 5])[0].numpy())


@pytest.mark.parametrize("spec, exc", [("qam8", ValueError),
                                       ("psk4", ValueError),
                                       ("pam3", ValueError),
                                       (4, TypeError)])
def test_constellation_errors(spec, exc):
    with pytest.raises(exc, match="constellation" if exc is TypeError
                       else "Unknown constellation"):
        make_constellation(spec)


# -- SymbolwiseDetector -------------------------------------------------

def test_symbolwise_bpsk_is_the_gaussian_posterior():
    h = np.array([0.9, 0.4, -0.2])
    no = 0.3
    var = no + 0.4 ** 2 + 0.2 ** 2
    y = np.array([[-2.0, -0.3, 0.0, 0.1, 1.7]])
    lp = SymbolwiseDetector(h, precision="double")(y, np.float64(no)).numpy()
    llr = 2 * h[0] * y / var
    np.testing.assert_allclose(lp[..., 0], -np.logaddexp(0, -llr),
                               atol=1e-12)
    np.testing.assert_allclose(lp[..., 1], -np.logaddexp(0, llr),
                               atol=1e-12)


def test_symbolwise_qam_softmax_and_hard_decisions():
    rng = np.random.default_rng(2)
    h = np.array([0.8 * np.exp(0.3j), 0.3])
    no = 0.2
    y = rng.standard_normal((2, 6)) + 1j * rng.standard_normal((2, 6))
    pts = constellation_points("qam16", tf.float64).numpy()
    var = no + 0.3 ** 2
    logits = -np.abs(y[..., None] - h[0] * pts) ** 2 / var
    ref = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    det = SymbolwiseDetector(h, constellation="qam16", precision="double")
    np.testing.assert_allclose(det(y, np.float64(no)).numpy(), ref,
                               atol=1e-10)
    hard = SymbolwiseDetector(h, constellation="qam16", hard_out=True)(y, no)
    np.testing.assert_array_equal(
        hard.numpy(), np.argmin(np.abs(y[..., None] - h[0] * pts), axis=-1))


def test_symbolwise_per_frame_taps_and_noise():
    taps = np.array([[1.0, 0.5], [-1.0, 0.0]])
    no = np.array([0.1, 0.4])
    y = np.array([[0.4, -0.4], [0.4, -0.4]])
    lp = SymbolwiseDetector(taps, precision="double")(y, no).numpy()
    for b in range(2):
        ref = SymbolwiseDetector(taps[b], precision="double")(
            y[b:b + 1], no[b]).numpy()[0]
        np.testing.assert_allclose(lp[b], ref, atol=1e-12)
    # A negative h[0] flips the decisions.
    assert lp[0, 0].argmax() == 0 and lp[1, 0].argmax() == 1


def test_bit_llrs_follow_sionna_convention():
    det = SymbolwiseDetector([1.0])
    y = np.array([[-1.0, 1.0]])
    llr = det.bit_llrs(y, 0.5).numpy()
    lp = det.log_probs(y, 0.5).numpy()
    # bit 1 <-> index 1 <-> -1: LLR = log p(b=1)/p(b=0) > 0 for y < 0.
    np.testing.assert_allclose(llr, lp[..., 1] - lp[..., 0], atol=1e-5)
    assert llr[0, 0] > 0 > llr[0, 1]


@pytest.mark.parametrize("y, no, exc, name", [
    (np.zeros(()), 0.1, ValueError, "y"),     # [..., T] needs a T
    (np.zeros((2, 0)), 0.1, ValueError, "y"),
    (np.full((2, 4), np.inf), 0.1, ValueError, "y"),
    (np.zeros((2, 4), np.int64), 0.1, TypeError, "y"),
    (np.zeros((2, 4), bool), 0.1, TypeError, "y"),
    (np.zeros((2, 4)), -1.0, ValueError, "no"),
    (np.zeros((2, 4)), np.ones(5), ValueError, "no"),
    (np.zeros((2, 4)), np.ones((2, 2)), ValueError, "no"),
    (np.zeros((2, 4)), tf.constant(0.1 + 0j), TypeError, "no"),
])
def test_symbolwise_call_errors(y, no, exc, name):
    with pytest.raises(exc, match=name):
        SymbolwiseDetector([1.0, 0.5])(y, no)


@pytest.mark.parametrize("taps, constellation, exc", [
    (np.ones((2, 2, 2, 2)), None, ValueError),
    (np.array([1.0, np.nan]), None, ValueError),
    (np.array([1.0, 0.5j]), None, TypeError),
])
def test_symbolwise_construction_errors(taps, constellation, exc):
    with pytest.raises(exc, match="taps"):
        SymbolwiseDetector(taps, constellation=constellation)


def test_symbolwise_per_frame_taps_must_match_batch():
    with pytest.raises(ValueError, match="taps"):
        SymbolwiseDetector(np.ones((3, 2)))(np.zeros((2, 4)), 0.1)


# -- Link ---------------------------------------------------------------

def make_link(taps=(1.0,), constellation="bpsk", **kwargs):
    taps = np.asarray(taps)
    return Link(Transmitter(constellation),
                ISIChannel(taps, constellation=constellation),
                SymbolwiseDetector(taps, constellation=constellation),
                num_symbols=kwargs.pop("num_symbols", 100), **kwargs)


def test_link_noiseless_is_error_free():
    s, s_hat = make_link(constellation="qam16")(8, 0.0, seed=[1, 1])
    assert s.shape == (8, 100) and s_hat.dtype == tf.int32
    np.testing.assert_array_equal(s.numpy(), s_hat.numpy())


def test_link_awgn_ser_matches_q_function():
    # BPSK over h = [1]: SER = Q(1 / sqrt(no)).
    no = 0.25
    link = make_link(num_symbols=1000)
    s, s_hat = link(100, no, seed=[2, 3])
    n = s.shape[0] * s.shape[1]
    ser = np.mean(s.numpy() != s_hat.numpy())
    p = stats.norm.sf(1 / np.sqrt(no))
    assert abs(ser - p) < Z * np.sqrt(p * (1 - p) / n)


def test_link_seeds_and_soft_output():
    link = make_link(taps=(1.0, 0.5), return_soft=True)
    s, s_hat, lp = link(4, 0.5, seed=[5, 6])
    assert lp.shape == (4, 100, 2)
    np.testing.assert_array_equal(s_hat.numpy(), lp.numpy().argmax(-1))
    s2, s_hat2, _ = link(4, 0.5, seed=[5, 6])
    np.testing.assert_array_equal(s.numpy(), s2.numpy())
    np.testing.assert_array_equal(s_hat.numpy(), s_hat2.numpy())
    s3 = link(4, 0.5, seed=[5, 7])[0]
    assert np.any(s.numpy() != s3.numpy())


@pytest.mark.parametrize("text", ["perturbed:var=0.1",
                                  "estimated:pilots=16"])
def test_link_hands_believed_taps_to_the_detector(text):
    """With a CSI case the link's detector sees the believed taps of that
    case, drawn per frame from the batch seed: its soft output equals the
    detector's at those taps, and differs from the perfect-CSI link's on
    the very same frames (a link that ignores ``csi`` fails here)."""
    taps, no, batch, seed = np.array([1.0, 0.5]), 0.1, 4, tf.constant([1, 2])
    csi = parse_csi(text)
    link = make_link(taps=taps, csi=csi, return_soft=True)
    s, s_hat, lp = link(batch, no, seed=seed)
    s0, _, lp0 = make_link(taps=taps, return_soft=True)(batch, no, seed=seed)
    np.testing.assert_array_equal(s.numpy(), s0.numpy())    # same frames
    tx_seed, ch_seed, csi_seed = Link.split_seed(seed)
    x = link.transmitter(batch, 100, seed=tx_seed)[1]
    y = link.channel(x, no, seed=ch_seed)
    believed = csi.believed_taps(link.channel.taps, no, batch,
                                 seed=csi_seed,
                                 constellation=link.transmitter.constellation)
    assert believed.shape == (batch, 2)
    # one draw per frame, none of them the true taps
    assert np.all(np.abs(believed.numpy() - taps).max(axis=1) > 1e-3)
    assert np.unique(believed.numpy()[:, 0]).size == batch
    want = link.detector(y, no, taps=believed).numpy()
    np.testing.assert_allclose(lp.numpy(), want, rtol=1e-5, atol=1e-5)
    assert np.abs(lp.numpy() - lp0.numpy()).max() > 1e-2
    np.testing.assert_array_equal(link(batch, no, seed=seed)[1].numpy(),
                                  s_hat.numpy())


def test_link_errors():
    with pytest.raises(ValueError, match="num_symbols"):
        make_link(num_symbols=0)
    with pytest.raises(ValueError, match="constellation points"):
        Link(Transmitter("pam4"), ISIChannel([1.0]),
             SymbolwiseDetector([1.0]), 10)
    link = Link(Transmitter(), ISIChannel([1.0]),
                SymbolwiseDetector([1.0], hard_out=True), 10,
                return_soft=True)
    with pytest.raises(ValueError, match="return_soft"):
        link(2, 0.1)
