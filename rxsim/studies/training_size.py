"""Training-set-size study: SER against the number of pilots a learned
detector is trained on, at fixed SNRs, perfect and uncertain CSI.

The study is an ordinary sweep (so it is resumable and seeded like any
other): :func:`study_config` builds a config with one detector entry per
(detector, training size, training seed, CSI case), labelled
``"<name> n=<size> #<seed>"``, plus model-based BCJR with perfect and
with uncertain CSI as horizontal references. Each training seed is a
different label, hence different pilots, initial weights and test data.
"""

import re
from dataclasses import dataclass

import numpy as np

from ..aggregate import average_rows, monotone_within_ci
from ..config import parse_config

__all__ = ["StudySpec", "study_config", "parse_label", "training_csi",
           "study_curves",
           "plot_study", "markdown_table"]

_LABEL = re.compile(r"^(?P<name>[\w-]+) n=(?P<n>\d+) #(?P<r>\d+)")

#: Curve name of the least-squares BCJR baseline on the training pilots.
LS_NAME = "bcjr-ls"

# A small SBRNN: trained per point it dominates the study's run time.
SBRNN_OPTIONS = {"window": 8, "layers": 1, "units": 16, "batch_size": 500,
                 "epochs": 50, "learning_rate": 0.01}
#: The SBRNN sizes the study can run (``StudySpec.sbrnn``): the small one
#: above, or the published one (Farsad & Goldsmith: the class defaults,
#: 3 x 80 units, window 4 L).
SBRNN_SIZES = {"small": SBRNN_OPTIONS, "published": {}}


@dataclass(frozen=True)
class StudySpec:
    """What the study sweeps (defaults: the full study).

    Parameters
    ----------
    sizes : tuple of int
        Pilot symbols per training (>= 160: the trellis nets need 10
        samples per channel state, 2**4 states for BPSK, L = 4).
    seeds : int
        Trainings per size (their spread is shown).
    snr_db : tuple of float
    detectors : tuple of str
        Learned registry names.
    csi : tuple of str
        CSI cases of the training data (and of the BCJR references).
    gamma, memory : float, int
        The channel ``exp(-gamma l)``, ``l < memory``.
    seed : int
        Sweep seed.
    max_symbols : int
        Test symbols per point at most (100 errors stop it earlier).
    sbrnn : "small" | "published"
        The SBRNN's size (:data:`SBRNN_SIZES`).
    ls_baseline : bool
        Also run BCJR on least-squares estimates from each replicate's
        pilots (``estimated:from=training``), labelled ``"bcjr-ls n=<size>
        #<seed>"``: "estimate the channel from the same data and run
        BCJR", the baseline a learned detector must beat.
    """

    sizes: tuple = (200, 500, 1000, 2500, 5000, 20000)
    seeds: int = 8
    snr_db: tuple = (6.0, 10.0)
    detectors: tuple = ("bcjrnet", "viterbinet", "sbrnn")
    csi: tuple = ("perfect", "perturbed:var=0.1")
    gamma: float = 0.2
    memory: int = 4
    seed: int = 2021
    max_symbols: int = 500_000
    sbrnn: str = "small"
    ls_baseline: bool = True

    def __post_init__(self):
        if self.sbrnn not in SBRNN_SIZES:
            raise ValueError(f"`sbrnn` must be one of "
                             f"{', '.join(map(repr, SBRNN_SIZES))}, got "
                             f"{self.sbrnn!r}.")

    @classmethod
    def quick(cls):
        """A study that runs in a few minutes: 3 sizes, 2 seeds, 10 dB.

        Example
        -------
        >>> StudySpec.quick().sizes, StudySpec.quick().seeds
        ((200, 1000, 5000), 2)
        """
        return cls(sizes=(200, 1000, 5000), seeds=2, snr_db=(10.0,),
                   max_symbols=200_000)


def study_config(spec=StudySpec(), name="training-size"):
    """The study as a validated :class:`rxsim.config.SweepConfig`.

    Example
    -------
    >>> cfg = study_config(StudySpec(sizes=(200, 1000), seeds=1,
    ...                              detectors=("bcjrnet",),
    ...                              csi=("perfect",)))
    >>> [d.label for d in cfg.detectors]
    ['bcjr', 'bcjrnet n=200 #0', 'bcjrnet n=1000 #0', 'bcjr-ls n=200 #0', 'bcjr-ls n=1000 #0']
    >>> cfg.detectors[-1].csi
    'estimated:from=training,pilots=1000'

    """
    detectors = []
    for csi in spec.csi:
        detectors.append({"name": "bcjr", "csi": csi})
        suffix = "" if csi == "perfect" else f" ({csi})"
        for det in spec.detectors:
            for n in spec.sizes:
                for r in range(spec.seeds):
                    entry = {"name": det, "csi": csi,
                             "label": f"{det} n={n} #{r}{suffix}",
                             "train_symbols": int(n), "train_seed": r}
                    if det == "sbrnn":
                        entry.update(SBRNN_SIZES[spec.sbrnn])
                    detectors.append(entry)
        if spec.ls_baseline:
            # BCJR with taps and noise variance estimated by least squares
            # from the same pilots replicate r of the learned detectors
            # trains on (same size, same seed, same pilots' channel)
            ls_csi = "estimated:from=training" + (
                "" if csi == "perfect" else "," + csi.split(":", 1)[1])
            for n in spec.sizes:
                for r in range(spec.seeds):
                    detectors.append({
                        "name": "bcjr", "csi": f"{ls_csi},pilots={n}",
                        "label": f"{LS_NAME} n={n} #{r}{suffix}",
                        "train_seed": r})
    data = {
        "experiment": {"name": name, "seed": spec.seed},
        "link": {"constellation": "bpsk", "frame_length": 500,
                 "batch_size": 100, "xla": False},
        "channel": {"memory": spec.memory, "gamma": spec.gamma},
        "sweep": {"snr_db": [float(s) for s in spec.snr_db],
                  "target_errors": 100, "max_symbols": spec.max_symbols},
        "detector": detectors,
    }
    return parse_config(data, source="training-size study")


def parse_label(label):
    """``(name, training size, training seed)`` of a study label;
    ``None`` for the references.

    Example
    -------
    >>> parse_label("bcjrnet n=500 #1 (perturbed:var=0.1)")
    ('bcjrnet', 500, 1)
    >>> parse_label("bcjr (perturbed:var=0.1)") is None
    True
    """
    m = _LABEL.match(label)
    return None if m is None else (m["name"], int(m["n"]), int(m["r"]))


def training_csi(csi):
    """The CSI case of a curve's training pilots: the learned detectors'
    own ``csi``, and that of the pilots an ``estimated:from=training``
    baseline estimates from.

    Example
    -------
    >>> training_csi("estimated:from=training,pilots=500,var=0.1")
    'perturbed:var=0.1'
    >>> training_csi("estimated:from=training,pilots=500"), training_csi(
    ...     "perturbed:var=0.1")
    ('perfect', 'perturbed:var=0.1')
    """
    from channels.csi import parse_csi
    pilots = parse_csi(csi).training_csi
    return csi if pilots is None else str(pilots)


def study_curves(rows, confidence=0.95):
    """Curves over training size: ``(name, csi, snr) -> [CurvePoint]``
    averaged over training seeds, and the references ``(csi, snr) ->
    CurvePoint`` (BCJR).

    Example
    -------
    >>> rows = [dict(detector=f"bcjrnet n=500 #{r}", csi="perfect",
    ...              snr_db=6.0, errors=e, symbols=1000)
    ...         for r, e in enumerate((10, 30))]
    >>> rows.append(dict(detector="bcjr", csi="perfect", snr_db=6.0,
    ...                  errors=4, symbols=1000))
    >>> curves, refs = study_curves(rows)
    >>> (p,) = curves[("bcjrnet", "perfect", 6.0)]
    >>> p.x, p.rate, p.spread, refs[("perfect", 6.0)].rate
    (500.0, 0.02, (0.01, 0.03), 0.004)
    """
    learned = [r for r in rows if parse_label(r["detector"])]
    curves = average_rows(
        learned, key=lambda r: (parse_label(r["detector"])[0],
                                training_csi(r["csi"]), r["snr_db"]),
        x=lambda r: parse_label(r["detector"])[1], confidence=confidence)
    refs = average_rows([r for r in rows if not parse_label(r["detector"])],
                        key=lambda r: (r["csi"], r["snr_db"]),
                        confidence=confidence)
    return curves, {k: v[0] for k, v in refs.items()}


_COLORS = {"bcjrnet": "C2", "viterbinet": "C3", "sbrnn": "C4",
           LS_NAME: "C8"}
_NAMES = {"bcjrnet": "BCJRNet", "viterbinet": "ViterbiNet",
          "sbrnn": "SBRNN", LS_NAME: "BCJR, LS from the same pilots"}


def plot_study(curves, refs, path, formats=("png", "pdf")):
    """One panel per (SNR, CSI case): SER vs training-set size, mean over
    seeds with its test-noise interval (error bars), the 95% interval over
    seeds shaded (:meth:`rxsim.aggregate.CurvePoint.interval_over_rows`:
    what a fresh training set gives on average; sizes with one seed get
    no band), and BCJR (perfect CSI solid, uncertain dashed) as
    horizontal lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    snrs = sorted({k[2] for k in curves})
    csis = sorted({k[1] for k in curves}, key=lambda c: c != "perfect")
    fig, axes = plt.subplots(len(snrs), len(csis),
                             figsize=(5.2 * len(csis), 3.8 * len(snrs)),
                             squeeze=False, sharex=True)
    for i, snr in enumerate(snrs):
        for j, csi in enumerate(csis):
            ax = axes[i][j]
            for (name, c, s), pts in sorted(curves.items()):
                if c != csi or s != snr:
                    continue
                x = [p.x for p in pts]
                y = [p.rate for p in pts]
                color = _COLORS.get(name, "k")
                ax.errorbar(x, y, yerr=[[p.rate - p.lo for p in pts],
                                        [p.hi - p.rate for p in pts]],
                            color=color, marker="o", ms=4, capsize=2,
                            label=_NAMES.get(name, name))
                seeds = np.array([p.interval_over_rows() for p in pts])
                # a lower end <= 0 runs to the bottom of the log axis
                ax.fill_between(x, seeds[:, 0], seeds[:, 1], color=color,
                                alpha=0.15, lw=0)
            for (c, s), ref in refs.items():
                if s != snr:
                    continue
                ax.axhline(ref.rate, color="0.4",
                           ls="-" if c == "perfect" else "--", lw=1,
                           label="BCJR, " + ("perfect CSI" if c == "perfect"
                                             else "uncertain CSI"))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{snr:g} dB, training data: "
                         + ("perfect CSI" if csi == "perfect"
                            else f"taps {csi}"), fontsize=9)
            if i == len(snrs) - 1:
                ax.set_xlabel("training symbols")
            if j == 0:
                ax.set_ylabel("SER")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, formats, dpi=120)


def _cell(p):
    """``mean [over-seeds interval] (min-max)`` of one size."""
    lo, hi = p.interval_over_rows()
    seeds = "" if lo != lo else f" [{max(lo, 0):.1e}, {hi:.1e}]"
    return (f"{p.rate:.2e}{seeds} ({p.spread[0]:.1e}-{p.spread[1]:.1e})")


def markdown_table(curves, refs):
    """Rows per (detector, CSI, SNR); a column per training size with the
    seed-averaged SER, its 95% interval over training seeds (what a fresh
    training set gives on average; :meth:`rxsim.aggregate.CurvePoint.
    interval_over_rows`) and the seeds' min-max; BCJR reference; whether
    the curve is monotone within its (test-noise) intervals."""
    sizes = sorted({p.x for pts in curves.values() for p in pts})
    head = ["detector", "training CSI", "SNR"] + \
        [f"n={int(n)}" for n in sizes] + ["BCJR (same CSI)",
                                          "monotone within CI"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, csi, snr), pts in sorted(
            curves.items(), key=lambda kv: (kv[0][2], kv[0][1] != "perfect",
                                            kv[0][0])):
        by_x = {p.x: p for p in pts}
        cells = [_cell(by_x[n]) if n in by_x else "" for n in sizes]
        ref = refs.get((csi, snr))
        ok, rises = monotone_within_ci(pts)
        verdict = "yes" if ok else "no: " + ", ".join(
            f"{int(a)}->{int(b)}" for a, b in rises)
        lines.append("| " + " | ".join(
            [_NAMES.get(name, name), csi, f"{snr:g} dB"] + cells +
            ["" if ref is None else f"{ref.rate:.2e}", verdict]) + " |")
    return "\n".join(lines)
