r"""Reference problems of DESIGN.md §4 used by tests, examples, benchmarks and the CLI.

* **R1** — plane wave with constant velocity on a periodic domain, exact solution
  :math:`θ(x, t) = e^{−κ|k|^2 t}\sin(k·(x − ut))` of (4.3) for :math:`θ_0 = \sin(k·x)`.
* **R2** — periodic unit square, cellular flow
  :math:`u = (\sin 2πx\cos 2πy, −\cos 2πx \sin 2πy)`, κ = 0.01, T = 1, Gaussian blob
  :math:`θ_0 = \exp(−((x−0.3)^2 + (y−0.5)^2)/0.01)`, central scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import as_real_array, check_integer, check_positive_scalar
from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.model import AdvectionDiffusion

__all__ = ["plane_wave", "plane_wave_solution", "cellular_flow", "gaussian_blob",
           "ReferenceProblem", "r2_problem"]


def _wavevector(grid: Grid, k) -> np.ndarray:
    k = as_real_array(np.atleast_1d(k), "k", shape=(grid.ndim,))
    return k


def plane_wave(grid: Grid, k) -> np.ndarray:
    """:math:`\\sin(k·x)` on the grid nodes; ``k`` has one entry per axis."""
    k = _wavevector(grid, k)
    return np.sin(sum(ka * x for ka, x in zip(k, grid.coords)))


def plane_wave_solution(grid: Grid, k, velocity, kappa: float, t: float) -> np.ndarray:
    r"""Exact solution :math:`e^{−κ|k|^2t}\sin(k·(x − ut))` of (4.3) for constant ``velocity``.

    On a periodic grid, ``k`` must be a multiple of ``2π/extent`` per axis.
    """
    k = _wavevector(grid, k)
    velocity = as_real_array(np.atleast_1d(velocity), "velocity", shape=(grid.ndim,))
    kappa = check_positive_scalar(kappa, "kappa")
    phase = sum(ka * (x - ua * t) for ka, x, ua in zip(k, grid.coords, velocity))
    return np.exp(-kappa * float(k @ k) * t) * np.sin(phase)


def cellular_flow(grid: Grid, amplitude: float = 1.0) -> np.ndarray:
    """The R2 cellular flow ``amplitude·(sin2πx cos2πy, −cos2πx sin2πy)`` (divergence free)."""
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D for the cellular flow, got ndim={grid.ndim}")
    x, y = grid.coords
    return amplitude * np.stack([np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y),
                                 -np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)])


def gaussian_blob(grid: Grid, center, width2: float = 0.01) -> np.ndarray:
    """:math:`\\exp(−|x − c|^2/w)` with ``w = width2``."""
    center = as_real_array(np.atleast_1d(center), "center", shape=(grid.ndim,))
    width2 = check_positive_scalar(width2, "width2")
    return np.exp(-sum((x - c) ** 2 for x, c in zip(grid.coords, center)) / width2)


@dataclass(frozen=True)
class ReferenceProblem:
    """A model with its velocity, initial condition and final time."""

    model: AdvectionDiffusion
    u: np.ndarray
    theta0: np.ndarray
    T: float


def r2_problem(n: int = 256, scheme: str = "central", **model_options) -> ReferenceProblem:
    """Reference problem R2 on an ``n × n`` periodic grid of the unit square."""
    n = check_integer(n, "n", minimum=3)
    grid = Grid(shape=(n, n), extent=(1.0, 1.0), bc="periodic")
    model = AdvectionDiffusion(grid, kappa=0.01, scheme=scheme, **model_options)
    return ReferenceProblem(model, cellular_flow(grid), gaussian_blob(grid, (0.3, 0.5)), 1.0)
