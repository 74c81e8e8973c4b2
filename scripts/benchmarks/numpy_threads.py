"""Does BLAS threading matter for the numpy references? ``numpy_viterbi``
in child processes (``threads_child.py``) with default and single
threads."""

import json
import os
import subprocess
import sys

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "threads_child.py")
SCRIPTS = os.path.dirname(os.path.dirname(CHILD))


def run(cfg):
    """numpy_viterbi in child processes with default and single BLAS /
    OpenMP threads, alternating; ratio of their best times."""
    res = {"default": [], "single_thread": []}
    single = dict(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                  MKL_NUM_THREADS="1")
    for _ in range(2):
        for name, extra in (("default", {}), ("single_thread", single)):
            proc = subprocess.run(
                [sys.executable, CHILD, SCRIPTS,
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
