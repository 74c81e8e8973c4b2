r"""Training many learned trellis detectors at once (e.g. one per sweep
point): :func:`train_many`, which ``fit`` of ViterbiNet and
LearnedFactorGraph also runs (with K = 1).

Either as a single stacked network with weights ``[K, in, out]`` in one
XLA loop (on GPUs) or one after the other with one shared compiled loop
(on CPUs, where stacking gains nothing, see its docstring); each model gets
the weights ``fit`` would give it alone.
"""

import time

import numpy as np
import tensorflow as tf

from signals.seeds import hash_seed, is_int

from .pilots import (MIN_SAMPLES_PER_CLASS, check_pilots, check_validation,
                     features, split_validation)
from .training import train_loop
from .mixture import fit_mixture
from .stacked_mlp import StackedMLP, mlp_loss
from .trellis import tuple_labels

__all__ = ["train_many", "pilot_samples"]


def pilot_samples(det, y, s):
    """Features ``[N, d]`` and channel-state labels ``[N]`` of checked
    pilot frames ``y``, ``s`` ``[frames, T]``."""
    labels = tuple_labels(s, det.num_points, det.memory).numpy()
    f = features(tf.constant(y), tf.float64).numpy()
    return f.reshape(-1, f.shape[-1]), labels.reshape(-1).astype(np.int32)


def _as_list(data, k, name):
    if isinstance(data, (list, tuple)):
        if len(data) != k:
            raise ValueError(f"`{name}` has {len(data)} entries for {k} "
                             "detectors.")
        return list(data)
    arr = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if arr.ndim < 2 or arr.shape[0] != k:
        raise ValueError(f"`{name}` must be a list of {k} pilot sets or an "
                         f"array with a leading axis of {k}, got shape "
                         f"{list(arr.shape)}.")
    return list(arr)


def train_many(detectors, y, s, *, epochs=None, batch_size=None,
               validation="default", patience=None, learning_rate=None,
               callbacks=None, seed=None, stack="auto", verbose=True):
    r"""Train K learned trellis detectors, e.g. one per sweep point.

    All detectors must share the classifier architecture (M, L, real or
    complex, hidden sizes, activations, precision) and the training
    settings (``recipe`` and training options, ``training_settings``);
    ViterbiNets and LearnedFactorGraphs may be mixed. Every model gets its
    own pilots,
    validation split, input standardisation, initial weights, gradient
    clipping and early stopping; model ``k`` ends with the weights
    ``detectors[k].fit(y[k], s[k], seed=seeds[k])`` would give it, up to
    floating-point summation order (and, with mini-batches in stacked
    mode, the shuffling order, which is shared).

    Stacked mode trains the K models as one network with weights ``[K,
    in, out]`` in one XLA loop: one compilation and one step for all, which
    pays off where a step of K models costs little more than one (GPUs).
    On a CPU, full-batch training is compute-bound (measured on 2 cores:
    4.5 ms per model and epoch either way) and a stacked run lasts until
    its slowest model stops early, so the models are trained one after the
    other with the same compiled loop (180 models of a (gamma, SNR) grid:
    62 s one by one, 177 s stacked).

    Parameters
    ----------
    detectors : list of ViterbiNet / LearnedFactorGraph
    y, s : list of K pilot sets (or arrays with a leading axis K)
        As in :meth:`ViterbiNet.fit`; every model needs the same number of
        training (and validation) samples.
    epochs, batch_size, patience, learning_rate : None | number
        Default: the detectors' settings.
    validation : "default" | None | float | list of K (y_val, s_val)
        As in ``fit`` (``"default"``: the detectors' ``validation``);
        pairs are given per model.
    callbacks : None | list of callables
        ``cb(epoch, logs)`` with per-model lists in ``logs``.
    seed : None | int | list of K ints
        An int ``n`` gives model ``k`` the seed ``n + k``.
    stack : "auto" | bool
        Stacked (True) or one model after the other (False); ``"auto"``
        stacks when TensorFlow sees a GPU.
    verbose : bool

    Output
    ------
    : list of K dicts (see ``fit``); ``seconds`` is the wall time of the
      model's own run (one by one) or of the whole stacked run
    """
    if not isinstance(detectors, (list, tuple)) or not detectors:
        raise ValueError("`detectors` must be a non-empty list.")
    for d in detectors:
        if not isinstance(getattr(d, "network", None), StackedMLP):
            raise TypeError("train_many trains ViterbiNet / "
                            "LearnedFactorGraph detectors, got "
                            f"{type(d).__name__}.")
    first = detectors[0]
    if any(d._arch() != first._arch() for d in detectors):
        raise ValueError("train_many needs detectors of one architecture "
                         "(M, L, hidden, activations, precision).")
    if len({id(d) for d in detectors}) != len(detectors):
        raise ValueError("`detectors` holds the same detector twice.")
    settings = first.training_settings
    for k, d in enumerate(detectors):
        if d.training_settings != settings:
            diff = sorted(n for n, v in d.training_settings.items()
                          if settings[n] != v)
            raise ValueError(
                f"train_many trains all models with one recipe; detector "
                f"{k} differs from the first in {', '.join(diff)}. Build "
                "them with the same training options, or train them "
                "separately.")
    K = len(detectors)
    ys, ss = _as_list(y, K, "y"), _as_list(s, K, "s")
    if seed is None:
        seeds = [hash_seed(None) for _ in range(K)]
    elif isinstance(seed, (list, tuple)):
        if len(seed) != K:
            raise ValueError(f"`seed` has {len(seed)} entries for {K} "
                             "detectors.")
        seeds = [hash_seed(v) for v in seed]
    else:
        seeds = [hash_seed(seed + k) if is_int(seed) else hash_seed(seed)
                 for k in range(K)]
    epochs, patience, batch_size, lr = first._training_options(
        epochs=epochs, patience=patience, batch_size=batch_size,
        learning_rate=learning_rate)
    if isinstance(validation, str) and validation == "default":
        validation = settings["validation"] or None
    if isinstance(validation, (list, tuple)):
        # fit passes its pair; train_many takes one pair per model.
        mode, vdata = "data", [validation] if K == 1 else list(validation)
        if len(vdata) != K or not all(isinstance(v, (list, tuple)) and
                                      len(v) == 2 for v in vdata):
            raise ValueError("`validation` as data must give one pair "
                             "(y_val, s_val) per detector.")
    else:
        mode, vdata = check_validation(validation)
    if mode != "none" and patience is None:
        raise ValueError(
            f"validation data stops training early, but these detectors "
            f"have no patience (recipe {first.recipe!r} trains without "
            "early stopping); pass patience=N as well, or validation=None.")
    if stack == "auto":
        stack = bool(tf.config.list_logical_devices("GPU"))
    elif not isinstance(stack, bool):
        raise ValueError(f"`stack` must be 'auto', True or False, got "
                         f"{stack!r}.")
    C = first.num_classes
    min_samples = MIN_SAMPLES_PER_CLASS * C
    xs, ls, xvs, lvs = [], [], [], []
    for k, det in enumerate(detectors):
        yk, sk = check_pilots(ys[k], ss[k], det.num_points, det.is_complex,
                              min_samples, f"training samples "
                              f"({MIN_SAMPLES_PER_CLASS} per channel state, "
                              f"{C} states)")
        x, lab = pilot_samples(det, yk, sk)
        if mode == "fraction":
            tr, va = split_validation(len(lab), vdata, seeds[k])
            x, lab, xv, lv = x[tr], lab[tr], x[va], lab[va]
        elif mode == "data":
            yv, sv = check_pilots(vdata[k][0], vdata[k][1], det.num_points,
                                  det.is_complex, 1,
                                  names=("y_val", "s_val"))
            xv, lv = pilot_samples(det, yv, sv)
        else:
            xv = lv = None
        xs.append(x), ls.append(lab), xvs.append(xv), lvs.append(lv)
    if stack:
        for name, arrs in (("training", ls), ("validation", lvs)):
            if arrs[0] is not None and len({len(a) for a in arrs}) > 1:
                raise ValueError(
                    f"stacked training needs the same number of {name} "
                    f"samples per model, got {sorted({len(a) for a in arrs})}"
                    "; pass stack=False to train one after the other.")
    # Standardise each model's inputs by its own training statistics.
    shift = [x.mean(axis=0) for x in xs]                       # [d] each
    scale = [1.0 / np.maximum(x.std(axis=0), 1e-12) for x in xs]
    dtype = first.rdtype

    def norm(arrs, ks):
        return tf.constant(np.stack([(arrs[k] - shift[k]) * scale[k]
                                     for k in ks]), dtype)

    def run(ks):
        """Train the models ``ks`` as one stack; returns params, history."""
        train = (norm(xs, ks), tf.constant(np.stack([ls[k] for k in ks])))
        val = None if xvs[0] is None else (
            norm(xvs, ks), tf.constant(np.stack([lvs[k] for k in ks])))
        init = [detectors[k]._net.initial_params(seeds[k], dtype)
                for k in ks]
        params = [tf.concat(p, axis=0) for p in zip(*init)]
        return train_loop(
            mlp_loss(first._activations), params, train, val, stacked=True,
            epochs=epochs, patience=patience, min_delta=first._min_delta,
            learning_rate=lr, clipnorm=first._clipnorm, clip=first._clip,
            weight_decay=first._weight_decay,
            batch_size=batch_size, seed=seeds[ks[0]], callbacks=callbacks,
            verbose=verbose,
            desc=(f"{type(detectors[ks[0]]).__name__}" if len(ks) == 1
                  else f"{len(ks)} learned trellis detectors"),
            cache_key=("mlp", first._activations))

    groups = [list(range(K))] if stack else [[k] for k in range(K)]
    hist = [None] * K
    for ks in groups:
        t0 = time.perf_counter()
        params, h = run(ks)
        seconds = time.perf_counter() - t0
        for i, k in enumerate(ks):
            det = detectors[k]
            for var, val_ in zip(det._net.params, params):
                var.assign(val_[i:i + 1])
            det._net.shift.assign(tf.constant(shift[k][None], dtype))
            det._net.scale.assign(tf.constant(scale[k][None], dtype))
            if det._marginal == "gmm":
                lw, mu, var = fit_mixture(xs[k], ls[k], C)
                det._gmm_log_weight.assign(tf.constant(lw, dtype))
                det._gmm_mean.assign(tf.constant(mu, dtype))
                det._gmm_var.assign(tf.constant(var, dtype))
            det._trained = True
            hist[k] = {**h[i], "seconds": seconds}
    return hist
