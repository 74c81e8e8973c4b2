#!/usr/bin/env python
"""Benchmarks of rxsim against reference implementations, side by side.

Usage::

    python scripts/bench.py [--quick] [-o results/bench.json]
                            [--sections trellis,memory,montecarlo,learned]

Every figure is a ratio measured in one run against a reference run in the
same process (or, for memory, the same child process): absolute timings on
a shared 2-core machine mean little, ratios do. Candidates of one comparison
are warmed up once (tracing and compilation happen there) and then timed in
round-robin rounds, so background load hits all of them alike; the JSON
holds every repeat, their min and median, symbols/s and the ratios.

Sections
--------
trellis
    BPSK, L = 4 (8 states, 16 branches), taps ``exp(-0.2 l)``, 6 dB,
    batch 1000 x T 1000. rxsim ``ViterbiDetector`` (hard), ``BCJRDetector``
    exact and max-log, called eagerly on numpy inputs, and inside a user
    ``tf.function`` without ("graph") and with XLA ("xla"); versus batched
    numpy references (``scripts/numpy_trellis.py``) and Sionna's
    ``ViterbiDecoder`` / ``BCJRDecoder`` on rate-1/2 convolutional codes
    with the same number of trellis steps (constraint length 4: 8 states,
    equal work per step; 5: 16 states, twice the work).
memory
    Peak resident memory of a 10^6-symbol stream (batch 1) decoded in the
    chunked mode, measured in a fresh child process as ``ru_maxrss`` minus
    its value after the imports.
montecarlo
    ``rxsim.montecarlo.simulate_point`` on a BPSK / 1-tap AWGN link versus
    Sionna's ``sim_ber`` (BinarySource -> Mapper -> AWGN -> Demapper, XLA),
    equal batch sizes, a fixed number of batches.
learned
    Learned detectors, BPSK, L = 4, taps ``exp(-0.2 l)``, 8 dB:
    ``ViterbiNet`` and ``LearnedFactorGraph`` (default nets) and a small
    ``SBRNN`` (window 8, 1 x 16 units). Training time on 5000 pilots: the
    first ``fit`` of an architecture (tracing / compilation included) and
    warm fits (fresh detectors of the same architecture, min / median);
    inference throughput on batch x T (100 x 1000) beside ``BCJRDetector``
    / ``ViterbiDetector`` timed in the same rounds; ``train_many`` on 20
    ViterbiNets (total and per model).

The script never asserts a target: it reports pass / fail in the table and
the JSON. A section whose rxsim part is missing or fails is reported as
``{"status": "unavailable" | "error", "reason": ...}``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=wrong-import-position
import argparse
import datetime
import gc
import json
import platform
import statistics
import subprocess
import sys
import textwrap
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy_trellis as nt  # noqa: E402
import tensorflow as tf  # noqa: E402

# Python-side TF warnings (e.g. "retracing" counted per lambda source line
# across our many small tf.functions) are noise here.
tf.get_logger().setLevel("ERROR")

GIB = 2 ** 30

# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------
FULL = dict(batch=1000, T=1000, repeats=7, stream=10 ** 6,
            mc_batch=1000, mc_T=1000, mc_batches=20, mc_repeats=3,
            thread_check_repeats=3,
            learned_pilots=5000, learned_fit_repeats=3, learned_batch=100,
            learned_T=1000, learned_repeats=5, learned_many=20)
QUICK = dict(batch=100, T=1000, repeats=2, stream=10 ** 5,
             mc_batch=100, mc_T=1000, mc_batches=5, mc_repeats=2,
             thread_check_repeats=2,
             learned_pilots=5000, learned_fit_repeats=1, learned_batch=20,
             learned_T=1000, learned_repeats=2, learned_many=5)
MEMORY_L = 4
GAMMA = 0.2
SNR_DB = 6.0
TARGETS = dict(viterbi_vs_numpy=15.0, bcjr_vs_numpy=15.0,
               viterbi_vs_sionna=1.0, stream_peak_gib=1.0,
               montecarlo_vs_sim_ber=1.0, learned_fit_s=2.0,
               learned_grid_180_s=60.0)


def _noise_variance(snr_db):
    return 10.0 ** (-snr_db / 10.0)


def _short_error(exc):
    """One line: the exception type and the last line of its message
    (TensorFlow puts the cause of an error "in user code" there)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    return text if len(text) < 400 else text[:400] + " ..."


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------
class Candidate:
    """One thing to time: ``fn()`` does the whole work and returns a host
    (numpy) result, so asynchronous execution cannot flatter it."""

    def __init__(self, name, fn, symbols, impl, mode, **meta):
        self.name, self.fn, self.symbols = name, fn, int(symbols)
        self.impl, self.mode, self.meta = impl, mode, meta
        self.output = None


def race(candidates, repeats):
    """Warm each candidate up once, then time ``repeats`` round-robin rounds.

    Returns ``(records, outputs)``: ``records[name]`` is the JSON record,
    ``outputs[name]`` the warm-up result (for agreement checks).
    """
    records, outputs, live = {}, {}, []
    for c in candidates:
        base = dict(impl=c.impl, mode=c.mode, symbols=c.symbols, **c.meta)
        t0 = time.perf_counter()
        try:
            out = c.fn()
        except Exception as exc:  # pylint: disable=broad-except
            records[c.name] = dict(base, status="error",
                                   reason=_short_error(exc))
            print(f"    {c.name}: ERROR {_short_error(exc)}", flush=True)
            continue
        warm = time.perf_counter() - t0
        outputs[c.name] = out
        records[c.name] = dict(base, status="ok", warmup_s=warm, times_s=[])
        live.append(c)
        print(f"    {c.name}: warm-up {warm:.2f} s", flush=True)
    for _ in range(repeats):
        for c in live:
            t0 = time.perf_counter()
            c.fn()
            records[c.name]["times_s"].append(time.perf_counter() - t0)
        gc.collect()
    for c in live:
        r = records[c.name]
        r["min_s"] = min(r["times_s"])
        r["median_s"] = statistics.median(r["times_s"])
        r["symbols_per_s_min"] = c.symbols / r["min_s"]
        r["symbols_per_s_median"] = c.symbols / r["median_s"]
    return records, outputs


def ratio(records, fast, slow):
    """Speed-up of ``fast`` over ``slow`` (time of slow / time of fast) on
    the min and on the median of the repeats; None if either failed."""
    a, b = records.get(fast, {}), records.get(slow, {})
    if a.get("status") != "ok" or b.get("status") != "ok":
        return None
    return dict(of=fast, over=slow, min=b["min_s"] / a["min_s"],
                median=b["median_s"] / a["median_s"])


def target(name, r, threshold, what, other_modes=None):
    """A pass/fail line: ``r`` from :func:`ratio` (judged on the min, the
    estimate least disturbed by background load). ``other_modes``: the
    same ratio for other ways of calling, reported alongside."""
    extra = {} if not other_modes else dict(other_modes={
        k: (None if v is None else v["min"]) for k, v in other_modes.items()})
    if r is None:
        return dict(name=name, what=what, threshold=threshold,
                    status="unavailable", **extra)
    return dict(name=name, what=what, threshold=threshold, value=r["min"],
                value_median=r["median"],
                passed=bool(r["min"] >= threshold), status="ok", **extra)


# --------------------------------------------------------------------------
# Machine info
# --------------------------------------------------------------------------
def machine_info():
    import sionna  # pylint: disable=import-outside-toplevel
    cpu_model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        hostname=platform.node(),
        platform=platform.platform(),
        python=platform.python_version(),
        cpu_model=cpu_model,
        cpu_count=os.cpu_count(),
        cpus_usable=affinity,
        tensorflow=tf.__version__,
        sionna=sionna.__version__,
        numpy=np.__version__,
        tf_intra_op_threads=tf.config.threading.
        get_intra_op_parallelism_threads(),
        tf_inter_op_threads=tf.config.threading.
        get_inter_op_parallelism_threads(),
        gpus=[d.name for d in tf.config.list_physical_devices("GPU")],
        load_average_at_start=list(os.getloadavg()),
        thread_pinning=("none: TensorFlow uses its defaults (0 = all "
                        "cores); numpy references are single-threaded "
                        "elementwise code"),
        env={k: os.environ.get(k) for k in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
            "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS")},
    )


# --------------------------------------------------------------------------
# Section 1: trellis throughput
# --------------------------------------------------------------------------
def isi_data(batch, T, L, gamma, snr_db, seed):
    """BPSK frames with the preamble through ``exp(-gamma l)`` taps
    (numpy, independent of ``channels``)."""
    rng = np.random.default_rng(seed)
    taps = np.exp(-gamma * np.arange(L))
    no = _noise_variance(snr_db)
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
    no = _noise_variance(snr_db)
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
                               f"BCJRDetector ({_short_error(exc)})")
        vit = vit or getattr(model_based, "ViterbiDetector", None)
        bcjr = bcjr or getattr(model_based, "BCJRDetector", None)
    return vit, bcjr, None if vit and bcjr else "not found in detectors"


def section_trellis(cfg):
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
                                               reason=_short_error(exc))
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


# --------------------------------------------------------------------------
# Section 2: peak memory of a long stream
# --------------------------------------------------------------------------
_MEMORY_CHILD = textwrap.dedent(r"""
    import json, os, resource, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import detectors
    try:
        from detectors import model_based
    except ImportError:
        model_based = None

    def vm():   # current and peak resident set of this process, bytes
        out = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1]) * 1024
        return out

    def ru_maxrss():   # Linux: KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    spec = json.loads(sys.argv[1])
    imports = vm()
    ru_imports = ru_maxrss()
    L, n, no = spec["L"], spec["n"], spec["no"]
    rng = np.random.default_rng(7)
    taps = np.exp(-spec["gamma"] * np.arange(L))
    s = rng.integers(0, 2, size=n)
    x = np.where(s == 0, 1.0, -1.0)
    xp = np.concatenate([np.ones(L - 1), x])
    y = (np.convolve(xp, taps)[L - 1:L - 1 + n]
         + np.sqrt(no) * rng.standard_normal(n))
    y = y[None].astype(np.float32)
    del xp, x
    # Restart the high-water mark at the current RSS, so the peak below is
    # the decoder's own, whatever transient the imports had.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before = vm()
    cls = getattr(detectors, spec["cls"], None) or getattr(model_based,
                                                           spec["cls"])
    det = cls(taps, **spec["kwargs"])
    t0 = time.perf_counter()
    out = np.asarray(det(y, no))
    wall = time.perf_counter() - t0
    after = vm()
    hard = out if out.ndim == 2 else out.argmax(-1)
    print("RESULT " + json.dumps(dict(
        rss_after_imports=imports["VmRSS"], hwm_after_imports=imports["VmHWM"],
        rss_before_decode=before["VmRSS"], hwm_reset=reset,
        peak=after["VmHWM"], rss_after_decode=after["VmRSS"],
        ru_maxrss_after_imports=ru_imports, ru_maxrss_after=ru_maxrss(),
        wall_s=wall, ser=float(np.mean(hard[0] != s)))))
""")


def _memory_child(spec, timeout=900):
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, json.dumps(spec)],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            [ROOT, os.environ.get("PYTHONPATH", "")])))
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            # The decoder's peak over the process state after its imports
            # (input block, detector, tracing, XLA compilation, decoding).
            r["delta_bytes"] = r["peak"] - r["rss_after_imports"]
            r["delta_gib"] = r["delta_bytes"] / GIB
            r["status"] = "ok"
            return r
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return dict(status="error", returncode=proc.returncode,
                reason=" | ".join(tail)[-600:])


def _chunk_options():
    """The chunked-mode keyword arguments of the trellis detectors, or
    None when they do not offer one (read from their signatures)."""
    import inspect  # pylint: disable=import-outside-toplevel
    cls, _, why = trellis_detectors()
    if cls is None:
        return None, why
    params = inspect.signature(cls.__init__).parameters
    if "chunk_size" in params:
        return "chunk_size", None
    return None, ("ViterbiDetector has no chunked/continuous option "
                  f"(parameters: {', '.join(params)})")


def section_memory(cfg):
    n = cfg["stream"]
    no = _noise_variance(SNR_DB)
    base = dict(L=MEMORY_L, n=n, no=no, gamma=GAMMA)
    out = dict(config=dict(stream_symbols=n, batch=1, L=MEMORY_L,
                           gamma=GAMMA, snr_db=SNR_DB,
                           method=(
                               "fresh child process per run: peak RSS "
                               "(VmHWM, high-water mark restarted via "
                               "/proc/self/clear_refs just before the "
                               "detector is built) minus RSS after importing "
                               "numpy, tensorflow and detectors"),
                           why_not_ru_maxrss=(
                               "getrusage(RUSAGE_SELF).ru_maxrss of a "
                               "child started from this (large) process "
                               "carries the parent's peak across exec "
                               "(Linux keeps the old mm's high-water mark "
                               "in signal->maxrss), so it is recorded "
                               "(ru_maxrss_*) but not used")),
               runs={}, targets=[])
    key, why = _chunk_options()
    if key is None:
        out["runs"]["chunked"] = dict(status="unavailable", reason=why)
        out["targets"].append(dict(name="stream_peak_memory",
                                   status="unavailable", reason=why))
        return out
    chunk = 1000
    out["config"]["chunk_size"] = chunk
    runs = {
        "viterbi_chunked": dict(base, cls="ViterbiDetector",
                                kwargs=dict(hard_out=True,
                                            chunk_size=chunk)),
        "bcjr_chunked": dict(base, cls="BCJRDetector",
                             kwargs=dict(chunk_size=chunk)),
        # For scale: the same stream decoded as one block.
        "viterbi_whole_block": dict(base, cls="ViterbiDetector",
                                    kwargs=dict(hard_out=True)),
    }
    for name, spec in runs.items():
        print(f"  [{name}]", flush=True)
        try:
            out["runs"][name] = r = _memory_child(spec)
        except subprocess.TimeoutExpired:
            out["runs"][name] = r = dict(status="error", reason="timeout")
        out["runs"][name]["spec"] = spec
        if r["status"] == "ok":
            print(f"    peak - RSS after imports "
                  f"{r['delta_bytes'] / 2**20:.0f} MiB, "
                  f"{r['wall_s']:.1f} s, SER {r['ser']:.4f}", flush=True)
        else:
            print(f"    ERROR {r['reason']}", flush=True)
    for name in ("viterbi_chunked", "bcjr_chunked"):
        r = out["runs"][name]
        if r["status"] != "ok":
            out["targets"].append(dict(name=f"{name}_peak_memory",
                                       status="unavailable",
                                       reason=r.get("reason")))
            continue
        out["targets"].append(dict(
            name=f"{name}_peak_memory", status="ok",
            what=f"peak RSS increase decoding a {n}-symbol stream "
                 "(batch 1) < 1 GiB",
            threshold=TARGETS["stream_peak_gib"], value=r["delta_gib"],
            passed=bool(r["delta_gib"] < TARGETS["stream_peak_gib"]),
            stream_symbols=n, counts_for_target=(n >= 10 ** 6)))
    return out


# --------------------------------------------------------------------------
# Section 3: Monte Carlo engine vs sim_ber
# --------------------------------------------------------------------------
def section_montecarlo(cfg):
    from scipy.stats import norm  # pylint: disable=import-outside-toplevel
    from sionna.phy.channel import AWGN  # pylint: disable=C0415
    from sionna.phy.mapping import (  # pylint: disable=C0415
        BinarySource, Demapper, Mapper)
    from sionna.phy.utils import sim_ber  # pylint: disable=C0415

    B, T, n_batches = cfg["mc_batch"], cfg["mc_T"], cfg["mc_batches"]
    no = _noise_variance(SNR_DB)
    symbols = B * T * n_batches
    out = dict(config=dict(batch=B, T=T, batches=n_batches,
                           symbols_per_run=symbols, snr_db=SNR_DB,
                           noise_variance_per_real_dim=no,
                           repeats=cfg["mc_repeats"],
                           expected_ber=float(norm.sf(1 / np.sqrt(no))),
                           note=("rxsim: real BPSK, w ~ N(0, no); Sionna: "
                                 "Mapper('pam', 1) gives complex symbols, "
                                 "AWGN with variance 2 no (the real part "
                                 "sees no, as in rxsim), Demapper('app', "
                                 "hard_out=True). Both run XLA; wall time "
                                 "of the whole call (sim_ber counts errors "
                                 "eagerly outside its compiled mc_fun, "
                                 "rxsim inside).")),
               measurements={}, ratios={}, targets=[])

    # Sionna reference.
    source, mapper = BinarySource(), Mapper("pam", 1)
    awgn = AWGN()
    demapper = Demapper("app", "pam", 1, hard_out=True)

    @tf.function(jit_compile=True)
    def mc_fun(batch_size, ebno_db):
        n0 = 2.0 * tf.pow(10.0, -ebno_db / 10.0)
        b = source([batch_size, T])
        b_hat = demapper(awgn(mapper(b), n0), n0)
        return b, b_hat

    def sionna_run(iters):
        ber, _ = sim_ber(mc_fun, tf.constant([SNR_DB], tf.float32),
                         batch_size=B, max_mc_iter=iters, early_stop=False,
                         graph_mode="xla", verbose=False)
        return float(ber.numpy()[0])

    cands = [Candidate("sionna_sim_ber_xla",
                       lambda: sionna_run(n_batches), symbols, "sionna",
                       "xla")]
    try:
        import channels  # pylint: disable=import-outside-toplevel
        import detectors  # pylint: disable=import-outside-toplevel
        import rxsim  # pylint: disable=import-outside-toplevel
        from rxsim.montecarlo import simulate_point  # pylint: disable=C0415
    except Exception as exc:  # pylint: disable=broad-except
        out["measurements"]["rxsim_simulate_point_xla"] = dict(
            status="unavailable", reason=_short_error(exc))
        simulate_point = None
    if simulate_point is not None:
        def rxsim_run(link, seed):
            r = simulate_point(link, no, batch_size=B,
                               target_errors=2 ** 62,
                               max_symbols=symbols, seed=seed, xla=True)
            return r.ber

        for name, hard in (("rxsim_simulate_point_xla", False),
                           ("rxsim_simulate_point_xla_hard_out", True)):
            try:
                link = rxsim.Link(rxsim.Transmitter(),
                                  channels.ISIChannel([1.0]),
                                  detectors.SymbolwiseDetector(
                                      [1.0], hard_out=hard),
                                  num_symbols=T)
            except Exception as exc:  # pylint: disable=broad-except
                out["measurements"][name] = dict(status="error",
                                                 reason=_short_error(exc))
                continue
            cands.append(Candidate(
                name, lambda link=link: rxsim_run(link, 1), symbols,
                "rxsim", "xla",
                detector=("SymbolwiseDetector([1.0], hard_out=True)" if hard
                          else "SymbolwiseDetector([1.0])")))
    records, outputs = race(cands, cfg["mc_repeats"])
    for name, ber in outputs.items():
        records[name]["ber"] = ber
        records[name]["bits_per_s_min"] = records[name]["symbols_per_s_min"]
    out["measurements"].update(records)
    m = out["measurements"]
    for name in ("rxsim_simulate_point_xla",
                 "rxsim_simulate_point_xla_hard_out"):
        out["ratios"][f"{name}_vs_sim_ber"] = ratio(m, name,
                                                    "sionna_sim_ber_xla")
    out["targets"].append(target(
        "montecarlo_vs_sim_ber",
        out["ratios"]["rxsim_simulate_point_xla_vs_sim_ber"],
        TARGETS["montecarlo_vs_sim_ber"],
        "rxsim simulate_point (XLA) bits/s >= Sionna sim_ber (XLA) on "
        "BPSK/AWGN, same batch size and number of batches"))
    return out


# --------------------------------------------------------------------------
# Section 4: learned detectors (training time, inference throughput)
# --------------------------------------------------------------------------
LEARNED_SNR_DB = 8.0
SBRNN_SMALL = dict(layers=1, units=16, dropout=0.1, batch_size=256,
                   learning_rate=0.02, epochs=30, patience=5)


def _upper_target(name, value, threshold, what):
    """A pass/fail line for a figure that must stay *below* ``threshold``."""
    if value is None:
        return dict(name=name, what=what, threshold=threshold,
                    status="unavailable", kind="at_most")
    return dict(name=name, what=what, threshold=threshold, value=value,
                passed=bool(value <= threshold), status="ok", kind="at_most")


def section_learned(cfg):
    from channels import exponential_taps  # pylint: disable=C0415
    from detectors import (BCJRDetector,  # pylint: disable=C0415
                           LearnedFactorGraph, SBRNN, ViterbiDetector,
                           ViterbiNet)
    from detectors.factor_graph import train_many  # pylint: disable=C0415
    from rxsim.training import pilot_data  # pylint: disable=C0415

    L, n_pilots = 4, cfg["learned_pilots"]
    taps = exponential_taps(L, GAMMA)
    no = _noise_variance(LEARNED_SNR_DB)
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
                                         reason=_short_error(exc))
            print(f"    fit {name}: ERROR {_short_error(exc)}", flush=True)
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
    cands = [Candidate(name, lambda d=d: d(yt, no).numpy(), symbols,
                       "rxsim", "eager") for name, d in dets.items()]
    records, _ = race(cands, cfg["learned_repeats"])
    out["inference"] = records
    for name in records:
        if name != "BCJRDetector":
            records[name]["vs_bcjr"] = ratio(records, name, "BCJRDetector")

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
        out["train_many"] = dict(status="error", reason=_short_error(exc))
        print(f"    train_many: ERROR {_short_error(exc)}", flush=True)

    tr = out["training"]
    for name in ("ViterbiNet", "LearnedFactorGraph"):
        out["targets"].append(_upper_target(
            f"{name}_fit_warm_s", tr.get(name, {}).get("warm_min_s"),
            TARGETS["learned_fit_s"],
            f"warm {name}.fit on {n_pilots} pilots, seconds (at most)"))
    out["targets"].append(_upper_target(
        "learned_grid_180_s", out["train_many"].get("grid_180_estimate_s"),
        TARGETS["learned_grid_180_s"],
        "180 models by train_many, seconds (at most; 180 x per-model time "
        f"of {K})"))
    return out

# --------------------------------------------------------------------------
# numpy threads: does BLAS threading matter for the references?
# --------------------------------------------------------------------------
_THREAD_CHILD = textwrap.dedent(r"""
    import json, sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import numpy_trellis as nt
    B, T, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    y = rng.standard_normal((B, T)).astype(np.float32)
    taps = np.exp(-0.2 * np.arange(4))
    nt.numpy_viterbi(y, 0.25, taps)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        nt.numpy_viterbi(y, 0.25, taps)
        ts.append(time.perf_counter() - t0)
    print("RESULT " + json.dumps(ts))
""")


def numpy_thread_check(cfg):
    """numpy_viterbi in child processes with default and single BLAS /
    OpenMP threads, alternating; ratio of their best times."""
    res = {"default": [], "single_thread": []}
    single = dict(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                  MKL_NUM_THREADS="1")
    for _ in range(2):
        for name, extra in (("default", {}), ("single_thread", single)):
            proc = subprocess.run(
                [sys.executable, "-c", _THREAD_CHILD, HERE,
                 str(cfg["batch"]), str(cfg["T"]),
                 str(cfg["thread_check_repeats"])],
                capture_output=True, text=True, timeout=600,
                env=dict(os.environ, **extra))
            line = [x for x in proc.stdout.splitlines()
                    if x.startswith("RESULT ")]
            if not line:
                return dict(status="error", reason=proc.stderr[-400:])
            res[name] += json.loads(line[0][len("RESULT "):])
    return dict(status="ok", times_s=res,
                default_over_single_min=min(res["default"])
                / min(res["single_thread"]),
                note="numpy_viterbi, batch x T of the trellis section; "
                     "ratio ~1 means BLAS threads play no role (the "
                     "references are elementwise numpy)")


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def _fmt_ratio(r):
    return "-" if r is None else f"{r['min']:.2f}x"


def print_trellis_table(sec):
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
              f"{_fmt_ratio(vs_np):>9s} {_fmt_ratio(vs[0]):>9s} "
              f"{_fmt_ratio(vs[1]):>9s}")
    print("  (ratios: time of the reference / time of the candidate, on "
          "the min; Sionna = its best mode, conv. code with the same "
          "number of trellis steps)")


def print_memory_table(sec):
    print(f"\nStream memory ({sec['config']['stream_symbols']} symbols, "
          "batch 1): peak RSS increase in a fresh process")
    for name, r in sec["runs"].items():
        if r.get("status") != "ok":
            print(f"  {name:24s} {r.get('status')}: {r.get('reason')}")
        else:
            print(f"  {name:24s} {r['delta_bytes'] / 2**20:8.0f} MiB  "
                  f"(decode {r['wall_s']:.1f} s, SER {r['ser']:.4f})")


def print_mc_table(sec):
    cfg = sec["config"]
    print(f"\nMonte Carlo engine: BPSK / AWGN, {cfg['batches']} batches of "
          f"{cfg['batch']} x {cfg['T']} symbols ({cfg['snr_db']} dB, "
          f"expected BER {cfg['expected_ber']:.4f})")
    for name, rec in sec["measurements"].items():
        if rec.get("status") != "ok":
            print(f"  {name:36s} {rec.get('status')}: {rec.get('reason')}")
            continue
        rr = ratio(sec["measurements"], name, "sionna_sim_ber_xla") \
            if name != "sionna_sim_ber_xla" else None
        print(f"  {name:36s} min {rec['min_s']:7.3f} s  med "
              f"{rec['median_s']:7.3f} s  {rec['bits_per_s_min'] / 1e6:7.2f}"
              f" Mbit/s  BER {rec['ber']:.4f}  vs sim_ber "
              f"{_fmt_ratio(rr)}")


def print_learned_table(sec):
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
              f"{'speed vs BCJR ' + _fmt_ratio(vs) if vs else ''}")
    m = sec.get("train_many", {})
    if m.get("status") == "ok":
        print(f"train_many, {m['models']} ViterbiNets: {m['total_s']:.2f} s"
              f" total, {m['per_model_s']:.3f} s per model (180 models: "
              f"~{m['grid_180_estimate_s']:.0f} s)")
    else:
        print(f"train_many: {m.get('status')}: {m.get('reason')}")


def print_targets(results):
    print("\nTargets (judged on min times; not asserted)")
    for sec in ("trellis", "memory", "montecarlo", "learned"):
        for t in results.get(sec, {}).get("targets", []):
            if t.get("status") != "ok":
                print(f"  {t['name']:34s} UNAVAILABLE "
                      f"{t.get('reason') or ''}")
                continue
            verdict = "PASS" if t["passed"] else "FAIL"
            extra = ""
            if t.get("counts_for_target") is False:
                extra = " (quick run: shorter stream, indicative only)"
            others = t.get("other_modes")
            if others:
                extra += " (" + ", ".join(
                    f"{k} {'-' if v is None else f'{v:.3g}'}"
                    for k, v in others.items()) + ")"
            rel = "at most " if t.get("kind") == "at_most" else ""
            print(f"  {t['name']:34s} {verdict}  {t['value']:.3g} vs "
                  f"threshold {rel}{t['threshold']:g}{extra}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats (smoke run)")
    parser.add_argument("-o", "--output", default=os.path.join(
        "results", "bench.json"), help="JSON output file")
    parser.add_argument("--sections",
                        default="trellis,memory,montecarlo,learned",
                        help="comma-separated subset of sections to run")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    known = {"trellis": section_trellis, "memory": section_memory,
             "montecarlo": section_montecarlo, "learned": section_learned}
    for s in sections:
        if s not in known:
            parser.error(f"unknown section {s!r}; choose from "
                         f"{', '.join(known)}")

    t_start = time.perf_counter()
    results = dict(
        machine=machine_info(), quick=bool(args.quick), settings=cfg,
        notes=dict(
            numpy_reference=("scripts/numpy_trellis.py: single-process "
                             "numpy, float32, vectorised over batch and "
                             "states, Python loop over T, full traceback "
                             "(Viterbi) / log-domain forward-backward with "
                             "np.logaddexp (BCJR); checked against brute "
                             "force in tests/test_numpy_reference.py"),
            timing=("each candidate warmed up once (tracing / XLA "
                    "compilation), then timed in round-robin rounds with "
                    "the others of its group; wall time of a call that "
                    "returns host (numpy) data"),
            ratios=("time of the reference / time of the candidate; "
                    "'min' from the min times (targets), 'median' "
                    "from the medians"),
            sionna=("Sionna decoders in eager mode run a Python loop over "
                    "tf.range (seconds per step batch), so they are timed "
                    "inside tf.function (graph) and with XLA"),
        ))
    print(f"rxsim benchmarks ({'quick' if args.quick else 'full'}); "
          f"{results['machine']['cpu_count']} CPUs, TF "
          f"{results['machine']['tensorflow']}, Sionna "
          f"{results['machine']['sionna']}, numpy "
          f"{results['machine']['numpy']}", flush=True)
    if "trellis" in sections:
        print("numpy thread check", flush=True)
        try:
            results["numpy_threads"] = numpy_thread_check(cfg)
        except Exception as exc:  # pylint: disable=broad-except
            results["numpy_threads"] = dict(status="error",
                                            reason=_short_error(exc))
    for s in sections:
        print(f"\n== {s}", flush=True)
        t0 = time.perf_counter()
        try:
            results[s] = known[s](cfg)
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            results[s] = dict(status="error", reason=_short_error(exc))
        else:
            results[s].setdefault("status", "ok")
        results[s]["section_wall_s"] = time.perf_counter() - t0
    results["total_wall_s"] = time.perf_counter() - t_start
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    if results.get("trellis", {}).get("status") == "ok":
        print_trellis_table(results["trellis"])
    if results.get("memory", {}).get("status") == "ok":
        print_memory_table(results["memory"])
    if results.get("montecarlo", {}).get("status") == "ok":
        print_mc_table(results["montecarlo"])
    if results.get("learned", {}).get("status") == "ok":
        print_learned_table(results["learned"])
    nt_ = results.get("numpy_threads", {})
    if nt_.get("status") == "ok":
        print(f"\nnumpy threads: default / single-thread BLAS time = "
              f"{nt_['default_over_single_min']:.2f}")
    print_targets(results)
    print(f"\ntotal {results['total_wall_s']:.0f} s; load average at start "
          f"{results['machine']['load_average_at_start'][0]:.1f}, at end "
          f"{results['machine']['load_average_at_end'][0]:.1f} "
          f"({results['machine']['cpu_count']} CPUs)")

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=_json_default)
    print(f"wrote {args.output}")
    return 0


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    sys.exit(main())
