"""Class-translation augmentation of MIMO pilots
(:mod:`detectors.mimo.augment`): the copies' labels and values against
the definition, its checks, and DeepSIC / the DNN training on it
(options, checkpoints, config key). The SER it buys is checked in
``tests/test_deepsic.py::test_deepsic_near_ml`` (slow)."""

import numpy as np
import pytest
import tensorflow as tf

from channels.mimo import MIMOChannel
from detectors.learned import TrainedWeights
from detectors.mimo import DeepSIC, MIMODNN
from detectors.mimo.augment import (check_augment, class_centres,
                                    translate_classes)

H = np.array([[1.0, 0.5, 0.2], [0.3, 1.0, 0.4], [0.1, 0.6, 1.0],
              [0.2, 0.1, 0.7]])                        # N = 4, K = 3


def _pilots(num, seed, noise=0.1, M=2):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, M, size=(num, H.shape[1]))
    pam = 1.0 - 2.0 * s / (M - 1)                      # index 0 is +1
    return pam @ H.T + noise * rng.standard_normal((num, H.shape[0])), s


def _code(s, M=2):
    return (s * M ** np.arange(s.shape[1])).sum(axis=1)


def test_noiseless_copies_are_the_class_points():
    """Without noise every class's centre is its point H x, so every
    copy must be exactly the point of its label: a copy put at one class
    and labelled with another fails."""
    y, s = _pilots(400, 0, noise=0.0)
    ya, sa = translate_classes(y, s, 2, 7, seed=1)
    assert ya.shape == (8 * 400, 4) and sa.shape == (8 * 400, 3)
    np.testing.assert_allclose(ya, (1.0 - 2.0 * sa) @ H.T, atol=1e-12)


def test_copies_keep_the_noise_and_go_to_other_classes():
    y, s = _pilots(500, 1)
    centres = class_centres(y, s, 2)
    ya, sa = translate_classes(y, s, 2, 3, seed=2)
    np.testing.assert_array_equal(ya[:500], y)          # the pilots first
    np.testing.assert_array_equal(sa[:500], s)
    copies_y = ya[500:].reshape(500, 3, 4)
    copies_c = _code(sa[500:]).reshape(500, 3)
    rest = y - centres[_code(s)]
    np.testing.assert_allclose(
        copies_y - centres[copies_c], np.broadcast_to(
            rest[:, None], copies_y.shape), atol=1e-12)
    own = _code(s)[:, None]
    assert (copies_c != own).all()                      # never its own
    assert all(len(set(row)) == 3 for row in copies_c)  # distinct
    # drawn uniformly over the 7 other classes: each offset about 3/7
    off = (copies_c - own) % 8
    counts = np.bincount(off.ravel(), minlength=8)[1:]
    assert counts.sum() == 1500 and counts.min() > 150  # mean 214, sd 14


def test_all_classes_once_and_centres_given():
    y, s = _pilots(300, 3)
    ya, sa = translate_classes(y, s, 2, 7, seed=0)
    per_pilot = np.sort(np.concatenate(
        [_code(s)[:, None], _code(sa[300:]).reshape(300, 7)], axis=1), 1)
    np.testing.assert_array_equal(per_pilot, np.tile(np.arange(8),
                                                     (300, 1)))
    # held-out pilots translated with other pilots' centres
    yv, sv = _pilots(100, 4)
    centres = class_centres(y, s, 2)
    xv, lv = translate_classes(yv, sv, 2, 2, seed=0, centres=centres)
    np.testing.assert_allclose(
        xv[100:].reshape(100, 2, 4) - centres[_code(lv[100:]).reshape(
            100, 2)], np.broadcast_to((yv - centres[_code(sv)])[:, None],
                                      (100, 2, 4)), atol=1e-12)


def test_pam4_digits():
    y, s = _pilots(2000, 5, noise=0.0, M=4)             # 64 classes
    ya, sa = translate_classes(y, s, 4, 5, seed=0)
    assert sa.min() == 0 and sa.max() == 3
    np.testing.assert_allclose(ya, (1.0 - 2.0 * sa / 3) @ H.T, atol=1e-12)


def test_rare_classes_take_no_part_and_bad_values_raise():
    """A class seen fewer than 10 times gets no copies and gives none;
    the others are translated among themselves."""
    y, s = _pilots(600, 6)
    keep = ~((_code(s) == 5) & (np.arange(600) % 10 > 0))   # class 5 rare
    y, s = y[keep], s[keep]
    n5 = int((_code(s) == 5).sum())
    assert 0 < n5 < 10
    centres = class_centres(y, s, 2)
    assert np.isnan(centres[5]).all() and not np.isnan(np.delete(
        centres, 5, 0)).any()
    ya, sa = translate_classes(y, s, 2, 7, seed=0)     # at most Q - 1 = 6
    n = len(s)
    assert len(sa) == n + 6 * (n - n5)
    assert (_code(sa[n:]) != 5).all()
    np.testing.assert_array_equal(ya[:n], y)
    with pytest.raises(ValueError, match="at least two joint symbol"):
        translate_classes(y[:15], s[:15], 2, 1, seed=0)
    for bad in (-1, 8, 1.5, True, "all"):
        with pytest.raises(ValueError, match="`augment`"):
            check_augment(bad, 3, 2)
    assert check_augment(7, 3, 2) == 7
    with pytest.raises(ValueError, match=r"in \[0, 15\]"):
        DeepSIC(4, 4, augment=16)
    with pytest.raises(ValueError, match="`augment`"):
        MIMODNN(2, 2, augment=-1)


def _sed_pilots(num, seed):
    ch = MIMOChannel(2, 2, profile="sed")
    s, y = ch.pilot_frames(ch.channel_matrices(1), 0.1, num,
                           seed=tf.constant([seed, 3]))
    return y.numpy()[0], s.numpy()[0]


@pytest.mark.parametrize("cls, kw", [
    (DeepSIC, {"iterations": 2, "hidden": 8, "epochs": 5}),
    (MIMODNN, {"hidden": 8, "epochs": 5})])
def test_detectors_train_on_copies_and_keep_the_option(cls, kw, tmp_path):
    """``augment`` multiplies what trains (the history's loss is over the
    copies: its first epoch differs from the unaugmented fit's), and the
    checkpoint keeps it, while an unaugmented checkpoint has no key."""
    y, s = _sed_pilots(400, 0)
    plain, aug = cls(2, 2, **kw), cls(2, 2, augment=3, **kw)
    h0, h1 = plain.fit(y, s, seed=0), aug.fit(y, s, seed=0)
    assert aug.augment == 3 and plain.augment == 0
    assert h0["loss"][0] != h1["loss"][0]
    aug.save(tmp_path / "a")
    back = TrainedWeights.load(tmp_path / "a")
    assert back.augment == 3
    np.testing.assert_array_equal(back(y, 0.1).numpy(), aug(y, 0.1).numpy())
    assert "augment" not in plain._config()


def test_adapt_translates_its_block():
    """DeepSIC.adapt on a block of 60 samples (one class rare) with
    augment: trains on the copies (a different loss from the same
    detector adapting without), and does not fail on the rare class."""
    y, s = _sed_pilots(400, 1)
    kw = {"iterations": 2, "hidden": 8, "epochs": 5}
    base = DeepSIC(2, 2, augment=3, **kw)
    base.fit(y, s, seed=0)
    plain = base.copy()
    plain._augment = 0                   # the same weights, not translating
    yb, sb = _sed_pilots(60, 2)
    h1 = base.copy().adapt(yb, sb, epochs=3)
    h0 = plain.adapt(yb, sb, epochs=3)
    assert h0["loss"][0] != h1["loss"][0]
