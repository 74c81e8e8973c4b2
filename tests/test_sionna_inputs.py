"""Detectors take Sionna's tensors as they come (detectors/base.py, module
notes): complex samples of a real constellation (real part, noise
variance ``no / 2``), any leading dimensions ``[..., T]`` (outputs keep
them), ``no`` per frame in the leading shape, taps ``[..., L]`` and
``[..., T, L]``.

The independent truth is Sionna itself: on a 1-tap channel the posterior
bit LLRs of every soft detector equal those of Sionna's ``Demapper``, fed
by Sionna's ``Mapper`` and ``AWGN`` end to end.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.channel import AWGN
from sionna.phy.mapping import BinarySource, Constellation, Demapper, Mapper

from detectors import (BCJRDetector, LMMSEDetector, SymbolwiseDetector,
                       ViterbiDetector, ViterbiNet)
from rxsim.pilots import pilot_data

SETTINGS = [("pam", 1), ("pam", 2), ("qam", 2), ("qam", 4)]


def _sionna_batch(kind, bits, no, shape=(2, 3), T=40, seed=1):
    const = Constellation(kind, bits)
    b = BinarySource(seed=seed)(list(shape) + [T * bits])
    x = Mapper(constellation=const)(b)
    y = AWGN()(x, no)
    return const, y, Demapper("app", constellation=const)(y, no)


@pytest.mark.parametrize("kind, bits", SETTINGS)
@pytest.mark.parametrize("make", [
    lambda c: SymbolwiseDetector([1.0], constellation=c),
    lambda c: BCJRDetector([1.0], constellation=c),
    lambda c: BCJRDetector([1.0], constellation=c, max_log=True),
], ids=["symbolwise", "bcjr", "maxlog-bcjr"])
def test_bit_llrs_equal_sionnas_demapper(kind, bits, make):
    """(One tap: one trellis state, so max-log BCJR's symbol posteriors
    are exact too; the bit LLRs marginalise them as Sionna's "app"
    demapper does.)"""
    no = 0.3
    const, y, ref = _sionna_batch(kind, bits, no)
    assert y.dtype == tf.complex64          # PAM too: Sionna's mapper output
    llr = make(const).bit_llrs(y, no)
    assert llr.shape == ref.shape           # [2, 3, T * bits]
    np.testing.assert_allclose(llr, ref, atol=2e-4 * float(
        tf.reduce_max(tf.abs(ref))))


@pytest.mark.parametrize("bits", [1, 2])
def test_complex_samples_of_a_real_constellation(bits):
    """The real part at half the noise variance: the same LLRs as the
    real samples with the real part's variance, and what Sionna's PAM
    demapper gives for the complex ones."""
    no = 0.2
    const, y, ref = _sionna_batch("pam", bits, no)
    det = BCJRDetector([1.0, 0.4], constellation=const)
    np.testing.assert_allclose(det.log_probs(y, no),
                               det.log_probs(tf.math.real(y), no / 2),
                               rtol=1e-6, atol=1e-6)
    one_tap = SymbolwiseDetector([1.0], constellation=const)
    np.testing.assert_allclose(one_tap.bit_llrs(tf.math.real(y), no / 2),
                               ref, atol=1e-4 * float(tf.reduce_max(
                                   tf.abs(ref))))


def _close(a, b):
    """Equal up to float summation order (a batch of 6 frames and one of 1
    may vectorise differently); hard decisions are compared exactly."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "i":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _isi(shape=(2, 3), T=30, seed=4):
    rng = np.random.default_rng(seed)
    taps = np.array([1.0, 0.5, 0.2])
    x = rng.choice([-1.0, 1.0], size=shape + (T,))
    xp = np.concatenate([np.ones(shape + (2,)), x], axis=-1)
    clean = sum(taps[l] * xp[..., 2 - l:2 - l + T] for l in range(3))
    y = clean + 0.5 * rng.standard_normal(clean.shape)
    return taps, tf.constant(y, tf.float32)


@pytest.mark.parametrize("make", [
    lambda t: BCJRDetector(t), lambda t: ViterbiDetector(t, hard_out=True),
    lambda t: LMMSEDetector(t), lambda t: SymbolwiseDetector(t)],
    ids=["bcjr", "viterbi-hard", "lmmse", "symbolwise"])
def test_leading_dimensions_are_frames(make):
    taps, y = _isi()
    det = make(taps)
    flat = det(tf.reshape(y, [6, -1]), 0.25)
    out = det(y, 0.25)
    assert out.shape == [2, 3] + flat.shape[1:].as_list()
    _close(out, tf.reshape(flat, out.shape))
    # no per frame, in the leading shape
    no = np.linspace(0.1, 0.6, 6).reshape(2, 3)
    _close(
        det(y, no), tf.reshape(det(tf.reshape(y, [6, -1]), no.ravel()),
                               out.shape))
    # a single frame [T]
    _close(det(y[0, 0], 0.25), flat[0])


def test_leading_dimensions_with_taps_per_frame_and_per_symbol():
    taps, y = _isi()
    det = BCJRDetector(taps)
    rng = np.random.default_rng(0)
    per_frame = taps * (1 + 0.2 * rng.standard_normal((2, 3, 3)))
    _close(
        det(y, 0.25, taps=per_frame),
        tf.reshape(det(tf.reshape(y, [6, -1]), 0.25,
                       taps=per_frame.reshape(6, 3)), [2, 3, 30, 2]))
    per_symbol = taps * (1 + 0.2 * rng.standard_normal((2, 3, 30, 3)))
    _close(
        det(y, 0.25, taps=per_symbol),
        tf.reshape(det(tf.reshape(y, [6, -1]), 0.25,
                       taps=per_symbol.reshape(6, 30, 3)), [2, 3, 30, 2]))
    llr = det.bit_llrs(y, 0.25, taps=per_frame)
    assert llr.shape == [2, 3, 30]


def test_learned_detector_takes_leading_dimensions():
    taps, y = _isi()
    ys, ss = pilot_data(taps, snr_db=6.0, num_symbols=2000, seed=1)
    det = ViterbiNet(memory=3, epochs=10, validation=None)
    det.fit(ys, ss, seed=1, verbose=False)
    _close(
        det(y, 0.25), tf.reshape(det(tf.reshape(y, [6, -1]), 0.25),
                                 [2, 3, 30, 2]))


@pytest.mark.parametrize("call, match", [
    (lambda d, y: d(y, np.ones(4)), "`no`"),
    (lambda d, y: d(y, 0.1, taps=np.ones((5, 3))), "`taps`"),
    (lambda d, y: d(tf.constant(1.0), 0.1), "`y`"),
    (lambda d, y: d(y[..., :0], 0.1), "`y`"),
])
def test_shapes_that_do_not_fit(call, match):
    taps, y = _isi()
    with pytest.raises(ValueError, match=match):
        call(BCJRDetector(taps), y)
