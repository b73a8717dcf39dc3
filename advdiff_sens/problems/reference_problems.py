r"""Reference problems R1 and R2, used by tests, examples, benchmarks and the CLI (the
documentation's "Reference problems" page defines R1–R3; R3 is in
:mod:`advdiff_sens.problems.twin`).

* **R1** — plane wave with constant velocity on a periodic domain, exact solution
  :math:`θ(x, t) = e^{−κ|k|^2 t}\sin(k·(x − ut))` of (4.3) for :math:`θ_0 = \sin(k·x)`.
* **R2** — periodic unit square, cellular flow
  :math:`u = (\sin 2πx\cos 2πy, −\cos 2πx \sin 2πy)`, κ = 0.01, T = 1, Gaussian blob
  :math:`θ_0 = \exp(−((x−0.3)^2 + (y−0.5)^2)/0.01)`, central scheme.

The convergence runs of R1 use the 1-D periodic unit interval with u = 1, κ = 0.02,
:math:`θ_0 = \sin 2πx` and t = 0.5.
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


def cellular_flow(grid: Grid, amplitude: float = 1.0) -> np.ndarray:
    """The R2 cellular flow ``amplitude·(sin2πx cos2πy, −cos2πx sin2πy)`` (divergence free).

    Parameters
    ----------
    grid : Grid
        A 2-D grid.
    amplitude : float
        The peak speed of each component.

    Returns
    -------
    ndarray, shape ``(2, *grid.shape)``

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.problems import cellular_flow
    >>> grid = ads.Grid(shape=(16, 16), bc="periodic")
    >>> u = cellular_flow(grid)
    >>> u.shape, float(u[0][4, 0]), float(u[1][0, 4])          # at (1/4, 0) and (0, 1/4)
    ((2, 16, 16), 1.0, -1.0)
    """
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D for the cellular flow, got ndim={grid.ndim}")
    x, y = grid.coords
    return amplitude * np.stack([np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y),
                                 -np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)])


def gaussian_blob(grid: Grid, center, width2: float = 0.01) -> np.ndarray:
    """:math:`\\exp(−|x − c|^2/w)` with ``w = width2``.

    Parameters
    ----------
    grid : Grid
    center : float or array_like, shape (ndim,)
        The centre :math:`c`.
    width2 : float
        :math:`w > 0`.

    Returns
    -------
    ndarray, shape grid.shape

    Examples
    --------
    >>> import advdiff_sens as ads
    >>> from advdiff_sens.problems import gaussian_blob
    >>> grid = ads.Grid(shape=(16, 16), bc="periodic")
    >>> blob = gaussian_blob(grid, (0.25, 0.5))
    >>> float(blob[4, 8]), float(blob.max())                 # the node (0.25, 0.5)
    (1.0, 1.0)
    """
    center = as_real_array(np.atleast_1d(center), "center", shape=(grid.ndim,))
    width2 = check_positive_scalar(width2, "width2")
    return np.exp(-sum((x - c) ** 2 for x, c in zip(grid.coords, center)) / width2)


@dataclass(frozen=True)
class ReferenceProblem:
    """A model with its velocity, initial condition and final time.

    Attributes
    ----------
    model : AdvectionDiffusion
    u : ndarray, shape ``(ndim, *grid.shape)``
        The velocity.
    theta0 : ndarray, shape grid.shape
        The initial condition.
    T : float
        The final time.

    Examples
    --------
    >>> from advdiff_sens.problems import r2_problem
    >>> problem = r2_problem(16)
    >>> problem.model.grid.shape, problem.u.shape, problem.theta0.shape, problem.T
    ((16, 16), (2, 16, 16), (16, 16), 1.0)
    """

    model: AdvectionDiffusion
    u: np.ndarray
    theta0: np.ndarray
    T: float


def r2_problem(n: int = 256, scheme: str = "central", **model_options) -> ReferenceProblem:
    r"""Reference problem R2 on an ``n × n`` periodic grid of the unit square.

    R2: the cellular flow :math:`u = (\sin 2πx\cos 2πy, −\cos 2πx\sin 2πy)`
    (:func:`cellular_flow`), κ = 0.01, T = 1, and the Gaussian blob
    :math:`θ_0 = \exp(−((x−0.3)^2 + (y−0.5)^2)/0.01)` (:func:`gaussian_blob`).

    Parameters
    ----------
    n : int
        Grid points per axis (≥ 3). The central scheme has cell Péclet number
        :math:`h/(2κ) = 50/n`, at most 1 from ``n = 50`` on.
    scheme : str
        Advection scheme of the model.
    **model_options
        Passed to :class:`~advdiff_sens.AdvectionDiffusion` (``backend``,
        ``max_products``, ``progress``).

    Returns
    -------
    ReferenceProblem

    Examples
    --------
    >>> from advdiff_sens.problems import r2_problem
    >>> problem = r2_problem(16, scheme="exponential", backend="scipy")
    >>> problem.model.kappa, problem.model.scheme, problem.model.backend
    (0.01, ExponentialFitting(), ExpmMultiplyBackend())
    """
    n = check_integer(n, "n", minimum=3)
    grid = Grid(shape=(n, n), extent=(1.0, 1.0), bc="periodic")
    model = AdvectionDiffusion(grid, kappa=0.01, scheme=scheme, **model_options)
    return ReferenceProblem(model, cellular_flow(grid), gaussian_blob(grid, (0.3, 0.5)), 1.0)
