"""Run a sweep config point by point into a results store (resumable).

The loop is: for each channel, for each detector, build one link (learned
detectors: one per point, trained on that point's pilots); for each SNR,
skip the point if the store already has it, else simulate it and commit
its row. A killed run therefore loses at most the point in flight,
and a rerun continues where it stopped with the same numbers.

Common random numbers: a point's seed (:func:`data_seed`) depends on the
sweep seed, the link and channel settings (:meth:`rxsim.config.SweepConfig.
data_hash`) and the SNR, never on the detector, so every detector of a
point sees the same frames, channel realisations and noise, batch by batch
(a detector that stops earlier saw a prefix of them), and the numbers of
one detector do not depend on which others a config lists. Pilots depend
on the same settings, the SNR, the pilots' CSI case and the training
replicate (``train_seed``), so learned detectors of a point train on the
same pilots, and the ``estimated:from=training`` baseline estimates its
channel from them too. What stays a detector's own is what the detector
draws: its initial weights and minibatches (the fit seed mixes in its
label).

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
from .registry import DETECTORS, check_detector_options, training_options
from .store import PointKey, ResultsStore
from .pilots import pilot_data
from .transmitter import Transmitter

__all__ = ["SweepPoint", "sweep_points", "data_seed", "pilot_seed",
           "fit_seed", "build_link", "simulate_sweep_point",
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


def data_seed(cfg, channel, snr_db):
    """Seed of the data of one (channel, SNR) point, shared by all its
    detectors (common random numbers)."""
    return point_seed(cfg.seed, "data", cfg.data_hash(channel),
                      float(snr_db))


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
                points.append(SweepPoint(key, channel, det,
                                         data_seed(cfg, channel, snr)))
    return points


def pilot_seed(cfg, channel, csi, train_seed=0):
    """Base seed of the pilots of a channel under the pilots' CSI case
    ``csi`` and training replicate ``train_seed`` (see :func:`_pilots`)."""
    from channels.csi import parse_csi
    return point_seed(cfg.seed, "pilots", cfg.data_hash(channel),
                      str(parse_csi(csi)), int(train_seed))


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
    for per-point training), concatenated frame-wise. The frames of one
    SNR are drawn from ``point_seed(seed, "pilots", snr)``, so per-point
    and per-channel training see the same pilot stream at an SNR; with
    ``pilots_across_snr = "reuse"`` (the authors' recipe) the symbols and
    believed taps come from ``point_seed(seed, "pilots")`` at every SNR
    and only the noise is fresh (``point_seed(seed, "pilots-noise",
    snr)``), as in the authors' script."""
    reuse = train.get("pilots_across_snr", "fresh") == "reuse"
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
                            [] if reuse else [float(snr)])),
                        noise_seed=(point_seed(seed, "pilots-noise",
                                               float(snr)) if reuse
                                    else None),
                        channel_kind=channel_kind)
             for snr, n in zip(snrs, counts) if n]
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]))


def _point_pilots(cfg, channel, snrs, train, csi):
    """The pilots ``(y, s)`` of a channel at ``snrs`` under the pilots' CSI
    case ``csi`` and the replicate ``train["train_seed"]``: what a learned
    detector trains on, and what the ``estimated:from=training`` baseline
    of the same point estimates from (one function, so they cannot
    drift apart)."""
    return _pilots(channel.tap_array(), snrs, train, cfg.constellation, csi,
                   channel.kind,
                   pilot_seed(cfg, channel, csi, train["train_seed"]))


def fit_seed(cfg, channel, det, snr_db=None):
    """Seed of a learned detector's own randomness (initial weights,
    minibatches) at one point (``snr_db``; ``None``: the one model of a
    ``train_per = "channel"`` curve). It mixes in the detector's label,
    so two entries never share it; it also names the point's checkpoint."""
    base = pilot_seed(cfg, channel, det.csi,
                      training_options(det.options)["train_seed"])
    return point_seed(base, "fit", det.label,
                      "curve" if snr_db is None else float(snr_db))


def _estimated_from_training(cfg, channel, csi, snr_db, train_seed=0):
    """``(taps, noise variance)`` a model-based receiver estimates by least
    squares from the pilots a learned detector trains on at this point
    (CSI case ``estimated:from=training``): the same pilot frames, drawn
    from the same seed under the same CSI case of the pilots' channel."""
    from channels.csi import estimate_channel_ls
    from signals.constellations import constellation_points

    train = training_options({"train_seed": int(train_seed)})
    if csi.params.get("pilots") is not None:
        train["train_symbols"] = csi.params["pilots"]
    y, s = _point_pilots(cfg, channel, [snr_db], train, csi.training_csi)
    points = constellation_points(cfg.constellation).numpy()
    taps, no = estimate_channel_ls(y, points[s], channel.memory,
                                   preamble_point=points[0])
    return np.asarray(taps), float(no)


def build_link(cfg, channel, det, snr_db=None, checkpoint=None):
    """The link of one (channel, detector) curve, or of one point.

    A learned detector is trained here, on pilots of the curve's channel
    at ``snr_db`` (``None``: spread over the SNR grid, ``train_per =
    "channel"``) under its CSI case, so its link belongs to one point,
    not the whole curve. With ``checkpoint`` (a path stem) the trained
    model is saved there, and a later call (a resumed sweep) loads it
    instead of training again. A model-based detector under
    ``estimated:from=training`` estimates its taps and noise variance
    from the same pilots (its link, too, belongs to one point).

    With a ``[code]`` (``cfg.code``) the link is a
    :class:`rxsim.coded.CodedLink` (one codeword per frame); a detector
    whose ``output`` is ``"hard"`` is built with ``hard_out=True`` so the
    decoder gets its own decisions (Viterbi's ML sequence). Learned
    detectors are still trained on uncoded pilots.
    """
    from channels.csi import parse_csi

    taps = channel.tap_array()
    csi = parse_csi(det.csi)
    noise_variance = None
    believed = taps
    if csi.from_training:
        if snr_db is None:
            raise ValueError(f"detector {det.label!r}: CSI "
                             f"{det.csi!r} is estimated per point; build "
                             "its link with snr_db.")
        believed, noise_variance = _estimated_from_training(
            cfg, channel, csi, snr_db, det.options.get("train_seed", 0))
        csi = None
    # (the registry's build leaves out the pilot options, train_seed too)
    options = dict(det.options)
    if cfg.code is not None and det.output == "hard":
        options["hard_out"] = True
    problems = check_detector_options(det.name, det.options)
    if problems:
        raise ValueError(f"detector {det.name!r}: " + "; ".join(problems))
    detector = DETECTORS[det.name].build(believed, cfg.constellation,
                                         options)
    if DETECTORS[det.name].learned:
        def fit():
            y, s = _point_pilots(
                cfg, channel, cfg.snr_db if snr_db is None else [snr_db],
                training_options(det.options), csi)
            detector.fit(y, s, seed=fit_seed(cfg, channel, det, snr_db),
                         verbose=False)

        detector = _trained(detector, checkpoint, fit)
        csi = None   # the CSI case lives in the training data
    channel_cls = PoissonChannel if channel.kind == "poisson" else ISIChannel
    if cfg.code is not None:
        code = cfg.code
        return CodedLink(Transmitter(cfg.constellation),
                         channel_cls(taps, constellation=cfg.constellation),
                         detector, k=code.k, n=code.n, output=det.output,
                         num_iter=code.num_iter, hard_llr=code.hard_llr,
                         interleave=code.interleave, csi=csi,
                         noise_variance=noise_variance)
    return Link(Transmitter(cfg.constellation),
                channel_cls(taps, constellation=cfg.constellation),
                detector, num_symbols=cfg.frame_length, csi=csi,
                noise_variance=noise_variance)


def _per_point(det):
    """Whether a detector entry's link belongs to one point (trained or
    estimated there) rather than to its whole curve."""
    from channels.csi import parse_csi

    if DETECTORS[det.name].learned:
        return training_options(det.options)["train_per"] == "point"
    return parse_csi(det.csi).from_training


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
        Cache of built links of whole curves (model-based, and learned
        with ``train_per = "channel"``), keyed by ``(channel, detector
        label)``; a link that belongs to one point (a learned detector
        trained per point, a receiver estimating from its pilots) is
        never cached.
    progress : None or callable ``progress(errors, symbols)`` per batch.
    checkpoints : None or Path
        Directory caching trained learned detectors, named by the curve's
        config hash and the model's :func:`fit_seed`.

    Output
    ------
    : rxsim.montecarlo.PointResult
    """
    det, channel = point.detector, point.channel
    learned = DETECTORS[det.name].learned
    if _per_point(det):
        snr = point.key.snr_db
        link = None
    else:
        snr = None
        curve = (channel, det.label)
        link = links.get(curve) if links is not None else None
    if link is None:
        checkpoint = None
        if learned and checkpoints is not None:
            checkpoint = Path(checkpoints) / (
                f"{point.key.config_hash}-{fit_seed(cfg, channel, det, snr)}")
        link = build_link(cfg, channel, det, snr, checkpoint)
        if snr is None and links is not None:
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
