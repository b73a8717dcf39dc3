"""netCDF snapshot files (:mod:`advdiff_sens.io.snapshots`): round trips exact, the physical
coordinates mapped to the model's domain, gaps as NaN, and every bad file refused by name."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from advdiff_sens import Grid
from advdiff_sens.io import read_snapshots, write_fields

xr = pytest.importorskip("xarray")


def snapshot_dataset(values, x, y, times, **attrs):
    """A (time, y, x) dataset of ``values`` given in (time, y, x) order."""
    return xr.Dataset({"theta": (("time", "y", "x"), values, attrs)},
                      coords={"time": ("time", times, {"units": "s"}),
                              "x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})})


@pytest.fixture
def rng():
    return np.random.default_rng(15)


def test_round_trip_is_exact_with_gaps(tmp_path, rng):
    grid = Grid((6, 5), extent=(3.0, 2.5))
    theta = rng.standard_normal((3, 6, 5))
    theta[rng.random(theta.shape) < 0.2] = np.nan
    theta[:, 0, 0] = 1.0                                 # every snapshot observed somewhere
    path = write_fields(tmp_path / "a.nc", grid, {"theta": theta}, times=[0.0, 0.1, 0.25],
                        cell_centred=True, origin=(10.0, -5.0), attrs={"kappa": 2e-3},
                        units={"theta": "K"})
    snaps = read_snapshots(path)
    assert np.array_equal(snaps.values, theta, equal_nan=True)
    assert snaps.extent == pytest.approx((3.0, 2.5), rel=1e-14)
    assert snaps.origin == pytest.approx((10.0, -5.0), rel=1e-14)
    for centres, n, length in zip(snaps.pixel_centres, (6, 5), (3.0, 2.5)):
        np.testing.assert_allclose(centres, (np.arange(n) + 0.5) * length / n, rtol=1e-13)
    assert snaps.times.tolist() == [0.0, 0.1, 0.25] and snaps.kappa == 2e-3
    assert snaps.units["theta"] == "K" and snaps.units["x"] == "m"
    assert snaps.missing_fraction == pytest.approx(np.isnan(theta).mean())
    assert snaps.model_grid().shape == (6, 5)
    assert snaps.model_grid((12, 10), bc="neumann").extent == snaps.extent


def test_decreasing_axis_and_fill_values(tmp_path, rng):
    # latitude-like y decreasing; the model's axis 1 increases: the values are flipped with it
    x, y = np.array([0.5, 1.5, 2.5]), np.array([3.5, 2.5, 1.5, 0.5])
    values = rng.standard_normal((2, 4, 3))               # (time, y, x)
    values[1, 2, 1] = -999.0
    ds = snapshot_dataset(values, x, y, [0.0, 1.0])
    ds["theta"].encoding["_FillValue"] = -999.0
    ds.to_netcdf(tmp_path / "b.nc", engine="h5netcdf")
    snaps = read_snapshots(tmp_path / "b.nc")
    expected = values.transpose(0, 2, 1)[:, :, ::-1]      # (time, x, y increasing)
    expected[expected == -999.0] = np.nan
    assert np.array_equal(snaps.values, expected, equal_nan=True)
    np.testing.assert_allclose(snaps.pixel_centres[1], [0.5, 1.5, 2.5, 3.5])
    assert snaps.origin == (0.0, 0.0) and snaps.extent == (3.0, 4.0)


def test_datetimes_become_seconds_since_the_first(tmp_path, rng):
    times = np.array(["2026-01-01T00:00:00", "2026-01-01T00:00:00.5", "2026-01-01T00:00:02"],
                     dtype="datetime64[ms]")
    ds = xr.Dataset({"theta": (("time", "y", "x"), rng.random((3, 2, 2)))},
                    coords={"time": times, "x": [0.5, 1.5], "y": [0.5, 1.5]})
    ds.to_netcdf(tmp_path / "c.nc", engine="h5netcdf")
    snaps = read_snapshots(tmp_path / "c.nc")
    np.testing.assert_allclose(snaps.times, [0.0, 0.5, 2.0])
    assert snaps.time_origin.startswith("2026-01-01")


def test_bounds_give_the_cells(tmp_path, rng):
    ds = snapshot_dataset(rng.random((1, 1, 2)), [1.0, 3.0], [5.0], [0.0])
    ds["y"].attrs["bounds"] = "y_bounds"
    ds["y_bounds"] = (("y", "nv"), np.array([[4.0, 7.0]]))
    ds.to_netcdf(tmp_path / "d.nc", engine="h5netcdf")
    snaps = read_snapshots(tmp_path / "d.nc")
    assert snaps.origin == (0.0, 4.0) and snaps.extent == (4.0, 3.0)
    np.testing.assert_allclose(snaps.pixel_centres[1], [1.0])


def test_per_datum_noise_variable(tmp_path, rng):
    ds = snapshot_dataset(rng.random((2, 2, 3)), [0.5, 1.5, 2.5], [0.5, 1.5], [0.0, 1.0])
    sd = np.full((2, 2, 3), 0.1)
    sd[1] = 0.2
    ds["noise_std"] = (("time", "y", "x"), sd)
    ds.to_netcdf(tmp_path / "e.nc", engine="h5netcdf")
    snaps = read_snapshots(tmp_path / "e.nc", "theta")
    assert snaps.noise_std.shape == (2, 3, 2)
    assert np.all(snaps.noise_std[1] == 0.2) and np.all(snaps.noise_std[0] == 0.1)


def write(tmp_path, name, ds):
    ds.to_netcdf(tmp_path / name, engine="h5netcdf")
    return tmp_path / name


@pytest.mark.parametrize("change, message", [
    (lambda ds: ds.assign(other=ds["theta"] * 2), "expected exactly one"),
    (lambda ds: ds.transpose("y", "time", "x"), "dimensions must be (time, y, x)"),
    (lambda ds: ds.assign_coords(x=[0.5, 0.4, 2.5]), "strictly monotonic"),
    (lambda ds: ds.assign_coords(time=("time", [0.0, 0.0], {"units": "s"})),
     "strictly increasing"),
    (lambda ds: ds.assign_coords(time=("time", [0.0, 1.0], {"units": "days"})),
     "must be in seconds"),
    (lambda ds: ds.assign(theta=ds["theta"].where(ds["time"] > 0.5)), "no observed pixel"),
    (lambda ds: ds.assign(theta=ds["theta"].where(ds["x"] > 1, np.inf)), "±inf"),
    (lambda ds: ds.assign_attrs(kappa=-1.0), "'kappa' must be finite and > 0"),
    (lambda ds: ds.assign(noise_std=(("time", "x", "y"), np.ones((2, 3, 2)))),
     "must have the data's dimensions"),
    (lambda ds: ds.assign(noise_std=ds["theta"] * 0), "finite and > 0 wherever"),
])
def test_bad_files_are_refused_by_name(tmp_path, rng, change, message):
    ds = snapshot_dataset(rng.random((2, 2, 3)) + 0.5, [0.5, 1.5, 2.5], [0.5, 1.5], [0.0, 1.0])
    path = write(tmp_path, "bad.nc", change(ds))
    with pytest.raises(ValueError, match="bad.nc") as info:
        read_snapshots(path)
    assert message in str(info.value)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_snapshots(tmp_path / "absent.nc")
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"not a netCDF file at all")
    with pytest.raises(ValueError, match="not a readable netCDF file"):
        read_snapshots(garbage)
    ds = snapshot_dataset(np.ones((1, 2, 2)), [0.5, 1.5], [0.5, 1.5], [0.0])
    with pytest.raises(ValueError, match="no such data variable"):
        read_snapshots(write(tmp_path, "f.nc", ds), "dye")


def test_write_fields_checks_its_arguments(tmp_path):
    grid = Grid((4, 4))
    with pytest.raises(ValueError, match="times are required"):
        write_fields(tmp_path / "g.nc", grid, {"theta": np.zeros((2, 4, 4))})
    with pytest.raises(ValueError, match="must have shape"):
        write_fields(tmp_path / "g.nc", grid, {"theta": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="does not exist"):
        write_fields(tmp_path / "nowhere" / "g.nc", grid, {"theta": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="±inf"):
        write_fields(tmp_path / "g.nc", grid, {"theta": np.full((4, 4), np.inf)})


def test_without_xarray_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"io extra"):
        read_snapshots(tmp_path / "absent.nc")
