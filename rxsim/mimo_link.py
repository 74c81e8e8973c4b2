"""A multiuser MIMO link: K users -> ``channels.MIMOChannel`` -> a MIMO
detector (:mod:`detectors.mimo`), one Monte Carlo batch per call."""

import tensorflow as tf
from sionna.phy import Block

from signals.checks import check_int

from .counts import symbol_counts

__all__ = ["MIMOLink"]

#: Full-batch steps of each per-frame fine-tuning unless a config says.
RETRAIN_EPOCHS = 100


class MIMOLink(Block):
    r"""Runs one batch of frames of ``T`` channel uses through ``K`` users'
    transmitters, a MIMO channel and a MIMO detector.

    Parameters
    ----------
    transmitter : rxsim.Transmitter
        The users' alphabet (every user the same; the channel's
        ``constellation``).
    channel : channels.MIMOChannel
    detector : detectors.mimo.MIMODetector
    num_channel_uses : int
        T, channel uses per frame (each carries one symbol per user).
    csi : None or str or channels.csi.CSISpec
        What a detector that reads a channel (``takes_channel``) is handed
        at every frame: ``perfect`` (default) the frame's ``H``;
        ``perturbed:var=V[,mode=...]`` ``H (1 + sqrt(V) n)`` (or ``H +
        sqrt(V) n``) drawn per frame (:func:`channels.mimo.
        perturb_channel`); ``estimated:pilots=P[,estimator=ls|lmmse]`` the
        estimate from ``P`` pilot channel uses through the frame's ``H``
        (:meth:`channels.MIMOChannel.pilot_frames`,
        :func:`channels.mimo.estimate_channel`); ``mean`` the channel's
        mean (``channel.mean_channel``: the SED matrix, zeros for the
        random profiles). Detectors that learn the channel from pilots get
        ``y`` and ``no`` only; their CSI case is their training.
    retrain_pilots : None or int
        Online learning: before each frame ``retrain_pilots`` known pilot
        channel uses pass through that frame's ``H``
        (:meth:`channels.MIMOChannel.pilot_frames`, the pilots that
        ``csi="estimated:pilots=P"`` estimates from under the same seed,
        so a model-based receiver on those estimates is the paired
        counterpart), and a copy of the learned detector, starting from
        its trained-once weights, is fine-tuned on them (``adapt``,
        ``retrain_epochs`` full-batch steps) and detects that frame.
        ``None``: trained once. The receiver then runs eagerly, frame by
        frame (:attr:`compiled_receiver` is False).
    retrain_epochs : int
        Full-batch steps of each per-frame fine-tuning (default 100).
    precision : None | "single" | "double"

    Time-varying SED (``channel.time_varying``): each frame's index in the
    cosine modulation is drawn uniformly over the channel's
    :attr:`~channels.MIMOChannel.cycle` from the channel stream, so a
    sweep's frames cover the whole cycle and its SER is the average over
    time (a receiver trained on pilots of frames ``0 .. F-1``, as
    :func:`rxsim.mimo_config.mimo_pilots` draws them, was trained at the
    start of it).

    Randomness: the batch seed splits into transmitter, channel and CSI
    streams (as :meth:`rxsim.Link.split_seed`), so all links of a point
    see the same frames, channel matrices and noise (common random
    numbers), and two links under the same CSI case believe the same
    channels.

    Input
    -----
    batch_size : int
    no : scalar or [batch], tf.float
    seed : None or [2], tf.int32

    Output
    ------
    s, s_hat : [batch, T, K], tf.int32, sent and detected indices

    The engine calls :meth:`count` (or :meth:`draw` and
    :meth:`count_drawn`); a frame's ``symbols`` are its ``T K``
    user-symbols, and the SER counts user-symbols.

    Example
    -------
    >>> import numpy as np
    >>> from channels import MIMOChannel
    >>> from channels.mimo import sed_matrix
    >>> from detectors.mimo import SoftICDetector
    >>> from rxsim import Transmitter
    >>> from rxsim.mimo_link import MIMOLink
    >>> ch = MIMOChannel(4, 4, profile="sed")
    >>> link = MIMOLink(Transmitter(ch.constellation), ch,
    ...                 SoftICDetector(sed_matrix(4, 4)), 50)
    >>> s, s_hat = link(8, 0.1, seed=[1, 2])
    >>> s.shape
    TensorShape([8, 50, 4])
    """

    stop_on = "errors"

    def __init__(self, transmitter, channel, detector, num_channel_uses, *,
                 csi=None, retrain_pilots=None,
                 retrain_epochs=RETRAIN_EPOCHS,
                 precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        from channels.csi import parse_csi

        self.num_channel_uses = check_int(num_channel_uses,
                                          "num_channel_uses")
        if detector.users != channel.users or \
                detector.antennas != channel.antennas:
            raise ValueError(
                f"the detector is built for users = {detector.users}, "
                f"antennas = {detector.antennas} but the channel has "
                f"users = {channel.users}, antennas = {channel.antennas}.")
        m_tx = transmitter.constellation.num_points
        if m_tx != detector.constellation.num_points:
            raise ValueError(
                f"the detector expects {detector.constellation.num_points} "
                f"constellation points but the transmitter sends {m_tx}.")
        csi = parse_csi("perfect" if csi is None else csi)
        if csi.kind == "estimated" and csi.params["from"] != "frame":
            raise ValueError(
                f"CSI {csi}: a MIMO link estimates each frame's channel "
                "from its own pilots; use 'estimated:pilots=P'.")
        if csi.kind == "perturbed" and csi.per_symbol:
            raise ValueError(f"CSI {csi}: a MIMO frame has one channel; "
                             "use per=frame.")
        if csi.kind == "estimated" and \
                csi.params["pilots"] < channel.users and \
                csi.params["estimator"] == "ls":
            raise ValueError(
                f"CSI {csi}: least squares needs at least K = "
                f"{channel.users} pilot channel uses per frame; give more "
                "pilots or estimator=lmmse.")
        self.transmitter = transmitter
        self.channel = channel
        self.detector = detector
        self.csi = csi
        self._retrain = None if retrain_pilots is None else _retraining(
            detector, channel, retrain_pilots, retrain_epochs)
        self._frame_model = None

    @property
    def compiled_receiver(self):
        """bool : False when the detector is retrained per frame (an eager
        loop over the frames; the engine then compiles only the draw)."""
        return self._retrain is None

    def adopt_receiver(self, other):
        """Take the trained weights of ``other``'s detector, a link built
        the same way (see :meth:`rxsim.Link.adopt_receiver`)."""
        same = (type(other) is type(self) and
                self.draw_key() == other.draw_key() and
                str(self.csi) == str(other.csi) and
                type(self.detector) is type(other.detector))
        if not same:
            raise ValueError("adopt_receiver takes the receiver of a link "
                             "built the same way; build a new link instead.")
        if self.detector is not other.detector and \
                hasattr(self.detector, "set_weights_from"):
            self.detector.set_weights_from(other.detector)
        return self

    # -- the receiver ---------------------------------------------------------
    def believed_channel(self, h, no, csi_seed):
        """What a channel-reading detector is handed for frames of true
        channels ``h`` ``[batch, N, K]`` under the link's CSI case."""
        from channels.mimo import estimate_channel, perturb_channel

        kind = self.csi.kind
        if kind == "perfect":
            return h
        if kind == "mean":
            return tf.broadcast_to(
                tf.cast(self.channel.mean_channel, h.dtype), tf.shape(h))
        if kind == "perturbed":
            return perturb_channel(h, self.csi.params["var"],
                                   mode=self.csi.params["mode"],
                                   seed=csi_seed)
        s, y = self.channel.pilot_frames(h, no, self.csi.params["pilots"],
                                         seed=csi_seed)
        estimate = estimate_channel(y, tf.gather(self.channel.points, s), no,
                                    estimator=self.csi.params["estimator"])
        return tf.cast(estimate, h.dtype)

    def detect(self, y, no, *, csi_seed=None, channel_matrix=None):
        """The detector's output on ``y`` ``[batch, T, N]``: the channel of
        the CSI case is drawn from ``csi_seed`` and the true
        ``channel_matrix`` ``[batch, N, K]``."""
        if self._retrain is not None:
            return self._retrained(y, no, csi_seed, channel_matrix)
        if not self.detector.takes_channel:
            return self.detector(y, no)
        return self.detector(y, no, h=self.believed_channel(
            channel_matrix, no, csi_seed))

    # -- the engine's protocol (rxsim.counts) ----------------------------------
    def draw_key(self):
        """What a drawn batch depends on (see :meth:`rxsim.Link.draw_key`)."""
        return ("MIMOLink", self.num_channel_uses,
                self.transmitter.draw_key(), self.channel.draw_key())

    def draw(self, batch_size, no, seed=None):
        """``(s [batch, T, K], y [batch, T, N], state)``, ``state`` the
        keywords of :meth:`detect` (``csi_seed``, ``channel_matrix``)."""
        from .link import Link

        tx_seed, ch_seed, csi_seed = Link.split_seed(seed)
        k = self.channel.users
        s, x = self.transmitter(batch_size, self.num_channel_uses * k,
                                seed=tx_seed)
        s = tf.reshape(s, [batch_size, self.num_channel_uses, k])
        x = tf.reshape(x, [batch_size, self.num_channel_uses, k])
        y, h = self.channel(x, no, seed=ch_seed, return_channel=True,
                            frame_index=self._frame_index(batch_size,
                                                          ch_seed))
        return s, y, {"csi_seed": csi_seed, "channel_matrix": h}

    def _frame_index(self, batch_size, ch_seed):
        """Uniform frame indices over the time-varying SED's cycle, from
        the channel stream (``None`` on the other channels)."""
        cycle = self.channel.cycle
        if cycle is None:
            return None
        if ch_seed is None:
            return tf.random.uniform([batch_size], 0, cycle, tf.int32)
        return tf.random.stateless_uniform(
            [batch_size], tf.random.experimental.stateless_fold_in(
                ch_seed, 1), 0, cycle, tf.int32)

    def _retrained(self, y, no, pilot_seed, h):
        """The detector's output with a copy fine-tuned per frame on that
        frame's pilots (:func:`rxsim.link.retrained_per_frame`)."""
        from .link import retrained_per_frame

        no_rx = tf.broadcast_to(tf.convert_to_tensor(no), [int(y.shape[0])])
        return retrained_per_frame(
            self, h, "channel_matrix", no, pilot_seed,
            lambda work, k: work(y[k:k + 1], no_rx[k:k + 1]))

    def _decisions(self, s, out):
        if out.dtype.is_integer:
            return tf.cast(out, tf.int32)
        return tf.argmax(out, axis=-1, output_type=tf.int32)

    def count_drawn(self, drawn, no):
        """Counts of one drawn batch (:mod:`rxsim.counts`): user-symbols
        and their errors, per frame too."""
        s, y, state = drawn
        s_hat = self._decisions(s, self.detect(y, no, **state))
        flat = [tf.reshape(t, [tf.shape(t)[0], -1]) for t in (s, s_hat)]
        return symbol_counts(*flat, self.transmitter.bits_per_symbol)

    def count(self, batch_size, no, seed=None):
        """Counts of one batch for the Monte Carlo engine."""
        return self.count_drawn(self.draw(batch_size, no, seed), no)

    def call(self, batch_size, no, seed=None):
        s, y, state = self.draw(batch_size, no, seed)
        return s, self._decisions(s, self.detect(y, no, **state))


def _retraining(detector, channel, pilots, epochs):
    """``(pilots, epochs)`` of per-frame retraining, checked: a learned
    detector that fine-tunes (``adapt``) without being handed a channel,
    a channel that changes from frame to frame, and at least 10 pilots per
    constellation point."""
    from detectors.pilots import MIN_SAMPLES_PER_CLASS

    pilots = check_int(pilots, "retrain_pilots")
    epochs = check_int(epochs, "retrain_epochs")
    name = type(detector).__name__
    if not callable(getattr(detector, "adapt", None)) or \
            getattr(detector, "takes_channel", False):
        raise ValueError(
            f"`retrain_pilots` fine-tunes a learned detector per frame on "
            f"that frame's pilots (DeepSIC), not a {name}.")
    if channel.profile == "sed" and not channel.time_varying:
        raise ValueError(
            "`retrain_pilots` retrains on each frame's channel, but the "
            "SED channel is the same in every frame: train once on more "
            "pilots, or set time_varying = true.")
    need = MIN_SAMPLES_PER_CLASS * detector.num_points
    if pilots < need:
        raise ValueError(
            f"`retrain_pilots` = {pilots} is too few to retrain on: "
            f"fine-tuning needs {MIN_SAMPLES_PER_CLASS} pilots per "
            f"constellation point, i.e. retrain_pilots >= {need}.")
    return pilots, epochs
