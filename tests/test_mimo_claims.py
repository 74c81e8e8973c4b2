"""Issue 17's measured claim on uncertain CSI (slow: the sweep of
``configs/deepsic-claim.toml``, 4 million user-symbols per detector at
14 dB, a few minutes on 2 cores)."""

from pathlib import Path

import pytest

from rxsim.config import load_config
from rxsim.paired import compare_rows
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_deepsic_beats_soft_ic_fed_perturbed_channels_5x_at_14db(tmp_path):
    cfg = load_config(ROOT / "configs" / "deepsic-claim.toml")
    db = tmp_path / "claim.db"
    run_sweep(cfg, db)
    with ResultsStore(db) as store:
        rows = store.points()
        (c,) = compare_rows(rows, "DeepSIC (sequential), uncertain CSI",
                            "soft IC, uncertain CSI",
                            frame_counts=store.frame_counts,
                            confidence=0.95)
    # paired per-frame ratio (Fieller, 95%): its upper end at most 1/5
    assert c.pairing == "paired"
    assert c.comparison.ratio_ci[1] <= 0.2, c.comparison
