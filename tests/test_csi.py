"""Imperfect-CSI models: perturbation statistics, least-squares estimation
against its closed-form error covariance, seeds and the spec parser.

Bounds: 4 standard errors for means, chi-square quantiles at 1e-4 for
variances; all draws are seeded.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from channels.csi import (CSISpec, estimate_taps_from_pilots,
                          estimate_taps_ls, parse_csi, perturb_taps_additive,
                          perturb_taps_multiplicative)

Z = 4.0
ALPHA = 1e-4
H = np.array([1.0, -0.5, 0.25])
HC = np.array([1.0, 0.5j, -0.3 + 0.2j])


@pytest.fixture
def check_mean_and_variance(chi2_bounds):
    """``check(draws, mean, var)``: draws [n, L] (real) against per-tap
    mean (Z standard errors) and variance (1 - ALPHA chi-square)."""
    def check(draws, mean, var):
        n = draws.shape[0]
        err = draws - mean
        assert np.all(np.abs(err.mean(0)) < Z * np.sqrt(var / n))
        lo, hi = chi2_bounds(n, ALPHA)
        ratio = np.mean(err ** 2, axis=0) / var
        assert np.all((lo < ratio) & (ratio < hi)), ratio
    return check


# -- perturbations ----------------------------------------------------------

def test_multiplicative_statistics_real(check_mean_and_variance):
    var, n = 0.1, 20000
    d = perturb_taps_multiplicative(H, var, batch_size=n, seed=[1, 2])
    assert d.shape == (n, 3) and d.dtype == tf.float64
    check_mean_and_variance(d.numpy(), H, var * H ** 2)
    # Independent across taps.
    r = np.corrcoef((d.numpy() / H - 1).T)[0, 1]
    assert abs(r) < Z / np.sqrt(n)


def test_multiplicative_statistics_complex(check_mean_and_variance):
    var, n = 0.2, 20000
    d = perturb_taps_multiplicative(HC, var, batch_size=n, seed=[3, 4])
    assert d.dtype == tf.complex128
    rel = d.numpy() / HC - 1                    # = sqrt(var) * CN(0, 1)
    # Circular: real and imaginary parts each var / 2, uncorrelated.
    check_mean_and_variance(rel.real, 0.0, var / 2)
    check_mean_and_variance(rel.imag, 0.0, var / 2)
    assert np.all(np.abs(np.mean(rel.real * rel.imag, 0))
                  < Z * (var / 2) / np.sqrt(n))


def test_additive_statistics_per_frame_and_per_symbol(check_mean_and_variance):
    var = 0.05
    d = perturb_taps_additive(H, var, batch_size=20000, seed=[5, 6])
    assert d.shape == (20000, 3)
    check_mean_and_variance(d.numpy(), H, var)
    per_sym = perturb_taps_additive(H, var, num_symbols=50, batch_size=400,
                                    seed=[7, 8]).numpy()
    assert per_sym.shape == (400, 50, 3)
    check_mean_and_variance(per_sym.reshape(-1, 3), H, var)
    # A fresh draw per symbol: consecutive symbols uncorrelated.
    e = per_sym - H
    r = np.corrcoef(e[:, :-1, 0].ravel(), e[:, 1:, 0].ravel())[0, 1]
    assert abs(r) < Z / np.sqrt(e[:, :-1, 0].size)


def test_additive_complex_is_circular(check_mean_and_variance):
    var = 0.3
    d = perturb_taps_additive(HC, var, batch_size=20000, seed=[9, 9]).numpy()
    check_mean_and_variance(d.real, HC.real, var / 2)
    check_mean_and_variance(d.imag, HC.imag, var / 2)


@pytest.mark.parametrize("taps, kwargs, shape", [
    (H, {}, (3,)),
    (H, dict(batch_size=5), (5, 3)),
    (np.tile(H, (4, 1)), {}, (4, 3)),
    (np.tile(H, (4, 1)), dict(batch_size=4), (4, 3)),
    (H[None], dict(batch_size=6), (6, 3)),
])
def test_perturbation_shapes(taps, kwargs, shape):
    assert perturb_taps_multiplicative(taps, **kwargs).shape == shape
    assert perturb_taps_additive(taps, **kwargs).shape == shape


@pytest.mark.parametrize("taps, kwargs, shape", [
    (H, dict(num_symbols=7), (7, 3)),
    (H, dict(num_symbols=7, batch_size=2), (2, 7, 3)),
    (np.tile(H, (4, 1)), dict(num_symbols=7), (4, 7, 3)),
])
def test_per_symbol_shapes(taps, kwargs, shape):
    d = perturb_taps_additive(taps, var=0.0, **kwargs).numpy()
    assert d.shape == shape
    np.testing.assert_array_equal(d, np.broadcast_to(
        np.asarray(taps)[..., None, :] if np.ndim(taps) == 2 else taps,
        shape))


def test_per_frame_taps_keep_their_own_mean():
    taps = np.array([[1.0, 0.0], [0.0, 2.0]])
    d = perturb_taps_multiplicative(taps, 0.1, seed=[0, 1]).numpy()
    assert d[0, 1] == 0 and d[1, 0] == 0 and d[1, 1] != 2.0


def test_zero_variance_returns_the_taps():
    np.testing.assert_array_equal(
        perturb_taps_multiplicative(H, 0.0, batch_size=3).numpy(),
        np.tile(H, (3, 1)))


def test_seeds_are_reproducible():
    for f in (perturb_taps_multiplicative, perturb_taps_additive):
        a = f(H, 0.1, batch_size=4, seed=[11, 12]).numpy()
        b = f(H, 0.1, batch_size=4, seed=tf.constant([11, 12])).numpy()
        c = f(H, 0.1, batch_size=4, seed=[11, 13]).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.any(a == c)
    e1 = estimate_taps_from_pilots(H, 0.1, 16, batch_size=3, seed=[1, 1])
    e2 = estimate_taps_from_pilots(H, 0.1, 16, batch_size=3, seed=[1, 1])
    np.testing.assert_array_equal(e1.numpy(), e2.numpy())


def test_global_generator_without_seed():
    config.seed = 42
    a = perturb_taps_multiplicative(H, 0.1, batch_size=4).numpy()
    b = perturb_taps_multiplicative(H, 0.1, batch_size=4).numpy()
    config.seed = 42
    c = perturb_taps_multiplicative(H, 0.1, batch_size=4).numpy()
    assert not np.any(a == b)       # the stream advances
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: perturb_taps_multiplicative(H, -0.1), ValueError, "var"),
    (lambda: perturb_taps_multiplicative(H, np.nan), ValueError, "var"),
    (lambda: perturb_taps_additive(H, "x"), TypeError, "var"),
    (lambda: perturb_taps_additive(H, [0.1, 0.2]), TypeError, "var"),
    (lambda: perturb_taps_multiplicative(H, 0.1, batch_size=0), ValueError,
     "batch_size"),
    (lambda: perturb_taps_multiplicative(np.ones((2, 3)), 0.1, batch_size=3),
     ValueError, "batch_size"),
    (lambda: perturb_taps_multiplicative(np.ones((1, 2, 3))), ValueError,
     "taps"),
    (lambda: perturb_taps_multiplicative([1.0, np.inf]), ValueError, "taps"),
    (lambda: perturb_taps_additive(H, 0.1, num_symbols=0), ValueError,
     "num_symbols"),
    (lambda: perturb_taps_additive(H, 0.1, seed=[1, 2, 3]), ValueError,
     "seed"),
    (lambda: perturb_taps_additive(H, 0.1, seed=[0.5, 1.0]), ValueError,
     "seed"),
])
def test_perturbation_errors(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# -- least squares ----------------------------------------------------------

def regression_matrix(x, L, preamble):
    xp = np.concatenate([np.full(L - 1, preamble), x])
    return np.stack([xp[L - 1 - l:L - 1 - l + len(x)] for l in range(L)], 1)


@pytest.mark.parametrize("taps, preamble", [(H, 1.0), (HC, (1 + 1j) / 2)])
def test_ls_is_exact_without_noise(taps, preamble):
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(2, 10))
    assert np.linalg.matrix_rank(regression_matrix(x[1].real, 3, 1.0)) == 3
    if np.iscomplexobj(taps):
        x = x + 1j * rng.choice([-1.0, 1.0], size=(2, 10))
    y = np.stack([regression_matrix(xb, 3, preamble) @ taps for xb in x])
    est = estimate_taps_ls(y, x, 3, preamble_point=preamble).numpy()
    np.testing.assert_allclose(est, np.tile(taps, (2, 1)), atol=1e-12)


def test_ls_rank_deficient_pilots_give_minimum_norm():
    x = np.ones(6)                  # same as the preamble: X has rank 1
    y = np.random.default_rng(1).standard_normal((1, 6))
    est = estimate_taps_ls(y, x, 3).numpy()[0]
    ref = np.linalg.lstsq(regression_matrix(x, 3, 1.0), y[0], rcond=None)[0]
    np.testing.assert_allclose(est, ref, atol=1e-10)


def test_ls_unbiased_with_closed_form_error_covariance(chi2_bounds):
    # Fixed pilots, many noise draws: h_hat - h ~ N(0, no (X^T X)^{-1}).
    rng = np.random.default_rng(3)
    L, N, no, n = 3, 12, 0.4, 20000
    x = rng.choice([-1.0, 1.0], size=N)
    X = regression_matrix(x, L, 1.0)
    y = X @ H + np.sqrt(no) * rng.standard_normal((n, N))
    err = estimate_taps_ls(y, x, L).numpy() - H
    cov = no * np.linalg.inv(X.T @ X)
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(err.mean(0)) < Z * se)
    # Whitened errors are i.i.d. N(0, 1): sum of squares ~ chi2(n L).
    white = err @ np.linalg.cholesky(X.T @ X) / np.sqrt(no)
    lo, hi = chi2_bounds(n * L, ALPHA)
    assert lo < np.mean(white ** 2) < hi
    # ... and the MSE is no * trace((X^T X)^{-1}).
    mse = np.sum(err ** 2, axis=1)
    assert abs(mse.mean() - np.trace(cov)) < Z * mse.std(ddof=1) / np.sqrt(n)


@pytest.mark.parametrize("constellation", [None, "qpsk"])
def test_pilot_estimate_mse_falls_like_one_over_n(constellation):
    # Truth: no * E[trace((X^H X)^{-1})] over random pilots, by an
    # independent numpy simulation of the pilots.
    rng = np.random.default_rng(5)
    taps = H if constellation is None else HC
    no, n = 0.5, 3000
    L = len(taps)
    mses = []
    for N in (16, 128):
        draws = 4000
        if constellation is None:
            x, pre = rng.choice([-1.0, 1.0], size=(draws, N)), 1.0
        else:
            x = (rng.choice([-1.0, 1.0], size=(draws, N))
                 + 1j * rng.choice([-1.0, 1.0], size=(draws, N))) / np.sqrt(2)
            pre = (1 + 1j) / np.sqrt(2)
        X = np.stack([regression_matrix(xb, L, pre) for xb in x])
        gram = np.conj(np.swapaxes(X, 1, 2)) @ X
        trace = np.real(np.trace(np.linalg.pinv(gram), axis1=1, axis2=2))
        target = no * np.mean(trace)
        target_se = no * np.std(trace) / np.sqrt(draws)
        est = estimate_taps_from_pilots(taps, no, N, constellation,
                                        batch_size=n, seed=[N, 1]).numpy()
        assert est.shape == (n, L)
        err = np.sum(np.abs(est - taps) ** 2, axis=1)
        assert np.all(np.abs((est - taps).mean(0)) < Z * np.sqrt(
            target / L / n) * 2)            # unbiased (x2: taps differ)
        se = np.hypot(err.std(ddof=1) / np.sqrt(n), target_se)
        assert abs(err.mean() - target) < Z * se
        mses.append(err.mean())
    # 8x the pilots, about 1/8 of the error (a bit less: for Gaussian
    # regressors E[(X^T X)^{-1}] = I / (N - L - 1), a ratio of 10.3 here).
    assert 8.0 < mses[0] / mses[1] < 11.0


def test_pilot_estimate_of_per_frame_taps():
    taps = np.array([[1.0, 0.5], [0.2, -1.0]])
    est = estimate_taps_from_pilots(taps, 0.0, 8, seed=[1, 2]).numpy()
    np.testing.assert_allclose(est, taps, atol=1e-9)
    assert estimate_taps_from_pilots(taps.astype(np.float32), 0.01, 8,
                                     seed=[1, 2]).dtype == tf.float32


@pytest.mark.parametrize("call, exc, name", [
    (lambda: estimate_taps_ls(np.zeros((1, 2)), np.ones(2), 3), ValueError,
     "N >= L"),
    (lambda: estimate_taps_ls(np.zeros((1, 4)), np.ones(5), 3), ValueError,
     "x_pilots"),
    (lambda: estimate_taps_ls(np.zeros(4), np.ones(4), 3), ValueError,
     "y_pilots"),
    (lambda: estimate_taps_ls(np.zeros((1, 4), np.int32), np.ones(4), 3),
     TypeError, "y_pilots"),
    (lambda: estimate_taps_ls(np.zeros((1, 4)), np.ones(4), 0), ValueError,
     "memory"),
    (lambda: estimate_taps_from_pilots(H, 0.1, 2), ValueError, "num_pilots"),
    (lambda: estimate_taps_from_pilots(H, -0.1, 8), ValueError, "no"),
    (lambda: estimate_taps_from_pilots(H, 0.1, 8, constellation="qam3"),
     ValueError, "constellation"),
])
def test_estimation_errors(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# -- the spec -----------------------------------------------------------

@pytest.mark.parametrize("text, kind, params", [
    ("perfect", "perfect", {}),
    ("perturbed:var=0.1", "perturbed",
     {"var": 0.1, "mode": "multiplicative"}),
    ("perturbed:var=0.1,mode=additive", "perturbed",
     {"var": 0.1, "mode": "additive"}),
    ("estimated:pilots=64", "estimated", {"pilots": 64}),
])
def test_parse_round_trip(text, kind, params):
    spec = parse_csi(text)
    assert spec.kind == kind and dict(spec.params) == params
    assert str(spec) == text
    assert parse_csi(str(spec)) == spec
    assert hash(parse_csi(text)) == hash(spec)
    assert parse_csi(spec) is spec
    with pytest.raises(TypeError):
        spec.params["var"] = 1.0            # read-only


def test_parse_normalises_spelling():
    assert parse_csi(" Perturbed : var = 1e-1 , MODE = Multiplicative ") \
        == parse_csi("perturbed:var=0.1")
    assert str(parse_csi("perturbed:mode=additive,var=.25")) == \
        "perturbed:var=0.25,mode=additive"
    assert parse_csi("estimated:pilots=64") != parse_csi(
        "estimated:pilots=65")
    assert len({parse_csi("perfect"), parse_csi("perfect"),
                parse_csi("estimated:pilots=8")}) == 2


@pytest.mark.parametrize("text", [
    "", "exact", "perturbed", "perturbed:", "perturbed:var", "perturbed:var=",
    "perturbed:var=-0.1", "perturbed:var=nan", "perturbed:var=inf",
    "perturbed:var=x", "perturbed:var=0.1,mode=both",
    "perturbed:var=0.1,var=0.2", "perturbed:var=0.1,pilots=3",
    "perfect:var=0.1", "estimated", "estimated:pilots=0",
    "estimated:pilots=-3", "estimated:pilots=1.5", "estimated:pilots=1e2",
])
def test_parse_errors_list_the_allowed_forms(text):
    with pytest.raises(ValueError, match="Allowed forms: 'perfect'"):
        parse_csi(text)


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError, match="spec"):
        parse_csi(0.1)


def test_believed_taps():
    no, b, seed = 0.2, 5, tf.constant([4, 2])
    assert parse_csi("perfect").believed_taps(H, no, b, seed).shape == (3,)
    np.testing.assert_array_equal(
        parse_csi("perfect").believed_taps(H, no, b, seed).numpy(), H)
    cases = [
        ("perturbed:var=0.1",
         perturb_taps_multiplicative(H, 0.1, batch_size=b, seed=seed)),
        ("perturbed:var=0.1,mode=additive",
         perturb_taps_additive(H, 0.1, batch_size=b, seed=seed)),
        ("estimated:pilots=16",
         estimate_taps_from_pilots(H, no, 16, batch_size=b, seed=seed)),
    ]
    for text, expected in cases:
        got = parse_csi(text).believed_taps(H, no, b, seed)
        assert got.shape == (b, 3)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    qam = parse_csi("estimated:pilots=16").believed_taps(
        HC, no, b, seed, constellation="qpsk")
    assert qam.dtype == tf.complex128


@pytest.mark.parametrize("text", [
    "perturbed:var=0.1", "perturbed:var=0.1,mode=additive",
    # Compiling the SVD of the pseudo-inverse takes ~5 s on 2 cores.
    pytest.param("estimated:pilots=32", marks=pytest.mark.slow)])
def test_believed_taps_compile_with_xla(text):
    # XLA draws other stateless numbers than eager TensorFlow, so compare
    # compiled calls with each other and check the values are plausible.
    spec = parse_csi(text)
    taps = tf.constant(H, tf.float32)
    no = tf.constant([0.01, 0.02, 0.03, 0.04])
    compiled = tf.function(lambda seed: spec.believed_taps(taps, no, 4, seed),
                           jit_compile=True)
    a = compiled(tf.constant([3, 1])).numpy()
    b = compiled(tf.constant([3, 1])).numpy()
    c = compiled(tf.constant([3, 2])).numpy()
    assert a.shape == (4, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.any(a == c)
    # |error| of 5 sigma would be 5 * sqrt(0.1) * |h| (perturbed) or about
    # 5 * sqrt(no / (N - L - 1)) (estimated): well inside 1.6 |h| + 0.2.
    assert np.all(np.abs(a - H) < 1.6 * np.abs(H) + 0.2)


def test_spec_is_a_frozen_dataclass():
    spec = CSISpec("perfect", {})
    with pytest.raises(AttributeError):
        spec.kind = "estimated"
