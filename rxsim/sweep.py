"""Run a sweep config point by point into a results store (resumable).

The loop is: for each channel, for each detector, build one link (learned
detectors: one per point, trained on that point's pilots); for each SNR,
skip the point if the store already has it, else simulate it and commit
its row. A killed run therefore loses at most the point in flight,
and a rerun continues where it stopped with the same numbers (each point's
seed depends only on the sweep seed and the point's key).

:func:`simulate_sweep_point` (point -> result), :func:`pending_points`
and :func:`record_point` are shared with the Ray backend
(:mod:`rxsim.ray_backend`), which runs the same points as Ray tasks.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from channels import ISIChannel, PoissonChannel

from . import __version__
from .coded import CodedLink
from .config import snr_to_no
from .link import Link
from .montecarlo import point_seed, simulate_point
from .registry import (DETECTORS, build_detector,
                       check_detector_options, training_options)
from .store import PointKey, ResultsStore
from .pilots import pilot_data
from .transmitter import Transmitter

__all__ = ["SweepPoint", "sweep_points", "build_link", "simulate_sweep_point",
           "checkpoint_dir", "CheckpointWarning",
           "pending_points", "record_point", "run_sweep", "run_study"]


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: what to simulate and how it is keyed."""
    key: PointKey
    channel: object
    detector: object
    seed: int

    @property
    def no(self):
        """Noise variance of this point."""
        return snr_to_no(self.key.snr_db)


def sweep_points(cfg):
    """All points of ``cfg`` in run order (channel, detector, SNR)."""
    points = []
    for channel in cfg.channels:
        for det in cfg.detectors:
            chash = cfg.point_hash(channel, det)
            for snr in cfg.snr_db:
                key = PointKey(experiment=cfg.name, detector=det.label,
                               channel=channel.label, csi=det.csi,
                               snr_db=float(snr), config_hash=chash)
                seed = point_seed(cfg.seed, channel.label, det.label,
                                  det.csi, f"{float(snr):.6f}", chash)
                points.append(SweepPoint(key, channel, det, seed))
    return points


def checkpoint_dir(db_path):
    """Where a sweep caches its trained models: ``<db>.checkpoints/``."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".checkpoints")


class CheckpointWarning(RuntimeWarning):
    """A cached trained model could not be loaded (truncated, corrupt or of
    another architecture); the sweep trains it again and overwrites it."""


def load_checkpoint(cls, stem):
    """The detector of class ``cls`` cached at ``stem`` (``stem.json`` +
    ``stem.weights.h5``), or None where there is none. One that does not
    load is reported (:class:`CheckpointWarning` naming it) and treated as
    absent: a damaged cache must cost time, never a wrong or a failed
    run. Used by sweeps and by the time-varying study."""
    if not Path(f"{stem}.json").exists():
        return None
    try:
        return cls.load(stem)
    except ValueError as exc:
        warnings.warn(
            f"cached model {stem}.json / .weights.h5 does not load ({exc}); "
            "computing it again.", CheckpointWarning, stacklevel=3)
        return None


def _trained(detector, checkpoint, train):
    """``detector`` trained by ``train()``, or loaded from ``checkpoint``
    (``None``: no cache) when an earlier run already trained it. A
    checkpoint that does not load is reported (:class:`CheckpointWarning`
    naming it) and replaced by a newly trained model: a damaged cache
    must cost time, never a wrong or a failed sweep."""
    if checkpoint is not None:
        cached = load_checkpoint(type(detector), checkpoint)
        if cached is not None:
            return cached
    train()
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        detector.save(checkpoint)
    return detector


def _pilots(taps, snrs, train, constellation, csi, channel_kind, seed):
    """``train_symbols`` pilots, frames spread evenly over ``snrs`` (one SNR
    for per-point training), concatenated frame-wise."""
    frame = train["train_frame_length"]
    total = train["train_symbols"]
    if len(snrs) == 1 or total <= frame:
        counts = [total] + [0] * (len(snrs) - 1)
    else:
        frames = -(-total // frame)
        counts = [frame * (frames // len(snrs) + (i < frames % len(snrs)))
                  for i in range(len(snrs))]
    parts = [pilot_data(taps, snr_db=snr, num_symbols=n,
                        constellation=constellation, csi=csi,
                        frame_length=frame,
                        seed=point_seed(seed, "pilots", *(
                            [] if len(snrs) == 1 else [float(snr)])),
                        channel_kind=channel_kind)
             for snr, n in zip(snrs, counts) if n]
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]))


def build_link(cfg, channel, det, snr_db=None, seed=0, checkpoint=None):
    """The link of one (channel, detector) curve.

    A learned detector is trained here, on pilots of the curve's channel
    at ``snr_db`` under its CSI case (seeded by the point's ``seed``), so
    its link belongs to one point, not the whole curve. With
    ``checkpoint`` (a path stem) the trained model is saved there, and a
    later call (a resumed sweep) loads it instead of training again.

    With a ``[code]`` (``cfg.code``) the link is a
    :class:`rxsim.coded.CodedLink` (one codeword per frame); a detector
    whose ``output`` is ``"hard"`` is built with ``hard_out=True`` so the
    decoder gets its own decisions (Viterbi's ML sequence). Learned
    detectors are still trained on uncoded pilots.
    """
    from channels.csi import parse_csi

    taps = channel.tap_array()
    if cfg.code is not None and det.output == "hard":
        problems = check_detector_options(det.name, det.options)
        if problems:
            raise ValueError(f"detector {det.name!r}: " + "; ".join(problems))
        detector = DETECTORS[det.name].build(
            taps, cfg.constellation, {**det.options, "hard_out": True})
    else:
        detector = build_detector(det.name, taps, cfg.constellation,
                                  det.options)
    csi = parse_csi(det.csi)
    if DETECTORS[det.name].learned:
        train = training_options(det.options)

        def fit():
            snrs = cfg.snr_db if train["train_per"] == "channel" else [snr_db]
            y, s = _pilots(taps, snrs, train, cfg.constellation, csi,
                           channel.kind, seed)
            detector.fit(y, s, seed=point_seed(seed, "fit"), verbose=False)

        detector = _trained(detector, checkpoint, fit)
        csi = None   # the CSI case lives in the training data
    channel_cls = PoissonChannel if channel.kind == "poisson" else ISIChannel
    if cfg.code is not None:
        code = cfg.code
        return CodedLink(Transmitter(cfg.constellation),
                         channel_cls(taps, constellation=cfg.constellation),
                         detector, k=code.k, n=code.n, output=det.output,
                         num_iter=code.num_iter, hard_llr=code.hard_llr,
                         interleave=code.interleave, csi=csi)
    return Link(Transmitter(cfg.constellation),
                channel_cls(taps, constellation=cfg.constellation),
                detector, num_symbols=cfg.frame_length, csi=csi)


def curve_seed(cfg, point):
    """Seed of what a curve shares over its SNRs (``train_per =
    "channel"``: the pilots and initial weights of its one model)."""
    return point_seed(cfg.seed, point.channel.label, point.detector.label,
                      point.detector.csi, "curve", point.key.config_hash)


def simulate_sweep_point(cfg, point, links=None, progress=None,
                         checkpoints=None):
    """Simulate one point of ``cfg`` (no store involved).

    The one place that turns a :class:`SweepPoint` into a
    :class:`rxsim.montecarlo.PointResult`; the local runner and the Ray
    tasks (:mod:`rxsim.ray_backend`) both call it, so both give the same
    numbers for the same seeds.

    Parameters
    ----------
    cfg : rxsim.config.SweepConfig
    point : SweepPoint
    links : None or dict
        Cache of built links of model-based curves (and of learned ones
        with ``train_per = "channel"``), keyed by ``(channel, detector
        label)``; a learned detector trained per point is never cached.
    progress : None or callable ``progress(errors, symbols)`` per batch.
    checkpoints : None or Path
        Directory caching trained learned detectors, one per point, named
        by the curve's config hash and the point's seed.

    Output
    ------
    : rxsim.montecarlo.PointResult
    """
    learned = DETECTORS[point.detector.name].learned
    per_point = learned and training_options(
        point.detector.options)["train_per"] == "point"
    if per_point:
        checkpoint = None if checkpoints is None else (
            Path(checkpoints) / f"{point.key.config_hash}-{point.seed}")
        link = build_link(cfg, point.channel, point.detector,
                          point.key.snr_db, point.seed, checkpoint)
    elif learned:
        # one model per channel: seeded by the curve, cached like a
        # model-based link and checkpointed once per curve
        curve = (point.channel, point.detector.label)
        link = links.get(curve) if links is not None else None
        if link is None:
            seed = curve_seed(cfg, point)
            checkpoint = None if checkpoints is None else (
                Path(checkpoints) / f"{point.key.config_hash}-{seed}")
            link = build_link(cfg, point.channel, point.detector, None,
                              seed, checkpoint)
            if links is not None:
                links[curve] = link
    else:
        curve = (point.channel, point.detector.label)
        link = links.get(curve) if links is not None else None
        if link is None:
            link = build_link(cfg, point.channel, point.detector)
            if links is not None:
                links[curve] = link
    return simulate_point(
        link, point.no, batch_size=cfg.batch_size,
        target_errors=cfg.target_errors, max_symbols=cfg.max_symbols,
        seed=point.seed, xla=cfg.xla, confidence=cfg.confidence,
        progress=progress)


def pending_points(cfg, store, on_point=None):
    """The points of ``cfg`` not yet in ``store``, in run order.

    ``on_point(point, None)`` is called for every finished (skipped) one.

    Output
    ------
    : (list of SweepPoint, int), the pending points and the skipped count
    """
    pending, skipped = [], 0
    for point in sweep_points(cfg):
        if store.has_point(point.key):
            skipped += 1
            if on_point:
                on_point(point, None)
        else:
            pending.append(point)
    return pending, skipped


def record_point(store, point, result):
    """Commit one finished point (``INSERT OR IGNORE``: never a duplicate).

    Output
    ------
    : bool, True if the row was written
    """
    return store.add_point(point.key, result, seed=point.seed,
                           code_version=__version__)


def run_sweep(cfg, db_path, progress=None, on_point=None):
    """Simulate every unfinished point of ``cfg`` into ``db_path``.

    Points run one after another in this process; see
    :func:`rxsim.ray_backend.run_sweep_ray` for the Ray backend.

    Parameters
    ----------
    cfg : rxsim.config.SweepConfig
    db_path : str or Path of the SQLite store (created if missing)
    progress : None or callable ``progress(point) -> callback`` returning
        the per-batch callback ``callback(errors, symbols)`` of one point
        (the CLI wires a progress bar here).
    on_point : None or callable ``on_point(point, result_or_None)`` after
        each point (``None`` when it was skipped as already finished).

    Output
    ------
    : (int, int), points simulated now and points skipped (resumed)
    """
    done = 0
    links = {}
    with ResultsStore(db_path) as store:
        pending, skipped = pending_points(cfg, store, on_point)
        for point in pending:
            if store.has_point(point.key):   # another run finished it
                skipped += 1
                if on_point:
                    on_point(point, None)
                continue
            result = simulate_sweep_point(
                cfg, point, links,
                progress=progress(point) if progress else None,
                checkpoints=checkpoint_dir(db_path))
            record_point(store, point, result)
            done += 1
            if on_point:
                on_point(point, result)
    return done, skipped


def run_study(cfg, db_path, quiet=False):
    """Run (or resume) ``cfg`` into ``db_path`` with a progress bar on
    stderr, for scripts that summarise a sweep (``scripts/reproduce.py``,
    ``scripts/training_size.py``).

    Output
    ------
    : (list of dict, int, int, float): the store's rows of this config
      (its experiment and curve hashes; rows of older versions of the
      config are left out), points simulated now, points resumed, and
      the wall time in seconds
    """
    import sys
    import time

    from tqdm import tqdm

    points = sweep_points(cfg)
    bar = tqdm(total=len(points), desc=cfg.name, unit="pt", disable=quiet,
               file=sys.stderr)
    start = time.perf_counter()
    done, skipped = run_sweep(cfg, db_path,
                              on_point=lambda p, r: bar.update())
    bar.close()
    seconds = time.perf_counter() - start
    hashes = {p.key.config_hash for p in points}
    with ResultsStore(db_path) as store:
        rows = [r for r in store.points(experiment=cfg.name)
                if r["config_hash"] in hashes]
    return rows, done, skipped, seconds
