"""Common random numbers: what simulating each batch's channel once for all
detectors of a point saves.

Under common random numbers every detector of a point sees the same
transmitted frames and noise (the point's batch seeds). The engine draws a
batch once for all detectors of a point and hands the received samples to
each (``rxsim.montecarlo.simulate_points``; the sweep runs the detectors
of a (channel, SNR) together). This section measures that twice:

- **whole sweep** (the issue's measurement): ``configs/quick.toml``'s six
  detectors over its six SNRs, "per_point" (before: every point alone, each
  detector drawing its own batches, ``rxsim.sweep.simulate_sweep_point``)
  against "grouped" (after: the points of each SNR together,
  ``rxsim.sweep.simulate_sweep_points``). The links are built and
  compiled in the warm-up, so the times are the simulation's.
- **one batch** (500 x T 200, 6 dB): "separate" runs the six compiled
  links one after another; "shared" one compiled function that draws the
  batch once and counts all six detectors on it; "shared_draw" draws once
  and runs each detector in its own compiled function (what the engine
  does, so that each detector stops on its own rule).

All give the same counts (checked), so the ratios are the whole saving.
"""

import tensorflow as tf

from .settings import noise_variance
from .timing import Candidate, fmt_ratio, race, ratio, short_error

QUICK_DETECTORS = [("bcjr", "perfect"), ("viterbi", "perfect"),
                   ("maxlog-bcjr", "perfect"), ("bcjr", "perturbed:var=0.1"),
                   ("lmmse", "perfect"), ("symbolwise", "perfect")]
SNR_DB = 6.0


def _sweep_modes(repeats):
    """Records and ratio of the whole quick sweep, per point vs grouped."""
    # pylint: disable=import-outside-toplevel
    from rxsim.config import load_config
    from rxsim.sweep import (point_groups, simulate_sweep_point,
                             simulate_sweep_points, sweep_points)

    from .settings import ROOT

    sweep = load_config(ROOT / "configs" / "quick.toml")
    groups = point_groups(sweep_points(sweep))
    links = {}
    symbols = []

    def per_point():
        results = [simulate_sweep_point(sweep, p, links)
                   for g in groups for p in g]
        symbols[:] = [sum(r.symbols for r in results)]
        return [r.frame_counts for r in results]

    def grouped():
        return [r.frame_counts for g in groups
                for r in simulate_sweep_points(sweep, g, links)]

    per_point()                    # builds and compiles the links
    records, outputs = race(
        [Candidate("sweep_per_point", per_point, symbols[0], "rxsim",
                   "every point alone, its own draws"),
         Candidate("sweep_grouped", grouped, symbols[0], "rxsim",
                   "the points of an SNR together, one draw per batch")],
        repeats)
    same = outputs.get("sweep_per_point") == outputs.get("sweep_grouped")
    return (records, same,
            ratio(records, "sweep_grouped", "sweep_per_point"),
            dict(config="configs/quick.toml", points=len(sweep_points(sweep)),
                 detectors=len(sweep.detectors), snrs=len(sweep.snr_db)))


def run(cfg):
    # pylint: disable=import-outside-toplevel
    import tomllib

    from rxsim.config import parse_config
    from rxsim.montecarlo import batch_seed
    from rxsim.sweep import build_link

    B, T = min(500, cfg["batch"]), 200      # quick run: 100 frames
    text = f"""
[experiment]
name = "bench-shared-channel"
seed = 1
[link]
frame_length = {T}
batch_size = {B}
[channel]
memory = 4
gamma = 0.2
[sweep]
snr_db = [{SNR_DB}]
""" + "".join(f'\n[[detector]]\nname = "{n}"\ncsi = "{c}"\n'
              for n, c in QUICK_DETECTORS)
    sweep = parse_config(tomllib.loads(text))
    links = [build_link(sweep, sweep.channels[0], d)
             for d in sweep.detectors]
    no = tf.constant(noise_variance(SNR_DB), tf.float32)
    seed = batch_seed(12345, 0)
    out = dict(config=dict(batch=B, T=T, snr_db=SNR_DB,
                           detectors=[f"{n} [{c}]"
                                      for n, c in QUICK_DETECTORS]),
               measurements={}, ratios={})

    counts = [tf.function(lambda s, lk=lk: lk.count(B, no, s)["errors"],
                          jit_compile=True) for lk in links]

    def separate():
        return [int(c(seed)) for c in counts]

    first = links[0]

    def errors_of(lk, drawn):
        """Symbol errors of link ``lk``'s receiver on a drawn batch."""
        return lk.count_drawn(drawn, no)["errors"]

    @tf.function(jit_compile=True)
    def shared_step(s):
        drawn = first.draw(B, no, s)
        return tf.stack([errors_of(lk, drawn) for lk in links])

    def shared():
        return [int(e) for e in shared_step(seed).numpy()]

    # The draw once, each detector in its own compiled function (what the
    # engine runs, so that every detector stops on its own rule).
    draw = tf.function(lambda s: first.draw(B, no, s), jit_compile=True)
    detects = [tf.function(lambda drawn, lk=lk: errors_of(lk, drawn),
                           jit_compile=True) for lk in links]

    def shared_draw():
        drawn = draw(seed)
        return [int(d(drawn)) for d in detects]

    sweep_records, sweep_same, sweep_ratio, sweep_cfg = _sweep_modes(
        cfg["repeats"])
    out["sweep"] = dict(config=sweep_cfg, measurements=sweep_records,
                        same_counts=sweep_same,
                        per_point_over_grouped=sweep_ratio)
    records, outputs = race(
        [Candidate("separate", separate, 6 * B * T, "rxsim", "6 links"),
         Candidate("shared", shared, 6 * B * T, "rxsim",
                   "one channel draw, one compiled function"),
         Candidate("shared_draw", shared_draw, 6 * B * T, "rxsim",
                   "one channel draw, six compiled detectors")],
        cfg["repeats"])
    out["measurements"] = records
    try:
        out["same_counts"] = outputs["separate"] == outputs["shared"]
        out["counts"] = outputs["separate"]
        out["same_counts"] &= outputs["separate"] == outputs["shared_draw"]
        for name in ("shared", "shared_draw"):
            out["ratios"][f"separate_over_{name}"] = ratio(records, name,
                                                           "separate")
    except Exception as exc:  # pylint: disable=broad-except
        out["ratios"]["error"] = short_error(exc)
    return out


def print_table(res):
    sw = res.get("sweep", {})
    print("  shared channel, whole quick sweep (36 points): per point / "
          "grouped = "
          f"{fmt_ratio(sw.get('per_point_over_grouped'))}; same counts: "
          f"{sw.get('same_counts')}")
    r = res.get("ratios", {})
    print("  shared channel (6 quick detectors, one batch): separate links / "
          f"one draw = {fmt_ratio(r.get('separate_over_shared'))} (one "
          f"function), {fmt_ratio(r.get('separate_over_shared_draw'))} (six "
          f"detector functions); same counts: {res.get('same_counts')}")
