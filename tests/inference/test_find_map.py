"""MAP by continuation from several starts: a bimodal posterior shows both modes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference import (LBFGS, GaussNewton, ParameterSpace, Posterior,
                                    UniformVelocity, find_map)
from advdiff_sens.sampling import DiagonalGaussian


def symmetric_posterior(true_speed: float = 0.8) -> Posterior:
    """θ0 = cos 2πx, a uniform flow, sensors on the symmetry lines x = 0 and x = 1/2:
    θ(t; ±U) = e^{-κk²t}cos(2π(x ∓ Ut)) agree there, so U and −U fit equally well."""
    grid = Grid((16, 8))
    model = AdvectionDiffusion(grid, 0.02, "exponential", backend="chebyshev")
    flow = UniformVelocity(grid)
    space = ParameterSpace(grid, flow=flow, flow_prior=DiagonalGaussian(np.zeros(2), 1.0),
                           theta0=np.cos(2 * np.pi * grid.coords[0]))
    sensors = np.array([[0.0, 0.25], [0.5, 0.5], [0.0, 0.75], [0.5, 0.0]])
    times = np.linspace(0.05, 0.3, 6)
    rng = np.random.default_rng(0)
    truth = np.array([true_speed, 0.0])
    probe = Posterior(model, space, sensors, times, np.zeros((6, 4)), 0.01)
    data = probe.predict(truth) + 0.01 * rng.standard_normal((6, 4))
    return Posterior(model, space, sensors, times, data, 0.01)


def test_symmetric_sensors_give_two_optima_and_a_warning():
    post = symmetric_posterior()
    with pytest.warns(FitWarning, match="distinct optima"):
        result = find_map(post, np.array([0.5, 0.0]), optimizer=GaussNewton(), continuation=(),
                          n_starts=6, rng=3)
    assert len(result.optima) == 2
    speeds = sorted(o.coefficients[0] for o in result.optima)
    assert speeds[0] == pytest.approx(-speeds[1], rel=1e-3)       # u and −u
    assert abs(speeds[1] - 0.8) < 0.05
    # equally good fits: Ψ within the noise of each other, both near N/2
    psis = [o.neg_log_posterior for o in result.optima]
    assert abs(psis[0] - psis[1]) < 1e-3 * psis[0] + 1e-6
    assert sorted(i for o in result.optima for i in o.starts) == list(range(6))


def test_one_start_one_optimum_no_warning_and_lbfgs_agrees():
    post = symmetric_posterior()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        gn = find_map(post, np.array([0.5, 0.0]), optimizer=GaussNewton(), continuation=(2,))
        lbfgs = find_map(post, np.array([0.5, 0.0]), optimizer=LBFGS(tol=1e-10),
                         continuation=(2,))
    assert len(gn.optima) == 1 and [s.n_times for s in gn.starts[0].history] == [2, 6]
    assert np.allclose(gn.coefficients, lbfgs.coefficients, atol=1e-4)
    assert gn.diagnostics().ok
