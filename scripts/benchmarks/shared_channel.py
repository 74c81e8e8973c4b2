"""Common random numbers: what simulating each batch's channel once for all
detectors of a point would save.

Under common random numbers every detector of a point regenerates the same
transmitted frames and noise from the point's batch seeds (each link runs
transmitter -> channel -> detector). The alternative is to draw a batch
once and hand the received samples to every detector. This section times
both on the six detectors of ``configs/quick.toml`` (BPSK, L = 4, gamma
0.2, 6 dB, batch 500 x T 200): "separate" runs the six compiled links one
after another; "shared" runs one compiled function that draws the batch
once and counts the errors of all six detectors on it; "shared_draw"
draws once in one compiled function and runs each detector in its own (as
an engine whose detectors each stop on their own rule would). All give
the same counts (checked), so the ratios are the whole saving.
"""

import tensorflow as tf

from .settings import noise_variance
from .timing import Candidate, fmt_ratio, race, ratio, short_error

QUICK_DETECTORS = [("bcjr", "perfect"), ("viterbi", "perfect"),
                   ("maxlog-bcjr", "perfect"), ("bcjr", "perturbed:var=0.1"),
                   ("lmmse", "perfect"), ("symbolwise", "perfect")]
SNR_DB = 6.0


def run(cfg):
    # pylint: disable=import-outside-toplevel
    import tomllib

    from rxsim.config import parse_config
    from rxsim.counts import symbol_counts
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

    def draw_batch(s):
        """The batch every link draws from seed ``s``: indices, received
        samples and the CSI seed (the split of ``Link.call``)."""
        tx_seed, ch_seed, csi_seed = first.split_seed(s)
        sym, x = first.transmitter(B, T, seed=tx_seed)
        return sym, first.channel(x, no, seed=ch_seed), csi_seed

    def errors_of(lk, sym, y, csi_seed):
        """Symbol errors of link ``lk``'s detector on a drawn batch (the
        receiver half of ``Link.receive``)."""
        if lk.csi is None:
            out_ = lk.detector(y, no)
        else:
            out_ = lk.detector(y, no, taps=lk.csi.believed_taps(
                lk.channel.taps, no, B, seed=csi_seed))
        s_hat = (out_ if out_.dtype.is_integer else
                 tf.argmax(out_, axis=-1, output_type=tf.int32))
        return symbol_counts(sym, s_hat)["errors"]

    @tf.function(jit_compile=True)
    def shared_step(s):
        sym, y, csi_seed = draw_batch(s)
        return tf.stack([errors_of(lk, sym, y, csi_seed) for lk in links])

    def shared():
        return [int(e) for e in shared_step(seed).numpy()]

    # The draw once, each detector in its own compiled function (what an
    # engine that lets every detector stop on its own rule would run).
    draw = tf.function(draw_batch, jit_compile=True)

    def detect_fn(lk):
        return tf.function(lambda sym, y, csi_seed: errors_of(
            lk, sym, y, csi_seed), jit_compile=True)

    detects = [detect_fn(lk) for lk in links]

    def shared_draw():
        sym, y, csi_seed = draw(seed)
        return [int(d(sym, y, csi_seed)) for d in detects]

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
    r = res.get("ratios", {})
    print("  shared channel (6 quick detectors, one batch): separate links / "
          f"one draw = {fmt_ratio(r.get('separate_over_shared'))} (one "
          f"function), {fmt_ratio(r.get('separate_over_shared_draw'))} (six "
          f"detector functions); same counts: {res.get('same_counts')}")
