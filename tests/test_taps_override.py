"""The per-call taps override, ``det(y, no, taps=h2)``, of every detector
that believes taps: it must act exactly as a detector built with ``h2``.

The cases are collected, not listed: every non-learned entry of the config
registry (``rxsim.registry.DETECTORS``, each likelihood it offers) and
every ``TapsDetector`` subclass that ``detectors`` exports, so a new
detector is covered without touching this file.
"""

import inspect

import numpy as np
import pytest

import detectors
from detectors.poisson import LIKELIHOODS
from rxsim.registry import DETECTORS

H1 = np.array([1.0, 0.6, 0.3])
# Differs from H1 in h[0] and in the energy of the other taps, so that even
# the symbol-wise detectors (which use only those) see another channel.
H2 = np.array([0.5, -0.8, 0.4])
B, T, NO = 3, 8, 0.2


def _registry_cases():
    cases = []
    for name, entry in DETECTORS.items():
        if entry.learned:
            continue
        for likelihood in (LIKELIHOODS if "likelihood" in entry.options
                           else (None,)):
            options = {} if likelihood is None else \
                {"likelihood": likelihood}
            constellation = "ook" if likelihood == "poisson" else "bpsk"
            cases.append(pytest.param(
                # entry.build, not build_detector: hard_out is no config
                # option, but the built detector must honour it
                lambda taps, e=entry, c=constellation, o=options, **kw:
                e.build(taps, c, {**o, **kw}),
                id=f"registry:{name}:{likelihood or 'default'}"))
    return cases


def _exported_cases():
    classes = sorted({c for c in vars(detectors).values()
                      if inspect.isclass(c)
                      and issubclass(c, detectors.TapsDetector)
                      and not inspect.isabstract(c)
                      and c is not detectors.TapsDetector},
                     key=lambda c: c.__name__)
    return [pytest.param(c, id=f"detectors.{c.__name__}") for c in classes]


CASES = _registry_cases() + _exported_cases()


def test_every_exported_taps_detector_is_covered():
    names = {p.id for p in _exported_cases()}
    # BruteForceDetector ignored the override before the taps became an
    # argument; it must stay among the cases.
    assert "detectors.BruteForceDetector" in names
    assert {"detectors.ViterbiDetector", "detectors.BCJRDetector",
            "detectors.LMMSEDetector"} <= names


def _received(det, rng):
    """Samples the detector can read: counts for on-off keying (Poisson),
    else noisy BPSK-like samples."""
    points = det.points.numpy()
    if set(np.round(points, 6)) == {0.0, 1.0}:
        return rng.poisson(3.0, size=(B, T)).astype(np.float32)
    x = rng.choice(points, size=(B, T))
    return (x + 0.4 * rng.standard_normal((B, T))).astype(np.float32)


def _build(make, taps, **kwargs):
    try:
        return make(taps, **kwargs)
    except TypeError:       # a class without that option (e.g. hard_out)
        pytest.skip(f"{make} takes no {sorted(kwargs)}")


@pytest.mark.parametrize("hard_out", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("make", CASES)
def test_call_taps_act_as_constructor_taps(make, hard_out):
    rng = np.random.default_rng(7)
    det = _build(make, H1, hard_out=hard_out)
    assert isinstance(det, detectors.TapsDetector)
    y = _received(det, rng)
    override = det(y, NO, taps=H2).numpy()
    built = _build(make, H2, hard_out=hard_out)(y, NO).numpy()
    own = det(y, NO).numpy()
    if hard_out:
        np.testing.assert_array_equal(override, built)
    else:
        # BruteForceDetector scores its constructor's taps unrounded
        # (float64) and a call's as given in float32: 1e-6 relative.
        np.testing.assert_allclose(override, built, rtol=1e-5, atol=1e-5)
        # the taps made a difference, so the test above could fail
        assert np.max(np.abs(own - built)) > 0.1
    np.testing.assert_array_equal(det.taps.numpy(),
                                  H1.astype(det.taps.dtype.as_numpy_dtype))


@pytest.mark.parametrize("make", CASES)
def test_per_frame_call_taps_act_per_frame(make):
    rng = np.random.default_rng(8)
    det = _build(make, H1)
    y = _received(det, rng)
    frame_taps = np.stack([H1, H2, H1[::-1]])               # [B, L]
    out = det(y, NO, taps=frame_taps).numpy()
    for b in range(B):
        alone = _build(make, frame_taps[b])(y[b:b + 1], NO).numpy()[0]
        np.testing.assert_allclose(out[b], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", CASES)
def test_call_taps_of_wrong_length_are_refused(make):
    det = _build(make, H1)
    y = _received(det, np.random.default_rng(9))
    with pytest.raises(ValueError, match="taps"):
        det(y, NO, taps=[1.0, 0.5])
    # the refused call left the detector as it was
    np.testing.assert_allclose(det(y, NO).numpy(),
                               _build(make, H1)(y, NO).numpy(), rtol=1e-6)
