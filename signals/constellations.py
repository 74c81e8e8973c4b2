"""Constellations by name, on top of Sionna's ``Constellation``.

Symbol index ``i`` <-> point ``constellation.points[i]`` <-> bit label =
binary representation of ``i`` (Sionna's convention). For BPSK index 0 is
+1 and index 1 is -1.

On-off keying (``"ook"``, for the Poisson channel of optical / molecular
links) is a Sionna ``"custom"`` constellation with points ``[0, 1]``, neither
centred nor normalised: index 0 is "off" (also the preamble symbol), index
1 is "on". It is real.
"""

import re

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import Constellation

__all__ = ["make_constellation", "constellation_name", "is_real",
           "constellation_points"]

_NAMED = {"bpsk": ("pam", 1), "qpsk": ("qam", 2)}
_OOK_POINTS = (0.0, 1.0)


def _is_ook(c):
    """True for the on-off keying constellation (custom, points [0, 1])."""
    return (c.constellation_type == "custom" and c.num_points == 2 and
            np.array_equal(np.asarray(c.points), np.asarray(_OOK_POINTS)))


def make_constellation(spec=None, precision=None):
    """Return a Sionna ``Constellation`` from a name or an instance.

    Parameters
    ----------
    spec : None | str | Constellation
        ``None`` -> BPSK. Names: ``"bpsk"``, ``"qpsk"``, ``"pamM"`` (M-PAM,
        real, unit energy), ``"qamM"`` (M-QAM, complex, unit energy),
        M a power of two, ``"ook"`` (on-off keying, real points ``[0, 1]``,
        not normalised). A ``Constellation`` is returned as is.
    precision : None | "single" | "double"

    Output
    ------
    : sionna.phy.mapping.Constellation

    Example
    -------
    >>> from signals.constellations import make_constellation
    >>> c = make_constellation("qam16")
    >>> c.num_points, c.num_bits_per_symbol
    (16, 4)
    >>> make_constellation().num_points         # None: BPSK
    2
    """
    if spec is None:
        spec = "bpsk"
    if isinstance(spec, Constellation):
        return spec
    if not isinstance(spec, str):
        raise TypeError("`constellation` must be None, a name such as "
                        "'bpsk', 'pam4', 'qam16', or a sionna "
                        f"Constellation; got {type(spec).__name__}.")
    name = spec.lower().replace("-", "")
    if name == "ook":
        return Constellation("custom", 1, points=list(_OOK_POINTS),
                             normalize=False, center=False,
                             precision=precision)
    if name in ("bpsk", "qpsk"):
        kind, bits = _NAMED[name]
    else:
        m = re.fullmatch(r"(pam|qam)(\d+)", name)
        order = int(m.group(2)) if m else 0
        bits = order.bit_length() - 1
        if not m or order < 2 or order != 2 ** bits or (
                m.group(1) == "qam" and bits % 2):
            raise ValueError(
                f"Unknown constellation {spec!r}; use 'bpsk', 'qpsk', "
                "'pamM' (M = 2, 4, 8, ...), 'qamM' (M = 4, 16, 64, ...) or "
                "'ook'.")
        kind = m.group(1)
    return Constellation(kind, bits, normalize=True, precision=precision)


def constellation_name(constellation):
    """Short name, e.g. ``'bpsk'``, ``'pam4'``, ``'qam16'``, ``'ook'``.

    Example
    -------
    >>> from signals.constellations import constellation_name
    >>> constellation_name("PAM-4"), constellation_name(None)
    ('pam4', 'bpsk')
    """
    c = make_constellation(constellation)
    if _is_ook(c):
        return "ook"
    if c.constellation_type == "pam" and c.num_bits_per_symbol == 1:
        return "bpsk"
    return f"{c.constellation_type}{c.num_points}"


def is_real(constellation):
    """PAM (and BPSK) and OOK constellations are real; QAM and other custom
    constellations are complex.

    Example
    -------
    >>> from signals.constellations import is_real
    >>> is_real("pam4"), is_real("ook"), is_real("qpsk")
    (True, True, False)
    """
    c = make_constellation(constellation)
    return c.constellation_type == "pam" or _is_ook(c)


def constellation_points(constellation, dtype=tf.float32):
    """Points as a tensor ``[M]``: real ``dtype`` for PAM, complex else.

    Example
    -------
    >>> from signals.constellations import constellation_points
    >>> constellation_points("bpsk").numpy()    # index 0 is +1
    array([ 1., -1.], dtype=float32)
    >>> constellation_points("ook").numpy()
    array([0., 1.], dtype=float32)
    >>> constellation_points("qpsk").dtype.name
    'complex64'
    """
    c = make_constellation(constellation)
    pts = np.asarray(c.points)
    if is_real(c):
        return tf.constant(pts.real, dtype=dtype)
    cdtype = tf.complex128 if dtype == tf.float64 else tf.complex64
    return tf.constant(pts, dtype=cdtype)
