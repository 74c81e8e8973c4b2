r"""Time-varying ISI channel: learned detectors trained once, retrained
online on every block, or retrained only on the frames a CRC accepts,
against model-based BCJR / Viterbi.

Channel (ViterbiNet paper, Sec. V; :func:`channels.time_varying_taps`):
BPSK over ``L = 4`` taps ``h_l(t) = exp(-gamma l) (0.8 + 0.2 cos(2 pi t /
p_l))``, ``p = (51, 39, 33, 21)`` blocks, fixed within block ``t``; one SNR
per run (``no = 10**(-snr/10)``, unnormalised taps).

Frames (what a real receiver can check)
---------------------------------------
Every block carries ``block_symbols / frame_length`` coded frames, each
after the channel's ``L - 1`` preamble symbols::

    info bits [code_k - crc bits] --CRCEncoder(crc)--> u [code_k]
      --LDPC5GEncoder(code_k, n = frame_length)--> --RandomInterleaver-->
      BPSK (bit = symbol index) --> channel

(Sionna's ``CRCEncoder`` / ``CRCDecoder``, 5G LDPC and interleaver: the
code, decoder graph and interleaver seed are :mod:`rxsim.coded`'s, shared
with the coded sweeps). Defaults: ``n = 250``, ``code_k = 125`` (rate
1/2), CRC16, so 109 information bits per frame, CRC overhead 16 / 109 =
14.7%. Before the frames each block sends one pilot frame of
``pilot_symbols`` known BPSK symbols (default 100; overhead ``P / (P +
block_symbols)``, 2.0% for the default 5000-symbol blocks, 4.8% for the
2000-symbol ``--quick`` ones), used only by the BCJR with per-block pilot
estimates. :meth:`TimeVaryingSpec.overheads` gives the numbers.

Every detector's bit LLRs (:meth:`detectors.Detector.bit_llrs`: exact for
BCJR, max-log for Viterbi / ViterbiNet, learned for BCJRNet) are
deinterleaved and decoded (20 BP iterations); the CRC of the decoded word
``u_hat`` says whether the frame is accepted. The SER of a row is still
the detector's uncoded symbol decisions on the block (what the study has
always reported); the row's BLER is the decoded frames' (``u_hat != u``).

Detectors (all on the same received block, so comparisons are paired):

=====================  ================  ===================================
label (store)          csi (store)       what it is
=====================  ================  ===================================
``bcjr``               ``perfect``       BCJR with the true taps of block t
``bcjr``               ``initial``       BCJR with the taps of t = 0
``bcjr``               ``pilots``        BCJR with the least-squares taps
                                         and noise variance of block t's
                                         pilot frame
                                         (:func:`channels.csi.
                                         estimate_channel_ls`)
``viterbi``            ``initial``       Viterbi with the taps of t = 0
``viterbinet``         ``once``          ViterbiNet trained on pilots of
                                         the t = 0 channel, never retrained
``viterbinet``         ``online``        the same, then after every block
                                         retrained on all of that block's
                                         own hard decisions (``adapt``,
                                         full-batch steps, no check)
``viterbinet``         ``online-crc``    retrained after every block on the
                                         frames whose CRC passes, labelled
                                         with the re-encoded, re-mapped
                                         decoded word (the symbols the
                                         receiver believes were sent)
``viterbinet``         ``online-genie``  the same on the frames whose
                                         decoded word equals the sent one
                                         (a check against the true bits,
                                         as published online-learning code
                                         does; not available to a receiver)
``bcjrnet``            the same four     LearnedFactorGraph (BCJRNet), as
                                         ViterbiNet
=====================  ================  ===================================

The gate is per frame, not per block: one frame that fails its CRC does
not waste the block's other frames. A gated model whose block has no
accepted frame is left unchanged (and checkpointed as it is). Labels of
accepted frames are the re-encoded decoded word; where the decoding is
right they are the transmitted symbols, so the genie gate trains on true
labels only and the CRC gate differs from it only by undetected errors
(probability ~2^-16 per wrong frame for CRC16).

Per block: draw the block's bits, pilots and noise from a seed that
depends only on ``(seed, t)``, pass them through the channel of block t,
detect and decode with every detector, commit one store row per (detector,
block) (a :class:`rxsim.montecarlo.PointResult` whose SER interval counts
frames as the independent units, with its design effect ``ser_deff``, and
the block's decoded-frame counts), then adapt the online learners on the
block and checkpoint them with :meth:`detectors.learned.LearnedDetector.save`
under the sweep's checkpoint directory (``<db stem>.checkpoints/
time_varying-<config hash>/``).

Resume: a rerun skips every block whose rows and checkpoints are all
there, loads the online models saved after the last finished block and
continues; the numbers are identical to an uninterrupted run (stateless
seeds, exact checkpoints; a gated model's retraining on a block is
recomputed from that model's own decoding of the block). A checkpoint
that does not load (truncated, edited) is reported and recomputed from the
last one that does, never fatal. The config hash
(:func:`rxsim.config.config_hash`) covers everything that changes the
numbers except the number of blocks, so a run of 200 blocks after one of
100 adds blocks 100..199 to the same curves.

What the study must show (:func:`check_claims`): at 6 and 8 dB the
CRC-gated nets' average SER stays within 2x of the genie-gated ones', while
the ungated ones run away (at least 2x the genie-gated SER, resolved on the
same frames).

Differences from the ViterbiNet paper: the paper protects each block with
a Reed-Solomon code, retrains on a block only when the RS decoder accepts
it, labelled with the re-encoded RS codeword, and decides the uncoded
symbols with ViterbiNet's hard output. Here a CRC-checked 5G LDPC code
(soft LLRs into belief propagation) gates each frame of a block, not the
whole block, and the labels are the re-encoded, re-interleaved LDPC
codeword; the ``online`` curves keep the decision-directed retraining of
earlier versions of this study (all raw decisions, no check).

``scripts/time_varying.py`` is the command line of this study.
"""

import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from channels import PAPER_PERIODS, ISIChannel, time_varying_taps
from detectors import (BCJRDetector, LearnedFactorGraph, ViterbiDetector,
                       ViterbiNet)
from signals.checks import check_int

from .. import __version__
from ..aggregate import average_rows
from ..config import config_hash, snr_to_no
from ..counts import symbol_counts
from ..montecarlo import PointResult, point_seed
from ..paired import averaged_comparison
from ..pilots import pilot_data
from ..store import PointKey, ResultsStore
from ..sweep import checkpoint_dir as sweep_checkpoint_dir, load_checkpoint

__all__ = ["TimeVaryingSpec", "DETECTORS", "EXPERIMENT", "GATES", "CRCS",
           "block_seed", "block_data", "Block", "FrameCoder", "receive",
           "pilot_estimate",
           "gate_frames", "block_of", "block_result", "checkpoint_dir",
           "run", "load_rows", "summary", "markdown_table", "REFERENCE",
           "paired_summary", "markdown_paired", "gate_comparisons",
           "check_claims", "markdown_claims", "plot", "plot_snrs",
           "report", "report_snrs"]

EXPERIMENT = "time_varying"
# Bump when the simulation changes its numbers. 2: frame-based SER
# intervals with their design effect (1 had symbol-based ones). 3: coded
# frames (CRC + 5G LDPC + interleaver), a pilot frame per block, gated
# retraining.
PROTOCOL = 3

#: (label, csi) of every detector, in run order, and its display name.
DETECTORS = (
    (("bcjr", "perfect"), "BCJR, perfect CSI"),
    (("bcjr", "initial"), "BCJR, initial CSI (t=0)"),
    (("bcjr", "pilots"), "BCJR, per-block pilot estimate"),
    (("viterbi", "initial"), "Viterbi, initial CSI (t=0)"),
    (("viterbinet", "once"), "ViterbiNet, trained once"),
    (("viterbinet", "online"), "ViterbiNet, online (ungated)"),
    (("viterbinet", "online-crc"), "ViterbiNet, online, CRC-gated"),
    (("viterbinet", "online-genie"), "ViterbiNet, online, genie-gated"),
    (("bcjrnet", "once"), "BCJRNet, trained once"),
    (("bcjrnet", "online"), "BCJRNet, online (ungated)"),
    (("bcjrnet", "online-crc"), "BCJRNet, online, CRC-gated"),
    (("bcjrnet", "online-genie"), "BCJRNet, online, genie-gated"),
)
LEARNED = {"viterbinet": ViterbiNet, "bcjrnet": LearnedFactorGraph}
#: csi of an online learner -> its gate (None: every frame, own hard
#: decisions; "crc": frames whose CRC passes; "genie": frames decoded
#: right), labels of the gated ones: the re-encoded decoded word.
GATES = {"online": None, "online-crc": "crc", "online-genie": "genie"}
#: (label, csi) of the online learners, in run order.
ONLINE = tuple(lc for lc, _ in DETECTORS if lc[1] in GATES)
#: Sionna's CRC polynomials (``sionna.phy.fec.crc.CRCEncoder``) and their
#: parity bits.
CRCS = {"CRC24A": 24, "CRC24B": 24, "CRC24C": 24, "CRC16": 16,
        "CRC11": 11, "CRC6": 6}

_BLOCK_RE = re.compile(r"block=(\d+)$")


@dataclass(frozen=True)
class TimeVaryingSpec:
    """What one run of the study simulates (defaults: the full study).

    Parameters
    ----------
    blocks : int
        Blocks ``t = 0 .. blocks-1``.
    block_symbols : int
        Data symbols per block: a multiple of ``frame_length``.
    frame_length : int
        Symbols per frame (= codeword bits ``n``, BPSK), each frame after
        the preamble.
    code_k : int
        Information bits of the 5G LDPC code, CRC included (``code_k /
        frame_length`` is the code rate).
    crc : str
        Sionna CRC polynomial (:data:`CRCS`), shorter than ``code_k``.
    pilot_symbols : int
        Known symbols of the pilot frame before each block (for the BCJR
        with per-block estimates; >= ``memory + 1``).
    snr_db : float
    gamma : float
        Decay of the static profile ``exp(-gamma l)``.
    memory : int
        L; other values than 4 need their own ``periods``.
    periods : tuple of L floats
        Tap periods in blocks (default the paper's 51, 39, 33, 21).
    amplitude : float in [0, 1]
        Depth of the variation (0.2: the paper's 0.8 + 0.2 cos).
    train_symbols : int
        Pilots of the t = 0 channel for the initial training (a multiple
        of ``frame_length``, or at most it).
    adapt_epochs : int
        Full-batch steps of each online retraining.
    seed : int
        Run seed (>= 0).

    Example
    -------
    >>> spec = TimeVaryingSpec.quick()
    >>> spec.blocks, spec.block_symbols, spec.info_bits
    (12, 2000, 109)
    >>> spec.config_hash == TimeVaryingSpec.quick(blocks=30).config_hash
    True
    >>> TimeVaryingSpec(block_symbols=700)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `block_symbols` (700) must be a multiple of ...
    >>> TimeVaryingSpec(code_k=20, crc="CRC24A")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `crc` ('CRC24A', 24 parity bits) must be shorter than ...
    """

    blocks: int = 100
    block_symbols: int = 5000
    frame_length: int = 250
    code_k: int = 125
    crc: str = "CRC16"
    pilot_symbols: int = 100
    snr_db: float = 10.0
    gamma: float = 0.2
    memory: int = 4
    periods: tuple = PAPER_PERIODS
    amplitude: float = 0.2
    train_symbols: int = 5000
    adapt_epochs: int = 20
    seed: int = 1

    def __post_init__(self):
        for name in ("blocks", "block_symbols", "frame_length", "code_k",
                     "pilot_symbols", "memory", "train_symbols",
                     "adapt_epochs"):
            object.__setattr__(self, name, check_int(getattr(self, name),
                                                     name))
        object.__setattr__(self, "seed", check_int(self.seed, "seed", 0))
        if self.block_symbols % self.frame_length:
            raise ValueError(
                f"`block_symbols` ({self.block_symbols}) must be a multiple "
                f"of `frame_length` ({self.frame_length}): a block carries "
                "whole coded frames.")
        n = self.train_symbols
        if n > self.frame_length and n % self.frame_length:
            raise ValueError(
                f"`train_symbols` ({n}) must be a multiple of "
                f"`frame_length` ({self.frame_length}) or at most it.")
        if not isinstance(self.crc, str) or self.crc not in CRCS:
            raise ValueError(f"`crc` must be one of Sionna's CRC "
                             f"polynomials {sorted(CRCS)}, got {self.crc!r}.")
        if CRCS[self.crc] >= self.code_k:
            raise ValueError(
                f"`crc` ({self.crc!r}, {CRCS[self.crc]} parity bits) must be "
                f"shorter than the code's information bits `code_k` "
                f"({self.code_k}), leaving at least one information bit.")
        from ..coded import code_problems
        problems = code_problems(self.code_k, self.frame_length, 1)
        if problems:
            raise ValueError("`code_k` / `frame_length`: "
                             + "; ".join(problems) + ".")
        if self.pilot_symbols <= self.memory:
            raise ValueError(
                f"`pilot_symbols` ({self.pilot_symbols}) must exceed "
                f"`memory` ({self.memory}): least squares estimates "
                "L taps and the noise variance.")
        try:
            snr = float(self.snr_db)
            periods = tuple(float(p) for p in self.periods)
        except (TypeError, ValueError):
            raise TypeError("`snr_db` must be a number and `periods` a "
                            "sequence of numbers, got "
                            f"{self.snr_db!r} and {self.periods!r}.") \
                from None
        if not np.isfinite(snr):
            raise ValueError(f"`snr_db` must be finite, got {self.snr_db!r}.")
        object.__setattr__(self, "snr_db", snr)
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "amplitude", float(self.amplitude))
        object.__setattr__(self, "periods", periods)
        self.taps(0)        # checks memory, gamma, periods and amplitude

    @classmethod
    def quick(cls, **changes):
        """The ``--quick`` study: 12 blocks of 2000 symbols, with
        ``changes`` applied."""
        return cls(**{"blocks": 12, "block_symbols": 2000, **changes})

    @property
    def frames(self):
        """Coded frames per block."""
        return self.block_symbols // self.frame_length

    @property
    def info_bits(self):
        """Information bits per frame (``code_k`` minus the CRC)."""
        return self.code_k - CRCS[self.crc]

    def overheads(self):
        """Pilot and CRC overheads and rates of the frame format.

        Output
        ------
        : dict ``pilot_overhead`` (pilot symbols / all symbols of a block),
          ``crc_overhead`` (CRC bits / information bits), ``code_rate``
          (``code_k / frame_length``), ``info_rate`` (information bits
          per data symbol), ``info_bits``, ``crc_bits``

        Example
        -------
        >>> o = TimeVaryingSpec().overheads()
        >>> round(o["pilot_overhead"], 4), round(o["crc_overhead"], 4)
        (0.0196, 0.1468)
        """
        crc = CRCS[self.crc]
        return {"pilot_overhead": self.pilot_symbols /
                (self.pilot_symbols + self.block_symbols),
                "crc_overhead": crc / self.info_bits,
                "code_rate": self.code_k / self.frame_length,
                "info_rate": self.info_bits / self.frame_length,
                "info_bits": self.info_bits, "crc_bits": crc}

    def taps(self, block):
        """True taps ``[L]`` of block ``block`` (``[len(block), L]`` for
        an array of blocks)."""
        return time_varying_taps(self.memory, self.gamma, block,
                                 periods=self.periods,
                                 amplitude=self.amplitude)

    def hash_payload(self):
        """Everything that changes the numbers of a run except
        ``blocks`` (a longer run extends a shorter one)."""
        payload = dataclasses.asdict(self)
        del payload["blocks"]
        payload["periods"] = list(self.periods)
        return {"protocol": PROTOCOL, "experiment": EXPERIMENT,
                "constellation": "bpsk", **payload}

    @property
    def config_hash(self):
        """Key of this run's rows and checkpoints."""
        return config_hash(self.hash_payload())

    def channel_label(self, block):
        """Store channel label of block ``block``."""
        return f"tv:L={self.memory},gamma={self.gamma:g},block={int(block)}"


def block_of(row):
    """Block index of a store row (from its channel label), or ``None``.

    Example
    -------
    >>> block_of({"channel": "tv:L=4,gamma=0.2,block=17"})
    17
    """
    m = _BLOCK_RE.search(row["channel"])
    return None if m is None else int(m.group(1))


def block_seed(seed, block):
    """Seed of block ``block``'s bits, pilots and noise: depends on
    (seed, t) only, so any block can be regenerated alone (resume)."""
    return point_seed(seed, EXPERIMENT, "block", int(block))


# --------------------------------------------------------------------------
# Frames: CRC + LDPC + interleaver
# --------------------------------------------------------------------------
class FrameCoder:
    """The frame format of a spec: CRC (Sionna ``CRCEncoder`` /
    ``CRCDecoder``), the 5G LDPC code and decoder graph and the bit
    interleaver of :mod:`rxsim.coded` (shared per process), BPSK (symbol
    index = code bit).

    Example
    -------
    >>> coder = FrameCoder.of(TimeVaryingSpec())
    >>> info = np.zeros((2, 109), np.float32); info[0, 3] = 1
    >>> u = coder.add_crc(info)
    >>> s = coder.encode(u)
    >>> u.shape, s.shape, coder.crc_ok(u).tolist()
    ((2, 125), (2, 250), [True, True])
    >>> u[0, 5] = 1 - u[0, 5]
    >>> coder.crc_ok(u).tolist()
    [False, True]
    """

    _cache = {}

    def __init__(self, code_k, n, crc):
        import tensorflow as tf
        from sionna.phy.fec.crc import CRCDecoder, CRCEncoder

        from ..coded import DEFAULT_NUM_ITER, interleavers, shared_code
        self._tf = tf
        self.code_k, self.n, self.crc = int(code_k), int(n), crc
        self._code = shared_code(self.code_k, self.n, DEFAULT_NUM_ITER,
                                 "single")
        self._crc_enc = CRCEncoder(crc)
        self._crc_dec = CRCDecoder(self._crc_enc)
        self._interleaver, self._deinterleaver = interleavers()

    @classmethod
    def of(cls, spec):
        """The (cached) coder of ``spec``'s frame format."""
        key = (spec.code_k, spec.frame_length, spec.crc)
        if key not in cls._cache:
            cls._cache[key] = cls(*key)
        return cls._cache[key]

    def add_crc(self, info):
        """Information bits ``[F, code_k - crc]`` -> ``u [F, code_k]``."""
        return self._crc_enc(self._tf.constant(info, self._tf.float32)
                             ).numpy()

    def crc_ok(self, u):
        """``[F]`` bool: the CRC of each word ``u [F, code_k]`` passes."""
        _, ok = self._crc_dec(self._tf.constant(u, self._tf.float32))
        return ok.numpy().reshape(-1).astype(bool)

    def encode(self, u):
        """``u [F, code_k]`` -> sent symbol indices ``[F, n]`` (int32):
        LDPC, interleaver, BPSK index = bit."""
        tf = self._tf
        c = self._interleaver(self._code.encoder(tf.constant(u, tf.float32)))
        return np.rint(c.numpy()).astype(np.int32)

    def decode(self, llr):
        """Bit LLRs ``[F, n]`` in channel order (``log p(1)/p(0)``) ->
        decoded words ``u_hat [F, code_k]`` (float32 0/1)."""
        tf = self._tf
        llr = self._deinterleaver(tf.constant(llr, tf.float32))
        return self._code.graph()(llr).numpy()


@dataclass
class Block:
    """One block's data: true taps ``[L]``; received ``y`` and sent
    indices ``s`` ``[frames, n]``; each frame's words ``u [frames, code_k]``
    (information bits and CRC); the pilot frame's received samples
    ``y_pilots [1, P]`` and sent points ``x_pilots [P]``."""
    taps: np.ndarray
    y: np.ndarray
    s: np.ndarray
    u: np.ndarray
    y_pilots: np.ndarray
    x_pilots: np.ndarray


def block_data(spec, block):
    """The :class:`Block` of block ``block`` (stateless: from
    :func:`block_seed` only).

    Example
    -------
    >>> spec = TimeVaryingSpec(block_symbols=500)
    >>> b = block_data(spec, 3)
    >>> b.y.shape, b.s.shape, b.u.shape, b.y_pilots.shape
    ((2, 250), (2, 250), (2, 125), (1, 100))
    >>> bool((FrameCoder.of(spec).encode(b.u) == b.s).all())
    True
    """
    import tensorflow as tf
    from signals.constellations import constellation_points
    from signals.seeds import stateless_seed

    taps = spec.taps(block)
    bits_seed, noise_seed, pilot_seed, pilot_noise_seed = tf.unstack(
        tf.random.experimental.stateless_split(
            stateless_seed(block_seed(spec.seed, block)), 4))
    coder = FrameCoder.of(spec)
    info = tf.random.stateless_uniform([spec.frames, spec.info_bits],
                                       bits_seed, 0, 2, dtype=tf.int32)
    u = coder.add_crc(tf.cast(info, tf.float32))
    s = coder.encode(u)
    channel = ISIChannel(taps)
    points = constellation_points(channel.constellation)
    y = channel(tf.gather(points, s), snr_to_no(spec.snr_db),
                seed=noise_seed).numpy()
    sp = tf.random.stateless_uniform([1, spec.pilot_symbols], pilot_seed,
                                     0, 2, dtype=tf.int32)
    xp = tf.gather(points, sp)
    yp = channel(xp, snr_to_no(spec.snr_db), seed=pilot_noise_seed).numpy()
    return Block(taps=taps, y=y, s=s, u=u, y_pilots=yp,
                 x_pilots=xp.numpy()[0])


def pilot_estimate(spec, blk):
    """Least-squares taps and noise variance of ``blk``'s pilot frame
    (:func:`channels.csi.estimate_channel_ls`): ``(taps [L], no)``."""
    from channels.csi import estimate_channel_ls
    taps, no = estimate_channel_ls(blk.y_pilots, blk.x_pilots[None],
                                   spec.memory)
    return np.asarray(taps, np.float32), float(no)


def receive(det, y, no, coder, *, taps=None, hard=True):
    """Detect and decode one block.

    Parameters
    ----------
    det : detectors.Detector
    y : [frames, n]
    no : float
        Noise variance given to the detector.
    coder : FrameCoder
    taps : None or [L]
        Taps given to a model-based detector.
    hard : bool
        Symbol decisions from ``det(y, no)`` (the Viterbi sequence of a
        Viterbi / ViterbiNet built with ``hard_out=True``); False: the
        sign of the bit LLRs (the symbol-wise MAP decisions of BCJR).

    Output
    ------
    : dict ``s_hat [frames, n]`` (int32), ``u_hat [frames, code_k]``,
      ``crc_ok [frames]`` (bool), ``labels [frames, n]`` (the re-encoded,
      re-mapped decoded word)
    """
    kw = {} if taps is None else {"taps": taps}
    llr = np.asarray(det.bit_llrs(y, no, **kw))
    s_hat = np.asarray(det(y, no, **kw)).astype(np.int32) if hard else \
        (llr > 0).astype(np.int32)
    u_hat = coder.decode(llr)
    return {"s_hat": s_hat, "u_hat": u_hat, "crc_ok": coder.crc_ok(u_hat),
            "labels": coder.encode(u_hat)}


def gate_frames(gate, rx, u):
    """``[frames]`` bool: the frames that gate ``gate`` lets a model
    retrain on (``None``: all; ``"crc"``: CRC of the decoded word passes;
    ``"genie"``: decoded word equals the sent one ``u``), for a
    :func:`receive` output ``rx``."""
    if gate is None:
        return np.ones(len(rx["crc_ok"]), bool)
    if gate == "crc":
        return np.asarray(rx["crc_ok"], bool)
    if gate == "genie":
        return np.all(rx["u_hat"] == np.asarray(u), axis=1)
    raise ValueError(f"`gate` must be None, 'crc' or 'genie', got {gate!r}.")


def block_result(s, s_hat, *, wall_time, seed, frame_block_errors=None,
                 confidence=0.95):
    """The :class:`rxsim.montecarlo.PointResult` of one detected block.

    As in the Monte Carlo engine, frames (rows of ``s``) are the
    independent units of the SER interval: its counts are divided by the
    design effect of the per-frame errors (``ser_deff``). BPSK: one bit
    per symbol, the bit label of index ``i`` is ``i`` (``bits`` /
    ``bit_errors`` are the uncoded ones).

    Parameters
    ----------
    s, s_hat : [frames, T], int
        Sent and detected symbol indices.
    wall_time : float
        Seconds the detection took.
    seed : int
        The block's seed (:func:`block_seed`).
    frame_block_errors : None or [frames], 0/1
        Decoded frames that are wrong (``blocks`` / ``block_errors``, the
        row's BLER).
    confidence : float

    Output
    ------
    : rxsim.montecarlo.PointResult

    Example
    -------
    Two frames, all four errors in the first (a burst): the per-frame
    error variance, 8, is 8 times the binomial ``4 * 0.5 * 0.5``.

    >>> s = np.zeros((2, 4), np.int32)
    >>> s_hat = np.array([[1, 1, 1, 1], [0, 0, 0, 0]], np.int32)
    >>> r = block_result(s, s_hat, wall_time=0.0, seed=1)
    >>> r.errors, r.symbols, r.ser, r.ser_deff
    (4, 8, 0.5, 8.0)
    """
    s = np.asarray(s)
    s_hat = np.asarray(s_hat)
    if s.ndim != 2 or s.shape != s_hat.shape:
        raise ValueError(f"`s` and `s_hat` must both be [frames, T], got "
                         f"shapes {s.shape} and {s_hat.shape}.")
    counts = symbol_counts(s, s_hat, bits_per_symbol=1)
    if frame_block_errors is not None:
        fbe = np.asarray(frame_block_errors, np.int64).reshape(-1)
        if fbe.shape != (s.shape[0],):
            raise ValueError(f"`frame_block_errors` must have one entry per "
                             f"frame ({s.shape[0]}), got {fbe.shape}.")
        counts = dict(counts, blocks=s.shape[0],
                      block_errors=int(fbe.sum()), frame_block_errors=fbe)
    return PointResult.from_counts(
        counts, confidence=confidence, batches=1, wall_time=wall_time,
        seed=seed, stop_reason="max_symbols")


# --------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------
def checkpoint_dir(spec, db):
    """``<db stem>.checkpoints/time_varying-<config hash>/``: the sweep's
    checkpoint directory (:func:`rxsim.sweep.checkpoint_dir`), one folder
    per run config."""
    return sweep_checkpoint_dir(db) / f"{EXPERIMENT}-{spec.config_hash}"


def _model_name(lc):
    """Checkpoint name of an online learner: ``viterbinet`` (ungated),
    ``viterbinet-crc``, ``viterbinet-genie``."""
    name, csi = lc
    gate = GATES[csi]
    return name if gate is None else f"{name}-{gate}"


def _stem(ckdir, name, block):
    tag = "initial" if block is None else f"after-{block:05d}"
    return Path(ckdir) / f"{name}-{tag}"


def _exists(stem):
    return Path(f"{stem}.json").exists() and \
        Path(f"{stem}.weights.h5").exists()


def _adapt(det, gate, blk, rx, spec, coder):
    """Retrain online model ``det`` on block ``blk`` under ``gate``
    (:data:`GATES`); ``rx``: its :func:`receive` output on the block
    (computed here when ``None`` and the gate needs it). Returns the
    number of frames it trained on."""
    if gate is None:
        det.adapt(blk.y, epochs=spec.adapt_epochs)
        return blk.y.shape[0]
    if rx is None:
        rx = receive(det, blk.y, snr_to_no(spec.snr_db), coder)
    keep = gate_frames(gate, rx, blk.u)
    if keep.any():
        det.adapt(blk.y[keep], rx["labels"][keep], epochs=spec.adapt_epochs)
    return int(keep.sum())


class _Models:
    """The learned detectors of one run: trained once on the t = 0 channel
    (``initial``) and the online ones after each block, each loaded from
    its checkpoint or recomputed (trained, or adapted from the previous
    block's) and checkpointed."""

    def __init__(self, spec, ckdir, log):
        self.spec, self.ckdir, self.log = spec, Path(ckdir), log
        self._pilots = None
        self.online, self.online_after = None, None

    def initial(self, name):
        """A fresh copy of ``name`` trained on pilots of t = 0: fitted once
        and checkpointed, so every run (fresh or resumed) starts from the
        same weights."""
        cls, stem = LEARNED[name], _stem(self.ckdir, name, None)
        det = load_checkpoint(cls, stem)
        if det is not None:
            return det
        spec = self.spec
        if self._pilots is None:
            self._pilots = pilot_data(
                spec.taps(0), snr_db=spec.snr_db,
                num_symbols=spec.train_symbols,
                frame_length=spec.frame_length,
                seed=point_seed(spec.seed, EXPERIMENT, "pilots"))
        y, s = self._pilots
        det = cls(spec.memory, hard_out=True)
        t0 = time.perf_counter()
        hist = det.fit(y, s, seed=point_seed(spec.seed, EXPERIMENT, "fit",
                                             name), verbose=False)
        self.log(f"trained {name} on {y.size} pilots of t=0: "
                 f"{hist['epochs']} epochs, {time.perf_counter() - t0:.1f} s")
        self.ckdir.mkdir(parents=True, exist_ok=True)
        det.save(stem)
        # Loaded back so that a fresh run and a resumed one detect with
        # the same (round-tripped) model.
        return cls.load(stem)

    def online_before(self, block):
        """The online models ``{(label, csi): detector}`` that detect block
        ``block``: those after block ``block - 1``."""
        if self.online_after != block - 1:
            self.online = {lc: self._after(lc, block - 1) for lc in ONLINE}
            self.online_after = block - 1
        return self.online

    def adapt(self, block, blk, rxs, coder):
        """Retrain the online models on block ``block`` (data ``blk``, their
        :func:`receive` outputs ``rxs``) and checkpoint; returns the frames
        each trained on."""
        used = {}
        for lc, det in self.online.items():
            used[lc] = _adapt(det, GATES[lc[1]], blk, rxs.get(lc), self.spec,
                              coder)
            det.save(_stem(self.ckdir, _model_name(lc), block))
        self.online_after = block
        return used

    def _after(self, lc, block):
        """Online learner ``lc`` after block ``block`` (-1: the initial
        model): the newest loadable checkpoint at or before ``block``,
        adapted on the blocks after it."""
        name = _model_name(lc)
        last, det = block, None
        while last >= 0:
            det = load_checkpoint(LEARNED[lc[0]], _stem(self.ckdir, name,
                                                        last))
            if det is not None:
                break
            last -= 1
        if det is None:
            det = self.initial(lc[0])
        coder = FrameCoder.of(self.spec)
        for t in range(last + 1, block + 1):
            self.log(f"recomputing online {name} after block {t}")
            _adapt(det, GATES[lc[1]], block_data(self.spec, t), None,
                   self.spec, coder)
            det.save(_stem(self.ckdir, name, t))
        return det


# --------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------
def run(spec, db, log=print):
    """Simulate blocks ``0..spec.blocks-1`` into the store ``db``
    (resumable).

    Parameters
    ----------
    spec : TimeVaryingSpec
    db : str or Path of the SQLite store (created if missing)
    log : callable ``log(str)``, progress lines

    Output
    ------
    : dict with ``config_hash``, ``blocks_run`` (simulated now),
      ``blocks_skipped`` (finished before), ``rows_added``, ``seconds``,
      ``trained_frames`` (``"label/csi"`` -> frames each online learner
      retrained on, summed over the blocks simulated now)
    """
    t_start = time.perf_counter()
    chash = spec.config_hash
    ckdir = checkpoint_dir(spec, db)
    no = snr_to_no(spec.snr_db)
    taps0 = spec.taps(0)
    coder = FrameCoder.of(spec)
    bcjr = BCJRDetector(taps0, hard_out=True)
    viterbi = ViterbiDetector(taps0, hard_out=True)
    models = _Models(spec, ckdir, log)
    once = None
    rows_added = blocks_run = blocks_skipped = 0
    trained = {f"{n}/{c}": 0 for n, c in ONLINE}

    def key(label, csi, t):
        return PointKey(experiment=EXPERIMENT, detector=label,
                        channel=spec.channel_label(t), csi=csi,
                        snr_db=spec.snr_db, config_hash=chash)

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    with ResultsStore(db) as store:
        for t in range(spec.blocks):
            keys = {lc: key(*lc, t) for lc, _ in DETECTORS}
            missing = [lc for lc, k in keys.items() if not store.has_point(k)]
            if not missing and all(_exists(_stem(ckdir, _model_name(lc), t))
                                   for lc in ONLINE):
                blocks_skipped += 1
                continue
            if once is None:
                once = {n: models.initial(n) for n in LEARNED}
            online = models.online_before(t)
            blk = block_data(spec, t)
            seed = block_seed(spec.seed, t)
            # Gated learners need their decoding for the retraining even
            # when their row is stored.
            wanted = [lc for lc, _ in DETECTORS if lc in missing or
                      (lc in online and GATES[lc[1]] is not None)]
            rxs, sers = {}, {}
            for lc in wanted:
                name, csi = lc
                t0 = time.perf_counter()
                if lc == ("bcjr", "perfect"):
                    rx = receive(bcjr, blk.y, no, coder, taps=blk.taps,
                                 hard=False)
                elif lc == ("bcjr", "initial"):
                    rx = receive(bcjr, blk.y, no, coder, hard=False)
                elif lc == ("bcjr", "pilots"):
                    taps_hat, no_hat = pilot_estimate(spec, blk)
                    rx = receive(bcjr, blk.y, no_hat, coder, taps=taps_hat,
                                 hard=False)
                elif lc == ("viterbi", "initial"):
                    rx = receive(viterbi, blk.y, no, coder)
                elif csi == "once":
                    rx = receive(once[name], blk.y, no, coder)
                else:
                    rx = receive(online[lc], blk.y, no, coder)
                wall = time.perf_counter() - t0
                rxs[lc] = rx
                if lc not in missing:
                    continue
                wrong = ~gate_frames("genie", rx, blk.u)
                res = block_result(blk.s, rx["s_hat"], wall_time=wall,
                                   seed=seed, frame_block_errors=wrong)
                rows_added += int(store.add_point(
                    keys[lc], res, seed=seed, code_version=__version__))
                sers[lc] = res.ser
            # Retraining on this block (ungated: own decisions; gated: the
            # accepted frames' re-encoded words), then checkpoint: the
            # models after block t are what block t+1 is detected with.
            used = models.adapt(t, blk, rxs, coder)
            for (n, c), v in used.items():
                trained[f"{n}/{c}"] += v
            blocks_run += 1
            if sers:
                gated = " ".join(f"{n}/{c}:{v}" for (n, c), v in used.items()
                                 if GATES[c] is not None)
                log(f"block {t:4d}  h={np.array2string(blk.taps, precision=3)}"
                    "  " + "  ".join(f"{n}/{c}={v:.2e}"
                                     for (n, c), v in sers.items())
                    + f"  trained frames {gated} of {spec.frames}")
    return {"config_hash": chash, "blocks_run": blocks_run,
            "blocks_skipped": blocks_skipped, "rows_added": rows_added,
            "seconds": time.perf_counter() - t_start,
            "trained_frames": trained}


# --------------------------------------------------------------------------
# Tables and figure
# --------------------------------------------------------------------------
def load_rows(spec, db):
    """Stored rows of this run's config, blocks ``< spec.blocks``, as
    ``{(label, csi): [row per block, sorted by block]}`` (each row with
    its ``block``)."""
    with ResultsStore(db) as store:
        rows = store.points(experiment=EXPERIMENT,
                            config_hash=spec.config_hash)
    curves = {lc: [] for lc, _ in DETECTORS}
    for r in rows:
        t = block_of(r)
        lc = (r["detector"], r["csi"])
        if t is not None and t < spec.blocks and lc in curves:
            curves[lc].append(dict(r, block=t))
    for pts in curves.values():
        pts.sort(key=lambda r: r["block"])
    return curves


def summary(curves, confidence=0.95):
    """Average SER per detector over its blocks: pooled errors / symbols
    (blocks of equal size, so also the mean of the per-block SERs), with
    the interval of the pooled counts and their pooled design effect
    (:func:`rxsim.aggregate.average_rows` with ``combine="pool"``: the
    frames of all blocks are the independent units), and the pooled BLER
    of the decoded frames where the rows have it.

    Parameters
    ----------
    curves : dict ``(label, csi) -> [row]`` (see :func:`load_rows`)
    confidence : float

    Output
    ------
    : list of dict ``detector, csi, name, blocks, errors, symbols, ser,
      ser_lo, ser_hi, frames, frame_errors, bler`` (the last three
      ``None`` without decoded counts), in the order of :data:`DETECTORS`

    Example
    -------
    >>> rows = [dict(detector="bcjr", csi="perfect", snr_db=10.0,
    ...              errors=e, symbols=2000, ser_deff=1.5)
    ...         for e in (4, 8)]
    >>> (r,) = summary({("bcjr", "perfect"): rows})
    >>> r["name"], r["blocks"], r["errors"], r["symbols"], r["ser"]
    ('BCJR, perfect CSI', 2, 12, 4000, 0.003)
    >>> r["ser_lo"] < r["ser"] < r["ser_hi"]
    True
    """
    pooled = average_rows(
        [r for pts in curves.values() for r in pts],
        key=lambda r: (r["detector"], r["csi"]), x=lambda r: 0.0,
        confidence=confidence, combine="pool")
    out = []
    for lc, name in DETECTORS:
        if lc not in pooled:
            continue
        (p,) = pooled[lc]
        pts = curves[lc]
        frames = frame_errors = bler = None
        if pts and all(r.get("blocks") is not None for r in pts):
            frames = sum(r["blocks"] for r in pts)
            frame_errors = sum(r["block_errors"] for r in pts)
            bler = frame_errors / frames if frames else None
        out.append({"detector": lc[0], "csi": lc[1], "name": name,
                    "blocks": p.count, "errors": p.errors,
                    "symbols": p.trials, "ser": p.rate, "ser_lo": p.lo,
                    "ser_hi": p.hi, "frames": frames,
                    "frame_errors": frame_errors, "bler": bler})
    return out


#: The detector every other one is compared with, frame by frame.
REFERENCE = ("bcjr", "perfect")


def paired_summary(curves, frame_counts, spec, confidence=0.95,
                   reference=REFERENCE, detectors=None):
    """Each detector's block-averaged SER against ``reference`` (default
    BCJR with the true taps, :data:`REFERENCE`), paired frame by frame
    within each block (all detectors detect the same received blocks) and
    averaged over the blocks as strata
    (:func:`rxsim.paired.averaged_comparison`).

    Parameters
    ----------
    curves : dict ``(label, csi) -> [row]`` (see :func:`load_rows`)
    frame_counts : callable ``row -> dict`` (e.g.
        :meth:`rxsim.ResultsStore.frame_counts`)
    spec : TimeVaryingSpec
    confidence : float
    reference : (label, csi)
    detectors : None or iterable of (label, csi)
        Those to compare (default: all but the reference).

    Output
    ------
    : list of dict ``detector, csi, name, blocks, ser, ser_reference,
      ratio, ratio_ci, difference, difference_ci, verdict, p_value`` (A:
      the detector, B: the reference; an unbounded interval end is
      ``None``), in the order of :data:`DETECTORS`; empty without the
      reference or frame counts
    """
    ref = {r["block"]: r for r in curves.get(reference, [])}
    names = dict(DETECTORS)
    wanted = None if detectors is None else set(detectors)
    out = []
    for lc, pts in curves.items():
        if lc == reference or not ref or (wanted is not None and
                                          lc not in wanted):
            continue
        pairs = []
        for r in pts:
            if r["block"] not in ref:
                continue
            a, b = frame_counts(r), frame_counts(ref[r["block"]])
            if a is None or b is None:
                return []
            pairs.append((a["errors"], b["errors"]))
        if pairs:
            c = averaged_comparison(pairs,
                                    symbols_per_frame=spec.frame_length,
                                    confidence=confidence)
            out.append({"detector": lc[0], "csi": lc[1], "name": names[lc],
                        "blocks": len(pairs), "ser": c.rate_a,
                        "ser_reference": c.rate_b, "ratio": c.ratio,
                        "ratio_ci": [_finite(v) for v in c.ratio_ci],
                        "difference": c.difference,
                        "difference_ci": list(c.difference_ci),
                        "verdict": c.verdict, "p_value": c.p_value})
    order = [lc for lc, _ in DETECTORS]
    return sorted(out, key=lambda r: order.index((r["detector"],
                                                  r["csi"])))


def _finite(x):
    return float(x) if np.isfinite(x) else None


def gate_comparisons(curves, frame_counts, spec, confidence=0.95):
    """The CRC-gated and the ungated online nets against the genie-gated
    one of the same net, paired over the same frames and averaged over
    the blocks (as :func:`paired_summary`, reference ``(net,
    "online-genie")``).

    Output
    ------
    : list of dict as :func:`paired_summary`, plus ``reference`` (the
      genie-gated csi)
    """
    out = []
    for net in LEARNED:
        ref = (net, "online-genie")
        for r in paired_summary(curves, frame_counts, spec, confidence,
                                reference=ref,
                                detectors=[(net, "online-crc"),
                                           (net, "online")]):
            out.append(dict(r, reference=ref[1]))
    return out


_NETS = {"viterbinet": "ViterbiNet", "bcjrnet": "BCJRNet"}


def check_claims(results, snrs=(6.0, 8.0), ratio_crc=2.0,
                 ratio_runaway=2.0):
    """What the study must show, checked on measured runs.

    For each learned net and each SNR of ``snrs``:

    1. *CRC gate holds*: the CRC-gated online net's average SER is at
       most ``ratio_crc`` x the genie-gated one's (``ok`` judges the
       paired ratio of the block averages; ``shown``: its whole interval
       is below ``ratio_crc``).
    2. *Ungated runs away*: the ungated online net's average SER is at
       least ``ratio_runaway`` x the genie-gated one's and resolved worse
       on the same frames (``ok``: ratio >= ``ratio_runaway`` and the
       difference interval above 0; ``shown``: the whole ratio interval
       above ``ratio_runaway``).

    Without paired frame counts the ratio of the pooled SERs is judged
    (``shown`` None).

    Parameters
    ----------
    results : dict ``snr_db -> {"table": summary(...), "gates":
        gate_comparisons(...) or []}``
    snrs, ratio_crc, ratio_runaway : as above

    Output
    ------
    : list of dict ``claim, ok, shown, ratio, ci, detail`` (``ok`` None
      when a curve or SNR is missing)

    Example
    -------
    >>> claims = check_claims({})
    >>> len(claims), claims[0]["claim"], claims[0]["ok"]
    (8, 'ViterbiNet: CRC-gated within 2x of genie-gated, 6 dB', None)
    """
    out = []
    for net, name in _NETS.items():
        for snr in snrs:
            res = results.get(float(snr))
            for csi, claim in (
                    ("online-crc", f"{name}: CRC-gated within "
                     f"{ratio_crc:g}x of genie-gated, {snr:g} dB"),
                    ("online", f"{name}: ungated runs away (>= "
                     f"{ratio_runaway:g}x genie-gated), {snr:g} dB")):
                out.append(_claim(claim, res, net, csi, ratio_crc,
                                  ratio_runaway))
    return out


def _claim(claim, res, net, csi, ratio_crc, ratio_runaway):
    none = {"claim": claim, "ok": None, "shown": None, "ratio": None,
            "ci": None, "detail": "not run"}
    if res is None:
        return none
    avg = {(r["detector"], r["csi"]): r for r in res.get("table", [])}
    a, g = avg.get((net, csi)), avg.get((net, "online-genie"))
    if a is None or g is None:
        return none
    pair = next((p for p in res.get("gates", [])
                 if (p["detector"], p["csi"]) == (net, csi)), None)
    detail = f"SER {a['ser']:.2e} against genie-gated {g['ser']:.2e}"
    if pair is not None:
        ratio = pair["ratio"]
        lo, hi = (math.inf if v is None else v for v in pair["ratio_ci"])
        dlo = pair["difference_ci"][0]
        if csi == "online-crc":
            ok, shown = ratio <= ratio_crc, hi <= ratio_crc
        else:
            ok = ratio >= ratio_runaway and dlo > 0
            shown = lo >= ratio_runaway
        return {"claim": claim, "ok": bool(ok), "shown": bool(shown),
                "ratio": ratio, "ci": [lo, hi],
                "detail": detail + f", paired ratio {ratio:.3g} "
                          f"[{lo:.3g}, {hi:.3g}]"}
    ratio = a["ser"] / g["ser"] if g["ser"] > 0 else \
        (1.0 if a["ser"] == 0 else math.inf)
    ok = ratio <= ratio_crc if csi == "online-crc" else \
        (ratio >= ratio_runaway and a["ser_lo"] > g["ser_hi"])
    return {"claim": claim, "ok": bool(ok), "shown": None, "ratio": ratio,
            "ci": None, "detail": detail + f", ratio {ratio:.3g}"}


def markdown_claims(claims):
    """The verdicts of :func:`check_claims` in markdown."""
    lines = ["| must show | holds | interval shows it | detail |",
             "|---|---|---|---|"]
    word = {True: "yes", False: "**no**", None: "-"}
    for c in claims:
        lines.append(f"| {c['claim']} | {word[c['ok']]} | "
                     f"{word[c['shown']]} | {c['detail']} |")
    return "\n".join(lines) + "\n"


def markdown_paired(paired, title=None):
    """The table of :func:`paired_summary` in markdown."""
    lines = [title or (
        f"Paired over the same frames, averaged over blocks, against "
        f"{dict(DETECTORS)[REFERENCE]} (`rxsim.paired."
        "averaged_comparison`):"),
        "",
        "| detector | SER / reference [95%] | difference [95%] | "
        "verdict |",
        "|---|---|---|---|"]
    for r in paired:
        lo, hi = (math.inf if v is None else v for v in r["ratio_ci"])
        dlo, dhi = r["difference_ci"]
        verdict = {"A better": "better than the reference",
                   "B better": "worse than the reference"}.get(
                       r["verdict"], r["verdict"])
        lines.append(f"| {r['name']} | {r['ratio']:.3g} [{lo:.3g}, "
                     f"{hi:.3g}] | {r['difference']:.2e} [{dlo:.2e}, "
                     f"{dhi:.2e}] | {verdict} |")
    return "\n".join(lines) + "\n"


def markdown_table(table, spec):
    """The table of averages (see :func:`summary`) in markdown."""
    o = spec.overheads()
    lines = [f"Time-varying channel, BPSK, L={spec.memory}, "
             f"gamma={spec.gamma:g}, periods={list(spec.periods)}, "
             f"SNR {spec.snr_db:g} dB, {spec.blocks} blocks x "
             f"{spec.block_symbols} symbols ({spec.frames} frames of "
             f"{spec.frame_length}), seed {spec.seed}. Frames: "
             f"{o['info_bits']} information bits + {spec.crc} "
             f"({o['crc_bits']} bits, CRC overhead "
             f"{100 * o['crc_overhead']:.1f}%), 5G LDPC rate "
             f"{o['code_rate']:.3g} ({spec.code_k}, {spec.frame_length}); "
             f"pilot frame of {spec.pilot_symbols} symbols per block "
             f"(overhead {100 * o['pilot_overhead']:.1f}%).",
             "",
             "| detector | blocks | errors / symbols | average SER | "
             "95% CI (frames independent) | BLER (decoded) |",
             "|---|---:|---:|---:|---|---:|"]
    for r in table:
        bler = "-" if r.get("bler") is None else \
            f"{r['frame_errors']}/{r['frames']} = {r['bler']:.3f}"
        lines.append(f"| {r['name']} | {r['blocks']} | {r['errors']} / "
                     f"{r['symbols']} | {r['ser']:.3e} | "
                     f"[{r['ser_lo']:.3e}, {r['ser_hi']:.3e}] | {bler} |")
    return "\n".join(lines) + "\n"


_STYLE = {
    ("bcjr", "perfect"): dict(color="black", ls="-", marker=""),
    ("bcjr", "initial"): dict(color="tab:gray", ls="--", marker=""),
    ("bcjr", "pilots"): dict(color="tab:purple", ls="-.", marker=""),
    ("viterbi", "initial"): dict(color="tab:brown", ls=":", marker=""),
    ("viterbinet", "once"): dict(color="tab:blue", ls="--", marker=""),
    ("viterbinet", "online"): dict(color="tab:red", ls="-", marker="o"),
    ("viterbinet", "online-crc"): dict(color="tab:green", ls="-",
                                       marker="^"),
    ("viterbinet", "online-genie"): dict(color="tab:olive", ls=":",
                                         marker=""),
    ("bcjrnet", "once"): dict(color="tab:orange", ls="--", marker=""),
    ("bcjrnet", "online"): dict(color="tab:red", ls="-", marker="s"),
    ("bcjrnet", "online-crc"): dict(color="tab:green", ls="-", marker="v"),
    ("bcjrnet", "online-genie"): dict(color="tab:olive", ls=":", marker=""),
}


def _ser_curves(ax, curves, table, detectors, averages=True):
    avg = {(r["detector"], r["csi"]): r for r in table}
    for lc in detectors:
        pts = curves.get(lc, [])
        if not pts:
            continue
        t = np.array([r["block"] for r in pts])
        ser = np.array([r["ser"] for r in pts])
        hi = np.array([r["ser_hi"] for r in pts])
        style = _STYLE[lc]
        shown = np.where(ser > 0, ser, np.nan)
        ax.plot(t, shown, lw=1.1, ms=2.5, color=style["color"],
                ls=style["ls"], marker=style["marker"],
                label=dict(DETECTORS)[lc] + (
                    f" (avg {avg[lc]['ser']:.2e})" if averages else ""))
        if np.any(ser == 0):
            ax.plot(t[ser == 0], hi[ser == 0], "v", ms=3,
                    color=style["color"], alpha=0.5)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)


def plot(curves, table, spec, path, formats=("png", "pdf")):
    """Tap trajectories (top) and SER per block per detector (bottom, log
    scale; a block without errors is drawn as a downward triangle at its
    upper bound).

    Output
    ------
    : list of Path written
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    blocks = np.arange(spec.blocks)
    taps = spec.taps(blocks)
    fig, (ax0, ax1) = plt.subplots(
        2, 1, figsize=(9, 9), sharex=True,
        gridspec_kw={"height_ratios": [1, 2.6]})
    for l in range(spec.memory):
        ax0.plot(blocks, taps[:, l], label=f"$h_{l}$ (p={spec.periods[l]:g})")
    ax0.set_ylabel("tap value")
    ax0.grid(True, alpha=0.3)
    ax0.legend(fontsize=7, ncol=spec.memory, loc="upper right")
    _ser_curves(ax1, curves, table, [lc for lc, _ in DETECTORS])
    ax1.set_xlabel("block index t")
    ax1.set_ylabel(f"SER per block ({spec.block_symbols} symbols; "
                   "v: no errors,\nat the 95% upper bound)")
    fig.legend(*ax1.get_legend_handles_labels(), fontsize=7,
               loc="lower center", ncol=3, frameon=False)
    fig.suptitle(f"Time-varying ISI channel, BPSK, L={spec.memory}, "
                 f"$\\gamma$={spec.gamma:g}, SNR {spec.snr_db:g} dB",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    return save_figure(fig, path, formats, dpi=130)


def plot_snrs(runs, path, formats=("png", "pdf")):
    """One row per SNR, one column per learned net: SER per block of the
    net trained once, ungated, CRC-gated and genie-gated, with BCJR
    (true taps, initial taps, per-block pilot estimates).

    Parameters
    ----------
    runs : list of ``(spec, curves, table)``, one per SNR
    path : stem of the figure

    Output
    ------
    : list of Path written
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    fig, axes = plt.subplots(len(runs), 2,
                             figsize=(12, 3.2 * len(runs) + 1.2),
                             sharex=True, squeeze=False)
    model = [("bcjr", "perfect"), ("bcjr", "initial"), ("bcjr", "pilots")]
    for i, (spec, curves, table) in enumerate(runs):
        for j, net in enumerate(LEARNED):
            ax = axes[i, j]
            _ser_curves(ax, curves, table, model + [
                (net, c) for c in ("once", "online", "online-crc",
                                   "online-genie")], averages=False)
            avg = {(r["detector"], r["csi"]): r["ser"] for r in table}
            ax.set_title(
                f"{_NETS[net]}, {spec.snr_db:g} dB: average SER ungated "
                f"{avg[net, 'online']:.2e}, CRC-gated "
                f"{avg[net, 'online-crc']:.2e}, genie "
                f"{avg[net, 'online-genie']:.2e}", fontsize=8)
            if i == len(runs) - 1:
                ax.legend(fontsize=7, loc="upper center", ncol=2,
                          bbox_to_anchor=(0.5, -0.22), frameon=False)
            if j == 0:
                ax.set_ylabel(f"SER per block ({spec.block_symbols} sym.)")
    for ax in axes[-1]:
        ax.set_xlabel("block index t")
    spec = runs[0][0]
    o = spec.overheads()
    fig.suptitle(
        f"Time-varying ISI channel, BPSK, L={spec.memory}, "
        f"$\\gamma$={spec.gamma:g}: online retraining ungated, CRC-gated "
        f"({spec.crc}, LDPC ({spec.code_k},{spec.frame_length})), "
        f"genie-gated; pilots {100 * o['pilot_overhead']:.1f}%",
        fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, formats, dpi=110)


def _analyse(spec, db):
    curves = load_rows(spec, db)
    table = summary(curves)
    with ResultsStore(db) as store:
        paired = paired_summary(curves, store.frame_counts, spec)
        gates = gate_comparisons(curves, store.frame_counts, spec)
    return curves, table, paired, gates


def _config(spec):
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(spec).items()}


def _markdown(spec, table, paired, gates):
    text = markdown_table(table, spec)
    if paired:
        text += "\n" + markdown_paired(paired)
    if gates:
        text += "\n" + markdown_paired(
            gates, "Online nets against the genie-gated one of the same "
            "net (paired over the same frames, averaged over blocks):")
    return text


def report(spec, db, out, info=None, figure=True):
    """Write ``<out>.json``, ``<out>.md`` (and the figure, ``<out>.png``
    / ``.pdf``); return the table of averages (:func:`summary`)."""
    curves, table, paired, gates = _analyse(spec, db)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    claims = check_claims({spec.snr_db: {"table": table, "gates": gates}},
                          snrs=(spec.snr_db,))
    payload = {"experiment": EXPERIMENT, "config": _config(spec),
               "config_hash": spec.config_hash, "code_version": __version__,
               "db": str(db), "overheads": spec.overheads(),
               "averages": table, "paired": paired, "gates": gates,
               "claims": claims, "run": info}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    out.with_suffix(".md").write_text(_markdown(spec, table, paired, gates))
    if figure and table:
        plot(curves, table, spec, out)
    return table


def report_snrs(specs, db, out, infos=None, figure=True):
    """The study at several SNRs (one spec each, same store): per SNR the
    files of :func:`report` (``<out>-<snr>dB.*``), and ``<out>.md`` /
    ``<out>.json`` with every table and the verdicts of
    :func:`check_claims`, ``<out>.png`` / ``.pdf`` the figure of
    :func:`plot_snrs`. Returns the claims."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs, results, parts, payload = [], {}, [], []
    infos = infos or [None] * len(specs)
    for spec, info in zip(specs, infos):
        curves, table, paired, gates = _analyse(spec, db)
        report(spec, db, out.with_name(f"{out.name}-{spec.snr_db:g}dB"),
               info, figure=figure)
        runs.append((spec, curves, table))
        results[spec.snr_db] = {"table": table, "gates": gates}
        parts.append(_markdown(spec, table, paired, gates))
        payload.append({"config": _config(spec),
                        "config_hash": spec.config_hash, "averages": table,
                        "paired": paired, "gates": gates, "run": info})
    claims = check_claims(results)
    text = "\n".join(parts) + "\nWhat the study must show " \
        "(`rxsim.studies.time_varying.check_claims`):\n\n" + \
        markdown_claims(claims)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps(
        {"experiment": EXPERIMENT, "code_version": __version__,
         "db": str(db), "overheads": specs[0].overheads(), "runs": payload,
         "claims": claims}, indent=1))
    if figure and all(t for _, _, t in runs):
        plot_snrs(runs, out)
    return claims
