r"""Pilots as the learned detectors train on them: checks, the validation
split, and the classifier's input features.

Example
-------
>>> import numpy as np
>>> from detectors.pilots import check_pilots, split_validation
>>> y, s = check_pilots(np.zeros(100), np.zeros(100, int), num_points=2,
...                     is_complex=False)
>>> y.shape, s.dtype.name
((1, 100), 'int32')
>>> train, val = split_validation(100, 0.1, seed=0)
>>> len(train), len(val)
(90, 10)
"""

import numpy as np
import tensorflow as tf

__all__ = ["check_pilots", "check_validation", "split_validation",
           "features", "MIN_SAMPLES_PER_CLASS"]

# A classifier over C classes needs examples of every class to learn it; 10
# per class on average is the least with which a 16-class net trained here
# still lands near the model-based detector (fewer gives classes with no or
# one example at all and an arbitrary metric for them).
MIN_SAMPLES_PER_CLASS = 10


def _as_numpy(x):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return x.numpy()
    return np.asarray(x)


def check_pilot_dtypes(y, s, is_complex, names=("y", "s"), *,
                       complex_hint="use a complex constellation"):
    """``(y, s)`` as numpy arrays after the dtype checks every learned
    detector's pilots share (float or complex samples, complex only for a
    complex constellation, integer indices); ``complex_hint`` ends the
    message for complex samples of a real constellation."""
    ny, ns = names
    y = _as_numpy(y)
    s = _as_numpy(s)
    if y.dtype.kind not in "fc":
        raise TypeError(f"`{ny}` must hold float (or complex) samples, got "
                        f"dtype {y.dtype}.")
    if y.dtype.kind == "c" and not is_complex:
        raise TypeError(f"`{ny}` is complex but the constellation is real; "
                        f"pass its real part or {complex_hint}.")
    if s.dtype.kind not in "iu":
        raise TypeError(f"`{ns}` must hold integer symbol indices, got dtype "
                        f"{s.dtype}.")
    return y, s


def check_pilot_values(y, s, num_points, names=("y", "s"), *,
                       unit="samples"):
    """The value checks every learned detector's pilots share: ``y`` not
    empty (``unit`` names what it holds) and finite, indices ``s`` in
    ``[0, M)``."""
    ny, ns = names
    if y.size == 0:
        raise ValueError(f"`{ny}` holds no {unit}.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"`{ny}` contains NaN or Inf samples.")
    lo, hi = int(s.min()), int(s.max())
    if lo < 0 or hi >= num_points:
        raise ValueError(
            f"`{ns}` holds symbol indices in [{lo}, {hi}] but the "
            f"constellation has M = {num_points} points (indices 0..."
            f"{num_points - 1}).")


def check_pilots(y, s, num_points, is_complex, min_samples=1,
                 what="training samples", names=("y", "s")):
    r"""Check pilot data ``(y, s)`` and return it as ``[frames, T]`` arrays.

    Parameters
    ----------
    y : [N] or [frames, T], array_like, float or complex
        Received samples (one frame if 1-D); each frame follows the
        preamble.
    s : same shape as ``y``, int
        Transmitted symbol indices.
    num_points : int
        M; indices must lie in ``[0, M)``.
    is_complex : bool
        Whether complex samples are allowed (complex constellation).
    min_samples : int
        Least number of samples accepted.
    what : str
        Description of the minimum for the error message.
    names : (str, str)
        Argument names used in error messages.

    Output
    ------
    y : [frames, T], np.float64 or np.complex128
    s : [frames, T], np.int32
    """
    ny, ns = names
    y, s = check_pilot_dtypes(y, s, is_complex, names)
    if y.ndim not in (1, 2):
        raise ValueError(f"`{ny}` must have shape [N] or [frames, T], got "
                         f"shape {list(y.shape)}.")
    if s.shape != y.shape:
        raise ValueError(
            f"`{ns}` has shape {list(s.shape)} but `{ny}` has shape "
            f"{list(y.shape)}: give one symbol index per received sample.")
    if y.ndim == 1:
        y, s = y[None], s[None]
    check_pilot_values(y, s, num_points, names, unit="samples")
    if y.size < min_samples:
        raise ValueError(
            f"{y.size} samples in `{ny}` are too few: need at least "
            f"{min_samples} {what}.")
    y = y.astype(np.complex128 if y.dtype.kind == "c" else np.float64)
    return y, s.astype(np.int32)


def check_validation(validation):
    """``validation`` is None, a fraction in ``[0, 1)``, or a pair
    ``(y_val, s_val)``; returns ``("none" | "fraction" | "data", value)``."""
    if validation is None:
        return "none", None
    if isinstance(validation, (tuple, list)):
        if len(validation) != 2:
            raise ValueError("`validation` as data must be a pair "
                             "(y_val, s_val).")
        return "data", tuple(validation)
    if isinstance(validation, bool) or not isinstance(
            validation, (int, float, np.floating, np.integer)):
        raise TypeError("`validation` must be None, a fraction in [0, 1) or "
                        f"a pair (y_val, s_val); got {validation!r}.")
    frac = float(validation)
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"`validation` fraction must lie in [0, 1), got "
                         f"{validation!r}.")
    return ("none", None) if frac == 0.0 else ("fraction", frac)


def split_validation(num, fraction, seed):
    """Random split of ``num`` sample indices: (train, val), both sorted,
    with ``round(fraction * num)`` (at least 1) validation samples."""
    n_val = max(1, int(round(fraction * num)))
    if n_val >= num:
        raise ValueError(f"validation fraction {fraction} leaves no "
                         f"training samples out of {num}.")
    perm = np.random.default_rng(seed).permutation(num)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def features(y, dtype):
    """Classifier inputs: ``[..., 1]`` for real samples, ``[..., 2]``
    (real, imaginary) for complex ones, in real ``dtype``."""
    if y.dtype.is_complex:
        return tf.cast(tf.stack([tf.math.real(y), tf.math.imag(y)], -1),
                       dtype)
    return tf.cast(y[..., None], dtype)
