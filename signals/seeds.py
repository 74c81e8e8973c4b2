r"""Seeds: what a valid seed is, and the forms random draws take it in.

Every random draw of the simulator is reproducible from a seed. Users hand
over plain ints (any size, e.g. a sweep point's 62-bit key); TensorFlow's
stateless ops take an integer ``[2]`` tensor, and numpy's generators and
Keras's initialisers a non-negative int. These are the only conversions
between the two, so that a seed means the same draws wherever it enters.

- :func:`check_seed`: a non-negative int below ``2**63`` (or None).
- :func:`hash_seed`: any int (or None) hashed to an int in ``[0, 2**31)``,
  e.g. the seed of one training run.
- :func:`stateless_seed`: None, an int or a ``[2]`` seed as an ``int32``
  ``[2]`` tensor (an int is split into two 31-bit halves).
- :func:`seed_words`: a 63-bit int as an ``int64`` ``[2]`` tensor of its
  high and low 32-bit words.

None means "draw one from the operating system" wherever it is accepted
and not kept as None.

Example
-------
>>> from signals.seeds import hash_seed, stateless_seed
>>> hash_seed(0) == hash_seed(0) and 0 <= hash_seed(0) < 2**31
True
>>> stateless_seed(2**31 + 5).numpy().tolist()
[5, 1]
"""

import numbers

import numpy as np
import tensorflow as tf

__all__ = ["check_seed", "hash_seed", "stateless_seed", "seed_words",
           "is_int"]


def is_int(value):
    """True for a Python or numpy integer that is not a bool."""
    return isinstance(value, numbers.Integral) and \
        not isinstance(value, (bool, np.bool_))


def check_seed(seed, name="seed", *, allow_none=False):
    """``seed`` as an int in ``[0, 2**63)``.

    Parameters
    ----------
    seed : int or None
    name : str
        Argument name for error messages.
    allow_none : bool
        Return None for None instead of raising.

    Output
    ------
    : int or None

    Raises
    ------
    TypeError
        Not an int (bools are not seeds).
    ValueError
        Negative or ``>= 2**63``.
    """
    if seed is None and allow_none:
        return None
    if not is_int(seed):
        raise TypeError(f"`{name}` must be an int, got "
                        f"{type(seed).__name__}.")
    seed = int(seed)
    if not 0 <= seed < 2 ** 63:
        raise ValueError(f"`{name}` must be in [0, 2**63), got {seed}.")
    return seed


def hash_seed(seed, name="seed"):
    """A user seed (None or any int) -> an int in ``[0, 2**31)``.

    Nearby seeds give unrelated results (numpy's ``SeedSequence`` hashes
    the low 63 bits); None draws one from the operating system.

    Parameters
    ----------
    seed : None or int
    name : str
        Argument name for error messages.

    Output
    ------
    : int
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if not is_int(seed):
        raise TypeError(f"`{name}` must be None or an int, got {seed!r}.")
    return int(np.random.SeedSequence(int(seed) & (2 ** 63 - 1))
               .generate_state(1)[0] >> 1)


def stateless_seed(seed, name="seed"):
    """A seed as an ``int32`` ``[2]`` tensor for ``tf.random.stateless_*``.

    Parameters
    ----------
    seed : None | int | [2] int array_like or tensor
        An int (any size) keeps its low 62 bits, split into two 31-bit
        halves ``[low, high]``; a ``[2]`` seed is cast to ``int32`` (it may
        be symbolic, inside a ``tf.function``); None draws one from the
        operating system.
    name : str
        Argument name for error messages.

    Output
    ------
    : [2], tf.int32
    """
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be None, an int or an int [2], got "
                        f"{seed!r}.")
    if is_int(seed):
        seed = int(seed) & (2 ** 62 - 1)
        return tf.constant([seed & 0x7FFFFFFF, seed >> 31], tf.int32)
    try:
        seed = tf.convert_to_tensor(seed)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be None, an int or an int [2], got "
                        f"{seed!r}.") from None
    if not seed.dtype.is_integer or seed.shape.rank != 1 or \
            seed.shape[0] != 2:
        shape = seed.shape.as_list() if seed.shape.rank is not None \
            else "of unknown shape"
        raise ValueError(f"`{name}` must be None, an int or an integer [2] "
                         f"seed, got {seed.dtype.name} {shape}.")
    return tf.cast(seed, tf.int32)


def seed_words(seed, name="seed"):
    """A seed in ``[0, 2**63)`` as the ``int64`` ``[2]`` stateless seed
    ``[high 32 bits, low 32 bits]`` (checked by :func:`check_seed`)."""
    seed = check_seed(seed, name)
    return tf.constant([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF],
                       dtype=tf.int64)
