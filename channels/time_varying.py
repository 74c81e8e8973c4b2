r"""Time-varying ISI channels: taps that change from block to block.

The block-fading model of the ViterbiNet paper (Shlezinger, Farsad, Eldar,
Goldsmith, "ViterbiNet: A deep learning based Viterbi algorithm for symbol
detection", IEEE Trans. Wireless Commun. 19(5), 2020, Sec. V, time-varying
channel): within block ``t`` the taps are fixed,

.. math::

    h_l(t) = e^{-\gamma l} \left(0.8 + 0.2 \cos\frac{2 \pi t}{p_l}\right),
    \qquad l = 0, \dots, L-1,

with periods ``p = (51, 39, 33, 21)`` blocks for ``L = 4``. At ``t = 0``
(and at multiples of every period) the taps equal the static profile
``exp(-gamma l)``; in between each tap shrinks to as little as 0.6 of it,
each with its own period, so the channel never repeats exactly within
``lcm(p)`` blocks. The same model (same periods, 0.8 / 0.2 split) is used by
the follow-up works on online training (Meta-ViterbiNet, Raviv et al. 2021).
"""

import numpy as np

from signals.checks import check_nonnegative

from .taps import exponential_taps

__all__ = ["time_varying_taps", "PAPER_PERIODS"]

#: Periods (in blocks) of the four taps in the ViterbiNet paper.
PAPER_PERIODS = (51, 39, 33, 21)


def time_varying_taps(memory, gamma, block, periods=PAPER_PERIODS,
                      amplitude=0.2):
    r"""Taps of the block-fading channel at block index ``block``.

    ``h_l(t) = exp(-gamma l) * ((1 - amplitude) + amplitude *
    cos(2 pi t / p_l))``; with the defaults this is the ViterbiNet paper's
    ``exp(-gamma l) (0.8 + 0.2 cos(2 pi t / p_l))`` (see the module doc).

    Parameters
    ----------
    memory : int
        L, the number of taps (>= 1).
    gamma : float
        Exponential decay of the profile (>= 0).
    block : int or array_like of int
        Block index ``t`` (>= 0), or an array of them.
    periods : sequence of L positive numbers
        Period ``p_l`` of each tap in blocks. The default is the paper's
        ``(51, 39, 33, 21)``, which fits only ``L = 4``: give your own for
        other memories.
    amplitude : float in [0, 1]
        Depth of the variation; 0 gives the static ``exp(-gamma l)``.

    Output
    ------
    : [L] np.float64 for a scalar ``block``; [len(block), L] (more
      generally ``block.shape + [L]``) for an array of indices

    Raises
    ------
    ValueError
        ``len(periods) != memory``, non-positive periods, negative or
        non-integer block indices, ``amplitude`` outside [0, 1].

    Example
    -------
    At ``t = 0`` the taps are the static profile; after half of its
    period a tap is at 0.6 of it:

    >>> time_varying_taps(4, 0.2, 0).round(3)
    array([1.   , 0.819, 0.67 , 0.549])
    >>> time_varying_taps(2, 0.5, 5, periods=(10, 20)).round(4)
    array([0.6   , 0.4852])
    >>> time_varying_taps(4, 0.2, [0, 1, 2]).shape
    (3, 4)
    """
    base = exponential_taps(memory, gamma)
    try:
        p = np.asarray(periods, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`periods` must be a sequence of numbers, got "
                        f"{periods!r}.") from None
    if p.ndim != 1 or len(p) != memory:
        raise ValueError(
            f"`periods` needs one period per tap: memory={memory} but "
            f"{np.size(p)} periods {list(np.atleast_1d(p))} were given "
            f"(the default {PAPER_PERIODS} is the paper's, for memory=4); "
            "pass periods=... with length equal to memory.")
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError(f"`periods` must be finite and > 0, got "
                         f"{list(p)}.")
    amplitude = check_nonnegative(amplitude, "amplitude")
    if amplitude > 1.0:
        raise ValueError(f"`amplitude` must lie in [0, 1] (taps stay "
                         f"non-negative), got {amplitude}.")
    t = np.asarray(block)
    if t.dtype == bool or not np.issubdtype(t.dtype, np.integer):
        if not (np.issubdtype(t.dtype, np.floating)
                and np.all(np.isfinite(t)) and np.all(t == np.floor(t))):
            raise ValueError(f"`block` must be an integer block index (or "
                             f"an array of them), got {block!r}.")
    if np.any(t < 0):
        raise ValueError(f"`block` indices must be >= 0, got {block!r}.")
    t = t.astype(np.float64)
    fade = (1.0 - amplitude) + amplitude * np.cos(
        2.0 * np.pi * t[..., None] / p)
    return base * fade
