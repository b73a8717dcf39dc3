"""``estimate --windows``: a time-varying flow, constant on time windows, under a temporal
prior (``--temporal random-walk|ar1``, ``--temporal-scale``).

The options reach the library as a :class:`~advdiff_sens.inference.WindowedFlow` under a
:class:`~advdiff_sens.inference.TemporalGaussian` prior (``run_inference`` replaced by a
recorder), from the command line and from a configuration file, for npz and netCDF input;
every bad value or combination is one ``error: …`` line before any computation; and a small
run (12 × 12, Fourier kmax 1, two windows with different flows, 9 sensors × 8 times, 2 × 4
draws) writes per-window fields to ``inference.npz`` and ``results.nc`` (a ``window``
dimension) and one flow panel per window.
"""

import numpy as np
import pytest
from scipy.stats import chi2

from advdiff_sens import AdvectionDiffusion, Grid, cli
from advdiff_sens.cli.unknowns import AR1_RHO, RANDOM_WALK_STEP
from advdiff_sens.discretisation import PointSensors
from advdiff_sens.inference import (GaussianRandomField, StreamFunctionBasis, TemporalGaussian,
                                    WindowedFlow)
from advdiff_sens.io import write_fields
from advdiff_sens.problems.twin import r3_initial_condition
from advdiff_sens.sampling import DiagonalGaussian
from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]

TIMES = np.linspace(0.05, 0.4, 8)
#: The two windows' true Fourier coefficients (kmax 1), and the edge between them.
TRUE = np.array([[0.1, 0.0, 0.0, 0.05], [0.0, 0.1, -0.05, 0.0]])
EDGE = 0.2


@pytest.fixture(scope="module")
def windowed(tmp_path_factory):
    """Sensor data of a flow that changes at t = 0.2, as an npz file."""
    grid = Grid((12, 12))
    basis = StreamFunctionBasis(grid, 1)
    truth = np.stack([basis.to_velocity(c) for c in TRUE])
    model = AdvectionDiffusion(grid, 0.01, "exponential")
    theta0 = r3_initial_condition(grid)
    theta = model.solve(WindowedVelocity(TimeWindows([0.0, EDGE, np.inf]), truth), theta0, TIMES)
    rng = np.random.default_rng(0)
    sensors = rng.uniform(0.05, 0.95, (9, 2))
    clean = PointSensors(grid, sensors).forward(theta)
    sd = 0.01 * float(np.abs(clean).max())
    data = clean + sd * rng.standard_normal(clean.shape)
    arrays = {"sensors": sensors, "times": TIMES, "data": data, "noise_std": sd, "theta0": theta0,
              "kmax": 1.0}
    path = tmp_path_factory.mktemp("windowed") / "windowed.npz"
    np.savez(path, **arrays)
    return path, arrays, truth


def _error(capsys, argv, *names) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ options reach the library

def test_windows_and_the_default_random_walk(capsys, tmp_path, windowed, recorded):
    assert cli.main(["estimate", str(windowed[0]), "--windows", "0.2", "--outdir",
                     str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert "2 windows starting at t = 0, 0.2" in out and "random-walk prior" in out
    space = recorded["posterior"].space
    assert isinstance(space.flow, WindowedFlow)
    assert space.flow.windows == TimeWindows([0.0, 0.2, np.inf])
    assert isinstance(space.flow.spatial, StreamFunctionBasis) and space.n_params == 8
    prior = space.prior.blocks[0]
    assert isinstance(prior, TemporalGaussian) and isinstance(prior.spatial, DiagonalGaussian)
    expected = TemporalGaussian.random_walk(prior.spatial, 2, RANDOM_WALK_STEP)
    np.testing.assert_array_equal(prior.factor, expected.factor)
    # a windowed Fourier flow leaves the steady hmc workflow: ∞-HMC by default
    assert type(recorded["sampler"]).__name__ == "InfinityHMC"


def test_ar1_on_a_nodal_space(capsys, tmp_path, windowed, recorded):
    assert cli.main(["estimate", str(windowed[0]), "--space", "nodal", "--windows", "0.1,0.3",
                     "--temporal", "ar1", "--temporal-scale", "0.6", "--outdir",
                     str(tmp_path)]) == 130
    space = recorded["posterior"].space
    assert space.flow.windows == TimeWindows([0.0, 0.1, 0.3, np.inf])
    prior = space.prior.blocks[0]
    assert isinstance(prior.spatial, GaussianRandomField) and space.n_params == 3 * 144
    np.testing.assert_allclose(prior.temporal_covariance,
                               0.6 ** np.abs(np.subtract.outer(range(3), range(3))), rtol=1e-14)


def test_ar1_default_correlation(capsys, tmp_path, windowed, recorded):
    assert cli.main(["estimate", str(windowed[0]), "--windows", "0.2", "--temporal", "ar1",
                     "--outdir", str(tmp_path)]) == 130
    assert np.isclose(recorded["posterior"].space.prior.blocks[0].temporal_covariance[0, 1],
                      AR1_RHO)


def test_the_configuration_file_takes_the_temporal_options(capsys, tmp_path, windowed, recorded):
    config = tmp_path / "run.toml"
    config.write_text('[space]\nwindows = [0.1, 0.3]\ntemporal = "ar1"\ntemporal-scale = 0.5\n')
    assert cli.main(["estimate", str(windowed[0]), "--config", str(config), "--outdir",
                     str(tmp_path)]) == 130
    prior = recorded["posterior"].space.prior.blocks[0]
    assert recorded["posterior"].space.flow.windows == TimeWindows([0.0, 0.1, 0.3, np.inf])
    assert np.isclose(prior.temporal_covariance[0, 1], 0.5)
    config.write_text('[model]\nwindows = 0.2\n')
    _error(capsys, ["estimate", str(windowed[0]), "--config", str(config)], "run.toml",
           "model.windows", "belongs in section [space]")
    config.write_text('[space]\nwindows = [0.3, 0.1]\n')
    _error(capsys, ["estimate", str(windowed[0]), "--config", str(config)], "space.windows",
           "strictly increasing")


def test_snapshot_input_takes_windows(capsys, tmp_path, windowed, recorded):
    grid = Grid((8, 8))
    images = np.random.default_rng(1).random((3, 8, 8))
    path = write_fields(tmp_path / "dye.nc", grid, {"theta": images}, times=[0.0, 0.1, 0.2],
                        cell_centred=True, attrs={"kappa": 0.01, "noise_std": 0.05})
    assert cli.main(["estimate", str(path), "--space", "nodal", "--windows", "0.15",
                     "--outdir", str(tmp_path / "o")]) == 130
    assert recorded["posterior"].space.flow.windows == TimeWindows([0.0, 0.15, np.inf])
    _error(capsys, ["estimate", str(path), "--space", "nodal", "--windows", "0.2"],
           "argument --windows", "beyond the last observation time 0.2")


def test_a_window_without_observations_warns(capsys, tmp_path, windowed, recorded):
    with pytest.warns(UserWarning) as caught:
        assert cli.main(["estimate", str(windowed[0]), "--windows", "0.01,0.2", "--outdir",
                         str(tmp_path)]) == 130
    messages = [str(w.message) for w in caught if str(w.message).startswith("--windows")]
    assert len(messages) == 1, messages
    assert "window(s) 0 [0, 0.01) hold no observation time" in messages[0]
    assert "drop an edge" in messages[0]
    assert recorded["posterior"].space.flow.n_windows == 3       # allowed: the run goes on


# ------------------------------------------------------------------ bad input: before computing

@pytest.mark.parametrize("options, names", [
    (["--windows", "0.3,0.2"], ["--windows", "strictly increasing"]),
    (["--windows", "0"], ["--windows", "> 0"]),
    (["--windows=-0.1,0.2"], ["--windows", "> 0"]),
    (["--windows", "nan"], ["--windows", "finite"]),
    (["--windows", "early"], ["--windows", "comma-separated"]),
    (["--windows", "0.2,0.5"], ["argument --windows", "[0.5]",
                                "beyond the last observation time 0.4", "(0, 0.4)"]),
    (["--windows", "0.4"], ["argument --windows", "beyond the last observation time 0.4"]),
    (["--temporal", "ar1"], ["argument --temporal", "--windows was not given"]),
    (["--temporal-scale", "0.5"], ["argument --temporal-scale", "--windows was not given"]),
    (["--windows", "0.2", "--temporal", "ar1", "--temporal-scale", "1"],
     ["argument --temporal-scale", "AR(1) correlation ρ must be in [0, 1)", "got 1"]),
    (["--windows", "0.2", "--temporal-scale", "0"],
     ["argument --temporal-scale", "random walk's step sd σ must be > 0"]),
    (["--windows", "0.2", "--temporal", "brownian"], ["--temporal", "invalid choice"]),
    (["--windows", "0.2", "--sampler", "hmc"], ["argument --sampler", "steady flow",
                                                "--windows", "infinity-hmc"]),
    (["--windows", "0.2", "--unknowns", "theta0"], ["argument --windows",
                                                    "leaves the flow known"]),
])
def test_bad_windows_are_refused_before_computing(capsys, tmp_path, windowed, no_computation,
                                                  options, names):
    _error(capsys, ["estimate", str(windowed[0]), "--outdir", str(tmp_path / "o"), *options],
           *names)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ a real run

def test_end_to_end_two_windows(capsys, tmp_path, windowed):
    path, arrays, truth = windowed
    outdir = tmp_path / "out"
    assert cli.main(["estimate", str(path), "--windows", str(EDGE), "--samples", "4",
                     "--warmup", "2", "--stages", "none", "--outdir", str(outdir)]) == 0
    with np.load(outdir / "inference.npz") as f:
        saved = {name: f[name] for name in f.files}
    basis = StreamFunctionBasis(Grid((12, 12)), 1)
    blocks = saved["coefficients"].reshape(2, 4)
    assert saved["velocity"].shape == saved["velocity_sd"].shape == (2, 2, 12, 12)
    assert saved["stream_function"].shape == saved["stream_function_mean"].shape == (2, 12, 12)
    np.testing.assert_array_equal(saved["window_starts"], [0.0, EDGE])
    for k in range(2):
        np.testing.assert_allclose(saved["velocity"][k], basis.to_velocity(blocks[k]),
                                   rtol=1e-13, atol=1e-15)
        # each window's MAP is the flow of its own window, not the other's
        errors = [np.linalg.norm(saved["velocity"][k] - t) for t in truth]
        assert errors[k] < errors[1 - k], (k, errors)
    # 2Φ at the MAP: χ²(N − d_eff), d_eff ≤ p = 8; two-sided 0.1 %
    n = arrays["data"].size
    assert chi2.ppf(0.001, n - 8) <= 2 * float(saved["misfit"]) <= chi2.ppf(0.999, n)
    for name in ("flow.png", "posterior_sd.png", "posterior_sd_samples.png", "data_fit.png"):
        assert (outdir / name).stat().st_size > 1000
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(outdir / "results.nc") as results:
        np.testing.assert_array_equal(results["window"].values, [0.0, EDGE])
        assert results["u"].dims == ("window", "y", "x")
        np.testing.assert_array_equal(results["u"].values,
                                      saved["velocity"][:, 0].transpose(0, 2, 1))
        np.testing.assert_array_equal(results["v_posterior_sd"].values,
                                      saved["velocity_posterior_sd"][:, 1].transpose(0, 2, 1))
        np.testing.assert_array_equal(results["psi_sd"].values,
                                      saved["stream_function_sd"].transpose(0, 2, 1))
        np.testing.assert_array_equal(results["x"].values, Grid((12, 12)).axes[0])


def test_figures_of_many_windows_show_the_first_and_last():
    from advdiff_sens.plotting import plot_windowed_flow, plot_windowed_posterior_sd

    grid = Grid((8, 8))
    velocities = np.random.default_rng(0).random((6, 2, 8, 8))
    starts = np.arange(6) * 0.1
    fig = plot_windowed_flow(grid, velocities, starts)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["window 0: 0 ≤ t < 0.1", "window 1: 0.1 ≤ t < 0.2",
                      "window 4: 0.4 ≤ t < 0.5", "window 5: t ≥ 0.5"]
    assert "windows 0, 1, 4, 5 of 6" in fig.get_suptitle()
    fig = plot_windowed_posterior_sd(grid, velocities[:2], starts[:2])
    assert sum(bool(ax.get_title()) for ax in fig.axes) == 4          # 2 windows × (u_x, u_y)


def test_snapshot_run_writes_windowed_results(capsys, tmp_path):
    """netCDF in and out with two windows: the flow fields on the model grid in the images'
    coordinates (origin kept), one per window; θ0 known, so only the flow is written."""
    xr = pytest.importorskip("xarray")
    grid = Grid((6, 6))
    basis = StreamFunctionBasis(grid, 1)
    flow = WindowedVelocity(TimeWindows([0.0, 0.15, np.inf]),
                            np.stack([basis.to_velocity(c) for c in TRUE]))
    x, y = grid.coords
    theta0 = 1 + np.cos(2 * np.pi * x) * np.cos(2 * np.pi * y)
    later = AdvectionDiffusion(grid, 0.01, "exponential").solve(flow, theta0, [0.1, 0.2])
    images = np.concatenate([theta0[None], later])
    images += 0.05 * np.random.default_rng(2).standard_normal(images.shape)
    path = write_fields(tmp_path / "dye.nc", grid, {"theta": images}, times=[0.0, 0.1, 0.2],
                        origin=(2.0, 3.0), cell_centred=True,
                        attrs={"kappa": 0.01, "noise_std": 0.05})
    outdir = tmp_path / "out"
    assert cli.main(["estimate", str(path), "--kmax", "1", "--windows", "0.15", "--sampler",
                     "none", "--stages", "none", "--outdir", str(outdir)]) == 0
    with np.load(outdir / "inference.npz") as f:
        velocity = f["velocity"]
    with xr.open_dataset(outdir / "results.nc") as results:
        assert set(results.data_vars) == {"u", "v", "psi", "u_sd", "v_sd", "psi_sd"}
        np.testing.assert_array_equal(results["window"].values, [0.0, 0.15])
        np.testing.assert_array_equal(results["v"].values, velocity[:, 1].transpose(0, 2, 1))
        # the model's nodes of the images' domain, shifted by its origin as write_fields does
        model_grid = Grid((6, 6))
        np.testing.assert_allclose(results["x"].values, model_grid.axes[0] + 2.0, rtol=1e-15)
        np.testing.assert_allclose(results["y"].values, model_grid.axes[1] + 3.0, rtol=1e-15)
    with xr.open_dataset(outdir / "fit.nc") as fit:
        assert fit["residual"].dims == ("time", "y", "x")
