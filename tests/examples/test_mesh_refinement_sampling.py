"""The mesh-refinement study of the dimension-robust samplers
(``examples/mesh_refinement_sampling.py``): its building blocks exactly, and its numbers at
quick size (16², 24²)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from example_loader import load_example

from advdiff_sens.discretisation import Grid
from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference import GaussianRandomField

EPS = np.finfo(float).eps


@pytest.fixture(scope="module")
def example():
    return load_example("mesh_refinement_sampling")


def test_the_truth_is_one_field_on_every_grid(example):
    truth = example.draw_truth(0)
    coarse = truth.on(Grid((16, 16))).reshape(16, 16)
    fine = truth.on(Grid((32, 32))).reshape(32, 32)
    # every second node of the 32² grid is a node of the 16² grid: the same values there
    np.testing.assert_allclose(fine[::2, ::2], coarse, rtol=0, atol=64 * EPS * np.abs(fine).max())


def test_the_truth_has_the_prior_pointwise_variance(example):
    # On a 16² grid the modes |k|∞ ≤ 4 are orthogonal, so the node mean of ψ² is exactly
    # Σ_k (a_k² + b_k²)/2, whose expectation is Σ_k s_k² = FLOW_STD²: the mean over draws is
    # within 4 Monte Carlo standard errors of it.
    grid = Grid((16, 16))
    rng = np.random.default_rng(3)
    values = np.array([np.mean(example.draw_truth(rng).on(grid) ** 2) for _ in range(400)])
    assert abs(values.mean() - example.FLOW_STD**2) <= 4 * values.std(ddof=1) / np.sqrt(400)


def test_prolongation_is_exact_for_band_limited_fields(example):
    truth = example.draw_truth(1)
    coarse = truth.on(Grid((16, 16)))
    for n in (16, 24, 32):
        exact = truth.on(Grid((n, n)))
        # an FFT round trip: rounding of order log(n) eps relative to the field
        assert np.abs(example.prolong(coarse, 16, n) - exact).max() <= 100 * EPS * np.abs(
            exact).max()
    i, j = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    checkerboard = (-1.0) ** (i + j)               # the Nyquist mode is dropped
    assert np.abs(example.prolong(checkerboard.ravel(), 16, 32)).max() <= 100 * EPS


def test_fourier_functionals_return_the_coefficients_of_the_truth(example):
    truth = example.draw_truth(2)
    grid = Grid((16, 16))
    values = example.fourier_functionals(grid) @ truth.on(grid)
    modes = [tuple(k) for k in truth.wavevectors]
    expected = []
    for mode in example.FUNCTIONAL_MODES:
        index = modes.index(mode)
        expected += [truth.cos[index], truth.sin[index]]
    # |k ± k'| ≤ 6 < 8: no mode of the truth aliases onto a functional's mode on 16²
    np.testing.assert_allclose(values, expected, rtol=0, atol=100 * EPS * np.abs(expected).max())
    assert len(values) == len(example.FUNCTIONALS)


def test_stiffest_prior_variance_is_the_smallest_eigenvalue_of_the_prior(example):
    for shape in ((8, 8), (7, 9)):
        prior = GaussianRandomField(Grid(shape), example.FLOW_STD, example.CORRELATION_LENGTH,
                                    alpha=example.ALPHA)
        dense = np.stack([prior.covariance(e) for e in np.eye(prior.dim)], axis=1)
        smallest = np.linalg.eigvalsh(0.5 * (dense + dense.T))[0]
        assert example.stiffest_prior_variance(prior) == pytest.approx(smallest, rel=1e-10)


@pytest.fixture(scope="module")
def quick(example):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = example.main(quick=True)
    return result, caught


@pytest.mark.slow       # about 3 minutes on the shared 2-core machine
@pytest.mark.timeout(1200)
def test_quick_run_warns_only_that_the_laplace_rank_is_short(quick):
    result, caught = quick
    # Newton-CG reached its gradient tolerance and the Laplace approximation found a MAP: the
    # only warnings are the (expected) ones that rank 20 leaves eigenvalues above 0.1 out.
    messages = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    assert len(messages) == len(result.levels)
    assert all("does not cover the spectrum" in m for m in messages)
    assert not [w for w in caught if not issubclass(w.category, FitWarning)]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_maps_are_posterior_modes_near_the_truth(quick):
    result, _ = quick
    for level in result.levels:
        assert level.psi_map <= level.psi_truth        # a minimiser of Ψ
        # the MAP is within the velocity error the Laplace posterior expects
        assert 0 < level.velocity_error <= level.velocity_spread
        assert np.all(np.diff(level.eigenvalues) <= 0) and level.eigenvalues[-1] > 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_identity_hmc_step_shrinks_with_the_mesh(example, quick):
    result, _ = quick
    coarse, fine = result.settings.sizes
    hmc = {n: result.row("HMC, identity", n) for n in (coarse, fine)}
    for n, row in hmc.items():
        # leapfrog is unstable on the prior's Nyquist mode above 2 √λmin(C)
        assert row.step <= 2 * result.level(n).stiffest_prior_sd
    # that limit falls like h² (16² → 24²: to 0.49 of it); the adapted step with it, up to the
    # dual-averaging scatter between runs (a few per cent; 25 % allowed)
    limit_ratio = result.level(fine).stiffest_prior_sd / result.level(coarse).stiffest_prior_sd
    assert hmc[fine].step / hmc[coarse].step <= 1.25 * limit_ratio < 0.65


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_dimension_robust_steps_follow_the_data_not_the_mesh(example, quick):
    result, _ = quick
    coarse, fine = result.settings.sizes
    for name in [name for name in example.SAMPLER_NAMES if name.startswith("∞")]:
        low, high = result.row(name, coarse), result.row(name, fine)
        # The step of a whitened sampler is set by the curvature of its potential: the top of
        # the data-informed spectrum (λ_1, or λ_{r+1} for the Laplace reference), which
        # converges as the grid is refined. The adapted step follows that scale (theory_step)
        # up to the same 25 % dual-averaging allowance, whatever the number of nodes.
        assert high.step / low.step >= (high.theory_step / low.theory_step) / 1.25
        assert high.divergences == low.divergences == 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_acceptance_stays_in_band_and_numbers_are_finite(quick):
    result, _ = quick
    for row in result.rows:
        # dual averaging holds the acceptance at its target; a collapse would show here first
        assert row.accept >= row.accept_band[0], row
        for value in (row.step, row.accept, row.ess, row.ess_per_gradient, row.rhat,
                      row.seconds):
            assert np.isfinite(value), row
        assert row.ess > 0 and row.gradients > 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_plot(example, quick, tmp_path):
    result, _ = quick
    path = example.plot(result, tmp_path / "mesh_refinement_sampling.png")
    assert path.is_file() and path.stat().st_size > 10_000
