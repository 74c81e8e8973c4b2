"""Curves from stored rows: averages over channels or training seeds, with
intervals, and the statistical checks the studies report.

The published comparisons average the SER over channel realisations (the
paper's gamma grid) or over repeated trainings. The average of ``G``
independent rates is ``mean(p_g)``; its interval here is the mean of the
per-row Wilson bounds. In the normal approximation that interval is never
narrower than the exact one, because the standard deviation of a mean,
``sqrt(sum s_g**2) / G``, is at most ``sum s_g / G``: the intervals are
conservative, never optimistic. A row's SER interval uses its design
effect (``ser_deff``, bursty ISI errors; see
:func:`rxsim.stats.design_effect`) when the row has one.

Rows that are parts of one experiment rather than different channels
(the blocks of a time-varying channel) are pooled instead
(``combine="pool"``): summed counts, with the design effect of the sum
(:func:`pooled_design_effect`).
"""

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .stats import effective_interval

__all__ = ["CurvePoint", "average_rows", "pooled_design_effect",
           "two_proportion_pvalue", "monotone_within_ci"]


@dataclass(frozen=True)
class CurvePoint:
    """One averaged point of a curve.

    Parameters
    ----------
    x : float
        The abscissa (SNR in dB, training-set size, ...).
    rate : float
        Mean of the rows' rates (``combine="pool"``: summed errors over
        summed trials).
    lo, hi : float
        Mean of the rows' Wilson bounds (conservative, see module notes);
        with ``combine="pool"`` the Wilson bounds of the pooled counts
        with their pooled design effect.
    spread : (float, float)
        Smallest and largest row rate (the spread over seeds/channels).
    errors, trials : int
        Summed counts of the rows.
    count : int
        Number of rows averaged.
    rates : tuple of float
        The rows' rates (e.g. one per training seed).

    Example
    -------
    >>> p = CurvePoint(5000, 0.02, 0.015, 0.025, (0.01, 0.03), 40, 2000, 2,
    ...                rates=(0.01, 0.03))
    >>> [round(b, 4) for b in p.interval_over_rows()]     # t, 1 dof
    [-0.1071, 0.1471]
    """

    x: float
    rate: float
    lo: float
    hi: float
    spread: tuple
    errors: int
    trials: int
    count: int
    rates: tuple = ()

    def interval_over_rows(self, confidence=0.95):
        """Student-t interval of the mean of the rows' rates: with rows
        that are training seeds, what a *fresh* training set gives on
        average (training and test noise together), beside ``lo, hi``,
        which describe the test noise of these trainings only. ``(nan,
        nan)`` for fewer than two rows."""
        r = np.asarray(self.rates, float)
        if r.size < 2:
            return (math.nan, math.nan)
        half = sps.t.ppf(0.5 + confidence / 2, r.size - 1) * r.std(ddof=1) \
            / math.sqrt(r.size)
        return (float(r.mean() - half), float(r.mean() + half))


def average_rows(rows, key, x="snr_db", metric="ser", confidence=0.95,
                 combine="mean"):
    """Average rows that share ``key(row)`` and ``row[x]``.

    Parameters
    ----------
    rows : iterable of dict
        Rows as :meth:`rxsim.store.ResultsStore.points` returns them.
    key : callable ``row -> hashable``
        The curve a row belongs to, e.g. ``lambda r: (r["detector"],
        r["csi"])``; rows of other channels with the same key and ``x``
        are averaged.
    x : str or callable ``row -> float``
        The abscissa.
    metric : "ser" | "ber" | "bler"
        Rate to average; its counts are ``errors/symbols``,
        ``bit_errors/bits`` or ``block_errors/blocks``.
    confidence : float
    combine : "mean" | "pool"
        ``"mean"``: the mean of the rows' rates and of their interval
        bounds (rows of different channels or trainings, see the module
        notes). ``"pool"``: the rows are parts of one experiment (e.g.
        the blocks of a time-varying channel): ``rate`` is the summed
        errors over the summed trials, and the interval is the binomial
        one on the pooled counts divided by their pooled design effect
        (:func:`pooled_design_effect`).

    Output
    ------
    : dict ``key -> list of CurvePoint`` sorted by ``x``

    Example
    -------
    >>> rows = [dict(detector="bcjr", snr_db=6.0, errors=e, symbols=1000)
    ...         for e in (10, 30)]
    >>> (p,) = average_rows(rows, key=lambda r: r["detector"])["bcjr"]
    >>> p.rate, p.spread, p.count
    (0.02, (0.01, 0.03), 2)
    >>> (q,) = average_rows(rows, key=lambda r: r["detector"],
    ...                     combine="pool")["bcjr"]
    >>> q.rate, q.errors, q.trials, q.hi - q.lo < p.hi - p.lo
    (0.02, 40, 2000, True)
    """
    if combine not in ("mean", "pool"):
        raise ValueError(f"`combine` must be 'mean' or 'pool', got "
                         f"{combine!r}.")
    counts = {"ser": ("errors", "symbols"), "ber": ("bit_errors", "bits"),
              "bler": ("block_errors", "blocks")}
    if metric not in counts:
        raise ValueError(f"`metric` must be one of {sorted(counts)}, got "
                         f"{metric!r}.")
    num, den = counts[metric]
    xfun = x if callable(x) else (lambda r: r[x])
    groups = defaultdict(list)
    for r in rows:
        if r.get(den):
            deff = r.get("ser_deff") if metric == "ser" else None
            groups[(key(r), float(xfun(r)))].append((r[num], r[den], deff))
    curves = defaultdict(list)
    for (k, xv), triples in groups.items():
        pairs = [(e, n) for e, n, _ in triples]
        rates = [e / n for e, n in pairs]
        errors = int(sum(e for e, _ in pairs))
        trials = int(sum(n for _, n in pairs))
        if combine == "pool":
            rate = errors / trials
            lo, hi = effective_interval(
                errors, trials, pooled_design_effect(triples), confidence)
        else:
            rate = float(np.mean(rates))
            bounds = np.array([effective_interval(e, n, d, confidence)
                               for e, n, d in triples])
            lo, hi = bounds[:, 0].mean(), bounds[:, 1].mean()
        curves[k].append(CurvePoint(
            x=xv, rate=rate, lo=float(lo), hi=float(hi),
            spread=(min(rates), max(rates)), rates=tuple(rates),
            errors=errors, trials=trials,
            count=len(pairs)))
    return {k: sorted(v, key=lambda p: p.x) for k, v in curves.items()}


def pooled_design_effect(parts):
    r"""Design effect of the summed errors of independent parts.

    Part ``g`` has ``e_g`` errors in ``n_g`` trials and its own design
    effect ``d_g`` (``None``: 1), so its count has variance about
    ``d_g n_g p_g (1 - p_g)``. The sum's variance over the binomial
    variance of the pooled rate ``p = sum e_g / sum n_g`` is

    ``deff = sum_g d_g n_g p_g (1 - p_g) / (N p (1 - p))``, ``N = sum n_g``.

    Parts with different rates give ``deff < 1`` (the pooled binomial
    overstates their variance); :func:`rxsim.stats.effective_interval`
    uses at least 1, which keeps the pooled interval conservative.

    Parameters
    ----------
    parts : iterable of ``(errors, trials, deff_or_None)``

    Output
    ------
    : float (1.0 when the pooled rate is 0 or 1)

    Example
    -------
    >>> pooled_design_effect([(10, 1000, 2.0), (10, 1000, 2.0)])
    2.0
    >>> round(pooled_design_effect([(10, 1000, 3.0), (30, 1000, None)]), 3)
    1.5
    """
    parts = [(e, n, 1.0 if d is None else float(d)) for e, n, d in parts]
    errors = sum(e for e, _, _ in parts)
    trials = sum(n for _, n, _ in parts)
    if errors <= 0 or errors >= trials:
        return 1.0
    var = sum(d * e * (n - e) / n for e, n, d in parts)
    p = errors / trials
    return float(var / (trials * p * (1 - p)))


def two_proportion_pvalue(e1, n1, e2, n2):
    """Two-sided p-value that two binomial rates are equal.

    Fisher's exact test when a table cell is small, the pooled z-test
    otherwise.
    """
    if min(e1, e2, n1 - e1, n2 - e2) < 10:
        return float(sps.fisher_exact([[e1, n1 - e1], [e2, n2 - e2]])[1])
    p = (e1 + e2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (e1 / n1 - e2 / n2) / se
    return float(2 * sps.norm.sf(abs(z)))


def monotone_within_ci(points):
    """Whether a decreasing-with-x curve never rises beyond its intervals.

    Parameters
    ----------
    points : list of CurvePoint, sorted by ``x``

    Output
    ------
    : (bool, list of (x_before, x_after)), the verdict and the pairs of
      consecutive points where the later interval lies wholly above the
      earlier one (a significant rise)
    """
    rises = [(a.x, b.x) for a, b in zip(points, points[1:]) if b.lo > a.hi]
    return not rises, rises
