"""DeepSIC study in one command (see rxsim/studies/deepsic.py).

    python scripts/deepsic.py          # configs/deepsic.toml

Runs the sweep into a resumable store (a rerun skips finished points),
then writes the figure ``<out>.png/.pdf`` and the table ``<out>.md``: SER
per detector, the paired ratios of ``rxsim.studies.deepsic.PAIRS`` and
the issue's claims with their verdicts.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from rxsim.studies import deepsic, report_config_study
    return report_config_study(__doc__.splitlines()[0], deepsic, ROOT,
                               "deepsic", argv)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
