"""channels.TDLChannel: Sionna's 3GPP TDL models as block-fading ISI
channels.

Each statistical bound is Z = 5 standard errors of the estimated mean (a
per-tap check over ~43 taps then fails about once in 10^5 seeds); every
draw is seeded.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.channel import cir_to_time_channel, \
    time_lag_discrete_time_channel
from sionna.phy.channel.tr38901 import TDL

from channels import TDLChannel
from channels.tdl import tdl_models
from signals.constellations import constellation_points

Z = 5.0
W = 10e6          # symbol rate [Hz]
FC = 3.5e9
DS = 100e-9


def make(model="A", **kw):
    kw.setdefault("delay_spread", DS if len(model) == 1 else None)
    kw.setdefault("symbol_rate", W)
    kw.setdefault("carrier_frequency", FC)
    return TDLChannel(model, **kw)


def qpsk_frames(batch, T, seed):
    rng = np.random.default_rng(seed)
    pts = constellation_points("qpsk", tf.complex128).numpy()
    return pts[rng.integers(0, 4, (batch, T))].astype(np.complex64)


def test_models_are_sionnas():
    assert set("ABCDE") <= set(tdl_models())
    for m in tdl_models():           # every listed name builds in Sionna
        TDL(m, DS, FC)


@pytest.mark.parametrize("model", ["A", "D"])   # NLoS, LoS (Rician tap)
def test_average_tap_powers_match_sionna(model, monkeypatch):
    """Bug caught: taps not Sionna's TDL -> cir_to_time_channel (wrong lags,
    bandwidth, delays, LoS), or a wrong normalisation."""
    n = 20000
    ch = make(model)
    full, _ = ch.draw_taps(n, seed=7)
    p_blk = np.abs(full.numpy().astype(np.complex128)) ** 2
    # Sionna directly, from its global RNG (seeded here, restored after)
    monkeypatch.setattr(config, "_tf_rng", tf.random.Generator.from_seed(11))
    tdl = TDL(model, DS, FC, precision="double")
    a, tau = tdl(n, 1, W)
    l_min, l_max = time_lag_discrete_time_channel(W)
    h = cir_to_time_channel(W, a, tau, l_min, l_max).numpy()
    p_dir = np.abs(h.reshape(n, -1)) ** 2
    assert p_dir.shape == p_blk.shape
    # the block's raw (pre-normalisation) energy is Sionna's truncated one
    tot = p_dir.sum(1)
    assert abs(tot.mean() - ch.raw_energy) < Z * tot.std() / np.sqrt(n)
    assert 0.95 < ch.raw_energy < 1.0
    # per tap: block / Sionna scaled by the normalisation
    d = p_blk.mean(0) - p_dir.mean(0) / ch.raw_energy
    se = np.sqrt(p_blk.var(0) / n + (p_dir / ch.raw_energy).var(0) / n)
    assert np.all(np.abs(d) < Z * se + 1e-12), np.max(np.abs(d) / se)
    # ... and equal the block's stated average profile
    se1 = p_blk.std(0) / np.sqrt(n)
    assert np.all(np.abs(p_blk.mean(0) - ch.average_tap_powers)
                  < Z * se1 + 1e-12)
    # unit average channel energy
    e = p_blk.sum(1)
    assert abs(e.mean() - 1.0) < Z * e.std() / np.sqrt(n)
    assert ch.total_energy == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("model", ["A", "D", "C300"])
def test_taps_are_sionnas_cir_normalised(model):
    """Bug caught: a missing or wrong normalisation (the 1 % deficit of the
    truncated sinc channel is below the sampling error of test above, so
    this checks it exactly): the block's taps are Sionna's
    cir_to_time_channel of the very (a, tau) its TDL drew, divided by
    sqrt(sum_l p_l) with p_l = sum_m P_m sinc^2(l - W tau_m) computed here
    in numpy."""
    ch = make(model, memory=3)
    drawn = []
    real_tdl = ch._tdl                      # pylint: disable=protected-access

    def recording(*args):
        out = real_tdl(*args)
        drawn.append(out)
        return out
    ch._tdl = recording                     # pylint: disable=protected-access
    full, _ = ch.draw_taps(50, seed=1)
    a, tau = drawn[0]
    l_min, l_max = time_lag_discrete_time_channel(W)
    h = cir_to_time_channel(W, a, tau, l_min, l_max).numpy().reshape(50, -1)
    lags = np.arange(int(l_min), int(l_max) + 1)
    P = real_tdl.mean_powers.numpy()
    d = real_tdl.delays.numpy()
    p = np.sum(P[:, None] * np.sinc(lags[None, :] - W * d[:, None]) ** 2, 0)
    assert ch.raw_energy == pytest.approx(p.sum(), rel=1e-9)
    np.testing.assert_allclose(full.numpy(), h / np.sqrt(p.sum()),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ch.average_tap_powers, p / p.sum(),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("speed", [0.0, 300.0])
def test_block_fading_independent_frames(speed):
    """Bug caught: taps shared or correlated across frames (e.g. one draw
    broadcast over the batch, or seeds reused between calls)."""
    n = 4000
    ch = make("A", speed=speed, memory=3)
    full, _ = ch.draw_taps(n, seed=3)
    h = full.numpy().astype(np.complex128)
    i = int(np.argmax(ch.average_tap_powers))
    a, b = h[:-1, i], h[1:, i]
    r = np.vdot(b, a) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)
    assert abs(r) < Z / np.sqrt(n - 1)
    # across calls with different seeds
    full2, _ = ch.draw_taps(n, seed=4)
    c = full2.numpy()[:, i]
    r2 = np.vdot(c, h[:, i]) / np.sqrt(np.vdot(c, c).real *
                                       np.vdot(h[:, i], h[:, i]).real)
    assert abs(r2) < Z / np.sqrt(n)


def test_same_seed_same_taps_and_noise():
    """Bug caught: draws from a global RNG (not reproducible)."""
    ch = make("C", memory=4)
    x = qpsk_frames(3, 40, 0)
    y1, f1, k1 = ch(x, 0.1, seed=[5, 6], return_taps=True)
    y2, f2, k2 = ch(x, 0.1, seed=[5, 6], return_taps=True)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(f1, f2)
    f3, k3 = ch.draw_taps(3, [5, 6])
    np.testing.assert_array_equal(f1, f3)
    np.testing.assert_array_equal(k1, k3)
    y4, f4, _ = ch(x, 0.1, seed=[5, 7], return_taps=True)
    assert not np.allclose(f1, f4) and not np.allclose(y1, y4)
    compiled = tf.function(lambda s: ch(x, 0.1, seed=s, return_taps=True))
    yc, fc, _ = compiled(tf.constant([5, 6]))
    np.testing.assert_allclose(fc, f1, atol=1e-6)
    np.testing.assert_allclose(yc, y1, atol=1e-5)


@pytest.mark.parametrize("model,memory", [("A", 1), ("A", 3), ("C", 5),
                                          ("D", 2), ("C300", 4)])
def test_kept_window_and_residual(model, memory):
    """Bug caught: a window that is not the max-energy one, or a residual
    not equal to 1 - the kept energy."""
    ch = make(model, memory=memory)
    p = ch.average_tap_powers
    sums = [p[i:i + memory].sum() for i in range(len(p) - memory + 1)]
    best = int(np.argmax(sums))
    assert ch.window_start == best
    assert ch.residual_energy == pytest.approx(1 - sums[best], abs=1e-12)
    assert 0 <= ch.residual_energy < 1
    np.testing.assert_allclose(ch.taps.numpy() ** 2,
                               p[best:best + memory], rtol=1e-5)
    # empirical kept energy
    n = 5000
    full, kept = ch.draw_taps(n, seed=9)
    np.testing.assert_array_equal(kept, full[:, best:best + memory])
    e = np.sum(np.abs(kept.numpy().astype(np.complex128)) ** 2, 1)
    assert abs(e.mean() - (1 - ch.residual_energy)) < \
        Z * e.std() / np.sqrt(n)


def numpy_tdl(x, full, i0, preamble):
    """``y[k] = sum_i h_i x[k + i0 - i]``, symbols outside the frame the
    preamble point."""
    B, T = x.shape
    n = full.shape[1]
    y = np.zeros((B, T), np.complex128)
    for b in range(B):
        for k in range(T):
            for i in range(n):
                m = k + i0 - i
                y[b, k] += full[b, i] * (x[b, m] if 0 <= m < T else preamble)
    return y


@pytest.mark.parametrize("model,memory,constellation,speed",
                         [("A", 3, "qpsk", 0.0), ("C", 4, "qam16", 300.0),
                          ("D", 1, "qpsk", 30.0)])
def test_applies_all_taps_aligned(model, memory, constellation, speed):
    """Bug caught: the residual taps dropped, a wrong delay (kept tap 0 not
    on x[k]), precursors not acting on future symbols, wrong frame edges,
    taps varying within a frame."""
    ch = make(model, memory=memory, constellation=constellation,
              speed=speed)
    pts = constellation_points(constellation, tf.complex128).numpy()
    rng = np.random.default_rng(1)
    x = pts[rng.integers(0, len(pts), (3, 60))].astype(np.complex64)
    y, full, kept = ch(x, 0.0, seed=[2, 3], return_taps=True)
    ref = numpy_tdl(x.astype(np.complex128), full.numpy(), ch.window_start,
                    pts[0])
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5)
    assert ch.window_start > 0       # there are precursors to check
    # the residual taps matter: the kept taps alone do not explain y
    from channels import convolve_with_preamble
    only_kept = convolve_with_preamble(tf.constant(x), kept,
                                       tf.constant(pts[0], tf.complex64))
    assert np.max(np.abs(y.numpy() - only_kept.numpy())) > 1e-3


def test_noise_variance_is_total_complex():
    """Bug caught: noise scaled per real part (no/2 vs no confusion)."""
    ch = make("A", memory=2)
    x = np.zeros((200, 200), np.complex64)
    y = ch(x, 0.3, seed=[1, 1]).numpy()
    # zero input but preamble edges: use the middle of the frame, which the
    # preamble does not reach (lags span at most 43 samples)
    w = y[:, 60:140].ravel()
    n = w.size
    v = np.mean(np.abs(w) ** 2)
    assert abs(v - 0.3) < Z * 0.3 / np.sqrt(n)


@pytest.mark.parametrize("kw,name", [
    ({"model": "F"}, "model"),
    ({"model": "a"}, "model"),
    ({"memory": 44}, "memory"),
    ({"speed": -1.0}, "speed"),
    ({"speed": (-1.0, 2.0)}, "speed"),
    ({"speed": (3.0, 1.0)}, "speed"),          # pair inverted
    ({"speed": (1.0, 2.0, 3.0)}, "speed"),
    ({"fading": "fast"}, "fading"),
    ({"delay_spread": -1e-9}, "delay_spread"),
    ({"symbol_rate": 0.0}, "symbol_rate"),
    ({"symbol_rate": -1e6}, "symbol_rate"),
    ({"constellation": "ook"}, "constellation"),
    ({"model": "A30", "delay_spread": 100e-9}, "delay_spread"),
    ({"delay_spread": None}, "delay_spread"),
])
def test_bad_input(kw, name):
    kw = dict(kw)
    model = kw.pop("model", "A")
    if "delay_spread" not in kw:
        kw["delay_spread"] = DS if len(model) == 1 else None
    with pytest.raises(ValueError, match=f"`{name}`|{name}") as err:
        make(model, **kw)
    if name == "model":
        assert all(m in str(err.value) for m in tdl_models())
    if name == "fading":
        assert "'block'" in str(err.value) and \
            "'continuous'" in str(err.value)
    if kw.get("constellation") == "ook":
        assert "on-off" in str(err.value)


def test_keyword_only():
    with pytest.raises(TypeError):
        TDLChannel("A", DS, W, FC)   # pylint: disable=too-many-function-args
