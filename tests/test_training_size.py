"""The training-set-size study: its config, its curves, and (slow) that the
learned detectors' SER falls with the training-set size within CI."""

import json

import pytest

from rxsim.aggregate import monotone_within_ci
from rxsim.studies.training_size import (StudySpec, parse_label,
                                         study_config, study_curves)


def test_study_config_has_one_entry_per_size_seed_and_csi():
    spec = StudySpec(sizes=(200, 1000), seeds=2, snr_db=(6.0,),
                     detectors=("bcjrnet", "sbrnn"))
    cfg = study_config(spec)
    replicated = [d for d in cfg.detectors if parse_label(d.label)]
    learned = [d for d in replicated if d.name != "bcjr"]
    ls = [d for d in replicated if d.name == "bcjr"]
    assert len(learned) == 2 * 2 * 2 * 2          # det x size x seed x csi
    assert len(ls) == 2 * 2 * 2                   # size x seed x csi
    assert sorted({d.name for d in cfg.detectors}) == ["bcjr", "bcjrnet",
                                                       "sbrnn"]
    for d in learned:
        name, n, r = parse_label(d.label)
        assert d.name == name and d.options["train_symbols"] == n
        assert d.options["train_seed"] == r and r in (0, 1)
    for d in ls:
        name, n, r = parse_label(d.label)
        assert name == "bcjr-ls" and d.options["train_seed"] == r
        assert d.csi.startswith("estimated:from=training")
        assert f"pilots={n}" in d.csi
        assert ("var=0.1" in d.csi) == ("perturbed" in d.label)
    # replicates differ in their training seed, hence in their pilots and
    # fit seeds; the test data of a point is common to all of them
    from rxsim.sweep import fit_seed, sweep_points
    ch = cfg.channels[0]
    assert len({fit_seed(cfg, ch, d, 6.0) for d in learned}) == len(learned)
    assert len({p.seed for p in sweep_points(cfg)}) == 1
    assert parse_label("bcjr (perturbed:var=0.1)") is None
    assert parse_label("viterbinet n=20000 #2 (perturbed:var=0.1)") == (
        "viterbinet", 20000, 2)


def test_study_curves_average_over_seeds():
    rows = []
    for r, errors in enumerate((10, 30)):
        rows.append(dict(detector=f"bcjrnet n=500 #{r}", csi="perfect",
                         snr_db=6.0, errors=errors, symbols=1000))
    rows.append(dict(detector="bcjrnet n=5000 #0", csi="perfect",
                     snr_db=6.0, errors=5, symbols=1000))
    rows.append(dict(detector="bcjr", csi="perfect", snr_db=6.0, errors=4,
                     symbols=1000))
    curves, refs = study_curves(rows)
    (a, b) = curves[("bcjrnet", "perfect", 6.0)]
    assert (a.x, a.rate, a.spread, a.count) == (500, 0.02, (0.01, 0.03), 2)
    assert (b.x, b.rate) == (5000, 0.005)
    assert refs[("perfect", 6.0)].rate == 0.004


def test_training_size_script_end_to_end(tmp_path, load_script):
    study = load_script("training_size")
    args = ["--sizes", "200", "400", "--seeds", "1", "--snr", "8",
            "--detectors", "bcjrnet", "--db", str(tmp_path / "t.sqlite"),
            "--out", str(tmp_path / "t"), "-q"]
    assert study.main(args) == 0
    summary = json.loads((tmp_path / "t.json").read_text())
    # (bcjr + 2 sizes + 2 LS baselines) x 2 CSI cases x 1 SNR
    assert (summary["simulated"], summary["resumed"]) == (10, 0)
    assert (tmp_path / "t.png").stat().st_size > 0
    assert "| BCJRNet | perfect | 8 dB |" in (tmp_path / "t.md").read_text()
    assert study.main(args) == 0
    summary = json.loads((tmp_path / "t.json").read_text())
    assert (summary["simulated"], summary["resumed"]) == (0, 10)
    text = (tmp_path / "t.md").read_text()
    assert "against BCJR on LS estimates from the same pilots" in text


@pytest.mark.slow
def test_learned_ser_falls_with_training_size_within_ci(tmp_path):
    """Perfect-CSI training at 8 dB: 200 -> 1000 -> 5000 pilots, two seeds
    each. No size's interval may lie above the previous one's, and the
    largest size must be significantly better than the smallest."""
    from rxsim.sweep import run_sweep
    from rxsim.store import ResultsStore

    spec = StudySpec(sizes=(200, 1000, 5000), seeds=2, snr_db=(8.0,),
                     detectors=("bcjrnet", "viterbinet"), csi=("perfect",),
                     max_symbols=200_000)
    cfg = study_config(spec, name="monotone")
    run_sweep(cfg, tmp_path / "m.sqlite")
    with ResultsStore(tmp_path / "m.sqlite") as store:
        curves, _ = study_curves(store.points())
    for name in ("bcjrnet", "viterbinet"):
        pts = curves[(name, "perfect", 8.0)]
        ok, rises = monotone_within_ci(pts)
        assert ok, (name, rises)
        assert pts[-1].hi < pts[0].lo, (name, pts)
