#!/usr/bin/env python
"""Benchmarks of rxsim against reference implementations, side by side.

Usage::

    python scripts/bench.py [--quick] [-o results/bench.json]
                            [--sections trellis,memory,montecarlo,learned,
                                        training_step,shared_channel,turbo,
                                        sbrnn,mimo_detectors,deepsic]

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
    ``ViterbiNet`` and ``LearnedFactorGraph`` (default nets; also with
    ``metric_table=4096``, the classifier tabulated) and a small
    ``SBRNN`` (window 8, 1 x 16 units). Training time on 5000 pilots: the
    first ``fit`` of an architecture (tracing / compilation included) and
    warm fits (fresh detectors of the same architecture, min / median);
    inference throughput on batch x T (100 x 1000) beside ``BCJRDetector``
    / ``ViterbiDetector`` timed in the same rounds, and again on a small
    batch (10 x 1000), timed over as many symbols as the large one
    (10x the repeats), with the large batch's per-symbol speed-up over
    it; ``train_many`` on 20 ViterbiNets (total and per model).
training_step
    The Adam step of the learned detectors, hand-written versus
    ``keras.optimizers.Adam``, in the same compiled full-batch step.
shared_channel
    Common random numbers: the six detectors of ``configs/quick.toml`` on
    one batch (500 x 200, 6 dB), each link regenerating the batch from
    the point's seed ("separate", what sweeps do) against one compiled
    function drawing the batch once for all six ("shared"); same counts.
turbo
    Turbo detection-decoding in the setting of ``configs/turbo.toml``:
    coded (information) Mbit/s of BCJR, max-log BCJR and LMMSE-SIC at 1, 2
    and 4 passes through the engine, the time per pass count over one
    pass, and Sionna's LDPC decoder alone as the reference.
sbrnn
    The SBRNN at the published size (3 x 80, window 16, 5000 pilots)
    against a plain ``keras.Sequential`` of ``Bidirectional(LSTM)``
    layers with Keras' own ``fit`` / ``predict`` (window averaging in
    numpy): seconds per training epoch (batch 128, no early stopping; the
    Keras model also under its ``mixed_bfloat16`` policy) and
    detection symbols/s at stride 1, 2 and 4 and with bfloat16 matmuls
    at stride 1 and 2, with the load average.

Each section is a module of ``scripts/benchmarks/`` (``run`` and
``print_table``); shared timing helpers are in ``benchmarks.timing``,
sizes and thresholds in ``benchmarks.settings``, child programs
(``memory_child.py``, ``threads_child.py``) are files run by path.

The script never asserts a target: it reports pass / fail in the table and
the JSON. A section whose rxsim part is missing or fails is reported as
``{"status": "unavailable" | "error", "reason": ...}``.
"""


import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=wrong-import-position
import argparse
import json
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

import tensorflow as tf  # noqa: E402

# Python-side TF warnings (e.g. "retracing" counted per lambda source line
# across our many small tf.functions) are noise here.
tf.get_logger().setLevel("ERROR")

from benchmarks import (deepsic, learned, machine, memory,  # noqa: E402
                        mimo_detectors, montecarlo, numpy_threads, sbrnn,
                        shared_channel, training_step, trellis, turbo)
from benchmarks.settings import FULL, QUICK  # noqa: E402
from benchmarks.timing import short_error  # noqa: E402

# JSON key -> section module, in run order; training_step's run takes
# the --quick flag, the others the settings dict.
SECTIONS = {"trellis": trellis, "memory": memory, "montecarlo": montecarlo,
            "learned": learned, "training_step": training_step,
            "shared_channel": shared_channel, "turbo": turbo,
            "sbrnn": sbrnn, "mimo_detectors": mimo_detectors,
            "deepsic": deepsic}


def print_targets(results):
    print("\nTargets (judged on min times; not asserted)")
    for sec in SECTIONS:
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
                        default=",".join(SECTIONS),
                        help="comma-separated subset of sections to run")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    known = SECTIONS
    for s in sections:
        if s not in known:
            parser.error(f"unknown section {s!r}; choose from "
                         f"{', '.join(known)}")

    t_start = time.perf_counter()
    results = dict(
        machine=machine.machine_info(), quick=bool(args.quick), settings=cfg,
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
            results["numpy_threads"] = numpy_threads.run(cfg)
        except Exception as exc:  # pylint: disable=broad-except
            results["numpy_threads"] = dict(status="error",
                                            reason=short_error(exc))
    for s in sections:
        print(f"\n== {s}", flush=True)
        t0 = time.perf_counter()
        try:
            results[s] = known[s].run(
                args.quick if s == "training_step" else cfg)
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            results[s] = dict(status="error", reason=short_error(exc))
        else:
            results[s].setdefault("status", "ok")
        results[s]["section_wall_s"] = time.perf_counter() - t0
    results["total_wall_s"] = time.perf_counter() - t_start
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    for s in sections:
        if results[s].get("status") == "ok":
            if s == "training_step":     # the others open with a blank line
                print()
            known[s].print_table(results[s])
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
