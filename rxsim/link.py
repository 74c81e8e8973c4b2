"""A link: transmitter -> channel -> detector, one Monte Carlo batch per call."""

import tensorflow as tf
from sionna.phy import Block

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
    precision : None | "single" | "double"

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
                 precision=None, **kwargs):
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
        self.csi = None if csi is None or csi.kind == "perfect" else csi
        if noise_variance is not None:
            noise_variance = check_nonnegative(noise_variance,
                                               "noise_variance")
        self.noise_variance = noise_variance

    # -- pieces a wrapping link (rxsim.coded.CodedLink) reuses ---------------
    @staticmethod
    def split_seed(seed):
        """``(transmitter, channel, csi)`` seeds of a batch seed ``[2]``
        (three ``None`` for ``None``)."""
        if seed is None:
            return None, None, None
        return tuple(tf.unstack(
            tf.random.experimental.stateless_split(seed, 3)))

    def receive(self, x, no, batch_size, *, channel_seed=None,
                csi_seed=None):
        """The detector's output for the points ``x`` ``[batch, T]`` sent:
        the channel, the believed taps of the CSI case (drawn with
        ``csi_seed``) and the detector (log-probabilities ``[batch, T, M]``
        or indices ``[batch, T]``)."""
        y = self.channel(x, no, seed=channel_seed)
        no_rx = no if self.noise_variance is None else tf.cast(
            self.noise_variance, tf.convert_to_tensor(no).dtype)
        if self.csi is None:
            return self.detector(y, no_rx)
        per_symbol = ({"num_symbols": x.shape[1]}
                      if getattr(self.csi, "per_symbol", False) else {})
        believed = self.csi.believed_taps(
            self.channel.taps, no, batch_size, seed=csi_seed,
            constellation=self.transmitter.constellation, **per_symbol)
        return self.detector(y, no_rx, taps=believed)

    def call(self, batch_size, no, seed=None):
        tx_seed, ch_seed, csi_seed = self.split_seed(seed)
        s, x = self.transmitter(batch_size, self.num_symbols, seed=tx_seed)
        out = self.receive(x, no, batch_size, channel_seed=ch_seed,
                           csi_seed=csi_seed)
        if out.dtype.is_integer:
            if self.return_soft:
                raise ValueError("`return_soft` needs a detector built with "
                                 "hard_out=False.")
            return s, tf.cast(out, tf.int32)
        s_hat = tf.argmax(out, axis=-1, output_type=tf.int32)
        return (s, s_hat, out) if self.return_soft else (s, s_hat)

    def count(self, batch_size, no, seed=None):
        """Counts of one batch for the Monte Carlo engine.

        Input: as the link's call. Output: ``dict`` of scalar ``tf.int64``
        (``frames``, ``symbols``, ``errors``, ``sum_sq``, ``bits``,
        ``bit_errors``; see :mod:`rxsim.counts`).
        """
        s, s_hat = self(batch_size, no, seed)[:2]
        bits = getattr(self.transmitter, "bits_per_symbol", None)
        return symbol_counts(s, s_hat, bits)
