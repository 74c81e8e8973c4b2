r"""The black-box DNN baseline of the DeepSIC paper: one multilayer
perceptron from the real representation of ``y`` to ``K x M`` logits (``K``
softmax heads, one per user), trained on the same pilots as DeepSIC with
the same loop (:func:`detectors.training.train_loop`) and the same default
training options (:mod:`detectors.mimo.deepsic`).

Default size: two hidden ReLU layers of equal width ``w``, the width whose
parameter count is closest to DeepSIC's for the same ``K, N, M`` and ``I =
5`` iterations (:func:`deepsic_parameter_count`). For K = N = 4 BPSK:
DeepSIC 20 networks x 1282 = 25,640 parameters; this DNN ``4 -> 153 -> 153
-> 8``, 25,559 parameters.
"""

import time

import numpy as np
import tensorflow as tf

from signals.checks import check_int

from ..stacked_mlp import StackedMLP
from .deepsic import (_LearnedMIMO, deepsic_parameter_count, real_features,
                      net_seed)

__all__ = ["MIMODNN", "dnn_width"]


def dnn_width(users, antennas, num_points, *, is_complex=False,
              iterations=5, layers=2):
    """The hidden width ``w`` of ``layers`` equal ReLU layers whose
    parameter count is closest to a DeepSIC's of ``iterations``.

    Example
    -------
    >>> from detectors.mimo.dnn import dnn_width
    >>> dnn_width(4, 4, 2)
    153
    """
    target = deepsic_parameter_count(users, antennas, num_points,
                                     is_complex=is_complex,
                                     iterations=iterations)
    d = (2 if is_complex else 1) * antennas
    out = users * num_points

    def count(w):
        return _count([d] + [w] * layers + [out])
    best = min(range(1, 4096), key=lambda w: abs(count(w) - target))
    return int(best)


def _count(sizes):
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def _dnn_loss(users, num_points, activations):
    def loss(params, x, labels, training, seed):
        del training, seed
        logits = StackedMLP.apply(params, x, activations)     # [1, S, K M]
        logits = tf.reshape(logits, tf.concat(
            [tf.shape(logits)[:2], [users, num_points]], 0))
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        return tf.reduce_mean(ce, axis=[1, 2])
    return loss


_LOSSES = {}


class MIMODNN(_LearnedMIMO):
    r"""Black-box multiuser MIMO detector: an MLP ``y -> K x M`` logits
    (module notes).

    Parameters
    ----------
    users, antennas : int
        K, N.
    constellation : None | str | sionna.phy.mapping.Constellation
        As for :class:`DeepSIC`.
    hidden : None | int | sequence of int
        Hidden ReLU layer widths; ``None``: two layers of
        :func:`dnn_width` (about DeepSIC's parameter count).
    epochs, learning_rate, batch_size, patience, validation, clipnorm
        Training defaults, those of a sequential :class:`DeepSIC` (300,
        0.005, 256, 20, 0.1, 1). Measured SER at 5000 pilots (K = N = 4
        BPSK SED, 10 dB): 2.4-2.8x ML's (:mod:`detectors.mimo.deepsic`),
        1.24-1.32x with ``augment=15``.
    augment : int
        Class-translated copies of each pilot :meth:`fit` adds, as for
        :class:`DeepSIC` (0: none).
    hard_out : bool
    precision : None | "single" | "double"

    Input
    -----
    y : [..., T, N], tf.float or tf.complex
    no : scalar or [...], tf.float (checked, unused)
    h : None (ignored)

    Output
    ------
    : [..., T, K, M] tf.float log-probabilities, or [..., T, K] tf.int32

    Example
    -------
    >>> import numpy as np, tensorflow as tf
    >>> from channels import MIMOChannel
    >>> from detectors.mimo import MIMODNN
    >>> ch = MIMOChannel(2, 2, profile="sed")
    >>> s, y = ch.pilot_frames(ch.channel_matrices(1), 0.1, 1000,
    ...                        seed=tf.constant([1, 2]))
    >>> det = MIMODNN(2, 2, epochs=200, hard_out=True)
    >>> _ = det.fit(y, s, seed=0)
    >>> float(np.mean(det(y, 0.1).numpy() == s.numpy())) > 0.95
    True
    """

    def __init__(self, users, antennas, *, constellation=None, hidden=None,
                 epochs=300, learning_rate=0.005, batch_size=256,
                 patience=20,
                 validation=0.1, clipnorm=1.0, augment=0, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(users, antennas, constellation=constellation,
                         learning_rate=learning_rate, epochs=epochs,
                         patience=patience, batch_size=batch_size,
                         validation=validation, clipnorm=clipnorm,
                         augment=augment, hard_out=hard_out,
                         precision=precision, **kwargs)
        if hidden is None:
            w = dnn_width(self._users, self._antennas, self.num_points,
                          is_complex=self.is_complex)
            hidden = (w, w)
        elif not isinstance(hidden, (list, tuple)):
            hidden = (hidden,)
        self._hidden = tuple(check_int(h, "hidden") for h in hidden)
        self._activations = ("relu",) * len(self._hidden)
        self._net = StackedMLP(1, self._features, self._hidden,
                               self._users * self.num_points,
                               self._activations, dtype=self.rdtype.name)

    @property
    def hidden(self):
        """tuple of int : hidden layer widths."""
        return self._hidden

    @property
    def network(self):
        """StackedMLP : the network (one model)."""
        return self._net

    @property
    def parameter_count(self):
        """int : trainable parameters."""
        return _count(self._net.sizes)

    def _config(self):
        return {"users": self._users, "antennas": self._antennas,
                "hidden": list(self._hidden), **self.training_settings,
                **self._augment_config()}

    def _variables(self):
        return list(self._net.all_variables)

    def symbol_logits(self, y, no, h):
        del no, h
        x = real_features(tf.reshape(y, [1, -1, self._antennas]),
                          self.rdtype)
        logits = self._net(x)[0]                                 # [S, K M]
        shape = tf.concat([tf.shape(y)[:2], [self._users, self.num_points]],
                          0)
        return tf.reshape(logits, shape)

    def fit(self, y, s, *, seed=0, verbose=False, epochs=None,
            patience=None, batch_size=None, learning_rate=None,
            validation="default"):
        r"""Train the network on pilots from a fresh (seeded)
        initialisation; the loss is the mean over users and pilots of the
        per-user cross-entropies.

        Parameters
        ----------
        y : [P, N] or [F, T, N], array_like
        s : [P, K] or [F, T, K], array_like, int
        seed : int
        verbose : bool
        epochs, patience, batch_size, learning_rate, validation
            As for :meth:`DeepSIC.fit`.

        Output
        ------
        : dict, ``epochs``, ``best_epoch``, ``loss``, ``val_loss``,
          ``seconds``
        """
        epochs, patience, batch_size, lr, frac = self._fit_options(
            epochs, patience, batch_size, learning_rate, validation)
        dtype = self.rdtype
        x, sc, tr, va, mu, sd = self._training_data(y, s, frac, seed)

        def data(idx):
            return (tf.constant(x[idx][None], dtype),
                    tf.constant(sc[idx][None]))
        key = (self._users, self.num_points, self._activations)
        if key not in _LOSSES:
            _LOSSES[key] = _dnn_loss(*key)
        t0 = time.perf_counter()
        params, hist = self._loop(
            _LOSSES[key], self._net.initial_params(net_seed(seed, 0), dtype),
            data(tr), None if va is None else data(va), stacked=True,
            epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
            seed=seed, verbose=verbose, desc="MIMODNN",
            cache_key=("mimo_dnn",) + key)
        for var, value in zip(self._net.params, params):
            var.assign(value)
        self._net.shift.assign(tf.constant(mu[None], dtype))
        self._net.scale.assign(tf.constant(1.0 / sd[None], dtype))
        self._trained = True
        return {**hist[0], "seconds": time.perf_counter() - t0}

