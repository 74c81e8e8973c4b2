"""Coded link: Sionna 5G LDPC around an ISI channel and any rxsim detector.

Truths used here: Sionna's own ``Demapper("app")`` (LLR sign and scale),
Sionna's ``Mapper`` and the encoder's codeword (bit labelling), the
decoder's noise-free output (round trip), and seeded Monte Carlo compared
through confidence intervals (soft vs hard decisions).
"""

import dataclasses
import hashlib
import json
import sqlite3

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Constellation, Demapper, Mapper

import detectors
from channels import ISIChannel, exponential_taps
from channels.csi import parse_csi
from detectors import BCJRDetector, LMMSEDetector, ViterbiDetector
from rxsim.coded import (DEFAULT_HARD_LLR, INTERLEAVER_SEED, CodedLink,
                         code_problems)
from rxsim.config import ConfigError, load_config, parse_config
from rxsim.montecarlo import batch_seed, simulate_point
from rxsim.store import SCHEMA_VERSION, ResultsStore
from rxsim.sweep import build_link, run_sweep

# One code for (almost) every test: each new (k, n) compiles a decoder.
K, N = 64, 128
TAPS = exponential_taps(3, 0.3)


def link_for(con, detector=None, taps=TAPS, **kwargs):
    det = detector if detector is not None else BCJRDetector(
        taps, constellation=con)
    return CodedLink(con, ISIChannel(taps, constellation=con), det, k=K, n=N,
                     **kwargs)


# -- LLRs agree with Sionna's demapper --------------------------------------

@pytest.mark.parametrize("name, kind, bits", [
    ("bpsk", "pam", 1), ("qpsk", "qam", 2), ("qam16", "qam", 4)])
def test_bit_llrs_match_sionna_demapper_on_a_one_tap_channel(name, kind,
                                                             bits):
    """On ``taps = [1.0]`` the BCJR detector is a symbol-wise APP demapper,
    so its bit LLRs must equal Sionna's ``Demapper("app")`` (sign: log
    p(b=1)/p(b=0); labels: binary of the index, MSB first).

    Noise conventions: Sionna's demapper assumes complex noise CN(0, no_s),
    i.e. no_s / 2 per real dimension. Our complex (QAM) channels use CN(0,
    no) too, so no_s = no. Our real (PAM/BPSK) channels use N(0, no) per real
    sample; for a real y fed to the demapper as y + 0j only the real
    dimension carries information, and equal likelihoods need
    no_s / 2 = no, i.e. no_s = 2 no."""
    sionna_con = Constellation(kind, bits)          # independent of ours
    ours = detectors.make_constellation(name)
    np.testing.assert_allclose(np.asarray(ours.points),
                               np.asarray(sionna_con.points), atol=1e-6)
    rng = np.random.default_rng(7)
    batch, t, no = 8, 50, 0.3
    c_bits = rng.integers(0, 2, (batch, t * bits)).astype(np.float32)
    x = Mapper(constellation=sionna_con)(c_bits).numpy()      # [B, T]
    if kind == "pam":
        y = x.real + rng.normal(0, np.sqrt(no), x.shape)
        y_sionna, no_sionna = y.astype(np.complex64), 2 * no
    else:
        w = rng.normal(0, np.sqrt(no / 2), x.shape + (2,))
        y = x + w[..., 0] + 1j * w[..., 1]
        y_sionna, no_sionna = y.astype(np.complex64), no
    want = Demapper("app", constellation=sionna_con)(
        tf.constant(y_sionna), tf.constant(no_sionna, tf.float32)).numpy()
    got = BCJRDetector([1.0], constellation=name).bit_llrs(
        y.astype(np.complex64 if kind == "qam" else np.float32), no).numpy()
    assert got.shape == want.shape == (batch, t * bits)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-3)
    # and the sign is Sionna's: positive LLR <=> bit 1 more likely
    agree = np.mean((got > 0) == (c_bits > 0.5))
    assert agree > 0.75


# -- mapping, round trip, shapes --------------------------------------------

# Eager calls use one batch size so that each detector compiles once.
B = 8


@pytest.mark.parametrize("con, memory", [("bpsk", 3), ("qpsk", 3),
                                         ("qam16", 1)])
def test_noise_free_round_trip_carries_the_codeword_with_sionna_labels(
        con, memory):
    """No noise: decoded bits equal the source bits. Without interleaver,
    symbol t of a frame is the index whose binary label (MSB first) is
    code bits [t*k, (t+1)*k) of the encoder's codeword, sent as Sionna
    Mapper's point. (16-QAM on one tap: a 3-tap 16-QAM trellis has 4096
    branches, slow to compile, and adds nothing to the labelling.)"""
    taps = exponential_taps(memory, 0.3)
    link = link_for(con, BCJRDetector(taps, constellation=con), taps=taps,
                    interleave=False)
    bps = detectors.make_constellation(con).num_bits_per_symbol
    b, b_hat, s, s_hat = link(B, 1e-6, seed=tf.constant([3, 4]))
    assert b.shape == b_hat.shape == (B, K)
    assert s.shape == s_hat.shape == (B, N // bps) == (B, link.num_symbols)
    assert b.dtype == b_hat.dtype == tf.float32
    assert s.dtype == s_hat.dtype == tf.int32
    assert set(np.unique(b.numpy())) == {0.0, 1.0}
    np.testing.assert_array_equal(s.numpy(), s_hat.numpy())
    np.testing.assert_array_equal(b.numpy(), b_hat.numpy())
    c = LDPC5GEncoder(K, N)(b).numpy().astype(int)
    groups = c.reshape(B, -1, bps)
    want = (groups * (2 ** np.arange(bps - 1, -1, -1))).sum(-1)
    np.testing.assert_array_equal(s.numpy(), want)
    pts = np.asarray(link.transmitter.constellation.points)
    mapped = Mapper(constellation=link.transmitter.constellation)(
        tf.constant(c, tf.float32)).numpy()
    np.testing.assert_allclose(pts[s.numpy()], mapped, atol=1e-6)


@pytest.mark.parametrize("output", ["soft", "hard"])
def test_interleaved_round_trip(output):
    """With the interleaver the symbols carry a fixed permutation of the
    codeword, and both outputs decode it without noise."""
    det = (ViterbiDetector(TAPS, constellation="qpsk", hard_out=True)
           if output == "hard" else None)
    link = link_for("qpsk", det, output=output)
    plain = link_for("qpsk", interleave=False)
    seed = tf.constant([5, 6])
    b, b_hat, s, s_hat = link(B, 1e-6, seed=seed)
    b2, _, s2, _ = plain(B, 1e-6, seed=seed)
    np.testing.assert_array_equal(b.numpy(), b2.numpy())     # same source
    np.testing.assert_array_equal(b.numpy(), b_hat.numpy())
    np.testing.assert_array_equal(s.numpy(), s_hat.numpy())
    assert not np.array_equal(s.numpy(), s2.numpy())
    bits, bits2 = (link.indices_to_bits(x).numpy() for x in (s, s2))
    np.testing.assert_array_equal(np.sort(bits, 1), np.sort(bits2, 1))
    perm = np.argsort(link._interleaver(tf.range(N)[None]).numpy()[0])
    np.testing.assert_array_equal(bits[:, perm], bits2)
    assert link._interleaver._seed[1] == INTERLEAVER_SEED


def test_detect_soft_is_the_detectors_bit_llrs_and_hard_saturates():
    con = "qpsk"
    rng = np.random.default_rng(1)
    y = (rng.normal(size=(B, N // 2)) + 1j * rng.normal(size=(B, N // 2))
         ).astype(np.complex64)
    bcjr = BCJRDetector(TAPS, constellation=con)
    llr, s_hat = link_for(con, bcjr).detect(y, 0.5)
    np.testing.assert_allclose(llr.numpy(), bcjr.bit_llrs(y, 0.5).numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(
        s_hat.numpy(), np.argmax(bcjr.log_probs(y, 0.5).numpy(), -1))
    vit = ViterbiDetector(TAPS, constellation=con, hard_out=True)
    link = link_for(con, vit, output="hard")
    llr, s_hat = link.detect(y, 0.5)
    ml = vit(y, 0.5).numpy()                      # Viterbi's ML sequence
    np.testing.assert_array_equal(s_hat.numpy(), ml)
    bits = ((ml[..., None] >> np.array([1, 0])) & 1).reshape(B, -1)
    np.testing.assert_array_equal(llr.numpy(),
                                  DEFAULT_HARD_LLR * (2 * bits - 1))
    # a soft-output detector under output="hard": its argmax, saturated
    llr, s_hat = link_for(con, bcjr, output="hard", hard_llr=4.0).detect(
        y, 0.5)
    assert set(np.unique(np.abs(llr.numpy()))) == {4.0}


def test_csi_taps_reach_the_detector():
    """perturbed:var=0 hands the true taps per frame ([batch, L]) to the
    detector: same numbers as perfect CSI; var > 0 changes decisions."""
    con, seed = "qpsk", tf.constant([8, 9])
    perfect = link_for(con)(B, 0.5, seed=seed)
    zero = link_for(con, csi=parse_csi("perturbed:var=0"))(B, 0.5,
                                                           seed=seed)
    for a, b in zip(perfect, zero):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    noisy = link_for(con, csi="perturbed:var=0.5")(B, 0.5, seed=seed)
    np.testing.assert_array_equal(noisy[2].numpy(), perfect[2].numpy())
    assert np.any(noisy[3].numpy() != perfect[3].numpy())


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(k=64.0), TypeError, "k must be an integer"),
    (dict(k=128, n=128), ValueError, "smaller than n"),
    (dict(k=64, n=129), ValueError, "multiple of the 2 bits"),
    (dict(k=5, n=12), ValueError, "not supported"),
    (dict(output="soft-ish"), ValueError, "output"),
    (dict(num_iter=0), ValueError, "num_iter"),
    (dict(hard_llr=-1.0), ValueError, "hard_llr"),
])
def test_bad_arguments(kwargs, exc, word):
    args = dict(k=K, n=N)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        CodedLink("qpsk", ISIChannel(TAPS, constellation="qpsk"),
                  BCJRDetector(TAPS, constellation="qpsk"), **args)


def test_detector_mismatches_are_refused():
    ch = ISIChannel(TAPS, constellation="qpsk")
    with pytest.raises(ValueError, match="hard_out=True"):
        CodedLink("qpsk", ch, ViterbiDetector(TAPS, constellation="qpsk",
                                              hard_out=True), k=K, n=N)
    with pytest.raises(ValueError, match="constellation points"):
        CodedLink("qpsk", ch, BCJRDetector(TAPS), k=K, n=N)
    assert code_problems(64, 128, 2) == []
    assert code_problems(64, 130, 4)[0].startswith("n=130 is not a multiple")


# -- Monte Carlo --------------------------------------------------------------

def test_engine_counts_match_an_eager_recount():
    """The engine's counts of a coded point equal counts of the same
    batches (same fold-in seeds) recomputed eagerly with numpy (xla=False:
    the same random kernels as eager mode)."""
    link = link_for("qpsk", LMMSEDetector(TAPS, constellation="qpsk"))
    no, bs, seed = 10 ** (-1 / 10), B, 11
    r = simulate_point(link, no, batch_size=bs, target_errors=3,
                       max_symbols=10 ** 6, seed=seed, xla=False)
    bit_e = blk_e = sym_e = 0
    for i in range(r.batches):
        b, b_hat, s, s_hat = (t.numpy() for t in link(bs, no,
                                                      batch_seed(seed, i)))
        wrong = b != b_hat
        bit_e += wrong.sum()
        blk_e += wrong.any(1).sum()
        sym_e += (s != s_hat).sum()
        if i < r.batches - 1:
            assert blk_e < 3               # stopped at the first batch >= 3
    assert blk_e >= 3 and r.stop_reason == "target_errors"
    assert (r.errors, r.bit_errors, r.block_errors) == (sym_e, bit_e, blk_e)
    assert r.blocks == r.batches * bs
    assert r.bits == r.blocks * K and r.symbols == r.blocks * N // 2
    assert r.bler == blk_e / r.blocks and r.ber == bit_e / r.bits
    assert r.bler_ci_wilson[0] <= r.bler <= r.bler_ci_wilson[1]
    assert r.bler_ci_cp[0] <= r.bler <= r.bler_ci_cp[1]


def test_decoder_is_compiled_once_per_code_for_all_its_links():
    """Learned detectors get a new link per point; the seconds a decoder
    costs to compile are spent once per code, not once per link."""
    from detectors.compiled import compiled_for

    links = [link_for("qpsk", LMMSEDetector(TAPS, constellation="qpsk")),
             link_for("qpsk")]
    assert links[0].count_stages().tail_owner is \
        links[1].count_stages().tail_owner
    for link, bs in zip(links, (B, 2 * B)):
        simulate_point(link, 0.5, batch_size=bs, target_errors=1,
                       max_symbols=1, seed=1, xla=False)
    tail = compiled_for(links[0].count_stages().tail_owner,
                        ("rxsim.montecarlo", "tail", False),
                        lambda: pytest.fail("no compiled decoder stage"))
    assert tail.experimental_get_tracing_count() == 1


def test_soft_bcjr_beats_hard_viterbi_with_disjoint_intervals():
    """At 2.5 dB (QPSK, 3 taps exp(-0.3 l), k=64, n=128) the decoder fed
    BCJR's LLRs loses fewer codewords than the one fed Viterbi's
    decisions. Blocks are independent, so the BLER's 99.9% Wilson
    intervals are exact and must not overlap; BER (whose intervals assume
    independent bits, too narrow for coded points) must be ordered too."""
    no = 10 ** (-2.5 / 10)
    soft = link_for("qpsk", output="soft")
    hard = link_for("qpsk", ViterbiDetector(TAPS, constellation="qpsk",
                                            hard_out=True), output="hard")
    kw = dict(batch_size=200, target_errors=10 ** 6, max_symbols=64 * 600,
              seed=2026, xla=False, confidence=0.999)
    rs, rh = simulate_point(soft, no, **kw), simulate_point(hard, no, **kw)
    assert rs.blocks == rh.blocks == 600
    # same symbols and noise: the uncoded SERs are close (MAP vs ML)
    assert abs(rs.ser - rh.ser) < 0.01
    assert rs.bler_ci_wilson[1] < rh.bler_ci_wilson[0], (rs.bler, rh.bler)
    assert rs.ber < rh.ber


# -- configs ------------------------------------------------------------------

def coded_config(**code):
    table = {"type": "ldpc5g", "k": K, "n": N, **code}
    return {"experiment": {"name": "t"},
            "link": {"constellation": "qpsk", "batch_size": 20},
            "channel": {"memory": 3, "gamma": 0.3},
            "sweep": {"snr_db": [4.0], "target_errors": 5,
                      "max_symbols": 64 * 40},
            "code": table,
            "detector": [{"name": "bcjr"}, {"name": "viterbi"},
                         {"name": "viterbi", "output": "soft"},
                         {"name": "viterbinet"}]}


def test_code_section_and_output_defaults():
    cfg = parse_config(coded_config())
    assert cfg.code.k == K and cfg.code.n == N and cfg.code.num_iter == 20
    assert cfg.code.interleave is True
    assert cfg.code.hard_llr == DEFAULT_HARD_LLR
    assert cfg.frame_length == N // 2                  # one codeword/frame
    assert [(d.label, d.output) for d in cfg.detectors] == [
        ("bcjr", "soft"), ("viterbi", "hard"), ("viterbi [soft]", "soft"),
        ("viterbinet", "hard")]


def test_code_problems_are_all_reported():
    data = coded_config(type="turbo", num_iter=0, interleave="yes",
                        hard_llr=0.0, rate=0.5)
    data["detector"].append({"name": "bcjr", "output": "medium",
                             "label": "x"})
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    text = "\n".join(e.value.problems)
    for word in ("type 'turbo' unknown; allowed: 'ldpc5g'",
                 "num_iter must be >= 1", "interleave must be of type",
                 "hard_llr must be a finite number > 0",
                 "unknown key 'rate'", "output must be 'soft' or 'hard'"):
        assert word in text, word
    data = coded_config(n=130)                 # 130 bits: not whole QAM16
    data["link"]["constellation"] = "qam16"
    data["link"]["frame_length"] = 32
    data["code"].pop("type")
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    text = "\n".join(e.value.problems)
    assert "type is required" in text
    data["code"]["type"] = "ldpc5g"
    with pytest.raises(ConfigError, match="not a multiple of the 4 bits"):
        parse_config(data)
    data["code"]["n"] = 256                    # 64 symbols, not 32
    with pytest.raises(ConfigError, match="frame_length = 32"):
        parse_config(data)
    data["code"].pop("k")
    with pytest.raises(ConfigError, match="k is required"):
        parse_config(data)


def test_output_without_a_code_is_an_error():
    data = coded_config()
    del data["code"]
    with pytest.raises(ConfigError, match="applies to coded links only"):
        parse_config(data)


def _head_payload(cfg, channel, det):
    """The hash payload as the code before codes existed computed it
    (rxsim/config.py at the commit that introduced [code]): an uncoded
    config must keep hashing to the same value."""
    return {
        "seed": cfg.seed, "constellation": cfg.constellation,
        "frame_length": cfg.frame_length, "batch_size": cfg.batch_size,
        "channel": {"memory": channel.memory, "gamma": channel.gamma,
                    "taps": channel.taps, "normalize": channel.normalize},
        "detector": {"name": det.name, "csi": det.csi,
                     "options": det.options},
        "target_errors": cfg.target_errors,
        "max_symbols": cfg.max_symbols, "confidence": cfg.confidence,
        "xla": cfg.xla,
    }


def test_uncoded_hashes_are_unchanged_and_codes_enter_the_hash():
    cfg = load_config("configs/quick.toml")
    assert cfg.code is None
    for ch in cfg.channels:
        for det in cfg.detectors:
            assert det.output is None
            payload = cfg.hash_payload(ch, det)
            assert "code" not in payload
            assert "output" not in payload["detector"]
            text = json.dumps(_head_payload(cfg, ch, det), sort_keys=True,
                              default=str)
            assert cfg.point_hash(ch, det) == hashlib.sha256(
                text.encode()).hexdigest()[:16]
    coded = parse_config(coded_config())
    ch, det = coded.channels[0], coded.detectors[0]
    uncoded = dataclasses.replace(coded, code=None)
    h = coded.point_hash(ch, det)
    assert h != uncoded.point_hash(ch, dataclasses.replace(det, output=None))
    assert h != dataclasses.replace(
        coded, code=dataclasses.replace(coded.code, num_iter=10)
    ).point_hash(ch, det)
    assert h != coded.point_hash(ch, dataclasses.replace(det, output="hard"))


def test_coded_toml_is_valid():
    cfg = load_config("configs/coded.toml")
    assert cfg.code is not None and cfg.constellation == "qpsk"
    outputs = {d.label: d.output for d in cfg.detectors}
    assert outputs["viterbi"] == "hard" and outputs["bcjr"] == "soft"


# -- sweeps -------------------------------------------------------------------

def test_coded_sweep_into_a_store_resumes(tmp_path):
    data = coded_config()
    data["detector"] = data["detector"][:2]             # bcjr, viterbi
    data["sweep"]["snr_db"] = [2.0, 4.0]
    data["link"]["xla"] = False          # compiles in a fraction of the time
    cfg = parse_config(data)
    db = tmp_path / "coded.sqlite"
    assert run_sweep(cfg, db) == (4, 0)
    with ResultsStore(db) as st:
        rows = st.points()
    assert len(rows) == 4
    for r in rows:
        assert r["blocks"] > 0 and r["bits"] == r["blocks"] * K
        assert r["symbols"] == r["blocks"] * N // 2
        assert r["block_errors"] >= 5 or r["symbols"] >= 64 * 40
        assert r["bler_lo"] <= r["bler"] <= r["bler_hi"]
        assert r["bler_cp_lo"] <= r["bler"] <= r["bler_cp_hi"]
    assert run_sweep(cfg, db) == (0, 4)                 # resumed: no new
    # the hard curve was decoded from Viterbi's own decisions
    link = build_link(cfg, cfg.channels[0], cfg.detectors[1])
    assert isinstance(link, CodedLink) and link.output == "hard"
    assert link.detector.hard_out
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    # the CLI plots BER and BLER (or what --metric says) and exports them
    from typer.testing import CliRunner

    from rxsim.cli import app
    runner = CliRunner()
    res = runner.invoke(app, ["plot", "--db", str(db), "-o",
                              str(tmp_path / "f.png"), "--metric", "ser,bler"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f.png").stat().st_size > 0
    res = runner.invoke(app, ["plot", "--db", str(db), "-o",
                              str(tmp_path / "g.png"), "--metric", "fer"])
    assert res.exit_code == 2 and "--metric" in res.output
    res = runner.invoke(app, ["export", "--db", str(db), "-o",
                              str(tmp_path / "c.csv")])
    assert res.exit_code == 0
    header = (tmp_path / "c.csv").read_text().splitlines()[0].split(",")
    assert {"block_errors", "blocks", "bler", "bler_lo"} <= set(header)


def test_table_and_plot_of_coded_rows(tmp_path):
    from rxsim.cli import format_table
    from rxsim.plots import default_metrics, plot_ser

    row = dict(detector="bcjr", csi="perfect", channel="isi:L=3",
               snr_db=2.0, errors=10, symbols=1000, ser=0.01, ser_lo=0.005,
               ser_hi=0.02, ber=1e-3, ber_lo=5e-4, ber_hi=2e-3,
               block_errors=3, blocks=100, bler=0.03, bler_lo=0.01,
               bler_hi=0.08)
    table = format_table([row])
    assert "BLER" in table and "3.000e-02" in table
    assert default_metrics([row]) == ("ber", "bler")
    uncoded = dict(row, block_errors=None, blocks=None, bler=None,
                   bler_lo=None, bler_hi=None)
    assert default_metrics([uncoded]) == ("ser",)
    files = plot_ser([row, dict(row, snr_db=3.0, bler=0.0)],
                     tmp_path / "c.png", formats=("png",))
    assert files[0].stat().st_size > 0
    with pytest.raises(ValueError, match="BLER"):
        plot_ser([uncoded], tmp_path / "u.png", metric="bler")
    with pytest.raises(ValueError, match="unknown metric"):
        plot_ser([row], tmp_path / "u.png", metric="fer")
