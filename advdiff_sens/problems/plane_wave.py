r"""Reference problem R1: a plane wave carried by a constant velocity on a periodic domain.

:math:`θ_0 = \sin(k·x)` with a constant velocity :math:`\mathbf u` solves (4.3) exactly as
:math:`θ(x, t) = e^{−κ|k|^2 t}\sin(k·(x − \mathbf u t))`; the discretisation's error against
it measures the schemes' convergence order.
"""

from __future__ import annotations

import numpy as np

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.validation import as_real_array, check_positive_scalar

__all__ = ["plane_wave", "plane_wave_solution"]


def _wavevector(grid: Grid, k) -> np.ndarray:
    k = as_real_array(np.atleast_1d(k), "k", shape=(grid.ndim,))
    return k


def plane_wave(grid: Grid, k) -> np.ndarray:
    """:math:`\\sin(k·x)` on the grid nodes; ``k`` has one entry per axis (R1's initial
    condition).

    Parameters
    ----------
    grid : Grid
    k : float or array_like, shape (ndim,)
        The wave vector.

    Returns
    -------
    ndarray, shape grid.shape

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.problems import plane_wave
    >>> grid = ads.Grid(shape=(16,), bc="periodic")
    >>> theta0 = plane_wave(grid, 2 * np.pi)
    >>> theta0.shape, bool(np.allclose(theta0, np.sin(2 * np.pi * grid.coords[0])))
    ((16,), True)
    """
    k = _wavevector(grid, k)
    return np.sin(sum(ka * x for ka, x in zip(k, grid.coords)))


def plane_wave_solution(grid: Grid, k, velocity, kappa: float, t: float) -> np.ndarray:
    r"""Exact solution :math:`e^{−κ|k|^2t}\sin(k·(x − ut))` of (4.3) for constant ``velocity``.

    On a periodic grid, ``k`` must be a multiple of ``2π/extent`` per axis. This is the
    solution of the PDE; the finite-difference solution approaches it at the scheme's order
    as the grid is refined.

    Parameters
    ----------
    grid : Grid
    k : float or array_like, shape (ndim,)
        The wave vector.
    velocity : float or array_like, shape (ndim,)
        The constant velocity :math:`u`.
    kappa : float
        Diffusivity κ > 0.
    t : float
        Time.

    Returns
    -------
    ndarray, shape grid.shape

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.problems import plane_wave, plane_wave_solution
    >>> grid = ads.Grid(shape=(32,), bc="periodic")
    >>> model = ads.AdvectionDiffusion(grid, kappa=0.02)
    >>> theta = model.solve(np.ones((1, 32)), plane_wave(grid, 2 * np.pi), 0.5)
    >>> exact = plane_wave_solution(grid, 2 * np.pi, 1.0, 0.02, 0.5)
    >>> bool(np.abs(theta - exact).max() < 0.02)            # second order in h
    True
    """
    k = _wavevector(grid, k)
    velocity = as_real_array(np.atleast_1d(velocity), "velocity", shape=(grid.ndim,))
    kappa = check_positive_scalar(kappa, "kappa")
    phase = sum(ka * (x - ua * t) for ka, x, ua in zip(k, grid.coords, velocity))
    return np.exp(-kappa * float(k @ k) * t) * np.sin(phase)
