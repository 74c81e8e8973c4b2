"""Common random numbers: every detector of a (channel, SNR) point is
measured on the same frames, channel realisations and noise, so the
differences a sweep reports between detectors are paired."""

import math
import tomllib

import numpy as np
import pytest
from scipy import stats

from rxsim.config import parse_config
from rxsim.store import ResultsStore
from rxsim.sweep import (build_link, data_seed, fit_seed, pilot_seed,
                         run_sweep, sweep_points, _pilots)

BASE = """
[experiment]
name = "crn"
seed = 5

[link]
frame_length = 100
batch_size = 100

[channel]
memory = 3
gamma = [0.3, 0.8]

[sweep]
snr_db = [2, 6, 10]
target_errors = 300
max_symbols = 40000
"""


def config(detectors, base=BASE):
    text = base + "".join(f"\n[[detector]]\n{d}\n" for d in detectors)
    return parse_config(tomllib.loads(text))


def rows(db):
    with ResultsStore(db) as store:
        return {(r["detector"], r["channel"], r["snr_db"]):
                (r, store.frame_counts(r)) for r in store.points()}


VITERBI_PAIR = ['name = "viterbi"', 'name = "maxlog-bcjr"',
                'name = "bcjr"',
                'name = "viterbi"\ncsi = "perturbed:var=0.1"',
                'name = "maxlog-bcjr"\ncsi = "perturbed:var=0.1"',
                'name = "bcjr"\ncsi = "perturbed:var=0.1"']


@pytest.fixture(scope="module")
def crn_store(tmp_path_factory):
    db = tmp_path_factory.mktemp("crn") / "crn.sqlite"
    run_sweep(config(VITERBI_PAIR), db)
    return rows(db)


def test_every_detector_of_a_point_gets_the_same_seed():
    cfg = config(VITERBI_PAIR)
    by_point = {}
    for p in sweep_points(cfg):
        by_point.setdefault((p.channel.label, p.key.snr_db), set()).add(
            p.seed)
    assert all(len(seeds) == 1 for seeds in by_point.values())
    # ... and the seed names the data: other SNRs or channels, other data
    assert len({s for seeds in by_point.values() for s in seeds}) == \
        len(by_point)


@pytest.mark.parametrize("csi", ["perfect", "perturbed:var=0.1"])
def test_viterbi_and_maxlog_bcjr_count_the_same_errors_everywhere(
        crn_store, csi):
    """Max-log MAP symbol decisions are the ML sequence (ties aside), so
    on the same frames (and, under a CSI case, the same believed taps)
    their stored counts are equal frame by frame at every point. Before
    common random numbers each detector drew its own data and the counts
    differed by noise (quick.toml: 1444 against 1577 at 6 dB)."""
    suffix = "" if csi == "perfect" else f" ({csi})"
    compared = 0
    for (det, ch, snr), (row, frames) in crn_store.items():
        if det != "viterbi" + suffix:
            continue
        other, other_frames = crn_store[("maxlog-bcjr" + suffix, ch, snr)]
        assert row["seed"] == other["seed"]
        assert (row["errors"], row["symbols"]) == (other["errors"],
                                                   other["symbols"])
        assert frames["errors"] == other_frames["errors"]
        compared += 1
    assert compared == 6


def test_bcjr_is_never_significantly_worse_than_viterbi(crn_store):
    """Symbol-wise MAP minimises the expected symbol errors, so on the same
    frames BCJR's errors may exceed Viterbi's only by chance: a one-sided
    paired test on the per-frame differences (Bonferroni over the 12
    points, family level 1e-3) must not reject at any point."""
    z = stats.norm.ppf(1 - 1e-3 / 12)
    for (det, ch, snr), (row, frames) in crn_store.items():
        if not det.startswith("bcjr"):
            continue
        suffix = det[len("bcjr"):]
        _, vit = crn_store[("viterbi" + suffix, ch, snr)]
        n = min(len(frames["errors"]), len(vit["errors"]))
        d = (np.asarray(frames["errors"][:n], float)
             - np.asarray(vit["errors"][:n], float))
        if not d.any():
            continue
        t = d.mean() / (d.std(ddof=1) / math.sqrt(n))
        assert t < z, (det, ch, snr, t)


def test_frame_counts_add_up_to_the_stored_counts(crn_store):
    for (row, frames) in crn_store.values():
        assert sum(frames["errors"]) == row["errors"]
        assert len(frames["errors"]) * 100 == row["symbols"]


def test_a_detector_s_numbers_do_not_depend_on_the_others_listed(tmp_path):
    """The data of a point depends on the channel and SNR only: BCJR alone
    and BCJR among other detectors (listed before it) get the same
    frame-by-frame counts."""
    alone, among = tmp_path / "alone.sqlite", tmp_path / "among.sqlite"
    run_sweep(config(['name = "bcjr"']), alone)
    run_sweep(config(['name = "lmmse"', 'name = "viterbi"',
                      'name = "bcjr"\ncsi = "perturbed:var=0.1"',
                      'name = "bcjr"']), among)
    a, b = rows(alone), rows(among)
    for key, (row, frames) in a.items():
        assert (row["errors"], row["seed"]) == (b[key][0]["errors"],
                                                b[key][0]["seed"])
        assert frames == b[key][1]


def test_detector_options_do_not_change_the_data():
    cfg = config(['name = "viterbi"', 'name = "viterbi"\nlabel = "v2"\n'
                  'initial_state = "unknown"'])
    points = sweep_points(cfg)
    first = points[0]
    other = next(p for p in points if p.key.detector == "v2"
                 and p.channel == first.channel
                 and p.key.snr_db == first.key.snr_db)
    assert first.key.config_hash != other.key.config_hash
    assert first.seed == other.seed == data_seed(cfg, cfg.channels[0], 2)


def test_learned_detectors_of_a_point_train_on_the_same_pilots():
    """Pilots depend on the channel, SNR, the pilots' CSI case and the
    training replicate, not on which learned detector trains on them; the
    detector's own randomness (fit seed) does depend on its label."""
    cfg = config(['name = "bcjrnet"', 'name = "viterbinet"',
                  'name = "viterbinet"\nlabel = "v #1"\ntrain_seed = 1'])
    ch = cfg.channels[0]
    bcjrnet, viterbinet, replicate = cfg.detectors
    assert pilot_seed(cfg, ch, bcjrnet.csi) == \
        pilot_seed(cfg, ch, viterbinet.csi)
    assert pilot_seed(cfg, ch, "perturbed:var=0.1") != \
        pilot_seed(cfg, ch, "perfect")
    assert pilot_seed(cfg, ch, replicate.csi, 1) != \
        pilot_seed(cfg, ch, viterbinet.csi, 0)
    assert fit_seed(cfg, ch, bcjrnet, 6) != fit_seed(cfg, ch, viterbinet, 6)
    train = {"train_symbols": 1000, "train_frame_length": 500}
    y1, s1 = _pilots(ch.tap_array(), [6.0], train, "bpsk", None, "isi",
                     pilot_seed(cfg, ch, "perfect"))
    y2, s2 = _pilots(ch.tap_array(), [6.0], train, "bpsk", None, "isi",
                     pilot_seed(cfg, ch, "perfect"))
    np.testing.assert_array_equal(y1, y2)
    # the same frames at another SNR are new draws
    y3, _ = _pilots(ch.tap_array(), [10.0], train, "bpsk", None, "isi",
                    pilot_seed(cfg, ch, "perfect"))
    assert not np.allclose(y1 * 10 ** 0.2, y3)


def test_authors_pilots_reuse_one_sequence_across_snrs():
    """``pilots_across_snr = "reuse"``: one pilot sequence per channel, the
    same symbols and believed taps at every SNR, fresh noise (as the
    authors' script draws it)."""
    cfg = config(['name = "bcjr"'])
    ch = cfg.channels[0]
    train = {"train_symbols": 1000, "train_frame_length": 1000,
             "pilots_across_snr": "reuse"}
    seed = pilot_seed(cfg, ch, "perfect")
    y6, s6 = _pilots(ch.tap_array(), [6.0], train, "bpsk", None, "isi", seed)
    y10, s10 = _pilots(ch.tap_array(), [10.0], train, "bpsk", None, "isi",
                       seed)
    np.testing.assert_array_equal(s6, s10)
    clean = build_link(cfg, ch, cfg.detectors[0]).channel(
        np.where(s6 == 0, 1.0, -1.0).astype(np.float32), 0.0).numpy()
    w6, w10 = (y6 - clean) * 10 ** (6 / 20), (y10 - clean) * 10 ** (10 / 20)
    assert abs(np.corrcoef(w6.ravel(), w10.ravel())[0, 1]) < 0.1
    assert w6.var() == pytest.approx(1.0, rel=0.15)
    # fresh pilots (the default) are new symbols at every SNR
    fresh = dict(train, pilots_across_snr="fresh")
    _, f10 = _pilots(ch.tap_array(), [10.0], fresh, "bpsk", None, "isi",
                     seed)
    assert (f10 != s6).mean() > 0.3


@pytest.mark.parametrize("csi, pilots_csi", [
    ("estimated:from=training", "perfect"),
    ("estimated:from=training,var=0.1", "perturbed:var=0.1")])
def test_ls_baseline_estimates_from_the_learned_detectors_pilots(
        csi, pilots_csi):
    """``estimated:from=training``: taps and noise variance by least
    squares from exactly the pilots a learned detector with the default
    training options trains on at that point (same seed, same CSI case of
    the pilots' channel)."""
    from channels.csi import estimate_channel_ls
    from rxsim.registry import training_options
    cfg = config([f'name = "bcjr"\ncsi = "{csi}"',
                  f'name = "bcjrnet"\ncsi = "{pilots_csi}"'])
    ch = cfg.channels[0]
    ls, learned = cfg.detectors
    train = training_options(learned.options)
    y, s = _pilots(ch.tap_array(), [6.0], train, "bpsk", pilots_csi, "isi",
                   pilot_seed(cfg, ch, learned.csi, train["train_seed"]))
    assert y.shape == (10, 500)
    points = np.array([1.0, -1.0])
    taps, no = estimate_channel_ls(y, points[s], 3, preamble_point=1.0)
    link = build_link(cfg, ch, ls, snr_db=6.0)
    # the link hands the estimates to the detector (which keeps the true
    # taps, so the curve's links differ only in variables)
    np.testing.assert_allclose(np.asarray(link.believed_taps).ravel(),
                               np.asarray(taps).ravel(), rtol=1e-6)
    assert link.noise_variance == pytest.approx(float(no), rel=1e-6)
    assert link.csi is None
    true_no = 10 ** -0.6
    if pilots_csi == "perfect":
        # an estimate near the truth (5000 pilots at 6 dB)
        assert abs(link.noise_variance - true_no) < 0.1 * true_no
        np.testing.assert_allclose(np.asarray(taps).ravel(), ch.tap_array(),
                                   atol=0.05)
    else:
        # one fit over frames whose taps differ: their spread shows up as
        # noise on top of the true noise
        assert link.noise_variance > 1.1 * true_no


def test_ls_baseline_runs_in_a_sweep_per_point(tmp_path):
    cfg = config(['name = "bcjr"', 'name = "bcjr"\nlabel = "ls"\n'
                  'csi = "estimated:from=training"'])
    db = tmp_path / "ls.sqlite"
    run_sweep(cfg, db)
    r = rows(db)
    for (det, ch, snr), (row, _) in r.items():
        if det == "ls":
            perfect = r[("bcjr", ch, snr)][0]
            # 5000 pilots: the estimate costs little against perfect CSI
            assert row["errors"] <= 1.3 * perfect["errors"] + 30
