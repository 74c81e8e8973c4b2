r"""Learned trellis detectors: ViterbiNet and the learned factor graph
(BCJRNet).

A small classifier (:class:`detectors.stacked_mlp.StackedMLP`) maps each
received sample ``y[k]`` to ``p(c | y[k])`` over the ``M**L`` channel states
``c`` (the symbols ``x[k], ..., x[k-L+1]`` that shape ``y[k]``, numbered as
in :mod:`detectors.trellis`). By Bayes' rule ``log p(y[k] | c) = log p(c |
y[k]) + log p(y[k]) - log p(c)``; with uniform symbols ``p(c) = M**-L``,
and ``log p(y[k])`` is the same for every branch at time ``k``, so it
changes neither the Viterbi path nor the normalised BCJR posteriors and is
dropped by default (``marginal="ignore"``). ``marginal="gmm"`` keeps it,
estimated by a Gaussian mixture with one component per channel state
fitted to the pilots (:mod:`detectors.mixture`), so that
:meth:`state_log_likelihoods` are proper log-densities (e.g. for combining
with other factors). These branch log-likelihoods
(:mod:`detectors.metrics.classifier`) feed the recursions of
:class:`detectors.TrellisDetector`: max-product (ViterbiNet) or
sum-product (LearnedFactorGraph).

Published design (Shlezinger, Farsad, Eldar, Goldsmith, "ViterbiNet: A deep
learning based Viterbi algorithm for symbol detection", IEEE TWC 2020;
Shlezinger et al., "Learned factor graphs for inference from stationary
time sequences", IEEE TSP 2022): a 1 -> 100 (sigmoid) -> 50 (ReLU) -> M**L
(softmax) network trained by cross-entropy on the channel-state labels of
the pilots, Adam with learning rate 0.01. Many models train at once with
:func:`detectors.many_models.train_many`.
"""

import time

import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_nonnegative, check_positive

from .learned import LearnedDetector
from .pilots import MIN_SAMPLES_PER_CLASS, check_pilots
from .training import train_loop
from .many_models import pilot_samples, train_many
from .metrics.classifier import (classifier_branch_metrics, state_log_probs,
                                 state_log_likelihoods)
from .stacked_mlp import ACTIVATIONS, StackedMLP, mlp_loss
from .trellis_detector import TrellisDetector

__all__ = ["ViterbiNet", "LearnedFactorGraph", "train_many", "StackedMLP",
           "MARGINALS", "ACTIVATIONS"]

MARGINALS = ("ignore", "gmm")


class _LearnedTrellis(TrellisDetector, LearnedDetector):
    r"""Shared parts of :class:`ViterbiNet` and :class:`LearnedFactorGraph`
    (see their docstrings)."""

    def __init__(self, memory, *, constellation=None, hard_out=False,
                 max_log=True, traceback=False, hidden=(100, 50),
                 activations=("sigmoid", "relu"), learning_rate=0.01,
                 epochs=300, patience=10, min_delta=0.0, batch_size=None,
                 clipnorm=1.0, marginal="ignore", initial_state="known",
                 chunk_size=None, overlap=None, precision=None, **kwargs):
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, max_log=max_log,
                         traceback=traceback, initial_state=initial_state,
                         chunk_size=chunk_size, overlap=overlap,
                         precision=precision, **kwargs)
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
        self._hidden = tuple(int(h) for h in hidden)
        self._activations = activations
        self._set_training_options(
            learning_rate=learning_rate, epochs=epochs, patience=patience,
            batch_size=batch_size, clipnorm=clipnorm)
        self._min_delta = check_nonnegative(min_delta, "min_delta")
        self._marginal = marginal
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

    def metric_inputs(self):
        return {"weights": self._weights()}

    def metric_key(self):
        return (self._activations, self.num_points)

    def branch_metrics(self, y, no, weights=None):
        """The classifier's branch metrics
        (:func:`detectors.metrics.classifier_branch_metrics`) of validated
        ``y``; ``weights`` default to the current ones. ``no`` is unused
        (the classifier learned the noise)."""
        del no
        weights = self._weights() if weights is None else weights
        return classifier_branch_metrics(y, *weights, self._activations,
                                         self.num_points)

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
        return state_log_probs(y, params, shift, scale, self._activations)

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
        return state_log_likelihoods(y, *self._weights(),
                                     self._activations)

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
            :func:`detectors.training.train_loop`.
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
            yt, no = self._prepare(y2, 0.0)         # validates y
            s_hat = self._hard_decisions(yt, no).numpy().reshape(
                y_arr.shape)
        yc, sc = check_pilots(y, s_hat, self.num_points, self.is_complex,
                              MIN_SAMPLES_PER_CLASS * self.num_classes,
                              f"samples ({MIN_SAMPLES_PER_CLASS} per channel "
                              "state)", names=("y", "s_hat"))
        if check is not None and not check(y, s_hat):
            return None
        x, lab = pilot_samples(self, yc, sc)
        x = self._net.standardise(tf.constant(x[None], self.rdtype))
        t0 = time.perf_counter()
        params, hist = train_loop(
            mlp_loss(self._activations), self._net.params,
            (x, tf.constant(lab[None])), None, stacked=True, epochs=epochs,
            learning_rate=lr, clipnorm=self._clipnorm, seed=0,
            verbose=verbose, desc=f"adapt {type(self).__name__}",
            cache_key=("mlp", self._activations))
        for var, val in zip(self._net.params, params):
            var.assign(val)
        hist[0]["seconds"] = time.perf_counter() - t0
        return hist[0]


class ViterbiNet(_LearnedTrellis):
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

    Example
    -------
    >>> import numpy as np
    >>> from detectors import ViterbiNet
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, (20, 50))                 # pilots, L = 2
    >>> x = 1.0 - 2.0 * s
    >>> y = x + 0.5 * np.pad(x, [[0, 0], [1, 0]], constant_values=1)[:, :-1]
    >>> y = y + 0.3 * rng.normal(size=y.shape)
    >>> net = ViterbiNet(2, hard_out=True)
    >>> _ = net.fit(y, s, seed=1, verbose=False)
    >>> net(y[:2], 0.09).numpy()[:, :8] == s[:2, :8]
    array([[ True,  True,  True,  True,  True,  True,  True,  True],
           [ True,  True,  True,  True,  True,  True,  True,  True]])
    """

    def __init__(self, memory, *, constellation=None, hard_out=False,
                 **kwargs):
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, max_log=True, traceback=True,
                         **kwargs)


class LearnedFactorGraph(_LearnedTrellis):
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

    Example
    -------
    >>> import numpy as np
    >>> from detectors import LearnedFactorGraph
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, (20, 50))                 # pilots, L = 2
    >>> x = 1.0 - 2.0 * s
    >>> y = x + 0.5 * np.pad(x, [[0, 0], [1, 0]], constant_values=1)[:, :-1]
    >>> y = y + 0.3 * rng.normal(size=y.shape)
    >>> net = LearnedFactorGraph(2)
    >>> _ = net.fit(y, s, seed=1, verbose=False)
    >>> lp = net(y[:2], 0.09)                            # [2, 50, M]
    >>> np.allclose(np.exp(lp.numpy()).sum(-1), 1.0, atol=1e-5)
    True
    """

    def __init__(self, memory, *, constellation=None, hard_out=False,
                 max_log=False, **kwargs):
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, max_log=max_log,
                         traceback=False, **kwargs)

    def _config(self):
        return {**super()._config(), "max_log": self._max_log}
