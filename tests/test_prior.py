"""A-priori bit LLRs (``prior=``) and extrinsic output (issue 15).

Independent truths:
- brute-force MAP over all sequences of a tiny block (numpy, this file):
  the exact BCJR with a prior gives the posterior bit LLRs of the
  enumerated posterior ``p(x | y) ~ p(y | x) prod_k p(x_k)``, and Viterbi
  with a prior its MAP sequence (BPSK and 4-PAM, T <= 8, L = 3);
- Sionna's own ``Demapper(y, no, prior)`` for the memoryless detector;
- the identity that the extrinsic LLR of a bit does not depend on that
  bit's own prior.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.mapping import Constellation, Demapper

from detectors import (BCJRDetector, BruteForceDetector, LMMSEDetector,
                       SBRNN, SymbolwiseDetector, ViterbiDetector, ViterbiNet)
from rxsim.pilots import pilot_data

TAPS = np.array([1.0, 0.6, 0.3])


def _block(name, T, frames=3, no=0.4, seed=0):
    """Received frames, the constellation's points and its bits per
    symbol; the preamble is point 0, as the detectors assume."""
    const = {"bpsk": Constellation("pam", 1), "pam4": Constellation("pam", 2)}[
        name]
    pts = np.asarray(const.points).real.astype(np.float64)
    k = const.num_bits_per_symbol
    rng = np.random.default_rng(seed)
    s = rng.integers(0, len(pts), size=(frames, T))
    xp = np.concatenate([np.full((frames, 2), pts[0]), pts[s]], axis=1)
    clean = sum(TAPS[l] * xp[:, 2 - l:2 - l + T] for l in range(3))
    y = clean + np.sqrt(no) * rng.standard_normal(clean.shape)
    prior = 1.5 * rng.standard_normal((frames, T * k))
    return const, pts, k, y, no, prior


def _brute_force(pts, k, y, no, prior):
    """Posterior bit LLRs [frames, T*k] and MAP sequences [frames, T] by
    enumerating every sequence (numpy, float64)."""
    frames, T = y.shape
    M = len(pts)
    bits = np.array([[(i >> (k - 1 - j)) & 1 for j in range(k)]
                     for i in range(M)])                          # [M, K]
    seqs = np.array(list(itertools.product(range(M), repeat=T)))  # [N, T]
    xp = np.concatenate([np.full((len(seqs), 2), pts[0]), pts[seqs]], 1)
    clean = sum(TAPS[l] * xp[:, 2 - l:2 - l + T] for l in range(3))
    b = bits[seqs].reshape(len(seqs), T * k)                      # [N, T*K]
    llrs, maps = [], []
    for f in range(frames):
        score = -((y[f] - clean) ** 2).sum(1) / (2 * no) + b @ prior[f]
        maps.append(seqs[np.argmax(score)])
        lse = lambda v: np.logaddexp.reduce(v) if v.size else -np.inf  # noqa
        llrs.append([lse(score[b[:, j] == 1]) - lse(score[b[:, j] == 0])
                     for j in range(T * k)])
    return np.array(llrs), np.array(maps)


@pytest.mark.parametrize("name, T", [("bpsk", 8), ("pam4", 5)])
def test_bcjr_with_prior_is_brute_force_map(name, T):
    const, pts, k, y, no, prior = _block(name, T)
    ref, maps = _brute_force(pts, k, y, no, prior)
    det = BCJRDetector(TAPS, constellation=const)
    llr = det.bit_llrs(y, no, prior=prior)
    np.testing.assert_allclose(llr, ref, atol=2e-3 * np.abs(ref).max())
    # and the prior matters: without it the LLRs are other ones
    assert np.abs(det.bit_llrs(y, no).numpy() - ref).max() > 0.1
    hard = ViterbiDetector(TAPS, constellation=const, hard_out=True)
    np.testing.assert_array_equal(hard(y, no, prior=prior), maps)


def test_maxlog_bcjr_with_prior_is_brute_force_max_log():
    """BPSK: one bit per symbol, so max-log symbol posteriors are max-log
    bit LLRs: max over the sequences with b = 1 minus max over b = 0."""
    const, pts, k, y, no, prior = _block("bpsk", 8)
    seqs = np.array(list(itertools.product(range(2), repeat=8)))
    xp = np.concatenate([np.full((256, 2), pts[0]), pts[seqs]], 1)
    clean = sum(TAPS[l] * xp[:, 2 - l:2 - l + 8] for l in range(3))
    ref = []
    for f in range(len(y)):
        score = -((y[f] - clean) ** 2).sum(1) / (2 * no) + seqs @ prior[f]
        ref.append([score[seqs[:, j] == 1].max() - score[seqs[:, j] == 0]
                    .max() for j in range(8)])
    det = BCJRDetector(TAPS, constellation=const, max_log=True)
    np.testing.assert_allclose(det.bit_llrs(y, no, prior=prior), ref,
                               atol=2e-3 * np.abs(ref).max())


@pytest.mark.parametrize("name, T", [("bpsk", 8), ("pam4", 5)])
def test_extrinsic_does_not_depend_on_the_bits_own_prior(name, T):
    const, _, k, y, no, prior = _block(name, T)
    det = BCJRDetector(TAPS, constellation=const)
    ext = det.bit_llrs(y, no, prior=prior, extrinsic=True).numpy()
    post = det.bit_llrs(y, no, prior=prior).numpy()
    np.testing.assert_allclose(ext, post - prior, rtol=1e-6, atol=1e-6)
    for j in (0, T * k // 2, T * k - 1):
        moved = prior.copy()
        moved[:, j] += 3.0
        other = det.bit_llrs(y, no, prior=moved, extrinsic=True).numpy()
        np.testing.assert_allclose(other[:, j], ext[:, j],
                                   atol=1e-4 * np.abs(ext).max())
        # ... while the other bits' extrinsic LLRs do move
        assert np.abs(np.delete(other - ext, j, axis=1)).max() > 1e-3


@pytest.mark.parametrize("kind, bits", [("pam", 2), ("qam", 2), ("qam", 4)])
def test_memoryless_prior_equals_sionnas_demapper(kind, bits):
    const = Constellation(kind, bits)
    rng = np.random.default_rng(3)
    s = rng.integers(0, 2 ** bits, size=(4, 20))
    x = np.asarray(const.points)[s]
    no = 0.5
    y = x + np.sqrt(no / 2) * (rng.standard_normal(x.shape)
                               + 1j * rng.standard_normal(x.shape))
    y = tf.constant(y, tf.complex64)
    prior = rng.standard_normal((4, 20 * bits)).astype(np.float32)
    ref = Demapper("app", constellation=const)(
        y, no, tf.reshape(prior, [4, 20, bits]))
    ours = SymbolwiseDetector([1.0], constellation=const).bit_llrs(
        y, no, prior=prior)
    np.testing.assert_allclose(ours, tf.reshape(ref, [4, -1]),
                               atol=2e-4 * float(tf.reduce_max(tf.abs(ref))))


def test_learned_trellis_takes_a_prior():
    """The prior enters the learned metrics' trellis like the model-based
    one: a confident prior overrules the channel for that symbol."""
    y, s = pilot_data(TAPS, snr_db=4.0, num_symbols=2000, seed=2)
    det = ViterbiNet(memory=3, epochs=5, validation=None)
    det.fit(y, s, seed=2, verbose=False)
    test = y[:2, :40]
    prior = np.zeros((2, 40), np.float32)
    prior[:, 7] = 50.0            # bit 1 <-> index 1 <-> point -1
    log_probs = det(test, 0.4, prior=prior)
    assert log_probs.shape == [2, 40, 2]
    assert np.all(np.argmax(log_probs.numpy()[:, 7], axis=-1) == 1)
    # without the prior the decisions follow the channel
    assert not np.array_equal(det(test, 0.4).numpy()[:, 7],
                              log_probs.numpy()[:, 7])


@pytest.mark.parametrize("make, reason", [
    (lambda: BruteForceDetector(TAPS), "enumerated"),
    (lambda: SBRNN(window=4), "black box"),
])
def test_detectors_without_a_prior_say_why(make, reason):
    y = np.zeros((2, 10))
    with pytest.raises(TypeError, match=reason):
        make()(y, 0.1, prior=np.zeros((2, 10)))


def test_lmmse_takes_a_prior():
    """LMMSE takes it (soft interference cancellation; checked in
    tests/test_lmmse_prior.py): a confident prior on the neighbours
    changes the output."""
    const, _, k, y, no, prior = _block("bpsk", 8)
    det = LMMSEDetector(TAPS, constellation=const)
    assert det.takes_prior
    ext = det.bit_llrs(y, no, prior=10 * np.sign(prior), extrinsic=True)
    assert np.abs(ext.numpy() - det.bit_llrs(y, no).numpy()).max() > 0.1


@pytest.mark.parametrize("prior, match", [
    (np.zeros((2, 9)), "shape of the bit LLRs"),
    (np.zeros((3, 10)), "shape of the bit LLRs"),
    (np.full((2, 10), np.nan), "NaN"),
    (np.zeros((2, 10), complex), "real"),
])
def test_bad_priors_are_named(prior, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BCJRDetector(TAPS)(np.zeros((2, 10)), 0.1, prior=prior)


def test_prior_with_leading_dimensions():
    const, _, k, y, no, prior = _block("pam4", 5, frames=6)
    det = BCJRDetector(TAPS, constellation=const)
    flat = det.bit_llrs(y, no, prior=prior)
    shaped = det.bit_llrs(y.reshape(2, 3, 5), no,
                          prior=prior.reshape(2, 3, 10))
    np.testing.assert_allclose(shaped, tf.reshape(flat, [2, 3, 10]),
                               rtol=1e-5, atol=1e-5)
