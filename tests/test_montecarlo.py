"""Monte Carlo engine: error rates against closed forms, seeding, stopping.

Statistical checks use fixed seeds (so they are deterministic) and 99.9%
Clopper-Pearson intervals, Bonferroni-corrected over the points of a test,
so a correct engine would fail a check with probability < 0.1% for a fresh
seed, while the intervals are narrow enough to reject a wrong formula.
"""

import gc
import itertools
import weakref

import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import norm

import channels
import detectors
import rxsim
from detectors import compiled
from rxsim.counts import CountStages, symbol_counts
from rxsim.montecarlo import (PointResult, batch_seed, point_seed,
                              simulate_point)
from rxsim.stats import clopper_pearson_interval


def Q(x):
    return norm.sf(x)


def awgn_link(constellation=None, num_symbols=100):
    return rxsim.Link(
        rxsim.Transmitter(constellation),
        channels.ISIChannel([1.0], constellation=constellation),
        detectors.SymbolwiseDetector([1.0], constellation=constellation),
        num_symbols)


def ci(errors, trials, family_size=1):
    """Two-sided 99.9% CP interval, Bonferroni over ``family_size``."""
    return clopper_pearson_interval(errors, trials, 1 - 1e-3 / family_size)


def exact_grid_error_rates(constellation, no_per_dim):
    """Exact SER and BER of nearest-point detection on a PAM or square QAM
    grid in white Gaussian noise of variance ``no_per_dim`` per real
    dimension, by integrating the Gaussian over the decision regions
    (intervals / rectangles between midpoints). Bit labels are the binary
    representation of the index (Sionna's convention)."""
    c = detectors.make_constellation(constellation)
    pts = np.asarray(c.points)
    m, k = c.num_points, c.num_bits_per_symbol
    sigma = np.sqrt(no_per_dim)

    def region_probs(coord):
        levels = np.unique(np.round(coord, 12))
        edges = np.concatenate([[-np.inf], (levels[1:] + levels[:-1]) / 2,
                                [np.inf]])
        # p[i, j]: P(coordinate of point i lands in region of level j)
        cdf = norm.cdf((edges[None, :] - coord[:, None]) / sigma)
        p = np.diff(cdf, axis=1)
        owner = np.searchsorted(levels, np.round(coord, 12))
        return p[:, owner]                 # [i, j] over points j

    p = region_probs(pts.real)
    if np.any(pts.imag != 0):
        p = p * region_probs(pts.imag)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    idx = np.arange(m)
    hamming = np.array([[bin(i ^ j).count("1") for j in idx] for i in idx])
    ser = 1.0 - np.mean(np.diag(p))
    ber = np.mean((p * hamming).sum(1)) / k
    return ser, ber


# One batch size for the BPSK link of this module: each new size is a new
# XLA compilation (seconds on 2 cores).
BS = 100


@pytest.fixture(scope="module")
def bpsk_link():
    return awgn_link(None, num_symbols=100)


# --- closed forms ---------------------------------------------------------

def test_bpsk_ser_matches_closed_form(bpsk_link):
    snrs = [0.0, 3.0, 6.0]
    for snr in snrs:
        no = 10 ** (-snr / 10)
        r = simulate_point(bpsk_link, no, batch_size=BS, target_errors=10**9,
                           max_symbols=100_000, seed=point_seed(7, snr))
        lo, hi = ci(r.errors, r.symbols, len(snrs))
        # BPSK +-1 in N(0, no): SER = Q(1/sqrt(no)) (unnormalised SNR = 1/no).
        assert lo <= Q(np.sqrt(1 / no)) <= hi, (snr, r)
        assert r.bit_errors == r.errors and r.bits == r.symbols
        if snr == 3.0:
            # The Eb/N0-style formula Q(sqrt(2/no)) is rejected.
            assert not lo <= Q(np.sqrt(2 / no)) <= hi
            # and so is a 10% error in the rate
            assert not lo <= 1.1 * Q(np.sqrt(1 / no)) <= hi


def test_pam4_ser_and_ber_match_closed_form():
    # Unit-energy M-PAM: points (2i - M + 1) * d/2 with
    # E = (d/2)^2 (M^2 - 1)/3 = 1, so d/2 = sqrt(3/(M^2 - 1)). Each inner
    # point errs on two sides, each outer one on one side:
    # SER = 2 (1 - 1/M) Q((d/2)/sqrt(no))
    #     = 2 (1 - 1/M) Q(sqrt(3/((M^2 - 1) no))).
    link = awgn_link("pam4", num_symbols=100)
    snr, M = 10.0, 4
    no = 10 ** (-snr / 10)
    r = simulate_point(link, no, batch_size=1000, target_errors=10**9,
                       max_symbols=100_000, seed=point_seed(7, "pam4", snr))
    ser = 2 * (1 - 1 / M) * Q(np.sqrt(3 / ((M**2 - 1) * no)))
    ser_grid, ber_grid = exact_grid_error_rates("pam4", no)
    # Two exact routes; they differ only by Sionna's float32 points.
    assert ser_grid == pytest.approx(ser, rel=1e-6)
    lo, hi = ci(r.errors, r.symbols, 2)
    assert lo <= ser <= hi, r
    # BER: popcount(s xor s_hat) against the labelled decision regions.
    lo, hi = ci(r.bit_errors, r.bits, 2)
    assert r.bits == 2 * r.symbols
    assert lo <= ber_grid <= hi, r
    # Counting each symbol error as k bit errors (BER = SER) is rejected.
    assert not lo <= ser <= hi


def test_qam16_ser_and_ber_match_closed_form():
    # Unit-energy square M-QAM = two sqrt(M)-PAMs of energy 1/2 each, noise
    # CN(0, no) = N(0, no/2) per dimension. Per dimension
    # P = 2 (1 - 1/sqrt(M)) Q(sqrt(3/((M-1) no))), and SER = 1 - (1 - P)^2.
    link = awgn_link("qam16", num_symbols=100)
    snr, M = 10.0, 16
    no = 10 ** (-snr / 10)
    r = simulate_point(link, no, batch_size=1000, target_errors=10**9,
                       max_symbols=100_000, seed=point_seed(7, "qam16", snr))
    p = 2 * (1 - 1 / np.sqrt(M)) * Q(np.sqrt(3 / ((M - 1) * no)))
    ser = 1 - (1 - p) ** 2
    ser_grid, ber_grid = exact_grid_error_rates("qam16", no / 2)
    assert ser_grid == pytest.approx(ser, rel=1e-6)
    lo, hi = ci(r.errors, r.symbols, 2)
    assert lo <= ser <= hi, r
    # The approximation 2P (drops the -P^2 term, ~6% high here) is rejected.
    assert not lo <= 2 * p <= hi
    lo, hi = ci(r.bit_errors, r.bits, 2)
    assert r.bits == 4 * r.symbols
    assert lo <= ber_grid <= hi, r


# --- randomness -----------------------------------------------------------

def test_same_seed_is_bit_identical_and_seeds_differ(bpsk_link):
    kw = dict(batch_size=BS, target_errors=10**9, max_symbols=60_000)
    a = simulate_point(bpsk_link, 0.5, seed=11, **kw)
    b = simulate_point(bpsk_link, 0.5, seed=11, **kw)
    c = simulate_point(bpsk_link, 0.5, seed=12, **kw)
    fields = ("errors", "symbols", "bit_errors", "bits", "batches", "ser",
              "ser_ci_wilson", "ser_ci_cp", "seed", "stop_reason")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert a.errors != c.errors
    # Different seeds give different samples, not just different counts.
    s1 = bpsk_link(BS, 0.5, batch_seed(11, 0))[0].numpy()
    s2 = bpsk_link(BS, 0.5, batch_seed(12, 0))[0].numpy()
    assert np.mean(s1 != s2) > 0.4          # ~0.5 for independent streams


def test_batches_use_fold_in_seeds_and_never_repeat(bpsk_link):
    # Engine counts == counts recomputed batch by batch, eagerly, from
    # batch_seed(seed, b): the engine uses exactly that stream...
    seed, no, bs = 99, 0.8, 50
    r = simulate_point(bpsk_link, no, batch_size=bs, target_errors=10**9,
                       max_symbols=5 * bs * 100, seed=seed, xla=False)
    assert r.batches == 5
    per_batch = []
    outs = []
    for b in range(r.batches):
        s, s_hat = bpsk_link(bs, no, batch_seed(seed, b))
        per_batch.append(int(np.sum(s.numpy() != s_hat.numpy())))
        outs.append((s.numpy(), s_hat.numpy()))
    assert sum(per_batch) == r.errors
    # ...and no two batches share symbols or noise.
    seeds = [tuple(batch_seed(seed, b).numpy()) for b in range(r.batches)]
    assert len(set(seeds)) == len(seeds)
    soft = rxsim.Link(bpsk_link.transmitter, bpsk_link.channel,
                      bpsk_link.detector, 100, return_soft=True)
    llr = [soft(bs, no, batch_seed(seed, b))[2].numpy()
           for b in range(r.batches)]
    for i, j in itertools.combinations(range(r.batches), 2):
        assert np.mean(outs[i][0] != outs[j][0]) > 0.3
        assert np.mean(np.isclose(llr[i], llr[j], rtol=0, atol=1e-6)) < 0.01


class _SeedProbe:
    """A link of the engine's protocol (rxsim.counts) that records the seed
    of every batch (graph mode only: the recording is a py_function)."""

    num_symbols = 4
    bits_per_symbol = 1

    def __init__(self):
        self.seeds = []

    def _record(self, seed):
        self.seeds.append(tuple(seed.numpy().tolist()))
        return seed

    def count(self, batch_size, no, seed):
        seed = tf.py_function(self._record, [seed], seed.dtype)
        # 1 symbol error per batch, 2 when seed[1] is odd: the engine's sum
        # is checked against these.
        n_err = 1 + tf.cast(seed[1] % 2, tf.int32)
        shape = [batch_size, self.num_symbols]
        s = tf.zeros(shape, tf.int32)
        pos = tf.reshape(tf.range(batch_size * self.num_symbols), shape)
        return symbol_counts(s, tf.cast(pos < n_err, tf.int32),
                             self.bits_per_symbol)


def test_engine_passes_distinct_fold_in_seeds_and_counts():
    probe = _SeedProbe()
    seen = []
    r = simulate_point(probe, 1.0, batch_size=3, target_errors=10**9,
                       max_symbols=10 * 3 * 4, seed=2**61 + 12345, xla=False,
                       progress=lambda e, s: seen.append((e, s)))
    expected = [tuple(batch_seed(2**61 + 12345, b).numpy().tolist())
                for b in range(10)]
    assert probe.seeds == expected
    assert len(set(expected)) == 10
    errors = sum(1 + (s[1] % 2) for s in expected)
    assert r.errors == errors and r.symbols == 120 and r.batches == 10
    assert seen[-1] == (r.errors, r.symbols)
    assert [s for _, s in seen] == [12 * (b + 1) for b in range(10)]


def test_without_bit_labels_bit_fields_are_none():
    probe = _SeedProbe()
    probe.bits_per_symbol = None              # no bit labels
    r = simulate_point(probe, 1.0, batch_size=2, target_errors=1,
                       max_symbols=1, seed=0, xla=False)
    assert (r.bit_errors, r.bits, r.ber, r.ber_ci_wilson, r.ber_ci_cp) == (
        None,) * 5
    assert r.errors == 1 and r.symbols == 8


def _cached_count_fn(link, xla, part="count"):
    """The engine's compiled ``part`` of ``link`` (``"count"`` for links
    with only ``count``; ``"draw"`` and ``"receive"`` for links that
    draw): fails if the engine did not put one in the compile cache."""
    return compiled.compiled_for(
        link, ("rxsim.montecarlo", part, xla),
        lambda: pytest.fail(f"the engine did not cache a compiled {part}"))


class _ZeroLink:
    """Link-like object that always detects correctly."""

    def count(self, batch_size, no, seed):
        s = tf.zeros([batch_size, 4], tf.int32)
        return symbol_counts(s, s)


def test_compiled_cache_does_not_keep_links_alive():
    probe = _ZeroLink()
    simulate_point(probe, 1.0, batch_size=2, target_errors=1, max_symbols=1,
                   seed=0, xla=False)
    ref = weakref.ref(probe)
    assert _cached_count_fn(probe, False) is not None
    del probe
    gc.collect()
    assert ref() is None


# --- stopping, compilation, validation -------------------------------------

def test_stops_at_target_errors_on_the_first_batch_reaching_it(bpsk_link):
    seen = []
    # SER ~0.16 at no = 1: ~1600 errors per batch of 10^4 symbols.
    r = simulate_point(bpsk_link, 1.0, batch_size=BS, target_errors=5000,
                       max_symbols=10**9, seed=5,
                       progress=lambda e, s: seen.append((e, s)))
    assert r.stop_reason == "target_errors"
    assert r.errors >= 5000 and seen[-2][0] < 5000
    assert len(seen) == r.batches and seen[-1] == (r.errors, r.symbols)
    assert all(s == BS * 100 * (b + 1) for b, (_, s) in enumerate(seen))
    assert r.ser == r.errors / r.symbols


def test_stops_at_max_symbols_with_overshoot_of_the_last_batch(bpsk_link):
    # No noise: no errors; 25000 symbols of budget -> 3 batches of 10^4.
    r = simulate_point(bpsk_link, 0.0, batch_size=BS, target_errors=1,
                       max_symbols=25_000, seed=5)
    assert r.stop_reason == "max_symbols"
    assert (r.errors, r.symbols, r.batches) == (0, 30_000, 3)
    assert r.ser_ci_cp[0] == 0.0
    assert r.ser_ci_cp[1] == pytest.approx(1 - 0.025 ** (1 / 30_000))


def test_compiled_once_per_link_across_snrs(bpsk_link):
    for no in (0.3, 0.7, 1.1):
        simulate_point(bpsk_link, no, batch_size=BS, target_errors=1,
                       max_symbols=1, seed=1)
    fns = [_cached_count_fn(bpsk_link, True, part)
           for part in ("draw", "receive")]
    # a new batch size would add a trace; new SNRs and seeds must not
    before = [fn.experimental_get_tracing_count() for fn in fns]
    for no in (0.2, 0.9):
        simulate_point(bpsk_link, no, batch_size=BS, target_errors=1,
                       max_symbols=1, seed=2)
    assert [fn.experimental_get_tracing_count() for fn in fns] == before


def test_result_fields_and_to_dict(bpsk_link):
    r = simulate_point(bpsk_link, 1.0, batch_size=BS, target_errors=100,
                       max_symbols=10**6, seed=3, confidence=0.9)
    d = r.to_dict()
    assert set(d) == {f for f in PointResult.__dataclass_fields__}
    assert d["confidence"] == 0.9 and d["seed"] == 3
    assert r.ser_ci_wilson[0] <= r.ser <= r.ser_ci_wilson[1]
    assert r.ber_ci_cp[0] <= r.ber <= r.ber_ci_cp[1]
    assert r.wall_time > 0
    assert all(type(d[k]) is int for k in ("errors", "symbols", "batches"))
    with pytest.raises(AttributeError):
        r.errors = 0                                      # frozen


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(target_errors=0), ValueError, "target_errors"),
    (dict(max_symbols=-1), ValueError, "max_symbols"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.0), TypeError, "seed"),
    (dict(seed=2**63), ValueError, "seed"),
    (dict(batch_size=True), ValueError, "batch_size"),
    (dict(confidence=1.0), ValueError, "confidence"),
    (dict(progress="bar"), TypeError, "progress"),
    (dict(no=-0.1), ValueError, "no"),
    (dict(no=float("nan")), ValueError, "no"),
])
def test_bad_arguments(bpsk_link, kwargs, exc, word):
    args = dict(no=1.0, batch_size=10, target_errors=10, max_symbols=100,
                seed=1)
    args.update(kwargs)
    no = args.pop("no")
    with pytest.raises(exc, match=word):
        simulate_point(bpsk_link, no, **args)


def test_bad_link():
    with pytest.raises(TypeError, match="link"):
        simulate_point(object(), 1.0, batch_size=1, target_errors=1,
                       max_symbols=1, seed=0)


# --- point seeds -----------------------------------------------------------

def test_point_seed_is_a_pinned_62_bit_function_of_the_key():
    s = point_seed(2023, "fig9", "viterbi", "exp-decay", "perfect", 6.0)
    # Pinned: a change of canonicalisation or hashing (or a salted hash())
    # would silently change every stored result's seed.
    assert s == point_seed(2023, "fig9", "viterbi", "exp-decay", "perfect", 6)
    assert s == PINNED_SEED
    assert 0 <= s < 2**62
    assert s == point_seed(2023, "fig9", "viterbi", "exp-decay", "perfect",
                           6.0000000000001)
    others = {
        point_seed(2024, "fig9", "viterbi", "exp-decay", "perfect", 6.0),
        point_seed(2023, "fig9", "viterbi", "exp-decay", "perfect", 6.5),
        point_seed(2023, "fig9", "bcjr", "exp-decay", "perfect", 6.0),
        point_seed(2023, "fig9", "viterbi", "exp-decay", "perfect", "6"),
        point_seed(2023, "fig9", "viterbi", "exp-decayperfect", 6.0),
        point_seed(2023, "fig9viterbi", "exp-decay", "perfect", 6.0),
    }
    assert s not in others and len(others) == 6
    assert point_seed(0, -0.0) == point_seed(0, 0.0) == point_seed(0, 0)
    assert point_seed(np.int64(5), np.float32(1.5)) == point_seed(5, 1.5)


PINNED_SEED = 1953644970962866028


def test_point_seed_bad_input():
    with pytest.raises(TypeError, match="sweep_seed"):
        point_seed(1.5, "a")
    with pytest.raises(TypeError, match="key part 0"):
        point_seed(1, [1, 2])
    with pytest.raises(ValueError, match="key part 1"):
        point_seed(1, "a", float("inf"))


def test_uncoded_points_have_no_block_fields(bpsk_link):
    """Block fields belong to coded links (tests/test_coded.py); an uncoded
    point keeps counting symbols, its BER is the raw BER."""
    r = simulate_point(bpsk_link, 1.0, batch_size=BS, target_errors=1,
                       max_symbols=1, seed=4)
    assert (r.block_errors, r.blocks, r.bler, r.bler_ci_wilson,
            r.bler_ci_cp) == (None,) * 5
    assert r.bits == r.symbols and r.bit_errors == r.errors


def test_design_effect_of_bursty_isi_errors_from_the_engine():
    """The engine's ``ser_deff`` is the design effect of the per-frame
    error counts of exactly the batches it ran (recounted eagerly from the
    same batch seeds), and ISI detection errors are bursty (deff > 1)."""
    from rxsim.stats import design_effect, effective_interval
    taps = channels.exponential_taps(4, 0.1)
    link = rxsim.Link(rxsim.Transmitter("bpsk"), channels.ISIChannel(taps),
                      detectors.ViterbiDetector(taps, hard_out=True),
                      num_symbols=100)
    no = 10 ** (-4 / 10)
    res = simulate_point(link, no, batch_size=200, target_errors=10 ** 9,
                         max_symbols=60_000, seed=3, xla=False)
    per_frame = np.concatenate([
        (lambda s, s_hat: (s.numpy() != s_hat.numpy()).sum(axis=1))(
            *link(200, no, batch_seed(3, b))[:2])
        for b in range(res.batches)])
    assert per_frame.sum() == res.errors
    deff = design_effect(int(per_frame.sum()), int((per_frame ** 2).sum()),
                         len(per_frame), 100)
    assert res.ser_deff == pytest.approx(deff)
    assert res.ser_deff > 1.2
    assert res.ser_ci_wilson == effective_interval(res.errors, res.symbols,
                                                   res.ser_deff)


# --- the link protocol (rxsim.counts): new kinds of link, staged counts ------

class _BlockLink:
    """A kind of link the engine has never heard of: no symbol errors, one
    block error per batch, and it stops on block errors."""

    stop_on = "block_errors"

    def count(self, batch_size, no, seed):
        s = tf.zeros([batch_size, 4], tf.int32)
        return {**symbol_counts(s, s),
                "blocks": tf.constant(batch_size, tf.int64),
                "block_errors": tf.constant(1, tf.int64)}


def test_a_new_kind_of_link_says_what_the_engine_stops_on_and_records():
    r = simulate_point(_BlockLink(), 1.0, batch_size=5, target_errors=3,
                       max_symbols=200, seed=0, xla=False)
    assert r.stop_reason == "target_errors" and r.batches == 3
    assert (r.block_errors, r.blocks, r.bler) == (3, 15, 0.2)
    assert r.bler_ci_cp == clopper_pearson_interval(3, 15, 0.95)
    assert (r.errors, r.symbols) == (0, 60)
    assert (r.bits, r.ber, r.ber_ci_wilson) == (None, None, None)


def test_counts_outside_the_protocol_are_refused():
    class Unknown(_BlockLink):
        stop_on = "errors"

        def count(self, batch_size, no, seed):
            return {**super().count(batch_size, no, seed),
                    "erasures": tf.constant(0, tf.int64)}

    with pytest.raises(ValueError, match="erasures"):
        simulate_point(Unknown(), 1.0, batch_size=2, target_errors=1,
                       max_symbols=1, seed=0, xla=False)
    bad = _BlockLink()
    bad.stop_on = "bler"
    with pytest.raises(ValueError, match="stop_on"):
        simulate_point(bad, 1.0, batch_size=2, target_errors=1,
                       max_symbols=1, seed=0, xla=False)


class _Owner:
    """Stands for a shared decoder: the key of a compiled tail."""


def _count_flagged(x):
    return {"blocks": tf.shape(x, out_type=tf.int64)[0],
            "block_errors": tf.reduce_sum(tf.cast(x[:, 0] > 0, tf.int64))}


class _StagedLink:
    """A two-stage link: the front flags every other frame, the shared
    tail counts the flags."""

    stop_on = "block_errors"

    def __init__(self, owner):
        self.owner = owner

    def _front(self, batch_size, no, seed):
        s = tf.zeros([batch_size, 4], tf.int32)
        flags = tf.tile(tf.constant([[1], [0]], tf.int32),
                        [batch_size // 2, 4])
        return symbol_counts(s, s), (flags,)

    def count_stages(self):
        return CountStages(front=self._front, tail=_count_flagged,
                           tail_owner=self.owner,
                           tail_signature=[tf.TensorSpec([None, 4],
                                                         tf.int32)])

    def count(self, batch_size, no, seed):
        counts, carry = self._front(batch_size, no, seed)
        return {**counts, **_count_flagged(*carry)}


def test_staged_links_share_one_compiled_tail_per_owner():
    owner = _Owner()
    links = [_StagedLink(owner), _StagedLink(owner)]
    for link, bs in zip(links, (4, 8)):
        r = simulate_point(link, 1.0, batch_size=bs, target_errors=10**6,
                           max_symbols=3 * bs * 4, seed=1, xla=False)
        assert (r.batches, r.blocks, r.block_errors) == (3, 3 * bs,
                                                         3 * bs // 2)
    tail = compiled.compiled_for(
        owner, ("rxsim.montecarlo", "tail", False),
        lambda: pytest.fail("the engine did not cache the tail"))
    # two links, two batch sizes, one trace of the shared stage
    assert tail.experimental_get_tracing_count() == 1
    assert all(_cached_count_fn(link, False) is not tail for link in links)
