"""3GPP TDL study in one command (see rxsim/studies/tdl.py).

    python scripts/tdl.py          # configs/tdl.toml, tdl-bpsk.toml, tdl-coded.toml

Runs the three sweeps into one resumable store (a rerun skips finished
points), then writes the figure ``<out>.png/.pdf`` and the table
``<out>.md``: every paired comparison of ``rxsim.studies.tdl.PAIRS`` at
every point and the best practical receiver (no true taps) per point.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from rxsim.config import load_config
    from rxsim.store import ResultsStore
    from rxsim.studies import tdl
    from rxsim.sweep import run_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+",
                        default=[str(ROOT / c) for c in tdl.CONFIGS])
    parser.add_argument("--db", default="results/tdl.db")
    parser.add_argument("--out", default="results/tdl",
                        help="stem of the figure and table files")
    parser.add_argument("--report-only", action="store_true",
                        help="skip simulation; report what the store holds")
    args = parser.parse_args(argv)

    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    experiments = []
    for path in args.configs:
        cfg = load_config(path)
        experiments.append(cfg.name)
        if not args.report_only:
            t = time.time()
            done, skipped = run_sweep(cfg, args.db)
            print(f"{cfg.name}: {done} point(s) simulated, {skipped} "
                  f"resumed, {time.time() - t:.0f} s", flush=True)
    with ResultsStore(args.db) as store:
        rows = [r for e in experiments for r in store.points(experiment=e)]
        table = tdl.markdown_table(rows, store.frame_counts)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tdl.plot(rows, args.out)
    Path(args.out + ".md").write_text(table + "\n")
    print(table)
    print(f"wrote {args.out}.png/.pdf and {args.out}.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
