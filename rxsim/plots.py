"""Error-rate-vs-SNR figures from results rows (one panel per channel and
metric: SER, BER or, for coded experiments, BLER), and ratios of error
rates to a reference detector with paired intervals
(:func:`plot_ratio`)."""

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_ser", "plot_ratio", "save_figure", "METRICS",
           "default_metrics", "AXIS_LABELS", "axis_label"]

#: metric -> (value column, lower CI column, upper CI column, axis label)
METRICS = {
    "ser": ("ser", "ser_lo", "ser_hi", "symbol error rate"),
    "ber": ("ber", "ber_lo", "ber_hi", "bit error rate"),
    "bler": ("bler", "bler_lo", "bler_hi", "block error rate"),
}


#: a row's ``axis`` -> the label of its ``snr_db`` value
AXIS_LABELS = {"snr": "SNR [dB]", "ebno": "Eb/N0 [dB]"}


def axis_label(rows):
    """The x-axis label of ``rows``: ``"SNR [dB]"`` or ``"Eb/N0 [dB]"`` by
    their ``axis`` (rows without one are on the SNR axis). Rows on both
    axes cannot share an abscissa: a ValueError says so.

    Example
    -------
    >>> axis_label([{"snr_db": 4.0}]), axis_label([{"axis": "ebno"}])
    ('SNR [dB]', 'Eb/N0 [dB]')
    """
    axes = {r.get("axis") or "snr" for r in rows}
    unknown = axes - set(AXIS_LABELS)
    if unknown:
        raise ValueError(f"unknown axis {sorted(unknown)} in the rows; "
                         f"allowed: {', '.join(AXIS_LABELS)}")
    if len(axes) > 1:
        raise ValueError("the rows mix SNR and Eb/N0 points ([sweep] axis "
                         "'snr' and 'ebno'), which cannot share an x axis; "
                         "plot one experiment at a time (--experiment), or "
                         "keep each axis in its own experiment.")
    return AXIS_LABELS[axes.pop() if axes else "snr"]


def default_metrics(rows):
    """``("ber", "bler")`` when some row is a coded point (has a BLER:
    its BER counts information bits after decoding), else ``("ser",)``."""
    if any(r.get("bler") is not None for r in rows):
        return ("ber", "bler")
    return ("ser",)


def _metrics(metric, rows):
    if metric is None:
        return default_metrics(rows)
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"unknown metric(s) {bad or metric!r}; allowed: "
                         f"{', '.join(METRICS)}")
    return metrics


def _curves(rows):
    """{channel: {(detector, csi): rows sorted by SNR}}"""
    panels = defaultdict(lambda: defaultdict(list))
    for r in rows:
        panels[r["channel"]][(r["detector"], r["csi"])].append(r)
    for curves in panels.values():
        for pts in curves.values():
            pts.sort(key=lambda r: r["snr_db"])
    return panels


def plot_ser(rows, path, title=None, formats=("png", "pdf"), metric=None):
    """Plot error rates vs SNR (or Eb/N0: the rows' ``axis``,
    :func:`axis_label`) per detector with confidence intervals as error
    bars.

    Points with zero errors are drawn as a downward triangle at the upper
    confidence bound (the rate is below it), since a log axis cannot show 0.

    Parameters
    ----------
    rows : list of dict
        Rows of :meth:`rxsim.store.ResultsStore.points` (keys ``channel``,
        ``detector``, ``csi``, ``snr_db`` and the metric's columns, e.g.
        ``ser``, ``ser_lo``, ``ser_hi``).
    path : str or Path
        Output file; its suffix is replaced by each of ``formats``.
    title : None or str
    formats : tuple of str, e.g. ``("png", "pdf")``
    metric : None | "ser" | "ber" | "bler" | sequence of them
        One row of panels per metric. ``None``: BER and BLER when the rows
        hold coded points (:func:`default_metrics`), else SER. Rows without
        a value for a metric (uncoded rows have no BLER) are left out of
        its panels.

    Output
    ------
    : list of Path, the files written

    Example
    -------
    >>> from rxsim.plots import plot_ser
    >>> rows = [dict(channel="isi:L=2,gamma=0.5", detector="bcjr",
    ...              csi="perfect", snr_db=snr, ser=p, ser_lo=p / 2,
    ...              ser_hi=2 * p) for snr, p in ((0, 0.1), (4, 0.01))]
    >>> [f.name for f in plot_ser(rows, "fig.png", formats=("png",))]
    ['fig.png']
    """
    if not rows:
        raise ValueError("no results to plot: the database has no finished "
                         "points (run `rxsim sweep` first, or check "
                         "--experiment).")
    metrics = _metrics(metric, rows)
    xlabel = axis_label(rows)
    for m in metrics:
        if not any(r.get(METRICS[m][0]) is not None for r in rows):
            raise ValueError(f"no point has a {m.upper()} (BLER needs a "
                             "coded experiment, one with a [code] section); "
                             "choose another metric.")
    all_panels = sorted(_curves(rows).items())
    n = len(all_panels)
    cols = min(n, 3)
    per_metric = -(-n // cols)
    nrows = per_metric * len(metrics)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4.2 * nrows),
                             squeeze=False,
                             sharey=True if len(metrics) == 1 else "row")
    for i, m in enumerate(metrics):
        col, col_lo, col_hi, ylabel = METRICS[m]
        block = axes[i * per_metric:(i + 1) * per_metric]
        for ax, (channel, curves) in zip(block.flat, all_panels):
            for (detector, csi), pts in sorted(curves.items()):
                pts = [p for p in pts if p.get(col) is not None]
                if not pts:
                    continue
                snr = np.array([p["snr_db"] for p in pts])
                val = np.array([p[col] for p in pts])
                lo = np.array([p[col_lo] for p in pts])
                hi = np.array([p[col_hi] for p in pts])
                seen = val > 0
                bars = ax.errorbar(snr[seen], val[seen],
                                   yerr=[val[seen] - lo[seen],
                                         hi[seen] - val[seen]],
                                   marker="o", ms=4, capsize=3,
                                   label=detector)
                if np.any(~seen):
                    ax.plot(snr[~seen], hi[~seen], "v", ms=6,
                            color=bars[0].get_color(), alpha=0.7)
            ax.set_yscale("log")
            ax.set_title(channel if len(metrics) == 1
                         else f"{channel}: {m.upper()}", fontsize=10)
            ax.set_xlabel(xlabel)
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        for ax in block[:, 0]:
            ax.set_ylabel(ylabel)
        for ax in list(block.flat)[n:]:
            ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, formats)


def plot_ratio(lines, path, *, reference, title=None, formats=("png", "pdf"),
               metric="ser", xlabel="SNR [dB]"):
    """Plot each detector's error-rate ratio to a reference detector vs SNR,
    with the paired intervals as error bars (log axis, a line at 1).

    Below 1 a detector makes fewer errors than the reference. A ratio with
    an unbounded upper end (the reference's rate not significantly above 0)
    is drawn with its bar up to the top of the panel and a ``^``; a
    detector without errors (ratio 0) as a ``v`` at its upper bound, a
    ratio without errors of the reference (``inf``) as a ``^`` at its lower
    bound. For detectors averaged over training seeds a thinner, dashed bar
    beside the point shows the interval over seeds
    (:class:`rxsim.paired.SeedInterval`).

    Parameters
    ----------
    lines : list of :class:`rxsim.paired.RowComparison`
        Comparisons of detectors (``a``) with ``reference`` (``b``), e.g.
        from :func:`rxsim.paired.compare_rows`.
    path : str or Path
        Output file; its suffix is replaced by each of ``formats``.
    reference : str
        Name of the reference detector (axis label).
    title : None or str
    formats : tuple of str
    metric : "ser" | "ber" | "bler"
        The compared rate (axis label).
    xlabel : str
        The x-axis label (:func:`axis_label` of the compared rows).

    Output
    ------
    : list of Path, the files written

    Example
    -------
    >>> from rxsim.paired import compare_rows
    >>> from rxsim.plots import plot_ratio
    >>> rows = [dict(experiment="e", detector=d, channel="isi",
    ...              csi="perfect", snr_db=snr, seed=1, errors=e,
    ...              symbols=10_000, ser=e / 10_000, ser_deff=1.0,
    ...              created_at="")
    ...         for snr, ea, eb in ((0, 900, 1000), (4, 90, 140))
    ...         for d, e in (("viterbi", ea), ("bcjr", eb))]
    >>> lines = compare_rows(rows, "viterbi", "bcjr")
    >>> [f.name for f in plot_ratio(lines, "r.png", reference="bcjr",
    ...                             formats=("png",))]
    ['r.png']
    """
    if not lines:
        raise ValueError(f"nothing to plot: no detector shares a point with "
                         f"{reference!r}.")
    multi = len({x.experiment for x in lines}) > 1
    panels = defaultdict(lambda: defaultdict(list))
    for x in lines:
        panel = f"{x.experiment}: {x.channel}" if multi else x.channel
        name = x.a if x.csi_b == x.csi_a or x.csi_b == "perfect" \
            else f"{x.a} / {reference} ({x.csi_b})"
        panels[panel][name].append(x)
    n = len(panels)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4.2 * nrows),
                             squeeze=False, sharey=True)
    finite = [v for x in lines for v in (x.comparison.ratio,
                                         *x.comparison.ratio_ci)
              if np.isfinite(v) and v > 0]
    top = 3.0 * max(finite + [1.0])
    bottom = min(finite + [1.0]) / 3.0
    seeds_labelled = False
    for ax, (panel, curves) in zip(axes.flat, sorted(panels.items())):
        for i, (name, pts) in enumerate(sorted(curves.items())):
            pts.sort(key=lambda x: x.snr_db)
            snr = np.array([x.snr_db for x in pts])
            r = np.array([x.comparison.ratio for x in pts])
            lo = np.array([x.comparison.ratio_ci[0] for x in pts])
            hi = np.array([x.comparison.ratio_ci[1] for x in pts])
            shown = np.isfinite(r) & (r > 0)
            capped = shown & ~np.isfinite(hi)
            hi_drawn = np.where(np.isfinite(hi), hi, top)
            bars = ax.errorbar(snr[shown], r[shown],
                               yerr=[r[shown] - lo[shown],
                                     hi_drawn[shown] - r[shown]],
                               marker="o", ms=4, capsize=3, label=name)
            color = bars[0].get_color()
            if np.any(capped):
                ax.plot(snr[capped], np.full(capped.sum(), top), "^",
                        color=color, ms=6)
            zero = (r == 0) & np.isfinite(hi)
            if np.any(zero):
                ax.plot(snr[zero], hi[zero], "v", ms=6, color=color,
                        alpha=0.7)
            inf = np.isinf(r) & (lo > 0) & np.isfinite(lo)
            if np.any(inf):
                ax.plot(snr[inf], lo[inf], "^", ms=6, color=color,
                        alpha=0.7)
            seeded = [x for x in pts if x.seeds is not None]
            if seeded:
                s_snr = np.array([x.snr_db for x in seeded]) + 0.1
                s_r = np.array([x.seeds.ratio for x in seeded])
                s_lo = np.array([x.seeds.ratio_ci[0] for x in seeded])
                s_hi = np.array([x.seeds.ratio_ci[1] for x in seeded])
                _, _, (line,) = ax.errorbar(
                    s_snr, s_r, yerr=[s_r - s_lo, s_hi - s_r], fmt="none",
                    ecolor=color, elinewidth=1, capsize=2, alpha=0.6,
                    label=None if seeds_labelled else "over training seeds")
                line.set_linestyle("--")
                seeds_labelled = True
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(bottom, top * 1.5)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{metric.upper()} / {metric.upper()} of {reference}"
                      " (paired CI)")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, formats)


def save_figure(fig, path, formats=("png", "pdf"), dpi=130):
    """Write ``fig`` as ``path`` with each suffix in ``formats`` (parent
    folders created), close it, and return the paths written."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        out = path.with_suffix("." + fmt)
        fig.savefig(out, dpi=dpi)
        written.append(out)
    plt.close(fig)
    return written
