"""What truncating a 3GPP TDL channel to L taps costs a trellis detector
(issue 16; a measurement, not yet a config study).

    python scripts/tdl_truncation.py [--model C] [--frames 1000]

QPSK over ``channels.TDLChannel`` (block fading, unit average energy;
delay spread 100 ns, 10 MHz symbol rate, 3.5 GHz), BCJR with perfect CSI
of the kept window of ``L = 3, 4, 5`` taps (``return_taps=True`` gives each
frame's kept taps), the residual taps left in the channel. Two metrics:
``no`` as it is, and ``no + residual_energy`` (the residual taps' average
power counted as noise). Every L and metric sees the same frames (the
same seeds); SER with the engine's frame-based Wilson interval
(``rxsim.montecarlo.PointResult``). Prints a markdown table.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    import numpy as np
    import tensorflow as tf

    from channels import TDLChannel
    from detectors import BCJRDetector
    from rxsim.counts import symbol_counts
    from rxsim.montecarlo import PointResult
    from signals.constellations import constellation_points

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="C")
    parser.add_argument("--memory", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--snr", type=float, nargs="+",
                        default=[10.0, 15.0, 20.0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)

    points = constellation_points("qpsk", tf.float32)
    lines = ["| L | residual energy | SNR | SER, metric no | SER, metric "
             "no + residual |", "|---|---:|---|---|---|"]
    for L in args.memory:
        ch = TDLChannel(args.model, delay_spread=100e-9, symbol_rate=10e6,
                        carrier_frequency=3.5e9, memory=L,
                        constellation="qpsk")
        det = BCJRDetector(np.ones(L, complex), constellation="qpsk")
        for snr in args.snr:
            no = 10.0 ** (-snr / 10.0)
            sent, decided = [], {"no": [], "no + residual": []}
            for b in range(args.frames // args.batch):
                seed = tf.constant([int(snr * 10), b])
                s = tf.random.stateless_uniform(
                    [args.batch, args.length], seed + 7, 0, 4, tf.int32)
                x = tf.gather(points, s)
                y, _, kept = ch(x, no, seed=seed, return_taps=True)
                sent.append(s)
                for name, n in (("no", no),
                                ("no + residual", no + ch.residual_energy)):
                    decided[name].append(tf.argmax(
                        det(y, n, taps=kept), -1, output_type=tf.int32))
            cells = []
            for name in ("no", "no + residual"):
                # the engine's counts and frame-based interval
                r = PointResult.from_counts(symbol_counts(
                    tf.concat(sent, 0), tf.concat(decided[name], 0)))
                lo, hi = r.ser_ci_wilson
                cells.append(f"{r.ser:.3g} [{lo:.3g}, {hi:.3g}]")
            lines.append(f"| {L} | {ch.residual_energy:.3f} | {snr:g} dB | "
                         + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    print(f"\nTDL-{args.model}, 100 ns, 10 MHz, QPSK, BCJR with each frame's "
          f"kept taps; {args.frames} frames x {args.length} symbols per "
          "point\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
