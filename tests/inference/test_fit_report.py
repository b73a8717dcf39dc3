"""The MAP fit report (issue 12, item 4): misfit against its χ² expectation, multi-start
records and distinct optima, the sampling bound of the posterior, and the MAP progress hook."""

import dataclasses
import warnings

import numpy as np
import pytest
from scipy.stats import chi2

from advdiff_sens import AdvectionDiffusion
from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference import (SPEED_BOUND_FACTOR, StartRecord, VelocityPosterior,
                                    estimate_velocity)
from advdiff_sens.problems.twin import make_twin

N_GRID = 10


@pytest.fixture(scope="module")
def twin():
    # 10², kmax = 1 (4 coefficients), 12 sensors × 5 times: a MAP takes ~0.2 s
    return make_twin(N_GRID, kmax=1, n_sensors=12, times=np.linspace(0.1, 0.5, 5),
                     noise_std=0.01, rng=1)


def _fit(twin, model=None, **kwargs):
    return estimate_velocity(model or twin.model, twin.theta0, twin.sensors, twin.times,
                             twin.data, twin.noise_std, kmax=1, **kwargs)


@pytest.fixture(scope="module")
def good_estimate(twin):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        return _fit(twin)


def test_correct_twin_fit_does_not_warn(good_estimate, twin):
    report = good_estimate.diagnostics()
    n = twin.data.size
    assert report.ok and report.n_data == n
    assert report.expected_misfit == n / 2 and report.misfit_sd == pytest.approx(np.sqrt(n / 2))
    assert report.misfit_limit == pytest.approx(0.5 * chi2.ppf(0.999, n))
    assert report.misfit == good_estimate.misfit < report.misfit_limit
    assert "expected N/2 = 30.0" in str(report) and "1 start, 1 distinct optimum" in str(report)


def test_wrong_model_misfit_warns_with_phi_and_remedies(twin):
    # data made with κ = 0.01, fitted with κ = 0.05: no flow explains them (measured Φ ≈ 2270
    # against N/2 = 30)
    wrong = AdvectionDiffusion(twin.model.grid, 0.05, "central", backend="scipy")
    with pytest.warns(FitWarning, match="misfit Φ") as record:
        est = _fit(twin, wrong)
    report = est.diagnostics()
    assert not report.ok and report.misfit > report.misfit_limit
    message = next(str(w.message) for w in record if "misfit Φ" in str(w.message))
    assert f"Φ = {est.misfit:.4g}" in message
    assert f"N/2 = {twin.data.size / 2:.4g}" in message
    for remedy in ("n_starts", "continuation", "observation times", "optimizer", "kmax"):
        assert remedy in message


def test_underestimated_noise_warns(twin):
    # σ given 5× too small: Φ is 25× its expectation
    with pytest.warns(FitWarning, match="misfit Φ"):
        estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                          twin.noise_std / 5, kmax=1)


def test_every_start_is_recorded(twin):
    est = _fit(twin, n_starts=3, rng=0)
    assert len(est.starts) == 3
    np.testing.assert_array_equal(est.starts[0].initial, np.zeros(4))
    psi = [s.neg_log_posterior for s in est.starts]
    assert min(psi) == pytest.approx(est.posterior.neg_log_posterior(est.coefficients))
    assert all(s.history[-1].n_times == twin.times.size for s in est.starts)
    assert [r.start for s in est.starts for r in s.history] == [0, 0, 1, 1, 2, 2]
    assert sum(count for *_, count in est.optima()) == 3


def test_distinct_optima_warn_that_the_posterior_may_be_multimodal(good_estimate):
    best = good_estimate.starts[0]
    shift = 10 * np.sqrt(np.diag(good_estimate.covariance))
    same = dataclasses.replace(best, coefficients=best.coefficients + 1e-3 * shift,
                               neg_log_posterior=best.neg_log_posterior + 0.1)
    other = StartRecord(np.ones(4), best.coefficients + shift, best.neg_log_posterior + 40.0,
                        best.misfit + 40.0, [])
    one_optimum = dataclasses.replace(good_estimate, starts=[best, same])
    assert one_optimum.diagnostics().ok
    assert [count for *_, count in one_optimum.optima()] == [2]
    two_optima = dataclasses.replace(good_estimate, starts=[other, best, same])
    with pytest.warns(FitWarning, match="3 starts ended in 2 distinct optima") as record:
        report = two_optima.diagnostics(warn=True)
    assert [count for *_, count in report.optima] == [2, 1]
    message = str(record[0].message)
    assert f"{best.neg_log_posterior:.4g}" in message and "multimodal" in message
    assert "n_starts=6" in message
    unrecorded = dataclasses.replace(good_estimate, starts=[]).diagnostics()
    assert unrecorded.ok and unrecorded.optima == [] and "optim" not in str(unrecorded)


def test_rms_speed_and_the_prior_bound(twin):
    post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, twin.basis)
    c = twin.true_coefficients
    u = post.velocity(c)
    assert post.rms_speed(c) == pytest.approx(np.sqrt(np.mean(np.sum(u**2, axis=0))), rel=1e-12)
    # kmax = 1: four modes of unit velocity amplitude, differentiated by central differences
    # (amplitude sin(2πh)/h instead of 2π), each contributing ½·amplitude² to the mean |u|²
    h = 1.0 / N_GRID
    assert post.prior_rms_speed == pytest.approx(
        np.sqrt(2.0) * np.sin(2 * np.pi * h) / (2 * np.pi * h), rel=1e-12)
    assert post.max_speed == pytest.approx(SPEED_BOUND_FACTOR * post.prior_rms_speed)
    assert post.in_bounds(np.zeros(4))
    edge = c * post.max_speed / post.rms_speed(c)
    assert post.in_bounds(0.99 * edge) and not post.in_bounds(1.01 * edge)
    assert post.truncated(2).max_speed == post.max_speed


def test_estimate_sets_the_bound_from_prior_and_map(good_estimate, twin):
    post = good_estimate.posterior
    expected = SPEED_BOUND_FACTOR * max(post.prior_rms_speed,
                                        post.rms_speed(good_estimate.coefficients))
    assert post.max_speed == pytest.approx(expected)
    assert post.in_bounds(good_estimate.coefficients)
    fixed = _fit(twin, max_speed=100.0)
    assert fixed.posterior.max_speed == 100.0


class RecordingMeter:
    def __init__(self):
        self.updates, self.closed = [], False

    def update(self, done, extra=""):
        self.updates.append((done, extra))

    def close(self):
        self.closed = True


def test_progress_reports_every_evaluation_stage_and_start(twin):
    meter = RecordingMeter()
    stages = []
    est = _fit(twin, n_starts=2, rng=0, progress=meter,
               callback=lambda record, c: stages.append((record.start, record.n_times, c.shape)))
    assert meter.closed
    evaluations = sum(r.evaluations for s in est.starts for r in s.history)
    assert len(meter.updates) >= evaluations
    assert meter.updates[-1][0] == 2 * 2 + 1                 # 2 starts × 2 stages + Laplace
    done = [d for d, _ in meter.updates]
    assert done == sorted(done)
    assert any(e.startswith("start 2/2 stage 1/2 (3 times) eval") for _, e in meter.updates)
    assert stages == [(0, 3, (4,)), (0, 5, (4,)), (1, 3, (4,)), (1, 5, (4,))]


def test_progress_true_prints_a_map_line(twin, capsys):
    _fit(twin, progress=True)
    err = capsys.readouterr().err
    assert "MAP  3/3  Laplace covariance" in err


@pytest.mark.parametrize("kwargs, error, match", [
    ({"callback": 3}, TypeError, "callback must be callable"),
    ({"progress": "loud"}, ValueError, "progress must be"),
    ({"max_speed": -1.0}, ValueError, "max_speed must be > 0"),
])
def test_new_arguments_are_checked(twin, kwargs, error, match):
    with pytest.raises(error, match=match):
        _fit(twin, **kwargs)
