"""Trellis throughput: rxsim ``ViterbiDetector`` / ``BCJRDetector`` (exact
and max-log; eager, graph and XLA calls) against batched numpy references
(``scripts/numpy_trellis.py``) and Sionna's convolutional decoders with the
same number of trellis steps, with the agreement of their outputs."""

import gc

import numpy as np
import tensorflow as tf

import numpy_trellis as nt

from .settings import GAMMA, SNR_DB, TARGETS, noise_variance
from .timing import Candidate, fmt_ratio, race, ratio, short_error, target


def isi_data(batch, T, L, gamma, snr_db, seed):
    """BPSK frames with the preamble through ``exp(-gamma l)`` taps
    (numpy, independent of ``channels``)."""
    rng = np.random.default_rng(seed)
    taps = np.exp(-gamma * np.arange(L))
    no = noise_variance(snr_db)
    s = rng.integers(0, 2, size=(batch, T))
    x = nt.BPSK_POINTS[s]
    xp = np.concatenate([np.full((batch, L - 1), nt.BPSK_POINTS[0]), x], 1)
    clean = sum(taps[l] * xp[:, L - 1 - l:L - 1 - l + T] for l in range(L))
    y = (clean + np.sqrt(no) * rng.standard_normal((batch, T)))
    return s.astype(np.int32), y.astype(np.float32), taps, no


def conv_code_data(K, batch, k_bits, snr_db, seed):
    """Info bits, encoder and channel LLRs of a rate-1/2 code, constraint
    length K, BPSK over AWGN (noise variance ``no`` per real dimension)."""
    from sionna.phy.fec.conv import ConvEncoder  # pylint: disable=C0415
    rng = np.random.default_rng(seed)
    enc = ConvEncoder(rate=1 / 2, constraint_length=K)
    u = rng.integers(0, 2, size=(batch, k_bits)).astype(np.float32)
    c = enc(tf.constant(u)).numpy()
    no = noise_variance(snr_db)
    y = (1.0 - 2.0 * c) + np.sqrt(no) * rng.standard_normal(c.shape)
    # Sionna's LLR convention: log p(b=1) / p(b=0), bit 0 -> +1.
    llr = (-2.0 * y / no).astype(np.float32)
    return u, enc, tf.constant(llr)


def _rxsim_candidates(prefix, make_det, y, no, symbols, group):
    """Eager (numpy in), graph and XLA user functions around one
    detector."""
    det = make_det()
    y_t = tf.constant(y)
    no_t = tf.constant(no, tf.float32)
    graph = tf.function(lambda a, b: det(a, b), jit_compile=False)
    xla = tf.function(lambda a, b: det(a, b), jit_compile=True)
    return [
        Candidate(f"{prefix}_eager", lambda: np.asarray(det(y, no)),
                  symbols, "rxsim", "eager", group=group),
        Candidate(f"{prefix}_graph", lambda: graph(y_t, no_t).numpy(),
                  symbols, "rxsim", "graph", group=group),
        Candidate(f"{prefix}_xla", lambda: xla(y_t, no_t).numpy(),
                  symbols, "rxsim", "xla", group=group),
    ]


def _sionna_candidates(prefix, make_dec, llrs, symbols, group, modes):
    out = []
    for K, llr in llrs.items():
        dec = make_dec(K)
        for mode in modes:
            f = tf.function(lambda a, d=dec: d(a),
                            jit_compile=(mode == "xla"))
            out.append(Candidate(
                f"{prefix}_K{K}_{mode}", lambda f=f, a=llr: f(a).numpy(),
                symbols, "sionna", mode, group=group, constraint_length=K,
                states=2 ** (K - 1), trellis_steps=symbols))
    return out


def _agreement_hard(a, b, truth):
    return dict(fraction_different=float(np.mean(a != b)),
                ser_a=float(np.mean(a != truth)),
                ser_b=float(np.mean(b != truth)))


def _agreement_soft(a, b, truth):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return dict(max_abs_prob_diff=float(np.max(np.abs(np.exp(a) - np.exp(b)))),
                fraction_decisions_different=float(
                    np.mean(a.argmax(-1) != b.argmax(-1))),
                ser_a=float(np.mean(a.argmax(-1) != truth)),
                ser_b=float(np.mean(b.argmax(-1) != truth)))


def trellis_detectors():
    """``(ViterbiDetector, BCJRDetector, reason)``; the classes are None
    (and ``reason`` says why) when the detectors package lacks them."""
    import detectors  # pylint: disable=import-outside-toplevel
    vit = getattr(detectors, "ViterbiDetector", None)
    bcjr = getattr(detectors, "BCJRDetector", None)
    if vit is None or bcjr is None:
        try:    # written but not exported yet
            from detectors import model_based  # pylint: disable=C0415
        except Exception as exc:  # pylint: disable=broad-except
            return vit, bcjr, ("detectors has no ViterbiDetector / "
                               f"BCJRDetector ({short_error(exc)})")
        vit = vit or getattr(model_based, "ViterbiDetector", None)
        bcjr = bcjr or getattr(model_based, "BCJRDetector", None)
    return vit, bcjr, None if vit and bcjr else "not found in detectors"


def run(cfg):
    from sionna.phy.fec.conv import (  # pylint: disable=C0415
        BCJRDecoder, ViterbiDecoder)

    B, T, L = cfg["batch"], cfg["T"], 4
    symbols = B * T
    s, y, taps, no = isi_data(B, T, L, GAMMA, SNR_DB, seed=20240)
    codes = {K: conv_code_data(K, B, T, SNR_DB, seed=100 + K) for K in (4, 5)}
    llrs = {K: v[2] for K, v in codes.items()}
    gen = {K: v[1].gen_poly for K, v in codes.items()}

    f32 = np.float32
    ViterbiDetector, BCJRDetector, why = trellis_detectors()

    groups = {
        "viterbi": dict(
            numpy=Candidate("numpy_viterbi",
                            lambda: nt.numpy_viterbi(y, no, taps, dtype=f32),
                            symbols, "numpy", "numpy", group="viterbi"),
            rxsim=(None if ViterbiDetector is None else
                   lambda: ViterbiDetector(taps, hard_out=True)),
            sionna=lambda K: ViterbiDecoder(gen_poly=gen[K],
                                            method="soft_llr"),
            sionna_modes=("graph", "xla"),
            sionna_name="sionna_viterbi"),
        "bcjr_exact": dict(
            numpy=Candidate("numpy_bcjr",
                            lambda: nt.numpy_bcjr(y, no, taps, dtype=f32),
                            symbols, "numpy", "numpy", group="bcjr_exact"),
            rxsim=(None if BCJRDetector is None else
                   lambda: BCJRDetector(taps)),
            sionna={"map": lambda K: BCJRDecoder(gen_poly=gen[K],
                                                 algorithm="map",
                                                 hard_out=False),
                    "log": lambda K: BCJRDecoder(gen_poly=gen[K],
                                                 algorithm="log",
                                                 hard_out=False)},
            sionna_modes=("xla",),
            sionna_name="sionna_bcjr"),
        "bcjr_maxlog": dict(
            numpy=Candidate("numpy_bcjr_maxlog",
                            lambda: nt.numpy_bcjr(y, no, taps, max_log=True,
                                                  dtype=f32),
                            symbols, "numpy", "numpy", group="bcjr_maxlog"),
            rxsim=(None if BCJRDetector is None else
                   lambda: BCJRDetector(taps, max_log=True)),
            sionna={"maxlog": lambda K: BCJRDecoder(gen_poly=gen[K],
                                                    algorithm="maxlog",
                                                    hard_out=False)},
            sionna_modes=("xla",),
            sionna_name="sionna_bcjr"),
    }
    rxsim_names = {"viterbi": "rxsim_viterbi", "bcjr_exact": "rxsim_bcjr",
                   "bcjr_maxlog": "rxsim_bcjr_maxlog"}

    out = dict(config=dict(batch=B, T=T, L=L, gamma=GAMMA, snr_db=SNR_DB,
                           noise_variance=no, taps=taps.tolist(),
                           states=2 ** (L - 1), branches=2 ** L,
                           repeats=cfg["repeats"], warmup=1,
                           numpy_dtype="float32",
                           sionna_trellis_steps=symbols,
                           sionna_code="rate 1/2, ConvEncoder gen_poly: "
                           + ", ".join(f"K={K}: {gen[K]}" for K in gen)),
               measurements={}, agreement={}, ratios={}, targets=[])
    for gname, g in groups.items():
        print(f"  [{gname}]", flush=True)
        cands = [g["numpy"]]
        rx = rxsim_names[gname]
        if g["rxsim"] is None:
            out["measurements"][rx] = dict(status="unavailable",
                                           reason=why)
        else:
            try:
                cands += _rxsim_candidates(rx, g["rxsim"], y, no, symbols,
                                           gname)
            except Exception as exc:  # pylint: disable=broad-except
                out["measurements"][rx] = dict(status="error",
                                               reason=short_error(exc))
        makers = g["sionna"] if isinstance(g["sionna"], dict) else \
            {"": g["sionna"]}
        for alg, make in makers.items():
            name = g["sionna_name"] + (f"_{alg}" if alg else "")
            cands += _sionna_candidates(name, make, llrs, symbols, gname,
                                        g["sionna_modes"])
        records, outputs = race(cands, cfg["repeats"])
        out["measurements"].update(records)

        # Correctness next to speed: the same y, the same answers.
        ref = g["numpy"].name
        for name, o in outputs.items():
            if name == ref:
                continue
            if name.startswith("sionna"):
                K = records[name]["constraint_length"]
                hard = o if gname == "viterbi" else (o > 0).astype(f32)
                out["agreement"][name] = dict(
                    ber_info_bits=float(np.mean(hard != codes[K][0])))
            elif gname == "viterbi":
                out["agreement"][name] = _agreement_hard(o, outputs[ref], s)
            else:
                out["agreement"][name] = _agreement_soft(o, outputs[ref], s)
        if ref in outputs:
            truth_ser = (outputs[ref] != s) if gname == "viterbi" else \
                (outputs[ref].argmax(-1) != s)
            out["agreement"][ref] = dict(ser=float(np.mean(truth_ser)))
        del outputs
        gc.collect()

    m = out["measurements"]

    def best(names):
        ok = [n for n in names if m.get(n, {}).get("status") == "ok"]
        return min(ok, key=lambda n: m[n]["min_s"]) if ok else None

    for mode in ("eager", "graph", "xla"):
        for gname, rx, ref in (("viterbi", "rxsim_viterbi", "numpy_viterbi"),
                               ("bcjr_exact", "rxsim_bcjr", "numpy_bcjr"),
                               ("bcjr_maxlog", "rxsim_bcjr_maxlog",
                                "numpy_bcjr_maxlog")):
            out["ratios"][f"{rx}_{mode}_vs_numpy"] = ratio(
                m, f"{rx}_{mode}", ref)
        for K in (4, 5):
            sv = best([f"sionna_viterbi_K{K}_graph",
                           f"sionna_viterbi_K{K}_xla"])
            sb = best([f"sionna_bcjr_map_K{K}_xla",
                           f"sionna_bcjr_log_K{K}_xla"])
            sm = f"sionna_bcjr_maxlog_K{K}_xla"
            out["ratios"][f"rxsim_viterbi_{mode}_vs_sionna_K{K}"] = (
                None if sv is None else ratio(m, f"rxsim_viterbi_{mode}", sv))
            out["ratios"][f"rxsim_bcjr_{mode}_vs_sionna_K{K}"] = (
                None if sb is None else ratio(m, f"rxsim_bcjr_{mode}", sb))
            out["ratios"][f"rxsim_bcjr_maxlog_{mode}_vs_sionna_K{K}"] = (
                ratio(m, f"rxsim_bcjr_maxlog_{mode}", sm))
    for K in (4, 5):
        out["ratios"][f"sionna_viterbi_K{K}_xla_vs_numpy"] = ratio(
            m, f"sionna_viterbi_K{K}_xla", "numpy_viterbi")
        out["ratios"][f"sionna_bcjr_maxlog_K{K}_xla_vs_numpy"] = ratio(
            m, f"sionna_bcjr_maxlog_K{K}_xla", "numpy_bcjr_maxlog")
        for alg in ("map", "log"):
            out["ratios"][f"sionna_bcjr_{alg}_K{K}_xla_vs_numpy"] = ratio(
                m, f"sionna_bcjr_{alg}_K{K}_xla", "numpy_bcjr")

    r = out["ratios"]

    def modes(key):     # key with "{mode}" -> the graph / xla ratios
        return {mode: r[key.format(mode=mode)] for mode in ("graph", "xla")}

    out["targets"] = [
        target("viterbi_vs_numpy", r["rxsim_viterbi_eager_vs_numpy"],
               TARGETS["viterbi_vs_numpy"],
               "rxsim ViterbiDetector (eager call) >= 15x batched numpy "
               "Viterbi", modes("rxsim_viterbi_{mode}_vs_numpy")),
        target("viterbi_vs_sionna_K4",
               r["rxsim_viterbi_eager_vs_sionna_K4"],
               TARGETS["viterbi_vs_sionna"],
               "rxsim ViterbiDetector (eager) faster than Sionna "
               "ViterbiDecoder, constraint length 4 (8 states; its best "
               "mode)", modes("rxsim_viterbi_{mode}_vs_sionna_K4")),
        target("viterbi_vs_sionna_K5",
               r["rxsim_viterbi_eager_vs_sionna_K5"],
               TARGETS["viterbi_vs_sionna"],
               "rxsim ViterbiDetector (eager) faster than Sionna "
               "ViterbiDecoder, constraint length 5 (16 states, 2x work "
               "per step; its best mode)",
               modes("rxsim_viterbi_{mode}_vs_sionna_K5")),
        target("bcjr_vs_numpy", r["rxsim_bcjr_eager_vs_numpy"],
               TARGETS["bcjr_vs_numpy"],
               "rxsim BCJRDetector exact (eager) >= 15x batched numpy "
               "BCJR", modes("rxsim_bcjr_{mode}_vs_numpy")),
    ]
    return out


def print_table(sec):
    m, r = sec["measurements"], sec["ratios"]
    cfg = sec["config"]
    print(f"\nTrellis throughput: BPSK L={cfg['L']} ({cfg['states']} states,"
          f" {cfg['branches']} branches), batch {cfg['batch']} x T "
          f"{cfg['T']}, {cfg['snr_db']} dB; min / median of "
          f"{cfg['repeats']} repeats")
    head = (f"{'candidate':34s} {'min ms':>9s} {'med ms':>9s} "
            f"{'Msym/s':>8s} {'vs numpy':>9s} {'vs Sn K4':>9s} "
            f"{'vs Sn K5':>9s}")
    print(head)
    print("-" * len(head))
    refs = {"viterbi": "numpy_viterbi", "bcjr_exact": "numpy_bcjr",
            "bcjr_maxlog": "numpy_bcjr_maxlog"}
    for name, rec in m.items():
        if rec.get("status") != "ok":
            print(f"{name:34s} {rec.get('status')}: "
                  f"{str(rec.get('reason'))[:80]}")
            continue
        g = rec.get("group")
        vs_np = ratio(m, name, refs[g]) if g in refs and \
            name != refs[g] else None
        vs = [r.get(f"{name}_vs_sionna_K{K}") for K in (4, 5)]
        print(f"{name:34s} {rec['min_s'] * 1e3:9.1f} "
              f"{rec['median_s'] * 1e3:9.1f} "
              f"{rec['symbols_per_s_min'] / 1e6:8.2f} "
              f"{fmt_ratio(vs_np):>9s} {fmt_ratio(vs[0]):>9s} "
              f"{fmt_ratio(vs[1]):>9s}")
    print("  (ratios: time of the reference / time of the candidate, on "
          "the min; Sionna = its best mode, conv. code with the same "
          "number of trellis steps)")
