"""Time-varying flows (a velocity constant on each of K windows): the product-of-exponentials
solve against dense exponentials, K = 1 against the steady API, and the window-by-window
tangent and adjoint against central differences, against each other (dot test) and by their
Taylor remainders, for every scheme and adjoint; the gradient's products against K."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import advdiff_sens as ads
from advdiff_sens.matrix import count_products
from advdiff_sens.sensitivity import (
    DiscreteAdjoint,
    TimeWindows,
    WindowedVelocity,
    taylor_test,
)

SCHEMES = ("central", "upwind", "exponential")
ADJOINTS = ("discrete", "quadrature", "auto")
EDGES = [0.0, 0.07, 0.12, np.inf]          # observation 0.12 on an edge


def setup(scheme: str, edges=EDGES):
    grid = ads.Grid((10, 8), (1.0, 1.0), "periodic")
    rng = np.random.default_rng(5)
    x, y = grid.coords
    windows = TimeWindows(edges)
    # no component vanishes at a node: the upwind scheme is differentiable there
    values = np.stack([np.stack([(0.3 - 0.1 * k) * np.sin(2 * np.pi * y) + 0.5 - 0.1 * k,
                                 (0.2 + 0.1 * k) * np.cos(2 * np.pi * x) - 0.45])
                       for k in range(windows.n_windows)])
    u = WindowedVelocity(windows, values)
    theta0 = 1 + np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) + 0.1 * rng.standard_normal(grid.shape)
    weights = rng.standard_normal((4, *grid.shape))
    times = np.array([0.05, 0.1, 0.12, 0.2])

    def objective(theta):
        return 0.5 * float(np.sum(weights * theta**2)), weights * theta

    model = ads.AdvectionDiffusion(grid, 0.08, scheme, backend="chebyshev")
    return model, u, theta0, objective, times


def shifted(u: WindowedVelocity, dv: np.ndarray, h: float) -> WindowedVelocity:
    return WindowedVelocity(u.windows, u.values + h * dv)


def value(model, u, theta0, objective, times):
    return objective(model.solve(u, theta0, times))[0]


def test_time_windows_validate_their_edges():
    with pytest.raises(ValueError, match="start at 0"):
        TimeWindows([0.1, 1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        TimeWindows([0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        TimeWindows([0.0, np.inf, 2.0])
    with pytest.raises(ValueError, match="at least two"):
        TimeWindows([0.0])
    with pytest.raises(ValueError, match="outside the windows"):
        TimeWindows([0.0, 1.0]).segments([0.5, 1.5])


def test_segments_put_an_edge_observation_at_the_end_of_its_window():
    segments = TimeWindows([0.0, 1.0, 2.0, 3.0, np.inf]).segments([0.0, 1.0, 2.5])
    assert [s.window for s in segments] == [0, 1, 2]          # window 3 is never reached
    assert segments[0].times.tolist() == [0.0, 1.0] and segments[0].observed == slice(0, 2)
    assert segments[1].times.tolist() == [1.0] and segments[1].n_observed == 0
    assert segments[2].times.tolist() == [0.5] and not segments[2].carries


def test_model_rejects_windowed_values_of_the_wrong_shape():
    model, u, theta0, *_ = setup("central")
    bad = WindowedVelocity(u.windows, u.values[:, :, :5])
    with pytest.raises(ValueError, match="one velocity per window"):
        model.solve(bad, theta0, 0.1)
    with pytest.raises(ValueError, match="one direction per window"):
        model.tangent(u, theta0, u.values[0], 0.1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_solve_is_the_product_of_exponentials(scheme):
    model, u, theta0, _, _ = setup(scheme)
    times = np.array([0.0, 0.05, 0.07, 0.1, 0.12, 0.2])        # at 0, inside and on edges
    theta = model.solve(u, theta0, times)
    Ls = [model.generator(u.window(k)).toarray() for k in range(3)]
    edges = u.windows.edges
    for t, got in zip(times, theta):
        x = theta0.ravel()
        for k in range(3):
            x = sla.expm(max(0.0, min(t, edges[k + 1]) - edges[k]) * Ls[k]) @ x
        # the Chebyshev propagator's tolerance 1e-12 relative per window
        assert np.abs(got.ravel() - x).max() <= 1e-10 * np.abs(x).max()


def test_one_window_is_the_steady_api():
    model, u, theta0, objective, times = setup("exponential", edges=[0.0, np.inf])
    steady = u.window(0)
    assert np.array_equal(model.solve(u, theta0, times), model.solve(steady, theta0, times))
    assert np.array_equal(model.solve(u, theta0, 0.1), model.solve(steady, theta0, 0.1))
    v = np.random.default_rng(2).standard_normal(u.values.shape)
    assert np.array_equal(model.tangent(u, theta0, v, times),
                          model.tangent(steady, theta0, v[0], times))
    for adjoint in ADJOINTS + ("surrogate",):
        a = model.gradient(u, theta0, objective, times, adjoint=adjoint, with_theta0=True,
                           with_kappa=True)
        b = model.gradient(steady, theta0, objective, times, adjoint=adjoint, with_theta0=True,
                           with_kappa=True)
        # the same propagations and contractions; the discrete adjoint's two threads may
        # order the contraction's sums differently (rounding)
        assert a.value == b.value
        assert np.abs(a.gradient[0] - b.gradient).max() <= 1e-14 * np.abs(b.gradient).max()
        assert np.abs(a.theta0_gradient - b.theta0_gradient).max() <= 1e-14 * np.abs(
            b.theta0_gradient).max()
        assert a.kappa_gradient == pytest.approx(b.kappa_gradient, rel=1e-13)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("adjoint", ADJOINTS)
def test_gradient_of_each_window_matches_central_differences(scheme, adjoint):
    model, u, theta0, objective, times = setup(scheme)
    result = model.gradient(u, theta0, objective, times, adjoint=adjoint)
    assert result.gradient.shape == u.values.shape
    rng = np.random.default_rng(11)
    h = 1e-5
    for k in range(u.n_windows):
        dv = np.zeros_like(u.values)
        dv[k] = rng.standard_normal(u.values.shape[1:])
        fd = (value(model, shifted(u, dv, h), theta0, objective, times)
              - value(model, shifted(u, dv, -h), theta0, objective, times)) / (2 * h)
        # central-difference truncation O(h²)|Φ'''| ~ 1e-10 relative, rounding
        # eps|Φ|/h ~ 1e-11; the adjoints are exact to the propagators' tolerances
        assert np.sum(result.gradient * dv) == pytest.approx(fd, rel=1e-6), k


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tangent_of_each_window_matches_central_differences(scheme):
    model, u, theta0, _, times = setup(scheme)
    dv = np.random.default_rng(4).standard_normal(u.values.shape)
    rho = model.tangent(u, theta0, dv, times)
    h = 1e-5
    fd = (model.solve(shifted(u, dv, h), theta0, times)
          - model.solve(shifted(u, dv, -h), theta0, times)) / (2 * h)
    assert np.linalg.norm(rho - fd) <= 1e-7 * np.linalg.norm(fd)
    block = model.tangent(u, theta0, np.stack([dv, 2 * dv]), times)
    assert np.allclose(block[1], 2 * rho, rtol=0, atol=1e-12 * np.abs(rho).max())


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("adjoint", ("discrete", "quadrature"))
def test_dot_test_tangent_against_adjoint(scheme, adjoint):
    """For Φ = Σ_j ⟨w_j, θ(t_j)⟩: ⟨∂Φ/∂u, δu⟩ = Σ_j ⟨w_j, ρ_j⟩ window by window."""
    model, u, theta0, _, times = setup(scheme)
    rng = np.random.default_rng(8)
    w = rng.standard_normal((times.size, *model.grid.shape))
    dv = rng.standard_normal(u.values.shape)
    dkappa = 0.3
    result = model.gradient(u, theta0, lambda th: (float(np.sum(w * th)), w), times,
                            adjoint=adjoint, with_kappa=True)
    rho = model.tangent(u, theta0, dv, times, dkappa=dkappa)
    forward = float(np.sum(w * rho))
    backward = float(np.sum(result.gradient * dv)) + dkappa * result.kappa_gradient
    # the tangent's pair propagation and the carried e^{sL}ρ are exact to the propagator
    # tolerance (1e-12 relative per window); the quadrature adds its rtol 1e-10
    assert backward == pytest.approx(forward, rel=1e-8)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_taylor_remainder_is_second_order(scheme):
    model, u, theta0, objective, times = setup(scheme)
    result = model.gradient(u, theta0, objective, times, adjoint="discrete")
    dv = np.random.default_rng(9).standard_normal(u.values.shape)
    taylor = taylor_test(lambda values: value(model, WindowedVelocity(u.windows, values),
                                              theta0, objective, times),
                         u.values, dv, float(np.sum(result.gradient * dv)), step=0.05,
                         n_steps=4)
    assert np.all(np.abs(taylor.rates1 - 2) < 0.2), taylor.rates1


@pytest.mark.parametrize("adjoint", ADJOINTS)
def test_theta0_and_kappa_gradients_match_central_differences(adjoint):
    model, u, theta0, objective, times = setup("exponential")
    result = model.gradient(u, theta0, objective, times, adjoint=adjoint, with_theta0=True,
                            with_kappa=True)
    delta = np.random.default_rng(6).standard_normal(theta0.shape)
    h = 1e-5
    fd = (value(model, u, theta0 + h * delta, objective, times)
          - value(model, u, theta0 - h * delta, objective, times)) / (2 * h)
    assert np.sum(result.theta0_gradient * delta) == pytest.approx(fd, rel=1e-7)
    hk = 1e-5 * model.kappa
    fd = (value(model.with_kappa(model.kappa + hk), u, theta0, objective, times)
          - value(model.with_kappa(model.kappa - hk), u, theta0, objective, times)) / (2 * hk)
    assert result.kappa_gradient == pytest.approx(fd, rel=1e-6)


def test_windows_after_the_last_observation_get_zero_gradient():
    model, u, theta0, objective, _ = setup("central")
    result = model.gradient(u, theta0, objective, [0.01, 0.03, 0.05, 0.06])
    assert np.any(result.gradient[0]) and not np.any(result.gradient[1:])
    assert len(result.info) == 3 and result.info[1] is None


def test_surrogate_is_exact_for_constant_windows_on_a_periodic_grid():
    """Constant u_k and a linear Φ: every L_k and J_k are circulant and commute, so the
    first-order surrogate of each window is its exact derivative; the carried adjoint state
    is exact for every method."""
    grid = ads.Grid((12, 10), (1.0, 1.0), "periodic")
    model = ads.AdvectionDiffusion(grid, 0.05, "central", backend="chebyshev")
    windows = TimeWindows([0.0, 0.1, 0.25, np.inf])
    values = np.array([[0.5, -0.2], [0.1, 0.4], [-0.3, 0.3]])[:, :, None, None] * np.ones(
        (3, 2, *grid.shape))
    u = WindowedVelocity(windows, values)
    rng = np.random.default_rng(1)
    theta0 = rng.standard_normal(grid.shape)
    w = rng.standard_normal((2, *grid.shape))
    times = np.array([0.15, 0.3])
    objective = lambda th: (float(np.sum(w * th)), w)       # noqa: E731
    exact = model.gradient(u, theta0, objective, times, adjoint="discrete", with_theta0=True)
    cheap = model.gradient(u, theta0, objective, times, adjoint="surrogate", with_theta0=True)
    # constant directions: the node sums of the gradients (the derivative along a uniform
    # change of u_k) agree to the propagators' tolerance
    assert np.allclose(cheap.gradient.sum(axis=(2, 3)), exact.gradient.sum(axis=(2, 3)),
                       rtol=1e-8, atol=1e-10)
    assert np.allclose(cheap.theta0_gradient, exact.theta0_gradient, rtol=0,
                       atol=1e-10 * np.abs(exact.theta0_gradient).max())


def test_reused_tapes_skip_the_forward_recording_of_every_window():
    model, u, theta0, objective, times = setup("exponential")
    adjoint = DiscreteAdjoint(reuse_tape=True)
    with count_products() as first:
        a = model.gradient(u, theta0, objective, times, adjoint=adjoint)
    with count_products() as second:
        b = model.gradient(u, theta0, objective, times, adjoint=adjoint)
    assert np.abs(a.gradient - b.gradient).max() <= 1e-14 * np.abs(a.gradient).max()
    # recording, recomputation and adjoint pass (three shares) against the last two
    assert second.products < 0.8 * first.products


def window_counts(N: int, horizon: float, kappa: float) -> dict:
    """Products of the windowed solve and of the discrete-adjoint gradient for K = 1, 2, 4, 8
    uniform windows on [0, horizon] (the guide's table)."""
    grid = ads.Grid((N, N), (1.0, 1.0), "periodic")
    model = ads.AdvectionDiffusion(grid, kappa, "exponential", backend="chebyshev")
    x, y = grid.coords
    steady = np.stack([np.sin(2 * np.pi * y), np.cos(2 * np.pi * x)])
    theta0 = np.cos(2 * np.pi * x) + np.sin(4 * np.pi * y)
    times = np.linspace(horizon / 4, horizon, 4)
    objective = lambda th: (0.5 * float(np.sum(th**2)), th)   # noqa: E731
    counts = {}
    for K in (1, 2, 4, 8):
        u = WindowedVelocity(TimeWindows.uniform(K, horizon),
                             np.stack([(1 + 0.1 * k) * steady for k in range(K)]))
        with count_products() as solve:
            model.solve(u, theta0, times)
        with count_products() as gradient:
            model.gradient(u, theta0, objective, times, adjoint="discrete")
        counts[K] = (solve.products, gradient.products)
    return counts


def test_gradient_costs_three_windowed_solves_whatever_the_number_of_windows():
    counts = window_counts(16, 1.0, 0.02)
    # the recording, the recomputation and the adjoint pass, each about one forward solve
    # (the tape's tangent schedule is a little longer than the solve's): 2.9-3.0 measured
    for K, (solve, gradient) in counts.items():
        assert 2.5 * solve <= gradient <= 3.3 * solve, (K, counts)


def test_gradient_products_stay_near_the_steady_ones_for_long_windows():
    counts = window_counts(64, 2.0, 0.005)
    # each window's Chebyshev degree is about its length times the ellipse's size plus a
    # start-up of a few tens of terms; with windows long against 1/|L| the start-ups are a
    # fraction of the total (measured 1.03, 1.16, 1.50 times K = 1 for K = 2, 4, 8)
    assert counts[8][1] <= 1.6 * counts[1][1], counts
    assert counts[2][1] <= 1.1 * counts[1][1], counts
