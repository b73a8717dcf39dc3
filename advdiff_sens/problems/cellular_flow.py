r"""Reference problem R2: a Gaussian blob in a cellular flow on the periodic unit square.

:math:`\mathbf u = (\sin 2πx\cos 2πy, −\cos 2πx\sin 2πy)` (divergence free), κ = 0.01,
T = 1, :math:`θ_0 = \exp(−((x−0.3)^2 + (y−0.5)^2)/0.01)`, central scheme: the benchmark
problem of the performance page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.validation import as_real_array, check_integer, check_positive_scalar

__all__ = ["cellular_flow", "gaussian_blob", "ReferenceProblem", "r2_problem"]


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
