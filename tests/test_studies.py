"""Studies sit on top of the framework: no framework module of ``rxsim``
imports ``rxsim.studies`` (statically, including imports inside
functions), and importing ``rxsim`` does not load it."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rxsim"


def _imports_studies(source, module):
    """Line numbers of the imports of ``rxsim.studies`` in ``source``, the
    text of the module named ``module`` (e.g. ``"rxsim.sweep"``,
    ``"rxsim.__init__"``)."""
    tree = ast.parse(source)
    parts = module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            # A relative import of level n starts n packages up.
            base = parts[:len(parts) - node.level] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            names = [name] + [f"{name}.{a.name}" for a in node.names]
        else:
            continue
        if any(n == "rxsim.studies" or n.startswith("rxsim.studies.")
               for n in names):
            yield node.lineno


def _module_name(path):
    # "rxsim.__init__" for a package: its relative imports start in it.
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_the_static_check_sees_relative_and_absolute_imports():
    for source in ("from .studies import paper\n",
                   "from .studies.paper import curves\n",
                   "def f():\n    import rxsim.studies.time_varying\n",
                   "from rxsim import studies\n"):
        assert list(_imports_studies(source, "rxsim.sweep")), source
    assert list(_imports_studies("from . import studies\n",
                                 "rxsim.__init__"))
    assert not list(_imports_studies("from .stats import design_effect\n"
                                     "import rxsim.sweep\n", "rxsim.cli"))


def test_framework_never_imports_studies():
    bad = [f"{f.relative_to(ROOT)}:{line}"
           for f in sorted(PACKAGE.rglob("*.py"))
           if "studies" not in f.relative_to(PACKAGE).parts
           for line in _imports_studies(f.read_text(), _module_name(f))]
    assert not bad, "the framework imports rxsim.studies:\n" + \
        "\n".join(bad)


def test_importing_rxsim_does_not_load_studies():
    code = ("import sys, rxsim, rxsim.sweep, rxsim.cli; "
            "print(any(m.startswith('rxsim.studies') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3",
                              "PATH": "/usr/bin:/bin"})
    assert out.stdout.split()[-1] == "False"
