r"""The sliding bidirectional RNN detector (SBRNN).

Farsad & Goldsmith, "Neural network detection of data sequences in
communication systems", IEEE TSP 2018: a stack of bidirectional LSTMs
reads windows of ``W`` consecutive received samples, slid by one symbol;
each window outputs a posterior for each of its ``W`` symbols, and the
posterior of symbol ``k`` is the average of those of all windows covering
it (``W`` of them inside the frame, fewer at its edges). No channel model
and no trellis: a purely data-driven baseline beside the learned trellis
detectors.

Training cuts every window of ``W`` samples (stride one) out of the pilot
frames and minimises the cross-entropy of all ``W`` symbols of each window.

Compilation: the training loop and inference run as ``tf.function`` graphs
*without* XLA: compiling the recurrences with XLA cost 15-25 s on a 2-core
CPU and ran no faster than TensorFlow's own LSTM kernels (measured: one
epoch over 5000 windows of 8 symbols, 2 x 32 units: 0.4-0.5 s with XLA,
0.25-0.5 s without, after 2-3 s of tracing). With ``matmul_dtype=
"bfloat16"`` detection runs :func:`_fused_logits` instead: oneDNN's
bfloat16 matmuls (AVX512-BF16) outside XLA and one small XLA kernel per
step for the gates (XLA's own CPU dots gained nothing from bfloat16).

Window: on the 4-tap channel of the papers (BPSK, 8 dB, 5000 pilots) a
window of 16 gave a lower SER than 8 (symbols near a window's edge lack
the samples their later taps shape): 8.6e-3 with 3 x 80 units, 3.7x the
BCJR detector's.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_nonnegative
from signals.seeds import hash_seed

from .compiled import compiled
from .learned import LearnedDetector
from .pilots import (MIN_SAMPLES_PER_CLASS, check_pilots, check_validation,
                     features)
from .training import train_loop

__all__ = ["SBRNN", "MATMUL_DTYPES"]


# --------------------------------------------------------------------------
# The network as pure functions of its weights. Compiled functions are
# cached per architecture (``arch``, see SBRNN._arch) in detectors.compiled
# and run a template network of their own with the weights passed in
# (Keras ``stateless_call``), so that no cache entry holds a detector.
# --------------------------------------------------------------------------
def _build_layers(arch, init):
    """Fresh layers of architecture ``arch``; ``init(kind, i)`` gives the
    initialiser of weight ``i`` of ``kind`` ("glorot_uniform" or
    "orthogonal")."""
    window, layers, units, _, num_features, num_points, dtype = arch
    rnns = []
    for i in range(layers):
        def lstm(j, backwards):
            return keras.layers.LSTM(
                units, return_sequences=True, go_backwards=backwards,
                dtype=dtype,
                kernel_initializer=init("glorot_uniform", 4 * i + j),
                recurrent_initializer=init("orthogonal", 4 * i + j + 2))
        layer = keras.layers.Bidirectional(
            lstm(0, False), backward_layer=lstm(1, True), dtype=dtype)
        width = num_features if i == 0 else 2 * units
        layer.build((None, window, width))
        rnns.append(layer)
    head = keras.layers.Dense(num_points, dtype=dtype,
                              kernel_initializer=init("glorot_uniform",
                                                      4 * layers))
    head.build((None, window, 2 * units))
    return rnns, head


def _template(arch):
    """Layers whose weights are never used (zeros: no random draws), only
    their structure, by :func:`_forward`."""
    return _build_layers(arch, lambda kind, i: "zeros")


def _forward(arch, network, params, x, training, seed):
    """Logits ``[N, W, M]`` of windows ``x`` ``[N, W, d]`` with the
    trainable weights ``params`` (flat list) run through ``network``."""
    rnns, head = network
    dropout = arch[3]
    h, pos = x, 0
    for i, layer in enumerate(rnns + [head]):
        n = len(layer.trainable_variables)
        h, _ = layer.stateless_call(
            params[pos:pos + n],
            [v.value for v in layer.non_trainable_variables], h)
        pos += n
        if training and dropout > 0 and i < len(rnns):
            keep = tf.random.stateless_uniform(
                tf.shape(h), tf.random.experimental.stateless_fold_in(
                    seed, i), dtype=h.dtype) >= dropout
            h = tf.where(keep, h / (1.0 - dropout), tf.zeros_like(h))
    return h


def _make_loss(arch):
    network = _template(arch)

    def loss(params, x, labels, training, seed):
        logits = _forward(arch, network, params, x, training, seed)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        return tf.reshape(tf.reduce_mean(ce), [1])
    return loss


# Windows per chunk of the bfloat16 path: its [2, 1024, 4U] gate tensors
# stay in cache and two chunks run at once, one per core (measured at
# 3 x 80, W = 16 on the 2-core machine: 12.6 k windows/s one chunk at a
# time, 15.0 k two at a time, 14.7 k in chunks of 512).
_CHUNK = 1024
_PARALLEL = 2
MATMUL_DTYPES = ("float32", "bfloat16")


@tf.function(jit_compile=True)
def _lstm_gates(xp, mm, c):
    """One LSTM step of both directions from the input projection ``xp``
    and the recurrent product ``mm`` (any float dtype; gates ``i, f, o, g``
    along the last axis): the new ``h``, ``c`` in ``xp``'s dtype and ``h``
    in ``mm``'s. One XLA kernel instead of a dozen graph ops per step."""
    units = c.shape[-1]
    z = xp + tf.cast(mm, xp.dtype)
    gates = tf.sigmoid(z[..., :3 * units])
    c = (gates[..., units:2 * units] * c
         + gates[..., :units] * tf.tanh(z[..., 3 * units:]))
    h = gates[..., 2 * units:] * tf.tanh(c)
    return h, c, tf.cast(h, mm.dtype)


def _fused_logits(arch, params, x, matmul_dtype):
    """Logits ``[N, W, M]`` of windows ``x`` ``[N, W, d]`` as
    :func:`_forward` computes them at inference (same weights, Keras'
    order), written as one recurrence per layer: the input projections of
    all steps and both directions as one matmul, both directions' recurrent
    products as one batched matmul per step, the products of every layer
    but the first (whose inputs are raw samples) in ``matmul_dtype`` with
    the state, gates and sums in the network's dtype; windows in chunks of
    :data:`_CHUNK`."""
    layers, units, num_points = arch[1], arch[2], arch[5]
    dtype, mdt = x.dtype, tf.as_dtype(matmul_dtype)
    # Keras' gate order i, f, c, o -> i, f, o, c: one sigmoid per step
    order = np.r_[0:2 * units, 3 * units:4 * units, 2 * units:3 * units]
    weights = []
    for i in range(layers):
        kf, rf, bf, kb, rb, bb = params[6 * i:6 * i + 6]
        kdt = dtype if i == 0 else mdt
        weights.append((
            tf.cast(tf.gather(tf.stack([kf, kb]), order, axis=2), kdt),
            tf.cast(tf.gather(tf.stack([rf, rb]), order, axis=2), mdt),
            tf.gather(tf.stack([bf, bb]), order, axis=1)[:, None, :]))
    head_k, head_b = params[6 * layers:6 * layers + 2]

    def run(xc):                                          # [n, W, d]
        W, n = xc.shape[1], tf.shape(xc)[0]
        h = tf.transpose(xc, [1, 0, 2])                   # [W, n, d]
        for K, R, b in weights:
            d = h.shape[-1]
            both = tf.stack([tf.reshape(h, [-1, d]),
                             tf.reshape(tf.reverse(h, [0]), [-1, d])])
            xp = tf.cast(tf.matmul(tf.cast(both, K.dtype), K), dtype) + b
            xp = tf.transpose(tf.reshape(xp, [2, W, n, 4 * units]),
                              [1, 0, 2, 3])               # [W, 2, n, 4U]
            c = tf.zeros([2, n, units], dtype)
            hm = tf.zeros([2, n, units], mdt)
            outs = []
            for t in range(W):
                hs, c, hm = _lstm_gates(xp[t], tf.matmul(hm, R), c)
                outs.append(hs)
            o = tf.stack(outs)                            # [W, 2, n, U]
            h = tf.concat([o[:, 0], tf.reverse(o[:, 1], [0])], -1)
        logits = tf.tensordot(h, head_k, 1) + head_b      # [W, n, M]
        return tf.transpose(logits, [1, 0, 2])

    n = x.shape[0]
    if n is not None and n <= _CHUNK:
        return run(x)
    n = tf.shape(x)[0]
    pad = (-n) % _CHUNK
    chunks = tf.reshape(tf.pad(x, [[0, pad], [0, 0], [0, 0]]),
                        [-1, _CHUNK, x.shape[1], x.shape[2]])
    out = tf.map_fn(run, chunks, parallel_iterations=_PARALLEL,
                    fn_output_signature=dtype)
    return tf.reshape(out, [-1, x.shape[1], num_points])[:n]


def _make_soft(arch, stride=1, matmul_dtype="float32"):
    """Compiled window-averaged log-posteriors ``[B, T, M]`` of ``y``
    ``[B, T]`` for weights ``params``; windows start every ``stride``
    symbols (:func:`_strided_soft`); matmuls in ``matmul_dtype``
    (:func:`_fused_logits`; the network's own dtype runs the Keras
    layers)."""
    network = _template(arch)
    window, num_points, dtype = arch[0], arch[5], tf.as_dtype(arch[6])
    if matmul_dtype == dtype.name:
        def logits_of(params, x):
            return _forward(arch, network, params, x, False, None)
    else:
        def logits_of(params, x):
            return _fused_logits(arch, params, x, matmul_dtype)
    if stride > 1:
        return tf.function(lambda params, y: _strided_soft(
            arch, logits_of, params, y, stride))

    def soft(params, y):
        f = features(y, dtype)                                # [B, T, d]
        T = f.shape[1]
        W = window if T is None else min(window, T)
        frames = tf.signal.frame(f, W, 1, axis=1)             # [B, n, W, d]
        B, n = tf.shape(frames)[0], tf.shape(frames)[1]
        logits = logits_of(params, tf.reshape(frames, [-1, W, f.shape[-1]]))
        probs = tf.reshape(tf.nn.softmax(logits, axis=-1),
                           [B, n, W, num_points])
        # Symbol j + i of the frame is position i of window j: sum the W
        # shifted copies, then divide by how many windows cover each symbol.
        total = tf.add_n([tf.pad(probs[:, :, i], [[0, 0], [i, W - 1 - i],
                                                  [0, 0]])
                          for i in range(W)])
        ones = tf.ones([1, n, 1], probs.dtype)
        count = tf.add_n([tf.pad(ones, [[0, 0], [i, W - 1 - i], [0, 0]])
                          for i in range(W)])
        return tf.math.log(total / count)
    return tf.function(soft)


def _strided_soft(arch, logits_of, params, y, stride):
    """Window-averaged log-posteriors with windows starting every
    ``stride`` symbols (0, s, 2s, ...) and one more ending at the frame's
    end where those leave symbols uncovered: each symbol is read by about
    ``W / stride`` windows instead of ``W``."""
    window, num_points, dtype = arch[0], arch[5], tf.as_dtype(arch[6])
    f = features(y, dtype)                                    # [B, T, d]
    T = f.shape[1]
    if T is None:
        raise ValueError("strided SBRNN inference needs a static frame "
                         "length.")
    W = min(window, T)
    starts = list(range(0, T - W + 1, stride))
    if starts[-1] != T - W:
        starts.append(T - W)
    idx = np.asarray(starts)[:, None] + np.arange(W)[None, :]  # [n, W]
    frames = tf.gather(f, idx, axis=1)                        # [B, n, W, d]
    B, n = tf.shape(frames)[0], len(starts)
    logits = logits_of(params, tf.reshape(frames, [-1, W, f.shape[-1]]))
    probs = tf.reshape(tf.nn.softmax(logits, axis=-1),
                       [B, n * W, num_points])
    # add window j's position i onto symbol starts[j] + i
    flat = tf.constant(idx.reshape(-1), tf.int32)
    total = tf.transpose(tf.math.unsorted_segment_sum(
        tf.transpose(probs, [1, 0, 2]), flat, T), [1, 0, 2])
    count = np.bincount(idx.reshape(-1), minlength=T).astype(
        dtype.as_numpy_dtype)
    return tf.math.log(total / count[None, :, None])


def _windows(x, s, window):
    """All windows of ``window`` consecutive samples of each frame:
    ``x`` ``[F, T, d]``, ``s`` ``[F, T]`` -> ``[F * (T - W + 1), W, d]``
    and ``[F * (T - W + 1), W]``."""
    F, T = s.shape
    idx = np.arange(T - window + 1)[:, None] + np.arange(window)[None, :]
    xw = x[:, idx]                                  # [F, n, W, d]
    sw = s[:, idx]
    return xw.reshape(-1, window, x.shape[-1]), sw.reshape(-1, window)


class SBRNN(LearnedDetector):
    r"""Sliding bidirectional RNN detector (Farsad & Goldsmith 2018).

    Parameters
    ----------
    window : int
        W, symbols per window. Frames shorter than W are read as a single
        window.
    stride : int
        Symbols between the starts of consecutive windows at detection, in
        ``[1, window]``; default 1 (the published algorithm: every symbol
        read by W windows). A larger stride reads each symbol ``W /
        stride`` times (one more window ends at the frame's end), for
        about ``stride`` times less compute; training still uses every
        window of the pilots.
    matmul_dtype : "float32" | "bfloat16"
        Precision of detection's matrix products, default ``"float32"``
        (the Keras LSTM layers that are trained). ``"bfloat16"`` runs the
        same weights through a fused recurrence whose matmuls, except the
        first layer's input projection, take bfloat16 operands with the
        LSTM state, gates and averaging in float32: about 1.5x the
        symbols/s on CPUs with AVX512-BF16 (README, performance), decisions
        equal to float32's within their interval (tested); single
        precision only. Training is always float32.
    constellation : None | str | sionna.phy.mapping.Constellation
        ``None`` -> BPSK; complex constellations feed (Re, Im) features.
    hard_out : bool
        Return the argmax of the averaged posteriors.
    layers : int
        Stacked bidirectional LSTM layers, default 3.
    units : int
        LSTM units per direction, default 80.
    dropout : float
        Dropout rate on the output of every recurrent layer during
        training, in ``[0, 1)``, default 0.2.
    learning_rate : float
        Adam step size, default 0.001.
    epochs : int
        Maximum epochs of ``fit``, default 100.
    patience : int
        Early-stopping patience (epochs), default 10.
    batch_size : None | int
        Windows per Adam step, default 128 (``None``: full batch).
    clipnorm : float
        Gradient clipping by global norm, default 1.
    precision : None | "single" | "double"

    Input
    -----
    y : [batch, T], tf.float or tf.complex
    no : scalar or [batch], tf.float
        Validated, otherwise unused.

    Output
    ------
    : [batch, T, M], tf.float
        Log of the window-averaged symbol posteriors (normalised), or
    : [batch, T], tf.int32
        Their argmax if ``hard_out``.

    Example
    -------
    A tiny net (window 4, 4 units) trained for two epochs on 400 pilots
    of a 2-tap channel; options after ``window`` are keyword-only:

    >>> import numpy as np
    >>> from detectors import SBRNN
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, (2, 200)).astype(np.int32)
    >>> x = np.concatenate([np.ones((2, 1)), 1.0 - 2.0 * s], axis=1)
    >>> y = x[:, 1:] + 0.5 * x[:, :-1] + 0.3 * rng.normal(size=(2, 200))
    >>> det = SBRNN(4, layers=1, units=4, batch_size=None, epochs=2)
    >>> hist = det.fit(y, s, seed=0, verbose=False)
    >>> hist["epochs"]
    2
    >>> det(y, 0.09).shape
    TensorShape([2, 200, 2])
    """

    no_prior_reason = ("a black box trained on received samples alone "
                       "has no input a prior could enter")

    def __init__(self, window, *, stride=1, matmul_dtype="float32",
                 constellation=None,
                 hard_out=False, layers=3, units=80, dropout=0.2,
                 learning_rate=0.001, epochs=100, patience=10,
                 batch_size=128, clipnorm=1.0, precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._window = check_int(window, "window",
                                 what="symbols per window")
        self._stride = check_int(stride, "stride", maximum=self._window,
                                 what="symbols between window starts, at "
                                 "most the window")
        self._layers = check_int(layers, "layers",
                                 what="stacked BiLSTM layers")
        self._units = check_int(units, "units",
                                what="LSTM units per direction")
        if matmul_dtype not in MATMUL_DTYPES:
            raise ValueError(f"`matmul_dtype` must be one of "
                             f"{MATMUL_DTYPES}, got {matmul_dtype!r}.")
        if matmul_dtype != "float32" and self.rdtype != tf.float32:
            raise ValueError(f"`matmul_dtype={matmul_dtype!r}` needs single "
                             "precision; pass precision='single' or "
                             "matmul_dtype='float32'.")
        self._matmul_dtype = matmul_dtype
        if check_nonnegative(dropout, "dropout") >= 1.0:
            raise ValueError(f"`dropout` must be a rate in [0, 1), got "
                             f"{dropout!r}.")
        self._dropout = float(dropout)
        self._set_training_options(
            learning_rate=learning_rate, epochs=epochs, patience=patience,
            batch_size=batch_size, clipnorm=clipnorm)
        self._num_features = 2 if self.is_complex else 1
        self._rnns, self._head = self._build_layers(seed=None)

    # -- network ----------------------------------------------------------
    def _build_layers(self, seed):
        """Fresh layers; with an int ``seed`` their initial weights are a
        deterministic function of it."""
        def init(kind, i):
            if seed is None:
                return kind
            cls = {"glorot_uniform": keras.initializers.GlorotUniform,
                   "orthogonal": keras.initializers.Orthogonal}[kind]
            return cls(seed=(seed + 7919 * i) % (2 ** 31))
        return _build_layers(self._arch(), init)

    def _trainable_layers(self, rnns=None, head=None):
        return (rnns or self._rnns) + [head or self._head]

    def _variables(self):
        return [v for layer in self._trainable_layers()
                for v in layer.trainable_variables]

    def _config(self):
        # stride and matmul_dtype only when set, so that checkpoints
        # written before they existed still load (their defaults)
        stride = {} if self._stride == 1 else {"stride": self._stride}
        if self._matmul_dtype != "float32":
            stride["matmul_dtype"] = self._matmul_dtype
        return {"window": self._window, **stride, "layers": self._layers,
                "units": self._units, "dropout": self._dropout,
                "learning_rate": self._learning_rate, "epochs": self._epochs,
                "patience": self._patience, "batch_size": self._batch_size,
                "clipnorm": self._clipnorm}

    @property
    def window(self):
        """int : W, symbols per window."""
        return self._window

    @property
    def stride(self):
        """int : symbols between window starts at detection."""
        return self._stride

    @property
    def matmul_dtype(self):
        """str : precision of detection's matrix products."""
        return self._matmul_dtype

    # -- inference --------------------------------------------------------
    def _arch(self):
        """Everything the computation graph depends on."""
        return (self._window, self._layers, self._units, self._dropout,
                self._num_features, self.num_points, self.rdtype.name)

    def _soft_fn(self, y):
        arch = self._arch()
        stride, mdt = self._stride, self._matmul_dtype
        fn = compiled(("sbrnn", "soft", stride, mdt) + arch,
                      lambda: _make_soft(arch, stride, mdt))
        return fn([tf.convert_to_tensor(v) for v in self._variables()], y)

    def _normalised(self, y, no):
        lp = self._soft_fn(y)
        return lp - tf.reduce_logsumexp(lp, axis=-1, keepdims=True)

    def symbol_logits(self, y, no):
        return self._soft_fn(y)

    # -- training ---------------------------------------------------------
    def fit(self, y, s, *, epochs=None, batch_size=None, validation=0.1,
            patience=None, learning_rate=None, callbacks=None, seed=None,
            verbose=True):
        r"""Train on pilot frames, from a fresh (seeded) initialisation.

        Parameters
        ----------
        y : [N] or [frames, T], array_like
            Received pilots; every frame needs ``T >= window``.
        s : same shape as ``y``, int
            Symbol indices.
        epochs, batch_size, patience, learning_rate : None | number
            Default: the constructor's.
        validation : None | float | (y_val, s_val)
            A fraction holds out the *last* part of every frame (windows
            overlap, so a random split would leak samples into the
            validation set); or explicit validation pilots; or None / 0.
        callbacks : None | list of callables
            ``cb(epoch, logs) -> bool``, see
            :func:`detectors.training.train_loop`.
        seed : None | int
            Fixes initial weights, shuffling and dropout: the same seed and
            data give identical weights.
        verbose : bool

        Output
        ------
        : dict, ``loss`` and ``val_loss`` per epoch, ``epochs``,
          ``best_epoch``, ``seconds``

        Raises
        ------
        ValueError, TypeError
            Mismatched shapes, labels outside ``[0, M)``, NaN/Inf, frames
            shorter than the window, fewer than ``10 * M * window``
            samples.
        """
        W = self._window
        yc, sc = check_pilots(y, s, self.num_points, self.is_complex,
                              MIN_SAMPLES_PER_CLASS * self.num_points * W,
                              f"samples ({MIN_SAMPLES_PER_CLASS} * M * "
                              "window)")
        if yc.shape[1] < W:
            raise ValueError(f"pilot frames of {yc.shape[1]} samples are "
                             f"shorter than the window W = {W}.")
        epochs, patience, batch_size, lr = self._training_options(
            epochs=epochs, patience=patience, batch_size=batch_size,
            learning_rate=learning_rate)
        seed = hash_seed(seed)
        f = features(tf.constant(yc), self.rdtype).numpy()
        mode, val = check_validation(validation)
        if mode == "fraction":
            T = yc.shape[1]
            cut = T - max(W, int(round(val * T)))
            if cut < W:
                raise ValueError(
                    f"frames of {T} samples cannot hold out a validation "
                    f"tail of {T - cut} and keep a training window of {W}; "
                    "pass validation=(y_val, s_val) or None.")
            xw, sw = _windows(f[:, :cut], sc[:, :cut], W)
            xv, sv = _windows(f[:, cut:], sc[:, cut:], W)
        else:
            xw, sw = _windows(f, sc, W)
            if mode == "data":
                yv, svv = check_pilots(val[0], val[1], self.num_points,
                                       self.is_complex, W,
                                       names=("y_val", "s_val"))
                if yv.shape[1] < W:
                    raise ValueError("validation frames are shorter than "
                                     f"the window W = {W}.")
                fv = features(tf.constant(yv), self.rdtype).numpy()
                xv, sv = _windows(fv, svv, W)
        valdata = None if mode == "none" else (tf.constant(xv),
                                               tf.constant(sv))
        rnns, head = self._build_layers(seed)
        arch = self._arch()
        params = [v.value for layer in self._trainable_layers(rnns, head)
                  for v in layer.trainable_variables]
        t0 = time.perf_counter()
        params, hist = train_loop(
            compiled(("sbrnn", "loss") + arch, lambda: _make_loss(arch)),
            params, (tf.constant(xw), tf.constant(sw)), valdata,
            stacked=False, epochs=epochs, patience=patience,
            learning_rate=lr, clipnorm=self._clipnorm,
            batch_size=batch_size, seed=seed, jit=False, epochs_per_call=1,
            callbacks=callbacks, verbose=verbose, desc="SBRNN",
            cache_key=("sbrnn",) + arch)
        for var, val_ in zip(self._variables(), params):
            var.assign(val_)
        self._trained = True
        hist[0]["seconds"] = time.perf_counter() - t0
        return hist[0]
