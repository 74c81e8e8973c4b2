"""Multiuser MIMO through configs, the sweep, the engine and the store
(issue 17): ``[channel] kind = "mimo"``, the MIMO detector names, common
random numbers, CSI cases in the link, resume, and config errors."""

import numpy as np
import pytest
import tensorflow as tf

from channels import MIMOChannel
from channels.mimo import sed_matrix
from detectors.mimo import MIMOMLDetector, SoftICDetector
from rxsim import Transmitter
from rxsim.config import ConfigError, parse_config
from rxsim.mimo_link import MIMOLink
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep


def _config(detectors, **channel):
    return {"experiment": {"name": "mimo-test", "seed": 5},
            "link": {"constellation": "bpsk", "frame_length": 50,
                     "batch_size": 10},
            "channel": {"kind": "mimo", "users": 3, "antennas": 3,
                        "profile": "sed", **channel},
            "sweep": {"snr_db": [6.0], "target_errors": 10_000,
                      "max_symbols": 3000},
            "detector": detectors}


def test_config_reads_mimo_keys_and_detectors():
    cfg = parse_config(_config([{"name": "ml"}, {"name": "soft-ic",
                                                 "iterations": 3},
                                {"name": "deepsic", "iterations": 2,
                                 "train_symbols": 1000,
                                 "train_frame_length": 500}]))
    (spec,) = cfg.channels
    assert (spec.kind, spec.users, spec.antennas, spec.profile) == \
        ("mimo", 3, 3, "sed")
    assert spec.label == "mimo:K=3,N=3,sed"
    # `iterations` is the detector's own option here, not turbo passes
    assert cfg.detectors[1].options == {"iterations": 3}
    assert cfg.detectors[1].iterations is None


@pytest.mark.parametrize("change, match", [
    ({"channel": {"profile": "wishart"}}, "profile 'wishart' unknown"),
    ({"detector": [{"name": "bcjr"}]}, "name 'bcjr' unknown on a mimo"),
    ({"channel": {"users": 4, "antennas": 2},
      "detector": [{"name": "zf"}]}, r"N >= K"),
    ({"detector": [{"name": "deepsic", "csi": "estimated:pilots=8"}]},
     "learned detector learns from its pilots"),
    ({"detector": [{"name": "lmmse", "csi": "estimated:pilots=2"}]},
     "least squares needs pilots >= K = 3"),
    ({"detector": [{"name": "deepsic", "train_symbols": 1200}]},
     "multiple of train_frame_length"),
    ({"detector": [{"name": "ml", "k": 4}]}, "unknown option 'k'"),
    ({"detector": [{"name": "deepsic", "augment": 8}]},
     r"augment.*in \[0, 7\]"),
    ({"detector": [{"name": "dnn", "augment": 2, "train_symbols": 100,
                    "train_frame_length": 100}]},
     "train_symbols >= 160 or augment = 0"),
    ({"channel": {"gamma": 0.5}}, "gamma is not a key of kind = 'mimo'"),
    ({"code": {"type": "ldpc5g", "k": 100, "n": 200}},
     "not supported yet"),
])
def test_config_errors(change, match):
    data = _config([{"name": "ml"}])
    for section, value in change.items():
        if isinstance(value, dict) and section in data:
            data[section] = {**data[section], **value}
        else:
            data[section] = value
    if "code" in change:
        del data["link"]["frame_length"]
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_lmmse_estimator_is_refused_on_isi_channels():
    with pytest.raises(ConfigError, match="estimator=lmmse is for kind"):
        parse_config({"experiment": {"name": "x"},
                      "channel": {"memory": 2, "gamma": 0.5},
                      "sweep": {"snr_db": [0]},
                      "detector": [{"name": "bcjr", "csi":
                                    "estimated:pilots=8,estimator=lmmse"}]})


def test_link_counts_user_symbols_and_matches_the_detector():
    ch = MIMOChannel(3, 3, profile="sed")
    det = MIMOMLDetector(sed_matrix(3, 3), hard_out=True)
    link = MIMOLink(Transmitter(ch.constellation), ch, det, 40)
    seed = tf.constant([4, 9])
    s, y, state = link.draw(5, 0.3, seed)
    direct = det(y, 0.3, h=state["channel_matrix"])
    counts = link.count(5, 0.3, seed)
    assert int(counts["symbols"]) == 5 * 40 * 3
    assert int(counts["errors"]) == int(np.sum(direct.numpy() != s.numpy()))
    np.testing.assert_array_equal(
        counts["frame_errors"].numpy(),
        np.sum(direct.numpy() != s.numpy(), axis=(1, 2)))


def test_csi_cases_hand_the_detector_what_they_say():
    ch = MIMOChannel(2, 3, profile="rayleigh", constellation="qpsk")
    det = SoftICDetector(np.zeros([3, 2]), constellation=ch.constellation)
    seed = tf.constant([1, 2])
    _, _, state = MIMOLink(Transmitter(ch.constellation), ch, det, 10).draw(
        400, 1e-3, seed)
    h = state["channel_matrix"]

    def believed(csi, no=1e-3):
        link = MIMOLink(Transmitter(ch.constellation), ch, det, 10, csi=csi)
        return link.believed_channel(h, no, state["csi_seed"]).numpy()

    np.testing.assert_array_equal(believed("perfect"), h.numpy())
    assert not np.any(believed("mean"))
    err = believed("perturbed:var=0.1") / h.numpy() - 1
    # relative errors CN(0, 0.1): the sample variance of 2400 entries
    assert abs(np.mean(np.abs(err) ** 2) - 0.1) < 0.01
    add = believed("perturbed:var=0.1,mode=additive") - h.numpy()
    assert abs(np.mean(np.abs(add) ** 2) - 0.1) < 0.01
    # 16 pilots at 30 dB: LS error variance about no * K / P per entry
    ls = believed("estimated:pilots=16") - h.numpy()
    assert np.mean(np.abs(ls) ** 2) < 5 * 1e-3 * 2 / 16
    # LMMSE shrinks: at a low SNR it beats LS on Rayleigh entries
    low = 1.0
    e_ls = believed("estimated:pilots=4", low) - h.numpy()
    e_mmse = believed("estimated:pilots=4,estimator=lmmse", low) - h.numpy()
    assert np.mean(np.abs(e_mmse) ** 2) < np.mean(np.abs(e_ls) ** 2)


@pytest.mark.parametrize("estimator", ["ls", "lmmse"])
def test_complex_channel_estimate_compiles_and_matches_numpy(estimator):
    """Complex (QPSK) pilots: the XLA-compiled estimate (as inside a
    compiled link; XLA on CPU has no complex MatrixSolve) equals numpy's
    ``Y X^H (X X^H + r I)^-1`` computed in double precision."""
    from channels.mimo import estimate_channel
    rng = np.random.default_rng(4)
    x = (rng.choice([-1, 1], [5, 6, 3]) + 1j * rng.choice([-1, 1], [5, 6, 3])
         ) / np.sqrt(2)
    y = rng.normal(size=[5, 6, 4]) + 1j * rng.normal(size=[5, 6, 4])
    x, y = x.astype(np.complex64), y.astype(np.complex64)
    est = tf.function(lambda a, b: estimate_channel(
        a, b, 0.5, estimator=estimator), jit_compile=True)(y, x).numpy()
    xxh = np.einsum("bpk,bpj->bkj", x, x.conj()).astype(np.complex128)
    ridge = 0.5 if estimator == "lmmse" else \
        1e-5 * np.trace(xxh, axis1=1, axis2=2).real[:, None, None] / 3
    yxh = np.einsum("bpn,bpj->bnj", y, x.conj())
    want = yxh @ np.linalg.inv(xxh + ridge * np.eye(3))
    np.testing.assert_allclose(est, want, rtol=1e-4, atol=1e-5)


def test_sweep_runs_pairs_and_resumes(tmp_path):
    cfg = parse_config(_config([
        {"name": "ml"}, {"name": "ml", "label": "ml again"},
        {"name": "soft-ic"},
        {"name": "deepsic", "iterations": 2, "train_symbols": 1000,
         "train_frame_length": 500, "epochs": 30}]))
    db = tmp_path / "m.db"
    done, skipped = run_sweep(cfg, db)
    assert (done, skipped) == (4, 0)
    with ResultsStore(db) as store:
        rows = {r["detector"]: (r, store.frame_counts(r)["errors"])
                for r in store.points()}
    assert set(rows) == {"ml", "ml again", "soft-ic", "deepsic"}
    # common random numbers: the same frames for every detector
    assert len({r["seed"] for r, _ in rows.values()}) == 1
    assert rows["ml"][1] == rows["ml again"][1]
    assert all(r["symbols"] == 3000 for r, _ in rows.values())
    # ML is the per-user MAP detector: on the same frames it makes no more
    # errors in total than soft IC (40 errors of difference would be a
    # 6-sigma event at these counts if soft IC were as good)
    assert rows["ml"][0]["errors"] <= rows["soft-ic"][0]["errors"]
    assert run_sweep(cfg, db) == (0, 4)
    assert (tmp_path / "m.checkpoints").is_dir()
