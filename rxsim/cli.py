"""The ``rxsim`` command line: sweep, plot, compare, export, status,
detectors."""

import logging
import os
import sys
from pathlib import Path

import typer


class _App(typer.Typer):
    """The ``rxsim`` program: TensorFlow's native start-up lines are
    filtered out of stderr (:mod:`rxsim.native_log`) unless ``--verbose``
    is given. The filter starts here, before any command imports
    TensorFlow; commands invoked in-process (``typer.testing.CliRunner``)
    leave the caller's file descriptors alone."""

    def __call__(self, *args, **kwargs):
        if "--verbose" not in sys.argv[1:]:
            from .native_log import filter_native_log
            filter_native_log()
        return super().__call__(*args, **kwargs)


app = _App(
    add_completion=False, no_args_is_help=True,
    help="rxsim: Monte Carlo SER sweeps of detectors over ISI channels.\n\n"
         "Typical use: `rxsim sweep configs/quick.toml` (simulate, store "
         "results in SQLite, print a table, draw a plot); `rxsim plot` and "
         "`rxsim export` redraw or export a database later; `rxsim compare "
         "--db DB A B` compares two detectors point by point.")


def _fail(message):
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code=2)


def _columns(head, cells, right):
    """Lines of a table whose columns are as wide as their widest cell:
    labels such as ``isi:taps=[1,0.5,0.25,0.125]`` are never cut."""
    widths = [max(len(h), *(len(c[i]) for c in cells))
              for i, h in enumerate(head)]

    def line(values):
        return " ".join(v.rjust(w) if r else v.ljust(w)
                        for v, w, r in zip(values, widths, right)).rstrip()

    top = line(head)
    return [top, "-" * len(top), *(line(c) for c in cells)]


def _rate(value):
    return "-" if value is None else f"{value:.3e}"


# a row's axis -> the heading of its snr_db value in tables
_AXIS_HEADS = {"snr": "SNR", "ebno": "Eb/N0"}


def _axis_cells(rows):
    """The heading(s) and cells of the rows' ``snr_db`` value: ``SNR`` or
    ``Eb/N0`` (dB) by the rows' ``axis``, and an ``axis`` column beside
    the value when the rows mix both."""
    axes = [r.get("axis") or "snr" for r in rows]
    values = [f"{r['snr_db']:.1f}" for r in rows]
    if len(set(axes)) <= 1:
        head = _AXIS_HEADS.get(axes[0] if axes else "snr", "SNR")
        return (head,), [(v,) for v in values], (True,)
    return (("SNR|Eb/N0", "axis"),
            [(v, _AXIS_HEADS.get(a, a)) for v, a in zip(values, axes)],
            (True, False))


def format_table(rows):
    """A plain-text SER table of results rows (SER, BER and BLER with the
    BLER interval when a row is a coded point); columns are as wide as
    their longest entry. The value column is headed ``SNR`` or ``Eb/N0``
    (dB) by the rows' ``axis`` (rows of both get an ``axis`` column).

    Parameters
    ----------
    rows : list of dict
        Rows of :meth:`rxsim.ResultsStore.points`.

    Output
    ------
    : str

    Example
    -------
    >>> from rxsim.cli import format_table
    >>> print(format_table([dict(
    ...     detector="bcjr", csi="perfect",
    ...     channel="isi:taps=[1,0.5,0.25,0.125]", snr_db=4.0, errors=62,
    ...     symbols=1000, ser=0.062, ser_lo=0.0484, ser_hi=0.0791)]))
    detector csi     channel                     SNR errors symbols       SER CI (Wilson)
    -------------------------------------------------------------------------------------
    bcjr     perfect isi:taps=[1,0.5,0.25,0.125] 4.0     62    1000 6.200e-02 [4.84e-02, 7.91e-02]
    """
    if any(r.get("bler") is not None for r in rows):
        return _format_coded_table(rows)
    x_head, x_cells, x_right = _axis_cells(rows)
    head = ("detector", "csi", "channel", *x_head, "errors", "symbols",
            "SER", "CI (Wilson)")
    cells = [(r["detector"], r["csi"], r["channel"], *x,
              str(r["errors"]), str(r["symbols"]), f"{r['ser']:.3e}",
              f"[{r['ser_lo']:.2e}, {r['ser_hi']:.2e}]")
             for r, x in zip(rows, x_cells)]
    right = (False, False, False, *x_right, True, True, True, False)
    return "\n".join(_columns(head, cells, right))


def _format_coded_table(rows):
    x_head, x_cells, x_right = _axis_cells(rows)
    head = ("detector", "csi", "channel", *x_head, "SER", "BER", "blk err",
            "blocks", "BLER", "CI (Wilson)")
    cells = []
    for r, x in zip(rows, x_cells):
        blocks = "-" if r.get("blocks") is None else str(r["blocks"])
        block_errors = ("-" if r.get("block_errors") is None
                        else str(r["block_errors"]))
        ci = ("" if r.get("bler") is None else
              f"[{r['bler_lo']:.2e}, {r['bler_hi']:.2e}]")
        cells.append((r["detector"], r["csi"], r["channel"], *x,
                      _rate(r["ser"]), _rate(r["ber"]), block_errors,
                      blocks, _rate(r.get("bler")), ci))
    right = (False, False, False, *x_right, True, True, True, True, True,
             False)
    lines = _columns(head, cells, right)
    lines.append("(SER: uncoded symbol decisions; BER: information bits "
                 "after decoding)")
    return "\n".join(lines)


def _parse_metric(metric):
    """``--metric`` value -> None (auto) or a tuple of metric names."""
    from .plots import METRICS

    if metric is None:
        return None
    names = tuple(m.strip().lower() for m in metric.split(",") if m.strip())
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        _fail(f"--metric must be one or more of {', '.join(METRICS)} "
              f"(comma-separated), got {metric!r}.")
    return names


_METRIC_HELP = ("Plotted metric(s): ser, ber, bler, comma-separated for "
                "several rows of panels [default: ber,bler for coded "
                "experiments, ser otherwise]")


def _log_levels(verbose):
    """TensorFlow's own log output: errors only by default (its Python
    "retracing" warnings of learned detectors included); everything down
    to its C++ INFO lines with ``--verbose``."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        logging.getLogger("tensorflow").setLevel(logging.INFO)
    else:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _default_db(cfg):
    return Path("results") / f"{cfg.name}.sqlite"


@app.command()
def sweep(
    config: Path = typer.Argument(..., help="TOML sweep config, e.g. "
                                  "configs/quick.toml"),
    db: Path = typer.Option(None, help="SQLite results database "
                            "[default: results/<experiment>.sqlite]"),
    seed: int = typer.Option(None, help="Override the config's sweep seed "
                             "(a new seed gives new rows, old ones stay)"),
    plot: Path = typer.Option(None, help="Figure to write (PNG + PDF) "
                              "[default: next to the database]"),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the figure"),
    metric: str = typer.Option(None, help=_METRIC_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No progress bars"),
    verbose: bool = typer.Option(False, "--verbose",
                                 help="Show TensorFlow's log lines "
                                 "(C++ start-up and XLA lines, Python "
                                 "warnings such as retracing)"),
    backend: str = typer.Option("local", help="Where points run: 'local' "
                                "(this process, one after another) or "
                                "'ray' (one Ray task per point; needs "
                                "pip install -e \".[ray]\")"),
    address: str = typer.Option(None, help="Ray backend: address of a "
                                "running cluster (e.g. 'auto' after `ray "
                                "start --head`) [default: start a local "
                                "Ray instance]"),
    num_cpus: int = typer.Option(None, "--num-cpus", help="Ray backend: "
                                 "CPUs of the local Ray instance "
                                 "[default: all]"),
):
    """Run or resume a sweep; finished points are skipped.

    Each (channel, detector, CSI, SNR) point runs until target_errors or
    max_symbols and is committed to the database, so rerunning a killed
    sweep continues it."""
    _log_levels(verbose)
    from tqdm.auto import tqdm

    from .config import ConfigError, load_config
    from .store import ResultsStore, StoreError
    from .sweep import run_sweep, sweep_points

    if backend not in ("local", "ray"):
        _fail(f"--backend must be 'local' or 'ray', got {backend!r}.")
    if backend == "local" and (address is not None or num_cpus is not None):
        _fail("--address and --num-cpus apply to --backend ray.")
    if address is not None and num_cpus is not None:
        _fail("--num-cpus applies to a local Ray instance; a cluster given "
              "by --address has its own CPUs.")
    if num_cpus is not None and num_cpus < 1:
        _fail(f"--num-cpus must be >= 1, got {num_cpus}.")
    metrics = _parse_metric(metric)
    if backend == "ray":
        from .ray_backend import RayNotInstalledError, import_ray
        try:
            import_ray()
        except RayNotInstalledError as e:
            _fail(str(e))
    try:
        cfg = load_config(config)
    except ConfigError as e:
        _fail(str(e))
    if seed is not None:
        cfg = cfg.with_seed(seed)
    db = db or _default_db(cfg)
    points = sweep_points(cfg)
    outer = tqdm(total=len(points), desc=cfg.name, unit="pt",
                 disable=quiet, file=sys.stderr)

    def progress(point):
        bar = tqdm(total=cfg.max_symbols, unit="sym", unit_scale=True,
                   leave=False, disable=quiet, file=sys.stderr,
                   desc=f"{point.key.detector} @ {point.key.snr_db:g} dB"
                   + (" Eb/N0" if point.key.axis == "ebno" else ""))

        def update(errors, symbols):
            bar.update(min(symbols, cfg.max_symbols) - bar.n)
            if cfg.code is not None:     # coded points count block errors
                blocks = symbols // cfg.frame_length
                bar.set_postfix(block_errors=errors,
                                bler=f"{errors / blocks:.2e}")
            else:
                bar.set_postfix(errors=errors, ser=f"{errors / symbols:.2e}")
            if errors >= cfg.target_errors or symbols >= cfg.max_symbols:
                bar.total = bar.n     # stopped early: show it as complete
                bar.close()
        return update

    def on_point(point, result):
        outer.update(1)

    try:
        if backend == "ray":
            from .ray_backend import run_sweep_ray
            try:
                done, skipped = run_sweep_ray(cfg, db, on_point=on_point,
                                              address=address,
                                              num_cpus=num_cpus)
            except ConnectionError as e:
                _fail(str(e))
        else:
            done, skipped = run_sweep(cfg, db, progress=progress,
                                      on_point=on_point)
    except StoreError as e:
        _fail(str(e))
    finally:
        outer.close()
    with ResultsStore(db) as store:
        hashes = {p.key.config_hash for p in points}
        rows = [r for r in store.points(experiment=cfg.name)
                if r["config_hash"] in hashes]
    typer.echo(format_table(rows))
    typer.echo(f"\n{done} point(s) simulated, {skipped} resumed from {db}")
    if not no_plot:
        from .plots import plot_ser
        title = f"{cfg.name} ({cfg.constellation})"
        if cfg.code is not None:
            title += (f", {cfg.code.type} k={cfg.code.k} n={cfg.code.n}")
        try:
            files = plot_ser(rows, plot or Path(db).with_suffix(".png"),
                             title=title, metric=metrics)
        except ValueError as e:
            _fail(str(e))
        typer.echo("figure: " + ", ".join(str(f) for f in files))


def _open_rows(db, experiment):
    from .store import ResultsStore

    if not Path(db).exists():
        _fail(f"no database at {db}")
    with ResultsStore(db) as store:
        return store.points(experiment=experiment)


@app.command("plot")
def plot_cmd(
    db: Path = typer.Option(..., help="SQLite results database"),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Figure file (.png; a .pdf is written "
                                "beside it)"),
    experiment: str = typer.Option(None, help="Only this experiment"),
    metric: str = typer.Option(None, help=_METRIC_HELP),
    ratio_to: str = typer.Option(None, "--ratio-to", help="Plot every other "
                                 "detector's error rate divided by this "
                                 "detector's (a label, or the base of "
                                 "training replicates '<base> #<r>'), with "
                                 "paired intervals, instead of the rates"),
):
    """Plot SER (coded experiments: BER and BLER) vs SNR with confidence
    intervals from a database; with --ratio-to, each detector's ratio to a
    reference detector."""
    from .plots import plot_ratio, plot_ser

    metrics = _parse_metric(metric)
    if ratio_to is not None:
        if metrics is not None and len(metrics) > 1:
            _fail("--ratio-to plots one metric; give one --metric "
                  "(ser, ber or bler).")
        m = "ser" if metrics is None else metrics[0]
        lines, xlabel = _ratio_lines(db, experiment, ratio_to, m)
        try:
            files = plot_ratio(lines, output, reference=ratio_to,
                               title=experiment, metric=m, xlabel=xlabel)
        except ValueError as e:
            _fail(str(e))
        typer.echo("figure: " + ", ".join(str(f) for f in files))
        return
    rows = _open_rows(db, experiment)
    try:
        files = plot_ser(rows, output, title=experiment, metric=metrics)
    except ValueError as e:
        _fail(str(e))
    typer.echo("figure: " + ", ".join(str(f) for f in files))


def _compare_store(db, experiment, compare):
    """Open ``db`` (an error if missing), check ``experiment`` and return
    ``compare(rows, store.frame_counts)``; its ValueError is a CLI error."""
    from .store import ResultsStore, StoreError

    if not Path(db).exists():
        _fail(f"no database at {db}")
    try:
        with ResultsStore(db) as store:
            if experiment is not None and \
                    experiment not in store.experiments():
                held = store.experiments()
                _fail(f"no experiment {experiment!r} in {db}; it holds: "
                      + (", ".join(held) if held else "no points") + ".")
            rows = store.points(experiment=experiment)
            return compare(rows, store.frame_counts)
    except (StoreError, ValueError) as e:
        _fail(str(e))


def _ratio_lines(db, experiment, reference, metric):
    """Comparisons of every other detector (replicates as their base) with
    ``reference``, for ``rxsim plot --ratio-to``, and their x-axis label
    (SNR or Eb/N0, :func:`rxsim.plots.axis_label`)."""
    from .paired import compare_rows, replicate_base
    from .plots import axis_label

    def compare(rows, frame_counts):
        xlabel = axis_label(rows)       # refuses rows of both axes
        labels = {r["detector"] for r in rows}
        own = replicate_base(reference)
        names = sorted({(replicate_base(lab) or (lab,))[0] for lab in labels}
                       - {reference, own[0] if own else None})
        lines, problems = [], []
        for name in names:
            try:
                lines += compare_rows(rows, name, reference,
                                      frame_counts=frame_counts,
                                      metric=metric)
            except ValueError as e:     # unknown reference, no such metric
                problems.append(e)
        if not lines:
            if problems:
                raise problems[0]
            raise ValueError(f"the store holds no detector besides "
                             f"{reference!r} to compare with it.")
        return lines, xlabel
    return _compare_store(db, experiment, compare)


_G = "{:#.3g}"        # 3 significant digits, trailing zeros kept: 1.00


def _cell(x, fmt=_G):
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return fmt.format(x).rstrip(".")     # "#.3g" writes 306 as "306."


def format_comparison(lines, *, x_head="SNR"):
    """The table of ``rxsim compare``: one line per point (channel, CSI,
    SNR) with both rates, the ratio A/B and the difference A-B with their
    intervals, the verdict and the frames used; with training replicates
    the interval over seeds beside the test-noise one.

    Parameters
    ----------
    lines : list of :class:`rxsim.paired.RowComparison`
        All of one pair of detectors (and one metric).
    x_head : str
        Heading of the point's value: ``"SNR"``, ``"Eb/N0"`` (rows of
        ``[sweep] axis = "ebno"``) or ``"SNR|Eb/N0"``.

    Output
    ------
    : str

    Example
    -------
    >>> from rxsim.cli import format_comparison
    >>> from rxsim.paired import compare_rows
    >>> rows = [dict(experiment="e", detector=d, channel="isi", csi="perfect",
    ...              snr_db=4.0, seed=1, errors=e, symbols=10_000,
    ...              ser=e / 10_000, ser_deff=1.0, created_at="")
    ...         for d, e in (("bcjr", 100), ("viterbi", 160))]
    >>> print(format_comparison(compare_rows(rows, "bcjr", "viterbi")))
    A = bcjr, B = viterbi: SER ratio A/B and difference A-B, 95% intervals (rates on the frames both simulated)
    channel csi     SNR     SER A     SER B A/B [95%]            A-B [95%]                        verdict  frames pairing
    ---------------------------------------------------------------------------------------------------------------------
    isi     perfect 4.0 1.000e-02 1.600e-02 0.625 [0.482, 0.799] -6.00e-03 [-9.15e-03, -2.85e-03] A better      - unpaired*
    * unpaired: A's and B's frames treated as independent (no frame counts stored, or different seeds): valid but wider than a paired interval.
    """
    if not lines:
        return "(no common points)"
    first = lines[0]
    m = first.metric.upper()
    level = f"{first.comparison.confidence:.0%}"
    multi = len({x.experiment for x in lines}) > 1
    seeds = any(x.seeds is not None for x in lines)
    head = (("experiment",) if multi else ()) + (
        "channel", "csi", x_head, f"{m} A", f"{m} B", f"A/B [{level}]",
        f"A-B [{level}]", "verdict", "frames", "pairing")
    if seeds:
        head += (f"A/B over seeds [{level}]", "verdict over seeds", "seeds")
    cells, notes = [], set()
    for x in lines:
        c = x.comparison
        csi = x.csi_a if x.csi_a == x.csi_b else f"{x.csi_a} / {x.csi_b}"
        lo, hi = c.ratio_ci
        ratio = (f"{_cell(c.ratio, _G)} [{_cell(lo, _G)}, "
                 f"{_cell(hi, _G)}]")
        dlo, dhi = c.difference_ci
        diff = (f"{c.difference:+.2e} [{dlo:+.2e}, {dhi:+.2e}]")
        pairing = "paired" if x.pairing == "paired" else "unpaired*"
        if x.pairing != "paired":
            notes.add("unpaired")
        row = (((x.experiment,) if multi else ()) +
               (x.channel, csi, f"{x.snr_db:.1f}", _cell(c.rate_a, "{:.3e}"),
                _cell(c.rate_b, "{:.3e}"), ratio, diff, c.verdict,
                _cell(c.frames, "{}"), pairing))
        if seeds:
            s = x.seeds
            reps = "x".join(str(n) for n in (x.replicates_a, x.replicates_b)
                            if n > 1)
            row += (("-", "-", reps) if s is None else
                    (f"{_cell(s.ratio, _G)} [{_cell(s.ratio_ci[0], _G)}, "
                     f"{_cell(s.ratio_ci[1], _G)}]", s.verdict,
                     str(s.replicates)))
        cells.append(row)
    right = [h in (x_head, f"{m} A", f"{m} B", "frames", "seeds")
             for h in head]
    out = [f"A = {first.a}, B = {first.b}: {m} ratio A/B and difference "
           f"A-B, {level} intervals (rates on the frames both simulated)"]
    out += _columns(head, cells, right)
    if "unpaired" in notes:
        out.append("* unpaired: A's and B's frames treated as independent "
                   "(no frame counts stored, or different seeds): valid "
                   "but wider than a paired interval.")
    if seeds:
        out.append(f"Replicated detectors (labels '<base> #<r>') are "
                   f"averaged over training seeds: A/B [{level}] is the "
                   "test-noise interval of the seed-averaged rate (these "
                   "trained models); 'over seeds' is the geometric-mean "
                   "ratio over seeds with its t interval: what a fresh "
                   "training set gives.")
    return "\n".join(out)


_FORMATS = ("table", "csv", "json")


@app.command()
def compare(
    a: str = typer.Argument(..., metavar="A", help="Detector A: a label, or the base of "
                            "training replicates '<base> #<r>' "
                            "(seed-averaged)"),
    b: str = typer.Argument(..., metavar="B", help="Detector B (the reference of the "
                            "ratio A/B)"),
    db: Path = typer.Option(..., help="SQLite results database"),
    experiment: str = typer.Option(None, help="Only this experiment "
                                   "(default: all)"),
    metric: str = typer.Option("ser", help="Compared rate: ser, ber or "
                               "bler"),
    confidence: float = typer.Option(0.95, help="Level of the intervals "
                                     "and the verdict"),
    fmt: str = typer.Option("table", "--format", help="Output: table, csv "
                            "or json"),
):
    """Compare detector A with detector B point by point: both rates, the
    ratio A/B and the difference A-B with intervals that use the pairing of
    frames (common random numbers), and a verdict (A better / B better /
    not resolved).

    Points pair at the same experiment, channel and SNR. Stores without
    per-frame counts (older files) or rows of different seeds get unpaired
    intervals, marked in the table."""
    import json

    from .paired import METRIC_COLUMNS, compare_rows

    metric = metric.strip().lower()
    if metric not in METRIC_COLUMNS:
        _fail(f"--metric must be one of {', '.join(METRIC_COLUMNS)}, got "
              f"{metric!r}.")
    if fmt not in _FORMATS:
        _fail(f"--format must be one of {', '.join(_FORMATS)}, got {fmt!r}.")
    if not 0.0 < confidence < 1.0:
        _fail(f"--confidence must lie strictly between 0 and 1, got "
              f"{confidence}.")
    heads = []

    def run(rows, fc):
        heads.append(_axis_cells(rows)[0][0])   # SNR, Eb/N0 or both
        return compare_rows(rows, a, b, frame_counts=fc, metric=metric,
                            confidence=confidence)
    lines = _compare_store(db, experiment, run)
    if fmt == "table":
        typer.echo(format_comparison(lines, x_head=heads[0]))
    elif fmt == "json":
        typer.echo(json.dumps([x.to_dict() for x in lines], indent=1))
    else:
        import csv
        import io

        buf = io.StringIO()
        dicts = [x.to_dict() for x in lines]
        writer = csv.DictWriter(buf, fieldnames=list(dicts[0]),
                                lineterminator="\n")
        writer.writeheader()
        for d in dicts:
            writer.writerow({k: "" if v is None else v for k, v in d.items()})
        typer.echo(buf.getvalue().rstrip("\n"))


@app.command()
def export(
    db: Path = typer.Option(..., help="SQLite results database"),
    output: Path = typer.Option(..., "-o", "--output", help="CSV file"),
    experiment: str = typer.Option(None, help="Only this experiment"),
):
    """Export finished points (counts, SER/BER, CIs, seeds) to CSV."""
    from .store import ResultsStore

    if not Path(db).exists():
        _fail(f"no database at {db}")
    with ResultsStore(db) as store:
        store.export_csv(output, experiment=experiment)
    typer.echo(f"wrote {output}")


@app.command()
def status(
    db: Path = typer.Option(..., help="SQLite results database"),
    config: Path = typer.Argument(None, help="Config to compare against "
                                  "(lists its pending points)"),
):
    """Finished points per experiment (and pending ones of a config)."""
    from collections import Counter

    from .config import ConfigError, load_config
    from .store import ResultsStore
    from .sweep import sweep_points

    rows = _open_rows(db, None) if Path(db).exists() else []
    counts = Counter(r["experiment"] for r in rows)
    for name, n in sorted(counts.items()):
        typer.echo(f"{name}: {n} finished point(s)")
    if config is not None:
        try:
            cfg = load_config(config)
        except ConfigError as e:
            _fail(str(e))
        points = sweep_points(cfg)
        with ResultsStore(db) as store:
            pending = [p for p in points if not store.has_point(p.key)]
        typer.echo(f"{cfg.name}: {len(points) - len(pending)} of "
                   f"{len(points)} finished, {len(pending)} pending")
        for p in pending:
            unit = " Eb/N0" if p.key.axis == "ebno" else ""
            typer.echo(f"  pending: {p.key.detector} | {p.key.csi} | "
                       f"{p.key.channel} | {p.key.snr_db:g} dB{unit}")


@app.command()
def detectors():
    """List the detector names a config may use, with their options."""
    from .registry import DETECTORS, MIMO_DETECTORS

    for title, table in (("", DETECTORS),
                         ("\n[channel] kind = 'mimo':", MIMO_DETECTORS)):
        if title:
            typer.echo(title)
        for name, entry in sorted(table.items()):
            opts = ", ".join(f"{k}: {t.__name__}"
                             for k, t in entry.options.items())
            typer.echo(f"{name:<12} {entry.summary}" +
                       (f"  [options: {opts}]" if opts else ""))
    typer.echo("\ncsi = 'perfect' | 'perturbed:var=0.1' | "
               "'estimated:pilots=64' (per detector)")
    typer.echo("output = 'soft' | 'hard' (per detector, with a [code] "
               "section; default 'hard' for viterbi and viterbinet)")


if __name__ == "__main__":
    app()
