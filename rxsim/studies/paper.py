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

__all__ = ["REFERENCES", "PUBLISHED", "quick_variant", "curves",
           "plot_panels", "markdown_table", "check_claims", "base_name"]

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

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, perfect in zip(axes, (True, False)):
        for (label, csi), pts in sorted(curve_map.items()):
            if (csi == "perfect") != perfect:
                if not (not perfect and base_name(label) == "bcjr"):
                    continue
                ls_ref = True
            else:
                ls_ref = False
            name = base_name(label)
            color, marker, ls = _STYLE.get(name, ("k", ".", "-"))
            x = [p.x for p in pts]
            y = [p.rate for p in pts]
            err = [[max(p.rate - p.lo, 0) for p in pts],
                   [max(p.hi - p.rate, 0) for p in pts]]
            if ls_ref:
                ax.plot(x, y, color="0.5", ls="--", lw=1,
                        label="BCJR, perfect CSI")
                continue
            ax.errorbar(x, y, yerr=err, color=color, marker=marker, ls=ls,
                        ms=4, capsize=2, label=_NAMES.get(name, label))
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


def _csi_group(csi):
    return "perfect" if csi == "perfect" else "uncertain"


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
    order = sorted(curve_map, key=lambda k: (k[1] != "perfect",
                                             list(_STYLE).index(
                                                 base_name(k[0]))
                                             if base_name(k[0]) in _STYLE
                                             else 99))
    for label, csi in order:
        by_x = {p.x: p for p in curve_map[(label, csi)]}
        cells = []
        for s in snrs:
            p = by_x.get(float(s))
            cells.append("" if p is None else
                         f"{p.rate:.2e} [{p.lo:.1e}, {p.hi:.1e}]")
        published = PUBLISHED.get((base_name(label), _csi_group(csi)), "")
        lines.append("| " + " | ".join(
            [_NAMES.get(base_name(label), label), csi] + cells +
            [published]) + " |")
    return "\n".join(lines)


def _point(curve_map, name, csi_group, snr):
    for (label, csi), pts in curve_map.items():
        if base_name(label) == name and _csi_group(csi) == csi_group:
            for p in pts:
                if math.isclose(p.x, snr):
                    return p
    return None


def check_claims(curve_map, ratio_perfect=1.5, ratio_uncertain=10.0,
                 snrs_perfect=(6.0, 8.0, 10.0), snr_uncertain=10.0):
    """What the reproduction must show, checked on the averaged curves.

    1. Perfect CSI: each learned trellis detector's SER is within
       ``ratio_perfect`` x BCJR's at ``snrs_perfect``.
    2. CSI uncertainty at ``snr_uncertain``: each learned detector beats
       the mismatched model-based BCJR and Viterbi by ``ratio_uncertain``.

    ``ok`` judges the point estimates (the ratio of the averaged SERs);
    ``consistent`` says whether the intervals allow the claim: for 1,
    the learned lower bound is at most ``ratio_perfect`` x BCJR's upper
    bound; for 2, the model-based upper bound is at least
    ``ratio_uncertain`` x the learned lower bound. A claim with ``ok``
    False but ``consistent`` True is not refuted by the data, nor shown.

    Output
    ------
    : list of dict ``claim, ok, consistent, ratio, detail`` (``ok`` and
      ``consistent`` None when a curve is missing)

    Example
    -------
    >>> claims = check_claims({})
    >>> len(claims), claims[0]["claim"], claims[0]["ok"]
    (10, 'BCJRNet within 1.5x of BCJR, perfect CSI, 6 dB', None)
    """
    out = []
    for name in ("bcjrnet", "viterbinet"):
        for snr in snrs_perfect:
            out.append(_ratio_claim(
                f"{_NAMES[name]} within {ratio_perfect:g}x of BCJR, "
                f"perfect CSI, {snr:g} dB",
                _point(curve_map, name, "perfect", snr),
                _point(curve_map, "bcjr", "perfect", snr),
                at_most=ratio_perfect))
        for mb in ("bcjr", "viterbi"):
            out.append(_ratio_claim(
                f"{_NAMES[name]} beats mismatched {_NAMES[mb]} by >= "
                f"{ratio_uncertain:g}x, CSI uncertainty, "
                f"{snr_uncertain:g} dB",
                _point(curve_map, mb, "uncertain", snr_uncertain),
                _point(curve_map, name, "uncertain", snr_uncertain),
                at_least=ratio_uncertain))
    return out


def _ratio_claim(claim, a, b, *, at_most=None, at_least=None):
    """The verdict on ``a.rate / b.rate <= at_most`` (or ``>= at_least``):
    ``ok`` on the point estimates, ``consistent`` on the intervals (the
    bound of ``a`` nearest the claim against the far bound of ``b``)."""
    if a is None or b is None:
        return dict(claim=claim, ok=None, consistent=None, ratio=None,
                    detail="missing")
    ratio = a.rate / b.rate if b.rate else math.inf
    if at_most is not None:
        ok, consistent = ratio <= at_most, a.lo <= at_most * b.hi
    else:
        ok, consistent = ratio >= at_least, a.hi >= at_least * b.lo
    return dict(claim=claim, ok=ok, consistent=consistent, ratio=ratio,
                detail=f"{a.rate:.2e} [{a.lo:.1e}, {a.hi:.1e}] vs "
                       f"{b.rate:.2e} [{b.lo:.1e}, {b.hi:.1e}]")
