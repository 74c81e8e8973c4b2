"""The numpy trellis references of ``scripts/bench.py`` against brute force.

The benchmark's speed ratios only mean something if the reference computes
the right thing, so both references are checked here against an exhaustive
enumeration of all symbol sequences on tiny blocks: the ML sequence (Viterbi)
and exact / max-log marginals (BCJR). The enumeration builds ``y``'s means by
direct convolution with the preamble, sharing no code with the references.
"""

import importlib.util
import itertools
import pathlib

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "scripts" / \
    "numpy_trellis.py"
_spec = importlib.util.spec_from_file_location("numpy_trellis", _PATH)
nt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nt)

BPSK = np.array([1.0, -1.0])
PAM4 = np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(5.0)
QPSK = np.array([1 + 1j, 1 - 1j, -1 + 1j, -1 - 1j]) / np.sqrt(2.0)


def _norm(v):
    m = v.max(axis=-1, keepdims=True)
    return v - m - np.log(np.exp(v - m).sum(axis=-1, keepdims=True))


def brute_force(y, no, taps, points, initial_state):
    """ML sequences, exact and max-log marginals by enumeration.

    Every sequence of the L-1 history symbols and the T frame symbols is
    scored; a known initial state keeps only histories of index 0 (the
    preamble), an unknown one keeps all with equal prior.
    """
    B, T = y.shape
    M, L = len(points), len(taps)
    seqs = np.array(list(itertools.product(range(M), repeat=T + L - 1)))
    if initial_state == "known":
        seqs = seqs[(seqs[:, :L - 1] == 0).all(axis=1)]
    x = points[seqs]                                     # [N, L-1+T]
    mean = sum(taps[l] * x[:, L - 1 - l:L - 1 - l + T] for l in range(L))
    no = np.reshape(no, (-1, 1, 1))
    d2 = np.abs(y[:, None, :] - mean[None]) ** 2
    ll = (-(d2 / no) if np.iscomplexobj(y) else -(d2 / (2 * no))).sum(-1)
    ml = seqs[np.argmax(ll, axis=1)][:, L - 1:]
    exact = np.empty((B, T, M))
    maxlog = np.empty((B, T, M))
    for k in range(T):
        for a in range(M):
            v = ll[:, seqs[:, L - 1 + k] == a]
            m = v.max(axis=1)
            exact[:, k, a] = m + np.log(np.exp(v - m[:, None]).sum(axis=1))
            maxlog[:, k, a] = m
    return ml, _norm(exact), _norm(maxlog)


def _received(rng, B, T, taps, points, no):
    """Transmit random symbols through the channel with the preamble."""
    L = len(taps)
    s = rng.integers(0, len(points), size=(B, T))
    xp = np.concatenate([np.full((B, L - 1), points[0]), points[s]], axis=1)
    clean = sum(taps[l] * xp[:, L - 1 - l:L - 1 - l + T] for l in range(L))
    no_col = np.reshape(no, (-1, 1))
    if np.iscomplexobj(clean):
        w = (rng.normal(size=(B, T)) + 1j * rng.normal(size=(B, T))) \
            * np.sqrt(no_col / 2)
    else:
        w = rng.normal(size=(B, T)) * np.sqrt(no_col)
    return s, clean + w


CASES = [
    # (points, taps, T, initial_state, no)
    (BPSK, np.exp(-0.2 * np.arange(4)), 6, "known", 0.5),
    (BPSK, np.exp(-0.2 * np.arange(4)), 5, "unknown", 0.5),
    (BPSK, np.array([0.8, -0.5, 0.3]), 7, "known", np.array([0.2, 1.0] * 8)),
    (BPSK, np.array([1.0]), 5, "known", 0.7),
    (PAM4, np.array([1.0, 0.6]), 4, "known", 0.1),
    (PAM4, np.array([1.0, -0.4]), 4, "unknown", 0.1),
    (QPSK, np.array([1.0, 0.5 - 0.3j]), 4, "known", 0.3),
]


@pytest.mark.parametrize("points,taps,T,initial_state,no", CASES)
def test_references_match_brute_force(points, taps, T, initial_state, no):
    rng = np.random.default_rng(1234 + T)
    B = 16
    _, y = _received(rng, B, T, taps, points, no)
    ml, exact, maxlog = brute_force(y, no, taps, points, initial_state)

    hard = nt.numpy_viterbi(y, no, taps, points, initial_state,
                            dtype=np.float64)
    assert hard.dtype == np.int32 and hard.shape == (B, T)
    # Continuous noise: ties between sequences have probability zero, so
    # the ML sequence is unique and must be found exactly.
    np.testing.assert_array_equal(hard, ml)

    # Both sides are exact up to float64 round-off on O(10) log-values.
    soft = nt.numpy_bcjr(y, no, taps, points, initial_state,
                         dtype=np.float64)
    assert soft.shape == (B, T, len(points))
    np.testing.assert_allclose(soft, exact, rtol=0, atol=1e-9)
    approx = nt.numpy_bcjr(y, no, taps, points, initial_state, max_log=True,
                           dtype=np.float64)
    np.testing.assert_allclose(approx, maxlog, rtol=0, atol=1e-9)


def test_initial_state_matters():
    # With a strongly interfering second tap the first decision depends on
    # the assumed history; known and unknown must not coincide.
    rng = np.random.default_rng(7)
    taps = np.array([1.0, 0.9])
    _, y = _received(rng, 8, 5, taps, BPSK, 0.5)
    known = nt.numpy_bcjr(y, 0.5, taps, initial_state="known",
                          dtype=np.float64)
    unknown = nt.numpy_bcjr(y, 0.5, taps, initial_state="unknown",
                            dtype=np.float64)
    assert np.abs(known - unknown)[:, 0].max() > 1e-3
    with pytest.raises(ValueError, match="initial_state"):
        nt.numpy_viterbi(y, 0.5, taps, initial_state="zero")


def test_float32_long_block_matches_float64():
    # The benchmark runs the references in float32 on T = 1000 (the
    # precision of rxsim's detectors); on that size they must give float64's
    # answers, so the speed comparison is not bought with accuracy.
    rng = np.random.default_rng(11)
    taps = np.exp(-0.2 * np.arange(4))
    no = 10 ** (-6 / 10)
    s, y = _received(rng, 4, 1000, taps, BPSK, no)
    v32 = nt.numpy_viterbi(y.astype(np.float32), no, taps)
    v64 = nt.numpy_viterbi(y, no, taps, dtype=np.float64)
    assert (v32 != v64).mean() <= 1e-3
    b32 = nt.numpy_bcjr(y.astype(np.float32), no, taps)
    b64 = nt.numpy_bcjr(y, no, taps, dtype=np.float64)
    assert b32.dtype == np.float32
    # Posterior probabilities, not log-probs: tiny probabilities may differ
    # in relative terms without mattering.
    assert np.abs(np.exp(b32) - np.exp(b64)).max() < 1e-4


def test_detection_quality_at_6db():
    # On the benchmark's channel (BPSK, L=4, gamma=0.2, 6 dB) no detector
    # beats the genie that knows all other symbols: its error rate is the
    # matched-filter bound Q(sqrt(sum h^2 / no)) (about 1e-3). Symbol-wise
    # MAP (BCJR) cannot lose to the ML sequence (Viterbi) beyond noise.
    # 40,000 symbols: 4-sigma binomial margins.
    from scipy.stats import norm
    rng = np.random.default_rng(3)
    taps = np.exp(-0.2 * np.arange(4))
    no = 10 ** (-6 / 10)
    s, y = _received(rng, 40, 1000, taps, BPSK, no)
    n = s.size
    mfb = norm.sf(np.sqrt(np.sum(taps ** 2) / no))
    ser_v = (nt.numpy_viterbi(y, no, taps) != s).mean()
    ser_b = (nt.numpy_bcjr(y, no, taps).argmax(-1) != s).mean()
    for ser in (ser_v, ser_b):
        assert ser > mfb - 4 * np.sqrt(mfb * (1 - mfb) / n), ser
        # A broken recursion decodes at chance level or near it.
        assert ser < 0.05, ser
    assert ser_b <= ser_v + 4 * np.sqrt(ser_v / n)


def test_bad_input():
    with pytest.raises(ValueError, match="`y`"):
        nt.numpy_viterbi(np.zeros(5), 1.0, [1.0])
    with pytest.raises(ValueError, match="`taps`"):
        nt.numpy_bcjr(np.zeros((2, 5)), 1.0, np.zeros((2, 2)))
