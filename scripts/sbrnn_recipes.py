"""How fast the published-size SBRNN trains, and to what SER, by recipe.

    python scripts/sbrnn_recipes.py [--recipes default,fast]

The papers' BPSK channel (L = 4, gamma = 0.2, 8 dB), 5000 pilots, the
published size (3 x 80 units, window 16): each recipe (Adam step size,
batch, epochs, early-stopping patience) fits one model from the same seed
on the same pilots; all detect the same 200 frames of 1000 symbols (with
bfloat16 matmuls, which leave decisions within their interval: tests).
Prints the fit's seconds and epochs, the SER and its ratio to the
default recipe paired frame by frame.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# name -> SBRNN training options (the constructor's defaults: "default")
RECIPES = {
    "default": {},
    "lr3e-3-b256-p3": dict(learning_rate=3e-3, batch_size=256, patience=3,
                           epochs=30),
    "lr1e-2-b256-e10": dict(learning_rate=1e-2, batch_size=256, epochs=10),
    "lr3e-3-b128-p3": dict(learning_rate=3e-3, batch_size=128, patience=3,
                           epochs=30),
}


def main(argv=None):
    from channels import exponential_taps
    from detectors import SBRNN
    from rxsim.paired import paired_comparison
    from rxsim.pilots import pilot_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES))
    args = parser.parse_args(argv)
    names = args.recipes.split(",")
    taps = exponential_taps(4, 0.2)
    y, s = pilot_data(taps, 8.0, 5000, seed=1)
    yt, st = pilot_data(taps, 8.0, 200_000, frame_length=1000, seed=2)
    no = 10 ** -0.8
    errors = {}
    print("| recipe | fit s | epochs (best) | SER | SER / default "
          "(paired 95%) |")
    print("|---|---|---|---|---|")
    for name in names:
        det = SBRNN(16, matmul_dtype="bfloat16", **RECIPES[name])
        t = time.perf_counter()
        hist = det.fit(y, s, seed=0, verbose=False)
        sec = time.perf_counter() - t
        s_hat = np.argmax(det.log_probs(yt, no).numpy(), -1)
        errors[name] = (s_hat != st).sum(axis=1)
        ser = errors[name].sum() / st.size
        ratio = "1"
        if name != names[0]:
            c = paired_comparison(errors[name], errors[names[0]],
                                  symbols_per_frame=st.shape[1])
            lo, hi = c.ratio_ci
            ratio = f"{c.ratio:.3g} [{lo:.3g}, {hi:.3g}] {c.verdict}"
        print(f"| {name} | {sec:.1f} | {hist['epochs']} "
              f"({hist.get('best_epoch')}) | {ser:.3g} | {ratio} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
