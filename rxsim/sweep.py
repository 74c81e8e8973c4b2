"""Run a sweep config point by point into a results store (resumable).

The loop is: for each channel, for each SNR, the detectors of that
(channel, SNR) whose points the store does not have yet run together
(:func:`point_groups`): each gets its link (model-based detectors: one per
curve, built once; learned detectors: one per point, trained on that
point's pilots), every batch is drawn once for all of them
(:func:`rxsim.montecarlo.simulate_points`), and each point's row is
committed as soon as that detector stops. A killed run therefore loses at
most the points in flight, and a rerun continues where it stopped with the
same numbers.

Common random numbers: a point's seed (:func:`data_seed`) depends on the
sweep seed, the link and channel settings (:meth:`rxsim.config.SweepConfig.
data_hash`) and the SNR, never on the detector, so every detector of a
point sees the same frames, channel realisations and noise, batch by batch
(a detector that stops earlier saw a prefix of them; the batch is drawn
once for all of them), and the numbers of one detector do not depend on
which others a config lists or which of them a resumed run still has to
simulate. Pilots depend
on the same settings, the SNR, the pilots' CSI case and the training
replicate (``train_seed``), so learned detectors of a point train on the
same pilots, and the ``estimated:from=training`` baseline estimates its
channel from them too. What stays a detector's own is what the detector
draws: its initial weights and minibatches (the fit seed mixes in its
label).

:func:`simulate_sweep_points` (points of one group -> results),
:func:`point_groups`, :func:`pending_points` and :func:`record_point` are
shared with the Ray backend (:mod:`rxsim.ray_backend`), which runs the
same groups as Ray tasks.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .coded import CodedLink
from .config import snr_to_no
from .link import Link
from .montecarlo import point_seed, simulate_points
from .registry import (DETECTORS, check_detector_options, entry_for,
                       training_options)
from .store import PointKey, ResultsStore, normalise_snr
from .pilots import pilot_data
from .transmitter import Transmitter

__all__ = ["SweepPoint", "noise_variance", "point_noise_variance",
           "sweep_points", "point_groups", "data_seed",
           "pilot_seed", "fit_seed", "build_link", "simulate_sweep_point",
           "simulate_sweep_points",
           "checkpoint_dir", "CheckpointWarning",
           "pending_points", "record_point", "run_sweep", "run_study"]


def noise_variance(value_db, *, axis="snr", taps=None, constellation="bpsk",
                   coderate=1.0):
    """Noise variance ``no`` of a grid value in dB: the one place that
    turns the ``[sweep] snr_db`` grid into noise, for both backends.

    - ``axis = "snr"``: ``no = 10**(-value_db/10)`` with unnormalised taps
      (:func:`rxsim.config.snr_to_no`; ``taps``, ``constellation`` and
      ``coderate`` are not used).
    - ``axis = "ebno"``: ``value_db`` is Eb/N0 in dB and

      ``no = ebnodb2no(value_db, bits_per_symbol, coderate) * sum_l |h_l|^2
      (/ 2 for a real constellation)``

      with Sionna's :func:`sionna.phy.utils.ebnodb2no`, i.e. ``N0 = Es /
      (coderate * bits_per_symbol * Eb/N0)``, where ``Es = sum_l |h_l|^2``
      is the received energy per symbol (rxsim's constellations have unit
      energy, the taps are the channel's true ones). ``coderate`` is
      ``k/n`` of the ``[code]`` (1 uncoded). For a complex constellation
      rxsim's ``no`` is the total complex variance (as Sionna's AWGN), so
      ``no = N0``; for a real one (PAM, BPSK: real ``y``) it is the
      variance per real dimension, ``N0/2`` (what Sionna's complex AWGN of
      variance ``N0`` puts on the real part). The preamble's ``L-1``
      symbols per frame are not counted as overhead.

    Example
    -------
    >>> from rxsim.sweep import noise_variance
    >>> noise_variance(10.0)
    0.1
    >>> round(noise_variance(0.0, axis="ebno", taps=[1.0],
    ...                      constellation="bpsk"), 12)                      # Q(sqrt(2 Eb/N0)) for BPSK
    0.5
    >>> round(noise_variance(0.0, axis="ebno", taps=[1.0, 1.0],
    ...                      constellation="qpsk", coderate=0.5), 12)
    2.0
    """
    if axis == "snr":
        return snr_to_no(value_db)
    if axis != "ebno":
        raise ValueError(f"`axis` must be 'snr' or 'ebno', got {axis!r}.")
    from sionna.phy.utils import ebnodb2no
    from signals.constellations import (constellation_name, is_real,
                                        make_constellation)

    if taps is None:
        raise ValueError("axis 'ebno' needs the channel's `taps` (their "
                         "energy is the received energy per symbol).")
    c = make_constellation(constellation)
    energy = np.mean(np.abs(np.asarray(c.points)) ** 2)
    if constellation_name(c) == "ook" or not np.isclose(energy, 1.0):
        raise ValueError(f"axis 'ebno' needs a unit-energy PAM or QAM "
                         f"constellation, got {constellation!r}.")
    energy = float(np.sum(np.abs(np.asarray(taps)) ** 2))
    no = float(ebnodb2no(float(value_db), c.num_bits_per_symbol,
                         float(coderate), precision="double")) * energy
    return no / 2.0 if is_real(c) else no


def point_noise_variance(cfg, channel, value_db):
    """:func:`noise_variance` of one grid value of ``cfg`` on ``channel``
    (its true taps, the config's constellation, axis and code rate).

    Example
    -------
    >>> from rxsim.config import parse_config
    >>> cfg = parse_config({"experiment": {"name": "demo"},
    ...                     "channel": {"taps": [1.0, 1.0]},
    ...                     "sweep": {"snr_db": [0], "axis": "ebno"},
    ...                     "detector": [{"name": "bcjr"}]})
    >>> round(point_noise_variance(cfg, cfg.channels[0], 0.0), 12)
    1.0
    """
    coderate = 1.0 if cfg.code is None else cfg.code.k / cfg.code.n
    return noise_variance(value_db, axis=cfg.axis,
                          taps=[np.sqrt(channel.energy)],
                          constellation=channel.signal_constellation(
                              cfg.constellation), coderate=coderate)


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: what to simulate and how it is keyed.

    ``no`` is its noise variance (:func:`point_noise_variance`; ``None``
    at construction: ``10**(-snr_db/10)``, the SNR axis)."""
    key: PointKey
    channel: object
    detector: object
    seed: int
    no: float | None = None

    def __post_init__(self):
        if self.no is None:
            object.__setattr__(self, "no", snr_to_no(self.key.snr_db))


def data_seed(cfg, channel, snr_db):
    """Seed of the data of one (channel, SNR) point, shared by all its
    detectors (common random numbers)."""
    return point_seed(cfg.seed, "data", cfg.data_hash(channel),
                      float(snr_db))


def sweep_points(cfg):
    """All points of ``cfg`` in run order (channel, SNR, detector)."""
    points = []
    for channel in cfg.channels:
        for snr in cfg.snr_db:
            seed = data_seed(cfg, channel, snr)
            # the key's rounded value, as SweepPoint.no always used
            no = point_noise_variance(cfg, channel, normalise_snr(snr))
            for det in cfg.detectors:
                key = PointKey(experiment=cfg.name, detector=det.label,
                               channel=channel.label, csi=det.csi,
                               snr_db=float(snr),
                               config_hash=cfg.point_hash(channel, det),
                               axis=cfg.axis)
                points.append(SweepPoint(key, channel, det, seed, no))
    return points


def point_groups(points):
    """``points`` split into the groups that run together: the points of
    one (channel, SNR), which share their data seed, in order of first
    appearance.

    Example
    -------
    >>> from rxsim.config import parse_config
    >>> cfg = parse_config({"experiment": {"name": "demo"},
    ...                     "channel": {"memory": 4, "gamma": [0.2, 1.0]},
    ...                     "sweep": {"snr_db": [0, 4]},
    ...                     "detector": [{"name": "bcjr"},
    ...                                  {"name": "viterbi"}]})
    >>> groups = point_groups(sweep_points(cfg))
    >>> [(g[0].key.channel, g[0].key.snr_db, len(g)) for g in groups]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('isi:L=4,gamma=0.2', 0.0, 2), ('isi:L=4,gamma=0.2', 4.0, 2),
     ('isi:L=4,gamma=1', 0.0, 2), ('isi:L=4,gamma=1', 4.0, 2)]
    """
    groups = {}
    for point in points:
        groups.setdefault(_group_key(point), []).append(point)
    return list(groups.values())


def _group_key(point):
    """What the points of a group (:func:`point_groups`) share."""
    return point.key.channel, point.key.snr_db, point.seed


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


def _pilots(taps, snrs, train, constellation, csi, channel_kind, seed,
            to_no=None, block=None):
    """``train_symbols`` pilots, frames spread evenly over ``snrs`` (one SNR
    for per-point training), concatenated frame-wise. The frames of one
    SNR are drawn from ``point_seed(seed, "pilots", snr)``, so per-point
    and per-channel training see the same pilot stream at an SNR; with
    ``pilots_across_snr = "reuse"`` (the authors' recipe) the symbols and
    believed taps come from ``point_seed(seed, "pilots")`` at every SNR
    and only the noise is fresh (``point_seed(seed, "pilots-noise",
    snr)``), as in the authors' script. ``to_no`` (grid value -> noise
    variance; ``None``: ``10**(-snr/10)``) sets the pilots' noise on an
    Eb/N0 grid (:func:`point_noise_variance`); the seeds stay keyed by
    the grid value. ``block``: the channel block the pilots go through
    (the curve's, :meth:`ChannelSpec.block`; :func:`rxsim.pilot_data`)."""
    reuse = train.get("pilots_across_snr", "fresh") == "reuse"
    frame = train["train_frame_length"]
    total = train["train_symbols"]
    if len(snrs) == 1 or total <= frame:
        counts = [total] + [0] * (len(snrs) - 1)
    else:
        frames = -(-total // frame)
        counts = [frame * (frames // len(snrs) + (i < frames % len(snrs)))
                  for i in range(len(snrs))]
    parts = [pilot_data(taps, num_symbols=n,
                        **({"snr_db": snr} if to_no is None
                           else {"no": to_no(snr)}),
                        constellation=constellation, csi=csi,
                        frame_length=frame,
                        seed=point_seed(seed, "pilots", *(
                            [] if reuse else [float(snr)])),
                        noise_seed=(point_seed(seed, "pilots-noise",
                                               float(snr)) if reuse
                                    else None),
                        channel_kind=channel_kind, channel=block)
             for snr, n in zip(snrs, counts) if n]
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]))


def _point_pilots(cfg, channel, snrs, train, csi):
    """The pilots ``(y, s)`` of a channel at ``snrs`` under the pilots' CSI
    case ``csi`` and the replicate ``train["train_seed"]``: what a learned
    detector trains on, and what the ``estimated:from=training`` baseline
    of the same point estimates from (one function, so they cannot
    drift apart)."""
    to_no = None if cfg.axis == "snr" else (
        lambda value: point_noise_variance(cfg, channel, value))
    constellation = channel.signal_constellation(cfg.constellation)
    return _pilots(channel.tap_array(), snrs, train, constellation, csi,
                   channel.kind,
                   pilot_seed(cfg, channel, csi, train["train_seed"]), to_no,
                   block=channel.block(constellation))


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

    if channel.kind == "mimo":
        from .mimo_config import build_mimo_link
        return build_mimo_link(cfg, channel, det, snr_db, checkpoint)
    taps = channel.tap_array()
    constellation = channel.signal_constellation(cfg.constellation)
    csi = parse_csi(det.csi)
    noise_variance = believed = None
    if csi.from_training:
        if snr_db is None:
            raise ValueError(f"detector {det.label!r}: CSI "
                             f"{det.csi!r} is estimated per point; build "
                             "its link with snr_db.")
        # The detector keeps the true taps; the link hands it the
        # estimates at every call, so the links of a curve differ only in
        # variables (Link.adopt_receiver).
        believed, noise_variance = _estimated_from_training(
            cfg, channel, csi, snr_db, det.options.get("train_seed", 0))
        csi = None
    # (the registry's build leaves out the pilot and link options)
    options = dict(det.options)
    if cfg.code is not None and det.output == "hard":
        options["hard_out"] = True
    problems = check_detector_options(det.name, det.options)
    if problems:
        raise ValueError(f"detector {det.name!r}: " + "; ".join(problems))
    detector = DETECTORS[det.name].build(taps, constellation, options)
    if DETECTORS[det.name].learned:
        def fit():
            y, s = _point_pilots(
                cfg, channel, cfg.snr_db if snr_db is None else [snr_db],
                training_options(det.options), csi)
            detector.fit(y, s, seed=fit_seed(cfg, channel, det, snr_db),
                         verbose=False)

        detector = _trained(detector, checkpoint, fit)
        csi = None   # the CSI case lives in the training data
    receiver = {"csi": csi, "noise_variance": noise_variance,
                "believed_taps": believed,
                "residual_noise": det.options.get("residual_noise", True),
                "retrain_pilots": det.options.get("retrain_pilots"),
                "retrain_epochs": det.options.get("retrain_epochs", 100)}
    if cfg.code is not None:
        code = cfg.code
        return CodedLink(Transmitter(constellation),
                         channel.block(constellation), detector, k=code.k,
                         n=code.n, output=det.output,
                         num_iter=code.num_iter, hard_llr=code.hard_llr,
                         interleave=code.interleave,
                         iterations=det.iterations, **receiver)
    return Link(Transmitter(constellation), channel.block(constellation),
                detector, num_symbols=cfg.frame_length, **receiver)


def _per_point(det, kind="isi"):
    """Whether a detector entry's link belongs to one point (trained or
    estimated there) rather than to its whole curve (on channels of
    ``kind``)."""
    from channels.csi import parse_csi

    if kind == "mimo":
        return entry_for(det, kind).learned
    if DETECTORS[det.name].learned:
        return training_options(det.options)["train_per"] == "point"
    return parse_csi(det.csi).from_training


def simulate_sweep_points(cfg, points, links=None, progress=None,
                          checkpoints=None, on_result=None):
    """Simulate the points of one (channel, SNR) of ``cfg`` together (no
    store involved): every batch is drawn once for all of them
    (:func:`rxsim.montecarlo.simulate_points`), and each stops on its own.

    The one place that turns :class:`SweepPoint` s into
    :class:`rxsim.montecarlo.PointResult` s; the local runner and the Ray
    tasks (:mod:`rxsim.ray_backend`) both call it, so both give the same
    numbers for the same seeds, and a point's numbers do not depend on
    which other points of its group run beside it.

    Parameters
    ----------
    cfg : rxsim.config.SweepConfig
    points : list of SweepPoint
        Points of one group (:func:`point_groups`): the same channel,
        SNR and data seed.
    links : None or dict
        Cache of the links of curves, keyed by ``(channel, detector
        label)``: built once for a whole curve (model-based, and learned
        with ``train_per = "channel"``), or, for a receiver trained or
        estimated per point, the curve's link that adopts each point's
        receiver (:meth:`rxsim.Link.adopt_receiver`), compiled once.
    progress : None or list of (None or callable)
        Per point, ``progress(errors, symbols)`` after each batch.
    checkpoints : None or Path
        Directory caching trained learned detectors, named by the curve's
        config hash and the model's :func:`fit_seed`.
    on_result : None or callable ``on_result(point, result)``
        Called as each point finishes (e.g. to commit it at once).

    Output
    ------
    : list of rxsim.montecarlo.PointResult, in the order of ``points``
    """
    points = list(points)
    if len({_group_key(p) for p in points}) != 1:
        raise ValueError("simulate_sweep_points runs the points of one "
                         "(channel, SNR) group; see point_groups.")
    point_links = [_point_link(cfg, p, links, checkpoints) for p in points]
    first = points[0]
    return simulate_points(
        point_links, first.no, batch_size=cfg.batch_size,
        target_errors=cfg.target_errors, max_symbols=cfg.max_symbols,
        seed=first.seed, xla=cfg.xla, confidence=cfg.confidence,
        progress=progress,
        on_result=None if on_result is None else
        (lambda i, result: on_result(points[i], result)))


def simulate_sweep_point(cfg, point, links=None, progress=None,
                         checkpoints=None):
    """:func:`simulate_sweep_points` of one point (``progress``: one
    callable or None)."""
    (result,) = simulate_sweep_points(
        cfg, [point], links, None if progress is None else [progress],
        checkpoints)
    return result


def _point_link(cfg, point, links, checkpoints):
    """The link of ``point``: a curve's cached link, or one built (and
    trained, or loaded from ``checkpoints``) for this point.

    A link that belongs to one point (trained or estimated there) is
    built anew, and the curve's cached link adopts its receiver
    (:meth:`rxsim.Link.adopt_receiver`: weights, believed taps and noise
    variance are variables), so a curve's link is compiled once, not
    once per point."""
    det, channel = point.detector, point.channel
    curve = (channel, det.label)
    cached = links.get(curve) if links is not None else None
    per_point = _per_point(det, channel.kind)
    if cached is not None and not per_point:
        return cached
    snr = point.key.snr_db if per_point else None
    checkpoint = None
    if entry_for(det, channel.kind).learned and checkpoints is not None:
        checkpoint = Path(checkpoints) / (
            f"{point.key.config_hash}-{fit_seed(cfg, channel, det, snr)}")
    link = build_link(cfg, channel, det, snr, checkpoint)
    if cached is not None:
        return cached.adopt_receiver(link)
    if links is not None:
        links[curve] = link
    return link


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

    The points of one (channel, SNR) run together (:func:`point_groups`),
    groups one after another in this process; each point is committed as
    it finishes. See :func:`rxsim.ray_backend.run_sweep_ray` for the Ray
    backend.

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
        def commit(point, result):
            nonlocal done
            record_point(store, point, result)
            done += 1
            if on_point:
                on_point(point, result)

        pending, skipped = pending_points(cfg, store, on_point)
        for group in point_groups(pending):
            todo = []
            for point in group:
                if store.has_point(point.key):   # another run finished it
                    skipped += 1
                    if on_point:
                        on_point(point, None)
                else:
                    todo.append(point)
            if not todo:
                continue
            simulate_sweep_points(
                cfg, todo, links,
                progress=[progress(p) for p in todo] if progress else None,
                checkpoints=checkpoint_dir(db_path), on_result=commit)
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
