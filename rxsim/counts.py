"""What a link counts in one batch: the protocol between links and the engine.

The Monte Carlo engine (:func:`rxsim.simulate_point`) knows nothing about
the kind of link it runs. It calls ``link.count(batch_size, no, seed)``
(compiled once per link), adds the counts of the batches up and stops when
the counter the link names in ``link.stop_on`` reaches ``target_errors``
or the ``"symbols"`` counter reaches ``max_symbols``. A new kind of link
(MIMO, turbo) implements ``count`` and leaves the engine alone.

``count`` returns a ``dict`` of scalar ``tf.int64`` tensors named from
:data:`COUNTERS`:

- ``frames``, ``symbols``, ``errors``, ``sum_sq`` (always): frames and
  channel symbols simulated, the detector's symbol errors and the sum over
  frames of the squared per-frame symbol errors (the design effect of the
  SER intervals needs it).
- ``bits``, ``bit_errors`` (when the link has bit labels): raw bits of the
  symbol decisions, or information bits after decoding for a coded link.
- ``blocks``, ``block_errors`` (coded links): codewords and codewords with
  at least one wrong information bit.

Per-frame counts (optional, ``[frames]`` ``tf.int64`` vectors, in frame
order) are named from :data:`PER_FRAME`: ``frame_errors`` (symbol errors of
each frame), ``frame_bit_errors`` and ``frame_block_errors``. The engine
keeps them in :attr:`rxsim.montecarlo.PointResult.frame_counts`, where
paired comparisons between detectors of one point find them
(:mod:`rxsim.paired`).

A link whose count has an expensive tail that many links share (the LDPC
decoder of a code) may also offer ``link.count_stages()`` ->
:class:`CountStages`: the engine then compiles the front once per link
and the tail once per ``tail_owner``.

A link may also split its count where the links of one point share work:
``link.draw(batch_size, no, seed) -> drawn`` (transmitter and channel),
``link.count_drawn(drawn, no)`` (its receiver: the counts, or ``(counts,
carry)`` for a staged link) and ``link.draw_key()`` (hashable: links with
equal keys draw the same batches from the same seed; ``None``: do not
share). :func:`rxsim.montecarlo.simulate_points` then draws each batch
once for the links with equal keys.
"""

from typing import Any, Callable, NamedTuple, Sequence

import tensorflow as tf

__all__ = ["COUNTERS", "REQUIRED", "PER_FRAME", "CountStages",
           "symbol_counts"]

#: Every counter a link may return, in the order the engine reports them.
COUNTERS = ("frames", "symbols", "errors", "sum_sq", "bits", "bit_errors",
            "blocks", "block_errors")
#: Counters every link returns.
REQUIRED = ("frames", "symbols", "errors", "sum_sq")
#: Per-frame vectors a link may return, and the counter each one splits.
PER_FRAME = {"frame_errors": "errors", "frame_bit_errors": "bit_errors",
             "frame_block_errors": "block_errors"}


class CountStages(NamedTuple):
    """A link's count split where the engine should compile it apart.

    ``front(batch_size, no, seed) -> (counts, carry)`` is compiled per
    link; ``tail(*carry) -> counts`` once per ``tail_owner`` (an object
    that lives as long as the tail is useful, e.g. the shared decoder),
    traced once for every batch size with ``tail_signature``. The counts
    of both stages are merged.
    """
    front: Callable
    tail: Callable
    tail_owner: Any
    tail_signature: Sequence[tf.TensorSpec]


def symbol_counts(s, s_hat, bits_per_symbol=None):
    """Counts of one batch of symbol decisions (see the module notes).

    Input
    -----
    s, s_hat : [batch, T], tf.int
        Transmitted and detected symbol indices.
    bits_per_symbol : None or int
        With an int, ``bits`` and ``bit_errors`` are counted too
        (``popcount(s xor s_hat)``: Sionna labels a symbol index with its
        binary representation).

    Output
    ------
    : dict of tf.int64 tensors: scalars ``frames``, ``symbols``,
      ``errors``, ``sum_sq`` and, with ``bits_per_symbol``, ``bits``,
      ``bit_errors``; vectors ``[batch]`` ``frame_errors`` (and
      ``frame_bit_errors`` with ``bits_per_symbol``)

    Example
    -------
    >>> import tensorflow as tf
    >>> from rxsim.counts import symbol_counts
    >>> c = symbol_counts(tf.constant([[0, 1, 2], [3, 3, 3]]),
    ...                   tf.constant([[0, 1, 1], [0, 3, 3]]), 2)
    >>> {k: v.numpy().tolist() for k, v in c.items()}
    {'frames': 2, 'symbols': 6, 'errors': 2, 'sum_sq': 2, 'frame_errors': [1, 1], 'bits': 12, 'bit_errors': 4, 'frame_bit_errors': [2, 2]}
    """
    s = tf.cast(s, tf.int32)
    s_hat = tf.cast(s_hat, tf.int32)
    per_frame = tf.reduce_sum(tf.cast(tf.not_equal(s, s_hat), tf.int64),
                              axis=-1)
    errors = tf.reduce_sum(per_frame)
    shape = tf.shape(s, out_type=tf.int64)
    counts = {"frames": shape[0], "symbols": shape[0] * shape[1],
              "errors": errors,
              "sum_sq": tf.reduce_sum(per_frame * per_frame),
              "frame_errors": per_frame}
    if bits_per_symbol is None:
        return counts
    bits_per_symbol = int(bits_per_symbol)
    counts["bits"] = counts["symbols"] * bits_per_symbol
    if bits_per_symbol == 1:
        bit_errors = per_frame             # one bit per symbol: same count
    else:
        diff = tf.bitwise.bitwise_xor(s, s_hat)
        bit_errors = tf.reduce_sum(
            tf.cast(tf.raw_ops.PopulationCount(x=diff), tf.int64), axis=-1)
    counts["bit_errors"] = tf.reduce_sum(bit_errors)
    counts["frame_bit_errors"] = bit_errors
    return counts
