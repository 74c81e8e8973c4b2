r"""DetNet: a deep-unfolded projected-gradient MIMO detector (Samuel,
Diskin, Wiesel, "Deep MIMO detection", SPAWC 2017; "Learning to Detect",
IEEE TSP 2019), in its one-hot variant.

Real-valued representation: a complex system ``y = H x + w`` is the
``2N x 2K`` real system ``[Re y; Im y] = [[Re H, -Im H], [Im H, Re H]]
[Re x; Im x] + ...``; a real one (the SED profile with BPSK / PAM) is
itself. With ``K_r`` real unknowns and the believed ``H`` of each frame,
layer ``l = 1 .. L`` computes

.. math::

    q_l &= x_l - \delta_{1,l} H^T y + \delta_{2,l} H^T H x_l \\
    z_l &= \mathrm{ReLU}(W_{1,l} [q_l; v_l] + b_{1,l}) \\
    \hat p_l &= \mathrm{softmax}_\text{per user}(W_{2,l} z_l + b_{2,l})
        \quad (K \times M \text{ logits}) \\
    x_{l+1} &= \textstyle\sum_m \hat p_{l,m}\, \text{point}_m
        \quad \text{(in the real representation)} \\
    v_{l+1} &= W_{3,l} z_l + b_{3,l}

from ``x_1 = 0, v_1 = 0``, with learned step sizes ``delta`` (initialised
to a gradient step ``-1 / N``, Glorot-uniform kernels, zero biases). The
output is the last layer's logits. Training loss: DetNet's weighting of
the layers, ``sum_l log(l + 1) CE_l`` (``CE_l`` the cross-entropy of layer
``l``'s logits, mean over users and samples), divided by ``sum_l log(l +
1)`` so that it reads in nats (a constant factor).

DetNet reads the channel (:attr:`takes_channel` is True) but not ``no``: it
is trained at the SNR of its pilots, over random channels (e.g. Rayleigh
frames, one ``H`` each) or one fixed channel.

``step = "newton"`` (an rxsim option, not in the papers) replaces the
gradient step by a regularised Newton step with a learned ridge per
layer, ``q_l = x_l + \delta_{1,l} A_l H^T y - \delta_{2,l} A_l H^T H
x_l``, ``A_l = (H^T H + \lambda_l I)^{-1}`` (deltas initialised to 1,
``lambda`` to 0.1): the first layer then starts from the regularised
least-squares (LMMSE-like) estimate and later ones re-solve around the
soft estimate ``x_l`` as prior mean. ``A_l`` is diagonal in the
eigenbasis of ``H^T H``, decomposed once per channel (:func:`gram_eigen`;
in :meth:`DetNet.fit` once for all epochs), so a layer costs two
``K_r x K_r`` matrix-vector products, as the gradient step's one.

Why: gradient steps converge slowly on ill-conditioned channels, and
square i.i.d. Rayleigh systems (K = N) are often ill-conditioned; the
papers' systems are mostly tall (N = 2K). Measured on 4x4 QPSK Rayleigh
at 14 dB, trained on 40000 random channels of one use each, Adam at
0.001, batches of 500, tested on 8e4 user-symbols of 5000 other channels
(LMMSE 1.35e-2): the gradient step with 6 layers and 10 epochs gave SER
4.1e-2, 24 layers 2.6e-2 (10 epochs) and 2.2e-2 (160000 channels, 15
epochs); the Newton step with 6 layers and 10 epochs 1.01e-2 (DetNet
alone wrong on 144 user-symbols, LMMSE alone on 414;
``tests/test_mimo_learned.py`` checks that it beats LMMSE). In the 8x8
QPSK Rayleigh study (``configs/mimo-rayleigh.toml``, docs/results.md
section 10; 10 layers, 20000 pilots per point) the Newton step's SER is
0.41 [0.33, 0.50] of LMMSE's at 4 dB and 0.17 at 8 dB (paired), the
gradient step's 0.84 [0.67, 1.02] and 1.36.
"""

import time

import numpy as np
import tensorflow as tf

from signals.checks import check_int

from .deepsic import _LearnedMIMO, net_seed, real_features, split

__all__ = ["DetNet", "STEPS", "real_system"]

#: The layers' step: DetNet's gradient step, or a regularised Newton step.
STEPS = ("gradient", "newton")


def real_system(h):
    """``H`` ``[..., N, K]`` as the real ``[..., N_r, K_r]`` matrix (itself
    when real, ``[[Re, -Im], [Im, Re]]`` when complex)."""
    h = tf.convert_to_tensor(h)
    if not h.dtype.is_complex:
        return h
    re, im = tf.math.real(h), tf.math.imag(h)
    return tf.concat([tf.concat([re, -im], -1), tf.concat([im, re], -1)], -2)


def gram_eigen(hth):
    """``(s [..., K_r], U [..., K_r, K_r])`` with ``H^T H = U diag(s) U^T``
    (``s`` clipped at 0): what the Newton step reads, computed once per
    channel so that every layer and epoch is matrix-vector products."""
    s, u = tf.linalg.eigh(hth)
    return tf.maximum(s, 0.0), u


def detnet_step(x, hty, gram, delta_1, delta_2, log_lambda=None):
    r"""A layer's ``q`` from the estimate ``x`` [..., K_r]: DetNet's
    gradient step ``x - delta_1 H^T y + delta_2 H^T H x`` (``gram`` is
    ``H^T H``), or (given ``log_lambda``) the regularised Newton step ``x +
    delta_1 A H^T y - delta_2 A H^T H x`` with ``A = (H^T H + e^log_lambda
    I)^-1`` (``gram`` is :func:`gram_eigen` of ``H^T H``, or ``H^T H``)."""
    if log_lambda is None:
        # H^T H x by an explicit broadcast product: tf.linalg.matvec with
        # hth [B, 1, Kr, Kr] against x [B, 1, Kr] gave wrong products here
        return x - delta_1 * hty + delta_2 * tf.reduce_sum(
            gram * x[..., None, :], axis=-1)
    # with both deltas 1: the regularised least-squares (LMMSE-like)
    # estimate around the prior mean x; from x = 0 the LMMSE estimate.
    # In H^T H's eigenbasis A is diagonal: U diag(1 / (s + lambda)) U^T.
    s, u = gram if isinstance(gram, tuple) else gram_eigen(gram)
    ux = tf.reduce_sum(u * x[..., :, None], axis=-2)          # U^T x
    uy = tf.reduce_sum(u * hty[..., :, None], axis=-2)        # U^T H^T y
    r = (delta_1 * uy - delta_2 * s * ux) / (s + tf.exp(log_lambda))
    return x + tf.reduce_sum(u * r[..., None, :], axis=-1)


def detnet_forward(params, hty, gram, points, users):
    r"""Every layer's logits.

    Input
    -----
    params : list of 8 or 9 tensors
        ``delta_1 [L], delta_2 [L], W1 [L, K_r + V, Z], b1 [L, Z],
        W2 [L, Z, K M], b2 [L, K M], W3 [L, Z, V], b3 [L, V]``, and for
        the regularised Newton step ``log_lambda [L]``.
    hty : [..., K_r], tf.float
        ``H^T y``.
    gram : [..., K_r, K_r], tf.float (broadcast against ``hty``)
        ``H^T H``, or for the Newton step its :func:`gram_eigen` (then
        decomposed once here otherwise).
    points : [M, c], tf.float
        The points in the real representation (``c`` = 1 real, 2 complex:
        real and imaginary parts).

    Output
    ------
    : list of ``L`` tensors [..., K, M], the logits of each layer
    """
    d1, d2, w1, b1, w2, b2, w3, b3 = params[:8]
    newton = len(params) == 9
    L = int(d1.shape[0])
    M = int(points.shape[0])
    V = int(w3.shape[-1])
    lead = tf.shape(hty)[:-1]
    if newton and not isinstance(gram, tuple):
        gram = gram_eigen(gram)
    x = tf.zeros_like(hty)
    v = tf.zeros(tf.concat([lead, [V]], 0), hty.dtype)
    out = []
    for l in range(L):
        q = detnet_step(x, hty, gram, d1[l], d2[l],
                        params[8][l] if newton else None)
        z = tf.nn.relu(tf.tensordot(tf.concat([q, v], -1), w1[l], 1) + b1[l])
        logits = tf.reshape(tf.tensordot(z, w2[l], 1) + b2[l],
                            tf.concat([lead, [users, M]], 0))
        out.append(logits)
        p = tf.nn.softmax(logits, axis=-1)
        xc = tf.reduce_sum(p[..., None] * points, axis=-2)   # [..., K, c]
        x = tf.concat([xc[..., j] for j in range(points.shape[-1])], -1)
        v = tf.tensordot(z, w3[l], 1) + b3[l]
    return out


def _detnet_loss(users, kr, points, newton):
    """The training loss of features ``[H^T y, H^T H]`` per sample, or for
    the Newton step ``[H^T y, s, U]`` (:func:`gram_eigen`, decomposed once
    in :meth:`DetNet.fit`, not per batch and epoch)."""
    def loss(params, x, labels, training, seed):
        del training, seed
        hty = x[:, :kr]
        if newton:
            gram = (x[:, kr:2 * kr], tf.reshape(x[:, 2 * kr:], [-1, kr, kr]))
        else:
            gram = tf.reshape(x[:, kr:], [-1, kr, kr])
        logits = detnet_forward(params, hty, gram,
                                tf.constant(points, x.dtype), users)
        total, weights = 0.0, 0.0
        for l, lg in enumerate(logits):
            w = float(np.log(l + 2.0))
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, lg)
            total += w * tf.reduce_mean(ce)
            weights += w
        return tf.reshape(total / weights, [1])
    return loss


_LOSSES = {}


class DetNet(_LearnedMIMO):
    r"""DetNet, one-hot variant (module notes): ``L`` unfolded projected
    gradient layers with learned steps, a ReLU layer each and per-user
    softmax outputs.

    Parameters
    ----------
    users, antennas : int
        K, N.
    constellation : None | str | sionna.phy.mapping.Constellation
        The users' alphabet (``None``: BPSK); the channel's
        (``MIMOChannel(...).constellation``) so that real and complex
        samples match.
    layers : int
        L (10; the papers use ``3K`` and more for large systems).
    hidden : None | int
        Width of ``z``; ``None``: ``8 K_r`` (``K_r`` = K real, 2K complex;
        the papers' ``8K``).
    state : None | int
        Width of ``v``; ``None``: ``2 K_r``.
    epochs, learning_rate, batch_size, patience, validation, clipnorm
        Training defaults of :meth:`fit`: at most 300 epochs of Adam at
        0.005 on mini-batches of 500 channel uses, early stopping with
        patience 20 on 10% held out, gradient norm clipped to 1.
    hard_out : bool
    precision : None | "single" | "double"
    step : "gradient" | "newton"
        DetNet's gradient step (default) or the regularised Newton step
        (module notes): on square Rayleigh systems only the latter beat
        LMMSE in rxsim's measurements.

    Input
    -----
    y : [..., T, N], tf.float or tf.complex
    no : scalar or [...], tf.float (checked, unused)
    h : [N, K] or [..., N, K]
        The believed channel of each frame (required).

    Output
    ------
    : [..., T, K, M] tf.float log-probabilities, or [..., T, K] tf.int32

    Example
    -------
    >>> import numpy as np, tensorflow as tf
    >>> from channels import MIMOChannel
    >>> from detectors.mimo import DetNet
    >>> ch = MIMOChannel(2, 2, profile="rayleigh", constellation="qpsk")
    >>> h = ch.channel_matrices(2000, seed=tf.constant([1, 2]))
    >>> s, y = ch.pilot_frames(h, 0.05, 2, seed=tf.constant([3, 4]))
    >>> det = DetNet(2, 2, constellation=ch.constellation, layers=4,
    ...              epochs=20, hard_out=True)
    >>> _ = det.fit(y, s, h, seed=0)
    >>> float(np.mean(det(y, 0.05, h).numpy() == s.numpy())) > 0.8
    True
    """

    takes_channel = True

    def __init__(self, users, antennas, *, constellation=None, layers=10,
                 hidden=None, state=None, epochs=300,
                 learning_rate=0.005, batch_size=500, patience=20,
                 validation=0.1, clipnorm=1.0, hard_out=False,
                 precision=None, step="gradient", **kwargs):
        if step not in STEPS:
            raise ValueError(f"step must be one of {STEPS}, got {step!r}")
        self._step = step
        super().__init__(users, antennas, constellation=constellation,
                         learning_rate=learning_rate, epochs=epochs,
                         patience=patience, batch_size=batch_size,
                         validation=validation, clipnorm=clipnorm,
                         hard_out=hard_out, precision=precision, **kwargs)
        self._kr = (2 if self.is_complex else 1) * self._users
        self._layers = check_int(layers, "layers")
        self._hidden = 8 * self._kr if hidden is None else check_int(
            hidden, "hidden")
        self._state = 2 * self._kr if state is None else check_int(
            state, "state")
        L, Z, V, K, M = (self._layers, self._hidden, self._state,
                         self._users, self.num_points)
        shapes = [[L], [L], [L, self._kr + V, Z], [L, Z], [L, Z, K * M],
                  [L, K * M], [L, Z, V], [L, V]]
        if step == "newton":
            shapes.append([L])
        self._w = [tf.Variable(tf.zeros(s, self.rdtype), trainable=False)
                   for s in shapes]
        pts = np.asarray(self._constellation.points)
        cols = [pts.real] if not self.is_complex else [pts.real, pts.imag]
        self._point_matrix = np.stack(cols, -1).astype(self.rdtype.name)

    @property
    def layers(self):
        """int : L."""
        return self._layers

    @property
    def step(self):
        """str : ``"gradient"`` or ``"newton"``."""
        return self._step

    @property
    def parameter_count(self):
        """int : trainable parameters."""
        return int(sum(np.prod(v.shape) for v in self._w))

    def _config(self):
        return {"users": self._users, "antennas": self._antennas,
                "layers": self._layers, "hidden": self._hidden,
                "state": self._state, "step": self._step,
                **self.training_settings}

    def _variables(self):
        return list(self._w)

    def _initial(self, seed):
        out = []
        for i, v in enumerate(self._w):
            shape = v.shape.as_list()
            if i == 8:                      # log lambda of the Newton step
                out.append(tf.fill(shape, tf.constant(np.log(0.1),
                                                      self.rdtype)))
            elif i < 2:
                first = 1.0 if self._step == "newton" else \
                    -1.0 / self._antennas
                out.append(tf.fill(shape, tf.constant(first, self.rdtype)))
            elif i % 2 == 0:
                lim = np.sqrt(6.0 / (shape[1] + shape[2]))
                out.append(tf.random.stateless_uniform(
                    shape, [net_seed(seed, i), 0], -lim, lim,
                    dtype=self.rdtype))
            else:
                out.append(tf.zeros(shape, self.rdtype))
        return out

    def _normal_equations(self, y, h):
        """``(H^T y [B, T, K_r], H^T H [B, 1, K_r, K_r])`` in the real
        representation, for ``y`` ``[B, T, N]`` and ``h`` ``[B, N, K]``."""
        hr = tf.cast(real_system(h), self.rdtype)
        yr = real_features(y, self.rdtype)
        hty = tf.einsum("bnk,btn->btk", hr, yr)
        hth = tf.einsum("bnk,bnj->bkj", hr, hr)
        return hty, hth[:, None]

    def symbol_logits(self, y, no, h):
        del no
        hty, hth = self._normal_equations(y, h)
        params = [tf.convert_to_tensor(v) for v in self._w]
        return detnet_forward(params, hty, hth,
                              tf.constant(self._point_matrix),
                              self._users)[-1]

    def fit(self, y, s, h, *, seed=0, verbose=False, epochs=None,
            patience=None, batch_size=None, learning_rate=None,
            validation="default"):
        r"""Train on pilots through known channels, from a fresh (seeded)
        initialisation.

        Parameters
        ----------
        y : [P, N] or [F, T, N], array_like (complex for complex systems)
            Received pilots.
        s : [P, K] or [F, T, K], array_like, int
            The users' symbol indices.
        h : [N, K] or [F, N, K], array_like
            The channel of all pilots, or of each frame (then ``y`` is
            ``[F, T, N]``): e.g. random Rayleigh frames, one ``H`` each.
        seed : int
        verbose : bool
        epochs, patience, batch_size, learning_rate, validation
            As for :meth:`DeepSIC.fit` (defaults: the constructor's).

        Output
        ------
        : dict, ``epochs``, ``best_epoch``, ``loss``, ``val_loss``,
          ``seconds``

        Raises
        ------
        ValueError, TypeError
            Pilots or channels of the wrong shape or dtype.
        """
        yc, sc, lead = self._pilots(y, s)
        h = self._check_channel(h)
        if h.shape.rank == 3:
            if len(lead) != 2 or h.shape[0] != lead[0]:
                raise ValueError(
                    f"`h` holds {h.shape[0]} channels [F, N, K]; then `y` "
                    f"must be [F, T, N] with the same F, got pilots of "
                    f"leading shape {lead}. Give one h [N, K] for all "
                    "pilots, or one per frame.")
            hf = h
        else:
            hf = h[None]
        epochs, patience, batch_size, lr, frac = self._fit_options(
            epochs, patience, batch_size, learning_rate, validation)
        F = int(hf.shape[0])
        yb = tf.cast(tf.reshape(tf.constant(yc), [F, -1, self._antennas]),
                     self.y_dtype)
        hty, hth = self._normal_equations(yb, hf)
        kr, T = self._kr, int(yb.shape[1])
        gram = gram_eigen(hth) if self._step == "newton" else (hth,)
        x = tf.concat([tf.reshape(hty, [-1, kr])] + [
            tf.reshape(tf.broadcast_to(g, tf.concat(
                [[F, T], tf.shape(g)[2:]], 0)), [F * T, -1]) for g in gram],
            -1)
        lab = tf.constant(sc)
        tr, va = split(len(sc), frac, seed)
        train = (tf.gather(x, tr), tf.gather(lab, tr))
        val = None if va is None else (tf.gather(x, va), tf.gather(lab, va))
        key = (self._users, kr, self._point_matrix.tobytes(),
               self._point_matrix.shape, self._step)
        if key not in _LOSSES:
            _LOSSES[key] = _detnet_loss(self._users, kr, self._point_matrix,
                                        self._step == "newton")
        t0 = time.perf_counter()
        params, hist = self._loop(
            _LOSSES[key], self._initial(seed), train, val, stacked=False,
            epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
            seed=seed, verbose=verbose, desc="DetNet",
            cache_key=("detnet",) + key)
        for var, value in zip(self._w, params):
            var.assign(value)
        self._trained = True
        return {**hist[0], "seconds": time.perf_counter() - t0}
