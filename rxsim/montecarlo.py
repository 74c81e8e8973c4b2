"""Monte Carlo engine: simulate sweep points until enough errors.

A point is one (detector, channel, CSI case, SNR). :func:`simulate_point`
runs batches of frames through a link (:class:`rxsim.Link`,
:class:`rxsim.coded.CodedLink` or any link of the protocol of
:mod:`rxsim.counts`) until ``target_errors`` errors or ``max_symbols``
symbols, and returns a :class:`PointResult` with symbol, bit and block
error counts, rates and confidence intervals. :func:`simulate_points`
runs the links of one (channel, SNR) together, drawing each batch once
for the links that draw alike (common random numbers), each until its own
stopping rule. The engine does not know the kinds of link: it adds up the
counts the link returns and stops on the counter ``link.stop_on`` names.

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

from detectors.compiled import compiled_for
from signals.checks import check_int
from signals.seeds import check_seed, is_int, seed_words

from .counts import COUNTERS, PER_FRAME, REQUIRED
from .stats import (clopper_pearson_interval, design_effect,
                    effective_interval, wilson_interval)

__all__ = ["point_seed", "batch_seed", "PointResult", "simulate_point",
           "simulate_points"]

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
    if not is_int(sweep_seed):
        raise TypeError("`sweep_seed` must be an int, got "
                        f"{type(sweep_seed).__name__}.")
    parts = [int(sweep_seed)] + [
        _canonical_part(p, f"key part {i}") for i, p in enumerate(key_parts)]
    text = json.dumps(parts, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)
    digest = hashlib.sha256(_SEED_DOMAIN + text.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


def batch_seed(seed: int, batch: int):
    """Stateless seed ``[2]`` (int64) of batch ``batch`` of a point.

    Exposed so that tests and tools can regenerate any batch exactly.
    """
    return tf.random.experimental.stateless_fold_in(
        seed_words(seed), tf.constant(batch, tf.int64))


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
    frame_counts : None or dict of str -> tuple of int
        Per-frame counts in simulation order (frame ``f`` of batch ``b``
        is entry ``b * batch_size + f``): ``"errors"`` (symbol errors,
        always), ``"bit_errors"`` (when bits are counted) and
        ``"block_errors"`` (coded links). Under common random numbers
        entry ``i`` of two detectors of one point is the same frame, which
        is what paired comparisons (:mod:`rxsim.paired`) use. ``None`` in
        results that did not record them.
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
    frame_counts: Optional[dict] = None

    def to_dict(self):
        """Plain ``dict`` of the fields (intervals as 2-tuples)."""
        return asdict(self)

    @classmethod
    def from_counts(cls, counts, *, confidence=0.95, batches=1,
                    wall_time=0.0, seed=0, stop_reason="max_symbols",
                    frame_counts=None):
        """The result of summed counts (:mod:`rxsim.counts`): rates, the
        SER's design effect and frame-based intervals, binomial BER and
        BLER intervals; fields of counters that are absent are ``None``.

        Parameters
        ----------
        counts : dict of int
            ``frames``, ``symbols``, ``errors``, ``sum_sq`` and optionally
            ``bits`` / ``bit_errors``, ``blocks`` / ``block_errors``;
            per-frame vectors (``frame_errors``, ... of
            :data:`rxsim.counts.PER_FRAME`) become ``frame_counts``.
        confidence, batches, wall_time, seed, stop_reason, frame_counts
            As the fields of the same names.

        Example
        -------
        Two frames of 4 symbols, all four errors in the first (a burst):

        >>> r = PointResult.from_counts(dict(frames=2, symbols=8, errors=4,
        ...                                  sum_sq=16, bits=8, bit_errors=4))
        >>> r.ser, r.ser_deff, r.ber, r.bler
        (0.5, 8.0, 0.5, None)
        """
        per_frame = {PER_FRAME[name]: tuple(int(v) for v in np.ravel(value))
                     for name, value in counts.items() if name in PER_FRAME}
        if frame_counts is None and per_frame:
            frame_counts = per_frame
        n = {name: int(value) for name, value in counts.items()
             if name not in PER_FRAME}
        missing = [c for c in REQUIRED if c not in n]
        if missing:
            raise ValueError(f"`counts` lacks {missing}.")
        return cls(
            **_ser_fields(n["errors"], n["sum_sq"], n["frames"],
                          n["symbols"] // n["frames"], confidence),
            **_rate_fields("ber", n.get("bit_errors"), n.get("bits"),
                           confidence),
            **_rate_fields("bler", n.get("block_errors"), n.get("blocks"),
                           confidence),
            bit_errors=n.get("bit_errors"), bits=n.get("bits"),
            block_errors=n.get("block_errors"), blocks=n.get("blocks"),
            confidence=float(confidence), batches=int(batches),
            wall_time=float(wall_time), seed=int(seed),
            stop_reason=stop_reason, frame_counts=frame_counts)


def _compiled_counter(link, xla):
    """``step(batch_size, no, base, batch) -> {counter: int}``: the link's
    count of batch ``batch`` compiled (``tf.function``, XLA if ``xla``) once
    per link, its :class:`rxsim.counts.CountStages` tail once per tail
    owner. Compiled functions retrace once per batch size (a static
    shape); SNR, seed and batch index are tensors. They reach the link
    through a weak reference, so the cache does not keep links alive.
    For links without :meth:`draw` (the protocol's minimum); a link whose
    ``compiled_receiver`` is False gets its draw compiled and its receiver
    run eagerly (:func:`_compiled_receiver`)."""
    stages = link.count_stages() if hasattr(link, "count_stages") else None
    if not getattr(link, "compiled_receiver", True):
        receive = _compiled_receiver(link, xla)
        draw = _compiled_draw(link, xla)
        return lambda batch_size, no, base, batch: receive(
            no, draw(batch_size, no, base, batch))
    front = _compiled_batch(
        link, "count", xla,
        (lambda lk: lk.count) if stages is None
        else (lambda lk: lk.count_stages().front))
    return _with_tail(front, stages, xla)


def _compiled_draw(link, xla):
    """``draw(batch_size, no, base, batch)``: the link's :meth:`draw` of
    batch ``batch`` compiled once per link (as :func:`_compiled_counter`)."""
    return _compiled_batch(link, "draw", xla, lambda lk: lk.draw)


def _compiled_batch(link, part, xla, method_of):
    """``method_of(link)(batch_size, no, seed)`` compiled once per link and
    ``part`` as ``fn(batch_size, no, base, batch)``: ``batch_size`` is a
    Python int (static shape: one trace per size); the seed is folded in
    inside the compiled function, so the stream is the one of
    :func:`batch_seed` under the same ``xla`` flag."""
    xla = bool(xla)
    link_ref = weakref.ref(link)

    def build():
        def run(batch_size, no, base, batch):
            seed = tf.random.experimental.stateless_fold_in(base, batch)
            return method_of(link_ref())(batch_size, no, seed)
        return tf.function(run, jit_compile=xla)

    return compiled_for(link, ("rxsim.montecarlo", part, xla), build)


def _compiled_receiver(link, xla):
    """``receive(no, drawn) -> {counter: int}``: the link's
    :meth:`count_drawn` on a drawn batch, compiled once per link (its
    :class:`rxsim.counts.CountStages` tail once per tail owner). A link
    whose ``compiled_receiver`` is False (a detector retrained per frame,
    which runs its own compiled training loop) is run eagerly; its tail is
    still compiled."""
    xla = bool(xla)
    stages = link.count_stages() if hasattr(link, "count_stages") else None
    link_ref = weakref.ref(link)
    if xla and not getattr(link, "compiled_receiver", True) and \
            getattr(link, "interleave", False):
        raise ValueError(
            "this coded link's receiver runs eagerly (a detector retrained "
            "per frame) but its batches would be drawn under XLA, where "
            "Sionna's RandomInterleaver draws another permutation than "
            "eagerly: the deinterleaver would not undo the interleaver. "
            "Simulate it with xla=False ([link] xla = false).")

    def build():
        def run_receiver(no, drawn):
            return link_ref().count_drawn(drawn, no)
        if not getattr(link, "compiled_receiver", True):
            return run_receiver        # e.g. retrained per frame: eager
        return tf.function(run_receiver, jit_compile=xla)

    receiver = compiled_for(link, ("rxsim.montecarlo", "receive", xla),
                            build)
    return _with_tail(receiver, stages, xla)


def _with_tail(fn, stages, xla):
    """``fn``'s counts as Python ints; with :class:`rxsim.counts.
    CountStages`, ``fn`` returns ``(counts, carry)`` and the tail (one
    trace for every batch size, XLA still compiles per shape; compiled
    once per tail owner) adds its counts."""
    if stages is None:
        return lambda *args: _as_ints(fn(*args))
    xla = bool(xla)
    tail = compiled_for(
        stages.tail_owner, ("rxsim.montecarlo", "tail", xla),
        lambda: tf.function(stages.tail, jit_compile=xla,
                            input_signature=list(stages.tail_signature)))

    def staged(*args):
        counts, carry = fn(*args)
        return {**_as_ints(counts), **_as_ints(tail(*carry))}
    return staged


def _as_ints(counts):
    """Python ints of scalar counters, int64 numpy vectors of per-frame
    ones (:data:`rxsim.counts.PER_FRAME`)."""
    return {name: (np.asarray(value, np.int64) if name in PER_FRAME
                   else int(value)) for name, value in counts.items()}


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
    """Simulate one point until enough errors or symbols.

    After each batch: stop when the link's stopping counter
    (``link.stop_on``: symbol ``errors`` for a :class:`rxsim.Link`,
    ``block_errors`` for a :class:`rxsim.coded.CodedLink`) reaches
    ``target_errors`` (reason ``"target_errors"``) or else when
    ``symbols >= max_symbols`` (``"max_symbols"``). Whole batches are
    simulated, so the last one may overshoot ``max_symbols`` by less than
    ``batch_size * T`` symbols (and ``target_errors`` by the errors of one
    batch); the counts and intervals describe exactly what was simulated.

    The engine knows links only through the protocol of
    :mod:`rxsim.counts`: ``link.count(batch_size, no, seed)`` returns the
    counts of one batch, compiled once per link (``tf.function``, XLA if
    ``xla``); SNR and seed enter as tensors so a sweep over SNRs does not
    retrace, and only a few scalars per batch leave the compiled function.
    A link with ``draw`` / ``count_drawn`` is run as
    :func:`simulate_points` runs it (the same numbers alone as among
    other links); one with ``count_stages()`` is compiled in two parts (a
    coded link's decoder once per code).

    Which fields are filled follows from the counts: ``bit_errors / bits /
    ber`` when the link counts bits (information bits after decoding for a
    coded link), ``block_errors / blocks / bler`` when it counts blocks
    (codewords); ``errors / symbols / ser`` are always the detector's
    (uncoded) symbol decisions.

    Parameters
    ----------
    link : rxsim.Link, rxsim.coded.CodedLink or any object with ``count``
        ``link.count(batch_size, no, seed) -> dict`` (see
        :mod:`rxsim.counts`), optionally ``stop_on`` (default
        ``"errors"``), ``draw`` / ``count_drawn``, ``count_stages`` and
        ``rdtype`` (dtype of ``no``).
    no : float or [batch_size] array
        Noise variance (see the link's channel).
    batch_size : int
        Frames per batch.
    target_errors : int
        Errors to collect (of the counter ``link.stop_on``).
    max_symbols : int
        Symbol budget of the point.
    seed : int
        The point's seed, in ``[0, 2**63)`` (see :func:`point_seed`).
    xla : bool
        Compile with XLA (``jit_compile=True``).
    confidence : float
        Level of the Wilson and Clopper-Pearson intervals.
    progress : None or callable
        Called as ``progress(errors, symbols)`` (cumulative ints, ``errors``
        of the stopping counter) after each batch; the engine itself never
        prints.

    Output
    ------
    : :class:`PointResult`

    Example
    -------
    >>> from channels import ISIChannel
    >>> from detectors import SymbolwiseDetector
    >>> from rxsim import Link, Transmitter, simulate_point
    >>> link = Link(Transmitter("bpsk"), ISIChannel([1.0]),
    ...             SymbolwiseDetector([1.0]), num_symbols=100)
    >>> r = simulate_point(link, 1.0, batch_size=50, target_errors=200,
    ...                    max_symbols=10**6, seed=1, xla=False)
    >>> r.stop_reason, r.symbols % 5000, r.errors >= 200
    ('target_errors', 0, True)
    >>> round(r.ser, 1)      # Q(1) = 0.159 for BPSK at no = 1
    0.2
    """
    if not callable(getattr(link, "count", None)):
        raise TypeError("`link` must be an rxsim.Link or another link with "
                        "a `count(batch_size, no, seed)` method (see "
                        f"rxsim.counts), got {type(link).__name__}.")
    (result,) = simulate_points(
        [link], no, batch_size=batch_size, target_errors=target_errors,
        max_symbols=max_symbols, seed=seed, xla=xla, confidence=confidence,
        progress=None if progress is None else [progress])
    return result


def simulate_points(links, no, *, batch_size, target_errors, max_symbols,
                    seed, xla=True, confidence=0.95, progress=None,
                    on_result=None):
    """Simulate several links of one point on the same batches, each until
    its own stopping rule (that of :func:`simulate_point`).

    Common random numbers: every link gets batch ``b`` from the same seed
    (``seed`` folded with ``b``), so links that draw the same batches (the
    same transmitter, channel and frame length: equal ``draw_key()``) see
    the same frames and noise. Their batch is drawn once (``link.draw``,
    compiled once per group) and handed to each receiver
    (``link.count_drawn``, compiled once per link); a link that stops
    earlier saw a prefix of the same batches. A link's result does not
    depend on which other links run beside it: the draw is the same
    function of the seed for each of them, and so is its own receiver.
    Links without ``draw`` (or whose ``draw_key()`` is ``None``) draw
    their own batches with ``link.count``.

    Parameters
    ----------
    links : sequence of links (see :func:`simulate_point`)
    no, batch_size, target_errors, max_symbols, seed, xla, confidence :
        As in :func:`simulate_point`, for every link.
    progress : None or sequence of (None or callable)
        One ``progress(errors, symbols)`` per link.
    on_result : None or callable ``on_result(index, result)``
        Called as each link finishes (in the order they stop), e.g. to
        commit it before the others are done.

    Output
    ------
    : list of :class:`PointResult`, one per link, in the order of
      ``links``. A link's ``wall_time`` is the time of its own receiver
      plus that of the draws it used.

    Example
    -------
    >>> from channels import ISIChannel
    >>> from detectors import BCJRDetector, ViterbiDetector
    >>> from rxsim import Link, Transmitter, simulate_point
    >>> from rxsim.montecarlo import simulate_points
    >>> taps = [1.0, 0.5]
    >>> links = [Link(Transmitter("bpsk"), ISIChannel(taps), det(taps),
    ...               num_symbols=100)
    ...          for det in (BCJRDetector, ViterbiDetector)]
    >>> both = simulate_points(links, 0.5, batch_size=20, target_errors=50,
    ...                        max_symbols=10**5, seed=3, xla=False)
    >>> alone = simulate_point(links[1], 0.5, batch_size=20,
    ...                        target_errors=50, max_symbols=10**5, seed=3,
    ...                        xla=False)
    >>> both[1].frame_counts == alone.frame_counts   # the same frames
    True
    """
    links = list(links)
    if not links:
        raise ValueError("`links` is empty.")
    batch_size = check_int(batch_size, "batch_size")
    target_errors = check_int(target_errors, "target_errors")
    max_symbols = check_int(max_symbols, "max_symbols")
    seed = check_seed(seed)
    # Validate confidence now, not after a long simulation.
    wilson_interval(0, 1, confidence)
    progress = list(progress) if progress is not None else [None] * len(links)
    if len(progress) != len(links):
        raise ValueError(f"`progress` has {len(progress)} entries for "
                         f"{len(links)} links.")
    if any(p is not None and not callable(p) for p in progress):
        raise TypeError("`progress` must be callable or None.")
    tallies, keys, no_ts = [], [], []
    for link in links:
        if not callable(getattr(link, "count", None)):
            raise TypeError("every link must be an rxsim.Link or another "
                            "link with a `count(batch_size, no, seed)` "
                            "method (see rxsim.counts), got "
                            f"{type(link).__name__}.")
        stop_on = getattr(link, "stop_on", "errors")
        if stop_on not in COUNTERS:
            raise ValueError(f"`link.stop_on` must be one of {COUNTERS}, got "
                             f"{stop_on!r}.")
        no_t = _noise_tensor(no, link)
        if no_t.shape.rank == 1 and no_t.shape[0] not in (1, batch_size):
            raise ValueError(f"`no` has {no_t.shape[0]} entries but "
                             f"batch_size is {batch_size}.")
        no_ts.append(no_t)
        tallies.append(_Tally(stop_on, target_errors, max_symbols))
        has_draw = all(callable(getattr(link, m, None))
                       for m in ("draw", "count_drawn", "draw_key"))
        keys.append(link.draw_key() if has_draw else None)
    base = seed_words(seed)
    # Links that draw alike share one compiled draw per batch; the others
    # (key None) draw their own (``count``).
    alike, own = {}, []
    for i, key in enumerate(keys):
        if key is None:
            own.append(i)
        else:
            alike.setdefault((key, no_ts[i].dtype), []).append(i)
    draws = [(_compiled_draw(links[members[0]], xla), members)
             for members in alike.values()]
    steps = [_compiled_counter(link, xla) if i in own else
             _compiled_receiver(link, xla) for i, link in enumerate(links)]

    results = [None] * len(links)

    def finish(i):
        t = tallies[i]
        results[i] = PointResult.from_counts(
            t.totals, confidence=confidence, batches=t.batches,
            wall_time=t.seconds, seed=seed, stop_reason=t.stop_reason,
            frame_counts=t.frame_counts() or None)
        if on_result is not None:
            on_result(i, results[i])

    def record(i, counts, seconds):
        tallies[i].add(counts, seconds)
        if progress[i] is not None:
            progress[i](tallies[i].totals[tallies[i].stop_key],
                        tallies[i].totals["symbols"])
        if tallies[i].stop_reason is not None:
            finish(i)

    batch = 0
    while any(r is None for r in results):
        batch_t = tf.constant(batch, tf.int64)
        for draw, members in draws:
            active = [i for i in members if results[i] is None]
            if not active:
                continue
            start = time.perf_counter()
            drawn = draw(batch_size, no_ts[active[0]], base, batch_t)
            shared = time.perf_counter() - start
            for i in active:
                start = time.perf_counter()
                counts = steps[i](no_ts[i], drawn)
                record(i, counts, shared + time.perf_counter() - start)
        for i in own:
            if results[i] is None:
                start = time.perf_counter()
                counts = steps[i](batch_size, no_ts[i], base, batch_t)
                record(i, counts, time.perf_counter() - start)
        batch += 1
    return results


class _Tally:
    """The stopping rule of one link: adds the counts of its batches up
    and says when the summed ``stop_key`` counter reaches
    ``target_errors``, else when there are ``max_symbols`` symbols."""

    def __init__(self, stop_key, target_errors, max_symbols):
        self.stop_key = stop_key
        self.target_errors, self.max_symbols = target_errors, max_symbols
        self.totals, self.frames = {}, {}
        self.batches, self.seconds, self.stop_reason = 0, 0.0, None

    def add(self, counts, seconds):
        missing = [c for c in REQUIRED + (self.stop_key,) if c not in counts]
        unknown = [c for c in counts
                   if c not in COUNTERS and c not in PER_FRAME]
        if missing or unknown:
            raise ValueError(
                f"the link's counts lack {missing} / have unknown counters "
                f"{unknown}; see rxsim.counts.COUNTERS and PER_FRAME.")
        for name, value in counts.items():
            if name in PER_FRAME:
                self.frames.setdefault(PER_FRAME[name], []).append(value)
            else:
                self.totals[name] = self.totals.get(name, 0) + value
        self.batches += 1
        self.seconds += seconds
        if self.totals[self.stop_key] >= self.target_errors:
            self.stop_reason = "target_errors"
        elif self.totals["symbols"] >= self.max_symbols:
            self.stop_reason = "max_symbols"

    def frame_counts(self):
        """``{counter: per-frame tuple}``, checked against the totals."""
        out = {name: tuple(int(v) for v in np.concatenate(parts))
               for name, parts in self.frames.items()}
        for name, per_frame in out.items():
            if len(per_frame) != self.totals["frames"] or \
                    sum(per_frame) != self.totals[name]:
                raise ValueError(
                    f"the link's per-frame {name} do not add up to its "
                    f"{name} counter over {self.totals['frames']} frames; "
                    "see rxsim.counts.PER_FRAME.")
        return out


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


def _rate_fields(rate, errors, trials, confidence):
    """``{rate, rate_ci_wilson, rate_ci_cp}`` of binomial counts (all
    ``None`` when the link does not count them)."""
    if trials is None:
        return {rate: None, f"{rate}_ci_wilson": None, f"{rate}_ci_cp": None}
    return {rate: errors / trials,
            f"{rate}_ci_wilson": wilson_interval(errors, trials, confidence),
            f"{rate}_ci_cp": clopper_pearson_interval(errors, trials,
                                                      confidence)}
