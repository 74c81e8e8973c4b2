"""How every section times and compares: candidates warmed up once, then
timed in round-robin rounds (background load hits all alike), ratios on
the min and the median of the repeats, pass / fail lines."""

import gc
import statistics
import time


def short_error(exc):
    """One line: the exception type and the last line of its message
    (TensorFlow puts the cause of an error "in user code" there)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    return text if len(text) < 400 else text[:400] + " ..."


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
                                   reason=short_error(exc))
            print(f"    {c.name}: ERROR {short_error(exc)}", flush=True)
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


def upper_target(name, value, threshold, what):
    """A pass/fail line for a figure that must stay *below* ``threshold``."""
    if value is None:
        return dict(name=name, what=what, threshold=threshold,
                    status="unavailable", kind="at_most")
    return dict(name=name, what=what, threshold=threshold, value=value,
                passed=bool(value <= threshold), status="ok", kind="at_most")


def fmt_ratio(r):
    return "-" if r is None else f"{r['min']:.2f}x"
