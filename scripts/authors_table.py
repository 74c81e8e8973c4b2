"""The table "published / authors' recipe in rxsim / rxsim's recipe" of the
results page, from the stores of ``configs/paper-authors.toml`` and
``configs/paper.toml``.

    python scripts/authors_table.py [--authors results/paper-authors.sqlite]
                                    [--rxsim results/paper.sqlite]

Per learned detector and CSI case, at 6, 8 and 10 dB: the gamma-averaged
SER of each recipe and its paired ratio to BCJR with perfect CSI on the
same frames (Fieller interval over the gamma grid,
``rxsim.studies.paper.paired_averages``), beside what the papers' text
states.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CURVES = [("bcjrnet", "perfect", "bcjrnet"),
          ("viterbinet", "perfect", "viterbinet"),
          ("bcjrnet", "uncertain", "bcjrnet (perturbed:var=0.1)"),
          ("viterbinet", "uncertain", "viterbinet (perturbed:var=0.1)")]


def _load(db, experiment):
    from rxsim.store import ResultsStore
    from rxsim.studies.paper import curves, paired_averages

    with ResultsStore(db) as store:
        rows = store.points(experiment=experiment)
        paired = paired_averages(rows, store.frame_counts)
    return curves(rows), paired


def table(authors, rxsim, snrs=(6.0, 8.0, 10.0)):
    """Markdown lines of the table (``authors``, ``rxsim``: ``(curve map,
    paired)`` of the two stores)."""
    from rxsim.studies.paper import PUBLISHED, display_name

    head = ["detector", "CSI", "published [source]", "recipe"] + [
        f"{s:g} dB: SER (x BCJR [95%])" for s in snrs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, group, label in CURVES:
        for recipe, (curve_map, paired) in (("authors'", authors),
                                            ("rxsim", rxsim)):
            pts = next((p for (lab, _), p in curve_map.items()
                        if lab == label), None)
            if pts is None:
                continue
            by_x = {p.x: p for p in pts}
            cells = []
            for snr in snrs:
                p, c = by_x.get(snr), paired(label, "bcjr", snr)
                cells.append("" if p is None else f"{p.rate:.2e}" + (
                    "" if c is None else f" ({c.ratio:.2f} [{c.ratio_ci[0]:.2f}"
                    f", {c.ratio_ci[1]:.2f}])"))
            lines.append("| " + " | ".join(
                [display_name(label), group,
                 PUBLISHED.get((name, group), ""), recipe] + cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors",
                        default=str(ROOT / "results/paper-authors.sqlite"))
    parser.add_argument("--authors-experiment", default="paper-authors")
    parser.add_argument("--rxsim", default=str(ROOT / "results/paper.sqlite"))
    parser.add_argument("--rxsim-experiment", default="paper")
    args = parser.parse_args(argv)
    lines = table(_load(args.authors, args.authors_experiment),
                  _load(args.rxsim, args.rxsim_experiment))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
