"""netCDF results of ``estimate`` on a snapshot file: ``results.nc`` (the fields on the model
grid) and ``fit.nc`` (the predicted images and residuals on the pixels), written beside
``inference.npz`` each time it is written (after the Laplace stage, again after sampling).

``results.nc`` holds, with dimensions ``(y, x)`` and coordinates in metres: ``u``, ``v``
(the velocity components) and ``psi`` (stream function) when the flow is unknown, ``theta0``
when θ0 is, each with ``<name>_sd`` (Laplace), and after sampling ``<name>_mean`` and
``<name>_posterior_sd``; κ at the MAP (``kappa``, m²/s) and the fit's diagnostics (Φ, N, the
expected information gain, the variance-trace ratio) as attributes. ``fit.nc`` holds
``predicted``, ``observed`` and ``residual`` (``(data − predicted)/σ``, NaN where masked) with
dimensions ``(time, y, x)``, times in seconds since the first image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation import Grid
from advdiff_sens.inference import Posterior
from advdiff_sens.io import write_fields

__all__ = ["snapshot_results_writer", "RESULTS_FILE", "FIT_FILE"]

#: The fields on the model grid.
RESULTS_FILE = "results.nc"
#: The predicted images and residuals.
FIT_FILE = "fit.nc"
#: inference.npz field → netCDF variables (components of the velocity split).
FIELD_NAMES = {"stream_function": "psi", "theta0": "theta0"}
SUFFIXES = ("", "_sd", "_mean", "_posterior_sd")


def _fields(arrays: dict) -> dict[str, np.ndarray]:
    out = {}
    for suffix in SUFFIXES:
        velocity = arrays.get(f"velocity{suffix}")
        if velocity is not None:
            out[f"u{suffix}"], out[f"v{suffix}"] = velocity[0], velocity[1]
        for field, name in FIELD_NAMES.items():
            if f"{field}{suffix}" in arrays:
                out[f"{name}{suffix}"] = arrays[f"{field}{suffix}"]
    return out


def snapshot_results_writer(outdir: Path, posterior: Posterior, d: dict
                            ) -> Callable[[dict], list[Path]]:
    """A function ``write(arrays) -> [results.nc, fit.nc]`` for the arrays of
    ``inference.npz`` (module docstring)."""
    snaps, grid = d["snapshots"], d["grid"]
    pixels = Grid(snaps.shape, extent=snaps.extent)
    observed = d["data"]
    noise = d["noise_std"]

    def write(arrays: dict) -> list[Path]:
        attrs = {"misfit": float(arrays["misfit"]), "n_data": int(arrays["n_data"]),
                 "source": snaps.source, "time_origin": snaps.time_origin}
        for key in ("expected_information_gain", "variance_trace_ratio"):
            if key in arrays:
                attrs[key] = float(arrays[key])
        if "log_kappa" in arrays:
            attrs["kappa"] = float(np.exp(np.ravel(arrays["log_kappa"])[0]))
            attrs["kappa_units"] = "m2/s"
        else:
            attrs["kappa"] = float(posterior.model.kappa)
        results = write_fields(outdir / RESULTS_FILE, grid, _fields(arrays),
                               origin=snaps.origin, attrs=attrs)
        predicted = np.asarray(arrays["predicted"]).reshape(observed.shape)
        fit = write_fields(outdir / FIT_FILE, pixels,
                           {"predicted": predicted, "observed": observed,
                            "residual": (observed - predicted) / noise},
                           times=d["times"], origin=snaps.origin, cell_centred=True,
                           attrs={"misfit": attrs["misfit"], "n_data": attrs["n_data"]})
        return [results, fit]

    return write
