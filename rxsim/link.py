"""A link: transmitter -> channel -> detector, one Monte Carlo batch per call."""

import numpy as np
import tensorflow as tf
from sionna.phy import Block

from detectors import TapsDetector
from signals.checks import check_int, check_nonnegative

from .counts import symbol_counts

__all__ = ["Link"]


class Link(Block):
    """Runs one batch of frames through a transmitter, channel and detector.

    Parameters
    ----------
    transmitter : rxsim.Transmitter
    channel : Block called as ``channel(x, no, seed=...)``
    detector : Block called as ``detector(y, no)`` (see ``detectors``)
    num_symbols : int
        T, symbols per frame.
    return_soft : bool
        Also return the detector's symbol log-probabilities.
    csi : None or channels.csi.CSISpec
        What the detector believes about the channel. ``None`` or
        ``"perfect"``: the detector keeps the taps it was built with. Other
        cases draw believed taps per batch (``[batch, L]``) from the
        channel's true taps and hand them to ``detector(y, no, taps=...)``.
    noise_variance : None or float
        The noise variance the receiver believes (e.g. estimated from
        pilots, :func:`channels.csi.estimate_channel_ls`); ``None``: the
        true one of each call.
    believed_taps : None or [L] array
        Taps the receiver believes at every call (e.g. least-squares
        estimates from pilots), handed to ``detector(y, no, taps=...)``;
        ``None``: the detector keeps the taps it was built with. Not with
        a CSI case other than perfect (which draws its own).
    residual_noise : bool
        On a fading channel that keeps a window of its taps for the
        detector (:class:`channels.TDLChannel`): add the average power of
        the taps outside the window (``channel.residual_energy``) to the
        noise variance the detector is handed, for the CSI cases that know
        the taps (perfect, perturbed, mean). Estimated CSI measures it.
    retrain_pilots : None or int
        Retrain a learned trellis detector (ViterbiNet, BCJRNet) on every
        frame, on a fading channel (:class:`channels.TDLChannel`): before
        each frame ``retrain_pilots`` known pilots pass through that
        frame's channel (:meth:`channels.TDLChannel.pilot_frames`, the
        pilots that ``csi="estimated:pilots=N"`` fits under the same
        seed), and a copy of the detector, starting from its trained-once
        weights, is fine-tuned on them (``adapt``, ``retrain_epochs``
        full-batch steps) and detects that frame. ``None``: trained once.
        The receiver then runs eagerly, frame by frame
        (``compiled_receiver`` is False).
    retrain_epochs : int
        Full-batch steps of each per-frame fine-tuning (default 100: on
        BPSK TDL-C at 3 m/s, 200 pilots, 25 dB, SER 0.059 after 20, 0.0027
        after 100, 0.0030 after 300).
    precision : None | "single" | "double"

    The receiver's knowledge (``believed_taps``, ``noise_variance``, a
    learned detector's weights) lives in variables: :meth:`adopt_receiver`
    gives a link another link's, and its compiled functions stay valid
    (a sweep reuses one compiled link for the receivers it estimates or
    trains point by point).

    Randomness: the batch seed is split into three independent streams
    (:meth:`split_seed`): the transmitted data, the channel (noise), and
    the CSI case's believed taps. Under common random numbers every link
    of one point gets the same batch seeds, so all of them see the same
    frames and noise; two links under the same CSI case also believe the
    same taps frame by frame (a paired comparison of receivers with the
    same channel knowledge), and a CSI draw never shifts the data streams.

    Input
    -----
    batch_size : int
    no : scalar or [batch], tf.float
        Noise variance.
    seed : None or [2], tf.int32
        Stateless seed of this batch; split into transmitter, channel and
        CSI seeds (:meth:`split_seed`). ``None`` uses Sionna's global RNG.

    Output
    ------
    s : [batch, T], tf.int32, transmitted indices
    s_hat : [batch, T], tf.int32, detected indices
    log_probs : [batch, T, M], tf.float (only with ``return_soft``)

    The Monte Carlo engine calls :meth:`count` instead (the protocol of
    :mod:`rxsim.counts`).

    Example
    -------
    >>> from channels import ISIChannel
    >>> from detectors import BCJRDetector
    >>> from rxsim import Link, Transmitter
    >>> taps = [1.0, 0.5]
    >>> link = Link(Transmitter("bpsk"), ISIChannel(taps),
    ...             BCJRDetector(taps), num_symbols=20)
    >>> s, s_hat = link(4, 0.1, seed=[1, 2])
    >>> s.shape, s_hat.dtype.name
    (TensorShape([4, 20]), 'int32')
    >>> sorted(link.count(4, 0.1, seed=[1, 2]))   # doctest: +NORMALIZE_WHITESPACE
    ['bit_errors', 'bits', 'errors', 'frame_bit_errors', 'frame_errors',
     'frames', 'sum_sq', 'symbols']
    """

    #: The counter the engine's ``target_errors`` applies to.
    stop_on = "errors"

    def __init__(self, transmitter, channel, detector, num_symbols, *,
                 return_soft=False, csi=None, noise_variance=None,
                 believed_taps=None, residual_noise=True,
                 retrain_pilots=None, retrain_epochs=100, precision=None,
                 **kwargs):
        super().__init__(precision=precision, **kwargs)
        num_symbols = check_int(num_symbols, "num_symbols")
        m_tx = transmitter.constellation.num_points
        m_rx = detector.constellation.num_points
        if m_tx != m_rx:
            raise ValueError(f"the detector expects {m_rx} constellation "
                             f"points but the transmitter sends {m_tx}.")
        if isinstance(csi, str):
            from channels.csi import parse_csi
            csi = parse_csi(csi)
        self.transmitter = transmitter
        self.channel = channel
        self.detector = detector
        self.num_symbols = num_symbols
        self.return_soft = bool(return_soft)
        self._residual_noise = bool(residual_noise)
        # a learned detector has no taps to be handed: its channel
        # knowledge is its training
        self._takes_taps = isinstance(detector, TapsDetector)
        self._retrain = None
        if retrain_pilots is not None:
            self._retrain = _retraining(detector, channel, retrain_pilots,
                                        retrain_epochs)
        self._frame_model = None
        self.csi = None if csi is None or csi.kind == "perfect" else csi
        self._noise_variance = None
        if noise_variance is not None:
            self._noise_variance = tf.Variable(
                check_nonnegative(noise_variance, "noise_variance"),
                dtype=tf.float64, trainable=False)
        self._believed = None
        if believed_taps is not None:
            if self.csi is not None:
                raise ValueError(
                    f"`believed_taps` fixes what the receiver believes, but "
                    f"the CSI case {self.csi} draws believed taps too; give "
                    "one of them.")
            taps = tf.convert_to_tensor(channel.taps)
            believed = tf.convert_to_tensor(believed_taps)
            # complex estimates of a real channel stay complex
            believed = tf.cast(believed, self.cdtype if (
                believed.dtype.is_complex or taps.dtype.is_complex)
                else self.rdtype)
            if believed.shape != taps.shape[-1:]:
                raise ValueError(f"`believed_taps` must have shape "
                                 f"{taps.shape[-1:]}, got {believed.shape}.")
            self._believed = tf.Variable(believed, trainable=False)

    @property
    def compiled_receiver(self):
        """bool: whether the Monte Carlo engine may compile
        :meth:`count_drawn` (False when the detector is retrained per
        frame: training runs its own compiled loop, frame by frame)."""
        return self._retrain is None

    @property
    def noise_variance(self):
        """None or float: the noise variance the receiver believes."""
        return (None if self._noise_variance is None
                else float(self._noise_variance.numpy()))

    @property
    def believed_taps(self):
        """None or tf.Tensor [L]: the taps the receiver believes."""
        return (None if self._believed is None
                else tf.convert_to_tensor(self._believed))

    def adopt_receiver(self, other):
        """Take the receiver of ``other``, a link built the same way (the
        same transmitter, channel, frame length, CSI case and detector
        class and configuration): its believed taps and noise variance,
        and a learned detector's weights (``set_weights_from``). This link
        then counts exactly as ``other`` does, and its compiled functions
        are reused without a new trace.

        Raises
        ------
        ValueError
            The links differ in more than the receiver's knowledge.
        """
        mine, theirs = self.detector, other.detector
        key = self.draw_key()
        taps = [getattr(d, "taps", None) for d in (mine, theirs)]
        same = (type(other) is type(self)
                and key is not None and key == other.draw_key()
                and str(self.csi) == str(other.csi)
                and type(mine) is type(theirs)
                and (self._believed is None) == (other._believed is None)
                and (self._noise_variance is None) ==
                (other._noise_variance is None)
                and (taps[0] is None) == (taps[1] is None)
                and (taps[0] is None or
                     np.array_equal(np.asarray(taps[0]),
                                    np.asarray(taps[1]))))
        if not same:
            raise ValueError("adopt_receiver takes the receiver of a link "
                             "built the same way (transmitter, channel, "
                             "frame length, CSI case, detector class and "
                             "taps); build a new link instead.")
        if mine is not theirs and hasattr(mine, "set_weights_from"):
            mine.set_weights_from(theirs)
        if self._believed is not None:
            self._believed.assign(other._believed)
        if self._noise_variance is not None:
            self._noise_variance.assign(other._noise_variance)
        return self

    # -- pieces a wrapping link (rxsim.coded.CodedLink) reuses ---------------
    @staticmethod
    def split_seed(seed):
        """``(transmitter, channel, csi)`` seeds of a batch seed ``[2]``
        (three ``None`` for ``None``)."""
        if seed is None:
            return None, None, None
        return tuple(tf.unstack(
            tf.random.experimental.stateless_split(seed, 3)))

    def detect(self, y, no, *, csi_seed=None, channel_taps=None,
               prior=None):
        """The receiver: on received samples ``y`` ``[batch, T]``, the
        believed taps (fixed, or of the CSI case, drawn with ``csi_seed``)
        and the detector's output (log-probabilities ``[batch, T, M]`` or
        indices ``[batch, T]``). ``prior``: a-priori bit LLRs ``[batch, T
        * bits]`` for detectors that take them (turbo detection, see
        :class:`rxsim.coded.CodedLink`); the same ``csi_seed`` gives the
        same believed taps at every call.

        ``channel_taps``: the taps a fading channel applied to this batch
        (``[batch, L_total]``, or ``[batch, T, L_total]`` within-frame
        fading; :meth:`draw` passes them on), from which the CSI case
        takes the receiver's knowledge (see :meth:`_fading_receiver`)."""
        no_rx = no if self._noise_variance is None else tf.cast(
            self._noise_variance, tf.convert_to_tensor(no).dtype)
        extra = {} if prior is None else {"prior": prior}
        if self._retrain is not None:
            return self._retrained(y, no, no_rx, channel_taps, csi_seed,
                                   prior)
        if self._believed is not None:
            return self.detector(y, no_rx,
                                 taps=tf.convert_to_tensor(self._believed),
                                 **extra)
        if channel_taps is not None and self._takes_taps:
            taps, no_rx = self._fading_receiver(y, no, no_rx, channel_taps,
                                                csi_seed)
            return self.detector(y, no_rx, taps=taps, **extra)
        if self.csi is None or self.csi.kind == "mean":
            return self.detector(y, no_rx, **extra)   # its own taps
        return self.detector(y, no_rx, taps=self._believed_taps(
            self.channel.taps, y, no, csi_seed), **extra)

    def _believed_taps(self, true_taps, y, no, csi_seed):
        """The CSI case's draw of believed taps from ``true_taps``."""
        per_symbol = ({"num_symbols": y.shape[1]}
                      if getattr(self.csi, "per_symbol", False) else {})
        batch_size = y.shape[0] if y.shape[0] is not None else \
            tf.shape(y)[0]
        return self.csi.believed_taps(
            true_taps, no, batch_size, seed=csi_seed,
            constellation=self.transmitter.constellation, **per_symbol)

    def _fading_receiver(self, y, no, no_rx, channel_taps, csi_seed):
        """``(taps, noise variance)`` the detector is handed on a fading
        channel (taps drawn per frame, :class:`channels.TDLChannel`):

        - ``perfect``: the frame's kept taps (per symbol under within-frame
          fading for detectors that take them, else the taps of the
          frame's middle symbol), with the average power of the taps
          outside the kept window added to the noise variance unless
          ``residual_noise=False``;
        - ``perturbed:...``: the CSI case's errors on those taps (same
          noise rule);
        - ``estimated:pilots=N``: least squares from ``N`` pilots sent
          through the frame's channel just before it, and the noise
          variance measured on them (which holds the residual taps'
          power), :meth:`channels.TDLChannel.estimate_taps`;
        - ``mean``: the channel's average taps (``channel.taps``, what the
          detector was built with), same noise rule.
        """
        ch = self.channel
        kind = None if self.csi is None else self.csi.kind
        if kind == "estimated":
            return ch.estimate_taps(channel_taps, no,
                                    self.csi.params["pilots"],
                                    seed=csi_seed)
        if kind == "mean":
            kept = tf.convert_to_tensor(ch.taps)
        else:
            kept = ch.kept_taps(channel_taps)
        if kept.shape.rank == 3 and not getattr(self.detector,
                                                "per_symbol_taps", False):
            kept = kept[:, kept.shape[1] // 2]
        if self._residual_noise:
            no_rx = no_rx + tf.cast(ch.residual_energy,
                                    tf.convert_to_tensor(no_rx).dtype)
        taps = kept if kind in (None, "mean") else self._believed_taps(
            kept, y, no, csi_seed)
        return taps, no_rx

    def _retrained(self, y, no, no_rx, channel_taps, pilot_seed, prior):
        """The detector's output with a model fine-tuned per frame on that
        frame's pilots (:func:`retrained_per_frame`)."""
        no_rx = tf.broadcast_to(tf.convert_to_tensor(no_rx),
                                [int(y.shape[0])])

        def detect(work, k):
            extra = {} if prior is None else {"prior": prior[k:k + 1]}
            return work(y[k:k + 1], no_rx[k:k + 1], **extra)
        return retrained_per_frame(self, channel_taps, "channel_taps", no,
                                   pilot_seed, detect)

    def call(self, batch_size, no, seed=None):
        s, y, state = self.draw(batch_size, no, seed)
        return self._decisions(s, self.detect(y, no, **state))

    def _decisions(self, s, out):
        """``(s, s_hat[, log_probs])`` of the detector's output."""
        if out.dtype.is_integer:
            if self.return_soft:
                raise ValueError("`return_soft` needs a detector built with "
                                 "hard_out=False.")
            return s, tf.cast(out, tf.int32)
        s_hat = tf.argmax(out, axis=-1, output_type=tf.int32)
        return (s, s_hat, out) if self.return_soft else (s, s_hat)

    # -- the engine's protocol (rxsim.counts) --------------------------------
    def draw_key(self):
        """What a batch drawn by :meth:`draw` depends on: links with equal
        keys draw the same batches from the same seed, so the engine may
        draw once for all of them (:func:`rxsim.montecarlo.
        simulate_points`). ``None`` when the transmitter or channel does
        not say (a channel without ``draw_key``): such a link draws its
        own batches."""
        parts = [getattr(block, "draw_key", None)
                 for block in (self.transmitter, self.channel)]
        if any(part is None for part in parts):
            return None
        return ("Link", self.num_symbols) + tuple(p() for p in parts)

    def draw(self, batch_size, no, seed=None):
        """The transmitter and channel of one batch (the part every link of
        a point shares under common random numbers).

        Output
        ------
        : ``(s, y, state)``: sent indices ``[batch, T]`` (tf.int32),
          received samples ``[batch, T]`` and what the receiver's side
          draws from (``dict``, the keywords of :meth:`detect`: the CSI
          stream's seed ``csi_seed`` ``[2]``, and a fading channel's
          ``channel_taps``)
        """
        tx_seed, ch_seed, csi_seed = self.split_seed(seed)
        s, x = self.transmitter(batch_size, self.num_symbols, seed=tx_seed)
        y, state = self.through_channel(x, no, ch_seed)
        return s, y, {"csi_seed": csi_seed, **state}

    def through_channel(self, x, no, seed):
        """``(y, state)``: the channel's output for sent points ``x`` and
        the keywords of :meth:`detect` it adds (``channel_taps`` for a
        channel that draws its taps per frame, i.e. has ``draw_taps``)."""
        if not hasattr(self.channel, "draw_taps"):
            return self.channel(x, no, seed=seed), {}
        y, full, _ = self.channel(x, no, seed=seed, return_taps=True)
        return y, {"channel_taps": full}

    def count_drawn(self, drawn, no):
        """Counts (:mod:`rxsim.counts`) of this link's receiver on a batch
        of :meth:`draw` (of this link or of one with the same
        :meth:`draw_key`)."""
        s, y, state = drawn
        s_hat = self._decisions(s, self.detect(y, no, **state))[1]
        bits = getattr(self.transmitter, "bits_per_symbol", None)
        return symbol_counts(s, s_hat, bits)

    def count(self, batch_size, no, seed=None):
        """Counts of one batch for the Monte Carlo engine.

        Input: as the link's call. Output: ``dict`` of scalar ``tf.int64``
        (``frames``, ``symbols``, ``errors``, ``sum_sq``, ``bits``,
        ``bit_errors``; see :mod:`rxsim.counts`).
        """
        return self.count_drawn(self.draw(batch_size, no, seed), no)



def retrained_per_frame(link, channel_state, state_name, no, pilot_seed,
                        detect):
    """``detect(work, k)`` of every frame ``k``, concatenated on axis 0,
    with ``work`` (a copy of ``link.detector``, kept on the link) reset to
    the trained-once weights and fine-tuned (``adapt``, ``retrain_epochs``
    steps) before on ``retrain_pilots`` pilots through frame ``k``'s
    channel (``link.channel.pilot_frames(channel_state, ...)`` under
    ``pilot_seed``): the per-frame retraining of :class:`Link` and
    :class:`rxsim.mimo_link.MIMOLink`, eager (a Python loop)."""
    if channel_state is None:
        raise ValueError("retraining per frame sends pilots through each "
                         "frame's channel; call detect with the "
                         f"`{state_name}` the channel applied.")
    pilots, epochs = link._retrain
    s_p, y_p = link.channel.pilot_frames(channel_state, no, pilots,
                                         seed=pilot_seed)
    if link._frame_model is None:
        link._frame_model = link.detector.copy()
    outs = []
    for k in range(int(y_p.shape[0])):
        link._frame_model.set_weights_from(link.detector)
        link._frame_model.adapt(y_p[k], s_p[k], epochs=epochs)
        outs.append(detect(link._frame_model, k))
    return tf.concat(outs, axis=0)


def _retraining(detector, channel, pilots, epochs):
    """``(pilots, epochs)`` of per-frame retraining, checked: a learned
    trellis detector (``adapt``), a channel that sends pilots through a
    frame's taps (``pilot_frames``), and enough pilots for every channel
    state (``adapt``'s rule: 10 per state)."""
    from detectors.pilots import MIN_SAMPLES_PER_CLASS

    pilots = check_int(pilots, "retrain_pilots")
    epochs = check_int(epochs, "retrain_epochs")
    if not callable(getattr(detector, "adapt", None)):
        raise ValueError(
            f"`retrain_pilots` fine-tunes a learned trellis detector per "
            f"frame (ViterbiNet, LearnedFactorGraph), not a "
            f"{type(detector).__name__}.")
    if not callable(getattr(channel, "pilot_frames", None)):
        raise ValueError(
            f"`retrain_pilots` sends pilots through each frame's own "
            f"channel, which needs a fading channel (channels.TDLChannel); "
            f"a {type(channel).__name__} has the same channel in every "
            "frame: train once on more pilots instead.")
    need = MIN_SAMPLES_PER_CLASS * detector.num_classes
    if pilots < need:
        raise ValueError(
            f"`retrain_pilots` = {pilots} is too few to retrain on: the "
            f"detector has {detector.num_classes} channel states (M**L) "
            f"and fine-tuning needs {MIN_SAMPLES_PER_CLASS} pilots per "
            f"state, i.e. retrain_pilots >= {need}.")
    return pilots, epochs
