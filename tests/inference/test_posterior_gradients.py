"""The posterior's gradient strategies: the names of ``gradient=`` as objects, the automatic
choice, and the adjoint passed through to the model."""

import numpy as np
import pytest

import advdiff_sens.inference.gradients as gradients
import advdiff_sens.inference.posterior as posterior_module
from advdiff_sens.inference import (GRADIENTS, TANGENT_MAX_PARAMS, AdjointGradient, AutoGradient,
                                    TangentGradient, VelocityPosterior, estimate_velocity)
from advdiff_sens.problems import make_twin
from advdiff_sens.sensitivity import AutoAdjoint, QuadratureAdjoint, SurrogateAdjoint


@pytest.fixture(scope="module")
def twin():
    return make_twin(10, kmax=1, n_sensors=12, times=np.linspace(0.1, 0.4, 4), noise_std=0.01,
                     rng=1)


def _posterior(twin, **kwargs):
    return VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                             twin.noise_std, twin.basis, **kwargs)


def test_names_resolve_to_strategy_objects():
    assert GRADIENTS.names() == ("tangent", "adjoint", "surrogate", "auto")
    assert isinstance(GRADIENTS.resolve("tangent", "gradient"), TangentGradient)
    assert GRADIENTS.resolve("adjoint", "gradient").adjoint == AutoAdjoint()
    assert GRADIENTS.resolve("surrogate", "gradient").adjoint == SurrogateAdjoint()
    assert GRADIENTS.resolve("auto", "gradient").max_tangent_params == TANGENT_MAX_PARAMS


def test_auto_chooses_tangent_up_to_the_threshold():
    auto = AutoGradient(max_tangent_params=4)
    assert isinstance(auto.strategy(4), TangentGradient)
    chosen = auto.strategy(5)
    assert isinstance(chosen, AdjointGradient) and chosen.adjoint == AutoAdjoint()


@pytest.mark.parametrize("name, same", [
    ("tangent", TangentGradient()), ("adjoint", AdjointGradient()),
    ("surrogate", AdjointGradient("surrogate")), ("auto", TangentGradient()),
    ("adjoint", AutoGradient(max_tangent_params=0)),
])
def test_names_and_objects_give_identical_gradients(twin, name, same):
    post = _posterior(twin)
    c = 0.7 * twin.true_coefficients
    value, grad = post.value_and_gradient(c, name)
    value_obj, grad_obj = post.value_and_gradient(c, same)
    assert value == value_obj and np.array_equal(grad, grad_obj)


def test_the_posterior_owns_its_gradient_and_keeps_it_when_truncated(twin):
    post = _posterior(twin, gradient="surrogate")
    c = 0.7 * twin.true_coefficients
    assert post.gradient.adjoint == SurrogateAdjoint()
    assert post.truncated(2).gradient is post.gradient
    assert np.array_equal(post.value_and_gradient(c)[1],
                          _posterior(twin).value_and_gradient(c, "surrogate")[1])


def test_adjoint_is_passed_through_to_the_model(twin, monkeypatch):
    seen = []
    real = gradients.model_gradient

    def spy(model, u, theta0, objective, times, adjoint, **options):
        seen.append(adjoint)
        return real(model, u, theta0, objective, times, adjoint, **options)

    monkeypatch.setattr(posterior_module, "model_gradient", spy)
    post = _posterior(twin)
    c = 0.7 * twin.true_coefficients
    g_quad = post.value_and_gradient(c, AdjointGradient("quadrature"))[1]
    g_tan = post.value_and_gradient(c, "tangent")[1]
    assert seen == [QuadratureAdjoint()]
    # the twin's scipy backend: the quadrature adjoint to rtol 1e-10 against the exact tangent
    assert np.linalg.norm(g_quad - g_tan) <= 1e-9 * np.linalg.norm(g_tan)
    with pytest.raises(ValueError, match="adjoint must be one of"):
        AdjointGradient("bogus")                # checked when the strategy is made


# stopped early or an approximate gradient: the fit report warns
@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")
def test_estimate_velocity_gradient_by_name_and_object(twin):
    kw = dict(kmax=1, optimizer="lbfgs")
    args = (twin.model, twin.theta0, twin.sensors, twin.times, twin.data, twin.noise_std)
    by_name = estimate_velocity(*args, gradient="surrogate", **kw)
    by_object = estimate_velocity(*args, gradient=AdjointGradient("surrogate"), **kw)
    assert np.array_equal(by_name.coefficients, by_object.coefficients)
    assert by_name.posterior.gradient.adjoint == SurrogateAdjoint()
    with pytest.raises(ValueError, match=r"gradient must be one of .*did you mean 'tangent'"):
        estimate_velocity(*args, gradient="tangnet", **kw)
