"""One cache of compiled functions for the whole process.

Tracing and XLA-compiling a recursion, a training step or a link costs
seconds; every block that compiles asks here instead of keeping a
module-level dict of its own.

- :func:`compiled` caches by a key of plain values (shapes, options,
  architecture): a function compiled once is shared by every instance with
  that key, which is why compiled functions take weights, taps and points as
  *inputs* and never capture an instance.
- :func:`compiled_for` caches per object (a link, a code) and forgets the
  entry when the object is garbage-collected. ``build`` must not capture the
  object itself (only a ``weakref`` to it), or it would never be collected.
"""

import weakref

__all__ = ["compiled", "compiled_for", "clear"]

_SHARED = {}
_PER_OWNER = weakref.WeakKeyDictionary()


def compiled(key, build):
    """The function cached under ``key`` (hashable), built by ``build()``
    on first use. Namespace keys by their module, e.g. ``("trellis", ...)``.
    """
    fn = _SHARED.get(key)
    if fn is None:
        fn = _SHARED[key] = build()
    return fn


def compiled_for(owner, key, build):
    """Like :func:`compiled`, but held for ``owner`` (weakly referenced)
    only: dropped with it."""
    entries = _PER_OWNER.get(owner)
    if entries is None:
        entries = _PER_OWNER[owner] = {}
    fn = entries.get(key)
    if fn is None:
        fn = entries[key] = build()
    return fn


def clear():
    """Forget every cached function (frees their graphs; tests, benchmarks)."""
    _SHARED.clear()
    _PER_OWNER.clear()
