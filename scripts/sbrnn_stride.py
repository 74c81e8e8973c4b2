"""What the SBRNN's detection ``stride`` costs in SER, and what it saves.

    python scripts/sbrnn_stride.py [--window 16 --layers 1 --units 32]

One SBRNN trained on 5000 pilots (the papers' BPSK channel, L = 4,
gamma = 0.2, 8 dB), then detecting the same 200 frames of 1000 symbols
with stride 1 (the published algorithm), 2, 4, ... up to the window,
and at strides 1 and 2 with bfloat16 matmuls (``matmul_dtype``): SER,
its ratio to stride 1 (float32) paired frame by frame (the same frames),
and the detection rate (symbols/s, the second call on the same shape).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    from channels import exponential_taps
    from detectors import SBRNN
    from rxsim.paired import paired_comparison
    from rxsim.pilots import pilot_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args(argv)

    taps = exponential_taps(4, 0.2)
    y, s = pilot_data(taps, 8.0, 5000, seed=1)
    yt, st = pilot_data(taps, 8.0, 200_000, frame_length=1000, seed=2)
    no = 10 ** -0.8
    base = SBRNN(args.window, layers=args.layers, units=args.units,
                 batch_size=256, learning_rate=0.01, epochs=args.epochs)
    t = time.perf_counter()
    hist = base.fit(y, s, seed=0, verbose=False)
    print(f"SBRNN W={args.window} {args.layers}x{args.units}: trained "
          f"{hist['epochs']} epochs in {time.perf_counter() - t:.1f} s")
    strides = [k for k in (1, 2, 4, 8, 16, 32) if k <= args.window]
    variants = [(str(k), dict(stride=k)) for k in strides] + [
        (f"{k}, bfloat16 matmuls", dict(stride=k, matmul_dtype="bfloat16"))
        for k in strides[:2]]
    errors = {}
    print("| stride | SER | SER / stride 1 (paired 95%) | symbols/s |")
    print("|---|---|---|---|")
    for label, changes in variants:
        det = base if label == "1" else base.copy(**changes)
        det.log_probs(yt, no)                  # trace for this shape
        t = time.perf_counter()
        s_hat = np.argmax(det.log_probs(yt, no).numpy(), -1)
        rate = st.size / (time.perf_counter() - t)
        errors[label] = (s_hat != st).sum(axis=1)
        ser = errors[label].sum() / st.size
        if label == "1":
            ratio = "1"
        else:
            c = paired_comparison(errors[label], errors["1"],
                                  symbols_per_frame=st.shape[1])
            lo, hi = c.ratio_ci
            ratio = f"{c.ratio:.3g} [{lo:.3g}, {hi:.3g}] {c.verdict}"
        print(f"| {label} | {ser:.3g} | {ratio} | {rate:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
