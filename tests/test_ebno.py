"""``[sweep] axis = "ebno"``: the SNR grid in Eb/N0 (issue 15).

The noise of an Eb/N0 point is Sionna's ``ebnodb2no`` times the channel's
tap energy (halved for real constellations), the BER of uncoded BPSK over
an AWGN channel matches ``Q(sqrt(2 Eb/N0))``, configs without ``axis``
hash as before, and the store, table and plots carry the axis.
"""

import copy
import math
import sqlite3

import numpy as np
import pytest
from scipy import stats

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from conftest import ALPHA, ROOT
from rxsim.config import ConfigError, parse_config
from rxsim.montecarlo import PointResult
from rxsim.store import _SCHEMA, SCHEMA_VERSION, PointKey, ResultsStore
from rxsim.sweep import (data_seed, noise_variance, run_sweep, sweep_points)


def _toml(name):
    return tomllib.loads((ROOT / "configs" / name).read_text())


def _sionna_no(ebno_db, bits, coderate):
    from sionna.phy.utils import ebnodb2no
    return float(ebnodb2no(ebno_db, bits, coderate, precision="double"))


# -- the noise variance --------------------------------------------------------

def test_uncoded_bpsk_point_no_is_sionna_ebnodb2no_times_tap_energy_halved():
    """Real constellation (real y): no per real dimension = half Sionna's
    complex no; the received energy per symbol is sum |h_l|^2."""
    cfg = parse_config({
        "experiment": {"name": "e"}, "channel": {"memory": 4, "gamma": 0.2},
        "sweep": {"snr_db": [0, 4, 7.5], "axis": "ebno"},
        "detector": [{"name": "bcjr"}]})
    taps = np.exp(-0.2 * np.arange(4))
    energy = float(np.sum(taps ** 2))
    assert energy > 1.5                         # unnormalised taps count
    points = sweep_points(cfg)
    assert [p.key.axis for p in points] == ["ebno"] * 3
    for p in points:
        e = p.key.snr_db
        want = _sionna_no(e, 1, 1.0) * energy / 2
        assert p.no == pytest.approx(want, rel=1e-12)
        # the same by hand: N0 = Es / (r M Eb/N0)
        assert p.no == pytest.approx(energy / (10 ** (e / 10)) / 2,
                                     rel=1e-12)
        assert p.no != pytest.approx(10 ** (-e / 10))    # not the SNR axis


def test_coded_qpsk_point_no_is_sionna_ebnodb2no_with_the_code_rate():
    """Complex constellation: no = Sionna's no (total complex variance),
    with coderate k/n and 2 bits per symbol."""
    data = _toml("coded.toml")
    data["sweep"]["snr_db"] = [1.0, 3.0]
    data["sweep"]["axis"] = "ebno"
    data["detector"] = data["detector"][:1]
    cfg = parse_config(data)
    assert cfg.code.k / cfg.code.n == 0.5
    energy = float(np.sum(np.exp(-0.3 * np.arange(3)) ** 2))
    for p in sweep_points(cfg):
        e = p.key.snr_db
        assert p.no == pytest.approx(_sionna_no(e, 2, 0.5) * energy,
                                     rel=1e-12)
        assert p.no == pytest.approx(energy / (0.5 * 2 * 10 ** (e / 10)),
                                     rel=1e-12)


def test_noise_variance_snr_axis_is_the_old_formula_bit_for_bit():
    for snr in (0.0, 0.3, 4.0, -2.5, 12.0):
        assert noise_variance(snr) == 10.0 ** (-snr / 10.0)
    with pytest.raises(ValueError, match="axis"):
        noise_variance(1.0, axis="esno")
    with pytest.raises(ValueError, match="taps"):
        noise_variance(1.0, axis="ebno")


def test_pilots_of_an_ebno_point_have_the_point_noise(monkeypatch):
    """A learned detector (and ``estimated:from=training``) trains on pilots
    at the point's noise, not at 10**(-value/10)."""
    import rxsim.sweep as sweep
    from rxsim.registry import training_options

    cfg = parse_config({
        "experiment": {"name": "e"}, "channel": {"taps": [1.0, 0.5]},
        "sweep": {"snr_db": [4.0], "axis": "ebno"},
        "detector": [{"name": "bcjr"}]})
    seen = []

    def fake(taps, **kw):
        seen.append(kw)
        n = kw["num_symbols"]
        return np.zeros((1, n), np.float32), np.zeros((1, n), np.int32)

    monkeypatch.setattr(sweep, "pilot_data", fake)
    sweep._point_pilots(cfg, cfg.channels[0], [4.0], training_options({}),
                        "perfect")
    (point,) = sweep_points(cfg)
    assert "snr_db" not in seen[0]
    assert seen[0]["no"] == pytest.approx(point.no, rel=1e-12)


# -- an independent check: BPSK over AWGN ------------------------------------

def test_uncoded_bpsk_ber_over_awgn_matches_q_of_sqrt_2_ebno(tmp_path):
    """taps = [1], Eb/N0 = 4 dB: BER = Q(sqrt(2 Eb/N0)) = 1.25e-2, within
    the two-sided 1 - ALPHA binomial interval of 3e5 bits. The SNR
    reading (no = 10**-0.4) or a complex no per real dimension would give
    Q(sqrt(Eb/N0)) = 5.7e-2."""
    cfg = parse_config({
        "experiment": {"name": "awgn", "seed": 11},
        "link": {"constellation": "bpsk", "frame_length": 1000,
                 "batch_size": 100, "xla": False},
        "channel": {"taps": [1.0]},
        "sweep": {"snr_db": [4.0], "axis": "ebno",
                  "target_errors": 10 ** 9, "max_symbols": 300_000},
        "detector": [{"name": "symbolwise"}]})
    assert run_sweep(cfg, tmp_path / "a.sqlite") == (1, 0)
    with ResultsStore(tmp_path / "a.sqlite") as st:
        (row,) = st.points()
    assert row["axis"] == "ebno" and row["snr_db"] == 4.0
    n = row["bits"] if row["bits"] is not None else row["symbols"]
    errors = (row["bit_errors"] if row["bit_errors"] is not None
              else row["errors"])
    assert n == 300_000
    p = 0.5 * math.erfc(math.sqrt(10 ** 0.4))       # Q(sqrt(2 Eb/N0))
    lo = stats.binom.ppf(ALPHA / 2, n, p)
    hi = stats.binom.ppf(1 - ALPHA / 2, n, p)
    assert lo <= errors <= hi, (errors / n, p)


# -- hashes --------------------------------------------------------------------

# Recorded with the code before `axis` existed (commit cf8fc27).
_QUICK = {"bcjr": "6b45f25167350fb9", "viterbi": "9232fe28b695f508",
          "lmmse": "951fae33cd91a43b"}
_QUICK_DATA, _QUICK_SEED = "29f3928bb4dbf88f", 3959989391777462750
_CODED = {"bcjr": "2d06fcb09700adef", "viterbi": "1d67f05bf6a36229",
          "bcjrnet": "8f626f86d00c8bf3"}
_CODED_DATA, _CODED_SEED = "aaeb3358af41e1c3", 3688485520674064082


@pytest.mark.parametrize("name, curves, data_hash, seed", [
    ("quick.toml", _QUICK, _QUICK_DATA, _QUICK_SEED),
    ("coded.toml", _CODED, _CODED_DATA, _CODED_SEED)])
def test_default_axis_hashes_as_before_and_ebno_changes_them(
        name, curves, data_hash, seed):
    data = _toml(name)
    assert "axis" not in data["sweep"]
    explicit = copy.deepcopy(data)
    explicit["sweep"]["axis"] = "snr"
    ebno = copy.deepcopy(data)
    ebno["sweep"]["axis"] = "ebno"
    cfgs = [parse_config(d) for d in (data, explicit, ebno)]
    assert [c.axis for c in cfgs] == ["snr", "snr", "ebno"]

    def hashes(cfg):
        ch = cfg.channels[0]
        dets = {d.label: d for d in cfg.detectors}
        return ({k: cfg.point_hash(ch, dets[k]) for k in curves},
                cfg.data_hash(ch), data_seed(cfg, ch, cfg.snr_db[1]))

    absent, snr, other = (hashes(c) for c in cfgs)
    assert absent == snr == (curves, data_hash, seed)
    assert other[1] != data_hash and other[2] != seed
    assert all(other[0][k] != curves[k] for k in curves)
    # and the rows' keys: same value, other config hash, other axis
    a, e = sweep_points(cfgs[0])[0].key, sweep_points(cfgs[2])[0].key
    assert (a.snr_db, a.axis) == (e.snr_db, "snr") and e.axis == "ebno"
    assert a.config_hash != e.config_hash


# -- config errors -------------------------------------------------------------

BASE = {"experiment": {"name": "e"}, "channel": {"taps": [1.0, 0.5]},
        "sweep": {"snr_db": [0, 2]}, "detector": [{"name": "bcjr"}]}


def _with_sweep(**kw):
    data = copy.deepcopy(BASE)
    data["sweep"].update(kw)
    return data


@pytest.mark.parametrize("value", ["EbNo", "esno", "", "snr_db"])
def test_unknown_axis_is_a_config_error_naming_axis_and_the_choices(value):
    with pytest.raises(ConfigError) as exc:
        parse_config(_with_sweep(axis=value))
    (problem,) = exc.value.problems
    assert "[sweep] axis" in problem
    assert "'snr'" in problem and "'ebno'" in problem


def test_axis_of_another_type_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        parse_config(_with_sweep(axis=1))
    assert any("axis" in p and "string" in p for p in exc.value.problems)


def test_ebno_axis_on_a_poisson_channel_is_a_config_error():
    data = _with_sweep(axis="ebno")
    data["link"] = {"constellation": "ook"}
    data["channel"] = {"kind": "poisson", "taps": [1.0, 0.5]}
    data["detector"] = [{"name": "bcjr", "likelihood": "poisson"}]
    parse_config(_with_sweep())                      # the base is valid
    without = copy.deepcopy(data)
    del without["sweep"]["axis"]
    parse_config(without)                            # so is the Poisson one
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert any("axis = 'ebno'" in p and "poisson" in p
               for p in exc.value.problems)


# -- store ---------------------------------------------------------------------

def _result(errors=12, symbols=1000):
    return PointResult.from_counts(dict(frames=10, symbols=symbols,
                                        errors=errors, sum_sq=errors * 2))


def test_store_round_trip_keeps_the_axis(tmp_path):
    snr = PointKey("e", "bcjr", "isi", "perfect", 4.0, "h1")
    ebno = PointKey("e", "bcjr", "isi", "perfect", 4.0, "h2", axis="ebno")
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.add_point(snr, _result(), seed=1, code_version="t")
        assert st.add_point(ebno, _result(), seed=2, code_version="t")
        assert st.has_point(ebno)
        rows = {r["config_hash"]: r for r in st.points()}
        st.export_csv(tmp_path / "r.csv")
    assert rows["h1"]["axis"] == "snr" and rows["h2"]["axis"] == "ebno"
    assert rows["h2"]["snr_db"] == 4.0               # the value's column
    text = (tmp_path / "r.csv").read_text().splitlines()
    assert "axis" in text[0].split(",")
    assert sum(",ebno," in line for line in text[1:]) == 1
    with pytest.raises(ValueError, match="axis"):
        PointKey("e", "bcjr", "isi", "perfect", 4.0, "h", axis="EbN0")


def test_schema_4_file_migrates_in_place_and_reads_as_snr(tmp_path):
    p = tmp_path / "old.db"
    old_schema = _SCHEMA.replace(
        "    axis         TEXT    NOT NULL DEFAULT 'snr',\n", "")
    assert "axis" not in old_schema
    raw = sqlite3.connect(p)
    for stmt in old_schema.split(";"):
        if stmt.strip():
            raw.execute(stmt)
    raw.execute(f"PRAGMA application_id={0x7278736D}")
    raw.execute("PRAGMA user_version=4")
    raw.execute(
        "INSERT INTO points (experiment, detector, channel, csi, snr_db, "
        "config_hash, seed, code_version, errors, symbols, ser, ser_lo, "
        "ser_hi, ser_cp_lo, ser_cp_hi, confidence, batches, wall_time, "
        "stop_reason, created_at) VALUES ('e', 'bcjr', 'isi', 'perfect', "
        "3.0, 'h', 1, 'old', 5, 100, 0.05, 0.02, 0.1, 0.02, 0.1, 0.95, 1, "
        "0.1, 'max_symbols', '2026-01-01T00:00:00+00:00')")
    raw.commit()
    raw.close()
    with ResultsStore(p) as st:
        (row,) = st.points()
        assert row["axis"] == "snr" and row["errors"] == 5
        assert st.has_point(PointKey("e", "bcjr", "isi", "perfect", 3.0,
                                     "h"))
        assert st.add_point(PointKey("e", "bcjr", "isi", "perfect", 3.0,
                                     "h2", axis="ebno"), _result(), seed=1,
                            code_version="new")
    raw = sqlite3.connect(p)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == \
        SCHEMA_VERSION == 5
    assert sorted(raw.execute("SELECT axis FROM points")) == [("ebno",),
                                                              ("snr",)]
    raw.close()


# -- table and plots -----------------------------------------------------------

def _row(axis, snr=4.0, detector="bcjr"):
    return dict(experiment="e", detector=detector, csi="perfect",
                channel="isi:taps=[1,0.5]", snr_db=snr, axis=axis, seed=1,
                errors=40, symbols=1000, ser=0.04, ser_lo=0.03, ser_hi=0.05,
                ser_deff=1.0, created_at="")


def test_table_heads_the_value_by_its_axis():
    from rxsim.cli import format_table

    assert format_table([_row("snr")]).splitlines()[0].split()[3] == "SNR"
    head = format_table([_row("ebno")]).splitlines()[0]
    assert head.split()[3] == "Eb/N0" and "SNR" not in head
    mixed = format_table([_row("snr"), _row("ebno", snr=2.0)]).splitlines()
    assert mixed[0].split()[3:5] == ["SNR|Eb/N0", "axis"]
    assert mixed[2].split()[3:5] == ["4.0", "SNR"]
    assert mixed[3].split()[3:5] == ["2.0", "Eb/N0"]
    coded = dict(_row("ebno"), ber=1e-3, bler=0.01, bler_lo=0.005,
                 bler_hi=0.02, block_errors=10, blocks=1000)
    assert format_table([coded]).splitlines()[0].split()[3] == "Eb/N0"


@pytest.fixture
def xlabels(monkeypatch):
    """The x labels of the figures rxsim.plots draws (instead of files)."""
    import rxsim.plots as plots
    seen = []

    def save(fig, path, formats=("png", "pdf"), dpi=130):
        import matplotlib.pyplot as plt
        seen.append({a.get_xlabel() for a in fig.axes if a.get_visible()})
        plt.close(fig)
        return [path]

    monkeypatch.setattr(plots, "save_figure", save)
    return seen


def test_plot_labels_the_x_axis_by_the_rows_axis(xlabels):
    from rxsim.plots import plot_ser

    plot_ser([_row("snr"), _row("snr", 6.0)], "f.png")
    plot_ser([_row("ebno"), _row("ebno", 6.0)], "f.png")
    plot_ser([{k: v for k, v in _row("snr").items() if k != "axis"}],
             "f.png")                            # rows of older code
    assert xlabels == [{"SNR [dB]"}, {"Eb/N0 [dB]"}, {"SNR [dB]"}]
    with pytest.raises(ValueError, match="mix SNR and Eb/N0"):
        plot_ser([_row("snr"), _row("ebno", 6.0)], "f.png")


def test_cli_plot_labels_by_axis_and_refuses_a_mix(tmp_path, xlabels):
    from typer.testing import CliRunner

    from rxsim.cli import app

    db = tmp_path / "r.db"
    with ResultsStore(db) as st:
        for det, errors in (("bcjr", 30), ("viterbi", 40)):
            for snr in (2.0, 4.0):
                st.add_point(PointKey("eb", det, "isi", "perfect", snr, "h",
                                      axis="ebno"),
                             _result(errors), seed=1, code_version="t")
        st.add_point(PointKey("sn", "bcjr", "isi", "perfect", 2.0, "g"),
                     _result(), seed=1, code_version="t")
    runner = CliRunner()
    out = str(tmp_path / "f.png")
    res = runner.invoke(app, ["plot", "--db", str(db), "-o", out,
                              "--experiment", "eb"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plot", "--db", str(db), "-o", out,
                              "--experiment", "eb", "--ratio-to", "bcjr"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plot", "--db", str(db), "-o", out,
                              "--experiment", "sn"])
    assert res.exit_code == 0, res.output
    assert xlabels == [{"Eb/N0 [dB]"}, {"Eb/N0 [dB]"}, {"SNR [dB]"}]
    res = runner.invoke(app, ["plot", "--db", str(db), "-o", out])
    assert res.exit_code == 2 and "mix SNR and Eb/N0" in res.output


def test_cli_compare_heads_the_value_by_the_axis(tmp_path):
    from typer.testing import CliRunner

    from rxsim.cli import app

    db = tmp_path / "r.db"
    with ResultsStore(db) as st:
        for exp, axis in (("eb", "ebno"), ("sn", "snr")):
            for det, errors in (("bcjr", 30), ("viterbi", 40)):
                st.add_point(PointKey(exp, det, "isi", "perfect", 2.0, "h",
                                      axis=axis),
                             _result(errors), seed=1, code_version="t")
    heads = {}
    for exp in ("eb", "sn"):
        res = CliRunner().invoke(app, ["compare", "bcjr", "viterbi", "--db",
                                       str(db), "--experiment", exp])
        assert res.exit_code == 0, res.output
        heads[exp] = res.output.splitlines()[1].split()
    assert "Eb/N0" in heads["eb"] and "SNR" not in heads["eb"]
    assert "SNR" in heads["sn"] and "Eb/N0" not in heads["sn"]
