r"""Learned trellis detectors: ViterbiNet and the learned factor graph
(BCJRNet).

A small classifier maps each received sample ``y[k]`` to ``p(c | y[k])``
over the ``M**L`` channel states ``c`` (the symbols ``x[k], ..., x[k-L+1]``
that shape ``y[k]``, numbered as in :mod:`detectors.trellis`). By Bayes'
rule ``log p(y[k] | c) = log p(c | y[k]) + log p(y[k]) - log p(c)``; with
uniform symbols ``p(c) = M**-L``, and ``log p(y[k])`` is the same for every
branch at time ``k``, so it changes neither the Viterbi path nor the
normalised BCJR posteriors and is dropped by default
(``marginal="ignore"``). ``marginal="gmm"`` keeps it, estimated by a
Gaussian mixture with one component per channel state fitted to the pilots
(closed form, since pilots are labelled), so that
:meth:`state_log_likelihoods` are proper log-densities (e.g. for
combining with other factors). These branch log-likelihoods feed the
recursions of :mod:`detectors.trellis`: max-product (ViterbiNet) or
sum-product (LearnedFactorGraph).

Published design (Shlezinger, Farsad, Eldar, Goldsmith, "ViterbiNet: A deep
learning based Viterbi algorithm for symbol detection", IEEE TWC 2020;
Shlezinger et al., "Learned factor graphs for inference from stationary
time sequences", IEEE TSP 2022): a 1 -> 100 (sigmoid) -> 50 (ReLU) -> M**L
(softmax) network trained by cross-entropy on the channel-state labels of
the pilots, Adam with learning rate 0.01.

Many models at once: :func:`train_many` trains K detectors of one
architecture (e.g. one per (channel, SNR) point of a sweep), either as a
single stacked network with weights ``[K, in, out]`` in one XLA loop (on
GPUs) or one after the other with one shared compiled loop (on CPUs, where
stacking gains nothing, see its docstring); each model gets the weights
``fit`` would give it alone.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_nonnegative, check_positive

from .learned import (LearnedDetector, check_pilots, check_validation,
                      features, split_seed, split_validation, train_loop,
                      MIN_SAMPLES_PER_CLASS)
from .trellis import (INITIAL_STATES, Trellis, check_chunking,
                      forward_backward, tuple_labels,
                      tuple_to_branch_metrics, viterbi_decode)

__all__ = ["ViterbiNet", "LearnedFactorGraph", "train_many", "StackedMLP",
           "MARGINALS", "ACTIVATIONS"]

MARGINALS = ("ignore", "gmm")

# By name only (never deserialised code), so that checkpoints stay JSON.
ACTIVATIONS = {
    "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "tanh": tf.tanh,
    "elu": tf.nn.elu, "gelu": tf.nn.gelu, "softplus": tf.nn.softplus,
    "silu": tf.nn.silu, "linear": tf.identity,
}

# A variance floor of the mixture components, relative to the variance of
# the pilots: keeps a component fitted to identical samples finite.
_VAR_FLOOR = 1e-6


class StackedMLP(keras.layers.Layer):
    r"""K independent multilayer perceptrons evaluated as one.

    Weights ``kernel_i`` ``[K, n_i, n_{i+1}]`` and ``bias_i`` ``[K,
    n_{i+1}]``; a fixed input standardisation ``(x - shift) * scale``
    (``[K, in]``, set from the training data, not trained). The last layer
    is linear (logits).

    Parameters
    ----------
    num_models : int
        K.
    num_inputs : int
        Input features per sample.
    hidden : sequence of int
        Hidden layer widths.
    num_outputs : int
        Number of classes.
    activations : sequence of str
        One name of :data:`ACTIVATIONS` per hidden layer.
    dtype : str
        ``"float32"`` or ``"float64"``.

    Input
    -----
    x : [K, N, num_inputs], tf.float

    Output
    ------
    : [K, N, num_outputs], tf.float, logits
    """

    def __init__(self, num_models, num_inputs, hidden, num_outputs,
                 activations, dtype="float32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.sizes = [int(num_inputs), *map(int, hidden), int(num_outputs)]
        self.activations = tuple(activations)
        self.num_models = int(num_models)
        self.build()

    def build(self, input_shape=None):
        K = self.num_models
        self.kernels, self.biases = [], []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            self.kernels.append(self.add_weight(
                shape=(K, a, b), initializer="zeros", name=f"kernel_{i}"))
            self.biases.append(self.add_weight(
                shape=(K, b), initializer="zeros", name=f"bias_{i}"))
        d = self.sizes[0]
        self.shift = self.add_weight(shape=(K, d), initializer="zeros",
                                     trainable=False, name="shift")
        self.scale = self.add_weight(shape=(K, d), initializer="ones",
                                     trainable=False, name="scale")
        self.built = True

    @property
    def params(self):
        """list : ``[kernel_0, bias_0, kernel_1, ...]`` variables."""
        return [w for pair in zip(self.kernels, self.biases) for w in pair]

    @property
    def all_variables(self):
        """list : trainable parameters then ``shift``, ``scale``."""
        return self.params + [self.shift, self.scale]

    def initial_params(self, seed, dtype):
        """Glorot-uniform kernels and zero biases (Keras ``Dense``
        defaults) of one model, drawn from the stateless ``seed`` (int);
        list of ``[1, ...]`` tensors."""
        out = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            lim = np.sqrt(6.0 / (a + b))
            out.append(tf.random.stateless_uniform(
                [1, a, b], [seed, i], -lim, lim, dtype=dtype))
            out.append(tf.zeros([1, b], dtype))
        return out

    @staticmethod
    def apply(params, x, activations):
        """Logits ``[K, N, out]`` of standardised inputs ``x`` ``[K, N,
        in]`` for parameters ``params`` (pure function, for training)."""
        h = x
        n_layers = len(params) // 2
        for i in range(n_layers):
            h = tf.einsum("kni,kio->kno", h, params[2 * i]) + \
                params[2 * i + 1][:, None, :]
            if i < n_layers - 1:
                h = ACTIVATIONS[activations[i]](h)
        return h

    def standardise(self, x):
        """``(x - shift) * scale`` for ``x`` ``[K, N, in]``."""
        return (x - self.shift[:, None, :]) * self.scale[:, None, :]

    def call(self, x):
        return self.apply(self.params, self.standardise(x),
                          self.activations)


def _mlp_loss(activations):
    def loss(params, x, labels, training, seed):
        del training, seed                   # no dropout in this network
        logits = StackedMLP.apply(params, x, activations)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        return tf.reduce_mean(ce, axis=1)
    return loss


# --------------------------------------------------------------------------
# Inference as pure functions of the weights: compiled once per architecture
# and shape and shared by all detectors (a sweep may hold hundreds).
# --------------------------------------------------------------------------
def _state_log_probs(y, params, shift, scale, activations):
    """``log p(c | y[k])`` ``[B, T, C]``."""
    f = features(y, shift.dtype)                              # [B, T, d]
    shape = tf.shape(f)
    x = (tf.reshape(f, [1, -1, f.shape[-1]]) - shift[:, None]) * \
        scale[:, None]
    logits = StackedMLP.apply(params, x, activations)
    C = logits.shape[-1]
    return tf.nn.log_softmax(tf.reshape(logits, [shape[0], shape[1], C]))


def _log_mixture(y, log_weight, mean, var):
    """``log p(y[k])`` under a diagonal Gaussian mixture, ``[B, T]``."""
    f = features(y, mean.dtype)[..., None, :]                 # [B, T, 1, d]
    comp = -0.5 * tf.reduce_sum(tf.square(f - mean) / var
                                + tf.math.log(2.0 * np.pi * var), axis=-1)
    return tf.reduce_logsumexp(comp + log_weight, axis=-1)


def _state_loglik(y, params, shift, scale, gmm, activations):
    """Branch log-likelihoods ``log p(c|y) - log p(c) [+ log p(y)]``."""
    lp = _state_log_probs(y, params, shift, scale, activations)
    lp = lp + tf.math.log(tf.cast(lp.shape[-1], lp.dtype))
    if gmm:
        lp = lp + _log_mixture(y, *gmm)[..., None]
    return lp


def _metrics(y, params, shift, scale, gmm, activations, num_points):
    """Branch metrics ``[B, T, S, M]``."""
    return tuple_to_branch_metrics(
        _state_loglik(y, params, shift, scale, gmm, activations), num_points)


# The trellis core's public recursions trace in place inside these compiled
# functions (they take and return batch-major tensors).
def _soft(y, params, shift, scale, gmm, activations, num_points, max_log,
          initial_state, chunk_size, overlap):
    return forward_backward(
        _metrics(y, params, shift, scale, gmm, activations, num_points),
        max_log=max_log, initial_state=initial_state, chunk_size=chunk_size,
        overlap=overlap)


def _argmax(y, params, shift, scale, gmm, activations, num_points, max_log,
            initial_state, chunk_size, overlap):
    lp = _soft(y, params, shift, scale, gmm, activations, num_points,
               max_log, initial_state, chunk_size, overlap)
    return tf.argmax(lp, axis=-1, output_type=tf.int32)


def _viterbi(y, params, shift, scale, gmm, activations, num_points, max_log,
             initial_state, chunk_size, overlap):
    del max_log
    return viterbi_decode(
        _metrics(y, params, shift, scale, gmm, activations, num_points),
        initial_state=initial_state, chunk_size=chunk_size, overlap=overlap)


_soft_compiled = tf.function(_soft, jit_compile=True)
_argmax_compiled = tf.function(_argmax, jit_compile=True)
_viterbi_compiled = tf.function(_viterbi, jit_compile=True)


class _TrellisNet(LearnedDetector):
    r"""Shared parts of :class:`ViterbiNet` and :class:`LearnedFactorGraph`
    (see their docstrings)."""

    _max_log = True
    _viterbi_hard = False       # hard output: Viterbi path or posterior argmax

    def __init__(self, memory, constellation=None, hard_out=False,
                 hidden=(100, 50), activations=("sigmoid", "relu"),
                 learning_rate=0.01, epochs=300, patience=10, min_delta=0.0,
                 batch_size=None, clipnorm=1.0, marginal="ignore",
                 initial_state="known", chunk_size=None, overlap=None,
                 precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        if isinstance(memory, bool) or not isinstance(
                memory, (int, np.integer)) or memory < 1:
            raise ValueError(f"`memory` (number of channel taps L) must be "
                             f"an integer >= 1, got {memory!r}.")
        self._trellis = Trellis(self.num_points, int(memory))
        hidden = tuple(hidden) if isinstance(hidden, (list, tuple)) \
            else (hidden,)
        for h in hidden:
            check_int(h, "hidden")
        activations = (activations,) if isinstance(activations, str) \
            else tuple(activations)
        if len(activations) != len(hidden):
            raise ValueError(f"`activations` needs one name per hidden layer "
                             f"({len(hidden)}), got {len(activations)}.")
        for a in activations:
            if a not in ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; allowed: "
                                 f"{', '.join(sorted(ACTIVATIONS))}.")
        if marginal not in MARGINALS:
            raise ValueError(f"`marginal` must be one of {MARGINALS}, got "
                             f"{marginal!r}.")
        if initial_state not in INITIAL_STATES:
            raise ValueError(f"`initial_state` must be one of "
                             f"{INITIAL_STATES}, got {initial_state!r}.")
        self._chunk_size, self._overlap = check_chunking(
            chunk_size, overlap, self.memory)
        self._hidden = tuple(int(h) for h in hidden)
        self._activations = activations
        self._learning_rate = check_positive(learning_rate, "learning_rate")
        self._epochs = check_int(epochs, "epochs")
        self._patience = check_int(patience, "patience")
        self._min_delta = check_nonnegative(min_delta, "min_delta")
        self._batch_size = check_int(batch_size, "batch_size",
                                     allow_none=True)
        self._clipnorm = check_positive(clipnorm, "clipnorm")
        self._marginal = marginal
        self._initial_state = initial_state
        d = 2 if self.is_complex else 1
        self._net = StackedMLP(1, d, self._hidden, self.num_classes,
                               self._activations, dtype=self.rdtype.name)
        if marginal == "gmm":
            C = self.num_classes
            self._gmm_log_weight = tf.Variable(tf.zeros([C], self.rdtype),
                                               trainable=False)
            self._gmm_mean = tf.Variable(tf.zeros([C, d], self.rdtype),
                                         trainable=False)
            self._gmm_var = tf.Variable(tf.ones([C, d], self.rdtype),
                                        trainable=False)

    # -- properties -------------------------------------------------------
    @property
    def memory(self):
        """int : L, the channel memory the trellis assumes."""
        return self._trellis.memory

    @property
    def trellis(self):
        """detectors.trellis.Trellis : states and numbering."""
        return self._trellis

    @property
    def num_classes(self):
        """int : ``M**L``, the channel states the classifier predicts."""
        return self._trellis.num_tuples

    @property
    def network(self):
        """StackedMLP : the classifier (Keras layer, one model)."""
        return self._net

    @property
    def marginal(self):
        """str : ``"ignore"`` or ``"gmm"`` (see module doc)."""
        return self._marginal

    def _arch(self):
        """What a stacked training run needs to be identical."""
        return (self.num_points, self.memory, self.is_complex, self._hidden,
                self._activations, self.rdtype)

    def _config(self):
        return {"memory": self.memory, "hidden": list(self._hidden),
                "activations": list(self._activations),
                "learning_rate": self._learning_rate, "epochs": self._epochs,
                "patience": self._patience, "min_delta": self._min_delta,
                "batch_size": self._batch_size,
                "clipnorm": self._clipnorm, "marginal": self._marginal,
                "initial_state": self._initial_state,
                "chunk_size": self._chunk_size, "overlap": self._overlap}

    def _variables(self):
        out = list(self._net.all_variables)
        if self._marginal == "gmm":
            out += [self._gmm_log_weight, self._gmm_mean, self._gmm_var]
        return out

    # -- metrics ----------------------------------------------------------
    def _weights(self):
        """Current weight values as tensors (read at call time)."""
        gmm = ()
        if self._marginal == "gmm":
            gmm = (tf.convert_to_tensor(self._gmm_log_weight),
                   tf.convert_to_tensor(self._gmm_mean),
                   tf.convert_to_tensor(self._gmm_var))
        return ([tf.convert_to_tensor(v) for v in self._net.params],
                tf.convert_to_tensor(self._net.shift),
                tf.convert_to_tensor(self._net.scale), gmm)

    def _static(self):
        """Python options of the shared compiled inference functions."""
        return dict(activations=self._activations, num_points=self.num_points,
                    max_log=self._max_log, initial_state=self._initial_state,
                    chunk_size=self._chunk_size, overlap=self._overlap)

    def _soft_fn(self, y):
        return _soft_compiled(y, *self._weights(), **self._static())

    def _hard_fn(self, y):
        return (_viterbi_compiled if self._viterbi_hard else
                _argmax_compiled)(y, *self._weights(), **self._static())

    def _normalised(self, y, no):
        return self._soft_fn(y)

    def _symbol_logits(self, y, no):
        return self._soft_fn(y)

    def _hard_decisions(self, y, no):
        return self._hard_fn(y)

    def state_log_probs(self, y):
        r"""The classifier's ``log p(c | y[k])``.

        Input
        -----
        y : [batch, T], tf.float or tf.complex

        Output
        ------
        : [batch, T, M**L], tf.float, indexed by the channel state ``c``
          of :mod:`detectors.trellis`
        """
        y, _ = self._prepare(y, 0.0)
        params, shift, scale, _ = self._weights()
        return _state_log_probs(y, params, shift, scale, self._activations)

    def state_log_likelihoods(self, y):
        r"""The branch log-likelihoods the recursions use,
        ``log p(c | y[k]) - log p(c)`` (plus ``log p(y[k])`` with
        ``marginal="gmm"``, making them estimates of ``log p(y[k] | c)``).

        Input
        -----
        y : [batch, T], tf.float or tf.complex

        Output
        ------
        : [batch, T, M**L], tf.float
        """
        y, _ = self._prepare(y, 0.0)
        return _state_loglik(y, *self._weights(), self._activations)

    # -- training ---------------------------------------------------------
    def fit(self, y, s, *, epochs=None, batch_size=None, validation=0.1,
            patience=None, learning_rate=None, callbacks=None, seed=None,
            verbose=True):
        r"""Train the classifier on pilots, from a fresh initialisation.

        Parameters
        ----------
        y : [N] or [frames, T], array_like, float (complex for QAM)
            Received pilot samples; every frame follows the preamble.
        s : same shape as ``y``, int
            Transmitted symbol indices.
        epochs : None | int
            Maximum full passes (default: the constructor's, 300).
        batch_size : None | int
            ``None`` (default) trains full-batch: one Adam step per epoch.
        validation : None | float | (y_val, s_val)
            Fraction of the samples held out (random, seeded) for early
            stopping, explicit validation pilots, or ``None`` / 0: no
            early stopping (all ``epochs`` are run).
        patience : None | int
            Epochs without a new best validation loss before stopping
            (default: the constructor's, 10). The best weights are kept.
        learning_rate : None | float
            Adam step size (default: the constructor's, 0.01).
        callbacks : None | list of callables
            ``cb(epoch, logs) -> bool``, see
            :func:`detectors.learned.train_loop`.
        seed : None | int
            Fixes the initial weights and the validation split: same seed
            and data give identical weights. ``None`` draws one.
        verbose : bool
            Progress bar.

        Output
        ------
        : dict, ``loss`` and ``val_loss`` per epoch, ``epochs``,
          ``best_epoch``, ``seconds`` (wall time of the training loop)

        Raises
        ------
        ValueError, TypeError
            Mismatched shapes, labels outside ``[0, M)``, NaN/Inf samples,
            fewer than ``10 * M**L`` samples (10 per channel state).
        """
        return train_many([self], [y], [s], epochs=epochs,
                          batch_size=batch_size, validation=validation,
                          patience=patience, learning_rate=learning_rate,
                          callbacks=callbacks,
                          seed=None if seed is None else [seed],
                          verbose=verbose)[0]

    def adapt(self, y, s_hat=None, *, epochs=20, learning_rate=None,
              check=None, verbose=False):
        r"""Decision-directed retraining on one block (online mode).

        The classifier continues from its current weights (Adam restarted;
        input standardisation and, with ``marginal="gmm"``, the mixture
        kept from :meth:`fit`), trained for ``epochs`` full-batch steps on
        the block's own decisions, as in ViterbiNet's online training for
        time-varying channels.

        Parameters
        ----------
        y : [T] or [frames, T], array_like
            The received block (frames following the preamble).
        s_hat : None or same shape as ``y``, int
            Decisions to train on (e.g. the re-encoded output of a channel
            decoder); ``None`` uses this detector's own hard decisions.
        epochs : int
            Number of full-batch steps (no early stopping: there is no
            held-out data in decision-directed mode).
        learning_rate : None | float
            Default: the constructor's.
        check : None or callable
            ``check(y, s_hat) -> bool``, e.g. a CRC of the decoded block;
            when it returns False the detector is left unchanged.
        verbose : bool

        Output
        ------
        : dict (as :meth:`fit`), or ``None`` if ``check`` rejected the block
        """
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} must be trained "
                               "before adapt(); call fit first.")
        epochs = check_int(epochs, "epochs")
        lr = self._learning_rate if learning_rate is None else \
            check_positive(learning_rate, "learning_rate")
        if s_hat is None:
            y_arr = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
            y2 = y_arr[None] if y_arr.ndim == 1 else y_arr
            yt, _ = self._prepare(y2, 0.0)          # validates y
            s_hat = self._hard_fn(yt).numpy().reshape(y_arr.shape)
        yc, sc = check_pilots(y, s_hat, self.num_points, self.is_complex,
                              MIN_SAMPLES_PER_CLASS * self.num_classes,
                              f"samples ({MIN_SAMPLES_PER_CLASS} per channel "
                              "state)", names=("y", "s_hat"))
        if check is not None and not check(y, s_hat):
            return None
        x, lab = _samples(self, yc, sc)
        x = self._net.standardise(tf.constant(x[None], self.rdtype))
        t0 = time.perf_counter()
        params, hist = train_loop(
            _mlp_loss(self._activations), self._net.params,
            (x, tf.constant(lab[None])), None, stacked=True, epochs=epochs,
            learning_rate=lr, clipnorm=self._clipnorm, seed=0,
            verbose=verbose, desc=f"adapt {type(self).__name__}",
            cache_key=("mlp", self._activations))
        for var, val in zip(self._net.params, params):
            var.assign(val)
        hist[0]["seconds"] = time.perf_counter() - t0
        return hist[0]


def _samples(det, y, s):
    """Features ``[N, d]`` and channel-state labels ``[N]`` of checked
    pilot frames ``y``, ``s`` ``[frames, T]``."""
    labels = tuple_labels(s, det.num_points, det.memory).numpy()
    f = features(tf.constant(y), tf.float64).numpy()
    return f.reshape(-1, f.shape[-1]), labels.reshape(-1).astype(np.int32)


def _fit_mixture(x, labels, num_classes):
    """Closed-form ML fit of a labelled Gaussian mixture (diagonal
    covariances): weights, means, variances per class."""
    total_var = np.maximum(x.var(axis=0), 1e-300)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weight = np.maximum(counts / counts.sum(), 1e-12)
    mean = np.tile(x.mean(axis=0), (num_classes, 1))
    var = np.tile(total_var, (num_classes, 1))
    for c in np.flatnonzero(counts):
        xc = x[labels == c]
        mean[c] = xc.mean(axis=0)
        if len(xc) > 1:
            var[c] = xc.var(axis=0)
    var = np.maximum(var, _VAR_FLOOR * total_var)
    return np.log(weight), mean, var


def _as_list(data, k, name):
    if isinstance(data, (list, tuple)):
        if len(data) != k:
            raise ValueError(f"`{name}` has {len(data)} entries for {k} "
                             "detectors.")
        return list(data)
    arr = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if arr.ndim < 2 or arr.shape[0] != k:
        raise ValueError(f"`{name}` must be a list of {k} pilot sets or an "
                         f"array with a leading axis of {k}, got shape "
                         f"{list(arr.shape)}.")
    return list(arr)


def train_many(detectors, y, s, *, epochs=None, batch_size=None,
               validation=0.1, patience=None, learning_rate=None,
               callbacks=None, seed=None, stack="auto", verbose=True):
    r"""Train K learned trellis detectors, e.g. one per sweep point.

    All detectors must share the classifier architecture (M, L, real or
    complex, hidden sizes, activations, precision); ViterbiNets and
    LearnedFactorGraphs may be mixed. Every model gets its own pilots,
    validation split, input standardisation, initial weights, gradient
    clipping and early stopping; model ``k`` ends with the weights
    ``detectors[k].fit(y[k], s[k], seed=seeds[k])`` would give it, up to
    floating-point summation order (and, with mini-batches in stacked
    mode, the shuffling order, which is shared).

    Stacked mode trains the K models as one network with weights ``[K,
    in, out]`` in one XLA loop: one compilation and one step for all, which
    pays off where a step of K models costs little more than one (GPUs).
    On a CPU, full-batch training is compute-bound (measured on 2 cores:
    4.5 ms per model and epoch either way) and a stacked run lasts until
    its slowest model stops early, so the models are trained one after the
    other with the same compiled loop (180 models of a (gamma, SNR) grid:
    62 s one by one, 177 s stacked).

    Parameters
    ----------
    detectors : list of ViterbiNet / LearnedFactorGraph
    y, s : list of K pilot sets (or arrays with a leading axis K)
        As in :meth:`ViterbiNet.fit`; every model needs the same number of
        training (and validation) samples.
    epochs, batch_size, patience, learning_rate : None | number
        Default: the first detector's settings.
    validation : None | float | list of K (y_val, s_val)
        As in ``fit``; pairs are given per model.
    callbacks : None | list of callables
        ``cb(epoch, logs)`` with per-model lists in ``logs``.
    seed : None | int | list of K ints
        An int ``n`` gives model ``k`` the seed ``n + k``.
    stack : "auto" | bool
        Stacked (True) or one model after the other (False); ``"auto"``
        stacks when TensorFlow sees a GPU.
    verbose : bool

    Output
    ------
    : list of K dicts (see ``fit``); ``seconds`` is the wall time of the
      model's own run (one by one) or of the whole stacked run
    """
    if not isinstance(detectors, (list, tuple)) or not detectors:
        raise ValueError("`detectors` must be a non-empty list.")
    for d in detectors:
        if not isinstance(d, _TrellisNet):
            raise TypeError("train_many trains ViterbiNet / "
                            "LearnedFactorGraph detectors, got "
                            f"{type(d).__name__}.")
    first = detectors[0]
    if any(d._arch() != first._arch() for d in detectors):
        raise ValueError("train_many needs detectors of one architecture "
                         "(M, L, hidden, activations, precision).")
    if len({id(d) for d in detectors}) != len(detectors):
        raise ValueError("`detectors` holds the same detector twice.")
    K = len(detectors)
    ys, ss = _as_list(y, K, "y"), _as_list(s, K, "s")
    if seed is None:
        seeds = [split_seed(None) for _ in range(K)]
    elif isinstance(seed, (list, tuple)):
        if len(seed) != K:
            raise ValueError(f"`seed` has {len(seed)} entries for {K} "
                             "detectors.")
        seeds = [split_seed(v) for v in seed]
    else:
        seeds = [split_seed(seed + k) if not isinstance(seed, bool) and
                 isinstance(seed, (int, np.integer)) else split_seed(seed)
                 for k in range(K)]
    epochs = first._epochs if epochs is None else check_int(epochs, "epochs")
    patience = first._patience if patience is None else \
        check_int(patience, "patience")
    batch_size = first._batch_size if batch_size is None else \
        check_int(batch_size, "batch_size")
    lr = first._learning_rate if learning_rate is None else \
        check_positive(learning_rate, "learning_rate")
    if isinstance(validation, (list, tuple)):
        # fit passes its pair; train_many takes one pair per model.
        mode, vdata = "data", [validation] if K == 1 else list(validation)
        if len(vdata) != K or not all(isinstance(v, (list, tuple)) and
                                      len(v) == 2 for v in vdata):
            raise ValueError("`validation` as data must give one pair "
                             "(y_val, s_val) per detector.")
    else:
        mode, vdata = check_validation(validation)
    if stack == "auto":
        stack = bool(tf.config.list_logical_devices("GPU"))
    elif not isinstance(stack, bool):
        raise ValueError(f"`stack` must be 'auto', True or False, got "
                         f"{stack!r}.")
    C = first.num_classes
    min_samples = MIN_SAMPLES_PER_CLASS * C
    xs, ls, xvs, lvs = [], [], [], []
    for k, det in enumerate(detectors):
        yk, sk = check_pilots(ys[k], ss[k], det.num_points, det.is_complex,
                              min_samples, f"training samples "
                              f"({MIN_SAMPLES_PER_CLASS} per channel state, "
                              f"{C} states)")
        x, lab = _samples(det, yk, sk)
        if mode == "fraction":
            tr, va = split_validation(len(lab), vdata, seeds[k])
            x, lab, xv, lv = x[tr], lab[tr], x[va], lab[va]
        elif mode == "data":
            yv, sv = check_pilots(vdata[k][0], vdata[k][1], det.num_points,
                                  det.is_complex, 1,
                                  names=("y_val", "s_val"))
            xv, lv = _samples(det, yv, sv)
        else:
            xv = lv = None
        xs.append(x), ls.append(lab), xvs.append(xv), lvs.append(lv)
    if stack:
        for name, arrs in (("training", ls), ("validation", lvs)):
            if arrs[0] is not None and len({len(a) for a in arrs}) > 1:
                raise ValueError(
                    f"stacked training needs the same number of {name} "
                    f"samples per model, got {sorted({len(a) for a in arrs})}"
                    "; pass stack=False to train one after the other.")
    # Standardise each model's inputs by its own training statistics.
    shift = [x.mean(axis=0) for x in xs]                       # [d] each
    scale = [1.0 / np.maximum(x.std(axis=0), 1e-12) for x in xs]
    dtype = first.rdtype

    def norm(arrs, ks):
        return tf.constant(np.stack([(arrs[k] - shift[k]) * scale[k]
                                     for k in ks]), dtype)

    def run(ks):
        """Train the models ``ks`` as one stack; returns params, history."""
        train = (norm(xs, ks), tf.constant(np.stack([ls[k] for k in ks])))
        val = None if xvs[0] is None else (
            norm(xvs, ks), tf.constant(np.stack([lvs[k] for k in ks])))
        init = [detectors[k]._net.initial_params(seeds[k], dtype)
                for k in ks]
        params = [tf.concat(p, axis=0) for p in zip(*init)]
        return train_loop(
            _mlp_loss(first._activations), params, train, val, stacked=True,
            epochs=epochs, patience=patience, min_delta=first._min_delta,
            learning_rate=lr, clipnorm=first._clipnorm,
            batch_size=batch_size, seed=seeds[ks[0]], callbacks=callbacks,
            verbose=verbose,
            desc=(f"{type(detectors[ks[0]]).__name__}" if len(ks) == 1
                  else f"{len(ks)} learned trellis detectors"),
            cache_key=("mlp", first._activations))

    groups = [list(range(K))] if stack else [[k] for k in range(K)]
    hist = [None] * K
    for ks in groups:
        t0 = time.perf_counter()
        params, h = run(ks)
        seconds = time.perf_counter() - t0
        for i, k in enumerate(ks):
            det = detectors[k]
            for var, val_ in zip(det._net.params, params):
                var.assign(val_[i:i + 1])
            det._net.shift.assign(tf.constant(shift[k][None], dtype))
            det._net.scale.assign(tf.constant(scale[k][None], dtype))
            if det._marginal == "gmm":
                lw, mu, var = _fit_mixture(xs[k], ls[k], C)
                det._gmm_log_weight.assign(tf.constant(lw, dtype))
                det._gmm_mean.assign(tf.constant(mu, dtype))
                det._gmm_var.assign(tf.constant(var, dtype))
            det._trained = True
            hist[k] = {**h[i], "seconds": seconds}
    return hist


class ViterbiNet(_TrellisNet):
    r"""ViterbiNet: the Viterbi algorithm with branch metrics learned from
    pilots (Shlezinger, Farsad, Eldar, Goldsmith 2020).

    A classifier ``p(c | y[k])`` over the ``M**L`` channel states gives
    the branch log-likelihoods ``log p(c | y[k]) - log p(c)`` (module
    doc); hard decisions are the Viterbi ML sequence (full traceback), the
    soft output is max-product (max-log) forward-backward.

    Parameters
    ----------
    memory : int
        L, the channel memory the trellis assumes (``M**(L-1)`` states).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK. Complex constellations feed (Re, Im) features.
    hard_out : bool
        Return the Viterbi sequence (indices) instead of log-probabilities.
    hidden : sequence of int
        Hidden layer widths, default ``(100, 50)``.
    activations : sequence of str
        One per hidden layer, default ``("sigmoid", "relu")``; names of
        :data:`ACTIVATIONS`.
    learning_rate : float
        Adam step size, default 0.01.
    epochs : int
        Maximum epochs of ``fit`` (full batch: one step each), default 300.
    patience : int
        Early-stopping patience in epochs, default 10 (measured on a grid
        of 18 (gamma, SNR) points: the same SER as 20 within 0.2%, in half
        the training time).
    min_delta : float
        Smallest decrease of the validation loss (nats) that counts as an
        improvement, default 0.
    batch_size : None | int
        ``None``: full-batch training (fast, see
        :mod:`detectors.learned`).
    clipnorm : float
        Gradient clipping by global norm, default 1.
    marginal : "ignore" | "gmm"
        Whether branch metrics include ``log p(y[k])`` from a Gaussian
        mixture fitted to the pilots (decisions and normalised outputs
        are the same either way; see module doc).
    initial_state : "known" | "unknown"
        As for the model-based detectors.
    chunk_size, overlap : None | int
        Windowed decoding of long frames, see :mod:`detectors.trellis`.
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
        Validated, otherwise unused (the classifier learned the noise).

    Output
    ------
    : [batch, T], tf.int32
        Viterbi sequence if ``hard_out``, else
    : [batch, T, M], tf.float
        Normalised max-log symbol log-probabilities.
    """

    _max_log = True
    _viterbi_hard = True


class LearnedFactorGraph(_TrellisNet):
    r"""Learned factor graph / BCJRNet: BCJR (sum-product) inference with
    factors learned from pilots (Shlezinger et al. 2020).

    The same classifier as :class:`ViterbiNet`; inference is exact
    sum-product forward-backward (or max-product with ``max_log``), hard
    decisions the symbol-wise argmax of the posteriors.

    Parameters
    ----------
    memory : int
        L.
    constellation : None | str | Constellation
    hard_out : bool
    max_log : bool
        Max-product instead of sum-product.
    hidden, activations, learning_rate, epochs, patience, min_delta,
    batch_size, clipnorm, marginal, initial_state, chunk_size, overlap,
    precision
        As in :class:`ViterbiNet`.

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
        Validated, otherwise unused.

    Output
    ------
    : [batch, T, M], tf.float
        Normalised symbol log-probabilities, or
    : [batch, T], tf.int32
        Their argmax if ``hard_out``.
    """

    def __init__(self, memory, constellation=None, hard_out=False,
                 max_log=False, **kwargs):
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, **kwargs)
        self._max_log = bool(max_log)

    @property
    def max_log(self):
        """bool : max-product instead of sum-product inference."""
        return self._max_log

    def _config(self):
        return {**super()._config(), "max_log": self._max_log}
