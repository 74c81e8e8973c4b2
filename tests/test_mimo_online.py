"""Online learning on the time-varying SED channel (issue 17): test frames
drawn over the whole cosine cycle, ``DeepSIC.adapt``, per-frame retraining
in ``MIMOLink`` (``retrain_pilots``) and its config errors."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from conftest import ALPHA
from channels import MIMOChannel
from channels.mimo import sed_matrix
from detectors.mimo import DeepSIC, SoftICDetector
from rxsim import Transmitter
from rxsim.config import ConfigError, parse_config
from rxsim.mimo_link import MIMOLink
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep

K = N = 4


def test_cycle_is_the_least_common_multiple_of_the_periods():
    assert MIMOChannel(4, 4, time_varying=True).cycle == 51 * 13 * 11 * 7
    assert MIMOChannel(2, 2, time_varying=True).cycle == 51 * 13
    assert MIMOChannel(4, 4).cycle is None


def test_link_draws_frames_over_the_whole_cycle():
    """Each frame of a batch is the modulated SED of its own random time
    over the cycle, reproducible from the seed; a batch is not frames 0 ..
    B-1 (which every batch of a sweep was before: the whole sweep then saw
    the channel of its first ``batch_size`` frames only)."""
    ch = MIMOChannel(K, N, profile="sed", time_varying=True)
    link = MIMOLink(Transmitter(ch.constellation), ch,
                    SoftICDetector(sed_matrix(N, K)), 5)
    seed = tf.constant([3, 4])
    _, _, state = link.draw(50, 0.1, seed)
    h = state["channel_matrix"].numpy()
    # which frame each one is: the antennas' fades (0.8 + 0.2 cos) fix t
    # within the cycle; find it by brute force
    table = sed_matrix(N, K, np.arange(ch.cycle))          # [cycle, N, K]
    t = [int(np.argmin(((table - hb) ** 2).sum((1, 2)))) for hb in h]
    np.testing.assert_allclose(h, table[t], atol=1e-6)
    # P(all 50 uniform draws below 1000 of 51051) is 2e-86
    assert max(t) > 1000 and len(set(t)) == 50
    _, _, again = link.draw(50, 0.1, seed)
    np.testing.assert_array_equal(again["channel_matrix"].numpy(), h)
    _, _, other = link.draw(50, 0.1, tf.constant([5, 6]))
    assert not np.allclose(other["channel_matrix"].numpy(), h)


def _frame(t, no, uses, seed):
    ch = MIMOChannel(K, N, profile="sed", time_varying=True)
    h = ch.channel_matrices(1, frame_index=tf.constant([t]))
    s, y = ch.pilot_frames(h, no, uses, seed=tf.constant(seed))
    return ch, s, y


def test_adapt_tracks_a_later_frame():
    """DeepSIC trained on pilots of frames 0-9 and fine-tuned (``adapt``)
    on 1000 pilots of frame 17, where the channel has drifted, makes fewer
    errors there than without the fine-tuning: exact paired (McNemar)
    test on 8e4 user-symbols, Clopper-Pearson bound at ALPHA."""
    no = 10 ** (-10 / 10)
    ch = MIMOChannel(K, N, profile="sed", time_varying=True)
    s0, y0 = ch.pilot_frames(ch.channel_matrices(10), no, 500,
                             seed=tf.constant([1, 2]))
    once = DeepSIC(K, N, hard_out=True)
    once.fit(y0, s0, seed=0)
    _, sp, yp = _frame(17, no, 1000, [5, 17])
    _, st, yt = _frame(17, no, 20000, [3, 17])
    tuned = once.copy()
    out = tuned.adapt(yp[0], sp[0], epochs=100)
    assert out["seconds"] > 0
    wrong_once = once(yt, no).numpy() != st.numpy()
    wrong_tuned = tuned(yt, no).numpy() != st.numpy()
    b = int(np.sum(wrong_tuned & ~wrong_once))
    c = int(np.sum(~wrong_tuned & wrong_once))
    upper = stats.beta.ppf(1 - ALPHA, b + 1, c) if c else 1.0
    assert upper < 0.5, (b, c, wrong_once.mean(), wrong_tuned.mean())
    # the original is untouched, and adapting from it again is repeatable
    np.testing.assert_array_equal(once(yt, no).numpy() != st.numpy(),
                                  wrong_once)
    tuned.set_weights_from(once)
    tuned.adapt(yp[0], sp[0], epochs=100)
    np.testing.assert_array_equal(tuned(yt, no).numpy() != st.numpy(),
                                  wrong_tuned)


def test_adapt_decision_directed_and_before_fit():
    with pytest.raises(RuntimeError, match="call fit first"):
        DeepSIC(2, 2).adapt(np.zeros([100, 2]), np.zeros([100, 2], int))
    _, s, y = _frame(3, 0.1, 400, [1, 1])
    det = DeepSIC(K, N, iterations=2, epochs=20)
    det.fit(y[0], s[0], seed=0)
    before = det(y, 0.1).numpy()
    out = det.adapt(y[0], epochs=5)        # its own decisions as labels
    assert len(out["epochs"]) == 2
    assert not np.array_equal(det(y, 0.1).numpy(), before)


def _config(detectors, time_varying=True):
    return {"experiment": {"name": "online-test", "seed": 5},
            "link": {"constellation": "bpsk", "frame_length": 50,
                     "batch_size": 4},
            "channel": {"kind": "mimo", "users": 2, "antennas": 2,
                        "profile": "sed", "time_varying": time_varying},
            "sweep": {"snr_db": [6.0], "target_errors": 10_000,
                      "max_symbols": 800},
            "detector": detectors}


def test_sweep_retrains_per_frame_and_resumes(tmp_path):
    deepsic = {"name": "deepsic", "iterations": 2, "train_symbols": 400,
               "train_frame_length": 200, "epochs": 20}
    cfg = parse_config(_config([
        deepsic, {**deepsic, "label": "retrained", "retrain_pilots": 40,
                  "retrain_epochs": 10},
        {"name": "soft-ic", "label": "soft-ic",
         "csi": "estimated:pilots=40,estimator=ls"}]))
    db = tmp_path / "o.db"
    assert run_sweep(cfg, db) == (3, 0)
    with ResultsStore(db) as store:
        rows = {r["detector"]: r for r in store.points()}
    assert set(rows) == {"deepsic", "retrained", "soft-ic"}
    assert all(r["symbols"] == 800 for r in rows.values())
    assert len({r["seed"] for r in rows.values()}) == 1
    assert run_sweep(cfg, db) == (0, 3)


@pytest.mark.parametrize("detector, channel, match", [
    ({"name": "soft-ic", "retrain_pilots": 100}, True,
     "unknown option 'retrain_pilots'"),
    ({"name": "deepsic", "retrain_pilots": 100}, False,
     "same in every frame"),
    ({"name": "deepsic", "retrain_pilots": 10}, True, "too few"),
    ({"name": "deepsic", "retrain_epochs": 10}, True,
     "which retrain_pilots = N turns on"),
])
def test_retraining_config_errors(detector, channel, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(_config([detector], time_varying=channel))


def test_link_refuses_to_retrain_what_cannot_adapt():
    ch = MIMOChannel(K, N, profile="sed", time_varying=True)
    with pytest.raises(ValueError, match="not a SoftICDetector"):
        MIMOLink(Transmitter(ch.constellation), ch,
                 SoftICDetector(sed_matrix(N, K)), 5, retrain_pilots=100)
