r"""Point sensors: the observation operator :math:`H` and least-squares objectives.

A sensor at :math:`x` reads the multilinear interpolant of the nodal field,
:math:`(Hθ)_s = \sum_i w_{s,i}θ_i` with the tensor-product hat-function weights of the
``2^ndim`` surrounding nodes. Periodic axes wrap; on a Dirichlet axis the walls carry θ = 0
(a sensor between a wall and the first node interpolates toward 0); on a Neumann axis the
nodes reach the walls. Sensors outside the domain are an error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import as_real_array, check_positive_scalar
from advdiff_sens.discretisation.grid import Grid

__all__ = ["observation_operator", "LeastSquaresObjective"]


def _axis_weights(x: np.ndarray, size: int, h: float, extent: float, bc: str):
    """Indices and weights of the two nodes bracketing each coordinate on one axis."""
    if bc == "periodic":
        pos = (x % extent) / h
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        return [(lo % size, 1 - frac), ((lo + 1) % size, frac)]
    if bc == "neumann":
        pos = np.clip(x / h, 0, size - 1)
        lo = np.minimum(np.floor(pos).astype(int), size - 2)
        frac = pos - lo
        return [(lo, 1 - frac), (lo + 1, frac)]
    pos = x / h - 1.0                   # node i sits at (i + 1) h; walls at indices -1 and size
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    return [(lo, 1 - frac), (lo + 1, frac)]


def observation_operator(grid: Grid, sensors) -> sp.csr_array:
    """Sparse :math:`H` of shape ``(m, grid.n)``: multilinear interpolation at ``sensors``.

    Parameters
    ----------
    grid : Grid
    sensors : array_like, shape (m, ndim)
        Sensor coordinates inside ``[0, extent]`` on every axis.

    Returns
    -------
    scipy.sparse.csr_array (m, grid.n)
        Row ``s`` holds the interpolation weights of sensor ``s`` (summing to 1 away from
        Dirichlet walls).

    Examples
    --------
    A sensor half-way between two nodes reads their mean; multilinear interpolation is exact
    for a linear field:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((9, 9), bc="neumann")                 # nodes at multiples of 1/8
    >>> H = observation_operator(grid, [[0.0625, 0.0], [0.3, 0.7]])
    >>> H.shape, H.toarray()[0, [0, 9]].tolist()           # nodes (0, 0) and (1, 0)
    ((2, 81), [0.5, 0.5])
    >>> x, y = grid.coords
    >>> bool(np.allclose(H @ (x + 2 * y).ravel(), [0.0625, 1.7]))
    True
    """
    sensors = as_real_array(sensors, "sensors", ndim=2)
    if sensors.shape[1] != grid.ndim or sensors.shape[0] == 0:
        raise ValueError(f"sensors must have shape (m, {grid.ndim}) with m >= 1, got {sensors.shape}")
    extent = np.array(grid.extent)
    if np.any(sensors < 0) or np.any(sensors > extent):
        bad = np.where(np.any((sensors < 0) | (sensors > extent), axis=1))[0]
        raise ValueError(f"sensors must lie inside the domain [0, extent]; sensor(s) {bad.tolist()} do not")
    per_axis = [_axis_weights(sensors[:, a], s, h, e, b)
                for a, (s, h, e, b) in enumerate(zip(grid.shape, grid.spacing, grid.extent, grid.bc))]
    m = sensors.shape[0]
    rows, cols, vals = [], [], []
    for corner in np.ndindex(*(2,) * grid.ndim):
        idx = [per_axis[a][c][0] for a, c in enumerate(corner)]
        weight = np.prod([per_axis[a][c][1] for a, c in enumerate(corner)], axis=0)
        inside = np.all([(i >= 0) & (i < s) for i, s in zip(idx, grid.shape)], axis=0)
        flat = np.ravel_multi_index([np.where(inside, i, 0) for i in idx], grid.shape)
        keep = inside & (weight != 0)
        rows.append(np.arange(m)[keep])
        cols.append(flat[keep])
        vals.append(weight[keep])
    return sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(m, grid.n))


class LeastSquaresObjective:
    r"""Misfit :math:`Φ(θ) = \tfrac12\sum_j \|Hθ(t_j) − d_j\|^2/σ^2` of point-sensor data.

    Callable as ``objective(theta) -> (value, dΦ/dθ)`` with ``theta`` of shape
    ``(k, *grid.shape)`` (the output of ``model.solve`` at ``k`` times), so it plugs into
    :meth:`advdiff_sens.AdvectionDiffusion.gradient`.

    Parameters
    ----------
    grid : Grid
    sensors : array_like, shape (m, ndim)
    data : array_like, shape (k, m)
    noise_std : float
        σ > 0 (1 gives the plain half sum of squares).

    Attributes
    ----------
    H : scipy.sparse.csr_array (m, grid.n)
        :func:`observation_operator` of ``sensors``.
    data : ndarray (k, m)
    noise_std : float

    Examples
    --------
    With zero data and θ ≡ 1 at k = 2 times, every one of the 2·3 readings is off by 1:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((8, 8), bc="periodic")
    >>> objective = LeastSquaresObjective(grid, [[0.1, 0.2], [0.5, 0.5], [0.9, 0.3]],
    ...                                   np.zeros((2, 3)), noise_std=0.5)
    >>> value, grad = objective(np.ones((2, 8, 8)))
    >>> value, grad.shape                                  # ½ · 6 · (1/0.5)²
    (12.0, (2, 8, 8))
    >>> bool(np.allclose(grad.sum(axis=(1, 2)), 3 / 0.5**2))   # Hᵀr/σ, H rows sum to 1
    True
    """

    def __init__(self, grid: Grid, sensors, data, noise_std: float = 1.0) -> None:
        self.grid = grid
        self.H = observation_operator(grid, sensors)
        data = as_real_array(data, "data", ndim=2)
        if data.shape[1] != self.H.shape[0]:
            raise ValueError(f"data must have shape (n_times, {self.H.shape[0]}) (one column "
                             f"per sensor), got {data.shape}")
        self.data = data
        self.noise_std = check_positive_scalar(noise_std, "noise_std")

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Sensor readings :math:`Hθ(t_j)`, shape ``(k, m)``."""
        theta = np.asarray(theta).reshape(-1, self.grid.n)
        return (self.H @ theta.T).T

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta)
        k = self.data.shape[0]
        if theta.shape != (k, *self.grid.shape):
            raise ValueError(f"theta must have shape {(k, *self.grid.shape)}, got {theta.shape}")
        residual = (self.predict(theta) - self.data) / self.noise_std
        grad = (self.H.T @ residual.T).T / self.noise_std
        return 0.5 * float(np.sum(residual**2)), grad.reshape(theta.shape)
