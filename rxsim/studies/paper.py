"""The published comparison: learned vs model-based trellis detectors vs an
SBRNN, perfect CSI and CSI uncertainty, SER averaged over the gamma grid.

``configs/paper.toml`` holds the setting; ``scripts/reproduce.py`` runs it
through :func:`rxsim.sweep.run_sweep` (resumable, seeded) and calls the
functions here for the figure, the table and the checks of what the
reproduction must show.
"""

import dataclasses
import math

from ..aggregate import average_rows

__all__ = ["REFERENCES", "PUBLISHED", "VARIANTS", "quick_variant", "curves",
           "plot_panels", "markdown_table", "check_claims", "base_name",
           "variant", "display_name", "paired_averages", "comparison_table"]

REFERENCES = {
    "BCJRNet": "N. Shlezinger, N. Farsad, Y. C. Eldar, A. J. Goldsmith, "
               "\"Data-Driven Factor Graphs for Deep Symbol Detection\", "
               "IEEE ISIT 2020, arXiv:2002.00758",
    "ViterbiNet": "N. Shlezinger, N. Farsad, Y. C. Eldar, A. J. Goldsmith, "
                  "\"ViterbiNet: A Deep Learning Based Viterbi Algorithm "
                  "for Symbol Detection\", IEEE Trans. Wireless Commun. "
                  "19(5), 2020, arXiv:1905.10750",
    "SBRNN": "N. Farsad, A. Goldsmith, \"Neural Network Detection of Data "
             "Sequences in Communication Systems\", IEEE Trans. Signal "
             "Process. 66(21), 2018",
}

# What the papers state about each curve, paraphrased. They give these
# results as figures only (no tables); we do not read numbers off plots.
PUBLISHED = {
    ("bcjrnet", "perfect"): "approaches model-based BCJR with perfect CSI "
                            "[BCJRNet]",
    ("viterbinet", "perfect"): "approaches the CSI-based Viterbi algorithm "
                               "[ViterbiNet]",
    ("sbrnn", "perfect"): "worse than the learned trellis detectors at "
                          "this training-set size [BCJRNet, ViterbiNet]",
    ("bcjrnet", "uncertain"): "outperforms model-based BCJR under the same "
                              "CSI uncertainty [BCJRNet]",
    ("viterbinet", "uncertain"): "robust to CSI uncertainty, unlike the "
                                 "Viterbi algorithm [ViterbiNet]",
    ("bcjr", "uncertain"): "degrades markedly at high SNR [BCJRNet]",
    ("viterbi", "uncertain"): "degrades markedly at high SNR [ViterbiNet]",
}

_QUICK_GAMMAS = (0.2, 1.0)
_QUICK_MAX_SYMBOLS = 200_000


def quick_variant(cfg):
    """The ``--quick`` version of a paper config: gammas 0.2 and 1.0 (of
    those present), every other SNR below 6 dB and all from 6 dB up (where
    :func:`check_claims` looks), at most 200,000 symbols per point.
    Its experiment name gets a ``-quick`` suffix, so its rows never mix
    with the full run's.

    Example
    -------
    >>> from rxsim.config import parse_config
    >>> cfg = parse_config({
    ...     "experiment": {"name": "paper"},
    ...     "channel": {"memory": 4, "gamma": [0.2, 0.5, 1.0]},
    ...     "sweep": {"snr_db": [0, 2, 4, 6, 8]},
    ...     "detector": [{"name": "bcjr"}]})
    >>> q = quick_variant(cfg)
    >>> q.name, [c.gamma for c in q.channels], q.snr_db
    ('paper-quick', [0.2, 1.0], (0.0, 4.0, 6.0, 8.0))
    """
    channels = tuple(c for c in cfg.channels if c.gamma in _QUICK_GAMMAS) \
        or cfg.channels[:2]
    return dataclasses.replace(
        cfg, name=f"{cfg.name}-quick", channels=channels,
        snr_db=tuple(s for i, s in enumerate(cfg.snr_db)
                     if s >= 6 or i % 2 == 0),
        max_symbols=min(cfg.max_symbols, _QUICK_MAX_SYMBOLS))


def base_name(label):
    """The detector's name in a curve label.

    Example
    -------
    >>> base_name("bcjr (perturbed:var=0.1)")
    'bcjr'
    """
    return label.split(" (")[0]


#: Model-based curve variants of ``configs/paper.toml`` (label suffix ->
#: legend text): the two tap-error models and the same-pilots baseline.
VARIANTS = {"authors' mismatch": "authors' mismatch: h + sqrt(0.1) n per "
                                 "symbol",
            "rxsim mismatch": "rxsim mismatch: h (1 + sqrt(0.1) n) per "
                              "frame",
            "LS, training pilots": "LS from the 5000 training pilots"}


def variant(label):
    """The :data:`VARIANTS` key a curve label names, or None.

    Example
    -------
    >>> variant("viterbi (authors' mismatch)"), variant("bcjrnet")
    ("authors' mismatch", None)
    """
    for key in VARIANTS:
        if f"({key})" in label:
            return key
    return None


def curves(rows, confidence=0.95):
    """Gamma-averaged SER curves: ``(label, csi) -> [CurvePoint]``
    (:func:`rxsim.aggregate.average_rows` over the channels).

    Example
    -------
    >>> rows = [dict(detector="bcjr", csi="perfect", snr_db=6.0,
    ...              channel=f"isi:L=4,gamma={g}", errors=e, symbols=10000)
    ...         for g, e in ((0.2, 100), (1.0, 300))]
    >>> (p,) = curves(rows)[("bcjr", "perfect")]
    >>> p.x, p.rate, p.count
    (6.0, 0.02, 2)
    """
    return average_rows(rows, key=lambda r: (r["detector"], r["csi"]),
                        confidence=confidence)


_STYLE = {"bcjr": ("C0", "o", "-"), "viterbi": ("C1", "s", "-"),
          "bcjrnet": ("C2", "^", "--"), "viterbinet": ("C3", "v", "--"),
          "sbrnn": ("C4", "D", ":"), "lmmse": ("C5", "x", "-."),
          "symbolwise": ("C7", "+", "-.")}
_NAMES = {"bcjr": "BCJR", "viterbi": "Viterbi", "bcjrnet": "BCJRNet",
          "viterbinet": "ViterbiNet", "sbrnn": "SBRNN", "lmmse": "LMMSE",
          "symbolwise": "symbol-wise"}


def plot_panels(curve_map, path, title=None, formats=("png", "pdf")):
    """Two panels laid out like the papers' figure: perfect CSI (left) and
    CSI uncertainty (right, with perfect-CSI BCJR dashed for reference).

    Parameters
    ----------
    curve_map : dict ``(label, csi) -> [CurvePoint]`` (see :func:`curves`)
    path : str or Path, stem of the output files
    title : None or str

    Output
    ------
    : list of Path written
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    for ax, perfect in zip(axes, (True, False)):
        for (label, csi), pts in sorted(curve_map.items()):
            ls_ref = False
            if (_csi_group(csi) == "perfect") != perfect:
                if perfect or label != "bcjr":
                    continue
                ls_ref = True
            x = [p.x for p in pts]
            y = [p.rate for p in pts]
            err = [[max(p.rate - p.lo, 0) for p in pts],
                   [max(p.hi - p.rate, 0) for p in pts]]
            if ls_ref:
                ax.plot(x, y, color="0.5", ls="--", lw=1,
                        label="BCJR, perfect CSI")
                continue
            color, marker, ls = _curve_style(label)
            ax.errorbar(x, y, yerr=err, color=color, marker=marker, ls=ls,
                        ms=4, capsize=2, label=display_name(label))
        ax.set_yscale("log")
        ax.set_xlabel("SNR [dB]")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title("perfect CSI" if perfect else
                     "CSI uncertainty (taps perturbed, var 0.1)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("SER (mean over gamma)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, formats, dpi=120)


def _curve_style(label):
    """(color, marker, line style) of a curve: by detector, with the
    model-based variants told apart (authors' mismatch solid, rxsim's
    dotted, the same-pilots LS baseline in its own colour)."""
    color, marker, ls = _STYLE.get(base_name(label), ("k", ".", "-"))
    kind = variant(label)
    if kind == "rxsim mismatch":
        return color, marker, ":"
    if kind == "LS, training pilots":
        return ("C8" if base_name(label) == "bcjr" else "C9"), "P", "-"
    return color, marker, ls


def display_name(label):
    """Legend and table name of a curve label.

    Example
    -------
    >>> display_name("bcjr (LS, training pilots)")
    'BCJR, LS from the 5000 training pilots'
    >>> display_name("viterbinet (perturbed:var=0.1)")
    'ViterbiNet'
    """
    name = _NAMES.get(base_name(label), base_name(label))
    kind = variant(label)
    return name if kind is None else f"{name}, {VARIANTS[kind]}"


def _csi_group(csi):
    """"perfect" for the left panel (the receiver knows the channel, or
    estimates it from pilots of the true channel), else "uncertain"."""
    from channels.csi import parse_csi

    spec = parse_csi(csi)
    pilots = spec.training_csi or spec
    return "perfect" if pilots.kind == "perfect" else "uncertain"


def markdown_table(curve_map, snrs=None):
    """A markdown table: one row per curve, one SER column per SNR
    (``mean [lo, hi]``), and the published finding with its source.

    Example
    -------
    >>> rows = [dict(detector="viterbi (perturbed:var=0.1)",
    ...              csi="perturbed:var=0.1", snr_db=10.0, errors=400,
    ...              symbols=10000)]
    >>> head, rule, row = markdown_table(curves(rows)).splitlines()
    >>> head
    '| detector | CSI | 10 dB | published |'
    >>> print(row.replace(" | ", "\\n"))
    | Viterbi
    perturbed:var=0.1
    4.00e-02 [3.6e-02, 4.4e-02]
    degrades markedly at high SNR [ViterbiNet] |
    """
    snrs = sorted({p.x for pts in curve_map.values() for p in pts}
                  if snrs is None else snrs)
    head = ["detector", "CSI"] + [f"{s:g} dB" for s in snrs] + \
        ["published"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    order = sorted(curve_map, key=lambda k: (
        _csi_group(k[1]) != "perfect",
        list(_STYLE).index(base_name(k[0])) if base_name(k[0]) in _STYLE
        else 99, k[0]))
    for label, csi in order:
        by_x = {p.x: p for p in curve_map[(label, csi)]}
        cells = []
        for s in snrs:
            p = by_x.get(float(s))
            cells.append("" if p is None else
                         f"{p.rate:.2e} [{p.lo:.1e}, {p.hi:.1e}]")
        published = "" if variant(label) == "LS, training pilots" else \
            PUBLISHED.get((base_name(label), _csi_group(csi)), "")
        lines.append("| " + " | ".join(
            [display_name(label), csi] + cells + [published]) + " |")
    return "\n".join(lines)


def _point(curve_map, label, snr):
    for (lab, _), pts in curve_map.items():
        if lab == label:
            for p in pts:
                if math.isclose(p.x, snr):
                    return p
    return None


def paired_averages(rows, frame_counts):
    """``paired(label_a, label_b, snr)`` -> the paired comparison of the
    gamma-averaged SERs of two curves (:func:`rxsim.paired.
    averaged_comparison` over the channels both have at that SNR, each
    paired frame by frame), or None when a curve or its frame counts are
    missing.

    Parameters
    ----------
    rows : list of dict, the store's rows of the sweep
    frame_counts : callable ``row -> dict or None``
        e.g. :meth:`rxsim.store.ResultsStore.frame_counts` of an open
        store; it is called once per row here, so the store may be
        closed afterwards.
    """
    from ..paired import averaged_comparison

    by_key = {(r["detector"], r["channel"], float(r["snr_db"])): r
              for r in rows}
    counts = {key: frame_counts(r) for key, r in by_key.items()}

    def paired(label_a, label_b, snr):
        pairs, per_frame = [], []
        channels = sorted({c for (d, c, x) in by_key
                           if d == label_a and math.isclose(x, snr)})
        for ch in channels:
            ra = by_key.get((label_a, ch, float(snr)))
            rb = by_key.get((label_b, ch, float(snr)))
            if rb is None:
                continue
            fa = counts[(label_a, ch, float(snr))]
            fb = counts[(label_b, ch, float(snr))]
            if not fa or not fb or ra["seed"] != rb["seed"]:
                return None
            pairs.append((fa["errors"], fb["errors"]))
            per_frame.append(ra["symbols"] / len(fa["errors"]))
        if not pairs:
            return None
        return averaged_comparison(pairs, symbols_per_frame=per_frame)

    return paired


def check_claims(curve_map, paired=None, ratio_perfect=1.5,
                 ratio_uncertain=10.0, snrs_perfect=(6.0, 8.0, 10.0),
                 snr_uncertain=10.0, mismatch=("authors' mismatch",
                                               "rxsim mismatch")):
    """What the reproduction must show, checked on the averaged curves.

    1. Perfect CSI: each learned trellis detector's SER is within
       ``ratio_perfect`` x BCJR's at ``snrs_perfect``.
    2. CSI uncertainty at ``snr_uncertain``: each learned detector beats
       the mismatched model-based BCJR and Viterbi by ``ratio_uncertain``,
       under each tap-error model of ``mismatch`` (curve labels
       ``"bcjr (<model>)"``; a plain ``"bcjr (perturbed:...)"`` label
       when the config has no such variants).

    With ``paired`` (see :func:`paired_averages`) the ratio and its
    interval are the paired ones of the gamma-averaged SERs (same frames):
    ``ok`` judges the ratio, ``consistent`` whether its interval reaches
    the claim, ``shown`` whether the whole interval satisfies it. Without
    it, the ratio of the averaged SERs and the marginal bounds (``shown``
    None).

    Output
    ------
    : list of dict ``claim, ok, consistent, shown, ratio, ci, detail``
      (``ok`` and ``consistent`` None when a curve is missing)

    Example
    -------
    >>> claims = check_claims({})
    >>> len(claims), claims[0]["claim"], claims[0]["ok"]
    (14, 'BCJRNet within 1.5x of BCJR, perfect CSI, 6 dB', None)
    """
    labels = {lab for lab, _ in curve_map}
    uncertain = [(f"{mb} ({m})", f"mismatched {_NAMES[mb]} ({m})")
                 for m in mismatch for mb in ("bcjr", "viterbi")]
    if not any(lab in labels for lab, _ in uncertain):
        uncertain = [(lab, f"mismatched {_NAMES[base_name(lab)]}")
                     for lab, csi in sorted(curve_map)
                     if base_name(lab) in ("bcjr", "viterbi")
                     and csi.startswith("perturbed")] or uncertain
    out = []
    for name in ("bcjrnet", "viterbinet"):
        learned_unc = next((lab for lab, csi in curve_map
                            if base_name(lab) == name
                            and csi.startswith("perturbed")),
                           f"{name} (perturbed:var=0.1)")
        for snr in snrs_perfect:
            out.append(_ratio_claim(
                f"{_NAMES[name]} within {ratio_perfect:g}x of BCJR, "
                f"perfect CSI, {snr:g} dB",
                curve_map, paired, name, "bcjr", snr, at_most=ratio_perfect))
        for mb, text in uncertain:
            out.append(_ratio_claim(
                f"{_NAMES[name]} beats {text} by >= {ratio_uncertain:g}x, "
                f"CSI uncertainty, {snr_uncertain:g} dB",
                curve_map, paired, mb, learned_unc, snr_uncertain,
                at_least=ratio_uncertain))
    return out


def _ratio_claim(claim, curve_map, paired, label_a, label_b, snr, *,
                 at_most=None, at_least=None):
    """The verdict on ``SER_a / SER_b <= at_most`` (or ``>= at_least``):
    paired when ``paired`` gives a comparison, else on the marginal
    curves (the bound of ``a`` nearest the claim against the far bound of
    ``b``)."""
    a, b = _point(curve_map, label_a, snr), _point(curve_map, label_b, snr)
    if a is None or b is None:
        return dict(claim=claim, ok=None, consistent=None, shown=None,
                    ratio=None, ci=None, detail="missing")
    c = paired(label_a, label_b, snr) if paired is not None else None
    if c is not None:
        ratio, (lo, hi) = c.ratio, c.ratio_ci
        if at_most is not None:
            ok, consistent, shown = ratio <= at_most, lo <= at_most, \
                hi <= at_most
        else:
            ok, consistent, shown = ratio >= at_least, hi >= at_least, \
                lo >= at_least
        return dict(claim=claim, ok=ok, consistent=consistent, shown=shown,
                    ratio=ratio, ci=(lo, hi),
                    detail=f"paired ratio {ratio:.3g} [{lo:.3g}, {hi:.3g}] "
                           f"({c.frames_a} common frames); SERs "
                           f"{c.rate_a:.2e} vs {c.rate_b:.2e}")
    ratio = a.rate / b.rate if b.rate else math.inf
    if at_most is not None:
        ok, consistent = ratio <= at_most, a.lo <= at_most * b.hi
    else:
        ok, consistent = ratio >= at_least, a.hi >= at_least * b.lo
    return dict(claim=claim, ok=ok, consistent=consistent, shown=None,
                ratio=ratio, ci=None,
                detail=f"unpaired: {a.rate:.2e} [{a.lo:.1e}, {a.hi:.1e}] vs "
                       f"{b.rate:.2e} [{b.lo:.1e}, {b.hi:.1e}]")


def comparison_table(paired, pairs, snrs):
    """Markdown table of paired comparisons of gamma-averaged SERs:
    one row per ``(label_a, label_b)`` of ``pairs``, a cell per SNR with
    the ratio A/B, its interval and the verdict."""
    head = ["A", "B"] + [f"{s:g} dB: A/B [95%]" for s in snrs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a, b in pairs:
        cells = []
        for snr in snrs:
            c = paired(a, b, snr)
            cells.append("n/a" if c is None else
                         f"{c.ratio:.3g} [{c.ratio_ci[0]:.3g}, "
                         f"{c.ratio_ci[1]:.3g}] {c.verdict}")
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append("| " + " | ".join([display_name(a), display_name(b)]
                                       + cells) + " |")
    return "\n".join(lines)
