"""DetNet: contract, checks, checkpoints, and the comparison with LMMSE
(numpy) over random 4x4 QPSK Rayleigh channels."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from channels.mimo import MIMOChannel
from detectors.learned import TrainedWeights
from detectors.mimo import DetNet

from conftest import ALPHA

K = N = 4


def _frames(frames, T, no, seed):
    ch = MIMOChannel(K, N, profile="rayleigh", constellation="qpsk")
    h = ch.channel_matrices(frames, seed=tf.constant([seed, 1]))
    s, y = ch.pilot_frames(h, no, T, seed=tf.constant([seed, 2]))
    return ch, h.numpy(), y.numpy(), s.numpy()


def _lmmse(h, y, no, points):
    """Per-frame LMMSE ``(H^H H + no I)^-1 H^H y`` and nearest points."""
    a = np.einsum("fnk,fnj->fkj", h.conj(), h) + no * np.eye(h.shape[-1])
    x = np.linalg.solve(a, np.einsum("fnk,ftn->fkt", h.conj(), y))
    x = x.transpose(0, 2, 1)
    return np.abs(x[..., None] - points).argmin(-1)


@pytest.fixture(scope="module")
def small():
    ch, h, y, s = _frames(400, 4, 0.1, 3)
    det = DetNet(K, N, constellation=ch.constellation, layers=3, epochs=5)
    det.fit(y, s, h, seed=0)
    return det, h, y, s


def test_untrained_call_raises():
    ch = MIMOChannel(K, N, profile="rayleigh", constellation="qpsk")
    det = DetNet(K, N, constellation=ch.constellation)
    with pytest.raises(RuntimeError, match="not trained"):
        det(np.zeros([1, 2, N], np.complex64), 0.1, np.eye(N, K))


def test_wrong_shapes_raise(small):
    det, h, y, s = small
    with pytest.raises(ValueError, match="one symbol index per user"):
        det.fit(y, s[..., :2], h, epochs=1)
    with pytest.raises(ValueError, match="same F"):
        det.fit(y[:10], s[:10], h[:11], epochs=1)
    with pytest.raises(ValueError, match="same F"):
        det.fit(y.reshape(-1, N), s.reshape(-1, K), h, epochs=1)
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        det.fit(y, s, h[:, :, :3], epochs=1)
    with pytest.raises(TypeError, match="complex"):
        DetNet(K, N).fit(y, s, h, epochs=1)            # BPSK, real


def test_one_fixed_channel_and_output(small):
    det, h, y, s = small
    fixed = DetNet(K, N, constellation=det.constellation, layers=2,
                   epochs=2)
    fixed.fit(y[:20].reshape(-1, N), s[:20].reshape(-1, K), h[0], seed=1)
    out = fixed(y[:3], 0.1, h[0])
    assert out.shape == (3, 4, K, 4)
    np.testing.assert_allclose(np.exp(out.numpy()).sum(-1), 1.0, atol=1e-5)


def test_save_load_bit_identical(small, tmp_path):
    det, h, y, _ = small
    det.save(tmp_path / "detnet")
    back = TrainedWeights.load(tmp_path / "detnet")
    assert type(back) is DetNet and back._config() == det._config()
    np.testing.assert_array_equal(back(y, 0.1, h).numpy(),
                                  det(y, 0.1, h).numpy())


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "not met yet (issue 17): with 6-10 layers, 40000 random channels and "
    "60-150 epochs DetNet reached SER 3.3e-2 against LMMSE's 1.35e-2 on "
    "4x4 QPSK Rayleigh at 14 dB; strict, so a fix shows up as XPASS"))
def test_detnet_beats_lmmse_on_held_out_channels():
    """Trained over 40000 random Rayleigh channels (one use each) at 14
    dB, DetNet makes fewer errors than LMMSE on 5000 other channels (8e4
    user-symbols): exact paired (McNemar) test on the symbols where
    exactly one of the two errs, Clopper-Pearson bound at ALPHA."""
    no = 10 ** (-14 / 10)
    ch, h, y, s = _frames(40000, 1, no, 1)
    det = DetNet(K, N, constellation=ch.constellation, layers=6,
                 learning_rate=0.001, epochs=60, validation=0)
    det.fit(y, s, h, seed=0)
    _, ht, yt, st = _frames(5000, 4, no, 9)
    wrong_d = det(yt, no, ht).numpy().argmax(-1) != st
    wrong_l = _lmmse(ht, yt, no, np.asarray(ch.constellation.points)) != st
    b = int(np.sum(wrong_d & ~wrong_l))             # only DetNet errs
    c = int(np.sum(~wrong_d & wrong_l))             # only LMMSE errs
    print(f"DetNet SER {wrong_d.mean():.3e}, LMMSE {wrong_l.mean():.3e}")
    upper = stats.beta.ppf(1 - ALPHA, b + 1, c) if c else 1.0
    assert upper < 0.5, (b, c)
