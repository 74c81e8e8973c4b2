r"""The training loop of the learned detectors: full-batch or mini-batch
Adam with gradient clipping, optional L2 weight decay and early stopping,
compiled whole.

Keras ``Model.fit`` with small batches spends most of its time in per-batch
Python overhead (about 70 s for one ViterbiNet on 5000 samples on a 2-core
CPU). :func:`train_loop` instead runs whole epochs inside one compiled
``tf.function`` (optionally ``jit_compile=True``): a ``tf.while_loop`` over
epochs and mini-batches, the Adam update, gradient clipping by global norm,
validation loss and early stopping, all without leaving the graph. Python
only sees the loop every ``epochs_per_call`` epochs (progress bar,
callbacks). The loss is a pure function of the weights it is given, and
the loop holds the weights being trained in variables of its own (copied
in at the start, out at the end), so the compiled loop is cached per
architecture and shape (:mod:`detectors.compiled`), reused by every
detector of that shape, and keeps none of them alive.

Several models of the same architecture can be trained at once as one
*stacked* model (parameters with a leading model axis ``K``): the loss is
the sum of the per-model losses, so gradients do not mix, and gradient
clipping, early stopping and the restoration of the best weights are done
per model. A stacked run therefore gives each model the weights it would
get when trained alone (up to floating-point summation order).

Early stopping (why): the number of full-batch steps a small classifier
needs varies by an order of magnitude with the SNR and the channel, so a
fixed epoch count either wastes time at high SNR or under-trains at low
SNR. Stopping when the loss on held-out pilots has not improved for
``patience`` epochs, and restoring the best weights, adapts the work to each
point and keeps the model from fitting the noise of a small pilot set.

Gradient processing, per model and in this order (:func:`process_gradients`):
clipping of the loss gradient, ``clip="global"`` by the norm of all of a
model's gradients together (Keras's ``global_clipnorm``, PyTorch's
``clip_grad_norm_`` over the whole model) or ``clip="per-variable"`` each
variable's gradient by its own norm (Keras's ``clipnorm``, MATLAB's
``GradientThresholdMethod = "l2norm"``, ``clip_grad_norm_`` called per
parameter); then L2 weight decay ``g + weight_decay * w`` on every
trainable variable (kernels and biases), PyTorch Adam's ``weight_decay``
(coupled: it goes through Adam's moments, unlike AdamW or Keras's
``weight_decay``, which are decoupled). Keras's own ``clipnorm`` cannot be
used: with stacked models one variable holds K models, and it would clip
after the decay term.

The optimiser is Keras's ``keras.optimizers.Adam`` (defaults: beta 0.9 /
0.999, epsilon 1e-7), applied inside the compiled loop to variables the
cached loop owns. It replaced an elementwise Adam written out here, which
was no faster inside the same compiled full-batch step
(``scripts/benchmarks/training_step.py``: the ViterbiNet net 1-100-50-16,
5000 pilots, XLA, min over 15 rounds on a loaded 2-core CPU, two runs,
ms per step hand-written vs Keras: 25 steps per call 7.10 vs 6.44 and
6.24 vs 6.42, one step per call 9.97 vs 10.22 and 12.10 vs 8.74; weights
agree to 6e-7 after 50 steps). In a whole
warm ``ViterbiNet.fit`` (validation, early stopping) Keras's was faster
still: 9.7 vs 16.6 ms per epoch (min of 5 fits each, round-robin).

Example
-------
Least squares for one weight (the loss of ``w`` is ``(w - 3)**2``):

>>> import tensorflow as tf
>>> from detectors.training import train_loop
>>> def loss(params, x, labels, training, seed):
...     return tf.reshape(tf.reduce_mean((params[0] - x) ** 2), [1])
>>> x = tf.fill([8], 3.0)
>>> params, hist = train_loop(loss, [tf.zeros([])], (x, tf.zeros([8])),
...                           stacked=False, epochs=200, learning_rate=0.1,
...                           clipnorm=100.0, jit=False, epochs_per_call=200)
>>> round(float(params[0]), 2), hist[0]["epochs"]
(3.0, 200)
"""

import threading

import keras
import numpy as np
import tensorflow as tf

from .compiled import compiled

__all__ = ["train_loop", "process_gradients", "CLIP_MODES", "RECIPES",
           "recipe_options"]

CLIP_MODES = ("global", "per-variable")

# Training recipes of the learned trellis detectors (ViterbiNet, BCJRNet):
# the defaults of their training options. "rxsim": full-batch Adam with
# early stopping on 10% held-out pilots (epochs and patience measured to
# converge, see detectors.factor_graph). "authors": the published code's
# MATLAB / PyTorch settings (Adam lr 0.01, mini-batches of 27, 100 epochs,
# each parameter's gradient clipped to norm 1, L2 1e-4, all pilots used
# for training, no early stopping).
RECIPES = {
    "rxsim": {"learning_rate": 0.01, "epochs": 1000, "patience": 50,
              "min_delta": 0.0, "batch_size": None, "clipnorm": 1.0,
              "clip": "global", "weight_decay": 0.0, "validation": 0.1},
    "authors": {"learning_rate": 0.01, "epochs": 100, "patience": None,
                "min_delta": 0.0, "batch_size": 27, "clipnorm": 1.0,
                "clip": "per-variable", "weight_decay": 1e-4,
                "validation": 0.0},
}


def recipe_options(recipe, given):
    """The training options of ``recipe`` with those in ``given`` (a dict;
    ``None`` values mean "not given") put in their place.

    ``validation`` is the held-out fraction, ``0`` for none (train on all
    pilots, run all epochs); then ``patience`` is ``None``. An
    early-stopping option given without validation (a ``patience``, a
    ``min_delta > 0``), or validation without any patience, is a
    contradiction and raises ``ValueError``.

    Example
    -------
    >>> from detectors.training import recipe_options
    >>> o = recipe_options("authors", {"epochs": 200})
    >>> o["epochs"], o["batch_size"], o["validation"], o["patience"]
    (200, 27, 0.0, None)
    """
    if recipe not in RECIPES:
        raise ValueError(f"`recipe` must be one of {tuple(RECIPES)}, got "
                         f"{recipe!r}.")
    unknown = set(given) - set(RECIPES[recipe])
    if unknown:
        raise TypeError(f"unknown training options {sorted(unknown)}.")
    out = dict(RECIPES[recipe])
    out.update({k: v for k, v in given.items() if v is not None})
    if not out["validation"]:
        if given.get("patience") is not None:
            raise ValueError(
                f"`patience` ({given['patience']}) needs validation data, "
                f"but validation is 0 (recipe {recipe!r}"
                + (", which trains on all pilots without early stopping"
                   if recipe == "authors" else "") +
                "); pass validation=0.1 (a held-out fraction) as well, or "
                "leave patience out.")
        if out["min_delta"]:
            raise ValueError(
                f"`min_delta` ({out['min_delta']}) has no effect without "
                "validation data; pass validation=0.1 to stop early, or "
                "leave min_delta out.")
        out["patience"] = None
    elif out["patience"] is None:
        raise ValueError(
            f"recipe {recipe!r} with validation={out['validation']!r} "
            "needs an early-stopping patience; pass patience=N as well "
            f"(the 'rxsim' recipe uses {RECIPES['rxsim']['patience']}).")
    return out

def _expand(v, p, stacked):
    """Broadcast a per-model vector ``[K]`` against parameter ``p``."""
    rank = p.shape.rank
    return tf.reshape(v, [-1] + [1] * (rank - 1)) if stacked \
        else tf.reshape(v, [1] * rank)


def _per_model_sq_norm(tensors, stacked):
    if stacked:
        return tf.add_n([tf.reduce_sum(tf.square(g),
                                       axis=list(range(1, g.shape.rank)))
                         for g in tensors])
    return tf.reshape(tf.add_n([tf.reduce_sum(tf.square(g))
                                for g in tensors]), [1])


def process_gradients(grads, params, *, clipnorm, clip="global",
                      weight_decay=None, stacked=False):
    r"""Clip the loss gradients of each model, then add L2 weight decay
    (the gradient processing of :func:`train_loop`, see module doc).

    Parameters
    ----------
    grads, params : list of tf.Tensor
        Gradients of the loss and the variables' values, one per variable;
        with ``stacked`` each has a leading model axis ``K``.
    clipnorm : float or scalar tensor
        Largest gradient norm (per model, or per model and variable).
    clip : "global" | "per-variable"
        Norm of all of a model's gradients together, or of each
        variable's gradient alone.
    weight_decay : None | float or scalar tensor
        ``g + weight_decay * w`` after clipping; ``None`` leaves it out.
    stacked : bool

    Output
    ------
    : list of tf.Tensor, the processed gradients

    Example
    -------
    Two variables with gradient norms 3 and 4:

    >>> import tensorflow as tf
    >>> from detectors.training import process_gradients
    >>> g = [tf.constant([3.0]), tf.constant([0.0, 4.0])]
    >>> w = [tf.constant([1.0]), tf.constant([1.0, 1.0])]
    >>> [t.numpy().tolist() for t in process_gradients(g, w, clipnorm=1.0)]
    [[0.6000000238418579], [0.0, 0.800000011920929]]
    >>> [t.numpy().tolist() for t in process_gradients(
    ...     g, w, clipnorm=1.0, clip="per-variable", weight_decay=0.5)]
    [[1.5], [0.5, 1.5]]
    """
    if clip == "global":
        norm = tf.sqrt(_per_model_sq_norm(grads, stacked))
        scale = tf.minimum(tf.ones_like(norm),
                           clipnorm / tf.maximum(norm, 1e-30))
        grads = [g * _expand(scale, g, stacked) for g in grads]
    elif clip == "per-variable":
        out = []
        for g in grads:
            norm = tf.sqrt(_per_model_sq_norm([g], stacked))
            scale = tf.minimum(tf.ones_like(norm),
                               clipnorm / tf.maximum(norm, 1e-30))
            out.append(g * _expand(scale, g, stacked))
        grads = out
    else:
        raise ValueError(f"`clip` must be one of {CLIP_MODES}, got "
                         f"{clip!r}.")
    if weight_decay is not None:
        grads = [g + weight_decay * p for g, p in zip(grads, params)]
    return grads


class _Runner:
    """Up to ``buf_len`` epochs of Adam with early stopping as one compiled
    call (see :func:`train_loop`), with the weights and Adam's state held
    in variables of its own. The number of epochs to run is a runtime
    value; ``buf_len`` is static so that XLA compiles once whatever the
    chunk. One training run at a time (``lock``)."""

    def __init__(self, loss_fn, stacked, batch_size, has_val, jit, buf_len,
                 shapes, dtype, clip="global", decay=False):
        self.lock = threading.Lock()
        self.params = [tf.Variable(tf.zeros(s, dtype), trainable=True)
                       for s in shapes]
        # A callable learning rate in the weights' dtype: Keras would
        # otherwise keep it as a float32 variable.
        self.learning_rate = tf.Variable(tf.constant(0.0, dtype),
                                         trainable=False)
        lr = self.learning_rate
        self.optimizer = keras.optimizers.Adam(learning_rate=lambda: lr)
        self.optimizer.build(self.params)
        self.run = tf.function(self._body(loss_fn, stacked, batch_size,
                                          has_val, buf_len, clip, decay),
                               jit_compile=jit)

    def reset(self, params, learning_rate):
        """Start a training run from ``params``."""
        for var, value in zip(self.params, params):
            var.assign(value)
        for var in self.optimizer.variables:       # iteration, moments
            var.assign(tf.zeros_like(var))
        self.learning_rate.assign(learning_rate)

    def values(self):
        """The current weights, as tensors (copies)."""
        return [tf.identity(v) for v in self.params]

    def _body(self, loss_fn, stacked, batch_size, has_val, buf_len, clip,
              decay):
        axis = 1 if stacked else 0
        variables, optimizer = self.params, self.optimizer

        def run(best, best_val, since, active, stopped_at, epoch, num_epochs,
                clipnorm, patience, min_delta, seed, weight_decay, x, lab, xv,
                lv):
            n = tf.shape(lab)[axis]
            bs = n if batch_size is None else batch_size
            nb = 1 if batch_size is None else n // bs
            K = tf.shape(best_val)[0]
            dtype = best_val.dtype
            loss_buf = tf.fill([buf_len, K], tf.constant(np.nan, dtype))
            val_buf = tf.fill([buf_len, K], tf.constant(np.nan, dtype))

            def one_step(b, perm, e, acc):
                if batch_size is None:
                    xb, lb = x, lab
                else:
                    # a static-size slice: ``perm[b*bs:(b+1)*bs]`` has a
                    # size XLA cannot prove constant, and its dynamic
                    # shape made every mini-batch step ~150x slower
                    # (15 ms instead of 0.1 ms for 27 samples)
                    idx = tf.slice(perm, [b * bs], [bs])
                    xb = tf.gather(x, idx, axis=axis)
                    lb = tf.gather(lab, idx, axis=axis)
                with tf.GradientTape() as tape:
                    params = [tf.convert_to_tensor(v) for v in variables]
                    losses = loss_fn(params, xb, lb, True,
                                     tf.stack([seed, e * nb + b]))
                    total = tf.reduce_sum(losses)
                grads = process_gradients(
                    tape.gradient(total, variables), params,
                    clipnorm=clipnorm, clip=clip,
                    weight_decay=weight_decay if decay else None,
                    stacked=stacked)
                # Models that stopped early keep training: their best
                # weights are already kept aside, and their gradients do
                # not reach the others (the loss is a sum over models).
                optimizer.apply_gradients(zip(grads, variables))
                return acc + losses

            def epoch_body(i, best, best_val, since, active, stopped_at,
                           loss_buf, val_buf):
                e = epoch + i
                if batch_size is None:
                    perm = tf.zeros([0], tf.int32)
                else:
                    perm = tf.argsort(tf.random.stateless_uniform(
                        [n], tf.stack([seed, -1 - e])))

                def batch_body(b, acc):
                    return b + 1, one_step(b, perm, e, acc)

                _, acc = tf.while_loop(lambda b, _: b < nb, batch_body,
                                       (tf.constant(0), tf.zeros([K], dtype)))
                loss_buf = tf.tensor_scatter_nd_update(
                    loss_buf, [[i]], (acc / tf.cast(nb, dtype))[None])
                if has_val:
                    params = [tf.convert_to_tensor(v) for v in variables]
                    vl = loss_fn(params, xv, lv, False, tf.stack([seed, 0]))
                    val_buf = tf.tensor_scatter_nd_update(val_buf, [[i]],
                                                          vl[None])
                    better = tf.logical_and(active, vl < best_val - min_delta)
                    best = [tf.where(_expand(better, p, stacked), p, bp)
                            for p, bp in zip(params, best)]
                    best_val = tf.where(better, vl, best_val)
                    since = tf.where(better, tf.zeros_like(since),
                                     since + tf.cast(active, since.dtype))
                    still = tf.logical_and(active, since < patience)
                    stopped_at = tf.where(tf.logical_and(active, ~still),
                                          e + 1, stopped_at)
                    active = still
                return (i + 1, best, best_val, since, active, stopped_at,
                        loss_buf, val_buf)

            return tf.while_loop(
                lambda i, *s: tf.logical_and(i < num_epochs,
                                             tf.reduce_any(s[3])),
                epoch_body,
                (tf.constant(0), best, best_val, since, active, stopped_at,
                 loss_buf, val_buf))

        return run


def train_loop(loss_fn, params, train, val=None, *, stacked, epochs,
               patience=20, min_delta=0.0, learning_rate=0.01, clipnorm=1.0,
               clip="global", weight_decay=0.0, batch_size=None, seed=0,
               jit=True, epochs_per_call=25, callbacks=None, verbose=False,
               desc="training", cache_key=None):
    r"""Adam with per-model gradient clipping, L2 weight decay and early
    stopping.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, x, labels, training, seed) -> [K]`` mean loss of
        each model; ``seed`` is an int32 ``[2]`` stateless seed (dropout).
        Must be a pure function of its arguments.
    params : list of tf.Tensor
        Initial parameters; with ``stacked`` each has a leading model axis
        ``K``.
    train : (x, labels)
        Training data; the sample axis is 1 with ``stacked`` (``[K, N,
        ...]``), else 0.
    val : None or (x_val, labels_val)
        Validation data; ``None`` trains for ``epochs`` epochs and keeps the
        last weights.
    stacked : bool
        Whether ``params`` hold ``K`` independent models.
    epochs : int
        Maximum number of epochs (one epoch = one pass over ``train``).
    patience : None | int
        Early stopping: a model stops after this many epochs without a new
        best validation loss; its best weights are returned. Unused (may
        be None) without ``val``.
    min_delta : float
        A validation loss counts as a new best only if it is lower than
        the best so far by more than this (nats).
    learning_rate, clipnorm : float
        Adam step size; maximum gradient norm (see ``clip``).
    clip : "global" | "per-variable"
        Clip each model's gradient by the norm of all its variables'
        gradients together, or each variable's by its own norm (Keras's
        ``global_clipnorm`` and ``clipnorm``; see
        :func:`process_gradients`).
    weight_decay : float
        L2 coefficient added to the clipped gradient, ``g + wd * w``
        (PyTorch Adam's coupled ``weight_decay``); 0 for none.
    batch_size : None or int
        ``None``: full batch (one step per epoch). Else mini-batches of
        this size, reshuffled every epoch (the incomplete last batch of an
        epoch is skipped; shuffling reaches every sample over epochs).
    seed : int
        Stateless seed of shuffling and dropout.
    jit : bool
        XLA-compile the epochs.
    epochs_per_call : int
        Epochs run per compiled call between Python-side updates.
    callbacks : None or list of callables
        ``cb(epoch, logs)`` after every epoch, ``logs`` = ``{"loss": ...,
        "val_loss": ...}`` (floats, or lists of K floats when stacked);
        returning ``True`` stops training (checked every
        ``epochs_per_call`` epochs).
    verbose : bool
        Show a tqdm progress bar.
    cache_key : None or hashable
        Names ``loss_fn`` (a pure function, e.g. one per architecture) in
        the process-wide cache of :mod:`detectors.compiled`, so that every
        model of that architecture reuses one compiled loop; ``None``:
        compiled for this call only.

    Output
    ------
    params : list of tf.Tensor
        Best (or, without ``val``, last) parameters.
    history : list of dict (one per model)
        ``loss`` and ``val_loss`` per epoch (lists of float), ``epochs``
        (epochs run), ``best_epoch`` (1-based, or None without ``val``).
    """
    params = [tf.convert_to_tensor(p) for p in params]
    dtype = params[0].dtype
    n = int(train[1].shape[1 if stacked else 0])
    if batch_size is not None and batch_size >= n:
        batch_size = None
    if clip not in CLIP_MODES:
        raise ValueError(f"`clip` must be one of {CLIP_MODES}, got {clip!r}.")
    weight_decay = float(weight_decay)
    if not weight_decay >= 0.0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay!r}.")
    if patience is None:
        if val is not None:
            raise ValueError("`patience` is needed with validation data.")
        patience = 0                        # unused without validation
    decay = weight_decay > 0.0
    shapes = tuple(tuple(p.shape.as_list()) for p in params)

    def build():
        return _Runner(loss_fn, stacked, batch_size, val is not None, jit,
                       epochs_per_call, shapes, dtype, clip, decay)

    runner = build() if cache_key is None else compiled(
        ("training", cache_key, stacked, batch_size, val is not None, jit,
         epochs_per_call, shapes, dtype.name, clip, decay), build)
    if not runner.lock.acquire(blocking=False):
        # The cached loop is training already (another thread, or a
        # callback that trains): compile a private one rather than share
        # its variables.
        runner = build()
        runner.lock.acquire()
    try:
        return _train(runner, params, train, val, stacked=stacked,
                      epochs=epochs, patience=patience, min_delta=min_delta,
                      learning_rate=learning_rate, clipnorm=clipnorm,
                      weight_decay=weight_decay, seed=seed,
                      epochs_per_call=epochs_per_call, callbacks=callbacks,
                      verbose=verbose, desc=desc)
    finally:
        runner.lock.release()


def _train(runner, params, train, val, *, stacked, epochs, patience,
           min_delta, learning_rate, clipnorm, weight_decay, seed,
           epochs_per_call, callbacks, verbose, desc):
    dtype = params[0].dtype
    x, lab = train
    K = int(params[0].shape[0]) if stacked else 1
    runner.reset(params, learning_rate)
    # Without validation data the runner ignores (xv, lv).
    xv, lv = (x, lab) if val is None else val
    state = (list(params),                                # best
             tf.fill([K], tf.constant(np.inf, dtype)),    # best val loss
             tf.zeros([K], tf.int32),                     # epochs w/o gain
             tf.ones([K], tf.bool),                       # still training
             tf.fill([K], tf.constant(epochs, tf.int32)))  # stop epoch
    hyper = (tf.constant(clipnorm, dtype), tf.constant(patience, tf.int32),
             tf.constant(min_delta, dtype), tf.constant(seed, tf.int32),
             tf.constant(weight_decay, dtype))
    losses, vals = [], []
    bar = None
    if verbose:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=desc, leave=False)
    done = 0
    try:
        while done < epochs:
            chunk = min(epochs_per_call, epochs - done)
            out = runner.run(*state, tf.constant(done), tf.constant(chunk),
                             *hyper, x, lab, xv, lv)
            ran, state = int(out[0]), out[1:6]
            lb, vb = out[6].numpy()[:ran], out[7].numpy()[:ran]
            losses.append(lb)
            vals.append(vb)
            stop_request = False
            for e in range(ran):
                logs = _logs(lb[e], vb[e] if val is not None else None,
                             stacked)
                for cb in callbacks or ():
                    stop_request |= bool(cb(done + e + 1, logs))
            done += ran
            if bar is not None:
                bar.update(ran)
                if ran:
                    bar.set_postfix(loss=float(np.mean(lb[-1])))
            if ran < chunk or stop_request:
                break
    finally:
        if bar is not None:
            bar.close()
    stopped = np.minimum(state[4].numpy(), done)
    loss_hist = np.concatenate(losses)
    val_hist = np.concatenate(vals)
    out = list(state[0]) if val is not None else runner.values()
    finite = _per_model_finite(out, stacked)
    if not np.all(finite):
        raise RuntimeError(
            f"training diverged (non-finite weights in model(s) "
            f"{np.flatnonzero(~finite).tolist()}); lower the learning rate "
            "or the gradient clipping norm.")
    history = []
    for k in range(K):
        e_k = int(stopped[k])
        h = {"loss": [float(a) for a in loss_hist[:e_k, k]],
             "val_loss": ([float(a) for a in val_hist[:e_k, k]]
                          if val is not None else []),
             "epochs": e_k, "best_epoch": None}
        if val is not None:
            # The epoch whose weights were kept, by the runner's rule.
            best = np.inf
            for e, v in enumerate(val_hist[:e_k, k]):
                if v < best - min_delta:
                    best, h["best_epoch"] = v, e + 1
        history.append(h)
    return out, history


def _per_model_finite(params, stacked):
    if stacked:
        ok = [tf.reduce_all(tf.math.is_finite(p),
                            axis=list(range(1, p.shape.rank))) for p in params]
        return np.all(np.stack([o.numpy() for o in ok]), axis=0)
    return np.array([all(bool(tf.reduce_all(tf.math.is_finite(p)))
                         for p in params)])


def _logs(loss, val, stacked):
    conv = (lambda a: [float(t) for t in a]) if stacked else \
        (lambda a: float(a[0]))
    logs = {"loss": conv(loss)}
    if val is not None:
        logs["val_loss"] = conv(val)
    return logs
