r"""Gridded scalar snapshots in netCDF files (xarray): reading, checking and writing.

A snapshot file holds one data variable with dimensions ``(time, y, x)`` (or ``(time, x)``):
the scalar θ seen at pixel centres :math:`(x_i, y_j)` at times :math:`t_0 < t_1 < …`, with
gaps as NaN or the variable's ``_FillValue``/``missing_value`` (decoded to NaN). Coordinate
variables define the observation grid in physical units (metres, seconds): each spatial
coordinate is 1-D, finite and strictly monotonic (a decreasing axis, e.g. latitude, is
reversed), the time coordinate is numeric seconds or datetimes. The model's axes are
``(x, y)`` — axis 0 is x — so a ``(time, y, x)`` variable is transposed to
``(time, x, y)``.

The domain is the union of the pixel cells: on an axis with pixel centres
:math:`c_0 < … < c_{m−1}` the cell edges are the midpoints between centres and the end cells
extend half a spacing past the end centres (or the CF ``bounds`` variable gives them), so the
domain is :math:`[a, b]` with :math:`a = c_0 − (c_1 − c_0)/2`. :class:`ScalarSnapshots` keeps
``origin`` :math:`a` and ``extent`` :math:`b − a` and gives the pixel centres in domain
coordinates :math:`c − a \in (0, b − a)`, the coordinates the model's grid uses.

Optional metadata: the diffusivity κ (m²/s) as the attribute ``kappa`` of the variable or of
the file, and the noise standard deviation as the attribute ``noise_std`` of the variable or
of the file (one number) or a variable ``noise_std`` with the data's dimensions (one sd per
datum).

Every error is a ``ValueError`` that names the file and the variable, raised before any
computation; without xarray (the ``io`` extra) the functions raise ``ImportError`` naming
the extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation.grid import Grid

__all__ = ["ScalarSnapshots", "read_snapshots", "write_fields", "IO_EXTRA_HINT"]

#: What to install when xarray (or its netCDF engine) is missing.
IO_EXTRA_HINT = 'install the io extra: python -m pip install -e ".[io]" (xarray and h5netcdf)'
#: Relative tolerance of "equally spaced" pixel centres.
SPACING_RTOL = 1e-6


def _xarray():
    try:
        import xarray
    except ImportError as exc:                       # pragma: no cover - the io extra is installed in CI
        raise ImportError(f"reading and writing netCDF needs xarray; {IO_EXTRA_HINT}") from exc
    return xarray


def _engine(xr, path: Path) -> str | None:
    """h5netcdf (netCDF4 files) when installed, else scipy (netCDF3 only)."""
    engines = xr.backends.list_engines()
    if "h5netcdf" in engines:
        return "h5netcdf"
    if "scipy" in engines:
        return "scipy"
    raise ImportError(f"{path}: no netCDF engine for xarray; {IO_EXTRA_HINT}")


@dataclass(frozen=True)
class ScalarSnapshots:
    r"""Gridded snapshots of a scalar, in the model's axis order and domain coordinates.

    Attributes
    ----------
    name : str
        The data variable.
    values : ndarray (k, m_0[, m_1])
        θ at the pixel centres, NaN where missing; axis 1 is x, axis 2 is y.
    times : ndarray (k,)
        Seconds since the first snapshot (``times[0] == 0``).
    pixel_centres : tuple of ndarray
        Pixel centres per model axis, in domain coordinates (inside ``(0, extent)``).
    origin : tuple of float
        Physical coordinate of the domain's lower corner, per axis.
    extent : tuple of float
        Domain lengths per axis (metres).
    kappa : float or None
        Diffusivity (m²/s) from the file's ``kappa`` attribute.
    noise_std : None, float or ndarray (k, m_0[, m_1])
        From the file's ``noise_std`` attribute or variable.
    units : dict of str to str
        ``units`` attributes of the variable and its coordinates.
    time_origin : str
        The first time as written in the file.
    source : str
        The file read (empty when built in memory).

    Examples
    --------
    >>> import numpy as np
    >>> snaps = ScalarSnapshots("theta", np.ones((2, 4, 3)), np.array([0.0, 0.5]),
    ...                         (np.arange(4) + 0.5, np.arange(3) + 0.5), (0.0, 0.0),
    ...                         (4.0, 3.0))
    >>> snaps.shape, snaps.observed.all(), snaps.spacing
    ((4, 3), np.True_, (1.0, 1.0))
    """

    name: str
    values: np.ndarray
    times: np.ndarray
    pixel_centres: tuple[np.ndarray, ...]
    origin: tuple[float, ...]
    extent: tuple[float, ...]
    kappa: float | None = None
    noise_std: float | np.ndarray | None = None
    units: dict[str, str] = field(default_factory=dict)
    time_origin: str = "0"
    source: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """Pixels per model axis."""
        return self.values.shape[1:]

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of the observed (finite) entries, shape of ``values``."""
        return np.isfinite(self.values)

    @property
    def missing_fraction(self) -> float:
        """Fraction of the entries that are missing."""
        return float(1.0 - self.observed.mean())

    @property
    def spacing(self) -> tuple[float, ...]:
        """Mean pixel spacing per axis."""
        return tuple(float(e / c.size) for e, c in zip(self.extent, self.pixel_centres))

    def model_grid(self, shape: tuple[int, ...] | None = None,
                   bc: str | tuple[str, ...] = "periodic") -> Grid:
        """A model grid on the snapshots' domain: ``shape`` nodes (default one per pixel)
        with boundary conditions ``bc``."""
        return Grid(self.shape if shape is None else tuple(shape), extent=self.extent, bc=bc)


def _fail(path, name: str, message: str):
    raise ValueError(f"{path}: {name}: {message}")


def _axis_edges(path, name: str, centres: np.ndarray, bounds: np.ndarray | None
                ) -> tuple[float, float]:
    """Lower and upper edge of the pixel cells of one (increasing) axis."""
    if bounds is not None:
        if bounds.shape != (centres.size, 2) or not np.all(np.isfinite(bounds)):
            _fail(path, name, f"its bounds must be a finite ({centres.size}, 2) array, got "
                              f"shape {bounds.shape}")
        lo, hi = np.sort(bounds, axis=1).T
        if not (np.all(lo < centres) and np.all(centres < hi)
                and np.allclose(lo[1:], hi[:-1], rtol=SPACING_RTOL, atol=0)):
            _fail(path, name, "its bounds must be contiguous cells that contain the centres")
        return float(lo[0]), float(hi[-1])
    if centres.size == 1:
        _fail(path, name, "one pixel along an axis needs a bounds variable to give its width")
    return (float(centres[0] - (centres[1] - centres[0]) / 2),
            float(centres[-1] + (centres[-1] - centres[-2]) / 2))


def _seconds(path, name: str, coordinate) -> tuple[np.ndarray, str]:
    """Times as seconds since the first one, and the first as written."""
    values = np.asarray(coordinate.values)
    if values.ndim != 1 or values.size == 0:
        _fail(path, name, f"the time coordinate must be 1-D and non-empty, got shape "
                          f"{values.shape}")
    if np.issubdtype(values.dtype, np.datetime64):
        seconds = (values - values[0]) / np.timedelta64(1, "s")
    elif np.issubdtype(values.dtype, np.timedelta64):
        seconds = (values - values[0]) / np.timedelta64(1, "s")
    elif np.issubdtype(values.dtype, np.number):
        units = str(coordinate.attrs.get("units", "s")).strip().lower()
        if units not in ("s", "sec", "second", "seconds"):
            _fail(path, name, f"numeric times must be in seconds (units 's'), got units "
                              f"{units!r}; write datetimes or convert")
        seconds = values.astype(float) - float(values[0])
    else:
        _fail(path, name, f"times must be numbers or datetimes, got dtype {values.dtype}")
    seconds = np.asarray(seconds, dtype=float)
    if not np.all(np.isfinite(seconds)) or np.any(np.diff(seconds) <= 0):
        _fail(path, name, "times must be finite and strictly increasing")
    return seconds, str(values[0])


def _pick_variable(path, dataset, variable: str | None) -> str:
    bounds = {c.attrs.get("bounds") for c in dataset.coords.values()}
    candidates = [n for n, v in dataset.data_vars.items()
                  if v.ndim in (2, 3) and n not in bounds and n != "noise_std"]
    if variable is not None:
        if variable not in dataset.data_vars:
            _fail(path, variable, f"no such data variable; the file has "
                                  f"{sorted(map(str, dataset.data_vars))}")
        return variable
    if len(candidates) != 1:
        _fail(path, "variable", f"expected exactly one (time, y, x) data variable, found "
                                f"{sorted(map(str, candidates))}; name the one to read")
    return str(candidates[0])


def _float_attr(path, name: str, attrs: Mapping, key: str) -> float | None:
    if key not in attrs:
        return None
    try:
        value = float(np.asarray(attrs[key]).item())
    except (TypeError, ValueError):
        _fail(path, name, f"attribute {key!r} must be one number, got {attrs[key]!r}")
    if not (np.isfinite(value) and value > 0):
        _fail(path, name, f"attribute {key!r} must be finite and > 0, got {value}")
    return value


def read_snapshots(path, variable: str | None = None, *, time: str = "time"
                   ) -> ScalarSnapshots:
    r"""Read gridded scalar snapshots from a netCDF file (module docstring).

    Parameters
    ----------
    path : str or Path
        A netCDF file (netCDF4/HDF5 with h5netcdf, netCDF3 with scipy).
    variable : str, optional
        The data variable; default the only 2-D or 3-D one.
    time : str
        Name of the time dimension (first dimension of the variable).

    Returns
    -------
    ScalarSnapshots

    Raises
    ------
    ValueError
        Naming the file and the variable: unreadable file, wrong dimensions, coordinates that
        are missing, non-finite or not strictly monotonic, times not strictly increasing or not
        in seconds, infinite data, a snapshot with no observed pixel, a bad ``kappa`` or
        ``noise_std``.

    Examples
    --------
    Write a small file with :func:`write_fields` and read it back:

    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> grid = Grid((4, 3), extent=(2.0, 1.5))
    >>> theta = np.arange(24.0).reshape(2, 4, 3)
    >>> theta[1, 0, 0] = np.nan                               # a gap
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dye.nc"
    >>> _ = write_fields(path, grid, {"theta": theta}, times=[0.0, 0.1], cell_centred=True,
    ...                  attrs={"kappa": 1e-3})
    >>> snaps = read_snapshots(path)
    >>> snaps.shape, snaps.extent, snaps.kappa, snaps.times.tolist()
    ((4, 3), (2.0, 1.5), 0.001, [0.0, 0.1])
    >>> bool(np.array_equal(snaps.values, theta, equal_nan=True))
    True
    """
    xr = _xarray()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        dataset = xr.open_dataset(path, engine=_engine(xr, path), mask_and_scale=True,
                                  decode_times=True)
    except ImportError:
        raise
    except Exception as exc:                          # any engine's complaint about the bytes
        raise ValueError(f"{path}: not a readable netCDF file ({type(exc).__name__}: "
                         f"{exc})") from None
    with dataset:
        name = _pick_variable(path, dataset, variable)
        data = dataset[name]
        if data.ndim not in (2, 3) or data.dims[0] != time:
            _fail(path, name, f"dimensions must be ({time}, y, x) or ({time}, x), got "
                              f"{data.dims}")
        times, time_origin = _seconds(path, name, data[time])
        spatial = data.dims[1:][::-1]                 # model axis order: x first
        centres, origin, extent, flips, units = [], [], [], [], {}
        for dim in spatial:
            if dim not in data.coords:
                _fail(path, name, f"dimension {dim!r} has no coordinate variable")
            coordinate = data.coords[dim]
            c = np.asarray(coordinate.values, dtype=float)
            if c.ndim != 1 or not np.all(np.isfinite(c)):
                _fail(path, dim, "a coordinate must be 1-D and finite")
            flip = c.size > 1 and c[1] < c[0]
            c = c[::-1] if flip else c
            if np.any(np.diff(c) <= 0):
                _fail(path, dim, "a coordinate must be strictly monotonic")
            bounds_name = coordinate.attrs.get("bounds")
            bounds = None
            if bounds_name is not None:
                if bounds_name not in dataset:
                    _fail(path, dim, f"its bounds variable {bounds_name!r} is missing")
                bounds = np.asarray(dataset[bounds_name].values, dtype=float)
                bounds = bounds[::-1] if flip else bounds
            lo, hi = _axis_edges(path, dim, c, bounds)
            centres.append(c - lo)
            origin.append(lo)
            extent.append(hi - lo)
            flips.append(flip)
            units[str(dim)] = str(coordinate.attrs.get("units", ""))
        values = np.asarray(data.transpose(time, *spatial).values, dtype=float)
        for axis, flip in enumerate(flips, start=1):
            if flip:
                values = np.flip(values, axis=axis)
        if np.any(np.isinf(values)):
            _fail(path, name, "values must be finite or NaN (missing); found ±inf")
        empty = np.where(~np.isfinite(values).reshape(values.shape[0], -1).any(axis=1))[0]
        if empty.size:
            _fail(path, name, f"snapshot(s) {empty.tolist()} have no observed pixel")
        kappa = _float_attr(path, name, data.attrs, "kappa")
        if kappa is None:
            kappa = _float_attr(path, "global attributes", dataset.attrs, "kappa")
        noise = _float_attr(path, name, data.attrs, "noise_std")
        if noise is None:
            noise = _float_attr(path, "global attributes", dataset.attrs, "noise_std")
        if "noise_std" in dataset.data_vars:
            if noise is not None:
                _fail(path, "noise_std", "given both as an attribute and as a variable")
            sd = dataset["noise_std"]
            if tuple(sd.dims) != tuple(data.dims):
                _fail(path, "noise_std", f"must have the data's dimensions {data.dims}, got "
                                         f"{sd.dims}")
            noise = np.asarray(sd.transpose(time, *spatial).values, dtype=float)
            for axis, flip in enumerate(flips, start=1):
                if flip:
                    noise = np.flip(noise, axis=axis)
            where = np.isfinite(values)
            if not np.all(np.isfinite(noise[where]) & (noise[where] > 0)):
                _fail(path, "noise_std", "must be finite and > 0 wherever θ is observed")
        units[name] = str(data.attrs.get("units", ""))
        units[time] = "s"
    return ScalarSnapshots(name, values, times, tuple(centres), tuple(origin), tuple(extent),
                           kappa, noise, units, time_origin, str(path))


def write_fields(path, grid: Grid, fields: Mapping[str, np.ndarray], *, times=None,
                 origin=None, cell_centred: bool = False, attrs: Mapping | None = None,
                 units: Mapping[str, str] | None = None) -> Path:
    r"""Write fields on ``grid`` to a netCDF file with dimensions ``(time, y, x)``.

    Parameters
    ----------
    path : str or Path
        Output file; its directory must exist.
    grid : Grid
        1-D or 2-D grid of the fields.
    fields : mapping of str to ndarray
        Each ``grid.shape`` (a static field) or ``(k, *grid.shape)`` (a time series; then
        ``times`` is required); model axis order, transposed to ``(time, y, x)`` on writing.
        NaN marks missing values.
    times : array_like (k,), optional
        Seconds.
    origin : sequence of float, optional
        Physical coordinate of the domain's lower corner (default 0).
    cell_centred : bool
        Write the coordinates of cell centres :math:`a + (i + ½)h` (snapshots read back by
        :func:`read_snapshots` with the same domain) instead of the grid's nodes.
    attrs : mapping, optional
        Global attributes (e.g. ``kappa`` in m²/s).
    units : mapping of str to str, optional
        ``units`` attribute per field.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> grid = Grid((8, 8))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fields.nc"
    >>> write_fields(path, grid, {"psi": np.zeros(grid.shape)}).name
    'fields.nc'
    """
    xr = _xarray()
    path = Path(path)
    if grid.ndim not in (1, 2):
        raise ValueError(f"grid must be 1-D or 2-D, got {grid.ndim} dimensions")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the directory {path.parent} does not exist")
    origin = (0.0,) * grid.ndim if origin is None else tuple(float(o) for o in origin)
    if len(origin) != grid.ndim or not np.all(np.isfinite(origin)):
        raise ValueError(f"origin must be {grid.ndim} finite numbers, got {origin}")
    names = ("x", "y")[:grid.ndim]
    axes = [(np.arange(s) + 0.5) * e / s if cell_centred else a
            for s, e, a in zip(grid.shape, grid.extent, grid.axes)]
    coords = {n: (n, a + o, {"units": "m"}) for n, a, o in zip(names, axes, origin)}
    spatial = names[::-1]
    variables = {}
    k = None
    for key, value in fields.items():
        value = np.asarray(value, dtype=float)
        if value.shape == grid.shape:
            dims, data = spatial, value.transpose()
        elif value.ndim == grid.ndim + 1 and value.shape[1:] == grid.shape:
            if times is None:
                raise ValueError(f"field {key!r} is a time series: times are required")
            if k is not None and value.shape[0] != k:
                raise ValueError(f"field {key!r} has {value.shape[0]} times, others {k}")
            k = value.shape[0]
            dims = ("time", *spatial)
            data = value.transpose(0, *range(grid.ndim, 0, -1))
        else:
            raise ValueError(f"field {key!r} must have shape {grid.shape} or (k, "
                             f"*{grid.shape}), got {value.shape}")
        if np.any(np.isinf(data)):
            raise ValueError(f"field {key!r} holds ±inf")
        field_units = {} if units is None or key not in units else {"units": units[key]}
        variables[key] = (dims, data, field_units)
    if k is not None:
        times = np.asarray(times, dtype=float)
        if times.shape != (k,) or not np.all(np.isfinite(times)):
            raise ValueError(f"times must be {k} finite numbers, got shape {times.shape}")
        coords["time"] = ("time", times, {"units": "s"})
    dataset = xr.Dataset(variables, coords=coords, attrs=dict(attrs or {}))
    dataset.to_netcdf(path, engine=_engine(xr, path))
    return path
