"""∂Φ/∂θ0 (the adjoint state at s = 0) and ∂Φ/∂κ (the contraction with K = ∂L/∂κ) from the
same adjoint sweep as the velocity gradient, checked against central differences, against the
tangent (dot test) and by their Taylor remainders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.exceptions import PhysicsWarning

SCHEMES = ("central", "upwind", "exponential")
ADJOINTS = ("discrete", "quadrature", "auto")


def setup(scheme: str, bc: str = "periodic"):
    grid = ads.Grid((10, 8), (1.0, 1.0), bc)
    rng = np.random.default_rng(3)
    x, y = grid.coords
    u = np.stack([0.6 * np.sin(2 * np.pi * y) + 0.2, 0.4 * np.cos(2 * np.pi * x)])
    if bc != "periodic":
        u = np.stack([np.sin(np.pi * x) * np.sin(np.pi * y) * 0.5,
                      np.sin(np.pi * x) * np.sin(np.pi * y) * 0.3])
    theta0 = 1 + np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) + 0.1 * rng.standard_normal(grid.shape)
    weights = rng.standard_normal((3, *grid.shape))
    times = np.array([0.05, 0.12, 0.2])

    def objective(theta):
        return 0.5 * float(np.sum(weights * theta**2)), weights * theta

    model = ads.AdvectionDiffusion(grid, 0.08, scheme, backend="chebyshev")
    return model, u, theta0, objective, times


def value(model, u, theta0, objective, times):
    return objective(model.solve(u, theta0, times))[0]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("adjoint", ADJOINTS)
def test_theta0_gradient_matches_central_differences(scheme, adjoint):
    model, u, theta0, objective, times = setup(scheme)
    result = model.gradient(u, theta0, objective, times, adjoint=adjoint, with_theta0=True)
    direction = np.random.default_rng(1).standard_normal(theta0.shape)
    h = 1e-5
    fd = (value(model, u, theta0 + h * direction, objective, times)
          - value(model, u, theta0 - h * direction, objective, times)) / (2 * h)
    # Φ is quadratic in θ0: central differences are exact up to rounding (~1e-10 relative);
    # the adjoints are exact to the propagator tolerance (1e-8 relative)
    assert np.sum(result.theta0_gradient * direction) == pytest.approx(fd, rel=1e-7)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("adjoint", ADJOINTS)
def test_kappa_gradient_matches_central_differences(scheme, adjoint):
    model, u, theta0, objective, times = setup(scheme)
    result = model.gradient(u, theta0, objective, times, adjoint=adjoint, with_kappa=True)
    h = 1e-5 * model.kappa
    fd = (value(model.with_kappa(model.kappa + h), u, theta0, objective, times)
          - value(model.with_kappa(model.kappa - h), u, theta0, objective, times)) / (2 * h)
    # central-difference truncation O(h²)·|Φ'''| ~ 1e-10 relative; propagators at 1e-8
    assert result.kappa_gradient == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_velocity_gradient_unchanged_by_the_extra_outputs(scheme):
    model, u, theta0, objective, times = setup(scheme)
    plain = model.gradient(u, theta0, objective, times, adjoint="discrete")
    extra = model.gradient(u, theta0, objective, times, adjoint="discrete", with_theta0=True,
                           with_kappa=True)
    # the extra pattern joins the contraction's union pattern: the sums may be reordered
    scale = np.abs(plain.gradient).max()
    assert np.allclose(plain.gradient, extra.gradient, rtol=0, atol=1e-13 * scale)
    assert plain.theta0_gradient is None and plain.kappa_gradient is None


@pytest.mark.parametrize("scheme", SCHEMES)
def test_kappa_derivative_is_the_derivative_of_the_generator(scheme):
    model, u, *_ = setup(scheme)
    h = 1e-6 * model.kappa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        fd = (model.with_kappa(model.kappa + h).generator(u)
              - model.with_kappa(model.kappa - h).generator(u)) / (2 * h)
    K = model.kappa_derivative(u)
    # truncation O(h²) of smooth coefficients, rounding ~ eps·|L|/h ~ 1e-9 relative
    assert abs(fd - K).max() <= 1e-7 * abs(K).max()
    if scheme != "exponential":          # central and upwind: K is the discrete Laplacian
        Delta = ads.AdvectionDiffusion(model.grid, 1.0, scheme).generator(np.zeros_like(u))
        assert abs(K - Delta).max() <= 1e-12 * abs(Delta).max()


def test_dot_test_theta0_gradient_against_the_tangent_of_a_linear_functional():
    """For Φ = ⟨w, θ(t)⟩, ⟨∂Φ/∂θ0, δ⟩ = ⟨w, e^{tL}δ⟩: adjoint against forward."""
    model, u, theta0, _, _ = setup("exponential")
    rng = np.random.default_rng(7)
    w, delta = rng.standard_normal((2, *theta0.shape))
    result = model.gradient(u, theta0, lambda th: (float(np.sum(w * th)), w), 0.3,
                            adjoint="discrete", with_theta0=True)
    forward = float(np.sum(w * model.solve(u, delta, 0.3)))
    assert np.sum(result.theta0_gradient * delta) == pytest.approx(forward, rel=1e-9)


def test_surrogate_theta0_gradient_is_exact():
    model, u, theta0, objective, times = setup("exponential")
    exact = model.gradient(u, theta0, objective, times, adjoint="discrete", with_theta0=True)
    cheap = model.gradient(u, theta0, objective, times, adjoint="surrogate", with_theta0=True)
    scale = np.linalg.norm(exact.theta0_gradient)
    assert np.linalg.norm(cheap.theta0_gradient - exact.theta0_gradient) <= 1e-7 * scale


def test_kappa_gradient_taylor_remainder_is_second_order():
    model, u, theta0, objective, times = setup("exponential")
    result = model.gradient(u, theta0, objective, times, with_kappa=True)
    phi0 = value(model, u, theta0, objective, times)
    steps = model.kappa * np.array([0.08, 0.04, 0.02])
    remainders = [abs(value(model.with_kappa(model.kappa + h), u, theta0, objective, times)
                      - phi0 - h * result.kappa_gradient) for h in steps]
    rates = np.log2(np.array(remainders[:-1]) / remainders[1:])
    assert np.all(np.abs(rates - 2) < 0.2), rates
