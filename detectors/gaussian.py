"""Gaussian log-likelihoods, the one place that knows real vs complex noise.

Real channels: ``w ~ N(0, no)`` per sample; complex: ``w ~ CN(0, no)``.
Constant terms that do not depend on the hypothesis are dropped, so the
values are log-likelihoods up to a per-sample constant.
"""

import tensorflow as tf

from signals.models import NO_FLOOR

__all__ = ["gaussian_loglik", "NO_FLOOR"]


def gaussian_loglik(y, mean, no):
    """``log p(y | mean)`` up to a constant, elementwise with broadcasting.

    Parameters
    ----------
    y, mean : tf.float or tf.complex, broadcastable
    no : tf.float, broadcastable to ``y``; real noise variance
    """
    no = tf.maximum(no, tf.cast(NO_FLOOR, no.dtype))
    d = y - mean
    if d.dtype.is_complex:
        return -(tf.math.real(d) ** 2 + tf.math.imag(d) ** 2) / no
    return -tf.square(d) / (2.0 * no)
