"""Constellations by name, on top of Sionna's ``Constellation``.

Symbol index ``i`` <-> point ``constellation.points[i]`` <-> bit label =
binary representation of ``i`` (Sionna's convention). For BPSK index 0 is
+1 and index 1 is -1.

On-off keying (``"ook"``, for the Poisson channel of optical / molecular
links) is a Sionna ``"custom"`` constellation with points ``[0, 1]``, neither
centred nor normalised: index 0 is "off" (also the preamble symbol), index
1 is "on". It is real.

:func:`complex_baseband` embeds a real PAM/BPSK constellation in the
complex plane for complex channels (a TDL channel's taps are complex): a
Sionna ``"custom"`` constellation with the same points (imaginary part 0),
index order and bit labels, neither centred nor normalised again. It is
complex (:func:`is_real` is False), so every detector treats its samples as
complex; :func:`constellation_name` still names it ``"bpsk"`` / ``"pamM"``
(recognised by its points, like OOK).
"""

import re

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import Constellation

__all__ = ["make_constellation", "constellation_name", "is_real",
           "constellation_points", "complex_baseband"]

_NAMED = {"bpsk": ("pam", 1), "qpsk": ("qam", 2)}
_OOK_POINTS = (0.0, 1.0)


def _is_ook(c):
    """True for the on-off keying constellation (custom, points [0, 1])."""
    return (c.constellation_type == "custom" and c.num_points == 2 and
            np.array_equal(np.asarray(c.points), np.asarray(_OOK_POINTS)))


def _embedded_pam_name(c):
    """``"bpsk"`` / ``"pamM"`` for a custom constellation whose points are
    exactly that PAM's (the :func:`complex_baseband` embedding), else
    None."""
    if c.constellation_type != "custom" or _is_ook(c):
        return None
    bits = c.num_bits_per_symbol
    name = "bpsk" if bits == 1 else f"pam{2 ** bits}"
    pam = make_constellation(name, precision=c.precision)
    same = np.array_equal(np.asarray(c.points), np.asarray(pam.points))
    return name if same else None


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

    The complex embedding of a PAM (:func:`complex_baseband`) has its PAM's
    name: the name gives the points, not whether samples are complex (ask
    :func:`is_real`).

    Example
    -------
    >>> from signals.constellations import constellation_name
    >>> constellation_name("PAM-4"), constellation_name(None)
    ('pam4', 'bpsk')
    """
    c = make_constellation(constellation)
    if _is_ook(c):
        return "ook"
    embedded = _embedded_pam_name(c)
    if embedded is not None:
        return embedded
    if c.constellation_type == "pam" and c.num_bits_per_symbol == 1:
        return "bpsk"
    return f"{c.constellation_type}{c.num_points}"


def is_real(constellation):
    """PAM (and BPSK) and OOK constellations are real; QAM and other custom
    constellations (also :func:`complex_baseband` of a PAM) are complex.

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


def complex_baseband(constellation):
    """The constellation for a complex channel: a complex one unchanged, a
    real PAM/BPSK one embedded in the complex plane.

    The embedding is a Sionna ``"custom"`` constellation with the same
    points (as complex numbers, imaginary part 0), the same index <-> point
    <-> bit-label order and precision, ``normalize=False, center=False``
    (the PAM is already unit energy and centred). :func:`is_real` is False
    for it, so detectors and channels treat its samples as complex, and
    Sionna's ``Mapper`` / ``Demapper`` take it like any custom
    constellation. OOK (real, not zero-mean) is refused: it is for
    intensity channels, not complex baseband.

    Parameters
    ----------
    constellation : None | str | Constellation
        As :func:`make_constellation` takes it (None -> BPSK).

    Output
    ------
    : sionna.phy.mapping.Constellation

    Example
    -------
    >>> from signals.constellations import (complex_baseband,
    ...                                     constellation_name, is_real)
    >>> c = complex_baseband("bpsk")
    >>> c.constellation_type, is_real(c), constellation_name(c)
    ('custom', False, 'bpsk')
    >>> c.points.numpy()
    array([ 1.+0.j, -1.+0.j], dtype=complex64)
    >>> complex_baseband("qpsk").constellation_type    # complex: unchanged
    'qam'
    """
    c = make_constellation(constellation)
    if _is_ook(c):
        raise ValueError(
            "`constellation` 'ook' (on-off keying) has no complex-baseband "
            "embedding here: it is for intensity channels such as "
            "PoissonChannel; use 'bpsk', 'pamM', 'qpsk' or 'qamM'.")
    if not is_real(c):
        return c
    return Constellation("custom", c.num_bits_per_symbol, points=c.points,
                         normalize=False, center=False,
                         precision=c.precision)
