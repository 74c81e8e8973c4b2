"""Tap profiles of ISI channels."""

import numpy as np

from signals.checks import check_int

__all__ = ["exponential_taps"]


def exponential_taps(L, gamma, normalize=False):
    """Exponentially decaying taps ``h[l] = exp(-gamma * l)``, l = 0..L-1.

    Unnormalised by default, as in the ViterbiNet / BCJRNet papers (so the
    received energy, and the SNR definition ``no = 10**(-snr_db/10)``, match
    theirs).

    Parameters
    ----------
    L : int
        Channel memory (number of taps), >= 1.
    gamma : float
        Decay rate, >= 0.
    normalize : bool
        Scale to unit energy ``sum h[l]**2 = 1``.

    Output
    ------
    : [L], np.float64

    Example
    -------
    >>> from channels import exponential_taps
    >>> exponential_taps(3, 0.5)
    array([1.        , 0.60653066, 0.36787944])
    >>> exponential_taps(2, 0.0, normalize=True)
    array([0.70710678, 0.70710678])
    """
    L = check_int(L, "L")
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"`gamma` must be finite and >= 0, got {gamma}.")
    taps = np.exp(-gamma * np.arange(L, dtype=np.float64))
    if normalize:
        taps = taps / np.sqrt(np.sum(taps ** 2))
    return taps
