"""Figures for the examples and the CLI (the only module that imports matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .grid import Grid

__all__ = ["plot_fields", "plot_sensitivity_study", "plot_flow_estimate", "plot_data_fit",
           "plot_traces", "save_figure", "figure_directory"]


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
            kw = {}
            if symmetric.get(name, False):
                vmax = float(np.max(np.abs(field))) or 1.0
                kw = {"vmin": -vmax, "vmax": vmax, "cmap": "RdBu_r"}
            image = ax.imshow(field.T, origin="lower", extent=_extent(grid),
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


def _extent(grid: Grid) -> tuple[float, float, float, float]:
    """``imshow`` extent of a 2-D grid (first axis horizontal)."""
    return (grid.axes[0][0], grid.axes[0][-1], grid.axes[1][0], grid.axes[1][-1])


def _quiver(ax, grid: Grid, velocity: np.ndarray, title: str, stride: int) -> None:
    x, y = grid.coords
    speed = np.hypot(velocity[0], velocity[1])
    image = ax.imshow(speed.T, origin="lower", extent=_extent(grid), cmap="viridis")
    s = (slice(None, None, stride),) * 2
    ax.quiver(x[s], y[s], velocity[0][s], velocity[1][s], color="w", scale_units="xy")
    ax.figure.colorbar(image, ax=ax, shrink=0.85, label="|u|")
    ax.set(title=title, xlabel="x", ylabel="y")


def plot_flow_estimate(grid: Grid, estimate: np.ndarray, truth: np.ndarray | None = None,
                       sensors: np.ndarray | None = None):
    """Estimated velocity (speed and arrows), and the truth and the error when given."""
    panels = [("estimated flow", estimate)]
    if truth is not None:
        panels = [("true flow", truth)] + panels + [("error", estimate - truth)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.0), squeeze=False)
    stride = max(1, grid.shape[0] // 12)
    for ax, (title, field) in zip(axes[0], panels):
        _quiver(ax, grid, field, title, stride)
        if sensors is not None:
            ax.plot(sensors[:, 0], sensors[:, 1], "r.", ms=4)
    fig.tight_layout()
    return fig


def plot_data_fit(times: np.ndarray, data: np.ndarray, predicted: np.ndarray, noise_std: float,
                  *, max_sensors: int = 6):
    """Observed (±σ error bars) and fitted sensor time series for the first few sensors."""
    k = min(max_sensors, data.shape[1])
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.8), squeeze=False, sharey=True)
    for s, ax in enumerate(axes[0]):
        ax.errorbar(times, data[:, s], yerr=noise_std, fmt="k.", ms=3, label="data")
        ax.plot(times, predicted[:, s], "C1-", label="fit")
        ax.set(title=f"sensor {s}", xlabel="t")
    axes[0][0].set_ylabel("θ at sensor")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_traces(samples: np.ndarray, *, names: list[str] | None = None, max_params: int = 4):
    """Trace plots of the first few parameters for every chain; ``samples`` (chains, draws, p)."""
    p = min(max_params, samples.shape[-1])
    fig, axes = plt.subplots(p, 1, figsize=(7, 1.6 * p + 0.6), squeeze=False, sharex=True)
    for j, ax in enumerate(axes[:, 0]):
        for chain in samples:
            ax.plot(chain[:, j], lw=0.8)
        ax.set_ylabel(names[j] if names else f"c_{j}")
    axes[-1, 0].set_xlabel("draw")
    fig.tight_layout()
    return fig
