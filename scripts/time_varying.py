#!/usr/bin/env python
"""Time-varying ISI channel study in one command (see
rxsim/studies/time_varying.py): learned detectors trained once vs
retrained online on every block, CRC-gated or genie-gated, against
model-based BCJR (initial taps, per-block pilot estimates, true taps) and
Viterbi.

    python scripts/time_varying.py              # 100 blocks x 5000 symbols
    python scripts/time_varying.py --quick      # 12 blocks x 2000 symbols
    python scripts/time_varying.py --snr 6,8,10 # one run per SNR

Options: [--blocks N] [--block-symbols N] [--frame-length N] [--code-k K]
[--crc CRC16|CRC24A|...] [--pilot-symbols P] [--snr DB[,DB...]]
[--gamma G] [--memory L --periods P0,P1,...] [--train-symbols N]
[--adapt-epochs N] [--seed S] [--db PATH] [--out STEM] [--no-plot]
[--quiet]. Rows go to the SQLite store ``--db`` (a rerun skips finished
blocks and reloads the online models); ``<out>.png/.pdf``, ``<out>.md``
and ``<out>.json`` hold the figure and the averages. With several SNRs
each has its own ``<out>-<snr>dB.*`` and ``<out>.*`` holds all tables,
the figure of all SNRs and the verdicts of what the study must show
(CRC-gated within 2x of genie-gated at 6 and 8 dB, ungated running away;
``rxsim.studies.time_varying.check_claims``).
"""

import argparse
import dataclasses
import sys

from rxsim.studies.time_varying import TimeVaryingSpec

_FULL = TimeVaryingSpec()
_QUICK = TimeVaryingSpec.quick()
# argument -> TimeVaryingSpec field
_FIELDS = {"blocks": "blocks", "block_symbols": "block_symbols",
           "frame_length": "frame_length", "code_k": "code_k",
           "crc": "crc", "pilot_symbols": "pilot_symbols",
           "gamma": "gamma", "memory": "memory", "periods": "periods",
           "train_symbols": "train_symbols",
           "adapt_epochs": "adapt_epochs", "seed": "seed"}


def parse_args(argv=None):
    """Command-line arguments: ``.specs`` (one TimeVaryingSpec per SNR,
    ``--quick`` defaults applied), ``.spec`` (the first), ``.db``,
    ``.out``, ``.no_plot``, ``.quiet``."""
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
    p.add_argument("--code-k", type=int,
                   help=f"LDPC information bits incl. CRC, default "
                        f"{_FULL.code_k} (code rate code_k / frame_length)")
    p.add_argument("--crc", help=f"Sionna CRC polynomial, default "
                   f"{_FULL.crc}")
    p.add_argument("--pilot-symbols", type=int,
                   help=f"pilot frame per block (BCJR with per-block "
                        f"estimates), default {_FULL.pilot_symbols}")
    p.add_argument("--snr", type=str,
                   help=f"dB, one value or a comma-separated list, default "
                        f"{_FULL.snr_db:g}")
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
    snrs = [None]
    if args.snr is not None:
        try:
            snrs = [float(v) for v in args.snr.split(",")]
        except ValueError:
            p.error(f"--snr must be a number or comma-separated numbers, "
                    f"got {args.snr!r}")
        if len(set(snrs)) != len(snrs):
            p.error(f"--snr lists an SNR twice: {args.snr!r}")
    changes = {field: getattr(args, arg) for arg, field in _FIELDS.items()
               if arg != "snr" and getattr(args, arg) is not None}
    args.specs = []
    for snr in snrs:
        extra = {} if snr is None else {"snr_db": snr}
        try:
            args.specs.append(dataclasses.replace(
                _QUICK if args.quick else _FULL, **changes, **extra))
        except (TypeError, ValueError) as exc:
            p.error(str(exc))
    args.spec = args.specs[0]
    stem = "results/time_varying" + ("_quick" if args.quick else "")
    args.db = args.db or f"{stem}.sqlite"
    args.out = args.out or stem
    return args


def main(argv=None):
    """Run (or resume) and report; returns the table of averages (one
    SNR) or the verdicts of ``check_claims`` (several SNRs)."""
    from pathlib import Path

    from rxsim.studies.time_varying import report, report_snrs, run

    args = parse_args(argv)
    log = (lambda msg: None) if args.quiet else \
        (lambda msg: print(msg, flush=True))
    infos = []
    for spec in args.specs:
        log(f"-- SNR {spec.snr_db:g} dB")
        info = run(spec, args.db, log=log)
        log(f"{info['blocks_run']} blocks simulated, "
            f"{info['blocks_skipped']} already finished, "
            f"{info['rows_added']} rows added, {info['seconds']:.1f} s")
        infos.append(info)
    if len(args.specs) == 1:
        result = report(args.spec, args.db, args.out, infos[0],
                        figure=not args.no_plot)
    else:
        result = report_snrs(args.specs, args.db, args.out, infos,
                             figure=not args.no_plot)
    if not args.quiet:   # the averages, paired comparisons, verdicts
        print(Path(args.out).with_suffix(".md").read_text())
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
