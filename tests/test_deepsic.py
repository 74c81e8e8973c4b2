"""DeepSIC and the black-box DNN on the SED channel: contract, checks,
checkpoints, batched vs one-at-a-time training, and SER against brute-force
ML (numpy, enumerating the 16 vectors) on the same test frames."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from channels.mimo import MIMOChannel, sed_matrix
from detectors.learned import TrainedWeights
from detectors.mimo import DeepSIC, MIMODNN
from detectors.mimo.deepsic import deepsic_parameter_count

from conftest import ALPHA

K = N = 4
SNR_DB = 10.0
NO = 10 ** (-SNR_DB / 10)


def _pilots(num, seed, users=K, antennas=N, no=NO):
    ch = MIMOChannel(users, antennas, profile="sed")
    h = ch.channel_matrices(1)
    s, y = ch.pilot_frames(h, no, num, seed=tf.constant([seed, 7]))
    return y.numpy()[0], s.numpy()[0]


def _test_frames(frames, T, seed):
    ch = MIMOChannel(K, N, profile="sed")
    h = ch.channel_matrices(frames)
    s, y = ch.pilot_frames(h, NO, T, seed=tf.constant([seed, 11]))
    return y.numpy(), s.numpy()


def _ml(y):
    """Brute-force ML of BPSK on the SED channel: indices [..., K]."""
    idx = np.array(list(itertools.product([0, 1], repeat=K)))
    x = 1.0 - 2.0 * idx                             # index 0 is +1
    centres = x @ sed_matrix(N, K).T                # [16, N]
    d = ((y[..., None, :] - centres) ** 2).sum(-1)
    return idx[d.argmin(-1)]


@pytest.fixture(scope="module")
def small():
    """A small trained DeepSIC (K = N = 2) and its pilots."""
    y, s = _pilots(600, 1, users=2, antennas=2, no=0.1)
    det = DeepSIC(2, 2, iterations=2, hidden=16, epochs=30)
    det.fit(y, s, seed=3)
    return det, y, s


def test_untrained_call_raises():
    with pytest.raises(RuntimeError, match="not trained"):
        DeepSIC(2, 2)(np.zeros([1, 3, 2]), 0.1)
    with pytest.raises(RuntimeError, match="not trained"):
        MIMODNN(2, 2)(np.zeros([1, 3, 2]), 0.1)


@pytest.mark.parametrize("y_shape, s_shape, err, match", [
    ((100, 3), (100, 2), ValueError, "N = 2"),          # wrong antennas
    ((100, 2), (100, 3), ValueError, "one symbol index per user"),
    ((100, 2), (99, 2), ValueError, "one symbol index per user"),
    ((100,), (100,), ValueError, r"\[P, N\]"),
    ((5, 2), (5, 2), ValueError, "too few"),
])
def test_wrong_pilot_shapes_raise(y_shape, s_shape, err, match):
    y = np.zeros(y_shape)
    s = np.zeros(s_shape, np.int32)
    for det in (DeepSIC(2, 2), MIMODNN(2, 2)):
        with pytest.raises(err, match=match):
            det.fit(y, s, epochs=1)


def test_bad_pilot_values_raise():
    det = DeepSIC(2, 2)
    y = np.zeros([100, 2])
    with pytest.raises(ValueError, match="indices in"):
        det.fit(y, np.full([100, 2], 2), epochs=1)
    with pytest.raises(TypeError, match="integer"):
        det.fit(y, np.zeros([100, 2]), epochs=1)
    with pytest.raises(TypeError, match="complex"):
        det.fit(y + 1j, np.zeros([100, 2], int), epochs=1)
    with pytest.raises(ValueError, match="training"):
        DeepSIC(2, 2, training="joint")


def test_frames_and_output_shapes(small):
    det, y, s = small
    out = det(y.reshape(3, 200, 2), NO)
    assert out.shape == (3, 200, 2, 2)
    np.testing.assert_allclose(np.exp(out.numpy()).sum(-1), 1.0, atol=1e-5)
    its = det.iteration_logits(y.reshape(3, 200, 2))
    assert len(its) == 2 and its[-1].shape == (3, 200, 2, 2)
    # training on frames [F, T, N] is training on their channel uses
    again = DeepSIC(2, 2, iterations=2, hidden=16, epochs=30)
    again.fit(y.reshape(3, 200, 2), s.reshape(3, 200, 2), seed=3)
    for a, b in zip(det._variables(), again._variables()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_save_load_bit_identical(small, tmp_path):
    det, y, _ = small
    path = tmp_path / "deepsic"
    det.save(path)
    back = TrainedWeights.load(path)
    assert type(back) is DeepSIC and back._config() == det._config()
    np.testing.assert_array_equal(back(y[None], NO).numpy(),
                                  det(y[None], NO).numpy())
    net = MIMODNN(2, 2, hidden=(16,), epochs=20)
    net.fit(y, small[2], seed=0)
    net.save(tmp_path / "dnn")
    back = MIMODNN.load(tmp_path / "dnn")
    np.testing.assert_array_equal(back(y[None], NO).numpy(),
                                  net(y[None], NO).numpy())


def test_batched_and_one_at_a_time_agree():
    """The K networks of each iteration trained as one stacked model or
    one after the other get the same weights (up to float rounding)."""
    y, s = _pilots(1000, 2)
    a = DeepSIC(K, N, iterations=2, hidden=32, epochs=20)
    b = DeepSIC(K, N, iterations=2, hidden=32, epochs=20)
    ha = a.fit(y, s, seed=5, batched=True)
    hb = b.fit(y, s, seed=5, batched=False)
    assert ha["epochs"] == hb["epochs"]
    for va, vb in zip(a._variables(), b._variables()):
        np.testing.assert_allclose(np.asarray(va), np.asarray(vb),
                                   rtol=1e-4, atol=1e-5)
    # and not because training did nothing: another seed differs
    c = DeepSIC(K, N, iterations=2, hidden=32, epochs=20)
    c.fit(y, s, seed=6)
    assert not np.allclose(np.asarray(a._variables()[2]),
                           np.asarray(c._variables()[2]))


def test_parameter_counts():
    """DeepSIC K = N = 4 BPSK, I = 5: 20 networks of 7 -> 128 -> 2 (1282
    each); the default DNN 4 -> 153 -> 153 -> 8 is within 2x of that."""
    assert DeepSIC(K, N).parameter_count == 20 * 1282 == \
        deepsic_parameter_count(K, N, 2)
    dnn = MIMODNN(K, N)
    assert dnn.hidden == (153, 153) and dnn.parameter_count == 25559
    assert 0.5 < dnn.parameter_count / 25640 < 2.0


def _paired_ratio_bound(err_a, err_b, ratio):
    """One-sided paired check (per frame) of ``SER_a <= ratio * SER_b``:
    the upper ``1 - ALPHA`` confidence bound of the mean per-frame
    difference ``e_a - ratio e_b`` (t statistics over frames)."""
    d = err_a - ratio * err_b
    n = len(d)
    se = d.std(ddof=1) / np.sqrt(n)
    return d.mean() + stats.t.ppf(1 - ALPHA, n - 1) * se


@pytest.mark.slow
@pytest.mark.parametrize("training, augment, bound", [
    ("sequential", 0, 2.5), ("end-to-end", 0, 3.5), ("sequential", 15, 1.5)])
def test_deepsic_near_ml(training, augment, bound):
    """5000 pilots at 10 dB, K = N = 4 BPSK SED: DeepSIC's SER within
    ``bound`` x ML's on the same 1.2e6 test user-symbols (one-sided
    per-frame paired bound at ALPHA). The issue's target is 1.5x: met with
    class-translated pilots (``augment=15``, measured 1.15-1.23x over
    three pilot draws); on the pilots as they are the measured ratios are
    1.7-1.9 (sequential) and 1.8-2.9 (end-to-end), see DeepSIC's
    docstring, so the bounds checked there are 2.5x and 3.5x.
    An untrained or collapsed network (SER 0.5, or a DeepSIC reduced to
    its first iteration's matched-filter-like decisions) fails them."""
    y, s = _pilots(5000, 0)
    det = DeepSIC(K, N, training=training, augment=augment)
    det.fit(y, s, seed=0)
    yt, st = _test_frames(300, 1000, 3)
    hard = det(yt, NO).numpy().argmax(-1)
    e_det = (hard != st).sum(axis=(1, 2)).astype(float)
    e_ml = (_ml(yt) != st).sum(axis=(1, 2)).astype(float)
    ratio = e_det.sum() / e_ml.sum()
    print(f"{training}, augment {augment}: SER "
          f"{e_det.sum() / st.size:.2e}, ML {e_ml.sum() / st.size:.2e}, "
          f"ratio {ratio:.3f}")
    assert e_ml.sum() > 100                    # enough ML errors to judge
    assert _paired_ratio_bound(e_det, e_ml, bound) < 0, ratio


def test_dnn_trains_and_is_reported():
    """The black box trains on the same pilots (reported, no claim beyond
    clearly beating chance)."""
    y, s = _pilots(2000, 4)
    det = MIMODNN(K, N, epochs=30, batch_size=256, learning_rate=0.005)
    hist = det.fit(y, s, seed=0)
    yt, st = _test_frames(10, 1000, 5)
    ser = float((det(yt, NO).numpy().argmax(-1) != st).mean())
    ser_ml = float((_ml(yt) != st).mean())
    print(f"MIMODNN: SER {ser:.2e} vs ML {ser_ml:.2e} after "
          f"{hist['epochs']} epochs")
    # 4e4 user-symbols: an SER of 5% is far above any trained detector
    assert ser < 0.05
