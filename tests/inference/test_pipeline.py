"""The inference pipeline: the Laplace sd fields against dense linear algebra (the prior part
by stationarity and by summing columns), the saved results, the events."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference import (InferenceResult, field_summaries, laplace_approximation,
                                    run_inference)
from advdiff_sens.inference.pipeline import _prior_variance
from advdiff_sens.problems import make_field_twin
from advdiff_sens.sampling import InfinityMALA, PCN


def dense_map(apply, p, shape):
    return np.stack([apply(e).ravel() for e in np.eye(p)], axis=1)


@pytest.mark.parametrize("flow", ["nodal", "fourier"])
def test_laplace_sd_fields_match_dense_covariance(flow):
    twin = make_field_twin(8, flow=flow, kmax=2, infer_kappa=True, n_sensors=5,
                           times=[0.2, 0.4], rng=3)
    post = twin.posterior
    c = twin.true_coefficients          # any point: the identity holds for the GN Hessian there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)                # "not a MAP"
        lowrank = laplace_approximation(post, c, rng=0)            # rank min(N, p): exact
        dense = laplace_approximation(post, c, dense=True)
    C = np.stack([dense.covariance(e) for e in np.eye(post.n_params)], axis=1)
    fields = field_summaries(post, c, lowrank)
    s = post.space.slices["flow"]

    def velocity(x):
        return post.space.flow.to_velocity(x[s])

    B = dense_map(velocity, post.n_params, None)
    expected = np.sqrt(np.diag(B @ C @ B.T)).reshape(2, 8, 8)
    assert np.allclose(fields["velocity"].sd, expected, rtol=1e-8, atol=0)
    k = post.space.slices["log_kappa"]
    assert fields["log_kappa"].sd[0] == pytest.approx(np.sqrt(C[k, k][0, 0]), rel=1e-8)
    assert np.array_equal(fields["velocity"].value, velocity(c))


def test_stationary_prior_variance_equals_the_column_sum():
    twin = make_field_twin(8, n_sensors=3, times=[0.2], rng=0)
    post = twin.posterior
    prior = post.space.prior.blocks[0]
    shortcut = _prior_variance(post, "velocity", lambda x: post.space.flow.to_velocity(x))
    columns = sum(post.space.flow.to_velocity(prior.sqrt_cov(e)) ** 2
                  for e in np.eye(post.n_params))
    assert np.allclose(shortcut, columns, rtol=1e-12)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sampler", [InfinityMALA(step_size=0.1, n_warmup=4),
                                     PCN(beta=0.2)])
def test_run_inference_saves_after_each_stage(tmp_path, sampler):
    twin = make_field_twin(10, n_sensors=5, times=[0.2, 0.4], infer_theta0=True, rng=1)
    events, path = [], tmp_path / "inference.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        result = run_inference(twin.posterior, continuation=(), n_draws=5, rng=0, path=path,
                               sampler=sampler, callback=lambda e, r: events.append(e))
    assert events == ["map", "laplace", "saved", "samples", "saved"]
    loaded = InferenceResult.load(path)
    for name in ("velocity", "velocity_sd", "theta0", "theta0_sd", "stream_function",
                 "eigenvalues", "samples", "velocity_mean", "theta0_posterior_sd"):
        assert np.array_equal(loaded.arrays[name], result.arrays[name]), name
    assert loaded.arrays["samples"].shape == (2, 5, twin.posterior.n_params)
    assert np.all(loaded.arrays["eigenvalues"][:-1] >= loaded.arrays["eigenvalues"][1:])


def test_run_inference_validates_before_computing(tmp_path):
    twin = make_field_twin(8, n_sensors=3, times=[0.2], rng=0)
    with pytest.raises(ValueError, match="folder"):
        run_inference(twin.posterior, path=tmp_path / "missing" / "x.npz")
    with pytest.raises(ValueError, match="reference"):
        run_inference(twin.posterior, reference="laplacian")
    with pytest.raises(TypeError, match="sampler"):
        run_inference(twin.posterior, sampler="hmc")
