r"""Shared machinery of the learned detectors: pilot checks, the training
loop, and safe checkpoints.

Training loop
-------------
Keras ``Model.fit`` with small batches spends most of its time in per-batch
Python overhead (about 70 s for one ViterbiNet on 5000 samples on a 2-core
CPU). :func:`train_loop` instead runs whole epochs inside one compiled
``tf.function`` (optionally ``jit_compile=True``): a ``tf.while_loop`` over
epochs and mini-batches, Adam written out elementwise, gradient clipping by
global norm, validation loss and early stopping, all without leaving the
graph. Python only sees the loop every ``epochs_per_call`` epochs (progress
bar, callbacks). The parameters are plain tensors threaded through the
loop (functional style), so the compiled function is cached per
architecture and data shape and reused by every detector of that shape.

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

Checkpoints
-----------
``save(path)`` writes ``<path>.weights.h5`` (the variables, one HDF5 dataset
each, via ``h5py``) and ``<path>.json`` (format name and version, class,
constructor arguments, variable shapes and the SHA-256 of the weights
file). ``load(path)`` checks all of it before assigning a single value, so
a checkpoint of another class or architecture, another format version, or
a truncated or edited file raises ``ValueError``. Nothing is unpickled and
no code is deserialised: the JSON holds only numbers, strings and lists,
and the weights file only arrays.
"""

import hashlib
import json
import os

import h5py
import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_nonnegative, check_positive
from signals.constellations import constellation_name, make_constellation

from .base import Detector

__all__ = ["LearnedDetector", "check_pilots", "check_validation",
           "check_int", "check_positive", "check_nonnegative",
           "train_loop", "features", "split_validation", "split_seed",
           "checkpoint_paths", "FORMAT_NAME", "FORMAT_VERSION",
           "MIN_SAMPLES_PER_CLASS"]

FORMAT_NAME = "rxsim.learned-detector"
FORMAT_VERSION = 1

# A classifier over C classes needs examples of every class to learn it; 10
# per class on average is the least with which a 16-class net trained here
# still lands near the model-based detector (fewer gives classes with no or
# one example at all and an arbitrary metric for them).
MIN_SAMPLES_PER_CLASS = 10


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------
def _as_numpy(x):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return x.numpy()
    return np.asarray(x)


def check_pilots(y, s, num_points, is_complex, min_samples=1,
                 what="training samples", names=("y", "s")):
    r"""Check pilot data ``(y, s)`` and return it as ``[frames, T]`` arrays.

    Parameters
    ----------
    y : [N] or [frames, T], array_like, float or complex
        Received samples (one frame if 1-D); each frame follows the
        preamble.
    s : same shape as ``y``, int
        Transmitted symbol indices.
    num_points : int
        M; indices must lie in ``[0, M)``.
    is_complex : bool
        Whether complex samples are allowed (complex constellation).
    min_samples : int
        Least number of samples accepted.
    what : str
        Description of the minimum for the error message.
    names : (str, str)
        Argument names used in error messages.

    Output
    ------
    y : [frames, T], np.float64 or np.complex128
    s : [frames, T], np.int32
    """
    ny, ns = names
    y = _as_numpy(y)
    s = _as_numpy(s)
    if y.dtype.kind not in "fc":
        raise TypeError(f"`{ny}` must hold float (or complex) samples, got "
                        f"dtype {y.dtype}.")
    if y.dtype.kind == "c" and not is_complex:
        raise TypeError(f"`{ny}` is complex but the constellation is real; "
                        "pass its real part or use a complex constellation.")
    if s.dtype.kind not in "iu":
        raise TypeError(f"`{ns}` must hold integer symbol indices, got dtype "
                        f"{s.dtype}.")
    if y.ndim not in (1, 2):
        raise ValueError(f"`{ny}` must have shape [N] or [frames, T], got "
                         f"shape {list(y.shape)}.")
    if s.shape != y.shape:
        raise ValueError(
            f"`{ns}` has shape {list(s.shape)} but `{ny}` has shape "
            f"{list(y.shape)}: give one symbol index per received sample.")
    if y.ndim == 1:
        y, s = y[None], s[None]
    if y.size == 0:
        raise ValueError(f"`{ny}` holds no samples.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"`{ny}` contains NaN or Inf samples.")
    lo, hi = int(s.min()), int(s.max())
    if lo < 0 or hi >= num_points:
        raise ValueError(
            f"`{ns}` holds symbol indices in [{lo}, {hi}] but the "
            f"constellation has M = {num_points} points (indices 0..."
            f"{num_points - 1}).")
    if y.size < min_samples:
        raise ValueError(
            f"{y.size} samples in `{ny}` are too few: need at least "
            f"{min_samples} {what}.")
    y = y.astype(np.complex128 if y.dtype.kind == "c" else np.float64)
    return y, s.astype(np.int32)


def check_validation(validation):
    """``validation`` is None, a fraction in ``[0, 1)``, or a pair
    ``(y_val, s_val)``; returns ``("none" | "fraction" | "data", value)``."""
    if validation is None:
        return "none", None
    if isinstance(validation, (tuple, list)):
        if len(validation) != 2:
            raise ValueError("`validation` as data must be a pair "
                             "(y_val, s_val).")
        return "data", tuple(validation)
    if isinstance(validation, bool) or not isinstance(
            validation, (int, float, np.floating, np.integer)):
        raise TypeError("`validation` must be None, a fraction in [0, 1) or "
                        f"a pair (y_val, s_val); got {validation!r}.")
    frac = float(validation)
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"`validation` fraction must lie in [0, 1), got "
                         f"{validation!r}.")
    return ("none", None) if frac == 0.0 else ("fraction", frac)


def split_seed(seed):
    """A user seed (None or int) -> an int in ``[0, 2**31)``; None draws
    one from the OS."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be None or an int, got {seed!r}.")
    return int(np.random.SeedSequence(int(seed) & (2 ** 63 - 1))
               .generate_state(1)[0] >> 1)


def split_validation(num, fraction, seed):
    """Random split of ``num`` sample indices: (train, val), both sorted,
    with ``round(fraction * num)`` (at least 1) validation samples."""
    n_val = max(1, int(round(fraction * num)))
    if n_val >= num:
        raise ValueError(f"validation fraction {fraction} leaves no "
                         f"training samples out of {num}.")
    perm = np.random.default_rng(seed).permutation(num)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def features(y, dtype):
    """Classifier inputs: ``[..., 1]`` for real samples, ``[..., 2]``
    (real, imaginary) for complex ones, in real ``dtype``."""
    if y.dtype.is_complex:
        return tf.cast(tf.stack([tf.math.real(y), tf.math.imag(y)], -1),
                       dtype)
    return tf.cast(y[..., None], dtype)


# --------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------
_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-7


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


def _make_runner(loss_fn, stacked, batch_size, has_val, jit, buf_len):
    """Compiled ``run(...)``: up to ``buf_len`` epochs of Adam with early
    stopping, everything carried as tensors (see :func:`train_loop`). The
    number of epochs to run is a runtime value; ``buf_len`` is static so
    that XLA compiles once whatever the chunk."""
    axis = 1 if stacked else 0

    def run(params, m, v, best, best_val, since, active, stopped_at, step,
            epoch, num_epochs, lr, clipnorm, patience, min_delta, seed, x, lab,
            xv, lv):
        n = tf.shape(lab)[axis]
        bs = n if batch_size is None else batch_size
        nb = 1 if batch_size is None else n // bs
        K = tf.shape(best_val)[0]
        dtype = best_val.dtype
        loss_buf = tf.fill([buf_len, K], tf.constant(np.nan, dtype))
        val_buf = tf.fill([buf_len, K], tf.constant(np.nan, dtype))

        def one_step(b, perm, e, params, m, v, step, acc, active):
            if batch_size is None:
                xb, lb = x, lab
            else:
                idx = perm[b * bs:(b + 1) * bs]
                xb = tf.gather(x, idx, axis=axis)
                lb = tf.gather(lab, idx, axis=axis)
            with tf.GradientTape() as tape:
                tape.watch(params)
                losses = loss_fn(params, xb, lb, True,
                                 tf.stack([seed, e * nb + b]))
                total = tf.reduce_sum(losses)
            grads = tape.gradient(total, params)
            norm = tf.sqrt(_per_model_sq_norm(grads, stacked))
            scale = tf.minimum(tf.ones_like(norm),
                               clipnorm / tf.maximum(norm, 1e-30))
            step = step + 1.0
            lr_t = lr * tf.sqrt(1.0 - _ADAM_B2 ** step) / (
                1.0 - _ADAM_B1 ** step)
            new_p, new_m, new_v = [], [], []
            for p, g, mi, vi in zip(params, grads, m, v):
                keep = _expand(active, p, stacked)
                g = g * _expand(scale, p, stacked)
                mi2 = _ADAM_B1 * mi + (1.0 - _ADAM_B1) * g
                vi2 = _ADAM_B2 * vi + (1.0 - _ADAM_B2) * tf.square(g)
                p2 = p - lr_t * mi2 / (tf.sqrt(vi2) + _ADAM_EPS)
                # Stopped models stay frozen at their weights.
                new_p.append(tf.where(keep, p2, p))
                new_m.append(tf.where(keep, mi2, mi))
                new_v.append(tf.where(keep, vi2, vi))
            return new_p, new_m, new_v, step, acc + losses

        def epoch_body(i, params, m, v, best, best_val, since, active,
                       stopped_at, step, loss_buf, val_buf):
            e = epoch + i
            if batch_size is None:
                perm = tf.zeros([0], tf.int32)
            else:
                perm = tf.argsort(tf.random.stateless_uniform(
                    [n], tf.stack([seed, -1 - e])))

            def batch_body(b, params, m, v, step, acc):
                p, m2, v2, st, acc = one_step(b, perm, e, params, m, v, step,
                                              acc, active)
                return b + 1, p, m2, v2, st, acc

            _, params, m, v, step, acc = tf.while_loop(
                lambda b, *_: b < nb, batch_body,
                (tf.constant(0), params, m, v, step, tf.zeros([K], dtype)))
            loss_buf = tf.tensor_scatter_nd_update(
                loss_buf, [[i]], (acc / tf.cast(nb, dtype))[None])
            if has_val:
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
            return (i + 1, params, m, v, best, best_val, since, active,
                    stopped_at, step, loss_buf, val_buf)

        return tf.while_loop(
            lambda i, *s: tf.logical_and(i < num_epochs,
                                         tf.reduce_any(s[6])),
            epoch_body,
            (tf.constant(0), params, m, v, best, best_val, since, active,
             stopped_at, step, loss_buf, val_buf))

    return tf.function(run, jit_compile=jit)


_RUNNERS = {}


def train_loop(loss_fn, params, train, val=None, *, stacked, epochs,
               patience=20, min_delta=0.0, learning_rate=0.01, clipnorm=1.0,
               batch_size=None, seed=0, jit=True, epochs_per_call=25,
               callbacks=None, verbose=False, desc="training",
               cache_key=None, cache=None):
    r"""Adam with per-model gradient clipping and early stopping.

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
    patience : int
        Early stopping: a model stops after this many epochs without a new
        best validation loss; its best weights are returned.
    min_delta : float
        A validation loss counts as a new best only if it is lower than
        the best so far by more than this (nats).
    learning_rate, clipnorm : float
        Adam step size; maximum global gradient norm of each model.
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
        Key under which the compiled loop is cached across calls (``None``:
        not cached). Must identify ``loss_fn`` within ``cache``.
    cache : None or dict
        Where to cache it; ``None``: a module-level dict (for pure loss
        functions shared by all instances).

    Output
    ------
    params : list of tf.Tensor
        Best (or, without ``val``, last) parameters.
    history : list of dict (one per model)
        ``loss`` and ``val_loss`` per epoch (lists of float), ``epochs``
        (epochs run), ``best_epoch`` (1-based, or None without ``val``).
    """
    cache = _RUNNERS if cache is None else cache
    key = (cache_key, stacked, batch_size, val is not None, jit,
           epochs_per_call)
    runner = cache.get(key) if cache_key is not None else None
    if runner is None:
        runner = _make_runner(loss_fn, stacked, batch_size, val is not None,
                              jit, epochs_per_call)
        if cache_key is not None:
            cache[key] = runner
    params = [tf.convert_to_tensor(p) for p in params]
    dtype = params[0].dtype
    x, lab = train
    K = int(params[0].shape[0]) if stacked else 1
    n = int(lab.shape[1 if stacked else 0])
    if batch_size is not None and batch_size >= n:
        batch_size = None
    # Without validation data the runner ignores (xv, lv).
    xv, lv = (x, lab) if val is None else val
    state = ([tf.zeros_like(p) for p in params],          # Adam m
             [tf.zeros_like(p) for p in params],          # Adam v
             list(params),                                # best
             tf.fill([K], tf.constant(np.inf, dtype)),    # best val loss
             tf.zeros([K], tf.int32),                     # epochs w/o gain
             tf.ones([K], tf.bool),                       # still training
             tf.fill([K], tf.constant(epochs, tf.int32)),  # stop epoch
             tf.constant(0.0, dtype))                     # Adam step
    hyper = (tf.constant(learning_rate, dtype), tf.constant(clipnorm, dtype),
             tf.constant(patience, tf.int32), tf.constant(min_delta, dtype),
             tf.constant(seed, tf.int32))
    losses, vals = [], []
    bar = None
    if verbose:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=desc, leave=False)
    done = 0
    try:
        while done < epochs:
            chunk = min(epochs_per_call, epochs - done)
            out = runner(params, *state, tf.constant(done),
                         tf.constant(chunk), *hyper, x, lab, xv, lv)
            ran, params, state = int(out[0]), out[1], out[2:10]
            lb, vb = out[10].numpy()[:ran], out[11].numpy()[:ran]
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
    stopped = np.minimum(state[6].numpy(), done)
    loss_hist = np.concatenate(losses)
    val_hist = np.concatenate(vals)
    out = state[2] if val is not None else params
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


# --------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------
def checkpoint_paths(path):
    """``(<path>.weights.h5, <path>.json)``; a trailing ``.json`` or
    ``.weights.h5`` in ``path`` is dropped first."""
    path = os.fspath(path)
    for suffix in (".weights.h5", ".json"):
        if path.endswith(suffix):
            path = path[:-len(suffix)]
    return path + ".weights.h5", path + ".json"


def _sha256(filename):
    h = hashlib.sha256()
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LearnedDetector(Detector):
    r"""Base class of detectors with trainable parts (Keras 3 layers).

    Subclasses define ``_config()`` (their constructor arguments, JSON
    types only), ``_variables()`` (every variable to save, in a fixed
    order), ``fit`` and the detector contract of :class:`Detector`.
    Calling a detector that was neither fitted nor loaded raises
    ``RuntimeError``.

    Parameters
    ----------
    constellation, hard_out, precision
        As in :class:`detectors.base.Detector`.
    """

    _registry = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LearnedDetector._registry[cls.__name__] = cls

    def __init__(self, constellation=None, hard_out=False, precision=None,
                 **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._trained = False

    @property
    def trained(self):
        """bool : whether the detector was fitted or loaded."""
        return self._trained

    def _prepare(self, y, no):
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} is not trained: call "
                               "fit(y, s) on pilots or load a checkpoint.")
        return super()._prepare(y, no)

    # -- subclass hooks ---------------------------------------------------
    def _config(self):
        """Constructor arguments (JSON types) that rebuild this detector."""
        raise NotImplementedError

    def _variables(self):
        """All variables to checkpoint, in a fixed order."""
        raise NotImplementedError

    def _base_config(self):
        c = self._constellation
        name = constellation_name(c)
        try:
            same = np.array_equal(np.asarray(make_constellation(name).points),
                                  np.asarray(c.points))
        except ValueError:
            same = False
        if not same:
            raise ValueError(
                "Only named constellations ('bpsk', 'pamM', 'qamM') can be "
                "saved; this detector uses a custom constellation.")
        return {"constellation": name, "hard_out": self._hard_out,
                "precision": self.precision}

    # -- save / load ------------------------------------------------------
    def save(self, path):
        """Write ``<path>.weights.h5`` and ``<path>.json``.

        Parameters
        ----------
        path : str or os.PathLike
            Checkpoint path without suffix (``.json`` / ``.weights.h5`` are
            accepted and dropped).

        Output
        ------
        : (str, str), the weights and JSON file names
        """
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} is not trained; "
                               "nothing to save.")
        weights_file, json_file = checkpoint_paths(path)
        variables = self._variables()
        with h5py.File(weights_file, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["version"] = FORMAT_VERSION
            grp = f.create_group("variables")
            for i, var in enumerate(variables):
                grp.create_dataset(f"{i:04d}",
                                   data=np.asarray(tf.convert_to_tensor(var)))
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "class": type(self).__name__,
            "config": {**self._base_config(), **self._config()},
            "variables": [{"shape": list(map(int, var.shape)),
                           "dtype": tf.as_dtype(var.dtype).name}
                          for var in variables],
            "weights_file": os.path.basename(weights_file),
            "weights_sha256": _sha256(weights_file),
        }
        with open(json_file, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return weights_file, json_file

    @classmethod
    def load(cls, path):
        """Rebuild a saved detector; its outputs are bit-identical.

        ``ViterbiNet.load`` accepts only ViterbiNet checkpoints (and so
        on); ``LearnedDetector.load`` accepts any learned detector.

        Parameters
        ----------
        path : str or os.PathLike
            As given to :meth:`save`.

        Raises
        ------
        ValueError
            Missing, truncated or edited files; another format, version,
            class or architecture.
        """
        weights_file, json_file = checkpoint_paths(path)

        def bad(why):
            return ValueError(f"Cannot load checkpoint {json_file!r}: {why}.")

        try:
            with open(json_file, "r", encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise bad("the JSON file does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise bad(f"the JSON file is not valid JSON ({e})") from None
        if not isinstance(meta, dict):
            raise bad("the JSON file does not hold an object")
        if meta.get("format") != FORMAT_NAME:
            raise bad(f"format is {meta.get('format')!r}, expected "
                      f"{FORMAT_NAME!r}")
        if meta.get("version") != FORMAT_VERSION:
            raise bad(f"format version {meta.get('version')!r} is not "
                      f"supported (this code reads version "
                      f"{FORMAT_VERSION})")
        name = meta.get("class")
        klass = LearnedDetector._registry.get(name) \
            if isinstance(name, str) else None
        if klass is None:
            raise bad(f"unknown detector class {name!r}")
        if not issubclass(klass, cls):
            raise bad(f"it holds a {name}, not a {cls.__name__}")
        config = meta.get("config")
        if not isinstance(config, dict):
            raise bad("'config' is missing")
        try:
            det = klass(**config)
        except (TypeError, ValueError) as e:
            raise bad(f"its config does not build a {name} ({e})") from None
        # Constructors forward unknown keywords to sionna's Block, so an
        # added key would be silently accepted: compare the key sets.
        known = {**det._base_config(), **det._config()}
        if set(config) != set(known):
            raise bad(f"its config keys {sorted(config)} are not those of a "
                      f"{name} ({sorted(known)})")
        variables = det._variables()
        shapes = meta.get("variables")
        expected = [{"shape": list(map(int, var.shape)),
                     "dtype": tf.as_dtype(var.dtype).name}
                    for var in variables]
        if shapes != expected:
            raise bad("the variable list does not match the architecture "
                      "its config describes")
        if not os.path.exists(weights_file):
            raise bad(f"weights file {weights_file!r} does not exist")
        if _sha256(weights_file) != meta.get("weights_sha256"):
            raise bad("the weights file does not match the checksum in the "
                      "JSON (truncated, edited or from another save)")
        try:
            with h5py.File(weights_file, "r") as f:
                grp = f["variables"]
                if sorted(grp.keys()) != [f"{i:04d}" for i in
                                          range(len(variables))]:
                    raise bad("the weights file holds other variables")
                values = [grp[f"{i:04d}"][()] for i in range(len(variables))]
        except (OSError, KeyError) as e:
            raise bad(f"the weights file is unreadable ({e})") from None
        for var, val, exp in zip(variables, values, expected):
            if list(val.shape) != exp["shape"] or \
                    val.dtype != np.dtype(exp["dtype"]):
                raise bad("a weight array has the wrong shape or dtype")
            if not np.all(np.isfinite(val)):
                raise bad("a weight array holds NaN or Inf")
        for var, val in zip(variables, values):
            var.assign(val)
        det._after_load()
        det._trained = True
        return det

    def _after_load(self):
        """Hook run after the weights are assigned by :meth:`load`."""
