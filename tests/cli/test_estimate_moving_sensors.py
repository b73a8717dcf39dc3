"""``estimate DATA.npz`` with moving sensors: ``sensors`` of shape (k, m, 2), a position per
observation time (drifters).

The array is checked (shape against ``times`` and ``data``, finite, inside the domain) before
any computation, the posterior reads the tracks through
:class:`~advdiff_sens.discretisation.PointSensors`, and a small run (12 × 12 nodal flow, 6
drifters × 4 times) writes ``inference.npz``, the figures (tracks drawn) and ``fit.nc`` with a
position per time of every sensor.
"""

import numpy as np
import pytest

from advdiff_sens import Grid, cli
from advdiff_sens.discretisation import PointSensors
from advdiff_sens.matrix import ChebyshevBackend
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.problems import INFERENCE_TOL, make_field_twin

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]

TIMES = np.linspace(0.1, 0.4, 4)


@pytest.fixture(scope="module")
def drifters(tmp_path_factory):
    """Data of 6 drifters moving in a straight line across a nodal-flow twin on 12 × 12."""
    twin = make_field_twin(12, n_sensors=6, times=TIMES, rng=0)
    model, truth = twin.posterior.model, twin.true_inputs
    rng = np.random.default_rng(3)
    start = rng.uniform(0.15, 0.85, (6, 2))
    tracks = start[None] + 0.2 * TIMES[:, None, None] * np.array([1.0, 0.5])
    theta = model.solve(truth.velocity, truth.theta0, TIMES)
    sd = 0.01 * float(np.abs(theta).max())
    data = PointSensors(model.grid, tracks).forward(theta) + sd * rng.standard_normal((4, 6))
    arrays = {"sensors": tracks, "times": TIMES, "data": data, "noise_std": sd,
              "theta0": truth.theta0}
    path = tmp_path_factory.mktemp("drifters") / "drifters.npz"
    np.savez(path, **arrays)
    return path, arrays


def _error(capsys, argv, *names) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def test_the_posterior_reads_the_tracks(capsys, tmp_path, drifters, recorded):
    path, arrays = drifters
    assert cli.main(["estimate", str(path), "--space", "nodal", "--outdir",
                     str(tmp_path)]) == 130
    assert "6 moving sensors (a position per time)" in capsys.readouterr().out
    operator = recorded["posterior"].observations.operator
    assert isinstance(operator, PointSensors) and operator.moving
    np.testing.assert_array_equal(operator.positions, arrays["sensors"])
    np.testing.assert_array_equal(recorded["posterior"].data, arrays["data"])


def test_end_to_end(capsys, tmp_path, drifters):
    path, arrays = drifters
    outdir = tmp_path / "out"
    assert cli.main(["estimate", str(path), "--space", "nodal", "--sampler", "none",
                     "--stages", "none", "--outdir", str(outdir)]) == 0
    with np.load(outdir / "inference.npz") as f:
        saved = {name: f[name] for name in f.files}
    # the saved prediction is the MAP flow's, read along the tracks (same solver: rounding)
    grid = Grid((12, 12))                              # the CLI's model (the file's kappa)
    model = AdvectionDiffusion(grid, 0.01, "exponential",
                               backend=ChebyshevBackend(tol=INFERENCE_TOL))
    theta = model.solve(saved["velocity"], arrays["theta0"], TIMES)
    along_tracks = PointSensors(grid, arrays["sensors"]).forward(theta)
    np.testing.assert_allclose(saved["predicted"], along_tracks, rtol=0,
                               atol=1e-10 * np.abs(along_tracks).max())
    residual = (arrays["data"] - saved["predicted"]) / arrays["noise_std"]
    assert 0.5 * np.sum(residual**2) == pytest.approx(float(saved["misfit"]), rel=1e-12)
    for name in ("flow.png", "posterior_sd.png", "data_fit.png"):
        assert (outdir / name).stat().st_size > 1000
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(outdir / "fit.nc") as fit:
        assert fit["sensor_x"].dims == ("time", "sensor")
        np.testing.assert_array_equal(fit["sensor_x"].values, arrays["sensors"][..., 0])
        np.testing.assert_array_equal(fit["sensor_y"].values, arrays["sensors"][..., 1])
        np.testing.assert_array_equal(fit["residual"].values, residual)


def _tracks(arrays, change):
    tracks = arrays["sensors"].copy()
    change(tracks)
    return tracks


@pytest.mark.parametrize("make, names", [
    (lambda a: a["sensors"][:3], ("array 'sensors'", "one position per time", "k = 4",
                                  "(3, 6, 2)")),
    (lambda a: np.concatenate([a["sensors"], a["sensors"][:, :, :1]], axis=2),
     ("array 'sensors'", "(k, m, 2)", "(4, 6, 3)")),
    (lambda a: np.zeros((4, 0, 2)), ("array 'sensors'", "m >= 1")),
    (lambda a: a["sensors"][None], ("array 'sensors'", "(k, m, 2)", "(1, 4, 6, 2)")),
    (lambda a: _tracks(a, lambda t: t.__setitem__((2, 4, 0), 1.3)),
     ("array 'sensors'", "outside the domain", "sensor 4 at time index 2", "[1.3, ")),
    (lambda a: _tracks(a, lambda t: t.__setitem__((1, 0, 1), np.nan)),
     ("array 'sensors'", "NaN or inf")),
])
def test_bad_tracks_are_refused_before_computing(capsys, tmp_path, drifters, no_computation,
                                                 make, names):
    _, arrays = drifters
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, "sensors": make(arrays)})
    _error(capsys, ["estimate", str(bad), "--space", "nodal", "--outdir", str(tmp_path / "o")],
           "bad.npz", *names)
    assert not (tmp_path / "o").exists()


def test_data_must_have_a_column_per_drifter(capsys, tmp_path, drifters, no_computation):
    _, arrays = drifters
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, "data": arrays["data"][:, :5]})
    _error(capsys, ["estimate", str(bad), "--space", "nodal"], "array 'data'", "(4, 6)",
           "got (4, 5)")


def test_the_hmc_workflow_refuses_moving_sensors(capsys, tmp_path, drifters, no_computation):
    _error(capsys, ["estimate", str(drifters[0]), "--outdir", str(tmp_path / "o")],
           "argument --sampler", "moving sensors", "infinity-hmc")
    assert not (tmp_path / "o").exists()


def test_figures_draw_the_tracks(drifters):
    from advdiff_sens.plotting import plot_data_fit, plot_flow_estimate

    _, arrays = drifters
    tracks = arrays["sensors"]
    fig = plot_flow_estimate(Grid((12, 12)), np.zeros((2, 12, 12)), None, tracks)
    lines = fig.axes[0].get_lines()
    drawn = [np.column_stack(line.get_data()) for line in lines]
    for s in range(tracks.shape[1]):               # one line per drifter along its track
        assert any(np.array_equal(xy, tracks[:, s]) for xy in drawn), s
    assert any(np.array_equal(xy, tracks[0]) for xy in drawn)    # the first positions
    fit = plot_data_fit(TIMES, arrays["data"], arrays["data"], 0.1, sensors=tracks)
    start = tracks[0, 0]
    assert f"sensor 0 from ({start[0]:.2f}, {start[1]:.2f})" in [a.get_title() for a in fit.axes]
