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

Training recipes (``recipe=``, :data:`detectors.training.RECIPES`); an
option given explicitly replaces the recipe's value (the detector then
trains "the recipe with that change"; :attr:`training_settings` and the
saved config hold the values used), except that early-stopping options
(``patience``, ``min_delta > 0``) without validation data are an error.

================  ==========================  =============================
option            ``"rxsim"`` (default)       ``"authors"``
================  ==========================  =============================
learning_rate     0.01                        0.01
batch_size        0 (full batch)              27
epochs            1000 (at most)              100
validation        0.1 (held out)              0 (all pilots train)
patience          50                          None (no early stopping)
clipnorm, clip    1, ``"global"`` per model   1, ``"per-variable"``
weight_decay      0                           1e-4 (coupled L2)
================  ==========================  =============================

The authors' settings are those of their code: MATLAB ``trainingOptions``
(``adam``, ``InitialLearnRate`` 0.01, ``MaxEpochs`` 100,
``MiniBatchSize`` 27, ``GradientThreshold`` 1 with the default per-parameter
``"l2norm"`` method, the default ``L2Regularization`` 1e-4), applied as
PyTorch would: every parameter's gradient clipped to norm 1, then ``1e-4 *
w`` added to it for kernels and biases alike (PyTorch Adam's
``weight_decay``; MATLAB exempts biases by default). Adam is Keras's
(epsilon 1e-7, applied outside the bias correction) in both recipes, and
mini-batches are reshuffled every epoch, the incomplete last one skipped.

Why the ``"rxsim"`` defaults (epochs 1000, patience 50; they were 300 and
10): full-batch Adam on 5000 pilots often sits on a plateau of the
validation loss for more than 10 epochs, and patience 10 stopped there.
Measured with BCJRNet (BPSK, L = 4, taps ``exp(-gamma l)``, 5000 pilots,
10 dB, perfect CSI, four seeds, SER on the same 3e5 test symbols divided
by BCJR's): gamma 1.5, patience 10: 1.52, 3.15, 1.06, 4.04 (mean 2.44);
patience 50 (at most 300 or 1000 epochs): 1.52, 1.29, 1.00, 1.02 (1.21);
patience 100: 1.28, 1.29, 1.00, 1.02 (1.15). gamma 0.1 (12 BCJR errors,
coarse): means 1.65, 1.29, 1.21. At gamma 0.2 (6 and 10 dB, perfect and
perturbed pilots, three seeds, 1e5 symbols) every setting, including 1000
epochs without early stopping, was within test noise of the others (with
perturbed pilots longer training fits the perturbed mixture, not the test
channel, and was not better). 300 epochs capped 5 of 24 patience-50 runs.
A fit took 0.8-2.2 s (mean) with patience 10, 1.3-2.6 s with patience 50,
2-3.3 s with patience 100 and 6-8 s for 1000 epochs (2-core CPU shared
with other jobs): patience 50 gets most of the gain for +60% of the time.
"""

import time

import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_nonnegative, check_positive

from .learned import LearnedDetector
from .pilots import MIN_SAMPLES_PER_CLASS, check_pilots
from .training import CLIP_MODES, RECIPES, recipe_options, train_loop
from .many_models import pilot_samples, train_many
from .metrics.classifier import (classifier_branch_metrics, state_log_probs,
                                 state_log_likelihoods)
from .stacked_mlp import ACTIVATIONS, StackedMLP, mlp_loss
from .trellis_detector import TrellisDetector

__all__ = ["ViterbiNet", "LearnedFactorGraph", "train_many", "StackedMLP",
           "MARGINALS", "ACTIVATIONS", "RECIPES"]

MARGINALS = ("ignore", "gmm")


def _check_fraction(value):
    if isinstance(value, bool) or not isinstance(
            value, (int, float, np.integer, np.floating)) or \
            not 0.0 <= float(value) < 1.0:
        raise ValueError(
            "`validation` (the fraction of the pilots held out for early "
            f"stopping, 0 for none) must be a number in [0, 1), got "
            f"{value!r}; explicit validation pilots go to "
            "fit(validation=(y_val, s_val)).")
    return float(value)


def _check_training(given):
    """Checked values of the training options given to a constructor
    (``None``: not given)."""
    checks = {
        "learning_rate": check_positive,
        "epochs": check_int,
        "patience": check_int,
        "min_delta": check_nonnegative,
        "batch_size": lambda v, n: check_int(v, n, 0),
        "clipnorm": check_positive,
        "weight_decay": check_nonnegative,
        "validation": lambda v, n: _check_fraction(v),
    }
    out = {}
    for name, value in given.items():
        if value is None:
            out[name] = None
        elif name == "clip":
            if value not in CLIP_MODES:
                raise ValueError(f"`clip` must be one of {CLIP_MODES}, got "
                                 f"{value!r}.")
            out[name] = value
        else:
            out[name] = checks[name](value, name)
    return out


class _LearnedTrellis(TrellisDetector, LearnedDetector):
    r"""Shared parts of :class:`ViterbiNet` and :class:`LearnedFactorGraph`
    (see their docstrings)."""

    def __init__(self, memory, *, constellation=None, hard_out=False,
                 max_log=True, traceback=False, decision=None,
                 hidden=(100, 50), activations=("sigmoid", "relu"),
                 recipe="rxsim", learning_rate=None, epochs=None,
                 patience=None, min_delta=None, batch_size=None,
                 clipnorm=None, clip=None, weight_decay=None,
                 validation=None, marginal="ignore", initial_state="known",
                 chunk_size=None, overlap=None, metric_table=None,
                 precision=None, **kwargs):
        if recipe not in RECIPES:
            raise ValueError(f"`recipe` must be one of {tuple(RECIPES)}, got "
                             f"{recipe!r}.")
        train = recipe_options(recipe, _check_training(dict(
            learning_rate=learning_rate, epochs=epochs, patience=patience,
            min_delta=min_delta, batch_size=batch_size, clipnorm=clipnorm,
            clip=clip, weight_decay=weight_decay, validation=validation)))
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, max_log=max_log,
                         traceback=traceback, decision=decision,
                         initial_state=initial_state,
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
        self._recipe = recipe
        self._learning_rate = float(train["learning_rate"])
        self._epochs = int(train["epochs"])
        self._patience = train["patience"]
        self._min_delta = float(train["min_delta"])
        self._batch_size = train["batch_size"] or None   # 0: full batch
        self._clipnorm = float(train["clipnorm"])
        self._clip = train["clip"]
        self._weight_decay = float(train["weight_decay"])
        self._validation = float(train["validation"])
        self._marginal = marginal
        d = 2 if self.is_complex else 1
        if metric_table is not None:
            metric_table = check_int(metric_table, "metric_table", 2,
                                     what="grid points of the tabulated "
                                     "classifier")
            if d != 1:
                raise ValueError(
                    "`metric_table` tabulates the classifier of a scalar "
                    "input; a complex constellation gives two features per "
                    "sample: leave metric_table=None.")
        self._metric_table = metric_table
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

    @property
    def recipe(self):
        """str : the training recipe, ``"rxsim"`` or ``"authors"``."""
        return self._recipe

    @property
    def training_settings(self):
        """dict : the training options ``fit`` uses (the recipe's, with
        the constructor's explicit options in their place):
        ``learning_rate, epochs, patience, min_delta, batch_size`` (0 =
        full batch), ``clipnorm, clip, weight_decay, validation`` (0 =
        none; then ``patience`` is None)."""
        return {"learning_rate": self._learning_rate, "epochs": self._epochs,
                "patience": self._patience, "min_delta": self._min_delta,
                "batch_size": self._batch_size or 0,
                "clipnorm": self._clipnorm, "clip": self._clip,
                "weight_decay": self._weight_decay,
                "validation": self._validation}

    def _arch(self):
        """What a stacked training run needs to be identical."""
        return (self.num_points, self.memory, self.is_complex, self._hidden,
                self._activations, self.rdtype)

    def _config(self):
        return {"memory": self.memory, "hidden": list(self._hidden),
                "activations": list(self._activations),
                "recipe": self._recipe, **self.training_settings,
                "marginal": self._marginal,
                "initial_state": self._initial_state,
                "chunk_size": self._chunk_size, "overlap": self._overlap,
                # only when set, so that older checkpoints still load
                **({} if self._metric_table is None
                   else {"metric_table": self._metric_table})}

    def _variables(self):
        out = list(self._net.all_variables)
        if self._marginal == "gmm":
            out += [self._gmm_log_weight, self._gmm_mean, self._gmm_var]
        return out

    # -- metrics ----------------------------------------------------------
    def _weights(self):
        """The current weights as the TensorFlow variables under the Keras
        ones: a compiled recursion reads them when it runs, which saves
        an eager read per weight and call (~20 us each, a quarter of a
        small batch's time)."""
        gmm = ()
        if self._marginal == "gmm":
            gmm = (self._gmm_log_weight, self._gmm_mean,      # tf.Variable
                   self._gmm_var)
        return ([v.value for v in self._net.params], self._net.shift.value,
                self._net.scale.value, gmm)

    def metric_inputs(self):
        return {"weights": self._weights()}

    def metric_key(self):
        return (self._activations, self.num_points, self._metric_table)

    def branch_metrics(self, y, no, weights=None):
        """The classifier's branch metrics
        (:func:`detectors.metrics.classifier_branch_metrics`) of validated
        ``y``; ``weights`` default to the current ones. ``no`` is unused
        (the classifier learned the noise)."""
        del no
        weights = self._weights() if weights is None else weights
        return classifier_branch_metrics(y, *weights, self._activations,
                                         self.num_points,
                                         table=self._metric_table)

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
    def fit(self, y, s, *, epochs=None, batch_size=None,
            validation="default", patience=None, learning_rate=None,
            callbacks=None, seed=None, verbose=True):
        r"""Train the classifier on pilots, from a fresh initialisation,
        with the detector's training settings (its ``recipe`` and explicit
        options, :attr:`training_settings`); the arguments given here
        replace them for this call.

        Parameters
        ----------
        y : [N] or [frames, T], array_like, float (complex for QAM)
            Received pilot samples; every frame follows the preamble.
        s : same shape as ``y``, int
            Transmitted symbol indices.
        epochs : None | int
            Maximum full passes (default: the detector's; 1000 with the
            ``"rxsim"`` recipe, 100 with ``"authors"``).
        batch_size : None | int
            Mini-batch size (default: the detector's; full batch, one
            Adam step per epoch, with ``"rxsim"``, 27 with ``"authors"``).
        validation : "default" | None | float | (y_val, s_val)
            ``"default"``: the detector's ``validation`` (0.1 with
            ``"rxsim"``, none with ``"authors"``). Otherwise the fraction
            of the samples held out (random, seeded) for early stopping,
            explicit validation pilots, or ``None`` / 0: no early stopping
            (all ``epochs`` are run, the last weights kept).
        patience : None | int
            Epochs without a new best validation loss before stopping
            (default: the detector's, 50 with ``"rxsim"``). The best
            weights are kept.
        learning_rate : None | float
            Adam step size (default: the detector's, 0.01).
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
            fewer than ``10 * M**L`` samples (10 per channel state);
            validation data without a patience (e.g. ``recipe="authors"``
            and ``validation=0.1`` but no ``patience``).
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
        time-varying channels. Gradient clipping and weight decay are the
        detector's (:attr:`training_settings`).

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
            learning_rate=lr, clipnorm=self._clipnorm, clip=self._clip,
            weight_decay=self._weight_decay, seed=0,
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
    soft output is max-product (max-log) forward-backward. With
    ``decision="fixed-lag"`` both follow the authors' decoder instead.

    Parameters
    ----------
    memory : int
        L, the channel memory the trellis assumes (``M**(L-1)`` states).
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK. Complex constellations feed (Re, Im) features.
    hard_out : bool
        Return the Viterbi sequence (indices) instead of log-probabilities.
    decision : "traceback" | "fixed-lag"
        ``"traceback"`` (default): the ML sequence by full traceback (or
        windows of ``chunk_size``). ``"fixed-lag"``: the rule of the
        authors' decoder, ``x[k-L+1]`` from the best branch after step
        ``k``, no traceback, the last ``L-1`` symbols from the best final
        state (:func:`detectors.trellis.fixed_lag`). It applies to the
        hard decisions and to the soft output, which becomes the max-log
        scores of those decisions (their argmax is the fixed-lag
        decision, so SER from the soft output measures the fixed-lag
        rule); ``chunk_size`` does not change it.
    hidden : sequence of int
        Hidden layer widths, default ``(100, 50)``.
    activations : sequence of str
        One per hidden layer, default ``("sigmoid", "relu")``; names of
        :data:`ACTIVATIONS`.
    recipe : "rxsim" | "authors"
        The defaults of the training options below (module doc, table).
        ``"rxsim"`` (default): full-batch Adam, early stopping on 10% of
        the pilots. ``"authors"``: the published code's recipe, Adam lr
        0.01, mini-batches of 27, 100 epochs, each variable's gradient
        clipped to norm 1, L2 weight decay 1e-4, all pilots for
        training, no early stopping. It sets training only (not
        ``decision``).
    learning_rate : None | float
        Adam step size (recipe: 0.01).
    epochs : None | int
        Maximum epochs of ``fit`` (recipe: 1000 / 100).
    patience : None | int
        Early-stopping patience in epochs (recipe: 50 / none). Giving one
        while ``validation`` is 0 is an error (it could not act).
    min_delta : None | float
        Smallest decrease of the validation loss (nats) that counts as an
        improvement (recipe: 0).
    batch_size : None | int
        Mini-batch size, 0 for full batch (recipe: full batch / 27).
    clipnorm : None | float
        Largest gradient norm (recipe: 1).
    clip : None | "global" | "per-variable"
        What ``clipnorm`` bounds, per model: the norm of all gradients
        together or each variable's alone (Keras's ``global_clipnorm`` /
        ``clipnorm``; recipe: ``"global"`` / ``"per-variable"``).
    weight_decay : None | float
        L2 coefficient added to the (clipped) gradient, PyTorch Adam's
        coupled ``weight_decay`` (recipe: 0 / 1e-4).
    validation : None | float
        Fraction of the pilots held out for early stopping, 0 for none
        (recipe: 0.1 / 0).
    marginal : "ignore" | "gmm"
        Whether branch metrics include ``log p(y[k])`` from a Gaussian
        mixture fitted to the pilots (decisions and normalised outputs
        are the same either way; see module doc).
    initial_state : "known" | "unknown"
        As for the model-based detectors.
    chunk_size, overlap : None | int
        Windowed decoding of long frames, see :mod:`detectors.trellis`.
    metric_table : None | int
        Real constellations: read the branch metrics from a table of the
        classifier on this many grid points spanning each call's samples,
        linearly interpolated
        (:func:`detectors.metrics.classifier.tabulated_state_log_likelihoods`;
        e.g. 4096: about 10x less classifier work at 200 x 1000 symbols,
        decisions unchanged in the tests). ``None`` (default): the
        classifier on every sample.
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
                 decision="traceback", **kwargs):
        super().__init__(memory, constellation=constellation,
                         hard_out=hard_out, max_log=True, traceback=True,
                         decision=decision, **kwargs)

    def _config(self):
        return {**super()._config(), "decision": self._decision}


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
    hidden, activations, recipe, learning_rate, epochs, patience,
    min_delta, batch_size, clipnorm, clip, weight_decay, validation,
    marginal, initial_state, chunk_size, overlap, metric_table, precision
        As in :class:`ViterbiNet` (``decision`` is ViterbiNet's only:
        here hard decisions are the argmax of the posteriors).

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
