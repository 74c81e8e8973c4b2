r"""The Gaussian mixture of labelled pilots that gives a learned trellis
detector ``log p(y[k])`` (``marginal="gmm"``): one component per channel
state, fitted in closed form since the pilots are labelled."""

import numpy as np

__all__ = ["fit_mixture", "VAR_FLOOR"]

# A variance floor of the mixture components, relative to the variance of
# the pilots: keeps a component fitted to identical samples finite.
VAR_FLOOR = 1e-6


def fit_mixture(x, labels, num_classes):
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
    var = np.maximum(var, VAR_FLOOR * total_var)
    return np.log(weight), mean, var
