"""``[channel] kind = "mimo"``: multiuser MIMO in sweep configs.

The keys::

    [channel]
    kind = "mimo"
    users = 4                 # K single-antenna users
    antennas = 4              # N receive antennas
    profile = "sed"           # "sed" | "rayleigh" | "kronecker"
    rx_correlation = 0.5      # kronecker only
    tx_correlation = 0.5
    time_varying = false      # cosine-modulated SED

``[link] frame_length`` counts channel uses (each carries one symbol per
user) and the SER counts user-symbols. Detector names come from
:data:`rxsim.registry.MIMO_DETECTORS` (``ml``, ``lmmse``, ``zf``,
``kbest``, ``ep``, ``mmse-pic``, ``soft-ic``, ``deepsic``, ``detnet``,
``dnn``); ``iterations`` of a ``[[detector]]`` is then the detector's own
option (soft-IC / DeepSIC iterations), not turbo passes.

Learned detectors train per point on pilots through the channel
(:func:`mimo_pilots`): ``train_symbols`` channel uses in frames of
``train_frame_length``, each pilot frame with its own draw of the
channel (a new ``H`` on the random profiles) and, under CSI
``perturbed:var=V``, its own perturbation ``H (1 + sqrt(V) n)`` (the
DeepSIC paper's uncertain CSI: training on channels around the true one,
redrawn per frame). A learned detector that reads a channel (DetNet)
trains on pilots through the true channels and is handed the CSI case's
believed channel, in training and in detection alike.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["MIMOSpec", "MIMO_KEYS", "mimo_channels", "mimo_problems",
           "mimo_pilots", "build_mimo_link"]

#: ``[channel]`` keys of kind "mimo" (key -> TOML type).
MIMO_KEYS = {"users": int, "antennas": int, "profile": str,
             "rx_correlation": float, "tx_correlation": float,
             "time_varying": bool}


@dataclass(frozen=True)
class MIMOSpec:
    """One MIMO channel of a config (fields: the ``[channel]`` keys)."""
    users: int
    antennas: int
    profile: str = "sed"
    rx_correlation: float = 0.5
    tx_correlation: float = 0.5
    time_varying: bool = False
    kind: str = "mimo"

    def hash_payload(self):
        """This channel's part of a curve's config hash: all its fields."""
        return dataclasses.asdict(self)

    def block(self, constellation, precision=None):
        """A new :class:`channels.MIMOChannel` of this spec."""
        from channels import MIMOChannel
        return MIMOChannel(self.users, self.antennas, profile=self.profile,
                           constellation=constellation,
                           rx_correlation=self.rx_correlation,
                           tx_correlation=self.tx_correlation,
                           time_varying=self.time_varying,
                           precision=precision)

    def signal_constellation(self, constellation):
        """The users' constellation as the channel sends it (real ones in
        complex baseband on the complex profiles)."""
        return self.block(constellation).constellation

    def tap_array(self):
        """The mean channel ``[N, K]`` (what model-based detectors are
        built believing; each frame's believed channel comes per call)."""
        return self.block("bpsk").mean_channel

    @property
    def energy(self):
        """float : average received energy per user-symbol, ``E sum_n
        |H[n, k]|^2`` averaged over users (the SNR grid does not use it;
        an Eb/N0 grid would)."""
        if self.profile == "sed":
            return float(np.mean(np.sum(self.tap_array() ** 2, axis=0)))
        return float(self.antennas)

    @property
    def label(self):
        """Results key, e.g. ``mimo:K=4,N=4,sed``."""
        extra = ""
        if self.profile == "kronecker":
            extra = (f",rho_rx={self.rx_correlation:g},"
                     f"rho_tx={self.tx_correlation:g}")
        if self.time_varying:
            extra += ",time-varying"
        return f"mimo:K={self.users},N={self.antennas},{self.profile}{extra}"


def mimo_channels(table, constellation, problems):
    """The ``[channel]`` table of kind "mimo" -> ``(MIMOSpec,)`` (appending
    to ``problems``; ``()`` after one)."""
    from channels.mimo import MIMO_PROFILES

    before = len(problems)
    for key in ("gamma", "taps", "memory", "normalize", "phases", "model"):
        if key in table:
            problems.append(f"[channel] {key} is not a key of kind = "
                            f"'mimo' (users, antennas, profile); remove it")
    for key in ("users", "antennas"):
        value = table.get(key)
        if value is None:
            problems.append(f"[channel] kind = 'mimo' needs {key}")
        elif isinstance(value, bool) or not isinstance(value, int) or \
                value < 1:
            problems.append(f"[channel] {key} must be an integer >= 1, got "
                            f"{value!r}")
    profile = table.get("profile", "sed")
    if profile not in MIMO_PROFILES:
        problems.append(f"[channel] profile {profile!r} unknown; allowed: "
                        f"{', '.join(map(repr, MIMO_PROFILES))}")
    if len(problems) > before:
        return ()
    spec = MIMOSpec(users=table["users"], antennas=table["antennas"],
                    profile=profile,
                    rx_correlation=float(table.get("rx_correlation", 0.5)),
                    tx_correlation=float(table.get("tx_correlation", 0.5)),
                    time_varying=bool(table.get("time_varying", False)))
    try:
        spec.block(constellation)
    except (ValueError, TypeError) as e:
        problems.append(f"[channel] {e}".rstrip("."))
        return ()
    return (spec,)


def mimo_problems(channels, constellation, code, axis, frame_length,
                  detectors, problems):
    """What a MIMO config cannot run, before any simulation: a code or an
    Eb/N0 grid (not written for MIMO yet), detectors that need N >= K on
    fewer antennas, CSI cases a MIMO receiver does not have, pilots a
    learned detector cannot train on."""
    from channels.csi import parse_csi

    from detectors.mimo.augment import joint_classes

    from .mimo_link import RETRAIN_EPOCHS, _retraining
    from .registry import MIMO_DETECTORS, training_options

    if code is not None:
        problems.append("[code] with kind = 'mimo' is not supported yet; "
                        "remove the [code] section")
    if axis != "snr":
        problems.append("[sweep] axis = 'ebno' is not supported on kind = "
                        "'mimo' yet; use axis = 'snr'")
    for spec in channels:
        for det in detectors:
            where = f"[[detector]] {det.label!r}"
            entry = MIMO_DETECTORS[det.name]
            try:      # the constructor's checks: N >= K, constellations
                built = entry.build(np.zeros([spec.antennas, spec.users]),
                                    spec.signal_constellation(constellation),
                                    det.options)
                if "retrain_pilots" in det.options:
                    _retraining(built, spec.block(constellation),
                                det.options["retrain_pilots"],
                                det.options.get("retrain_epochs",
                                                RETRAIN_EPOCHS))
            except (ValueError, TypeError) as e:
                problems.append(f"{where} ({det.name}) {e}".rstrip("."))
                continue
            csi = parse_csi(det.csi)
            if csi.kind == "estimated" and csi.params["from"] != "frame":
                problems.append(f"{where} csi {det.csi!r}: a MIMO receiver "
                                "estimates each frame's channel from its own "
                                "pilots; use 'estimated:pilots=P'")
            elif csi.kind == "estimated" and entry.learned:
                problems.append(f"{where} csi {det.csi!r}: a learned "
                                "detector learns from its pilots; give it "
                                "'perfect' or 'perturbed:var=V'")
            elif csi.kind == "estimated" and \
                    csi.params["estimator"] == "ls" and \
                    csi.params["pilots"] < spec.users:
                problems.append(f"{where} csi {det.csi!r}: least squares "
                                f"needs pilots >= K = {spec.users}")
            elif csi.per_symbol:
                problems.append(f"{where} csi {det.csi!r}: a MIMO frame has "
                                "one channel; use per=frame")
            if entry.learned:
                train = training_options(det.options)
                if train["train_symbols"] % train["train_frame_length"]:
                    problems.append(
                        f"{where} train_symbols = {train['train_symbols']} "
                        f"must be a multiple of train_frame_length = "
                        f"{train['train_frame_length']} (pilot frames of "
                        "equal length, one channel draw each)")
                classes = joint_classes(spec.users, built.num_points)
                if det.options.get("augment") and \
                        train["train_symbols"] < 20 * classes:
                    problems.append(
                        f"{where} augment: class translation uses the "
                        f"classes seen 10 times among the pilots, of M^K = "
                        f"{classes} joint symbol classes; give "
                        f"train_symbols >= {20 * classes} or augment = 0")
    del frame_length


def mimo_pilots(spec, constellation, no, train, csi, seed, *,
                takes_channel=False):
    """Pilots of a learned MIMO detector at one point: ``(y [F, T, N], s
    [F, T, K], h [F, N, K])`` with ``F = train_symbols /
    train_frame_length`` frames of ``T = train_frame_length`` channel
    uses, drawn from the int ``seed``.

    Each frame draws its channel (fixed SED, a new matrix on the random
    profiles). Under ``perturbed:var=V`` a detector that does not read a
    channel gets pilots through each frame's perturbed channel (the
    DeepSIC paper's uncertain CSI); one that does (``takes_channel``)
    gets pilots through the true channel and the perturbed one as ``h``.
    """
    import tensorflow as tf

    from channels.mimo import perturb_channel
    from signals.seeds import stateless_seed

    block = spec.block(constellation)
    frames = train["train_symbols"] // train["train_frame_length"]
    length = train["train_frame_length"]
    base = stateless_seed(seed)
    h_seed, csi_seed, s_seed, w_seed = tf.unstack(
        tf.random.experimental.stateless_split(base, 4))
    h = block.channel_matrices(frames, h_seed)
    believed = h
    if csi.kind == "perturbed":
        believed = perturb_channel(h, csi.params["var"],
                                   mode=csi.params["mode"], seed=csi_seed)
    m = block.constellation.num_points
    s = tf.random.stateless_uniform([frames, length, spec.users], s_seed, 0,
                                    m, tf.int32)
    y = block.through(tf.gather(block.points, s),
                      h if takes_channel else believed, no, w_seed)
    return y.numpy(), s.numpy(), np.asarray(believed)


def build_mimo_link(cfg, channel, det, snr_db=None, checkpoint=None):
    """The :class:`rxsim.mimo_link.MIMOLink` of one curve (model-based) or
    one point (learned: trained here on :func:`mimo_pilots` at
    ``snr_db``, or loaded from ``checkpoint``)."""
    from channels.csi import parse_csi

    from .montecarlo import point_seed
    from .registry import MIMO_DETECTORS, RETRAIN_OPTIONS, \
        check_detector_options, training_options
    from .sweep import _trained, fit_seed, pilot_seed, snr_to_no
    from .mimo_link import MIMOLink
    from .transmitter import Transmitter

    entry = MIMO_DETECTORS[det.name]
    problems = check_detector_options(det.name, det.options, MIMO_DETECTORS)
    if problems:
        raise ValueError(f"detector {det.name!r}: " + "; ".join(problems))
    constellation = channel.signal_constellation(cfg.constellation)
    detector = entry.build(channel.tap_array(), constellation, det.options)
    csi = parse_csi(det.csi)
    if entry.learned:
        if snr_db is None:
            raise ValueError(f"detector {det.label!r} is trained per point; "
                             "build its link with snr_db.")
        train = training_options(det.options)
        seed = point_seed(pilot_seed(cfg, channel, csi, train["train_seed"]),
                          "pilots", float(snr_db))
        takes_channel = detector.takes_channel

        def fit():
            y, s, h = mimo_pilots(channel, cfg.constellation,
                                  snr_to_no(snr_db), train, csi, seed,
                                  takes_channel=takes_channel)
            extra = (h,) if takes_channel else ()
            detector.fit(y, s, *extra,
                         seed=fit_seed(cfg, channel, det, snr_db) % 2**31,
                         verbose=False)

        detector = _trained(detector, checkpoint, fit)
        if not takes_channel:
            csi = None           # the CSI case lives in the training data
    return MIMOLink(Transmitter(constellation), channel.block(constellation),
                    detector, cfg.frame_length, csi=csi,
                    **{k: v for k, v in det.options.items()
                       if k in RETRAIN_OPTIONS})
