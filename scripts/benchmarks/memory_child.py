"""Child program of the memory section: decode one long stream (batch 1)
in this fresh process and print ``RESULT {json}`` with its peak resident
memory. Usage: ``python memory_child.py '{"cls": ..., "L": ..., "n": ...,
"no": ..., "gamma": ..., "kwargs": {...}}'``."""

import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Run by path, this folder is sys.path[0]; its section modules (trellis,
# memory, timing, ...) must not shadow top-level modules of libraries.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(
        os.path.abspath(__file__)):
    del sys.path[0]
# pylint: disable=wrong-import-position
import numpy as np
# imported before the baseline is taken, so the peak is the decoder's own
import tensorflow as tf  # noqa: F401,E402
import detectors  # noqa: E402
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
