"""3GPP TDL channels: which receiver wins where, and by how much.

``configs/tdl.toml`` (QPSK), ``configs/tdl-bpsk.toml`` (BPSK, with
per-frame retraining and the SBRNN), ``configs/tdl-coded.toml`` (BPSK
with 5G LDPC, BLER) and ``configs/tdl-sionna.toml`` (Sionna's LMMSE
equaliser as a reference row, slow fading only) run TDL-A and TDL-C at 3 and 100 m/s with taps
varying within each frame. Every receiver of a point sees the same frames,
noise and (for those that use them) pilots, so each comparison below is a
paired interval on per-frame errors (:func:`rxsim.paired.compare_rows`).
``scripts/tdl.py`` runs the three sweeps and calls the functions here for
the table and the figure.
"""

import math

from . import ratio_text

__all__ = ["CONFIGS", "PAIRS", "metric_of", "comparisons", "winners",
           "markdown_table", "plot"]

#: The study's configs, relative to the project root.
CONFIGS = ("configs/tdl.toml", "configs/tdl-bpsk.toml",
           "configs/tdl-coded.toml", "configs/tdl-sionna.toml")

#: The comparisons reported, ``(A, B, question)``, where both are rows of
#: an experiment; ratios are A's error rate over B's.
PAIRS = (
    ("bcjrnet (retrained per frame)", "bcjr (estimated:pilots=200)",
     "learned vs model-based on the same 200 pilots per frame"),
    ("bcjrnet (retrained per frame)", "bcjrnet",
     "retrained per frame vs trained once"),
    ("bcjr (estimated:pilots=200)", "lmmse (estimated:pilots=200)",
     "trellis vs linear equaliser, same pilots"),
    ("bcjr (estimated:pilots=32)", "lmmse (estimated:pilots=32)",
     "trellis vs linear equaliser, same pilots"),
    ("bcjr", "lmmse", "trellis vs linear equaliser, true taps"),
    ("bcjr (estimated:pilots=200)", "bcjr", "cost of estimating the taps"),
    ("bcjr (estimated:pilots=32)", "bcjr", "cost of estimating the taps"),
    ("bcjr (no residual)", "bcjr",
     "residual taps' power left out of the noise variance"),
    ("sbrnn", "bcjr (estimated:pilots=200)",
     "black box trained once vs model-based with pilots"),
    ("lmmse", "sionna-lmmse",
     "rxsim's LMMSE vs Sionna's lmmse_equalizer on the frame matrix"),
    ("bcjr", "sionna-lmmse", "trellis vs Sionna's LMMSE, true taps"),
)

#: Receivers that do not know the frame's true taps (what a real receiver
#: can run), among which :func:`winners` picks.
PRACTICAL = ("bcjr (estimated:pilots=200)", "bcjr (estimated:pilots=32)",
             "lmmse (estimated:pilots=200)", "lmmse (estimated:pilots=32)",
             "bcjrnet (retrained per frame)", "bcjrnet", "sbrnn",
             "bcjr (mean)")


def metric_of(rows):
    """``"bler"`` for a coded experiment's rows, else ``"ser"``."""
    return "bler" if any(r.get("bler") is not None for r in rows) else "ser"


def _experiments(rows):
    out = {}
    for r in rows:
        out.setdefault(r["experiment"], []).append(r)
    return dict(sorted(out.items()))


def comparisons(rows, frame_counts, confidence=0.95):
    """Every :data:`PAIRS` comparison the rows hold, point by point:
    ``{(experiment, A, B): [RowComparison, ...]}`` (SER, or BLER for a
    coded experiment)."""
    from ..paired import compare_rows

    out = {}
    for exp, exp_rows in _experiments(rows).items():
        labels = {r["detector"] for r in exp_rows}
        for a, b, _ in PAIRS:
            if a in labels and b in labels:
                out[(exp, a, b)] = compare_rows(
                    exp_rows, a, b, frame_counts=frame_counts,
                    metric=metric_of(exp_rows), confidence=confidence)
    return out


def winners(rows, frame_counts, confidence=0.95):
    """At each (experiment, channel, SNR): the practical receiver
    (:data:`PRACTICAL`) with the fewest errors, the runner-up, and their
    paired comparison: ``[(experiment, channel, snr, best, second,
    RowComparison)]``."""
    from ..paired import compare_rows

    out = []
    for exp, exp_rows in _experiments(rows).items():
        metric = metric_of(exp_rows)
        points = sorted({(r["channel"], float(r["snr_db"]))
                         for r in exp_rows})
        for channel, snr in points:
            at = {r["detector"]: r for r in exp_rows
                  if r["channel"] == channel
                  and math.isclose(float(r["snr_db"]), snr)
                  and r["detector"] in PRACTICAL
                  and r.get(metric) is not None}
            if len(at) < 2:
                continue
            best, second = sorted(at, key=lambda d: at[d][metric])[:2]
            (line,) = compare_rows(
                [at[best], at[second]], best, second,
                frame_counts=frame_counts, metric=metric,
                confidence=confidence)
            out.append((exp, channel, snr, best, second, line))
    return out


def _short(channel):
    """``"tdl:C,ds=300ns,...,v=100,L=4,continuous"`` -> ``"TDL-C 100
    m/s"``; other labels as they are."""
    model, *fields = channel.split(":", 1)[-1].split(",")
    speed = next((f[2:] for f in fields if f.startswith("v=")), None)
    return f"TDL-{model} {speed} m/s" if speed else channel


def _channel_order(channel):
    """Model first, then speed (numerically where it is a number)."""
    words = _short(channel).split()
    try:
        speed = float(words[1])
    except (IndexError, ValueError):
        speed = math.inf
    return words[0], speed, channel


def markdown_table(rows, frame_counts, confidence=0.95):
    """Markdown: every :data:`PAIRS` comparison at every point (rate of A,
    of B, paired ratio A / B with its interval, verdict), then the winner
    among the practical receivers at each point."""
    table = comparisons(rows, frame_counts, confidence)
    question = {(a, b): q for a, b, q in PAIRS}
    head = ["experiment", "channel", "SNR", "A", "B", "A", "B",
            f"A / B (paired {confidence:.0%})", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (exp, a, b), found in table.items():
        for line in found:
            c = line.comparison
            lines.append("| " + " | ".join([
                exp, _short(line.channel), f"{line.snr_db:g}", a, b,
                f"{c.rate_a:.3g}", f"{c.rate_b:.3g}", ratio_text(c),
                c.verdict])
                + " |")
    asked = dict.fromkeys((a, b) for _, a, b in table)
    lines += ["", "What each comparison asks: " + "; ".join(
        f"*{a}* vs *{b}*: {question[(a, b)]}" for a, b in asked) + ".", "",
        "| experiment | channel | SNR | best practical receiver | rate | "
        "runner-up | rate | best / runner-up (paired) | verdict |",
        "|---|---|---|---|---|---|---|---|---|"]
    for exp, channel, snr, best, second, line in winners(
            rows, frame_counts, confidence):
        c = line.comparison
        lines.append(f"| {exp} | {_short(channel)} | {snr:g} | {best} | "
                     f"{c.rate_a:.3g} | {second} | {c.rate_b:.3g} | "
                     f"{ratio_text(c)} | {c.verdict} |")
    return "\n".join(lines)


_STYLE = {
    "bcjr": dict(color="k", ls="-"),
    "bcjr (no residual)": dict(color="0.5", ls=":"),
    "bcjr (mean)": dict(color="tab:brown", ls=":"),
    "lmmse": dict(color="tab:red", ls="-"),
    "bcjrnet": dict(color="tab:olive", ls=":"),
    "bcjrnet (retrained per frame)": dict(color="tab:green", ls="-"),
    "sbrnn": dict(color="tab:purple", ls="-."),
    "sionna-lmmse": dict(color="tab:pink", ls="-", marker="x"),
}


def _style(label):
    if label in _STYLE:
        return _STYLE[label]
    base = label.split(" (")[0]
    return dict(color={"bcjr": "tab:blue", "lmmse": "tab:orange"}.get(
        base, "tab:gray"), ls="--")


def plot(rows, path, formats=("png", "pdf")):
    """Error rate against SNR: one row of panels per experiment (SER, or
    BLER for the coded one), one column per channel (model and speed);
    solid = true taps or retrained per frame, dashed = pilot estimates,
    dotted = trained once / mean channel / no residual; Wilson
    intervals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import axis_label, save_figure

    exps = _experiments(rows)
    channels = sorted({r["channel"] for r in rows}, key=_channel_order)
    fig, axes = plt.subplots(len(exps), len(channels),
                             figsize=(3.6 * len(channels), 3.4 * len(exps)),
                             squeeze=False, sharex="row", sharey="row")
    for row_axes, (exp, exp_rows) in zip(axes, exps.items()):
        metric = metric_of(exp_rows)
        for ax, channel in zip(row_axes, channels):
            curves = {}
            for r in exp_rows:
                if r["channel"] == channel and r.get(metric) is not None:
                    curves.setdefault(r["detector"], []).append(r)
            for label, pts in sorted(curves.items()):
                pts = sorted(pts, key=lambda r: r["snr_db"])
                y = [p[metric] if p[metric] > 0 else math.nan for p in pts]
                err = [[max(p[metric] - p[f"{metric}_lo"], 0) for p in pts],
                       [max(p[f"{metric}_hi"] - p[metric], 0) for p in pts]]
                ax.errorbar([p["snr_db"] for p in pts], y, yerr=err,
                            capsize=2, label=label,
                            **{"marker": ".", **_style(label)})
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{exp}: {_short(channel)}", fontsize=9)
            ax.set_xlabel(axis_label(exp_rows))
        row_axes[0].set_ylabel(metric.upper())
        handles, labels = row_axes[0].get_legend_handles_labels()
        if handles:
            row_axes[-1].legend(handles, labels, fontsize=6, loc="lower left")
    fig.tight_layout()
    return save_figure(fig, path, formats, dpi=110)
