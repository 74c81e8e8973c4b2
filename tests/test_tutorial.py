"""docs/tutorial.md runs as written, and ``rxsim.registry.register_detector``
(the hook it uses) behaves."""

import linecache
import re
from pathlib import Path

import numpy as np
import pytest

import detectors
from signals.constellations import constellation_points, make_constellation
from rxsim.config import ConfigError, parse_config
from rxsim.registry import DETECTORS, build_detector, register_detector

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def python_blocks(path):
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def numpy_zf_dfe(y, taps, points):
    """Zero-forcing DFE decisions ``[batch, T]``: cancel the ISI of past
    decisions (the preamble, index 0, before the frame), then pick the
    point nearest to ``z[k] / h[0]``."""
    batch, T = y.shape
    L = len(taps)
    past = np.full((batch, L - 1), points[0])        # newest first
    out = np.empty((batch, T), np.int64)
    for k in range(T):
        z = y[:, k] - (past * taps[1:]).sum(axis=1)
        idx = np.abs(z[:, None] - taps[0] * points[None]).argmin(axis=1)
        out[:, k] = idx
        past = np.concatenate([points[idx][:, None], past], axis=1)[:, :L - 1]
    return out


@pytest.fixture
def registry_snapshot():
    """Leave the detector registry as it was (the tutorial adds "dfe")."""
    before = dict(DETECTORS)
    yield
    DETECTORS.clear()
    DETECTORS.update(before)


def test_tutorial_python_blocks_run(tmp_path, monkeypatch,
                                    registry_snapshot):
    blocks = python_blocks(TUTORIAL)
    assert len(blocks) >= 7
    monkeypatch.chdir(tmp_path)          # the examples write files
    namespace = {"__name__": "tutorial"}
    for i, block in enumerate(blocks):   # later blocks reuse earlier names
        name = f"{TUTORIAL}:block{i + 1}"
        # as if pasted into a file or notebook: TensorFlow's autograph
        # reads the source of the tutorial's detector
        monkeypatch.setitem(linecache.cache, name, (
            len(block), None, block.splitlines(True), name))
        exec(compile(block, name, "exec"), namespace)
    # section 2: the tutorial's DFE makes exactly the decisions of an
    # independent numpy zero-forcing DFE on the frames of section 1 (a
    # wrong cancellation, feedback order or preamble changes them)
    reference = numpy_zf_dfe(namespace["y"].numpy(), namespace["taps"],
                             constellation_points(
                                 make_constellation("qpsk")).numpy())
    np.testing.assert_array_equal(namespace["hard"].numpy(), reference)
    assert np.mean(reference != namespace["s"].numpy()) > 0
    # Artifacts: 3 detectors x 3 SNRs by hand, 3 curves x 3 SNRs by config.
    from rxsim import ResultsStore
    with ResultsStore(tmp_path / "tutorial.sqlite") as store:
        by_hand = store.points(experiment="tutorial")
        by_config = store.points(experiment="tutorial-config")
    assert len(by_hand) == 9 and len(by_config) == 9
    assert {r["detector"] for r in by_hand} == {"bcjr", "dfe", "lmmse"}
    assert {r["detector"] for r in by_config} == {
        "bcjr", "dfe", "bcjr (perturbed:var=0.1)"}
    for name in ("tutorial.png", "tutorial.pdf", "tutorial-config.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    # The DFE the tutorial writes is a real detector: near BCJR at high
    # SNR with exact taps, never better than the MAP detector beyond
    # noise, and much better than chance (3/4).
    ser = {(r["detector"], r["snr_db"]): r for r in by_config}
    for snr in (4.0, 8.0, 12.0):
        dfe, bcjr = ser["dfe", snr], ser["bcjr", snr]
        assert dfe["ser_hi"] >= bcjr["ser_lo"]
        assert dfe["ser"] < 0.3
    assert ser["dfe", 12.0]["ser"] < ser["dfe", 4.0]["ser"]
    # rerunning the config finds every point stored
    from rxsim.sweep import run_sweep
    assert run_sweep(namespace["cfg"], tmp_path / "tutorial.sqlite") == \
        (0, 9)
    # section 6: soft BCJR LLRs decode better than hard Viterbi decisions
    coded = namespace["coded_results"]
    soft, hard = coded["bcjr, soft LLRs"], coded["viterbi, hard"]
    assert soft.blocks == hard.blocks == 400
    assert soft.bler_ci_wilson[1] < hard.bler_ci_wilson[0], (soft, hard)
    # section 7: the exported recursions on the exported metrics are
    # BCJRDetector (up to the rounding of its expanded-square metric), and
    # the few-line Laplacian trellis detector works: mismatched, it costs a
    # small factor at 8 dB (3e-4 against 1.5e-4 here), while a wrong state
    # numbering or sign in a metric leaves SERs near 1/2.
    np.testing.assert_allclose(namespace["by_hand"].numpy(),
                               namespace["log_probs"].numpy(), atol=1e-3)
    assert namespace["laplace_ser"] < 0.01, namespace["laplace_ser"]


class _Renamed(detectors.TapsDetector):
    """Symbol-wise detection under another name (a test detector)."""

    def __init__(self, taps, *, constellation=None, scale=1.0, **kwargs):
        super().__init__(taps, constellation=constellation, **kwargs)
        self.scale = scale

    def symbol_logits(self, y, no, taps):
        return detectors.SymbolwiseDetector(
            taps, constellation=self.constellation).symbol_logits(y, no, taps)


def _config(name, **options):
    return {"experiment": {"name": "x"}, "channel": {"taps": [1.0, 0.5]},
            "sweep": {"snr_db": [5]}, "detector": [{"name": name,
                                                      **options}]}


def test_register_detector_reaches_configs_and_build(registry_snapshot):
    with pytest.raises(ConfigError, match="'renamed' unknown"):
        parse_config(_config("renamed"))
    entry = register_detector("renamed", _Renamed, {"scale": float})
    assert entry.summary == "Symbol-wise detection under another name " \
                            "(a test detector)."
    cfg = parse_config(_config("renamed", scale=2))
    assert cfg.detectors[0].options == {"scale": 2}
    det = build_detector("renamed", [1.0, 0.5], "bpsk", {"scale": 2.0})
    assert isinstance(det, _Renamed) and det.scale == 2.0
    with pytest.raises(ConfigError, match="option scale must be of type "
                                          "float"):
        parse_config(_config("renamed", scale="big"))
    with pytest.raises(ConfigError, match="unknown option 'window'"):
        parse_config(_config("renamed", window=3))


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (("bcjr", _Renamed), {}, ValueError, "built-in"),
    (("", _Renamed), {}, ValueError, "non-empty"),
    (("x", object), {}, TypeError, "subclass of detectors.Detector"),
    (("x", _Renamed), {"options": {"scale": list}}, TypeError, "int, float"),
    (("x", _Renamed), {"learned": True}, TypeError, "fit, save and load"),
])
def test_register_detector_errors(args, kwargs, exc, match,
                                  registry_snapshot):
    with pytest.raises(exc, match=match):
        register_detector(*args, **kwargs)


def test_register_detector_twice_needs_replace(registry_snapshot):
    register_detector("renamed", _Renamed)
    with pytest.raises(ValueError, match="replace=True"):
        register_detector("renamed", _Renamed)
    register_detector("renamed", _Renamed, {"scale": float}, replace=True)
    assert DETECTORS["renamed"].options == {"scale": float}
