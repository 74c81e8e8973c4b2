"""Time-varying channel: the tap formula, and ``scripts/time_varying.py``
(store rows, rerun, resume with checkpointed online models)."""

import importlib.util
import math
import pathlib
import shutil

import numpy as np
import pytest

from channels import PAPER_PERIODS, time_varying_taps

_PATH = pathlib.Path(__file__).resolve().parents[1] / "scripts" / \
    "time_varying.py"
_spec = importlib.util.spec_from_file_location("tv_script", _PATH)
tv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tv)


# -- tap formula -------------------------------------------------------------
def _taps_by_hand(memory, gamma, t, periods, amplitude=0.2):
    """h_l(t) = exp(-gamma l) (0.8 + 0.2 cos(2 pi t / p_l)), in plain
    Python floats."""
    return [math.exp(-gamma * l) *
            ((1 - amplitude) + amplitude * math.cos(2 * math.pi * t /
                                                    periods[l]))
            for l in range(memory)]


def test_taps_at_zero_are_the_static_profile():
    h = time_varying_taps(4, 0.2, 0)
    assert h.shape == (4,)
    np.testing.assert_allclose(h, [1.0, math.exp(-0.2), math.exp(-0.4),
                                   math.exp(-0.6)], rtol=0, atol=1e-15)


@pytest.mark.parametrize("t", [1, 7, 10, 13, 21, 50, 99, 1000])
@pytest.mark.parametrize("gamma", [0.0, 0.2, 1.0])
def test_taps_match_the_formula(t, gamma):
    np.testing.assert_allclose(time_varying_taps(4, gamma, t),
                               _taps_by_hand(4, gamma, t, (51, 39, 33, 21)),
                               rtol=1e-13, atol=1e-15)


def test_taps_known_values():
    # Tap l is back at its static value after one of its own periods, and
    # at 0.6 of it (0.8 - 0.2) after half of it.
    p = PAPER_PERIODS
    assert p == (51, 39, 33, 21)
    for l, period in enumerate(p):
        assert time_varying_taps(4, 0.3, period)[l] == pytest.approx(
            math.exp(-0.3 * l), abs=1e-12)
    h = time_varying_taps(2, 0.5, 5, periods=(10, 20))
    np.testing.assert_allclose(h, [0.6, math.exp(-0.5) * 0.8], atol=1e-12)


def test_taps_of_many_blocks():
    blocks = np.arange(120)
    h = time_varying_taps(4, 0.2, blocks)
    assert h.shape == (120, 4)
    for t in (0, 17, 119):
        np.testing.assert_allclose(h[t], time_varying_taps(4, 0.2, t))
    # Every tap stays within [0.6, 1.0] of its static value.
    ratio = h / np.exp(-0.2 * np.arange(4))
    assert ratio.min() >= 0.6 - 1e-12 and ratio.max() <= 1.0 + 1e-12
    assert time_varying_taps(4, 0.2, [[0, 1], [2, 3]]).shape == (2, 2, 4)


def test_taps_other_memory_and_amplitude():
    h = time_varying_taps(3, 0.1, 4, periods=(8, 12.5, 3), amplitude=0.5)
    np.testing.assert_allclose(
        h, _taps_by_hand(3, 0.1, 4, (8, 12.5, 3), amplitude=0.5))
    np.testing.assert_allclose(time_varying_taps(4, 0.2, 9, amplitude=0),
                               np.exp(-0.2 * np.arange(4)))


@pytest.mark.parametrize("memory,periods", [(3, PAPER_PERIODS),
                                            (5, PAPER_PERIODS),
                                            (4, (51, 39, 33)),
                                            (2, [[1, 2]])])
def test_periods_must_match_memory(memory, periods):
    with pytest.raises(ValueError, match="periods"):
        time_varying_taps(memory, 0.2, 0, periods=periods)


@pytest.mark.parametrize("kwargs,match", [
    (dict(periods=(51, 0, 33, 21)), "periods"),
    (dict(periods=(51, -3, 33, 21)), "periods"),
    (dict(periods=(51, np.nan, 33, 21)), "periods"),
    (dict(block=-1), "block"),
    (dict(block=1.5), "block"),
    (dict(block=[0, -2]), "block"),
    (dict(block=np.nan), "block"),
    (dict(amplitude=1.5), "amplitude"),
    (dict(amplitude=-0.1), "amplitude"),
])
def test_bad_arguments(kwargs, match):
    args = dict(memory=4, gamma=0.2, block=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        time_varying_taps(**args)


def test_bad_memory_and_gamma():
    with pytest.raises(ValueError, match="L"):
        time_varying_taps(0, 0.2, 0, periods=())
    with pytest.raises(ValueError, match="gamma"):
        time_varying_taps(4, -1.0, 0)


# -- the script -------------------------------------------------------------
# Tiny: 500-symbol blocks of 2 frames, 1000 pilots, 5 online steps per block.
TINY = ["--block-symbols", "500", "--frame-length", "250",
        "--train-symbols", "1000", "--adapt-epochs", "5", "--snr", "6",
        "--seed", "7", "--quiet", "--no-plot"]
VOLATILE = ("wall_time", "created_at")


def _argv(tmp, name, blocks, plot=False):
    argv = TINY + ["--blocks", str(blocks),
                   "--db", str(tmp / f"{name}.sqlite"),
                   "--out", str(tmp / name)]
    return [a for a in argv if plot is False or a != "--no-plot"]


def _rows(tmp, name):
    with tv.ResultsStore(tmp / f"{name}.sqlite") as store:
        rows = store.points(experiment=tv.EXPERIMENT)
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE}
                   for r in rows),
                  key=lambda r: (tv.block_of(r), r["detector"], r["csi"]))


def _weights(path_stem, cls=None):
    det = (cls or tv.ViterbiNet).load(path_stem)
    return [np.asarray(v) for v in det._variables()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A straight run of blocks 0..5 and a run interrupted after block 2,
    then continued to 5, in separate stores."""
    tmp = tmp_path_factory.mktemp("tv")
    straight = tv.main(_argv(tmp, "straight", 6, plot=True))
    tv.main(_argv(tmp, "resumed", 3))
    resumed = tv.main(_argv(tmp, "resumed", 6))
    return tmp, straight, resumed


def test_straight_run_rows(runs):
    tmp, table, _ = runs
    rows = _rows(tmp, "straight")
    assert len(rows) == 6 * len(tv.DETECTORS)
    assert {tv.block_of(r) for r in rows} == set(range(6))
    chash = rows[0]["config_hash"]
    for r in rows:
        t = tv.block_of(r)
        assert r["config_hash"] == chash
        assert r["channel"] == f"tv:L=4,gamma=0.2,block={t}"
        assert r["symbols"] == 500 and r["snr_db"] == 6.0
        assert r["seed"] == tv.point_seed(7, "time_varying", "block", t)
        assert r["ser"] == r["errors"] / r["symbols"]
        assert r["bit_errors"] == r["errors"]            # BPSK
        assert r["ser_lo"] <= r["ser"] <= r["ser_hi"]
    by = {(tv.block_of(r), r["detector"], r["csi"]): r for r in rows}
    # At t = 0 the initial taps are the true taps, and the online learners
    # have not adapted yet: paired detectors give identical decisions.
    assert by[0, "bcjr", "perfect"]["errors"] == \
        by[0, "bcjr", "initial"]["errors"]
    for name in ("viterbinet", "bcjrnet"):
        assert by[0, name, "online"]["errors"] == by[0, name, "once"]["errors"]
    # The table pools the rows.
    assert [r["name"] for r in table] == [n for _, n in tv.DETECTORS]
    for r in table:
        mine = [x for x in rows if (x["detector"], x["csi"]) ==
                (r["detector"], r["csi"])]
        assert r["errors"] == sum(x["errors"] for x in mine)
        assert r["symbols"] == 6 * 500
        assert r["ser_lo"] <= r["ser"] <= r["ser_hi"]
    for suffix in (".json", ".md", ".png", ".pdf"):
        assert (tmp / f"straight{suffix}").stat().st_size > 0


def test_online_models_are_checkpointed_and_move(runs):
    tmp, _, _ = runs
    ck = tmp / "straight.checkpoints"
    (sub,) = list(ck.iterdir())
    initial = _weights(sub / "viterbinet-initial")
    after = [_weights(sub / f"viterbinet-after-{t:05d}") for t in range(6)]
    # Retraining changes the weights after every block.
    for a, b in zip([initial] + after[:-1], after):
        assert any(not np.array_equal(x, y) for x, y in zip(a, b))
    for t in range(6):
        assert (sub / f"bcjrnet-after-{t:05d}.json").exists()


def test_resumed_run_equals_straight_run(runs):
    tmp, straight, resumed = runs
    assert _rows(tmp, "resumed") == _rows(tmp, "straight")
    assert [(r["errors"], r["symbols"]) for r in resumed] == \
        [(r["errors"], r["symbols"]) for r in straight]
    # ... including the online models it ends with.
    (a,) = list((tmp / "straight.checkpoints").iterdir())
    (b,) = list((tmp / "resumed.checkpoints").iterdir())
    for name, cls in tv.LEARNED.items():
        for x, y in zip(_weights(a / f"{name}-after-00005", cls),
                        _weights(b / f"{name}-after-00005", cls)):
            np.testing.assert_array_equal(x, y)


def test_rerun_adds_nothing(runs, capsys):
    tmp, _, _ = runs
    before = _rows(tmp, "straight")
    argv = _argv(tmp, "straight", 6)
    info = tv.run(tv.parse_args(argv), log=lambda *a: None)
    assert info["rows_added"] == 0 and info["blocks_run"] == 0
    assert info["blocks_skipped"] == 6
    assert _rows(tmp, "straight") == before


def test_kill_between_rows_and_checkpoint(runs):
    """Rows of the last block stored but its online checkpoints missing
    (killed during adapt), and a row of an earlier block lost: the rerun
    recomputes exactly those, with the numbers of the straight run."""
    tmp, _, _ = runs
    src = tmp / "straight"
    for suffix in (".sqlite", ".checkpoints"):
        p = pathlib.Path(f"{src}{suffix}")
        dst = tmp / f"killed{suffix}"
        (shutil.copytree if p.is_dir() else shutil.copy)(p, dst)
    for ext in (".sqlite-wal", ".sqlite-shm"):
        if pathlib.Path(f"{src}{ext}").exists():
            shutil.copy(f"{src}{ext}", tmp / f"killed{ext}")
    (sub,) = list((tmp / "killed.checkpoints").iterdir())
    for name in tv.ONLINE:
        for t in (4, 5):
            for ext in (".json", ".weights.h5"):
                (sub / f"{name}-after-{t:05d}{ext}").unlink()
    with tv.ResultsStore(tmp / "killed.sqlite") as store:
        store._db().execute(
            "DELETE FROM points WHERE channel LIKE '%block=5' OR "
            "(channel LIKE '%block=1' AND detector = 'viterbinet' AND "
            "csi = 'online')")
    assert len(_rows(tmp, "killed")) == 6 * len(tv.DETECTORS) - 8
    info = tv.run(tv.parse_args(_argv(tmp, "killed", 6)),
                  log=lambda *a: None)
    assert info["rows_added"] == 8
    assert _rows(tmp, "killed") == _rows(tmp, "straight")


def test_config_hash_ignores_blocks_only():
    a = tv.parse_args(["--blocks", "3"])
    b = tv.parse_args(["--blocks", "30"])
    assert tv.config_hash(a) == tv.config_hash(b)
    for extra in (["--snr", "7"], ["--seed", "2"], ["--gamma", "0.3"],
                  ["--block-symbols", "1000"], ["--adapt-epochs", "3"]):
        assert tv.config_hash(tv.parse_args(extra)) != tv.config_hash(a)


def test_quick_defaults_and_bad_arguments():
    q = tv.parse_args(["--quick"])
    assert q.blocks == tv.QUICK["blocks"] and "quick" in q.db
    with pytest.raises(SystemExit):
        tv.parse_args(["--memory", "3"])            # periods of length 4
    with pytest.raises(SystemExit):
        tv.parse_args(["--block-symbols", "700", "--frame-length", "500"])
    with pytest.raises(SystemExit):
        tv.parse_args(["--train-symbols", "1200", "--frame-length", "500"])
    ok = tv.parse_args(["--memory", "3", "--periods", "10,20,30"])
    assert ok.periods == (10.0, 20.0, 30.0)


# -- statistics -------------------------------------------------------------
@pytest.mark.slow
def test_online_retraining_beats_training_once(tmp_path):
    """Over 60 blocks (more than one period of the slowest tap) the online
    ViterbiNet / BCJRNet have a lower average SER than the same nets
    trained once, with disjoint 95% Wilson intervals."""
    table = tv.main(["--blocks", "60", "--block-symbols", "2000",
                     "--snr", "10", "--seed", "3", "--quiet", "--no-plot",
                     "--db", str(tmp_path / "s.sqlite"),
                     "--out", str(tmp_path / "s")])
    avg = {(r["detector"], r["csi"]): r for r in table}
    for name in ("viterbinet", "bcjrnet"):
        online, once = avg[name, "online"], avg[name, "once"]
        assert online["ser_hi"] < once["ser_lo"], (online, once)
    # The model-based detector with stale taps is worse than with the
    # true ones.
    assert avg["bcjr", "perfect"]["ser_hi"] < avg["bcjr", "initial"]["ser_lo"]
