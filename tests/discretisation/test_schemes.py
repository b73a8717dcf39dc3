"""Advection schemes as objects: the same generator entries, bit for bit, as the string
schemes of commit 8c51bce; choice by name or object in the model; the scheme's properties."""

import doctest
import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest

import advdiff_sens as ads
from conftest import ROOT
from advdiff_sens.discretisation import operators, physics, schemes
from advdiff_sens.discretisation.operators import (assemble_generator, difference_matrices,
                                                   partial_generators)
from advdiff_sens.discretisation.schemes import (SCHEMES, Central, ExponentialFitting, Scheme,
                                                 Upwind, bernoulli, bernoulli_derivative)

REFERENCE_COMMIT = "8c51bce"
NAMES = ("central", "upwind", "exponential")
CLASSES = {"central": Central, "upwind": Upwind, "exponential": ExponentialFitting}


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    """``advdiff_sens/discretisation/operators.py`` as it was before the schemes were objects."""
    try:
        source = subprocess.run(
            ["git", "show", f"{REFERENCE_COMMIT}:advdiff_sens/discretisation/operators.py"],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"the pre-change operators are not readable from git: {err}")
    path = tmp_path_factory.mktemp("before") / "operators_8c51bce.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("operators_8c51bce", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def same_bits(a, b):
    """Equal as IEEE doubles, bit for bit (so 0.0 and -0.0 differ, and NaNs must match)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def assert_same_sparse(new, old):
    new, old = new.tocsr(), old.tocsr()
    np.testing.assert_array_equal(new.indptr, old.indptr)
    np.testing.assert_array_equal(new.indices, old.indices)
    assert same_bits(new.data, old.data)


def velocities():
    """Speeds that reach every branch: zero, the Bernoulli series (|uh/κ| < 0.1) and closed
    form, large Péclet numbers of both signs, and a velocity that overflows exp."""
    rng = np.random.default_rng(3)
    return np.concatenate([[0.0, -0.0, 1e-300, -1e-12, 0.004, -0.004, 0.049, -0.051, 3.0, -3.0,
                            1e3, -1e3, 1e6, -1e6], rng.standard_normal(40) * 2.0])


@pytest.mark.parametrize("name", NAMES)
def test_fluxes_and_derivatives_are_bit_identical(before, name):
    u = velocities()
    for kappa, h in ((0.02, 1 / 16), (1e-4, 0.1), (3.0, 0.5)):
        old_c = before.flux_coefficients(u, kappa, h, name)
        new_c = CLASSES[name]().coefficients(u, kappa, h)
        old_d = before.flux_coefficient_derivatives(u, kappa, h, name)
        new_d = CLASSES[name]().coefficient_derivatives(u, kappa, h)
        for new, old in zip(new_c + new_d, old_c + old_d):
            assert same_bits(new, old), (name, kappa, h)


def test_bernoulli_helpers_are_bit_identical(before):
    x = np.concatenate([velocities(), np.linspace(-0.2, 0.2, 41), [800.0, -800.0]])
    assert same_bits(bernoulli(x), before.bernoulli(x))
    assert same_bits(bernoulli_derivative(x), before.bernoulli_derivative(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape, bc", [((9,), "periodic"), ((7,), "dirichlet"),
                                       ((6, 5), "neumann"), ((5, 6), ("periodic", "dirichlet")),
                                       ((4, 3, 5), "periodic")])
def test_generator_and_partials_are_bit_identical(before, name, shape, bc):
    grid = ads.Grid(shape, bc=bc)
    rng = np.random.default_rng(len(shape) * 10 + len(name))
    u = rng.standard_normal((grid.ndim, *grid.shape)) * 3.0
    u[0].flat[0] = 0.0                                 # the upwind kink
    mats = difference_matrices(grid)
    for kappa in (0.02, 1e-4):
        assert_same_sparse(assemble_generator(grid, kappa, CLASSES[name](), u, mats),
                           before.assemble_generator(grid, kappa, name, u, mats))
        for new, old in zip(partial_generators(grid, kappa, CLASSES[name](), u, mats),
                            before.partial_generators(grid, kappa, name, u, mats)):
            assert_same_sparse(new, old)


@pytest.mark.parametrize("name", NAMES)
def test_model_by_name_and_by_object_are_the_same_model(name):
    grid = ads.Grid((6, 6), bc="periodic")
    u = np.random.default_rng(0).standard_normal((2, 6, 6)) * 0.1
    by_name = ads.AdvectionDiffusion(grid, 0.05, scheme=name)
    by_object = ads.AdvectionDiffusion(grid, 0.05, scheme=CLASSES[name]())
    assert type(by_name.scheme) is CLASSES[name] and by_name.scheme == by_object.scheme
    assert_same_sparse(by_name.generator(u), by_object.generator(u))
    for a, b in zip(by_name.partial_generators(u), by_object.partial_generators(u)):
        assert_same_sparse(a, b)


def test_model_default_scheme_and_repr():
    grid = ads.Grid((8,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.1)
    assert model.scheme == Central() and isinstance(model.scheme, Scheme)
    assert "scheme=Central()" in repr(model)
    assert "scheme=ExponentialFitting()" in repr(
        ads.AdvectionDiffusion(grid, 0.1, ads.ExponentialFitting()))


def test_unknown_scheme_is_the_registry_error_naming_scheme():
    grid = ads.Grid((8,), bc="periodic")
    with pytest.raises(ValueError, match=r"scheme must be one of \('central', 'upwind', "
                                         r"'exponential'\).*did you mean 'upwind'"):
        ads.AdvectionDiffusion(grid, 0.1, scheme="upwnd")
    with pytest.raises(TypeError, match="scheme must be one of"):
        ads.AdvectionDiffusion(grid, 0.1, scheme=2)


def test_registry_names_and_scheme_properties():
    assert SCHEMES.names() == NAMES
    for name in NAMES:
        scheme = SCHEMES.resolve(name, "scheme")
        assert str(scheme) == scheme.name == name
        assert repr(scheme) == f"{CLASSES[name].__name__}()"
    assert not Central().monotone and Upwind().monotone and ExponentialFitting().monotone
    assert (Central().order, Upwind().order, ExponentialFitting().order) == (2, 1, 1)
    assert Central() != Upwind() and len({Central(), Central(), Upwind()}) == 2
    assert (ads.Central, ads.Upwind, ads.ExponentialFitting) == (Central, Upwind,
                                                                 ExponentialFitting)


@pytest.mark.parametrize("name", NAMES)
def test_monotone_schemes_have_nonnegative_fluxes_at_any_peclet(name):
    u = velocities()
    cp, cm = CLASSES[name]().coefficients(u, 1e-4, 0.1)
    nonnegative = bool(np.all(cp >= 0) and np.all(cm >= 0))
    assert nonnegative == CLASSES[name].monotone      # central: negative at |u|h/(2κ) > 1


def test_a_user_scheme_that_is_not_monotone_gets_the_peclet_check():
    class Sharp(Central):
        name = "sharp"

    grid = ads.Grid((16,), bc="periodic")
    u = np.ones((1, 16))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warned = physics.check_physics(grid, 1e-3, Sharp(), u)
        quiet = physics.check_physics(grid, 1e-3, Upwind(), u)
    assert warned == {"cell_peclet"} and quiet == set()
    assert len(record) == 1


@pytest.mark.parametrize("module", [schemes, operators, physics], ids=lambda m: m.__name__)
def test_examples_in_docstrings_run(module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_public_assembly_takes_a_scheme_name_or_object():
    """Strings are sugar in the discretisation's own functions too."""
    grid = ads.Grid((6, 5), bc="periodic")
    u = np.random.default_rng(0).standard_normal((2, *grid.shape))
    mats = difference_matrices(grid)
    for name in NAMES:
        by_name = assemble_generator(grid, 0.1, name, u, mats)
        by_object = assemble_generator(grid, 0.1, CLASSES[name](), u, mats)
        assert (by_name != by_object).nnz == 0
        parts = partial_generators(grid, 0.1, name, u, mats)
        assert all((a != b).nnz == 0 for a, b in
                   zip(parts, partial_generators(grid, 0.1, CLASSES[name](), u, mats)))
    with pytest.raises(ValueError, match="scheme must be one of"):
        assemble_generator(grid, 0.1, "centre", u, mats)
