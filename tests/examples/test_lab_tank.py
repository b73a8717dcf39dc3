"""The lab-tank example (``examples/lab_tank.py``, issue #15 (a)): its pieces exactly, and at
quick size (24² model, 16² camera, 4 images) the whole ``advdiff-sens estimate tank.nc
--config tank.toml`` run and what it recovers."""

from __future__ import annotations

import numpy as np
import pytest
from example_loader import load_example
from scipy.stats import chi2

from advdiff_sens import Grid
from advdiff_sens.inference import NodalStreamFunction, discrete_divergence


@pytest.fixture(scope="module")
def example():
    return load_example("lab_tank")


def test_the_truth_has_no_flow_through_the_walls(example):
    grid = Grid((12, 12), bc="neumann")
    flow = NodalStreamFunction(grid)
    u = flow.to_velocity(example.true_stream_function(flow.free_grid).ravel())
    assert np.all(u[0][[0, -1], :] == 0) and np.all(u[1][:, [0, -1]] == 0)
    assert np.abs(discrete_divergence(grid, u)).max() <= 1e-12 * np.abs(u).max() * 12


def test_the_masks_hide_a_fifth_of_each_frame(example):
    rng = np.random.default_rng(0)
    fractions = [example.mask((64, 64), frame, rng).mean() for frame in range(10)]
    # the glare disc (8 %) plus independent pixels to 20 % in expectation: binomial scatter
    # of 4096 pixels, sd ≈ 0.006; 5 sd allowed
    assert all(abs(f - example.MASKED) <= 5 * np.sqrt(0.2 * 0.8 / 4096) + 1 / 4096
               for f in fractions)


@pytest.fixture(scope="module")
def quick(example, tmp_path_factory):
    return example.run(tmp_path_factory.mktemp("tank"), quick=True)


def test_the_configuration_is_the_cli_s_and_matches_the_settings(example, tmp_path):
    from advdiff_sens import cli
    from advdiff_sens.cli.config import read_config

    config = example.settings(quick=True)
    _, toml, _, _ = example.write_tank_files(tmp_path, config, np.random.default_rng(0))
    options = read_config(toml, cli.build_parser().commands["estimate"])
    assert options["theta0_std"] == config.theta0_std
    assert options["stages"] == () and options["cg_max_iter"] == config.cg_max_iter
    assert "laplace_rank" not in options                     # quick: min(N, p), all of it
    full = example.settings()
    assert full.laplace_rank <= full.cg_max_iter


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_writes_the_files(quick):
    names = {p.name for p in quick.outdir.iterdir()}
    assert {"results.nc", "fit.nc", "inference.npz", "flow.png", "theta0.png"} <= names
    assert (quick.outdir.parent / "tank.toml").is_file()
    assert abs(quick.missing_fraction - 0.2) < 0.02


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_reaches_the_map(quick):
    from advdiff_sens.inference import MAP_DECREMENT_TOL

    # Newton-CG's gradient stop is |g|_C <= MAP_DECREMENT_TOL (atol; rtol |g_0|_C is far
    # smaller), and |g|_C bounds the Newton decrement sqrt(g^T C_post g) since C_post <= C:
    # recomputed at the saved MAP, it passes the Laplace check. Neither Newton-CG (max_iter,
    # cg_max_iter, no descent) nor the Laplace stage ("not a MAP", rank) warned.
    assert quick.gradient_norm <= MAP_DECREMENT_TOL
    assert quick.warnings == ()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_recovers_the_flow_and_improves_theta0(quick):
    # the prior mean (u = 0) has error 1: the data move the MAP toward the truth
    assert quick.velocity_error < 0.9
    # θ0 from the first image alone carries its noise and gaps; the MAP uses every image
    assert quick.theta0_error < quick.theta0_prior_error
    # a fit no worse than the noise: 2Φ below the 99.9 % quantile of χ²(N)
    assert 2 * quick.misfit <= chi2.ppf(0.999, quick.n_data)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_band_keeps_every_informed_direction(quick):
    # The coverage rule: the band is the Laplace approximation's only if the rank keeps
    # every eigenvalue of the prior-preconditioned data Hessian above 1 (a dropped λ leaves
    # the variance along its direction at the prior's, too large by λ/(1 + λ) of it). At quick
    # size the rank is min(N, p) and the dense Hessian keeps all p eigenvalues.
    values = quick.eigenvalues
    assert values.size == quick.n_params and np.sum(values > 1) < values.size
    # With the complete band, u† (one smooth cell, smoother than a typical prior draw) is
    # covered at least at the nominal 90 % of the nodes.
    assert quick.coverage >= 0.9


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_run_plot(example, quick, tmp_path):
    path = example.plot(quick, tmp_path / "lab_tank.png")
    assert path.is_file() and path.stat().st_size > 10_000
