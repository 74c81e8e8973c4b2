"""README.md's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)          # the examples write files
    namespace = {}
    for block in blocks:                 # later blocks reuse earlier names
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "vnet.json").exists()
    # the script sweep: every point of its config read back as a row
    rows = namespace["rows"]
    assert namespace["done"] == len(rows) == 4
    assert {(r["detector"], r["snr_db"]) for r in rows} == {
        (d, snr) for d in ("bcjr", "lmmse") for snr in (2.0, 6.0)}
    assert all(r["ser_lo"] <= r["ser"] <= r["ser_hi"] for r in rows)


def test_rxsim_exports_what_a_script_needs():
    import rxsim

    for name in ("load_config", "parse_config", "run_sweep", "simulate_point",
                 "Link", "CodedLink", "ResultsStore", "Transmitter"):
        assert name in rxsim.__all__
        obj = getattr(rxsim, name)
        assert obj.__module__.startswith("rxsim."), (name, obj.__module__)
    with pytest.raises(AttributeError, match="nosuch"):
        rxsim.nosuch                                # noqa: B018
