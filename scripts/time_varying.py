#!/usr/bin/env python
"""Time-varying ISI channel study in one command (see
rxsim/studies/time_varying.py): learned detectors trained once vs
retrained online, against model-based BCJR / Viterbi.

    python scripts/time_varying.py            # 100 blocks x 5000 symbols
    python scripts/time_varying.py --quick    # 12 blocks x 2000 symbols

Options: [--blocks N] [--block-symbols N] [--frame-length N] [--snr DB]
[--gamma G] [--memory L --periods P0,P1,...] [--train-symbols N]
[--adapt-epochs N] [--seed S] [--db PATH] [--out STEM] [--no-plot]
[--quiet]. Rows go to the SQLite store ``--db`` (a rerun skips finished
blocks and reloads the online models); ``<out>.png/.pdf``, ``<out>.md``
and ``<out>.json`` hold the figure and the averages.
"""

import argparse
import dataclasses
import sys

from rxsim.studies.time_varying import TimeVaryingSpec

_FULL = TimeVaryingSpec()
_QUICK = TimeVaryingSpec.quick()
# argument -> TimeVaryingSpec field
_FIELDS = {"blocks": "blocks", "block_symbols": "block_symbols",
           "frame_length": "frame_length", "snr": "snr_db",
           "gamma": "gamma", "memory": "memory", "periods": "periods",
           "train_symbols": "train_symbols",
           "adapt_epochs": "adapt_epochs", "seed": "seed"}


def parse_args(argv=None):
    """Command-line arguments: ``.spec`` (a TimeVaryingSpec, ``--quick``
    defaults applied), ``.db``, ``.out``, ``.no_plot``, ``.quiet``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"{_QUICK.blocks} blocks of {_QUICK.block_symbols} "
                        "symbols (1-2 min on 2 cores)")
    p.add_argument("--blocks", type=int,
                   help=f"default {_FULL.blocks}, quick {_QUICK.blocks}")
    p.add_argument("--block-symbols", type=int,
                   help=f"default {_FULL.block_symbols}, quick "
                        f"{_QUICK.block_symbols}")
    p.add_argument("--frame-length", type=int,
                   help=f"default {_FULL.frame_length}")
    p.add_argument("--snr", type=float, help=f"dB, default {_FULL.snr_db:g}")
    p.add_argument("--gamma", type=float, help=f"default {_FULL.gamma:g}")
    p.add_argument("--memory", type=int,
                   help=f"L, default {_FULL.memory} (others need --periods)")
    p.add_argument("--periods", type=str,
                   help="comma-separated tap periods in blocks (default "
                        "the paper's " +
                        ",".join(f"{v:g}" for v in _FULL.periods) + ")")
    p.add_argument("--train-symbols", type=int,
                   help=f"pilots of t = 0, default {_FULL.train_symbols}")
    p.add_argument("--adapt-epochs", type=int,
                   help=f"steps per retraining, default {_FULL.adapt_epochs}")
    p.add_argument("--seed", type=int, help=f"default {_FULL.seed}")
    p.add_argument("--db", help="SQLite store (default "
                   "results/time_varying.sqlite, quick "
                   "results/time_varying_quick.sqlite)")
    p.add_argument("--out", help="figure / table stem (default "
                   "results/time_varying, quick results/time_varying_quick)")
    p.add_argument("--no-plot", action="store_true",
                   help="write the tables but no figure")
    p.add_argument("--quiet", action="store_true", help="no per-block lines")
    args = p.parse_args(argv)
    if args.periods is not None:
        try:
            args.periods = tuple(float(v) for v in args.periods.split(","))
        except ValueError:
            p.error(f"--periods must be comma-separated numbers, got "
                    f"{args.periods!r}")
    changes = {field: getattr(args, arg) for arg, field in _FIELDS.items()
               if getattr(args, arg) is not None}
    try:
        args.spec = dataclasses.replace(_QUICK if args.quick else _FULL,
                                        **changes)
    except (TypeError, ValueError) as exc:
        p.error(str(exc))
    stem = "results/time_varying" + ("_quick" if args.quick else "")
    args.db = args.db or f"{stem}.sqlite"
    args.out = args.out or stem
    return args


def main(argv=None):
    """Run (or resume) and report; returns the table of averages."""
    from pathlib import Path

    from rxsim.studies.time_varying import report, run

    args = parse_args(argv)
    log = (lambda msg: None) if args.quiet else \
        (lambda msg: print(msg, flush=True))
    info = run(args.spec, args.db, log=log)
    log(f"{info['blocks_run']} blocks simulated, {info['blocks_skipped']} "
        f"already finished, {info['rows_added']} rows added, "
        f"{info['seconds']:.1f} s")
    table = report(args.spec, args.db, args.out, info,
                   figure=not args.no_plot)
    if not args.quiet:   # the averages and the paired comparisons
        print(Path(args.out).with_suffix(".md").read_text())
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
