"""Training-set-size study in one command (see
rxsim/studies/training_size.py).

    python scripts/training_size.py            # 6 sizes x 3 seeds, 6 and 10 dB
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
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    from rxsim.sweep import run_study, sweep_points
    from rxsim.studies.training_size import (markdown_table, plot_study,
                                             study_config, study_curves)

    spec = StudySpec.quick() if args.quick else full
    overrides = {"sizes": args.sizes and tuple(args.sizes),
                 "seeds": args.seeds,
                 "snr_db": args.snr and tuple(args.snr),
                 "detectors": args.detectors and tuple(args.detectors),
                 "gamma": args.gamma, "seed": args.seed}
    spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items()
                                        if v is not None})
    name = "training-size-quick" if args.quick else "training-size"
    cfg = study_config(spec, name=name)
    db = Path(args.db or f"results/{name}.sqlite")
    out = Path(args.out or f"results/{name}")
    db.parent.mkdir(parents=True, exist_ok=True)

    rows, done, skipped, seconds = run_study(cfg, db, args.quiet)
    points = sweep_points(cfg)
    curves, refs = study_curves(rows)
    figures = plot_study(curves, refs, out)
    text = "\n".join([
        f"# Training-set-size study ({name})\n",
        f"BPSK, L={spec.memory}, gamma={spec.gamma:g}; sizes "
        f"{list(spec.sizes)}, {spec.seeds} training seeds each; "
        f"{len(points)} points, {done} simulated now, {skipped} resumed; "
        f"wall time {seconds:.0f} s.\n",
        "Cells: SER averaged over the training seeds (min-max over seeds). "
        "'monotone within CI': no size whose interval lies wholly above "
        "the previous size's.\n",
        markdown_table(curves, refs), ""])
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
