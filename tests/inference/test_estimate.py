"""Velocity estimation (R3 twin experiments): gradients, MAP accuracy, Laplace, bad input."""

import numpy as np
import pytest

from advdiff_sens.inference import (VelocityPosterior, continuation_schedule, estimate_velocity,
                                    stacked_tangent)
from advdiff_sens.problems.twin import make_twin


@pytest.fixture(scope="module")
def small_twin():
    return make_twin(12, kmax=2, n_sensors=16, times=np.linspace(0.1, 0.6, 6), noise_std=0.005,
                     rng=5)


def _posterior(twin):
    return VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, twin.basis)


def _rel_error(est, twin):
    return np.linalg.norm(est.velocity - twin.true_velocity) / np.linalg.norm(twin.true_velocity)


def test_stacked_tangent_matches_single_direction_tangents(small_twin):
    """The arrow system of several directions against one pair propagation per direction
    (both expm_multiply, to double precision; measured 7e-16)."""
    post = _posterior(small_twin)
    u = post.velocity(small_twin.true_coefficients)
    theta, rho = stacked_tangent(post.model, u, post.theta0, post.directions[:3], post.times)
    ref = np.stack([post.model.tangent(u, post.theta0, d, post.times).reshape(rho.shape[1:])
                    for d in post.directions[:3]])
    assert np.allclose(theta, post.model.solve(u, post.theta0, post.times).reshape(theta.shape),
                       atol=1e-12)
    assert np.max(np.abs(rho - ref)) <= 1e-12 * np.max(np.abs(ref))


def test_gradients_agree_with_each_other_and_finite_differences(small_twin, rng):
    post = _posterior(small_twin)
    c = 0.8 * small_twin.true_coefficients
    v_tan, g_tan = post.value_and_gradient(c, "tangent")
    v_adj, g_adj = post.value_and_gradient(c, "adjoint")
    assert v_tan == pytest.approx(v_adj, rel=1e-10)
    # the twin's backend is scipy: the quadrature adjoint, rtol 1e-10 (measured 6e-16)
    assert np.linalg.norm(g_adj - g_tan) <= 1e-9 * np.linalg.norm(g_tan)
    direction = rng.standard_normal(post.n_params) * post.prior_std
    h = 1e-6
    fd = (post.neg_log_posterior(c + h * direction) - post.neg_log_posterior(c - h * direction)) / (2 * h)
    # central difference: truncation O(h²)·Ψ''' and rounding ~ 1e-16·Ψ/h, both ≪ 1e-6 relative
    assert g_tan @ direction == pytest.approx(fd, rel=1e-6)


def test_gauss_newton_hvp_matches_dense_hessian(small_twin, rng):
    post = _posterior(small_twin)
    c = small_twin.true_coefficients
    v = rng.standard_normal(post.n_params)
    dense = post.gauss_newton_hessian(c) @ v
    # one tangent and one quadrature adjoint (rtol 1e-10) against p tangents; measured 6e-16
    assert np.linalg.norm(post.gauss_newton_hvp(c, v) - dense) <= 1e-9 * np.linalg.norm(dense)


def test_surrogate_gradient_is_exact_in_the_short_time_limit(small_twin):
    # (1.6) is exact to first order in t: its relative error must shrink with the window
    errors = []
    for window in (0.2, 0.02):
        times = np.linspace(window / 3, window, 3)
        post = VelocityPosterior(small_twin.model, small_twin.theta0, small_twin.sensors, times,
                                 small_twin.data[:3], small_twin.noise_std, small_twin.basis)
        c = small_twin.true_coefficients
        g = post.value_and_gradient(c, "tangent")[1] - c / post.prior_std**2
        s = post.value_and_gradient(c, "surrogate")[1] - c / post.prior_std**2
        errors.append(np.linalg.norm(s - g) / np.linalg.norm(g))
    # first order in t: a 10× shorter window should cut the error about 10× (measured 4.3×)
    assert errors[1] < 0.3 * errors[0]


def test_continuation_schedule():
    assert continuation_schedule(20) == [3, 6, 10, 20]
    assert continuation_schedule(6) == [3, 6]
    assert continuation_schedule(4, ()) == [4]
    with pytest.raises(TypeError, match=r"stages\[1\] must be an integer"):
        continuation_schedule(20, (3, 2.7))
    with pytest.raises(ValueError, match=r"stages\[0\] must be >= 1"):
        continuation_schedule(20, (0, 5))


def test_map_twin_low_noise_error_below_3_percent(small_twin):
    est = estimate_velocity(small_twin.model, small_twin.theta0, small_twin.sensors,
                            small_twin.times, small_twin.data, small_twin.noise_std, kmax=2)
    assert est.velocity.shape == (2, 12, 12)
    assert est.coefficients.shape == (12,) and est.covariance.shape == (12, 12)
    # measured 0.006, against a posterior sd of 0.008 (relative): a few sd at most
    assert _rel_error(est, small_twin) <= 0.03
    assert [s.n_times for s in est.history] == [3, 6]
    assert est.iterations >= 1 and np.all(np.isfinite(est.velocity_std()))
    # whitened misfit at the MAP is chi-square-like: ½·(k·m) ± a few ½·sqrt(2·k·m)
    n = small_twin.data.size
    assert abs(est.misfit - n / 2) < 5 * np.sqrt(n / 2)


def test_map_error_shrinks_with_noise():
    errors = []
    for noise in (0.04, 0.01, 0.0025):
        twin = make_twin(12, kmax=1, n_sensors=16, times=np.linspace(0.1, 0.5, 5),
                         noise_std=noise, rng=11)
        est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                                twin.noise_std, kmax=1)
        errors.append(_rel_error(est, twin))
    # the error is ∝ σ (linear regime): each factor-4 step must cut it by at least 2
    assert errors[1] < errors[0] / 2 and errors[2] < errors[1] / 2


def test_laplace_sd_scales_with_noise(small_twin):
    post = _posterior(small_twin)
    c = small_twin.true_coefficients
    sd1 = np.sqrt(np.diag(post.laplace_covariance(c)))
    half = VelocityPosterior(post.model, post.theta0, post.sensors, post.times, post.data,
                             post.noise_std / 2, post.basis)
    sd2 = np.sqrt(np.diag(half.laplace_covariance(c)))
    # data-dominated posterior: sd ∝ σ up to the prior's contribution
    assert np.allclose(sd2, sd1 / 2, rtol=1e-3)           # measured 7e-5


@pytest.mark.parametrize("change, match", [
    ({"data": "nan"}, "data contains NaN"),
    ({"data": "shape"}, "data must"),
    ({"sensors": np.array([[0.5, 1.5]])}, "sensors must lie inside"),
    ({"noise_std": 0.0}, "noise_std must be > 0"),
    ({"noise_std": -1.0}, "noise_std must be > 0"),
    ({"times": np.array([0.3, 0.2, 0.4, 0.5, 0.6, 0.7])}, "times must be strictly increasing"),
    ({"prior_std": -1.0}, "prior_std must be > 0"),
    ({"optimizer": "sgd"}, "optimizer must be one of"),
])
def test_bad_input_raises_clear_errors(small_twin, change, match):
    kw = dict(model=small_twin.model, theta0=small_twin.theta0, sensors=small_twin.sensors,
              times=small_twin.times, data=small_twin.data.copy(), noise_std=0.01)
    if change.get("data") == "nan":
        kw["data"][2, 3] = np.nan
    elif change.get("data") == "shape":
        kw["data"] = kw["data"][:, :-1]
    else:
        kw.update(change)
    with pytest.raises(ValueError, match=match):
        estimate_velocity(**kw)


def test_bad_types_raise_type_errors(small_twin):
    with pytest.raises(TypeError, match="model"):
        estimate_velocity("model", small_twin.theta0, small_twin.sensors, small_twin.times,
                          small_twin.data, 0.01)
    with pytest.raises(TypeError, match="n_starts"):
        estimate_velocity(small_twin.model, small_twin.theta0, small_twin.sensors,
                          small_twin.times, small_twin.data, 0.01, n_starts=1.5)


def test_log_density_reuses_the_value_of_the_last_gradient_call(small_twin, rng):
    post = _posterior(small_twin)
    c = 0.01 * rng.standard_normal(post.n_params)
    fresh = post.log_density(c)
    value, _ = post.value_and_gradient(c + 1e-3)
    assert post.log_density(c + 1e-3) == -value                 # memo hit: the same number
    assert abs(post.log_density(c) - fresh) <= 1e-12 * abs(fresh)   # other points recomputed
    assert abs(-value - _posterior(small_twin).log_density(c + 1e-3)) <= 1e-10 * abs(value)
