"""Child program of the numpy thread check: time ``numpy_viterbi`` under
this process's BLAS / OpenMP thread settings and print ``RESULT [times]``.
Usage: ``python threads_child.py SCRIPTS_DIR BATCH T REPEATS``."""

import json
import os
import sys
import time

import numpy as np

# Run by path, this folder is sys.path[0]; its section modules (trellis,
# memory, timing, ...) must not shadow top-level modules of libraries.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(
        os.path.abspath(__file__)):
    del sys.path[0]

sys.path.insert(0, sys.argv[1])
import numpy_trellis as nt  # noqa: E402
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
