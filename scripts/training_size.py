"""Training-set-size study in one command (see
rxsim/studies/training_size.py).

    python scripts/training_size.py            # 6 sizes x 8 seeds, 6 and 10 dB
    python scripts/training_size.py --quick    # 3 sizes x 2 seeds, 10 dB

SER of BCJRNet, ViterbiNet and a small SBRNN against the number of pilot
symbols they are trained on, perfect and uncertain CSI, with model-based
BCJR as the reference. Writes ``<out>.png/.pdf`` and ``<out>.md``; the
sweep is resumable (rerun: finished points and trained models are reused).
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def paired_table(rows, frame_counts, spec):
    """Markdown table of each learned detector against the LS baseline on
    the same pilots, per CSI case, SNR and size, over training seeds."""
    from rxsim.paired import compare_rows
    from rxsim.studies.training_size import LS_NAME

    head = ["detector", "training CSI", "SNR"] + [
        f"n={n}" for n in spec.sizes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for csi in spec.csi:
        suffix = "" if csi == "perfect" else f" ({csi})"
        for name in spec.detectors:
            for snr in spec.snr_db:
                cells = []
                for n in spec.sizes:
                    try:
                        found = [c for c in compare_rows(
                            rows, f"{name} n={n}{suffix}",
                            f"{LS_NAME} n={n}{suffix}",
                            frame_counts=frame_counts)
                            if c.snr_db == float(snr)]
                    except ValueError:
                        found = []
                    seeds = found[0].seeds if found else None
                    cells.append("n/a" if seeds is None else
                                 f"{seeds.ratio:.3g} [{seeds.ratio_ci[0]:.3g}"
                                 f", {seeds.ratio_ci[1]:.3g}] "
                                 f"{seeds.verdict} ({seeds.spread[0]:.2g}-"
                                 f"{seeds.spread[1]:.2g})")
                lines.append("| " + " | ".join(
                    [name, csi, f"{snr:g} dB"] + cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    from rxsim.studies.training_size import StudySpec

    full = StudySpec()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help=f"pilot symbols (default {full.sizes})")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"trainings per size (default {full.seeds})")
    parser.add_argument("--snr", type=float, nargs="+", default=None,
                        help=f"SNRs in dB (default {full.snr_db})")
    parser.add_argument("--detectors", nargs="+", default=None,
                        help=f"default {' '.join(full.detectors)}")
    parser.add_argument("--csi", nargs="+", default=None,
                        help=f"default {' '.join(full.csi)}")
    parser.add_argument("--sbrnn", choices=("small", "published"),
                        default=None, help="the SBRNN's size (default "
                        f"{full.sbrnn})")
    parser.add_argument("--name", default=None,
                        help="experiment name (default training-size)")
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    from rxsim.store import ResultsStore
    from rxsim.sweep import run_study, sweep_points
    from rxsim.studies.training_size import (markdown_table, plot_study,
                                             study_config, study_curves)

    spec = StudySpec.quick() if args.quick else full
    overrides = {"sizes": args.sizes and tuple(args.sizes),
                 "seeds": args.seeds,
                 "snr_db": args.snr and tuple(args.snr),
                 "detectors": args.detectors and tuple(args.detectors),
                 "csi": args.csi and tuple(args.csi), "sbrnn": args.sbrnn,
                 "gamma": args.gamma, "seed": args.seed}
    spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items()
                                        if v is not None})
    name = args.name or ("training-size-quick" if args.quick
                         else "training-size")
    cfg = study_config(spec, name=name)
    db = Path(args.db or f"results/{name}.sqlite")
    out = Path(args.out or f"results/{name}")
    db.parent.mkdir(parents=True, exist_ok=True)

    rows, done, skipped, seconds = run_study(cfg, db, args.quiet)
    points = sweep_points(cfg)
    curves, refs = study_curves(rows)
    figures = plot_study(curves, refs, out)
    with ResultsStore(db) as store:
        paired = paired_table(rows, store.frame_counts, spec)
    text = "\n".join([
        f"# Training-set-size study ({name})\n",
        f"BPSK, L={spec.memory}, gamma={spec.gamma:g}; sizes "
        f"{list(spec.sizes)}, {spec.seeds} training seeds each; "
        f"{len(points)} points, {done} simulated now, {skipped} resumed; "
        f"wall time {seconds:.0f} s.\n",
        "Cells: SER averaged over the training seeds [95% t interval over "
        "seeds] (min-max over seeds). "
        "'monotone within CI': no size whose interval lies wholly above "
        "the previous size's.\n",
        markdown_table(curves, refs), "",
        "## Learned detectors against BCJR on LS estimates from the same "
        "pilots\n",
        "Per size and SNR: the ratio SER_learned / SER_bcjr-ls over the "
        f"{spec.seeds} training seeds (replicate r of both uses the same "
        "pilots and the same test frames): geometric mean with its 95% t "
        "interval over seeds (what a fresh training set gives), the "
        "verdict of that interval, and the seeds' min-max ratio.\n",
        paired, ""])
    out.with_suffix(".md").write_text(text)
    summary = {"seconds": seconds, "simulated": done, "resumed": skipped,
               "figures": [str(f) for f in figures],
               "table": str(out.with_suffix(".md"))}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    if not args.quiet:
        print(text)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
