"""Plain numpy trellis detectors for ISI channels: the benchmark references.

Written for ``scripts/bench.py`` as the "straightforward batched numpy"
baseline the trellis targets are measured against, and for tests as an
implementation independent of ``detectors/trellis.py`` (own state labelling,
own recursions, no TensorFlow, no Sionna). Vectorised over batch and states,
a Python loop over time -- neither deliberately slow nor hand-tuned.

Model (the project's conventions, see ``docs/design.md``): ``y[k] = sum_l
h[l] x[k-l] + w[k]``; the ``L-1`` symbols before the frame are the preamble,
index 0; real channels ``w ~ N(0, no)``, complex ones ``w ~ CN(0, no)``.

Trellis labelling used here. The state before symbol ``k`` is the window
``(s[k-1], ..., s[k-L+1])`` of symbol indices, encoded in base ``M`` with the
newest symbol as the least significant digit. A branch into state ``s'``
(holding ``s[k], ..., s[k-L+2]``) is identified by ``s'`` and the symbol
``d = s[k-L+1]`` that leaves the window; its predecessor is
``s' // M + d * M**(L-2)`` and its output symbol ``s[k] = s' % M``. Grouping
branches by destination makes both the add-compare-select and the forward
recursion one gather + one reduction over the last axis.
"""

import numpy as np

__all__ = ["branch_means", "branch_metrics", "numpy_viterbi", "numpy_bcjr",
           "BPSK_POINTS"]

# Sionna's ``Constellation("pam", 1)``: index 0 is +1, index 1 is -1.
BPSK_POINTS = np.array([1.0, -1.0])


def _trellis(num_points, memory):
    """Index tables of the trellis (see the module docstring); L >= 2."""
    M, L = num_points, memory
    S = M ** (L - 1)
    top = M ** (L - 2)                       # weight of the oldest digit
    state = np.arange(S)
    d = np.arange(M)
    # pred[s', d]: the state a branch into s' leaving symbol d comes from.
    pred = state[:, None] // M + d[None, :] * top
    # succ[s, a]: the state reached from s by sending a; leave[s]: the
    # symbol s drops, i.e. the ``d`` of every branch out of s.
    succ = d[None, :] + M * (state[:, None] % top)
    leave = state // top
    return S, pred.astype(np.intp), succ.astype(np.intp), \
        leave.astype(np.intp)


def branch_means(taps, points):
    """Noiseless outputs of every branch, ``[S, M]`` indexed ``[s', d]``.

    Parameters
    ----------
    taps : [L], array_like (real or complex)
    points : [M], array_like, constellation points by index

    Output
    ------
    : [M**(L-1), M], the mean of ``y[k]`` for the window
      ``s[k] .. s[k-L+2]`` = digits of ``s'`` and ``s[k-L+1] = d``.
    """
    taps = np.asarray(taps)
    points = np.asarray(points)
    M, L = len(points), len(taps)
    S = M ** (L - 1)
    dest = np.arange(S)
    mean = np.zeros((S, M), dtype=np.result_type(taps, points, float))
    for j in range(L - 1):                   # digit j of s' is s[k-j]
        mean += (taps[j] * points[(dest // M ** j) % M])[:, None]
    mean += taps[L - 1] * points[None, :]
    return mean


def branch_metrics(y, no, taps, points, dtype=np.float64):
    """Gaussian log-likelihoods of all branches, ``[T, B, S, M]``.

    Constant terms are dropped: ``-(y - mean)**2 / (2 no)`` for real ``y``,
    ``-|y - mean|**2 / no`` for complex ``y``.
    """
    y = np.asarray(y)
    no = np.maximum(np.asarray(no, dtype=np.float64), 1e-12)
    no = np.broadcast_to(np.reshape(no, (-1,)), (y.shape[0],))
    mean = branch_means(taps, points)
    if np.iscomplexobj(y) or np.iscomplexobj(mean):
        cdtype = np.complex64 if dtype == np.float32 else np.complex128
        diff = (y.T.astype(cdtype)[:, :, None, None]
                - mean.astype(cdtype)[None, None])
        scale = (1.0 / no).astype(dtype)
        return -(diff.real ** 2 + diff.imag ** 2) * scale[None, :, None, None]
    diff = (y.T.astype(dtype)[:, :, None, None]
            - mean.astype(dtype)[None, None])
    scale = (0.5 / no).astype(dtype)
    return -np.square(diff) * scale[None, :, None, None]


def _initial_metric(B, S, initial_state, dtype):
    metric = np.zeros((B, S), dtype=dtype)
    if initial_state == "known":
        metric[:, 1:] = -np.inf              # the preamble state is 0
    elif initial_state != "unknown":
        raise ValueError("`initial_state` must be 'known' or 'unknown', got "
                         f"{initial_state!r}.")
    return metric


def _check(y, taps, points):
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError(f"`y` must have shape [batch, T], got {y.shape}.")
    taps = np.asarray(taps)
    if taps.ndim != 1 or taps.size == 0:
        raise ValueError(f"`taps` must have shape [L], got {taps.shape}.")
    if taps.size == 1:
        # A memoryless channel is the L = 2 trellis with a zero second tap;
        # this keeps one labelling (and one code path) for every L.
        taps = np.concatenate([taps, np.zeros(1, dtype=taps.dtype)])
    return y, taps, np.asarray(BPSK_POINTS if points is None else points)


def numpy_viterbi(y, no, taps, points=None, initial_state="known",
                  dtype=np.float32):
    """Maximum-likelihood sequence detection, full traceback.

    Parameters
    ----------
    y : [B, T], float or complex
    no : scalar or [B], noise variance
    taps : [L], channel taps (known at the receiver)
    points : None or [M], constellation points by index (None: BPSK)
    initial_state : "known" (preamble of index 0) or "unknown" (uniform)
    dtype : np.float32 | np.float64, precision of the path metrics

    Output
    ------
    : [B, T], np.int32, the symbol indices of the most likely sequence
    """
    y, taps, points = _check(y, taps, points)
    B, T = y.shape
    M, L = len(points), len(taps)
    S, pred, _, _ = _trellis(M, L)
    bm = branch_metrics(y, no, taps, points, dtype)        # [T, B, S, M]
    metric = _initial_metric(B, S, initial_state, dtype)
    survivor = np.empty((T, B, S), dtype=np.uint8 if M <= 256 else np.int32)
    for k in range(T):
        cand = metric[:, pred] + bm[k]                     # [B, S, M]
        best = np.argmax(cand, axis=-1)
        survivor[k] = best
        metric = np.take_along_axis(cand, best[..., None], axis=-1)[..., 0]
        # Keep metrics near 0: float32 would lose resolution as they drift.
        metric -= metric.max(axis=1, keepdims=True)
    out = np.empty((B, T), dtype=np.int32)
    state = np.argmax(metric, axis=1)
    rows = np.arange(B)
    top = M ** (L - 2)
    for k in range(T - 1, -1, -1):
        out[:, k] = state % M
        d = survivor[k, rows, state].astype(np.intp)
        state = state // M + d * top
    return out


def numpy_bcjr(y, no, taps, points=None, initial_state="known",
               max_log=False, dtype=np.float32):
    """Symbol posteriors by the forward-backward (BCJR) recursion in the log
    domain (``np.logaddexp``; ``max_log`` uses ``max`` instead).

    Parameters
    ----------
    y : [B, T], float or complex
    no : scalar or [B], noise variance
    taps : [L], channel taps
    points : None or [M], constellation points by index (None: BPSK)
    initial_state : "known" (preamble of index 0) or "unknown" (uniform)
    max_log : bool, max-log approximation
    dtype : np.float32 | np.float64

    Output
    ------
    : [B, T, M], dtype, normalised log-probabilities ``log p(s[k] = a | y)``
      (with ``max_log``, max-log metrics normalised the same way)
    """
    y, taps, points = _check(y, taps, points)
    B, T = y.shape
    M, L = len(points), len(taps)
    S, pred, succ, leave = _trellis(M, L)
    combine = np.maximum if max_log else np.logaddexp

    def reduce_last(x):      # log-sum-exp (or max) over the last axis
        acc = x[..., 0]
        for i in range(1, x.shape[-1]):
            acc = combine(acc, x[..., i])
        return acc

    bm = branch_metrics(y, no, taps, points, dtype)        # [T, B, S, M]
    alpha = np.empty((T + 1, B, S), dtype=dtype)
    alpha[0] = _initial_metric(B, S, initial_state, dtype)
    for k in range(T):
        a = reduce_last(alpha[k][:, pred] + bm[k])
        alpha[k + 1] = a - a.max(axis=1, keepdims=True)

    out = np.empty((B, T, M), dtype=dtype)
    beta = np.zeros((B, S), dtype=dtype)     # unterminated: any final state
    # The state at k+1 holds s[k] as its digit 0, so the symbol posterior
    # is the state posterior alpha_{k+1} + beta_{k+1} summed per digit.
    by_symbol = np.arange(S).reshape(S // M, M).T              # [M, S/M]
    for k in range(T - 1, -1, -1):
        out[:, k, :] = reduce_last((alpha[k + 1] + beta)[:, by_symbol])
        # beta_k[s] = combine over a of gamma_k(s -> succ) + beta_{k+1}[succ]
        nxt = bm[k][:, succ, leave[:, None]] + beta[:, succ]   # [B, S, M]
        b = reduce_last(nxt)
        beta = b - b.max(axis=1, keepdims=True)
    m = out.max(axis=-1, keepdims=True)
    return out - m - np.log(np.exp(out - m).sum(-1, keepdims=True))
