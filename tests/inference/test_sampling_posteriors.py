"""Dimension-robust samplers on the PDE posteriors: chains on threads give the same draws as
chains in turn (each thread keeps its own model cache of the last velocity's generator and
propagators; a shared cache could hand one chain the propagator of another's velocity)."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens.inference import sampling_potential
from advdiff_sens.problems import make_field_twin
from advdiff_sens.sampling import InfinityHMC, InfinityMALA, PCN


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sampler", [InfinityHMC(step_size=0.3, n_leapfrog=3),
                                     InfinityMALA(step_size=0.05)])
def test_threads_do_not_change_the_draws(sampler):
    twin = make_field_twin(16, n_sensors=6, times=[0.2, 0.4], infer_kappa=True, rng=0)
    post = twin.posterior
    potential = sampling_potential(post)
    runs = [sampler.sample(potential, post.prior, twin.true_coefficients, 8, n_chains=2, rng=4,
                           n_workers=workers) for workers in (1, 2)]
    assert np.array_equal(runs[0].samples, runs[1].samples)
    assert runs[0].samples.shape == (2, 8, post.n_params)


def test_pcn_with_a_field_prior_on_threads():
    twin = make_field_twin(12, n_sensors=6, times=[0.2, 0.4], rng=1)
    post = twin.posterior
    runs = [PCN(beta=0.3).sample(post.log_likelihood, post.prior, twin.true_coefficients, 6,
                                 n_chains=2, rng=2, n_workers=workers) for workers in (1, 2)]
    assert np.array_equal(runs[0].samples, runs[1].samples)
