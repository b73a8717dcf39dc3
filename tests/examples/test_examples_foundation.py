"""The numbers of the foundation examples (R1 convergence, R2 sensitivity map) at quick size."""

from __future__ import annotations

import numpy as np
import pytest
from example_loader import load_example

from advdiff_sens.comparison import default_direction
from advdiff_sens.discretisation import LeastSquaresObjective
from advdiff_sens.matrix import DEFAULT_TOL


@pytest.fixture(scope="module")
def convergence():
    example = load_example("convergence_r1")
    return example, example.main(quick=True)


def test_convergence_r1_central_order(convergence):
    example, result = convergence
    h = 1.0 / result.sizes
    # Central differences: error C h² (1 + O((kh)²)); the relative correction moves the
    # local order by O((kh)²) at the coarser grid of each pair, the fitted order by at most
    # (kh)² at the coarsest fitted grid.
    local = result.local_orders("central")
    assert np.all(np.abs(local - 2) <= (example.K * h[:-1]) ** 2)
    coarsest_fitted = h[-example.FIT_LAST]
    assert abs(result.orders["central"] - 2) <= (example.K * coarsest_fitted) ** 2


def test_convergence_r1_upwind_follows_its_numerical_diffusion(convergence):
    example, result = convergence
    # Upwind adds the diffusion uh/2: the amplitude error is e^{-κk²t}(1 - e^{-x}),
    # x = u k² t h / 2, so halving h gives the local order log2(1 + e^{-x}) < 1 (x at the
    # finer grid), -> 1 as h -> 0. The neglected dispersion error is O((kh)²) relative to it.
    h = 1.0 / result.sizes[1:]
    x = example.VELOCITY * example.K**2 * example.TIME * h / 2
    predicted = np.log2(1 + np.exp(-x))
    local = result.local_orders("upwind")
    assert np.all(local < example.ASYMPTOTIC_ORDERS["upwind"])
    assert np.all(np.abs(local - predicted) <= (example.K * h) ** 2)


def test_convergence_r1_exponential_fitting_tends_to_second_order(convergence):
    example, result = convergence
    # κ Pe coth Pe = κ(1 + Pe²/3 + ...): second order with a relative correction O(Pe²);
    # the local order approaches 2 as Pe = uh/(2κ) -> 0 and is within Pe² of it.
    pe = example.VELOCITY / result.sizes[:-1] / (2 * example.KAPPA)
    local = result.local_orders("exponential")
    assert np.all(np.diff(local) > 0)
    assert np.all(np.abs(local - example.ASYMPTOTIC_ORDERS["exponential"]) <= pe**2)


@pytest.fixture(scope="module")
def sensitivity_map():
    return load_example("sensitivity_map").main(quick=True)


def _objective(result):
    objective = LeastSquaresObjective(result.problem.model.grid, result.study.sensors,
                                      np.zeros((1, len(result.study.sensors))))

    def phi(theta):
        value, grad = objective(theta[None])
        return value, grad[0]

    return phi


def test_sensitivity_map_derivatives_agree_with_the_tangent(sensitivity_map):
    result = sensitivity_map
    phi = _objective(result)
    reference = result.row("tangent").directional_derivative
    v = default_direction(result.problem.model)
    # An error δ‖∇Φ‖ in the gradient field moves ∇Φ·v by at most δ‖∇Φ‖‖v‖.
    amplification = np.linalg.norm(result.study.gradient) * np.linalg.norm(v) / abs(reference)
    problem = result.problem
    discrete = problem.model.gradient(problem.u, problem.theta0, phi, problem.T)
    assert discrete.info.method == "discrete"
    assert (result.row("adjoint gradient, discrete").relative_error
            <= (discrete.info.relative_error_bound + DEFAULT_TOL) * amplification)
    # compare_methods asks the quadrature for rtol = 1e-10.
    assert result.row("adjoint gradient, quadrature").relative_error <= (
        1e-10 + DEFAULT_TOL) * amplification
    # Central difference with ε = 1e-5: each Φ carries a relative error ≤ 2·tol (Φ is
    # quadratic in θ), so rounding contributes ≤ 2·tol·Φ/(ε|dΦ|); truncation is O(ε²).
    value = phi(result.study.theta)[0]
    eps = 1e-5
    assert result.row("central finite difference").relative_error <= (
        2 * DEFAULT_TOL * value / (eps * abs(reference)) + eps**2)


def test_sensitivity_map_first_order_surrogate(sensitivity_map):
    result = sensitivity_map
    directional = result.row("surrogate, order 1")
    gradient = result.row("surrogate gradient, order 1")
    # The same number gᵀ t e^{tL} J θ0 two ways (one direction / all parameters at once).
    assert gradient.directional_derivative == pytest.approx(directional.directional_derivative,
                                                            rel=1e-8)
    # At T = 1 the cellular flow has turned the blob: the surrogate is off by more than 100 %.
    assert directional.relative_error > 1
    assert np.linalg.norm(result.study.surrogate_error) > np.linalg.norm(result.study.rho)


@pytest.fixture(scope="module")
def surrogate_vs_adjoint():
    return load_example("surrogate_vs_adjoint").main(quick=True)


@pytest.mark.slow   # ~15 s alone, 35 s on the loaded 2-core machine
def test_surrogate_vs_adjoint_error_grows_with_window_and_flow(surrogate_vs_adjoint):
    result = surrogate_vs_adjoint
    # (1.6) is exact as T -> 0 (its error is O(T ||u||)), and worsens with the flow strength.
    for rows in (result.window_rows, result.strength_rows):
        errors = [r["error"] for r in rows]
        assert np.all(np.diff(errors) > 0)
        assert all(-1 <= r["cosine"] <= 1 for r in rows)


@pytest.mark.slow
def test_surrogate_vs_adjoint_map_reaches_the_noise(surrogate_vs_adjoint):
    result = surrogate_vs_adjoint
    twin = result.twin
    n, p = twin.data.size, twin.basis.n_params
    rows = {r["gradient"]: r for r in result.map_rows}
    # At the MAP 2Φ ~ χ²_{n-p}: within 4 standard deviations of its mean.
    for name in ("tangent", "Gauss-Newton (tangent Jacobian), default"):
        assert abs(2 * rows[name]["misfit"] - (n - p)) <= 4 * np.sqrt(2 * (n - p))
    assert rows["surrogate"]["misfit"] > 10 * rows["tangent"]["misfit"]


@pytest.mark.slow
def test_surrogate_vs_adjoint_hmc_targets_the_same_posterior(surrogate_vs_adjoint):
    exact, surrogate = surrogate_vs_adjoint.hmc_rows
    # Same leapfrog and the exact Metropolis test: the poorer gradient only lowers the
    # acceptance; the means agree within 4 combined Monte Carlo standard errors.
    assert exact["acceptance"] > surrogate["acceptance"]
    assert surrogate["z"] <= 4


@pytest.fixture(scope="module")
def rate_matrix_hmc():
    return load_example("rate_matrix_hmc").main(quick=True)


@pytest.mark.slow   # ~12 s alone, 35 s on the loaded 2-core machine
def test_rate_matrix_hmc_gradient_and_map(rate_matrix_hmc):
    result = rate_matrix_hmc
    # Central difference with step 1e-5: truncation ~1e-10, rounding ~1e-16·|log π|/1e-5.
    assert result.gradient_check <= 1e-6
    # The Laplace covariance is the inverse Hessian at a maximum: symmetric positive definite.
    np.testing.assert_allclose(result.covariance, result.covariance.T, rtol=1e-8)
    assert np.all(np.linalg.eigvalsh(result.covariance) > 0)
    eta_true = np.log(result.q_true[~np.eye(result.settings.d, dtype=bool)])
    np.testing.assert_allclose(result.posterior.rate_matrix(eta_true), result.q_true,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_rate_matrix_hmc_poor_gradients_force_small_steps(rate_matrix_hmc):
    steps = {name: res.step_size.mean() for name, res in rate_matrix_hmc.results.items()}
    exact = steps.pop("exact (expm_frechet)")
    assert all(step < exact for step in steps.values())
    for res in rate_matrix_hmc.results.values():
        assert np.all(np.isfinite(res.log_density))
