"""Paired comparisons of two detectors measured on the same frames.

Under common random numbers every detector of a (channel, SNR) point sees
the same frames in the same order (a detector that stopped earlier saw a
prefix of them), so the difference between two detectors' error counts
on a frame is free of the noise both share: the frame's difficulty (its
noise, its channel draw). Intervals that use this pairing are much
narrower than two marginal intervals and answer the question a
comparison asks: is A better than B, and by how much?

What is computed
----------------
With ``a_i``, ``b_i`` the errors of A and B on common frame ``i = 1..n``
(frames are the independent units; errors inside a frame come in bursts)
and ``m`` trials per frame (symbols for SER), the rates are
``p_A = mean(a) / m``, ``p_B = mean(b) / m`` and, from the per-frame
sample (co)variances, ``V_A = s_aa / (n m^2)``, ``V_B``, ``C = s_ab / (n
m^2)`` are the variances and covariance of the two means.

- **Difference** ``p_A - p_B``: the paired t interval, ``p_A - p_B +- t
  sqrt(V_A + V_B - 2C)`` with ``t`` the ``(1 + confidence) / 2`` quantile
  of Student's t with ``n - 1`` degrees of freedom (the interval of the
  mean per-frame difference ``a_i - b_i``, divided by ``m``).
- **Ratio** ``p_A / p_B``: Fieller's interval, the set of ``R`` that the
  t test of ``p_A - R p_B = 0`` does not reject,
  ``(p_A - R p_B)^2 <= t^2 (V_A - 2 R C + R^2 V_B)``. At ``R = 1`` this is
  the test of the difference, so the ratio's set excludes 1 exactly when
  the difference's interval excludes 0, and one verdict serves both:
  ``"A better"`` (fewer errors), ``"B better"`` or ``"not resolved"``.
  When B's rate is not significantly above 0 the set is unbounded and the
  upper end is ``inf``; when neither rate is, the interval is
  ``[0, inf]``. (In that last case the exact set can be two rays,
  ``[0, r1]`` and ``[r2, inf)``; the interval reported is their hull, the
  verdict the exact test.)
- **Zero errors.** A count without errors has sample variance 0, which
  would claim that its rate is known exactly. Each variance therefore
  gets ``1 / N^2`` added (``N = n m`` trials), the variance that one
  error on one of the ``n`` frames would give: negligible once a few
  frames have errors, and it keeps the intervals of "no errors" (or of
  two detectors that never differ) finite and non-empty.
- **Unpaired counterpart** (:func:`unpaired_comparison`,
  :func:`summary_comparison`): the same formulas with ``C = 0`` and all
  frames of each detector, Welch's degrees of freedom (normal quantiles
  from stored totals): what two independent simulations allow, the
  fallback for stores without frame counts.

Training seeds
--------------
A learned detector's error rate also depends on its training draw. The
intervals above describe **test noise**: how well the frames simulated
pin down the rates of *these* trained models. :func:`over_seeds` takes one
comparison per training seed (replicate) and gives the t interval over
seeds of the mean log ratio (reported as a geometric-mean ratio) and of
the mean difference: how well the replicates pin down what a **fresh
training set gives on average**, test noise included (each replicate's
is part of its value; that of a reference row shared by all replicates
is added). Its prediction intervals say where the comparison of one new
training run is expected to fall.

The verdicts here are tests at the given level for one comparison; over a
grid of points some will be resolved by chance (5% of the unresolved
ones at 95%).
"""

import math
import numbers
import re
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy import stats as sps

__all__ = ["Comparison", "SeedInterval", "RowComparison", "A_BETTER",
           "B_BETTER", "NOT_RESOLVED", "paired_comparison",
           "unpaired_comparison", "averaged_comparison",
           "summary_comparison", "over_seeds",
           "mean_frames", "replicate_base", "compare_rows", "METRIC_COLUMNS"]

A_BETTER = "A better"
B_BETTER = "B better"
NOT_RESOLVED = "not resolved"

#: metric -> (per-frame counter, errors column, trials column, design
#: effect column or None) of the results rows
METRIC_COLUMNS = {
    "ser": ("errors", "errors", "symbols", "ser_deff"),
    "ber": ("bit_errors", "bit_errors", "bits", None),
    "bler": ("block_errors", "block_errors", "blocks", None),
}


@dataclass(frozen=True)
class Comparison:
    """Detector A against detector B at one point.

    Parameters
    ----------
    rate_a, rate_b : float
        Error rates (errors / trials) on the frames used; for a paired
        comparison the common frames.
    ratio : float
        ``rate_a / rate_b`` (``inf`` when only B has no errors, ``nan``
        when neither has any).
    ratio_ci : (float, float)
        Fieller interval of the ratio (``hi = inf`` when B's rate is not
        significantly above 0).
    difference : float
        ``rate_a - rate_b``.
    difference_ci : (float, float)
    verdict : "A better" | "B better" | "not resolved"
        The test of ``rate_a = rate_b`` at level ``confidence``: resolved
        exactly when ``difference_ci`` excludes 0 (and Fieller's set
        excludes 1).
    p_value : float
        Two-sided p-value of that test.
    paired : bool
        True when the frames were paired (common random numbers).
    frames_a, frames_b : int or None
        Frames used (equal when paired; ``None`` for a comparison of
        stored totals).
    errors_a, errors_b : float
        Errors on the frames used (means over replicates are not whole).
    trials_a, trials_b : float
        Trials (symbols, bits or blocks) on the frames used.
    confidence : float
    se_a, se_b : float
        Standard errors of ``rate_a`` and ``rate_b`` (continuity term
        included).

    Example
    -------
    >>> from rxsim.paired import paired_comparison
    >>> c = paired_comparison([0, 2, 1, 0], [1, 2, 2, 0],
    ...                       symbols_per_frame=10)
    >>> c.rate_a, c.rate_b, c.frames, c.paired, c.verdict
    (0.075, 0.125, 4, True, 'not resolved')
    """

    rate_a: float
    rate_b: float
    ratio: float
    ratio_ci: Tuple[float, float]
    difference: float
    difference_ci: Tuple[float, float]
    verdict: str
    p_value: float
    paired: bool
    frames_a: Optional[int]
    frames_b: Optional[int]
    errors_a: float
    errors_b: float
    trials_a: float
    trials_b: float
    confidence: float
    se_a: float = math.nan
    se_b: float = math.nan

    @property
    def frames(self):
        """Frames used: the common frames of a paired comparison, else
        the smaller of the two (``None`` without frame counts)."""
        if self.frames_a is None or self.frames_b is None:
            return None
        return min(self.frames_a, self.frames_b)


@dataclass(frozen=True)
class SeedInterval:
    """A comparison over training seeds (replicates).

    Parameters
    ----------
    replicates : int
        Number of training seeds (>= 2).
    ratio : float
        Geometric mean over seeds of the ratio, ``exp(mean log ratio)``;
        each replicate's log ratio is ``log((e_A + 0.5) / N_A) - log((e_B +
        0.5) / N_B)`` (0.5 added to each count so that a replicate without
        errors has a finite log ratio).
    ratio_ci : (float, float)
        ``exp`` of the t interval (``replicates - 1`` degrees of freedom)
        of the mean log ratio: where the typical ratio of a fresh training
        set lies (given these test conditions).
    ratio_pi : (float, float)
        Prediction interval of one new training seed's ratio.
    difference : float
        Mean over seeds of the rate difference.
    difference_ci, difference_pi : (float, float)
        t interval of that mean; prediction interval of one new seed.
    verdict : "A better" | "B better" | "not resolved"
        Whether ``ratio_ci`` excludes 1.
    spread : (float, float)
        Smallest and largest replicate ratio.
    confidence : float

    The interval over seeds comes from the spread of the replicates, which
    includes each replicate's own test noise; the test noise of a side
    that all replicates share (one row of B for every replicate of A) is
    added to it (see :func:`over_seeds`).

    Example
    -------
    >>> from rxsim.paired import over_seeds, summary_comparison
    >>> s = over_seeds([summary_comparison(e, 10_000, 50, 10_000)
    ...                 for e in (40, 60, 80)])
    >>> s.replicates, s.ratio_ci[0] < s.ratio < s.ratio_ci[1]
    (3, True)
    """

    replicates: int
    ratio: float
    ratio_ci: Tuple[float, float]
    ratio_pi: Tuple[float, float]
    difference: float
    difference_ci: Tuple[float, float]
    difference_pi: Tuple[float, float]
    verdict: str
    spread: Tuple[float, float]
    confidence: float


# -- input checks -------------------------------------------------------------

def _check_confidence(confidence):
    if isinstance(confidence, bool) or not isinstance(confidence,
                                                      numbers.Real):
        raise TypeError("`confidence` must be a real number in (0, 1), got "
                        f"{confidence!r}.")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError("`confidence` must lie strictly between 0 and 1, "
                         f"got {confidence!r}.")
    return float(confidence)


def _check_trials(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number (trials per "
                         f"frame: symbols for SER, bits for BER, 1 for "
                         f"BLER), got {value!r}.")
    return float(value)


def _check_counts(x, name, per_frame):
    arr = np.asarray(x)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or
                                 np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"`{name}` must be per-frame error counts (numbers), "
                        f"got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one count per frame (1-D), got "
                         f"shape {arr.shape}.")
    if arr.size < 2:
        raise ValueError(f"`{name}` needs at least 2 frames for a variance, "
                         f"got {arr.size}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"`{name}` must hold finite counts >= 0.")
    if np.any(arr > per_frame * (1 + 1e-12)):
        raise ValueError(f"`{name}` has a frame with more errors than "
                         f"`symbols_per_frame` ({per_frame:g}); pass the "
                         "trials per frame of these counts.")
    return arr


# -- the one computation ------------------------------------------------------

def _compare(pa, pb, va, vb, cov, dof, confidence, *, paired, frames_a,
             frames_b, errors_a, errors_b, trials_a, trials_b):
    """Difference and Fieller intervals from the two means, the variances
    and covariance of the means (rate units, continuity terms included)
    and the degrees of freedom of the quantile (``inf``: normal)."""
    k = float(sps.t.ppf(0.5 + 0.5 * confidence, dof)) if math.isfinite(dof) \
        else float(sps.norm.ppf(0.5 + 0.5 * confidence))
    q = k * k
    diff = pa - pb
    var_d = max(va + vb - 2.0 * cov, 0.0)
    se = math.sqrt(var_d)
    # f(R) = (pa - R pb)^2 - q (va - 2 R cov + R^2 vb) = A2 R^2 - 2 B1 R + C0;
    # Fieller's set is {R: f(R) <= 0}; f(1) > 0 is the rejection of the test
    # of the difference, so the verdict is computed once, from f(1).
    a2 = pb * pb - q * vb
    b1 = pa * pb - q * cov
    c0 = pa * pa - q * va
    resolved = diff * diff > q * var_d
    verdict = NOT_RESOLVED if not resolved else (A_BETTER if diff < 0
                                                 else B_BETTER)
    if se > 0:
        tail = sps.t.sf(abs(diff) / se, dof) if math.isfinite(dof) else \
            sps.norm.sf(abs(diff) / se)
        p_value = float(min(1.0, 2.0 * tail))
    else:
        p_value = 1.0 if diff == 0 else 0.0
    disc = max(b1 * b1 - a2 * c0, 0.0)
    root = math.sqrt(disc)
    if a2 > 0:                           # B significantly > 0: bounded
        lo, hi = (b1 - root) / a2, (b1 + root) / a2
    elif c0 > 0:                         # only A significant: [lo, inf)
        # the positive root, in the form that stays exact as a2 -> 0
        lo = c0 / (b1 + root) if b1 + root > 0 else math.inf
        hi = math.inf
    else:                                # neither: the hull [0, inf)
        lo, hi = 0.0, math.inf
    lo = max(lo, 0.0)
    if pb > 0:
        ratio = pa / pb
    else:
        ratio = math.inf if pa > 0 else math.nan
    if math.isfinite(ratio):             # guard the rounding of the roots
        lo, hi = min(lo, ratio), max(hi, ratio)
    return Comparison(
        rate_a=float(pa), rate_b=float(pb), ratio=float(ratio),
        ratio_ci=(float(lo), float(hi)), difference=float(diff),
        difference_ci=(float(diff - k * se), float(diff + k * se)),
        verdict=verdict, p_value=p_value, paired=paired, frames_a=frames_a,
        frames_b=frames_b, errors_a=_number(errors_a),
        errors_b=_number(errors_b), trials_a=_number(trials_a),
        trials_b=_number(trials_b), confidence=confidence,
        se_a=math.sqrt(va), se_b=math.sqrt(vb))


def _number(x):
    x = float(x)
    return int(x) if x.is_integer() else x


def _moments(x, m):
    """Mean rate and variance of the mean rate (with the continuity term)
    of per-frame counts ``x`` with ``m`` trials per frame."""
    n = x.size
    trials = n * m
    return x.mean() / m, x.var(ddof=1) / (n * m * m) + 1.0 / trials ** 2


# -- public functions ---------------------------------------------------------

def paired_comparison(a, b, *, symbols_per_frame, confidence=0.95):
    """Compare detectors A and B on their common frames, using the pairing.

    Parameters
    ----------
    a, b : array_like, [frames]
        Errors per frame of A and of B in simulation order, the same frames
        under common random numbers; the first ``min(len(a), len(b))``
        (the common frames) are used. Means over training replicates
        (:func:`mean_frames`) need not be whole.
    symbols_per_frame : float
        Trials per frame: symbols for a SER, bits for a BER, 1 for a BLER.
    confidence : float
        Level of the intervals and of the test behind the verdict.

    Output
    ------
    : :class:`Comparison`
        Rates on the common frames, the ratio with Fieller's interval, the
        difference with its paired t interval, the verdict (see the module
        notes for the formulas).

    Example
    -------
    B makes the errors of A plus one on every fourth frame:

    >>> import numpy as np
    >>> from rxsim.paired import paired_comparison
    >>> a = np.tile([0, 3, 0, 1, 5, 0, 0, 2], 50)
    >>> b = a + np.tile([1, 0, 0, 0], 100)
    >>> c = paired_comparison(a, b, symbols_per_frame=100)
    >>> c.verdict, c.frames, round(c.ratio, 3)
    ('A better', 400, 0.846)
    >>> [round(x, 3) for x in c.ratio_ci]
    [0.823, 0.868]
    """
    confidence = _check_confidence(confidence)
    m = _check_trials(symbols_per_frame, "symbols_per_frame")
    a = _check_counts(a, "a", m)
    b = _check_counts(b, "b", m)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    pa, va = _moments(a, m)
    pb, vb = _moments(b, m)
    cov = float(np.cov(a, b, ddof=1)[0, 1]) / (n * m * m)
    return _compare(pa, pb, va, vb, cov, n - 1, confidence, paired=True,
                    frames_a=n, frames_b=n, errors_a=a.sum(),
                    errors_b=b.sum(), trials_a=n * m, trials_b=n * m)


def averaged_comparison(pairs, *, symbols_per_frame, confidence=0.95):
    """Compare the *averages* over several points (strata, e.g. the gamma
    grid of ``configs/paper.toml``) of A's and B's rates, paired within
    each point.

    With per-point rates ``p_g`` and the variances and covariance of their
    means (as in :func:`paired_comparison`), the averages over ``G`` points
    are ``mean_g p_g`` with variance ``sum_g V_g / G**2`` (points are
    independent), and the difference and Fieller's ratio are formed from
    them with a normal quantile (many frames in all).

    Parameters
    ----------
    pairs : sequence of (a, b)
        Per-frame errors of A and B at each point (common frames: the first
        ``min(len(a), len(b))`` of each).
    symbols_per_frame : float or sequence of float (one per point)
    confidence : float

    Output
    ------
    : :class:`Comparison` of the averaged rates (``frames_*`` count all
      common frames)

    Example
    -------
    >>> import numpy as np
    >>> from rxsim.paired import averaged_comparison
    >>> a = np.tile([0, 3, 0, 1, 5, 0, 0, 2], 50)
    >>> c = averaged_comparison([(a, a + 1), (2 * a, 2 * a)],
    ...                         symbols_per_frame=100)
    >>> c.verdict, round(c.ratio, 3)
    ('A better', 0.805)
    """
    confidence = _check_confidence(confidence)
    pairs = list(pairs)
    if not pairs:
        raise ValueError("`pairs` is empty: give (a, b) per point.")
    ms = (list(symbols_per_frame)
          if isinstance(symbols_per_frame, (list, tuple)) else
          [symbols_per_frame] * len(pairs))
    if len(ms) != len(pairs):
        raise ValueError(f"`symbols_per_frame` has {len(ms)} entries for "
                         f"{len(pairs)} points.")
    g = len(pairs)
    pa = pb = va = vb = cov = 0.0
    frames = errors_a = errors_b = trials = 0
    for (a, b), m in zip(pairs, ms):
        m = _check_trials(m, "symbols_per_frame")
        a = _check_counts(a, "a", m)
        b = _check_counts(b, "b", m)
        n = min(a.size, b.size)
        a, b = a[:n], b[:n]
        ma, sa = _moments(a, m)
        mb, sb = _moments(b, m)
        pa, pb = pa + ma / g, pb + mb / g
        va, vb = va + sa / g ** 2, vb + sb / g ** 2
        cov += float(np.cov(a, b, ddof=1)[0, 1]) / (n * m * m) / g ** 2
        frames += n
        errors_a, errors_b = errors_a + a.sum(), errors_b + b.sum()
        trials += n * m
    return _compare(pa, pb, va, vb, cov, math.inf, confidence, paired=True,
                    frames_a=frames, frames_b=frames, errors_a=errors_a,
                    errors_b=errors_b, trials_a=trials, trials_b=trials)


def unpaired_comparison(a, b, *, symbols_per_frame, confidence=0.95):
    """Compare A and B as independent samples of frames (no pairing).

    The counterpart of :func:`paired_comparison` for frames that are not
    the same (different seeds, runs before common random numbers): all
    frames of each are used, the covariance is 0 and the quantile is
    Student's t with Welch's degrees of freedom.

    Parameters
    ----------
    a, b : array_like, [frames]
        Errors per frame of A and of B (their lengths may differ).
    symbols_per_frame : float or (float, float)
        Trials per frame, one for both or one for each.
    confidence : float

    Output
    ------
    : :class:`Comparison` with ``paired=False``

    Example
    -------
    >>> import numpy as np
    >>> from rxsim.paired import paired_comparison, unpaired_comparison
    >>> a = np.tile([0, 3, 0, 1, 5, 0, 0, 2], 50)
    >>> b = a + np.tile([1, 0, 0, 0], 100)
    >>> u = unpaired_comparison(a, b, symbols_per_frame=100)
    >>> p = paired_comparison(a, b, symbols_per_frame=100)
    >>> u.verdict, u.ratio == p.ratio
    ('not resolved', True)
    >>> bool(u.ratio_ci[1] - u.ratio_ci[0] > 5 * (p.ratio_ci[1] - p.ratio_ci[0]))
    True
    """
    confidence = _check_confidence(confidence)
    if isinstance(symbols_per_frame, (tuple, list)):
        ma, mb = symbols_per_frame
    else:
        ma = mb = symbols_per_frame
    ma = _check_trials(ma, "symbols_per_frame")
    mb = _check_trials(mb, "symbols_per_frame")
    a = _check_counts(a, "a", ma)
    b = _check_counts(b, "b", mb)
    pa, va = _moments(a, ma)
    pb, vb = _moments(b, mb)
    # Welch-Satterthwaite degrees of freedom of va + vb
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return _compare(pa, pb, va, vb, 0.0, dof, confidence, paired=False,
                    frames_a=a.size, frames_b=b.size, errors_a=a.sum(),
                    errors_b=b.sum(), trials_a=a.size * ma,
                    trials_b=b.size * mb)


def summary_comparison(errors_a, trials_a, errors_b, trials_b, *,
                       deff_a=None, deff_b=None, confidence=0.95):
    """Compare A and B from stored totals only (stores without frame
    counts): independent samples, normal quantiles.

    The variance of a rate ``p = errors / trials`` is ``deff p (1 - p) /
    trials`` with ``deff`` the design effect of bursty errors
    (``ser_deff`` of a stored row; ``None``: 1, i.e. independent trials)
    plus the continuity term ``1 / trials^2`` of the module notes.

    Parameters
    ----------
    errors_a, trials_a, errors_b, trials_b : float
        Totals of each detector (means over replicates need not be whole).
    deff_a, deff_b : None or float
    confidence : float

    Output
    ------
    : :class:`Comparison` with ``paired=False`` and no frame counts

    Example
    -------
    >>> from rxsim.paired import summary_comparison
    >>> c = summary_comparison(120, 100_000, 200, 100_000, deff_a=2.0,
    ...                        deff_b=2.0)
    >>> c.verdict, round(c.ratio, 2), [round(x, 2) for x in c.ratio_ci]
    ('A better', 0.6, [0.43, 0.82])
    """
    confidence = _check_confidence(confidence)
    moments = []
    for e, n, d, side in ((errors_a, trials_a, deff_a, "a"),
                          (errors_b, trials_b, deff_b, "b")):
        n = _check_trials(n, f"trials_{side}")
        if isinstance(e, bool) or not isinstance(e, numbers.Real) or \
                not 0 <= e <= n:
            raise ValueError(f"`errors_{side}` must be a count in [0, "
                             f"trials_{side}], got {e!r}.")
        moments.append(_rate_moments(e, n, d))
    (pa, va), (pb, vb) = moments
    return _compare(pa, pb, va, vb, 0.0, math.inf, confidence, paired=False,
                    frames_a=None, frames_b=None, errors_a=errors_a,
                    errors_b=errors_b, trials_a=trials_a, trials_b=trials_b)


def _rate_moments(errors, trials, deff):
    """Rate and its variance (design effect, continuity term) from
    totals."""
    d = 1.0 if deff is None else max(1.0, float(deff))
    p = errors / trials
    return p, d * p * (1 - p) / trials + 1.0 / trials ** 2


def mean_frames(arrays):
    """Per-frame mean over replicates of their common frames.

    A detector averaged over training seeds has, on frame ``i``, the mean
    of the replicates' errors on frame ``i``; with common random numbers
    its paired comparison (:func:`paired_comparison`) gives the
    test-noise interval of the seed-averaged rate.

    Parameters
    ----------
    arrays : sequence of array_like, [frames_r]

    Output
    ------
    : numpy.ndarray of float64, [min_r frames_r]

    Example
    -------
    >>> from rxsim.paired import mean_frames
    >>> mean_frames([[0, 2, 4], [2, 0, 0, 7]]).tolist()
    [1.0, 1.0, 2.0]
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in arrays]
    if not arrays:
        raise ValueError("`arrays` must hold at least one replicate.")
    n = min(x.size for x in arrays)
    return np.mean([x[:n] for x in arrays], axis=0)


def over_seeds(comparisons, *, shared=None, common=None, confidence=0.95):
    """Interval over training seeds of replicate comparisons.

    Parameters
    ----------
    comparisons : sequence of :class:`Comparison`
        One per training seed: replicate ``r`` of A against B, or against
        replicate ``r`` of B when both are replicated.
    shared : None | "a" | "b"
        The side that is one and the same measurement in every comparison
        (``"b"``: one reference row for all replicates of A). Its test
        noise is common to all replicates, so it does not show in their
        spread; its half-width is added to the seeds' one in quadrature
        (normal quantile; delta method on its log rate with ``(e + 1) /
        N`` as the rate, so that no errors give a log-scale error of 1),
        ignoring its covariance with the other side: conservative under
        common random numbers. ``None``: both sides vary with the seed.
    common : None | Comparison
        Under common random numbers every replicate is tested on the *same*
        frames, so the test noise of those frames is common to all
        replicates and does not show in their spread either (an interval
        from the spread alone describes "fresh training sets on these test
        frames"). Pass the paired comparison of the seed-averaged counts
        on those frames: the half-widths of its ratio (log scale) and
        difference intervals are added to the seeds' ones in quadrature
        (replacing ``shared``'s term, which it contains); an unbounded
        ratio interval makes the seeds' ratio interval unbounded too.
    confidence : float

    Output
    ------
    : :class:`SeedInterval`
        Geometric-mean ratio and mean difference with t intervals over
        seeds (what a fresh training set gives on average) and prediction
        intervals (what one new training run gives).

    Example
    -------
    >>> from rxsim.paired import over_seeds, summary_comparison
    >>> reps = [summary_comparison(e, 100_000, 100, 100_000)
    ...         for e in (20, 45, 90, 400)]
    >>> s = over_seeds(reps)
    >>> s.replicates, round(s.ratio, 2), s.verdict
    (4, 0.76, 'not resolved')
    >>> [round(x, 2) for x in s.spread]
    [0.2, 4.0]
    """
    confidence = _check_confidence(confidence)
    if shared not in (None, "a", "b"):
        raise ValueError(f"`shared` must be None, 'a' or 'b', got "
                         f"{shared!r}.")
    comparisons = list(comparisons)
    if len(comparisons) < 2 or not all(isinstance(c, Comparison)
                                       for c in comparisons):
        raise ValueError("`comparisons` must hold at least 2 Comparison "
                         "objects (one per training seed) for an interval "
                         f"over seeds, got {len(comparisons)}.")
    r = len(comparisons)
    logs = np.array([math.log((c.errors_a + 0.5) / c.trials_a) -
                     math.log((c.errors_b + 0.5) / c.trials_b)
                     for c in comparisons])
    diffs = np.array([c.difference for c in comparisons])
    # half-widths of the shared side's test noise (its own normal
    # quantile): delta method on its log rate, with (e + 1) / N as the rate
    # so that a count without errors has a log-scale error of about 1
    z = float(sps.norm.ppf(0.5 + 0.5 * confidence))
    extra_log = extra_diff = 0.0
    if shared is not None:
        c = comparisons[0]
        e, n, se = ((c.errors_a, c.trials_a, c.se_a) if shared == "a" else
                    (c.errors_b, c.trials_b, c.se_b))
        if math.isfinite(se):
            extra_log = z * se / ((e + 1.0) / n)
            extra_diff = z * se
    if common is not None:
        lo, hi = common.ratio_ci
        extra_log = (math.log(hi) - math.log(lo)) / 2 if 0 < lo and \
            math.isfinite(hi) else math.inf
        extra_diff = (common.difference_ci[1] - common.difference_ci[0]) / 2
    k = float(sps.t.ppf(0.5 + 0.5 * confidence, r - 1))

    def intervals(x, extra):
        mean, sd = float(x.mean()), float(x.std(ddof=1))
        half = math.hypot(k * sd / math.sqrt(r), extra)
        wide = math.hypot(k * sd * math.sqrt(1 + 1 / r), extra)
        return mean, (mean - half, mean + half), (mean - wide, mean + wide)

    lmean, lci, lpi = intervals(logs, extra_log)
    dmean, dci, dpi = intervals(diffs, extra_diff)
    if lci[1] < 0:
        verdict = A_BETTER
    elif lci[0] > 0:
        verdict = B_BETTER
    else:
        verdict = NOT_RESOLVED
    ratios = [c.ratio for c in comparisons if not math.isnan(c.ratio)]
    return SeedInterval(
        replicates=r, ratio=math.exp(lmean),
        ratio_ci=(math.exp(lci[0]), math.exp(lci[1])),
        ratio_pi=(math.exp(lpi[0]), math.exp(lpi[1])), difference=dmean,
        difference_ci=dci, difference_pi=dpi, verdict=verdict,
        spread=((min(ratios), max(ratios)) if ratios else
                (math.nan, math.nan)),
        confidence=confidence)


# -- comparisons of stored rows (rxsim compare, rxsim plot --ratio-to) --------

_REPLICATE = re.compile(r"^(?P<head>.*\S) #(?P<r>\d+)(?P<tail>(?:\s.*)?)$")


def replicate_base(label):
    """``(base, seed index)`` of a training-replicate label
    ``"<base> #<r>"`` (anything after ``#<r>``, such as a CSI suffix,
    stays part of the base), or ``None`` for other labels.

    Example
    -------
    >>> from rxsim.paired import replicate_base
    >>> replicate_base("bcjrnet n=5000 #1")
    ('bcjrnet n=5000', 1)
    >>> replicate_base("bcjrnet n=500 #0 (perturbed:var=0.1)")
    ('bcjrnet n=500 (perturbed:var=0.1)', 0)
    >>> replicate_base("bcjr") is None
    True
    """
    m = _REPLICATE.match(label)
    if m is None:
        return None
    return m["head"] + m["tail"], int(m["r"])


@dataclass(frozen=True)
class RowComparison:
    """One line of ``rxsim compare``: A against B at one point.

    Parameters
    ----------
    experiment, channel : str
    csi_a, csi_b : str
        CSI cases of A's and B's rows.
    snr_db : float
    a, b : str
        The detector names compared (labels, or bases of replicates).
    comparison : Comparison
        The test-noise comparison; for replicated detectors the one of the
        seed-averaged error counts.
    pairing : str
        ``"paired"``, or why not: ``"unpaired: no frame counts"`` (older
        stores), ``"unpaired: seeds differ"``, ``"unpaired: frame sizes
        differ"``.
    replicates_a, replicates_b : int
        Training seeds averaged (1: not replicated).
    seeds : SeedInterval or None
        Interval over training seeds, when A or B has >= 2 replicates
        (replicate ``r`` of A against B, or against replicate ``r`` of B).
    metric : "ser" | "ber" | "bler"

    Example
    -------
    >>> from rxsim.paired import compare_rows
    >>> rows = [dict(experiment="e", detector=d, channel="isi", csi="perfect",
    ...              snr_db=4.0, seed=1, errors=e, symbols=10_000,
    ...              ser=e / 10_000, ser_deff=1.0, created_at="")
    ...         for d, e in (("bcjr", 0), ("viterbi", 20))]
    >>> (line,) = compare_rows(rows, "viterbi", "bcjr")
    >>> d = line.to_dict()
    >>> d["ratio"], d["ratio_hi"], d["verdict"]
    (None, None, 'B better')
    """

    experiment: str
    channel: str
    csi_a: str
    csi_b: str
    snr_db: float
    a: str
    b: str
    comparison: Comparison
    pairing: str
    replicates_a: int
    replicates_b: int
    seeds: Optional[SeedInterval]
    metric: str

    def to_dict(self):
        """Flat ``dict`` for CSV / JSON output (non-finite numbers are
        ``None``: an unbounded interval end, a ratio of two zero rates)."""
        c = self.comparison
        out = dict(experiment=self.experiment, channel=self.channel,
                   csi_a=self.csi_a, csi_b=self.csi_b, snr_db=self.snr_db,
                   a=self.a, b=self.b, metric=self.metric,
                   rate_a=c.rate_a, rate_b=c.rate_b, ratio=c.ratio,
                   ratio_lo=c.ratio_ci[0], ratio_hi=c.ratio_ci[1],
                   difference=c.difference,
                   difference_lo=c.difference_ci[0],
                   difference_hi=c.difference_ci[1], verdict=c.verdict,
                   p_value=c.p_value, frames=c.frames,
                   errors_a=c.errors_a, errors_b=c.errors_b,
                   trials_a=c.trials_a, trials_b=c.trials_b,
                   pairing=self.pairing, replicates_a=self.replicates_a,
                   replicates_b=self.replicates_b,
                   confidence=c.confidence)
        s = self.seeds
        out.update(
            seeds_ratio=None if s is None else s.ratio,
            seeds_ratio_lo=None if s is None else s.ratio_ci[0],
            seeds_ratio_hi=None if s is None else s.ratio_ci[1],
            seeds_difference=None if s is None else s.difference,
            seeds_difference_lo=None if s is None else s.difference_ci[0],
            seeds_difference_hi=None if s is None else s.difference_ci[1],
            seeds_verdict=None if s is None else s.verdict)
        return {k: (None if isinstance(v, float) and not math.isfinite(v)
                    else v) for k, v in out.items()}


def _members(labels, name):
    """``[(label, seed index or None)]`` that ``name`` stands for in a set
    of labels: itself, else the replicates of which it is the base."""
    if name in labels:
        return [(name, None)]
    found = []
    for label in labels:
        rb = replicate_base(label)
        if rb is not None and rb[0] == name:
            found.append((label, rb[1]))
    return sorted(found, key=lambda m: m[1])


def _names(labels):
    """Labels and replicate bases, for error messages."""
    bases = {}
    for label in labels:
        rb = replicate_base(label)
        if rb is not None:
            bases[rb[0]] = bases.get(rb[0], 0) + 1
    plain = sorted(lab for lab in labels if replicate_base(lab) is None)
    return plain + [f"{b} ({n} seeds)" for b, n in sorted(bases.items())]


def compare_rows(rows, a, b, *, frame_counts=None, metric="ser",
                 confidence=0.95):
    """Compare detector ``a`` with detector ``b`` on stored rows, point by
    point (same experiment, channel and SNR).

    Parameters
    ----------
    rows : list of dict
        Rows of :meth:`rxsim.ResultsStore.points`.
    a, b : str
        Detector labels, or the base ``<base>`` of training replicates
        labelled ``"<base> #<r>"``: the seed-averaged detector, with the
        interval over seeds.
    frame_counts : None or callable ``row -> dict or None``
        Per-frame counts of a row (:meth:`rxsim.ResultsStore.frame_counts`);
        ``None``: none are available (unpaired comparisons).
    metric : "ser" | "ber" | "bler"
    confidence : float

    Output
    ------
    : list of :class:`RowComparison`, by experiment, channel, CSI and SNR.
        Rows of A pair with rows of B of the same CSI case, or with B's
        only CSI case; of several rows of one detector at one point (older
        config versions) the latest is used. Rows without the metric
        (uncoded rows have no BLER) are left out.

    Raises
    ------
    ValueError
        ``a`` or ``b`` names no detector of the rows (the message lists the
        detectors each experiment holds), an unknown ``metric``, or no
        point where both have the metric.

    Example
    -------
    >>> from rxsim.paired import compare_rows
    >>> rows = [dict(experiment="e", detector=d, channel="isi", csi="perfect",
    ...              snr_db=4.0, seed=1, errors=e, symbols=10_000,
    ...              ser=e / 10_000, ser_deff=1.0, created_at="")
    ...         for d, e in (("bcjr", 100), ("viterbi", 160))]
    >>> (line,) = compare_rows(rows, "bcjr", "viterbi")
    >>> line.comparison.verdict, line.pairing
    ('A better', 'unpaired: no frame counts')
    """
    if metric not in METRIC_COLUMNS:
        raise ValueError(f"`metric` must be one of "
                         f"{', '.join(METRIC_COLUMNS)}, got {metric!r}.")
    confidence = _check_confidence(confidence)
    by_exp = {}
    for r in rows:
        by_exp.setdefault(r["experiment"], []).append(r)
    if not by_exp:
        raise ValueError("no finished points to compare (run `rxsim sweep` "
                         "first, or check --experiment).")
    out, missing = [], {}
    for exp, exp_rows in sorted(by_exp.items()):
        labels = {r["detector"] for r in exp_rows}
        ma, mb = _members(labels, a), _members(labels, b)
        if not ma or not mb:
            missing[exp] = ([n for n, m in ((a, ma), (b, mb)) if not m],
                            _names(labels))
            continue
        out.extend(_compare_experiment(exp, exp_rows, a, b, ma, mb,
                                       frame_counts, metric, confidence))
    if missing and len(missing) == len(by_exp):
        parts = [f"experiment {exp!r} has no detector "
                 f"{' or '.join(repr(n) for n in names)}; it holds: "
                 f"{', '.join(have)}"
                 for exp, (names, have) in sorted(missing.items())]
        raise ValueError("; ".join(parts) + ".")
    if not out:
        raise ValueError(f"{a!r} and {b!r} have no common point with a "
                         f"{metric.upper()} (BLER needs a coded experiment); "
                         "choose another metric.")
    return out


def _latest(rows):
    return max(enumerate(rows), key=lambda ir: (ir[1].get("created_at")
                                                or "", ir[0]))[1]


def _compare_experiment(exp, rows, a, b, members_a, members_b, frame_counts,
                        metric, confidence):
    _, err_col, trials_col, _ = METRIC_COLUMNS[metric]
    # (label, channel, snr) -> {csi: latest row}
    index = {}
    for r in rows:
        if r.get(trials_col) is None or r.get(err_col) is None:
            continue
        index.setdefault((r["detector"], r["channel"], r["snr_db"]),
                         {}).setdefault(r["csi"], []).append(r)
    points = sorted({(ch, snr) for (_, ch, snr) in index})
    out = []
    for channel, snr in points:
        def side(members):
            """{csi: {seed index: row}} of one side at this point."""
            got = {}
            for label, rep in members:
                for csi, rs in index.get((label, channel, snr), {}).items():
                    got.setdefault(csi, {})[rep] = _latest(rs)
            return got
        side_a, side_b = side(members_a), side(members_b)
        if not side_a or not side_b:
            continue
        for csi_a in sorted(side_a):
            if csi_a in side_b:
                csi_b = csi_a
            elif len(side_b) == 1:
                (csi_b,) = side_b
            else:
                continue                     # ambiguous: no line
            out.append(_line(exp, channel, snr, a, b, csi_a, csi_b,
                             side_a[csi_a], side_b[csi_b], frame_counts,
                             metric, confidence))
    return sorted(out, key=lambda x: (x.channel, x.csi_a, x.csi_b, x.snr_db))


def _line(exp, channel, snr, a, b, csi_a, csi_b, reps_a, reps_b,
          frame_counts, metric, confidence):
    counter, err_col, trials_col, deff_col = METRIC_COLUMNS[metric]

    def frames_of(row):
        fc = frame_counts(row) if frame_counts is not None else None
        x = None if fc is None else fc.get(counter)
        if x is None or len(x) < 2:
            return None
        return np.asarray(x, dtype=np.float64), row[trials_col] / len(x)

    every = list(reps_a.values()) + list(reps_b.values())
    data = {id(r): frames_of(r) for r in every}
    if any(data[id(r)] is None for r in every):
        pairing = "unpaired: no frame counts"
    elif len({r["seed"] for r in every}) > 1:
        pairing = "unpaired: seeds differ"
    elif len({data[id(r)][1] for r in every}) > 1:
        pairing = "unpaired: frame sizes differ"
    else:
        pairing = "paired"

    def one(rows_a, rows_b):
        """Comparison of the (seed-averaged) rows of each side."""
        if pairing == "paired":
            m = data[id(rows_a[0])][1]
            return paired_comparison(
                mean_frames([data[id(r)][0] for r in rows_a]),
                mean_frames([data[id(r)][0] for r in rows_b]),
                symbols_per_frame=m, confidence=confidence)
        if pairing != "unpaired: no frame counts":
            sides = [(mean_frames([data[id(r)][0] for r in rs]),
                      data[id(rs[0])][1]) for rs in (rows_a, rows_b)]
            if len({data[id(r)][1] for r in rows_a}) == 1 and \
                    len({data[id(r)][1] for r in rows_b}) == 1:
                return unpaired_comparison(
                    sides[0][0], sides[1][0],
                    symbols_per_frame=(sides[0][1], sides[1][1]),
                    confidence=confidence)
        return _summary_of(rows_a, rows_b, err_col, trials_col, deff_col,
                           confidence)

    rows_a = [reps_a[k] for k in sorted(reps_a, key=_rep_order)]
    rows_b = [reps_b[k] for k in sorted(reps_b, key=_rep_order)]
    main = one(rows_a, rows_b)
    seeds = None
    if len(rows_a) > 1 or len(rows_b) > 1:
        if len(rows_a) > 1 and len(rows_b) > 1:
            common = sorted(set(reps_a) & set(reps_b), key=_rep_order)
            pairs = [([reps_a[k]], [reps_b[k]]) for k in common]
            shared = None
        elif len(rows_a) > 1:
            pairs, shared = [([r], rows_b) for r in rows_a], "b"
        else:
            pairs, shared = [(rows_a, [r]) for r in rows_b], "a"
        if len(pairs) >= 2:
            # common random numbers: every replicate saw the same frames
            seeds = over_seeds([one(x, y) for x, y in pairs],
                               shared=shared, confidence=confidence,
                               common=main if main.paired else None)
    return RowComparison(
        experiment=exp, channel=channel, csi_a=csi_a, csi_b=csi_b,
        snr_db=snr, a=a, b=b, comparison=main, pairing=pairing,
        replicates_a=len(rows_a), replicates_b=len(rows_b), seeds=seeds,
        metric=metric)


def _rep_order(k):
    return -1 if k is None else k


def _summary_of(rows_a, rows_b, err_col, trials_col, deff_col, confidence):
    """Unpaired comparison of stored totals; a seed-averaged side is the
    mean of its replicates' rates, with the mean of their variances over
    the number of replicates."""
    def side(rs):
        moments = [_rate_moments(r[err_col], r[trials_col],
                                 r.get(deff_col) if deff_col else None)
                   for r in rs]
        p = float(np.mean([m[0] for m in moments]))
        v = float(np.mean([m[1] for m in moments])) / len(rs)
        trials = float(sum(r[trials_col] for r in rs))
        errors = float(sum(r[err_col] for r in rs)) if len(rs) == 1 \
            else p * trials
        return p, v, errors, trials
    pa, va, ea, na = side(rows_a)
    pb, vb, eb, nb = side(rows_b)
    return _compare(pa, pb, va, vb, 0.0, math.inf, confidence, paired=False,
                    frames_a=None, frames_b=None, errors_a=ea, errors_b=eb,
                    trials_a=na, trials_b=nb)
