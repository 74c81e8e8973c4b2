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
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .stats import effective_interval

__all__ = ["CurvePoint", "average_rows", "two_proportion_pvalue",
           "monotone_within_ci"]


@dataclass(frozen=True)
class CurvePoint:
    """One averaged point of a curve.

    Parameters
    ----------
    x : float
        The abscissa (SNR in dB, training-set size, ...).
    rate : float
        Mean of the rows' rates.
    lo, hi : float
        Mean of the rows' Wilson bounds (conservative, see module notes).
    spread : (float, float)
        Smallest and largest row rate (the spread over seeds/channels).
    errors, trials : int
        Summed counts of the rows.
    count : int
        Number of rows averaged.
    """

    x: float
    rate: float
    lo: float
    hi: float
    spread: tuple
    errors: int
    trials: int
    count: int


def average_rows(rows, key, x="snr_db", metric="ser", confidence=0.95):
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

    Output
    ------
    : dict ``key -> list of CurvePoint`` sorted by ``x``
    """
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
        bounds = np.array([effective_interval(e, n, d, confidence)
                           for e, n, d in triples])
        curves[k].append(CurvePoint(
            x=xv, rate=float(np.mean(rates)), lo=float(bounds[:, 0].mean()),
            hi=float(bounds[:, 1].mean()), spread=(min(rates), max(rates)),
            errors=int(sum(e for e, _ in pairs)),
            trials=int(sum(n for _, n in pairs)), count=len(pairs)))
    return {k: sorted(v, key=lambda p: p.x) for k, v in curves.items()}


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
