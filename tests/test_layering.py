"""The package layering of docs/design.md: ``rxsim -> channels -> signals``,
``rxsim -> detectors -> signals``, and nothing upwards.

Two checks, each able to fail on its own: a static one over every import
statement in the source (also imports inside functions, which a fresh
interpreter would not execute), and a dynamic one that imports each layer
in a fresh interpreter and looks at what it loaded.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# package -> the project packages it must never import
FORBIDDEN = {
    "signals": {"channels", "detectors", "rxsim"},
    "detectors": {"channels", "rxsim"},
    "channels": {"detectors", "rxsim"},
}


def _imported_packages(path):
    """Top-level names of the absolute imports in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_import_in_source(package):
    bad = [f"{f.relative_to(ROOT)}:{line} imports {name}"
           for f in sorted((ROOT / package).rglob("*.py"))
           for name, line in _imported_packages(f)
           if name in FORBIDDEN[package]]
    assert not bad, "layering violated:\n" + "\n".join(bad)


def _loaded_after_import(module):
    code = (f"import sys, {module}; "
            "print('\\n'.join(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3",
                              "PATH": "/usr/bin:/bin"})
    return set(out.stdout.split())


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_importing_a_layer_loads_nothing_above_it(package):
    loaded = _loaded_after_import(package)
    above = sorted(m for m in loaded
                   if m.split(".")[0] in FORBIDDEN[package])
    assert not above, f"`import {package}` loaded {above}"


def test_channels_do_not_load_the_learned_stack():
    # the issue's own check: channels are usable without the learned
    # detectors being imported (Sionna itself loads Keras and h5py)
    loaded = _loaded_after_import("channels")
    assert "detectors.learned" not in loaded
