r"""K independent multilayer perceptrons held and trained as one stacked
network: the classifier of the learned trellis detectors."""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["StackedMLP", "ACTIVATIONS", "mlp_loss"]

# By name only (never deserialised code), so that checkpoints stay JSON.
ACTIVATIONS = {
    "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "tanh": tf.tanh,
    "elu": tf.nn.elu, "gelu": tf.nn.gelu, "softplus": tf.nn.softplus,
    "silu": tf.nn.silu, "linear": tf.identity,
}


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

    Example
    -------
    >>> import tensorflow as tf
    >>> from detectors.stacked_mlp import StackedMLP
    >>> net = StackedMLP(3, 1, [8], 4, ["relu"])      # 3 models
    >>> net(tf.ones([3, 5, 1])).shape                 # zero weights so far
    TensorShape([3, 5, 4])
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


def mlp_loss(activations):
    """Per-model mean cross-entropy ``loss(params, x, labels, training,
    seed) -> [K]`` of a stacked MLP with these activations (the loss
    :func:`detectors.training.train_loop` minimises)."""
    def loss(params, x, labels, training, seed):
        del training, seed                   # no dropout in this network
        logits = StackedMLP.apply(params, x, activations)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        return tf.reduce_mean(ce, axis=1)
    return loss
