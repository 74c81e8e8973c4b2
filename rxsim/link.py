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

    Input
    -----
    batch_size : int
    no : scalar or [batch], tf.float
        Noise variance.
    seed : None or [2], tf.int32
        Stateless seed of this batch; split into transmitter and channel
        seeds. ``None`` uses Sionna's global RNG.

    Output
    ------
    s : [batch, T], tf.int32, transmitted indices
    s_hat : [batch, T], tf.int32, detected indices
    log_probs : [batch, T, M], tf.float (only with ``return_soft``)
    """

    def __init__(self, transmitter, channel, detector, num_symbols,
                 return_soft=False, precision=None, **kwargs):
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

    def call(self, batch_size, no, seed=None):
        tx_seed = ch_seed = None
        if seed is not None:
            seeds = tf.random.experimental.stateless_split(seed, 2)
            tx_seed, ch_seed = seeds[0], seeds[1]
        s, x = self.transmitter(batch_size, self.num_symbols, seed=tx_seed)
        y = self.channel(x, no, seed=ch_seed)
        out = self.detector(y, no)
        if out.dtype.is_integer:
            if self.return_soft:
                raise ValueError("`return_soft` needs a detector built with "
                                 "hard_out=False.")
            return s, tf.cast(out, tf.int32)
        s_hat = tf.argmax(out, axis=-1, output_type=tf.int32)
        return (s, s_hat, out) if self.return_soft else (s, s_hat)
