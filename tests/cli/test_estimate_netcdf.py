"""``estimate DATA.nc``: gridded snapshots in, netCDF results out (advdiff_sens.cli.snapshotfile,
advdiff_sens.cli.results_netcdf).

A small walled twin (a 10 × 10 box, R5w's flow) written as dye images — the first the initial
condition, 20 % of the pixels masked, noise 1 % of max θ — runs end to end at reduced size and
writes ``results.nc`` and ``fit.nc`` whose numbers are those of ``inference.npz``; every option
that does not fit the file, and every bad file, is one ``error: …`` line before any computation.
"""

import numpy as np
import pytest

from advdiff_sens import Grid, cli
from advdiff_sens.io import read_snapshots, write_fields
from advdiff_sens.problems import make_field_twin

xr = pytest.importorskip("xarray")
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]

TIMES = np.array([0.0, 0.1, 0.2])


@pytest.fixture(scope="module")
def tank(tmp_path_factory):
    """Images of a walled twin and the twin."""
    rng = np.random.default_rng(7)
    twin = make_field_twin(10, n_sensors=4, times=TIMES[1:], bc=("neumann", "neumann"), rng=0)
    model, truth = twin.posterior.model, twin.true_inputs
    images = np.concatenate([truth.theta0[None],
                             model.solve(truth.velocity, truth.theta0, TIMES[1:])])
    sd = 0.01 * np.abs(images).max()
    images = images + sd * rng.standard_normal(images.shape)
    images[rng.random(images.shape) < 0.2] = np.nan
    path = tmp_path_factory.mktemp("tank") / "tank.nc"
    write_fields(path, Grid(images.shape[1:], extent=model.grid.extent), {"theta": images},
                 times=TIMES, cell_centred=True, attrs={"kappa": model.kappa, "noise_std": sd})
    return path, twin, images, sd


def _error(capsys, argv, *names) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]   # argparse adds usage
    assert len(lines) == 1, err
    assert lines[0].startswith(("error: ", "advdiff-sens estimate: error: ")), err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]




def test_end_to_end_writes_netcdf_results(capsys, tmp_path, tank):
    path, twin, images, sd = tank
    outdir = tmp_path / "out"
    argv = ["estimate", str(path), "--bc", "box", "--space", "nodal", "--unknowns",
            "flow,theta0", "--sampler", "none", "--stages", "none", "--outdir", str(outdir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "3 images of 10 x 10 pixels" in out and "bc neumann (x), neumann (y)" in out
    assert {"results.nc", "fit.nc", "inference.npz"} <= {p.name for p in outdir.iterdir()}
    arrays = np.load(outdir / "inference.npz")
    results = xr.open_dataset(outdir / "results.nc", engine="h5netcdf")
    # (y, x) in the file, (x, y) in the model: the same numbers transposed
    np.testing.assert_array_equal(results["u"].values, arrays["velocity"][0].T)
    np.testing.assert_array_equal(results["psi_sd"].values, arrays["stream_function_sd"].T)
    np.testing.assert_array_equal(results["theta0"].values, arrays["theta0"].T)
    assert results.attrs["n_data"] == int(np.isfinite(images[1:]).sum())
    assert results.attrs["misfit"] == pytest.approx(float(arrays["misfit"]))
    # no flow through the box's walls, and none of its uncertainty either
    assert np.all(results["u"].values[:, [0, -1]] == 0) and np.all(results["v"].values[[0, -1]] == 0)
    assert np.all(results["u_sd"].values[:, [0, -1]] == 0)
    fit = read_snapshots(outdir / "fit.nc", "residual")
    observed = np.isfinite(images[1:])
    assert np.array_equal(np.isfinite(fit.values), observed)         # masked pixels stay NaN
    # Φ = ½ Σ residual² over the observed pixels
    assert 0.5 * np.nansum(fit.values**2) == pytest.approx(float(arrays["misfit"]), rel=1e-9)
    assert fit.times.tolist() == pytest.approx([0.0, 0.1])           # since the first data image
    # the MAP fits the data at the noise level: 2Φ/N within a wide χ² band (p ≈ N here)
    assert 0.2 < 2 * float(arrays["misfit"]) / observed.sum() < 2.0


def test_a_configuration_file_runs_the_same_checks(capsys, tmp_path, tank, no_computation):
    path = tank[0]
    config = tmp_path / "tank.toml"
    config.write_text('[domain]\nbc = "box"\nnodes = 2\n')
    _error(capsys, ["estimate", str(path), "--config", str(config)], "tank.toml",
           "domain.nodes", "expected an integer >= ")


@pytest.mark.parametrize("options, names", [
    ([], ["--sampler", "hmc workflow", "infinity-hmc"]),
    (["--space", "nodal", "--bc", "walls"], ["--bc", "expected periodic, channel, box"]),
    (["--space", "nodal", "--nodes", "4,5,6"], ["--nodes", "one or two integers"]),
    (["--space", "nodal", "--observation", "nearest"], ["--observation", "invalid choice"]),
])
def test_options_that_do_not_fit_are_refused(capsys, tmp_path, tank, no_computation, options,
                                             names):
    _error(capsys, ["estimate", str(tank[0]), "--outdir", str(tmp_path / "o"), *options],
           *names)
    assert not (tmp_path / "o").exists()


def test_snapshot_options_with_an_npz_file_are_refused(capsys, tmp_path, no_computation):
    twin = make_field_twin(6, n_sensors=4, times=[0.1, 0.2], rng=0)
    post = twin.posterior
    npz = tmp_path / "d.npz"
    np.savez(npz, sensors=post.sensors, times=post.times, data=post.data,
             noise_std=post.noise_std, theta0=twin.true_inputs.theta0)
    _error(capsys, ["estimate", str(npz), "--space", "nodal", "--bc", "box"], "--bc",
           "netCDF snapshot file")


def test_bad_snapshot_files(capsys, tmp_path, no_computation):
    grid = Grid((6, 6))
    no_kappa = write_fields(tmp_path / "no_kappa.nc", grid, {"theta": np.ones((2, 6, 6))},
                            times=[0.0, 0.1], cell_centred=True, attrs={"noise_std": 0.1})
    _error(capsys, ["estimate", str(no_kappa), "--space", "nodal"], "--kappa", "no_kappa.nc")
    one = write_fields(tmp_path / "one.nc", grid, {"theta": np.ones((1, 6, 6))}, times=[0.0],
                       cell_centred=True, attrs={"noise_std": 0.1, "kappa": 0.01})
    _error(capsys, ["estimate", str(one), "--space", "nodal"], "one.nc", "at least two snapshots")
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"\x89HDF not really")
    _error(capsys, ["estimate", str(garbage), "--space", "nodal"], "garbage.nc",
           "not a readable netCDF file")
