"""3GPP TDL study in one command (see rxsim/studies/tdl.py).

    python scripts/tdl.py          # configs/tdl.toml, tdl-bpsk.toml, tdl-coded.toml

Runs the three sweeps into one resumable store (a rerun skips finished
points), then writes the figure ``<out>.png/.pdf`` and the table
``<out>.md``: every paired comparison of ``rxsim.studies.tdl.PAIRS`` at
every point and the best practical receiver (no true taps) per point.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from rxsim.studies import tdl, report_config_study
    return report_config_study(__doc__.splitlines()[0], tdl, ROOT,
                               "tdl", argv)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
