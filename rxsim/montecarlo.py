"""Monte Carlo engine: simulate one sweep point until enough errors.

A point is one (detector, channel, CSI case, SNR). :func:`simulate_point`
runs batches of frames through an :class:`rxsim.Link` until ``target_errors``
symbol errors or ``max_symbols`` symbols, and returns a :class:`PointResult`
with symbol and bit error counts, rates and confidence intervals.

Randomness: one stream per point. :func:`point_seed` turns the sweep seed and
the point's key into a 62-bit integer; batch ``b`` of the point uses the
stateless seed ``stateless_fold_in(base, b)``, ``base`` derived from that
integer. Nothing is re-seeded between calls, so no two batches of a point
share symbols or noise, and the same seed gives bit-identical counts.

Bit-identical means: same seed, same ``xla`` flag, same device type and
TensorFlow version. XLA implements the stateless random ops with its own
generator, so ``xla=True`` and ``xla=False`` draw different (equally valid)
samples from the same seed; a sweep config should fix ``xla``.

Coded points (:class:`rxsim.coded.CodedLink`): each frame is one LDPC
codeword. ``errors / symbols / ser`` still count the detector's *uncoded*
symbol decisions, ``bit_errors / bits / ber`` count *information bits
after decoding*, and ``block_errors / blocks / bler`` count codewords with
at least one wrong information bit. The stopping counter is then block
errors (``target_errors`` block errors), since a codeword error brings
several correlated bit errors; ``max_symbols`` still counts channel
symbols (``blocks * T``). The BER intervals assume independent bits and
are therefore too narrow for coded points (bit errors come in blocks); the
BLER intervals are exact (blocks are independent).
"""

import hashlib
import json
import math
import numbers
import time
import weakref
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

from .stats import (clopper_pearson_interval, design_effect,
                    effective_interval, wilson_interval)

__all__ = ["point_seed", "batch_seed", "PointResult", "simulate_point"]

_SEED_BITS = 62
_SEED_DOMAIN = b"rxsim/point-seed/v1\x00"
# Key parts that are floats are compared at this resolution, the same one the
# results store uses for snr_db, so `3`, `3.0` and `3.0000000000001` name the
# same point everywhere.
_FLOAT_DECIMALS = 9


def _canonical_part(part, where):
    """A JSON-encodable canonical form of one key part."""
    if part is None or isinstance(part, (bool, np.bool_)):
        return None if part is None else bool(part)
    if isinstance(part, str):
        return part
    if isinstance(part, numbers.Integral):
        return int(part)
    if isinstance(part, numbers.Real):
        x = float(part)
        if not math.isfinite(x):
            raise ValueError(f"{where} must be finite, got {part!r}.")
        x = round(x, _FLOAT_DECIMALS) + 0.0      # + 0.0 folds -0.0 into 0.0
        # Integral floats are written as integers: snr 3 and 3.0 agree.
        return int(x) if x.is_integer() else x
    raise TypeError(f"{where} must be str, int, float, bool or None, got "
                    f"{type(part).__name__}.")


def point_seed(sweep_seed: int, *key_parts) -> int:
    """Deterministic 62-bit seed of one sweep point.

    SHA-256 over a canonical JSON string of ``[sweep_seed, *key_parts]``
    (never Python's salted ``hash``), so the seed is the same on every
    machine, process and Python version.

    Parameters
    ----------
    sweep_seed : int
        The sweep's seed.
    *key_parts : str | int | float | bool | None
        The point's key, e.g. ``(experiment, detector, channel, csi,
        snr_db)``. Floats are rounded to 1e-9 and integral floats equal
        the integers (``3.0`` and ``3`` give the same seed); strings and
        numbers never collide (``"3"`` differs from ``3``).

    Output
    ------
    : int in ``[0, 2**62)``
    """
    if isinstance(sweep_seed, (bool, np.bool_)) or not isinstance(
            sweep_seed, numbers.Integral):
        raise TypeError("`sweep_seed` must be an int, got "
                        f"{type(sweep_seed).__name__}.")
    parts = [int(sweep_seed)] + [
        _canonical_part(p, f"key part {i}") for i, p in enumerate(key_parts)]
    text = json.dumps(parts, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)
    digest = hashlib.sha256(_SEED_DOMAIN + text.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


def _base_seed(seed):
    """The [2] int64 base of a point's stream from a non-negative int."""
    return tf.constant([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF],
                       dtype=tf.int64)


def batch_seed(seed: int, batch: int):
    """Stateless seed ``[2]`` (int64) of batch ``batch`` of a point.

    Exposed so that tests and tools can regenerate any batch exactly.
    """
    return tf.random.experimental.stateless_fold_in(
        _base_seed(_check_seed(seed)), tf.constant(batch, tf.int64))


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(
            seed, numbers.Integral):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}.")
    seed = int(seed)
    if not 0 <= seed < 2 ** 63:
        raise ValueError(f"`seed` must be in [0, 2**63), got {seed}.")
    return seed


@dataclass(frozen=True)
class PointResult:
    """Outcome of one simulated point.

    Parameters
    ----------
    errors, symbols : int
        Symbol errors and simulated symbols.
    bit_errors, bits : int or None
        Bit errors ``popcount(s xor s_hat)`` (Sionna labels a symbol index
        with its binary representation) and simulated bits; ``None`` when
        the transmitter has no bit labels.
    ser, ber : float (ber None without bit labels)
    ser_ci_wilson, ser_ci_cp : (float, float)
        Wilson and Clopper-Pearson intervals of the SER.
    ber_ci_wilson, ber_ci_cp : (float, float) or None
    confidence : float
        Level of all four intervals.
    batches : int
    wall_time : float
        Seconds, including tracing/compilation when the link is new.
    seed : int
        The point's seed (see :func:`point_seed`).
    stop_reason : "target_errors" | "max_symbols"

    The SER intervals count frames, not symbols, as the independent
    units: they are binomial intervals on the counts divided by
    ``ser_deff``, because ISI detectors make errors in bursts. BER
    intervals still treat bits as independent.
    block_errors, blocks : int or None
        Coded points only (else ``None``): codewords with at least one
        wrong information bit after decoding, and simulated codewords. For
        coded points ``bit_errors / bits / ber`` count information bits
        after decoding, while ``errors / symbols / ser`` remain the
        detector's uncoded symbol decisions.
    bler : float or None
    bler_ci_wilson, bler_ci_cp : (float, float) or None
    ser_deff : float or None
        Design effect of the symbol errors (>= 1; see
        :func:`rxsim.stats.design_effect`), measured from the per-frame
        error counts; ``ser_ci_wilson`` / ``ser_ci_cp`` already use it
        (``None`` in results of older code).
    """

    errors: int
    symbols: int
    bit_errors: Optional[int]
    bits: Optional[int]
    ser: float
    ber: Optional[float]
    ser_ci_wilson: Tuple[float, float]
    ser_ci_cp: Tuple[float, float]
    ber_ci_wilson: Optional[Tuple[float, float]]
    ber_ci_cp: Optional[Tuple[float, float]]
    confidence: float
    batches: int
    wall_time: float
    seed: int
    stop_reason: str
    block_errors: Optional[int] = None
    blocks: Optional[int] = None
    bler: Optional[float] = None
    bler_ci_wilson: Optional[Tuple[float, float]] = None
    bler_ci_cp: Optional[Tuple[float, float]] = None
    ser_deff: Optional[float] = None

    def to_dict(self):
        """Plain ``dict`` of the fields (intervals as 2-tuples)."""
        return asdict(self)


# Compiled per-batch functions: {link: {xla: tf.function}} (the function
# retraces once per batch size, which is a static shape).
# Weak keys so a dropped link frees its graphs; the functions reach the link
# through a weak reference so the value does not keep the key alive.
_COMPILED = weakref.WeakKeyDictionary()


def _frame_counts(s, s_hat):
    """Symbol errors of a batch and the sum over frames of the squared
    per-frame errors (for :func:`rxsim.stats.design_effect`)."""
    per_frame = tf.reduce_sum(tf.cast(tf.not_equal(s, s_hat), tf.int64),
                              axis=-1)
    return tf.reduce_sum(per_frame), tf.reduce_sum(per_frame * per_frame)


def _count_fn(link, xla):
    per_link = _COMPILED.setdefault(link, {})
    fn = per_link.get(bool(xla))
    if fn is not None:
        return fn
    link_ref = weakref.ref(link)
    bits_per_symbol = _bits_per_symbol(link)

    def run_batch(batch_size, no, base, batch):
        # batch_size is a Python int (static shape: one trace per size);
        # no, base and batch are tensors, so new SNRs/seeds/batches reuse
        # the compiled graph.
        seed = tf.random.experimental.stateless_fold_in(base, batch)
        s, s_hat = link_ref()(batch_size, no, seed)[:2]
        s = tf.cast(s, tf.int32)
        s_hat = tf.cast(s_hat, tf.int32)
        errors, sum_sq = _frame_counts(s, s_hat)
        if bits_per_symbol is None:
            return errors, tf.zeros([], tf.int64), sum_sq
        if bits_per_symbol == 1:
            return errors, errors, sum_sq   # one bit per symbol: same count
        diff = tf.bitwise.bitwise_xor(s, s_hat)
        bit_errors = tf.reduce_sum(
            tf.cast(tf.raw_ops.PopulationCount(x=diff), tf.int64))
        return errors, bit_errors, sum_sq

    fn = tf.function(run_batch, jit_compile=bool(xla))
    per_link[bool(xla)] = fn
    return fn


# Coded links: the front end (source, encoder, channel, detector) is
# compiled per link, the decoder once per code and ``xla`` flag, keyed by
# the (shared) decoder block, so the seconds its compilation costs are
# spent once per process, not once per learned detector's link.
_DECODERS = weakref.WeakKeyDictionary()


def _coded_fns(link, xla):
    per_link = _COMPILED.setdefault(link, {})
    front = per_link.get(("coded", bool(xla)))
    if front is None:
        link_ref = weakref.ref(link)

        def run_front(batch_size, no, base, batch):
            seed = tf.random.experimental.stateless_fold_in(base, batch)
            b, llr, s, s_hat = link_ref().transmit(batch_size, no, seed)
            errors, sum_sq = _frame_counts(s, s_hat)
            return b, llr, errors, sum_sq

        front = tf.function(run_front, jit_compile=bool(xla))
        per_link[("coded", bool(xla))] = front
    per_code = _DECODERS.setdefault(link.decoder, {})
    back = per_code.get(bool(xla))
    if back is None:
        # the code's shared decoder graph (held by rxsim.coded for the
        # life of the process anyway)
        decoder_graph = link.decoder_graph

        def run_back(b, llr):
            b_hat = tf.cast(decoder_graph(llr), b.dtype)
            wrong = tf.not_equal(b, b_hat)
            bit_errors = tf.reduce_sum(tf.cast(wrong, tf.int64))
            block_errors = tf.reduce_sum(
                tf.cast(tf.reduce_any(wrong, axis=-1), tf.int64))
            return bit_errors, block_errors

        # One trace for every batch size (XLA still compiles per shape).
        dec = link.decoder
        spec = [tf.TensorSpec([None, link.k], link.rdtype),
                tf.TensorSpec([None, link.n], dec.rdtype)]
        back = tf.function(run_back, jit_compile=bool(xla),
                           input_signature=spec)
        per_code[bool(xla)] = back
    return front, back


def _is_coded(link):
    from .coded import CodedLink
    return isinstance(link, CodedLink)


def _bits_per_symbol(link):
    tx = getattr(link, "transmitter", None)
    k = getattr(tx, "bits_per_symbol", None)
    return None if k is None else int(k)


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got "
                        f"{type(value).__name__}.")
    if int(value) < 1:
        raise ValueError(f"`{name}` must be >= 1, got {value}.")
    return int(value)


def _noise_tensor(no, link):
    dtype = getattr(link, "rdtype", tf.float32)
    arr = np.asarray(no, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"`no` must be a scalar or [batch], got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"`no` (noise variance) must be finite and >= 0, "
                         f"got {no!r}.")
    return tf.constant(arr, dtype=dtype)


def simulate_point(link, no, *, batch_size, target_errors, max_symbols,
                   seed, xla=True, confidence=0.95,
                   progress: Optional[Callable[[int, int], None]] = None
                   ) -> PointResult:
    """Simulate one point until enough symbol errors or symbols.

    After each batch: stop when ``errors >= target_errors`` (reason
    ``"target_errors"``; *block* errors for a coded link, see below) or
    else when ``symbols >= max_symbols``
    (``"max_symbols"``). Whole batches are simulated, so the last one may
    overshoot ``max_symbols`` by less than ``batch_size * T`` symbols (and
    ``target_errors`` by the errors of one batch); the counts and intervals
    describe exactly what was simulated.

    The link is compiled once (``tf.function``, XLA if ``xla``) and cached
    per link, batch size and ``xla``; SNR and seed enter as tensors so a
    sweep over SNRs does not retrace. Errors are counted inside the
    compiled function; only two scalars per batch leave it.

    A :class:`rxsim.coded.CodedLink` (one codeword per frame) gives a coded
    point: ``target_errors`` counts block (codeword) errors,
    ``bit_errors / bits / ber`` count information bits after decoding,
    ``block_errors / blocks / bler`` and their intervals are filled, and
    ``errors / symbols / ser`` remain the detector's uncoded symbol
    decisions. Its front end and decoder are compiled apart (the decoder
    once per code), and ``progress`` receives block errors.

    Parameters
    ----------
    link : rxsim.Link or rxsim.coded.CodedLink
        Called as ``link(batch_size, no, seed)`` -> ``(s, s_hat, ...)``;
        ``link.num_symbols`` is T and ``link.transmitter.bits_per_symbol``
        the bits per symbol.
    no : float or [batch_size] array
        Noise variance (see the link's channel).
    batch_size : int
        Frames per batch.
    target_errors : int
        Symbol errors to collect (block errors for a coded link).
    max_symbols : int
        Symbol budget of the point.
    seed : int
        The point's seed, in ``[0, 2**63)`` (see :func:`point_seed`).
    xla : bool
        Compile with XLA (``jit_compile=True``).
    confidence : float
        Level of the Wilson and Clopper-Pearson intervals.
    progress : None or callable
        Called as ``progress(errors, symbols)`` (cumulative ints) after each
        batch (``errors``: block errors for a coded link); the engine
        itself never prints.

    Output
    ------
    : :class:`PointResult`
    """
    batch_size = _positive_int(batch_size, "batch_size")
    target_errors = _positive_int(target_errors, "target_errors")
    max_symbols = _positive_int(max_symbols, "max_symbols")
    seed = _check_seed(seed)
    # Validate confidence now, not after a long simulation.
    wilson_interval(0, 1, confidence)
    if progress is not None and not callable(progress):
        raise TypeError("`progress` must be callable or None.")
    if not hasattr(link, "num_symbols") or not callable(link):
        raise TypeError("`link` must be an rxsim.Link (callable with a "
                        "`num_symbols` attribute), got "
                        f"{type(link).__name__}.")
    num_symbols = _positive_int(link.num_symbols, "link.num_symbols")
    bits_per_symbol = _bits_per_symbol(link)
    no_t = _noise_tensor(no, link)
    if no_t.shape.rank == 1 and no_t.shape[0] not in (1, batch_size):
        raise ValueError(f"`no` has {no_t.shape[0]} entries but "
                         f"batch_size is {batch_size}.")

    if _is_coded(link):
        return _simulate_coded(link, no_t, batch_size, target_errors,
                               max_symbols, seed, xla, confidence, progress)
    fn = _count_fn(link, xla)
    base = _base_seed(seed)

    def step(batch):
        e, be, sq = fn(batch_size, no_t, base, tf.constant(batch, tf.int64))
        return {"errors": int(e), "bit_errors": int(be), "sum_sq": int(sq)}

    n, batches, stop_reason, wall_time = _run_batches(
        step, "errors", batch_size * num_symbols, target_errors,
        max_symbols, progress)
    errors, bit_errors, sum_sq = n["errors"], n["bit_errors"], n["sum_sq"]
    symbols = batches * batch_size * num_symbols

    if bits_per_symbol is None:
        bits = bit_errors = ber = ber_w = ber_cp = None
    else:
        bits = symbols * bits_per_symbol
        ber = bit_errors / bits
        ber_w = wilson_interval(bit_errors, bits, confidence)
        ber_cp = clopper_pearson_interval(bit_errors, bits, confidence)
    return PointResult(
        **_ser_fields(errors, sum_sq, batches * batch_size, num_symbols,
                      confidence),
        bit_errors=bit_errors, bits=bits, ber=ber,
        ber_ci_wilson=ber_w, ber_ci_cp=ber_cp,
        confidence=float(confidence), batches=batches, wall_time=wall_time,
        seed=seed, stop_reason=stop_reason)


def _run_batches(step, stop_key, per_batch, target_errors, max_symbols,
                 progress):
    """The stopping rule shared by uncoded and coded points: run
    ``step(batch) -> {name: count}`` for batches 0, 1, ... until the
    summed ``stop_key`` count reaches ``target_errors``, else until
    ``max_symbols`` symbols (``per_batch`` per batch).

    Output
    ------
    : (dict of summed counts, batches, stop reason, wall time in s)
    """
    start = time.perf_counter()
    totals, batches = {}, 0
    while True:
        for name, count in step(batches).items():
            totals[name] = totals.get(name, 0) + count
        batches += 1
        if progress is not None:
            progress(totals[stop_key], batches * per_batch)
        if totals[stop_key] >= target_errors:
            stop_reason = "target_errors"
            break
        if batches * per_batch >= max_symbols:
            stop_reason = "max_symbols"
            break
    return totals, batches, stop_reason, time.perf_counter() - start


def _ser_fields(errors, sum_sq, frames, num_symbols, confidence):
    """The SER fields of a :class:`PointResult`: counts, rate, design
    effect and the frame-based intervals."""
    symbols = frames * num_symbols
    deff = design_effect(errors, sum_sq, frames, num_symbols)
    return dict(
        errors=errors, symbols=symbols, ser=errors / symbols, ser_deff=deff,
        ser_ci_wilson=effective_interval(errors, symbols, deff, confidence),
        ser_ci_cp=effective_interval(errors, symbols, deff, confidence,
                                     method="cp"))


def _simulate_coded(link, no_t, batch_size, target_errors, max_symbols,
                    seed, xla, confidence, progress):
    """:func:`simulate_point` for a :class:`rxsim.coded.CodedLink`."""
    front, back = _coded_fns(link, xla)
    base = _base_seed(seed)

    def step(batch):
        b, llr, e, sq = front(batch_size, no_t, base,
                              tf.constant(batch, tf.int64))
        be, ble = back(b, tf.cast(llr, link.decoder.rdtype))
        return {"errors": int(e), "sum_sq": int(sq), "bit_errors": int(be),
                "block_errors": int(ble)}

    n, batches, stop_reason, wall_time = _run_batches(
        step, "block_errors", batch_size * link.num_symbols, target_errors,
        max_symbols, progress)
    errors, sum_sq = n["errors"], n["sum_sq"]
    bit_errors, block_errors = n["bit_errors"], n["block_errors"]
    blocks = batches * batch_size
    bits = blocks * link.k
    return PointResult(
        **_ser_fields(errors, sum_sq, blocks, link.num_symbols, confidence),
        bit_errors=bit_errors, bits=bits, ber=bit_errors / bits,
        ber_ci_wilson=wilson_interval(bit_errors, bits, confidence),
        ber_ci_cp=clopper_pearson_interval(bit_errors, bits, confidence),
        confidence=float(confidence), batches=batches, wall_time=wall_time,
        seed=seed, stop_reason=stop_reason,
        block_errors=block_errors,
        blocks=blocks, bler=block_errors / blocks,
        bler_ci_wilson=wilson_interval(block_errors, blocks, confidence),
        bler_ci_cp=clopper_pearson_interval(block_errors, blocks,
                                            confidence))
