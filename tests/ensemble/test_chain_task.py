"""The chain task: one HMC chain per case of one posterior, checked on the Gaussian posterior
of the released mass (known exactly) within MCSE, and its amplitude gradient against finite
differences."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens.ensemble import CaseTable, ChainTask, ProblemContext, ResultStore, Sweep
from advdiff_sens.sampling import effective_sample_size, split_rhat


@pytest.mark.timeout(120)
def test_chains_of_the_mass_sample_its_gaussian_posterior_within_mcse(tmp_path):
    task = ChainTask("mass", noise_std=0.1, prior_std=0.5, truth=1.2, n_draws=400,
                     n_warmup=100)
    cases = CaseTable.product(x0=[0.5, 0.9, 1.3, 1.7], t=[0.1])
    context = ProblemContext(n=8, progress=False)
    report = Sweep(task, cases, context, seed=3).run(tmp_path)
    assert report.complete
    store = ResultStore(tmp_path)
    chains = np.stack([store.load(c)["samples"] for c in cases.ids])[..., None]
    mean, sd = task.gaussian_posterior(context, cases[0])
    assert sd < 0.5 * task.prior_std                       # the data inform the mass
    ess = float(effective_sample_size(chains)[0])
    assert float(split_rhat(chains)[0]) < 1.05 and ess > 100
    mcse = chains.std() / np.sqrt(ess)
    assert abs(chains.mean() - mean) < 4 * mcse
    assert abs(chains.std() - sd) < 4 * sd / np.sqrt(2 * ess)
    assert not np.array_equal(chains[0], chains[1])       # each case its own stream


def test_the_amplitude_log_density_gradient_matches_finite_differences():
    task = ChainTask("amplitude", noise_std=0.05)
    context = ProblemContext(n=8, progress=False)
    case = CaseTable([{"t": 0.1}])[0]
    log_density, gradient = task._log_density(context, case)
    c = 0.8
    g = float(gradient(np.array([c]))[0])
    errors = [abs((log_density(np.array([c + h])) - log_density(np.array([c - h]))) / (2 * h)
                  - g) for h in (1e-2, 5e-3)]
    assert errors[1] < errors[0] / 3                      # second order


def test_a_bad_unknown_is_refused():
    with pytest.raises(ValueError, match="'amplitude' or 'mass'"):
        ChainTask("kappa")
