r"""Pilot data for training learned detectors, from a link configuration.

The pilots go through the same transmitter and ISI channel as the Monte
Carlo links (:class:`rxsim.Transmitter`, :class:`channels.ISIChannel`), in
frames of ``frame_length`` symbols that each follow the preamble. With an
imperfect-CSI case the channel of every pilot frame is the one the receiver
*believes* (``channels.csi.CSISpec.believed_taps``, drawn once per frame):
for ``"perturbed:var=V"`` the true taps with fresh multiplicative errors
per frame, which is how the ViterbiNet paper trains under CSI uncertainty.
With ``channel_kind="poisson"`` the pilots go through
:class:`channels.PoissonChannel` instead (on-off keying, ``no = 1/rho``),
with the same per-frame CSI model.

Everything is drawn from stateless seeds, so the same arguments give the
same numbers on every run and machine.
"""

import numpy as np
import tensorflow as tf

from channels import ISIChannel, PoissonChannel
from signals.checks import check_int
from signals.seeds import stateless_seed

from .config import snr_to_no
from .transmitter import Transmitter

__all__ = ["pilot_data"]


def pilot_data(taps, snr_db=None, num_symbols=None, constellation=None,
               csi=None, frame_length=500, seed=None, *, no=None,
               channel_kind="isi", noise_seed=None, channel=None):
    r"""Labelled pilots ``(y, s)`` through an ISI channel.

    Parameters
    ----------
    taps : [L], array_like
        True channel taps.
    snr_db : None | float
        SNR in dB, ``no = 10**(-snr_db / 10)`` (unnormalised taps, as in
        the sweeps). Give exactly one of ``snr_db`` and ``no``.
    num_symbols : int
        Total pilot symbols: a multiple of ``frame_length``, or fewer than
        it (one frame).
    constellation : None | str | Constellation
        ``None`` -> BPSK.
    csi : None | str | channels.csi.CSISpec
        ``None`` / ``"perfect"``: every frame sees ``taps``. Otherwise each
        frame sees the taps the receiver believes under this CSI case,
        e.g. ``"perturbed:var=0.1"``.
    frame_length : int
        Symbols per frame (each frame restarts after the preamble; with
        imperfect CSI, taps are redrawn per frame).
    seed : None | int | [2] int
        Stateless seed (see :func:`signals.seeds.stateless_seed`).
    no : None | float
        Noise variance instead of ``snr_db``.
    channel_kind : "isi" | "poisson"
        ``"isi"``: :class:`channels.ISIChannel` (AWGN); ``"poisson"``:
        :class:`channels.PoissonChannel` (counts, ``no = 1/rho``; needs
        a non-negative real constellation such as ``"ook"`` and a CSI case
        other than ``estimated``, whose least-squares estimate assumes
        Gaussian pilots).

    noise_seed : None | int | [2] int
        Seed of the channel noise alone; ``None``: split from ``seed``.
        With it, one ``seed`` gives the same symbols (and believed taps)
        under fresh noise, as the authors' pilots at every SNR.
    channel : None | channel block
        The channel the pilots go through instead of one built from
        ``taps`` and ``channel_kind`` (which are then not used): an
        :class:`channels.ISIChannel` or :class:`channels.PoissonChannel`
        (under a CSI case other than perfect each frame sees the believed
        taps, as above), or one that draws its own taps per frame (e.g.
        :class:`channels.TDLChannel`: a new realisation per pilot frame;
        ``csi`` must then be perfect, the pilots see the true fading
        channel).

    Output
    ------
    y : [frames, T], np.float32 (np.complex64 for complex constellations
        or taps)
        Received samples.
    s : [frames, T], np.int32
        Transmitted symbol indices.

    Example
    -------
    >>> y, s = pilot_data([1.0, 0.5], snr_db=10, num_symbols=1000, seed=1)
    >>> y.shape, s.shape, y.dtype, s.dtype
    ((2, 500), (2, 500), dtype('float32'), dtype('int32'))
    >>> again, _ = pilot_data([1.0, 0.5], snr_db=10, num_symbols=1000, seed=1)
    >>> bool((again == y).all())            # stateless: same seed, same data
    True
    """
    from channels.csi import parse_csi

    if (snr_db is None) == (no is None):
        raise ValueError("give exactly one of `snr_db` and `no`.")
    if no is None:
        try:
            no = snr_to_no(snr_db)
        except (TypeError, ValueError):
            raise TypeError(f"`snr_db` must be a number, got {snr_db!r}.") \
                from None
        if not np.isfinite(no):
            raise ValueError(f"`snr_db` must be finite, got {snr_db!r}.")
    else:
        no = float(no)
        if not np.isfinite(no) or no < 0:
            raise ValueError(f"`no` (noise variance) must be finite and "
                             f">= 0, got {no!r}.")
    num_symbols = check_int(num_symbols, "num_symbols")
    frame_length = check_int(frame_length, "frame_length")
    if num_symbols < frame_length:
        frames, T = 1, num_symbols
    elif num_symbols % frame_length:
        raise ValueError(
            f"`num_symbols` = {num_symbols} is not a multiple of "
            f"`frame_length` = {frame_length}; use e.g. "
            f"{num_symbols - num_symbols % frame_length} or "
            f"{num_symbols + frame_length - num_symbols % frame_length}.")
    else:
        frames, T = num_symbols // frame_length, frame_length
    spec = parse_csi("perfect" if csi is None else csi)
    if channel is None and channel_kind not in ("isi", "poisson"):
        raise ValueError(f"`channel_kind` must be 'isi' or 'poisson', got "
                         f"{channel_kind!r}.")
    tx_seed, ch_seed, csi_seed = tf.unstack(
        tf.random.experimental.stateless_split(stateless_seed(seed), 3))
    if noise_seed is not None:
        ch_seed = stateless_seed(noise_seed)
    if channel is None:
        channel = (PoissonChannel(taps, constellation=constellation or "ook")
                   if channel_kind == "poisson"
                   else ISIChannel(taps, constellation=constellation))
    elif hasattr(channel, "draw_taps") and spec.kind != "perfect":
        raise ValueError(
            f"pilots through a fading channel block see its true taps; "
            f"csi must be 'perfect', got {str(spec)!r}.")
    poisson = isinstance(channel, PoissonChannel)
    if poisson and spec.kind == "estimated":
        raise ValueError("csi 'estimated:...' simulates least-squares "
                         "estimation on Gaussian pilots; a 'poisson' channel "
                         "takes 'perfect' or 'perturbed:var=V'.")
    transmitter = Transmitter(channel.constellation if poisson
                              else constellation or channel.constellation)
    s, x = transmitter(frames, T, seed=tx_seed)
    if spec.kind == "perfect":
        y = channel(x, no, seed=ch_seed)
    else:
        frame_taps = spec.believed_taps(channel.taps, no, frames,
                                        seed=csi_seed,
                                        constellation=constellation)
        y = channel(x, no, taps=frame_taps, seed=ch_seed)
    return y.numpy(), s.numpy().astype(np.int32)
