"""Tabulated classifier metrics of the learned trellis detectors
(issue 14, "the trellis nets too"): ``metric_table=G`` reads ``log p(c|y)``
from the classifier evaluated on G grid points, linearly interpolated.

Checked against the classifier on every sample: the error falls as h^2
(linear interpolation), decisions and SER do not move (paired, on the
same frames), checkpoints and configs carry the option.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from channels import exponential_taps
from detectors import LearnedFactorGraph, ViterbiNet
from detectors.metrics.classifier import (state_log_likelihoods,
                                          tabulated_state_log_likelihoods)
from rxsim.paired import paired_comparison
from rxsim.pilots import pilot_data

TAPS = exponential_taps(4, 0.2)
NO = 10 ** -0.8


@pytest.fixture(scope="module")
def trained():
    y, s = pilot_data(TAPS, 8.0, 5000, seed=1)
    out = {}
    for G in (None, 4096):
        det = LearnedFactorGraph(4, metric_table=G)
        det.fit(y, s, seed=0, verbose=False)
        out[G] = det
    return out


@pytest.fixture(scope="module")
def block():
    return pilot_data(TAPS, 8.0, 100 * 1000, frame_length=1000, seed=2)


def test_interpolation_error_falls_as_h_squared(trained, block):
    """Linear interpolation of a smooth function errs by O(h^2), and by
    O(h) next to a kink (the ReLU layer's): doubling the grid divides the
    mean error by about 4 (measured 4.1, 3.7) and the worst by about 2
    (1.9, 2.1); at 4096 points the worst is below 0.01 nats (0.0013)."""
    det = trained[None]
    y = tf.constant(block[0][:20])
    params, shift, scale, gmm = det._weights()
    exact = state_log_likelihoods(y, params, shift, scale, gmm,
                                  det._activations).numpy()
    mean, worst = {}, {}
    for G in (256, 512, 1024, 4096):
        tab = tabulated_state_log_likelihoods(
            y, params, shift, scale, gmm, det._activations, G).numpy()
        mean[G] = np.abs(tab - exact).mean()
        worst[G] = np.abs(tab - exact).max()
    assert worst[4096] < 0.01
    for G in (256, 512):
        assert 3 < mean[G] / mean[2 * G] < 5
        assert 1.5 < worst[G] / worst[2 * G] < 3


def test_decisions_and_ser_do_not_move(trained, block):
    """The same weights (same seed), exact and tabulated, on the same 100
    frames: the per-frame error counts' paired interval includes 0 and
    almost every decision is identical (all of them in the run that set
    this bound)."""
    y, s = block
    exact, tab = trained[None], trained[4096]
    for a, b in zip(exact._variables(), tab._variables()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    ha = exact(y, NO).numpy().argmax(-1)
    hb = tab(y, NO).numpy().argmax(-1)
    assert (ha != hb).mean() <= 1e-4
    c = paired_comparison((hb != s).sum(1), (ha != s).sum(1),
                          symbols_per_frame=s.shape[1])
    assert c.verdict == "not resolved"
    lo, hi = c.difference_ci
    assert lo <= 0 <= hi


def test_viterbinet_table_gives_the_same_sequence(block):
    y, s = pilot_data(TAPS, 8.0, 5000, seed=1)
    a = ViterbiNet(4, hard_out=True)
    b = ViterbiNet(4, hard_out=True, metric_table=4096)
    for d in (a, b):
        d.fit(y, s, seed=3, verbose=False)
    yt = block[0][:30]
    assert (a(yt, NO).numpy() != b(yt, NO).numpy()).mean() <= 1e-4


def test_checkpoints_and_configs_carry_the_option(trained, tmp_path):
    trained[4096].save(tmp_path / "t")
    assert json.loads((tmp_path / "t.json").read_text())["config"][
        "metric_table"] == 4096
    assert LearnedFactorGraph.load(tmp_path / "t")._metric_table == 4096
    trained[None].save(tmp_path / "e")
    assert "metric_table" not in json.loads(
        (tmp_path / "e.json").read_text())["config"]   # older ones load
    from rxsim.registry import build_detector
    det = build_detector("viterbinet", TAPS, "bpsk", {"metric_table": 512})
    assert det._metric_table == 512


@pytest.mark.parametrize("kwargs, needle", [
    (dict(constellation="qpsk", metric_table=4096), "scalar input"),
    (dict(metric_table=1), "`metric_table`")])
def test_bad_tables_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        LearnedFactorGraph(3, **kwargs)
