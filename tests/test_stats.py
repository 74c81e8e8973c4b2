"""Wilson and Clopper-Pearson intervals against scipy, published values and
their defining properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, binomtest

from rxsim.stats import (clopper_pearson_interval, design_effect,
                         effective_interval, wilson_interval)

GRID_N = [1, 2, 3, 10, 37, 263, 1000, 10**6]
CONFIDENCES = [0.5, 0.9, 0.95, 0.999]


def _grid():
    for n in GRID_N:
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            yield k, n


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_wilson_matches_scipy_on_grid(confidence):
    for k, n in _grid():
        ref = binomtest(k, n).proportion_ci(confidence_level=confidence,
                                            method="wilson")
        lo, hi = wilson_interval(k, n, confidence)
        # Same closed form, written differently: agreement to rounding.
        assert lo == pytest.approx(ref.low, rel=1e-12, abs=1e-15), (k, n)
        assert hi == pytest.approx(ref.high, rel=1e-12, abs=1e-15), (k, n)


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_clopper_pearson_matches_scipy_on_grid(confidence):
    for k, n in _grid():
        # scipy finds the limits by root finding on the binomial tails
        # (brentq, xtol 2e-12), independently of our beta quantiles.
        ref = binomtest(k, n).proportion_ci(confidence_level=confidence,
                                            method="exact")
        lo, hi = clopper_pearson_interval(k, n, confidence)
        assert lo == pytest.approx(ref.low, rel=1e-9, abs=1e-11), (k, n)
        assert hi == pytest.approx(ref.high, rel=1e-9, abs=1e-11), (k, n)


def test_clopper_pearson_limits_solve_the_tail_equations():
    # Definition: P[X >= k | lo] = a/2 and P[X <= k | hi] = a/2.
    for k, n in [(3, 50), (81, 263), (1, 10**6)]:
        lo, hi = clopper_pearson_interval(k, n, 0.95)
        assert binom.sf(k - 1, n, lo) == pytest.approx(0.025, rel=1e-9)
        assert binom.cdf(k, n, hi) == pytest.approx(0.025, rel=1e-9)


# Published 95% intervals, Newcombe (1998), "Two-sided confidence intervals
# for the single proportion: comparison of seven methods", Stat. Med. 17,
# 857-872, Table II: method 3 (Wilson score, no continuity correction) and
# method 5 (Clopper-Pearson exact), to 4 decimals.
NEWCOMBE_1998 = [
    # k, n, wilson, exact
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize("k, n, wilson, exact", NEWCOMBE_1998)
def test_published_values_newcombe_1998(k, n, wilson, exact):
    assert np.round(wilson_interval(k, n), 4) == pytest.approx(wilson,
                                                               abs=1e-12)
    assert np.round(clopper_pearson_interval(k, n), 4) == pytest.approx(
        exact, abs=1e-12)


def test_edges_are_exact():
    assert wilson_interval(0, 10)[0] == 0.0
    assert clopper_pearson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert clopper_pearson_interval(10, 10)[1] == 1.0
    # 0/n exact upper limit has the closed form 1 - (a/2)^(1/n).
    assert clopper_pearson_interval(0, 10)[1] == pytest.approx(
        1 - 0.025 ** (1 / 10), rel=1e-12)
    assert clopper_pearson_interval(10, 10)[0] == pytest.approx(
        0.025 ** (1 / 10), rel=1e-12)


@pytest.mark.parametrize("fn", [wilson_interval, clopper_pearson_interval])
def test_vectorised_matches_scalar_and_broadcasts(fn):
    k = np.array([0, 1, 5, 9, 10])
    lo, hi = fn(k, 10, 0.9)
    assert lo.shape == hi.shape == (5,)
    for i, ki in enumerate(k):
        assert (lo[i], hi[i]) == fn(int(ki), 10, 0.9)
    lo2, hi2 = fn(np.array([0, 3]), np.array([[10], [20]]))
    assert lo2.shape == (2, 2)
    assert hi2[1, 1] == fn(3, 20)[1]
    s = fn(np.int64(3), np.int32(20))
    assert isinstance(s[0], float) and isinstance(s[1], float)


@pytest.mark.parametrize("fn", [wilson_interval, clopper_pearson_interval])
@pytest.mark.parametrize("args, exc, word", [
    ((-1, 10), ValueError, "errors"),
    ((1, -10), ValueError, "trials"),
    ((11, 10), ValueError, "exceed"),
    ((0, 0), ValueError, "trials"),
    ((1.5, 10), ValueError, "errors"),
    ((1, float("nan")), ValueError, "trials"),
    ((1, 10, 0.0), ValueError, "confidence"),
    ((1, 10, 1.0), ValueError, "confidence"),
    ((1, 10, float("nan")), ValueError, "confidence"),
    ((1, 10, "95%"), TypeError, "confidence"),
    ((True, 10), TypeError, "errors"),
    (("1", 10), TypeError, "errors"),
    (([1, 2], [10, 10, 10]), ValueError, "broadcast"),
])
def test_bad_input(fn, args, exc, word):
    with pytest.raises(exc, match=word):
        fn(*args)


def test_whole_float_counts_are_accepted():
    assert wilson_interval(3.0, 20.0) == wilson_interval(3, 20)


counts = st.integers(min_value=1, max_value=10**9).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n)))
levels = st.floats(min_value=0.01, max_value=0.9999)


@settings(max_examples=300, deadline=None)
@given(kn=counts, c=levels)
def test_property_contains_estimate_within_unit_interval(kn, c):
    k, n = kn
    for fn in (wilson_interval, clopper_pearson_interval):
        lo, hi = fn(k, n, c)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
        assert lo < hi


@settings(max_examples=200, deadline=None)
@given(kn=counts, c1=levels, c2=levels)
def test_property_monotone_in_confidence(kn, c1, c2):
    k, n = kn
    c1, c2 = sorted((c1, c2))
    for fn in (wilson_interval, clopper_pearson_interval):
        lo1, hi1 = fn(k, n, c1)
        lo2, hi2 = fn(k, n, c2)
        # A higher level never gives a shorter interval on either side
        # (up to float rounding of the closed forms).
        assert lo2 <= lo1 + 1e-15
        assert hi2 >= hi1 - 1e-15


def test_coverage_of_clopper_pearson_is_at_least_nominal():
    # Exact coverage for n = 30 over a p grid: sum of binomial pmf over the
    # k whose interval covers p. Clopper-Pearson guarantees >= 0.95 for
    # every p; Wilson does not (dips below), which the check also exposes.
    n = 30
    k = np.arange(n + 1)
    cp_lo, cp_hi = clopper_pearson_interval(k, n)
    w_lo, w_hi = wilson_interval(k, n)
    ps = np.linspace(0.005, 0.995, 199)
    pmf = binom.pmf(k[None], n, ps[:, None])
    cov_cp = (pmf * ((cp_lo <= ps[:, None]) & (ps[:, None] <= cp_hi))).sum(1)
    cov_w = (pmf * ((w_lo <= ps[:, None]) & (ps[:, None] <= w_hi))).sum(1)
    assert cov_cp.min() >= 0.95 - 1e-12
    assert cov_w.min() < 0.95


# -- frames as the independent units (bursty errors) ---------------------------


def _frames(rng, frames, T, p, burst):
    """Per-frame error counts when errors come in bursts of ``burst``."""
    events = rng.binomial(T // burst, p, size=frames)
    return events * burst


def test_design_effect_is_one_for_independent_errors_and_burst_length_for_bursts():
    rng = np.random.default_rng(1)
    for burst, lo, hi in ((1, 0.9, 1.1), (3, 2.7, 3.3)):
        e = _frames(rng, 4000, 300, 0.02, burst)
        d = design_effect(int(e.sum()), int((e ** 2).sum()), 4000, 300)
        assert lo < d < hi, (burst, d)
    assert design_effect(0, 0, 10, 100) == 1.0
    assert design_effect(5, 25, 1, 100) == 1.0      # one frame: no variance


def test_effective_interval_covers_bursty_rates_where_the_binomial_one_fails():
    rng = np.random.default_rng(7)
    p_event, burst, frames, T = 0.01, 4, 200, 200
    p_true = p_event                     # each event hits `burst` symbols
    plain = adjusted = 0
    reps = 400
    for _ in range(reps):
        e = _frames(rng, frames, T, p_event, burst)
        k, n = int(e.sum()), frames * T
        lo, hi = wilson_interval(k, n)
        plain += lo <= p_true <= hi
        d = design_effect(k, int((e ** 2).sum()), frames, T)
        lo, hi = effective_interval(k, n, d)
        adjusted += lo <= p_true <= hi
        lo_cp, hi_cp = effective_interval(k, n, d, method="cp")
        assert lo_cp <= k / n <= hi_cp
    # 95% intervals: binomial coverage collapses (~0.68), frames restore it
    assert plain / reps < 0.8
    assert 0.92 <= adjusted / reps <= 0.985


def test_effective_interval_without_design_effect_is_the_binomial_one():
    assert effective_interval(30, 1000) == wilson_interval(30, 1000)
    assert effective_interval(30, 1000, None, method="cp") == \
        clopper_pearson_interval(30, 1000)
    lo1, hi1 = effective_interval(3000, 10 ** 6)
    lo4, hi4 = effective_interval(3000, 10 ** 6, 4.0)
    assert (hi4 - lo4) / (hi1 - lo1) == pytest.approx(2.0, rel=0.02)
