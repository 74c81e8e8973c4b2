"""The QPSK 8x8 Rayleigh study (:mod:`rxsim.studies.mimo_rayleigh`,
``scripts/mimo_rayleigh.py``): the shipped config, the table on synthetic
rows, and (slow: ~25 s of compiles and training) the script on a
tiny 2x2 sweep whose labels are the study's."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_parses_and_names_every_pair():
    from rxsim.config import load_config
    from rxsim.studies import mimo_rayleigh

    (path,) = mimo_rayleigh.CONFIGS
    cfg = load_config(ROOT / path)
    (channel,) = cfg.channels
    assert (channel.users, channel.antennas, channel.profile) == \
        (8, 8, "rayleigh")
    assert cfg.constellation == "qpsk"
    labels = {d.label for d in cfg.detectors}
    for a, b, _ in mimo_rayleigh.PAIRS:
        assert a in labels and b in labels
    for a, b, snr, _, _ in mimo_rayleigh.CLAIMS:
        assert a in labels and b in labels
        assert any(abs(s - snr) < 1e-9 for s in cfg.snr_db)
    detnet = [d for d in cfg.detectors if d.name == "detnet"]
    assert detnet and detnet[0].options["train_frame_length"] == 1


TINY = """
[experiment]
name = "mimo-rayleigh-tiny"
seed = 3
[link]
constellation = "qpsk"
frame_length = 5
batch_size = 20
[channel]
kind = "mimo"
users = 2
antennas = 2
profile = "rayleigh"
[sweep]
snr_db = [2, 4]
target_errors = 100000
max_symbols = 400
[[detector]]
name = "lmmse"
label = "LMMSE"
[[detector]]
name = "kbest"
label = "K-best (32)"
k = 32
[[detector]]
name = "ml"
label = "ML"
[[detector]]
name = "detnet"
label = "DetNet"
train_symbols = 200
train_frame_length = 1
epochs = 2
layers = 2
"""


@pytest.mark.slow
def test_script_writes_table_figure_and_resumes(tmp_path, load_script):
    from rxsim.store import ResultsStore
    from rxsim.studies import mimo_rayleigh

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    argv = ["--configs", str(config), "--db", str(tmp_path / "m.db"),
            "--out", str(tmp_path / "m")]
    script = load_script("mimo_rayleigh")
    assert script.main(argv) == 0
    text = (tmp_path / "m.md").read_text()
    assert (tmp_path / "m.png").stat().st_size > 10_000
    with ResultsStore(tmp_path / "m.db") as store:
        rows = store.points()
        found = mimo_rayleigh.comparisons(rows, store.frame_counts)
        claims = mimo_rayleigh.check_claims(rows, store.frame_counts)
    # the pairs whose detectors ran, paired frame by frame, at both SNRs
    assert [(a, b) for a, b, _, _ in found] == [
        ("K-best (32)", "ML"), ("DetNet", "ML"), ("DetNet", "LMMSE")]
    for a, b, question, comps in found:
        assert len(comps) == 2
        assert all(c.pairing == "paired" for c in comps)
        assert f"| {a} / {b} ({question}) |" in text
    by = {(r["detector"], r["snr_db"]): r for r in rows}
    for c in found[0][3]:
        assert c.comparison.rate_a == pytest.approx(
            by[("K-best (32)", c.snr_db)]["ser"])
    # claims at 4 dB whose detectors ran; verdict words in the table
    assert [c[0] for c in claims] == [
        "DetNet beats LMMSE at 4 dB", "K-best (32) within 2x of ML at 4 dB"]
    for claim, passed, evidence in claims:
        assert f"| {claim} | {'met' if passed else 'NOT met'} | " \
               f"{evidence} |" in text
    for r in rows:
        assert r["symbols"] >= 400
    # a rerun resumes every point and writes the same report
    assert script.main(argv) == 0
    assert (tmp_path / "m.md").read_text() == text


def test_table_on_synthetic_rows_marks_zero_errors():
    from rxsim.studies import mimo_rayleigh

    rows = [{"detector": d, "snr_db": 8.0, "ser": e / 3000, "ser_lo": 0.0,
             "ser_hi": 1e-3, "errors": e, "symbols": 3000}
            for d, e in (("LMMSE", 30), ("ML", 0))]
    text = mimo_rayleigh.markdown_table(rows, None)
    assert "| LMMSE | 1.00e-02 |" in text
    assert "| ML | < 1e-03 |" in text
    assert mimo_rayleigh.check_claims(rows, None) == []


def test_plot_on_synthetic_rows(tmp_path):
    from rxsim.studies import mimo_rayleigh

    rows = [{"detector": d, "snr_db": s, "ser": p / (1 + s), "ser_lo":
             p / (2 + 2 * s), "ser_hi": 2 * p / (1 + s), "errors": e,
             "symbols": 3000}
            for d, p, e in (("LMMSE", 0.1, 30), ("DetNet", 0.05, 15),
                            ("ML", 0.01, 0),
                            ("EP", 0.02, 6))
            for s in (0.0, 4.0)]
    mimo_rayleigh.plot(rows, str(tmp_path / "f"), formats=("png",))
    assert (tmp_path / "f.png").stat().st_size > 10_000
