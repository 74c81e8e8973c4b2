"""How fast the published-size SBRNN trains, and to what SER, by recipe.

    python scripts/sbrnn_recipes.py [--recipes default,...] [--seeds 0,1,2]

The papers' BPSK channel (L = 4, gamma = 0.2, 8 dB), 5000 pilots, the
published size (3 x 80 units, window 16): each recipe (Adam step size,
batch, epochs, early-stopping patience) fits one model per training seed
(initial weights, shuffling, dropout) on the same pilots; all detect the
same 200 frames of 1000 symbols (with bfloat16 matmuls, which leave
decisions within their interval: tests). Prints, per seed, the fit's
seconds and epochs and the SER; then per recipe the SER pooled over the
seeds and its ratio to the first recipe's, paired frame by frame on the
errors summed over the seeds. One seed is not enough: how far a fast
recipe lands from the default varies from seed to seed by more than the
paired interval of one model (design notes).
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
    parser.add_argument("--seeds", default="0,1,2",
                        help="training seeds, comma-separated")
    args = parser.parse_args(argv)
    names = args.recipes.split(",")
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipes {unknown}; known: {list(RECIPES)}")
    seeds = [int(v) for v in args.seeds.split(",")]
    taps = exponential_taps(4, 0.2)
    y, s = pilot_data(taps, 8.0, 5000, seed=1)
    yt, st = pilot_data(taps, 8.0, 200_000, frame_length=1000, seed=2)
    no = 10 ** -0.8
    errors = {name: np.zeros(st.shape[0], np.int64) for name in names}
    print("| recipe | seed | fit s | epochs (best) | SER |")
    print("|---|---|---|---|---|")
    for seed in seeds:
        for name in names:
            det = SBRNN(16, matmul_dtype="bfloat16", **RECIPES[name])
            t = time.perf_counter()
            hist = det.fit(y, s, seed=seed, verbose=False)
            sec = time.perf_counter() - t
            s_hat = np.argmax(det.log_probs(yt, no).numpy(), -1)
            e = (s_hat != st).sum(axis=1)
            errors[name] += e
            print(f"| {name} | {seed} | {sec:.1f} | {hist['epochs']} "
                  f"({hist.get('best_epoch')}) | {e.sum() / st.size:.3g} |",
                  flush=True)
    print(f"\n| recipe | SER over seeds {args.seeds} | SER / {names[0]} "
          "(paired 95%) |")
    print("|---|---|---|")
    for name in names:
        ratio = "1"
        if name != names[0]:
            c = paired_comparison(errors[name], errors[names[0]],
                                  symbols_per_frame=st.shape[1] * len(seeds))
            lo, hi = c.ratio_ci
            ratio = f"{c.ratio:.3g} [{lo:.3g}, {hi:.3g}] {c.verdict}"
        ser = errors[name].sum() / (st.size * len(seeds))
        print(f"| {name} | {ser:.3g} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
