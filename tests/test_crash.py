"""Crash safety: a sweep killed with SIGKILL resumes to the same table.

The ``rxsim sweep`` command runs as a subprocess; once the database holds
at least one committed point (polled through a read-only WAL connection),
the process is killed with SIGKILL (no cleanup, no atexit, no rollback
handlers), the same command is rerun to completion, and the final table
must equal that of an uninterrupted run: same rows (counts, SER, seeds,
config hashes), no duplicates.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep, sweep_points
from test_sweep import COUNT_FIELDS, tiny_config

# 12 points that each run to max_symbols (target_errors is out of reach),
# several seconds in all after TensorFlow's start-up.
CRASH = """
[experiment]
name = "crash"
seed = 11

[link]
frame_length = 50
batch_size = 200

[channel]
memory = 2
gamma = 0.7

[sweep]
snr_db = [0, 2, 4, 6, 8, 10]
target_errors = 1000000
max_symbols = 40000

[[detector]]
name = "symbolwise"

[[detector]]
name = "lmmse"
"""

TIMEOUT = 120.0     # seconds, for every wait below
FIELDS = COUNT_FIELDS + ("experiment", "ser_cp_lo", "ser_cp_hi", "batches",
                         "stop_reason")


def sweep_cmd(config, db):
    return [sys.executable, "-m", "rxsim.cli", "sweep", str(config),
            "--db", str(db), "-q", "--no-plot"]


def committed_points(db):
    """Rows committed in ``db`` so far (0 while it is being created)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return con.execute("SELECT count(*) FROM points").fetchone()[0]
    except sqlite3.OperationalError:       # schema not created yet
        return 0
    finally:
        con.close()


def table(db):
    with ResultsStore(db) as store:
        return [{k: r[k] for k in FIELDS} for r in store.points()]


def test_sigkill_then_rerun_equals_uninterrupted(tmp_path):
    config = tmp_path / "crash.toml"
    config.write_text(CRASH)
    cfg = tiny_config(CRASH)
    n = len(sweep_points(cfg))
    assert n == 12
    db = tmp_path / "killed.sqlite"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(sweep_cmd(config, db), stdout=log,
                            stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + TIMEOUT
        while committed_points(db) < 1:
            if proc.poll() is not None:
                pytest.fail("the sweep ended before it could be killed: "
                            + (tmp_path / "first.log").read_text()[-2000:])
            if time.monotonic() > deadline:
                pytest.fail("no point committed within the timeout")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=TIMEOUT) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        log.close()

    k = committed_points(db)
    assert 1 <= k < n, f"killed after {k} of {n} points"
    killed_rows = table(db)
    assert len(killed_rows) == k

    rerun = subprocess.run(sweep_cmd(config, db), capture_output=True,
                           text=True, env=env, cwd=tmp_path,
                           timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
    assert f"{n - k} point(s) simulated, {k} resumed" in rerun.stdout

    full = tmp_path / "full.sqlite"
    assert run_sweep(cfg, full) == (n, 0)
    resumed = table(db)
    assert resumed == table(full)
    # rows committed before the kill are kept as they were
    assert all(r in resumed for r in killed_rows)
    with sqlite3.connect(db) as con:
        (count,) = con.execute("SELECT count(*) FROM points").fetchone()
        (keys,) = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT experiment, detector, "
            "channel, csi, snr_db, config_hash FROM points)").fetchone()
    assert count == keys == n
