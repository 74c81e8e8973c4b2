"""Turbo detection-decoding (issue 15): ``CodedLink(iterations=I)`` and
``[code] iterations``.

Truths used here: the loop rebuilt by hand from public pieces (the
detector's ``bit_llrs(prior=..., extrinsic=True)``, Sionna's soft-output
``LDPC5GDecoder`` and ``RandomInterleaver``), the one-shot link for
``I = 1``, and seeded Monte Carlo compared on the same frames with the
paired interval of :mod:`rxsim.paired`.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.fec.interleaving import Deinterleaver, RandomInterleaver
from sionna.phy.fec.ldpc import LDPC5GDecoder

from channels import ISIChannel, exponential_taps
from detectors import BCJRDetector, SBRNN, ViterbiDetector
from rxsim.coded import INTERLEAVER_SEED, PRIOR_LLR_MAX, CodedLink
from rxsim.config import ConfigError, parse_config
from rxsim.montecarlo import simulate_points
from rxsim.paired import paired_comparison

K, N = 64, 128
TAPS = exponential_taps(3, 0.3)


def turbo_link(iterations, detector=None, taps=TAPS, con="bpsk", k=K, n=N,
               **kwargs):
    det = detector if detector is not None else BCJRDetector(
        taps, constellation=con)
    return CodedLink(con, ISIChannel(taps, constellation=con), det, k=k,
                     n=n, iterations=iterations, **kwargs)


def test_two_passes_equal_the_loop_built_by_hand_from_sionna_blocks():
    """Pass 2's decoder input must be: detector extrinsic LLRs given the
    interleaved extrinsic output of Sionna's soft decoder run on pass 1.
    A wrong interleaver direction, a missing extrinsic subtraction or a
    sign error changes it."""
    link = turbo_link(2)
    no = tf.constant(10 ** (-2.0 / 10), tf.float32)
    seed = tf.constant([5, 6])
    b, s, y, state = link.draw(32, no, seed)
    llr_link, _ = link._receive(y, no, state)

    det = link.detector
    inter = RandomInterleaver(seed=INTERLEAVER_SEED,
                              keep_batch_constant=True, keep_state=True,
                              axis=-1)
    deinter = Deinterleaver(inter)
    # as a graph: BP in float32 amplifies rounding, and Sionna's decoder
    # run op by op differs from its own graph by up to ~4 in an LLR here
    soft = tf.function(LDPC5GDecoder(link.encoder, num_iter=20,
                                     hard_out=False, return_infobits=False))
    llr1 = deinter(det.bit_llrs(y, no))                  # pass 1: no prior
    clip = lambda x: tf.clip_by_value(x, -PRIOR_LLR_MAX, PRIOR_LLR_MAX)
    ext_dec = clip(soft(clip(llr1)) - clip(llr1))
    prior = inter(ext_dec)
    llr2 = deinter(det.bit_llrs(y, no, prior=prior, extrinsic=True))
    np.testing.assert_allclose(llr_link.numpy(), llr2.numpy(), atol=2e-4,
                               rtol=1e-4)
    # ... and pass 2 is not pass 1 (the prior did something)
    assert np.abs(llr2.numpy() - llr1.numpy()).max() > 1.0


def test_one_pass_is_the_one_shot_link():
    a, b = turbo_link(1), CodedLink("bpsk", ISIChannel(TAPS),
                                    BCJRDetector(TAPS), k=K, n=N)
    no, seed = tf.constant(0.6), tf.constant([1, 2])
    ca, cb = a.count(16, no, seed), b.count(16, no, seed)
    assert {k: np.asarray(v).tolist() for k, v in ca.items()} == \
        {k: np.asarray(v).tolist() for k, v in cb.items()}


def test_four_passes_beat_one_on_the_same_frames():
    """BPSK over taps [1, 0.8, 0.6] (strong ISI), 1 dB, k=256, n=512: turbo
    BCJR at I = 4 must have a lower BLER than I = 1, paired on the same
    codewords (common random numbers) with a 99% interval that excludes 0.
    Measured here: 0.32 against 0.085 on 400 codewords."""
    taps = [1.0, 0.8, 0.6]
    links = [turbo_link(i, taps=taps, k=256, n=512) for i in (1, 4)]
    one, four = simulate_points(
        links, 10 ** (-1.0 / 10), batch_size=100, target_errors=10 ** 9,
        max_symbols=512 * 300, seed=3, xla=False)
    fa = one.frame_counts["block_errors"]
    fb = four.frame_counts["block_errors"]
    assert len(fa) == len(fb) == 300
    c = paired_comparison(fb, fa, symbols_per_frame=1, confidence=0.99)
    assert c.verdict == "A better" and c.difference_ci[1] < 0, c


@pytest.mark.parametrize("iterations", [1, 2])
def test_a_code_runs_without_then_with_xla_in_one_process(iterations):
    """A decoder graph traced outside XLA cannot be compiled by XLA and is
    not retraced inside it; simulating a code with xla=False and then
    with xla=True failed ("Range must be a compile-time constant") before
    each context got its own graph. A code of its own (k=40) so that no
    other test has traced it first."""
    from rxsim.montecarlo import simulate_point
    counts = []
    for xla in (False, True):
        link = turbo_link(iterations, k=40, n=80)
        r = simulate_point(link, 0.5, batch_size=8, target_errors=10 ** 9,
                           max_symbols=80 * 8, seed=2, xla=xla)
        counts.append(r.blocks)
    assert counts == [8, 8]


def test_turbo_and_one_shot_links_share_the_draw():
    assert turbo_link(4).draw_key() == turbo_link(1).draw_key()


# -- bad input -------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_iterations_below_one_or_not_an_int_is_refused(bad):
    with pytest.raises(ValueError, match="iterations"):
        turbo_link(bad)


def test_turbo_needs_soft_output():
    with pytest.raises(ValueError, match="output='soft'"):
        turbo_link(2, detector=ViterbiDetector(TAPS, hard_out=True),
                   output="hard")


def test_turbo_needs_a_detector_that_takes_a_prior():
    with pytest.raises(ValueError, match="prior"):
        turbo_link(2, detector=SBRNN(4))


# -- configs ---------------------------------------------------------------

def _config(code_extra="", detectors='[[detector]]\nname = "bcjr"\n'):
    import tomllib
    text = f"""
[experiment]
name = "t"
[link]
constellation = "bpsk"
batch_size = 10
[code]
type = "ldpc5g"
k = 64
n = 128
{code_extra}
[channel]
memory = 3
gamma = 0.3
[sweep]
snr_db = [0, 1]
{detectors}
"""
    return parse_config(tomllib.loads(text))


def test_config_iterations_list_gives_one_curve_per_count():
    cfg = _config("iterations = [1, 2, 4]")
    assert [(d.label, d.iterations) for d in cfg.detectors] == [
        ("bcjr I=1", 1), ("bcjr I=2", 2), ("bcjr I=4", 4)]
    ch = cfg.channels[0]
    plain = _config()
    # I = 1 hashes as a config without iterations (stored rows resume),
    # every I has its own curve, and all draw the same data
    assert cfg.point_hash(ch, cfg.detectors[0]) == \
        plain.point_hash(ch, plain.detectors[0])
    assert len({cfg.point_hash(ch, d) for d in cfg.detectors}) == 3
    assert cfg.data_hash(ch) == plain.data_hash(ch)


def test_detector_iterations_override_the_code():
    cfg = _config("iterations = 2", '[[detector]]\nname = "bcjr"\n'
                  '[[detector]]\nname = "maxlog-bcjr"\niterations = 1\n')
    assert [(d.label, d.iterations) for d in cfg.detectors] == [
        ("bcjr I=2", 2), ("maxlog-bcjr", 1)]


@pytest.mark.parametrize("extra, dets, needle", [
    ("iterations = 0", '[[detector]]\nname = "bcjr"', "iterations"),
    ("iterations = [2, 2]", '[[detector]]\nname = "bcjr"', "distinct"),
    ("iterations = []", '[[detector]]\nname = "bcjr"', "iterations"),
    ("iterations = 2", '[[detector]]\nname = "viterbi"', "output = 'soft'"),
    ("iterations = 2", '[[detector]]\nname = "sbrnn"', "prior"),
    ("", '[[detector]]\nname = "bcjr"\niterations = "4"', "iterations"),
])
def test_bad_iterations_in_configs_are_reported(extra, dets, needle):
    with pytest.raises(ConfigError) as e:
        _config(extra, dets)
    assert any(needle in p for p in e.value.problems), e.value.problems


def test_iterations_without_a_code_is_reported():
    import tomllib
    with pytest.raises(ConfigError) as e:
        parse_config(tomllib.loads(
            '[experiment]\nname = "t"\n[channel]\nmemory = 2\n'
            '[sweep]\nsnr_db = [0]\n[[detector]]\nname = "bcjr"\n'
            'iterations = 2\n'))
    assert any("coded links" in p for p in e.value.problems)


# -- the study -------------------------------------------------------------

def _small_study_config(tmp_path, name, snr, max_symbols):
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[experiment]
name = "{name}"
seed = 5
[link]
constellation = "bpsk"
batch_size = 100
xla = false
[code]
type = "ldpc5g"
k = 256
n = 512
iterations = [1, 4]
[channel]
taps = [1.0, 0.8, 0.6]
[sweep]
snr_db = [{snr}]
target_errors = 1_000_000
max_symbols = {max_symbols}
[[detector]]
name = "bcjr"
""")
    return str(path)


def test_turbo_script_runs_checks_and_writes_its_report(tmp_path):
    """scripts/turbo.py end to end on a small config: the store, the
    checks (BCJR at I=4 beats I=1, paired; the setting of
    test_four_passes_beat_one_on_the_same_frames), the table and figure."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "turbo_script", Path(__file__).parents[1] / "scripts" / "turbo.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cfg = _small_study_config(tmp_path, "t-small", 1.0, 512 * 200)
    out = tmp_path / "turbo"
    rc = script.main(["--configs", cfg, "--db", str(tmp_path / "t.db"),
                      "--out", str(out)])
    text = (tmp_path / "turbo.md").read_text()
    assert rc == 0, text
    assert "PASS: t-small, SNR 1 dB: bcjr BLER at I=4 below I=1" in text
    assert "| t-small | SNR 1 dB | bcjr |" in text
    assert (tmp_path / "turbo.png").stat().st_size > 10_000
    # a rerun resumes every point and reports the same
    assert script.main(["--configs", cfg, "--db", str(tmp_path / "t.db"),
                        "--out", str(out)]) == 0
    assert (tmp_path / "turbo.md").read_text() == text


@pytest.mark.slow
def test_turbo_study_claims_hold_on_the_shipped_configs(tmp_path):
    """The issue's "must show" on configs/turbo.toml and turbo-bpsk.toml
    at their claim SNR (the middle of each grid), BCJR and BCJRNet with
    perfect CSI: BCJR's BLER at I = 4 below I = 1 (paired 95%), and the
    same verdict for BCJRNet (it gained in every run here: ratio 0.38
    [0.25, 0.51] QPSK, 0.35 [0.24, 0.46] BPSK)."""
    import dataclasses
    from pathlib import Path

    from rxsim.config import load_config
    from rxsim.store import ResultsStore
    from rxsim.studies import turbo
    from rxsim.sweep import run_sweep

    root = Path(__file__).parents[1]
    db = tmp_path / "turbo.db"
    for path in turbo.CONFIGS:
        cfg = load_config(root / path)
        mid = sorted(cfg.snr_db)[len(cfg.snr_db) // 2]
        dets = tuple(d for d in cfg.detectors if d.csi == "perfect"
                     and d.name in ("bcjr", "bcjrnet") and d.iterations in
                     (1, 4))
        run_sweep(dataclasses.replace(cfg, snr_db=(mid,), detectors=dets),
                  db)
    with ResultsStore(db) as store:
        rows = store.points()
        counts = {id(r): store.frame_counts(r) for r in rows}
    checks = turbo.check_claims(rows, lambda r: counts[id(r)])
    assert len(checks) == 4 and all(ok for _, ok, _ in checks), checks
