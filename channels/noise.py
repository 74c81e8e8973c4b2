"""Additive white Gaussian noise with optional stateless seeds."""

import tensorflow as tf
from sionna.phy import config

__all__ = ["gaussian_noise"]


def gaussian_noise(shape, no, dtype, seed=None):
    """Samples ``N(0, no)`` (real ``dtype``) or ``CN(0, no)`` (complex).

    Parameters
    ----------
    shape : list / tensor shape of the noise
    no : tf.float tensor broadcastable to ``shape``
    dtype : tf.DType of the output
    seed : None or int tensor [2]
        Stateless seed. ``None`` draws from Sionna's global generator
        (``sionna.phy.config.tf_rng``, seeded by ``config.seed``).

    Output
    ------
    : ``shape``, ``dtype``

    Example
    -------
    >>> import tensorflow as tf
    >>> from channels.noise import gaussian_noise
    >>> w = gaussian_noise([1000, 100], tf.constant(0.5), tf.float64,
    ...                    seed=tf.constant([1, 2]))
    >>> round(float(tf.math.reduce_variance(w)), 2)
    0.5
    >>> gaussian_noise([2], tf.constant(0.5), tf.complex64).dtype.name
    'complex64'
    """
    real = dtype.real_dtype
    n_parts = 2 if dtype.is_complex else 1
    full = tf.concat([[n_parts], tf.cast(shape, tf.int32)], axis=0)
    if seed is None:
        w = config.tf_rng.normal(full, dtype=real)
    else:
        w = tf.random.stateless_normal(full, seed=seed, dtype=real)
    if dtype.is_complex:
        std = tf.cast(tf.sqrt(no / 2.0), real)
        return tf.complex(w[0] * std, w[1] * std)
    return w[0] * tf.cast(tf.sqrt(no), real)
