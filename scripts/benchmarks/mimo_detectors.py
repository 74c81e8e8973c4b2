"""Detection rate (user-symbols per second) of the model-based MIMO
detectors, on 4x4 BPSK SED and 8x8 QPSK Rayleigh
(``python scripts/bench.py --sections mimo_detectors``; or
``python -m scripts.benchmarks.mimo_detectors [--frames F] [--uses T]``,
JSON ``{system: {detector: symbols_per_s}}``). The mode each detector ran
in (XLA, graph, eager) is recorded beside its rate.
"""

import argparse
import json
import time

import tensorflow as tf

__all__ = ["detection_rates", "run", "print_table"]


def detection_rates(detectors, y, no, h, repeats=3):
    """``{name: user-symbols/s}`` of each detector on ``y`` ``[B, T, N]``
    (``B T K`` symbols per call): a warm-up call first, then the minimum
    time over ``repeats`` calls, compiled with ``tf.function(jit_compile=
    True)`` where that works (else ``tf.function``, else eager)."""
    rates = {}
    modes = {}
    for name, det in detectors.items():
        symbols = int(y.shape[0]) * int(y.shape[1]) * det.users
        for mode in ("xla", "graph", "eager"):
            if mode == "eager":
                f = det
            else:
                f = tf.function(det, jit_compile=mode == "xla")
            try:
                f(y, no, h=h).numpy()               # warm-up / compile
                modes[name] = mode
                break
            except Exception:                        # pylint: disable=W0703
                continue
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(y, no, h=h).numpy()
            best = min(best, time.perf_counter() - t0)
        rates[name] = symbols / best
    detection_rates.modes = modes
    return rates


def _systems(frames, uses):
    from channels.mimo import MIMOChannel
    out = {}
    for label, (k, profile, cons, snr) in {
            "4x4 bpsk sed": (4, "sed", "bpsk", 12.0),
            "8x8 qpsk rayleigh": (8, "rayleigh", "qpsk", 12.0)}.items():
        ch = MIMOChannel(k, k, profile=profile, constellation=cons)
        m = ch.constellation.num_points
        s = tf.random.stateless_uniform([frames, uses, k], [1, 2], 0, m,
                                        tf.int32)
        no = 10 ** (-snr / 10)
        y, h = ch(tf.gather(ch.constellation.points, s), no, seed=[3, 4],
                  return_channel=True)
        out[label] = (ch.constellation, y, tf.constant(no, tf.float32), h)
    return out


def run(cfg, frames=None, uses=100, repeats=None):
    """The bench section: ``{system: {detector: {"symbols_per_s",
    "mode"}}}`` (``cfg``: bench settings; ``mimo_frames``,
    ``mimo_repeats``)."""
    from detectors.mimo import MIMOEPDetector, MIMOKBestDetector, \
        MIMOLinearDetector, MIMOMLDetector, MIMOMMSEPICDetector, \
        SoftICDetector
    frames = int(cfg.get("mimo_frames", 20)) if frames is None else frames
    repeats = int(cfg.get("mimo_repeats", 3)) if repeats is None \
        else repeats
    result = {"config": {"frames": frames, "channel_uses": uses,
                         "repeats": repeats, "snr_db": 12.0}}
    for label, (c, y, no, h) in _systems(frames, uses).items():
        h0 = h[0]
        dets = {
            "lmmse": MIMOLinearDetector(h0, constellation=c),
            "zf": MIMOLinearDetector(h0, equalizer="zf", constellation=c),
            "kbest16": MIMOKBestDetector(h0, k=16, constellation=c),
            "ep10": MIMOEPDetector(h0, constellation=c),
            "mmse_pic1": MIMOMMSEPICDetector(h0, constellation=c),
            "soft_ic5": SoftICDetector(h0, constellation=c),
        }
        if c.num_points ** h0.shape[-1] <= 256:    # 8x8 QPSK: 65536 vectors
            dets["ml"] = MIMOMLDetector(h0, constellation=c)
        if c.num_points > 2:
            dets["mmse_pic3"] = MIMOMMSEPICDetector(h0, iterations=3,
                                                    constellation=c)
        rates = detection_rates(dets, y, no, h, repeats=repeats)
        result[label] = {k: {"symbols_per_s": round(v),
                             "mode": detection_rates.modes[k]}
                         for k, v in rates.items()}
    return result


def print_table(sec):
    print(f"\nMIMO detectors, user-symbols/s ({sec['config']['frames']} x "
          f"{sec['config']['channel_uses']} channel uses, 12 dB)")
    for label, rates in sec.items():
        if not isinstance(rates, dict) or label == "config" or \
                "symbols_per_s" not in next(iter(rates.values()), {}):
            continue
        print(f"  {label}")
        for name, r in rates.items():
            print(f"    {name:12s} {r['symbols_per_s']:>12,d}  ({r['mode']})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--uses", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    result = run({}, a.frames, a.uses, a.repeats)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
