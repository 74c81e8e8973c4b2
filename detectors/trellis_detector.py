r"""The trellis detector: branch metrics x inference, as a type.

:class:`TrellisDetector` owns the inference axis of the grid of
:mod:`detectors` -- max-product or sum-product recursions (exact or
max-log), hard output by Viterbi traceback or by the argmax of the
posteriors (or, as a labelled option of the Viterbi detectors, the
authors' fixed-lag rule), a known or unknown initial state, whole-block
or continuous (chunked) decoding -- and one cache of compiled
recursions. A subclass
provides only :meth:`TrellisDetector.branch_metrics`; the model-based
detectors (believed taps) and the learned ones (a classifier) differ in
nothing else.
"""

import threading

import tensorflow as tf

from signals.checks import check_int

from .base import Detector, TapsDetector
from .compiled import compiled, compiled_for
from .trellis import (INITIAL_STATES, BranchMetrics, Trellis, check_chunking,
                      compiled_with_gradient, fixed_lag_time_major,
                      forward_backward_time_major, viterbi_time_major)

__all__ = ["TrellisDetector", "DECISIONS"]

# Hard-decision rules of a Viterbi-type detector (``traceback=True``):
# the ML sequence, or the fixed-lag rule of the ViterbiNet authors' code.
DECISIONS = ("traceback", "fixed-lag")

# The detector whose branch_metrics a compiled recursion traces right now.
# Compiled functions are shared by every detector with the same metric key
# and must not hold one; they read it from here while tracing (the forward
# call, and later the gradient's).
_TRACING = threading.local()


class _Tracing:
    """Context manager factory: ``det`` (and the layout of its metric
    inputs) is what the compiled function traces while inside."""

    def __init__(self, det, names, sizes):
        self._state = (det, names, sizes)

    def __call__(self):
        return self

    def __enter__(self):
        self._kept = getattr(_TRACING, "state", None)
        _TRACING.state = self._state

    def __exit__(self, *exc):
        _TRACING.state = self._kept


def _metrics_of_tracing(y, no, flat):
    det, names, sizes = _TRACING.state
    inputs, i = {}, 0
    for name, (n, structure) in zip(names, sizes):
        inputs[name] = tf.nest.pack_sequence_as(structure,
                                                list(flat[i:i + n]))
        i += n
    prior = inputs.pop(_PRIOR, None)
    metrics = det.branch_metrics(y, no, **inputs)
    return metrics if prior is None else _PriorMetrics(metrics, prior)


def _nesting(x):
    """The nesting of lists, tuples and dicts in ``x`` (leaves as None),
    hashable: a cache key cheaper than ``tf.nest``'s structures."""
    if isinstance(x, (list, tuple)):
        return (type(x).__name__,) + tuple(_nesting(v) for v in x)
    if isinstance(x, dict):
        return ("dict",) + tuple((k, _nesting(x[k])) for k in sorted(x))
    return None


#: The name the symbol log-prior travels under into a compiled recursion.
_PRIOR = "prior_logits"


class _PriorMetrics(BranchMetrics):
    """Branch metrics plus the log-prior ``[batch, T, M]`` of each branch's
    new symbol (branch ``(s, m)`` sends symbol ``m``), on every state."""

    def __init__(self, base, prior):
        super().__init__(base.inputs, base.fn, base.num_states,
                         base.num_points)
        self._base = base
        self._prior = tf.transpose(tf.cast(prior, base.dtype), [1, 2, 0])

    def at(self, k):
        return self._base.at(k) + self._prior[k][None]


def _build(hard, traceback, max_log, initial_state, chunk_size, overlap,
           fixed_lag=False):
    """The compiled recursion of one option set, batch-major in and out."""
    options = (initial_state, chunk_size, overlap)

    def soft(y, no, *flat):
        metrics = _metrics_of_tracing(y, no, flat)
        if fixed_lag:
            lp = fixed_lag_time_major(metrics, initial_state)
        else:
            lp = forward_backward_time_major(metrics, max_log, *options)
        return tf.transpose(lp, [1, 0, 2])

    if not hard:
        return compiled_with_gradient(soft)
    if traceback:
        def fn(y, no, *flat):
            return tf.transpose(viterbi_time_major(
                _metrics_of_tracing(y, no, flat), *options))
    else:
        def fn(y, no, *flat):
            return tf.argmax(soft(y, no, *flat), axis=-1,
                             output_type=tf.int32)
    compiled_fn = tf.function(fn, jit_compile=True, autograph=False)

    def call(*args, context):
        with context():
            return compiled_fn(*args)
    return call


class TrellisDetector(Detector):
    r"""A detector on the trellis of a channel with memory: branch metrics
    from a subclass, inference here.

    A subclass implements :meth:`branch_metrics` (and, when the metrics
    read weights or other tensors, :meth:`metric_inputs`); it may be
    combined with :class:`detectors.TapsDetector`, whose believed taps
    then reach ``branch_metrics`` as its ``taps`` argument.

    Parameters
    ----------
    memory : int
        L, the channel memory of the trellis (``M**(L-1)`` states). A
        :class:`TapsDetector` subclass takes its taps here instead (L is
        their number).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK.
    hard_out : bool
        Return symbol indices instead of log-probabilities.
    max_log : bool
        Soft output by max-product (max-log) instead of sum-product
        (exact) forward-backward.
    traceback : bool
        Hard output: the ML sequence by Viterbi traceback (``True``) or
        the symbol-wise argmax of the soft output (``False``).
    decision : None | "traceback" | "fixed-lag"
        Only with ``traceback=True`` and ``max_log=True`` (the Viterbi
        detectors): ``None`` / ``"traceback"`` (default) the ML sequence
        by full traceback;
        ``"fixed-lag"`` the rule of the ViterbiNet authors' decoder
        (:func:`detectors.trellis.fixed_lag`): ``x[k-L+1]`` from the best
        branch after step ``k``, no traceback, the last ``L-1`` symbols
        from the best final state. It changes the hard decisions *and* the
        soft output, which becomes the max-log scores of those decisions
        (argmax = the fixed-lag decision), so a Monte Carlo link measures
        the fixed-lag rule with or without ``hard_out``. Needs no
        traceback memory, so ``chunk_size`` / ``overlap`` do not change
        it (they are accepted and ignored).
    initial_state : "known" | "unknown"
        ``"known"``: the frame follows the preamble (state 0);
        ``"unknown"``: the initial state is free (uniform).
    chunk_size : None | int
        ``None`` decodes each frame as one block; N decodes in overlapping
        windows of ``N + overlap`` symbols (continuous mode), memory
        independent of T.
    overlap : None | int
        Traceback depth beyond each chunk, ``>= 5 L`` (default ``10 L``).
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
        Received samples.
    no : scalar or [batch], tf.float
        Noise variance.

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities, or
    : [batch, T], tf.int32
        Symbol indices if ``hard_out``.

    Example
    -------
    A new metric in a few lines: a memory-2 channel ``y[k] = x[k] +
    x[k-1] / 2`` with Laplacian noise of scale ``no``:

    >>> import tensorflow as tf
    >>> from detectors import BranchMetrics, TrellisDetector
    >>> class Laplace(TrellisDetector):
    ...     def branch_metrics(self, y, no):
    ...         p = self.points                              # BPSK [M]
    ...         mu = 0.5 * p[:, None] + p[None, :]           # [S, M]
    ...         step = lambda y_k: -tf.abs(y_k - mu[..., None]) / no
    ...         return BranchMetrics(tf.transpose(y), step, 2, 2)
    >>> det = Laplace(2, hard_out=True, traceback=True)
    >>> det(tf.constant([[1.4, 0.6, -0.4, -1.6]]), 0.3).numpy()
    array([[0, 0, 1, 1]], dtype=int32)
    """

    #: A prior enters every branch: BCJR's output is the exact posterior
    #: under it, Viterbi's the MAP sequence (detectors.base, module notes).
    takes_prior = True

    def __init__(self, memory, *, max_log=False, traceback=False,
                 decision=None, initial_state="known", chunk_size=None,
                 overlap=None, **kwargs):
        if isinstance(self, TapsDetector):
            super().__init__(memory, **kwargs)     # the taps: L = their count
            memory = int(self.taps.shape[-1])
        else:
            memory = check_int(memory, "memory",
                               what="number of channel taps L")
            super().__init__(**kwargs)
        self._trellis = Trellis(self.num_points, memory)
        if initial_state not in INITIAL_STATES:
            raise ValueError(f"`initial_state` must be one of "
                             f"{INITIAL_STATES}, got {initial_state!r}.")
        self._initial_state = initial_state
        self._chunk_size, self._overlap = check_chunking(
            chunk_size, overlap, self.memory)
        self._max_log = bool(max_log)
        self._traceback = bool(traceback)
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"`decision` must be one of {DECISIONS}, got "
                             f"{decision!r}.")
        if decision is not None and not (self._traceback and self._max_log):
            raise ValueError(
                f"`decision` ({decision!r}) is an option of the Viterbi "
                f"detectors (max-product with traceback); "
                f"{type(self).__name__} decides by the argmax of its "
                "posteriors. Use ViterbiDetector or ViterbiNet for "
                "fixed-lag decisions.")
        self._decision = decision or ("traceback" if self._traceback
                                      else "posterior")

    @property
    def memory(self):
        """int : L, the channel memory the trellis assumes."""
        return self._trellis.memory

    @property
    def trellis(self):
        """detectors.Trellis : the trellis (states, numbering)."""
        return self._trellis

    @property
    def initial_state(self):
        """str : ``"known"`` (preamble) or ``"unknown"`` (uniform)."""
        return self._initial_state

    @property
    def max_log(self):
        """bool : max-product instead of sum-product soft output."""
        return self._max_log

    @property
    def traceback(self):
        """bool : hard output by Viterbi traceback (else posterior
        argmax)."""
        return self._traceback

    @property
    def decision(self):
        """str : the hard-decision rule, ``"traceback"`` (ML sequence),
        ``"fixed-lag"`` or, without ``traceback``, ``"posterior"`` (the
        symbol-wise argmax of the soft output)."""
        return self._decision

    @property
    def chunk_size(self):
        """None | int : chunk length of continuous mode."""
        return self._chunk_size

    @property
    def overlap(self):
        """None | int : look-ahead beyond each chunk in continuous mode."""
        return self._overlap

    # -- what a subclass provides -----------------------------------------
    def branch_metrics(self, y, no, **inputs):
        """Branch log-likelihoods of validated ``(y, no)`` as a
        :class:`detectors.BranchMetrics` (``[S, M, batch]`` per step).

        ``inputs`` are the tensors of :meth:`metric_inputs` (e.g. the
        believed ``taps``). Runs while a compiled recursion is traced, so
        it must read from ``self`` only what :meth:`metric_key` covers.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement branch_metrics(y, no).")

    def metric_inputs(self, **inputs):
        """The tensors ``branch_metrics`` takes as keyword arguments
        (weights, points), given the call's own ``inputs`` (``taps`` for a
        :class:`TapsDetector`); ``tf.Variable`` s may stand for tensors
        and are read when the compiled recursion runs. Default:
        ``inputs``."""
        return inputs

    def metric_key(self):
        """What ``branch_metrics`` reads from ``self`` besides its inputs
        (hashable): detectors with equal keys share compiled recursions.
        ``None`` (the default) compiles per detector instance."""
        return None

    # -- inference ----------------------------------------------------------
    def _run(self, hard, y, no, inputs):
        inputs = dict(inputs)
        prior = inputs.pop(_PRIOR, None)
        inputs = self.metric_inputs(**inputs)
        if prior is not None:
            inputs = {**inputs, _PRIOR: prior}
        names = tuple(inputs)
        flats = [tf.nest.flatten(inputs[n]) for n in names]
        sizes = tuple((len(f), inputs[n]) for n, f in zip(names, flats))
        if self._decision == "fixed-lag":
            # one recursion for soft and hard output (hard = its argmax);
            # no traceback, so no chunking either
            options = (hard, False, True, self._initial_state, None, None,
                       True)
        else:
            options = (hard, hard and self._traceback,
                       False if hard and self._traceback else self._max_log,
                       self._initial_state, self._chunk_size, self._overlap,
                       False)
        key = self.metric_key()
        # the nesting of the inputs shapes the traced graph too
        structure = tuple((n, _nesting(inputs[n])) for n in names)
        build = lambda: _build(*options)            # noqa: E731
        if key is None:
            fn = compiled_for(self, ("trellis-detector",) + options, build)
        else:
            cls = type(self)
            fn = compiled(("trellis-detector", cls.branch_metrics,
                           cls.metric_inputs, key, structure) + options,
                          build)
        return fn(y, no, *[t for f in flats for t in f],
                  context=_Tracing(self, names, sizes))

    # The compiled recursions already normalise: no second log-sum-exp
    # from the base class. Inside a user's tf.function they are traced in
    # place (inlined under XLA).
    def _normalised(self, y, no, **inputs):
        return self._run(False, y, no, inputs)

    def symbol_logits(self, y, no, **inputs):
        return self._normalised(y, no, **inputs)

    def _hard_decisions(self, y, no, **inputs):
        return self._run(True, y, no, inputs)
