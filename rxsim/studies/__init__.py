"""Studies built on the rxsim framework: each is a sweep (or, for the
time-varying channel, a block-by-block run into the same results store)
plus the summary, figure and checks it reports. ``scripts/`` holds their
command lines.

- :mod:`rxsim.studies.paper`: the published comparison (``configs/
  paper.toml``, ``scripts/reproduce.py``).
- :mod:`rxsim.studies.training_size`: SER against the number of pilots
  (``scripts/training_size.py``).
- :mod:`rxsim.studies.time_varying`: a time-varying channel with
  CRC-checked LDPC frames, learned detectors trained once or retrained
  online (ungated, CRC-gated, genie-gated; ``scripts/time_varying.py``).
- :mod:`rxsim.studies.turbo`: turbo detection-decoding
  (``scripts/turbo.py``).
- :mod:`rxsim.studies.tdl`: 3GPP TDL channels (``scripts/tdl.py``).
- :mod:`rxsim.studies.deepsic`: DeepSIC in its paper's setting
  (``scripts/deepsic.py``).
- :mod:`rxsim.studies.mimo_rayleigh`: 8x8 QPSK Rayleigh MIMO with K-best,
  EP, ML and DetNet (``scripts/mimo_rayleigh.py``).

The framework (the rest of ``rxsim``) never imports this package.
"""


def ratio_text(comparison):
    """``"0.42 [0.31, 0.55]"``: a :class:`rxsim.paired.Comparison`'s ratio
    and its interval, ``"n/a"`` when the ratio is not finite."""
    import math
    lo, hi = comparison.ratio_ci
    if not math.isfinite(comparison.ratio):
        return "n/a"
    return f"{comparison.ratio:.3g} [{lo:.3g}, {hi:.3g}]"


def pair_comparisons(rows, pairs, frame_counts, confidence=0.95):
    """``[(A, B, question, [RowComparison, ...])]`` for the ``(A, B,
    question)`` ``pairs`` whose two detectors are both in ``rows``
    (paired ratios A / B, :func:`rxsim.paired.compare_rows`)."""
    from ..paired import compare_rows
    labels = {r["detector"] for r in rows}
    return [(a, b, q, compare_rows(rows, a, b, frame_counts=frame_counts,
                                   confidence=confidence))
            for a, b, q in pairs if a in labels and b in labels]


def comparison_at(rows, a, b, snr_db, frame_counts, confidence=0.95):
    """The :class:`rxsim.paired.Comparison` of A / B at ``snr_db``, or
    ``None`` when the rows hold no such point."""
    import math

    from ..paired import compare_rows
    found = [c for c in compare_rows(rows, a, b, frame_counts=frame_counts,
                                     confidence=confidence)
             if math.isclose(c.snr_db, snr_db)]
    return found[0].comparison if found else None


def ser_markdown(rows, comparisons, claims):
    """The markdown of a paired study: SER per detector (rows' order) and
    SNR (``< 3/n`` where no error), the ratios of ``comparisons`` (as
    :func:`pair_comparisons` gives them) and the ``[(claim, passed,
    evidence)]`` verdicts."""
    snrs = sorted({r["snr_db"] for r in rows})
    labels = list(dict.fromkeys(r["detector"] for r in rows))
    ser = {(r["detector"], r["snr_db"]): r for r in rows}
    lines = ["| detector | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
             "|---|" + "---|" * len(snrs)]
    for label in labels:
        cells = []
        for s in snrs:
            r = ser.get((label, s))
            cells.append("" if r is None else
                         f"{r['ser']:.2e}" if r["errors"] else
                         f"< {3 / r['symbols']:.0e}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| A / B (paired SER ratio, 95%) | " +
              " | ".join(f"{s:g} dB" for s in snrs) + " |",
              "|---|" + "---|" * len(snrs)]
    for a, b, question, comps in comparisons:
        by = {c.snr_db: ratio_text(c.comparison) for c in comps}
        lines.append(f"| {a} / {b} ({question}) | " +
                     " | ".join(by.get(s, "") for s in snrs) + " |")
    lines += ["", "| claim | verdict | ratio [95%] |", "|---|---|---|"]
    for claim, passed, evidence in claims:
        lines.append(f"| {claim} | {'met' if passed else 'NOT met'} | "
                     f"{evidence} |")
    return "\n".join(lines)


def ser_errorbar(ax, rows, detector, fmt, **kwargs):
    """Plot ``detector``'s SER vs SNR with its interval on ``ax`` (points
    without errors left out: a zero has no place on a log axis); nothing
    when no point has errors. ``kwargs`` go to ``ax.errorbar``."""
    pts = sorted((r["snr_db"], r["ser"], r["ser_lo"], r["ser_hi"])
                 for r in rows
                 if r["detector"] == detector and r["errors"] > 0)
    if not pts:
        return
    x, y, lo, hi = zip(*pts)
    ax.errorbar(x, y, yerr=[[a - b for a, b in zip(y, lo)],
                            [b - a for a, b in zip(y, hi)]],
                fmt=fmt, ms=4, capsize=2, **kwargs)


def config_study(description, configs, name, argv=None):
    """The command line of a study made of config sweeps
    (``scripts/turbo.py``, ``scripts/tdl.py``): ``--configs``, ``--db``,
    ``--out``, ``--report-only``; runs each config's sweep into one
    resumable store (a rerun skips finished points) unless
    ``--report-only``.

    Output
    ------
    : ``(rows, store_path, out_stem)``: the stored rows of the configs'
      experiments, the store and the stem for the figure and table files
      (its folder created)
    """
    import argparse
    import time
    from pathlib import Path

    from ..config import load_config
    from ..store import ResultsStore
    from ..sweep import run_sweep

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--configs", nargs="+", default=list(configs))
    parser.add_argument("--db", default=f"results/{name}.db")
    parser.add_argument("--out", default=f"results/{name}",
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    return rows, args.db, args.out


def report_config_study(description, study, root, name, argv=None):
    """The whole command of a config study module ``study`` (with
    ``CONFIGS`` relative to ``root``, ``markdown_table(rows,
    frame_counts)`` and ``plot(rows, stem)``): :func:`config_study`, then
    the table (printed and written to ``<out>.md``) and the figure
    ``<out>.png/.pdf``."""
    from pathlib import Path

    from ..store import ResultsStore

    rows, db, out = config_study(description,
                                 [str(Path(root) / c) for c in study.CONFIGS],
                                 name, argv)
    with ResultsStore(db) as store:
        table = study.markdown_table(rows, store.frame_counts)
    study.plot(rows, out)
    Path(out + ".md").write_text(table + "\n")
    print(table)
    print(f"wrote {out}.png/.pdf and {out}.md")
    return 0
