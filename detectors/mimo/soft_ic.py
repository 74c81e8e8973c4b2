r"""Model-based iterative soft interference cancellation (the algorithm
DeepSIC unfolds)."""

import numpy as np
import tensorflow as tf

from signals.checks import check_int

from .base import MIMODetector

__all__ = ["SoftICDetector"]


class SoftICDetector(MIMODetector):
    r"""Iterative soft interference cancellation with the Gaussian
    approximation (Choi, Cioffi, Singer 2000; the model-based detector
    DeepSIC's networks replace).

    Start from uniform symbol probabilities. In each iteration, every user
    ``k`` is updated in parallel from the previous iteration's
    probabilities (Jacobi, not Gauss-Seidel): with ``E_j`` and ``V_j`` the
    means and variances of the other users' symbols,

    .. math::
        z_k = y - \sum_{j \ne k} h_j E_j, \quad
        C_k = n_0 I + \sum_{j \ne k} V_j h_j h_j^{\mathsf{H}}, \quad
        \text{logit}_k(m) = -(z_k - h_k c_m)^{\mathsf{H}} C_k^{-1}
                            (z_k - h_k c_m)

    (complex ``y``; half of that for real ``y``, ``n_0`` per real
    dimension). Real points on a complex channel (:func:`complex_baseband`
    BPSK/PAM) use the real-valued equivalent ``[Re y; Im y] = [Re H; Im H]
    x + w`` (``2 N`` real antennas, ``n_0 / 2`` each), where the Gaussian
    approximation of the (improper) interference is the real one. The
    residual interference is modelled as circular Gaussian for complex
    symbols (``V_j = E|x_j|^2 - |E_j|^2``).

    Vectorised over frames, channel uses and users: one Cholesky factor of
    ``C_k`` per channel use and user per iteration (``B T K`` matrices of
    ``N x N``); iterations are unrolled (``iterations`` is a Python int), so
    the detector runs under ``tf.function(jit_compile=True)``.

    Parameters
    ----------
    h : [N, K] or [batch, N, K], array_like
        The channel the receiver believes.
    iterations : int
        Updates of all users (1: each user detected with the others'
        symbols as uniform Gaussian interference, i.e. per-user
        interference-plus-noise whitening).
    constellation : None | str | Constellation
        Any (``None`` -> BPSK).
    hard_out : bool
    precision : None | "single" | "double"

    Input
    -----
    y : [..., T, N], tf.float or tf.complex
    no : scalar or [...], tf.float
    h : None or [N, K] or [..., N, K]

    Output
    ------
    : [..., T, K, M] tf.float log-probabilities, or [..., T, K] tf.int32

    Example
    -------
    >>> import numpy as np
    >>> from detectors.mimo import SoftICDetector
    >>> det = SoftICDetector([[1.0, 0.5], [0.5, 1.0]], hard_out=True)
    >>> det([[[1.4, -0.6]]], 0.1).numpy()
    array([[[0, 1]]], dtype=int32)
    """

    def __init__(self, h, *, iterations=5, constellation=None,
                 hard_out=False, precision=None, **kwargs):
        self_name = type(self).__name__
        if h is None:
            raise ValueError(f"{self_name} is built from the channel the "
                             "receiver believes: give `h` [N, K].")
        shape = tf.convert_to_tensor(h).shape
        if shape.rank not in (2, 3):
            raise ValueError(f"`h` must be [N, K] or [batch, N, K], got "
                             f"shape {shape.as_list()}.")
        iterations = check_int(iterations, "iterations")
        super().__init__(users=int(shape[-1]), antennas=int(shape[-2]), h=h,
                         constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._iterations = iterations
        pts = np.asarray(self._constellation.points)
        self._real_symbols = (not self.is_complex) or bool(
            np.all(pts.imag == 0))
        dtype = self.rdtype if self._real_symbols else self.cdtype
        self._c = tf.constant(pts.real if self._real_symbols else pts,
                              dtype)

    @property
    def iterations(self):
        """int : updates of all users."""
        return self._iterations

    def symbol_logits(self, y, no, h):
        if y.dtype.is_complex and self._real_symbols:
            y = tf.concat([tf.math.real(y), tf.math.imag(y)], axis=-1)
            h = tf.concat([tf.math.real(h), tf.math.imag(h)], axis=-2)
            no = no / 2
        dtype = y.dtype
        n, k = h.shape[-2], h.shape[-1]
        c = self._c                                           # [M]
        eps = np.finfo(self.rdtype.as_numpy_dtype).eps
        energy = tf.reduce_max(tf.reduce_sum(tf.abs(h) ** 2, axis=-2), -1)
        no = tf.maximum(no, 100 * eps * (1 + energy))         # [B]
        eye = tf.eye(n, dtype=dtype)
        noise = tf.cast(no, dtype)[:, None, None, None, None] * eye
        others = 1.0 - tf.eye(k, dtype=self.rdtype)           # [K, K]
        ht = tf.linalg.matrix_transpose(h)[:, None]           # [B, 1, K, N]
        hh = h[:, None, None]                                 # [B,1,1,N,K]
        t = tf.shape(y)[1]
        probs = tf.fill(tf.stack([tf.shape(y)[0], t, k, self.num_points]),
                        tf.cast(1.0 / self.num_points, self.rdtype))
        logits = None
        for _ in range(self._iterations):
            mean = tf.reduce_sum(tf.cast(probs, dtype) * c, axis=-1)
            power = tf.reduce_sum(probs * tf.abs(c) ** 2, axis=-1)
            var = tf.maximum(power - tf.abs(mean) ** 2, 0.0)  # [B, T, K]
            # z_k = y - H E + h_k E_k                          [B, T, K, N]
            resid = y - tf.einsum("bnk,btk->btn", h, mean)
            z = resid[:, :, None, :] + ht * mean[..., None]
            # C_k = no I + H diag(V (1 - e_k)) H^H             [B,T,K,N,N]
            w = tf.cast(var[:, :, None, :] * others, dtype)  # [B, T, K, K]
            cov = noise + tf.matmul(hh * w[:, :, :, None, :], hh,
                                    adjoint_b=True)
            chol = tf.linalg.cholesky(cov)
            rhs = tf.stack([z, tf.broadcast_to(ht, tf.shape(z))], axis=-1)
            sol = tf.linalg.cholesky_solve(chol, rhs)         # [B,T,K,N,2]
            hk = tf.math.conj(ht)[..., None]                  # [B,1,K,N,1]
            proj = tf.reduce_sum(hk * sol, axis=-2)           # [B, T, K, 2]
            a = proj[..., 0]                                  # h^H C^-1 z
            b = tf.math.real(proj[..., 1])                    # h^H C^-1 h
            # -(z - h c)^H C^-1 (z - h c) + const = 2 Re(c* a) - |c|^2 b
            cross = tf.math.real(tf.math.conj(c) * a[..., None]) \
                if dtype.is_complex else c * a[..., None]
            logits = 2.0 * cross - tf.abs(c) ** 2 * b[..., None]
            if not dtype.is_complex:
                logits = 0.5 * logits
            probs = tf.nn.softmax(logits, axis=-1)
        return logits
