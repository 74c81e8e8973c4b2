"""The model-based MIMO detectors (:mod:`detectors.mimo.sionna_detectors`,
:mod:`detectors.mimo.soft_ic`) against brute force, closed forms and ML."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp
from scipy.stats import beta

from channels.mimo import MIMOChannel, sed_matrix
from detectors import SymbolwiseDetector
from detectors.mimo import MIMOEPDetector, MIMOKBestDetector, \
    MIMOLinearDetector, MIMOMLDetector, MIMOMMSEPICDetector, SoftICDetector
from signals.constellations import complex_baseband, make_constellation

DOUBLE = "double"


# -- references (numpy) -------------------------------------------------------
def brute_force(y, h, no, points, real, maxlog=False):
    """Per-user log-posteriors ``[..., K, M]`` by enumerating all ``M^K``
    vectors: ``-|y - H x|^2 / (2 no)`` (real) or ``/ no`` (complex)."""
    k, m = h.shape[-1], len(points)
    idx = np.array(list(itertools.product(range(m), repeat=k)))
    vecs = points[idx]                                       # [V, K]
    d = np.sum(np.abs(y[..., None, :] - vecs @ h.T) ** 2, axis=-1)
    metric = -d / (2 * no) if real else -d / no
    out = np.empty(y.shape[:-1] + (k, m))
    for user in range(k):
        for p in range(m):
            sel = metric[..., idx[:, user] == p]
            out[..., user, p] = sel.max(-1) if maxlog else logsumexp(sel, -1)
    return out


def normalise(logits):
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def linear_reference(y, h, no, points, real, zf=False):
    """Unbiased LMMSE / ZF estimate and its Gaussian log-probabilities."""
    k = h.shape[1]
    if zf:
        g = np.linalg.pinv(h)
        x_hat = y @ g.T
        no_eff = no * np.real(np.diag(g @ g.conj().T))
    else:
        g = h.conj().T @ np.linalg.inv(h @ h.conj().T + no * np.eye(len(h)))
        d = np.real(np.diag(g @ h))
        x_hat = (y @ g.T) / d
        no_eff = 1 / d - 1
    assert no_eff.shape == (k,)
    dist = np.abs(x_hat[..., None] - points) ** 2
    return normalise(-dist / (2 * no_eff[:, None]) if real
                     else -dist / no_eff[:, None])


def soft_ic_reference(y, h, no, points, real, iterations):
    """Soft IC, one user and one channel use at a time."""
    n, k = h.shape
    out = np.empty(y.shape[:-1] + (k, len(points)))
    for t in np.ndindex(*y.shape[:-1]):
        probs = np.full([k, len(points)], 1.0 / len(points))
        for _ in range(iterations):
            mean = probs @ points
            var = probs @ np.abs(points) ** 2 - np.abs(mean) ** 2
            logits = np.empty_like(probs)
            for user in range(k):
                oth = [j for j in range(k) if j != user]
                z = y[t] - h[:, oth] @ mean[oth]
                c = no * np.eye(n) + (h[:, oth] * var[oth]) @ h[:, oth].conj().T
                ci = np.linalg.inv(c)
                for p, pt in enumerate(points):
                    e = z - h[:, user] * pt
                    logits[user, p] = -np.real(e.conj() @ ci @ e)
            if real:
                logits = logits / 2
            probs = np.exp(normalise(logits))
        out[t] = normalise(logits)
    return out


def clopper_pearson(errors, n, alpha=0.01):
    """Two-sided ``1 - alpha`` interval of an error rate."""
    lo = beta.ppf(alpha / 2, errors, n - errors + 1) if errors else 0.0
    hi = beta.ppf(1 - alpha / 2, errors + 1, n - errors) if errors < n \
        else 1.0
    return lo, hi


# -- systems ----------------------------------------------------------------
def system(kind, k, seed, frames=2, t=40, no=0.3):
    """``(y [frames, T, N], h [N, K], no, points, real, constellation)``,
    N = K: ``"sed"`` / ``"real"`` BPSK, ``"qpsk"`` complex H, ``"cbpsk"``
    BPSK embedded on a complex H."""
    rng = np.random.default_rng(seed)
    real = kind in ("sed", "real")
    if kind == "sed":
        h = sed_matrix(k, k)
    elif kind == "real":
        h = rng.normal(size=(k, k))
    else:
        h = (rng.normal(size=(k, k)) + 1j * rng.normal(size=(k, k))) / \
            np.sqrt(2)
    c = make_constellation("qpsk" if kind == "qpsk" else "bpsk",
                           precision=DOUBLE)
    if kind == "cbpsk":
        c = complex_baseband(c)
    points = np.asarray(c.points)
    if real:
        points = points.real
    s = rng.integers(0, len(points), size=(frames, t, k))
    y = points[s] @ h.T
    if real:
        y = y + np.sqrt(no) * rng.normal(size=y.shape)
    else:
        y = y + np.sqrt(no / 2) * (rng.normal(size=y.shape) +
                                   1j * rng.normal(size=y.shape))
    return y, h, no, points, real, c


KINDS = [("sed", 2), ("sed", 3), ("real", 2), ("real", 3), ("qpsk", 2),
         ("qpsk", 3), ("cbpsk", 3)]


# -- exactness -----------------------------------------------------------------
@pytest.mark.parametrize("kind,k", KINDS)
def test_ml_is_brute_force_map(kind, k):
    """Sionna's ML with S = 2 no I (real) / no I (complex) is the exact
    posterior; a wrong S (e.g. no I on a real system) is off by a factor
    2 in the metric, far beyond 1e-4."""
    y, h, no, points, real, c = system(kind, k, seed=10 + k)
    det = MIMOMLDetector(h, constellation=c, precision=DOUBLE)
    got = det.log_probs(y, no).numpy()
    want = normalise(brute_force(y, h, no, points, real))
    np.testing.assert_allclose(got, want, atol=1e-4)
    # frame-wise channels and no go through too
    got2 = det.log_probs(y, [no, no], h=np.stack([h, h])).numpy()
    np.testing.assert_allclose(got2, want, atol=1e-4)


@pytest.mark.parametrize("kind,k", KINDS)
def test_kbest_full_list_is_max_log_ml(kind, k):
    """With k = M^K, K-best's list logits are the max-log posterior
    (clipped 20 below the best, as Sionna's LLRs)."""
    y, h, no, points, real, c = system(kind, k, seed=20 + k)
    det = MIMOKBestDetector(h, k=len(points) ** k, constellation=c,
                            precision=DOUBLE)
    got = det.log_probs(y, no).numpy()
    want = brute_force(y, h, no, points, real, maxlog=True)
    want = normalise(np.maximum(want, want.max(-1, keepdims=True) - 20))
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_sionna_kbest_bit_llrs_are_max_log():
    """What Sionna's own K-best soft output is (List2LLRSimple): max-log bit
    LLRs min_{b=0} d - min_{b=1} d, clipped at 20 (here QPSK, full list) --
    the reason the wrapper takes its list to symbol logits instead."""
    from sionna.phy.mimo import KBestDetector
    y, h, no, points, real, c = system("qpsk", 2, seed=5, no=0.5)
    kb = KBestDetector("bit", 2, 16, constellation=c, precision=DOUBLE)
    yc = y.reshape(-1, 2)
    got = kb(yc, np.broadcast_to(h, (len(yc), 2, 2)),
             np.broadcast_to(no * np.eye(2) + 0j, (len(yc), 2, 2))).numpy()
    lg = brute_force(yc, h, no, points, False, maxlog=True)    # [S, K, 4]
    bits = np.array([[int(b) for b in np.binary_repr(i, 2)]
                     for i in range(4)])
    want = np.stack([lg[..., bits[:, i] == 1].max(-1) -
                     lg[..., bits[:, i] == 0].max(-1) for i in range(2)], -1)
    np.testing.assert_allclose(got, np.clip(want, -20, 20), atol=1e-6)


@pytest.mark.parametrize("equalizer", ["lmmse", "zf"])
@pytest.mark.parametrize("kind", ["sed", "real", "qpsk"])
def test_linear_is_closed_form(kind, equalizer):
    """Real: the real filter and -(x_hat - c)^2 / (2 no_eff); a demapper
    handed no_eff instead of 2 no_eff doubles the logits."""
    y, h, no, points, real, c = system(kind, 3, seed=30)
    det = MIMOLinearDetector(h, equalizer=equalizer, constellation=c,
                             precision=DOUBLE)
    want = linear_reference(y, h, no, points, real, zf=equalizer == "zf")
    np.testing.assert_allclose(det.log_probs(y, no).numpy(), want,
                               atol=1e-6)


def test_linear_real_points_on_complex_channel_is_widely_linear():
    """Embedded BPSK on a complex H: the real-valued equivalent's filter."""
    y, h, no, points, real, c = system("cbpsk", 3, seed=31)
    det = MIMOLinearDetector(h, constellation=c, precision=DOUBLE)
    yr = np.concatenate([y.real, y.imag], -1)
    hr = np.concatenate([h.real, h.imag], 0)
    want = linear_reference(yr, hr, no / 2, points.real, True)
    np.testing.assert_allclose(det.log_probs(y, no).numpy(), want,
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["sed", "real", "qpsk", "cbpsk"])
def test_mmse_pic_one_iteration_is_lmmse(kind):
    """One MMSE-PIC iteration from the uniform prior is LMMSE with app
    demapping: checks the QAM embedding of real systems (S = 2 no I,
    sqrt 2 H, real-part marginal)."""
    y, h, no, points, real, c = system(kind, 3, seed=40)
    pic = MIMOMMSEPICDetector(h, constellation=c, precision=DOUBLE)
    lmmse = MIMOLinearDetector(h, constellation=c, precision=DOUBLE)
    np.testing.assert_allclose(pic.log_probs(y, no).numpy(),
                               lmmse.log_probs(y, no).numpy(), atol=1e-6)


@pytest.mark.parametrize("kind,iterations", [("sed", 1), ("real", 3),
                                             ("qpsk", 3), ("cbpsk", 2)])
def test_soft_ic_is_reference(kind, iterations):
    """The vectorised soft IC equals the per-user loop (embedded BPSK: on
    the real-valued equivalent [Re y; Im y] = [Re H; Im H] x + w)."""
    y, h, no, points, real, c = system(kind, 3, seed=50, frames=1, t=12)
    det = SoftICDetector(h, iterations=iterations, constellation=c,
                         precision=DOUBLE)
    got = det.log_probs(y, no).numpy()
    if kind == "cbpsk":
        y = np.concatenate([y.real, y.imag], -1)
        h = np.concatenate([h.real, h.imag], 0)
        no, real, points = no / 2, True, points.real
    want = soft_ic_reference(y, h, no, points, real, iterations)
    np.testing.assert_allclose(got, want, atol=1e-6)


# -- conventions ---------------------------------------------------------------
ALL = {
    "lmmse": lambda h, c, **kw: MIMOLinearDetector(h, constellation=c, **kw),
    "zf": lambda h, c, **kw: MIMOLinearDetector(h, equalizer="zf",
                                                constellation=c, **kw),
    "kbest": lambda h, c, **kw: MIMOKBestDetector(h, k=4, constellation=c,
                                                  **kw),
    "ep": lambda h, c, **kw: MIMOEPDetector(h, constellation=c, **kw),
    "ml": lambda h, c, **kw: MIMOMLDetector(h, constellation=c, **kw),
    "pic": lambda h, c, **kw: MIMOMMSEPICDetector(h, constellation=c, **kw),
    "soft_ic": lambda h, c, **kw: SoftICDetector(h, constellation=c, **kw),
}


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("cons", ["bpsk", "qpsk"])
def test_bit_llrs_match_the_isi_detectors(name, cons):
    """K = N = 1, h = 1 is the memoryless AWGN channel: the bit LLRs (sign:
    positive means bit 1) are the ISI SymbolwiseDetector's."""
    rng = np.random.default_rng(7)
    no = 0.4
    s = rng.integers(0, 2 if cons == "bpsk" else 4, size=(3, 20))
    pts = np.asarray(make_constellation(cons).points)
    if cons == "bpsk":
        y = pts.real[s] + np.sqrt(no) * rng.normal(size=s.shape)
    else:
        y = pts[s] + np.sqrt(no / 2) * (rng.normal(size=s.shape) +
                                        1j * rng.normal(size=s.shape))
    isi = SymbolwiseDetector([1.0], constellation=cons)
    det = ALL[name]([[1.0]], cons)
    want = isi.bit_llrs(y.astype(np.complex64 if cons == "qpsk"
                                 else np.float32), no).numpy()
    got = det.bit_llrs(y[..., None].astype(np.complex64 if cons == "qpsk"
                                           else np.float32), no).numpy()
    got = got[..., 0, :]
    np.testing.assert_allclose(got, np.reshape(want, got.shape), rtol=1e-4,
                               atol=1e-4)
    # bit 1 of BPSK is the point -1: a clearly negative sample says bit 1
    if cons == "bpsk":
        assert np.all((got[..., 0] > 0) == (y < 0))


def test_bad_inputs():
    h3x2 = np.ones([2, 3])                              # N = 2 < K = 3
    for make in (lambda: MIMOLinearDetector(h3x2, equalizer="zf"),
                 lambda: MIMOKBestDetector(h3x2, k=4)):
        with pytest.raises(ValueError, match="N >= K"):
            make()
    MIMOLinearDetector(h3x2)                            # LMMSE is fine
    det = MIMOMLDetector(np.eye(2))
    with pytest.raises(ValueError, match="N = 2"):
        det(np.zeros([1, 4, 3]), 0.1)
    with pytest.raises(TypeError, match="complex"):
        MIMOMLDetector(np.eye(2) + 0j * np.ones([2, 2]) + 1j * np.eye(2))
    with pytest.raises(ValueError, match="QAM"):
        MIMOEPDetector(np.eye(2), constellation="ook")
    with pytest.raises(ValueError, match="iterations"):
        MIMOMMSEPICDetector(np.eye(2), iterations=2)     # real BPSK
    MIMOMMSEPICDetector(np.eye(2) + 0j, iterations=2, constellation="qpsk")
    with pytest.raises(ValueError, match="equalizer"):
        MIMOLinearDetector(np.eye(2), equalizer="mf")
    with pytest.raises(ValueError, match="precision"):
        MIMOKBestDetector(np.eye(2), constellation=make_constellation(
            "bpsk", precision="single"), precision=DOUBLE)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("kind", ["sed", "qpsk"])
def test_xla(name, kind):
    """Every detector compiles with XLA and gives the eager answer (double
    precision: EP's iterations amplify single-precision rounding, 0.09 in
    a log-probability of -3.3 measured; EP with 3 iterations here, the
    compile time grows with the unrolled iterations: 17 s for 10)."""
    y, h, no, points, real, c = system(kind, 3, seed=60, t=10)
    kw = {"iterations": 3} if name == "ep" else {}
    det = ALL[name](h, c, precision=DOUBLE, **kw)
    y = tf.constant(y, det.y_dtype)
    no = tf.constant(no, tf.float64)
    f = tf.function(det.log_probs, jit_compile=True)
    np.testing.assert_allclose(f(y, no).numpy(), det.log_probs(y, no).numpy(),
                               rtol=1e-5, atol=1e-6)


# -- error rates against ML -----------------------------------------------------
def errors(det, y, no, h, s):
    return int(np.sum(det(y, no, h=h).numpy() != s))


def draw(profile, cons, k, snr_db, frames, t, seed):
    ch = MIMOChannel(k, k, profile=profile, constellation=cons)
    m = ch.constellation.num_points
    s = tf.random.stateless_uniform([frames, t, k], [seed, seed + 1], 0, m,
                                    tf.int32)
    no = 10 ** (-snr_db / 10)
    y, h = ch(tf.gather(ch.constellation.points, s), no, seed=[seed, 2],
              return_channel=True)
    return ch, y, h, no, s.numpy()


def test_ep_and_mmse_pic_near_ml_on_rayleigh():
    """4x4 QPSK Rayleigh, 10 dB, 200 frames x 50 channel uses x 4 users =
    40,000 user symbols. Measured on this draw: ML 14 errors (SER 3.5e-4,
    99% CP upper 6.7e-4), MMSE-PIC 3 iterations 148 (3.7e-3); on another
    seed ML 25 (upper 1.02e-3), EP 44 (1.1e-3), MMSE-PIC(3) 123 (3.1e-3),
    1 iteration = LMMSE 1225 (3.1e-2). Bounds: EP's SER <= 2 x ML's upper
    bound; MMSE-PIC(3)'s <= 8 x ML's upper bound (it starts from LMMSE,
    ~50 x ML here) and its upper bound below LMMSE's lower bound (the
    self-iterations help)."""
    ch, y, h, no, s = draw("rayleigh", "qpsk", 4, 10, 200, 50, seed=3)
    c = ch.constellation
    n = s.size
    ml = errors(MIMOMLDetector(h[0], constellation=c, hard_out=True),
                y, no, h, s)
    ml_hi = clopper_pearson(ml, n)[1]
    ep = errors(MIMOEPDetector(h[0], constellation=c, hard_out=True),
                y, no, h, s)
    pic3 = errors(MIMOMMSEPICDetector(h[0], iterations=3, constellation=c,
                                      hard_out=True), y, no, h, s)
    lmmse = errors(MIMOLinearDetector(h[0], constellation=c, hard_out=True),
                   y, no, h, s)
    assert ep / n <= 2 * ml_hi, (ep, ml)
    assert pic3 / n <= 8 * ml_hi, (pic3, ml)
    assert clopper_pearson(pic3, n)[1] < clopper_pearson(lmmse, n)[0]
    assert ml <= ep


def test_soft_ic_approaches_ml_on_sed():
    """4x4 BPSK SED, 12 dB, 100 frames x 500 x 4 = 200,000 user symbols,
    perfect CSI. Measured: ML 18 errors (SER 9e-5, 99% CP upper 1.6e-4),
    soft IC (5 iterations) 38 (1.9e-4, upper 2.8e-4; 10 iterations: 49),
    1 iteration = LMMSE 280 (1.4e-3, lower 1.19e-3). Bound: soft IC's
    upper bound <= 2.5 x ML's (measured ratio 1.78) and below LMMSE's
    lower bound."""
    ch, y, h, no, s = draw("sed", "bpsk", 4, 12, 100, 500, seed=3)
    c = ch.constellation
    n = s.size
    ml = errors(MIMOMLDetector(h[0], constellation=c, hard_out=True),
                y, no, h, s)
    sic = errors(SoftICDetector(h[0], constellation=c, hard_out=True),
                 y, no, h, s)
    one = errors(SoftICDetector(h[0], iterations=1, constellation=c,
                                hard_out=True), y, no, h, s)
    assert clopper_pearson(sic, n)[1] <= 2.5 * clopper_pearson(ml, n)[1], \
        (sic, ml)
    assert clopper_pearson(sic, n)[1] < clopper_pearson(one, n)[0]


@pytest.mark.parametrize("kind", ["qpsk", "cbpsk"])
def test_ml_chunks_equal_one_call(kind):
    """ML detected a few channel uses at a time (chunk=3 over 4 x 5 uses:
    the last chunk filled up) gives exactly the one-call answer, eager and
    under XLA; the default chunk keeps the candidate products under the
    bound."""
    y, h, no, points, real, c = system(kind, 3, seed=61, frames=4, t=5)
    whole = MIMOMLDetector(h, constellation=c, chunk=1000, precision=DOUBLE)
    parts = MIMOMLDetector(h, constellation=c, chunk=3, precision=DOUBLE)
    assert whole.chunk_size() == 1000 and parts.chunk_size() == 3
    y = tf.constant(y, whole.y_dtype)
    ref = whole.log_probs(y, no).numpy()
    np.testing.assert_array_equal(parts.log_probs(y, no).numpy(), ref)
    f = tf.function(parts.log_probs, jit_compile=True)
    np.testing.assert_array_equal(
        f(y, tf.constant(no, parts.rdtype)).numpy(),
        tf.function(whole.log_probs, jit_compile=True)(
            y, tf.constant(no, whole.rdtype)).numpy())
    big = MIMOMLDetector(np.eye(8) + 0j, constellation="qpsk")
    assert big.chunk_size() * 4 ** 8 * 8 * 8 <= big.MAX_CANDIDATE_BYTES
    with pytest.raises((ValueError, TypeError), match="chunk"):
        MIMOMLDetector(h, constellation=c, chunk=0)
