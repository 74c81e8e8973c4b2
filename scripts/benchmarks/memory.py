"""Peak resident memory of a 10^6-symbol stream decoded in the chunked
(continuous) mode, each run in a fresh child process
(``memory_child.py``)."""

import json
import os
import subprocess
import sys

from .settings import GAMMA, GIB, MEMORY_L, SNR_DB, TARGETS, noise_variance
from .trellis import trellis_detectors

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "memory_child.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(CHILD)))


def _memory_child(spec, timeout=900):
    proc = subprocess.run(
        [sys.executable, CHILD, json.dumps(spec)],
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


def run(cfg):
    n = cfg["stream"]
    no = noise_variance(SNR_DB)
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


def print_table(sec):
    print(f"\nStream memory ({sec['config']['stream_symbols']} symbols, "
          "batch 1): peak RSS increase in a fresh process")
    for name, r in sec["runs"].items():
        if r.get("status") != "ok":
            print(f"  {name:24s} {r.get('status')}: {r.get('reason')}")
        else:
            print(f"  {name:24s} {r['delta_bytes'] / 2**20:8.0f} MiB  "
                  f"(decode {r['wall_s']:.1f} s, SER {r['ser']:.4f})")
