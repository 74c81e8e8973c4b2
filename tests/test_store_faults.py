"""The results store under faults: unwritable paths and a full disk give a
clear error and leave no partial rows."""

import sqlite3

import pytest
from typer.testing import CliRunner

from rxsim.cli import app
from rxsim.montecarlo import PointResult
from rxsim.store import PointKey, ResultsStore, StoreError


def result(errors=5, symbols=100):
    return PointResult(
        errors=errors, symbols=symbols, bit_errors=errors, bits=symbols,
        ser=errors / symbols, ber=errors / symbols,
        ser_ci_wilson=(0.01, 0.1), ser_ci_cp=(0.01, 0.1),
        ber_ci_wilson=(0.01, 0.1), ber_ci_cp=(0.01, 0.1), confidence=0.95,
        batches=1, wall_time=0.1, seed=3, stop_reason="max_symbols")


def key(snr):
    return PointKey("e", "det", "isi", "perfect", snr, "h")


def test_directory_that_is_a_file_is_refused_clearly(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the results store"):
        ResultsStore(blocker / "x.sqlite")


def test_disk_full_during_a_write_leaves_no_partial_row(tmp_path):
    path = tmp_path / "full.sqlite"
    with ResultsStore(path) as store:
        store.add_point(key(0.0), result(), seed=1, code_version="t")
        # Simulate a full disk: SQLite may not grow the file any further.
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="nothing of it was written"):
            for snr in range(1, 200):     # fill the last free page, then fail
                store.add_point(key(float(snr)), result(), seed=1,
                                code_version="t")
        stored = len(store.points())
    # every stored row is whole, and the store opens and takes rows again
    with sqlite3.connect(path) as con:
        rows = con.execute("select errors, symbols, ser from points").fetchall()
    assert len(rows) == stored and all(r == (5, 100, 0.05) for r in rows)
    with ResultsStore(path) as store:
        assert store.add_point(key(999.0), result(), seed=1, code_version="t")


def test_cli_reports_an_unwritable_database_path(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("""
[experiment]
name = "t"
[channel]
taps = [1.0]
[sweep]
snr_db = [0]
max_symbols = 1000
[[detector]]
name = "symbolwise"
""")
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    res = CliRunner().invoke(app, ["sweep", str(config), "--db",
                                   str(blocker / "r.sqlite"), "-q"])
    assert res.exit_code == 2
    assert "cannot open the results store" in res.output
