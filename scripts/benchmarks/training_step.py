#!/usr/bin/env python
"""Benchmark section: the Adam step of the learned detectors, hand-written
versus ``keras.optimizers.Adam``, inside the same compiled full-batch step.

It decided that :mod:`detectors.training` uses Keras's Adam: a
hand-written update would stay only if it were faster.

Setting: the ViterbiNet classifier (1 -> 100 sigmoid -> 50 ReLU -> 16
logits, float32, weights ``[1, in, out]`` as in ``StackedMLP``), 5000
pilots, full batch, cross-entropy, gradients clipped to global norm 1, one
``tf.function(jit_compile=True)`` per candidate. Each candidate is timed
two ways:

- ``call``: one step per compiled call (Python dispatch included);
- ``loop``: 25 steps inside one compiled ``tf.while_loop``, as
  ``train_loop`` runs them (``epochs_per_call=25``).

Candidates:

- ``hand``: an elementwise Adam written out (weights and moments as
  tensors threaded through the step), the one ``detectors.training`` used
  before this benchmark showed it no faster than Keras's;
- ``keras``: ``keras.optimizers.Adam.apply_gradients`` on variables
  (Keras's functional ``Adam.stateless_apply`` raises "not supported with
  the TensorFlow backend" in Keras 3, so variables are the only way).

All are warmed up (traced and compiled) first, then timed in round-robin
rounds so that background load hits them alike; the figure is the minimum
over rounds of the time per step. The load average is recorded before and
after.

Usage::

    python scripts/benchmarks/training_step.py [--quick] [-o out.json]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=wrong-import-position
import argparse
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

__all__ = ["run", "print_table"]

SIZES = (1, 100, 50, 16)
NUM_PILOTS = 5000
LEARNING_RATE, CLIPNORM = 0.01, 1.0
B1, B2, EPS = 0.9, 0.999, 1e-7        # Keras's defaults, used by both
LOOP_STEPS = 25


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(1, NUM_PILOTS, 1)), tf.float32)
    lab = tf.constant(rng.integers(0, SIZES[-1], (1, NUM_PILOTS)), tf.int32)
    return x, lab


def _init(seed=0):
    params = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lim = np.sqrt(6.0 / (a + b))
        params.append(tf.random.stateless_uniform([1, a, b], [seed, i], -lim,
                                                  lim))
        params.append(tf.zeros([1, b]))
    return params


def _loss(params, x, lab):
    h = x
    for i in range(3):
        h = tf.einsum("kni,kio->kno", h, params[2 * i]) + \
            params[2 * i + 1][:, None, :]
        if i == 0:
            h = tf.sigmoid(h)
        elif i == 1:
            h = tf.nn.relu(h)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(lab, h)
    return tf.reduce_sum(tf.reduce_mean(ce, axis=1))


def _clipped_grads(params, x, lab):
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = _loss(params, x, lab)
    grads = tape.gradient(loss, params)
    norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads]))
    scale = tf.minimum(1.0, CLIPNORM / tf.maximum(norm, 1e-30))
    return [g * scale for g in grads]


# -- hand-written Adam (the reference) ---------------------------------------
def _hand_step(params, m, v, step, x, lab):
    grads = _clipped_grads(params, x, lab)
    step = step + 1.0
    lr_t = LEARNING_RATE * tf.sqrt(1.0 - B2 ** step) / (1.0 - B1 ** step)
    out_p, out_m, out_v = [], [], []
    for p, g, mi, vi in zip(params, grads, m, v):
        mi = B1 * mi + (1.0 - B1) * g
        vi = B2 * vi + (1.0 - B2) * tf.square(g)
        out_p.append(p - lr_t * mi / (tf.sqrt(vi) + EPS))
        out_m.append(mi)
        out_v.append(vi)
    return out_p, out_m, out_v, step


def _hand(x, lab):
    def one(params, m, v, step):
        return _hand_step(params, m, v, step, x, lab)

    def loop(params, m, v, step):
        def body(i, params, m, v, step):
            return (i + 1,) + tuple(_hand_step(params, m, v, step, x, lab))
        return tf.while_loop(lambda i, *_: i < LOOP_STEPS, body,
                             (tf.constant(0), params, m, v, step))[1:]

    params = _init()
    state = (params, [tf.zeros_like(p) for p in params],
             [tf.zeros_like(p) for p in params], tf.constant(0.0))
    f_one = tf.function(one, jit_compile=True)
    f_loop = tf.function(loop, jit_compile=True)
    return (lambda: f_one(*state)[3].numpy(),
            lambda: f_loop(*state)[3].numpy())


# -- Keras Adam on variables --------------------------------------------------
def _keras(x, lab):
    variables = [tf.Variable(p) for p in _init()]
    opt = keras.optimizers.Adam(LEARNING_RATE, beta_1=B1, beta_2=B2,
                                epsilon=EPS)
    opt.build(variables)

    def one():
        opt.apply_gradients(zip(_clipped_grads(variables, x, lab),
                                variables))
        return opt.iterations

    def loop():
        def body(i):
            opt.apply_gradients(zip(_clipped_grads(variables, x, lab),
                                    variables))
            return (i + 1,)
        tf.while_loop(lambda i: i < LOOP_STEPS, body, (tf.constant(0),))
        return opt.iterations

    f_one = tf.function(one, jit_compile=True)
    f_loop = tf.function(loop, jit_compile=True)
    return (lambda: f_one().numpy(), lambda: f_loop().numpy())


CANDIDATES = {"hand": _hand, "keras": _keras}


def _agreement(x, lab, steps=50):
    """Largest weight difference after ``steps`` steps: hand vs Keras (the
    same algorithm; only floating-point rounding may differ)."""
    params = _init()
    state = (params, [tf.zeros_like(p) for p in params],
             [tf.zeros_like(p) for p in params], tf.constant(0.0))
    hand = tf.function(lambda *s: _hand_step(*s, x, lab), jit_compile=True)
    for _ in range(steps):
        state = hand(*state)
    variables = [tf.Variable(p) for p in _init()]
    opt = keras.optimizers.Adam(LEARNING_RATE, beta_1=B1, beta_2=B2,
                                epsilon=EPS)

    @tf.function(jit_compile=True)
    def kstep():
        opt.apply_gradients(zip(_clipped_grads(variables, x, lab),
                                variables))

    for _ in range(steps):
        kstep()
    return max(float(np.max(np.abs(a.numpy() - b.numpy())))
               for a, b in zip(state[0], variables))


def run(quick: bool) -> dict:
    """Time the candidates; JSON-able result (seconds per step)."""
    rounds, calls = (5, 20) if quick else (15, 100)
    x, lab = _data()
    result = {"setting": {"sizes": list(SIZES), "pilots": NUM_PILOTS,
                          "full_batch": True, "jit_compile": True,
                          "loop_steps": LOOP_STEPS, "rounds": rounds,
                          "calls_per_round": calls,
                          "threads": tf.config.threading
                          .get_intra_op_parallelism_threads(),
                          "cpus": os.cpu_count()},
              "load_average_at_start": list(os.getloadavg()),
              "candidates": {}}
    fns = {}
    for name, make in CANDIDATES.items():
        t0 = time.perf_counter()
        one, loop = make(x, lab)
        one(), loop()
        fns[name] = {"call": (one, 1), "loop": (loop, LOOP_STEPS)}
        result["candidates"][name] = {
            "warmup_s": time.perf_counter() - t0,
            "call": [], "loop": []}
    for _ in range(rounds):
        for name, modes in fns.items():
            for mode, (fn, steps) in modes.items():
                n = calls if mode == "call" else max(1, calls // steps)
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                result["candidates"][name][mode].append(
                    (time.perf_counter() - t0) / (n * steps))
    for rec in result["candidates"].values():
        for mode in ("call", "loop"):
            times = rec.pop(mode)
            rec[mode] = {"per_step_s": times, "min_s": min(times),
                         "median_s": statistics.median(times)}
    hand = result["candidates"]["hand"]
    for name, rec in result["candidates"].items():
        rec["hand_speedup"] = {
            mode: rec[mode]["min_s"] / hand[mode]["min_s"]
            for mode in ("call", "loop")}
    result["max_weight_difference_after_50_steps"] = _agreement(x, lab)
    result["load_average_at_end"] = list(os.getloadavg())
    return result


def print_table(result):
    """The timings as a table (microseconds per step)."""
    print("Adam in a compiled full-batch step (1-100-50-16, "
          f"{result['setting']['pilots']} pilots), us per step, "
          "min (median) over rounds")
    print(f"  {'candidate':<16} {'1 step/call':>20} "
          f"{str(LOOP_STEPS) + ' steps/call':>20}  time / hand's (loop)")
    for name, rec in result["candidates"].items():
        cells = [f"{rec[m]['min_s'] * 1e6:8.0f} ({rec[m]['median_s'] * 1e6:6.0f})"
                 for m in ("call", "loop")]
        print(f"  {name:<16} {cells[0]:>20} {cells[1]:>20}  "
              f"{rec['hand_speedup']['loop']:.3f}")
    print("  max |w_hand - w_keras| after 50 steps: "
          f"{result['max_weight_difference_after_50_steps']:.2e}")
    print(f"  load average: start {result['load_average_at_start']}, "
          f"end {result['load_average_at_end']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-o", "--output")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print_table(result)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
