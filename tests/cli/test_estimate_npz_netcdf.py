"""``estimate DATA.npz`` writes netCDF results too (advdiff_sens.cli.results_netcdf):
``results.nc`` (the fields on the model grid) and ``fit.nc`` (``(time, sensor)``: data,
predictions, residuals, the sensors' coordinates), for the field pipeline and for the default
Fourier-flow workflow; without xarray one line names the ``io`` extra and the run goes on.

Runs at reduced size (8 × 8 grid, kmax 1, 6 sensors × 3 times, 2 × 4 draws); every number in
the netCDF files is checked against ``inference.npz`` / ``estimate.npz`` (the same floats, so
exact equality, the (y, x) layout transposed) or against the misfit Φ = ½Σ residual²
(rounding only: rtol 1e-12).
"""

import sys

import numpy as np
import pytest

from advdiff_sens import Grid, cli
from advdiff_sens.inference import StreamFunctionBasis
from advdiff_sens.io import IO_EXTRA_HINT
from advdiff_sens.problems import make_field_twin
from advdiff_sens.problems.twin import r3_initial_condition

xr = pytest.importorskip("xarray")
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]

TIMES = np.linspace(0.1, 0.3, 3)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A Fourier-flow twin (kmax 1) on 8 × 8 as an npz file, and its arrays."""
    twin = make_field_twin(8, flow="fourier", kmax=1, n_sensors=6, times=TIMES, rng=0)
    post = twin.posterior
    arrays = {"sensors": post.sensors, "times": post.times, "data": post.data,
              "noise_std": post.noise_std, "theta0": r3_initial_condition(post.model.grid),
              "kmax": 1.0}
    path = tmp_path_factory.mktemp("data") / "fourier.npz"
    np.savez(path, **arrays)
    known = path.with_name("known.npz")
    np.savez(known, **arrays, velocity=twin.true_inputs.velocity)
    return path, known, arrays


def _load(path) -> dict:
    with np.load(path) as f:
        return {name: f[name] for name in f.files}


def _open(path):
    with xr.open_dataset(path) as dataset:
        return dataset.load()


def _check_fit(fit, arrays, predicted, misfit):
    """fit.nc: the file's data, the saved prediction, residual (data − prediction)/σ whose
    half sum of squares is the saved misfit; the sensors' coordinates."""
    np.testing.assert_array_equal(fit["observed"].values, arrays["data"])
    np.testing.assert_array_equal(fit["predicted"].values, predicted)
    np.testing.assert_array_equal(fit["residual"].values,
                                  (arrays["data"] - predicted) / arrays["noise_std"])
    assert 0.5 * np.sum(fit["residual"].values ** 2) == pytest.approx(misfit, rel=1e-12)
    assert fit["residual"].dims == ("time", "sensor")
    np.testing.assert_array_equal(fit["time"].values, arrays["times"])
    np.testing.assert_array_equal(fit["sensor_x"].values, arrays["sensors"][:, 0])
    np.testing.assert_array_equal(fit["sensor_y"].values, arrays["sensors"][:, 1])


def test_field_pipeline_writes_results_and_fit(capsys, tmp_path, data):
    path, _, arrays = data
    outdir = tmp_path / "out"
    argv = ["estimate", str(path), "--unknowns", "flow,kappa", "--kmax", "1", "--sampler",
            "pcn", "--samples", "4", "--warmup", "2", "--stages", "none", "--outdir",
            str(outdir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("netCDF results saved to") == 2            # after Laplace and sampling
    saved = _load(outdir / "inference.npz")
    results = _open(outdir / "results.nc")
    for name, key in (("u", 0), ("v", 1)):
        for suffix in ("", "_sd", "_mean", "_posterior_sd"):
            np.testing.assert_array_equal(results[f"{name}{suffix}"].values,
                                          saved[f"velocity{suffix}"][key].T)
    for suffix in ("", "_sd", "_mean", "_posterior_sd"):
        np.testing.assert_array_equal(results[f"psi{suffix}"].values,
                                      saved[f"stream_function{suffix}"].T)
    assert results["u"].dims == ("y", "x")
    np.testing.assert_array_equal(results["x"].values, Grid((8, 8)).axes[0])
    assert results.attrs["kappa"] == np.exp(saved["log_kappa"][0])     # κ at the MAP
    for suffix in ("", "_sd", "_mean", "_posterior_sd"):
        assert results.attrs[f"log_kappa{suffix}"] == float(saved[f"log_kappa{suffix}"][0])
    # the log-normal sd against draws of log κ ~ N(μ, s²) (relative MCSE ≈ 1/sqrt(2n))
    draws = np.exp(np.random.default_rng(0).normal(saved["log_kappa"][0],
                                                   saved["log_kappa_sd"][0], 200_000))
    assert results.attrs["kappa_sd"] == pytest.approx(draws.std(), rel=5 / np.sqrt(4e5))
    assert results.attrs["misfit"] == float(saved["misfit"])
    assert results.attrs["n_data"] == 18 and results.attrs["source"] == str(path)
    for key in ("expected_information_gain", "variance_trace_ratio"):
        assert results.attrs[key] == float(saved[key])
    _check_fit(_open(outdir / "fit.nc"), arrays, saved["predicted"], float(saved["misfit"]))


def test_workflow_writes_results_and_fit(capsys, tmp_path, data):
    path, _, arrays = data
    outdir = tmp_path / "out"
    assert cli.main(["estimate", str(path), "--samples", "4", "--warmup", "2", "--stages",
                     "none", "--outdir", str(outdir)]) == 0
    assert capsys.readouterr().out.count("netCDF results saved to") == 2
    saved = _load(outdir / "estimate.npz")
    results = _open(outdir / "results.nc")
    basis = StreamFunctionBasis(Grid((8, 8)), 1)
    np.testing.assert_array_equal(results["u"].values, saved["velocity"][0].T)
    np.testing.assert_array_equal(results["v_sd"].values, saved["velocity_std"][1].T)
    np.testing.assert_allclose(results["psi"].values,
                               basis.stream_function(saved["coefficients"]).T, rtol=1e-13)
    draws = saved["samples"].reshape(-1, basis.n_params)
    velocities = np.stack([basis.to_velocity(c) for c in draws])
    np.testing.assert_allclose(results["u_mean"].values, velocities.mean(axis=0)[0].T,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(results["v_posterior_sd"].values,
                               velocities.std(axis=0, ddof=1)[1].T, rtol=1e-12, atol=1e-15)
    assert "psi_sd" not in results                  # the workflow's Laplace sd is the velocity's
    assert results.attrs["kappa"] == 0.01 and results.attrs["misfit"] == float(saved["misfit"])
    _check_fit(_open(outdir / "fit.nc"), arrays, saved["predicted"], float(saved["misfit"]))


def test_without_xarray_one_line_names_the_extra(capsys, tmp_path, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)           # import xarray fails
    outdir = tmp_path / "out"
    assert cli.main(["estimate", str(data[1]), "--unknowns", "kappa", "--sampler", "none",
                     "--stages", "none", "--outdir", str(outdir)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if IO_EXTRA_HINT in line]
    assert lines == [f"netCDF results (results.nc, fit.nc) skipped: {IO_EXTRA_HINT}"]
    assert (outdir / "inference.npz").is_file()
    assert not (outdir / "results.nc").exists() and not (outdir / "fit.nc").exists()
