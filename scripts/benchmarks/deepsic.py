"""DeepSIC's 20 networks (K = N = 4 BPSK SED, I = 5, 5000 pilots at 10
dB, a fixed number of epochs, no early stopping) trained as one stacked
model per iteration against one network at a time (the reference code's
loops), in the same run; and the detection rate (user-symbols/s) of
DeepSIC, the black-box DNN and DetNet on the same frames."""

import os
import time

import numpy as np

from .timing import Candidate, race, ratio

SNR_DB = 10.0
K = N = 4


def run(cfg):
    import tensorflow as tf  # pylint: disable=C0415
    from channels.mimo import MIMOChannel  # pylint: disable=C0415
    from detectors.mimo import DeepSIC, DetNet, MIMODNN  # pylint: disable=C0415

    epochs = int(cfg.get("deepsic_epochs", 20))
    repeats = int(cfg.get("deepsic_repeats", 3))
    frames = int(cfg.get("deepsic_frames", 20))
    no = 10.0 ** (-SNR_DB / 10.0)
    ch = MIMOChannel(K, N, profile="sed")
    h = ch.channel_matrices(1)
    s, y = ch.pilot_frames(h, no, 5000, seed=tf.constant([1, 2]))
    y, s = y.numpy()[0], s.numpy()[0]
    ht = ch.channel_matrices(frames)
    st, yt = ch.pilot_frames(ht, no, 1000, seed=tf.constant([3, 4]))
    yt = yt.numpy()
    out = dict(config=dict(users=K, antennas=N, iterations=5, pilots=5000,
                           epochs=epochs, batch_size=256, snr_db=SNR_DB,
                           test_frames=frames, T=1000, repeats=repeats,
                           load_average_start=os.getloadavg()[0]),
               training={}, inference={})

    # Training: batched (one stacked train_loop per iteration) vs one
    # network at a time (20 train_loop calls); warm-up fit first.
    dets = {True: DeepSIC(K, N, epochs=epochs, validation=0),
            False: DeepSIC(K, N, epochs=epochs, validation=0)}
    times = {True: [], False: []}
    for batched in (True, False):
        dets[batched].fit(y, s, seed=0, batched=batched)   # compilation
    for _ in range(repeats):
        for batched in (True, False):
            t0 = time.perf_counter()
            dets[batched].fit(y, s, seed=0, batched=batched)
            times[batched].append(time.perf_counter() - t0)
    for batched, name in ((True, "batched"), (False, "one_at_a_time")):
        out["training"][name] = dict(
            seconds_min=min(times[batched]), times_s=times[batched],
            seconds_per_epoch_per_network=min(times[batched])
            / (epochs * 5 * K))
        print(f"    DeepSIC fit {name}: {min(times[batched]):.2f} s",
              flush=True)
    out["training"]["one_at_a_time_over_batched"] = (
        min(times[False]) / min(times[True]))
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(dets[True]._variables(),
                               dets[False]._variables()))
    out["training"]["max_weight_difference"] = diff

    # Detection rate (weights barely trained: the rate does not depend on
    # them).
    deepsic = dets[True]
    dnn = MIMODNN(K, N, epochs=5, batch_size=256, validation=0)
    dnn.fit(y, s, seed=0)
    detnet = DetNet(K, N, epochs=2, validation=0)
    detnet.fit(y, s, h.numpy()[0], seed=0)
    user_symbols = yt.shape[0] * yt.shape[1] * K
    cands = [
        Candidate("DeepSIC", lambda: deepsic(yt, no).numpy(), user_symbols,
                  "rxsim", "eager"),
        Candidate("MIMODNN", lambda: dnn(yt, no).numpy(), user_symbols,
                  "rxsim", "eager"),
        Candidate("DetNet", lambda: detnet(yt, no, ht).numpy(),
                  user_symbols, "rxsim", "eager"),
    ]
    records, _ = race(cands, repeats)
    for name in records:
        r = records[name]
        r["user_symbols_per_s_min"] = r.get("symbols_per_s_min")
    records["DeepSIC"]["vs_MIMODNN"] = ratio(records, "DeepSIC", "MIMODNN")
    out["inference"] = records
    out["config"]["load_average_end"] = os.getloadavg()[0]
    return out


def print_table(sec):
    tr = sec["training"]
    c = sec["config"]
    print(f"\nDeepSIC, K = N = {c['users']}, I = {c['iterations']}, "
          f"{c['pilots']} pilots, {c['epochs']} epochs, batch "
          f"{c['batch_size']}")
    for name in ("batched", "one_at_a_time"):
        print(f"  fit {name:14s} {tr[name]['seconds_min']:.2f} s")
    print(f"  one at a time / batched: {tr['one_at_a_time_over_batched']:.2f}"
          f"x (weights agree to {tr['max_weight_difference']:.1e})")
    print("Detection (min of repeats)")
    for name, r in sec["inference"].items():
        rate = r.get("symbols_per_s_min")
        shown = "-" if rate is None else f"{rate:,.0f}"
        print(f"  {name:10s} {shown} user-symbols/s")


if __name__ == "__main__":
    import json
    import sys
    result = run(dict(deepsic_epochs=int(sys.argv[1]) if len(sys.argv) > 1
                      else 20))
    print_table(result)
    print(json.dumps(result, indent=1, default=float))
