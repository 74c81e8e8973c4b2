"""Ray backend: the same sweep on Ray tasks gives the local backend's table."""

import os
import sqlite3

import pytest
from typer.testing import CliRunner

from rxsim.cli import app
from rxsim.ray_backend import RayNotInstalledError, run_sweep_ray
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep, sweep_points
from test_sweep import TINY, table, tiny_config


@pytest.fixture(scope="module")
def local_ray():
    """A local 2-CPU Ray instance for this module, shut down after."""
    ray = pytest.importorskip(
        "ray", reason="Ray backend tests need the extra: "
                      "pip install -e \".[ray]\"")
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             log_to_driver=False, object_store_memory=200 * 1024 ** 2,
             configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_sweep_equals_local_and_resumes(tmp_path, local_ray):
    cfg = tiny_config()
    n = len(sweep_points(cfg))
    local = tmp_path / "local.sqlite"
    assert run_sweep(cfg, local) == (n, 0)

    db = tmp_path / "ray.sqlite"
    seen = []
    assert run_sweep_ray(cfg, db, on_point=lambda p, r: seen.append(r)) \
        == (n, 0)
    assert len(seen) == n and all(r is not None for r in seen)
    assert table(db) == table(local)
    assert local_ray.is_initialized()   # an instance it did not start stays

    # resume: nothing left to run, no duplicates
    assert run_sweep_ray(cfg, db) == (0, n)
    with sqlite3.connect(db) as con:
        (count,) = con.execute("SELECT count(*) FROM points").fetchone()
    assert count == n


def test_cli_ray_backend_resumes_local_rows(tmp_path, local_ray):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    cfg = tiny_config()
    db = tmp_path / "mixed.sqlite"
    # half the points locally (interrupted), the rest through the CLI on Ray
    class Stop(Exception):
        pass

    seen = []

    def stop_after_three(point, result):
        seen.append(point)
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(cfg, db, on_point=stop_after_three)
    res = CliRunner().invoke(app, ["sweep", str(config), "--db", str(db),
                                   "-q", "--no-plot", "--backend", "ray"])
    assert res.exit_code == 0, res.output
    assert "3 point(s) simulated, 3 resumed" in res.output
    full = tmp_path / "full.sqlite"
    run_sweep(cfg, full)
    assert table(db) == table(full)


def test_cli_rejects_ray_options_without_ray_backend(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    res = CliRunner().invoke(app, ["sweep", str(config), "--db",
                                   str(tmp_path / "x.sqlite"),
                                   "--num-cpus", "2"])
    assert res.exit_code == 2
    assert "--backend ray" in res.output
    res = CliRunner().invoke(app, ["sweep", str(config), "--db",
                                   str(tmp_path / "x.sqlite"),
                                   "--backend", "dask"])
    assert res.exit_code == 2 and "'local' or 'ray'" in res.output


def test_missing_ray_gives_install_hint(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)    # import ray fails
    with pytest.raises(RayNotInstalledError, match=r"pip install -e"):
        run_sweep_ray(tiny_config(), tmp_path / "x.sqlite")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    res = CliRunner().invoke(app, ["sweep", str(config), "--db",
                                   str(tmp_path / "x.sqlite"),
                                   "--backend", "ray"])
    assert res.exit_code == 2
    assert 'pip install -e ".[ray]"' in res.output
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.slow
def test_ray_trains_learned_detectors_like_local(tmp_path, local_ray):
    from test_sweep import LEARNED

    cfg = tiny_config(LEARNED)
    run_sweep(cfg, tmp_path / "local.sqlite")
    assert run_sweep_ray(cfg, tmp_path / "ray.sqlite") == (2, 0)
    assert table(tmp_path / "ray.sqlite") == table(tmp_path / "local.sqlite")


# -- every kind of link, and the checkpoint cache, on Ray --------------------

CODED = """
[experiment]
name = "coded-ray"
seed = 5

[link]
constellation = "qpsk"
batch_size = 20
xla = false

[channel]
memory = 3
gamma = 0.3

[sweep]
snr_db = [3]
target_errors = 5
max_symbols = 2560

[code]
type = "ldpc5g"
k = 64
n = 128

[[detector]]
name = "bcjr"

[[detector]]
name = "viterbi"
"""

POISSON = """
[experiment]
name = "poisson-ray"
seed = 9

[link]
constellation = "ook"
frame_length = 50
batch_size = 100
xla = false

[channel]
kind = "poisson"
memory = 2
gamma = 0.5

[sweep]
snr_db = [20, 26]
target_errors = 20
max_symbols = 10000

[[detector]]
name = "bcjr"
likelihood = "poisson"
"""

MIMO = """
[experiment]
name = "mimo-ray"
seed = 4

[link]
constellation = "bpsk"
frame_length = 50
batch_size = 10

[channel]
kind = "mimo"
users = 3
antennas = 3
profile = "rayleigh"

[sweep]
snr_db = [4]
target_errors = 20
max_symbols = 3000

[[detector]]
name = "ml"

[[detector]]
name = "lmmse"
csi = "perturbed:var=0.1"

[[detector]]
name = "dnn"
train_symbols = 1000
epochs = 20
"""

CODED_FIELDS = ("block_errors", "blocks", "bler")


def full_table(db):
    """Every count and rate of every row (coded fields included), in key
    order, without wall times and timestamps."""
    with ResultsStore(db) as store:
        rows = store.points()
    drop = {"wall_time", "created_at", "code_version", "id"}
    return sorted(({k: v for k, v in r.items() if k not in drop}
                   for r in rows),
                  key=lambda r: (r["detector"], r["channel"], r["snr_db"]))


# The coded case costs ~35 s (LDPC decoder traced in a Ray worker): slow.
@pytest.mark.parametrize("text", [pytest.param(CODED, marks=pytest.mark.slow),
                                  POISSON, MIMO],
                         ids=["coded", "poisson", "mimo"])
def test_cli_ray_backend_runs_coded_and_poisson_links_like_local(
        tmp_path, local_ray, text):
    config = tmp_path / "c.toml"
    config.write_text(text)
    cfg = tiny_config(text)
    local = tmp_path / "local.sqlite"
    run_sweep(cfg, local)
    db = tmp_path / "ray.sqlite"
    res = CliRunner().invoke(app, ["sweep", str(config), "--db", str(db),
                                   "-q", "--no-plot", "--backend", "ray"])
    assert res.exit_code == 0, res.output
    n = len(sweep_points(cfg))
    assert f"{n} point(s) simulated" in res.output
    rows = full_table(db)
    assert len(rows) == n and rows == full_table(local)
    coded = [r[f] is not None for r in rows for f in CODED_FIELDS]
    assert all(coded) if text is CODED else not any(coded)
    if text is not CODED:
        assert all(r["errors"] > 0 for r in rows)   # a real simulation


def test_ray_workers_write_and_reuse_the_checkpoint_cache(tmp_path,
                                                          local_ray):
    from test_sweep import LEARNED

    from rxsim.sweep import checkpoint_dir

    cfg = tiny_config(LEARNED)
    db = tmp_path / "l.sqlite"
    assert run_sweep_ray(cfg, db) == (2, 0)
    first = table(db)
    cache = checkpoint_dir(db)
    files = sorted(cache.iterdir())
    assert [p.suffix for p in files] == [".json", ".h5"]
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}

    # lose the rows, keep the cache: the workers must load the model (a
    # retrained one would be saved again, i.e. renamed into place anew)
    db.unlink()
    assert run_sweep_ray(cfg, db) == (2, 0)
    assert table(db) == first
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(cache.iterdir())} == stamps

    # a truncated model is reported through the driver and trained again
    from rxsim.sweep import CheckpointWarning

    (weights,) = cache.glob("*.weights.h5")
    weights.write_bytes(weights.read_bytes()[:100])
    db.unlink()
    with pytest.warns(CheckpointWarning, match=weights.name[:16]):
        assert run_sweep_ray(cfg, db) == (2, 0)
    assert table(db) == first
    assert weights.stat().st_size > 100
