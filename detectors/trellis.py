r"""The trellis of a channel with memory and the two recursions on it.

A trellis detector is *branch metrics* x *inference*. This module owns the
inference: the trellis of an M-ary channel with memory L (``S = M**(L-1)``
states, ``M`` branches leaving each) and, once, in the log domain,

* max-product: the Viterbi algorithm (ML sequence by full traceback),
  max-log forward-backward (soft symbol metrics) and the fixed-lag rule of
  the ViterbiNet authors' decoder (no traceback, :func:`fixed_lag`);
* sum-product: BCJR forward-backward (exact symbol posteriors).

Branch-metric providers (:mod:`detectors.metrics`: Gaussian or Poisson
from the believed taps, a learned classifier) only produce ``log p(y[k] |
s, m)`` for every state ``s`` at time ``k`` and input symbol ``m = x[k]``;
they know nothing about recursions, and this module knows no channel
model. :class:`detectors.TrellisDetector` joins the two.

Numbering (the public contract)
-------------------------------
All numbers are base-``M`` integers of symbol indices, **oldest symbol most
significant**, newest least significant:

* **channel state** (the "tuple" a learned classifier predicts, ``M**L``
  classes): ``c = sum_{j=0}^{L-1} x[k-j] * M**j``, i.e. the digits of
  ``c`` read ``x[k-L+1], ..., x[k-1], x[k]``;
* **state** at time ``k``: the last ``L-1`` symbols,
  ``s = sum_{j=1}^{L-1} x[k-j] * M**(j-1)`` (``x[k-1]`` least
  significant), so ``s = c // M``;
* **branch** ``(s, m)``: state ``s`` at time ``k`` and input ``m = x[k]``,
  ``m = c % M``; hence ``c = s * M + m`` and a ``[..., M**L]`` tensor
  indexed by ``c`` *is* a ``[..., S, M]`` tensor indexed by ``(s, m)``
  (:func:`tuple_to_branch_metrics` is a reshape). The branch leads to
  state ``s' = c % S = (s * M + m) % S`` at time ``k+1``, which holds
  ``x[k]`` as its least significant digit.

Symbols before the frame are the preamble (index 0), so state 0 is the
known initial state.

Writing ``s = d * R + r`` (``R = M**(L-2)``, ``d = x[k-L+1]`` the symbol
that leaves the memory), the predecessors of ``s' = r * M + m`` are the
``M`` states ``d * R + r``: viewing alpha as ``[M(d), R]`` and the branch
metrics as ``[M(d), R, M(m)]``, the forward reduction over predecessors is
a reduction over the leading axis whose result is already ordered as
``s'`` -- no gathers and no transposes. The recursions run time-major with
the batch axis innermost (contiguous), so every step is a few fused
elementwise loops.

Numerical safety: initial metrics are finite (forbidden initial states get
a large negative penalty, never ``-inf``), every step subtracts the maximum
over states, and log-sum-exp of two terms is ``max + log(1 + exp(-|a-b|))``
with an exact custom gradient (the softmax weights, also at ties). Symbol
log-probabilities come from the forward and backward messages at the next
state, ``log p(x[k]=m | y) = logsumexp_q(alpha[k+1](qM+m) +
beta[k+1](qM+m))`` (the next state holds ``x[k]`` as its last digit).

Memory and speed: survivors are packed into bytes (8 per byte for M = 2)
and traced back inside XLA; the forward-backward recursion keeps a
checkpoint of alpha every ``K ~ sqrt(T)`` steps and recomputes one segment
at a time for the backward pass, so the stored messages are ``O(sqrt(T))``
per frame (large temporaries cost page faults on every call) and stay in
cache. In float32 the two transcendentals of every log-sum-exp use short
polynomials (error at float32 rounding), which XLA fuses with the rest of
the step; float64 uses the library functions.

Long streams: ``chunk_size=N, overlap=D`` processes windows of ``N + D``
steps. The forward message is carried exactly from chunk to chunk; the
traceback (Viterbi) or backward recursion (BCJR, started uniform) of a
window starts ``D >= 5 L`` steps beyond the chunk's last symbol, so memory
is ``O(N + D)`` whatever the stream length and the decisions equal those
of whole-block decoding unless survivors have not merged within ``D``
steps. The last window runs to the true end of the block.

Entry points: :func:`viterbi_decode` and :func:`forward_backward` take a
``[batch, T, S, M]`` tensor and run a cached XLA-compiled recursion
(differentiable); :func:`viterbi_time_major` and
:func:`forward_backward_time_major` take a :class:`BranchMetrics` and build
the recursion inside the caller's XLA-compiled function (how the detectors
use it, computing metrics step by step).
"""

import contextlib

import numpy as np
import tensorflow as tf

try:        # TensorFlow's own test for a recording tape (no public API)
    from tensorflow.python.eager import record as _record
except ImportError:                                 # pragma: no cover
    _record = None

from signals.checks import MAX_STATES, check_int

from .compiled import compiled

__all__ = ["Trellis", "BranchMetrics", "check_trellis_size",
           "check_chunking", "tuple_to_branch_metrics",
           "branch_to_tuple_metrics", "tuple_labels",
           "viterbi_decode", "forward_backward", "viterbi_time_major",
           "forward_backward_time_major", "fixed_lag", "fixed_lag_time_major",
           "compiled_with_gradient", "INITIAL_STATES"]

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
    check_int(num_points, "num_points", 2)
    check_int(memory, "memory", 1)
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

    Example
    -------
    >>> from detectors import Trellis
    >>> t = Trellis(2, 3)                  # BPSK, 3 taps
    >>> t.num_states, t.num_tuples, int(t.next_state(1, 1))
    (4, 8, 3)
    >>> t.state_symbols[1]                 # (x[k-1], x[k-2]) of state 1
    array([1, 0], dtype=int32)
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
        powers = M ** np.arange(L - 1)[None, :]
        return ((s // powers) % M).astype(np.int32)

    def next_state(self, state, symbol):
        """State at time k+1 after ``symbol = x[k]`` from ``state``."""
        return self.tuple_index(state, symbol) % self.num_states

    def tuple_index(self, state, symbol):
        """Channel-state index ``c = state * M + symbol``."""
        return np.asarray(state) * self.num_points + np.asarray(symbol)


def _check_metrics(metrics):
    """A ``[batch, T, S, M]`` real tensor with ``S = M**(L-1)`` states."""
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
    if M < 2:
        raise ValueError(f"`metrics` has M = {M} < 2 symbols.")
    check_trellis_size(M, _memory_from(S, M))
    return metrics


def _memory_from(num_states, num_points):
    """L such that ``M**(L-1) = S``."""
    L, n = 1, 1
    while n < num_states:
        n, L = n * num_points, L + 1
    if n != num_states:
        raise ValueError(f"S = {num_states} states is not a power of "
                         f"M = {num_points}.")
    return L


class BranchMetrics:
    r"""Branch log-likelihoods handed to the recursions one step at a time.

    The recursions need ``gamma[k] = log p(y[k] | s, m)`` as an ``[S, M,
    batch]`` tensor at step ``k``. A provider gives time-major inputs and a
    function computing one step from them (so the metrics of a whole block
    are never materialised), or a full tensor (:meth:`from_tensor`).

    Parameters
    ----------
    inputs : [T, ...], tf.Tensor
        Time-major per-step inputs (e.g. received samples ``[T, batch]``).
        A static T (known when tracing) gives bounded loops, which XLA
        needs to differentiate.
    fn : callable
        ``fn(inputs[k]) -> [S, M, batch]`` branch log-likelihoods of step k.
    num_states, num_points : int
        S and M of the trellis.

    Example
    -------
    Metrics of a memoryless BPSK channel, ``-(y - p)**2 / 2``, computed
    per step from the samples ``[T, batch]``:

    >>> import tensorflow as tf
    >>> from detectors import BranchMetrics
    >>> y = tf.constant([[1.0, -1.5]])                  # [batch, T]
    >>> p = tf.constant([1.0, -1.0])
    >>> m = BranchMetrics(tf.transpose(y),
    ...                   lambda y_k: -0.5 * (y_k - p[None, :, None]) ** 2,
    ...                   num_states=1, num_points=2)
    >>> m.memory, m.at(1).numpy()[..., 0]               # [S, M] at k = 1
    (1, array([[-3.125, -0.125]], dtype=float32))
    """

    def __init__(self, inputs, fn, num_states, num_points):
        self.inputs = inputs
        self.fn = fn
        self.num_states = int(num_states)
        self.num_points = int(num_points)
        self.memory = _memory_from(self.num_states, self.num_points)

    @classmethod
    def from_tensor(cls, metrics):
        """Wrap a ``[batch, T, S, M]`` tensor of branch log-likelihoods."""
        metrics = _check_metrics(metrics)
        S, M = metrics.shape[2], metrics.shape[3]
        return cls(tf.transpose(metrics, [1, 2, 3, 0]), lambda g: g, S, M)

    @property
    def num_steps(self):
        """int (or scalar int32 tensor if unknown while tracing) : T."""
        t = self.inputs.shape[0]
        return t if t is not None else tf.shape(self.inputs)[0]

    @property
    def batch_size(self):
        """Scalar int32 tensor : the batch size."""
        return tf.shape(self.at(0))[-1]

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
        ``c = sum_j x[k-j] M**j`` (``x[k]`` least significant), e.g. a
        learned classifier's log-probabilities minus the log prior.
    num_points : int
        M.

    Output
    ------
    : [..., S, M], tf.float
        Branch metrics for :func:`viterbi_decode` / :func:`forward_backward`
        (``c = s * M + m``, so this is a reshape).
    """
    t = tf.convert_to_tensor(tuple_metrics)
    n = t.shape[-1]
    if n is None or n % num_points:
        raise ValueError(f"`tuple_metrics` last axis ({n}) must be M**L "
                         f"for M = {num_points}.")
    check_trellis_size(num_points, _memory_from(n // num_points,
                                                num_points))
    shape = tf.concat([tf.shape(t)[:-1], [n // num_points, num_points]], 0)
    return tf.reshape(t, shape)


def branch_to_tuple_metrics(metrics):
    """Inverse of :func:`tuple_to_branch_metrics`: ``[..., S, M]`` ->
    ``[..., S*M]`` indexed by ``c = s * M + m``."""
    m = tf.convert_to_tensor(metrics)
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
        ``c[k] = sum_{j=0}^{L-1} x[k-j] M**j`` with ``x[k-j] = 0`` before
        the frame.
    """
    check_trellis_size(num_points, memory)
    s = tf.cast(tf.convert_to_tensor(symbols), tf.int32)
    if s.shape.rank != 2:
        raise ValueError("`symbols` must have shape [batch, T], got shape "
                         f"{s.shape.as_list()}.")
    T = tf.shape(s)[1]
    sp = tf.pad(s, [[0, 0], [memory - 1, 0]])
    c = tf.zeros_like(s)
    for j in range(memory - 1, -1, -1):          # oldest digit first
        c = c * num_points + sp[:, memory - 1 - j:memory - 1 - j + T]
    return c


# --------------------------------------------------------------------------
# One trellis step, time-major, batch innermost
# --------------------------------------------------------------------------
def _chebyshev_power_series(f, degree, half_width):
    """Power-series coefficients (in ``x``, ``|x| <= half_width``) of the
    Chebyshev interpolant of ``f`` on that interval: near-minimax."""
    u = np.polynomial.chebyshev
    c = u.chebinterpolate(lambda v: f(v * half_width), degree)
    return u.cheb2poly(c) / half_width ** np.arange(degree + 1)


# exp(r) on |r| <= ln2/2 (degree 6: relative error 1e-7) and log(1 + t) on
# t in [0, 1] as a polynomial in 2t - 1 (degree 8: absolute error 1e-7),
# i.e. at float32 rounding.
_EXP_COEFFS = _chebyshev_power_series(np.exp, 6, np.log(2) / 2)
_LOG1P_COEFFS = _chebyshev_power_series(lambda u: np.log1p((u + 1) / 2), 8,
                                        1.0)


def _horner(x, coeffs):
    acc = tf.cast(coeffs[-1], x.dtype)
    for c in coeffs[-2::-1]:
        acc = acc * x + c
    return acc


def _exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` in float32, as fusable arithmetic.

    XLA's CPU ``exp`` and ``log`` cost several times these polynomials
    (range checks, generic range reduction), and the recursions spend most
    of their time here. Relative error ~1e-7 (float32 rounding) down to
    ``x = -40``; below, ``exp(-40) = 4e-18`` is returned: it is only ever
    added to values >= 1 (or to a maximum), where it is below rounding, and
    it keeps every intermediate a normal float (denormals are very slow).
    """
    x = tf.maximum(x, -40.0)
    n = tf.round(x * 1.4426950408889634)               # x / ln 2
    r = x - n * 0.693145751953125 - n * 1.428606765330187e-06  # |r| <= ln2/2
    scale = tf.bitcast(tf.bitwise.left_shift(tf.cast(n, tf.int32) + 127, 23),
                       tf.float32)                     # 2**n, n in [-58, 0]
    return _horner(r, _EXP_COEFFS) * scale


def _log1p_unit(t):
    """``log(1 + t)`` for ``0 <= t <= 1`` in float32 (absolute error
    ~1e-7): one polynomial, no division (which XLA would not fuse)."""
    return _horner(2.0 * t - 1.0, _LOG1P_COEFFS)


def _softplus_neg(d):
    """``log(1 + exp(-d))`` for ``d >= 0``."""
    if d.dtype == tf.float32:
        return _log1p_unit(_exp_nonpositive(-d))
    # float64 (the exactness path): library functions. log(1 + x) rather
    # than log1p(x): x <= 1, so the error is at most one ulp of 1.
    return tf.math.log(1.0 + tf.exp(-d))


@tf.custom_gradient
def _lse2(a, b):
    """``log(exp(a) + exp(b))``; the gradient is the exact softmax also at
    ties (where max/abs subgradients are not)."""
    out = tf.maximum(a, b) + _softplus_neg(tf.abs(a - b))

    def grad(g):
        w = tf.sigmoid(a - b)
        return g * w, g * (1.0 - w)
    return out, grad


def _exp_shifted(x):
    """``exp(x)`` for ``x <= 0`` (fast float32 path)."""
    return _exp_nonpositive(x) if x.dtype == tf.float32 else tf.exp(x)


def _reduce(c, axis, mode):
    """Reduce the (small, static) axis ``axis`` of ``c`` by ``mode``:
    ``"max"``, ``"sum"`` (log-sum-exp) or ``"argmax"`` (-> max, int32
    index).
    """
    M = c.shape[axis]
    if M > _UNROLL_MAX_M:
        if mode == "max":
            return tf.reduce_max(c, axis)
        if mode == "sum":
            return tf.reduce_logsumexp(c, axis)
        return (tf.reduce_max(c, axis),
                tf.argmax(c, axis, output_type=tf.int32))
    parts = tf.unstack(c, axis=axis)
    if len(parts) == 1:
        return ((parts[0], tf.zeros_like(parts[0], dtype=tf.int32))
                if mode == "argmax" else parts[0])
    if mode == "argmax":
        best, idx = parts[0], tf.zeros_like(parts[0], dtype=tf.int32)
        for i, p in enumerate(parts[1:], 1):
            better = p > best
            best = tf.where(better, p, best)
            idx = tf.where(better, i, idx)
        return best, idx
    if mode == "sum" and M == 2:
        return _lse2(parts[0], parts[1])
    if mode == "max":
        best = parts[0]
        for p in parts[1:]:
            best = tf.maximum(best, p)
        return best
    return _lse_parts(*parts)


@tf.custom_gradient
def _lse_parts(*parts):
    """``log(sum_i exp(parts[i]))``, elementwise over equal-shape parts.
    The gradient (softmax weights ``exp(p_i - out)``) is recomputed from
    the output, so a differentiated loop stacks only inputs and output,
    not every intermediate of the exp polynomial."""
    best = parts[0]
    for p in parts[1:]:
        best = tf.maximum(best, p)
    out = best + tf.math.log(tf.add_n([_exp_shifted(p - best)
                                       for p in parts]))

    def grad(g):
        return [g * _exp_shifted(tf.minimum(p - out, 0.0)) for p in parts]
    return out, grad


def _normalise(a):
    # Subtracting a per-frame constant changes no posterior or decision;
    # as a constant for the gradient it keeps ties harmless.
    return a - tf.stop_gradient(tf.reduce_max(a, axis=0, keepdims=True))


def _forward_step(alpha, gamma, M, mode):
    """``alpha`` [S, B], ``gamma`` [S, M, B] -> alpha at k+1 [S, B]
    (and the survivor digit ``d`` [S, B] int32 with ``mode="argmax"``)."""
    S = gamma.shape[0]
    R = S // M
    # s = d R + r -> s' = r M + m: reduce over the leading axis d.
    c = tf.reshape(alpha, [M, R, 1, -1]) + tf.reshape(gamma, [M, R, M, -1])
    out = _reduce(c, 0, mode)                          # [R, M, B]
    a, d = out if mode == "argmax" else (out, None)
    a = _normalise(tf.reshape(a, [S, -1]))
    return a, (None if d is None else tf.reshape(d, [S, -1]))


def _backward_step(beta, gamma, M, mode):
    """``beta`` at k+1 [S, B], ``gamma`` [S, M, B] -> beta at k [S, B]."""
    S = gamma.shape[0]
    R = S // M
    # beta[k](d R + r) = reduce_m gamma(d R + r, m) + beta[k+1](r M + m)
    c = tf.reshape(gamma, [M, R, M, -1]) + tf.reshape(beta, [1, R, M, -1])
    return _normalise(tf.reshape(_reduce(c, 2, mode), [S, -1]))


# --------------------------------------------------------------------------
# Survivor storage: decisions packed into bytes
# --------------------------------------------------------------------------
def _pack_layout(num_points, num_states):
    """(bits per decision, decisions per byte, bytes per step and frame)."""
    bits = max(1, int(np.ceil(np.log2(num_points))))
    per = max(1, 8 // bits)
    return bits, per, -(-num_states // per)


def _pack(d, M):
    """Survivor digits ``[S, B]`` -> ``[G, B]`` bytes (``[S, B]`` int32 for
    M > 256). M = 2: 8 states per byte, so a 10**6-step stream of an
    8-state trellis keeps 1 MB of survivors per frame."""
    S = d.shape[0]
    if M > 256:
        return tf.cast(d, tf.int32)
    bits, per, groups = _pack_layout(M, S)
    d = tf.cast(d, tf.int32)
    if per == 1:
        return tf.cast(d, tf.uint8)
    if groups * per != S:
        d = tf.pad(d, [[0, groups * per - S], [0, 0]])
    parts = tf.unstack(tf.reshape(d, [groups, per, -1]), axis=1)
    packed = parts[0]
    for i, p in enumerate(parts[1:], 1):
        packed += p * (1 << (i * bits))
    return tf.cast(packed, tf.uint8)


def _unpack(packed, state, offset, M, S):
    """Survivor digit of ``state`` [B] from one step's packed ``[G, B]``."""
    batch = tf.shape(state)[0]
    bits, per, _ = _pack_layout(M, S)
    if M > 256 or per == 1:
        return tf.cast(tf.gather(tf.reshape(packed, [-1]),
                                 state * batch + offset), tf.int32)
    byte = tf.gather(tf.reshape(packed, [-1]),
                     (state // per) * batch + offset)
    shift = (state % per) * bits
    return tf.bitwise.bitwise_and(
        tf.bitwise.right_shift(tf.cast(byte, tf.int32), shift),
        (1 << bits) - 1)


# --------------------------------------------------------------------------
# Loops over time (all indices absolute; ``k`` runs over trellis steps)
# --------------------------------------------------------------------------
def _loop(n, body, loop_vars, bound):
    """``for i in range(n)`` as a ``tf.while_loop`` (``bound``: a static
    upper bound on ``n``, needed by XLA for gradients)."""
    return tf.while_loop(lambda i, *_: i < n, lambda i, *v: (i + 1,) + tuple(
        body(i, *v)), (0,) + tuple(loop_vars), maximum_iterations=bound)[1:]


def _forward_decisions(metrics, t0, t1, alpha, dec, base, bound):
    """Viterbi steps ``t0 .. t1-1``; packed survivors go to ``dec[k-base]``.
    """
    M = metrics.num_points

    def body(i, a, dec):
        k = t0 + i
        a, d = _forward_step(a, metrics.at(k), M, "argmax")
        return a, dec.write(k - base, _pack(d, M))

    return _loop(t1 - t0, body, (alpha, dec), bound)


def _traceback(metrics, t1, t0, state, dec, base, out, bound):
    """Follows survivors from ``state`` at time ``t1`` back to ``t0``;
    writes ``x[k]`` to ``out[k]`` unless ``out`` is None."""
    M, S = metrics.num_points, metrics.num_states
    R = S // M
    offset = tf.range(tf.shape(state)[0])

    def body(i, st, *out):
        k = t1 - 1 - i
        d = _unpack(dec.read(k - base), st, offset, M, S)
        if out:
            out = (out[0].write(k, st % M),)
        return (d * R + st // M,) + out

    res = _loop(t1 - t0, body, (state,) + ((out,) if out is not None else ()),
                bound)
    return res if out is not None else (res[0], None)


def _forward_alphas(metrics, t0, t1, alpha, mode, alphas, bound):
    """Forward steps ``t0 .. t1-1``; ``alphas[k - t0]`` receives alpha at
    ``k+1``."""
    M = metrics.num_points

    def body(i, a, alphas):
        a, _ = _forward_step(a, metrics.at(t0 + i), M, mode)
        return a, alphas.write(i, a)

    return _loop(t1 - t0, body, (alpha, alphas), bound)


def _forward_checkpoints(metrics, t0, t1, alpha, mode, ckpt, K, bound):
    """Forward steps ``t0 .. t1-1``; ``ckpt[j]`` receives alpha at time
    ``t0 + j K``. Returns alpha at ``t1``."""
    M = metrics.num_points

    def segment(j, a, ckpt):
        s0 = t0 + j * K

        def body(i, a):
            return (_forward_step(a, metrics.at(s0 + i), M, mode)[0],)

        ckpt = ckpt.write(j, a)
        a = _loop(tf.minimum(K, t1 - s0), body, (a,), K)[0]
        return a, ckpt

    return _loop((t1 - t0 + K - 1) // K, segment, (alpha, ckpt), bound)


def _backward_plain(metrics, t1, t0, beta, mode, bound):
    """Backward steps ``t1-1 .. t0`` without outputs (window warm-up)."""
    M = metrics.num_points

    def body(i, b):
        return (_backward_step(b, metrics.at(t1 - 1 - i), M, mode),)

    return _loop(t1 - t0, body, (beta,), bound)[0]


def _symbol_log_probs(alpha_next, beta_next, S, M, mode):
    """Messages at time k+1 ``[S, B]`` -> normalised ``log p(x[k] | y)``
    ``[B, M]``: the next state ``q M + m`` holds ``x[k] = m``."""
    z = tf.reshape(alpha_next + beta_next, [S // M, M, -1])
    scores = _reduce(z, 0, mode)                       # [M, B]
    scores -= _reduce(scores, 0, "sum")[None]
    return tf.transpose(scores)


def _backward_outputs(metrics, t1, t0, beta, alphas, out, mode, bound):
    """Backward steps ``t1-1 .. t0`` writing symbol log-probabilities to
    ``out[k]``; ``alphas[k - t0]`` holds alpha at ``k+1``."""
    M = metrics.num_points

    def body(i, b, out):
        k = t1 - 1 - i
        out = out.write(k, _symbol_log_probs(alphas.read(k - t0), b,
                                             metrics.num_states, M, mode))
        return _backward_step(b, metrics.at(k), M, mode), out

    return _loop(t1 - t0, body, (beta, out), bound)


# --------------------------------------------------------------------------
# Blocks: outputs for steps [t0, t_out); with ``lookahead`` the recursions
# reach on to t_end (continuous mode), else t_end == t_out (whole block)
# --------------------------------------------------------------------------
def _viterbi_block(metrics, alpha, t0, t_out, t_end, width, out, lookahead):
    dec_dtype = tf.int32 if metrics.num_points > 256 else tf.uint8
    dec = tf.TensorArray(dec_dtype, size=t_end - t0 if width is None
                         else width)
    alpha_out, dec = _forward_decisions(metrics, t0, t_out, alpha, dec, t0,
                                        width)
    alpha_end = alpha_out
    if lookahead:
        alpha_end, dec = _forward_decisions(metrics, t_out, t_end, alpha_out,
                                            dec, t0, width)
    state = tf.argmax(alpha_end, axis=0, output_type=tf.int32)
    if lookahead:       # trace back through the overlap without output
        state, _ = _traceback(metrics, t_end, t_out, state, dec, t0, None,
                              width)
    _, out = _traceback(metrics, t_out, t0, state, dec, t0, out, width)
    return alpha_out, out


def _segment(width):
    """Checkpoint spacing K ~ sqrt(width): the stored forward messages
    (checkpoints + one recomputed segment) stay O(sqrt(T)) per frame, and
    a segment stays in cache while the backward pass consumes it."""
    if width is None:           # T unknown while tracing
        return 64
    return max(1, int(np.ceil(np.sqrt(width))))


#: Forward messages of a block kept whole (one forward pass) when they
#: fit in this many bytes, else checkpointed (two forward passes).
#: Measured on the 2-core machine (BPSK, L = 4, 2026-12-06): BCJR at
#: 100 x 1000 13.7 Msym/s kept whole against 11.0 checkpointed, 10 x 1000
#: 5.2 against 4.8, 1000 x 1000 (32 MB) 30.7 against 29.0; same outputs.
_STORE_ALPHAS_BYTES = 32 * 2 ** 20


def _stores_alphas(alpha, width):
    """Whether a block of ``width`` steps keeps every forward message."""
    S, B = alpha.shape
    if width is None or B is None:
        return False
    return S * B * width * alpha.dtype.size <= _STORE_ALPHAS_BYTES


def _outputs_over(metrics, t0, t1, alpha, beta, out, mode, bound):
    """Steps ``t0 .. t1-1`` with every forward message kept: the forward
    pass from ``alpha``, then the backward one from ``beta`` writing
    ``out``. Returns alpha at ``t1``, beta at ``t0`` and ``out``."""
    alphas = tf.TensorArray(alpha.dtype, size=bound,
                            element_shape=alpha.shape)
    alpha, alphas = _forward_alphas(metrics, t0, t1, alpha, mode, alphas,
                                    bound)
    beta, out = _backward_outputs(metrics, t1, t0, beta, alphas, out, mode,
                                  bound)
    return alpha, beta, out


def _bcjr_block(metrics, alpha, t0, t_out, t_end, width, out, lookahead,
                mode):
    beta = tf.zeros_like(alpha)     # unterminated: any final state
    if lookahead:
        beta = _backward_plain(metrics, t_end, t_out, beta, mode, width)
    if _stores_alphas(alpha, width):
        alpha_out, _, out = _outputs_over(metrics, t0, t_out, alpha, beta,
                                          out, mode, width)
        return alpha_out, out

    K = _segment(width)
    n_seg = (t_out - t0 + K - 1) // K
    max_seg = None if width is None else -(-width // K)
    ckpt = tf.TensorArray(alpha.dtype, size=n_seg if width is None
                          else max_seg, element_shape=alpha.shape)
    alpha_out, ckpt = _forward_checkpoints(metrics, t0, t_out, alpha, mode,
                                           ckpt, K, max_seg)

    def segment(i, beta, out):
        # last segment first: recompute its alphas from the checkpoint,
        # then run the backward recursion over it
        j = n_seg - 1 - i
        s0 = t0 + j * K
        _, beta, out = _outputs_over(metrics, s0, tf.minimum(s0 + K, t_out),
                                     ckpt.read(j), beta, out, mode, K)
        return beta, out

    _, out = _loop(n_seg, segment, (beta, out), max_seg)
    return alpha_out, out


def _run(metrics, initial_state, chunk_size, overlap, block, out_dtype):
    """Whole block, or overlapping windows carrying the forward metrics."""
    T = metrics.num_steps
    alpha = _initial_metrics(metrics, metrics.batch_size, initial_state)
    out = tf.TensorArray(out_dtype, size=T)
    if chunk_size is None:
        _, out = block(metrics, alpha, 0, T, T, _static(T), out, False)
        return out.stack()
    N, D = chunk_size, overlap
    n_chunks = (T + N - 1) // N

    def window(c, alpha, out):
        t0 = c * N
        return block(metrics, alpha, t0, tf.minimum(t0 + N, T),
                     tf.minimum(t0 + N + D, T), N + D, out, True)

    _, out = _loop(n_chunks, window, (alpha, out), _static(n_chunks))
    return out.stack()


def _static(x):
    """``x`` as a Python int when known while tracing, else None (loops
    then have no static bound: fine forward, but XLA needs bounds to
    differentiate)."""
    v = tf.get_static_value(x)
    return None if v is None else int(v)


def _initial_metrics(metrics, batch, initial_state):
    """Finite initial forward metrics ``[S, B]``."""
    S, dtype = metrics.num_states, metrics.dtype
    if initial_state == "unknown":
        return tf.zeros([S, batch], dtype)
    # A forbidden start beats the true one only if its penalty is below
    # what branch metrics can gain before all paths merge (L-1 steps);
    # bound that by the spread of the first steps' metrics.
    T = metrics.num_steps
    spread = tf.zeros([batch], dtype)
    for k in range(metrics.memory - 1):
        g = metrics.at(tf.minimum(k, T - 1))
        spread += tf.reduce_max(g, [0, 1]) - tf.reduce_min(g, [0, 1])
    penalty = _PENALTY + 2.0 * tf.stop_gradient(spread)
    return tf.concat([tf.zeros([1, batch], dtype),
                      -tf.tile(penalty[None], [S - 1, 1])], axis=0)


def _memoryless(metrics, hard):
    """L = 1: every step stands alone."""
    T = metrics.num_steps
    out = tf.TensorArray(tf.int32 if hard else metrics.dtype, size=T)

    def body(k, out):
        g = metrics.at(k)[0]                                  # [M, B]
        if hard:
            return (out.write(k, tf.argmax(g, 0, output_type=tf.int32)),)
        return (out.write(k, tf.transpose(g - _reduce(g, 0, "sum")[None])),)

    return _loop(T, body, (out,), _static(T))[0].stack()


def check_chunking(chunk_size, overlap, memory):
    """Validate ``(chunk_size, overlap)``; returns them (overlap defaulted
    to ``10 L``), or ``(None, None)`` for whole-block decoding."""
    if chunk_size is None:
        if overlap is not None:
            raise ValueError("`overlap` needs `chunk_size`.")
        return None, None
    chunk_size = check_int(chunk_size, "chunk_size")
    if overlap is None:
        overlap = 10 * memory
    overlap = check_int(overlap, "overlap", 5 * memory,
                        what="traceback depth beyond a chunk, >= 5 L")
    return chunk_size, overlap


def _check_options(initial_state, chunk_size, overlap, memory):
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"`initial_state` must be one of {INITIAL_STATES}, "
                         f"got {initial_state!r}.")
    return check_chunking(chunk_size, overlap, memory)


# --------------------------------------------------------------------------
# Public recursions
# --------------------------------------------------------------------------
def viterbi_time_major(metrics, initial_state="known", chunk_size=None,
                       overlap=None):
    """:func:`viterbi_decode` on a :class:`BranchMetrics`; returns the ML
    sequence time-major, ``[T, batch]`` int32. Builds graph ops for an
    XLA-compiled function (the detectors call it from theirs)."""
    chunk_size, overlap = _check_options(initial_state, chunk_size, overlap,
                                         metrics.memory)
    if metrics.num_states == 1:
        return _memoryless(metrics, hard=True)
    return _run(metrics, initial_state, chunk_size, overlap, _viterbi_block,
                tf.int32)


def _fixed_lag_step(alpha, gamma, M):
    """Max-product step ``alpha`` [S, B] -> alpha at k+1 [S, B], and the
    fixed-lag scores ``[M, B]`` of the symbol that leaves the memory,
    ``x[k-L+1]``: the best path metric through step k with ``x[k-L+1] =
    d``, i.e. the best branch ``(s, m)`` of step k whose state ``s = d R +
    r`` has ``d`` as its oldest symbol."""
    S = gamma.shape[0]
    R = S // M
    c = tf.reshape(alpha, [M, R, 1, -1]) + tf.reshape(gamma, [M, R, M, -1])
    a = _normalise(tf.reshape(_reduce(c, 0, "max"), [S, -1]))
    return a, tf.reduce_max(tf.reshape(c, [M, R * M, -1]), axis=1)


def _final_digit_scores(alpha, M, L):
    """Scores ``[L-1, M, B]`` of the symbols held by the final state,
    oldest (``x[T-L+1]``, the most significant digit) first: the best
    final metric among the states holding each value."""
    a = tf.reshape(alpha, [M] * (L - 1) + [-1])
    axes = list(range(L - 1))
    return tf.stack([tf.reduce_max(a, [b for b in axes if b != j])
                     if L > 2 else a for j in axes])


def _scores_to_log_probs(scores):
    """``[..., M, B]`` max-log scores -> normalised ``[..., B, M]``."""
    scores -= tf.reduce_logsumexp(scores, axis=-2, keepdims=True)
    return tf.linalg.matrix_transpose(scores)


def fixed_lag_time_major(metrics, initial_state="known"):
    """:func:`fixed_lag` on a :class:`BranchMetrics`; returns normalised
    max-log scores ``[T, batch, M]`` time-major (their argmax is the
    fixed-lag decision). Builds graph ops for an XLA-compiled function."""
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"`initial_state` must be one of {INITIAL_STATES}, "
                         f"got {initial_state!r}.")
    if metrics.num_states == 1:
        return _memoryless(metrics, hard=False)
    M, L, T = metrics.num_points, metrics.memory, metrics.num_steps
    alpha = _initial_metrics(metrics, metrics.batch_size, initial_state)
    out = tf.TensorArray(metrics.dtype, size=T)

    def body(k, a, out):
        a, score = _fixed_lag_step(a, metrics.at(k), M)
        return a, out.write(k, _scores_to_log_probs(score))

    alpha, out = _loop(T, body, (alpha, out), _static(T))
    # row k of `out` decides x[k-L+1]; the final state holds the last L-1
    # symbols; together they cover x[-L+1 .. T-1], the frame is the tail.
    full = tf.concat([out.stack(),
                      _scores_to_log_probs(_final_digit_scores(alpha, M, L))],
                     axis=0)
    return full[L - 1:]


def forward_backward_time_major(metrics, max_log=False, initial_state="known",
                                chunk_size=None, overlap=None):
    """:func:`forward_backward` on a :class:`BranchMetrics`; returns
    normalised symbol log-probabilities ``[T, batch, M]``. Builds graph ops
    for an XLA-compiled function."""
    chunk_size, overlap = _check_options(initial_state, chunk_size, overlap,
                                         metrics.memory)
    if metrics.num_states == 1:
        return _memoryless(metrics, hard=False)
    mode = "max" if max_log else "sum"

    def block(*args):
        return _bcjr_block(*args, mode)

    return _run(metrics, initial_state, chunk_size, overlap, block,
                metrics.dtype)


def _could_record():
    """Whether a ``GradientTape`` (or forward accumulator) is active, so
    that an eager op now could be differentiated later."""
    return _record is None or _record.could_possibly_record()


def compiled_with_gradient(fn):
    """Wraps ``fn(*tensors) -> tensor`` as an XLA-compiled function that is
    also differentiable from an eager ``GradientTape`` or a graph.

    A tape around an XLA function with loops would have to export the
    loops' intermediate TensorLists, which XLA cannot; instead the forward
    call runs unrecorded and the gradient recomputes ``fn`` under a tape
    inside a second XLA function (one extra forward pass, memory of one).
    Inside a user's XLA-compiled function both are inlined.

    The returned ``call(*tensors, context=None)`` enters ``context()`` (a
    context-manager factory) around both compiled calls: whatever ``fn``
    reads while it is traced (see :class:`detectors.TrellisDetector`) is
    then in place for the gradient's trace too, which happens later.
    """
    forward = tf.function(fn, jit_compile=True, autograph=False)

    @tf.function(jit_compile=True, autograph=False)
    def vjp(args, dy):
        with tf.GradientTape() as tape:
            tape.watch(args)
            out = fn(*args)
        return tape.gradient(out, args, output_gradients=dy,
                             unconnected_gradients="zero")

    def call(*args, context=None):
        context = context or contextlib.nullcontext
        if tf.executing_eagerly() and not _could_record():
            # Nothing could differentiate this call: skip the wrapper's
            # per-argument reads and copies (a third of a small batch).
            with context():
                return forward(*args)
        args = [tf.convert_to_tensor(a) for a in args]

        @tf.custom_gradient
        def inner(*args):
            def grad(dy):
                with context():
                    grads = vjp(args, dy)
                return [None if not a.dtype.is_floating and
                        not a.dtype.is_complex else g
                        for a, g in zip(args, grads)]
            # Unwatched inputs: the tape does not split the XLA call.
            with context():
                return forward(*[tf.stop_gradient(a) for a in args]), grad

        return inner(*args)

    return call


def _build(kind, options):
    if kind == "viterbi":
        def fn(metrics):
            return tf.transpose(viterbi_time_major(
                BranchMetrics.from_tensor(metrics), *options))
        return tf.function(fn, jit_compile=True, autograph=False)
    if kind == "fixed-lag":
        def fn(metrics):
            return tf.transpose(fixed_lag_time_major(
                BranchMetrics.from_tensor(metrics), *options), [1, 0, 2])
        return compiled_with_gradient(fn)

    def fn(metrics):
        return tf.transpose(forward_backward_time_major(
            BranchMetrics.from_tensor(metrics), *options), [1, 0, 2])
    return compiled_with_gradient(fn)


def _compiled(kind, *options):
    """One compiled recursion per (kind, options), created on first use."""
    return compiled(("trellis", kind) + options,
                    lambda: _build(kind, options))


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
        ``"unknown"``: in any state (the sequence then maximises jointly
        over the initial state).
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

    Runs as a cached XLA-compiled function (inlined when called inside
    another XLA-compiled function).

    Example
    -------
    Two states (BPSK, L = 2); the metrics favour ``0, 1, 1``:

    >>> import numpy as np
    >>> from detectors import viterbi_decode
    >>> m = np.zeros([1, 3, 2, 2], np.float32)
    >>> m[0, 0, :, 0] = m[0, 1, :, 1] = m[0, 2, :, 1] = 1.0
    >>> viterbi_decode(m).numpy()
    array([[0, 1, 1]], dtype=int32)
    """
    metrics = _check_metrics(metrics)
    _check_options(initial_state, chunk_size, overlap,
                   _memory_from(metrics.shape[2], metrics.shape[3]))
    return _compiled("viterbi", initial_state, chunk_size, overlap)(metrics)


def forward_backward(metrics, max_log=False, initial_state="known",
                     chunk_size=None, overlap=None):
    r"""Symbol posteriors by forward-backward (BCJR) recursions.

    Parameters
    ----------
    metrics : [batch, T, S, M], tf.float
        Branch log-likelihoods ``log p(y[k] | s, m)``.
    max_log : bool
        ``False``: sum-product, exact posteriors ``log p(x[k] = m | y)``;
        ``True``: max-product, the best sequence log-likelihood with
        ``x[k] = m`` (max-log-MAP, the soft output of the Viterbi
        algorithm), normalised like log-probabilities.
    initial_state : "known" | "unknown"
        As in :func:`viterbi_decode` (``"unknown"``: uniform prior).
    chunk_size, overlap : None | int
        As in :func:`viterbi_decode`; the backward recursion of each window
        starts uniform ``overlap`` steps beyond the chunk.

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities (log-sum-exp over ``M`` is 0).

    Differentiable with respect to ``metrics``; gradients stay finite (no
    ``-inf`` anywhere). Runs as a cached XLA-compiled function.

    Example
    -------
    Without information in the metrics, every symbol is equally likely:

    >>> import numpy as np
    >>> from detectors import forward_backward
    >>> lp = forward_backward(np.zeros([1, 3, 2, 2], np.float32))
    >>> np.exp(lp.numpy()).round(3)
    array([[[0.5, 0.5],
            [0.5, 0.5],
            [0.5, 0.5]]], dtype=float32)
    """
    metrics = _check_metrics(metrics)
    _check_options(initial_state, chunk_size, overlap,
                   _memory_from(metrics.shape[2], metrics.shape[3]))
    return _compiled("bcjr", bool(max_log), initial_state, chunk_size,
                     overlap)(metrics)


def fixed_lag(metrics, initial_state="known"):
    r"""The fixed-lag decoder of the ViterbiNet authors: no traceback.

    After the max-product step of time ``k`` the best branch ``(s, m)``
    (the best of the authors' ``M**L`` tuple states, which hold ``x[k],
    ..., x[k-L+1]``) decides the oldest symbol it holds, ``x[k-L+1]`` (a
    decision lag of ``L-1``, with ``y[0..k]`` seen); the last ``L-1``
    symbols of the frame are those of the best final state. Decisions
    equal the ML sequence when survivors merge within ``L-1`` steps (e.g.
    noiseless data), and are never better on average.

    Parameters
    ----------
    metrics : [batch, T, S, M], tf.float
        Branch log-likelihoods ``log p(y[k] | s, m)``.
    initial_state : "known" | "unknown"
        As in :func:`viterbi_decode`.

    Output
    ------
    : [batch, T, M], tf.float
        Normalised max-log scores of each decision: row ``j`` holds, for
        every value of ``x[j]``, the best path metric up to the step that
        decides ``x[j]`` (``k = j + L - 1``, or the end of the frame) with
        that value, normalised like log-probabilities. Their argmax is the
        fixed-lag decision.

    Differentiable; runs as a cached XLA-compiled function.

    Example
    -------
    BPSK, L = 2: the metrics favour ``0, 1, 1``, and so does the rule:

    >>> import numpy as np
    >>> from detectors.trellis import fixed_lag
    >>> m = np.zeros([1, 3, 2, 2], np.float32)
    >>> m[0, 0, :, 0] = m[0, 1, :, 1] = m[0, 2, :, 1] = 1.0
    >>> np.argmax(fixed_lag(m).numpy(), -1)
    array([[0, 1, 1]])
    """
    metrics = _check_metrics(metrics)
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"`initial_state` must be one of {INITIAL_STATES}, "
                         f"got {initial_state!r}.")
    return _compiled("fixed-lag", initial_state)(metrics)
