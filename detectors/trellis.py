r"""The trellis of a channel with memory and the two recursions on it.

A trellis detector is *branch metrics* x *inference*. This module owns the
inference: the trellis of an M-ary channel with memory L (``S = M**(L-1)``
states, ``M`` branches leaving each) and, once, in the log domain,

* max-product: the Viterbi algorithm (ML sequence by full traceback) and
  max-log forward-backward (soft symbol metrics);
* sum-product: BCJR forward-backward (exact symbol posteriors).

Branch-metric providers (Gaussian from taps in :mod:`detectors.model_based`,
learned classifiers later) only produce ``log p(y[k] | s, m)`` for every
state ``s`` at time ``k`` and input symbol ``m = x[k]``; they know nothing
about recursions.

Numbering (the public contract)
-------------------------------
All numbers are base-``M`` integers of symbol indices, most recent symbol
most significant:

* **state** at time ``k``: the last ``L-1`` symbols,
  ``s = sum_{j=1}^{L-1} x[k-j] * M**(L-1-j)`` (``x[k-1]`` most significant);
* **branch** ``(s, m)``: state ``s`` at time ``k`` and input ``m = x[k]``;
  it leads to state ``s' = m * M**(L-2) + s // M`` at time ``k+1``;
* **channel state** (the "tuple" a learned classifier predicts, ``M**L``
  classes): ``c = sum_{j=0}^{L-1} x[k-j] * M**(L-1-j) = m * S + s``.
  Hence ``s = c % S``, ``m = c // S``, the next state is ``c // M``, and a
  ``[..., M**L]`` tensor indexed by ``c`` is a ``[..., M, S]`` tensor
  indexed by ``(m, s)``: :func:`tuple_to_branch_metrics` is a reshape and a
  transpose. Symbols before the frame are the preamble (index 0), so state
  0 is the known initial state.

Because ``x[k-1]`` is the most significant digit, the predecessors of
``s' = m * R + r`` (``R = M**(L-2)``) are the ``M`` states ``r * M + d``:
viewing the ``[S, M]`` branch metrics as ``[R, M(d), M(m)]``, the
reduction over predecessors is a reduction over axis ``d`` followed by a
transpose -- no gathers. The recursions run time-major with the batch axis
innermost (contiguous), so every step is a few fused elementwise loops.

Numerical safety: initial metrics are finite (forbidden initial states get
a large negative penalty, never ``-inf``), every step subtracts the maximum
over states, and log-sum-exp of two terms is computed as
``max + log1p(exp(-|a-b|))`` with an exact custom gradient. Symbol
log-probabilities are taken from the forward and backward messages at the
next state, ``log p(x[k]=m | y) = logsumexp_r(alpha[k+1](mR+r) +
beta[k+1](mR+r))`` (the next state holds ``x[k]`` as its top digit).

Long streams: ``chunk_size=N, overlap=D`` processes windows of ``N + D``
steps. The forward message is carried exactly from chunk to chunk; the
traceback (Viterbi) or backward recursion (BCJR, started uniform) of a
window starts ``D >= 5 L`` steps beyond the chunk's last symbol, so memory
is ``O(N + D)`` whatever the stream length and the decisions equal those
of whole-block decoding unless survivors have not merged within ``D``
steps. The last window runs to the true end of the block.
"""

import numpy as np
import tensorflow as tf

from .checks import MAX_STATES

__all__ = ["Trellis", "BranchMetrics", "check_trellis_size",
           "tuple_to_branch_metrics", "branch_to_tuple_metrics",
           "tuple_labels", "branch_means", "viterbi_decode",
           "forward_backward", "INITIAL_STATES"]

INITIAL_STATES = ("known", "unknown")

# Penalty of the initial states that the preamble rules out. Finite, so no
# -inf - -inf = NaN in values or gradients; it is added to a data-dependent
# bound (see _initial_metrics) so that it dominates any branch metric scale.
_PENALTY = 1e9

# Reductions over M terms are unrolled into elementwise ops (which XLA
# fuses into one loop) up to this M; larger alphabets use reduce ops.
_UNROLL_MAX_M = 16


# --------------------------------------------------------------------------
# The trellis and its numbering
# --------------------------------------------------------------------------
def check_trellis_size(num_points, memory):
    """Check that ``M**(L-1)`` states fit under ``checks.MAX_STATES``.

    Parameters
    ----------
    num_points : int
        M, the constellation size (>= 2).
    memory : int
        L, the number of channel taps (>= 1).

    Output
    ------
    : int
        The number of states ``S = M**(L-1)``.
    """
    for name, v, lo in (("num_points", num_points, 2), ("memory", memory, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) \
                or v < lo:
            raise ValueError(f"`{name}` must be an integer >= {lo}, "
                             f"got {v!r}.")
    num_states = int(num_points) ** (int(memory) - 1)
    if num_states > MAX_STATES:
        raise ValueError(
            f"A trellis with M = {num_points} points and memory L = "
            f"{memory} has M**(L-1) = {num_states} states, more than the "
            f"limit of {MAX_STATES}; use fewer taps (smaller L) or a "
            f"smaller constellation (smaller M).")
    return num_states


class Trellis:
    r"""The trellis of an M-ary channel with memory L (see module doc).

    Parameters
    ----------
    num_points : int
        M, the constellation size.
    memory : int
        L, the number of channel taps; ``L = 1`` is a memoryless channel
        (one state).
    """

    def __init__(self, num_points, memory):
        self.num_states = check_trellis_size(num_points, memory)
        self.num_points = int(num_points)
        self.memory = int(memory)

    @property
    def num_tuples(self):
        """int : ``M**L``, the number of channel states (branches)."""
        return self.num_states * self.num_points

    @property
    def state_symbols(self):
        """np.ndarray [S, L-1], int32 : symbol indices
        ``(x[k-1], ..., x[k-L+1])`` held by each state."""
        M, L = self.num_points, self.memory
        s = np.arange(self.num_states)[:, None]
        powers = M ** np.arange(L - 2, -1, -1)[None, :]
        return ((s // powers) % M).astype(np.int32)

    def next_state(self, state, symbol):
        """State at time k+1 after ``symbol = x[k]`` from ``state``."""
        return (np.asarray(symbol) * (self.num_states // self.num_points)
                + np.asarray(state) // self.num_points
                if self.memory > 1 else np.zeros_like(np.asarray(state)))

    def tuple_index(self, state, symbol):
        """Channel-state index ``c = symbol * S + state``."""
        return np.asarray(symbol) * self.num_states + np.asarray(state)


class BranchMetrics:
    r"""Branch log-likelihoods handed to the recursions one step at a time.

    The recursions need ``gamma[k] = log p(y[k] | s, m)`` as an ``[S, M,
    batch]`` tensor at step ``k``. A provider either gives the full tensor
    (:meth:`from_tensor`) or a time-major input and a function computing
    one step from it, so the metrics never need to be materialised for the
    whole block.

    Parameters
    ----------
    inputs : [T, ...], tf.Tensor
        Time-major per-step inputs (e.g. received samples ``[T, batch]``).
    fn : callable
        ``fn(inputs[k]) -> [S, M, batch]`` branch log-likelihoods of step k.
    num_states, num_points : int
        S and M of the trellis.
    """

    def __init__(self, inputs, fn, num_states, num_points):
        self.inputs = inputs
        self.fn = fn
        self.num_states = int(num_states)
        self.num_points = int(num_points)

    @classmethod
    def from_tensor(cls, metrics):
        """Wrap a ``[batch, T, S, M]`` tensor of branch log-likelihoods."""
        metrics = tf.convert_to_tensor(metrics)
        if metrics.shape.rank != 4:
            raise ValueError(
                "`metrics` must have shape [batch, T, S, M], got shape "
                f"{metrics.shape.as_list()}.")
        if not metrics.dtype.is_floating:
            raise TypeError("`metrics` must be real floating point, got "
                            f"{metrics.dtype.name}.")
        S, M = metrics.shape[2], metrics.shape[3]
        if S is None or M is None:
            raise ValueError("`metrics` needs static S and M dimensions.")
        return cls(tf.transpose(metrics, [1, 2, 3, 0]), lambda g: g, S, M)

    @property
    def num_steps(self):
        """Scalar int32 tensor (or int) : T."""
        t = self.inputs.shape[0]
        return t if t is not None else tf.shape(self.inputs)[0]

    @property
    def dtype(self):
        """Real dtype of the metrics."""
        return self.inputs.dtype.real_dtype

    def at(self, k):
        """Branch metrics ``[S, M, batch]`` of step ``k``."""
        return self.fn(self.inputs[k])


def tuple_to_branch_metrics(tuple_metrics, num_points):
    r"""Per-channel-state log-likelihoods -> per-branch metrics.

    Parameters
    ----------
    tuple_metrics : [..., M**L], tf.float
        ``log p(y[k] | c)`` indexed by the channel state
        ``c = sum_j x[k-j] M**(L-1-j)`` (``x[k]`` most significant), e.g.
        a learned classifier's output minus the log prior.
    num_points : int
        M.

    Output
    ------
    : [..., S, M], tf.float
        Branch metrics for :func:`viterbi_decode` / :func:`forward_backward`.
    """
    t = tf.convert_to_tensor(tuple_metrics)
    n = t.shape[-1]
    if n is None or n % num_points:
        raise ValueError(f"`tuple_metrics` last axis ({n}) must be M**L "
                         f"for M = {num_points}.")
    shape = tf.concat([tf.shape(t)[:-1], [num_points, n // num_points]], 0)
    t = tf.reshape(t, shape)                           # [..., M, S]
    rank = t.shape.rank
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return tf.transpose(t, perm)


def branch_to_tuple_metrics(metrics):
    """Inverse of :func:`tuple_to_branch_metrics`: ``[..., S, M]`` ->
    ``[..., M*S]`` indexed by ``c = m * S + s``."""
    m = tf.convert_to_tensor(metrics)
    rank = m.shape.rank
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    m = tf.transpose(m, perm)                          # [..., M, S]
    return tf.reshape(m, tf.concat([tf.shape(m)[:-2], [-1]], 0))


def tuple_labels(symbols, num_points, memory):
    r"""Channel-state index of every time step (training labels).

    Parameters
    ----------
    symbols : [batch, T], int
        Transmitted symbol indices of frames preceded by the preamble
        (``L-1`` symbols of index 0).
    num_points, memory : int
        M and L.

    Output
    ------
    : [batch, T], tf.int32
        ``c[k] = sum_{j=0}^{L-1} x[k-j] M**(L-1-j)`` with ``x[k-j] = 0``
        before the frame.
    """
    check_trellis_size(num_points, memory)
    s = tf.cast(tf.convert_to_tensor(symbols), tf.int32)
    if s.shape.rank != 2:
        raise ValueError("`symbols` must have shape [batch, T], got shape "
                         f"{s.shape.as_list()}.")
    T = tf.shape(s)[1]
    sp = tf.pad(s, [[0, 0], [memory - 1, 0]])
    c = tf.zeros_like(s)
    for j in range(memory):                      # static, small
        c = c * num_points + sp[:, memory - 1 - j:memory - 1 - j + T]
    return c


def branch_means(taps, points, memory=None):
    r"""Noiseless channel output of every branch.

    Parameters
    ----------
    taps : [..., L], tf.float or tf.complex
        Channel taps (fixed ``[L]`` or per frame ``[batch, L]``).
    points : [M], tf.float or tf.complex
        Constellation points; index ``i`` <-> ``points[i]``.

    Output
    ------
    : [..., S, M], dtype of ``taps``
        ``mu[s, m] = h[0] p[m] + sum_{j>=1} h[j] p[x[k-j](s)]``.
    """
    taps = tf.convert_to_tensor(taps)
    L = taps.shape[-1] if memory is None else memory
    points = tf.cast(points, taps.dtype)
    M = points.shape[0]
    trellis = Trellis(M, L)
    head = taps[..., :1, None] * points                # [..., 1, M]
    if L == 1:
        return head
    past = tf.gather(points, trellis.state_symbols)    # [S, L-1]
    isi = tf.einsum("...j,sj->...s", taps[..., 1:], past)
    return isi[..., :, None] + head                    # [..., S, M]


# --------------------------------------------------------------------------
# One trellis step, time-major, batch innermost
# --------------------------------------------------------------------------
@tf.custom_gradient
def _lse2(a, b):
    """``log(exp(a) + exp(b))`` with one exp and one log1p; the gradient is
    the exact softmax also at ties (where max/abs subgradients are not)."""
    out = tf.maximum(a, b) + tf.math.log1p(tf.exp(-tf.abs(a - b)))

    def grad(g):
        w = tf.sigmoid(a - b)
        return g * w, g * (1.0 - w)
    return out, grad


def _reduce(c, axis, mode):
    """Reduce the (small, static) axis ``axis`` of ``c`` by ``mode``:
    ``"max"``, ``"sum"`` (log-sum-exp) or ``"argmax"`` (-> max, int8 index).
    """
    M = c.shape[axis]
    if M > _UNROLL_MAX_M:
        if mode == "max":
            return tf.reduce_max(c, axis)
        if mode == "sum":
            return tf.reduce_logsumexp(c, axis)
        return (tf.reduce_max(c, axis),
                tf.cast(tf.argmax(c, axis), tf.int8))
    parts = tf.unstack(c, axis=axis)
    if mode == "argmax":
        best, idx = parts[0], tf.zeros_like(parts[0], dtype=tf.int8)
        for i, p in enumerate(parts[1:], 1):
            better = p > best
            best = tf.where(better, p, best)
            idx = tf.where(better, tf.constant(i, tf.int8), idx)
        return best, idx
    if mode == "sum" and M == 2:
        return _lse2(parts[0], parts[1])
    best = parts[0]
    for p in parts[1:]:
        best = tf.maximum(best, p)
    if mode == "max":
        return best
    # log-sum-exp is shift invariant: the max may be a constant for the
    # gradient, which keeps it exact at ties.
    best = tf.stop_gradient(best)
    return best + tf.math.log(tf.add_n([tf.exp(p - best) for p in parts]))


def _normalise(a):
    # Subtracting a per-frame constant changes no posterior or decision;
    # as a constant for the gradient it keeps ties harmless.
    return a - tf.stop_gradient(tf.reduce_max(a, axis=0, keepdims=True))


def _forward_step(alpha, gamma, M, mode):
    """``alpha`` [S, B], ``gamma`` [S, M, B] -> alpha at k+1 [S, B]
    (and the survivor digit ``d`` [S, B] int8 with ``mode="argmax"``)."""
    S = alpha.shape[0]
    R = S // M
    c = tf.reshape(alpha, [R, M, 1, -1]) + tf.reshape(gamma, [R, M, M, -1])
    out = _reduce(c, 1, mode)                          # [R, M(m), B]
    if mode == "argmax":
        a, d = out
        d = tf.reshape(tf.transpose(d, [1, 0, 2]), [S, -1])
    else:
        a, d = out, None
    a = _normalise(tf.reshape(tf.transpose(a, [1, 0, 2]), [S, -1]))
    return a, d


def _backward_step(beta, gamma, M, mode):
    """``beta`` at k+1 [S, B], ``gamma`` [S, M, B] -> beta at k [S, B]."""
    S = beta.shape[0]
    R = S // M
    nxt = tf.transpose(tf.reshape(beta, [M, R, -1]), [1, 0, 2])  # [R, m, B]
    c = tf.reshape(gamma, [R, M, M, -1]) + nxt[:, None]         # r, d, m, B
    b = _reduce(c, 2, mode)                                     # [R, d, B]
    return _normalise(tf.reshape(b, [S, -1]))


# --------------------------------------------------------------------------
# Loops over time
# --------------------------------------------------------------------------
def _forward(step, k0, n, alpha, M, mode):
    """Runs ``n`` forward steps from absolute time ``k0``.

    Returns the final alpha and a ``[n, S, B]`` stack of the survivor
    digits (``mode="argmax"``) or of alpha after each step.
    """
    store_dtype = tf.int8 if mode == "argmax" else alpha.dtype
    ta = tf.TensorArray(store_dtype, size=n, element_shape=alpha.shape)

    def body(i, a, ta):
        a, d = _forward_step(a, step(k0 + i), M, mode)
        return i + 1, a, ta.write(i, d if mode == "argmax" else a)

    _, alpha, ta = tf.while_loop(lambda i, *_: i < n, body, (0, alpha, ta),
                                 maximum_iterations=n)
    return alpha, ta.stack()


def _backward(step, k0, n, beta, M, mode):
    """Runs ``n`` backward steps over times ``k0+n-1 .. k0``; returns the
    ``[n, S, B]`` stack of ``beta[k+1]`` (the message entering step k)."""
    ta = tf.TensorArray(beta.dtype, size=n, element_shape=beta.shape)

    def body(i, b, ta):
        k = n - 1 - i
        ta = ta.write(k, b)
        return i + 1, _backward_step(b, step(k0 + k), M, mode), ta

    _, _, ta = tf.while_loop(lambda i, *_: i < n, body, (0, beta, ta),
                             maximum_iterations=n)
    return ta.stack()


def _traceback(decisions, state, M):
    """Follows survivors ``[n, S, B]`` back from ``state`` [B] (at the end);
    returns the symbol indices ``[n, B]`` int32."""
    n = tf.shape(decisions)[0]
    S = decisions.shape[1]
    R = S // M
    batch = tf.shape(state)[0]
    offset = tf.range(batch)
    ta = tf.TensorArray(tf.int32, size=n, element_shape=state.shape)

    def body(i, st, ta):
        k = n - 1 - i
        d = tf.gather(tf.reshape(decisions[k], [-1]), st * batch + offset)
        ta = ta.write(k, st // R)
        return i + 1, (st % R) * M + tf.cast(d, tf.int32), ta

    _, _, ta = tf.while_loop(lambda i, *_: i < n, body, (0, state, ta),
                             maximum_iterations=n)
    return ta.stack()


def _symbol_scores(alpha_next, beta_next, M, mode):
    """``[n, S, B]`` messages at k+1 -> symbol scores ``[n, M, B]``: the
    next state ``m R + r`` holds ``x[k] = m``."""
    S = alpha_next.shape[1]
    z = tf.reshape(alpha_next + beta_next, [-1, M, S // M, tf.shape(
        alpha_next)[2]])
    if mode == "max":
        return tf.reduce_max(z, axis=2)
    return tf.reduce_logsumexp(z, axis=2)


def _initial_metrics(metrics, batch, initial_state):
    """Finite initial forward metrics ``[S, B]``."""
    S, dtype = metrics.num_states, metrics.dtype
    if initial_state == "unknown":
        return tf.zeros([S, batch], dtype)
    # A forbidden start beats the true one only if its penalty is below
    # what branch metrics can gain before all paths merge (L-1 steps);
    # bound that by the spread of the first steps' metrics.
    L = _memory_of(metrics)
    T = metrics.num_steps
    spread = tf.zeros([batch], dtype)
    for k in range(L - 1):
        g = metrics.at(tf.minimum(k, T - 1))
        spread += tf.reduce_max(g, [0, 1]) - tf.reduce_min(g, [0, 1])
    penalty = _PENALTY + 2.0 * tf.stop_gradient(spread)
    return tf.concat([tf.zeros([1, batch], dtype),
                      -tf.tile(penalty[None], [S - 1, 1])], axis=0)


def _batch_size(metrics):
    return tf.shape(metrics.at(0))[-1]


def _check_options(metrics, initial_state, chunk_size, overlap, memory):
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"`initial_state` must be one of {INITIAL_STATES}, "
                         f"got {initial_state!r}.")
    return check_chunking(chunk_size, overlap, memory)


def check_chunking(chunk_size, overlap, memory):
    """Validate ``(chunk_size, overlap)``; returns them (overlap defaulted
    to ``10 L``), or ``(None, None)`` for whole-block decoding."""
    if chunk_size is None:
        if overlap is not None:
            raise ValueError("`overlap` needs `chunk_size`.")
        return None, None
    if isinstance(chunk_size, bool) or not isinstance(
            chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be an integer >= 1, got "
                         f"{chunk_size!r}.")
    if overlap is None:
        overlap = 10 * memory
    if isinstance(overlap, bool) or not isinstance(
            overlap, (int, np.integer)) or overlap < 5 * memory:
        raise ValueError(
            f"`overlap` (traceback depth beyond a chunk) must be an integer "
            f">= 5 L = {5 * memory}, got {overlap!r}.")
    return int(chunk_size), int(overlap)


def _memory_of(metrics):
    """L such that ``M**(L-1) = S``."""
    L, n = 1, 1
    while n < metrics.num_states:
        n, L = n * metrics.num_points, L + 1
    if n != metrics.num_states:
        raise ValueError(f"S = {metrics.num_states} states is not a power "
                         f"of M = {metrics.num_points}.")
    return L


def _chunked(metrics, chunk_size, overlap, window_fn, alpha, out_shape,
             out_dtype):
    """Runs ``window_fn`` over overlapping windows; returns the time-major
    outputs ``[T, ...]``.

    ``window_fn(step, k0, alpha)`` decodes ``chunk_size + overlap`` steps
    from time ``k0`` and returns (outputs of the first ``chunk_size``
    steps, alpha after them). Steps beyond the block have zero metrics, so
    the last window behaves as if it ended at the block's end.
    """
    T = metrics.num_steps
    zeros = tf.zeros([metrics.num_states, metrics.num_points,
                      tf.shape(alpha)[1]], metrics.dtype)

    def step(k):
        return tf.where(k < T, metrics.at(tf.minimum(k, T - 1)), zeros)

    n_chunks = (T + chunk_size - 1) // chunk_size
    ta = tf.TensorArray(out_dtype, size=n_chunks,
                        element_shape=[chunk_size] + out_shape)

    def body(c, a, ta):
        out, a = window_fn(step, c * chunk_size, a)
        return c + 1, a, ta.write(c, out)

    _, _, ta = tf.while_loop(lambda c, *_: c < n_chunks, body,
                             (0, alpha, ta), maximum_iterations=n_chunks)
    out = ta.stack()
    out = tf.reshape(out, tf.concat([[-1], tf.shape(out)[2:]], 0))
    return out[:T]


# --------------------------------------------------------------------------
# Public recursions
# --------------------------------------------------------------------------
def _as_metrics(metrics):
    if isinstance(metrics, BranchMetrics):
        return metrics
    return BranchMetrics.from_tensor(metrics)


def viterbi_time_major(metrics, initial_state="known", chunk_size=None,
                       overlap=None):
    """:func:`viterbi_decode` on a :class:`BranchMetrics`; returns the ML
    sequence time-major, ``[T, batch]`` int32. Builds graph ops; call it
    inside a ``tf.function``."""
    M, S = metrics.num_points, metrics.num_states
    L = _memory_of(metrics)
    chunk_size, overlap = _check_options(metrics, initial_state, chunk_size,
                                         overlap, L)
    if S == 1:              # memoryless: symbol-by-symbol
        T = metrics.num_steps
        g = tf.map_fn(lambda k: metrics.at(k)[0], tf.range(T),
                      fn_output_signature=metrics.dtype)   # [T, M, B]
        return tf.argmax(g, axis=1, output_type=tf.int32)
    batch = _batch_size(metrics)
    alpha0 = _initial_metrics(metrics, batch, initial_state)

    if chunk_size is None:
        alpha, dec = _forward(metrics.at, 0, metrics.num_steps, alpha0, M,
                              "argmax")
        return _traceback(dec, tf.argmax(alpha, 0, output_type=tf.int32), M)

    def window(step, k0, alpha):
        alpha_n, d1 = _forward(step, k0, chunk_size, alpha, M, "argmax")
        alpha_w, d2 = _forward(step, k0 + chunk_size, overlap, alpha_n, M,
                               "argmax")
        x = _traceback(tf.concat([d1, d2], 0),
                       tf.argmax(alpha_w, 0, output_type=tf.int32), M)
        return x[:chunk_size], alpha_n

    return _chunked(metrics, chunk_size, overlap, window, alpha0, [None],
                    tf.int32)


def forward_backward_time_major(metrics, max_log=False, initial_state="known",
                                chunk_size=None, overlap=None):
    """:func:`forward_backward` on a :class:`BranchMetrics`; returns
    normalised symbol log-probabilities time-major, ``[T, M, batch]``.
    Builds graph ops; call it inside a ``tf.function``."""
    M, S = metrics.num_points, metrics.num_states
    L = _memory_of(metrics)
    chunk_size, overlap = _check_options(metrics, initial_state, chunk_size,
                                         overlap, L)
    mode = "max" if max_log else "sum"
    if S == 1:
        T = metrics.num_steps
        scores = tf.map_fn(lambda k: metrics.at(k)[0], tf.range(T),
                           fn_output_signature=metrics.dtype)
    else:
        batch = _batch_size(metrics)
        alpha0 = _initial_metrics(metrics, batch, initial_state)
        beta_end = tf.zeros_like(alpha0)

        if chunk_size is None:
            T = metrics.num_steps
            _, alphas = _forward(metrics.at, 0, T, alpha0, M, mode)
            betas = _backward(metrics.at, 0, T, beta_end, M, mode)
            scores = _symbol_scores(alphas, betas, M, mode)
        else:
            def window(step, k0, alpha):
                alpha_n, a1 = _forward(step, k0, chunk_size, alpha, M, mode)
                betas = _backward(step, k0, chunk_size + overlap, beta_end,
                                  M, mode)
                return (_symbol_scores(a1, betas[:chunk_size], M, mode),
                        alpha_n)

            scores = _chunked(metrics, chunk_size, overlap, window, alpha0,
                              [M, None], metrics.dtype)
    return scores - tf.reduce_logsumexp(scores, axis=1, keepdims=True)


@tf.function(jit_compile=True)
def _viterbi_compiled(metrics, initial_state, chunk_size, overlap):
    x = viterbi_time_major(BranchMetrics.from_tensor(metrics), initial_state,
                           chunk_size, overlap)
    return tf.transpose(x)


@tf.function(jit_compile=True)
def _forward_backward_compiled(metrics, max_log, initial_state, chunk_size,
                               overlap):
    lp = forward_backward_time_major(BranchMetrics.from_tensor(metrics),
                                     max_log, initial_state, chunk_size,
                                     overlap)
    return tf.transpose(lp, [2, 0, 1])


def viterbi_decode(metrics, initial_state="known", chunk_size=None,
                   overlap=None):
    r"""Maximum-likelihood sequence by the Viterbi algorithm.

    Parameters
    ----------
    metrics : [batch, T, S, M], tf.float
        Branch log-likelihoods ``log p(y[k] | s, m)`` (module doc for the
        numbering).
    initial_state : "known" | "unknown"
        ``"known"``: the trellis starts in state 0 (the preamble);
        ``"unknown"``: any state (the sequence maximises jointly over the
        initial state).
    chunk_size : None | int
        ``None`` decodes the whole block with a full traceback; an int N
        decodes in windows of ``N + overlap`` steps (memory independent of
        T).
    overlap : None | int
        Traceback depth beyond each chunk, ``>= 5 L`` (default ``10 L``).

    Output
    ------
    : [batch, T], tf.int32
        Symbol indices of the ML sequence (full traceback from the best
        final state).

    Eagerly the recursion runs as a cached XLA-compiled function; inside a
    ``tf.function`` it is traced in place.
    """
    m = _as_metrics(metrics)
    if isinstance(metrics, BranchMetrics) or not tf.executing_eagerly():
        return tf.transpose(viterbi_time_major(m, initial_state, chunk_size,
                                               overlap))
    _check_options(m, initial_state, chunk_size, overlap, _memory_of(m))
    return _viterbi_compiled(tf.convert_to_tensor(metrics), initial_state,
                             chunk_size, overlap)


def forward_backward(metrics, max_log=False, initial_state="known",
                     chunk_size=None, overlap=None):
    r"""Symbol posteriors by forward-backward (BCJR) recursions.

    Parameters
    ----------
    metrics : [batch, T, S, M], tf.float
        Branch log-likelihoods ``log p(y[k] | s, m)``.
    max_log : bool
        ``False``: sum-product, exact posteriors ``log p(x[k] = m | y)``;
        ``True``: max-product, ``max`` over sequences with ``x[k] = m`` of
        the sequence log-likelihood (max-log-MAP, the soft output of the
        Viterbi algorithm), normalised like log-probabilities.
    initial_state : "known" | "unknown"
        As in :func:`viterbi_decode` (``"unknown"``: uniform prior).
    chunk_size, overlap : None | int
        As in :func:`viterbi_decode`; the backward recursion of each window
        starts uniform ``overlap`` steps beyond the chunk.

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities (log-sum-exp over ``M`` is 0).

    Differentiable with respect to ``metrics`` (gradients stay finite: no
    ``-inf`` anywhere).
    """
    m = _as_metrics(metrics)
    if isinstance(metrics, BranchMetrics) or not tf.executing_eagerly():
        return tf.transpose(forward_backward_time_major(
            m, max_log, initial_state, chunk_size, overlap), [2, 0, 1])
    _check_options(m, initial_state, chunk_size, overlap, _memory_of(m))
    return _forward_backward_compiled(tf.convert_to_tensor(metrics),
                                      bool(max_log), initial_state,
                                      chunk_size, overlap)
