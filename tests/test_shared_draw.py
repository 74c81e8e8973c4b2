"""One draw per batch for all links of a point, and links that adopt another
link's receiver: the engine's and the sweep's ways of not doing the same
work twice must not change a single count.

- :func:`rxsim.montecarlo.simulate_points` draws each batch once for links
  with the same ``draw_key`` and gives every link exactly the counts it
  gets alone (per frame), whatever else runs beside it and whenever each
  stops.
- :meth:`rxsim.Link.adopt_receiver` makes a link count exactly as the
  other link does (believed taps, noise variance, learned weights), with
  no new trace of its compiled functions.
- In a sweep, a receiver trained or estimated per point gives the same
  rows whether its curve's link was reused across SNRs or built fresh.
"""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import Block

from channels import ISIChannel
from detectors import (BCJRDetector, SymbolwiseDetector, ViterbiDetector,
                       ViterbiNet)
from detectors import compiled
from rxsim import Link, Transmitter, simulate_point
from rxsim.config import parse_config
from rxsim.montecarlo import simulate_points
from rxsim.pilots import pilot_data
from rxsim.store import ResultsStore
from rxsim.sweep import run_sweep

TAPS = [1.0, 0.6, 0.3]
RUN = dict(batch_size=20, max_symbols=40 * 20 * 50, seed=11, xla=False)


class _OwnChannel(Block):
    """An ISI channel that does not say what it draws (no ``draw_key``):
    its link must draw its own batches."""

    def __init__(self, taps):
        super().__init__()
        self._inner = ISIChannel(taps)

    @property
    def taps(self):
        return self._inner.taps

    def call(self, x, no, seed=None):
        return self._inner(x, no, seed=seed)


class _CountingLink(Link):
    """A link that counts how often its draw runs (a variable, so calls
    inside the compiled function count, not only traces)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.draws = tf.Variable(0, dtype=tf.int64, trainable=False)

    def draw(self, batch_size, no, seed):
        self.draws.assign_add(1)
        return super().draw(batch_size, no, seed)


def _link(detector, channel=None, cls=Link, **kwargs):
    return cls(Transmitter("bpsk"), channel or ISIChannel(TAPS), detector,
               num_symbols=50, **kwargs)


def test_a_group_gives_each_link_its_counts_alone():
    links = [_link(BCJRDetector(TAPS)), _link(ViterbiDetector(TAPS)),
             _link(SymbolwiseDetector(TAPS)),
             _link(BCJRDetector(TAPS), csi="perturbed:var=0.1"),
             _link(ViterbiDetector(TAPS), channel=_OwnChannel(TAPS))]
    finished = []
    together = simulate_points(links, 0.4, target_errors=300,
                               on_result=lambda i, r: finished.append(i),
                               **RUN)
    alone = [simulate_point(link, 0.4, target_errors=300, **RUN)
             for link in links]
    for t, a in zip(together, alone):
        assert t.frame_counts == a.frame_counts
        assert (t.errors, t.symbols, t.batches, t.stop_reason) == \
            (a.errors, a.symbols, a.batches, a.stop_reason)
    # the links stop at different batches (symbol-wise detection first)
    assert len({r.batches for r in together}) > 1
    assert sorted(finished) == list(range(len(links)))
    assert finished[0] == 2
    # the same data: Viterbi on its own channel block = Viterbi in the
    # group (the channel block's own draw is the same function of the seed)
    assert together[4].frame_counts == together[1].frame_counts


def test_one_draw_per_batch_for_links_that_draw_alike():
    links = [_link(d(TAPS), cls=_CountingLink)
             for d in (BCJRDetector, ViterbiDetector, SymbolwiseDetector)]
    results = simulate_points(links, 0.4, target_errors=10**9,
                              max_symbols=4 * 20 * 50, batch_size=20,
                              seed=3, xla=False)
    assert [r.batches for r in results] == [4, 4, 4]
    # the first link draws for the group, once per batch
    assert [int(link.draws.numpy()) for link in links] == [4, 0, 0]


def test_progress_per_link():
    links = [_link(BCJRDetector(TAPS)), _link(SymbolwiseDetector(TAPS))]
    seen = [[], []]
    results = simulate_points(
        links, 0.4, target_errors=200,
        progress=[lambda e, s: seen[0].append((e, s)),
                  lambda e, s: seen[1].append((e, s))], **RUN)
    for r, s in zip(results, seen):
        assert len(s) == r.batches and s[-1] == (r.errors, r.symbols)
    with pytest.raises(ValueError, match="progress"):
        simulate_points(links, 0.4, target_errors=1, progress=[None],
                        **RUN)
    with pytest.raises(ValueError, match="empty"):
        simulate_points([], 0.4, target_errors=1, **RUN)


def _receiver_traces(link):
    fn = compiled.compiled_for(
        link, ("rxsim.montecarlo", "receive", False),
        lambda: pytest.fail("the engine did not cache a compiled receiver"))
    return fn.experimental_get_tracing_count()


def test_adopted_estimates_count_as_the_other_link_without_a_trace():
    first = _link(BCJRDetector(TAPS), believed_taps=[0.9, 0.5, 0.4],
                  noise_variance=0.5)
    other = _link(BCJRDetector(TAPS), believed_taps=[1.1, 0.3, 0.2],
                  noise_variance=0.2)
    mine = simulate_point(first, 0.4, target_errors=300, **RUN)
    traces = _receiver_traces(first)
    theirs = simulate_point(other, 0.4, target_errors=300, **RUN)
    assert mine.frame_counts != theirs.frame_counts     # other knowledge
    first.adopt_receiver(other)
    assert first.noise_variance == pytest.approx(0.2)
    np.testing.assert_allclose(first.believed_taps, [1.1, 0.3, 0.2],
                               rtol=1e-6)
    adopted = simulate_point(first, 0.4, target_errors=300, **RUN)
    assert adopted.frame_counts == theirs.frame_counts
    assert _receiver_traces(first) == traces


def test_adopted_learned_weights_count_as_the_other_link():
    def trained(seed):
        det = ViterbiNet(memory=3, epochs=20, validation=None)
        y, s = pilot_data(TAPS, snr_db=4.0, num_symbols=2000, seed=seed)
        det.fit(y, s, seed=seed, verbose=False)
        return det

    first, other = _link(trained(1)), _link(trained(2))
    mine = simulate_point(first, 0.4, target_errors=300, **RUN)
    traces = _receiver_traces(first)
    theirs = simulate_point(other, 0.4, target_errors=300, **RUN)
    assert mine.frame_counts != theirs.frame_counts
    adopted = simulate_point(first.adopt_receiver(other), 0.4,
                             target_errors=300, **RUN)
    assert adopted.frame_counts == theirs.frame_counts
    assert _receiver_traces(first) == traces
    with pytest.raises(ValueError, match="same configuration"):
        first.detector.set_weights_from(ViterbiNet(memory=2))


@pytest.mark.parametrize("other", [
    lambda: _link(BCJRDetector(TAPS), channel=ISIChannel([1.0, 0.5, 0.3]),
                  believed_taps=TAPS),                  # another channel
    lambda: _link(ViterbiDetector(TAPS), believed_taps=TAPS),
    lambda: _link(BCJRDetector([1.0, 0.5, 0.3]), believed_taps=TAPS),
    lambda: _link(BCJRDetector(TAPS)),                  # no estimates
])
def test_adopt_receiver_refuses_a_link_built_otherwise(other):
    link = _link(BCJRDetector(TAPS), believed_taps=TAPS)
    with pytest.raises(ValueError, match="built the same way"):
        link.adopt_receiver(other())


def test_believed_taps_are_not_a_csi_case_too():
    with pytest.raises(ValueError, match="one of them"):
        _link(BCJRDetector(TAPS), believed_taps=TAPS,
              csi="perturbed:var=0.1")
    with pytest.raises(ValueError, match="shape"):
        _link(BCJRDetector(TAPS), believed_taps=[1.0, 0.5])


_CONFIG = """
[experiment]
name = "adopt"
seed = 5
[link]
frame_length = 100
batch_size = 20
xla = false
[channel]
memory = 3
gamma = 0.5
[sweep]
snr_db = {snrs}
target_errors = 100
max_symbols = 20_000
[[detector]]
name = "bcjr"
label = "bcjr-ls"
csi = "estimated:from=training"
[[detector]]
name = "viterbinet"
train_symbols = 1000
epochs = 30
"""


def _sweep_rows(tmp_path, name, snrs):
    import tomllib

    cfg = parse_config(tomllib.loads(_CONFIG.format(snrs=snrs)))
    db = tmp_path / f"{name}.sqlite"
    run_sweep(cfg, db)
    with ResultsStore(db) as store:
        return {(r["detector"], r["snr_db"]): (r["errors"],
                                               store.frame_counts(r))
                for r in store.points()}


def test_per_point_receivers_do_not_depend_on_the_reused_link(tmp_path):
    """At 8 dB the sweep over [2, 5, 8] dB reuses each curve's link (it
    adopts the 8 dB receiver after those of 2 and 5 dB); the sweep of 8 dB
    alone builds it fresh. Same rows, frame by frame."""
    reused = _sweep_rows(tmp_path, "reused", "[2, 5, 8]")
    fresh = _sweep_rows(tmp_path, "fresh", "[8]")
    for label in ("bcjr-ls", "viterbinet"):
        assert reused[label, 8.0] == fresh[label, 8.0]
    # and the receivers did change from point to point
    assert reused["bcjr-ls", 2.0][0] > reused["bcjr-ls", 8.0][0]
