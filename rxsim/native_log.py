"""Keep TensorFlow's native start-up log lines off the terminal.

TensorFlow 2.19 writes some lines from C++ (absl) before its own logging
is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them: the cuDNN /
cuBLAS / cuFFT factory registrations, "computation placer already
registered", the XLA service lines of the first compilation. Only the
file descriptor can: :func:`filter_native_log` points fd 2 at a pipe read
by a small filter *process* that drops those lines and forwards everything
else (Python tracebacks, progress bars, error-level native lines that are
not on the known-harmless list, fatal lines). A separate process rather
than a thread, so that what a crashing process wrote last (an abort
message, a fatal check) still reaches the terminal.

This file is also the filter program (``python native_log.py``); it
imports nothing but the standard library.
"""

import os
import re
import select
import sys

__all__ = ["filter_native_log", "is_native_noise", "NativeLogFilter"]

# Ray prints its workers' stderr with a "(task pid=123) " prefix.
_PREFIX = rb"(?:\([^)]*pid=\d+[^)]*\) )?"
# absl: "W0000 00:00:1796158125.836327    5290 computation_placer.cc:177] ..."
_ABSL = re.compile(_PREFIX + rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ "
                   rb"\S+:\d+\] (.*)")
# TensorFlow's own: "2025-09-17 14:44:05.157831: I external/.../x.cc:32] ..."
_TSL = re.compile(_PREFIX + rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) "
                  rb"\S+:\d+\] (.*)")
_ABSL_BANNER = (b"WARNING: All log messages before absl::InitializeLog() is "
                b"called are written to STDERR")
# Error-level lines that are not errors: a CPU-only machine or a pip wheel
# registering its CUDA plugins twice.
_HARMLESS_ERRORS = re.compile(
    rb"Unable to register cu\w+ factory|failed call to cuInit|"
    rb"Could not find cuda drivers|cuda_diagnostics|"
    rb"could not open file to read NUMA node")
# cpu_feature_guard's message continues on a second line.
_CONTINUATION = b"To enable the following instructions:"


def is_native_noise(line):
    """Whether ``line`` (bytes or str, without its line end) is a native
    TensorFlow log line the default output drops: info and warning
    levels, and the known-harmless error-level start-up lines. Fatal
    lines and other error-level lines are kept.

    Example
    -------
    >>> is_native_noise("W0000 00:00:1796158125.836327    5290 "
    ...                 "computation_placer.cc:177] computation placer "
    ...                 "already registered.")
    True
    >>> is_native_noise("Traceback (most recent call last):")
    False
    >>> is_native_noise("F0000 00:00:1.5  7 check.cc:1] Check failed: x")
    False
    """
    if isinstance(line, str):
        line = line.encode("utf-8", "replace")
    line = line.rstrip(b"\r\n")
    if _ABSL_BANNER in line:
        return True
    m = _ABSL.fullmatch(line) or _TSL.fullmatch(line)
    if m is None:
        return False
    level, message = m.groups()
    if level in (b"I", b"W"):
        return True
    return level == b"E" and _HARMLESS_ERRORS.search(message) is not None


# A partial line that may still become a native log line is held back
# until its end arrives; anything else is forwarded at once (progress bars
# redraw with "\r" and never end their line).
_MAYBE_NATIVE = re.compile(rb"(?:\(|[IWEF]\d|\d{4}-|WARNING: All)")


def _may_become_native(rest):
    if not rest:
        return False
    if len(rest) < 12:      # too short to tell: a line's first bytes
        return rest[:1] in b"(IWEF0123456789"
    return _MAYBE_NATIVE.match(rest) is not None


class NativeLogFilter:
    """The filter's line logic, fed with chunks of bytes.

    ``feed(chunk)`` and ``flush()`` return the bytes to forward, with
    their line ends ("\\n", "\\r\\n" or "\\r") as they came.

    Example
    -------
    >>> f = NativeLogFilter()
    >>> f.feed(b"I0000 00:00:1.0  1 service.cc:152] XLA\\nresult: 3\\nI00")
    b'result: 3\\n'
    >>> f.feed(b"00 00:00:1.0  1 x.cc:1] XLA\\n\\r 50%|#####")
    b'\\r 50%|#####'
    """

    def __init__(self):
        self._held = b""
        self._drop_continuation = False

    def feed(self, chunk):
        data = self._held + chunk
        self._held = b""
        out = []
        start = 0
        for m in re.finditer(rb"\r\n|\n|\r", data):
            self._emit(data[start:m.start()], m.group(), out)
            start = m.end()
        rest = data[start:]
        if _may_become_native(rest):
            self._held = rest
        else:
            out.append(rest)
        return b"".join(out)

    def flush(self):
        """Forward a held partial line (its end never came)."""
        rest, self._held = self._held, b""
        return rest

    def _emit(self, line, end, out):
        if self._drop_continuation and line.startswith(_CONTINUATION):
            self._drop_continuation = False
            return
        self._drop_continuation = False
        if is_native_noise(line):
            self._drop_continuation = b"cpu_feature_guard" in line
            return
        out.append(line + end)


def _run_filter(fd_in=0, fd_out=1, hold_s=0.2):
    """Copy ``fd_in`` to ``fd_out`` through :class:`NativeLogFilter` until
    end of file; a partial line waits at most ``hold_s`` seconds."""
    f = NativeLogFilter()
    while True:
        ready, _, _ = select.select([fd_in], [], [], hold_s)
        if not ready:
            _write_all(fd_out, f.flush())
            continue
        chunk = os.read(fd_in, 65536)
        if not chunk:
            _write_all(fd_out, f.flush())
            return
        _write_all(fd_out, f.feed(chunk))


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


_ACTIVE = None


def filter_native_log():
    """From now on, pass this process's fd 2 (stderr) through the filter
    process, so that TensorFlow's native start-up lines are dropped; call
    it before TensorFlow is imported. Idempotent; a no-op where
    ``select`` on pipes or ``os.dup2`` is not available (Windows). At
    exit, stderr is restored and the filter drains what is left.

    Output
    ------
    : bool, whether the filter is active
    """
    global _ACTIVE
    if _ACTIVE is not None:
        return True
    if os.name != "posix":
        return False
    import atexit
    import subprocess

    sys.stderr.flush()
    saved = os.dup(2)
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-I", "-S", __file__],
                            stdin=r, stdout=saved, stderr=saved,
                            close_fds=True)
    os.close(r)
    os.dup2(w, 2)
    os.close(w)
    _ACTIVE = (saved, proc)
    atexit.register(_restore)
    return True


def _restore():
    """Point fd 2 back at the terminal (closing the pipe's last write end
    held here) and let the filter forward what it still holds."""
    global _ACTIVE
    if _ACTIVE is None:
        return
    saved, proc = _ACTIVE
    _ACTIVE = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(saved, 2)
    os.close(saved)
    try:
        # Child processes (a local Ray instance) may still hold the pipe.
        proc.wait(timeout=5)
    except Exception:   # noqa: BLE001 - never fail an exiting process
        pass


if __name__ == "__main__":
    _run_filter()
