"""The trellis core: numbering, recursions against exhaustive enumeration
of arbitrary branch metrics, gradients, numerics and continuous mode.

The truths here are computed in plain numpy from the documented numbering
(state ``s = sum_j x[k-j] M**(j-1)``, channel state ``c = s M + x[k]``),
independently of ``detectors.trellis``.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from signals.checks import MAX_STATES
from detectors import (BranchMetrics, Trellis, forward_backward,
                       viterbi_decode)
from detectors.metrics import branch_means, gaussian_branch_metrics
from detectors.trellis import (branch_to_tuple_metrics, check_trellis_size,
                               fixed_lag, tuple_labels,
                               tuple_to_branch_metrics)


# --------------------------------------------------------------------------
# Independent truths
# --------------------------------------------------------------------------
def states_of(seq, M, L):
    """State at every step of ``seq`` (oldest first, preamble included):
    ``s_k = sum_{j=1}^{L-1} x[k-j] M**(j-1)``; returns ``[len - L + 1]``."""
    n = len(seq) - (L - 1)
    return np.array([sum(seq[L - 1 + k - j] * M ** (j - 1)
                         for j in range(1, L)) for k in range(n)])


def enumerate_paths(metrics, initial_state):
    """All paths through ``metrics`` [B, T, S, M] by enumeration.

    Returns (scores [B, H], frame symbols [H, T]) where H runs over every
    symbol sequence (and every initial state if unknown)."""
    B, T, S, M = metrics.shape
    L = int(round(np.log(S) / np.log(M))) + 1 if S > 1 else 1
    n_pre = L - 1 if initial_state == "unknown" else 0
    scores, frames = [], []
    for hyp in itertools.product(range(M), repeat=n_pre + T):
        seq = ([0] * (L - 1) if not n_pre else []) + list(hyp)
        st = states_of(seq, M, L) if L > 1 else np.zeros(T, int)
        x = np.array(seq[L - 1:])
        scores.append(metrics[:, np.arange(T), st, x].sum(axis=1))
        frames.append(x)
    return np.stack(scores, 1), np.array(frames)


def exact_marginals(metrics, initial_state):
    scores, frames = enumerate_paths(metrics, initial_state)
    B, T, _, M = metrics.shape
    out = np.empty((B, T, M))
    for k in range(T):
        for m in range(M):
            out[:, k, m] = logsumexp(scores[:, frames[:, k] == m], axis=1)
    return out - logsumexp(out, axis=-1, keepdims=True)


def maxlog_marginals(metrics, initial_state):
    scores, frames = enumerate_paths(metrics, initial_state)
    B, T, _, M = metrics.shape
    out = np.empty((B, T, M))
    for k in range(T):
        for m in range(M):
            out[:, k, m] = scores[:, frames[:, k] == m].max(axis=1)
    return out - logsumexp(out, axis=-1, keepdims=True)


def ml_sequence(metrics, initial_state):
    scores, frames = enumerate_paths(metrics, initial_state)
    return frames[np.argmax(scores, axis=1)]


def random_metrics(rng, B, T, M, L, scale=3.0):
    return scale * rng.standard_normal((B, T, M ** (L - 1), M))


# --------------------------------------------------------------------------
# Numbering
# --------------------------------------------------------------------------
@pytest.mark.parametrize("M,L", [(2, 4), (3, 3), (4, 2), (2, 1)])
def test_trellis_numbering_follows_symbol_sequences(M, L):
    rng = np.random.default_rng(0)
    tr = Trellis(M, L)
    assert tr.num_states == M ** (L - 1) and tr.num_tuples == M ** L
    seq = [0] * (L - 1) + list(rng.integers(0, M, 50))
    st = states_of(seq, M, L) if L > 1 else np.zeros(50, int)
    x = np.array(seq[L - 1:])
    # next_state walks the sequence; state_symbols reads x[k-1..k-L+1]
    np.testing.assert_array_equal(tr.next_state(st[:-1], x[:-1]), st[1:])
    for k in range(1, 50):
        want = [seq[L - 1 + k - j] for j in range(1, L)]
        np.testing.assert_array_equal(tr.state_symbols[st[k]], want)
    # channel state: digits x[k-L+1] .. x[k], newest least significant
    c = tr.tuple_index(st, x)
    want = [sum(seq[L - 1 + k - j] * M ** j for j in range(L))
            for k in range(50)]
    np.testing.assert_array_equal(c, want)


def test_tuple_labels_match_the_noiseless_channel_state():
    """For noiseless outputs with distinct means, the most likely channel
    state (means computed here from the documented digits) is the label."""
    rng = np.random.default_rng(1)
    M, L, T = 4, 3, 40
    points = np.array([-3.0, -1.0, 1.0, 3.0])
    taps = np.array([1.0, 0.37, 0.11])        # all M**L means distinct
    s = rng.integers(0, M, (3, T))
    xp = np.concatenate([np.zeros((3, L - 1), int), s], 1)
    y = sum(taps[l] * points[xp[:, L - 1 - l:L - 1 - l + T]]
            for l in range(L))
    c = np.arange(M ** L)
    digits = [(c // M ** j) % M for j in range(L)]      # x[k-j] of tuple c
    mean_c = sum(taps[j] * points[digits[j]] for j in range(L))
    truth = np.argmin(np.abs(y[..., None] - mean_c), axis=-1)
    np.testing.assert_array_equal(tuple_labels(s, M, L).numpy(), truth)


def test_tuple_to_branch_metrics_is_the_branch_view():
    rng = np.random.default_rng(2)
    M, L = 3, 3
    taps = rng.standard_normal(L)
    points = np.array([-1.2, 0.1, 0.9])
    y = rng.standard_normal((2, 5))
    no = 0.3
    c = np.arange(M ** L)
    mean_c = sum(taps[j] * points[(c // M ** j) % M] for j in range(L))
    per_tuple = -(y[..., None] - mean_c) ** 2 / (2 * no)      # [2, 5, M^L]
    branch = tuple_to_branch_metrics(per_tuple, M).numpy()
    want = gaussian_branch_metrics(y, no, taps, points).numpy()
    np.testing.assert_allclose(branch, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(branch_to_tuple_metrics(branch).numpy(),
                               per_tuple)


def test_branch_means_of_per_frame_complex_taps():
    rng = np.random.default_rng(3)
    M, L = 4, 3
    points = np.exp(1j * np.pi / 4 * np.array([1, 3, 5, 7]))
    taps = rng.standard_normal((2, L)) + 1j * rng.standard_normal((2, L))
    mu = branch_means(tf.constant(taps), points).numpy()
    assert mu.shape == (2, M ** (L - 1), M)
    for s, m in itertools.product(range(M ** (L - 1)), range(M)):
        past = [(s // M ** (j - 1)) % M for j in range(1, L)]
        want = taps[:, 0] * points[m] + sum(
            taps[:, j] * points[past[j - 1]] for j in range(1, L))
        np.testing.assert_allclose(mu[:, s, m], want, atol=1e-12)


# --------------------------------------------------------------------------
# Recursions against enumeration (float64, arbitrary metrics)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("initial_state", ["known", "unknown"])
def test_recursions_equal_enumeration_ternary(initial_state):
    """M = 3 (not a power of two: odd survivor packing), L = 3."""
    rng = np.random.default_rng(4)
    metrics = random_metrics(rng, 6, 6, 3, 3)
    lp = forward_backward(metrics, initial_state=initial_state).numpy()
    np.testing.assert_allclose(
        np.exp(lp), np.exp(exact_marginals(metrics, initial_state)),
        atol=1e-10)
    if initial_state == "known":     # one start suffices for max-log
        lp_max = forward_backward(metrics, max_log=True).numpy()
        np.testing.assert_allclose(lp_max, maxlog_marginals(metrics, "known"),
                                   atol=1e-9)
    np.testing.assert_array_equal(
        viterbi_decode(metrics, initial_state=initial_state).numpy(),
        ml_sequence(metrics, initial_state))


def test_viterbi_and_bcjr_equal_enumeration_sixteen_states():
    rng = np.random.default_rng(5)
    metrics = random_metrics(rng, 4, 8, 2, 5)
    np.testing.assert_array_equal(
        viterbi_decode(metrics, initial_state="unknown").numpy(),
        ml_sequence(metrics, "unknown"))
    lp = forward_backward(metrics, initial_state="unknown").numpy()
    np.testing.assert_allclose(lp, exact_marginals(metrics, "unknown"),
                               atol=1e-9)


def fixed_lag_scores(metrics, M, L):
    """The fixed-lag scores by enumeration of path prefixes (known start):
    ``x[j]`` (j <= T-L) scores ``max`` over prefixes ``x[0..j+L-1]`` with
    that value of their summed metrics; the last L-1 symbols over whole
    paths. Normalised with log-sum-exp over the values."""
    B, T = metrics.shape[:2]
    out = np.full((B, T, M), -np.inf)
    for n in range(1, T + 1):                       # prefix length
        for pre in itertools.product(range(M), repeat=n):
            seq = [0] * (L - 1) + list(pre)
            st = states_of(seq, M, L)[:n]
            score = metrics[:, np.arange(n), st, list(pre)].sum(axis=1)
            js = [n - L] if n < T else range(max(T - L, 0), T)
            for j in js:
                if j >= 0:
                    out[:, j, pre[j]] = np.maximum(out[:, j, pre[j]], score)
    return out - logsumexp(out, axis=-1, keepdims=True)


@pytest.mark.parametrize("M, L, T", [(2, 3, 7), (3, 2, 5), (2, 4, 6),
                                     (2, 4, 2)])
def test_fixed_lag_scores_equal_enumeration(M, L, T):
    """The soft output of the fixed-lag rule is the best path metric up to
    the step that decides each symbol (detectors.trellis.fixed_lag)."""
    rng = np.random.default_rng(7)
    metrics = random_metrics(rng, 3, T, M, L)
    lp = fixed_lag(metrics).numpy()
    np.testing.assert_allclose(lp, fixed_lag_scores(metrics, M, L),
                               atol=1e-9)


def test_known_start_penalty_dominates_huge_metrics():
    """Branch metrics of 1e12 (noise variance 0) must not let a path out
    of a forbidden initial state win."""
    rng = np.random.default_rng(7)
    M, L, T = 2, 3, 5
    metrics = 1e12 * rng.standard_normal((8, T, M ** (L - 1), M))
    np.testing.assert_array_equal(viterbi_decode(metrics).numpy(),
                                  ml_sequence(metrics, "known"))


# --------------------------------------------------------------------------
# Numerics: long blocks, high SNR, gradients
# --------------------------------------------------------------------------
def _isi(rng, B, T, taps, no, points=np.array([1.0, -1.0])):
    L = len(taps)
    s = rng.integers(0, len(points), (B, T))
    xp = points[np.concatenate([np.zeros((B, L - 1), int), s], 1)]
    y = sum(taps[l] * xp[:, L - 1 - l:L - 1 - l + T] for l in range(L))
    return s, y + np.sqrt(no) * rng.standard_normal((B, T))


def _true_symbol_loss(y, s, points):
    def loss(taps, no=0.25):
        lp = forward_backward(gaussian_branch_metrics(y, no, taps, points))
        return tf.reduce_sum(tf.gather(lp, s, axis=2, batch_dims=2))
    return loss


def test_gradients_equal_finite_differences_and_stay_finite_at_40db():
    """d(log-probability of the true symbols)/d(taps) through the Gaussian
    metrics and BCJR equals central differences (float64); at 40 dB with
    mismatched taps it is finite. BPSK, L = 4 exercises both log-sum-exp
    gradients (two terms in the recursions, four in the posteriors)."""
    rng = np.random.default_rng(8)
    taps0 = np.exp(-0.5 * np.arange(4))
    s, y = _isi(rng, 3, 30, taps0, 0.25)
    loss = _true_symbol_loss(y, s, tf.constant([1.0, -1.0], tf.float64))
    taps = tf.Variable(taps0)
    with tf.GradientTape() as tape:
        value = loss(taps)
    grad = tape.gradient(value, taps).numpy()
    eps = 1e-6
    fd = [(loss(tf.constant(taps0 + eps * e)) -
           loss(tf.constant(taps0 - eps * e))).numpy() / (2 * eps)
          for e in np.eye(4)]
    np.testing.assert_allclose(grad, fd, rtol=1e-5)

    taps.assign(0.9 * taps0)            # mismatched CSI at no = 1e-4
    with tf.GradientTape() as tape:
        value = loss(taps, no=1e-4)
    grad = tape.gradient(value, taps).numpy()
    assert np.isfinite(value.numpy()) and np.all(np.isfinite(grad))
    assert np.any(grad != 0)


@pytest.mark.slow
@pytest.mark.parametrize("M,L", [(2, 4), (4, 2)])
def test_float32_gradients_equal_float64(M, L):
    """The float32 recursions (polynomial exp/log, custom gradients) give
    the float64 gradients w.r.t. arbitrary branch metrics."""
    rng = np.random.default_rng(12)
    m64 = 3 * rng.standard_normal((2, 9, M ** (L - 1), M))
    weights = rng.standard_normal((2, 9, M))
    grads = []
    for dtype in (np.float64, np.float32):
        m = tf.constant(m64.astype(dtype))
        with tf.GradientTape() as tape:
            tape.watch(m)
            value = tf.reduce_sum(forward_backward(
                m, initial_state="unknown") * weights.astype(dtype))
        grads.append(tape.gradient(value, m).numpy())
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-4)


def test_no_nan_for_long_high_snr_block():
    """T = 100,000 at no = 1e-4 (40 dB): finite, normalised, error-free."""
    rng = np.random.default_rng(10)
    taps = np.exp(-0.2 * np.arange(4))
    s, y = _isi(rng, 2, 100_000, taps, 1e-4)
    m = gaussian_branch_metrics(y.astype(np.float32), 1e-4, taps,
                                tf.constant([1.0, -1.0]))
    lp = forward_backward(m).numpy()
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(logsumexp(lp, axis=-1), 0.0, atol=1e-5)
    np.testing.assert_array_equal(lp.argmax(-1), s)
    np.testing.assert_array_equal(viterbi_decode(m).numpy(), s)


# --------------------------------------------------------------------------
# Continuous (chunked) mode
# --------------------------------------------------------------------------
def test_chunked_equals_whole_block_and_float64():
    """Windows carry alpha exactly; decisions (Viterbi path, BCJR argmax)
    equal whole-block decoding; the last, partial window ends at the
    block's end. The float32 path (polynomial exp/log) agrees with float64
    to float32 accuracy."""
    rng = np.random.default_rng(11)
    taps = np.exp(-0.2 * np.arange(4))
    s, y = _isi(rng, 3, 2503, taps, 10 ** -0.6)       # 6 dB: errors occur
    m64 = gaussian_branch_metrics(y, 10 ** -0.6, taps,
                                  tf.constant([1.0, -1.0], tf.float64))
    m = tf.cast(m64, tf.float32)
    whole = viterbi_decode(m).numpy()
    assert 0.001 < np.mean(whole != s) < 0.1
    np.testing.assert_array_equal(
        viterbi_decode(m, chunk_size=500, overlap=20).numpy(), whole)
    lp_whole = forward_backward(m).numpy()
    lp = forward_backward(m, chunk_size=500, overlap=20).numpy()
    np.testing.assert_array_equal(lp.argmax(-1), lp_whole.argmax(-1))
    # the backward recursion of a window, started uniform 20 steps beyond
    # it, has converged: soft values agree too
    np.testing.assert_allclose(np.exp(lp), np.exp(lp_whole), atol=1e-2)
    lp64 = forward_backward(m64).numpy()
    np.testing.assert_allclose(np.exp(lp_whole), np.exp(lp64), atol=1e-5)


@pytest.fixture
def checkpointed_only(monkeypatch):
    """Forces BCJR's checkpointed forward messages (what blocks above
    ``_STORE_ALPHAS_BYTES`` use) for the calls made inside ``with``;
    compiled recursions are dropped on the way in and out."""
    import contextlib
    from detectors import compiled, trellis

    @contextlib.contextmanager
    def forced():
        compiled.clear()
        monkeypatch.setattr(trellis, "_STORE_ALPHAS_BYTES", 0)
        try:
            yield
        finally:
            monkeypatch.undo()
            compiled.clear()
    return forced


@pytest.mark.parametrize("max_log", [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_stored_and_checkpointed_forward_messages_agree(checkpointed_only,
                                                        max_log):
    """Small blocks keep every forward message (one forward pass), large
    ones checkpoint and recompute (two): the same posteriors and
    gradients either way, whole or chunked, any block length (97 is not
    a multiple of the checkpoint spacing)."""
    from detectors.trellis import _stores_alphas
    rng = np.random.default_rng(13)
    m = tf.constant(random_metrics(rng, 3, 97, 2, 4).astype(np.float32))
    assert _stores_alphas(tf.zeros([8, 3]), 97)

    def run():
        with tf.GradientTape() as tape:
            tape.watch(m)
            outs = [forward_backward(m, max_log=max_log, initial_state=s)
                    for s in ("known", "unknown")]
            outs.append(forward_backward(m, max_log=max_log, chunk_size=30,
                                         overlap=20))
            total = sum(tf.reduce_sum(o * w) for o, w in zip(
                outs, (1.0, -0.5, 0.25)))
        return [o.numpy() for o in outs], tape.gradient(total, m).numpy()

    stored, g_stored = run()
    with checkpointed_only():
        ckpt, g_ckpt = run()
    for a, b in zip(stored, ckpt):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(g_stored, g_ckpt, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
def test_too_many_states_is_refused():
    with pytest.raises(ValueError, match="states"):
        check_trellis_size(2, int(np.log2(MAX_STATES)) + 2)
    with pytest.raises(ValueError, match="smaller"):
        Trellis(16, 5)
    assert check_trellis_size(2, int(np.log2(MAX_STATES)) + 1) == MAX_STATES


def test_bad_metrics_and_options_are_refused():
    good = np.zeros((2, 5, 4, 2))
    with pytest.raises(ValueError, match="metrics"):
        forward_backward(np.zeros((5, 4, 2)))
    with pytest.raises(ValueError, match="power"):
        viterbi_decode(np.zeros((2, 5, 3, 2)))
    with pytest.raises(TypeError, match="metrics"):
        forward_backward(np.zeros((2, 5, 4, 2), np.int32))
    with pytest.raises(ValueError, match="initial_state"):
        viterbi_decode(good, initial_state="preamble")
    with pytest.raises(ValueError, match="overlap"):
        forward_backward(good, chunk_size=10, overlap=5)
    with pytest.raises(ValueError, match="chunk_size"):
        viterbi_decode(good, chunk_size=0)
    with pytest.raises(ValueError, match="symbols"):
        tuple_labels(np.zeros(5, int), 2, 3)
    with pytest.raises(ValueError, match="tuple_metrics"):
        tuple_to_branch_metrics(np.zeros((2, 7)), 2)


def test_branch_metrics_wraps_a_tensor_time_major():
    m = np.arange(2 * 3 * 4 * 2, dtype=np.float64).reshape(2, 3, 4, 2)
    bm = BranchMetrics.from_tensor(m)
    assert (bm.num_steps, bm.num_states, bm.num_points, bm.memory) == \
        (3, 4, 2, 3)
    np.testing.assert_array_equal(bm.at(1).numpy(),
                                  np.transpose(m[:, 1], [1, 2, 0]))
