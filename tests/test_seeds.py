"""The seed conversions of ``signals.seeds``: range, reproducibility, the
bit layout each stateless form promises, and the errors on bad seeds."""

import numpy as np
import pytest
import tensorflow as tf

from signals.seeds import check_seed, hash_seed, seed_words, stateless_seed


def test_hash_seed_reproducible_in_range_and_spread():
    seeds = [0, 1, 2, -1, 2 ** 40, np.int64(7), 2 ** 70 + 3]
    values = [hash_seed(s) for s in seeds]
    assert values == [hash_seed(s) for s in seeds]
    assert all(isinstance(v, int) and 0 <= v < 2 ** 31 for v in values)
    # Hashed, not offset: neighbours land far apart.
    assert len(set(values)) == len(values)
    assert abs(values[1] - values[0]) > 1000
    # An int and the numpy int of the same value are the same seed.
    assert hash_seed(np.int32(5)) == hash_seed(5)
    # None draws from the OS: two draws of 31 bits collide with
    # probability 2**-31.
    assert hash_seed(None) != hash_seed(None)


@pytest.mark.parametrize("bad", [True, np.bool_(False), 1.0, "3", [1, 2]])
def test_hash_seed_rejects_non_ints(bad):
    with pytest.raises(TypeError, match="seed"):
        hash_seed(bad)


def test_stateless_seed_layout():
    for seed in (0, 5, 2 ** 31 - 1, 2 ** 31, 2 ** 62 - 1, 123456789012345):
        lo, hi = stateless_seed(seed).numpy().tolist()
        assert 0 <= lo < 2 ** 31 and 0 <= hi < 2 ** 31
        assert lo + (hi << 31) == seed
    # Bits above 62 are dropped.
    np.testing.assert_array_equal(stateless_seed(2 ** 62 + 9).numpy(),
                                  stateless_seed(9).numpy())
    pair = stateless_seed(np.array([3, -4], np.int64))
    assert pair.dtype == tf.int32 and pair.numpy().tolist() == [3, -4]
    assert stateless_seed(None).shape == [2]


def test_stateless_seed_symbolic():
    @tf.function
    def f(seed):
        return stateless_seed(seed)

    np.testing.assert_array_equal(f(tf.constant([1, 2], tf.int64)).numpy(),
                                  [1, 2])


@pytest.mark.parametrize("bad, exc", [
    (True, TypeError), ("x", ValueError), (np.zeros(3, int), ValueError),
    (np.zeros(2), ValueError), (np.zeros((2, 2), int), ValueError),
])
def test_stateless_seed_rejects(bad, exc):
    with pytest.raises(exc, match="seed"):
        stateless_seed(bad)


def test_check_seed_and_seed_words():
    assert check_seed(np.uint32(7)) == 7 and check_seed(None,
                                                       allow_none=True) is None
    for bad, exc in ((-1, ValueError), (2 ** 63, ValueError),
                     (True, TypeError), (1.5, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="point_seed"):
            check_seed(bad, "point_seed")
    for seed in (0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1):
        words = seed_words(seed)
        hi, lo = words.numpy().tolist()
        assert words.dtype == tf.int64 and (hi << 32) | lo == seed
    with pytest.raises(ValueError, match="seed"):
        seed_words(-3)
