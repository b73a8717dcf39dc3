"""Forward solve: against dense expm, multi-time consistency, validation."""

import numpy as np
import pytest
import scipy.linalg as sla

import advdiff_sens as ads
from advdiff_sens.matrix import expm_action


@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.AccuracyWarning")  # non-normal growth
@pytest.mark.parametrize("bc", ["periodic", "neumann", "dirichlet"])
@pytest.mark.parametrize("scheme", ["central", "upwind", "exponential"])
def test_solve_matches_dense_expm(bc, scheme, rng):
    grid = ads.Grid((9, 8), bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=0.02, scheme=scheme)
    u = rng.standard_normal((2, *grid.shape))
    theta0 = rng.standard_normal(grid.shape)
    L = model.generator(u).toarray()
    for t in (0.0, 0.01, 0.7):
        expected = (sla.expm(t * L) @ theta0.ravel()).reshape(grid.shape)
        # expm_multiply's double-precision target tolerance 2^-53 times a modest growth
        assert np.abs(model.solve(u, theta0, t) - expected).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("times", [np.linspace(0.1, 0.9, 5), np.array([0.0, 0.05, 0.3, 0.31, 1.2]),
                                   np.array([0.2, 0.4, 0.6]), np.array([0.5])])
@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.AccuracyWarning")  # non-normal growth
def test_multi_time_solve_equals_single_time_solves(times, rng):
    grid = ads.Grid((12, 10), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.01)
    u = rng.standard_normal((2, *grid.shape))
    theta0 = rng.standard_normal(grid.shape)
    many = model.solve(u, theta0, times)
    assert many.shape == (len(times), *grid.shape)
    for j, t in enumerate(times):
        single = model.solve(u, theta0, t)
        assert np.abs(many[j] - single).max() <= 1e-12 * np.abs(single).max()


def test_complex_initial_condition(rng):
    grid = ads.Grid((16,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.05)
    u = rng.standard_normal((1, 16))
    a, b = rng.standard_normal((2, 16))
    z = model.solve(u, a + 1j * b, 0.4)
    assert np.allclose(z, model.solve(u, a, 0.4) + 1j * model.solve(u, b, 0.4), rtol=0, atol=1e-13)


@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.AccuracyWarning")  # non-normal growth
def test_expm_action_block_and_vector_agree(rng):
    A = rng.standard_normal((15, 15))
    B = rng.standard_normal((15, 3))
    out = expm_action(A, B, 0.8)
    for k in range(3):
        assert np.allclose(out[:, k], expm_action(A, B[:, k], 0.8), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("t, exc, match", [
    (-0.1, ValueError, "t must be >= 0"),
    (np.nan, ValueError, "t must be finite"),
    ("1", TypeError, "t must be a real number"),
    ([0.3, 0.2], ValueError, "strictly increasing"),
    ([0.1, 0.1], ValueError, "strictly increasing"),
    ([-0.1, 0.2], ValueError, "t must be >= 0"),
    ([], ValueError, "at least one time"),
    (np.ones((2, 2)), ValueError, "t must have 1 dimension"),
])
def test_solve_rejects_bad_times(t, exc, match):
    model = ads.AdvectionDiffusion(ads.Grid((8,)), kappa=0.1)
    with pytest.raises(exc, match=match):
        model.solve(np.zeros((1, 8)), np.ones(8), t)


@pytest.mark.parametrize("theta0, exc, match", [
    (np.ones(7), ValueError, "theta0 must have shape"),
    (np.full(8, np.inf), ValueError, "theta0 contains NaN or inf"),
    (None, TypeError, "theta0"),
])
def test_solve_rejects_bad_initial_condition(theta0, exc, match):
    model = ads.AdvectionDiffusion(ads.Grid((8,)), kappa=0.1)
    with pytest.raises(exc, match=match):
        model.solve(np.zeros((1, 8)), theta0, 0.1)


def test_expm_action_rejects_bad_operator():
    with pytest.raises(ValueError, match="A must be square"):
        expm_action(np.ones((3, 4)), np.ones(3), 1.0)
    with pytest.raises(ValueError, match="b must have shape"):
        expm_action(np.eye(3), np.ones(4), 1.0)
