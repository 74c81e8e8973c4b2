"""Training recipes of the learned trellis detectors (``recipe="rxsim"`` /
``"authors"``) and the fixed-lag decision rule (``decision="fixed-lag"``).

The optimiser settings are checked against hand computations (numpy Adam
as Keras defines it, on gradients clipped and decayed as PyTorch does);
the fixed-lag rule against an independent numpy port of the authors'
decoder, which runs over the ``M**L`` channel-state tuples (not rxsim's
``M**(L-1)`` states) and decides the oldest symbol of the best tuple.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from channels import exponential_taps
from detectors import (BCJRDetector, LearnedDetector, LearnedFactorGraph,
                       ViterbiDetector, ViterbiNet)
from detectors import many_models
from detectors.training import (RECIPES, process_gradients, recipe_options,
                                train_loop)
from detectors.trellis import fixed_lag
from rxsim.pilots import pilot_data
from rxsim.registry import (build_detector, check_detector_options,
                            training_options)

L = 4
TAPS = exponential_taps(L, 0.2)
BPSK = np.array([1.0, -1.0])


@pytest.fixture(scope="module")
def small_pilots():
    return pilot_data(TAPS, snr_db=10.0, num_symbols=1000, frame_length=1000,
                      seed=3)


# --------------------------------------------------------------------------
# Optimiser settings, by hand
# --------------------------------------------------------------------------
def numpy_adam(grad_fn, w, steps, lr, clipnorm=None, clip="global",
               weight_decay=0.0, b1=0.9, b2=0.999, eps=1e-7):
    """Keras 3 Adam on gradients clipped then decayed (PyTorch order).
    Keras casts the betas of its bias correction from float32 constants
    (``ops.cast(self.beta_2, dtype)``), so they are float32-rounded here
    too; the moment updates use them unrounded."""
    w = [np.array(v, np.float64) for v in w]
    m = [np.zeros_like(v) for v in w]
    v2 = [np.zeros_like(v) for v in w]
    for t in range(1, steps + 1):
        g = grad_fn(w)
        if clipnorm is not None:
            if clip == "global":
                n = np.sqrt(sum(np.sum(x ** 2) for x in g))
                g = [x * min(1.0, clipnorm / n) for x in g]
            else:
                g = [x * min(1.0, clipnorm / np.sqrt(np.sum(x ** 2)))
                     for x in g]
        g = [x + weight_decay * p for x, p in zip(g, w)]
        alpha = lr * np.sqrt(1 - float(np.float32(b2)) ** t) / (
            1 - float(np.float32(b1)) ** t)
        for i in range(len(w)):
            m[i] += (g[i] - m[i]) * (1 - b1)
            v2[i] += (g[i] ** 2 - v2[i]) * (1 - b2)
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v2[i]) + eps)
    return w


def test_process_gradients_by_hand():
    g = [tf.constant([[3.0, 4.0]], tf.float64),        # norm 5
         tf.constant([0.3, 0.4], tf.float64)]          # norm 0.5
    w = [tf.constant([[1.0, -2.0]], tf.float64),
         tf.constant([0.5, 0.0], tf.float64)]
    glob = process_gradients(g, w, clipnorm=1.0)        # total norm 5.025
    n = np.sqrt(25.25)
    np.testing.assert_allclose(glob[0], [[3 / n, 4 / n]])
    np.testing.assert_allclose(glob[1], [0.3 / n, 0.4 / n])
    per = process_gradients(g, w, clipnorm=1.0, clip="per-variable",
                            weight_decay=0.1)
    # first clipped to norm 1, second untouched (0.5 < 1); then + 0.1 w
    np.testing.assert_allclose(per[0], [[0.6 + 0.1, 0.8 - 0.2]])
    np.testing.assert_allclose(per[1], [0.3 + 0.05, 0.4])
    # stacked: each model (leading axis) clipped by its own norm
    gs = [tf.constant([[3.0, 4.0], [0.3, 0.4]], tf.float64)]
    ws = [tf.zeros([2, 2], tf.float64)]
    out = process_gradients(gs, ws, clipnorm=1.0, clip="per-variable",
                            stacked=True)[0]
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4]])
    with pytest.raises(ValueError, match="clip"):
        process_gradients(g, w, clipnorm=1.0, clip="norm")


def test_clipping_and_l2_change_the_updates_as_computed():
    """A quadratic loss whose gradients outgrow the clip norm at different
    times for the two variables: train_loop's weights after a few steps
    equal numpy Adam with per-variable clipping and coupled L2, and differ
    visibly from the other settings."""
    a = [np.array([4.0, 1.0]), np.array([0.2])]        # curvatures
    c = [np.array([3.0, -2.0]), np.array([5.0])]       # optima

    def loss(params, x, labels, training, seed):
        del x, labels, training, seed
        return tf.reshape(sum(0.5 * tf.reduce_sum(ai * (p - ci) ** 2)
                              for p, ai, ci in zip(params, a, c)), [1])

    def grad_fn(w):
        return [ai * (wi - ci) for wi, ai, ci in zip(w, a, c)]

    w0 = [np.array([0.5, 0.5]), np.array([0.0])]
    data = (tf.zeros([4], tf.float64), tf.zeros([4], tf.int32))
    runs = {}
    for clip, wd in (("per-variable", 1e-1), ("global", 1e-1),
                     ("per-variable", 0.0)):
        params, hist = train_loop(
            loss, [tf.constant(v) for v in w0], data, stacked=False,
            epochs=5, learning_rate=0.3, clipnorm=1.0, clip=clip,
            weight_decay=wd, jit=False, epochs_per_call=5)
        assert hist[0]["epochs"] == 5
        runs[clip, wd] = [p.numpy() for p in params]
        want = numpy_adam(grad_fn, w0, 5, 0.3, 1.0, clip, wd)
        for got, exp in zip(runs[clip, wd], want):
            np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-12)
    # the settings matter here by far more than the tolerance
    base = np.concatenate(runs["per-variable", 1e-1])
    for other in (runs["global", 1e-1], runs["per-variable", 0.0]):
        assert np.max(np.abs(base - np.concatenate(other))) > 1e-3


def test_authors_recipe_reaches_the_training_loop(small_pilots,
                                                  monkeypatch):
    """fit under each recipe hands train_loop the recipe's settings; the
    authors' recipe asks for all 100 epochs on all pilots (no early
    stopping), in mini-batches of 27. The loop itself then runs 2 of
    them (the spy's cut; 100 took 40 s of the default suite): that it
    runs every epoch it is asked for without validation data is what
    the history shows."""
    seen = []
    real = many_models.train_loop

    def spy(*args, **kwargs):
        seen.append((args, kwargs))
        return real(*args, **{**kwargs, "epochs": 2})

    monkeypatch.setattr(many_models, "train_loop", spy)
    y, s = small_pilots
    det = ViterbiNet(L, recipe="authors")
    h = det.fit(y, s, seed=0, verbose=False)
    args, kw = seen[-1]
    assert kw["epochs"] == 100 and kw["batch_size"] == 27
    assert kw["clip"] == "per-variable" and kw["clipnorm"] == 1.0
    assert kw["weight_decay"] == 1e-4 and kw["learning_rate"] == 0.01
    assert args[3] is None                       # no validation data
    assert args[2][1].shape[1] == 1000           # every pilot trains
    assert h["epochs"] == 2 and len(h["loss"]) == 2
    assert h["best_epoch"] is None and h["val_loss"] == []
    assert det.trained

    LearnedFactorGraph(L).fit(y, s, seed=0, epochs=3, verbose=False)
    args, kw = seen[-1]
    assert kw["batch_size"] is None and kw["clip"] == "global"
    assert kw["weight_decay"] == 0.0 and kw["patience"] == 50
    assert args[3] is not None and args[3][1].shape[1] == 100    # 10% held

    # explicit options replace the recipe's values, one by one
    h = ViterbiNet(L, recipe="authors", epochs=2, batch_size=0,
                   weight_decay=0.0).fit(y, s, seed=0, verbose=False)
    args, kw = seen[-1]
    assert h["epochs"] == 2 and kw["batch_size"] is None
    assert kw["weight_decay"] == 0.0 and kw["clip"] == "per-variable"
    ViterbiNet(L, recipe="authors", validation=0.2, patience=4).fit(
        y, s, seed=0, epochs=2, verbose=False)
    args, kw = seen[-1]
    assert kw["patience"] == 4 and args[3][1].shape[1] == 200


def test_recipe_table_and_resolution():
    assert set(RECIPES) == {"rxsim", "authors"}
    a = RECIPES["authors"]
    assert (a["learning_rate"], a["batch_size"], a["epochs"], a["clipnorm"],
            a["clip"], a["weight_decay"], a["validation"], a["patience"]) \
        == (0.01, 27, 100, 1.0, "per-variable", 1e-4, 0.0, None)
    r = ViterbiNet(L).training_settings
    assert (r["epochs"], r["patience"], r["validation"], r["batch_size"]) \
        == (1000, 50, 0.1, 0)
    o = recipe_options("rxsim", {"validation": 0.0})
    assert o["patience"] is None


# --------------------------------------------------------------------------
# Save / load and the registry
# --------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs", [
    (ViterbiNet, {}),
    (ViterbiNet, {"recipe": "authors", "decision": "fixed-lag",
                  "epochs": 3}),
    (LearnedFactorGraph, {"recipe": "authors", "batch_size": 0,
                          "weight_decay": 2e-4, "epochs": 3}),
    (ViterbiNet, {"recipe": "rxsim", "validation": 0.0, "epochs": 3,
                  "clip": "per-variable"}),
])
def test_options_round_trip_save_load(cls, kwargs, small_pilots, tmp_path):
    y, s = small_pilots
    det = cls(L, hard_out=True, **kwargs)
    det.fit(y, s, seed=1, epochs=min(3, det.training_settings["epochs"]),
            verbose=False)
    det.save(tmp_path / "net")
    back = LearnedDetector.load(tmp_path / "net")
    assert type(back) is cls
    assert back._config() == det._config()
    assert back.recipe == det.recipe
    assert back.training_settings == det.training_settings
    if cls is ViterbiNet:
        assert back.decision == det.decision
    np.testing.assert_array_equal(back(y, 0.1).numpy(), det(y, 0.1).numpy())


def test_registry_options():
    assert check_detector_options(
        "viterbinet", {"recipe": "authors", "decision": "fixed-lag",
                       "train_seed": 3}) == []
    assert check_detector_options("bcjrnet", {"recipe": "authors"}) == []
    assert check_detector_options("viterbi", {"decision": "fixed-lag"}) == []
    det = build_detector("viterbinet", TAPS, None,
                         {"recipe": "authors", "decision": "fixed-lag",
                          "epochs": 7, "train_seed": 3})
    assert (det.recipe, det.decision, det.training_settings["epochs"]) == \
        ("authors", "fixed-lag", 7)
    assert build_detector("viterbi", TAPS, None,
                          {"decision": "fixed-lag"}).decision == "fixed-lag"
    assert build_detector("bcjrnet", TAPS, None, {}).recipe == "rxsim"

    t = training_options({"recipe": "authors"})
    assert (t["train_frame_length"], t["train_symbols"],
            t["pilots_across_snr"], t["train_seed"], t["train_per"]) == \
        (5000, 5000, "reuse", 0, "point")
    t = training_options({"recipe": "authors", "train_frame_length": 500,
                          "pilots_across_snr": "fresh", "train_seed": 4})
    assert (t["train_frame_length"], t["pilots_across_snr"],
            t["train_seed"]) == (500, "fresh", 4)
    t = training_options({})
    assert (t["train_frame_length"], t["pilots_across_snr"],
            t["train_seed"]) == (500, "fresh", 0)
    assert training_options({"train_seed": 2})["train_seed"] == 2
    # every learned detector takes train_seed
    assert check_detector_options("sbrnn", {"train_seed": 1}) == []


@pytest.mark.parametrize("name, options, match", [
    ("viterbinet", {"recipe": "author"}, "recipe must be one of"),
    ("viterbinet", {"decision": "fixed"}, "decision must be one of"),
    ("bcjrnet", {"decision": "fixed-lag"}, "unknown option 'decision'"),
    ("viterbinet", {"recipe": "authors", "patience": 5},
     "patience.*needs validation"),
    ("viterbinet", {"train_seed": -1}, "train_seed must be an integer >= 0"),
    ("viterbinet", {"train_seed": 1.5}, "train_seed must be of type int"),
    ("bcjrnet", {"clip": "norm"}, "clip must be one of"),
    ("sbrnn", {"pilots_across_snr": "reuse", "train_per": "channel"},
     "needs train_per"),
    ("viterbinet", {"pilots_across_snr": "always"},
     "pilots_across_snr must be one of"),
])
def test_registry_rejects_bad_values(name, options, match):
    problems = check_detector_options(name, options)
    assert len(problems) == 1 and re.search(match, problems[0]), problems


@pytest.mark.parametrize("kwargs, match", [
    ({"recipe": "pytorch"}, "`recipe` must be one of"),
    ({"clip": "norm"}, "`clip` must be one of"),
    ({"weight_decay": -1e-4}, "`weight_decay`"),
    ({"validation": 1.5}, "`validation`"),
    ({"validation": (1, 2)}, "`validation`"),
    ({"batch_size": -1}, "`batch_size`"),
    ({"epochs": 0}, "`epochs`"),
    ({"recipe": "authors", "patience": 10}, "`patience`.*validation=0.1"),
    ({"validation": 0.0, "min_delta": 0.1}, "`min_delta`"),
    ({"recipe": "authors", "validation": 0.1}, "needs an early-stopping"),
    ({"decision": "fixed"}, "`decision` must be one of"),
])
def test_constructor_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViterbiNet(L, **kwargs)


def test_fit_validation_without_patience_is_an_error(small_pilots):
    y, s = small_pilots
    with pytest.raises(ValueError, match="pass patience=N"):
        ViterbiNet(L, recipe="authors").fit(y, s, validation=0.1,
                                            verbose=False)


def test_decision_only_for_viterbi_detectors():
    with pytest.raises(ValueError, match="Viterbi"):
        LearnedFactorGraph(L, decision="fixed-lag")
    with pytest.raises(ValueError, match="Viterbi"):
        BCJRDetector(TAPS, decision="fixed-lag")
    assert ViterbiNet(L).decision == "traceback"
    assert LearnedFactorGraph(L).decision == "posterior"


def test_train_many_needs_one_recipe():
    with pytest.raises(ValueError, match="one recipe.*batch_size"):
        many_models.train_many([ViterbiNet(L), ViterbiNet(L, batch_size=27)],
                               [np.zeros(200)] * 2, [np.zeros(200, int)] * 2)


# --------------------------------------------------------------------------
# Fixed-lag decisions
# --------------------------------------------------------------------------
def numpy_fixed_lag(metrics, M, L, initial_state="known"):
    """The authors' decoder (v_fViterbi.m), over M**L tuples: the cost of
    tuple ``c = (x[k-L+1], ..., x[k])`` (oldest digit most significant, as
    rxsim numbers them) at step k is its metric plus the best cost of its
    predecessors ``(d, x[k-L+1], ..., x[k-1])``; after step k the best
    tuple's oldest symbol is ``x[k-L+1]``; at the end the best tuple's
    newer symbols are the last L-1. ``metrics`` [T, M**L] (log domain)."""
    T, C = metrics.shape
    assert C == M ** L
    top = M ** (L - 1)
    cost = np.where(np.arange(C) // M == 0, 0.0, -np.inf) \
        if initial_state == "known" else np.zeros(C)
    cost = cost + metrics[0]
    out = np.full(T, -1)
    for k in range(T):
        if k > 0:
            prev = cost
            cost = np.array([max(prev[d * top + c // M] for d in range(M))
                             for c in range(C)]) + metrics[k]
        best = int(np.argmax(cost))
        if k - L + 1 >= 0:
            out[k - L + 1] = best // top
    for i in range(1, L):
        if T - L + i >= 0:
            out[T - L + i] = (best // M ** (L - 1 - i)) % M
    return out


def gaussian_tuple_metrics(y, taps, no, points):
    """``log p(y[k] | c)`` (up to a constant) for every channel state
    ``c = sum_j x[k-j] M**j``."""
    M, Lh = len(points), len(taps)
    C = M ** Lh
    mu = np.array([sum(taps[j] * points[(c // M ** j) % M]
                       for j in range(Lh)) for c in range(C)])
    return -(y[:, None] - mu[None, :]) ** 2 / (2 * no)


def test_fixed_lag_equals_numpy_rule_on_random_metrics():
    rng = np.random.default_rng(5)
    for M, memory, T in ((2, 2, 12), (2, 3, 12), (2, 4, 12), (4, 2, 12),
                         (3, 3, 12), (2, 4, 2)):
        S = M ** (memory - 1)
        m = rng.normal(size=(3, T, S, M)) * 2.0
        got = np.argmax(fixed_lag(m).numpy(), -1)
        for b in range(3):
            want = numpy_fixed_lag(m[b].reshape(T, S * M), M, memory)
            np.testing.assert_array_equal(got[b], want)


def test_viterbi_fixed_lag_equals_numpy_rule_on_a_block():
    """End to end: the detector's fixed-lag decisions (hard and soft
    argmax) on a noisy block equal the numpy port on metrics computed in
    numpy from the taps."""
    no = 10 ** (-3.0 / 10)
    y, s = pilot_data(TAPS, snr_db=3.0, num_symbols=200, frame_length=200,
                      seed=11)
    det = ViterbiDetector(TAPS, hard_out=True, decision="fixed-lag",
                          precision="double")
    got = det(y, no).numpy()[0]
    want = numpy_fixed_lag(gaussian_tuple_metrics(
        y[0].astype(np.float64), TAPS, no, BPSK), 2, L)
    np.testing.assert_array_equal(got, want)
    soft = ViterbiDetector(TAPS, decision="fixed-lag", precision="double")
    lp = soft(y, no).numpy()
    np.testing.assert_array_equal(np.argmax(lp, -1)[0], want)
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-9)
    # and it is a different rule from the traceback here
    tb = ViterbiDetector(TAPS, hard_out=True)(y, no).numpy()[0]
    assert np.any(tb != want)
    # no traceback memory: chunking does not change it
    chunked = ViterbiDetector(TAPS, hard_out=True, decision="fixed-lag",
                              chunk_size=50, precision="double")
    np.testing.assert_array_equal(chunked(y, no).numpy()[0], want)


def test_fixed_lag_equals_traceback_without_noise_and_at_high_snr():
    y, s = pilot_data(TAPS, no=0.0, num_symbols=2000, frame_length=500,
                      seed=4)
    for decision in ("traceback", "fixed-lag"):
        det = ViterbiDetector(TAPS, hard_out=True, decision=decision)
        np.testing.assert_array_equal(det(y, 1e-3).numpy(), s)
    y, s = pilot_data(TAPS, snr_db=16.0, num_symbols=20_000,
                      frame_length=1000, seed=5)
    no = 10 ** -1.6
    fl = ViterbiDetector(TAPS, hard_out=True, decision="fixed-lag")(y, no)
    tb = ViterbiDetector(TAPS, hard_out=True)(y, no)
    np.testing.assert_array_equal(fl.numpy(), tb.numpy())


def test_viterbinet_fixed_lag_at_high_snr(small_pilots):
    """A trained ViterbiNet: fixed-lag and traceback agree at high SNR;
    the soft output's argmax is the fixed-lag decision."""
    y, s = pilot_data(TAPS, snr_db=14.0, num_symbols=2000, frame_length=2000,
                      seed=6)
    tb = ViterbiNet(L, hard_out=True)
    tb.fit(y, s, seed=0, verbose=False)
    fl = ViterbiNet(L, hard_out=True, decision="fixed-lag")
    soft = ViterbiNet(L, decision="fixed-lag")
    for d in (fl, soft):
        for a, b in zip(d._variables(), tb._variables()):
            a.assign(b)
        d._trained = True
    yt, st = pilot_data(TAPS, snr_db=14.0, num_symbols=20_000,
                        frame_length=1000, seed=7)
    no = 10 ** -1.4
    hard = fl(yt, no).numpy()
    np.testing.assert_array_equal(hard, tb(yt, no).numpy())
    np.testing.assert_array_equal(np.argmax(soft(yt, no).numpy(), -1), hard)
    assert np.mean(hard != st) < 1e-3


def test_fixed_lag_no_better_than_traceback_at_low_snr():
    """On the same frames at 2 dB, the ML sequence makes at most as many
    errors as the fixed-lag rule, up to noise: the paired per-frame
    difference (fixed-lag minus traceback) has a mean above minus 4
    standard errors. (It is in fact clearly positive: the rule decides
    with a lag of L-1 symbols only.)"""
    snr = 2.0
    no = 10 ** (-snr / 10)
    y, s = pilot_data(TAPS, snr_db=snr, num_symbols=200_000,
                      frame_length=500, seed=8)
    fl = ViterbiDetector(TAPS, hard_out=True, decision="fixed-lag")(y, no)
    tb = ViterbiDetector(TAPS, hard_out=True)(y, no)
    d = (np.sum(fl.numpy() != s, 1) - np.sum(tb.numpy() != s, 1)).astype(
        float)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert d.mean() > -4 * se, (d.mean(), se)
    assert d.mean() > 0
