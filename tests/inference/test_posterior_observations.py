"""The posterior given general observations (Observations: masked cell-averaged snapshots,
moving sensors, per-datum noise): every gradient strategy against central differences with a
second-order Taylor remainder, the Gauss–Newton Hessian symmetric and equal to GᵀG of the
dense Jacobian, masked data that change nothing, and the point-sensor signature unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.discretisation import (GriddedSnapshots, LeastSquaresObjective, Observations,
                                         PointSensors)
from advdiff_sens.inference import (AdjointGradient, GaussianRandomField, ParameterSpace,
                                    Posterior, StreamFunctionBasis, spectral_prior)

TIMES = np.array([0.1, 0.2, 0.35])
K = TIMES.size
CASES = ("flow", "walls")          # Fourier flow on a periodic grid; θ0 between walls
OPERATORS = ("masked_gridded", "moving")


def setting(case: str):
    """Model, space and a point c of the coefficients."""
    if case == "flow":
        grid = Grid((10, 10))
        x, y = grid.coords
        model = AdvectionDiffusion(grid, 0.05, "exponential", backend="chebyshev")
        basis = StreamFunctionBasis(grid, kmax=1)
        theta0 = 0.5 - 0.25 * np.cos(2 * np.pi * x) - 0.25 * np.cos(2 * np.pi * (y - 0.1))
        space = ParameterSpace(grid, flow=basis, flow_prior=spectral_prior(basis),
                               theta0=theta0)
        c = 2 * space.prior.sample(rng=np.random.default_rng(3))
    else:
        grid = Grid((7, 6), bc=("neumann", "dirichlet"))
        x, y = grid.coords
        model = AdvectionDiffusion(grid, 0.05, "exponential", backend="chebyshev")
        a = 0.3                    # ψ = a sin πx sin πy: no flow through the walls
        u = a * np.pi * np.stack([np.sin(np.pi * x) * np.cos(np.pi * y),
                                  -np.cos(np.pi * x) * np.sin(np.pi * y)])
        prior = GaussianRandomField(grid, 0.3, 0.3, mean=np.sin(np.pi * y) * (1 + x))
        space = ParameterSpace(grid, theta0_prior=prior, velocity=u)
        c = space.prior.sample(rng=np.random.default_rng(3))
    return model, space, c


def operator(grid: Grid, kind: str, rng):
    if kind == "masked_gridded":
        centres = [(np.arange(4) + 0.5) * e / 4 for e in grid.extent]
        return GriddedSnapshots(grid, centres, "cell_average")
    start = rng.uniform(0.1, 0.9, size=(1, 5, 2))
    drift = np.array([0.15, -0.1]) * np.arange(K)[:, None, None]
    return PointSensors(grid, np.clip(start + drift, 0.0, 1.0))


def build(case: str, kind: str, *, gradient="adjoint", garbage: float | None = None):
    """The posterior of noisy data of the truth c, a third of the entries missing (a different
    set per time) for the gridded operator, σ per datum; ``garbage`` fills the missing
    entries of a masked array instead of NaN."""
    model, space, c = setting(case)
    rng = np.random.default_rng(11)
    op = operator(model.grid, kind, rng)
    sigma = rng.uniform(0.01, 0.03, size=(K, op.n_obs))
    probe = Posterior(model, space, times=TIMES, observations=Observations(op, np.zeros(
        (K, op.n_obs)), sigma))
    data = probe.predict(c) + sigma * rng.standard_normal(sigma.shape)
    missing = np.zeros(data.shape, dtype=bool)
    if kind == "masked_gridded":
        missing = rng.uniform(size=data.shape) < 0.35
        assert not missing.all(axis=1).any() and missing.any()
    if garbage is None:
        data = np.where(missing, np.nan, data)
    else:
        data = np.ma.masked_array(np.where(missing, garbage, data), missing)
    obs = Observations(op, data, sigma)
    return Posterior(model, space, times=TIMES, observations=obs, gradient=gradient), c


STRATEGIES = {"tangent": "tangent", "adjoint": "adjoint", "auto": "auto",
              "quadrature": AdjointGradient("quadrature"), "surrogate": "surrogate"}
COMBINATIONS = [(case, kind, s) for case in CASES for kind in OPERATORS for s in STRATEGIES
                if s != "surrogate" or case == "walls"]     # the surrogate's θ0 part is exact


@pytest.mark.parametrize("case, kind, strategy", COMBINATIONS)
def test_gradient_matches_central_differences(case, kind, strategy):
    post, c = build(case, kind, gradient=STRATEGIES[strategy])
    value, grad = post.value_and_gradient(c)
    assert value == pytest.approx(post.misfit(c) + post.prior_term(c)[0], rel=1e-12)
    direction = post.prior.sqrt_cov(np.random.default_rng(2).standard_normal(post.n_params))
    h = 1e-4
    fd = (post.neg_log_posterior(c + h * direction)
          - post.neg_log_posterior(c - h * direction)) / (2 * h)
    # truncation O(h²|Ψ'''|) and the propagators' 1e-8: agreement to ~1e-6 relative
    assert grad @ direction == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("kind", OPERATORS)
@pytest.mark.parametrize("case", CASES)
def test_taylor_remainder_is_second_order(case, kind):
    """|Ψ(c + εv) − Ψ(c) − ε∇Ψ·v| = O(ε²): the measured orders over ε = 2^-j ε₀ are 2."""
    post, c = build(case, kind)
    psi, grad = post.value_and_gradient(c)
    v = post.prior.sqrt_cov(np.random.default_rng(5).standard_normal(post.n_params))
    eps = 0.05 * 2.0 ** -np.arange(5)
    remainders = np.array([abs(post.neg_log_posterior(c + e * v) - psi - e * (grad @ v))
                           for e in eps])
    orders = np.log2(remainders[:-1] / remainders[1:])
    # the next term is O(ε³): orders within 0.1 of 2; far above the ε·1e-8 solver noise
    assert np.all(np.abs(orders - 2) < 0.1), orders
    assert remainders[-1] > 1e3 * 1e-8 * eps[-1] * abs(grad @ v)


@pytest.mark.parametrize("kind", OPERATORS)
@pytest.mark.parametrize("case", CASES)
def test_gauss_newton_hessian_is_symmetric_and_is_gtg(case, kind):
    post, c = build(case, kind)
    residual, G = post.misfit_and_jacobian(c)
    assert residual.shape == (post.n_data,) and G.shape == (post.n_data, post.n_params)
    assert 0.5 * residual @ residual == pytest.approx(post.misfit(c), rel=1e-12)
    lin = post.linearise(c)
    x, y = np.random.default_rng(6).standard_normal((2, post.n_params))
    hx, hy = lin.misfit_hessian(x), lin.misfit_hessian(y)
    # exact adjoint/tangent pairs: symmetric to the propagators' tolerance
    assert hx @ y == pytest.approx(x @ hy, rel=1e-7)
    np.testing.assert_allclose(hx, G.T @ (G @ x), rtol=1e-7, atol=1e-7 * np.abs(hx).max())
    assert np.allclose(lin.hessian(x) - hx, post.prior.precision(x), rtol=1e-10, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_a_missing_datum_changed_to_anything_changes_nothing(case):
    """Masked entries filled with 0 or 1e6 under the mask give the posterior of the NaN data
    bit for bit: value, gradient, residuals; they are not counted in n_data."""
    reference, c = build(case, "masked_gridded")
    expected = reference.value_and_gradient(c)
    assert reference.n_data == int(reference.observations.mask.sum()) < K * 16
    assert reference.residuals(c).shape == (reference.n_data + reference.n_params,)
    for garbage in (0.0, 1e6):
        post, _ = build(case, "masked_gridded", garbage=garbage)
        value, grad = post.value_and_gradient(c)
        assert value == expected[0]
        np.testing.assert_array_equal(grad, expected[1])
        np.testing.assert_array_equal(post.residuals(c), reference.residuals(c))


def test_point_sensors_through_observations_are_the_point_sensor_signature():
    model, space, c = setting("flow")
    rng = np.random.default_rng(8)
    sensors = rng.uniform(0, 1, size=(6, 2))
    data = rng.standard_normal((K, 6))
    old = Posterior(model, space, sensors, TIMES, data, 0.02)
    new = Posterior(model, space, times=TIMES,
                    observations=Observations(PointSensors(model.grid, sensors), data, 0.02))
    assert isinstance(old.observations, LeastSquaresObjective) and old.noise_std == 0.02
    np.testing.assert_array_equal(old.sensors, new.sensors)
    assert old.n_data == new.n_data == K * 6
    value, grad = old.value_and_gradient(c)
    assert new.value_and_gradient(c)[0] == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(new.value_and_gradient(c)[1], grad, rtol=1e-12)
    np.testing.assert_array_equal(old.residuals(c), new.residuals(c))


@pytest.mark.parametrize("kind", OPERATORS)
def test_truncated_posterior_keeps_the_first_times(kind):
    post, c = build("flow", kind)
    short = post.truncated(2)
    obs = post.observations
    first = Observations(obs.operator.truncated(2), obs.data[:2], obs.sigma[:2])
    expected = Posterior(post.model, post.space, times=TIMES[:2], observations=first,
                         gradient=post.gradient)
    assert short.n_data == expected.n_data == int(obs.mask[:2].sum())
    assert short.misfit(c) == expected.misfit(c) < post.misfit(c)
    np.testing.assert_allclose(short.value_and_gradient(c)[1],
                               expected.value_and_gradient(c)[1], rtol=1e-13)
    if kind == "moving":
        assert short.sensors.shape == (2, 5, 2)
    else:
        assert short.sensors is None


def test_posterior_rejects_inconsistent_observations():
    model, space, _ = setting("flow")
    obs = Observations(PointSensors(model.grid, [[0.5, 0.5]]), np.zeros((K, 1)))
    with pytest.raises(TypeError, match="do not pass them"):
        Posterior(model, space, [[0.5, 0.5]], TIMES, observations=obs)
    with pytest.raises(TypeError, match="give sensors, data and noise_std"):
        Posterior(model, space, times=TIMES)
    with pytest.raises(TypeError, match="times is required"):
        Posterior(model, space, observations=obs)
    with pytest.raises(ValueError, match="3 time.*times has 2"):
        Posterior(model, space, times=TIMES[:2], observations=obs)
    with pytest.raises(TypeError, match="must be an Observations"):
        Posterior(model, space, times=TIMES, observations=obs.operator)
    other = Observations(PointSensors(Grid((10, 10), bc="neumann"), [[0.5, 0.5]]),
                         np.zeros((K, 1)))
    with pytest.raises(ValueError, match="observations are on"):
        Posterior(model, space, times=TIMES, observations=other)
