"""Point-sensor observation operator and least-squares objective."""

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.discretisation.observations import LeastSquaresObjective, observation_operator


@pytest.mark.parametrize("bc", ["periodic", "neumann", "dirichlet"])
def test_interpolation_exact_for_multilinear_fields(bc, rng):
    grid = ads.Grid((9, 7), extent=(1.0, 2.0), bc=bc)
    x, y = grid.coords
    field = 1.0 + 2.0 * x - 0.5 * y + 0.7 * x * y
    lo = [ax[0] for ax in grid.axes]
    hi = [ax[-1] for ax in grid.axes]
    sensors = rng.uniform(lo, hi, size=(25, 2))
    H = observation_operator(grid, sensors)
    expected = 1.0 + 2.0 * sensors[:, 0] - 0.5 * sensors[:, 1] + 0.7 * sensors[:, 0] * sensors[:, 1]
    assert np.allclose(H @ field.ravel(), expected, rtol=1e-13, atol=1e-13)
    assert np.allclose(H.sum(axis=1), 1.0)


def test_periodic_wrap_and_dirichlet_wall():
    grid = ads.Grid((4,), bc="periodic")
    H = observation_operator(grid, [[0.875]])        # halfway between x=0.75 and x=1≡0
    assert np.allclose(H.toarray(), [[0.5, 0, 0, 0.5]])
    grid = ads.Grid((4,), bc="dirichlet")            # nodes at 0.2 … 0.8, θ = 0 at walls
    H = observation_operator(grid, [[0.1]])
    assert np.allclose(H.toarray(), [[0.5, 0, 0, 0]])


def test_objective_gradient_matches_finite_difference(rng):
    grid = ads.Grid((8, 8))
    sensors = rng.uniform(0, 1, size=(5, 2))
    data = rng.standard_normal((3, 5))
    objective = LeastSquaresObjective(grid, sensors, data, noise_std=0.3)
    theta = rng.standard_normal((3, 8, 8))
    d = rng.standard_normal(theta.shape)
    value, grad = objective(theta)
    fd = (objective(theta + 1e-6 * d)[0] - objective(theta - 1e-6 * d)[0]) / 2e-6
    assert abs(fd - np.sum(grad * d)) <= 1e-7 * abs(fd)


@pytest.mark.parametrize("sensors, data, noise, exc, match", [
    ([[1.5, 0.5]], [[0.0]], 1.0, ValueError, "inside the domain"),
    ([[-0.1, 0.5]], [[0.0]], 1.0, ValueError, "inside the domain"),
    ([[0.5]], [[0.0]], 1.0, ValueError, "sensors must have shape"),
    ([[0.5, 0.5]], [[0.0, 1.0]], 1.0, ValueError, "data must have shape"),
    ([[0.5, 0.5]], [[np.nan]], 1.0, ValueError, "data contains NaN"),
    ([[0.5, 0.5]], [[0.0]], 0.0, ValueError, "noise_std"),
    ([[np.nan, 0.5]], [[0.0]], 1.0, ValueError, "sensors contains NaN"),
])
def test_rejects_bad_input(sensors, data, noise, exc, match):
    with pytest.raises(exc, match=match):
        LeastSquaresObjective(ads.Grid((8, 8)), sensors, data, noise)
