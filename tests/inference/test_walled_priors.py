"""Gaussian random fields with walls: the prior of a stream function that vanishes on the walls
(Dirichlet, on the nodal stream function's free grid, any α through the sparse factorisations)
and of a no-flux θ (Neumann). Covariance, precision and square root against dense inverses on
tiny grids; the draws' variance within Monte Carlo error, near the wall too; the variance's
decay at a Dirichlet wall and rise at a Neumann wall."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens import Grid
from advdiff_sens.inference import GaussianRandomField, NodalStreamFunction, laplacian


def dense(operator, n):
    return np.stack([operator(e) for e in np.eye(n)], axis=1)


@pytest.mark.parametrize("alpha", [2, 3, 4])
@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("neumann", "neumann"),
                                ("periodic", "dirichlet"), ("dirichlet", "neumann")])
def test_stream_function_prior_against_the_dense_inverse(bc, alpha):
    """On the free grid of a nodal stream function, C = c²(I − γΔ_h)^{-α} with the Dirichlet
    Laplacian (ψ = 0 on the walls): the factorised actions against dense linear algebra."""
    free = NodalStreamFunction(Grid((7, 8), (1.0, 1.3), bc)).free_grid
    prior = GaussianRandomField(free, std=0.3, correlation_length=0.4, alpha=alpha,
                                mean=np.linspace(0, 1, free.n).reshape(free.shape))
    assert prior.cholesky == (alpha % 2 == 1)
    n = free.n
    A = np.eye(n) - prior.gamma * laplacian(free).toarray()
    assert np.allclose(A, A.T, rtol=0, atol=1e-14)             # periodic/Dirichlet: symmetric
    C = prior.amplitude**2 * np.linalg.matrix_power(np.linalg.inv(A), alpha)
    root = dense(prior.sqrt_cov, n)
    scale = np.abs(C).max()
    assert np.abs(root @ root.T - C).max() <= 1e-12 * scale
    assert np.abs(dense(prior.covariance, n) - C).max() <= 1e-12 * scale
    assert np.allclose(dense(prior.sqrt_cov_transpose, n), root.T, rtol=0,
                       atol=1e-13 * np.abs(root).max())
    P = dense(prior.precision, n)
    assert np.abs(P @ C - np.eye(n)).max() <= 1e-9
    x = prior.sample(rng=4)
    assert np.allclose(prior.mean + prior.sqrt_cov(prior.whiten(x)), x, rtol=0, atol=1e-12)
    r = x - prior.mean
    assert prior.neg_log_density(x) == pytest.approx(0.5 * r @ np.linalg.solve(C, r), rel=1e-9)
    centre = np.ravel_multi_index(tuple(s // 2 for s in free.shape), free.shape)
    assert C[centre, centre] == pytest.approx(0.09, rel=1e-12)       # σ² at the centre node


def test_odd_alpha_needs_a_symmetric_operator():
    with pytest.raises(ValueError, match="even on a grid with a Neumann axis"):
        GaussianRandomField(Grid((8, 8), bc=("periodic", "neumann")), 1.0, 0.2, alpha=3)


def test_draws_have_the_pointwise_variance_within_monte_carlo_error_near_the_walls():
    """A channel's stream-function prior (α = 3): the draws' variance, standardised node by
    node, is 1 on average, and on the first row off the wall (periodic along it, so one
    variance) it is that row's pointwise variance — each within 4 Monte Carlo sds (the
    node averages of one draw are correlated; their spread across draws gives the sd)."""
    free = NodalStreamFunction(Grid((24, 26), bc=("periodic", "neumann"))).free_grid
    prior = GaussianRandomField(free, 0.05, 0.3, alpha=3)
    variance = prior.pointwise_variance().reshape(free.shape)
    draws = prior.sample(rng=11, size=400).reshape(400, *free.shape)
    standardised = np.mean(draws**2 / variance, axis=(1, 2))
    assert standardised.mean() == pytest.approx(1.0, abs=4 * standardised.std() / np.sqrt(400))
    first_row = np.mean(draws[:, :, 0] ** 2, axis=1)
    assert np.allclose(variance[:, 0], variance[0, 0], rtol=1e-10)     # stationary along x
    assert first_row.mean() == pytest.approx(variance[0, 0],
                                             abs=4 * first_row.std() / np.sqrt(400))


def test_variance_decays_to_zero_at_a_dirichlet_wall_and_rises_at_a_neumann_wall():
    """Across a Dirichlet axis the variance is σ² at the centre, falls monotonically towards
    each wall and vanishes there like the squared distance: halving h (33 → 65 free nodes)
    divides the first node's variance by about 4. Across a Neumann axis it rises towards the
    wall node, where the even image coincides with the field (continuum 2σ²)."""
    first = []
    for ny in (33, 65):
        grid = Grid((8, ny), bc=("periodic", "dirichlet"))
        prior = GaussianRandomField(grid, 1.0, 0.3, alpha=3)
        column = prior.pointwise_variance().reshape(grid.shape)[0]
        half = ny // 2
        assert column[half] == pytest.approx(1.0, rel=1e-12)
        assert np.all(np.diff(column[:half + 1]) > 0) and np.all(np.diff(column[half:]) < 0)
        assert np.allclose(column, column[::-1], rtol=1e-10)
        first.append(column[0])
    h_ratio = (1 / 66) / (1 / 34)
    # the quadratic law holds as h → 0: measured exponent 1.9 here, between 1.5 and 2.5
    exponent = np.log(first[1] / first[0]) / np.log(h_ratio)
    assert 1.5 < exponent < 2.5, exponent
    grid = Grid((8, 65), bc=("periodic", "neumann"))
    column = GaussianRandomField(grid, 1.0, 0.3).pointwise_variance().reshape(grid.shape)[0]
    assert column[32] == pytest.approx(1.0, rel=1e-12)
    assert 1.5 < column[0] < 2.0 and column[0] == pytest.approx(column[-1], rel=1e-10)
    assert column[0] > column[3] > column[10] > column[32] * 0.99
