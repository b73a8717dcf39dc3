"""Samplers and diagnostics: exactness of HMC with any gradient, pCN, ESS and R-hat.

Tolerances are Monte Carlo errors: a mean is compared with |Δ| ≤ 4·MCSE (MCSE = sd/√ESS),
a standard deviation with the large-sample sd of the sample sd, sd/√(2·ESS), times 4.
"""

import numpy as np
import pytest

from advdiff_sens.sampling.samplers import (autocorrelation, effective_sample_size, hmc, pcn,
                                   split_rhat)

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])
PREC = np.linalg.inv(COV)


def log_density(x):
    d = x - MEAN
    return -0.5 * float(d @ PREC @ d)


def exact_gradient(x):
    return -PREC @ (x - MEAN)


def biased_gradient(x):
    # a deliberately wrong "surrogate": wrong correlation and a 30 % scale error
    return -1.3 * np.linalg.inv(np.eye(2)) @ (x - MEAN)


def _check_moments(res, mean, sd):
    ess = res.ess()
    assert np.all(np.abs(res.mean - mean) <= 4 * sd / np.sqrt(ess)), (res.mean, ess)
    # HMC draws can be anticorrelated (ESS of the mean > draws); the sd's ESS is not, so cap it
    ess_sd = np.minimum(ess, res.samples.shape[0] * res.samples.shape[1])
    assert np.all(np.abs(res.std - sd) <= 4 * sd / np.sqrt(2 * ess_sd)), (res.std, ess)


@pytest.mark.parametrize("gradient", [exact_gradient, biased_gradient])
def test_hmc_targets_the_exact_density_with_any_gradient(gradient):
    # fixed step, chains started in the bulk: the comparison isolates the gradient's effect
    res = hmc(log_density, gradient, MEAN, 1500, step_size=0.3, n_steps=4, n_chains=2, rng=1)
    assert res.samples.shape == (2, 1500, 2)
    _check_moments(res, MEAN, np.sqrt(np.diag(COV)))
    assert np.all(res.rhat() < 1.02)


def test_biased_gradient_lowers_acceptance_at_equal_step():
    kw = dict(step_size=0.5, n_steps=5, n_chains=1, rng=2)
    exact = hmc(log_density, exact_gradient, MEAN, 400, **kw)
    biased = hmc(log_density, biased_gradient, MEAN, 400, **kw)
    assert biased.accept_rate.mean() < exact.accept_rate.mean() - 0.1


def test_hmc_with_mass_matrix_and_adaptation():
    res = hmc(log_density, exact_gradient, MEAN, 400, inverse_mass=COV, step_size=0.1,
              n_steps=3, n_warmup=1000, target_accept=0.8, rng=3)
    # dual averaging reaches the target (measured 0.85 over 400 draws)
    assert abs(res.accept_rate.mean() - 0.8) < 0.1
    assert res.step_size[0] > 0.8          # whitened Gaussian: the adapted step grows to ~1.2
    _check_moments(res, MEAN, np.sqrt(np.diag(COV)))


def test_pcn_on_a_conjugate_gaussian_problem():
    # prior N(0, s²), one observation y = x + N(0, τ²) per coordinate
    s, tau, y = np.array([1.0, 2.0]), 0.5, np.array([0.3, -1.0])
    post_var = 1 / (1 / s**2 + 1 / tau**2)
    post_mean = post_var * y / tau**2
    res = pcn(lambda x: -0.5 * float(np.sum((x - y) ** 2)) / tau**2, s, np.zeros(2), 4000,
              beta=0.3, n_warmup=300, n_chains=2, rng=4)
    _check_moments(res, post_mean, np.sqrt(post_var))
    assert 0.1 < res.accept_rate.mean() < 0.5


def test_divergent_trajectories_are_rejected_not_fatal():
    def log_density_bounded(x):
        return log_density(x) if np.all(np.abs(x) < 50) else -np.inf

    def gradient(x):
        return exact_gradient(x) if np.all(np.abs(x) < 50) else np.full(2, np.nan)

    res = hmc(log_density_bounded, gradient, MEAN, 50, step_size=30.0, n_steps=3, rng=5)
    assert res.accept_rate[0] == 0.0           # every trajectory leaves the support
    assert np.all(res.samples == MEAN)


def test_ess_of_iid_and_ar1_series():
    rng = np.random.default_rng(6)
    iid = rng.standard_normal((4, 2000, 1))
    assert effective_sample_size(iid)[0] == pytest.approx(8000, rel=0.15)
    phi = 0.8
    x = np.zeros((4, 4000))
    for t in range(1, 4000):
        x[:, t] = phi * x[:, t - 1] + rng.standard_normal(4)
    expected = 16000 * (1 - phi) / (1 + phi)        # integrated autocorrelation time (1+φ)/(1−φ)
    assert effective_sample_size(x[..., None])[0] == pytest.approx(expected, rel=0.25)
    assert autocorrelation(x[0])[1] == pytest.approx(phi, abs=0.05)


def test_diagnostics_match_arviz():
    """Same estimators as ArviZ's ess(method="mean") and rhat(method="split"), step for step:
    equal to rounding (measured 7e-16 relative)."""
    arviz = pytest.importorskip("arviz")
    rng = np.random.default_rng(8)
    for n in (400, 501):
        x = np.zeros((3, n, 3))
        for j, phi in enumerate((0.9, 0.5, -0.3)):
            for t in range(1, n):
                x[:, t, j] = phi * x[:, t - 1, j] + rng.standard_normal(3)
        x[2, :, 1] += 0.2
        for j in range(3):
            ref_ess = float(arviz.ess(x[:, :, j], method="mean"))
            ref_rhat = float(arviz.rhat(x[:, :, j], method="split"))
            assert effective_sample_size(x)[j] == pytest.approx(ref_ess, rel=1e-12)
            assert split_rhat(x)[j] == pytest.approx(ref_rhat, rel=1e-12)


def test_to_inference_data():
    arviz = pytest.importorskip("arviz")
    res = hmc(log_density, exact_gradient, MEAN, 40, n_chains=2, rng=9)
    data = res.to_inference_data()
    assert data.posterior["c"].shape == res.samples.shape
    assert float(arviz.ess(data, var_names=["c"], method="mean")["c"][0]) == pytest.approx(
        res.ess()[0], rel=1e-12)


def test_rhat_flags_disagreeing_chains():
    rng = np.random.default_rng(7)
    good = rng.standard_normal((4, 500, 1))
    bad = good + np.array([0.0, 0.0, 0.0, 3.0])[:, None, None]
    assert split_rhat(good)[0] < 1.01
    assert split_rhat(bad)[0] > 1.1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_samples": 2}, ValueError, "n_samples"),
    ({"step_size": -1.0}, ValueError, "step_size"),
    ({"n_steps": 1.5}, TypeError, "n_steps"),
    ({"inverse_mass": np.array([[1.0, 2.0], [2.0, 1.0]])}, ValueError, "inverse_mass"),
    ({"x0": np.zeros((3, 2))}, ValueError, "x0"),
    ({"target_accept": 1.5}, ValueError, "target_accept"),
])
def test_hmc_bad_input(kwargs, error, match):
    args = {"x0": np.zeros(2), "n_samples": 10} | kwargs
    x0, n = args.pop("x0"), args.pop("n_samples")
    with pytest.raises(error, match=match):
        hmc(log_density, exact_gradient, x0, n, **args)


def test_pcn_bad_input():
    with pytest.raises(ValueError, match="beta"):
        pcn(lambda x: 0.0, np.ones(2), np.zeros(2), 10, beta=1.5)
    with pytest.raises(ValueError, match="prior_std"):
        pcn(lambda x: 0.0, -np.ones(2), np.zeros(2), 10)


@pytest.mark.slow
def test_pde_posterior_hmc_exact_surrogate_pcn_and_laplace_agree():
    """R3 posterior small enough to check (10², 4 coefficients, 3 times ≤ 0.3)."""
    from advdiff_sens.inference.estimate import estimate_velocity
    from advdiff_sens.problems.twin import make_twin

    twin = make_twin(10, kmax=1, n_sensors=16, times=np.linspace(0.1, 0.3, 3), noise_std=0.05,
                     flow_strength=0.5, rng=3)
    est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                            twin.noise_std, kmax=1)
    post = est.posterior
    kw = dict(step_size=0.6, n_steps=3, inverse_mass=est.covariance, n_chains=2, rng=8)
    exact = hmc(post.log_density, lambda c: -post.value_and_gradient(c, "tangent")[1],
                est.coefficients, 300, **kw)
    surrogate = hmc(post.log_density, lambda c: -post.value_and_gradient(c, "surrogate")[1],
                    est.coefficients, 300, **kw)
    walk = pcn(post.log_likelihood, post.prior_std, est.coefficients, 3000, beta=0.1,
               n_warmup=300, n_chains=2, rng=9)
    for a, b in ((exact, surrogate), (exact, walk)):
        se = np.hypot(a.mcse(), b.mcse())
        assert np.all(np.abs(a.mean - b.mean) <= 4 * se)
        n_a, n_b = a.samples[..., 0].size, b.samples[..., 0].size
        sd_se = np.hypot(a.std / np.sqrt(2 * np.minimum(a.ess(), n_a)),
                         b.std / np.sqrt(2 * np.minimum(b.ess(), n_b)))
        assert np.all(np.abs(a.std - b.std) <= 4 * sd_se)
    # near-Gaussian here: Laplace sd within 4 MC standard errors of the sampled sd
    n_exact = exact.samples[..., 0].size
    assert np.all(np.abs(est.std - exact.std)
                  <= 4 * exact.std / np.sqrt(2 * np.minimum(exact.ess(), n_exact)))
    assert np.all(np.abs(est.coefficients - exact.mean) <= 4 * exact.mcse() + 0.1 * exact.std)


def test_samplers_reject_non_callables():
    with pytest.raises(TypeError, match="log_density"):
        hmc(1.0, exact_gradient, np.zeros(2), 10)
    with pytest.raises(TypeError, match="gradient"):
        hmc(log_density, "grad", np.zeros(2), 10)
    with pytest.raises(TypeError, match="log_likelihood"):
        pcn(None, np.ones(2), np.zeros(2), 10)


def test_non_finite_start_is_an_error():
    """A NaN log density at x0 would make every proposal look acceptable (min(0, nan) = 0)."""
    with pytest.raises(ValueError, match="starting point x0"):
        hmc(lambda x: float("nan"), exact_gradient, MEAN, 10, step_size=0.1, n_steps=2, rng=0)
    with pytest.raises(ValueError, match="starting point x0"):
        pcn(lambda x: -np.inf, np.ones(2), np.zeros(2), 10, rng=0)


@pytest.mark.parametrize("rng, error", [(1.5, TypeError), ("seed", TypeError), (True, TypeError),
                                        (-1, ValueError)])
def test_bad_rng_is_named(rng, error):
    from advdiff_sens.matrix import random_rate_matrix

    with pytest.raises(error, match="rng must be"):
        hmc(log_density, exact_gradient, MEAN, 5, step_size=0.1, n_steps=2, rng=rng)
    with pytest.raises(error, match="rng must be"):
        random_rate_matrix(4, rng)


def test_rng_accepts_seeds_and_generators():
    a = hmc(log_density, exact_gradient, MEAN, 5, step_size=0.1, n_steps=2, rng=3)
    b = hmc(log_density, exact_gradient, MEAN, 5, step_size=0.1, n_steps=2,
            rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.samples, b.samples)


def test_gradient_of_wrong_shape_is_named():
    with pytest.raises(ValueError, match="gradient must return an array of shape"):
        hmc(log_density, lambda x: np.zeros(3), MEAN, 5, step_size=0.1, n_steps=2, rng=0)
