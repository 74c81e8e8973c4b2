"""Confidence intervals for error rates estimated by Monte Carlo.

An error rate is a binomial proportion: ``errors`` successes out of
``trials`` independent Bernoulli trials. Two intervals are provided:

- Wilson score interval (Wilson 1927; Newcombe 1998, method 3): close to
  nominal coverage on average, short; the default for plots.
- Clopper-Pearson "exact" interval (Clopper & Pearson 1934): coverage is
  at least the nominal level for every true rate; conservative.

Both accept Python/numpy scalars or numpy arrays (broadcast together) and
return ``(lo, hi)``: floats for scalar inputs, ``float64`` arrays otherwise.

Edge cases are exact, not rounded: 0 errors give ``lo = 0`` and
``errors == trials`` gives ``hi = 1``. ``trials == 0`` is an error
(``ValueError``) rather than the vacuous interval ``(0, 1)``: a point
without a single simulated symbol is a bug upstream, and an estimate
``0/0`` must not reach a results table silently.

(Symbol errors inside one frame of an ISI channel are not independent,
so the intervals are slightly optimistic for long error bursts; the usual
practice in link-level simulation, which we follow.)
"""

import numbers

import numpy as np
from scipy.special import ndtri
from scipy.stats import beta

__all__ = ["wilson_interval", "clopper_pearson_interval", "design_effect",
           "effective_interval"]


def _as_counts(value, name):
    """Whole, finite, non-negative counts as a float64 array."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer count, got a bool.")
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"`{name}` must be integer counts, got dtype "
                        f"{arr.dtype}.")
    # Counts are exact in float64 up to 2**53, far beyond any simulation.
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    if np.any(out != np.floor(out)):
        raise ValueError(f"`{name}` must be whole numbers, got {value!r}.")
    if np.any(out < 0):
        raise ValueError(f"`{name}` must be >= 0, got {value!r}.")
    return out


def _validate(errors, trials, confidence):
    if isinstance(confidence, (bool, np.bool_)) or not isinstance(
            confidence, numbers.Real):
        raise TypeError("`confidence` must be a real number in (0, 1), got "
                        f"{confidence!r}.")
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:          # also rejects NaN
        raise ValueError("`confidence` must lie strictly between 0 and 1, "
                         f"got {confidence!r}.")
    k = _as_counts(errors, "errors")
    n = _as_counts(trials, "trials")
    try:
        k, n = np.broadcast_arrays(k, n)
    except ValueError as exc:
        raise ValueError(f"`errors` {k.shape} and `trials` {n.shape} do not "
                         "broadcast together.") from exc
    if np.any(n == 0):
        raise ValueError("`trials` must be >= 1 (no interval for 0/0).")
    if np.any(k > n):
        raise ValueError("`errors` must not exceed `trials`, got "
                         f"errors={errors!r}, trials={trials!r}.")
    scalar = np.ndim(errors) == 0 and np.ndim(trials) == 0
    return k, n, confidence, scalar


def _finish(lo, hi, k, n, scalar):
    p = k / n
    # Exact edges, and guard the rounding of the closed forms so that the
    # point estimate always lies inside its interval.
    lo = np.where(k == 0, 0.0, np.clip(np.minimum(lo, p), 0.0, 1.0))
    hi = np.where(k == n, 1.0, np.clip(np.maximum(hi, p), 0.0, 1.0))
    if scalar:
        return float(lo), float(hi)
    return lo, hi


def wilson_interval(errors, trials, confidence=0.95):
    r"""Wilson score interval for a binomial proportion.

    With :math:`\hat p = k/n` and :math:`z = \Phi^{-1}((1+c)/2)`:

    .. math::
        \frac{\hat p + z^2/(2n) \pm z\sqrt{\hat p(1-\hat p)/n + z^2/(4n^2)}}
             {1 + z^2/n}

    Parameters
    ----------
    errors : int or array_like of int
        Number of errors ``k`` (>= 0).
    trials : int or array_like of int
        Number of trials ``n`` (>= 1, >= ``errors``); broadcast with
        ``errors``.
    confidence : float
        Two-sided confidence level ``c`` in (0, 1).

    Output
    ------
    (lo, hi) : floats, or float64 arrays of the broadcast shape
        ``lo = 0`` exactly when ``k = 0``; ``hi = 1`` exactly when ``k = n``.

    Raises
    ------
    TypeError
        Non-numeric counts or confidence.
    ValueError
        Negative or fractional counts, ``errors > trials``, ``trials == 0``,
        ``confidence`` outside (0, 1).
    """
    k, n, confidence, scalar = _validate(errors, trials, confidence)
    z = ndtri(0.5 + 0.5 * confidence)
    p = k / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return _finish(center - half, center + half, k, n, scalar)


def clopper_pearson_interval(errors, trials, confidence=0.95):
    r"""Clopper-Pearson ("exact") interval for a binomial proportion.

    ``lo = B^{-1}(a/2; k, n-k+1)`` and ``hi = B^{-1}(1-a/2; k+1, n-k)``
    with ``a = 1 - confidence`` and :math:`B^{-1}` the beta quantile.

    Parameters
    ----------
    errors, trials, confidence
        As in :func:`wilson_interval`.

    Output
    ------
    (lo, hi) : floats, or float64 arrays of the broadcast shape
        ``lo = 0`` exactly when ``k = 0``; ``hi = 1`` exactly when ``k = n``.

    Raises
    ------
    TypeError, ValueError
        As in :func:`wilson_interval`.
    """
    k, n, confidence, scalar = _validate(errors, trials, confidence)
    alpha = 1.0 - confidence
    # The beta shapes are 0 at the edges (k = 0 or k = n); substitute 1 so
    # scipy returns a number, then overwrite those entries exactly.
    lo = beta.ppf(alpha / 2.0, np.where(k == 0, 1.0, k), n - k + 1.0)
    hi = beta.ppf(1.0 - alpha / 2.0, k + 1.0, np.where(k == n, 1.0, n - k))
    return _finish(lo, hi, k, n, scalar)


def design_effect(errors, sum_sq, clusters, cluster_size):
    r"""Variance inflation of an error count made of independent clusters.

    ISI detectors make errors in bursts (one error event spans several
    symbols) and a decoder fails whole blocks, so the errors of a frame are
    not independent and binomial intervals on the total are too narrow.
    Frames are independent: with ``e_f`` the errors of frame ``f``,

    ``deff = var(e_f) / (n p (1 - p))``, ``n = cluster_size``,
    ``p = sum e_f / (clusters n)``,

    the observed per-frame variance over the binomial one (at least 1).
    Dividing errors and trials by ``deff`` gives effective counts whose
    binomial interval (:func:`effective_interval`) has the right width.

    Parameters
    ----------
    errors : int, ``sum_f e_f``
    sum_sq : int, ``sum_f e_f**2``
    clusters : int, number of frames
    cluster_size : int, trials per frame

    Output
    ------
    : float >= 1 (1 when fewer than two frames or no / only errors)
    """
    trials = clusters * cluster_size
    if clusters < 2 or errors <= 0 or errors >= trials:
        return 1.0
    p = errors / trials
    mean = errors / clusters
    var = (sum_sq - clusters * mean ** 2) / (clusters - 1)
    return max(1.0, float(var / (cluster_size * p * (1 - p))))


def effective_interval(errors, trials, deff=1.0, confidence=0.95,
                       method="wilson"):
    """Wilson (or Clopper-Pearson, ``method="cp"``) interval of
    ``errors / trials`` on the effective counts ``errors / deff``,
    ``trials / deff`` (see :func:`design_effect`); ``deff`` None or 1
    gives the plain binomial interval."""
    plain = (wilson_interval if method == "wilson" else
             clopper_pearson_interval)(errors, trials, confidence)
    deff = 1.0 if deff is None else max(1.0, float(deff))
    if deff == 1.0 or errors in (0, trials):
        return plain
    p, n = errors / trials, trials / deff
    if method == "wilson":
        z = ndtri(0.5 + 0.5 * confidence)
        denom = 1.0 + z * z / n
        center = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        lo, hi = center - half, center + half
    else:
        k, alpha = p * n, 1.0 - confidence
        lo = beta.ppf(alpha / 2.0, k, n - k + 1.0)
        hi = beta.ppf(1.0 - alpha / 2.0, k + 1.0, n - k)
    return float(max(0.0, lo)), float(min(1.0, hi))
