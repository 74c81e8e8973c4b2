"""TOML sweep configs: valid ones load, every problem is reported at once."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxsim.config import ConfigError, load_config, parse_config, snr_to_no

ROOT = Path(__file__).resolve().parents[1]


def minimal(**overrides):
    data = {
        "experiment": {"name": "t"},
        "channel": {"memory": 2, "gamma": 0.5},
        "sweep": {"snr_db": [0, 5]},
        "detector": [{"name": "symbolwise"}],
    }
    for section, table in overrides.items():
        data[section] = table
    return data


def test_shipped_configs_load():
    for path in sorted((ROOT / "configs").glob("*.toml")):
        cfg = load_config(path)
        assert cfg.snr_db and cfg.detectors and cfg.channels


def test_quick_config_contents():
    cfg = load_config(ROOT / "configs" / "quick.toml")
    assert cfg.name == "quick"
    assert cfg.snr_db == (0, 2, 4, 6, 8, 10)
    np.testing.assert_allclose(cfg.channels[0].tap_array(),
                               np.exp(-0.2 * np.arange(4)))
    assert [d.csi for d in cfg.detectors].count("perfect") >= 1


def test_defaults_and_labels():
    cfg = parse_config(minimal())
    assert cfg.constellation == "bpsk" and cfg.seed == 1
    assert cfg.detectors[0].label == "symbolwise"
    assert cfg.channels[0].label == "isi:L=2,gamma=0.5"


def test_snr_range_table():
    cfg = parse_config(minimal(sweep={"snr_db": {"start": -6, "stop": 10,
                                                 "step": 2}}))
    assert cfg.snr_db == tuple(range(-6, 11, 2))


def test_gamma_list_gives_one_channel_each():
    cfg = parse_config(minimal(channel={"memory": 4, "gamma": [0.1, 1.0]}))
    assert [c.gamma for c in cfg.channels] == [0.1, 1.0]


def test_explicit_taps_and_detector_options():
    cfg = parse_config(minimal(
        channel={"taps": [1.0, 0.5]},
        detector=[{"name": "lmmse", "window": 7, "label": "L7"}]))
    assert cfg.channels[0].memory == 2
    assert cfg.detectors[0].options == {"window": 7}
    assert cfg.detectors[0].label == "L7"


def test_all_problems_reported_together():
    bad = {
        "experiment": {"name": "t", "colour": "red"},
        "link": {"batch_size": -3, "constellation": "pam3"},
        "channel": {"memory": 2, "gamma": 0.5},
        "sweep": {"snr_db": [], "target_errors": 0},
        "detector": [{"name": "viterby"}, {"name": "lmmse", "windw": 3}],
        "extra": {},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(bad)
    text = str(info.value)
    for needle in ("colour", "batch_size must be >= 1", "pam3",
                   "snr_db is empty", "target_errors must be >= 1",
                   "'viterby' unknown; allowed:", "'windw'",
                   "unknown section [extra]"):
        assert needle in text, needle
    # the allowed names are listed so the user can fix the typo
    assert "viterbi" in text and "window" in text
    assert len(info.value.problems) >= 8


@pytest.mark.parametrize("section,table,needle", [
    ("sweep", {"snr_db": [0], "max_symbols": "many"},
     "max_symbols must be of type integer"),
    ("sweep", {"snr_db": [0], "confidence": 1.5}, "confidence must be in"),
    ("sweep", {"snr_db": {"start": 5, "stop": 0}}, "stop >= start"),
    ("channel", {"memory": 2}, "either taps"),
    ("channel", {"memory": 0, "gamma": 1.0}, "memory"),
    ("channel", {"gamma": -1.0, "memory": 2}, "gamma must be"),
    ("channel", {"kind": "rayleigh", "gamma": 1.0}, "kind 'rayleigh'"),
    ("detector", [{"name": "bcjr", "csi": "guess"}], "csi"),
    ("detector", [{"name": "symbolwise"}, {"name": "symbolwise"}],
     "used twice"),
    ("detector", [], "no detectors"),
])
def test_single_problems(section, table, needle):
    with pytest.raises(ConfigError, match="problem") as info:
        parse_config(minimal(**{section: table}))
    assert needle in str(info.value)


def test_malformed_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[experiment\nname = 'x'\n")
    with pytest.raises(ConfigError, match="malformed TOML") as info:
        load_config(path)
    assert "bad.toml" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_point_hash_tracks_what_changes_numbers():
    cfg = parse_config(minimal())
    ch, det = cfg.channels[0], cfg.detectors[0]
    h = cfg.point_hash(ch, det)
    assert cfg.with_seed(2).point_hash(ch, det) != h
    other = parse_config(minimal(sweep={"snr_db": [0, 5, 10]}))
    assert other.point_hash(other.channels[0], other.detectors[0]) == h
    longer = parse_config(minimal(link={"frame_length": 50}))
    assert longer.point_hash(longer.channels[0], longer.detectors[0]) != h


def test_snr_to_no():
    assert snr_to_no(10) == pytest.approx(0.1)
    assert snr_to_no(-6) == pytest.approx(10 ** 0.6)


scalars = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True),
                    st.text(max_size=3), st.booleans(), st.none(),
                    st.lists(st.integers(-2, 2), max_size=3))


@settings(max_examples=150, deadline=None)
@given(section=st.sampled_from(["experiment", "link", "channel", "sweep"]),
       key=st.sampled_from(["name", "seed", "constellation", "frame_length",
                            "batch_size", "memory", "gamma", "taps",
                            "snr_db", "target_errors", "max_symbols",
                            "confidence", "bogus"]),
       value=scalars)
def test_loader_never_crashes_untidily(section, key, value):
    """Any single mutated value either loads into a consistent config or
    raises ConfigError -- never another exception."""
    data = minimal()
    table = dict(data.get(section, {}))
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
    data[section] = table
    try:
        cfg = parse_config(data)
    except ConfigError as e:
        assert e.problems
        return
    assert cfg.batch_size >= 1 and cfg.frame_length >= 1
    assert cfg.target_errors >= 1 and cfg.max_symbols >= 1
    assert 0 < cfg.confidence < 1 and len(cfg.snr_db) >= 1
    assert all(np.isfinite(c.tap_array()).all() for c in cfg.channels)


@pytest.mark.parametrize("detector, needle", [
    ({"name": "bcjrnet", "csi": "estimated:from=training"},
     "learned detector learns its channel"),
    ({"name": "lmmse", "csi": "perturbed:var=0.1,per=symbol"},
     "per-symbol believed taps"),
    ({"name": "viterbinet", "csi": "perturbed:var=0.1,per=symbol"},
     "per-symbol believed taps"),
    ({"name": "bcjr", "csi": "perturbed:var=0.1,per=sym"},
     "per must be one of ('frame', 'symbol')"),
    ({"name": "bcjr", "csi": "estimated:from=pilot"},
     "from must be one of ('frame', 'training')")])
def test_csi_cases_a_detector_cannot_take_are_config_errors(detector,
                                                           needle):
    data = {"experiment": {"name": "x"},
            "channel": {"memory": 3, "gamma": 0.3},
            "sweep": {"snr_db": [0]}, "detector": [detector]}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert needle in str(info.value)
