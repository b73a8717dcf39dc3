"""Discretisation: structure (rate matrices), conservation, derivatives, convergence (R1)."""

import findiff
import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.discretisation.operators import difference_matrices
from advdiff_sens.discretisation.schemes import SCHEMES
from advdiff_sens.problems import plane_wave, plane_wave_solution

BCS = ("periodic", "neumann", "dirichlet")
SHAPES = {1: (9,), 2: (7, 6), 3: (5, 4, 6)}


def random_velocity(grid, peclet, kappa, rng):
    """Velocity with max cell Péclet number |u|h/(2κ) equal to ``peclet``."""
    u = rng.uniform(-1, 1, size=(grid.ndim, *grid.shape))
    for a, h in enumerate(grid.spacing):
        u[a] *= peclet * 2 * kappa / h / np.abs(u[a]).max()
    return u


def off_diagonal(L):
    dense = L.toarray()
    return dense - np.diag(np.diag(dense))


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("bc", BCS)
@pytest.mark.parametrize("scheme", ["upwind", "exponential"])
@pytest.mark.parametrize("peclet", [0.1, 1.0, 10.0, 100.0])
def test_positive_schemes_are_rate_matrices(ndim, bc, scheme, peclet, rng):
    grid = ads.Grid(SHAPES[ndim], bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.01, scheme=scheme)
    L = model.generator(random_velocity(grid, peclet, 0.01, rng))
    scale = np.abs(L.diagonal()).max()
    assert off_diagonal(L).min() >= 0.0          # computed without cancellation: exact
    row_sums = np.asarray(L.sum(axis=1)).ravel()
    wall = np.zeros(grid.shape, dtype=bool)
    if bc == "dirichlet":   # nodes next to a wall lose mass there (sub-generator)
        for a in range(ndim):
            index = [slice(None)] * ndim
            for end in (0, -1):
                index[a] = end
                wall[tuple(index)] = True
    assert row_sums.max() <= 1e-13 * scale
    assert np.abs(row_sums[~wall.ravel()]).max() <= 1e-13 * scale


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_central_is_rate_matrix_below_peclet_one(ndim, bc, rng):
    grid = ads.Grid(SHAPES[ndim], bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.05, scheme="central")
    assert off_diagonal(model.generator(random_velocity(grid, 0.99, 0.05, rng))).min() >= 0
    assert off_diagonal(model.generator(random_velocity(grid, 3.0, 0.05, rng))).min() < 0


@pytest.mark.parametrize("ndim", [1, 2])
def test_periodic_stencils_match_findiff(ndim):
    grid = ads.Grid(SHAPES[ndim], bc="periodic")
    mats = difference_matrices(grid)
    for a, h in enumerate(grid.spacing):
        d1 = (mats["forward"][a] + mats["backward"][a]) / 2
        d2 = (mats["forward"][a] - mats["backward"][a]) / h
        assert np.allclose(d1.toarray(), findiff.Diff(a, h, periodic=True).matrix(grid.shape).toarray(),
                           rtol=0, atol=1e-12 / h)
        assert np.allclose(d2.toarray(),
                           (findiff.Diff(a, h, periodic=True) ** 2).matrix(grid.shape).toarray(),
                           rtol=0, atol=1e-12 / h**2)


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
@pytest.mark.parametrize("scheme", SCHEMES.names())
def test_constants_are_steady_and_diffusion_conserves_mass(bc, scheme, rng):
    grid = ads.Grid((8, 7), bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.02, scheme=scheme)
    L = model.generator(random_velocity(grid, 0.5, 0.02, rng))
    assert np.abs(L @ np.ones(grid.n)).max() <= 1e-12 * np.abs(L.diagonal()).max()
    # with u = 0 the diffusion operator conserves the discrete mass w^T θ (w: Grid.weights)
    L0 = model.generator(np.zeros((2, *grid.shape)))
    w = grid.weights.ravel()
    assert np.abs(w @ L0).max() <= 1e-12 * np.abs(L0.diagonal()).max()


def test_central_advection_conserves_mass_for_discretely_divergence_free_flow():
    # u = (∂y ψ, −∂x ψ) with central differences has zero central discrete divergence
    grid = ads.Grid((16, 12), bc="periodic")
    x, y = grid.coords
    psi = np.sin(2 * np.pi * x) * np.cos(4 * np.pi * y) + 0.3 * np.cos(2 * np.pi * (x + y))
    mats = difference_matrices(grid)
    d1 = [(mats["forward"][a] + mats["backward"][a]) / 2 for a in range(2)]
    u = np.stack([(d1[1] @ psi.ravel()).reshape(grid.shape), -(d1[0] @ psi.ravel()).reshape(grid.shape)])
    model = ads.AdvectionDiffusion(grid, kappa=0.01, scheme="central")
    L = model.generator(u)
    w = grid.weights.ravel()
    assert np.abs(w @ L).max() <= 1e-12 * np.abs(L).max()
    # a compressible flow does not conserve it: the check above can fail
    L_bad = model.generator(np.stack([np.sin(2 * np.pi * x), 0 * y]))
    assert np.abs(w @ L_bad).max() > 1e-3


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
@pytest.mark.parametrize("scheme", ["upwind", "exponential"])
def test_maximum_principle(bc, scheme, rng):
    grid = ads.Grid((20, 18), bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.005, scheme=scheme)
    u = random_velocity(grid, 20.0, 0.005, rng)
    theta0 = rng.uniform(0.2, 0.9, size=grid.shape)
    theta = model.solve(u, theta0, [0.05, 0.2, 1.0])
    tol = 1e-12
    assert theta.min() >= theta0.min() - tol and theta.max() <= theta0.max() + tol


@pytest.mark.parametrize("bc", BCS)
@pytest.mark.parametrize("scheme", SCHEMES.names())
@pytest.mark.parametrize("ndim", [1, 2])
def test_generator_derivative_against_finite_differences(bc, scheme, ndim, rng):
    grid = ads.Grid(SHAPES[ndim], bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.03, scheme=scheme)
    u = random_velocity(grid, 2.0, 0.03, rng)
    if scheme == "upwind":   # keep away from the kink at u = 0
        u = np.where(np.abs(u) < 0.1, 0.1, u)
    v = rng.standard_normal(u.shape)
    J = model.generator_derivative(u, v).toarray()
    eps = 1e-5
    fd = (model.generator(u + eps * v) - model.generator(u - eps * v)).toarray() / (2 * eps)
    # central difference error O(eps^2 |L'''|) plus rounding O(1e-16 |L| / eps)
    assert np.abs(J - fd).max() <= 1e-7 * np.abs(J).max()


def test_central_generator_is_affine_in_u(rng):
    grid = ads.Grid((6, 5), bc="neumann")
    model = ads.AdvectionDiffusion(grid, kappa=0.1, scheme="central")
    u, v = rng.standard_normal((2, 2, 6, 5))
    J = model.generator_derivative(u, v)
    assert abs(model.generator(u + 3.7 * v) - model.generator(u) - 3.7 * J).max() <= 1e-12 * abs(J).max()
    assert abs(J - model.generator_derivative(2 * u, v)).max() == 0.0


def test_upwind_derivative_convention_at_zero_velocity(rng):
    grid = ads.Grid((8,), bc="periodic")
    up = ads.AdvectionDiffusion(grid, kappa=0.1, scheme="upwind")
    central = ads.AdvectionDiffusion(grid, kappa=0.1, scheme="central")
    v = rng.standard_normal((1, 8))
    zero = np.zeros((1, 8))
    assert abs(up.generator_derivative(zero, v) - central.generator_derivative(zero, v)).max() < 1e-12


def r1_errors(scheme, sizes, kappa=0.02, c=1.0, t=0.5):
    k = 2 * np.pi
    errors = []
    for n in sizes:
        grid = ads.Grid((n,), bc="periodic")
        model = ads.AdvectionDiffusion(grid, kappa, scheme)
        theta = model.solve(np.full((1, n), c), plane_wave(grid, [k]), t)
        errors.append(np.abs(theta - plane_wave_solution(grid, [k], [c], kappa, t)).max())
    return np.array(errors)


@pytest.mark.parametrize("scheme, order", [("central", 1.9), ("upwind", 0.9), ("exponential", 0.9)])
def test_r1_convergence_order(scheme, order):
    sizes = np.array([32, 64, 128, 256])
    errors = r1_errors(scheme, sizes)
    slope = -np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert slope >= order, (scheme, errors, slope)


def test_r1_convergence_2d_central():
    k = (2 * np.pi, 4 * np.pi)
    errors = []
    for n in (16, 32, 64):
        grid = ads.Grid((n, n), bc="periodic")
        model = ads.AdvectionDiffusion(grid, 0.01, "central")
        u = np.stack([np.full(grid.shape, 0.7), np.full(grid.shape, -0.4)])
        theta = model.solve(u, plane_wave(grid, k), 0.3)
        errors.append(np.abs(theta - plane_wave_solution(grid, k, (0.7, -0.4), 0.01, 0.3)).max())
    assert -np.polyfit(np.log([16, 32, 64]), np.log(errors), 1)[0] >= 1.9


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"kappa": 0.0}, ValueError, "kappa"),
    ({"kappa": -1.0}, ValueError, "kappa"),
    ({"kappa": np.inf}, ValueError, "kappa"),
    ({"kappa": "a"}, TypeError, "kappa"),
    ({"kappa": 0.1, "scheme": "quick"}, ValueError, "scheme"),
    ({"kappa": 0.1, "backend": "magic"}, ValueError, "backend"),
])
def test_model_rejects_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ads.AdvectionDiffusion(ads.Grid((8,)), **kwargs)


def test_model_rejects_non_grid():
    with pytest.raises(TypeError, match="grid"):
        ads.AdvectionDiffusion((8,), kappa=0.1)


@pytest.mark.parametrize("u, exc, match", [
    (np.zeros((1, 8)), ValueError, "u must have shape"),
    (np.zeros((2, 8, 7)), ValueError, "u must have shape"),
    (np.full((2, 8, 8), np.nan), ValueError, "u contains NaN"),
    (np.ones((2, 8, 8)) * 1j, TypeError, "u must be real"),
    (np.full((2, 8, 8), "x"), TypeError, "u must be an array of numbers"),
])
def test_generator_rejects_bad_velocity(u, exc, match):
    model = ads.AdvectionDiffusion(ads.Grid((8, 8)), kappa=0.1)
    with pytest.raises(exc, match=match):
        model.generator(u)


def test_generator_derivative_rejects_bad_direction():
    model = ads.AdvectionDiffusion(ads.Grid((8, 8)), kappa=0.1)
    with pytest.raises(ValueError, match="v must have shape"):
        model.generator_derivative(np.zeros((2, 8, 8)), np.zeros((2, 8)))


def test_generator_cache_returns_same_matrix_for_same_velocity(rng):
    model = ads.AdvectionDiffusion(ads.Grid((8, 8)), kappa=0.1)
    u = rng.standard_normal((2, 8, 8))
    L1 = model.generator(u)
    assert model.generator(u.copy()) is L1
    assert model.generator(u + 1e-3) is not L1


def test_partial_generators_follow_the_velocity(rng):
    model = ads.AdvectionDiffusion(ads.Grid((8, 8)), kappa=0.05, scheme="exponential")
    u1, u2, v = rng.standard_normal((3, 2, 8, 8))
    J1 = model.generator_derivative(u1, v)
    J2 = model.generator_derivative(u2, v)
    fresh = ads.AdvectionDiffusion(ads.Grid((8, 8)), kappa=0.05, scheme="exponential")
    assert abs(J2 - fresh.generator_derivative(u2, v)).max() == 0.0
    assert abs(J1 - J2).max() > 1e-3
    assert model.partial_generators(u2) is model.partial_generators(u2.copy())
