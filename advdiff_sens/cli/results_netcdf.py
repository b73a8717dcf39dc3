r"""netCDF results of ``estimate``: ``results.nc`` (the fields on the model grid) and ``fit.nc``
(the data, the MAP's predictions and the residuals), written beside ``inference.npz`` (or
``estimate.npz``) each time it is written (after the Laplace stage, again after sampling).

``results.nc`` holds, with dimensions ``(y, x)`` and coordinates in the input's length units
(the model grid's nodes; metres for a snapshot file): ``u``, ``v`` (the velocity components)
and ``psi`` (stream function) when the flow is unknown, ``theta0`` when θ0 is, each with
``<name>_sd`` (Laplace), and after sampling ``<name>_mean`` and ``<name>_posterior_sd``; κ at
the MAP (``kappa``) and the fit's diagnostics (Φ, N, the expected information gain, the
variance-trace ratio) as attributes; when κ is unknown also ``log_kappa`` (MAP),
``log_kappa_sd`` (Laplace), ``kappa_sd`` (the sd of the log-normal κ that Gaussian implies,
:math:`e^{μ + s^2/2}\sqrt{e^{s^2} − 1}`) and after sampling ``log_kappa_mean`` and
``log_kappa_posterior_sd``. A windowed flow (``--windows``) gives the flow fields a
leading dimension ``window`` whose coordinate is the windows' start times. The Fourier-flow
workflow (``estimate.npz``) writes ``u``, ``v``, ``psi``, ``u_sd``, ``v_sd`` (its Laplace sd of
the velocity) and after HMC the samples' ``_mean`` and ``_posterior_sd`` of all three.

``fit.nc`` holds ``predicted``, ``observed`` and ``residual`` (``(data − predicted)/σ``):

* snapshot input: on the pixels, dimensions ``(time, y, x)``, NaN where masked, times in
  seconds since the first image;
* point sensors (``.npz`` input): dimensions ``(time, sensor)``, times as in the file, the
  sensors' coordinates ``sensor_x`` and ``sensor_y`` — ``(sensor,)`` for fixed sensors,
  ``(time, sensor)`` for moving ones.

Both need the ``io`` extra (xarray); without it :func:`results_writer` prints one line naming
the extra and the run goes on without them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation import Grid
from advdiff_sens.inference import WorkflowResult, field_summaries
from advdiff_sens.io import IO_EXTRA_HINT, write_fields

__all__ = ["results_writer", "workflow_arrays", "save_netcdf", "netcdf_available",
           "RESULTS_FILE", "FIT_FILE"]

#: The fields on the model grid.
RESULTS_FILE = "results.nc"
#: The data, predictions and residuals.
FIT_FILE = "fit.nc"
#: inference.npz field → netCDF variables (components of the velocity split).
FIELD_NAMES = {"stream_function": "psi", "theta0": "theta0"}
SUFFIXES = ("", "_sd", "_mean", "_posterior_sd")


def netcdf_available() -> bool:
    """Whether xarray (the ``io`` extra) can be imported.

    Examples
    --------
    >>> isinstance(netcdf_available(), bool)
    True
    """
    try:
        import xarray  # noqa: F401
    except ImportError:
        return False
    return True


def _fields(arrays: dict) -> dict[str, np.ndarray]:
    out = {}
    for suffix in SUFFIXES:
        velocity = arrays.get(f"velocity{suffix}")
        if velocity is not None:          # (2, N0, N1), or (K, 2, N0, N1) for windows
            out[f"u{suffix}"], out[f"v{suffix}"] = np.moveaxis(np.asarray(velocity), -3, 0)
        for field, name in FIELD_NAMES.items():
            if f"{field}{suffix}" in arrays:
                out[f"{name}{suffix}"] = arrays[f"{field}{suffix}"]
    return out


def _attributes(arrays: dict, kappa: float, extra: dict) -> dict:
    """Φ, N, the Laplace diagnostics and κ (at the MAP when inferred)."""
    attrs = {"misfit": float(arrays["misfit"]), "n_data": int(arrays["n_data"]), **extra}
    for key in ("expected_information_gain", "variance_trace_ratio"):
        if key in arrays:
            attrs[key] = float(arrays[key])
    if "log_kappa" not in arrays:
        attrs["kappa"] = float(kappa)
        return attrs
    attrs["kappa"] = float(np.exp(np.ravel(arrays["log_kappa"])[0]))
    for suffix in SUFFIXES:
        if f"log_kappa{suffix}" in arrays:
            attrs[f"log_kappa{suffix}"] = float(np.ravel(arrays[f"log_kappa{suffix}"])[0])
    if "log_kappa_sd" in arrays:
        # log κ ~ N(μ, s²) (Laplace, μ the MAP): κ is log-normal with sd
        # e^{μ + s²/2} sqrt(e^{s²} − 1)
        mu, s2 = np.log(attrs["kappa"]), attrs["log_kappa_sd"] ** 2
        attrs["kappa_sd"] = float(np.exp(mu + s2 / 2) * np.sqrt(np.expm1(s2)))
    return attrs


def _write_dataset(path: Path, variables: dict, coords: dict, attrs: dict) -> Path:
    """An xarray Dataset of ``variables`` and ``coords`` (``name: (dims, values, attrs)``)
    written to ``path``."""
    import xarray as xr

    xr.Dataset(variables, coords=coords, attrs=attrs).to_netcdf(path)
    return path


def _write_windowed_fields(path: Path, grid: Grid, origin, fields: dict, starts: np.ndarray,
                           attrs: dict) -> Path:
    """Fields on ``grid``, the flow's with a leading ``window`` axis (its start times), the
    others static; ``(window, y, x)`` / ``(y, x)`` as :func:`advdiff_sens.io.write_fields`
    lays them out."""
    origin = (0.0, 0.0) if origin is None else origin
    coords = {"x": ("x", grid.axes[0] + origin[0], {"units": "m"}),
              "y": ("y", grid.axes[1] + origin[1], {"units": "m"}),
              "window": ("window", np.asarray(starts, dtype=float),
                         {"long_name": "start time of the window"})}
    variables = {}
    for name, value in fields.items():
        value = np.asarray(value, dtype=float)
        if value.shape == grid.shape:
            variables[name] = (("y", "x"), value.T, {})
        else:
            variables[name] = (("window", "y", "x"), value.transpose(0, 2, 1), {})
    return _write_dataset(path, variables, coords, attrs)


def _write_sensor_fit(path: Path, d: dict, predicted: np.ndarray, attrs: dict) -> Path:
    """``fit.nc`` of point sensors: dimensions ``(time, sensor)`` (module docstring)."""
    observed, sensors = d["data"], np.asarray(d["sensors"])
    position_dims = ("time", "sensor") if sensors.ndim == 3 else ("sensor",)
    coords = {"time": ("time", d["times"]), "sensor": ("sensor", np.arange(observed.shape[1])),
              "sensor_x": (position_dims, sensors[..., 0]),
              "sensor_y": (position_dims, sensors[..., 1])}
    dims = ("time", "sensor")
    variables = {"predicted": (dims, predicted, {}), "observed": (dims, observed, {}),
                 "residual": (dims, (observed - predicted) / d["noise_std"],
                              {"long_name": "(observed - predicted) / noise sd"})}
    return _write_dataset(path, variables, coords, attrs)


def results_writer(outdir: Path, d: dict, source: str, *, windows=None
                   ) -> Callable[[dict], list[Path]] | None:
    """A function ``write(arrays) -> [results.nc, fit.nc]`` for the arrays of
    ``inference.npz`` (module docstring) of a run on the data ``d`` read from ``source``
    (:func:`advdiff_sens.cli.datafile.load_data_file` or
    :func:`advdiff_sens.cli.snapshotfile.load_snapshot_file`); ``windows`` the
    :class:`~advdiff_sens.sensitivity.TimeWindows` of a windowed flow. None, after printing
    one line naming the ``io`` extra, when xarray is not installed.
    """
    if not netcdf_available():
        print(f"netCDF results ({RESULTS_FILE}, {FIT_FILE}) skipped: {IO_EXTRA_HINT}")
        return None
    grid, snaps = d["grid"], d.get("snapshots")
    extra = ({"source": snaps.source, "time_origin": snaps.time_origin} if snaps is not None
             else {"source": str(source)})

    def write(arrays: dict) -> list[Path]:
        attrs = _attributes(arrays, d["kappa"], extra)
        fields = _fields(arrays)
        origin = None if snaps is None else snaps.origin
        if windows is not None:
            results = _write_windowed_fields(outdir / RESULTS_FILE, grid, origin, fields,
                                             windows.edges[:-1], attrs)
        else:
            results = write_fields(outdir / RESULTS_FILE, grid, fields, origin=origin,
                                   attrs=attrs)
        observed = d["data"]
        predicted = np.asarray(arrays["predicted"]).reshape(observed.shape)
        fit_attrs = {"misfit": attrs["misfit"], "n_data": attrs["n_data"]}
        if snaps is None:
            fit = _write_sensor_fit(outdir / FIT_FILE, d, predicted, fit_attrs)
        else:
            fit = write_fields(outdir / FIT_FILE, Grid(snaps.shape, extent=snaps.extent),
                               {"predicted": predicted, "observed": observed,
                                "residual": (observed - predicted) / d["noise_std"]},
                               times=d["times"], origin=snaps.origin, cell_centred=True,
                               attrs=fit_attrs)
        return [results, fit]

    return write


def workflow_arrays(result: WorkflowResult) -> dict[str, np.ndarray]:
    """The arrays of a Fourier-flow workflow result under the names of ``inference.npz``
    (``velocity``, ``velocity_sd``, ``stream_function``, ``predicted``, ``misfit``,
    ``n_data``; after HMC the samples' ``_mean`` and ``_posterior_sd`` of the velocity and
    the stream function, :func:`advdiff_sens.inference.field_summaries`)."""
    post = result.estimate.posterior
    arrays = {"velocity": result.velocity, "velocity_sd": result.velocity_std,
              "stream_function": post.basis.stream_function(result.coefficients),
              "predicted": result.predicted, "misfit": result.misfit, "n_data": post.n_data}
    if result.samples is not None:
        for name, summary in field_summaries(post, None, samples=result.samples).items():
            arrays[f"{name}_mean"], arrays[f"{name}_posterior_sd"] = summary.value, summary.sd
    return arrays


def save_netcdf(write: Callable[[dict], list[Path]] | None, arrays: dict, saved: list[Path],
                outdir: Path) -> None:
    """Write the netCDF results of ``arrays`` with ``write`` (None: nothing), record them in
    ``saved`` and print where they went."""
    if write is None:
        return
    written = write(arrays)
    saved.extend(p for p in written if p not in saved)
    print(f"netCDF results saved to {outdir.resolve()}: {', '.join(p.name for p in written)}")
