"""Time-varying flows in inference: the temporal priors against dense Kronecker covariances
and by their samples (within MCSE), the windowed posterior's gradient against central
differences and its Taylor remainder, its Gauss–Newton products (symmetric, = GᵀG), and a
two-window twin recovered within the posterior spread."""

from __future__ import annotations

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.inference import (
    ParameterSpace,
    Posterior,
    StreamFunctionBasis,
    TemporalGaussian,
    WindowedFlow,
    spectral_prior,
)
from advdiff_sens.sampling import DenseGaussian
from advdiff_sens.sensitivity import TimeWindows, taylor_test


def spatial_prior(p: int = 3) -> DenseGaussian:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((p, p))
    return DenseGaussian(rng.standard_normal(p), A @ A.T + 0.5 * np.eye(p))


def temporal_covariances(K: int):
    k = np.arange(K)
    sigma, rho = 0.4, 0.7
    walk = 1 + sigma**2 * np.minimum.outer(k, k)          # Var(c_0) = 1, steps σ²
    ar = rho ** np.abs(np.subtract.outer(k, k))
    return [(TemporalGaussian.random_walk, sigma, walk), (TemporalGaussian.ar1, rho, ar)]


@pytest.mark.parametrize("which", [0, 1])
def test_prior_matches_the_dense_kronecker_construction(which):
    spatial, K = spatial_prior(), 4
    build, parameter, T = temporal_covariances(K)[which]
    prior = build(spatial, K, parameter)
    C = np.kron(T, spatial.covariance_matrix() if hasattr(spatial, "covariance_matrix")
                else np.stack([spatial.covariance(e) for e in np.eye(spatial.dim)], axis=1))
    p = prior.dim
    I = np.eye(p)
    dense_cov = np.stack([prior.covariance(e) for e in I], axis=1)
    assert np.allclose(dense_cov, C, rtol=0, atol=1e-12 * np.abs(C).max())
    dense_prec = np.stack([prior.precision(e) for e in I], axis=1)
    assert np.allclose(dense_prec @ C, I, rtol=0, atol=1e-10)
    S = np.stack([prior.sqrt_cov(e) for e in I], axis=1)
    assert np.allclose(S @ S.T, C, rtol=0, atol=1e-12 * np.abs(C).max())
    St = np.stack([prior.sqrt_cov_transpose(e) for e in I], axis=1)
    assert np.allclose(St, S.T, rtol=0, atol=1e-13 * np.abs(S).max())
    x = np.random.default_rng(3).standard_normal(p)
    z = prior.whiten(x)
    assert np.allclose(prior.mean + prior.sqrt_cov(z), x, rtol=0, atol=1e-12)
    assert np.allclose(prior.unwhiten_transpose(z), np.linalg.solve(S.T, z), rtol=0,
                       atol=1e-10 * np.abs(z).max())
    assert np.allclose(prior.pointwise_variance(), np.diag(C), rtol=1e-13, atol=0)
    r = x - np.tile(spatial.mean, K)
    assert prior.neg_log_density(x) == pytest.approx(0.5 * r @ np.linalg.solve(C, r), rel=1e-10)


@pytest.mark.parametrize("which", [0, 1])
def test_sample_covariance_within_mcse(which):
    spatial, K, N = spatial_prior(2), 3, 20000
    build, parameter, T = temporal_covariances(K)[which]
    prior = build(spatial, K, parameter)
    C = np.stack([prior.covariance(e) for e in np.eye(prior.dim)], axis=1)
    draws = prior.sample(rng=7, size=N)
    assert np.all(np.abs(draws.mean(axis=0) - prior.mean) <= 4.5 * np.sqrt(np.diag(C) / N))
    empirical = np.cov(draws, rowvar=False)
    # Var of a Gaussian sample covariance entry: (C_ii C_jj + C_ij²)/N; 4.5 MCSE over the
    # 21 distinct entries (a false alarm about 1e-4)
    mcse = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / N)
    assert np.all(np.abs(empirical - C) <= 4.5 * mcse)


def test_ar1_rejects_a_non_stationary_rho_and_factors_must_be_cholesky():
    with pytest.raises(ValueError, match="stationary"):
        TemporalGaussian.ar1(spatial_prior(), 3, 1.0)
    with pytest.raises(ValueError, match="lower triangular"):
        TemporalGaussian(spatial_prior(), np.ones((2, 2)))


def windowed_twin(noise_std=0.01, rng=0):
    grid = ads.Grid((12, 12))
    model = ads.AdvectionDiffusion(grid, 0.04, "exponential", backend="chebyshev")
    basis = StreamFunctionBasis(grid, kmax=1)
    windows = TimeWindows([0.0, 0.15, np.inf])
    flow = WindowedFlow(basis, windows)
    prior = TemporalGaussian.random_walk(spectral_prior(basis), 2, 0.5)
    x, y = grid.coords
    theta0 = np.cos(2 * np.pi * x) + 0.6 * np.sin(2 * np.pi * (x + y))
    space = ParameterSpace(grid, flow=flow, flow_prior=prior, theta0=theta0)
    truth = prior.sample(rng=rng)
    times = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    g = np.linspace(0.05, 0.95, 5)
    sensors = np.array([[a, b] for a in g for b in g])
    clean = Posterior(model, space, sensors, times, np.zeros((times.size, len(sensors))),
                      noise_std).predict(truth)
    data = clean + noise_std * np.random.default_rng(rng + 1).standard_normal(clean.shape)
    return Posterior(model, space, sensors, times, data, noise_std), truth


def test_posterior_gradient_matches_central_differences_and_taylor():
    post, truth = windowed_twin()
    c = post.prior.mean + 0.5 * (truth - post.prior.mean)
    value, grad = post.value_and_gradient(c)
    direction = np.random.default_rng(2).standard_normal(post.n_params)
    h = 1e-5
    fd = (post.neg_log_posterior(c + h * direction)
          - post.neg_log_posterior(c - h * direction)) / (2 * h)
    assert grad @ direction == pytest.approx(fd, rel=1e-6)
    taylor = taylor_test(post.neg_log_posterior, c, direction, float(grad @ direction),
                         step=0.05, n_steps=4)
    assert np.all(np.abs(taylor.rates1 - 2) < 0.2), taylor.rates1


def test_gauss_newton_products_are_symmetric_and_equal_gtg():
    post, truth = windowed_twin()
    lin = post.linearise(truth)
    G = post.misfit_jacobian(truth)
    I = np.eye(post.n_params)
    H = np.stack([lin.misfit_hessian(e) for e in I], axis=1)
    scale = np.abs(G.T @ G).max()
    # tangent columns and adjoint products, each exact to the propagators' tolerance
    assert np.allclose(H, H.T, rtol=0, atol=1e-8 * scale)
    assert np.allclose(H, G.T @ G, rtol=0, atol=1e-8 * scale)


def test_two_window_truth_is_recovered_within_the_posterior_spread():
    post, truth = windowed_twin()
    result = ads.inference.find_map(post, continuation=())
    c = result.coefficients
    G = post.misfit_jacobian(c)
    precision = G.T @ G + np.stack([post.prior.precision(e) for e in np.eye(post.n_params)],
                                   axis=1)
    cov = np.linalg.inv(precision)
    z = np.linalg.solve(np.linalg.cholesky(cov), c - truth)
    # the Laplace posterior is nearly exact here (small noise): the standardised error is
    # about N(0, I_8), so |z|² ~ χ²₈; its 0.999 quantile is 26.1
    assert float(z @ z) < 26.1, float(z @ z)
    # and the two windows' flows are told apart: their difference is resolved
    p = post.n_params // 2
    diff = (c[:p] - c[p:]) - (truth[:p] - truth[p:])
    assert np.linalg.norm(diff) < 0.5 * np.linalg.norm(truth[:p] - truth[p:])


def test_tangent_gradient_strategy_matches_the_adjoint_one():
    post, truth = windowed_twin()
    by_tangent = Posterior(post.model, post.space, post.sensors, post.times, post.data,
                           post.noise_std, gradient="tangent")
    c = post.prior.mean + 0.5 * (truth - post.prior.mean)
    value, grad = post.value_and_gradient(c)
    value_t, grad_t = by_tangent.value_and_gradient(c)
    # both exact to the propagators' tolerance (INFERENCE_TOL-scale relative errors)
    assert value_t == pytest.approx(value, rel=1e-10)
    assert np.allclose(grad_t, grad, rtol=0, atol=1e-6 * np.abs(grad).max())


@pytest.mark.filterwarnings("ignore:c_map is not a MAP")     # the linear algebra at any point
@pytest.mark.parametrize("prior_kind", ["walk", "dense"])
def test_field_summaries_of_a_windowed_flow_are_the_dense_variances(prior_kind):
    post, truth = windowed_twin()
    space = post.space
    if prior_kind == "dense":            # not a TemporalGaussian: the column-sum path
        cov = np.stack([space.prior.sqrt_cov(e) for e in np.eye(post.n_params)], axis=1)
        dense = DenseGaussian(space.prior.mean, cov @ cov.T)
        space = ParameterSpace(space.grid, flow=space.flow, flow_prior=dense,
                               theta0=space.theta0)
        post = Posterior(post.model, space, post.sensors, post.times, post.data,
                         post.noise_std)
    G = post.misfit_jacobian(truth)
    S = np.stack([post.prior.sqrt_cov(e) for e in np.eye(post.n_params)], axis=1)
    laplace = ads.inference.laplace_approximation(post, truth, rank=post.n_params)
    fields = ads.inference.field_summaries(post, truth, laplace)
    K, p = space.flow.n_windows, space.flow.spatial.n_params
    assert fields["velocity"].value.shape == (K, 2, *space.grid.shape)
    assert fields["stream_function"].value.shape == (K, *space.grid.shape)
    # the dense posterior covariance of the Gauss–Newton Laplace approximation
    post_cov = S @ np.linalg.inv(np.eye(post.n_params) + S.T @ G.T @ G @ S) @ S.T
    for name, block in (("velocity", lambda ck: space.flow.spatial.to_velocity(ck)),
                        ("stream_function", space.flow.spatial.stream_function)):
        for k in range(K):
            B = np.stack([np.ravel(block(e)) for e in np.eye(p)], axis=1)
            window = slice(k * p, (k + 1) * p)
            variance = np.einsum("ij,jk,ik->i", B, post_cov[window, window], B)
            sd = np.sqrt(variance).reshape(fields[name].sd[k].shape)
            assert np.allclose(fields[name].sd[k], sd, rtol=1e-8, atol=1e-12 * sd.max())
            assert np.array_equal(fields[name].value[k], block(truth[window]))
