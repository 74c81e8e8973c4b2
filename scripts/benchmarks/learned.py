"""Learned detectors: training time (first fit with compilation, warm
fits), inference throughput beside the model-based trellis detectors, and
``train_many`` on a grid of ViterbiNets."""

import statistics
import time

import tensorflow as tf

from .settings import GAMMA, TARGETS, noise_variance
from .timing import Candidate, fmt_ratio, race, ratio, short_error, upper_target


LEARNED_SNR_DB = 8.0
SBRNN_SMALL = dict(layers=1, units=16, dropout=0.1, batch_size=256,
                   learning_rate=0.02, epochs=30, patience=5)


def run(cfg):
    from channels import exponential_taps  # pylint: disable=C0415
    from detectors import (BCJRDetector,  # pylint: disable=C0415
                           LearnedFactorGraph, SBRNN, ViterbiDetector,
                           ViterbiNet)
    from detectors.factor_graph import train_many  # pylint: disable=C0415
    from rxsim.pilots import pilot_data  # pylint: disable=C0415

    L, n_pilots = 4, cfg["learned_pilots"]
    taps = exponential_taps(L, GAMMA)
    no = noise_variance(LEARNED_SNR_DB)
    B, T = cfg["learned_batch"], cfg["learned_T"]
    out = dict(config=dict(L=L, gamma=GAMMA, snr_db=LEARNED_SNR_DB,
                           pilots=n_pilots, pilot_frame_length=500,
                           fit_repeats=cfg["learned_fit_repeats"],
                           batch=B, T=T, repeats=cfg["learned_repeats"],
                           many_models=cfg["learned_many"],
                           sbrnn=dict(window=8, **SBRNN_SMALL),
                           note=("fit: wall time of det.fit(y, s, seed=0) "
                                 "on 5000 BPSK pilots (early stopping on a "
                                 "10% validation split); 'first' is the "
                                 "first fit of the architecture in this "
                                 "process (tracing + compilation), 'warm' "
                                 "fresh detectors of the same architecture "
                                 "afterwards. ViterbiNet and "
                                 "LearnedFactorGraph share one compiled "
                                 "training loop (same classifier), so the "
                                 "second one's 'first' fit is warm. "
                                 "Inference: det(y, no) on "
                                 "numpy y, returning numpy.")),
               training={}, inference={}, train_many={}, targets=[])
    y, s = pilot_data(taps, LEARNED_SNR_DB, n_pilots, seed=1)
    makers = {
        "ViterbiNet": lambda: ViterbiNet(L, hard_out=True),
        "LearnedFactorGraph": lambda: LearnedFactorGraph(L),
        "SBRNN_small": lambda: SBRNN(8, **SBRNN_SMALL),
    }
    trained = {}
    for name, make in makers.items():
        rec = dict(status="ok", warm_s=[], epochs=[])
        try:
            det = make()
            t0 = time.perf_counter()
            hist = det.fit(y, s, seed=0, verbose=False)
            rec["first_s"] = time.perf_counter() - t0
            rec["epochs"].append(int(hist["epochs"]))
            for rep in range(cfg["learned_fit_repeats"]):
                det = make()
                t0 = time.perf_counter()
                hist = det.fit(y, s, seed=rep + 1, verbose=False)
                rec["warm_s"].append(time.perf_counter() - t0)
                rec["epochs"].append(int(hist["epochs"]))
        except Exception as exc:  # pylint: disable=broad-except
            out["training"][name] = dict(status="error",
                                         reason=short_error(exc))
            print(f"    fit {name}: ERROR {short_error(exc)}", flush=True)
            continue
        rec["warm_min_s"] = min(rec["warm_s"])
        rec["warm_median_s"] = statistics.median(rec["warm_s"])
        out["training"][name] = rec
        trained[name] = det
        print(f"    fit {name}: first {rec['first_s']:.2f} s, warm min "
              f"{rec['warm_min_s']:.2f} s (epochs {rec['epochs']})",
              flush=True)

    # Inference, model-based references in the same rounds.
    yt, _ = pilot_data(taps, LEARNED_SNR_DB, B * T, frame_length=T, seed=2)
    symbols = B * T
    dets = {"BCJRDetector": BCJRDetector(taps),
            "ViterbiDetector_hard": ViterbiDetector(taps, hard_out=True)}
    dets.update({f"{k}{'_hard' if k == 'ViterbiNet' else ''}": v
                 for k, v in trained.items()})
    # The trellis nets with tabulated classifier metrics (metric_table,
    # 4096 points), the same weights.
    for name in ("ViterbiNet", "LearnedFactorGraph"):
        if name in trained:
            dets[f"{name}{'_hard' if name == 'ViterbiNet' else ''}"
                 "_table4096"] = trained[name].copy(metric_table=4096)
    cands = [Candidate(name, lambda d=d: d(yt, no).numpy(), symbols,
                       "rxsim", "eager") for name, d in dets.items()]
    records, _ = race(cands, cfg["learned_repeats"])
    out["inference"] = records
    for name in records:
        if name != "BCJRDetector":
            records[name]["vs_bcjr"] = ratio(records, name, "BCJRDetector")

    # The same detectors on a small batch (issue 14: at most 2x slower per
    # symbol than the large one): per-symbol rate of the large batch over
    # the small one's, both minimum times.
    Bs = cfg.get("learned_small_batch", 10)
    small = {k: d for k, d in dets.items()
             if k in ("BCJRDetector", "ViterbiNet_hard_table4096",
                      "LearnedFactorGraph_table4096", "ViterbiNet_hard",
                      "LearnedFactorGraph")}
    ys_small = yt[:Bs]
    # As many symbols timed as on the large batch (B / Bs times the
    # repeats): a few-millisecond call's minimum needs more draws.
    small_repeats = cfg["learned_repeats"] * max(1, B // Bs)
    srec, _ = race([Candidate(name, lambda d=d: d(ys_small, no).numpy(),
                              Bs * T, "rxsim", "eager")
                    for name, d in small.items()], small_repeats)
    for name, r in srec.items():
        big = records.get(name, {})
        if r.get("status") == "ok" and big.get("status") == "ok":
            r["large_over_small_per_symbol"] = (
                big["symbols_per_s_min"] / r["symbols_per_s_min"])
    out["small_batch"] = dict(batch=Bs, T=T, repeats=small_repeats,
                              records=srec)

    # train_many: K ViterbiNets, one pilot set each (different seeds).
    K = cfg["learned_many"]
    try:
        ys, ss = zip(*(pilot_data(taps, LEARNED_SNR_DB, n_pilots,
                                  seed=100 + k) for k in range(K)))
        many = [ViterbiNet(L, hard_out=True) for _ in range(K)]
        t0 = time.perf_counter()
        hists = train_many(many, list(ys), list(ss), seed=0, verbose=False)
        total = time.perf_counter() - t0
        out["train_many"] = dict(
            status="ok", models=K, total_s=total, per_model_s=total / K,
            stack="auto (stacked only with a GPU)",
            gpus=len(tf.config.list_physical_devices("GPU")),
            epochs=[int(h["epochs"]) for h in hists],
            model_seconds=[float(h["seconds"]) for h in hists],
            grid_180_estimate_s=180 * total / K)
        print(f"    train_many {K}: {total:.2f} s ({total / K:.3f} s per "
              "model)", flush=True)
    except Exception as exc:  # pylint: disable=broad-except
        out["train_many"] = dict(status="error", reason=short_error(exc))
        print(f"    train_many: ERROR {short_error(exc)}", flush=True)

    tr = out["training"]
    for name in ("ViterbiNet", "LearnedFactorGraph"):
        out["targets"].append(upper_target(
            f"{name}_fit_warm_s", tr.get(name, {}).get("warm_min_s"),
            TARGETS["learned_fit_s"],
            f"warm {name}.fit on {n_pilots} pilots, seconds (at most)"))
    out["targets"].append(upper_target(
        "learned_grid_180_s", out["train_many"].get("grid_180_estimate_s"),
        TARGETS["learned_grid_180_s"],
        "180 models by train_many, seconds (at most; 180 x per-model time "
        f"of {K})"))
    return out


def print_table(sec):
    cfg = sec["config"]
    print(f"\nLearned detectors: BPSK L={cfg['L']}, {cfg['snr_db']} dB, "
          f"{cfg['pilots']} pilots; fit seconds (first = with compilation,"
          f" warm = min / median of {cfg['fit_repeats']}; the two trellis "
          "nets share one compiled loop)")
    for name, r in sec["training"].items():
        if r.get("status") != "ok":
            print(f"  {name:22s} {r.get('status')}: {r.get('reason')}")
            continue
        print(f"  {name:22s} first {r['first_s']:7.2f} s  warm "
              f"{r['warm_min_s']:6.2f} / {r['warm_median_s']:6.2f} s  "
              f"epochs {r['epochs']}")
    print(f"Inference, batch {cfg['batch']} x T {cfg['T']} "
          f"(min / median of {cfg['repeats']})")
    for name, r in sec["inference"].items():
        if r.get("status") != "ok":
            print(f"  {name:22s} {r.get('status')}: {r.get('reason')}")
            continue
        vs = r.get("vs_bcjr")
        print(f"  {name:22s} {r['min_s'] * 1e3:8.1f} / "
              f"{r['median_s'] * 1e3:8.1f} ms  "
              f"{r['symbols_per_s_min'] / 1e6:7.3f} Msym/s  "
              f"{'speed vs BCJR ' + fmt_ratio(vs) if vs else ''}")
    sb = sec.get("small_batch")
    if sb:
        print(f"Small batch {sb['batch']} x T {sb['T']} (per-symbol rate "
              f"of batch {cfg['batch']} over this one's)")
        for name, r in sb["records"].items():
            if r.get("status") == "ok":
                print(f"  {name:28s} {r['symbols_per_s_min'] / 1e6:7.3f} "
                      f"Msym/s  {r.get('large_over_small_per_symbol', 0):.2f}x")
    m = sec.get("train_many", {})
    if m.get("status") == "ok":
        print(f"train_many, {m['models']} ViterbiNets: {m['total_s']:.2f} s"
              f" total, {m['per_model_s']:.3f} s per model (180 models: "
              f"~{m['grid_180_estimate_s']:.0f} s)")
    else:
        print(f"train_many: {m.get('status')}: {m.get('reason')}")
