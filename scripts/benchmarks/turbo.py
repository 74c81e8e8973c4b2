"""Turbo detection-decoding: coded throughput per pass count.

The setting of ``configs/turbo.toml`` (QPSK, complex 3-tap ISI, 5G LDPC
k = 256, n = 512, 20 BP iterations, -1 dB): BCJR, max-log BCJR and LMMSE
(soft interference cancellation from pass 2) at ``iterations`` = 1, 2, 4,
each run through the Monte Carlo engine (``simulate_point``: the link's
compiled front end with the unrolled turbo loop, then the shared final
decoder) for a fixed number of batches. Reported: information Mbit/s
(decoded bits / s), the time of I passes over the time of one pass of the
same detector (the cost of iterating), and, as the reference in the same
rounds, Sionna's ``LDPC5GDecoder`` alone on the same batch size (what one
decoding costs).
"""

import tensorflow as tf

from .settings import noise_variance
from .timing import Candidate, race

SNR_DB = -1.0
K, N = 256, 512
DETECTORS = ("bcjr", "maxlog-bcjr", "lmmse")
PASSES = (1, 2, 4)


def run(cfg):
    # pylint: disable=import-outside-toplevel
    import numpy as np
    from sionna.phy.fec.ldpc import LDPC5GDecoder

    from channels import ISIChannel
    from rxsim.coded import CodedLink
    from rxsim.montecarlo import simulate_point
    from rxsim.registry import DETECTORS as REGISTRY

    taps = np.exp(-0.2 * np.arange(3)) * np.exp(1j * np.array([0, .8, -1.6]))
    batch = min(200, cfg["batch"])
    batches = 3 if cfg["repeats"] > 2 else 1
    no = noise_variance(SNR_DB)
    bits = K * batch * batches
    candidates, links = [], {}
    for name in DETECTORS:
        for passes in PASSES:
            det = REGISTRY[name].build(taps, "qpsk", {})
            link = CodedLink("qpsk", ISIChannel(taps, constellation="qpsk"),
                             det, k=K, n=N, iterations=passes)
            links[(name, passes)] = link

            def fn(link=link):
                r = simulate_point(link, no, batch_size=batch,
                                   target_errors=10 ** 12,
                                   max_symbols=batch * batches * N // 2,
                                   seed=7, xla=False)
                return r.block_errors
            candidates.append(Candidate(f"{name}_I{passes}", fn, bits,
                                        "rxsim", f"{name}, {passes} pass(es)",
                                        detector=name, iterations=passes))
    link = links[("bcjr", 1)]
    decoder = tf.function(LDPC5GDecoder(link.encoder, num_iter=20))
    llr = tf.random.stateless_normal([batch, N], [1, 2])

    def decode_only():
        out = None
        for _ in range(batches):
            out = decoder(llr)
        return float(tf.reduce_sum(out))
    candidates.append(Candidate("sionna_ldpc_decoder", decode_only, bits,
                                "sionna", "LDPC5GDecoder alone"))
    records, _ = race(candidates, cfg["repeats"])
    out = dict(config=dict(constellation="qpsk", k=K, n=N, num_iter=20,
                           snr_db=SNR_DB, batch=batch, batches=batches),
               measurements=records, per_pass={})
    for name in DETECTORS:
        one = records.get(f"{name}_I1", {})
        for passes in PASSES:
            r = records.get(f"{name}_I{passes}", {})
            if r.get("status") != "ok" or one.get("status") != "ok":
                continue
            out["per_pass"][f"{name}_I{passes}"] = dict(
                mbit_per_s=r["symbols_per_s_min"] / 1e6,
                time_over_one_pass=r["min_s"] / one["min_s"])
    return out


def print_table(sec):
    print(f"\nTurbo detection-decoding ({sec['config']['batch']} codewords x "
          f"{sec['config']['batches']} batch(es), k={K}, n={N}, QPSK, "
          f"{SNR_DB:g} dB)")
    print(f"  {'detector':14s} {'I':>2s} {'Mbit/s':>8s} {'time / I=1':>11s}")
    for key, v in sec["per_pass"].items():
        name, passes = key.rsplit("_I", 1)
        print(f"  {name:14s} {passes:>2s} {v['mbit_per_s']:8.3f} "
              f"{v['time_over_one_pass']:11.2f}")
    d = sec["measurements"].get("sionna_ldpc_decoder", {})
    if d.get("status") == "ok":
        print(f"  {'Sionna decoder alone':17s} "
              f"{d['symbols_per_s_min'] / 1e6:8.3f}")
