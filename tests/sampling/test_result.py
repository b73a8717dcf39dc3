"""SamplerResult: built from the chains, the diagnostics that turn a run into warnings, and
the ArviZ export."""

import warnings

import numpy as np
import pytest

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.sampling import HMC, MIN_ESS, PCN, ChainResult, SamplerResult


def std_normal_log_density(x):
    return -0.5 * float(x @ x)


def std_normal_gradient(x):
    return -x


def test_from_chains_stacks_chain_first():
    chains = [ChainResult(np.full((5, 2), c), np.full(5, -c), 0.5 + 0.1 * c, 0.2 * c, c, 2 * c)
              for c in range(3)]
    res = SamplerResult.from_chains(chains, 2.5, 17, target_accept=0.7, sampler="pcn")
    assert res.samples.shape == (3, 5, 2) and np.all(res.samples[2] == 2)
    np.testing.assert_array_equal(res.log_density[:, 0], [0, -1, -2])
    np.testing.assert_allclose(res.accept_rate, [0.5, 0.6, 0.7])
    np.testing.assert_allclose(res.step_size, [0.0, 0.2, 0.4])
    np.testing.assert_array_equal(res.divergences, [0, 1, 2])
    np.testing.assert_array_equal(res.warmup_divergences, [0, 2, 4])
    assert res.divergences.dtype.kind == "i"
    assert (res.seconds, res.gradient_evaluations, res.target_accept, res.sampler) == (
        2.5, 17, 0.7, "pcn")


def test_sampler_result_built_by_hand_has_zero_divergences():
    res = SamplerResult(np.zeros((2, 5, 1)), np.zeros((2, 5)), np.ones(2), 1.0, np.ones(2), 0)
    np.testing.assert_array_equal(res.divergences, [0, 0])
    with pytest.raises(ValueError, match="sampler must be"):
        SamplerResult(np.zeros((2, 5, 1)), np.zeros((2, 5)), np.ones(2), 1.0, np.ones(2), 0,
                      sampler="nuts")


def test_unconverged_run_gets_warnings_naming_the_numbers():
    # two chains far apart on N(0, I), a tiny fixed step and few draws
    res = HMC(step_size=0.01, n_leapfrog=3).sample(
        std_normal_log_density, std_normal_gradient, np.array([[-20.0, -20.0], [20.0, 20.0]]),
        40, n_chains=2, rng=5)
    with pytest.warns(FitWarning) as record:
        report = res.diagnostics()
    messages = [str(w.message) for w in record]
    assert messages == report.warnings
    assert report.max_rhat > 10 and report.min_ess < MIN_ESS
    assert any("R-hat" in m and f"{report.max_rhat:.3f}" in m and "n_warmup" in m
               for m in messages)
    assert any("ESS" in m and "n_draws" in m and "n_leapfrog" in m for m in messages)
    assert any("acceptance" in m and "larger step_size" in m for m in messages)
    assert not report.ok


def test_good_run_passes_every_check():
    # 3 leapfrog steps of the adapted ~1.1: over seeds 0-19 max R-hat 1.0000, min ESS 11500
    res = HMC(step_size=1.0, n_leapfrog=3, n_warmup=300).sample(
        std_normal_log_density, std_normal_gradient, np.zeros(2), 2000, n_chains=2, rng=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        report = res.diagnostics()
    assert report.ok and report.divergences == 0
    assert report.max_rhat < 1.01 and report.min_ess > MIN_ESS


def test_divergences_after_warmup_are_reported():
    res = HMC(step_size=50.0, n_leapfrog=2).sample(std_normal_log_density, std_normal_gradient,
                                                   np.zeros(2), 20, rng=7)
    report = res.diagnostics(warn=False)
    assert report.divergences == 20
    assert any("20 divergent" in m and "smaller step_size" in m for m in report.warnings)
    assert any("never moved" in m for m in report.warnings)


def test_pcn_acceptance_band_and_checks():
    s, tau, y = np.array([1.0, 2.0]), 0.5, np.array([0.3, -1.0])

    def loglik(x):
        return -0.5 * float(np.sum((x - y) ** 2)) / tau**2

    good = PCN(beta=0.3, n_warmup=300).sample(loglik, s, np.zeros(2), 3000, n_chains=2, rng=8)
    assert good.accept_range() == pytest.approx((0.1, 0.5))
    assert good.diagnostics(warn=False).ok
    # a tiny fixed β: nearly every proposal accepted, the chain barely moves
    slow = PCN(beta=1e-3).sample(loglik, s, np.zeros(2), 60, rng=9)
    report = slow.diagnostics(warn=False)
    assert report.accept_rate > 0.9
    assert any("pCN mean acceptance" in m and "larger beta" in m for m in report.warnings)
    assert any("pCN ESS" in m and "n_warmup" in m for m in report.warnings)


def test_diagnostics_arguments_are_checked():
    res = HMC().sample(std_normal_log_density, std_normal_gradient, np.zeros(2), 10, rng=0)
    with pytest.raises(ValueError, match="accept_range"):
        res.diagnostics(accept_range=(0.9, 0.1), warn=False)
    with pytest.raises(ValueError, match="min_ess"):
        res.diagnostics(min_ess=-1, warn=False)


def test_to_inference_data():
    arviz = pytest.importorskip("arviz")
    res = HMC().sample(std_normal_log_density, std_normal_gradient, np.zeros(2), 40, n_chains=2,
                       rng=9)
    data = res.to_inference_data()
    assert data.posterior["c"].shape == res.samples.shape
    assert float(arviz.ess(data, var_names=["c"], method="mean")["c"][0]) == pytest.approx(
        res.ess()[0], rel=1e-12)


def test_a_new_sampler_brings_its_own_traits(monkeypatch):
    """The diagnostics read the band and the advice from the sampler's traits, not from a
    list of known names: a sampler registered with its traits gets its own messages."""
    from advdiff_sens.sampling import SAMPLER_TRAITS, SamplerTraits

    monkeypatch.setitem(SAMPLER_TRAITS, "mala", SamplerTraits(
        label="MALA", step="tau", mixing_advice="a smaller tau",
        accept_range=lambda a: (a - 0.1, a + 0.1)))
    rng = np.random.default_rng(0)
    res = SamplerResult(rng.standard_normal((2, 50, 1)), np.zeros((2, 50)), np.full(2, 0.9),
                        1.0, np.ones(2), 0, target_accept=0.57, sampler="mala")
    assert res.accept_range() == pytest.approx((0.47, 0.67))
    with pytest.warns(FitWarning) as caught:
        report = res.diagnostics()
    messages = " | ".join(str(w.message) for w in caught)
    assert "MALA mean acceptance = 0.90 outside [0.47, 0.67]" in messages
    assert "use a larger tau" in messages and "improve mixing (a smaller tau)" in messages
    assert not report.ok
