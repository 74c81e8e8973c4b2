"""DeepSIC in its paper's setting (``configs/deepsic.toml``): K = N = 4
BPSK users on the SED channel, SNR 0..14 dB, 5000 pilots per point,
perfect and uncertain CSI (``perturbed:var=0.1`` per 500-symbol frame).

Every detector of a point sees the same frames and noise, so the ratios
below are paired intervals on per-frame errors
(:func:`rxsim.paired.compare_rows`). ``scripts/deepsic.py`` runs the
sweep and calls :func:`markdown_table` and :func:`plot`;
:func:`check_claims` gives the issue's two numbers as verdicts.
"""

from . import comparison_at, pair_comparisons, ratio_text, \
    ser_errorbar, ser_markdown

__all__ = ["CONFIGS", "PAIRS", "UNCERTAIN", "AUGMENTED", "comparisons",
           "check_claims", "markdown_table", "plot"]

CONFIGS = ("configs/deepsic.toml",)
#: Suffix of the uncertain-CSI labels in the config.
UNCERTAIN = ", uncertain CSI"
#: DeepSIC trained on class-translated pilots (``augment = 15``).
AUGMENTED = "DeepSIC (sequential, augmented)"
#: ``(A, B, question)``: ratios are A's SER over B's, at every SNR.
PAIRS = (
    ("DeepSIC (sequential)", "ML", "DeepSIC vs the optimum, perfect CSI"),
    ("DeepSIC (end-to-end)", "ML", "end-to-end DeepSIC vs the optimum"),
    ("DeepSIC (sequential)", "soft IC",
     "learned vs model-based soft IC, perfect CSI"),
    ("DNN (black box)", "DeepSIC (sequential)",
     "black box vs DeepSIC, same pilots and size"),
    ("DeepSIC (sequential)" + UNCERTAIN, "soft IC" + UNCERTAIN,
     "uncertain CSI: DeepSIC trained around H vs soft IC given a "
     "perturbed H"),
    ("DeepSIC (end-to-end)" + UNCERTAIN, "soft IC" + UNCERTAIN,
     "uncertain CSI, end-to-end DeepSIC"),
    ("DeepSIC (sequential)" + UNCERTAIN, "DeepSIC (sequential)",
     "what CSI uncertainty costs DeepSIC"),
    ("soft IC" + UNCERTAIN, "soft IC", "what CSI uncertainty costs soft IC"),
    (AUGMENTED, "ML", "DeepSIC on class-translated pilots vs the optimum"),
    (AUGMENTED, "DeepSIC (sequential)",
     "what class translation of the same pilots buys DeepSIC"),
    ("DNN (black box, augmented)", AUGMENTED,
     "black box vs DeepSIC, both on class-translated pilots"),
    (AUGMENTED + UNCERTAIN, "DeepSIC (sequential)" + UNCERTAIN,
     "uncertain CSI: what class translation buys DeepSIC"),
)


def comparisons(rows, frame_counts, confidence=0.95):
    """``[(A, B, question, [RowComparison, ...])]`` for :data:`PAIRS`."""
    return pair_comparisons(rows, PAIRS, frame_counts, confidence)


def check_claims(rows, frame_counts, confidence=0.95):
    """The issue's numbers as ``[(claim, passed, evidence)]``: DeepSIC
    (both trainings, and sequential on class-translated pilots) within
    1.5x of ML's SER at 10 dB with perfect CSI
    (the paired interval's upper end), and under uncertain CSI DeepSIC
    sequential at least 5x better than soft IC at 14 dB (the interval's
    upper end at most 1/5)."""
    out = []

    def at(a, b, snr):
        return comparison_at(rows, a, b, snr, frame_counts, confidence)

    for a in ("DeepSIC (sequential)", "DeepSIC (end-to-end)", AUGMENTED):
        c = at(a, "ML", 10.0)
        if c is not None:
            out.append((f"{a} within 1.5x of ML at 10 dB, perfect CSI",
                        c.ratio_ci[1] <= 1.5, ratio_text(c)))
    c = at("DeepSIC (sequential)" + UNCERTAIN, "soft IC" + UNCERTAIN, 14.0)
    if c is not None:
        out.append(("uncertain CSI: DeepSIC >= 5x better than soft IC at "
                    "14 dB (on this study's frames; configs/deepsic-claim."
                    "toml reruns it on 2000)", c.ratio_ci[1] <= 0.2,
                    ratio_text(c)))
    return out


def markdown_table(rows, frame_counts, confidence=0.95):
    """SER per detector and SNR, then every paired ratio of
    :data:`PAIRS`, then the claims (markdown)."""
    return ser_markdown(rows, comparisons(rows, frame_counts, confidence),
                        check_claims(rows, frame_counts, confidence))


def plot(rows, path, formats=("png", "pdf")):
    """Two panels laid out like the DeepSIC paper's figures: SER vs SNR
    with perfect CSI (left) and uncertain CSI (right), 95% intervals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    labels = list(dict.fromkeys(r["detector"] for r in rows))
    bases = list(dict.fromkeys(label.replace(UNCERTAIN, "")
                               for label in labels))
    colors = {b: f"C{i % 10}" for i, b in enumerate(bases)}  # same per panel
    for ax, uncertain in zip(axes, (False, True)):
        for label in labels:
            if label.endswith(UNCERTAIN) != uncertain:
                continue
            name = label.replace(UNCERTAIN, "")
            style = "-o" if "DeepSIC" in name else (
                "--s" if name in ("ML", "soft IC") else ":^")
            ser_errorbar(ax, rows, label, style, label=name,
                         color=colors[name])
        ax.set_yscale("log")
        ax.set_xlabel("SNR [dB]")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title("uncertain CSI (var 0.1 per frame)" if uncertain
                     else "perfect CSI")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("SER (user-symbols)")
    fig.suptitle("K = N = 4, BPSK, SED channel, 5000 pilots per point")
    fig.tight_layout()
    for fmt in formats:
        fig.savefig(f"{path}.{fmt}", dpi=130)
    plt.close(fig)
