"""The time-varying-flow example (``examples/time_varying_snapshots.py``, issue #15 (c)): its
pieces exactly, and at quick size (24² model, 16² camera, 15 images) the windowed Newton-CG
MAP, its Laplace calibration and the steady fit it beats."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, run_script
from example_loader import load_example
from scipy import stats

from advdiff_sens import Grid
from advdiff_sens.inference import MAP_DECREMENT_TOL, StreamFunctionBasis, discrete_divergence


@pytest.fixture(scope="module")
def example():
    return load_example("time_varying_snapshots")


def test_the_truth_is_the_stated_stream_functions_without_wall_flux(example):
    grid = Grid((16, 16), bc="neumann")
    basis = StreamFunctionBasis(grid, kmax=example.KMAX)
    c = example.true_coefficients(basis).reshape(3, -1)
    x, y = grid.coords
    A = example.AMPLITUDE
    expected = [A * np.sin(np.pi * x) * np.sin(np.pi * y),
                A * np.sin(2 * np.pi * x) * np.sin(np.pi * y),
                A * np.sin(np.pi * x) * (-0.7 * np.sin(np.pi * y) + 0.4 * np.sin(2 * np.pi * y))]
    for ck, psi in zip(c, expected, strict=True):
        assert np.allclose(basis.stream_function(ck), psi, rtol=0, atol=1e-14)
        u = basis.to_velocity(ck)
        assert np.all(u[0][[0, -1], :] == 0) and np.all(u[1][:, [0, -1]] == 0)
        assert np.abs(discrete_divergence(grid, u)).max() <= 1e-13 * np.abs(u).max() * 16


def test_images_miss_a_tenth_of_their_pixels_and_edges_close_windows(example):
    s = example.settings(quick=True)
    problem = example.make_problem(s, rng=0)
    images = problem.images
    assert images.shape == (problem.times.size, s.camera, s.camera)
    # independent pixels missing with probability 0.1: binomial sd of the fraction
    missing = np.isnan(images).mean()
    assert abs(missing - example.MISSING) <= 5 * np.sqrt(0.09 / images.size)
    assert problem.posterior.n_data == int(np.isfinite(images).sum())
    # images at the window edges 1 s and 2 s are observed (they close the earlier window)
    assert np.any(np.isclose(problem.times, 1.0)) and np.any(np.isclose(problem.times, 2.0))
    assert problem.posterior.n_params == 3 * problem.steady.n_params


def test_coverage_counts_components_inside_the_band(example):
    truth = np.zeros((1, 2, 4, 4))
    centre = np.zeros_like(truth)
    sd = np.ones_like(truth)
    centre[0, 0, 1, 1] = 2.0                       # one of the 8 interior components outside
    assert example.interior_coverage(truth, centre, sd)[0] == pytest.approx(7 / 8)
    centre[0, 1, 0, 0] = 5.0                       # a wall node: not counted
    assert example.interior_coverage(truth, centre, sd)[0] == pytest.approx(7 / 8)


@pytest.fixture(scope="module")
def result(example):
    return example.main(quick=True)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_windowed_map_is_a_map_with_a_chi2_misfit(example, result):
    post = result.problem.posterior
    assert result.newton["stop"] == "gradient"
    assert not result.laplace_warnings                 # decrement ≤ MAP_DECREMENT_TOL
    g = post.value_and_gradient(result.map_coefficients)[1]
    assert np.sqrt(g @ post.prior.covariance(g)) <= example.NEWTON_ATOL < MAP_DECREMENT_TOL
    # 2Φ at the MAP of a well-specified model: χ²(N − d_eff) with d_eff ≤ p; 0.1 % each side
    n, p = post.n_data, post.n_params
    assert stats.chi2.ppf(0.001, n - p) <= 2 * result.misfit <= stats.chi2.ppf(0.999, n)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_laplace_approximation_is_calibrated_for_the_coefficients(result):
    # The truth is exactly representable, so under a calibrated Laplace approximation the
    # standardised error |L⁻¹(ĉ − c†)|² is χ²_p (p = 24); two-sided 0.1 %
    p = result.problem.posterior.n_params
    assert stats.chi2.ppf(0.001, p) <= result.standardised_error2 <= stats.chi2.ppf(0.999, p)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_each_window_is_recovered_and_the_steady_fit_is_refused(example, result):
    # each window's error is within the Laplace spread: E|u − û|² = Σ sd², Markov at 5 %
    spread = np.sqrt(np.sum(result.velocity_sd ** 2, axis=(1, 2, 3)) /
                     np.sum(result.problem.true_velocity ** 2, axis=(1, 2, 3)))
    assert np.all(result.velocity_errors <= np.sqrt(20) * spread)
    # a steady flow cannot explain the images: its misfit is far above the χ²(N) range and
    # fit_report says so
    n = result.n_data
    assert 2 * result.steady_misfit > stats.chi2.ppf(0.999, n)
    assert "far above its expected value" in result.steady_report
    # and its flow is no plausible value of any window's: outside the Markov bound above
    assert np.all(result.steady_velocity_errors > np.sqrt(20) * spread)
    assert np.all((result.coverage > 0) & (result.coverage <= 1))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_script_saves_its_figure(tmp_path):
    proc = run_script([str(ROOT / "examples" / "time_varying_snapshots.py"), "--quick",
                       "--outdir", str(tmp_path)], tmp_path, timeout=900)
    figure = tmp_path / "time_varying_snapshots.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert str(figure) in proc.stdout
