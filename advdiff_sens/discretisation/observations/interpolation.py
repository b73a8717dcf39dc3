r"""The field between the nodes: multilinear interpolation at points and its exact means over
boxes, as sparse matrices.

The nodal field :math:`θ` stands for its piecewise-multilinear interpolant

.. math::

    (Iθ)(x) = \sum_i θ_i\,φ_i(x),\qquad φ_i(x) = \prod_a φ^{(a)}_{i_a}(x_a),

with :math:`φ^{(a)}_{i_a}` the 1-D hat function of node :math:`i_a` on axis :math:`a`
(1 at the node, 0 at its neighbours, linear between). Periodic axes wrap; on a Dirichlet
axis the walls carry θ = 0 (a hat of the wall "node" that is dropped, so the interpolant
falls linearly to 0 between the first node and the wall); on a Neumann axis the nodes reach
the walls. Points or boxes outside the domain are an error.

* :func:`observation_operator` — a point sensor at :math:`x` reads
  :math:`(Hθ)_s = (Iθ)(x_s) = \sum_i φ_i(x_s)θ_i`: the tensor-product weights of the
  ``2^ndim`` nodes around it.
* :func:`cell_average_operator` — a box :math:`Q_p = \prod_a [e^{(a)}_{p_a}, e^{(a)}_{p_a+1}]`
  reads the mean of the interpolant over it,

  .. math::

      (Aθ)_p = \frac1{|Q_p|}\int_{Q_p} Iθ\,dx
             = \sum_i \Bigl(\prod_a \frac1{|e^{(a)}_{p_a+1} − e^{(a)}_{p_a}|}
               \int_{e^{(a)}_{p_a}}^{e^{(a)}_{p_a+1}} φ^{(a)}_{i_a}\,dx_a\Bigr)θ_i,

  a Kronecker product of 1-D matrices :math:`A = A^{(0)} ⊗ A^{(1)} ⊗ …`. Each 1-D integral
  is exact: the interval is split at the multiples of :math:`h` (the nodes and walls, where
  the hats bend); on each piece every hat is linear, so its mean is its value at the piece's
  midpoint, the 1-D interpolation weight there.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import as_real_array
from advdiff_sens.discretisation.grid import Grid

__all__ = ["observation_operator", "cell_average_operator", "CELL_EDGE_RTOL"]

#: Cell edges at most this fraction of the axis length outside a wall are rounding errors
#: (edges computed as ``(i ± 1/2)·Δ``): :func:`cell_average_operator` moves them onto it.
CELL_EDGE_RTOL = 1e-12


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


def _axis_cell_average(edges: np.ndarray, size: int, h: float, extent: float,
                       bc: str) -> sp.csr_array:
    """``(len(edges) - 1, size)`` matrix of the means of the 1-D hats over the cells
    ``[edges[p], edges[p + 1]]`` (module docstring: split at the multiples of h, midpoints)."""
    rows, points, fractions = [], [], []
    for p, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        breaks = np.concatenate(([a], np.arange(np.floor(a / h) + 1, np.ceil(b / h)) * h, [b]))
        rows.append(np.full(breaks.size - 1, p))
        points.append(0.5 * (breaks[:-1] + breaks[1:]))
        fractions.append(np.diff(breaks) / (b - a))
    rows, points, fractions = (np.concatenate(x) for x in (rows, points, fractions))
    out_rows, cols, vals = [], [], []
    for index, weight in _axis_weights(points, size, h, extent, bc):
        keep = (index >= 0) & (index < size) & (weight != 0)   # Dirichlet walls carry θ = 0
        out_rows.append(rows[keep])
        cols.append(index[keep])
        vals.append((weight * fractions)[keep])
    return sp.csr_array((np.concatenate(vals), (np.concatenate(out_rows), np.concatenate(cols))),
                        shape=(len(edges) - 1, size))


def cell_average_operator(grid: Grid, edges) -> sp.csr_array:
    r"""Sparse :math:`A` of shape ``(∏ M_a, grid.n)``: the means of the multilinear interpolant
    over the boxes of a rectilinear cell grid (module docstring).

    Parameters
    ----------
    grid : Grid
    edges : sequence of array_like
        One strictly increasing 1-D array of cell edges per axis (``M_a + 1`` entries for
        ``M_a`` cells). On a Neumann or Dirichlet axis the cells lie inside ``[0, extent]``
        (to :data:`CELL_EDGE_RTOL`); on a periodic axis they may cross the wrap (``x`` and
        ``x + extent`` are the same point) but are at most one period wide.

    Returns
    -------
    scipy.sparse.csr_array (∏ M_a, grid.n)
        Row ``p`` (the cells in C order, the last axis fastest) holds the weights
        :math:`\frac1{|Q_p|}\int_{Q_p}φ_i\,dx`; they sum to 1 where the hats do (everywhere
        but in the node-free strip next to a Dirichlet wall).

    Examples
    --------
    A cell covering the node at 0.25 and half of each neighbouring interval weighs the node
    3/4 and its neighbours 1/8 each; the mean of a linear field is its value at the centre:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((9,), bc="neumann")                   # nodes at multiples of 1/8
    >>> A = cell_average_operator(grid, [[0.1875, 0.3125, 0.5]])
    >>> A.shape, A.toarray()[0, 1:4].tolist()
    ((2, 9), [0.125, 0.75, 0.125])
    >>> bool(np.allclose(A @ (1 + 2 * grid.axes[0]), 1 + 2 * np.array([0.25, 0.40625])))
    True
    """
    if isinstance(edges, np.ndarray) and edges.ndim == 1 and grid.ndim == 1:
        edges = [edges]
    if len(edges) != grid.ndim:
        raise ValueError(f"edges must have {grid.ndim} entries (one array per axis), "
                         f"got {len(edges)}")
    factors = []
    for a, (e, size, h, extent, bc) in enumerate(zip(edges, grid.shape, grid.spacing,
                                                     grid.extent, grid.bc)):
        e = as_real_array(e, f"edges[{a}]", ndim=1)
        if e.size < 2:
            raise ValueError(f"edges[{a}] must have at least 2 entries (one cell), got {e.size}")
        if np.any(np.diff(e) <= 0):
            raise ValueError(f"edges[{a}] must be strictly increasing")
        if bc == "periodic":
            if np.any(np.diff(e) > extent):
                raise ValueError(f"edges[{a}]: a cell on the periodic axis {a} is wider than "
                                 f"the period {extent}")
        else:
            slack = CELL_EDGE_RTOL * extent
            if e[0] < -slack or e[-1] > extent + slack:
                raise ValueError(f"edges[{a}]: the cells on the {bc} axis {a} must lie inside "
                                 f"the domain [0, {extent:g}], got [{e[0]:g}, {e[-1]:g}]")
            e = np.clip(e, 0.0, extent)
        factors.append(_axis_cell_average(e, size, h, extent, bc))
    out = factors[0]
    for factor in factors[1:]:
        out = sp.kron(out, factor, format="csr")
    return sp.csr_array(out)
