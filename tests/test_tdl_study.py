"""The TDL study (issue 16): ``scripts/tdl.py`` end to end on small
configs (store, paired table, winners, figure, resume), the shipped
configs parse, and the study's comparisons are the paired ones."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CHANNEL = """
[channel]
kind = "tdl"
model = "C"
delay_spread = 300e-9
symbol_rate = 2e6
carrier_frequency = 3.5e9
speed = 3.0
memory = 3
fading = "continuous"
"""


def _script():
    spec = importlib.util.spec_from_file_location(
        "tdl_script", ROOT / "scripts" / "tdl.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _configs(tmp_path):
    uncoded = tmp_path / "u.toml"
    uncoded.write_text(f"""
[experiment]
name = "tdl-small"
seed = 4
[link]
constellation = "bpsk"
frame_length = 200
batch_size = 20
{CHANNEL}
[sweep]
snr_db = [10, 20]
target_errors = 100000
max_symbols = 4000
[[detector]]
name = "bcjr"
[[detector]]
name = "lmmse"
[[detector]]
name = "bcjr"
csi = "estimated:pilots=32"
[[detector]]
name = "lmmse"
csi = "estimated:pilots=32"
""")
    coded = tmp_path / "c.toml"
    coded.write_text(f"""
[experiment]
name = "tdl-small-coded"
seed = 5
[link]
constellation = "bpsk"
batch_size = 20
[code]
type = "ldpc5g"
k = 100
n = 200
{CHANNEL}
[sweep]
snr_db = [8]
target_errors = 1000
max_symbols = 4000
[[detector]]
name = "bcjr"
[[detector]]
name = "lmmse"
""")
    return [str(uncoded), str(coded)]


def test_tdl_script_writes_paired_table_and_figure_and_resumes(tmp_path):
    from rxsim.store import ResultsStore
    from rxsim.studies import tdl

    script = _script()
    argv = ["--configs", *_configs(tmp_path), "--db",
            str(tmp_path / "t.db"), "--out", str(tmp_path / "tdl")]
    assert script.main(argv) == 0
    text = (tmp_path / "tdl.md").read_text()
    # every point's trellis-vs-linear comparison, SER uncoded, BLER coded
    for exp, snr in (("tdl-small", 10), ("tdl-small", 20),
                     ("tdl-small-coded", 8)):
        assert f"| {exp} | TDL-C 3 m/s | {snr} | bcjr | lmmse |" in text
    assert "bcjr (estimated:pilots=32) | bcjr |" in text
    assert "best practical receiver" in text
    assert (tmp_path / "tdl.png").stat().st_size > 10_000
    with ResultsStore(tmp_path / "t.db") as store:
        rows = store.points()
        found = tdl.comparisons(rows, store.frame_counts)
        coded = [r for r in rows if r["experiment"] == "tdl-small-coded"]
    assert tdl.metric_of(coded) == "bler"
    # the comparisons pair the detectors frame by frame (same frames)
    lines = found[("tdl-small", "bcjr", "lmmse")]
    assert len(lines) == 2 and all(x.pairing == "paired" for x in lines)
    by = {(r["detector"], r["snr_db"]): r for r in rows
          if r["experiment"] == "tdl-small"}
    for x in lines:
        assert x.comparison.rate_a == pytest.approx(
            by[("bcjr", x.snr_db)]["ser"])
    # the winner is a receiver without the true taps
    for exp, channel, snr, best, second, line in tdl.winners(
            rows, None):
        assert best in tdl.PRACTICAL and second in tdl.PRACTICAL
    # a rerun resumes every point and writes the same report
    assert script.main(argv) == 0
    assert (tmp_path / "tdl.md").read_text() == text


def test_shipped_tdl_configs_parse():
    from rxsim.config import load_config
    from rxsim.studies import tdl

    names = set()
    for path in tdl.CONFIGS:
        cfg = load_config(ROOT / path)
        names.add(cfg.name)
        labels = {d.label for d in cfg.detectors}
        assert {"bcjr"} <= labels
        assert {c.model for c in cfg.channels} == {"A", "C"}
        assert {c.speed for c in cfg.channels} == (
            {3.0} if cfg.name == "tdl-sionna" else {3.0, 100.0})
    assert names == {"tdl", "tdl-bpsk", "tdl-coded", "tdl-sionna"}
    bpsk = load_config(ROOT / "configs/tdl-bpsk.toml")
    retrained = [d for d in bpsk.detectors
                 if d.label == "bcjrnet (retrained per frame)"]
    assert retrained[0].options["retrain_pilots"] == 200
