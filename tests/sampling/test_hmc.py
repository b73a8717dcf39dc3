"""HMC: exactness with any gradient, mass matrix and adaptation, divergences, the in_bounds
guard, and the checks of its options and arguments.

Tolerances are Monte Carlo errors: a mean is compared with |Δ| ≤ 4·MCSE (MCSE = sd/√ESS),
a standard deviation with the large-sample sd of the sample sd, sd/√(2·ESS), times 4.
"""

import numpy as np
import pytest

from advdiff_sens.exceptions import NonFiniteResultError
from advdiff_sens.sampling import HMC, PCN

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


def std_normal_log_density(x):
    return -0.5 * float(x @ x)


def std_normal_gradient(x):
    return -x


class Recorder:
    """log density and gradient of N(0, I) that remember every point they were asked about."""

    def __init__(self):
        self.points = []

    def log_density(self, x):
        self.points.append(np.array(x))
        return std_normal_log_density(x)

    def gradient(self, x):
        self.points.append(np.array(x))
        return std_normal_gradient(x)


def check_moments(res, mean, sd):
    ess = res.ess()
    assert np.all(np.abs(res.mean - mean) <= 4 * sd / np.sqrt(ess)), (res.mean, ess)
    # HMC draws can be anticorrelated (ESS of the mean > draws); the sd's ESS is not, so cap it
    ess_sd = np.minimum(ess, res.samples.shape[0] * res.samples.shape[1])
    assert np.all(np.abs(res.std - sd) <= 4 * sd / np.sqrt(2 * ess_sd)), (res.std, ess)


@pytest.mark.parametrize("gradient", [exact_gradient, biased_gradient])
def test_hmc_targets_the_exact_density_with_any_gradient(gradient):
    # fixed step, chains started in the bulk: the comparison isolates the gradient's effect
    res = HMC(step_size=0.3, n_leapfrog=4).sample(log_density, gradient, MEAN, 1500, n_chains=2,
                                                  rng=1)
    assert res.samples.shape == (2, 1500, 2)
    check_moments(res, MEAN, np.sqrt(np.diag(COV)))
    assert np.all(res.rhat() < 1.02)


def test_biased_gradient_lowers_acceptance_at_equal_step():
    sampler = HMC(step_size=0.5, n_leapfrog=5)
    exact = sampler.sample(log_density, exact_gradient, MEAN, 400, rng=2)
    biased = sampler.sample(log_density, biased_gradient, MEAN, 400, rng=2)
    assert biased.accept_rate.mean() < exact.accept_rate.mean() - 0.1


def test_hmc_with_mass_matrix_and_adaptation():
    sampler = HMC(inverse_mass=COV, step_size=0.1, n_leapfrog=3, n_warmup=1000,
                  target_accept=0.8)
    res = sampler.sample(log_density, exact_gradient, MEAN, 400, rng=3)
    # dual averaging reaches the target (measured 0.85 over 400 draws)
    assert abs(res.accept_rate.mean() - 0.8) < 0.1
    assert res.step_size[0] > 0.8          # whitened Gaussian: the adapted step grows to ~1.2
    check_moments(res, MEAN, np.sqrt(np.diag(COV)))


def test_divergent_trajectories_are_rejected_not_fatal():
    def log_density_bounded(x):
        return log_density(x) if np.all(np.abs(x) < 50) else -np.inf

    def gradient(x):
        return exact_gradient(x) if np.all(np.abs(x) < 50) else np.full(2, np.nan)

    res = HMC(step_size=30.0, n_leapfrog=3).sample(log_density_bounded, gradient, MEAN, 50,
                                                   rng=5)
    assert res.accept_rate[0] == 0.0           # every trajectory leaves the support
    assert np.all(res.samples == MEAN)


@pytest.mark.timeout(30)
def test_too_large_step_makes_every_trajectory_diverge_and_be_rejected():
    # step 50 on N(0, I): the energy error after one step is ~ 50⁴/8 ≫ 1000
    res = HMC(step_size=50.0, n_leapfrog=10).sample(
        std_normal_log_density, std_normal_gradient, np.zeros(2), 40, n_chains=2, rng=0)
    np.testing.assert_array_equal(res.divergences, [40, 40])
    assert np.all(res.accept_rate == 0.0)
    assert np.all(res.samples == 0.0)
    # each trajectory ended at its first step: one gradient per iteration plus the start
    assert res.gradient_evaluations == 2 * (40 + 1)


def test_energy_error_threshold_is_the_divergence_criterion():
    # the same moderately large step: harmless under the default threshold, divergent under a
    # tiny one (one leapfrog step of 1.5 on N(0, I) changes H by O(0.1-1))
    args = (std_normal_log_density, std_normal_gradient, np.zeros(2), 100)
    lenient = HMC(step_size=1.5, n_leapfrog=3).sample(*args, rng=1)
    strict = HMC(step_size=1.5, n_leapfrog=3, max_energy_error=1e-3).sample(*args, rng=1)
    assert lenient.divergences[0] == 0
    assert strict.divergences[0] > 50
    assert strict.accept_rate[0] < lenient.accept_rate[0]


@pytest.mark.timeout(30)
def test_in_bounds_stops_a_trajectory_before_evaluating_outside():
    rec = Recorder()

    def in_bounds(x):
        return float(np.max(np.abs(x))) <= 3.0

    res = HMC(step_size=2.0, n_leapfrog=8).sample(rec.log_density, rec.gradient, np.zeros(2), 50,
                                                  in_bounds=in_bounds, rng=2)
    assert res.divergences[0] > 0
    points = np.array(rec.points)
    assert np.max(np.abs(points)) <= 3.0           # nothing was ever evaluated outside
    assert np.all(np.abs(res.samples) <= 3.0)


def test_solver_errors_inside_a_trajectory_are_divergences():
    def gradient(x):
        if np.max(np.abs(x)) > 3.0:
            raise NonFiniteResultError("θ overflowed at a strong flow")
        return std_normal_gradient(x)

    res = HMC(step_size=2.0, n_leapfrog=8).sample(std_normal_log_density, gradient, np.zeros(2),
                                                  50, rng=3)
    assert res.divergences[0] > 0
    assert np.all(np.abs(res.samples) <= 3.0)


def test_start_outside_the_bounds_is_an_error():
    with pytest.raises(ValueError, match="x0 must satisfy in_bounds"):
        HMC().sample(std_normal_log_density, std_normal_gradient, np.full(2, 5.0), 10,
                     in_bounds=lambda x: bool(np.all(np.abs(x) < 1)), rng=0)


@pytest.mark.timeout(60)
def test_warmup_adapts_a_far_too_large_step():
    args = (std_normal_log_density, std_normal_gradient, np.zeros(2), 200)
    fixed = HMC(step_size=5.0, n_leapfrog=5).sample(*args, n_chains=2, rng=4)
    adapted = HMC(step_size=5.0, n_leapfrog=5, n_warmup=300).sample(*args, n_chains=2, rng=4)
    assert fixed.accept_rate.mean() < 0.1               # step 5: (nearly) every draw rejected
    # dual averaging (divergent proposals count as acceptance 0) brings the step to ~1 and the
    # acceptance into the band around the target 0.8 (measured 0.92-0.95 over seeds)
    assert np.all((adapted.step_size > 0.5) & (adapted.step_size < 2.0))
    lo, hi = adapted.accept_range()
    assert np.all((adapted.accept_rate >= lo) & (adapted.accept_rate <= hi))
    assert np.all(adapted.warmup_divergences > 0)     # the first proposals diverged ...
    assert np.all(adapted.divergences == 0)           # ... none after warm-up


@pytest.mark.parametrize("options, error, match", [
    ({"step_size": -1.0}, ValueError, "step_size"),
    ({"n_leapfrog": 1.5}, TypeError, "n_leapfrog"),
    ({"n_leapfrog": 0}, ValueError, "n_leapfrog"),
    ({"n_warmup": -1}, ValueError, "n_warmup"),
    ({"target_accept": 1.5}, ValueError, "target_accept"),
    ({"inverse_mass": np.array([[1.0, 2.0], [2.0, 1.0]])}, ValueError, "inverse_mass"),
    ({"inverse_mass": np.array([1.0, -1.0])}, ValueError, "inverse_mass"),
    ({"inverse_mass": np.ones((2, 3))}, ValueError, "inverse_mass"),
    ({"max_energy_error": 0.0}, ValueError, "max_energy_error"),
    ({"max_energy_error": float("inf")}, ValueError, "max_energy_error"),
])
def test_hmc_options_are_checked_when_the_sampler_is_made(options, error, match):
    with pytest.raises(error, match=match):
        HMC(**options)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_draws": 2}, ValueError, "n_draws"),
    ({"x0": np.zeros((3, 2))}, ValueError, "x0"),
    ({"n_chains": 0}, ValueError, "n_chains"),
    ({"in_bounds": 3.0}, TypeError, "in_bounds"),
    ({"callback": "print"}, TypeError, "callback"),
])
def test_hmc_sample_arguments_are_checked(kwargs, error, match):
    args = {"x0": np.zeros(2), "n_draws": 10} | kwargs
    x0, n = args.pop("x0"), args.pop("n_draws")
    with pytest.raises(error, match=match):
        HMC().sample(log_density, exact_gradient, x0, n, **args)


def test_mass_matrix_of_another_dimension_is_named():
    with pytest.raises(ValueError, match=r"inverse_mass must have shape \(2,\) or \(2, 2\)"):
        HMC(inverse_mass=np.eye(3)).sample(log_density, exact_gradient, MEAN, 10)
    with pytest.raises(ValueError, match=r"inverse_mass must have shape \(2,\)"):
        HMC(inverse_mass=np.ones(3)).sample(log_density, exact_gradient, MEAN, 10)


def test_samplers_reject_non_callables():
    with pytest.raises(TypeError, match="log_density"):
        HMC().sample(1.0, exact_gradient, np.zeros(2), 10)
    with pytest.raises(TypeError, match="gradient"):
        HMC().sample(log_density, "grad", np.zeros(2), 10)


def test_non_finite_start_is_an_error():
    """A NaN log density at x0 would make every proposal look acceptable (min(0, nan) = 0)."""
    with pytest.raises(ValueError, match="starting point x0"):
        HMC(step_size=0.1, n_leapfrog=2).sample(lambda x: float("nan"), exact_gradient, MEAN, 10,
                                                rng=0)


@pytest.mark.parametrize("rng, error", [(1.5, TypeError), ("seed", TypeError), (True, TypeError),
                                        (-1, ValueError)])
def test_bad_rng_is_named(rng, error):
    from advdiff_sens.matrix import random_rate_matrix

    with pytest.raises(error, match="rng must be"):
        HMC(step_size=0.1, n_leapfrog=2).sample(log_density, exact_gradient, MEAN, 5, rng=rng)
    with pytest.raises(error, match="rng must be"):
        random_rate_matrix(4, rng)


def test_rng_accepts_seeds_and_generators():
    sampler = HMC(step_size=0.1, n_leapfrog=2)
    a = sampler.sample(log_density, exact_gradient, MEAN, 5, rng=3)
    b = sampler.sample(log_density, exact_gradient, MEAN, 5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.samples, b.samples)


def test_gradient_of_wrong_shape_is_named():
    with pytest.raises(ValueError, match="gradient must return an array of shape"):
        HMC(step_size=0.1, n_leapfrog=2).sample(log_density, lambda x: np.zeros(3), MEAN, 5,
                                                rng=0)


def test_repr_names_the_options():
    assert repr(HMC(step_size=0.3, n_leapfrog=4)) == (
        "HMC(step_size=0.3, n_leapfrog=4, n_warmup=0, target_accept=0.8, inverse_mass=None, "
        "max_energy_error=1000.0)")
    assert "inverse_mass=<array of shape (2, 2)>" in repr(HMC(inverse_mass=COV))


@pytest.mark.timeout(60)
def test_velocity_posterior_bound_keeps_hmc_away_from_wild_flows():
    """The CLI's case: a fixed step far too large for the posterior. With
    ``in_bounds=posterior.in_bounds`` no solve is ever started at a flow faster than the bound."""
    from advdiff_sens.inference.estimate import VelocityPosterior
    from advdiff_sens.problems.twin import make_twin

    twin = make_twin(8, kmax=1, n_sensors=9, times=np.linspace(0.1, 0.3, 3), noise_std=0.05,
                     rng=3)
    post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, twin.basis)
    speeds = []

    def gradient(c):
        speeds.append(post.rms_speed(c))
        return -post.value_and_gradient(c, "tangent")[1]

    sampler = HMC(step_size=40.0, n_leapfrog=4, inverse_mass=post.prior_std**2)
    res = sampler.sample(post.log_density, gradient, np.zeros(post.n_params), 8,
                         in_bounds=post.in_bounds, rng=12)
    assert max(speeds) <= post.max_speed
    assert res.divergences[0] > 0


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
    sampler = HMC(step_size=0.6, n_leapfrog=3, inverse_mass=est.covariance)
    exact = sampler.sample(post.log_density, lambda c: -post.value_and_gradient(c, "tangent")[1],
                           est.coefficients, 300, n_chains=2, rng=8)
    surrogate = sampler.sample(post.log_density,
                               lambda c: -post.value_and_gradient(c, "surrogate")[1],
                               est.coefficients, 300, n_chains=2, rng=8)
    walk = PCN(beta=0.1, n_warmup=300).sample(post.log_likelihood, post.prior_std,
                                              est.coefficients, 3000, n_chains=2, rng=9)
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
