"""Issue 17's QPSK 8 x 8 Rayleigh study (``configs/mimo-rayleigh.toml``):
K = N = 8 QPSK users, an i.i.d. ``CN(0, 1)`` channel per 10-use frame,
SNR -4..8 dB; the model-based references (LMMSE, MMSE-PIC, EP, K-best,
ML) and DetNet with its gradient step and with rxsim's Newton step
(trained per point over random channels), with perfect CSI, and LMMSE
and EP with LMMSE-estimated CSI.

Every detector of a point sees the same frames, channels and noise, so
the ratios are paired intervals on per-frame errors
(:func:`rxsim.paired.compare_rows`). ``scripts/mimo_rayleigh.py`` runs
the sweep and calls :func:`markdown_table` and :func:`plot`;
:func:`check_claims` states the comparisons the DetNet paper's figures
suggest as verdicts, whatever they give.

Example
-------
>>> from rxsim.studies import mimo_rayleigh
>>> rows = [{"detector": d, "snr_db": 0.0, "ser": p, "ser_lo": p / 2,
...          "ser_hi": 2 * p, "errors": 10, "symbols": 10 / p}
...         for d, p in (("LMMSE", 0.1), ("ML", 0.01))]
>>> print(mimo_rayleigh.markdown_table(rows, None).splitlines()[2])
| LMMSE | 1.00e-01 |
"""

from . import comparison_at, pair_comparisons, ratio_text, \
    ser_errorbar, ser_markdown

__all__ = ["CONFIGS", "PAIRS", "CLAIMS", "comparisons",
           "check_claims", "markdown_table", "plot"]

CONFIGS = ("configs/mimo-rayleigh.toml",)
#: ``(A, B, question)``: ratios are A's SER over B's, at every SNR.
PAIRS = (
    ("K-best (32)", "ML", "K-best with 32 paths vs the optimum"),
    ("EP", "ML", "EP vs the optimum"),
    ("DetNet", "ML", "DetNet vs the optimum"),
    ("DetNet", "LMMSE", "DetNet vs the linear receiver"),
    ("DetNet", "EP", "DetNet vs EP"),
    ("DetNet (Newton)", "LMMSE", "DetNet's Newton step vs the linear "
     "receiver"),
    ("DetNet (Newton)", "DetNet", "Newton vs gradient step"),
    ("DetNet (Newton)", "EP", "DetNet's Newton step vs EP"),
    ("MMSE-PIC (3)", "LMMSE", "3 MMSE-PIC self-iterations vs LMMSE"),
    ("LMMSE, estimated CSI", "LMMSE",
     "what 16 pilots (LMMSE channel estimate) cost LMMSE"),
    ("EP, estimated CSI", "EP", "what 16 pilots cost EP"),
)
#: ``(A, B, snr_db, bound, claim)``: met when the paired interval's upper
#: end of A / B at ``snr_db`` is below ``bound``. The DetNet paper (Samuel,
#: Diskin, Wiesel) shows DetNet below the linear receivers and near the
#: near-optimal ones on i.i.d. Gaussian channels; these are that statement
#: at this study's mid-range SNR, not numbers of the paper.
CLAIMS = (
    ("DetNet", "LMMSE", 4.0, 1.0, "DetNet beats LMMSE at 4 dB"),
    ("DetNet", "EP", 4.0, 2.0, "DetNet within 2x of EP at 4 dB"),
    ("DetNet (Newton)", "LMMSE", 4.0, 1.0,
     "DetNet (Newton) beats LMMSE at 4 dB"),
    ("DetNet (Newton)", "EP", 4.0, 2.0,
     "DetNet (Newton) within 2x of EP at 4 dB"),
    ("K-best (32)", "ML", 4.0, 2.0, "K-best (32) within 2x of ML at 4 dB"),
    ("EP", "ML", 2.0, 2.0, "EP within 2x of ML at 2 dB"),
)


def comparisons(rows, frame_counts, confidence=0.95):
    """``[(A, B, question, [RowComparison, ...])]`` for :data:`PAIRS`."""
    return pair_comparisons(rows, PAIRS, frame_counts, confidence)


def check_claims(rows, frame_counts, confidence=0.95):
    """:data:`CLAIMS` as ``[(claim, passed, evidence)]``, those whose two
    detectors and SNR the rows hold (a ratio without errors on both sides
    is not finite and then not met)."""
    labels = {r["detector"] for r in rows}
    out = []
    for a, b, snr, bound, claim in CLAIMS:
        if a not in labels or b not in labels:
            continue
        c = comparison_at(rows, a, b, snr, frame_counts, confidence)
        if c is not None:
            out.append((claim, bool(c.ratio_ci[1] < bound), ratio_text(c)))
    return out


def markdown_table(rows, frame_counts, confidence=0.95):
    """SER per detector and SNR, the paired ratios of :data:`PAIRS` and
    the verdicts of :data:`CLAIMS` (markdown)."""
    return ser_markdown(rows, comparisons(rows, frame_counts, confidence),
                        check_claims(rows, frame_counts, confidence))


def plot(rows, path, formats=("png", "pdf")):
    """SER vs SNR (log scale, 95% intervals), one colour per detector:
    solid the optimum and its near-optimal approximations, dashed the
    linear / PIC receivers, DetNet with circles."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    labels = list(dict.fromkeys(r["detector"] for r in rows))
    for i, label in enumerate(labels):
        style = "-o" if label == "DetNet" else (
            "--s" if label.startswith(("LMMSE", "MMSE-PIC")) else "-^")
        ser_errorbar(ax, rows, label, style, label=label, color=f"C{i % 10}")
    ax.set_yscale("log")
    ax.set_xlabel("SNR [dB] (no = 10^(-SNR/10), unit-energy users)")
    ax.set_ylabel("SER (user-symbols)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("K = N = 8, QPSK, i.i.d. Rayleigh (new H per 10-use "
                 "frame)", fontsize=9)
    fig.tight_layout()
    for fmt in formats:
        fig.savefig(f"{path}.{fmt}", dpi=130)
    plt.close(fig)
