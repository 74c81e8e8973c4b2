"""Imperfect channel-state information: the taps a receiver believes.

Three cases, as in the ViterbiNet / BCJRNet evaluations:

- ``perfect``: the receiver knows the true taps.
- ``perturbed``: the true taps with random errors, drawn once per frame;
  multiplicative ``h (1 + sqrt(var) n)`` (the papers' model) or additive
  ``h + sqrt(var) n``.
- ``estimated``: a least-squares estimate from ``N`` known pilot symbols
  sent through the same channel, also once per frame.

``parse_csi("perturbed:var=0.1")`` turns a config string into a
:class:`CSISpec`, whose :meth:`CSISpec.believed_taps` draws the believed taps
of a batch in one call. Randomness is stateless when a seed (``int32``
``[2]``) is given, else drawn from Sionna's global generator
(``sionna.phy.config.tf_rng``).
"""

import math
import re
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import tensorflow as tf
from sionna.phy import config

from signals.checks import (as_taps, check_int, check_noise_variance,
                            check_received, is_eager)
from signals.constellations import constellation_points, make_constellation
from signals.seeds import stateless_seed

from .isi import convolve_with_preamble
from .noise import gaussian_noise

__all__ = ["perturb_taps_multiplicative", "perturb_taps_additive",
           "estimate_taps_ls", "estimate_taps_from_pilots", "CSISpec",
           "parse_csi"]


# -- helpers ----------------------------------------------------------------

def _as_seed(seed):
    return None if seed is None else stateless_seed(seed)


def _check_variance(var):
    if isinstance(var, (tf.Tensor, np.ndarray)):
        if var.shape.rank if isinstance(var, tf.Tensor) else var.ndim:
            raise ValueError(f"`var` must be a scalar, got shape "
                             f"{list(var.shape)}.")
        if not is_eager(var):
            return var
        var = float(var.numpy() if hasattr(var, "numpy") else var)
    try:
        value = float(var)
    except (TypeError, ValueError):
        raise TypeError(f"`var` must be a real number, got {var!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"`var` (perturbation variance) must be finite and "
                         f">= 0, got {var!r}.")
    return value


def _check_count(value, name, minimum=1):
    if isinstance(value, tf.Tensor):
        return value                    # traced batch sizes: trust the caller
    return check_int(value, name, minimum)


def _unit(dtype):
    """Unit variance in the real dtype of ``dtype`` (keeps float64 exact)."""
    return tf.ones([], dtype.real_dtype)


def _batch_shape(taps, batch_size):
    """``[batch]`` from ``batch_size`` or the taps' batch axis, or ``[]``."""
    if batch_size is None:
        if taps.shape.rank == 1:
            return []
        rows = taps.shape[0]
        return [rows if rows is not None else tf.shape(taps)[0]]
    batch_size = _check_count(batch_size, "batch_size")
    if taps.shape.rank == 2 and isinstance(batch_size, int) and \
            taps.shape[0] not in (1, batch_size):
        raise ValueError(f"`taps` has rows for {taps.shape[0]} frames but "
                         f"`batch_size` is {batch_size}.")
    return [batch_size]


# -- perturbations ----------------------------------------------------------

def perturb_taps_multiplicative(taps, var=0.1, batch_size=None, seed=None):
    r"""Taps with multiplicative errors, one draw per tap and frame.

    ``h_hat[b, l] = h[b, l] * (1 + sqrt(var) * n[b, l])``, ``n ~ N(0, 1)``
    i.i.d. (``CN(0, 1)`` for complex taps), the "per frame" CSI
    uncertainty of the ViterbiNet / BCJRNet papers. Each tap keeps its mean
    and gets variance ``var * |h[l]|**2``.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        True taps, real or complex (integers become float64).
    var : float
        Relative error variance, >= 0.
    batch_size : None | int
        Number of frames. ``None``: one draw for ``[L]`` taps, one per row
        for ``[batch, L]`` taps.
    seed : None or [2], int
        Stateless seed; ``None`` uses ``sionna.phy.config.tf_rng``.

    Output
    ------
    : [batch_size, L] (or the taps' shape if ``batch_size`` is None),
      the dtype of ``taps``

    Example
    -------
    >>> from channels.csi import perturb_taps_multiplicative
    >>> h = perturb_taps_multiplicative([1.0, 0.5], 0.1, batch_size=4,
    ...                                 seed=[1, 2])
    >>> h.shape, h.dtype.name             # one draw per frame
    (TensorShape([4, 2]), 'float64')
    >>> perturb_taps_multiplicative([1.0, 0.5], 0.0, batch_size=2).numpy()
    array([[1. , 0.5],
           [1. , 0.5]])
    """
    taps = as_taps(taps)
    var = _check_variance(var)
    shape = _batch_shape(taps, batch_size) + [taps.shape[-1]]
    n = gaussian_noise(shape, _unit(taps.dtype), taps.dtype,
                       _as_seed(seed))
    scale = tf.cast(tf.sqrt(tf.cast(var, taps.dtype.real_dtype)), taps.dtype)
    return taps * (1 + scale * n)


def perturb_taps_additive(taps, var=0.1, num_symbols=None, batch_size=None,
                          seed=None):
    r"""Taps with additive errors ``h + sqrt(var) * n``, ``n ~ N(0, 1)``.

    ``CN(0, 1)`` for complex taps, so every tap error has variance ``var``.

    Shapes (``L`` taps; ``B`` is ``batch_size``, or the taps' batch axis
    when ``batch_size`` is None and the taps are ``[batch, L]``):

    ====================  ==============  =============================
    ``num_symbols``       taps ``[L]``    taps ``[B, L]`` or batch_size
    ====================  ==============  =============================
    None (per frame)      ``[L]``         ``[B, L]``
    T (per symbol)        ``[T, L]``      ``[B, T, L]``
    ====================  ==============  =============================

    The per-symbol variant draws a fresh error for every symbol of every
    frame: the tap set seen at time ``k`` is ``out[b, k]``. It is meant
    for time-varying channel models; the ISI channel and the detectors take
    per-frame taps ``[B, L]``.

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
    var : float
        Error variance per tap (absolute), >= 0.
    num_symbols : None | int
        T for per-symbol errors.
    batch_size : None | int
    seed : None or [2], int

    Output
    ------
    : see the table; the dtype of ``taps``

    Example
    -------
    >>> from channels.csi import perturb_taps_additive
    >>> perturb_taps_additive([1.0, 0.5], 0.01, batch_size=4,
    ...                       seed=[1, 2]).shape
    TensorShape([4, 2])
    >>> perturb_taps_additive([1.0, 0.5], 0.01, num_symbols=10,
    ...                       batch_size=4, seed=[1, 2]).shape
    TensorShape([4, 10, 2])
    """
    taps = as_taps(taps)
    var = _check_variance(var)
    batch = _batch_shape(taps, batch_size)
    per_symbol = []
    if num_symbols is not None:
        per_symbol = [_check_count(num_symbols, "num_symbols")]
        if taps.shape.rank == 2:
            taps = taps[:, None, :]                 # [B, 1, L]
    n = gaussian_noise(batch + per_symbol + [taps.shape[-1]],
                       _unit(taps.dtype), taps.dtype, _as_seed(seed))
    scale = tf.cast(tf.sqrt(tf.cast(var, taps.dtype.real_dtype)), taps.dtype)
    return taps + scale * n


# -- pilot-based estimation -------------------------------------------------

def estimate_taps_ls(y_pilots, x_pilots, memory, preamble_point=1.0):
    r"""Least-squares taps from ``N`` known pilot symbols.

    The pilots are sent like a frame: preceded by ``L-1`` preamble symbols
    (``preamble_point``), so ``y[n] = sum_l h[l] x[n-l] + w[n]`` with
    ``x[-j] = preamble_point``. With ``X[n, l] = x[n-l]`` the estimate is
    ``h_hat = (X^H X)^{-1} X^H y`` (``X^+ y``, the minimum-norm solution,
    if the pilots make ``X`` rank deficient). For white noise of variance
    ``no`` it is unbiased with error covariance ``no (X^H X)^{-1}``.

    Parameters
    ----------
    y_pilots : [batch, N], tf.float or tf.complex
        Received pilot samples.
    x_pilots : [N] or [batch, N]
        Transmitted pilot points (the same for every frame, or per frame).
    memory : int
        L, the number of taps to estimate; needs ``N >= L``.
    preamble_point : scalar
        The point sent before the pilots (constellation index 0).

    Output
    ------
    : [batch, L], the dtype of ``y_pilots`` (complex if either input is)

    Example
    -------
    >>> import numpy as np
    >>> from channels import ISIChannel
    >>> from channels.csi import estimate_taps_ls
    >>> x = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    >>> y = ISIChannel([0.9, 0.4], precision="double")(x[None], 0.0)
    >>> np.round(estimate_taps_ls(y, x, 2).numpy(), 12)   # noiseless: exact
    array([[0.9, 0.4]])
    """
    L = _check_count(memory, "memory")
    y = tf.convert_to_tensor(y_pilots)
    x = tf.convert_to_tensor(x_pilots)
    if y.dtype.is_integer or y.dtype == tf.bool:
        raise TypeError(f"`y_pilots` must be float or complex, got "
                        f"{y.dtype.name}.")
    check_received(y, name="y_pilots")
    if x.shape.rank not in (1, 2):
        raise ValueError(f"`x_pilots` must have shape [N] or [batch, N], got "
                         f"{x.shape.as_list()}.")
    n = y.shape[1]
    if x.shape[-1] is not None and n is not None and x.shape[-1] != n:
        raise ValueError(f"`x_pilots` has {x.shape[-1]} symbols but "
                         f"`y_pilots` has {n} samples.")
    if n is not None and n < L:
        raise ValueError(f"{n} pilot symbols cannot identify {L} taps: "
                         f"least squares needs N >= L = {L} pilots.")
    if y.dtype.is_complex or x.dtype.is_complex:
        dtype = tf.complex128 if y.dtype in (tf.float64, tf.complex128) \
            else tf.complex64
    else:
        dtype = y.dtype
    y = tf.cast(y, dtype)
    x = tf.cast(x, dtype)
    x = tf.broadcast_to(x, tf.shape(y)) if x.shape.rank == 1 else x
    pre = tf.fill([tf.shape(x)[0], L - 1], tf.cast(preamble_point, dtype))
    xp = tf.concat([pre, x], axis=1)                       # [B, L-1+N]
    nn = tf.shape(x)[1]
    # Regression matrix X[b, n, l] = x[n - l]; L is static and small.
    regressors = tf.stack([xp[:, L - 1 - l:L - 1 - l + nn]
                           for l in range(L)], axis=-1)  # [B, N, L]
    return _least_squares(regressors, y)


def _least_squares(a, b):
    """Minimum-norm least-squares ``a^+ b``: ``a`` [B, N, L], ``b`` [B, N].

    Complex systems are solved as the equivalent real system of twice the
    size, because XLA has no complex SVD (the real pseudo-inverse compiles).
    """
    if not a.dtype.is_complex:
        return tf.linalg.matvec(tf.linalg.pinv(a), b)
    ar, ai = tf.math.real(a), tf.math.imag(a)
    big = tf.concat([tf.concat([ar, -ai], axis=-1),
                     tf.concat([ai, ar], axis=-1)], axis=-2)   # [B, 2N, 2L]
    rhs = tf.concat([tf.math.real(b), tf.math.imag(b)], axis=-1)
    sol = tf.linalg.matvec(tf.linalg.pinv(big), rhs)
    half = a.shape[-1]
    return tf.complex(sol[..., :half], sol[..., half:])


def estimate_taps_from_pilots(taps, no, num_pilots, constellation=None,
                              batch_size=None, seed=None):
    r"""Simulates pilot-based estimation: send ``N`` random pilots through
    the ISI channel (the model of ``channels.ISIChannel(taps)``) and return
    the least-squares estimate.

    The pilots are i.i.d. uniform constellation points, new for every frame,
    preceded by the usual preamble (index 0).

    Parameters
    ----------
    taps : [L] or [batch, L], array_like
        True taps.
    no : scalar or [batch]
        Noise variance of the pilot transmission.
    num_pilots : int
        N >= L.
    constellation : None | str | Constellation
        Pilot alphabet; ``None`` -> BPSK. Complex (QAM) pilots give complex
        estimates.
    batch_size : None | int
        Number of frames (independent estimates). ``None``: 1 for ``[L]``
        taps, the taps' batch axis for ``[batch, L]`` taps.
    seed : None or [2], int
        Stateless seed (split into pilot and noise seeds); ``None`` uses
        Sionna's global generator.

    Output
    ------
    : [batch_size, L]; float64/complex128 for float64/complex128 taps,
      else single precision

    Example
    -------
    >>> import numpy as np
    >>> from channels.csi import estimate_taps_from_pilots
    >>> h = estimate_taps_from_pilots([1.0, 0.5], 0.01, 64, batch_size=3,
    ...                               seed=[1, 2])
    >>> h.shape, h.dtype.name
    (TensorShape([3, 2]), 'float64')
    >>> bool(np.all(np.abs(h.numpy() - [1.0, 0.5]) < 0.1))
    True
    """
    taps = as_taps(taps)
    num_pilots = _check_count(num_pilots, "num_pilots")
    L = taps.shape[-1]
    if isinstance(num_pilots, int) and num_pilots < L:
        raise ValueError(f"`num_pilots` = {num_pilots} cannot identify {L} "
                         f"taps: least squares needs num_pilots >= L = {L}.")
    batch = _batch_shape(taps, batch_size)
    batch = batch[0] if batch else 1
    no = tf.convert_to_tensor(no)
    check_noise_variance(no, batch_size=batch if isinstance(batch, int)
                         else None)
    double = taps.dtype in (tf.float64, tf.complex128)
    with tf.init_scope():
        # Sionna builds constellation points eagerly; keep them constants
        # when this runs inside a tf.function.
        const = make_constellation(constellation)
        points = constellation_points(
            const, tf.float64 if double else tf.float32)
    complex_ = taps.dtype.is_complex or points.dtype.is_complex
    real = tf.float64 if double else tf.float32
    dtype = (tf.complex128 if double else tf.complex64) if complex_ else real
    shape = [batch, num_pilots]
    seed = _as_seed(seed)
    if seed is None:
        s = config.tf_rng.uniform(shape, 0, const.num_points, dtype=tf.int32)
        noise_seed = None
    else:
        pilot_seed, noise_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 2))
        s = tf.random.stateless_uniform(shape, pilot_seed, 0,
                                        const.num_points, dtype=tf.int32)
    x = tf.cast(tf.gather(points, s), dtype)
    # The ISIChannel model, without building a Block per call.
    clean = convolve_with_preamble(x, tf.cast(taps, dtype), points[0])
    no = tf.reshape(tf.cast(no, real), [-1, 1])
    y = clean + gaussian_noise(tf.shape(clean), no, dtype, noise_seed)
    return estimate_taps_ls(y, x, L, preamble_point=points[0])


# -- configuration strings --------------------------------------------------

_FORMS = ("'perfect', 'perturbed:var=V' (optionally ',mode=multiplicative' "
          "or ',mode=additive'), 'estimated:pilots=N'")
_KINDS = {
    # kind: {parameter: (parser, required, default)}
    "perfect": {},
    "perturbed": {"var": (float, True, None),
                  "mode": (str, False, "multiplicative")},
    "estimated": {"pilots": (int, True, None)},
}
_MODES = ("multiplicative", "additive")


@dataclass(frozen=True)
class CSISpec:
    """What the receiver knows about the channel taps.

    Build with :func:`parse_csi`; ``str(spec)`` gives the canonical string
    back (``parse_csi(str(spec)) == spec``).

    Parameters
    ----------
    kind : "perfect" | "perturbed" | "estimated"
    params : mapping
        ``perturbed``: ``var`` (float >= 0), ``mode`` ("multiplicative" or
        "additive"); ``estimated``: ``pilots`` (int >= 1); ``perfect``:
        none.

    Example
    -------
    >>> from channels.csi import parse_csi
    >>> spec = parse_csi("perturbed:var=0.1")
    >>> spec.kind, dict(spec.params)
    ('perturbed', {'var': 0.1, 'mode': 'multiplicative'})
    >>> str(spec)
    'perturbed:var=0.1'
    >>> spec.believed_taps([1.0, 0.5], 0.1, 3, seed=[1, 2]).shape
    TensorShape([3, 2])
    >>> parse_csi("perfect").believed_taps([1.0, 0.5], 0.1, 3).numpy()
    array([1. , 0.5])
    """

    kind: str
    params: MappingProxyType

    def __post_init__(self):
        object.__setattr__(self, "params",
                           MappingProxyType(dict(self.params)))

    def __hash__(self):
        return hash((self.kind, tuple(sorted(self.params.items()))))

    def __eq__(self, other):
        if not isinstance(other, CSISpec):
            return NotImplemented
        return self.kind == other.kind and dict(self.params) == dict(
            other.params)

    def __str__(self):
        if self.kind == "perfect":
            return "perfect"
        if self.kind == "perturbed":
            text = f"perturbed:var={self.params['var']!r}"
            if self.params["mode"] != "multiplicative":
                text += f",mode={self.params['mode']}"
            return text
        return f"estimated:pilots={self.params['pilots']}"

    def believed_taps(self, true_taps, no, batch_size, seed=None,
                      constellation=None):
        """The taps the receiver believes for a batch of frames.

        Input
        -----
        true_taps : [L] or [batch, L]
        no : scalar or [batch]
            Noise variance (used by ``estimated``: pilots see the same
            channel noise as the data).
        batch_size : int
        seed : None or [2], int
            Stateless seed; ``None`` uses Sionna's global generator.
        constellation : None | str | Constellation
            Pilot alphabet for ``estimated``; ``None`` -> BPSK.

        Output
        ------
        : ``true_taps`` unchanged (as a tensor) for ``perfect``, else
          ``[batch_size, L]`` (dtypes as in the functions used)
        """
        if self.kind == "perfect":
            return as_taps(true_taps, name="true_taps")
        if self.kind == "perturbed":
            if self.params["mode"] == "additive":
                return perturb_taps_additive(true_taps, self.params["var"],
                                             batch_size=batch_size, seed=seed)
            return perturb_taps_multiplicative(
                true_taps, self.params["var"], batch_size=batch_size,
                seed=seed)
        return estimate_taps_from_pilots(true_taps, no, self.params["pilots"],
                                         constellation=constellation,
                                         batch_size=batch_size, seed=seed)


def parse_csi(spec):
    """Parse a CSI string: ``"perfect"``, ``"perturbed:var=0.1"``,
    ``"perturbed:var=0.1,mode=additive"``, ``"estimated:pilots=64"``.

    A :class:`CSISpec` is returned as is. Raises ``ValueError`` listing the
    allowed forms for anything else.

    Example
    -------
    >>> from channels.csi import parse_csi
    >>> parse_csi("estimated:pilots=64").params["pilots"]
    64
    >>> parse_csi("perturbed:var=0.1,mode=additive").params["mode"]
    'additive'
    >>> parse_csi("perturbed")
    Traceback (most recent call last):
    ...
    ValueError: Bad CSI spec 'perturbed': ...
    """
    if isinstance(spec, CSISpec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`spec` (CSI) must be a string such as {_FORMS}; "
                        f"got {type(spec).__name__}.")

    def fail(why):
        raise ValueError(f"Bad CSI spec {spec!r}: {why}. Allowed forms: "
                         f"{_FORMS}.")

    text = spec.strip()
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in _KINDS:
        fail(f"unknown kind {kind!r}")
    allowed = _KINDS[kind]
    given = {}
    if rest.strip():
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not eq or not key or not value:
                fail(f"expected key=value, got {item.strip()!r}")
            if key not in allowed:
                fail(f"{kind!r} takes no parameter {key!r}")
            if key in given:
                fail(f"parameter {key!r} given twice")
            given[key] = value
    elif ":" in text:
        fail("empty parameter list")
    params = {}
    for key, (kind_of, required, default) in allowed.items():
        if key not in given:
            if required:
                fail(f"{kind!r} needs {key}=...")
            params[key] = default
            continue
        value = given[key]
        if kind_of is float:
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if not math.isfinite(number) or number < 0:
                fail(f"{key} must be a finite number >= 0, got {value!r}")
            params[key] = number
        elif kind_of is int:
            if not re.fullmatch(r"\+?\d+", value) or int(value) < 1:
                fail(f"{key} must be an integer >= 1, got {value!r}")
            params[key] = int(value)
        else:
            if value.lower() not in _MODES:
                fail(f"{key} must be one of {_MODES}, got {value!r}")
            params[key] = value.lower()
    return CSISpec(kind, params)
