"""Figures for the examples and the CLI (the only module that imports matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


import matplotlib.pyplot as plt
import numpy as np

from .grid import Grid

__all__ = ["plot_fields", "plot_sensitivity_study", "save_figure", "figure_directory"]


def plot_fields(grid: Grid, fields: Mapping[str, np.ndarray], *, suptitle: str | None = None,
                cmap: str = "viridis", symmetric: Mapping[str, bool] | None = None):
    """One panel per named field: an image for 2-D grids, a line for 1-D grids.

    ``symmetric[name] = True`` centres that panel's colour scale on zero (for sensitivities).
    """
    if grid.ndim not in (1, 2):
        raise ValueError(f"plot_fields draws 1-D or 2-D grids, got ndim={grid.ndim}")
    symmetric = dict(symmetric or {})
    fig, axes = plt.subplots(1, len(fields), figsize=(4.2 * len(fields), 3.8), squeeze=False)
    for ax, (name, field) in zip(axes[0], fields.items()):
        field = np.real(np.asarray(field))
        if grid.ndim == 1:
            ax.plot(grid.axes[0], field)
            ax.set_xlabel("x")
        else:
            extent = (grid.axes[0][0], grid.axes[0][-1], grid.axes[1][0], grid.axes[1][-1])
            kw = {}
            if symmetric.get(name, False):
                vmax = float(np.max(np.abs(field))) or 1.0
                kw = {"vmin": -vmax, "vmax": vmax, "cmap": "RdBu_r"}
            image = ax.imshow(field.T, origin="lower", extent=extent,
                              **({"cmap": cmap} | kw))
            fig.colorbar(image, ax=ax, shrink=0.85)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        ax.set_title(name)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_sensitivity_study(grid: Grid, study, *, title: str | None = None):
    """θ(T), the tangent ρ(T), the adjoint gradient (x-component, sensors marked) and the
    first-order surrogate's error, from a :class:`advdiff_sens.studies.SensitivityStudy`."""
    fields = {"θ(T)": study.theta, "ρ(T) = ∂θ/∂u[v] (tangent)": study.rho,
              "adjoint gradient ∂Φ/∂u_x": study.gradient[0],
              "surrogate (1.6) error ρ̃ − ρ": study.surrogate_error}
    fig = plot_fields(grid, fields, suptitle=title,
                      symmetric={name: name != "θ(T)" for name in fields})
    if grid.ndim == 2:
        ax = fig.axes[2]              # panels come first in fig.axes, colour bars after
        ax.plot(study.sensors[:, 0], study.sensors[:, 1], "k.", ms=4)
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Save ``fig`` as PNG (creating the folder) and close it; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path




def figure_directory() -> Path:
    """Where example scripts save figures: ``$ADVDIFF_SENS_FIGDIR``, default ``figures``."""
    return Path(os.environ.get("ADVDIFF_SENS_FIGDIR", "figures"))
