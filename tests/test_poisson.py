"""The Poisson channel with on-off keying (optical / molecular links):
OOK constellation, ``channels.PoissonChannel``, Poisson branch metrics in
the trellis detectors, learned detectors on Poisson pilots, configs and
sweeps.

Model: ``y[k] ~ Poisson(sqrt(rho) sum_l h[l] x[k-l] + 1)``, ``x`` in {0, 1},
``no = 1/rho``. Truths are computed here with numpy / scipy
(``scipy.stats.poisson``), independently of the code under test.
"""

import itertools
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp
from scipy.stats import poisson

from channels import PoissonChannel, exponential_taps
from detectors import (BCJRDetector, LearnedFactorGraph,
                       PoissonSymbolwiseDetector, ViterbiDetector)
from signals.constellations import (constellation_name,
                                      constellation_points, is_real,
                                      make_constellation)
from detectors.poisson import (DARK_RATE, RATE_FLOOR, PoissonBranchMetrics,
                               poisson_branch_metrics, poisson_rates)
from rxsim import Transmitter
from rxsim.config import ConfigError, load_config, parse_config
from rxsim.stats import wilson_interval
from rxsim.pilots import pilot_data

TAPS = exponential_taps(4, 0.2)
ROOT = Path(__file__).resolve().parents[1]


def np_rates(taps, s, no):
    """``lam [B, T]`` of OOK indices ``s [B, T]`` (preamble: L-1 'off'
    symbols) for taps ``[L]`` or ``[B, L]`` and ``no [B]`` (numpy)."""
    taps = np.atleast_2d(taps)
    B, T = s.shape
    L = taps.shape[1]
    xp = np.concatenate([np.zeros((B, L - 1)), s.astype(float)], 1)
    mu = sum(taps[:, l, None] * xp[:, L - 1 - l:L - 1 - l + T]
             for l in range(L))
    return mu / np.sqrt(np.asarray(no, float).reshape(-1, 1)) + 1.0


# -- constellation ------------------------------------------------------------

def test_ook_constellation():
    c = make_constellation("ook")
    np.testing.assert_array_equal(np.asarray(c.points), [0, 1])
    assert is_real(c) and is_real("ook") and constellation_name(c) == "ook"
    assert c.num_points == 2 and c.num_bits_per_symbol == 1
    assert make_constellation("OOK").constellation_type == "custom"
    pts = constellation_points("ook")
    assert pts.dtype == tf.float32
    np.testing.assert_array_equal(pts.numpy(), [0.0, 1.0])
    s, x = Transmitter("ook")(4, 50, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(x.numpy(), s.numpy().astype(np.float32))
    # other custom constellations stay complex, as before
    from sionna.phy.mapping import Constellation
    for points in ([0.0, 2.0], [1.0 + 0j, 1j]):
        assert not is_real(Constellation("custom", 1, points=points))
    with pytest.raises(ValueError, match="'ook'"):
        make_constellation("ook4")


# -- channel ------------------------------------------------------------------

def test_channel_statistics_match_the_rates():
    """Per channel tuple (16 classes of lam), the sample mean and variance
    of the counts equal lam within 4.5 standard errors (Poisson moments:
    Var(mean) = lam/n, Var(S^2) ~ (lam(1 + 3 lam) - lam^2 (n-3)/(n-1))/n);
    the whole-block z-score too. Seeded."""
    rng = np.random.default_rng(7)
    taps, no = np.array([1.0, 0.55, 0.3, 0.12]), 0.25    # rho = 4
    B, T = 3000, 12
    s = rng.integers(0, 2, (B, T))
    y = PoissonChannel(taps)(s.astype(np.float32), no,
                             seed=tf.constant([3, 4])).numpy()
    assert y.dtype == np.float32 and y.shape == (B, T)
    assert np.all(y >= 0) and np.all(y == np.round(y))
    lam = np_rates(taps, s, [no])
    z = np.sum(y - lam) / np.sqrt(np.sum(lam))
    assert abs(z) < 4.5, z
    classes = np.unique(np.round(lam, 9))
    assert len(classes) == 16
    for value in classes:
        sel = np.isclose(lam, value)
        n, v = sel.sum(), y[sel]
        assert abs(v.mean() - value) < 4.5 * np.sqrt(value / n), value
        var_se = np.sqrt((value * (1 + 3 * value)
                          - value ** 2 * (n - 3) / (n - 1)) / n)
        assert abs(v.var(ddof=1) - value) < 4.5 * var_se, value


def test_channel_seeds_overrides_and_checks():
    ch = PoissonChannel(TAPS)
    x = np.ones((3, 20), np.float32)
    seed = tf.constant([5, 6])
    a, b = ch(x, 0.1, seed=seed), ch(x, 0.1, seed=seed)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), ch(x, 0.1, seed=[5, 7]).numpy())
    assert ch(x, 0.1).shape == (3, 20)                # global RNG path
    # per-frame taps override; negative rates are clipped to zero
    taps = np.array([[1.0, 0, 0, 0], [0, 0, 0, 0], [-5.0, 0, 0, 0]])
    lam = ch.rates(x, np.array([0.25, 0.25, 0.25]), taps=taps).numpy()
    np.testing.assert_allclose(lam[0], 3.0)
    np.testing.assert_allclose(lam[1], DARK_RATE)
    np.testing.assert_allclose(lam[2], 0.0)
    y = ch(x, 0.25, taps=taps, seed=seed).numpy()
    assert np.all(y[2] == 0)
    # the preamble is 'off': the first sample sees only h[0] x[0]
    np.testing.assert_allclose(
        ch.rates(np.array([[1.0, 0, 0]]), 1.0).numpy(),
        [[1 + TAPS[0], 1 + TAPS[1], 1 + TAPS[2]]], rtol=1e-6)
    with pytest.raises(ValueError, match="> 0"):
        ch(x, 0.0)
    with pytest.raises(ValueError, match="complex"):
        PoissonChannel(TAPS, constellation="qpsk")
    with pytest.raises(ValueError, match="non-negative"):
        PoissonChannel(TAPS, constellation="bpsk")
    with pytest.raises(TypeError, match="real taps"):
        PoissonChannel([1.0 + 1j, 0.5])


def test_channel_and_detector_share_the_rate_model():
    """The detector's branch rates equal the channel's rates of the
    corresponding symbol tuples (trellis numbering: oldest symbol most
    significant)."""
    taps, no = np.array([0.9, 0.5, 0.2]), 0.04
    lam_det = poisson_branch_metrics(np.ones((1, 1)), no, taps,
                                     [0.0, 1.0]).numpy()[0, 0]   # [S, M]
    for s_state, m in itertools.product(range(4), range(2)):
        older, newer = divmod(s_state, 2)        # x[k-2], x[k-1]
        frame = np.array([[older, newer, m]], float)
        lam = PoissonChannel(taps).rates(frame, no).numpy()[0, 2]
        # metric at y = 1 is log(lam) - lam
        np.testing.assert_allclose(lam_det[s_state, m],
                                   np.log(lam) - lam, rtol=1e-6)


# -- Poisson trellis detectors vs exhaustive enumeration ----------------------

def exhaustive(y, no, taps, T):
    """ML sequence and log-marginals ``[T, 2]`` of one frame, by
    enumerating all 2^T OOK sequences with scipy's Poisson pmf."""
    seqs = np.array(list(itertools.product([0, 1], repeat=T)))
    lam = np_rates(np.broadcast_to(taps, (len(seqs), len(taps))), seqs,
                   np.full(len(seqs), no))
    ll = poisson.logpmf(y[None], lam).sum(axis=1)
    post = ll - logsumexp(ll)
    marg = np.array([[logsumexp(post[seqs[:, k] == m]) for m in (0, 1)]
                     for k in range(T)])
    return seqs[np.argmax(ll)], marg


@pytest.mark.parametrize("L,T", [(2, 8), (4, 7)])
def test_poisson_viterbi_and_bcjr_equal_exhaustive(L, T):
    """Per-frame random taps and SNRs, double precision: Viterbi = the
    exhaustive ML sequence, BCJR = the exhaustive marginals."""
    rng = np.random.default_rng(100 + L)
    B = 12
    taps = rng.uniform(0.1, 1.0, (B, L))
    no = 10 ** (-rng.uniform(0, 15, B) / 10)
    s = rng.integers(0, 2, (B, T))
    y = rng.poisson(np_rates(taps, s, no)).astype(float)
    kw = dict(constellation="ook", likelihood="poisson", precision="double")
    vit = ViterbiDetector(taps, hard_out=True, **kw)(y, no).numpy()
    lp = BCJRDetector(taps, **kw)(y, no).numpy()
    for b in range(B):
        ml, marg = exhaustive(y[b], no[b], taps[b], T)
        np.testing.assert_array_equal(vit[b], ml)
        np.testing.assert_allclose(np.exp(lp[b]), np.exp(marg), atol=1e-9)


def test_poisson_metrics_lazy_full_and_taps_override():
    """The lazy metrics equal the full tensor; ``det(y, no, taps=...)``
    equals a detector built with those taps; rates are clipped at
    RATE_FLOOR, so negative believed taps give finite outputs."""
    rng = np.random.default_rng(3)
    B, T, L = 5, 30, 4
    y = rng.poisson(5.0, (B, T)).astype(np.float32)
    no = np.full(B, 0.01, np.float32)
    taps = TAPS * (1 + 0.5 * rng.standard_normal((B, L)))
    full = poisson_branch_metrics(y, no, taps, [0.0, 1.0]).numpy()
    lazy = PoissonBranchMetrics(y, no, taps, tf.constant([0.0, 1.0]))
    for k in (0, 7, T - 1):
        np.testing.assert_allclose(
            np.transpose(lazy.at(k).numpy(), [2, 0, 1]), full[:, k],
            rtol=1e-5, atol=1e-4)
    det = BCJRDetector(TAPS, constellation="ook", likelihood="poisson")
    np.testing.assert_allclose(
        det(y, no, taps=taps).numpy(),
        BCJRDetector(taps, constellation="ook",
                     likelihood="poisson")(y, no).numpy(),
        atol=1e-5)
    bad = np.array([1.0, -3.0, 0.5, -1.0])                 # lam < 0 occurs
    lam = poisson_rates(no, bad, [0.0, 1.0]).numpy()
    assert np.isclose(lam.min(), RATE_FLOOR) and (lam > 1).any()
    assert np.isfinite(poisson_branch_metrics(y, no, bad,
                                              [0.0, 1.0]).numpy()).all()
    bad = np.tile(bad, (B, 1))             # per frame: no new compilation
    for out in (det(y, no, taps=bad),
                ViterbiDetector(bad, constellation="ook",
                                likelihood="poisson", hard_out=True)(y, no)):
        assert np.isfinite(out.numpy()).all()


def test_likelihood_option_checks():
    with pytest.raises(ValueError, match="likelihood"):
        BCJRDetector(TAPS, constellation="ook", likelihood="laplace")
    with pytest.raises(ValueError, match="real"):
        ViterbiDetector(TAPS, constellation="qpsk", likelihood="poisson")
    det = ViterbiDetector(TAPS, constellation="ook", likelihood="poisson")
    assert det.likelihood == "poisson"
    assert ViterbiDetector(TAPS).likelihood == "gaussian"
    assert isinstance(det.branch_metrics(tf.ones([2, 5]), 0.1),
                      PoissonBranchMetrics)


def test_poisson_symbolwise_is_the_per_sample_mixture():
    rng = np.random.default_rng(4)
    taps, no = np.array([1.0, 0.7, 0.4]), 0.05
    s = rng.integers(0, 2, (3, 40))
    y = rng.poisson(np_rates(taps, s, [no])).astype(float)
    lp = PoissonSymbolwiseDetector(taps, precision="double")(y, no).numpy()
    past = np.array(list(itertools.product([0, 1], repeat=2)))  # [4, 2]
    lam = (taps[0] * np.arange(2)[None] + past @ taps[1:][:, None]) \
        / np.sqrt(no) + 1                                        # [4, 2]
    ll = logsumexp(poisson.logpmf(y[..., None, None], lam), axis=-2)
    ll -= logsumexp(ll, axis=-1, keepdims=True)
    np.testing.assert_allclose(lp, ll, atol=1e-9)


# -- statistics on the papers' channel ---------------------------------------

SNR_DB = 24.0
NO = 10 ** (-SNR_DB / 10)


@pytest.fixture(scope="module")
def test_block():
    """1e5 OOK symbols through the Poisson channel at 24 dB (BCJR SER
    about 4e-2)."""
    return pilot_data(TAPS, SNR_DB, 100_000, constellation="ook",
                      frame_length=500, seed=21, channel_kind="poisson")


def test_gaussian_metric_is_worse_than_poisson_metric(test_block,
                                                      count_errors):
    """The best Gaussian receiver we can give the same counts -- BCJR on
    ``y - 1`` with taps ``sqrt(rho) h`` and the moment-matched variance
    ``E[lam]`` -- loses to the Poisson metric: the Wilson intervals are
    disjoint (measured: ~4300 vs ~5100 errors)."""
    y, s = test_block
    n = s.size
    k_poisson = count_errors(BCJRDetector(TAPS, constellation="ook",
                                          likelihood="poisson",
                                          hard_out=True), y, s, NO)
    rho = 1 / NO
    var = np.sqrt(rho) * TAPS.sum() * 0.5 + DARK_RATE     # mean rate
    k_gauss = count_errors(BCJRDetector(np.sqrt(rho) * TAPS,
                                        constellation="ook", hard_out=True),
                           y - DARK_RATE, s, var)
    assert 2000 < k_poisson < 7000          # the intended operating point
    lo_g, _ = wilson_interval(k_gauss, n, 0.999)
    _, hi_p = wilson_interval(k_poisson, n, 0.999)
    assert lo_g > hi_p, (k_gauss, k_poisson)


@pytest.mark.slow
def test_learned_factor_graph_on_poisson_pilots(test_block, tmp_path,
                                               count_errors):
    """BCJRNet trained on 5000 Poisson pilots is near Poisson BCJR.

    Measured ~4330 vs ~4260 errors. An equally good detector gives a
    log-ratio of the counts with standard deviation below sqrt(2/4260) =
    0.02; the bound (99.9% Wilson intervals, lower end of the learned
    detector within 1.2x the upper end of BCJR) is > 8 of them away, while
    a broken detector (wrong labels or metric) is several times worse.
    Also: an OOK checkpoint round-trips exactly.
    """
    y, s = test_block
    yp, sp = pilot_data(TAPS, SNR_DB, 5000, constellation="ook",
                        frame_length=500, seed=22, channel_kind="poisson")
    assert np.all(yp >= 0) and np.all(yp == np.round(yp))
    net = LearnedFactorGraph(4, constellation="ook")
    net.fit(yp, sp, seed=1, verbose=False)
    n = s.size
    k_net = count_errors(net, y, s, NO)
    k_bcjr = count_errors(BCJRDetector(TAPS, constellation="ook",
                                       likelihood="poisson", hard_out=True),
                          y, s, NO)
    lo_net, _ = wilson_interval(k_net, n, 0.999)
    _, hi_bcjr = wilson_interval(k_bcjr, n, 0.999)
    assert lo_net <= 1.2 * hi_bcjr, (k_net, k_bcjr)
    k_sw = count_errors(PoissonSymbolwiseDetector(TAPS, hard_out=True), y,
                        s, NO)
    assert k_net < k_sw / 3, (k_net, k_sw)
    net.save(tmp_path / "bnet")
    again = LearnedFactorGraph.load(tmp_path / "bnet")
    assert constellation_name(again.constellation) == "ook"
    np.testing.assert_array_equal(again(y[:4], NO).numpy(),
                                  net(y[:4], NO).numpy())


def test_pilot_data_poisson():
    y, s = pilot_data(TAPS, 20.0, 2000, constellation="ook",
                      frame_length=500, seed=3, channel_kind="poisson")
    y2, _ = pilot_data(TAPS, 20.0, 2000, frame_length=500, seed=3,
                       channel_kind="poisson")      # OOK by default
    np.testing.assert_array_equal(y, y2)
    lam = np_rates(TAPS, s, [10 ** -2])
    assert abs(np.sum(y - lam) / np.sqrt(lam.sum())) < 4.5
    yp, sp = pilot_data(TAPS, 20.0, 2000, frame_length=500, seed=3,
                        csi="perturbed:var=0.5", channel_kind="poisson")
    np.testing.assert_array_equal(sp, s)            # same symbols ...
    assert not np.array_equal(yp, y)                # ... other channels
    with pytest.raises(ValueError, match="estimated"):
        pilot_data(TAPS, 20.0, 500, csi="estimated:pilots=16",
                   channel_kind="poisson")
    with pytest.raises(ValueError, match="channel_kind"):
        pilot_data(TAPS, 20.0, 500, channel_kind="optical")


# -- configs and sweeps -------------------------------------------------------

def poisson_config(**over):
    data = {"experiment": {"name": "p"},
            "link": {"constellation": "ook"},
            "channel": {"kind": "poisson", "memory": 4, "gamma": 0.2},
            "sweep": {"snr_db": [20]},
            "detector": [{"name": "bcjr", "likelihood": "poisson"}]}
    data.update(over)
    return data


def test_poisson_config_parses():
    cfg = parse_config(poisson_config())
    assert cfg.channels[0].kind == "poisson"
    assert cfg.channels[0].label == "poisson:L=4,gamma=0.2"
    assert cfg.xla is False                 # no XLA kernel for Poisson
    isi = parse_config(poisson_config(
        channel={"memory": 4, "gamma": 0.2},
        detector=[{"name": "bcjr"}]))
    assert isi.xla is True and isi.channels[0].kind == "isi"
    assert cfg.point_hash(cfg.channels[0], cfg.detectors[0]) != \
        isi.point_hash(isi.channels[0], cfg.detectors[0])
    shipped = load_config(ROOT / "configs" / "poisson.toml")
    assert shipped.channels[0].kind == "poisson" and not shipped.xla


def test_isi_point_hashes_unchanged():
    """Hashes of ISI curves are those of the code before channel kinds
    existed (values computed with it), so existing stores resume."""
    for channel, want in (({"memory": 4, "gamma": 0.2},
                           ["309885cc7e81e512", "1c7e98518be1d4be"]),
                          ({"taps": [1.0, 0.5]},
                           ["f9a2b73db9f3a2e7", "e7da5d48d5d52e72"])):
        cfg = parse_config({
            "experiment": {"name": "t", "seed": 3}, "channel": channel,
            "sweep": {"snr_db": [0, 5]},
            "detector": [{"name": "bcjr", "csi": "perturbed:var=0.1"},
                         {"name": "viterbinet"}]})
        assert [cfg.point_hash(cfg.channels[0], d)
                for d in cfg.detectors] == want


def test_bad_poisson_combinations_reported_together():
    data = poisson_config(
        link={"constellation": "qpsk", "xla": True},
        detector=[{"name": "bcjr"},
                  {"name": "viterbi", "likelihood": "gaussian"},
                  {"name": "lmmse"},
                  {"name": "bcjr", "likelihood": "poisson",
                   "csi": "estimated:pilots=16"},
                  {"name": "symbolwise", "likelihood": "bogus"}])
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = "\n".join(err.value.problems)
    for needle in ("constellation = 'ook'", "xla = true",
                   "'bcjr' (bcjr) on a 'poisson' channel needs likelihood",
                   "'viterbi' (viterbi) on a 'poisson'",
                   "(lmmse) has no Poisson model", "estimation",
                   "'bogus'"):
        assert needle in text, (needle, text)
    # the Poisson metric on the Gaussian channel is an error as well
    with pytest.raises(ConfigError, match="needs \\[channel\\] kind"):
        parse_config(poisson_config(
            channel={"memory": 4, "gamma": 0.2}))
    with pytest.raises(ConfigError, match="kind 'optical' unknown"):
        parse_config(poisson_config(
            channel={"kind": "optical", "memory": 4, "gamma": 0.2}))


def _tiny_sweep(tmp_path, detectors, rows_out=None):
    from rxsim.store import ResultsStore
    from rxsim.sweep import run_sweep

    cfg = parse_config(poisson_config(
        link={"constellation": "ook", "frame_length": 100,
              "batch_size": 100},
        sweep={"snr_db": [26], "target_errors": 50, "max_symbols": 20_000,
               "confidence": 0.999},
        detector=detectors))
    db = tmp_path / "p.sqlite"
    n = len(detectors)
    assert run_sweep(cfg, db) == (n, 0)
    assert run_sweep(cfg, db) == (0, n)          # resume skips all
    with ResultsStore(db) as store:
        rows = {r["detector"]: r for r in store.points(experiment="p")}
    assert {r["channel"] for r in rows.values()} == {"poisson:L=4,gamma=0.2"}
    if rows_out is not None:
        rows_out.update(rows)
    return {k: r["ser"] for k, r in rows.items()}


def test_poisson_sweep_end_to_end(tmp_path):
    """A tiny Poisson sweep: model-based with perfect and perturbed CSI
    (believed taps per frame through the compiled link) and symbol-wise
    points land in the store. Perturbed taps must cost errors: the
    perturbed point's 99.9% interval (frame-based, from the store) lies
    above the perfect-CSI one (at 26 dB, measured: ~9e-2 against ~2.4e-2;
    a link that ignores the CSI case gives two estimates of one SER, whose
    intervals overlap). Symbol-wise detection ignores the ISI: ~0.24."""
    rows = {}
    ser = _tiny_sweep(tmp_path, [
        {"name": "bcjr", "likelihood": "poisson"},
        {"name": "bcjr", "likelihood": "poisson",
         "csi": "perturbed:var=0.08"},
        {"name": "symbolwise", "likelihood": "poisson"}], rows)
    perfect, perturbed = rows["bcjr"], rows["bcjr (perturbed:var=0.08)"]
    assert perfect["errors"] > 0
    assert perturbed["ser_lo"] > perfect["ser_hi"], ser
    assert perfect["ser"] < rows["symbolwise"]["ser_lo"], ser
    assert 0.15 < ser["symbolwise"] < 0.35, ser


@pytest.mark.slow
def test_poisson_sweep_learned_slow(tmp_path):
    """Learned detectors in a Poisson sweep: trained on Poisson pilots
    (perfect and perturbed), checkpointed as OOK detectors."""
    ser = _tiny_sweep(tmp_path, [
        {"name": "bcjr", "likelihood": "poisson"},
        {"name": "bcjrnet", "train_symbols": 2000},
        {"name": "viterbinet", "train_symbols": 2000,
         "csi": "perturbed:var=0.08"},
        {"name": "symbolwise", "likelihood": "poisson"}])
    assert 0.005 < ser["bcjr"] < 0.06, ser
    assert ser["bcjrnet"] < 0.5 * ser["symbolwise"], ser
    assert ser["viterbinet (perturbed:var=0.08)"] < \
        0.5 * ser["symbolwise"], ser
    assert list((tmp_path / "p.checkpoints").glob("*.json"))
