"""The ``rxsim`` command line: sweep, plot, export, status, detectors."""

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
         "`rxsim export` redraw or export a database later.")


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


def format_table(rows):
    """A plain-text SER table of results rows (SER, BER and BLER with the
    BLER interval when a row is a coded point); columns are as wide as
    their longest entry.

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
    head = ("detector", "csi", "channel", "SNR", "errors", "symbols", "SER",
            "CI (Wilson)")
    cells = [(r["detector"], r["csi"], r["channel"], f"{r['snr_db']:.1f}",
              str(r["errors"]), str(r["symbols"]), f"{r['ser']:.3e}",
              f"[{r['ser_lo']:.2e}, {r['ser_hi']:.2e}]") for r in rows]
    right = (False, False, False, True, True, True, True, False)
    return "\n".join(_columns(head, cells, right))


def _format_coded_table(rows):
    head = ("detector", "csi", "channel", "SNR", "SER", "BER", "blk err",
            "blocks", "BLER", "CI (Wilson)")
    cells = []
    for r in rows:
        blocks = "-" if r.get("blocks") is None else str(r["blocks"])
        block_errors = ("-" if r.get("block_errors") is None
                        else str(r["block_errors"]))
        ci = ("" if r.get("bler") is None else
              f"[{r['bler_lo']:.2e}, {r['bler_hi']:.2e}]")
        cells.append((r["detector"], r["csi"], r["channel"],
                       f"{r['snr_db']:.1f}", _rate(r["ser"]),
                       _rate(r["ber"]), block_errors, blocks,
                       _rate(r.get("bler")), ci))
    right = (False, False, False, True, True, True, True, True, True, False)
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
                   desc=f"{point.key.detector} @ {point.key.snr_db:g} dB")

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
):
    """Plot SER (coded experiments: BER and BLER) vs SNR with confidence
    intervals from a database."""
    from .plots import plot_ser

    metrics = _parse_metric(metric)
    rows = _open_rows(db, experiment)
    try:
        files = plot_ser(rows, output, title=experiment, metric=metrics)
    except ValueError as e:
        _fail(str(e))
    typer.echo("figure: " + ", ".join(str(f) for f in files))


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
            typer.echo(f"  pending: {p.key.detector} | {p.key.csi} | "
                       f"{p.key.channel} | {p.key.snr_db:g} dB")


@app.command()
def detectors():
    """List the detector names a config may use, with their options."""
    from .registry import DETECTORS

    for name, entry in sorted(DETECTORS.items()):
        opts = ", ".join(f"{k}: {t.__name__}" for k, t in entry.options.items())
        typer.echo(f"{name:<12} {entry.summary}" +
                   (f"  [options: {opts}]" if opts else ""))
    typer.echo("\ncsi = 'perfect' | 'perturbed:var=0.1' | "
               "'estimated:pilots=64' (per detector)")
    typer.echo("output = 'soft' | 'hard' (per detector, with a [code] "
               "section; default 'hard' for viterbi and viterbinet)")


if __name__ == "__main__":
    app()
