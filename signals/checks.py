"""Input validation shared by every block that takes received samples,
noise variances or channel taps.

Static properties (rank, length) are checked always, also while tracing a
``tf.function``. Value checks (NaN/Inf, negative noise variance) need the
numbers, so they run only in eager mode, i.e. whenever a user calls a block
directly. Inside a compiled Monte Carlo loop the inputs come from our own
blocks and are valid by construction.

``channels`` imports this module too: it is the only place where the rules
for "a valid received block / noise variance / tap vector" are written.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["check_received", "check_noise_variance", "check_taps",
           "as_taps", "is_eager", "check_int", "check_positive",
           "check_nonnegative", "MAX_STATES"]

# Largest trellis the core accepts: M**(L-1) states. Above this, memory and
# time per symbol explode and a user has almost surely mistyped L or M.
MAX_STATES = 4096


def is_eager(*tensors):
    """True when values can be inspected (not inside a graph trace).

    Example
    -------
    >>> import tensorflow as tf
    >>> from signals.checks import is_eager
    >>> is_eager(tf.constant(1.0))
    True
    >>> tf.function(lambda x: tf.constant(is_eager(x)))(tf.constant(1.0))
    <tf.Tensor: shape=(), dtype=bool, numpy=False>
    """
    return tf.executing_eagerly() and not any(
        isinstance(t, tf.Tensor) and not hasattr(t, "numpy") for t in tensors)


def _values(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _rows_fit(rows, batch_size):
    """Whether a per-frame axis of ``rows`` entries (None: unknown while
    tracing) fits a batch of ``batch_size`` frames (None: any): one row
    for all frames, or one per frame."""
    return batch_size is None or rows is None or rows in (1, batch_size)


def check_received(y, name="y"):
    """Check a received block ``[batch, T]`` (real or complex).

    Raises ``ValueError`` naming ``name`` for a wrong rank, an empty block
    or (eagerly) NaN/Inf samples.

    Example
    -------
    >>> import tensorflow as tf
    >>> from signals.checks import check_received
    >>> check_received(tf.zeros([2, 5])).shape
    TensorShape([2, 5])
    >>> check_received(tf.zeros([5]))
    Traceback (most recent call last):
    ...
    ValueError: `y` must have shape [batch, T] (rank 2), got shape [5]; ...
    """
    rank = y.shape.rank
    if rank != 2:
        raise ValueError(
            f"`{name}` must have shape [batch, T] (rank 2), got shape "
            f"{y.shape.as_list() if rank is not None else 'unknown'}; "
            f"add a batch axis with y[None] for a single frame.")
    if y.shape[1] == 0:
        raise ValueError(f"`{name}` has no samples (T = 0).")
    if is_eager(y) and not np.all(np.isfinite(_values(y))):
        raise ValueError(f"`{name}` contains NaN or Inf samples.")
    return y


def check_noise_variance(no, batch_size=None, name="no"):
    """Check a noise variance: scalar or ``[batch]``, finite, >= 0.

    Example
    -------
    >>> import tensorflow as tf
    >>> from signals.checks import check_noise_variance
    >>> check_noise_variance(tf.constant([0.1, 0.2]), batch_size=2).shape
    TensorShape([2])
    >>> check_noise_variance(tf.constant(-1.0))
    Traceback (most recent call last):
    ...
    ValueError: `no` (noise variance) must be >= 0, got -1.0.
    """
    rank = no.shape.rank
    if rank not in (0, 1):
        raise ValueError(
            f"`{name}` must be a scalar or have shape [batch], got shape "
            f"{no.shape.as_list()}.")
    if rank == 1 and not _rows_fit(no.shape[0], batch_size):
        raise ValueError(
            f"`{name}` has {no.shape[0]} entries but the batch has "
            f"{batch_size} frames; give one value per frame or a scalar.")
    if no.dtype.is_complex:
        raise TypeError(f"`{name}` must be real, got dtype {no.dtype.name}.")
    if is_eager(no):
        v = _values(no)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"`{name}` (noise variance) must be finite, "
                             f"got {v}.")
        if np.any(v < 0):
            raise ValueError(f"`{name}` (noise variance) must be >= 0, "
                             f"got {v}.")
    return no


def check_taps(taps, name="taps", memory=None, batch_size=None, *,
               per_symbol=False, num_symbols=None):
    """Check channel taps: ``[L]`` fixed or ``[batch, L]`` per frame, and
    with ``per_symbol`` also ``[batch, T, L]`` per symbol (the tap set of
    time ``k`` is ``taps[b, k]``).

    ``memory`` (if given) is the L the caller expects, ``batch_size`` the
    number of frames (a per-frame or per-symbol batch axis of 1 fits any)
    and ``num_symbols`` the T of the frames (per-symbol taps must have it).

    Example
    -------
    >>> import tensorflow as tf
    >>> from signals.checks import check_taps
    >>> check_taps(tf.constant([[1.0, 0.5]] * 3), batch_size=3).shape
    TensorShape([3, 2])
    >>> check_taps(tf.constant([1.0, 0.5]), memory=3)
    Traceback (most recent call last):
    ...
    ValueError: `taps` has 2 taps but this block was built for memory L = 3.
    >>> check_taps(tf.ones([2, 5, 3]), per_symbol=True, num_symbols=5).shape
    TensorShape([2, 5, 3])
    >>> check_taps(tf.ones([2, 4, 3]), per_symbol=True, num_symbols=5)
    Traceback (most recent call last):
    ...
    ValueError: `taps` has tap sets for 4 symbols but the frames have T = 5; ...
    """
    rank = taps.shape.rank
    ranks = (1, 2, 3) if per_symbol else (1, 2)
    if rank not in ranks:
        shapes = ("[L], [batch, L] or [batch, T, L]" if per_symbol
                  else "[L] or [batch, L]")
        raise ValueError(
            f"`{name}` must have shape {shapes}, got shape "
            f"{taps.shape.as_list() if rank is not None else 'unknown'}.")
    length = taps.shape[-1]
    if length is not None and length < 1:
        raise ValueError(f"`{name}` must hold at least one tap.")
    if memory is not None and length is not None and length != memory:
        raise ValueError(
            f"`{name}` has {length} taps but this block was built for "
            f"memory L = {memory}.")
    if rank >= 2 and not _rows_fit(taps.shape[0], batch_size):
        raise ValueError(
            f"`{name}` has taps for {taps.shape[0]} frames but the batch has "
            f"{batch_size}.")
    if rank == 3:
        steps = taps.shape[1]
        if steps is not None and steps < 1:
            raise ValueError(f"`{name}` holds no tap sets (T = 0).")
        if num_symbols is not None and steps is not None and \
                steps != num_symbols:
            raise ValueError(
                f"`{name}` has tap sets for {steps} symbols but the frames "
                f"have T = {num_symbols}; per-symbol taps are "
                f"[batch, T, L].")
    if is_eager(taps) and not np.all(np.isfinite(_values(taps))):
        raise ValueError(f"`{name}` contains NaN or Inf.")
    return taps


def as_taps(taps, name="taps", memory=None, batch_size=None, *,
            per_symbol=False, num_symbols=None):
    """Taps as a checked float or complex tensor (see :func:`check_taps`).

    Non-tensors go through numpy first so that Python floats stay float64
    (``tf.convert_to_tensor`` of a list would round them to float32);
    integers become float64. Casting to a block's precision is the
    caller's business.

    Example
    -------
    >>> from signals.checks import as_taps
    >>> as_taps([1, 2]).dtype.name, as_taps([1.0, 0.5j]).dtype.name
    ('float64', 'complex128')
    """
    if not tf.is_tensor(taps):
        taps = np.asarray(taps)
    taps = tf.convert_to_tensor(taps)
    if taps.dtype.is_integer:
        taps = tf.cast(taps, tf.float64)
    if not (taps.dtype.is_floating or taps.dtype.is_complex):
        raise TypeError(f"`{name}` must be real or complex numbers, got "
                        f"{taps.dtype.name}.")
    return check_taps(taps, name=name, memory=memory, batch_size=batch_size,
                      per_symbol=per_symbol, num_symbols=num_symbols)


# -- scalar options ---------------------------------------------------------
def check_int(value, name, minimum=1, allow_none=False, *, maximum=None,
              what=None):
    """``value`` as an int in ``[minimum, maximum]`` (or None if allowed).

    ``what`` says what the number means, for the error message.

    Example
    -------
    >>> import numpy as np
    >>> from signals.checks import check_int
    >>> check_int(np.int64(3), "L")
    3
    >>> check_int(None, "chunk_size", allow_none=True) is None
    True
    >>> check_int(2.0, "L")
    Traceback (most recent call last):
    ...
    ValueError: `L` must be an integer >= 1, got 2.0.
    >>> check_int(9, "delay", 0, maximum=8, what="samples after y[k]")
    Traceback (most recent call last):
    ...
    ValueError: `delay` (samples after y[k]) must be an integer in [0, 8], got 9.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum or (maximum is not None and value > maximum):
        label = f"`{name}`" + (f" ({what})" if what else "")
        bound = f">= {minimum}" if maximum is None else \
            f"in [{minimum}, {maximum}]"
        raise ValueError(f"{label} must be an integer {bound}, got "
                         f"{value!r}.")
    return int(value)


def check_positive(value, name):
    """``value`` as a finite float > 0.

    Example
    -------
    >>> from signals.checks import check_positive
    >>> check_positive(1, "var")
    1.0
    >>> check_positive(0, "var")
    Traceback (most recent call last):
    ...
    ValueError: `var` must be finite and > 0, got 0.
    """
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be a number, got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number, got {value!r}.") \
            from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"`{name}` must be finite and > 0, got {value!r}.")
    return v


def check_nonnegative(value, name):
    """``value`` as a finite float >= 0.

    Example
    -------
    >>> from signals.checks import check_nonnegative
    >>> check_nonnegative(0, "var"), check_nonnegative(0.5, "var")
    (0.0, 0.5)
    """
    if not isinstance(value, bool) and isinstance(
            value, (int, float, np.integer, np.floating)) and value == 0:
        return 0.0
    return check_positive(value, name)
