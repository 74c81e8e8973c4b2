"""A link: transmitter -> channel -> detector, one Monte Carlo batch per call."""

import tensorflow as tf
from sionna.phy import Block

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

    Input
    -----
    batch_size : int
    no : scalar or [batch], tf.float
        Noise variance.
    seed : None or [2], tf.int32
        Stateless seed of this batch; split into transmitter, channel and
        CSI seeds. ``None`` uses Sionna's global RNG.

    Output
    ------
    s : [batch, T], tf.int32, transmitted indices
    s_hat : [batch, T], tf.int32, detected indices
    log_probs : [batch, T, M], tf.float (only with ``return_soft``)
    """

    def __init__(self, transmitter, channel, detector, num_symbols,
                 return_soft=False, csi=None, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if int(num_symbols) < 1:
            raise ValueError(f"`num_symbols` must be >= 1, got {num_symbols}.")
        m_tx = transmitter.constellation.num_points
        m_rx = detector.constellation.num_points
        if m_tx != m_rx:
            raise ValueError(f"the detector expects {m_rx} constellation "
                             f"points but the transmitter sends {m_tx}.")
        self.transmitter = transmitter
        self.channel = channel
        self.detector = detector
        self.num_symbols = int(num_symbols)
        self.return_soft = bool(return_soft)
        self.csi = None if csi is None or csi.kind == "perfect" else csi

    def call(self, batch_size, no, seed=None):
        tx_seed = ch_seed = csi_seed = None
        if seed is not None:
            tx_seed, ch_seed, csi_seed = tf.unstack(
                tf.random.experimental.stateless_split(seed, 3))
        s, x = self.transmitter(batch_size, self.num_symbols, seed=tx_seed)
        y = self.channel(x, no, seed=ch_seed)
        if self.csi is None:
            out = self.detector(y, no)
        else:
            believed = self.csi.believed_taps(
                self.channel.taps, no, batch_size, seed=csi_seed,
                constellation=self.transmitter.constellation)
            out = self.detector(y, no, taps=believed)
        if out.dtype.is_integer:
            if self.return_soft:
                raise ValueError("`return_soft` needs a detector built with "
                                 "hard_out=False.")
            return s, tf.cast(out, tf.int32)
        s_hat = tf.argmax(out, axis=-1, output_type=tf.int32)
        return (s, s_hat, out) if self.return_soft else (s, s_hat)
