"""The general posterior: every parameter space (Fourier ψ, nodal ψ, θ0, log κ, jointly) has a
gradient that matches central differences and the tangent, and a Gauss–Newton Hessian that is
symmetric, matches the Jacobian's GᵀG and the differences of the gradient at a zero-residual
point, with second-order Taylor remainders."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.inference import (GaussianRandomField, NodalStreamFunction, ParameterSpace,
                                    Posterior, StreamFunctionBasis, spectral_prior)
from advdiff_sens.sampling import DiagonalGaussian

N = 12
SPACES = ("fourier", "nodal", "theta0", "kappa", "joint")


def build(kind: str, scheme: str = "exponential", data=None) -> tuple[Posterior, np.ndarray]:
    grid = Grid((N, N))
    x, y = grid.coords
    model = AdvectionDiffusion(grid, 0.05, scheme, backend="chebyshev")
    theta0 = 0.5 - 0.25 * np.cos(2 * np.pi * x) - 0.25 * np.cos(2 * np.pi * y)
    rng = np.random.default_rng(4)
    options = {}
    if kind in ("fourier",):
        basis = StreamFunctionBasis(grid, kmax=2)
        options.update(flow=basis, flow_prior=spectral_prior(basis))
    if kind in ("nodal", "joint"):
        options.update(flow=NodalStreamFunction(grid),
                       flow_prior=GaussianRandomField(grid, 0.1, 0.4))
    if kind in ("theta0", "joint"):
        options.update(theta0_prior=GaussianRandomField(grid, 0.2, 0.2, mean=theta0))
    else:
        options.update(theta0=theta0)
    if kind in ("kappa", "joint"):
        options.update(log_kappa_prior=DiagonalGaussian([np.log(0.05)], 0.5))
    if "flow" not in options:
        psi = 0.1 * np.sin(2 * np.pi * x) * np.sin(2 * np.pi * y)
        options.update(velocity=NodalStreamFunction(grid).to_velocity(psi.ravel()))
    space = ParameterSpace(grid, **options)
    sensors = rng.uniform(0, 1, (7, 2))
    times = np.array([0.1, 0.2, 0.35])
    c = space.prior.sample(rng=rng)
    post = Posterior(model, space, sensors, times, np.zeros((3, 7)), 0.01, gradient="adjoint")
    if data is None:
        data = post.predict(c) + 0.01 * rng.standard_normal((3, 7))
    return Posterior(model, space, sensors, times, data, 0.01, gradient="adjoint"), c


@pytest.mark.parametrize("kind", SPACES)
def test_gradient_matches_central_differences(kind):
    post, c = build(kind)
    value, grad = post.value_and_gradient(c)
    assert value == pytest.approx(post.neg_log_posterior(c), rel=1e-12)
    direction = post.prior.sqrt_cov(np.random.default_rng(2).standard_normal(post.n_params))
    h = 1e-4
    fd = (post.neg_log_posterior(c + h * direction)
          - post.neg_log_posterior(c - h * direction)) / (2 * h)
    # truncation O(h²|Ψ'''|) and the propagators' 1e-8: agreement to ~1e-6 relative
    assert grad @ direction == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("kind", SPACES)
def test_adjoint_gradient_matches_the_tangent_dot_test(kind):
    post, c = build(kind)
    _, grad = post.value_and_gradient(c)
    direction = np.random.default_rng(5).standard_normal(post.n_params)
    residual = ((post.predict(c) - post.data) / post.noise_std).ravel()
    tangent = post.objective.predict(post.linearised_solve(c, direction)).ravel() / post.noise_std
    prior_part = post.prior_term(c)[1] @ direction
    assert grad @ direction == pytest.approx(residual @ tangent + prior_part, rel=1e-7)


@pytest.mark.parametrize("kind", SPACES)
def test_gauss_newton_hessian_is_symmetric_and_is_gtg(kind):
    post, c = build(kind)
    lin = post.linearise(c)
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((2, post.n_params))
    hx, hy = lin.misfit_hessian(x), lin.misfit_hessian(y)
    # both sides are exact adjoint/tangent pairs: symmetric to the propagators' tolerance
    assert hx @ y == pytest.approx(x @ hy, rel=1e-7, abs=1e-9 * np.linalg.norm(hx))
    gx = post.objective.predict(post.linearised_solve(c, x)).ravel() / post.noise_std
    gy = post.objective.predict(post.linearised_solve(c, y)).ravel() / post.noise_std
    assert hx @ y == pytest.approx(gx @ gy, rel=1e-7)
    assert lin.hessian_products == 2
    full = lin.hessian(x)
    assert np.allclose(full - hx, post.prior.precision(x), rtol=1e-10, atol=0)


@pytest.mark.parametrize("kind", ("fourier", "theta0", "joint"))
def test_gauss_newton_is_the_hessian_at_a_zero_residual_point(kind):
    """With noise-free data at c the residual vanishes and the Gauss–Newton Hessian is the
    exact Hessian: it matches central differences of the gradient."""
    post, c = build(kind)
    exact_data = post.predict(c)
    post, _ = build(kind, data=exact_data)
    lin = post.linearise(c)
    v = post.prior.sqrt_cov(np.random.default_rng(8).standard_normal(post.n_params))
    h = 1e-4
    fd = (post.value_and_gradient(c + h * v)[1] - post.value_and_gradient(c - h * v)[1]) / (2 * h)
    hv = lin.hessian(v)
    assert np.linalg.norm(hv - fd) <= 1e-4 * np.linalg.norm(hv)


@pytest.mark.parametrize("kind", ("nodal", "joint"))
def test_gradient_taylor_remainder_is_second_order(kind):
    post, c = build(kind)
    psi0, grad = post.value_and_gradient(c)
    v = post.prior.sqrt_cov(np.random.default_rng(9).standard_normal(post.n_params))
    steps = 0.1 * 0.5 ** np.arange(4)
    remainders = np.array([abs(post.neg_log_posterior(c + h * v) - psi0 - h * (grad @ v))
                           for h in steps])
    rates = np.log2(remainders[:-1] / remainders[1:])
    assert np.all(np.abs(rates - 2) < 0.25), rates


def test_tangent_gradient_strategy_agrees_with_the_adjoint_for_the_joint_space():
    small = build("kappa")[0]
    c_small = small.prior.mean + 0.1
    _, g_adj = small.value_and_gradient(c_small, "adjoint")
    _, g_tan = small.value_and_gradient(c_small, "tangent")
    assert np.allclose(g_adj, g_tan, rtol=1e-7)


def test_nodal_velocity_is_divergence_free_and_the_space_validates():
    grid = Grid((N, N))
    with pytest.raises(ValueError, match="neither inferred"):
        ParameterSpace(grid, theta0=np.zeros(grid.shape))
    with pytest.raises(ValueError, match="dimension"):
        ParameterSpace(grid, flow=NodalStreamFunction(grid),
                       flow_prior=DiagonalGaussian(np.zeros(3), 1.0), theta0=np.zeros(grid.shape))
    with pytest.raises(TypeError, match="GaussianReference"):
        ParameterSpace(grid, flow=NodalStreamFunction(grid), flow_prior=np.ones(grid.n),
                       theta0=np.zeros(grid.shape))
    with pytest.raises(ValueError, match="at least 5 nodes"):
        NodalStreamFunction(Grid((4, N), (1.0, 1.0), ("neumann", "periodic")))


@pytest.mark.parametrize("kind", ("fourier", "joint"))
def test_sampling_potential_relative_to_prior_and_to_a_gaussian(kind):
    from advdiff_sens.inference import sampling_potential
    from advdiff_sens.sampling import DenseGaussian
    post, c = build(kind)
    potential = sampling_potential(post)
    value, grad = potential(c)
    assert value == pytest.approx(post.misfit(c), rel=1e-12)
    assert np.allclose(grad, post.value_and_gradient(c)[1] - post.prior_term(c)[1])
    if post.n_params <= 20:
        rng = np.random.default_rng(11)
        A = rng.standard_normal((post.n_params, post.n_params))
        reference = DenseGaussian(c + 0.01, A @ A.T / post.n_params + np.eye(post.n_params))
        potential = sampling_potential(post, reference)
        direction = rng.standard_normal(post.n_params)
        h = 1e-5
        fd = (potential(c + h * direction)[0] - potential(c - h * direction)[0]) / (2 * h)
        assert potential(c)[1] @ direction == pytest.approx(fd, rel=1e-5)


def test_hessian_products_reuse_the_recorded_forward_propagation():
    from advdiff_sens.matrix import count_products
    post, c = build("nodal")
    v = np.random.default_rng(12).standard_normal(post.n_params)
    fresh = post.linearise(c).misfit_hessian(v)
    lin = post.linearise(c)
    first = lin.misfit_hessian(v)
    with count_products() as counter:
        again = lin.misfit_hessian(v)
    with count_products() as counter_fresh:
        post.linearise(c).misfit_hessian(v)
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)
    # the reused product skips one forward recording: at least the forward solve's products
    with count_products() as forward:
        post.solve(c)
    assert counter_fresh.products - counter.products >= 0.9 * forward.products


@pytest.mark.parametrize("kind", ("nodal", "joint"))
def test_hessian_taylor_remainder_is_second_order_at_a_zero_residual_point(kind):
    """At noise-free data the Gauss–Newton Hessian is the Hessian: |∇Ψ(c + hv) − ∇Ψ(c) −
    hHv| = O(h²)."""
    post, c = build(kind)
    post, _ = build(kind, data=post.predict(c))
    _, g0 = post.value_and_gradient(c)
    v = post.prior.sqrt_cov(np.random.default_rng(13).standard_normal(post.n_params))
    hv = post.linearise(c).hessian(v)
    steps = 0.2 * 0.5 ** np.arange(4)
    remainders = np.array([np.linalg.norm(post.value_and_gradient(c + h * v)[1] - g0 - h * hv)
                           for h in steps])
    rates = np.log2(remainders[:-1] / remainders[1:])
    assert np.all(np.abs(rates - 2) < 0.3), rates
