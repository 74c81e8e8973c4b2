"""Per-symbol believed taps ``[batch, T, L]`` (the tap set of time ``k`` is
``taps[b, k]``) in the model-based detectors.

- Taps constant over T give the per-frame results (Viterbi, BCJR, max-log
  BCJR; Gaussian real and complex, Poisson), at construction and per call.
- Varying taps: BCJR = exhaustive MAP and Viterbi = exhaustive ML
  (``BruteForceDetector`` for Gaussian, a numpy enumeration here for
  Poisson), so a step that read the wrong time's taps, or another frame's,
  fails.
- The step-wise metrics equal the full tensors; the per-frame path keeps
  its own (cheaper) step inputs; bad shapes are refused naming ``taps``.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from detectors import (BCJRDetector, LMMSEDetector,
                       PoissonSymbolwiseDetector, SymbolwiseDetector,
                       ViterbiDetector)
from detectors.brute_force import BruteForceDetector
from detectors.metrics import (RATE_FLOOR, GaussianBranchMetrics,
                               PoissonBranchMetrics, branch_means,
                               branch_regressors, gaussian_branch_metrics,
                               poisson_branch_metrics)
from signals.constellations import constellation_points, make_constellation


def points_of(constellation):
    return np.asarray(constellation_points(make_constellation(constellation),
                                           tf.float64))


def per_symbol_frames(rng, constellation, taps, no, initial_state="known"):
    """Indices ``s`` [B, T] and samples ``y[b, k] = sum_l taps[b, k, l]
    x[k-l] + w`` (numpy, independent of ``channels``)."""
    points = points_of(constellation)
    B, T, L = taps.shape
    s = rng.integers(0, len(points), (B, T))
    pre = (np.zeros((B, L - 1), int) if initial_state == "known"
           else rng.integers(0, len(points), (B, L - 1)))
    x = points[np.concatenate([pre, s], 1)]
    clean = sum(taps[:, :, l] * x[:, L - 1 - l:L - 1 - l + T]
                for l in range(L))
    w = rng.standard_normal((B, T))
    if np.iscomplexobj(points):
        w = (w + 1j * rng.standard_normal((B, T))) / np.sqrt(2)
    return s, clean + np.sqrt(no)[:, None] * w


def random_taps(rng, shape, complex_=False):
    taps = rng.standard_normal(shape)
    return taps + 1j * rng.standard_normal(shape) if complex_ else taps


# -- constant over T = per frame ------------------------------------------

# Viterbi's soft output is max-log BCJR's (one compiled recursion), and
# BCJR's hard output the argmax of its soft one: three recursions cover all.
DETECTORS = {
    "viterbi": lambda t, **kw: ViterbiDetector(t, hard_out=True, **kw),
    "bcjr": lambda t, **kw: BCJRDetector(t, **kw),
    "maxlog-bcjr": lambda t, **kw: BCJRDetector(t, max_log=True, **kw),
}
PAM4 = ("pam4", "gaussian")


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("constellation, likelihood, options", [
    PAM4 + ({},), ("qpsk", "gaussian", {}), ("ook", "poisson", {}),
    PAM4 + ({"initial_state": "unknown"},),
    PAM4 + ({"chunk_size": 7, "overlap": 15},)],
    ids=["pam4", "qpsk", "ook-poisson", "pam4-unknown", "pam4-chunked"])
def test_constant_per_symbol_taps_equal_per_frame_taps(
        name, constellation, likelihood, options):
    rng = np.random.default_rng(1)
    B, T, L = 5, 23, 3                         # B != T: no silent transpose
    cplx = constellation == "qpsk"
    frame_taps = random_taps(rng, (B, L), cplx)
    no = rng.uniform(0.05, 0.5, B)
    if likelihood == "poisson":
        frame_taps = np.abs(frame_taps)
        y = rng.poisson(3.0, (B, T)).astype(float)
    else:
        _, y = per_symbol_frames(rng, constellation,
                                 np.repeat(frame_taps[:, None], T, 1), no)
    sym_taps = np.repeat(frame_taps[:, None], T, axis=1)      # [B, T, L]
    kw = dict(constellation=constellation, likelihood=likelihood,
              precision="double", **options)
    make = DETECTORS[name]
    want = make(frame_taps, **kw)(y, no).numpy()
    got = make(sym_taps, **kw)(y, no).numpy()                 # construction
    other = make(random_taps(rng, (L,), cplx), **kw)
    per_call = other(y, no, taps=sym_taps).numpy()            # per call
    if want.dtype.kind == "i":
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(per_call, want)
    else:
        np.testing.assert_allclose(got, want, atol=1e-9, rtol=1e-9)
        np.testing.assert_allclose(per_call, want, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("likelihood", ["gaussian", "poisson"])
def test_one_row_of_per_symbol_taps_fits_any_batch(likelihood):
    rng = np.random.default_rng(2)
    T, L = 12, 3
    taps = np.abs(rng.standard_normal((1, T, L)))
    y = (rng.poisson(2.0, (4, T)).astype(float) if likelihood == "poisson"
         else rng.standard_normal((4, T)))
    kw = dict(likelihood=likelihood, precision="double",
              constellation="ook" if likelihood == "poisson" else None)
    det = BCJRDetector(taps, **kw)
    got = det(y, 0.2).numpy()
    for b in range(4):
        np.testing.assert_allclose(got[b:b + 1],
                                   det(y[b:b + 1], 0.2).numpy(), atol=1e-12)
    np.testing.assert_allclose(got, BCJRDetector(
        np.tile(taps, (4, 1, 1)), **kw)(y, 0.2).numpy(), atol=1e-12)


# -- varying taps against exhaustive enumeration ---------------------------

@pytest.mark.parametrize("initial_state", ["known", "unknown"])
@pytest.mark.parametrize("constellation, T", [("bpsk", 6), ("pam4", 5),
                                              ("qpsk", 4)])
def test_varying_taps_equal_brute_force(constellation, T, initial_state):
    """A new random tap set at every symbol of every frame (L = 3): BCJR =
    exact MAP marginals, Viterbi = exact ML sequence, max-log BCJR decides
    as Viterbi."""
    rng = np.random.default_rng(T * 7 + len(initial_state))
    B, L = 12, 3
    taps = random_taps(rng, (B, T, L), constellation == "qpsk")
    no = rng.uniform(0.1, 1.0, B)
    _, y = per_symbol_frames(rng, constellation, taps, no, initial_state)
    kw = dict(constellation=constellation, initial_state=initial_state,
              precision="double")
    truth = BruteForceDetector(taps, **kw)
    lp_true = truth(y, no).numpy()
    lp = BCJRDetector(taps, **kw)(y, no).numpy()
    np.testing.assert_allclose(np.exp(lp), np.exp(lp_true), atol=1e-9)
    big = lp_true > -20
    np.testing.assert_allclose(lp[big], lp_true[big], atol=1e-8)
    vit = ViterbiDetector(taps, hard_out=True, **kw)(y, no).numpy()
    np.testing.assert_array_equal(vit, truth.ml_sequence(y, no).numpy())
    # per call, with the detector built for other (per-frame) taps
    np.testing.assert_array_equal(ViterbiDetector(
        taps[:, 0], hard_out=True, **kw)(y, no, taps=taps).numpy(), vit)
    if initial_state == "known":
        maxlog = BCJRDetector(taps, max_log=True, **kw)(y, no).numpy()
        np.testing.assert_array_equal(maxlog.argmax(-1), vit)
    # the per-symbol taps matter: the taps of time 0 alone decide otherwise
    frame_only = BCJRDetector(taps[:, 0], **kw)(y, no).numpy()
    assert np.abs(frame_only - lp).max() > 0.1


def test_brute_force_scores_the_tap_set_of_each_time():
    """The reference itself, independently: noiseless samples made with
    per-symbol taps are decoded exactly, and shifting the taps by one
    symbol (the off-by-one a detector could make) is not."""
    rng = np.random.default_rng(3)
    B, T, L = 20, 6, 3
    taps = random_taps(rng, (B, T, L))
    s, y = per_symbol_frames(rng, "pam4", taps, np.zeros(B))
    det = BruteForceDetector(taps, constellation="pam4", criterion="ml",
                             hard_out=True)
    np.testing.assert_array_equal(det(y, 1e-6).numpy(), s)
    shifted = np.roll(taps, 1, axis=1)
    assert np.any(det(y, 1e-6, taps=shifted).numpy() != s)


def poisson_exhaustive(y, no, taps, points):
    """Exact marginals and ML sequences of the Poisson channel under
    per-symbol taps [B, T, L] (known initial state), by enumeration."""
    B, T, L = taps.shape
    M = len(points)
    seqs = np.array(list(itertools.product(range(M), repeat=T)))
    x = points[np.concatenate([np.zeros((len(seqs), L - 1), int), seqs], 1)]
    lp, ml = np.empty((B, T, M)), np.empty((B, T), int)
    for b in range(B):
        mu = sum(taps[b, :, l] * x[:, L - 1 - l:L - 1 - l + T]
                 for l in range(L))                          # [H, T]
        lam = np.maximum(mu / np.sqrt(no[b]) + 1.0, RATE_FLOOR)
        score = np.sum(y[b] * np.log(lam) - lam, axis=1)
        ml[b] = seqs[np.argmax(score)]
        for k in range(T):
            for m in range(M):
                lp[b, k, m] = logsumexp(score[seqs[:, k] == m])
    return lp - logsumexp(lp, axis=-1, keepdims=True), ml


def test_poisson_varying_taps_equal_exhaustive():
    rng = np.random.default_rng(4)
    B, T, L = 10, 6, 3
    taps = np.abs(random_taps(rng, (B, T, L)))
    taps[0, 2, 1] = -0.5              # a clipped rate on some branches
    no = rng.uniform(0.05, 0.5, B)
    pts = points_of("ook")
    s = rng.integers(0, 2, (B, T))
    x = pts[np.concatenate([np.zeros((B, L - 1), int), s], 1)]
    mu = sum(np.abs(taps[:, :, l]) * x[:, L - 1 - l:L - 1 - l + T]
             for l in range(L))
    y = rng.poisson(mu / np.sqrt(no)[:, None] + 1.0).astype(float)
    lp_true, ml = poisson_exhaustive(y, no, taps, pts)
    kw = dict(constellation="ook", likelihood="poisson", precision="double")
    lp = BCJRDetector(taps, **kw)(y, no).numpy()
    np.testing.assert_allclose(np.exp(lp), np.exp(lp_true), atol=1e-9)
    vit = ViterbiDetector(taps, hard_out=True, **kw)(y, no).numpy()
    np.testing.assert_array_equal(vit, ml)
    maxlog = BCJRDetector(taps, max_log=True, **kw)(y, no).numpy()
    np.testing.assert_array_equal(maxlog.argmax(-1), vit)


# -- the metrics -------------------------------------------------------------

@pytest.mark.parametrize("constellation", ["pam4", "qam16"])
def test_lazy_gaussian_per_symbol_metrics_equal_the_full_tensor(
        constellation):
    rng = np.random.default_rng(5)
    points = constellation_points(make_constellation(constellation),
                                  tf.float64)
    cplx = points.dtype.is_complex
    B, T, L = 3, 7, 2
    taps = random_taps(rng, (B, T, L), cplx)
    y = random_taps(rng, (B, T), cplx)
    no = rng.uniform(0.1, 1, B)
    full = gaussian_branch_metrics(y, no, taps, points).numpy()
    # the full tensor: means of each time's taps
    want = np.stack([gaussian_branch_metrics(
        y[:, k:k + 1], no, taps[:, k], points).numpy()[:, 0]
        for k in range(T)], 1)
    np.testing.assert_allclose(full, want, atol=1e-12)
    lazy = GaussianBranchMetrics(y, no, taps, points)
    assert lazy.inputs.shape == (T, 1 + L, B)
    steps = np.stack([lazy.at(k).numpy() for k in range(T)])
    diff = np.transpose(steps, [3, 0, 1, 2]) - full       # [B, T, S, M]
    # up to the per-sample constant |y|^2 / (2 no) (complex: / no)
    const = np.abs(y) ** 2 / ((1 if cplx else 2) * no[:, None])
    np.testing.assert_allclose(diff, np.broadcast_to(
        const[..., None, None], diff.shape), atol=1e-9)


def test_lazy_poisson_per_symbol_metrics_equal_the_full_tensor():
    rng = np.random.default_rng(6)
    B, T, L = 3, 8, 3
    taps = rng.standard_normal((B, T, L))              # some rates clipped
    y = rng.poisson(2.0, (B, T)).astype(float)
    no = rng.uniform(0.1, 1, B)
    pts = tf.constant([0.0, 1.0], tf.float64)
    full = poisson_branch_metrics(y, no, taps, pts).numpy()
    want = np.stack([poisson_branch_metrics(
        y[:, k:k + 1], no, taps[:, k], pts).numpy()[:, 0]
        for k in range(T)], 1)
    np.testing.assert_allclose(full, want, atol=1e-12)
    lazy = PoissonBranchMetrics(y, no, taps, pts)
    assert lazy.inputs.shape == (T, 1 + L, B)
    steps = np.stack([lazy.at(k).numpy() for k in range(T)])
    np.testing.assert_allclose(np.transpose(steps, [3, 0, 1, 2]), full,
                               atol=1e-12)


def test_per_frame_taps_keep_the_per_frame_step_inputs():
    """Fixed and per-frame taps are not routed through the per-symbol
    path: their steps read only the samples ([T, B]; [T, 2, B] complex)."""
    y = np.zeros((4, 9))
    for taps in ([1.0, 0.5], np.ones((4, 2))):
        assert GaussianBranchMetrics(y, 0.1, taps,
                                     [1.0, -1.0]).inputs.shape == (9, 4)
        assert PoissonBranchMetrics(y, 0.1, taps,
                                    [0.0, 1.0]).inputs.shape == (9, 4)
    assert GaussianBranchMetrics(y + 0j, 0.1, [1.0 + 0j, 0.5],
                                 [1.0 + 0j, -1.0]).inputs.shape == (9, 2, 4)


def test_branch_regressors_give_branch_means():
    rng = np.random.default_rng(7)
    for constellation, L in (("pam4", 3), ("qpsk", 2), ("bpsk", 1)):
        points = constellation_points(make_constellation(constellation),
                                      tf.float64)
        taps = random_taps(rng, (L,), points.dtype.is_complex)
        taps = tf.constant(taps, points.dtype)
        r = branch_regressors(points, L)
        np.testing.assert_allclose(
            np.einsum("sml,l->sm", r.numpy(), taps.numpy()),
            branch_means(taps, points).numpy(), atol=1e-12)


# -- symbol-wise detectors ---------------------------------------------------

@pytest.mark.parametrize("cls, constellation", [
    (SymbolwiseDetector, "pam4"), (SymbolwiseDetector, "qpsk"),
    (PoissonSymbolwiseDetector, "ook")])
def test_symbolwise_detectors_use_the_taps_of_each_time(cls, constellation):
    rng = np.random.default_rng(8)
    B, T, L = 3, 5, 3
    cplx = constellation == "qpsk"
    taps = random_taps(rng, (B, T, L), cplx)
    if constellation == "ook":
        taps = np.abs(taps)
        y = rng.poisson(2.0, (B, T)).astype(float)
    else:
        y = random_taps(rng, (B, T), cplx)
    no = rng.uniform(0.1, 1, B)
    kw = dict(constellation=constellation, precision="double")
    got = cls(taps, **kw)(y, no).numpy()
    for k in range(T):                 # sample k alone, with the taps of k
        want = cls(taps[:, k], **kw)(y[:, k:k + 1], no).numpy()[:, 0]
        np.testing.assert_allclose(got[:, k], want, atol=1e-12)
    const = np.repeat(taps[:, :1], T, axis=1)
    np.testing.assert_allclose(cls(const, **kw)(y, no).numpy(),
                               cls(taps[:, 0], **kw)(y, no).numpy(),
                               atol=1e-12)


# -- compiled use, validation ------------------------------------------------

def test_per_symbol_taps_inside_a_user_xla_function():
    rng = np.random.default_rng(9)
    B, T, L = 6, 40, 4
    taps = rng.standard_normal((B, T, L))
    _, y = per_symbol_frames(rng, "bpsk", taps, np.full(B, 0.2))
    det = ViterbiDetector(np.ones(L), hard_out=True)
    soft = BCJRDetector(np.ones(L))
    y = tf.constant(y, tf.float32)
    t = tf.constant(taps, tf.float32)
    fn = tf.function(lambda y, t: (det(y, 0.2, taps=t),
                                   soft(y, 0.2, taps=t)), jit_compile=True)
    hard, lp = fn(y, t)
    np.testing.assert_array_equal(hard.numpy(), det(y, 0.2, taps=t).numpy())
    np.testing.assert_allclose(lp.numpy(), soft(y, 0.2, taps=t).numpy(),
                               atol=1e-4)


@pytest.mark.parametrize("cls", [ViterbiDetector, BCJRDetector,
                                 SymbolwiseDetector, BruteForceDetector])
def test_bad_per_symbol_taps_are_refused_naming_taps(cls):
    y = np.zeros((3, 5))
    good = np.ones((3, 5, 2))
    cls(good)(y, 0.1)                                        # fine
    cases = [
        (lambda: cls(np.ones((3, 4, 2)))(y, 0.1), "for 4 symbols.*T = 5"),
        (lambda: cls(good)(y, 0.1, taps=np.ones((3, 6, 2))),
         "for 6 symbols.*T = 5"),
        (lambda: cls(good)(y, 0.1, taps=np.ones((3, 5, 3))), "3 taps.*L = 2"),
        (lambda: cls(np.ones((2, 5, 2)))(y, 0.1), "2 frames.*batch has 3"),
        (lambda: cls(good)(y, 0.1, taps=np.ones((4, 5, 2))),
         "4 frames.*batch has 3"),
        (lambda: cls(np.ones((3, 5, 2, 1))), r"\[batch, T, L\]"),
        (lambda: cls(np.full((3, 5, 2), np.nan)), "NaN"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert "`taps`" in str(info.value)


def test_detectors_without_per_symbol_taps_say_which_have_them():
    det = LMMSEDetector([1.0, 0.5])
    for call in (lambda: LMMSEDetector(np.ones((2, 5, 2))),
                 lambda: det(np.zeros((2, 5)), 0.1, taps=np.ones((2, 5, 2)))):
        with pytest.raises(ValueError, match="LMMSEDetector takes `taps`") \
                as info:
            call()
        for name in ("ViterbiDetector", "BCJRDetector", "BruteForceDetector"):
            assert name in str(info.value)
        assert "supported by" in str(info.value)
