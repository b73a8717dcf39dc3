"""pCN: the conjugate Gaussian posterior, its bounds, and the checks of its arguments."""

import numpy as np
import pytest

from advdiff_sens.sampling import PCN

S, TAU, Y = np.array([1.0, 2.0]), 0.5, np.array([0.3, -1.0])


def log_likelihood(x):
    return -0.5 * float(np.sum((x - Y) ** 2)) / TAU**2


def test_pcn_on_a_conjugate_gaussian_problem():
    # prior N(0, s²), one observation y = x + N(0, τ²) per coordinate
    post_var = 1 / (1 / S**2 + 1 / TAU**2)
    post_mean = post_var * Y / TAU**2
    res = PCN(beta=0.3, n_warmup=300).sample(log_likelihood, S, np.zeros(2), 4000, n_chains=2,
                                             rng=4)
    ess = res.ess()
    sd = np.sqrt(post_var)
    assert np.all(np.abs(res.mean - post_mean) <= 4 * sd / np.sqrt(ess)), (res.mean, ess)
    ess_sd = np.minimum(ess, res.samples.shape[0] * res.samples.shape[1])
    assert np.all(np.abs(res.std - sd) <= 4 * sd / np.sqrt(2 * ess_sd)), (res.std, ess)
    assert 0.1 < res.accept_rate.mean() < 0.5
    assert res.gradient_evaluations == 0 and np.all(res.divergences == 0)


def test_log_density_is_likelihood_times_prior():
    res = PCN(beta=0.5).sample(log_likelihood, S, np.zeros(2), 20, rng=0)
    expected = [log_likelihood(x) - 0.5 * float(np.sum((x / S) ** 2)) for x in res.samples[0]]
    np.testing.assert_allclose(res.log_density[0], expected, rtol=1e-14)


def test_in_bounds_rejects_proposals_before_the_likelihood_is_evaluated():
    asked = []

    def recording(x):
        asked.append(np.array(x))
        return log_likelihood(x)

    def in_bounds(x):
        return bool(np.all(x > -0.5))

    res = PCN(beta=0.8).sample(recording, S, np.zeros(2), 200, in_bounds=in_bounds, rng=5)
    assert np.all(np.array(asked) > -0.5)
    assert np.all(res.samples > -0.5)
    assert len(asked) < 1 + 200                   # some proposals were never evaluated
    unbounded = PCN(beta=0.8).sample(log_likelihood, S, np.zeros(2), 200, rng=5)
    assert np.any(unbounded.samples <= -0.5)      # without the bound the chain goes there


def test_pcn_start_outside_the_bounds_is_an_error():
    with pytest.raises(ValueError, match="x0 must satisfy in_bounds"):
        PCN().sample(log_likelihood, S, np.full(2, 5.0), 10, in_bounds=lambda x: False)


def test_pcn_bad_input():
    with pytest.raises(ValueError, match="beta"):
        PCN(beta=1.5)
    with pytest.raises(ValueError, match="target_accept"):
        PCN(target_accept=0.0)
    with pytest.raises(ValueError, match="prior_std"):
        PCN().sample(lambda x: 0.0, -np.ones(2), np.zeros(2), 10)
    with pytest.raises(ValueError, match="prior_std"):
        PCN().sample(lambda x: 0.0, np.ones(3), np.zeros(2), 10)
    with pytest.raises(TypeError, match="log_likelihood"):
        PCN().sample(None, np.ones(2), np.zeros(2), 10)


def test_pcn_non_finite_start_is_an_error():
    with pytest.raises(ValueError, match="starting point x0"):
        PCN().sample(lambda x: -np.inf, np.ones(2), np.zeros(2), 10, rng=0)


def test_repr_names_the_options():
    assert repr(PCN(beta=0.3)) == "PCN(beta=0.3, n_warmup=0, target_accept=0.25)"
