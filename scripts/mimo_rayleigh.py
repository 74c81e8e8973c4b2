"""8x8 QPSK Rayleigh study in one command (see rxsim/studies/mimo_rayleigh.py).

    python scripts/mimo_rayleigh.py        # configs/mimo-rayleigh.toml

Runs the sweep into a resumable store (a rerun skips finished points),
then writes the figure ``<out>.png/.pdf`` and the table ``<out>.md``: SER
per detector, the paired ratios of ``rxsim.studies.mimo_rayleigh.PAIRS``
and the claims of its ``CLAIMS`` with their verdicts.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from rxsim.studies import mimo_rayleigh, report_config_study
    return report_config_study(__doc__.splitlines()[0], mimo_rayleigh,
                               ROOT, "mimo-rayleigh", argv)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
