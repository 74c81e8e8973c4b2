"""Turbo detection-decoding study in one command (see
rxsim/studies/turbo.py).

    python scripts/turbo.py                 # configs/turbo.toml + turbo-bpsk.toml

Runs both sweeps into one resumable store (a rerun skips finished points),
prints the checks of what the study must show and writes the figure
``<out>.png/.pdf`` and the table ``<out>.md``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from rxsim.store import ResultsStore
    from rxsim.studies import config_study, turbo

    rows, db, out = config_study(__doc__.splitlines()[0],
                                 [str(ROOT / c) for c in turbo.CONFIGS],
                                 "turbo", argv)
    with ResultsStore(db) as store:
        checks = turbo.check_claims(rows, store.frame_counts)
        table = turbo.markdown_table(rows, store.frame_counts)
    turbo.plot(rows, out)
    lines = ["## Checks", ""] + [
        f"- {'PASS' if ok else 'FAIL'}: {claim} -- {detail}"
        for claim, ok, detail in checks] + ["", "## BLER per pass count",
                                            "", table, ""]
    Path(out + ".md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}.png/.pdf and {out}.md")
    must = [ok for claim, ok, _ in checks if "[reported]" not in claim]
    return 0 if all(must) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
