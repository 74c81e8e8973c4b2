"""Run a sweep config point by point into a results store (resumable).

The loop is: for each channel, for each detector, build one link (learned
detectors: one per point, trained on that point's pilots); for each SNR,
skip the point if the store already has it, else simulate it and commit
its row. A killed run therefore loses at most the point in flight,
and a rerun continues where it stopped with the same numbers (each point's
seed depends only on the sweep seed and the point's key).
"""

from dataclasses import dataclass

from channels import ISIChannel

from . import __version__
from .config import snr_to_no
from .link import Link
from .montecarlo import point_seed, simulate_point
from .registry import DETECTORS, build_detector, training_options
from .store import PointKey, ResultsStore
from .training import pilot_data
from .transmitter import Transmitter

__all__ = ["SweepPoint", "sweep_points", "build_link", "run_sweep"]


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


def build_link(cfg, channel, det, snr_db=None, seed=0):
    """The link of one (channel, detector) curve.

    A learned detector is trained here, on pilots of the curve's channel
    at ``snr_db`` under its CSI case (seeded by the point's ``seed``), so
    its link belongs to one point, not the whole curve.
    """
    from channels.csi import parse_csi

    taps = channel.tap_array()
    detector = build_detector(det.name, taps, cfg.constellation, det.options)
    csi = parse_csi(det.csi)
    if DETECTORS[det.name].learned:
        train = training_options(det.options)
        y, s = pilot_data(taps, snr_db=snr_db,
                          num_symbols=train["train_symbols"],
                          constellation=cfg.constellation, csi=csi,
                          frame_length=train["train_frame_length"],
                          seed=point_seed(seed, "pilots"))
        detector.fit(y, s, seed=point_seed(seed, "fit"), verbose=False)
        csi = None   # the CSI case lives in the training data
    return Link(Transmitter(cfg.constellation),
                ISIChannel(taps, constellation=cfg.constellation),
                detector, num_symbols=cfg.frame_length, csi=csi)


def run_sweep(cfg, db_path, progress=None, on_point=None):
    """Simulate every unfinished point of ``cfg`` into ``db_path``.

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
    done = skipped = 0
    links = {}
    with ResultsStore(db_path) as store:
        for point in sweep_points(cfg):
            if store.has_point(point.key):
                skipped += 1
                if on_point:
                    on_point(point, None)
                continue
            if DETECTORS[point.detector.name].learned:
                link = build_link(cfg, point.channel, point.detector,
                                  point.key.snr_db, point.seed)
            else:
                curve = (point.channel, point.detector.label)
                if curve not in links:
                    links[curve] = build_link(cfg, point.channel,
                                              point.detector)
                link = links[curve]
            result = simulate_point(
                link, point.no, batch_size=cfg.batch_size,
                target_errors=cfg.target_errors,
                max_symbols=cfg.max_symbols, seed=point.seed, xla=cfg.xla,
                confidence=cfg.confidence,
                progress=progress(point) if progress else None)
            store.add_point(point.key, result, seed=point.seed,
                            code_version=__version__)
            done += 1
            if on_point:
                on_point(point, result)
    return done, skipped
