"""Model-based trellis detectors (Viterbi, BCJR) against exhaustive
enumeration (``BruteForceDetector``), closed forms and each other."""

import inspect

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_expit, logsumexp
from scipy.stats import norm

import detectors
from detectors.brute_force import BruteForceDetector
from signals.constellations import constellation_points, make_constellation
from detectors.gaussian import gaussian_loglik
from detectors.metrics import GaussianBranchMetrics, gaussian_branch_metrics
from detectors.model_based import BCJRDetector, ViterbiDetector


def frames(rng, constellation, taps, T, no, initial_state="known"):
    """Symbols and received samples of frames with per-frame taps [B, L]
    (or fixed [L]) and noise variances [B]; numpy, independent of
    ``channels``. An unknown initial state draws the L-1 symbols before
    the frame at random."""
    points = np.asarray(constellation_points(make_constellation(
        constellation), tf.float64))
    taps = np.atleast_2d(taps)
    B, L = len(no), taps.shape[1]
    s = rng.integers(0, len(points), (B, T))
    pre = (np.zeros((B, L - 1), int) if initial_state == "known"
           else rng.integers(0, len(points), (B, L - 1)))
    x = points[np.concatenate([pre, s], 1)]
    y = sum(taps[:, l, None] * x[:, L - 1 - l:L - 1 - l + T]
            for l in range(L))
    w = rng.standard_normal((B, T))
    if np.iscomplexobj(points):
        w = (w + 1j * rng.standard_normal((B, T))) / np.sqrt(2)
    return s, y + np.sqrt(no)[:, None] * w


CASES = [("bpsk", 2, 8), ("bpsk", 3, 8), ("bpsk", 4, 8), ("pam4", 2, 5),
         ("qpsk", 2, 5)]                  # (constellation, L, T)


@pytest.mark.parametrize("initial_state", ["known", "unknown"])
@pytest.mark.parametrize("constellation,L,T", CASES)
def test_viterbi_and_bcjr_equal_brute_force(constellation, L, T,
                                            initial_state):
    """Per-frame random taps and noise variances (double precision):
    Viterbi = exact ML sequence, BCJR = exact marginals, and max-log BCJR
    decides as Viterbi (no exact ties in continuous noise)."""
    rng = np.random.default_rng(L * 10 + T)
    B = 16
    cplx = constellation == "qpsk"
    taps = rng.standard_normal((B, L)) + (
        1j * rng.standard_normal((B, L)) if cplx else 0)
    no = rng.uniform(0.1, 1.0, B)
    _, y = frames(rng, constellation, taps, T, no, initial_state)
    kw = dict(constellation=constellation, initial_state=initial_state,
              precision="double")
    truth = BruteForceDetector(taps, **kw)
    vit = ViterbiDetector(taps, hard_out=True, **kw)(y, no).numpy()
    np.testing.assert_array_equal(vit, truth.ml_sequence(y, no).numpy())
    lp = BCJRDetector(taps, **kw)(y, no).numpy()
    lp_true = truth(y, no).numpy()
    np.testing.assert_allclose(np.exp(lp), np.exp(lp_true), atol=1e-5)
    big = lp_true > -20
    np.testing.assert_allclose(lp[big], lp_true[big], atol=1e-8)
    if initial_state == "known":     # one start suffices for max-log
        maxlog = BCJRDetector(taps, max_log=True, **kw)(y, no).numpy()
        np.testing.assert_array_equal(maxlog.argmax(-1), vit)
        np.testing.assert_allclose(logsumexp(maxlog, axis=-1), 0,
                                   atol=1e-12)


def test_memoryless_bpsk_is_the_logistic_closed_form():
    """L = 1: p(x = +1 | y) = logistic(2 h0 y / no) (per-frame h0 and no);
    the max-log soft output equals it too, and the bit LLR is
    -2 h0 y / no."""
    rng = np.random.default_rng(12)
    y = rng.standard_normal((3, 50))
    no = np.array([0.5, 1.0, 2.0])
    h0 = np.array([[1.0], [0.6], [-1.3]])
    z = 2 * h0 * y / no[:, None]
    for det in (BCJRDetector(h0, precision="double"),
                ViterbiDetector(h0, precision="double")):
        lp = det(y, no).numpy()
        np.testing.assert_allclose(lp[..., 0], log_expit(z), atol=1e-12)
        np.testing.assert_allclose(lp[..., 1], log_expit(-z), atol=1e-12)
        np.testing.assert_allclose(det.bit_llrs(y, no).numpy(), -z,
                                   atol=1e-9)
    hard = ViterbiDetector(h0, hard_out=True)(y, no).numpy()
    np.testing.assert_array_equal(hard, (z < 0).astype(int))


def test_lazy_gaussian_metrics_equal_gaussian_loglik_up_to_a_constant():
    """The step-wise (expanded-square) metrics the detectors use differ
    from gaussian_loglik only by a per-sample constant, real and complex,
    per-frame taps and noise."""
    rng = np.random.default_rng(13)
    for constellation, L in (("pam4", 3), ("qam16", 2)):
        c = make_constellation(constellation)
        points = constellation_points(c, tf.float64)
        cplx = points.dtype.is_complex
        taps = rng.standard_normal((4, L)) + (
            1j * rng.standard_normal((4, L)) if cplx else 0)
        y = rng.standard_normal((4, 7)) + (
            1j * rng.standard_normal((4, 7)) if cplx else 0)
        no = rng.uniform(0.1, 1, 4)
        full = gaussian_branch_metrics(y, no, taps, points).numpy()
        lazy = GaussianBranchMetrics(y, no, taps, points)
        steps = np.stack([lazy.at(k).numpy() for k in range(7)])
        steps = np.transpose(steps, [3, 0, 1, 2])          # [B, T, S, M]
        diff = steps - full
        np.testing.assert_allclose(
            diff, np.broadcast_to(diff[..., :1, :1], diff.shape), atol=1e-9)
        want = -np.abs(y) ** 2 / ((1 if cplx else 2) * no[:, None])
        np.testing.assert_allclose(diff[..., 0, 0], -want, atol=1e-9)
        # and the full tensor is gaussian_loglik of the branch means
        M, S = len(points), len(points) ** (L - 1)
        pts = points.numpy()
        mean = np.empty((4, S, M), dtype=y.dtype)
        for st in range(S):
            past = [(st // M ** (j - 1)) % M for j in range(1, L)]
            isi = sum(taps[:, j] * pts[past[j - 1]] for j in range(1, L))
            mean[:, st] = taps[:, :1] * pts + np.reshape(isi, (-1, 1))
        ref = gaussian_loglik(tf.constant(y[:, :, None, None]),
                              tf.constant(mean[:, None]),
                              tf.constant(no[:, None, None, None]))
        np.testing.assert_allclose(full, ref.numpy(), atol=1e-9)


def test_detectors_in_user_xla_and_graph_functions_match_eager():
    """The Monte Carlo engine compiles the link with XLA; the detectors'
    own compiled recursions must trace inside a user's function. Also:
    Viterbi's soft (max-log) output decides as its hard output."""
    rng = np.random.default_rng(14)
    taps = np.exp(-0.2 * np.arange(4))
    _, y = frames(rng, "bpsk", taps, 60, np.full(8, 0.3))
    y = tf.constant(y, tf.float32)
    no = tf.constant(0.3)
    vit = ViterbiDetector(taps, hard_out=True)
    hard = vit(y, no)
    assert hard.dtype == tf.int32 and hard.shape == (8, 60)
    soft = ViterbiDetector(taps)(y, no).numpy()
    assert soft.shape == (8, 60, 2) and soft.dtype == np.float32
    np.testing.assert_array_equal(soft.argmax(-1), hard.numpy())
    bcjr = BCJRDetector(taps)
    for det, jit, eager in ((vit, True, hard.numpy()),
                            (bcjr, True, bcjr(y, no).numpy()),
                            (bcjr, False, bcjr(y, no).numpy())):
        f = tf.function(lambda a, b, d=det: d(a, b), jit_compile=jit)
        np.testing.assert_allclose(f(y, no).numpy(), eager, atol=1e-6)


@pytest.mark.slow
def test_bcjr_ser_not_above_viterbi_ser():
    """Symbol-wise MAP minimises the symbol error rate: on the same frames,
    SER(BCJR) <= SER(Viterbi) up to a paired 3-sigma bound (the test fails
    if BCJR's SER exceeds Viterbi's by more)."""
    rng = np.random.default_rng(16)
    taps = np.exp(-0.2 * np.arange(4))
    no = 10 ** (-4 / 10)
    s, y = frames(rng, "bpsk", taps, 1000, np.full(500, no))
    e_vit = ViterbiDetector(taps, hard_out=True)(y, no).numpy() != s
    e_map = BCJRDetector(taps, hard_out=True)(y, no).numpy() != s
    assert e_vit.mean() > 1e-3                    # errors to compare
    d = (e_map.astype(float) - e_vit).ravel()
    assert d.mean() <= 3 * d.std(ddof=1) / np.sqrt(d.size)


_STREAM = """
import resource, sys
import numpy as np
import detectors
from detectors.model_based import BCJRDetector, ViterbiDetector
rng = np.random.default_rng(0)
taps, T, no = np.exp(-0.2 * np.arange(4)), 10 ** 6, 0.1
s = rng.integers(0, 2, (1, T))
xp = 1.0 - 2.0 * np.concatenate([np.zeros((1, 3), int), s], 1)
y = sum(taps[l] * xp[:, 3 - l:3 - l + T] for l in range(4))
y = (y + np.sqrt(no) * rng.standard_normal((1, T))).astype(np.float32)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cls = ViterbiDetector if sys.argv[1] == "viterbi" else BCJRDetector
out = np.asarray(cls(taps, hard_out=True, chunk_size=1000)(y, no))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) * 1024, np.mean(out != s))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["viterbi", "bcjr"])
def test_continuous_mode_decodes_a_million_symbols_in_under_1gib(kind):
    """Peak RSS growth (fresh process, after imports and data) while
    decoding a 10**6-symbol BPSK L = 4 stream in continuous mode."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-c", _STREAM, kind],
                         capture_output=True, text=True, check=True,
                         timeout=600)
    grown, ser = map(float, res.stdout.split()[-2:])
    assert grown < 2 ** 30
    assert ser < 1e-3                     # 10 dB, L = 4: ~1e-4


def test_monte_carlo_ser_matches_memoryless_theory():
    """BPSK, L = 1: SER = Q(h0 / sqrt(no)); the count is inside its 4-sigma
    binomial interval (fails if decisions are biased)."""
    rng = np.random.default_rng(17)
    no, n = 0.5, 200_000
    s, y = frames(rng, "bpsk", [1.0], 1000, np.full(n // 1000, no))
    err = ViterbiDetector([1.0], hard_out=True)(y, no).numpy() != s
    p = norm.sf(1 / np.sqrt(no))
    assert abs(err.sum() - n * p) <= 4 * np.sqrt(n * p * (1 - p))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
def test_bad_inputs_are_refused_with_the_argument_named():
    taps = np.exp(-0.2 * np.arange(3))
    y = np.ones((4, 10))
    with pytest.raises(ValueError, match="taps"):          # batch mismatch
        ViterbiDetector(np.ones((3, 3)))(y, 0.5)
    with pytest.raises(ValueError, match="states"):
        BCJRDetector(np.ones(14))                           # 8192 states
    with pytest.raises(ValueError, match="states"):
        ViterbiDetector(np.ones(5), constellation="qam16")
    bad = y.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="`y`"):
        ViterbiDetector(taps)(bad, 0.5)
    with pytest.raises(ValueError, match="`no`"):
        BCJRDetector(taps)(y, -0.1)
    with pytest.raises(ValueError, match="`no`"):
        BCJRDetector(taps)(y, np.ones(3))
    with pytest.raises(ValueError, match="initial_state"):
        BCJRDetector(taps, initial_state="zero")
    with pytest.raises(ValueError, match="overlap"):
        ViterbiDetector(taps, chunk_size=100, overlap=3)
    with pytest.raises(TypeError, match="`y` must be float or complex"):
        ViterbiDetector(taps)(np.ones((2, 20), np.int32), 0.5)
    with pytest.raises(ValueError, match="hypotheses"):
        BruteForceDetector(taps)(np.ones((1, 20)), 0.5)
    with pytest.raises(ValueError, match="criterion"):
        BruteForceDetector(taps, criterion="mode")


def test_brute_force_reference_is_itself_right():
    """Noiseless input: the ML sequence is the transmitted one; marginals
    are normalised; 'ml' criterion returns the ML sequence."""
    rng = np.random.default_rng(18)
    taps = np.array([1.0, 0.5, -0.25])
    s, y = frames(rng, "bpsk", taps, 9, np.zeros(5))
    bf = BruteForceDetector(taps, hard_out=True, criterion="ml")
    np.testing.assert_array_equal(bf(y, 1e-3).numpy(), s)
    lp = BruteForceDetector(taps)(y, 0.3).numpy()
    np.testing.assert_allclose(logsumexp(lp, axis=-1), 0, atol=1e-6)


_DETECTOR_CLASSES = sorted(
    (c for c in vars(detectors).values() if inspect.isclass(c)
     and issubclass(c, detectors.Detector)), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _DETECTOR_CLASSES, ids=lambda c: c.__name__)
def test_options_after_the_first_argument_are_keyword_only(cls):
    """Sionna style: ``BCJRDetector(h, "qpsk", True)`` must not quietly
    mean max-log (nor ``ViterbiDetector(h, "qpsk", True)`` hard output)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                p.VAR_POSITIONAL)]
    assert len(positional) <= 1, positional


def test_positional_options_are_refused():
    taps = np.array([1.0, 0.5])
    with pytest.raises(TypeError):
        BCJRDetector(taps, "qpsk", True)
    with pytest.raises(TypeError):
        ViterbiDetector(taps, "qpsk", True)
