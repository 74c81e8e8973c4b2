"""End-to-end sweeps: CLI, results store, resume, export, plots."""

import csv
import sqlite3

import pytest
from typer.testing import CliRunner

from rxsim.cli import app
from rxsim.config import parse_config
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep, sweep_points

TINY = """
[experiment]
name = "tiny"
seed = 7

[link]
frame_length = 50
batch_size = 200

[channel]
memory = 2
gamma = 0.7

[sweep]
snr_db = [0, 4, 8]
target_errors = 50
max_symbols = 20000

[[detector]]
name = "symbolwise"

[[detector]]
name = "lmmse"
"""

COUNT_FIELDS = ("detector", "csi", "channel", "snr_db", "config_hash",
                "seed", "errors", "symbols", "bit_errors", "bits", "ser",
                "ser_lo", "ser_hi")


def tiny_config(text=TINY):
    import tomllib
    return parse_config(tomllib.loads(text))


def table(db):
    with ResultsStore(db) as store:
        return [{k: r[k] for k in COUNT_FIELDS} for r in store.points()]


class Interrupt(Exception):
    pass


def test_resume_after_interrupt_equals_uninterrupted(tmp_path):
    cfg = tiny_config()
    n_points = len(sweep_points(cfg))
    assert n_points == 6
    full = tmp_path / "full.sqlite"
    assert run_sweep(cfg, full) == (n_points, 0)

    # kill the sweep after k committed points, then rerun it
    k = 4
    seen = []

    def stop_after_k(point, result):
        seen.append(point)
        if len(seen) == k:
            raise Interrupt

    part = tmp_path / "part.sqlite"
    with pytest.raises(Interrupt):
        run_sweep(cfg, part, on_point=stop_after_k)
    assert len(table(part)) == k
    assert run_sweep(cfg, part) == (n_points - k, k)
    assert table(part) == table(full)
    # a third run does nothing and adds no duplicates
    assert run_sweep(cfg, part) == (0, n_points)
    with sqlite3.connect(part) as con:
        (count,) = con.execute("select count(*) from points").fetchone()
    assert count == n_points


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    cfg = tiny_config()
    run_sweep(cfg, tmp_path / "a.sqlite")
    run_sweep(cfg, tmp_path / "b.sqlite")
    run_sweep(cfg.with_seed(8), tmp_path / "c.sqlite")
    a, b, c = (table(tmp_path / f"{n}.sqlite") for n in "abc")
    assert a == b
    assert [r["errors"] for r in a] != [r["errors"] for r in c]


def test_sweep_numbers_are_sane(tmp_path):
    rows = {(r["detector"], r["snr_db"]): r
            for r in table_after(tmp_path, tiny_config())}
    for det in ("symbolwise", "lmmse"):
        sers = [rows[(det, s)]["ser"] for s in (0, 4, 8)]
        assert sers[0] > sers[1] > sers[2], det
    for r in rows.values():
        assert r["ser_lo"] <= r["ser"] <= r["ser_hi"]
        assert r["errors"] >= 50 or r["symbols"] >= 20000


def table_after(tmp_path, cfg):
    db = tmp_path / "x.sqlite"
    run_sweep(cfg, db)
    return table(db)


def test_cli_sweep_plot_export_status(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(config), "--db", str(db), "-q"])
    assert res.exit_code == 0, res.output
    assert "symbolwise" in res.output and "lmmse" in res.output
    assert "6 point(s) simulated, 0 resumed" in res.output
    assert db.with_suffix(".png").stat().st_size > 10_000
    assert db.with_suffix(".pdf").exists()

    res = runner.invoke(app, ["sweep", str(config), "--db", str(db), "-q",
                              "--no-plot"])
    assert "0 point(s) simulated, 6 resumed" in res.output

    out = tmp_path / "r.csv"
    res = runner.invoke(app, ["export", "--db", str(db), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {"ser", "ser_lo", "ser_hi"} <= set(rows[0])

    png = tmp_path / "again.png"
    res = runner.invoke(app, ["plot", "--db", str(db), "-o", str(png)])
    assert res.exit_code == 0 and png.exists()

    res = runner.invoke(app, ["status", "--db", str(db), str(config)])
    assert "tiny: 6 finished point(s)" in res.output
    assert "6 of 6 finished, 0 pending" in res.output


def test_cli_reports_config_problems(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace('name = "lmmse"', 'name = "lmse"'))
    res = CliRunner().invoke(app, ["sweep", str(config), "--db",
                                   str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2
    assert "'lmse' unknown" in res.output and "lmmse" in res.output
    assert not (tmp_path / "x.sqlite").exists()


def test_cli_help_lists_commands():
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("sweep", "plot", "export", "status", "detectors"):
        assert cmd in res.output


LEARNED = """
[experiment]
name = "learned"
seed = 3

[link]
frame_length = 100
batch_size = 200

[channel]
memory = 3
gamma = 0.3

[sweep]
snr_db = [8]
target_errors = 100
max_symbols = 20000

[[detector]]
name = "symbolwise"

[[detector]]
name = "viterbinet"
csi = "perturbed:var=0.1"
train_symbols = 3000
"""


def test_learned_detector_is_trained_per_point(tmp_path):
    cfg = tiny_config(LEARNED)
    db = tmp_path / "l.sqlite"
    assert run_sweep(cfg, db) == (2, 0)
    rows = {r["detector"]: r for r in table(db)}
    learned = rows["viterbinet (perturbed:var=0.1)"]
    # a trained trellis detector is far below the ISI-blind baseline
    assert learned["ser_hi"] < rows["symbolwise"]["ser_lo"] / 5
    # training is seeded by the point: a rerun elsewhere gives the same row
    again = tmp_path / "again.sqlite"
    run_sweep(cfg, again)
    assert table(again) == table(db)


def test_resume_reuses_trained_checkpoints(tmp_path, monkeypatch):
    from detectors import ViterbiNet
    from rxsim.sweep import checkpoint_dir

    cfg = tiny_config(LEARNED)
    db = tmp_path / "l.sqlite"
    run_sweep(cfg, db)
    first = table(db)
    saved = sorted(p.name for p in checkpoint_dir(db).iterdir())
    assert len(saved) == 2 and saved[0].endswith(".json")

    # lose the rows (not the checkpoints) and forbid training: the rerun
    # must load the cached model and reproduce the row exactly
    for p in tmp_path.glob("l.sqlite*"):
        p.unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although a checkpoint exists")

    monkeypatch.setattr(ViterbiNet, "fit", no_training)
    run_sweep(cfg, db)
    assert table(db) == first


@pytest.mark.parametrize("damage", [
    "truncate-weights",
    pytest.param("garble-json", marks=pytest.mark.slow)])
def test_damaged_checkpoint_is_reported_and_retrained(tmp_path, damage):
    """A truncated or corrupt cached model found on resume is never loaded
    and never fatal: the sweep warns naming the file, trains the model
    again (seeded: the same row) and replaces the damaged cache."""
    from detectors import ViterbiNet
    from rxsim.sweep import CheckpointWarning, checkpoint_dir

    cfg = tiny_config(LEARNED)
    db = tmp_path / "l.sqlite"
    run_sweep(cfg, db)
    first = table(db)
    cache = checkpoint_dir(db)
    (json_file,) = cache.glob("*.json")
    (weights,) = cache.glob("*.weights.h5")
    stem = str(json_file)[:-len(".json")]
    if damage == "truncate-weights":
        data = weights.read_bytes()
        weights.write_bytes(data[:len(data) // 2])
    else:
        json_file.write_text(json_file.read_text()[:40])
    with pytest.raises(ValueError):        # the damage is real
        ViterbiNet.load(stem)

    for p in tmp_path.glob("l.sqlite*"):
        p.unlink()
    with pytest.warns(CheckpointWarning, match=json_file.stem):
        assert run_sweep(cfg, db) == (2, 0)
    assert table(db) == first
    ViterbiNet.load(stem)                  # the cache is whole again
