"""LMMSEDetector with a-priori bit LLRs: the soft-interference-cancellation
(MMSE-SIC) equalizer of turbo equalization (Tuechler, Koetter, Singer,
IEEE Trans. Commun. 2002, Sec. III).

Independent truths:
- a numpy MMSE-SIC written here from the full T x T convolution matrix,
  one ``numpy.linalg.solve`` per symbol on the covariance of the samples
  it sees (no edge classes, no code shared with the detector);
- the matched-filter bound: with a perfect prior every interferer is
  known, and the extrinsic LLR is the matched filter's closed form;
- the extrinsic identity: a symbol's own prior enters neither its filter
  nor its estimate;
- outputs of the untouched ``prior=None`` path recorded before the
  prior was written (same seed, recorded values below).
"""


import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.mapping import Constellation

from detectors import BCJRDetector, LMMSEDetector

TAPS = np.array([[1.0, 0.6, 0.3], [0.8, -0.5, 0.25]])     # per frame, L = 3
SETTINGS = {"bpsk": ("pam", 1), "pam4": ("pam", 2), "qpsk": ("qam", 2)}


def _constellation(name):
    const = Constellation(*SETTINGS[name])
    pts = np.asarray(const.points).astype(np.complex128)
    complex_ = SETTINGS[name][0] == "qam"
    return const, (pts if complex_ else pts.real), complex_


def _bits(k):
    """Sionna's labelling: bit j of index i, MSB first ([M, k])."""
    return np.array([[(i >> (k - 1 - j)) & 1 for j in range(k)]
                     for i in range(2 ** k)])


def _frames(name, T, taps, no, seed, prior_scale=1.5):
    """Frames through per-frame ISI taps (numpy); the preamble is point 0
    as the detectors assume. Returns (const, pts, k, taps, s, y, prior)."""
    const, pts, complex_ = _constellation(name)
    k = const.num_bits_per_symbol
    rng = np.random.default_rng(seed)
    frames, L = taps.shape
    if complex_:
        taps = taps * np.exp(1j * rng.uniform(0, 2 * np.pi, taps.shape))
    s = rng.integers(0, len(pts), size=(frames, T))
    xp = np.concatenate([np.full((frames, L - 1), pts[0]), pts[s]], axis=1)
    clean = sum(taps[:, l:l + 1] * xp[:, L - 1 - l:L - 1 - l + T]
                for l in range(L))
    noise = rng.standard_normal(clean.shape)
    if complex_:
        noise = (noise + 1j * rng.standard_normal(clean.shape)) / np.sqrt(2)
    y = clean + np.sqrt(no[:, None]) * noise
    prior = prior_scale * rng.standard_normal((frames, T * k))
    return const, pts, k, taps, s, y, prior


def _lse(v):
    return np.logaddexp.reduce(v)


def sic_reference(y, h, no, prior, pts, k, d1, d2, complex_):
    """Extrinsic bit LLRs [T*k] and (x_hat, mu) [T] of one frame: the
    time-varying MMSE-SIC per symbol from the full convolution matrix."""
    T, L, M = len(y), len(h), len(pts)
    G = np.zeros((T, T), dtype=np.result_type(h, float))
    for n in range(T):
        for l in range(min(L, n + 1)):
            G[n, n - l] = h[l]
    known = np.array([pts[0] * np.sum(h[n + 1:]) for n in range(T)])
    bits = _bits(k)
    P = prior.reshape(T, k)
    p1 = 1.0 / (1.0 + np.exp(-P))                            # p(b = 1)
    probs = np.prod(np.where(bits[None] == 1, p1[:, None], 1 - p1[:, None]),
                    axis=-1)                                 # [T, M]
    m = pts.mean()
    es = np.mean(np.abs(pts - m) ** 2)
    xbar = probs @ pts
    v = probs @ np.abs(pts) ** 2 - np.abs(xbar) ** 2
    ext, est = [], []
    for t in range(T):
        rows = [n for n in range(t - d1, t + d2 + 1) if 0 <= n < T]
        g = G[rows]
        xb, vv = xbar.copy(), v.copy()
        xb[t], vv[t] = m, es                  # x[t]'s own prior: none
        cov = (g * vv) @ g.conj().T + no * np.eye(len(rows))
        w = np.linalg.solve(cov, es * g[:, t])
        z = w.conj() @ (y[rows] - known[rows] - g @ xb)
        mu = np.real(w.conj() @ g[:, t])
        var = mu * (1 - mu) * es
        d = z - mu * (pts - m)
        loglik = -np.abs(d) ** 2 / var if complex_ else -d ** 2 / (2 * var)
        post = loglik + np.log(probs[t])
        ext += [_lse(post[bits[:, j] == 1]) - _lse(post[bits[:, j] == 0])
                - P[t, j] for j in range(k)]
        est.append((m + z, mu))
    return np.array(ext), np.array(est)


# -- 1. against the numpy MMSE-SIC --------------------------------------

@pytest.mark.parametrize("window, delay", [(None, None), (5, 1)])
@pytest.mark.parametrize("name", ["bpsk", "pam4", "qpsk"])
def test_extrinsic_llrs_equal_numpy_mmse_sic(name, window, delay):
    no = np.array([0.3, 0.5])
    const, pts, k, taps, _, y, prior = _frames(name, 12, TAPS, no, seed=5)
    det = LMMSEDetector(taps, constellation=const, window=window,
                        delay=delay, precision="double")
    d2 = det.delay
    d1 = det.window - 1 - d2
    ext = det.bit_llrs(y, no, prior=prior, extrinsic=True).numpy()
    x_hat, mu, _ = det.equalize(y, no, prior=prior)
    for f in range(2):
        ref, est = sic_reference(y[f], taps[f], no[f], prior[f], pts, k,
                                 d1, d2, name == "qpsk")
        np.testing.assert_allclose(ext[f], ref, atol=1e-4)
        np.testing.assert_allclose(x_hat.numpy()[f], est[:, 0], atol=1e-9)
        np.testing.assert_allclose(mu.numpy()[f], est[:, 1].real, atol=1e-9)
    # the prior matters (the reference is not the plain LMMSE)
    plain = det.bit_llrs(y, no).numpy()
    assert np.abs(plain - ext).max() > 0.1


# -- 2. perfect prior: the matched-filter bound -------------------------

@pytest.mark.parametrize("precision, rtol", [("double", 1e-7),
                                             ("single", 1e-4)])
@pytest.mark.parametrize("name", ["bpsk", "qpsk"])
def test_perfect_prior_gives_the_matched_filter_bound(name, precision, rtol):
    r"""All interferers known: ``r_{k+l} = y_{k+l} - sum_{l' != l} h_l'
    x_{k+l-l'}`` (the preamble is point 0) is ``h_l x_k + w``, and the
    matched filter ``u_k = sum_l conj(h_l) r_{k+l}`` over the samples that
    exist (``k + l <= T - 1``) is ``|h|^2 x_k + noise of variance |h|^2
    no`` (per real dimension for BPSK, total for QPSK). The SIC filter is
    then ``w = E_s h / (E_s |h|^2 + no)``, a scaled matched filter, and its
    Gaussian output model gives exactly the matched-filter LLRs

    BPSK (bit 1 <-> -1):    ``LLR_k = -2 u_k / no``,
    QPSK (Sionna: bit 0 <-> sign of Re, bit 1 <-> sign of Im, 1 <-> -):
    ``LLR = -2 sqrt(2) Re(u_k) / no`` and ``-2 sqrt(2) Im(u_k) / no``.
    """
    no = np.array([0.3, 0.5])
    T = 12
    const, pts, k, taps, s, y, _ = _frames(name, T, TAPS, no, seed=8)
    bits = _bits(k)[s].reshape(2, T * k)
    prior = 30.0 * (2.0 * bits - 1.0)          # confident and right
    det = LMMSEDetector(taps, constellation=const, precision=precision)
    ext = det.bit_llrs(y, no, prior=prior, extrinsic=True).numpy()
    L = taps.shape[1]
    xp = np.concatenate([np.full((2, L - 1), pts[0]), pts[s]], axis=1)
    u = np.zeros((2, T), dtype=y.dtype)
    for t in range(T):
        for l in range(L):
            if t + l > T - 1:
                continue
            others = sum(taps[:, j] * xp[:, L - 1 + t + l - j]
                         for j in range(L) if j != l)
            u[:, t] += np.conj(taps[:, l]) * (y[:, t + l] - others)
    if name == "bpsk":
        ref = -2 * u.real / no[:, None]
    else:
        ref = np.stack([-2 * np.sqrt(2) * u.real / no[:, None],
                        -2 * np.sqrt(2) * u.imag / no[:, None]],
                       axis=-1).reshape(2, T * k)
    np.testing.assert_allclose(ext, ref, rtol=rtol,
                               atol=rtol * np.abs(ref).max())


# -- 3. the extrinsic identity ------------------------------------------

def _likelihood(det, y, no, prior, k):
    """Symbol log-likelihoods (posterior minus the symbol log-prior,
    renormalised) [frames, T, M]."""
    lp = det.log_probs(y, no, prior=prior).numpy()
    T = y.shape[1]
    log_prior = np.einsum("ftk,mk->ftm", prior.reshape(-1, T, k), _bits(k))
    lik = lp - log_prior
    return lik - np.logaddexp.reduce(lik, axis=-1, keepdims=True)


@pytest.mark.parametrize("name", ["bpsk", "pam4", "qpsk"])
def test_own_prior_does_not_enter_own_estimate(name):
    no = np.array([0.3, 0.5])
    T = 12
    const, _, k, taps, _, y, prior = _frames(name, T, TAPS, no, seed=11)
    det = LMMSEDetector(taps, constellation=const, precision="double")
    est = [a.numpy() for a in det.equalize(y, no, prior=prior)]
    lik = _likelihood(det, y, no, prior, k)
    ext = det.bit_llrs(y, no, prior=prior, extrinsic=True).numpy()
    for t in (0, T // 2, T - 1):
        moved = prior.copy()
        moved[:, t * k:(t + 1) * k] += np.linspace(2.0, 4.0, k)
        other = [a.numpy() for a in det.equalize(y, no, prior=moved)]
        for a, b in zip(est, other):
            np.testing.assert_allclose(b[:, t], a[:, t], atol=1e-12)
        other_lik = _likelihood(det, y, no, moved, k)
        np.testing.assert_allclose(other_lik[:, t], lik[:, t], atol=1e-9)
        # ... while the neighbours' estimates and likelihoods do move
        near = [j for j in (t - 1, t + 1) if 0 <= j < T]
        assert np.abs(other[0][:, near] - est[0][:, near]).min() > 1e-3
        assert np.abs(other_lik[:, near] - lik[:, near]).max() > 1e-3
        # bit level: bit j's extrinsic LLR ignores bit j's own prior
        for j in range(t * k, (t + 1) * k):
            one = prior.copy()
            one[:, j] += 3.0
            e = det.bit_llrs(y, no, prior=one, extrinsic=True).numpy()
            np.testing.assert_allclose(e[:, j], ext[:, j], atol=1e-9)


# -- 4. prior=None: the old path, unchanged -----------------------------

# bit_llrs of the untouched plain path, recorded before the prior was
# written (same data as _recorded_data, git cf8fc27).
BPSK64 = np.array([
    [-2.373980475081198, -7.543388479725063, -1.556782543759419,
     8.797366936709267, 3.7684147801872983, -4.481951715008839,
     -4.293015514109376, -1.1189337815276335, -8.741411730018223,
     -0.06781830560091784, -1.1311018569119806, 4.502681422352823],
    [3.6333899981507636, -2.3510346608476906, -0.5587653820947974,
     -3.036185081188984, 2.7441854830151273, 1.5282036059377544,
     3.394422301396325, 4.059809294303806, -2.6013989941007285,
     2.366834430176204, 2.8676728618237726, 0.15065962766627494],
])
QPSK64 = np.array([
    [3.60869072697017, -5.481324193960664, 4.448028268352059,
     -5.977660125985251, -5.100080498248794, 0.47745293622074597,
     -5.7137131140291855, -11.544835663527557, 5.479595381037622,
     3.073355218722908, -0.18983624142373778, -9.27952717542708,
     0.5863422708846805, 0.1540673972170471, 0.2764663067647837,
     7.27246183169022, -5.2563926794956055, -6.167287628910475,
     -5.203384685474525, 2.314676927177748, -5.807249096793942,
     2.1665328697283663, 6.925938439589126, 6.912401462970308],
    [10.190809678699386, -2.172609865033606, -4.410944025648676,
     0.29271955645621395, 4.02300480302214, -4.953585327873216,
     -5.160421487716257, 4.027918720973521, -7.065454171837142,
     4.671243634330881, 5.2723888001357855, -2.3445615900590293,
     0.30829176562358285, -6.920357948204547, -2.5210362496804577,
     0.6742447117684971, -4.2558815561881875, -1.6867329125001251,
     2.0451141631691585, -3.360184459804865, -3.352253320816543,
     -2.4621960245483376, -3.3932810993699984, 2.996182961988965],
])
BPSK32 = np.array([
    [-2.3739798, -7.543392, -1.556782, 8.797365, 3.7684138, -4.481954,
     -4.2930164, -1.1189331, -8.741417, -0.06781697, -1.1311028, 4.502684],
    [12.623453, -11.687557, 2.4298363, -2.174746, 8.763818, 0.15578818,
     5.200548, 0.8295688, -5.021826, 10.567156, -0.82932395, -2.4739308],
])


def _recorded_data():
    rng = np.random.default_rng(2024)
    taps = np.array([[1.0, 0.6, 0.3], [0.8, -0.5, 0.2]])
    y = rng.standard_normal((2, 12))
    taps_c = taps * np.exp(1j * rng.uniform(0, 2 * np.pi, taps.shape))
    y_c = rng.standard_normal((2, 12)) + 1j * rng.standard_normal((2, 12))
    return taps, y, taps_c, y_c, np.array([0.3, 0.5])


def test_no_prior_takes_the_old_path_and_gives_the_recorded_outputs(
        monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("prior=None reached the SIC path")
    monkeypatch.setattr(LMMSEDetector, "_equalize_sic", refuse)
    taps, y, taps_c, y_c, no = _recorded_data()
    det = LMMSEDetector(taps, precision="double")
    np.testing.assert_allclose(det.bit_llrs(y, no), BPSK64, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(det.bit_llrs(y, no, prior=None),
                                  det.bit_llrs(y, no))
    det = LMMSEDetector(taps_c, constellation="qpsk", precision="double")
    np.testing.assert_allclose(det.bit_llrs(y_c, no), QPSK64, rtol=1e-12,
                               atol=1e-12)
    det = LMMSEDetector(taps[0])
    single = det.bit_llrs(y.astype(np.float32), 0.3).numpy()
    np.testing.assert_allclose(single, BPSK32, rtol=1e-5, atol=1e-5)
    hard = LMMSEDetector(taps[0], hard_out=True)(y.astype(np.float32), 0.3)
    np.testing.assert_array_equal(hard.numpy(), (BPSK32 > 0).astype(int))


@pytest.mark.parametrize("name", ["bpsk", "pam4", "qpsk"])
def test_zero_prior_is_the_plain_lmmse_up_to_rounding(name):
    """Uniform prior: xbar_j = m and v_j = E_s, so the SIC filter and
    estimate are the plain ones, and the output model is the same
    (``mu (1 - mu) E_s`` in both), hence the same LLRs."""
    no = np.array([0.3, 0.5])
    const, _, k, taps, _, y, _ = _frames(name, 12, TAPS, no, seed=3)
    for precision, tol in (("double", 1e-10), ("single", 1e-4)):
        det = LMMSEDetector(taps, constellation=const, precision=precision)
        plain = det.bit_llrs(y, no).numpy()
        zero = det.bit_llrs(y, no, prior=np.zeros((2, 12 * k))).numpy()
        np.testing.assert_allclose(zero, plain, atol=tol * np.abs(
            plain).max())


# -- 5. turbo-style sanity, contract ------------------------------------

def test_a_bcjr_prior_lowers_the_symbol_error_rate():
    """The a-priori LLRs a decoder hands back are independent of ``y``;
    here they come from BCJR on a second, independent observation of the
    same symbols (another channel, low SNR). On the first observation the
    SIC posterior must not make more errors than (a) plain LMMSE without
    the prior and (b) plain LMMSE with the prior added after the filter
    (no cancellation). Margin: on paired decisions, if both had the same
    error rate the difference of the error counts would have standard
    deviation sqrt(n_disagree) (McNemar); we allow 3 of those (one-sided,
    about 1e-3), so a sign error in the cancellation, or a prior fed to
    its own symbol, fails by hundreds of errors."""
    rng = np.random.default_rng(21)
    frames, T = 20, 200
    h1 = np.array([1.0, 0.8, 0.5])
    h2 = np.array([1.0, -0.4, 0.2])
    no1, no2 = 0.15, 1.0
    s = rng.integers(0, 2, size=(frames, T))
    x = 1.0 - 2.0 * s

    def observe(h, no):
        xp = np.concatenate([np.ones((frames, 2)), x], axis=1)
        clean = sum(h[l] * xp[:, 2 - l:2 - l + T] for l in range(3))
        return clean + np.sqrt(no) * rng.standard_normal(clean.shape)

    y1, y2 = observe(h1, no1), observe(h2, no2)
    prior = BCJRDetector(h2).bit_llrs(y2, no2).numpy()
    det = LMMSEDetector(h1)
    sic = det(y1, no1, prior=prior).numpy().argmax(-1)
    plain_lp = det(y1, no1).numpy()
    plain = plain_lp.argmax(-1)
    plain_prior = (plain_lp + np.stack([np.zeros_like(prior), prior], -1)
                   ).argmax(-1)
    errors = {"sic": int(np.sum(sic != s)), "plain": int(np.sum(plain != s)),
              "plain+prior": int(np.sum(plain_prior != s)),
              "prior": int(np.sum((prior > 0) != s))}
    for other in (plain, plain_prior):
        wrong_sic, wrong_other = sic != s, other != s
        disagree = int(np.sum(wrong_sic != wrong_other))
        excess = int(wrong_sic.sum()) - int(wrong_other.sum())
        assert excess <= 3 * np.sqrt(max(disagree, 1)), errors
    # not vacuous: the prior and the cancellation both help here
    assert errors["sic"] < errors["plain+prior"] < errors["plain"], errors


@pytest.mark.parametrize("prior, exc, match", [
    (np.zeros((2, 9)), ValueError, "`prior` must have the shape"),
    (np.zeros((3, 10)), ValueError, "`prior` must have the shape"),
    (np.zeros((2, 10, 1)), ValueError, "`prior` must have the shape"),
    (np.full((2, 10), np.nan), ValueError, "`prior` contains NaN"),
    (np.where(np.eye(2, 10) > 0, np.inf, 0.0), ValueError, "`prior`"),
    (np.zeros((2, 10), complex), TypeError, "`prior` must be real"),
])
def test_bad_priors_are_named(prior, exc, match):
    det = LMMSEDetector([1.0, 0.5])
    with pytest.raises(exc, match=match):
        det(np.zeros((2, 10)), 0.1, prior=prior)
    with pytest.raises(exc, match=match):
        det.bit_llrs(np.zeros((2, 10)), 0.1, prior=prior)


def test_takes_a_prior_and_hard_output_is_the_posterior_argmax():
    assert LMMSEDetector.takes_prior
    no = np.array([0.3, 0.5])
    const, _, k, taps, _, y, prior = _frames("pam4", 12, TAPS, no, seed=4)
    lp = LMMSEDetector(taps, constellation=const)(y, no, prior=prior)
    hard = LMMSEDetector(taps, constellation=const, hard_out=True)(
        y, no, prior=prior)
    assert hard.dtype == tf.int32
    np.testing.assert_array_equal(hard.numpy(), lp.numpy().argmax(-1))
    np.testing.assert_allclose(np.exp(lp.numpy()).sum(-1), 1.0, atol=1e-5)


def test_prior_with_leading_dimensions_and_a_batch_of_one():
    no = np.full(6, 0.4)
    taps6 = np.repeat(TAPS[:1], 6, axis=0)
    const, _, k, _, _, y, prior = _frames("pam4", 10, taps6, no, seed=6)
    det = LMMSEDetector(TAPS[0], constellation=const, precision="double")
    flat = det.bit_llrs(y, 0.4, prior=prior).numpy()
    shaped = det.bit_llrs(y.reshape(2, 3, 10), 0.4,
                          prior=prior.reshape(2, 3, 20)).numpy()
    np.testing.assert_allclose(shaped.reshape(6, 20), flat, atol=1e-12)
    # one prior row for every frame
    one = det.bit_llrs(y, 0.4, prior=np.tile(prior[:1], (6, 1))).numpy()
    np.testing.assert_allclose(det.bit_llrs(y, 0.4, prior=prior[:1]), one,
                               atol=1e-12)


@pytest.mark.parametrize("name", ["bpsk", "qpsk"])
def test_compiles_with_xla_and_per_frame_taps(name):
    no = np.array([0.3, 0.5], np.float32)
    const, _, k, taps, _, y, prior = _frames(name, 40, TAPS, no, seed=9)
    complex_ = name == "qpsk"
    det = LMMSEDetector([1.0, 0.0, 0.0], constellation=const)
    y = tf.constant(y, tf.complex64 if complex_ else tf.float32)
    taps = tf.constant(taps, tf.complex64 if complex_ else tf.float32)
    prior = tf.constant(prior, tf.float32)
    no = tf.constant(no)

    def ext(y, no, taps, prior):
        return det.bit_llrs(y, no, taps=taps, prior=prior, extrinsic=True)
    eager = ext(y, no, taps, prior).numpy()
    graph = tf.function(ext)(y, no, taps, prior).numpy()
    xla = tf.function(ext, jit_compile=True)(y, no, taps, prior).numpy()
    scale = np.abs(eager).max()
    np.testing.assert_allclose(graph, eager, atol=1e-5 * scale)
    np.testing.assert_allclose(xla, eager, atol=1e-4 * scale)
    hard = tf.function(lambda y, no, taps, prior: LMMSEDetector(
        [1.0, 0.0, 0.0], constellation=const, hard_out=True)(
            y, no, taps=taps, prior=prior), jit_compile=True)
    np.testing.assert_array_equal(
        hard(y, no, taps, prior).numpy(),
        det(y, no, taps=taps, prior=prior).numpy().argmax(-1))


def test_one_tap_and_noiseless_edge_cases():
    """One tap: nothing to cancel, so the extrinsic LLRs are the plain
    ones (the posterior of a memoryless channel). No noise and a
    confident prior: the systems stay solvable (noise floor), outputs
    finite."""
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 20))
    prior = rng.standard_normal((2, 20))
    det = LMMSEDetector(np.array([0.8]), precision="double")
    np.testing.assert_allclose(
        det.bit_llrs(y, 0.3, prior=prior, extrinsic=True),
        det.bit_llrs(y, 0.3), atol=1e-10)
    det = LMMSEDetector([1.0, 0.5, 0.2])
    for p in (30.0 * np.sign(prior), np.full((2, 20), 500.0)):
        ext = det.bit_llrs(y.astype(np.float32), 0.0, prior=p,
                           extrinsic=True).numpy()
        assert np.all(np.isfinite(ext))
