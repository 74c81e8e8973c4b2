"""Sections of ``scripts/bench.py``, one module per job.

``settings`` (sizes, thresholds), ``timing`` (the round-robin race, ratios,
pass / fail lines), ``machine`` (what the JSON records about the machine),
and one module per section, each with ``run(cfg) -> dict`` and
``print_table(section)``: ``trellis``, ``memory`` (child program
``memory_child.py``), ``montecarlo``, ``learned``, ``training_step``, and
``numpy_threads`` (child program ``threads_child.py``). Child programs are
files run by path in a fresh interpreter.

The modules expect ``scripts/`` on ``sys.path`` (``bench.py`` puts it
there) for ``numpy_trellis``.
"""
