"""Every ``Example`` section (doctest ``>>>`` lines) of the public modules
of ``signals``, ``channels``, ``detectors`` and ``rxsim`` runs, and prints
what it says it prints.

One test per module that has examples; a module whose import needs an
optional extra that is not installed (Ray) is skipped. Public classes and
functions without an example are listed by a separate test that is
marked xfail while any are left, so the report shows them without
failing the suite.
"""

import doctest
import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("signals", "channels", "detectors", "rxsim")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Optional extras: modules that cannot be imported without them.
OPTIONAL = {"rxsim.ray_backend": "ray"}


def public_modules():
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            if not any(part.startswith("_")
                       for part in info.name.split(".")):
                names.append(info.name)
    return sorted(names)


MODULES = public_modules()


def _import(name):
    extra = OPTIONAL.get(name)
    if extra is not None:
        pytest.importorskip(extra)
    return importlib.import_module(name)


def _own_tests(module):
    """Doctests of the objects defined in ``module`` (not re-exports)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, module.__name__)
            if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    module = _import(name)
    tests = _own_tests(module)
    if not tests:
        pytest.skip(f"{name} has no examples")
    monkeypatch.chdir(tmp_path)             # examples may write files
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples of {name} failed "
        "(the doctest report above says which)")


def _public_objects(module):
    """Classes and functions defined in ``module`` and public: listed in
    its ``__all__``, else not starting with an underscore."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for n in names:
        obj = getattr(module, n, None)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and \
                getattr(obj, "__module__", None) == module.__name__:
            yield n, obj


def test_report_public_blocks_without_example():
    """Not a failure: the list of public classes (and, for information,
    functions) whose docstring has no ``>>>`` example."""
    missing_classes, missing_functions = [], []
    for name in MODULES:
        if name in OPTIONAL:
            continue
        module = importlib.import_module(name)
        for n, obj in _public_objects(module):
            if ">>>" not in (inspect.getdoc(obj) or ""):
                (missing_classes if inspect.isclass(obj)
                 else missing_functions).append(f"{name}.{n}")
    print(f"public classes without an Example ({len(missing_classes)}):")
    print("\n".join("  " + m for m in missing_classes))
    print(f"public functions without an Example ({len(missing_functions)}):")
    print("\n".join("  " + m for m in missing_functions))
    if missing_classes:
        pytest.xfail(f"{len(missing_classes)} public classes without an "
                     f"Example: {', '.join(missing_classes)}")


def test_every_public_block_has_an_example():
    """Every public ``sionna.phy.Block`` (detector, channel, link,
    transmitter) shows its use in a ``>>>`` example that runs above."""
    from sionna.phy import Block
    missing = []
    for name in MODULES:
        if name in OPTIONAL:
            continue
        module = importlib.import_module(name)
        for n, obj in _public_objects(module):
            if inspect.isclass(obj) and issubclass(obj, Block) and \
                    ">>>" not in (inspect.getdoc(obj) or ""):
                missing.append(f"{name}.{n}")
    assert not missing, f"public blocks without an Example: {missing}"
