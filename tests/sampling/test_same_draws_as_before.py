"""The sampler objects draw bit for bit what the function forms of commit 8c51bce drew.

The pre-change ``advdiff_sens/sampling/samplers.py`` is read from git and loaded as a
temporary module; every array of the result must be equal (``assert_array_equal``), for HMC
with and without warm-up, mass matrix, divergences and bounds, and for pCN.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from advdiff_sens.sampling import HMC, PCN

REFERENCE_COMMIT = "8c51bce"
ARRAYS = ("samples", "log_density", "accept_rate", "step_size", "divergences",
          "warmup_divergences")


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    try:
        source = subprocess.run(
            ["git", "show", f"{REFERENCE_COMMIT}:advdiff_sens/sampling/samplers.py"], cwd=ROOT,
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"the pre-change samplers are not readable from git: {err}")
    path = tmp_path_factory.mktemp("before") / "samplers_8c51bce.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("samplers_8c51bce", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def assert_same(new, old):
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
    assert new.gradient_evaluations == old.gradient_evaluations
    assert new.target_accept == old.target_accept and new.sampler == old.sampler


MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])
PREC = np.linalg.inv(COV)


def log_density(x):
    d = x - MEAN
    return -0.5 * float(d @ PREC @ d)


def gradient(x):
    return -PREC @ (x - MEAN)


@pytest.mark.parametrize("options", [
    {},
    {"step_size": 0.3, "n_leapfrog": 4, "n_chains": 2},
    {"step_size": 0.1, "n_leapfrog": 3, "n_warmup": 50, "inverse_mass": COV},
    {"step_size": 0.4, "n_leapfrog": 2, "n_warmup": 20, "inverse_mass": np.diag(COV),
     "n_chains": 3, "target_accept": 0.7},
    {"step_size": 3.0, "n_leapfrog": 5, "n_warmup": 10, "max_energy_error": 0.5},
    {"step_size": 0.5, "n_leapfrog": 8, "in_bounds": lambda x: bool(np.all(np.abs(x) < 3))},
], ids=["defaults", "chains", "warmup-mass", "diagonal-mass", "divergences", "bounds"])
def test_hmc_draws_are_unchanged(before, options):
    options = dict(options)
    run = {k: options.pop(k) for k in ("n_chains", "in_bounds") if k in options}
    new = HMC(**options).sample(log_density, gradient, MEAN, 40, rng=7, **run)
    if "n_leapfrog" in options:
        options["n_steps"] = options.pop("n_leapfrog")
    old = before.hmc(log_density, gradient, MEAN, 40, rng=7, **options, **run)
    assert_same(new, old)


@pytest.mark.parametrize("options", [
    {}, {"beta": 0.5, "n_warmup": 30, "n_chains": 2}, {"beta": 1.0, "target_accept": 0.4},
], ids=["defaults", "warmup-chains", "beta-one"])
def test_pcn_draws_are_unchanged(before, options):
    options = dict(options)
    run = {k: options.pop(k) for k in ("n_chains",) if k in options}
    s, tau, y = np.array([1.0, 2.0]), 0.5, np.array([0.3, -1.0])

    def loglik(x):
        return -0.5 * float(np.sum((x - y) ** 2)) / tau**2

    new = PCN(**options).sample(loglik, s, np.zeros(2), 40, rng=11, **run)
    old = before.pcn(loglik, s, np.zeros(2), 40, rng=11, **options, **run)
    assert_same(new, old)
