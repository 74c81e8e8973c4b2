"""Turbo detection-decoding: BLER after I = 1, 2, 4 detector passes.

``configs/turbo.toml`` (QPSK over a complex 3-tap ISI channel) and
``configs/turbo-bpsk.toml`` (BPSK over the papers' 4-tap channel) run BCJR,
max-log BCJR, BCJRNet and LMMSE (soft interference cancellation once it
has a prior) with Sionna's 5G LDPC code (k = 256, n = 512), perfect and
perturbed CSI, each detector at ``iterations = 1, 2, 4``
(:class:`rxsim.coded.CodedLink`). Every curve of an SNR sees the same
codewords and noise, so the gain of iterating is a paired comparison of
per-codeword block errors (:func:`rxsim.paired.compare_rows` with
``metric="bler"``). ``scripts/turbo.py`` runs both and calls the functions
here for the table, the figure and the checks.
"""

import math
import re

from . import ratio_text

__all__ = ["CONFIGS", "split_label", "claim_snr", "gains", "check_claims",
           "markdown_table", "plot"]

#: The study's configs, relative to the project root.
CONFIGS = ("configs/turbo.toml", "configs/turbo-bpsk.toml")

_LABEL = re.compile(r"^(?P<base>.*) I=(?P<passes>\d+)$")


def split_label(label):
    """``"bcjr (perturbed:var=0.1) I=4"`` -> ``("bcjr (perturbed:var=0.1)",
    4)``; a label without ``" I=<n>"`` is one pass.

    Example
    -------
    >>> split_label("bcjrnet I=2"), split_label("lmmse")
    (('bcjrnet', 2), ('lmmse', 1))
    """
    m = _LABEL.match(label)
    return (label, 1) if m is None else (m["base"], int(m["passes"]))


def claim_snr(rows):
    """The SNR each experiment's claims are read at: the middle of its
    grid (``{experiment: snr_db}``), fixed before looking at results."""
    grids = {}
    for r in rows:
        grids.setdefault(r["experiment"], set()).add(float(r["snr_db"]))
    return {e: sorted(g)[len(g) // 2] for e, g in grids.items()}


def gains(rows, frame_counts, *, more=4, fewer=1, confidence=0.95):
    """BLER of ``I = more`` against ``I = fewer`` passes, paired on the
    same codewords: ``{(experiment, base label, snr): RowComparison}``."""
    from ..paired import compare_rows

    out = {}
    for exp in sorted({r["experiment"] for r in rows}):
        exp_rows = [r for r in rows if r["experiment"] == exp]
        labels = {r["detector"] for r in exp_rows}
        for base in sorted({split_label(label)[0] for label in labels}):
            a, b = f"{base} I={more}", f"{base} I={fewer}"
            if a not in labels or b not in labels:
                continue
            for line in compare_rows(exp_rows, a, b,
                                     frame_counts=frame_counts,
                                     metric="bler", confidence=confidence):
                out[(exp, base, line.snr_db)] = line
    return out


def check_claims(rows, frame_counts, confidence=0.95):
    """The issue's "must show", as verdicts ``[(claim, holds, detail)]``:
    at each experiment's :func:`claim_snr`, turbo BCJR's BLER at I = 4 is
    below I = 1 (paired interval excludes 0), and whether BCJRNet gains
    from iterating too (reported either way: the detail says by how
    much)."""
    snr = claim_snr(rows)
    table = gains(rows, frame_counts, confidence=confidence)
    out = []
    for exp in sorted(snr):
        for base, must in (("bcjr", True), ("bcjrnet", False)):
            line = table.get((exp, base, snr[exp]))
            claim = (f"{exp}, {_axis_name(rows, exp)} {snr[exp]:g} dB: "
                     f"{base} BLER at I=4 below "
                     f"I=1 (paired {confidence:.0%})"
                     + ("" if must else " [reported]"))
            if line is None:
                out.append((claim, False, "rows missing"))
                continue
            c = line.comparison
            holds = c.verdict == "A better"
            detail = (f"{c.rate_a:.3g} vs {c.rate_b:.3g}, ratio "
                      f"{ratio_text(c)} on {c.frames} codewords, "
                      f"{c.verdict}")
            out.append((claim, holds, detail))
    return out


def markdown_table(rows, frame_counts, confidence=0.95):
    """Markdown: per experiment and detector at its :func:`claim_snr`, the
    BLER at each pass count and the paired ratio I=4 / I=1."""
    snr = claim_snr(rows)
    table = gains(rows, frame_counts, confidence=confidence)
    passes = sorted({split_label(r["detector"])[1] for r in rows})
    head = ["experiment", "point", "detector"] + [
        f"BLER I={i}" for i in passes] + ["I=4 / I=1 (paired)", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for exp in sorted(snr):
        at = [r for r in rows if r["experiment"] == exp
              and math.isclose(float(r["snr_db"]), snr[exp])]
        by_label = {split_label(r["detector"]): r["bler"] for r in at}
        for base in sorted({b for b, _ in by_label}):
            bler = {i: v for (b, i), v in by_label.items() if b == base}
            line = table.get((exp, base, snr[exp]))
            cells = [f"{bler[i]:.3g}" if bler.get(i) is not None else "-"
                     for i in passes]
            ratio = verdict = "-"
            if line is not None:
                ratio, verdict = (ratio_text(line.comparison),
                                  line.comparison.verdict)
            lines.append("| " + " | ".join(
                [exp, f"{_axis_name(rows, exp)} {snr[exp]:g} dB", base]
                + cells
                + [ratio, verdict]) + " |")
    return "\n".join(lines)


_COLORS = {"bcjr": "C0", "maxlog-bcjr": "C1", "bcjrnet": "C2",
           "lmmse": "C3"}
_STYLES = {1: ":", 2: "--", 4: "-"}


def plot(rows, path, formats=("png", "pdf")):
    """BLER against SNR: one row of panels per experiment, perfect CSI
    (left) and perturbed CSI (right); colour = detector, line style = pass
    count (dotted I=1, dashed I=2, solid I=4), Wilson intervals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import axis_label, save_figure

    exps = sorted({r["experiment"] for r in rows})
    fig, axes = plt.subplots(len(exps), 2, figsize=(11, 4.2 * len(exps)),
                             squeeze=False, sharey=True)
    for row_axes, exp in zip(axes, exps):
        curves = {}
        for r in rows:
            if r["experiment"] == exp and r["bler"] is not None:
                curves.setdefault((r["detector"], r["csi"]), []).append(r)
        for ax, perfect in zip(row_axes, (True, False)):
            for (label, csi), pts in sorted(curves.items()):
                if (csi == "perfect") != perfect:
                    continue
                base, passes = split_label(label)
                name = base.split(" ")[0]
                pts = sorted(pts, key=lambda r: r["snr_db"])
                x = [p["snr_db"] for p in pts]
                # zero-error points have no place on a log axis
                y = [p["bler"] if p["bler"] > 0 else math.nan for p in pts]
                err = [[max(p["bler"] - p["bler_lo"], 0) for p in pts],
                       [max(p["bler_hi"] - p["bler"], 0) for p in pts]]
                ax.errorbar(x, y, yerr=err, color=_COLORS.get(name, "k"),
                            ls=_STYLES.get(passes, "-."), marker=".",
                            capsize=2, label=f"{name} I={passes}")
            ax.set_yscale("log")
            ax.set_xlabel(axis_label([r for r in rows
                                      if r["experiment"] == exp]))
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{exp}: " + ("perfect CSI" if perfect else
                                       "CSI perturbed (var 0.1)"))
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, ncol=2)
        row_axes[0].set_ylabel("BLER")
    fig.tight_layout()
    return save_figure(fig, path, formats, dpi=110)


def _axis_name(rows, exp):
    """``"SNR"`` or ``"Eb/N0"``: the axis of experiment ``exp``'s rows
    (:func:`rxsim.plots.axis_label` without its unit)."""
    from ..plots import axis_label
    return axis_label([r for r in rows if r["experiment"] == exp]).split(
        " [")[0]
