"""Ray backend for sweeps: unfinished points run as Ray tasks.

The pending points of each (channel, SNR) of a sweep
(:func:`rxsim.sweep.point_groups`) become one Ray task. The task runs in a
Ray worker process, builds the points' links (a learned detector is
trained there, on that point's pilots) and calls
:func:`rxsim.sweep.simulate_sweep_points`, the same function the local
runner calls (each batch drawn once for the group), so the numbers are
identical to a local run for the same seeds (and the same ``xla``
setting, TensorFlow version and device type).

Trained learned detectors are cached where the local backend caches them
(``<db>.checkpoints/``, see :func:`rxsim.sweep.checkpoint_dir`): the
workers write and read that directory, so a resumed sweep loads models
instead of training them again when the workers share the driver's file
system (on this machine they do; on a cluster without a shared file
system each node keeps its own cache there). Saves are atomic (write,
then rename), so concurrent workers never read a half-written model, and
a damaged one is trained again and reported by the driver
(:class:`rxsim.sweep.CheckpointWarning`).

Only the driver touches the results store: it commits the rows of a group
as its task completes, one transaction per point, so a killed driver loses
at most the groups in flight. Ray re-runs a task whose worker process died
(``max_retries``); a point can therefore be simulated twice, but its row
is written once (``INSERT OR IGNORE`` on the point's key), and a retried
task gives the same numbers anyway.

Workers must be able to ``import rxsim``: on this machine they use the
driver's Python; on a multi-machine cluster install rxsim (the same
version) on every node.

Ray is an optional extra: ``pip install -e ".[ray]"``.
"""

import os
import warnings
from collections import OrderedDict

from .store import ResultsStore
from .sweep import (CheckpointWarning, checkpoint_dir, pending_points,
                    point_groups, record_point, simulate_sweep_points)

__all__ = ["RayNotInstalledError", "import_ray", "run_sweep_ray",
           "MAX_RETRIES"]

#: How often Ray re-runs a point whose worker process died.
MAX_RETRIES = 3
# Links of model-based curves kept per worker process (compiled XLA
# functions are reused across the SNR points of a curve).
# a (channel, SNR) group's links, and a few channels' more
_LINK_CACHE_SIZE = 64
_worker_links = OrderedDict()


class RayNotInstalledError(ImportError):
    """``--backend ray`` without Ray installed."""


def import_ray():
    """The ``ray`` module, or a clear error telling how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalledError(
            "the Ray backend needs Ray, which is not installed; install "
            "the extra with  pip install -e \".[ray]\"  (or "
            "pip install \"ray>=2.30\")") from exc
    return ray


class _WorkerLinks:
    """This worker's link cache, as :func:`simulate_sweep_points` sees it.

    Keys get the point's config hash added (a worker may serve several
    sweeps one after the other); the least recently used links are dropped
    beyond ``_LINK_CACHE_SIZE``.
    """

    def __init__(self, config_hash):
        self._hash = config_hash

    def get(self, key):
        key = (self._hash, key)
        link = _worker_links.get(key)
        if link is not None:
            _worker_links.move_to_end(key)
        return link

    def __setitem__(self, key, link):
        key = (self._hash, key)
        _worker_links[key] = link
        _worker_links.move_to_end(key)
        while len(_worker_links) > _LINK_CACHE_SIZE:
            _worker_links.popitem(last=False)


def _simulate_task(cfg, points, checkpoints):
    """Body of one Ray task: simulate the ``points`` of one group in the
    worker process, caching trained models in ``checkpoints`` (the local
    backend's directory, an absolute path) like the local runner.

    Output: ``(results, notes)``, ``notes`` the messages of the
    :class:`rxsim.sweep.CheckpointWarning` s raised, which the driver
    repeats (a worker's own warnings never reach the terminal)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CheckpointWarning)
        results = simulate_sweep_points(
            cfg, points, _WorkerLinks(points[0].key.config_hash),
            checkpoints=checkpoints)
    notes = []
    for w in caught:
        if issubclass(w.category, CheckpointWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename,
                                   w.lineno)
    return results, notes


def run_sweep_ray(cfg, db_path, on_point=None, address=None, num_cpus=None,
                  max_retries=MAX_RETRIES, object_store_memory=None):
    """Simulate every unfinished point of ``cfg`` as Ray tasks.

    Parameters
    ----------
    cfg : rxsim.config.SweepConfig
    db_path : str or Path of the SQLite store (created if missing)
    on_point : None or callable ``on_point(point, result_or_None)`` after
        each point, in completion order (``None``: skipped as finished).
    address : None or str
        Address of a running Ray cluster (e.g. ``"auto"`` or
        ``"127.0.0.1:6379"`` after ``ray start --head``). ``None`` starts a
        local Ray instance for this sweep (and shuts it down after) unless
        Ray is already initialised in this process, which is then used.
    num_cpus : None or int
        CPUs of the local instance (``None``: all); only without
        ``address``.
    max_retries : int
        Re-runs of a task whose worker died.
    object_store_memory : None or int
        Bytes of the local instance's object store (results are tiny).

    Output
    ------
    : (int, int), points simulated now and points skipped (resumed)
    """
    ray = import_ray()
    if address is not None and num_cpus is not None:
        raise ValueError("`num_cpus` applies to a local Ray instance; a "
                         "cluster given by `address` has its own CPUs.")
    if num_cpus is not None and int(num_cpus) < 1:
        raise ValueError(f"`num_cpus` must be >= 1, got {num_cpus}.")
    with ResultsStore(db_path) as store:
        pending, skipped = pending_points(cfg, store, on_point)
        if not pending:
            return 0, skipped
        started = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
            kwargs = dict(include_dashboard=False, log_to_driver=False,
                          configure_logging=False)
            if address is not None:
                kwargs["address"] = address
            else:
                # "local": a new instance, even where `ray start` left one
                # (ray.init() would connect to that one instead).
                kwargs["address"] = "local"
                kwargs["num_cpus"] = num_cpus
                kwargs["object_store_memory"] = (
                    object_store_memory or 200 * 1024 ** 2)
            try:
                ray.init(**kwargs)
            except ConnectionError as exc:
                if address is None:
                    raise
                raise ConnectionError(
                    f"cannot connect to the Ray cluster at {address!r} "
                    f"({exc}). Is it running (`ray status`)? A cluster "
                    "started by `ray start` uses token authentication in "
                    "recent Ray versions: set RAY_AUTH_MODE=token in this "
                    "shell (the token is read from ~/.ray/auth_token)."
                ) from exc
            started = True
        try:
            task = ray.remote(num_cpus=1, max_retries=int(max_retries))(
                _simulate_task)
            cfg_ref = ray.put(cfg)
            checkpoints = str(checkpoint_dir(db_path).resolve())
            refs = {task.remote(cfg_ref, group, checkpoints): group
                    for group in point_groups(pending)}
            done = 0
            try:
                while refs:
                    ready, _ = ray.wait(list(refs), num_returns=1)
                    for ref in ready:
                        group = refs.pop(ref)
                        results, notes = ray.get(ref)
                        for note in notes:
                            warnings.warn(note, CheckpointWarning,
                                          stacklevel=2)
                        for point, result in zip(group, results):
                            record_point(store, point, result)
                            done += 1
                            if on_point:
                                on_point(point, result)
            except BaseException:
                for ref in refs:        # stop the rest; finished rows stay
                    ray.cancel(ref, force=True)
                raise
            return done, skipped
        finally:
            if started:
                ray.shutdown()
