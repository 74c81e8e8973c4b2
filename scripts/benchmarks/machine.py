"""What a benchmark JSON records about the machine it ran on."""

import datetime
import os
import platform

import numpy as np
import tensorflow as tf


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
