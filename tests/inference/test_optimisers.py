"""The optimiser objects: by name and by object the same numbers, their own options used, one
place of validation (the registry)."""

import numpy as np
import pytest

from advdiff_sens.inference import (LBFGS, OPTIMIZERS, GaussNewton, NewtonCG, OptimiserResult,
                                    VelocityPosterior, estimate_velocity)
from advdiff_sens.problems.twin import make_twin


@pytest.fixture(scope="module")
def twin():
    # 10², kmax = 1 (4 coefficients), 12 sensors × 4 times: a MAP takes a fraction of a second
    return make_twin(10, kmax=1, n_sensors=12, times=np.linspace(0.1, 0.4, 4), noise_std=0.01,
                     rng=1)


def _fit(twin, optimizer, **kwargs):
    return estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, kmax=1, optimizer=optimizer, **kwargs)


@pytest.mark.parametrize("name, cls", [("gauss-newton", GaussNewton), ("lbfgs", LBFGS),
                                       ("newton-cg", NewtonCG)])
def test_name_and_default_object_give_identical_estimates(twin, name, cls):
    by_name, by_object = _fit(twin, name), _fit(twin, cls())
    assert type(by_name.optimizer) is cls and type(by_object.optimizer) is cls
    assert np.array_equal(by_name.coefficients, by_object.coefficients)
    assert np.array_equal(by_name.covariance, by_object.covariance)
    assert [s.values for s in by_name.history] == [s.values for s in by_object.history]


def test_registry_names_and_defaults():
    assert OPTIMIZERS.names() == ("gauss-newton", "lbfgs", "newton-cg")
    assert repr(OPTIMIZERS.resolve("gauss-newton", "optimizer")) == \
        "GaussNewton(tol=1e-08, max_evaluations=100)"
    custom = LBFGS(tol=1e-6)
    assert OPTIMIZERS.resolve(custom, "optimizer") is custom


def test_unknown_name_is_rejected_with_a_suggestion(twin):
    with pytest.raises(ValueError, match=r"optimizer must be one of .*did you mean 'lbfgs'"):
        _fit(twin, "lbgfs")
    with pytest.raises(TypeError, match="optimizer must be one of"):
        _fit(twin, 3)


@pytest.mark.parametrize("make, match", [
    (lambda: GaussNewton(tol=0.0), "tol must be > 0"),
    (lambda: GaussNewton(max_evaluations=0), "max_evaluations must be >= 1"),
    (lambda: LBFGS(max_iter=1.5), "max_iter must be an integer"),
    (lambda: LBFGS(box_prior_sds=-1.0), "box_prior_sds must be > 0"),
    (lambda: NewtonCG(tol=np.nan), "tol"),
])
def test_bad_options_are_rejected_when_the_object_is_made(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# stopped early or an approximate gradient: the fit report warns
@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")
def test_options_are_the_objects_own(twin):
    few = _fit(twin, GaussNewton(max_evaluations=3), continuation=())
    assert few.history[0].evaluations <= 3
    assert _fit(twin, "gauss-newton", continuation=()).history[0].evaluations > 3
    one = _fit(twin, LBFGS(max_iter=1), continuation=())
    assert one.history[0].iterations == 1


@pytest.mark.parametrize("optimizer", [GaussNewton(), LBFGS(), NewtonCG()], ids=repr)
def test_minimise_reports_every_evaluation(twin, optimizer):
    post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, twin.basis)
    seen = []
    result = optimizer.minimise(post, np.zeros(post.n_params),
                                callback=lambda n, value: seen.append((n, value)))
    assert isinstance(result, OptimiserResult) and result.coefficients.shape == (post.n_params,)
    assert seen == list(enumerate(result.values, start=1))
    assert result.evaluations == len(seen) >= result.iterations >= 1
    assert post.neg_log_posterior(result.coefficients) < post.neg_log_posterior(
        np.zeros(post.n_params))
