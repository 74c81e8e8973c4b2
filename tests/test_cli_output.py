"""What a user of ``rxsim sweep`` sees: rxsim's own lines, not
TensorFlow's native start-up log (absl writes it from C++ before
``TF_CPP_MIN_LOG_LEVEL`` is read, so only :mod:`rxsim.native_log`'s filter
of fd 2 removes it), all of it back with ``--verbose``, real errors never
hidden, and a table that does not cut channel labels.

The subprocess tests run the real program (fresh interpreter, real file
descriptors); typer's in-process ``CliRunner`` would not see fd 2.
"""

import os
import re
import subprocess
import sys

import pytest

from rxsim.cli import format_table
from rxsim.native_log import NativeLogFilter, is_native_noise

# Lines of TensorFlow's start-up and first XLA compilation seen on this
# project's machines (TF 2.19 pip wheel, CPU only).
MARKERS = ("absl::InitializeLog", "cuda_dnn.cc", "cuda_blas.cc",
           "cuda_fft.cc", "computation_placer", "service.cc",
           "XLA service", "Could not find cuda drivers", "cpu_feature_guard",
           "device_compiler.h")
# Any native log line, absl ("W0000 00:00:17.5 123 f.cc:1] ...") or
# TensorFlow's own ("2025-01-06 12:46:04.06: I f.cc:1] ...").
NATIVE_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ |"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] )\S+:\d+\]", re.M)
LABEL = "isi:taps=[1,0.5,0.25,0.125]"

TINY = """
[experiment]
name = "tiny"
seed = 1
[link]
constellation = "bpsk"
frame_length = 40
batch_size = 10
[channel]
taps = [1, 0.5, 0.25, 0.125]
[sweep]
snr_db = [4]
target_errors = 5
max_symbols = 400
[[detector]]
name = "bcjr"
"""


def run(args, tmp_path, code=None):
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)     # as in a fresh shell
    cmd = ([sys.executable, "-c", code] if code is not None else
           [sys.executable, "-m", "rxsim.cli", *args])
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.toml"
    path.write_text(TINY)
    return path


def test_sweep_prints_no_native_log_by_default(tiny_config, tmp_path):
    res = run(["sweep", str(tiny_config), "--db", str(tmp_path / "t.sqlite"),
               "--no-plot"], tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert not [m for m in MARKERS if m in out], out
    assert not NATIVE_LINE.search(out), out
    # rxsim's lines come first, labels whole
    assert res.stdout.startswith("detector"), res.stdout
    assert LABEL in res.stdout
    assert "1 point(s) simulated" in res.stdout
    assert "tiny" in res.stderr          # the progress bar still shows


@pytest.mark.slow          # a second full CLI start-up (~20 s)
def test_sweep_verbose_shows_tensorflow_log(tiny_config, tmp_path):
    res = run(["sweep", str(tiny_config), "--db", str(tmp_path / "t.sqlite"),
               "--no-plot", "--verbose"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert NATIVE_LINE.search(res.stderr), res.stderr
    # TF's INFO level is on: the line of its first XLA compilation
    assert "XLA service" in res.stderr or "cpu_feature_guard" in \
        res.stderr, res.stderr
    assert LABEL in res.stdout


def test_cli_imports_no_tensorflow_before_the_filter(tmp_path):
    """The filter must start before TensorFlow's first native line:
    ``rxsim`` and ``rxsim.cli`` load TensorFlow only when a command needs
    it."""
    res = run(None, tmp_path, code=(
        "import sys, rxsim, rxsim.cli\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"))
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_retracing_warnings_only_with_verbose(tmp_path, verbose):
    """TensorFlow's Python "retracing" warnings (learned detectors built
    per point trigger them) follow the sweep's ``--verbose``: the log
    levels the command sets, then a function retraced on every call."""
    res = run(None, tmp_path, code=(
        "from rxsim.cli import _log_levels\n"
        f"_log_levels({verbose})\n"
        "import tensorflow as tf\n"
        "f = tf.function(lambda x: x + 1)\n"
        "for i in range(8):\n"
        "    f(i)\n"))
    assert res.returncode == 0, res.stderr
    assert ("retracing" in res.stderr) is verbose, res.stderr


def test_failing_sweep_still_reports(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace('name = "bcjr"', 'name = "nosuch"'))
    res = run(["sweep", str(bad), "--no-plot"], tmp_path)
    assert res.returncode == 2
    assert "nosuch" in res.stderr and "error:" in res.stderr, res.stderr


def test_filter_keeps_tracebacks_and_fatal_lines(tmp_path):
    """Through the filter process: a Python traceback after TensorFlow's
    import survives, and so does a native fatal line written just before
    the process aborts (a filter thread would die with the process)."""
    code = ("from rxsim.native_log import filter_native_log\n"
            "filter_native_log()\n"
            "import tensorflow\n"
            "raise RuntimeError('boom')\n")
    res = run(None, tmp_path, code=code)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr
    assert "RuntimeError: boom" in res.stderr
    assert not NATIVE_LINE.search(res.stderr), res.stderr
    code = ("import os\n"
            "from rxsim.native_log import filter_native_log\n"
            "filter_native_log()\n"
            "os.write(2, b'W0000 00:00:17.5  9 a.cc:1] noise\\n'\n"
            "            b'F0000 00:00:17.5  9 b.cc:2] Check failed: x\\n')\n"
            "os.abort()\n")
    res = run(None, tmp_path, code=code)
    assert res.returncode != 0
    assert "Check failed: x" in res.stderr and "noise" not in res.stderr


@pytest.mark.parametrize("line, noise", [
    ("W0000 00:00:1796158125.836327    5290 computation_placer.cc:177] "
     "computation placer already registered.", True),
    ("E0000 00:00:1796158125.803083    5290 cuda_dnn.cc:8579] Unable to "
     "register cuDNN factory: Attempting to register factory", True),
    ("2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/"
     "cudart_stub.cc:32] Could not find cuda drivers on your machine", True),
    ("(run_point pid=4711) I0000 00:00:17.1  4711 service.cc:152] XLA "
     "service initialized", True),
    ("E0000 00:00:17.1  12 op_kernel.cc:1] OP_REQUIRES failed: "
     "INVALID_ARGUMENT", False),
    ("F0000 00:00:17.1  12 check.cc:1] Check failed: a == b", False),
    ("ValueError: taps must be finite", False),
    ("tiny:  50%|#####     | 1/2", False),
])
def test_native_noise_classification(line, noise):
    assert is_native_noise(line) is noise


def test_filter_streams_partial_lines_and_drops_continuations():
    f = NativeLogFilter()
    # a progress bar redraws with "\r" and never ends its line
    assert f.feed(b"\r bar 10%") == b"\r bar 10%"
    # a native line split over two reads is still recognised
    assert f.feed(b"\nI0000 00:00:1.5  3 cpu_feature_guard.cc:210] "
                  b"This TensorFlow binary is optimized") == b"\n"
    assert f.feed(b"\nTo enable the following instructions: AVX2 FMA\n"
                  b"Traceback (most recent call last):\n") == \
        b"Traceback (most recent call last):\n"
    assert f.feed(b"E0000 00:00:1") == b""      # held: may be native
    assert f.flush() == b"E0000 00:00:1"        # ...until it is not


def test_table_keeps_long_labels_whole():
    rows = [dict(detector="viterbinet (perturbed:var=0.1) [soft]",
                 csi="perturbed:var=0.1", channel=LABEL + ",phases=[0,0.8]",
                 snr_db=4.0, errors=62, symbols=1000, ser=0.062,
                 ser_lo=0.0484, ser_hi=0.0791),
            dict(detector="bcjr", csi="perfect", channel="isi:L=4",
                 snr_db=10.0, errors=0, symbols=200000, ser=0.0,
                 ser_lo=0.0, ser_hi=1.9e-5)]
    lines = format_table(rows).splitlines()
    for r, line in zip(rows, lines[2:]):
        for key in ("detector", "csi", "channel"):
            assert r[key] in line
    # columns line up: every row's channel starts where the header's does
    col = lines[0].index("channel")
    assert all(line[col:].startswith(r["channel"])
               for r, line in zip(rows, lines[2:]))
    coded = [dict(rows[0], ber=1e-3, block_errors=3, blocks=100, bler=0.03,
                  bler_lo=0.01, bler_hi=0.08)]
    assert coded[0]["channel"] in format_table(coded)


def test_comparison_table_keeps_labels_whole_and_shows_unbounded_ends():
    from rxsim.cli import format_comparison
    from rxsim.paired import compare_rows

    def row(detector, errors, snr, csi="perfect"):
        return dict(experiment="e", detector=detector, csi=csi,
                    channel=LABEL, snr_db=snr, seed=1, errors=errors,
                    symbols=100_000, ser=errors / 100_000, ser_deff=1.5,
                    created_at="")
    long = "bcjrnet n=5000 (perturbed:var=0.1)"
    rows = [row("bcjr", 300, 4.0), row("bcjr", 0, 10.0)]
    rows += [row(f"bcjrnet n=5000 #{r} (perturbed:var=0.1)", e, snr,
                 "perturbed:var=0.1")
             for r in range(3) for snr, e in ((4.0, 400 + 50 * r),
                                              (10.0, 20 + r))]
    lines = format_comparison(compare_rows(rows, long, "bcjr")).splitlines()
    assert lines[0].startswith(f"A = {long}, B = bcjr")
    head = lines[1]
    assert "over seeds" in head and "pairing" in head
    body = [line for line in lines if line.startswith(LABEL)]
    assert len(body) == 2
    assert all("perturbed:var=0.1 / perfect" in line for line in body)
    assert "inf]" in body[1]              # B without errors: unbounded
    col = head.index("verdict")
    assert body[0][col:].startswith("B better")
    assert any("training seeds" in line for line in lines)
    assert any(line.startswith("* unpaired") for line in lines)
