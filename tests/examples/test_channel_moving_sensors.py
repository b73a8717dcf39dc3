"""The numbers of examples/channel_moving_sensors.py at quick size: a channel with a shear
flow and an eddy seen by 15 drifters, nodal ψ under the walled prior, Newton-CG MAP, low-rank
Laplace and a short ∞-HMC run."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, run_script
from example_loader import load_example
from scipy import stats

from advdiff_sens.inference import MAP_DECREMENT_TOL, discrete_divergence


@pytest.fixture(scope="module")
def example():
    return load_example("channel_moving_sensors")


@pytest.fixture(scope="module")
def result(example):
    return example.main(quick=True)


def test_truth_is_exactly_representable_and_tangential_to_the_walls(example):
    s = example.settings(quick=True)
    problem = example.make_problem(s, rng=0)
    grid, flow = problem.posterior.model.grid, problem.flow
    psi = example.true_stream_function(grid)
    assert np.array_equal(flow.stream_function(problem.true_coefficients), psi)
    u = problem.true_velocity
    assert np.all(u[1][:, [0, -1]] == 0.0)                        # no flow through the walls
    assert np.abs(discrete_divergence(grid, u)).max() < 1e-13 * np.abs(u).max() * grid.shape[1]


def test_drifters_stay_inside_the_channel(example):
    s = example.settings(quick=True)
    problem = example.make_problem(s, rng=1)
    tracks = problem.tracks
    assert tracks.shape == (s.n_times, example.N_SENSORS, 2)
    assert np.all((tracks[..., 0] >= 0) & (tracks[..., 0] < example.EXTENT[0]))
    assert np.all((tracks[..., 1] > 0) & (tracks[..., 1] < example.EXTENT[1]))
    # halving the RK4 step moves the end points by far less than the spacing
    grid = problem.posterior.model.grid
    finer = example.drifter_tracks(grid, problem.true_velocity, problem.starts,
                                   problem.posterior.times, steps=2 * example.RK4_STEPS)
    shift = np.abs((finer - tracks + 1) % 2 - 1)                  # periodic in x (L = 2)
    assert shift.max() < 1e-3 * min(grid.spacing)


def test_drifter_leaving_the_channel_is_an_error(example):
    s = example.settings(quick=True)
    problem = example.make_problem(s, rng=0)
    grid = problem.posterior.model.grid
    crossing = np.zeros((2, *grid.shape))
    crossing[1] = 5.0                                             # not a flow of the channel
    with pytest.raises(ValueError, match="left the channel"):
        example.drifter_tracks(grid, crossing, problem.starts, problem.posterior.times)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_map_is_a_map_and_its_misfit_is_chi2(example, result):
    post = result.problem.posterior
    n = post.n_data
    assert result.newton["stop"] == "gradient" and result.newton["g_C"] <= example.NEWTON_ATOL
    assert result.laplace["decrement"] <= MAP_DECREMENT_TOL and not result.laplace["warnings"]
    # at the truth 2Φ ~ χ²(N); at the MAP of a linear-Gaussian problem 2Φ ~ χ²(N − d_eff),
    # d_eff = Σ λ/(1 + λ); two-sided 0.1 % each
    assert stats.chi2.ppf(0.001, n) <= 2 * result.misfit_truth <= stats.chi2.ppf(0.999, n)
    dof = n - result.effective_dof
    assert stats.chi2.ppf(0.001, dof) <= 2 * result.misfit_map <= stats.chi2.ppf(0.999, dof)
    assert 0 < result.effective_dof < min(n, post.n_params)
    # the MAP flow does not cross the walls either
    assert np.all(result.map_velocity[1][:, [0, -1]] == 0.0)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_recovery_error_is_within_the_posterior_spread(result):
    # Under the Laplace approximation E|u − u_MAP|² = Σ sd²; by Markov's inequality the
    # truth's squared error exceeds 20 Σ sd² with probability at most 5 %
    assert result.velocity_error <= np.sqrt(20) * result.posterior_spread
    # the data inform the flow: the MAP is closer to the truth than the prior mean (error 1)
    assert result.velocity_error < 1.0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_laplace_band_holds_its_own_draws_at_the_nominal_rate(example, result):
    # Draws of the Laplace approximation fall inside its pointwise 90 % band at rate 0.9 at
    # every node; the mean over nodes of the per-node fractions has variance at most
    # 0.9·0.1/draws (fully correlated nodes), so 3.3 of those sds is a 0.1 % bound.
    post, lap = result.problem.posterior, result.laplace["approximation"]
    draws = lap.sample(rng=5, size=400)
    inside = [example.band_coverage(post.inputs(c).velocity, result.map_velocity,
                                    result.velocity_sd)["all"] for c in draws]
    assert abs(np.mean(inside) - example.LEVEL) <= 3.3 * np.sqrt(0.09 / len(draws))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_truth_coverage_is_conservative_for_a_smooth_truth(example, result):
    # The nodes are strongly correlated (correlation length 0.5 of a 2 x 1 channel), so the
    # fraction of nodes inside the band is not binomial; and the truth is much smoother than
    # a prior draw (|C^{-1/2}c|² ≪ p), so the prior-dominated band covers it more often than
    # the nominal 90 %, as does the prior's own band.
    post = result.problem.posterior
    assert result.prior_norm2 < post.n_params / 10
    assert result.coverage["all"] >= example.LEVEL
    assert result.prior_coverage["all"] >= example.LEVEL


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_short_hmc_run_moves_without_divergences(result):
    h = result.hmc
    assert h["moved"] and h["divergences"] == 0
    assert np.all(np.isfinite(h["result"].log_density))
    assert 0 < h["acceptance"] <= 1 and 0 < h["coverage"] <= 1


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_script_saves_its_figure(tmp_path):
    proc = run_script([str(ROOT / "examples" / "channel_moving_sensors.py"), "--quick",
                       "--outdir", str(tmp_path)], tmp_path, timeout=900)
    figure = tmp_path / "channel_moving_sensors.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert str(figure) in proc.stdout
