"""Imperfect channel-state information: the taps a receiver believes.

Three cases, as in the ViterbiNet / BCJRNet evaluations, and one for
fading channels:

- ``perfect``: the receiver knows the true taps.
- ``mean``: the receiver knows the channel's average taps
  (``channel.taps``), not the frame's realisation: on a fading channel
  (:class:`channels.TDLChannel`) the root mean power-delay profile; on a
  fixed channel the same as ``perfect``.
- ``perturbed``: the true taps with random errors, multiplicative
  ``h (1 + sqrt(var) n)`` (default) or additive ``h + sqrt(var) n``,
  drawn once per frame (``per=frame``, default) or afresh for every symbol
  of every frame (``per=symbol``: believed taps ``[batch, T, L]``).
- ``estimated``: least-squares taps from known pilots, either ``N`` pilots
  sent through the same channel once per frame (``estimated:pilots=N``),
  or, with ``estimated:from=training``, taps *and* noise variance fitted
  once (:func:`estimate_channel_ls`) to exactly the pilots a learned
  detector at that point trains on.

Which model is whose (the authors' code, not their papers' text, is the
reference):

- The **multiplicative per-frame** model ``h (1 + sqrt(var) n)``
  (``perturbed:var=0.1``) is what the authors' code uses for the learned
  detectors' *training* channel (CSI uncertainty of the pilots).
- The **additive per-symbol** model ``h + sqrt(0.1) n``
  (``perturbed:var=0.1,mode=additive,per=symbol``) is what the first
  commit of their ViterbiNet evaluation script used for the *mismatched
  model-based Viterbi* (the curve was dropped a day later). The two give
  very different error floors; rxsim earlier applied the multiplicative
  per-frame model to both.
- ``estimated:from=training[,var=V]`` is rxsim's own: the model-based
  baseline on the learned detectors' pilots, whose channel is
  ``perfect`` or ``perturbed:var=V`` (:attr:`CSISpec.training_csi`).

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
           "estimate_taps_ls", "estimate_channel_ls",
           "estimate_taps_from_pilots", "CSISpec", "parse_csi"]


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

def perturb_taps_multiplicative(taps, var=0.1, batch_size=None, seed=None,
                                *, num_symbols=None):
    r"""Taps with multiplicative errors, one draw per tap and frame (or per
    tap and symbol).

    ``h_hat[b, l] = h[b, l] * (1 + sqrt(var) * n[b, l])``, ``n ~ N(0, 1)``
    i.i.d. (``CN(0, 1)`` for complex taps): the per-frame CSI uncertainty
    the authors' code applies to the learned detectors' training channel.
    Each tap keeps its mean and gets variance ``var * |h[l]|**2``. With
    ``num_symbols`` every symbol of every frame gets its own draw, shapes
    as in :func:`perturb_taps_additive`.

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
    num_symbols : None | int
        T for per-symbol errors (``[batch_size, T, L]`` out).

    Output
    ------
    : [batch_size, L] (or the taps' shape if ``batch_size`` is None;
      ``[batch_size, T, L]`` or ``[T, L]`` with ``num_symbols``),
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
    >>> perturb_taps_multiplicative([1.0, 0.5], 0.1, batch_size=4,
    ...                             seed=[1, 2], num_symbols=10).shape
    TensorShape([4, 10, 2])
    """
    taps = as_taps(taps)
    var = _check_variance(var)
    taps, shape = _draw_shape(taps, batch_size, num_symbols)
    n = gaussian_noise(shape, _unit(taps.dtype), taps.dtype,
                       _as_seed(seed))
    scale = tf.cast(tf.sqrt(tf.cast(var, taps.dtype.real_dtype)), taps.dtype)
    return taps * (1 + scale * n)


def _draw_shape(taps, batch_size, num_symbols):
    """Taps ready to broadcast against the draws, and the draws' shape
    ``batch + [T] (per symbol) + [L]``."""
    batch = _batch_shape(taps, batch_size)
    per_symbol = []
    if num_symbols is not None:
        per_symbol = [_check_count(num_symbols, "num_symbols")]
        if taps.shape.rank == 2:
            taps = taps[:, None, :]                 # [B, 1, L]
    return taps, batch + per_symbol + [taps.shape[-1]]


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
    frame: the tap set believed at time ``k`` is ``out[b, k]``, the model
    of the mismatched Viterbi in the first commit of the authors'
    ViterbiNet evaluation script (``var = 0.1``). The model-based trellis
    detectors (and the symbol-wise ones) take such ``[B, T, L]`` taps;
    the ISI channel takes per-frame taps ``[B, L]``.

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
    taps, shape = _draw_shape(taps, batch_size, num_symbols)
    n = gaussian_noise(shape, _unit(taps.dtype), taps.dtype, _as_seed(seed))
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
    y, regressors = _pilot_system(y_pilots, x_pilots, L, preamble_point,
                                  "y_pilots", "x_pilots")
    n = y.shape[1]
    if n is not None and n < L:
        raise ValueError(f"{n} pilot symbols cannot identify {L} taps: "
                         f"least squares needs N >= L = {L} pilots.")
    return _least_squares(regressors, y)


def _pilot_system(y, x, L, preamble_point, y_name, x_name):
    """Checked ``y`` ``[B, N]`` and the regression matrix ``X[b, n, l] =
    x[b, n - l]`` ``[B, N, L]`` (the preamble before every frame), both
    in the common dtype (complex if either input is)."""
    y = tf.convert_to_tensor(y)
    x = tf.convert_to_tensor(x)
    if y.dtype.is_integer or y.dtype == tf.bool:
        raise TypeError(f"`{y_name}` must be float or complex, got "
                        f"{y.dtype.name}.")
    check_received(y, name=y_name)
    if x.shape.rank not in (1, 2):
        raise ValueError(f"`{x_name}` must have shape [N] or [batch, N], "
                         f"got {x.shape.as_list()}.")
    n = y.shape[1]
    if x.shape[-1] is not None and n is not None and x.shape[-1] != n:
        raise ValueError(f"`{x_name}` has {x.shape[-1]} symbols but "
                         f"`{y_name}` has {n} samples.")
    if x.shape.rank == 2 and x.shape[0] is not None and \
            y.shape[0] is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"`{x_name}` has {x.shape[0]} frames but "
                         f"`{y_name}` has {y.shape[0]}.")
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
    return y, regressors


def estimate_channel_ls(y_frames, x_frames, memory, preamble_point=1.0):
    r"""One least-squares fit of taps *and* noise variance to a set of
    pilot frames (the pilots a learned detector trains on).

    Every frame follows the ``L-1`` preamble symbols (``preamble_point``),
    as in :func:`estimate_taps_ls`; all ``N_total = F N`` samples enter one
    regression ``y = X h + w``, so the estimate is
    ``h_hat = X^+ y`` over the stacked frames and the noise variance is
    estimated from the residuals ``r = y - X h_hat`` as

    ``no_hat = sum |r|**2 / (N_total - L)``,

    unbiased for the noise variance **in rxsim's convention of** ``no``:
    per real dimension for real signals (``w ~ N(0, no)``), the complex
    noise variance for complex signals (``w ~ CN(0, no)``, ``E|w|**2 =
    no``; ``N_total - L`` complex degrees of freedom). With pilots whose
    taps vary from frame to frame (the perturbed training channel of the
    learned detectors) ``h_hat`` estimates their mean and ``no_hat``
    absorbs the tap variation as extra noise: the receiver's best single
    Gaussian model of those pilots. Rank-deficient pilots (``X`` of rank
    below ``L``) give the minimum-norm taps and a ``no_hat`` biased low.

    Parameters
    ----------
    y_frames : [F, N], tf.float or tf.complex (or numpy)
        Received pilot frames.
    x_frames : [N] or [F, N]
        Transmitted pilot points (per frame, or the same for all).
    memory : int
        L, the number of taps; needs ``F N > L`` samples.
    preamble_point : scalar
        The point sent before every frame (constellation index 0).

    Output
    ------
    taps : [L], the dtype of ``y_frames`` (complex if either input is)
        Least-squares taps.
    no : scalar, the real dtype of ``taps``
        Noise-variance estimate (convention above).

    Example
    -------
    >>> import numpy as np
    >>> from channels import ISIChannel
    >>> from channels.csi import estimate_channel_ls
    >>> rng = np.random.default_rng(1)
    >>> x = rng.choice([-1.0, 1.0], size=(4, 500))
    >>> y = ISIChannel([0.9, 0.4], precision="double")(x, 0.0)
    >>> h, no = estimate_channel_ls(y, x, 2)
    >>> np.round(h.numpy(), 12), float(no) < 1e-20     # noiseless: exact
    (array([0.9, 0.4]), True)
    >>> y = ISIChannel([0.9, 0.4], precision="double")(x, 0.25, seed=[1, 2])
    >>> round(float(estimate_channel_ls(y, x, 2)[1]), 2)   # no = 0.25
    0.25
    """
    L = _check_count(memory, "memory")
    y, regressors = _pilot_system(y_frames, x_frames, L, preamble_point,
                                  "y_frames", "x_frames")
    total = None
    if y.shape[0] is not None and y.shape[1] is not None:
        total = y.shape[0] * y.shape[1]
        if total <= L:
            raise ValueError(
                f"{total} pilot samples cannot estimate {L} taps and the "
                f"noise variance: `y_frames` needs F N > L = {L} samples.")
    y = tf.reshape(y, [1, -1])                             # [1, F N]
    regressors = tf.reshape(regressors, [1, -1, L])        # [1, F N, L]
    taps, no = _least_squares_with_noise(regressors, y)    # [1, L], [1]
    return taps[0], no[0]


def _least_squares_with_noise(a, b):
    """Least-squares ``x = a^+ b`` per row and the residual noise variance
    ``sum |b - a x|**2 / (N - L)`` per row: ``a`` [B, N, L], ``b`` [B, N]
    -> ``([B, L], [B])`` (the convention of :func:`estimate_channel_ls`)."""
    x = _least_squares(a, b)
    r = b - tf.linalg.matvec(a, x)
    dof = tf.cast(tf.shape(b)[1] - a.shape[-1], b.dtype.real_dtype)
    return x, tf.reduce_sum(tf.math.real(r * tf.math.conj(r)), axis=1) / dof


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


def _random_pilots(points, shape, seed, dtype):
    """I.i.d. uniform pilot indices ``s`` of ``shape`` (tf.int32), their
    points ``points[s]`` in ``dtype``, and the noise seed: a stateless
    ``seed`` is split (pilots, noise); None draws the pilots from
    ``sionna.phy.config.tf_rng`` (noise seed None)."""
    seed = _as_seed(seed)
    num_points = points.shape[0]
    if seed is None:
        s = config.tf_rng.uniform(shape, 0, num_points, dtype=tf.int32)
        noise_seed = None
    else:
        pilot_seed, noise_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 2))
        s = tf.random.stateless_uniform(shape, pilot_seed, 0, num_points,
                                        dtype=tf.int32)
    return s, tf.cast(tf.gather(points, s), dtype), noise_seed


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
    _, x, noise_seed = _random_pilots(points, [batch, num_pilots], seed,
                                      dtype)
    # The ISIChannel model, without building a Block per call.
    clean = convolve_with_preamble(x, tf.cast(taps, dtype), points[0])
    no = tf.reshape(tf.cast(no, real), [-1, 1])
    y = clean + gaussian_noise(tf.shape(clean), no, dtype, noise_seed)
    return estimate_taps_ls(y, x, L, preamble_point=points[0])


# -- configuration strings --------------------------------------------------

_MODES = ("multiplicative", "additive")
_PERS = ("frame", "symbol")
_SOURCES = ("frame", "training")
# How per-frame pilots become a channel estimate: least squares, or (on
# multiuser MIMO channels, channels.mimo.estimate_channel) the LMMSE
# estimate under i.i.d. unit-variance entries.
_ESTIMATORS = ("ls", "lmmse")
_FORMS = ("'perfect', 'mean', 'perturbed:var=V' (optionally ',mode=multiplicative' "
          "or ',mode=additive', and ',per=frame' or ',per=symbol'), "
          "'estimated:pilots=N' (optionally ',estimator=lmmse' on MIMO "
          "channels), 'estimated:from=training' (optionally "
          "',pilots=N' and ',var=V' with ',mode=multiplicative' or "
          "',mode=additive')")
# kind: {parameter: parser}; a tuple lists the allowed values
_KINDS = {
    "perfect": {},
    "mean": {},
    "perturbed": {"var": float, "mode": _MODES, "per": _PERS},
    "estimated": {"pilots": int, "from": _SOURCES, "var": float,
                  "mode": _MODES, "estimator": _ESTIMATORS},
}


def _defaults(kind, params):
    """``params`` with the defaults of ``kind`` filled in (no checks)."""
    params = dict(params)
    if kind == "perturbed":
        params.setdefault("mode", "multiplicative")
        params.setdefault("per", "frame")
    elif kind == "estimated":
        params.setdefault("from", "frame")
        if params["from"] == "frame":
            params.setdefault("estimator", "ls")
        if params["from"] == "training":
            params.setdefault("pilots", None)
            params.setdefault("var", None)
            params.setdefault("mode", None if params["var"] is None
                              else "multiplicative")
    return params


@dataclass(frozen=True)
class CSISpec:
    """What the receiver knows about the channel taps.

    Build with :func:`parse_csi`; ``str(spec)`` gives the canonical string
    back (``parse_csi(str(spec)) == spec``; defaults are left out, so
    ``"perturbed:var=0.1"`` stays as it is).

    Grammar (keys in any order, case-insensitive)::

        perfect
        mean
        perturbed:var=V[,mode=M][,per=frame|symbol]
        estimated:pilots=N[,estimator=ls|lmmse]
        estimated:from=training[,pilots=N][,var=V[,mode=M]]

    with ``M`` = ``multiplicative`` (default) or ``additive``.

    Parameters
    ----------
    kind : "perfect" | "mean" | "perturbed" | "estimated"
    params : mapping
        ``perturbed``: ``var`` (float >= 0), ``mode`` ("multiplicative",
        the default, or "additive") and ``per`` ("frame", the default:
        one draw per frame, or "symbol": one per symbol of every frame);
        ``estimated``: ``from`` ("frame", the default: ``pilots`` (int >=
        1) fresh pilots per frame, fitted by ``estimator`` ("ls", the
        default, or "lmmse": multiuser MIMO channels only), or "training": one fit to the learned
        detectors' training pilots, with ``pilots`` their number (None:
        the learned detectors' default) and ``var`` / ``mode`` the CSI
        case of their channel (``var`` None: perfect); ``perfect`` and
        ``mean`` (the channel's average taps, ``channel.taps``: on a
        fading channel the receiver knows only the mean power-delay
        profile, not the frame's realisation; on a fixed channel the
        same as perfect): none.

    Example
    -------
    >>> from channels.csi import parse_csi
    >>> spec = parse_csi("perturbed:var=0.1")
    >>> spec.kind, dict(spec.params)
    ('perturbed', {'var': 0.1, 'mode': 'multiplicative', 'per': 'frame'})
    >>> str(spec)
    'perturbed:var=0.1'
    >>> spec.believed_taps([1.0, 0.5], 0.1, 3, seed=[1, 2]).shape
    TensorShape([3, 2])
    >>> parse_csi("perfect").believed_taps([1.0, 0.5], 0.1, 3).numpy()
    array([1. , 0.5])

    The authors' mismatched-Viterbi model, a tap set per symbol:

    >>> authors = parse_csi("perturbed:var=0.1,mode=additive,per=symbol")
    >>> authors.per_symbol
    True
    >>> authors.believed_taps([1.0, 0.5], 0.1, 3, seed=[1, 2],
    ...                       num_symbols=20).shape
    TensorShape([3, 20, 2])

    The model-based baseline on the learned detectors' pilots:

    >>> same = parse_csi("estimated:from=training,var=0.1")
    >>> same.from_training, str(same.training_csi)
    (True, 'perturbed:var=0.1')
    """

    kind: str
    params: MappingProxyType

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(
            _defaults(self.kind, self.params)))

    def __hash__(self):
        return hash((self.kind, tuple(sorted(self.params.items()))))

    def __eq__(self, other):
        if not isinstance(other, CSISpec):
            return NotImplemented
        return self.kind == other.kind and dict(self.params) == dict(
            other.params)

    def __str__(self):
        p = self.params
        if self.kind in ("perfect", "mean"):
            return self.kind
        if self.kind == "perturbed":
            text = f"perturbed:var={p['var']!r}"
            if p["mode"] != "multiplicative":
                text += f",mode={p['mode']}"
            if p["per"] != "frame":
                text += f",per={p['per']}"
            return text
        if p["from"] == "frame":
            estimator = ("" if p["estimator"] == "ls"
                         else f",estimator={p['estimator']}")
            return f"estimated:pilots={p['pilots']}{estimator}"
        text = "estimated:from=training"
        if p["pilots"] is not None:
            text += f",pilots={p['pilots']}"
        if p["var"] is not None:
            text += f",var={p['var']!r}"
            if p["mode"] != "multiplicative":
                text += f",mode={p['mode']}"
        return text

    @property
    def per_symbol(self):
        """bool : the believed taps change every symbol
        (``perturbed:...,per=symbol``): :meth:`believed_taps` needs
        ``num_symbols`` and returns ``[batch, T, L]``."""
        return self.kind == "perturbed" and self.params["per"] == "symbol"

    @property
    def from_training(self):
        """bool : ``estimated:from=training``, estimated once from the
        learned detectors' training pilots (:func:`estimate_channel_ls`),
        not per batch."""
        return self.kind == "estimated" and self.params["from"] == "training"

    @property
    def training_csi(self):
        """None | CSISpec : for ``estimated:from=training``, the CSI case
        of the training pilots' channel, as the learned detectors' ``csi``
        spells it (``perfect`` or ``perturbed:var=V[,mode=M]``, per
        frame); None for every other case."""
        if not self.from_training:
            return None
        if self.params["var"] is None:
            return CSISpec("perfect", {})
        return CSISpec("perturbed", {"var": self.params["var"],
                                     "mode": self.params["mode"]})

    def believed_taps(self, true_taps, no, batch_size, seed=None,
                      constellation=None, num_symbols=None):
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
        num_symbols : None | int
            T, the frame length; needed by ``per=symbol`` (ignored by the
            other cases, so a link may always pass it).

        Output
        ------
        : ``true_taps`` unchanged (as a tensor) for ``perfect`` and
          ``mean``,
          ``[batch_size, T, L]`` for ``per=symbol``, else
          ``[batch_size, L]`` (dtypes as in the functions used)

        Raises ``ValueError`` for ``estimated:from=training`` (its taps
        come from one fit to the training pilots, not from a draw per
        batch) and for ``per=symbol`` without ``num_symbols``.
        """
        if self.kind in ("perfect", "mean"):
            return as_taps(true_taps, name="true_taps")
        if self.kind == "perturbed":
            steps = None
            if self.per_symbol:
                if num_symbols is None:
                    raise ValueError(
                        f"CSI {str(self)!r} draws a tap set for every "
                        "symbol: pass num_symbols=T (the frame length) to "
                        "believed_taps.")
                steps = num_symbols
                if batch_size is None and np.ndim(true_taps) == 1:
                    batch_size = 1
            draw = perturb_taps_additive if \
                self.params["mode"] == "additive" else \
                perturb_taps_multiplicative
            return draw(true_taps, self.params["var"], batch_size=batch_size,
                        seed=seed, num_symbols=steps)
        if self.from_training:
            raise ValueError(
                f"CSI {str(self)!r} is estimated once from the learned "
                "detectors' training pilots, not drawn per batch: fit it "
                "with channels.csi.estimate_channel_ls(y_pilots, x_pilots, "
                "L) and build the detector with those taps and that noise "
                "variance.")
        return estimate_taps_from_pilots(true_taps, no, self.params["pilots"],
                                         constellation=constellation,
                                         batch_size=batch_size, seed=seed)


def parse_csi(spec):
    """Parse a CSI string: ``"perfect"``, ``"perturbed:var=0.1"``,
    ``"perturbed:var=0.1,mode=additive,per=symbol"``,
    ``"estimated:pilots=64"``, ``"estimated:from=training,var=0.1"``
    (grammar: :class:`CSISpec`).

    A :class:`CSISpec` is returned as is. Raises ``ValueError`` listing the
    allowed forms (and, for ``mode=``, ``per=`` and ``from=``, the allowed
    values) for anything else.

    Example
    -------
    >>> from channels.csi import parse_csi
    >>> parse_csi("estimated:pilots=64").params["pilots"]
    64
    >>> parse_csi("perturbed:var=0.1,mode=additive").params["mode"]
    'additive'
    >>> str(parse_csi("perturbed:per=symbol,var=0.1,mode=additive"))
    'perturbed:var=0.1,mode=additive,per=symbol'
    >>> parse_csi("perturbed")
    Traceback (most recent call last):
    ...
    ValueError: Bad CSI spec 'perturbed': ...
    >>> parse_csi("perturbed:var=0.1,per=slot")
    Traceback (most recent call last):
    ...
    ValueError: Bad CSI spec '...': per must be one of ('frame', 'symbol'), ...
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
    for key, value in given.items():
        kind_of = allowed[key]
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
            if value.lower() not in kind_of:
                fail(f"{key} must be one of {kind_of}, got {value!r}")
            params[key] = value.lower()
    if kind == "perturbed" and "var" not in params:
        fail("'perturbed' needs var=...")
    if kind == "estimated":
        source = params.get("from", "frame")
        if source == "frame":
            if "var" in params or "mode" in params:
                fail("var= and mode= give the CSI case of the training "
                     "pilots' channel and need from=training")
            if "pilots" not in params:
                fail("'estimated' needs pilots=... (pilots per frame), or "
                     "from=training")
        elif "estimator" in params:
            fail("estimator= says how per-frame pilots are fitted; "
                 "from=training fits by least squares")
        elif "mode" in params and "var" not in params:
            fail("mode= needs var= (without var= the training pilots' "
                 "channel is perfect)")
    return CSISpec(kind, params)
