"""Imperfect-CSI models: perturbation statistics (per frame and per
symbol), least-squares estimation against its closed-form error covariance,
the joint fit of taps and noise variance to training pilots, seeds and the
spec parser.

Bounds: 4 standard errors for means, chi-square quantiles at 1e-4 for
variances; all draws are seeded.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from channels.csi import (CSISpec, estimate_channel_ls,
                          estimate_taps_from_pilots, estimate_taps_ls,
                          parse_csi, perturb_taps_additive,
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
     {"var": 0.1, "mode": "multiplicative", "per": "frame"}),
    ("perturbed:var=0.1,mode=additive", "perturbed",
     {"var": 0.1, "mode": "additive", "per": "frame"}),
    ("perturbed:var=0.1,per=symbol", "perturbed",
     {"var": 0.1, "mode": "multiplicative", "per": "symbol"}),
    ("perturbed:var=0.1,mode=additive,per=symbol", "perturbed",
     {"var": 0.1, "mode": "additive", "per": "symbol"}),
    ("estimated:pilots=64", "estimated",
     {"pilots": 64, "from": "frame", "estimator": "ls"}),
    ("estimated:from=training", "estimated",
     {"from": "training", "pilots": None, "var": None, "mode": None}),
    ("estimated:from=training,pilots=5000", "estimated",
     {"from": "training", "pilots": 5000, "var": None, "mode": None}),
    ("estimated:from=training,var=0.1", "estimated",
     {"from": "training", "pilots": None, "var": 0.1,
      "mode": "multiplicative"}),
    ("estimated:from=training,pilots=500,var=0.2,mode=additive", "estimated",
     {"from": "training", "pilots": 500, "var": 0.2, "mode": "additive"}),
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
    # defaults are left out of the canonical string: today's strings (and
    # so the results keyed by them) stay as they were
    for text, canonical in [
            ("perturbed:var=0.1,per=frame", "perturbed:var=0.1"),
            ("perturbed:per=frame,mode=multiplicative,var=0.1",
             "perturbed:var=0.1"),
            ("perturbed:per=Symbol,var=0.1,mode=additive",
             "perturbed:var=0.1,mode=additive,per=symbol"),
            ("estimated:pilots=64,from=frame", "estimated:pilots=64"),
            ("estimated:var=0.1,from=training,mode=multiplicative",
             "estimated:from=training,var=0.1"),
            ("estimated:mode=additive,var=0.1,pilots=64,from=training",
             "estimated:from=training,pilots=64,var=0.1,mode=additive")]:
        assert str(parse_csi(text)) == canonical
        assert parse_csi(text) == parse_csi(canonical)
    assert parse_csi("perturbed:var=0.1,per=symbol") != parse_csi(
        "perturbed:var=0.1")
    assert parse_csi("estimated:from=training") != parse_csi(
        "estimated:from=training,var=0")
    # a spec built directly gets the same defaults as a parsed one
    assert CSISpec("perturbed", {"var": 0.1}) == parse_csi(
        "perturbed:var=0.1")


@pytest.mark.parametrize("text", [
    "", "exact", "perturbed", "perturbed:", "perturbed:var", "perturbed:var=",
    "perturbed:var=-0.1", "perturbed:var=nan", "perturbed:var=inf",
    "perturbed:var=x", "perturbed:var=0.1,mode=both",
    "perturbed:var=0.1,var=0.2", "perturbed:var=0.1,pilots=3",
    "perfect:var=0.1", "estimated", "estimated:pilots=0",
    "estimated:pilots=-3", "estimated:pilots=1.5", "estimated:pilots=1e2",
    "perturbed:var=0.1,per=slot", "perturbed:var=0.1,per=",
    "perturbed:var=0.1,per=frame,per=symbol", "perturbed:per=symbol",
    "perturbed:var=0.1,from=training", "estimated:from=pilots",
    "estimated:from=frame", "estimated:pilots=64,var=0.1",
    "estimated:pilots=64,mode=additive", "estimated:from=training,per=symbol",
    "estimated:from=training,mode=additive", "estimated:from=training,var=-1",
    "estimated:from=training,pilots=0", "estimated:pilots=8,per=symbol",
])
def test_parse_errors_list_the_allowed_forms(text):
    with pytest.raises(ValueError, match="Allowed forms: 'perfect'"):
        parse_csi(text)


@pytest.mark.parametrize("text, match", [
    ("perturbed:var=0.1,per=slot",
     r"per must be one of \('frame', 'symbol'\), got 'slot'"),
    ("estimated:from=pilots",
     r"from must be one of \('frame', 'training'\), got 'pilots'"),
    ("perturbed:var=0.1,mode=both",
     r"mode must be one of \('multiplicative', 'additive'\)"),
    ("estimated:pilots=64,var=0.1", r"need from=training"),
    ("estimated:from=frame", r"needs pilots=.*or from=training"),
    ("estimated:from=training,mode=additive", r"mode= needs var="),
    ("estimated:from=training,per=symbol",
     r"'estimated' takes no parameter 'per'"),
])
def test_parse_errors_name_the_allowed_values(text, match):
    with pytest.raises(ValueError, match=match):
        parse_csi(text)


@pytest.mark.parametrize("text, per_symbol, from_training, training", [
    ("perfect", False, False, None),
    ("perturbed:var=0.1", False, False, None),
    ("perturbed:var=0.1,mode=additive,per=symbol", True, False, None),
    ("perturbed:var=0.1,per=symbol", True, False, None),
    ("estimated:pilots=64", False, False, None),
    ("estimated:from=training", False, True, "perfect"),
    ("estimated:from=training,pilots=64,var=0.1", False, True,
     "perturbed:var=0.1"),
    ("estimated:from=training,var=0.2,mode=additive", False, True,
     "perturbed:var=0.2,mode=additive"),
])
def test_spec_properties(text, per_symbol, from_training, training):
    spec = parse_csi(text)
    assert spec.per_symbol is per_symbol
    assert spec.from_training is from_training
    if training is None:
        assert spec.training_csi is None
    else:
        # what a learned detector with csi = training trains on
        assert spec.training_csi == parse_csi(training)
        assert str(spec.training_csi) == training
        assert not spec.training_csi.per_symbol


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


# -- per-symbol believed taps -----------------------------------------------

@pytest.mark.parametrize("taps, batch, shape", [
    (H, 5, (5, 7, 3)),
    (np.tile(H, (5, 1)), 5, (5, 7, 3)),
    (H[None], 5, (5, 7, 3)),
    (H, None, (1, 7, 3)),
])
@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_per_symbol_believed_taps_shapes(taps, batch, shape, mode):
    spec = parse_csi(f"perturbed:var=0.1,mode={mode},per=symbol")
    got = spec.believed_taps(taps, 0.1, batch, seed=[1, 2], num_symbols=7)
    assert got.shape == shape and got.dtype == tf.float64
    draw = (perturb_taps_additive if mode == "additive"
            else perturb_taps_multiplicative)
    if batch is not None:
        np.testing.assert_array_equal(got.numpy(), draw(
            taps, 0.1, batch_size=batch, seed=[1, 2],
            num_symbols=7).numpy())
    zero = parse_csi(f"perturbed:var=0,mode={mode},per=symbol")
    np.testing.assert_array_equal(
        zero.believed_taps(taps, 0.1, batch, num_symbols=7).numpy(),
        np.broadcast_to(np.reshape(taps, (-1, 1, 3)), shape))


def test_per_frame_specs_ignore_num_symbols():
    # the link may always pass num_symbols; per-frame cases stay [B, L]
    for text in ("perturbed:var=0.1", "perturbed:var=0.1,mode=additive",
                 "estimated:pilots=16"):
        spec = parse_csi(text)
        a = spec.believed_taps(H, 0.2, 4, seed=[3, 4])
        b = spec.believed_taps(H, 0.2, 4, seed=[3, 4], num_symbols=9)
        assert b.shape == (4, 3)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_per_symbol_draws_statistics_and_independence(
        mode, check_mean_and_variance, chi2_bounds):
    """Per-symbol draws: right mean and variance per tap, and a fresh draw
    for every symbol: the error of a frame averaged over its T symbols
    has variance var / T (a draw shared by the frame's symbols would give
    var), consecutive symbols and different taps are uncorrelated."""
    var, B, T = 0.1, 2000, 25
    spec = parse_csi(f"perturbed:var={var},mode={mode},per=symbol")
    d = spec.believed_taps(H, 0.1, B, seed=[7, 7], num_symbols=T).numpy()
    assert d.shape == (B, T, 3)
    # additive: h + sqrt(var) n; multiplicative: h (1 + sqrt(var) n)
    tap_var = np.full(3, var) if mode == "additive" else var * H ** 2
    check_mean_and_variance(d.reshape(-1, 3), H, tap_var)
    e = (d - H) / np.sqrt(tap_var)                  # i.i.d. N(0, 1)
    frame_mean = e.mean(axis=1)                     # [B, 3]: N(0, 1 / T)
    lo, hi = chi2_bounds(B * 3)
    assert lo < np.mean(frame_mean ** 2) * T < hi
    n = e[:, :-1].size
    for lag in (1, 2):
        r = np.mean(e[:, :-lag] * e[:, lag:])
        assert abs(r) < Z / np.sqrt(e[:, lag:].size), (lag, r)
    assert abs(np.mean(e[..., 0] * e[..., 1])) < Z / np.sqrt(n)
    # frames differ too (no draw shared across the batch)
    assert abs(np.mean(e[:-1, 0] * e[1:, 0])) < Z / np.sqrt((B - 1) * 3)


def test_per_symbol_complex_draws_are_circular(check_mean_and_variance):
    spec = parse_csi("perturbed:var=0.2,mode=additive,per=symbol")
    d = spec.believed_taps(HC, 0.1, 500, seed=[2, 9], num_symbols=20)
    assert d.shape == (500, 20, 3) and d.dtype == tf.complex128
    d = d.numpy().reshape(-1, 3)
    check_mean_and_variance(d.real, HC.real, 0.1)
    check_mean_and_variance(d.imag, HC.imag, 0.1)


def test_believed_taps_errors():
    per_symbol = parse_csi("perturbed:var=0.1,mode=additive,per=symbol")
    with pytest.raises(ValueError, match="num_symbols=T"):
        per_symbol.believed_taps(H, 0.1, 4, seed=[1, 2])
    with pytest.raises(ValueError, match="num_symbols"):
        per_symbol.believed_taps(H, 0.1, 4, num_symbols=0)
    training = parse_csi("estimated:from=training,var=0.1")
    with pytest.raises(ValueError, match="estimate_channel_ls"):
        training.believed_taps(H, 0.1, 4, seed=[1, 2])


def test_per_symbol_believed_taps_compile_with_xla():
    spec = parse_csi("perturbed:var=0.1,mode=additive,per=symbol")
    taps = tf.constant(H, tf.float32)
    compiled = tf.function(
        lambda seed: spec.believed_taps(taps, 0.1, 4, seed, num_symbols=30),
        jit_compile=True)
    a = compiled(tf.constant([3, 1])).numpy()
    assert a.shape == (4, 30, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, compiled(tf.constant([3, 1])).numpy())
    assert not np.any(a == compiled(tf.constant([3, 2])).numpy())
    assert np.all(np.abs(a - H) < 5 * np.sqrt(0.1))


# -- one fit to all training pilots ---------------------------------------

def test_channel_ls_is_exact_without_noise_real():
    # the preamble convention of the channel: BPSK index 0 = +1 before
    # every frame
    from channels import ISIChannel
    rng = np.random.default_rng(21)
    x = rng.choice([-1.0, 1.0], size=(6, 9))
    y = ISIChannel(H, precision="double")(x, 0.0)
    taps, no = estimate_channel_ls(y, x, 3)
    assert taps.shape == (3,) and taps.dtype == tf.float64
    assert no.shape == () and no.dtype == tf.float64
    np.testing.assert_allclose(taps.numpy(), H, atol=1e-12)
    assert float(no) < 1e-24
    # the same pilots in every frame: x [N]
    y1 = ISIChannel(H, precision="double")(np.tile(x[:1], (3, 1)), 0.0)
    np.testing.assert_allclose(estimate_channel_ls(y1, x[0], 3)[0].numpy(),
                               H, atol=1e-12)


def test_channel_ls_is_exact_without_noise_complex():
    rng = np.random.default_rng(22)
    pre = (1 + 1j) / np.sqrt(2)
    x = (rng.choice([-1.0, 1.0], size=(4, 8))
         + 1j * rng.choice([-1.0, 1.0], size=(4, 8))) / np.sqrt(2)
    y = np.stack([regression_matrix(xb, 3, pre) @ HC for xb in x])
    taps, no = estimate_channel_ls(y, x, 3, preamble_point=pre)
    assert taps.dtype == tf.complex128 and no.dtype == tf.float64
    np.testing.assert_allclose(taps.numpy(), HC, atol=1e-12)
    assert float(no) < 1e-24


def test_channel_ls_is_one_joint_fit():
    # one regression over the stacked frames (each after its preamble),
    # not an average of per-frame fits
    rng = np.random.default_rng(23)
    x = rng.choice([-1.0, 1.0], size=(5, 7))
    X = np.concatenate([regression_matrix(xb, 3, 1.0) for xb in x])
    y = (X @ H + 0.7 * rng.standard_normal(len(X))).reshape(5, 7)
    taps, no = estimate_channel_ls(y, x, 3)
    ref, res = np.linalg.lstsq(X, y.ravel(), rcond=None)[:2]
    np.testing.assert_allclose(taps.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(float(no), res[0] / (35 - 3), rtol=1e-10)
    per_frame = estimate_taps_ls(y, x, 3).numpy().mean(0)
    assert not np.allclose(per_frame, ref, atol=1e-3)


@pytest.mark.parametrize("complex_", [False, True])
def test_channel_ls_noise_estimate_is_unbiased(complex_, chi2_bounds):
    """Fixed pilots, many noise draws: (N_total - L) no_hat / no is
    chi-square with N_total - L degrees of freedom (real; twice that over
    real and imaginary parts for CN(0, no) noise, whose no is the complex
    variance), so the mean over draws has a chi-square bound, and the
    taps are unbiased."""
    rng = np.random.default_rng(24 + complex_)
    F, N, L, no, reps = 4, 10, 3, 0.3, 400
    taps = HC if complex_ else H
    x = rng.choice([-1.0, 1.0], size=(F, N))
    pre = 1.0
    if complex_:
        x = (x + 1j * rng.choice([-1.0, 1.0], size=(F, N))) / np.sqrt(2)
        pre = (1 + 1j) / np.sqrt(2)
    X = np.concatenate([regression_matrix(xb, L, pre) for xb in x])
    assert np.linalg.matrix_rank(X) == L
    w = rng.standard_normal((reps, F * N))
    if complex_:
        w = (w + 1j * rng.standard_normal((reps, F * N))) / np.sqrt(2)
    ys = (X @ taps + np.sqrt(no) * w).reshape(reps, F, N)
    est = [estimate_channel_ls(yr, x, L, preamble_point=pre) for yr in ys]
    no_hat = np.array([float(e[1]) for e in est])
    dof = reps * (F * N - L) * (2 if complex_ else 1)
    lo, hi = chi2_bounds(dof)
    assert lo < no_hat.mean() / no < hi, no_hat.mean() / no
    # taps: error covariance no (X^H X)^{-1}, split evenly over real and
    # imaginary parts for circular noise
    err = np.array([e[0].numpy() for e in est]) - taps
    part_var = np.real(np.diag(np.linalg.inv(X.conj().T @ X))) * no / (
        2 if complex_ else 1)
    se = np.sqrt(part_var / reps)
    assert np.all(np.abs(err.real.mean(0)) < Z * se)
    assert np.all(np.abs(err.imag.mean(0)) < Z * se)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: estimate_channel_ls(np.zeros((1, 3)), np.ones(3), 3),
     ValueError, "F N > L"),
    (lambda: estimate_channel_ls(np.zeros((2, 4)), np.ones((3, 4)), 2),
     ValueError, "x_frames"),
    (lambda: estimate_channel_ls(np.zeros((2, 4)), np.ones(5), 2),
     ValueError, "x_frames"),
    (lambda: estimate_channel_ls(np.zeros(4), np.ones(4), 2), ValueError,
     "y_frames"),
    (lambda: estimate_channel_ls(np.full((1, 4), np.nan), np.ones(4), 2),
     ValueError, "y_frames"),
    (lambda: estimate_channel_ls(np.zeros((1, 4), np.int32), np.ones(4), 2),
     TypeError, "y_frames"),
    (lambda: estimate_channel_ls(np.zeros((1, 4)), np.ones(4), 0),
     ValueError, "memory"),
])
def test_channel_ls_errors(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
