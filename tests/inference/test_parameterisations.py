"""Velocity parameterisations: maps, chain rule, divergence, coefficient gradients."""

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.discretisation.operators import difference_matrices
from advdiff_sens.problems import gaussian_blob
from advdiff_sens.inference.parameterisations import NodalVelocity, StreamFunctionBasis, UniformVelocity
from advdiff_sens.sensitivity.verification import finite_difference_check


def parameterisations(grid):
    out = [NodalVelocity(grid), UniformVelocity(grid)]
    if grid.ndim == 2 and grid.bc == ("periodic", "periodic"):
        out.append(StreamFunctionBasis(grid, kmax=2.5))
    return out


@pytest.mark.parametrize("grid", [ads.Grid((12, 10), extent=(1.0, 2.0)), ads.Grid((9,), bc="neumann")])
def test_pullback_is_the_transpose(grid, rng):
    for par in parameterisations(grid):
        c = rng.standard_normal(par.n_params)
        g = rng.standard_normal((grid.ndim, *grid.shape))
        assert par.to_velocity(c).shape == (grid.ndim, *grid.shape)
        lhs, rhs = np.sum(g * par.to_velocity(c)), c @ par.pullback(g)
        assert abs(lhs - rhs) <= 1e-12 * abs(lhs)


def test_stream_function_basis_is_divergence_free(rng):
    grid = ads.Grid((32, 24), extent=(1.0, 2.0))
    basis = StreamFunctionBasis(grid, kmax=3)
    u = basis.to_velocity(rng.standard_normal(basis.n_params))
    mats = difference_matrices(grid)
    div = sum(((mats["forward"][a] + mats["backward"][a]) / 2) @ u[a].ravel() for a in range(2))
    assert np.abs(div).max() <= 1e-13 * np.abs(u).max() * 32
    # and it is the curl of the stream function to second order
    c = rng.standard_normal(basis.n_params)
    psi = basis.stream_function(c)
    hy = grid.spacing[1]
    dpsi_dy = (np.roll(psi, -1, axis=1) - np.roll(psi, 1, axis=1)) / (2 * hy)
    assert np.allclose(basis.to_velocity(c)[0], dpsi_dy, rtol=0, atol=1e-12 * np.abs(psi).max() / hy)


def test_stream_function_modes_half_plane():
    basis = StreamFunctionBasis(ads.Grid((16, 16)), kmax=2)
    ks = {tuple(k) for k in basis.wavevectors}
    assert len(ks) == 6 and basis.n_params == 12       # |k| ≤ 2, one of each ±k pair
    assert all((-kx, -ky) not in ks for kx, ky in ks)


def test_coefficient_gradient_against_finite_differences(rng):
    grid = ads.Grid((16, 16))
    model = ads.AdvectionDiffusion(grid, kappa=0.01, scheme="central")
    basis = StreamFunctionBasis(grid, kmax=2)
    c = 0.05 * rng.standard_normal(basis.n_params)
    theta0 = gaussian_blob(grid, (0.3, 0.5), 0.02)
    sensor = (5, 9)

    def f(coefs):
        return model.solve(basis.to_velocity(coefs), theta0, 0.5)[sensor]

    delta = np.zeros(grid.shape)
    delta[sensor] = 1.0
    _, grad_u = model.gradient(basis.to_velocity(c), theta0, lambda th: (th[sensor], delta), 0.5)
    grad_c = basis.pullback(grad_u)
    dc = rng.standard_normal(basis.n_params)
    # the basis amplifies a coefficient step by 2π|k| ≈ 18: a step of 1e-5 moves u by ~1e-3,
    # central-difference truncation ~1e-7, rounding ~1e-11
    assert finite_difference_check(f, c, dc, float(grad_c @ dc), step=1e-5) <= 1e-6


@pytest.mark.parametrize("make, exc, match", [
    (lambda: StreamFunctionBasis(ads.Grid((8, 8), bc="neumann"), kmax=0.7), ValueError, "kmax"),
    (lambda: StreamFunctionBasis(ads.Grid((8,))), ValueError, "2-D"),
    (lambda: StreamFunctionBasis(ads.Grid((8, 8)), kmax=0.5), ValueError, "kmax"),
    (lambda: NodalVelocity((8, 8)), TypeError, "grid"),
    (lambda: UniformVelocity(ads.Grid((8,))).to_velocity([1.0, 2.0]), ValueError, "coefficients"),
])
def test_parameterisations_reject_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
