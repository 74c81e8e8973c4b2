"""Shared test settings and the helpers several test files use."""

import importlib.util
import os
import pathlib

import numpy as np
import pytest
from scipy import stats

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Two-sided error rate of the statistical checks on seeded draws: a
#: correct implementation fails one check in 10,000 seeds.
ALPHA = 1e-4


@pytest.fixture(scope="session")
def chi2_bounds():
    """``bounds(dof, alpha=ALPHA) -> (lo, hi)``: the two-sided ``1 -
    alpha`` interval of a chi-square(dof) / dof variable, i.e. of a sample
    variance over ``dof`` zero-mean draws divided by the true variance."""
    def bounds(dof, alpha=ALPHA):
        return (stats.chi2.ppf(alpha / 2, dof) / dof,
                stats.chi2.ppf(1 - alpha / 2, dof) / dof)
    return bounds


@pytest.fixture(scope="session")
def count_errors():
    """``count(det, y, s, no) -> int``: symbol errors of ``det(y, no)``
    against the indices ``s``, for hard (indices) and soft
    (log-probabilities, decided by argmax) detectors alike."""
    def count(det, y, s, no):
        out = np.asarray(det(y, no))
        hard = out.argmax(-1) if out.ndim == np.ndim(s) + 1 else out
        return int(np.sum(hard != s))
    return count


ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def load_script():
    """``load(name) -> module``: a file of ``scripts/`` imported as a
    module (scripts are not a package)."""
    def load(name):
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture(scope="session")
def weights_of():
    """``weights(det) -> list of arrays``: every variable a learned
    detector checkpoints, as numpy arrays (to compare two models)."""
    def weights(det):
        return [np.array(v) for v in det._variables()]
    return weights
