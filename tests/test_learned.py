"""Learned trellis detectors (ViterbiNet, LearnedFactorGraph), their training
machinery, checkpoints, and the pilot generator of ``rxsim.pilots``.

Reference setting of the papers: BPSK, L = 4 taps ``exp(-0.2 l)``, 8 dB,
5000 pilot symbols. Statistical comparisons count errors of two detectors
on the *same* test symbols; bounds are placed many standard deviations away
from the expected ratio (see each test), so a correct implementation passes
for every seed while a broken one (wrong labels, wrong prior, untrained
net) fails.
"""

import gc
import itertools
import json
import os
import weakref

import numpy as np
import pytest
from scipy import stats

from channels import exponential_taps
from detectors import checkpoint
from detectors.factor_graph import (LearnedFactorGraph, ViterbiNet,
                                    train_many)
from detectors.checkpoint import FORMAT_VERSION
from detectors.learned import LearnedDetector
from detectors.model_based import BCJRDetector, ViterbiDetector
from detectors.pilots import split_validation
from detectors.sbrnn import SBRNN
from detectors.symbolwise import SymbolwiseDetector
from detectors.trellis import tuple_labels
from rxsim.pilots import pilot_data
from signals.seeds import hash_seed

L = 4
TAPS = exponential_taps(L, 0.2)
SNR_DB = 8.0
NO = 10 ** (-SNR_DB / 10)
BPSK = np.array([1.0, -1.0])


@pytest.fixture(scope="module")
def pilots():
    return pilot_data(TAPS, SNR_DB, 5000, seed=1)


@pytest.fixture(scope="module")
def test_block():
    return pilot_data(TAPS, SNR_DB, 50_000, frame_length=1000, seed=2)


@pytest.fixture(scope="module")
def y_small(test_block):
    """The received block of the non-statistical tests: the same shape
    everywhere, so that each kind of detector is XLA-compiled only once
    (compiling costs seconds, running this block milliseconds)."""
    return test_block[0]


@pytest.fixture(scope="module")
def trained(pilots):
    y, s = pilots
    vnet = ViterbiNet(L, hard_out=True)
    vnet.fit(y, s, seed=0, verbose=False)
    bnet = LearnedFactorGraph(L)
    bnet.fit(y, s, seed=0, verbose=False)
    return vnet, bnet


def _errors(det, y, s):
    out = det(y, NO).numpy()
    if out.ndim == 3:
        out = out.argmax(-1)
    return int(np.sum(out != s))


# -- statistical performance -------------------------------------------------

def test_learned_trellis_close_to_bcjr(trained, test_block):
    """5000 pilots suffice to get near BCJR with perfect CSI.

    BCJR makes about 2.3e-3 * 5e4 = 115 errors here. If a learned detector
    were exactly as good, the log of the ratio of the two counts has a
    standard deviation of about sqrt(2 / 115) = 0.13 (less, as the counts
    are positively correlated), so the bound of 3x (log 3 = 1.1) is more
    than 8 standard deviations away; a detector with wrong branch metrics
    is tens of times worse. The symbol-wise baseline makes ~0.21 * 5e4
    errors.
    """
    y, s = test_block
    k_bcjr = _errors(BCJRDetector(TAPS, hard_out=True), y, s)
    k_sw = _errors(SymbolwiseDetector(TAPS, hard_out=True), y, s)
    assert 50 <= k_bcjr <= 250            # the setting is the intended one
    for det in trained:
        k = _errors(det, y, s)
        assert k <= 3 * k_bcjr, (type(det).__name__, k, k_bcjr)
        assert k <= k_sw / 10, (type(det).__name__, k, k_sw)


@pytest.mark.slow
def test_learned_trellis_within_1p5x_of_bcjr_slow(trained):
    """The paper's claim at 2e5 symbols: within 1.5x of BCJR.

    ~460 BCJR errors: the log-ratio's standard deviation is below
    sqrt(2 / 460) = 0.066, and log 1.5 = 0.41 is 6 of them away from an
    equal-performance detector.
    """
    y, s = pilot_data(TAPS, SNR_DB, 200_000, frame_length=1000, seed=12)
    k_bcjr = _errors(BCJRDetector(TAPS, hard_out=True), y, s)
    assert k_bcjr >= 300
    for det in trained:
        assert _errors(det, y, s) <= 1.5 * k_bcjr


def _oracle(det, taps, no):
    """Set a linear net (hidden=()) to the exact Gaussian posterior.

    ``log p(c | y) = y mu_c / no - mu_c**2 / (2 no) + const(y)``: one
    linear layer computes it. ``mu_c`` comes from direct convolution of
    the symbols of each tuple, labelled by the trellis core's
    ``tuple_labels`` (so the test relies on no numbering formula).
    """
    mu = np.zeros(2 ** L)
    for tup in itertools.product(range(2), repeat=L):    # oldest first
        c = int(tuple_labels(np.array([tup]), 2, L)[0, -1])
        mu[c] = sum(taps[j] * BPSK[tup[L - 1 - j]] for j in range(L))
    net = det.network
    net.kernels[0].assign((mu / no)[None, None, :].astype(np.float32))
    net.biases[0].assign((-mu ** 2 / (2 * no))[None].astype(np.float32))
    det._trained = True        # weights set by hand instead of fit
    return det


def test_oracle_classifier_reproduces_model_based(y_small):
    """With the exact posterior as classifier, ViterbiNet is the Viterbi
    algorithm and the learned factor graph is BCJR: checks labels, prior
    correction and metric layout against the model-based detectors."""
    y = y_small
    hard = _oracle(ViterbiNet(L, hidden=(), activations=(), hard_out=True),
                   TAPS, NO)
    bnet = _oracle(LearnedFactorGraph(L, hidden=(), activations=()), TAPS,
                   NO)
    np.testing.assert_array_equal(
        hard(y, NO).numpy(), ViterbiDetector(TAPS, hard_out=True)(y, NO))
    np.testing.assert_allclose(bnet(y, NO).numpy(),
                               BCJRDetector(TAPS)(y, NO).numpy(), atol=2e-3)


def test_complex_constellation_and_bit_llrs(trained, y_small):
    """QPSK through a complex 2-tap channel: (Re, Im) features, 16
    channel states. ~640 BCJR errors on 2e4 symbols; the log-ratio of two
    such counts has a standard deviation below 0.06, so 1.3x (log 1.3 =
    0.26) is more than 4 of them away from equal performance (measured:
    1.02x). Also: bit LLRs are log-probability differences (BPSK index 1
    is bit 1)."""
    taps = np.array([1.0, 0.5 + 0.3j])
    snr, no = 6.0, 10 ** (-6.0 / 10)
    y, s = pilot_data(taps, snr, 5000, constellation="qpsk", seed=1)
    assert np.iscomplexobj(y)
    det = LearnedFactorGraph(2, constellation="qpsk", hard_out=True)
    det.fit(y, s, seed=0, verbose=False)
    yt, st = pilot_data(taps, snr, 20_000, constellation="qpsk",
                        frame_length=1000, seed=2)
    k_bcjr = int(np.sum(BCJRDetector(taps, constellation="qpsk",
                                     hard_out=True)(yt, no).numpy() != st))
    k = int(np.sum(det(yt, no).numpy() != st))
    assert 400 < k_bcjr < 900
    assert k <= 1.3 * k_bcjr, (k, k_bcjr)
    bnet = trained[1]
    lp = bnet.log_probs(y_small, NO).numpy()
    np.testing.assert_allclose(bnet.bit_llrs(y_small, NO).numpy(),
                               lp[..., 1] - lp[..., 0], atol=1e-4)


# -- training machinery ------------------------------------------------------

def test_fit_history_and_reproducibility(pilots, weights_of):
    y, s = pilots
    a, b, c = (ViterbiNet(L) for _ in range(3))
    ha = a.fit(y, s, seed=3, epochs=30, verbose=False)
    b.fit(y, s, seed=3, epochs=30, verbose=False)
    c.fit(y, s, seed=4, epochs=30, verbose=False)
    for wa, wb in zip(weights_of(a), weights_of(b)):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(weights_of(a)[0], weights_of(c)[0])
    assert len(ha["loss"]) == len(ha["val_loss"]) == ha["epochs"] <= 30
    # Cross-entropy over 16 classes starts near log 16 and must drop.
    assert ha["loss"][0] > 2.0 and min(ha["val_loss"]) < ha["loss"][0] - 0.5
    assert 1 <= ha["best_epoch"] <= ha["epochs"]
    assert ha["val_loss"][ha["best_epoch"] - 1] == min(ha["val_loss"])


@pytest.mark.parametrize("cls, kw", [(ViterbiNet, dict(hard_out=True)),
                                     (LearnedFactorGraph, {})])
def test_outputs_follow_a_refit(pilots, y_small, cls, kw):
    # The compiled recursion reads the weight variables when it runs (no
    # copy taken at the first call): after a second fit from another seed
    # the same detector answers as a fresh one with that fit does.
    y, s = pilots
    a, b = cls(L, **kw), cls(L, **kw)
    a.fit(y, s, seed=3, epochs=20, verbose=False)
    first = a(y_small, NO).numpy()
    a.fit(y, s, seed=4, epochs=20, verbose=False)
    b.fit(y, s, seed=4, epochs=20, verbose=False)
    again, fresh = a(y_small, NO).numpy(), b(y_small, NO).numpy()
    np.testing.assert_array_equal(again, fresh)
    assert not np.array_equal(again, first)


def test_early_stopping_and_callbacks(pilots):
    y, s = pilots
    seen = []

    def stop_at_7(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch >= 7

    # A callback's stop request takes effect at the end of the compiled
    # chunk of epochs it was made in (25 epochs per call).
    h = ViterbiNet(L).fit(y, s, seed=0, epochs=300, patience=300,
                          callbacks=[stop_at_7], verbose=False)
    assert seen[:2] == [(1, ["loss", "val_loss"]), (2, ["loss", "val_loss"])]
    assert h["epochs"] == len(seen) == 25
    # Early stopping: the run ends `patience` epochs after the best one.
    h = ViterbiNet(L).fit(y, s, seed=0, epochs=300, patience=2,
                          learning_rate=0.1, verbose=False)
    vl = h["val_loss"]
    assert h["epochs"] < 300
    assert len(vl) - h["best_epoch"] == 2
    assert min(vl[h["best_epoch"]:]) >= vl[h["best_epoch"] - 1]


def test_training_inside_a_callback_leaves_the_outer_run_alone(
        pilots, weights_of):
    """The compiled loop of an architecture is shared and holds the weights
    being trained: a callback that trains another model of the same
    architecture mid-run must not disturb the run it was called from
    (the outer model ends with the weights of an undisturbed fit)."""
    y, s = pilots
    plain = ViterbiNet(L)
    plain.fit(y, s, seed=3, epochs=30, verbose=False)
    inner = []

    def train_another(epoch, logs):
        if epoch == 1:
            inner.append(ViterbiNet(L).fit(y, s, seed=9, epochs=5,
                                           verbose=False))

    outer = ViterbiNet(L)
    outer.fit(y, s, seed=3, epochs=30, callbacks=[train_another],
              verbose=False)
    assert len(inner) == 1 and inner[0]["epochs"] == 5
    for w1, w2 in zip(weights_of(outer), weights_of(plain)):
        np.testing.assert_array_equal(w1, w2)


def test_train_many_equals_individual_fits(weights_of):
    """K models trained as one stacked net get the weights each would get
    alone (same seeds, different data per model), up to summation order;
    trained one after the other they get exactly those weights."""
    data = [pilot_data(TAPS, snr, 5000, seed=20 + i)
            for i, snr in enumerate((6.0, 10.0))]
    ys, ss = [d[0] for d in data], [d[1] for d in data]
    stacked = [ViterbiNet(L), LearnedFactorGraph(L)]
    hist = train_many(stacked, ys, ss, seed=5, epochs=40, stack=True,
                      verbose=False)
    one_by_one = [LearnedFactorGraph(L), ViterbiNet(L)]
    train_many(one_by_one, ys, ss, seed=5, epochs=40, stack=False,
               verbose=False)
    for k, (y, s) in enumerate(data):
        alone = ViterbiNet(L)
        h = alone.fit(y, s, seed=5 + k, epochs=40, verbose=False)
        assert hist[k]["epochs"] == h["epochs"]
        for w1, w2, w3 in zip(weights_of(stacked[k]), weights_of(alone),
                              weights_of(one_by_one[k])):
            np.testing.assert_allclose(w1, w2, rtol=1e-3, atol=1e-4)
            np.testing.assert_array_equal(w3, w2)


@pytest.mark.parametrize("y, s, exc, match", [
    (np.zeros(5000), np.zeros(4999, int), ValueError, "shape"),
    (np.zeros((10, 500)), np.zeros((500, 10), int), ValueError, "shape"),
    (np.zeros(5000), np.full(5000, 2), ValueError, "indices"),
    (np.zeros(5000), np.full(5000, -1), ValueError, "indices"),
    (np.r_[np.nan, np.zeros(4999)], np.zeros(5000, int), ValueError, "NaN"),
    (np.zeros(159), np.zeros(159, int), ValueError, "too few"),
    (np.zeros(5000), np.zeros(5000), TypeError, "integer"),
    (np.zeros(5000, int), np.zeros(5000, int), TypeError, "float"),
    (np.zeros(5000, complex), np.zeros(5000, int), TypeError, "complex"),
    (np.zeros((2, 50, 50)), np.zeros((2, 50, 50), int), ValueError,
     "shape"),
])
def test_fit_rejects_bad_input(y, s, exc, match):
    with pytest.raises(exc, match=match):
        ViterbiNet(L).fit(y, s, verbose=False)


def test_bad_options_and_untrained_use(pilots):
    y, s = pilots
    with pytest.raises(ValueError, match="validation"):
        ViterbiNet(L).fit(y, s, validation=1.5, verbose=False)
    with pytest.raises(ValueError, match="epochs"):
        ViterbiNet(L).fit(y, s, epochs=0, verbose=False)
    with pytest.raises(ValueError, match="memory"):
        ViterbiNet(0)
    with pytest.raises(ValueError, match="activation"):
        ViterbiNet(L, activations=("sigmoid", "nope"))
    with pytest.raises(ValueError, match="marginal"):
        LearnedFactorGraph(L, marginal="kde")
    with pytest.raises(RuntimeError, match="not trained"):
        ViterbiNet(L)(y, NO)
    with pytest.raises(ValueError, match="architecture"):
        train_many([ViterbiNet(L), ViterbiNet(3)], [y, y], [s, s])


def test_gmm_marginal(pilots, trained, y_small, weights_of):
    """``marginal="gmm"`` adds ``log p(y[k])`` of a class-labelled Gaussian
    mixture to every branch: the metrics differ from those of the same
    classifier without it by exactly the mixture log-density (computed
    here with scipy from the class means and variances of the training
    pilots), and the normalised outputs do not change (a per-time
    constant)."""
    y, s = pilots
    det = LearnedFactorGraph(L, marginal="gmm")
    det.fit(y, s, seed=0, verbose=False)
    plain = trained[1]                 # same data, seed and options
    for w1, w2 in zip(weights_of(det), weights_of(plain)):
        np.testing.assert_array_equal(w1, w2)
    yt = y_small
    np.testing.assert_allclose(det(yt, NO).numpy(), plain(yt, NO).numpy(),
                               atol=1e-4)
    diff = (det.state_log_likelihoods(yt)
            - plain.state_log_likelihoods(yt)).numpy().reshape(-1, 2 ** L)
    # The mixture is fitted to the training part of fit's split.
    train_idx, _ = split_validation(y.size, 0.1, hash_seed(0))
    labels = tuple_labels(s, 2, L).numpy().ravel()[train_idx]
    yf = y.ravel().astype(np.float64)[train_idx]
    logpdf = np.full(yt.size, -np.inf)
    for c in range(2 ** L):
        yc = yf[labels == c]
        logpdf = np.logaddexp(logpdf, np.log(len(yc) / len(yf)) +
                              stats.norm.logpdf(yt.ravel(), yc.mean(),
                                                yc.std()))
    np.testing.assert_allclose(diff, logpdf[:, None] * np.ones((1, 2 ** L)),
                               atol=1e-3)


# -- checkpoints -------------------------------------------------------------

def test_save_load_bit_exact(trained, y_small, tmp_path):
    y = y_small
    for det in trained:
        path = tmp_path / type(det).__name__
        det.save(path)
        for loader in (type(det), LearnedDetector):
            back = loader.load(path)
            assert type(back) is type(det)
            assert back.hard_out == det.hard_out
            np.testing.assert_array_equal(back(y, NO).numpy(),
                                          det(y, NO).numpy())


def _edit_json(path, fn):
    _, json_file = checkpoint.paths(path)
    with open(json_file) as f:
        meta = json.load(f)
    fn(meta)
    with open(json_file, "w") as f:
        json.dump(meta, f)


def test_load_rejects_other_class_and_tampering(trained, tmp_path):
    vnet = trained[0]
    path = tmp_path / "vnet"
    weights, json_file = vnet.save(path)
    with pytest.raises(ValueError, match="holds a ViterbiNet, not a SBRNN"):
        SBRNN.load(path)
    with pytest.raises(ValueError, match="not a LearnedFactorGraph"):
        LearnedFactorGraph.load(path)

    def fresh():
        vnet.save(path)

    cases = [
        lambda m: m.update(version=FORMAT_VERSION + 1),
        lambda m: m.update({"class": "Pickle"}),
        lambda m: m["config"].update(memory=3),
        lambda m: m["config"].update(hidden=[100, 49]),
        lambda m: m["config"].update(evil="__import__('os')"),
        lambda m: m["config"].update(activations=["sigmoid", "eval"]),
        lambda m: m.update(weights_sha256="0" * 64),
        lambda m: m.pop("config"),
    ]
    for edit in cases:
        fresh()
        _edit_json(path, edit)
        with pytest.raises(ValueError, match="Cannot load checkpoint"):
            ViterbiNet.load(path)
    fresh()
    with open(json_file, "a") as f:
        f.write("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ViterbiNet.load(path)
    fresh()
    size = os.path.getsize(weights)
    with open(weights, "r+b") as f:           # truncated weights
        f.truncate(size // 2)
    with pytest.raises(ValueError, match="checksum"):
        ViterbiNet.load(path)
    fresh()
    with open(weights, "r+b") as f:           # one byte flipped
        f.seek(size - 100)
        byte = f.read(1)
        f.seek(size - 100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum"):
        ViterbiNet.load(path)
    fresh()
    os.remove(weights)
    with pytest.raises(ValueError, match="does not exist"):
        ViterbiNet.load(path)


def test_load_rejects_missing_json_and_unreadable_weights(trained,
                                                         tmp_path):
    """The other half of the pair missing, and a truncated weights file
    whose checksum was updated to match (so that h5py itself meets the
    damage): both are ValueErrors, never an OSError from h5py."""
    vnet = trained[0]
    path = tmp_path / "vnet"
    weights, json_file = vnet.save(path)
    os.remove(json_file)
    with pytest.raises(ValueError, match="JSON file does not exist"):
        ViterbiNet.load(path)
    vnet.save(path)
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    _edit_json(path, lambda m: m.update(
        weights_sha256=checkpoint.sha256(weights)))
    with pytest.raises(ValueError, match="unreadable"):
        ViterbiNet.load(path)


def _listing(directory):
    return sorted(os.listdir(directory))


def test_save_is_atomic(trained, y_small, tmp_path, monkeypatch):
    """A save that dies while writing (here: the JSON encoder raises after
    writing half an object) leaves the previous checkpoint under the real
    names, intact and loadable, and no temporary files; a crash between
    the two renames leaves new weights beside the old JSON, which the
    checksum rejects. Writing in place would leave a truncated JSON."""
    old = _oracle(ViterbiNet(L, hidden=(), activations=()), TAPS, NO)
    new = trained[1]
    path = tmp_path / "det"
    old.save(path)
    before = _listing(tmp_path)
    real_dump = json.dump

    def dies_halfway(obj, f, **kwargs):
        f.write('{"format": ')
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(json, "dump", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.setattr(json, "dump", real_dump)
    assert _listing(tmp_path) == before
    back = LearnedDetector.load(path)
    assert type(back) is ViterbiNet
    np.testing.assert_array_equal(back(y_small, NO).numpy(),
                                  old(y_small, NO).numpy())

    real_replace, calls = os.replace, []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between renames")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _listing(tmp_path) == before
    with pytest.raises(ValueError, match="checksum"):
        LearnedDetector.load(path)
    new.save(path)
    assert type(LearnedDetector.load(path)) is LearnedFactorGraph


def test_deleted_detector_is_garbage_collected(pilots, y_small):
    """No compile cache keeps a detector alive: compiled functions take the
    weights as inputs. The architecture (hidden=(7,)) is used by no other
    test, so this detector is the first of its kind and would be the one
    a cache captured."""
    y, s = pilots
    det = ViterbiNet(L, hidden=(7,), activations=("relu",))
    det.fit(y, s, seed=0, epochs=2, verbose=False)
    det(y_small, NO)
    ref = weakref.ref(det)
    del det
    gc.collect()
    assert ref() is None


# -- online adaptation -------------------------------------------------------

def test_adapt(pilots, y_small, weights_of):
    y, s = pilots
    det = ViterbiNet(L, hard_out=True)
    det.fit(y, s, seed=0, verbose=False)
    before = weights_of(det)
    got = {}

    def reject(yb, sb):
        got["s_hat"] = np.asarray(sb)
        return False

    assert det.adapt(y_small, check=reject) is None
    np.testing.assert_array_equal(got["s_hat"], det(y_small, NO).numpy())
    for w0, w1 in zip(before, weights_of(det)):
        np.testing.assert_array_equal(w0, w1)
    # The channel changes (taps reversed): the net trained on the old one
    # fails; retraining on one block of the new channel repairs it. On
    # 5e4 test symbols "before" makes thousands of errors and "after" (SER
    # ~3e-3) hundreds at most; the factor 5 is far outside the Poisson
    # noise of either count.
    new_taps = TAPS[::-1].copy()
    y_new, s_new = pilot_data(new_taps, SNR_DB, 5000, seed=31)
    y_test, s_test = pilot_data(new_taps, SNR_DB, 50_000, frame_length=1000,
                                seed=32)
    k_before = int(np.sum(det(y_test, NO).numpy() != s_test))
    h = det.adapt(y_new, s_new, epochs=100)
    k_after = int(np.sum(det(y_test, NO).numpy() != s_test))
    assert len(h["loss"]) == 100 and h["loss"][-1] < h["loss"][0]
    assert k_after * 5 < k_before, (k_before, k_after)


# -- pilot data --------------------------------------------------------------

def test_pilot_data_model_and_seeds():
    y, s = pilot_data(TAPS, SNR_DB, 3000, frame_length=500, seed=7)
    y2, s2 = pilot_data(TAPS, SNR_DB, 3000, frame_length=500, seed=7)
    y3, _ = pilot_data(TAPS, SNR_DB, 3000, frame_length=500, seed=8)
    assert y.shape == s.shape == (6, 500) and s.dtype == np.int32
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(s, s2)
    assert not np.array_equal(y, y3)
    # Residual after direct convolution with the preamble is the noise:
    # its sample variance over n = 3000 is within the 99.9% chi-square
    # interval of N(0, no).
    x = np.concatenate([np.ones((6, L - 1)), BPSK[s]], axis=1)
    clean = sum(TAPS[l] * x[:, L - 1 - l:L - 1 - l + 500] for l in range(L))
    w = (y - clean).ravel()
    n = w.size
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n) / n * NO
    assert lo < np.mean(w ** 2) < hi
    with pytest.raises(ValueError, match="multiple"):
        pilot_data(TAPS, SNR_DB, 1234, frame_length=500)
    with pytest.raises(ValueError, match="exactly one"):
        pilot_data(TAPS, SNR_DB, 1000, no=0.1)


def test_pilot_data_perturbed_csi_per_frame():
    """Noiseless frames identify their taps exactly (least squares): under
    ``perturbed:var=V`` each frame has its own taps ``h (1 + sqrt(V) n)``;
    the relative errors of 200 frames x 4 taps have sample variance inside
    the 99.9% chi-square interval of V."""
    var = 0.1
    y, s = pilot_data(TAPS, None, 200 * 50, frame_length=50, seed=9,
                      csi=f"perturbed:var={var}", no=0.0)
    x = np.concatenate([np.ones((200, L - 1)), BPSK[s]], axis=1)
    est = np.stack([np.linalg.lstsq(
        np.stack([x[f, L - 1 - l:L - 1 - l + 50] for l in range(L)], 1),
        y[f], rcond=None)[0] for f in range(200)])
    rel = (est / TAPS - 1.0).ravel()
    n = rel.size
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n) / n * var
    assert lo < np.mean(rel ** 2) < hi
    exact, _ = pilot_data(TAPS, None, 500, seed=9, no=0.0)
    assert np.all(np.abs(np.std(est, axis=0)) > 0)
    assert exact.shape == (1, 500)
