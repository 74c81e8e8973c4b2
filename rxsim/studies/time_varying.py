r"""Time-varying ISI channel: learned detectors trained once vs retrained
online from their own decisions, against model-based BCJR / Viterbi.

Channel (ViterbiNet paper, Sec. V; :func:`channels.time_varying_taps`):
BPSK over ``L = 4`` taps ``h_l(t) = exp(-gamma l) (0.8 + 0.2 cos(2 pi t /
p_l))``, ``p = (51, 39, 33, 21)`` blocks, fixed within block ``t``; one SNR
per run (``no = 10**(-snr/10)``, unnormalised taps).

Detectors (all on the same received block, so comparisons are paired):

=====================  =============  ======================================
label (store)          csi (store)    what it is
=====================  =============  ======================================
``bcjr``               ``perfect``    BCJR with the true taps of block t
``bcjr``               ``initial``    BCJR with the taps of t = 0
``viterbi``            ``initial``    Viterbi with the taps of t = 0
``viterbinet``         ``once``       ViterbiNet trained on pilots of the
                                      t = 0 channel, never retrained
``viterbinet``         ``online``     the same, then after every block
                                      retrained on that block's own hard
                                      decisions (``adapt``, full-batch
                                      steps, decision-directed)
``bcjrnet``            ``once`` /     LearnedFactorGraph (BCJRNet), as
                       ``online``     ViterbiNet
=====================  =============  ======================================

Per block: draw the block's symbols and noise from a seed that depends only
on ``(seed, t)``, pass them through the channel of block t, detect with
every detector, commit one store row per (detector, block) (a
:class:`rxsim.montecarlo.PointResult` whose SER interval counts frames as
the independent units, with its design effect ``ser_deff``), then adapt
the online learners on the block and checkpoint them with
:meth:`detectors.learned.LearnedDetector.save` under the sweep's
checkpoint directory (``<db stem>.checkpoints/time_varying-<config
hash>/``).

Resume: a rerun skips every block whose rows and checkpoints are all
there, loads the online models saved after the last finished block and
continues; the numbers are identical to an uninterrupted run (stateless
seeds, exact checkpoints). A checkpoint that does not load (truncated,
edited) is reported and recomputed from the last one that does, never
fatal. The config hash (:func:`rxsim.config.config_hash`) covers
everything that changes the numbers except the number of blocks, so a run
of 200 blocks after one of 100 adds blocks 100..199 to the same curves.

Differences from the paper: the paper retrains on blocks that a
Reed-Solomon decoder accepted, with the re-encoded codewords as labels;
here the detectors retrain on their raw hard decisions (uncoded, no
check), so wrong decisions enter training as they are. At 10 dB the online
nets track the channel to within ~25% of the perfect-CSI BCJR's SER; at
lower SNR, where blocks hold a few % errors, the retraining can run away
(SER drifting to 0.5 and staying there; measured with seed 1, 60 blocks of
2000 symbols: BCJRNet at 8 dB, both nets at 6 dB), which is what the
paper's code-gated retraining avoids.

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

from channels import PAPER_PERIODS, time_varying_taps
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

__all__ = ["TimeVaryingSpec", "DETECTORS", "EXPERIMENT", "block_seed",
           "block_data", "block_of", "block_result", "checkpoint_dir",
           "run", "load_rows", "summary", "markdown_table", "REFERENCE",
           "paired_summary", "markdown_paired", "plot", "report"]

EXPERIMENT = "time_varying"
# Bump when the simulation changes its numbers. 2: frame-based SER
# intervals with their design effect (1 had symbol-based ones).
PROTOCOL = 2

#: (label, csi) of every detector, in run order, and its display name.
DETECTORS = (
    (("bcjr", "perfect"), "BCJR, perfect CSI"),
    (("bcjr", "initial"), "BCJR, initial CSI (t=0)"),
    (("viterbi", "initial"), "Viterbi, initial CSI (t=0)"),
    (("viterbinet", "once"), "ViterbiNet, trained once"),
    (("viterbinet", "online"), "ViterbiNet, online"),
    (("bcjrnet", "once"), "BCJRNet, trained once"),
    (("bcjrnet", "online"), "BCJRNet, online"),
)
LEARNED = {"viterbinet": ViterbiNet, "bcjrnet": LearnedFactorGraph}
ONLINE = tuple(name for (name, csi), _ in DETECTORS if csi == "online")

_BLOCK_RE = re.compile(r"block=(\d+)$")


@dataclass(frozen=True)
class TimeVaryingSpec:
    """What one run of the study simulates (defaults: the full study).

    Parameters
    ----------
    blocks : int
        Blocks ``t = 0 .. blocks-1``.
    block_symbols : int
        Symbols per block: a multiple of ``frame_length``, or at most it.
    frame_length : int
        Symbols per frame inside a block, each after the preamble.
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
    >>> spec.blocks, spec.block_symbols
    (12, 2000)
    >>> spec.config_hash == TimeVaryingSpec.quick(blocks=30).config_hash
    True
    >>> TimeVaryingSpec(block_symbols=700)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `block_symbols` (700) must be a multiple of ...
    """

    blocks: int = 100
    block_symbols: int = 5000
    frame_length: int = 500
    snr_db: float = 10.0
    gamma: float = 0.2
    memory: int = 4
    periods: tuple = PAPER_PERIODS
    amplitude: float = 0.2
    train_symbols: int = 5000
    adapt_epochs: int = 20
    seed: int = 1

    def __post_init__(self):
        for name in ("blocks", "block_symbols", "frame_length", "memory",
                     "train_symbols", "adapt_epochs"):
            object.__setattr__(self, name, check_int(getattr(self, name),
                                                     name))
        object.__setattr__(self, "seed", check_int(self.seed, "seed", 0))
        for name in ("block_symbols", "train_symbols"):
            n = getattr(self, name)
            if n > self.frame_length and n % self.frame_length:
                raise ValueError(
                    f"`{name}` ({n}) must be a multiple of `frame_length` "
                    f"({self.frame_length}) or at most it.")
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
        """The ``--quick`` study: 12 blocks of 2000 symbols (1-2 min on 2
        cores), with ``changes`` applied."""
        return cls(**{"blocks": 12, "block_symbols": 2000, **changes})

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
    """Seed of block ``block``'s symbols and noise: depends on (seed, t)
    only, so any block can be regenerated alone (resume)."""
    return point_seed(seed, EXPERIMENT, "block", int(block))


def block_data(spec, block):
    """``(taps [L], y [frames, T], s [frames, T])`` of one block."""
    taps = spec.taps(block)
    y, s = pilot_data(taps, snr_db=spec.snr_db,
                      num_symbols=spec.block_symbols,
                      frame_length=spec.frame_length,
                      seed=block_seed(spec.seed, block))
    return taps, y, s


def block_result(s, s_hat, *, wall_time, seed, confidence=0.95):
    """The :class:`rxsim.montecarlo.PointResult` of one detected block.

    As in the Monte Carlo engine, frames (rows of ``s``) are the
    independent units of the SER interval: its counts are divided by the
    design effect of the per-frame errors (``ser_deff``). BPSK: one bit
    per symbol, the bit label of index ``i`` is ``i``.

    Parameters
    ----------
    s, s_hat : [frames, T], int
        Sent and detected symbol indices.
    wall_time : float
        Seconds the detection took.
    seed : int
        The block's seed (:func:`block_seed`).
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


def _stem(ckdir, name, block):
    tag = "initial" if block is None else f"after-{block:05d}"
    return Path(ckdir) / f"{name}-{tag}"


def _exists(stem):
    return Path(f"{stem}.json").exists() and \
        Path(f"{stem}.weights.h5").exists()


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
        """The online models that detect block ``block``: those after
        block ``block - 1``."""
        if self.online_after != block - 1:
            self.online = {n: self._after(n, block - 1) for n in ONLINE}
            self.online_after = block - 1
        return self.online

    def adapt(self, block, y):
        """Retrain the online models on block ``block`` and checkpoint."""
        for name, det in self.online.items():
            det.adapt(y, epochs=self.spec.adapt_epochs)
            det.save(_stem(self.ckdir, name, block))
        self.online_after = block

    def _after(self, name, block):
        """Online ``name`` after block ``block`` (-1: the initial model):
        the newest loadable checkpoint at or before ``block``, adapted on
        the blocks after it."""
        last, det = block, None
        while last >= 0:
            det = load_checkpoint(LEARNED[name], _stem(self.ckdir, name, last))
            if det is not None:
                break
            last -= 1
        if det is None:
            det = self.initial(name)
        for t in range(last + 1, block + 1):
            self.log(f"recomputing online {name} after block {t}")
            det.adapt(block_data(self.spec, t)[1],
                      epochs=self.spec.adapt_epochs)
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
      ``blocks_skipped`` (finished before), ``rows_added``, ``seconds``
    """
    t_start = time.perf_counter()
    chash = spec.config_hash
    ckdir = checkpoint_dir(spec, db)
    no = snr_to_no(spec.snr_db)
    taps0 = spec.taps(0)
    bcjr_perfect = BCJRDetector(taps0, hard_out=True)
    fixed = {("bcjr", "initial"): BCJRDetector(taps0, hard_out=True),
             ("viterbi", "initial"): ViterbiDetector(taps0, hard_out=True)}
    models = _Models(spec, ckdir, log)
    once = None
    rows_added = blocks_run = blocks_skipped = 0

    def key(label, csi, t):
        return PointKey(experiment=EXPERIMENT, detector=label,
                        channel=spec.channel_label(t), csi=csi,
                        snr_db=spec.snr_db, config_hash=chash)

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    with ResultsStore(db) as store:
        for t in range(spec.blocks):
            keys = {lc: key(*lc, t) for lc, _ in DETECTORS}
            missing = [lc for lc, k in keys.items() if not store.has_point(k)]
            if not missing and all(_exists(_stem(ckdir, n, t))
                                   for n in ONLINE):
                blocks_skipped += 1
                continue
            if once is None:
                once = {n: models.initial(n) for n in LEARNED}
            online = models.online_before(t)
            taps, y, s = block_data(spec, t)
            seed = block_seed(spec.seed, t)
            sers = {}
            for lc in missing:
                name, csi = lc
                t0 = time.perf_counter()
                if lc == ("bcjr", "perfect"):
                    s_hat = bcjr_perfect(y, no, taps=taps)
                elif csi == "initial":
                    s_hat = fixed[lc](y, no)
                elif csi == "once":
                    s_hat = once[name](y, no)
                else:
                    s_hat = online[name](y, no)
                s_hat = np.asarray(s_hat)
                res = block_result(s, s_hat,
                                   wall_time=time.perf_counter() - t0,
                                   seed=seed)
                rows_added += int(store.add_point(
                    keys[lc], res, seed=seed, code_version=__version__))
                sers[lc] = res.ser
            # Decision-directed retraining on this block, then checkpoint:
            # the models after block t are what block t+1 is detected with.
            models.adapt(t, y)
            blocks_run += 1
            if sers:
                log(f"block {t:4d}  h={np.array2string(taps, precision=3)}  "
                    + "  ".join(f"{n}/{c}={v:.2e}"
                                for (n, c), v in sers.items()))
    return {"config_hash": chash, "blocks_run": blocks_run,
            "blocks_skipped": blocks_skipped, "rows_added": rows_added,
            "seconds": time.perf_counter() - t_start}


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
    frames of all blocks are the independent units).

    Parameters
    ----------
    curves : dict ``(label, csi) -> [row]`` (see :func:`load_rows`)
    confidence : float

    Output
    ------
    : list of dict ``detector, csi, name, blocks, errors, symbols, ser,
      ser_lo, ser_hi``, in the order of :data:`DETECTORS`

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
        out.append({"detector": lc[0], "csi": lc[1], "name": name,
                    "blocks": p.count, "errors": p.errors,
                    "symbols": p.trials, "ser": p.rate, "ser_lo": p.lo,
                    "ser_hi": p.hi})
    return out


#: The detector every other one is compared with, frame by frame.
REFERENCE = ("bcjr", "perfect")


def paired_summary(curves, frame_counts, spec, confidence=0.95):
    """Each detector's block-averaged SER against BCJR with the true taps
    (:data:`REFERENCE`), paired frame by frame within each block (all
    detectors detect the same received blocks) and averaged over the
    blocks as strata (:func:`rxsim.paired.averaged_comparison`).

    Parameters
    ----------
    curves : dict ``(label, csi) -> [row]`` (see :func:`load_rows`)
    frame_counts : callable ``row -> dict`` (e.g.
        :meth:`rxsim.ResultsStore.frame_counts`)
    spec : TimeVaryingSpec
    confidence : float

    Output
    ------
    : list of dict ``detector, csi, name, blocks, ser, ser_reference,
      ratio, ratio_ci, difference, difference_ci, verdict, p_value`` (A:
      the detector, B: the reference; an unbounded interval end is
      ``None``), in the order of :data:`DETECTORS`; empty without the
      reference or frame counts
    """
    ref = {r["block"]: r for r in curves.get(REFERENCE, [])}
    names = dict(DETECTORS)
    out = []
    for lc, pts in curves.items():
        if lc == REFERENCE or not ref:
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


def markdown_paired(paired):
    """The table of :func:`paired_summary` in markdown."""
    lines = [f"Paired over the same frames, averaged over blocks, against "
             f"{dict(DETECTORS)[REFERENCE]} (`rxsim.paired."
             "averaged_comparison`):",
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
    lines = [f"Time-varying channel, BPSK, L={spec.memory}, "
             f"gamma={spec.gamma:g}, periods={list(spec.periods)}, "
             f"SNR {spec.snr_db:g} dB, {spec.blocks} blocks x "
             f"{spec.block_symbols} symbols, seed {spec.seed}.",
             "",
             "| detector | blocks | errors / symbols | average SER | "
             "95% CI (frames independent) |",
             "|---|---:|---:|---:|---|"]
    for r in table:
        lines.append(f"| {r['name']} | {r['blocks']} | {r['errors']} / "
                     f"{r['symbols']} | {r['ser']:.3e} | "
                     f"[{r['ser_lo']:.3e}, {r['ser_hi']:.3e}] |")
    return "\n".join(lines) + "\n"


_STYLE = {
    ("bcjr", "perfect"): dict(color="black", ls="-", marker=""),
    ("bcjr", "initial"): dict(color="tab:gray", ls="--", marker=""),
    ("viterbi", "initial"): dict(color="tab:brown", ls=":", marker=""),
    ("viterbinet", "once"): dict(color="tab:blue", ls="--", marker=""),
    ("viterbinet", "online"): dict(color="tab:blue", ls="-", marker="o"),
    ("bcjrnet", "once"): dict(color="tab:orange", ls="--", marker=""),
    ("bcjrnet", "online"): dict(color="tab:orange", ls="-", marker="s"),
}


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
        2, 1, figsize=(9, 8), sharex=True,
        gridspec_kw={"height_ratios": [1, 2.4]})
    for l in range(spec.memory):
        ax0.plot(blocks, taps[:, l], label=f"$h_{l}$ (p={spec.periods[l]:g})")
    ax0.set_ylabel("tap value")
    ax0.grid(True, alpha=0.3)
    ax0.legend(fontsize=7, ncol=spec.memory, loc="upper right")
    avg = {(r["detector"], r["csi"]): r for r in table}
    for lc, name in DETECTORS:
        pts = curves.get(lc, [])
        if not pts:
            continue
        t = np.array([r["block"] for r in pts])
        ser = np.array([r["ser"] for r in pts])
        hi = np.array([r["ser_hi"] for r in pts])
        style = _STYLE[lc]
        shown = np.where(ser > 0, ser, np.nan)
        ax1.plot(t, shown, lw=1.2, ms=3, color=style["color"],
                 ls=style["ls"], marker=style["marker"],
                 label=f"{name} (avg {avg[lc]['ser']:.2e})")
        if np.any(ser == 0):
            ax1.plot(t[ser == 0], hi[ser == 0], "v", ms=4,
                     color=style["color"], alpha=0.6)
    ax1.set_yscale("log")
    ax1.set_xlabel("block index t")
    ax1.set_ylabel(f"SER per block ({spec.block_symbols} symbols; "
                   "v: no errors,\nat the 95% upper bound)")
    ax1.grid(True, which="both", alpha=0.3)
    # Below the axes, in a strip kept free by tight_layout: the curves
    # fill the panel.
    fig.legend(*ax1.get_legend_handles_labels(), fontsize=7.5,
               loc="lower center", ncol=3, frameon=False)
    fig.suptitle(f"Time-varying ISI channel, BPSK, L={spec.memory}, "
                 f"$\\gamma$={spec.gamma:g}, SNR {spec.snr_db:g} dB",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, path, formats, dpi=130)


def report(spec, db, out, info=None, figure=True):
    """Write ``<out>.json``, ``<out>.md`` (and the figure, ``<out>.png``
    / ``.pdf``); return the table of averages (:func:`summary`)."""
    curves = load_rows(spec, db)
    table = summary(curves)
    with ResultsStore(db) as store:
        paired = paired_summary(curves, store.frame_counts, spec)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in dataclasses.asdict(spec).items()}
    payload = {"experiment": EXPERIMENT, "config": config,
               "config_hash": spec.config_hash, "code_version": __version__,
               "db": str(db), "averages": table, "paired": paired,
               "run": info}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    out.with_suffix(".md").write_text(
        markdown_table(table, spec)
        + (("\n" + markdown_paired(paired)) if paired else ""))
    if figure and table:
        plot(curves, table, spec, out)
    return table
