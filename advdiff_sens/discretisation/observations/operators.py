r"""Observation operators of a time series of states: per observation time :math:`t_j` a sparse
:math:`H_j` of shape ``(m, n)``, applied forward and adjoint side by side.

For the states :math:`θ(t_1), …, θ(t_k)` (an array ``(k, *grid.shape)``, the output of
``model.solve``) an operator reads

.. math::

    y_j = H_jθ(t_j) ∈ \mathbb R^m \quad(\text{forward}),\qquad
    λ_j = H_j^Tw_j ∈ \mathbb R^n \quad(\text{adjoint}),

so that :math:`\sum_j ⟨H_jθ_j, w_j⟩ = \sum_j ⟨θ_j, H_j^Tw_j⟩` (the dot test). A *static*
operator has one :math:`H` for every time (any number of times); a moving one has one per
time.

* :class:`ObservationOperator` — the general one, from given sparse matrices.
* :class:`PointSensors` — multilinear interpolation at sensor positions, fixed ``(m, d)``
  or moving ``(k, m, d)`` (:func:`~advdiff_sens.discretisation.observation_operator`
  per row set).
* :class:`GriddedSnapshots` — images on a rectilinear observation grid (coarser, finer or
  offset from the model grid): a :class:`PixelMethod` reads each pixel, :class:`Bilinear`
  (the interpolant at the pixel centre) or :class:`CellAverage` (its mean over the pixel's
  cell, :func:`~advdiff_sens.discretisation.cell_average_operator`);
  :data:`PIXEL_METHODS` maps ``"bilinear"`` and ``"cell_average"`` to them.

Missing data, noise and the misfit are the business of
:class:`~advdiff_sens.discretisation.Observations`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.observations.interpolation import (
    cell_average_operator, observation_operator
)
from advdiff_sens.registry import Registry
from advdiff_sens.validation import as_real_array, check_integer

__all__ = ["ObservationOperator", "PointSensors", "GriddedSnapshots", "PixelMethod",
           "Bilinear", "CellAverage", "PIXEL_METHODS"]


def _as_matrix(H, grid: Grid, name: str) -> sp.csr_array:
    """A finite real sparse (or dense 2-D) matrix with ``grid.n`` columns, as CSR."""
    if not sp.issparse(H):
        H = sp.csr_array(as_real_array(H, name, ndim=2))
    H = sp.csr_array(H)
    if np.iscomplexobj(H.data):
        raise TypeError(f"{name} must be real, got a complex matrix")
    H = H.astype(np.float64)
    if H.shape[1] != grid.n or H.shape[0] == 0:
        raise ValueError(f"{name} must have shape (m, {grid.n}) with m >= 1 (one column per "
                         f"grid node), got {H.shape}")
    if H.nnz and not np.all(np.isfinite(H.data)):
        raise ValueError(f"{name} contains NaN or inf")
    return H


class ObservationOperator:
    r"""A linear observation of the states at k times: :math:`y_j = H_jθ(t_j)` (module
    docstring).

    Parameters
    ----------
    grid : Grid
    matrices : sparse matrix (m, n) or sequence of k sparse matrices (m, n)
        One :math:`H` for every time (a static operator) or one :math:`H_j` per time (all
        with the same number m of rows). Dense 2-D arrays are accepted and stored sparse.
    obs_shape : tuple of int, optional
        The shape of one time's observations (an image's ``(M_0, M_1)``); default ``(m,)``.

    Attributes
    ----------
    grid : Grid
    n_obs : int
        m, observations per time.
    obs_shape : tuple of int
    n_times : int or None
        k for a per-time operator, None for a static one.
    matrices : tuple of scipy.sparse.csr_array
        :math:`(H)` or :math:`(H_1, …, H_k)`.

    Examples
    --------
    Each of two times reads a different node of a 1-D grid; the dot test holds:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((4,))
    >>> op = ObservationOperator(grid, [np.eye(4)[[0]], np.eye(4)[[2]]])
    >>> theta = np.arange(8.0).reshape(2, 4)
    >>> op.forward(theta).tolist(), op.n_times
    ([[0.0], [6.0]], 2)
    >>> w = np.array([[1.0], [-2.0]])
    >>> bool(np.isclose(np.sum(op.forward(theta) * w), np.sum(theta * op.adjoint(w))))
    True
    """

    def __init__(self, grid: Grid, matrices, obs_shape: Sequence[int] | None = None) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self.grid = grid
        if sp.issparse(matrices) or (isinstance(matrices, np.ndarray) and matrices.ndim == 2):
            self.matrices = (_as_matrix(matrices, grid, "matrices"),)
            self.n_times: int | None = None
        else:
            if len(matrices) == 0:
                raise ValueError("matrices must be one matrix or a non-empty sequence of them "
                                 "(one per time)")
            self.matrices = tuple(_as_matrix(H, grid, f"matrices[{j}]")
                                  for j, H in enumerate(matrices))
            self.n_times = len(self.matrices)
        rows = {H.shape[0] for H in self.matrices}
        if len(rows) != 1:
            raise ValueError(f"every time's matrix must have the same number of rows, got "
                             f"{sorted(rows)}")
        self.n_obs = rows.pop()
        if obs_shape is None:
            obs_shape = (self.n_obs,)
        self.obs_shape = tuple(check_integer(s, "obs_shape", minimum=1) for s in obs_shape)
        if int(np.prod(self.obs_shape)) != self.n_obs:
            raise ValueError(f"obs_shape {self.obs_shape} must hold the m = {self.n_obs} "
                             f"observations of one time")

    def __repr__(self) -> str:
        when = "every time" if self.n_times is None else f"{self.n_times} times"
        return f"{type(self).__name__}(m={self.n_obs}, n={self.grid.n}, {when})"

    def matrix(self, j: int) -> sp.csr_array:
        """:math:`H_j`, the sparse ``(m, n)`` matrix of time index ``j``."""
        j = check_integer(j, "j", minimum=0)
        if self.n_times is None:
            return self.matrices[0]
        if j >= self.n_times:
            raise ValueError(f"j must be < n_times = {self.n_times}, got {j}")
        return self.matrices[j]

    def check_n_times(self, k: int, name: str = "theta") -> None:
        """Raise unless a per-time operator has exactly ``k`` times (a static one takes any)."""
        if self.n_times is not None and k != self.n_times:
            raise ValueError(f"{name} has {k} time(s) but the observation operator has one "
                             f"H_j for each of {self.n_times} times")

    def _states(self, theta) -> np.ndarray:
        """``theta`` as ``(k, n)``: from ``(k, *grid.shape)``, ``(k, n)`` or one state."""
        theta = np.asarray(theta)
        shape, n = self.grid.shape, self.grid.n
        if theta.shape in (shape, (n,)):
            theta = theta.reshape(1, n)
        elif theta.shape[1:] in (shape, (n,)):
            theta = theta.reshape(theta.shape[0], n)
        else:
            raise ValueError(f"theta must have shape (k, *{shape}) or (k, {n}), got "
                             f"{theta.shape}")
        self.check_n_times(theta.shape[0])
        return theta

    def forward(self, theta) -> np.ndarray:
        r""":math:`y_j = H_jθ_j`, shape ``(k, m)``, of the states ``theta`` of shape
        ``(k, *grid.shape)`` or ``(k, n)`` (a single state counts as k = 1)."""
        theta = self._states(theta)
        if self.n_times is None:
            return (self.matrices[0] @ theta.T).T
        return np.stack([H @ state for H, state in zip(self.matrices, theta)])

    def adjoint(self, weights) -> np.ndarray:
        r""":math:`λ_j = H_j^Tw_j`, shape ``(k, *grid.shape)``, of ``weights`` of shape
        ``(k, m)`` or ``(k, *obs_shape)``."""
        weights = np.asarray(weights)
        if weights.ndim < 2 or weights.shape[1:] not in (self.obs_shape, (self.n_obs,)):
            raise ValueError(f"weights must have shape (k, {self.n_obs}) or (k, "
                             f"*{self.obs_shape}), got {weights.shape}")
        weights = weights.reshape(weights.shape[0], self.n_obs)
        self.check_n_times(weights.shape[0], "weights")
        if self.n_times is None:
            out = (self.matrices[0].T @ weights.T).T
        else:
            out = np.stack([H.T @ w for H, w in zip(self.matrices, weights)])
        return out.reshape(weights.shape[0], *self.grid.shape)

    def truncated(self, n_times: int) -> ObservationOperator:
        """The operator of the first ``n_times`` times (a static one is returned as it is)."""
        n_times = check_integer(n_times, "n_times", minimum=1)
        if self.n_times is None:
            return self
        if n_times > self.n_times:
            raise ValueError(f"n_times must be <= {self.n_times}, got {n_times}")
        out = copy.copy(self)
        out.matrices = self.matrices[:n_times]
        out.n_times = n_times
        return out


class PointSensors(ObservationOperator):
    r"""Sensors reading the multilinear interpolant :math:`(Iθ)(x_s)` of each state, fixed or
    moving: :math:`(H_jθ)_s = \sum_i φ_i(x_{js})θ_i`
    (:func:`~advdiff_sens.discretisation.observation_operator`).

    Parameters
    ----------
    grid : Grid
    positions : array_like, shape (m, ndim) or (k, m, ndim)
        Fixed sensor coordinates (a static operator), or a position per time of each of the
        m sensors (moving sensors: drifters, gliders, a ship track); inside the domain. A
        sensor absent at some time takes any position there, its datum marked missing in
        :class:`Observations`.

    Attributes
    ----------
    positions : ndarray
    moving : bool
        Whether ``positions`` has a time axis.

    Examples
    --------
    Two sensors drifting along x over three times read the linear field x + 2y exactly:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((9, 9), bc="neumann")
    >>> path = np.array([[[0.1, 0.5], [0.5, 0.2]], [[0.2, 0.5], [0.6, 0.2]],
    ...                  [[0.3, 0.5], [0.7, 0.2]]])
    >>> sensors = PointSensors(grid, path)
    >>> sensors.moving, sensors.n_times, sensors.n_obs
    (True, 3, 2)
    >>> x, y = grid.coords
    >>> sensors.forward(np.stack([x + 2 * y] * 3)).round(12).tolist()
    [[1.1, 0.9], [1.2, 1.0], [1.3, 1.1]]
    """

    def __init__(self, grid: Grid, positions) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        positions = as_real_array(positions, "positions")
        if positions.ndim == 2:
            matrices = observation_operator(grid, positions)
        elif positions.ndim == 3 and positions.shape[0] >= 1 and positions.shape[2] == grid.ndim:
            matrices = []
            for j, row in enumerate(positions):
                try:
                    matrices.append(observation_operator(grid, row))
                except ValueError as exc:
                    raise ValueError(f"positions at time index {j}: {exc}") from exc
        else:
            raise ValueError(f"positions must have shape (m, {grid.ndim}) (fixed) or (k, m, "
                             f"{grid.ndim}) (moving), got {positions.shape}")
        super().__init__(grid, matrices)
        self.positions = positions
        self.moving = positions.ndim == 3

    def truncated(self, n_times: int) -> PointSensors:
        """The sensors of the first ``n_times`` times (fixed sensors as they are)."""
        out = super().truncated(n_times)
        if out is not self:
            out.positions = self.positions[:out.n_times]
        return out


def _as_axes(values, grid: Grid, name: str) -> tuple[np.ndarray, ...]:
    """One finite, strictly increasing, non-empty 1-D array per axis of ``grid``."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and grid.ndim == 1:
        values = [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of 1-D arrays (one per axis), got "
                        f"{type(values).__name__}")
    if len(values) != grid.ndim:
        raise ValueError(f"{name} must have {grid.ndim} entries (one 1-D array per axis), "
                         f"got {len(values)}")
    out = []
    for a, v in enumerate(values):
        v = as_real_array(v, f"{name}[{a}]", ndim=1)
        if v.size == 0:
            raise ValueError(f"{name}[{a}] must not be empty")
        if np.any(np.diff(v) <= 0):
            raise ValueError(f"{name}[{a}] must be strictly increasing")
        out.append(v)
    return tuple(out)


class PixelMethod(ABC):
    r"""How a pixel of a :class:`GriddedSnapshots` image reads the state: a row of :math:`H`
    per pixel. An instance (or its :data:`PIXEL_METHODS` name) is the ``method`` of
    :class:`GriddedSnapshots`.

    Examples
    --------
    >>> PIXEL_METHODS.resolve("cell_average", "method")
    CellAverage()
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @abstractmethod
    def cells(self, grid: Grid, axes: tuple[np.ndarray, ...],
              edges) -> tuple[np.ndarray, ...] | None:
        """The pixel cell edges the method uses, per axis (None when it uses none)."""

    @abstractmethod
    def matrix(self, grid: Grid, axes: tuple[np.ndarray, ...],
               edges: tuple[np.ndarray, ...] | None) -> sp.csr_array:
        """:math:`H` of shape ``(∏ M_a, grid.n)``, the pixels in C order."""


PIXEL_METHODS: Registry[PixelMethod] = Registry("pixel method", PixelMethod)


@PIXEL_METHODS.register("bilinear")
class Bilinear(PixelMethod):
    r"""A pixel reads the multilinear interpolant at its centre, :math:`(Iθ)(c_p)`
    (bilinear in 2-D; the point sensors of the pixel centres).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((4,))                                   # nodes at 0, 1/4, 1/2, 3/4
    >>> Bilinear().matrix(grid, (np.array([0.125, 0.875]),), None).toarray().tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5]]
    """

    def cells(self, grid: Grid, axes: tuple[np.ndarray, ...], edges) -> None:
        if edges is not None:
            raise ValueError("edges are the cells of the cell average; the bilinear method "
                             "reads the pixel centres (method='cell_average' to use them)")
        return None

    def matrix(self, grid: Grid, axes: tuple[np.ndarray, ...],
               edges: tuple[np.ndarray, ...] | None) -> sp.csr_array:
        centres = np.stack([c.ravel() for c in np.meshgrid(*axes, indexing="ij")], axis=1)
        return observation_operator(grid, centres)



def _midpoint_edges(centres: np.ndarray, a: int) -> np.ndarray:
    """Cell edges half-way between neighbouring centres, the end cells symmetric about their
    centres."""
    if centres.size < 2:
        raise ValueError(f"axes[{a}] has a single pixel: its cell cannot be inferred from "
                         f"neighbouring centres; pass edges")
    mid = 0.5 * (centres[:-1] + centres[1:])
    return np.concatenate(([2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]))


@PIXEL_METHODS.register("cell_average")
class CellAverage(PixelMethod):
    r"""A pixel reads the mean of the multilinear interpolant over its cell :math:`Q_p`,
    :math:`|Q_p|^{-1}\int_{Q_p} Iθ\,dx` (exact weights:
    :func:`~advdiff_sens.discretisation.cell_average_operator`).

    The cells are the ``edges`` given to :class:`GriddedSnapshots`, by default half-way
    between neighbouring pixel centres (the end cells symmetric about their centres). Each
    pixel centre must lie in its cell; on a Neumann or Dirichlet axis the cells lie inside
    the domain.

    Examples
    --------
    A pixel of width 1/2 centred on a node of a periodic grid of spacing 1/4 covers that
    node's hat and halves of its neighbours' (1/2, 1/4, 1/4), wrapping round:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((4,))
    >>> method = CellAverage()
    >>> axes = (np.array([0.0, 0.5]),)
    >>> method.cells(grid, axes, None)[0].tolist()
    [-0.25, 0.25, 0.75]
    >>> method.matrix(grid, axes, method.cells(grid, axes, None)).toarray().tolist()
    [[0.5, 0.25, 0.0, 0.25], [0.0, 0.25, 0.5, 0.25]]
    """

    def cells(self, grid: Grid, axes: tuple[np.ndarray, ...],
              edges) -> tuple[np.ndarray, ...]:
        if edges is None:
            edges = tuple(_midpoint_edges(c, a) for a, c in enumerate(axes))
        else:
            edges = _as_axes(edges, grid, "edges")
        for a, (c, e) in enumerate(zip(axes, edges)):
            if e.size != c.size + 1:
                raise ValueError(f"edges[{a}] must have {c.size + 1} entries (one more than "
                                 f"the pixels of axes[{a}]), got {e.size}")
            outside = np.where((c < e[:-1]) | (c > e[1:]))[0]
            if outside.size:
                raise ValueError(f"pixel centre(s) {outside.tolist()} of axes[{a}] lie outside "
                                 f"their cells [edges[{a}][p], edges[{a}][p + 1]]")
        return edges

    def matrix(self, grid: Grid, axes: tuple[np.ndarray, ...],
               edges: tuple[np.ndarray, ...] | None) -> sp.csr_array:
        try:
            return cell_average_operator(grid, edges)
        except ValueError as exc:
            raise ValueError(f"pixel cells: {exc} (by default a cell reaches half-way to the "
                             f"neighbouring pixel centres; pass edges, e.g. ending at the "
                             f"walls)") from exc


class GriddedSnapshots(ObservationOperator):
    r"""Images of the state on a rectilinear observation grid, the same at every time.

    The observation grid is given by the pixel centres along each axis (coarser, finer or
    offset from the model grid, inside the domain); pixel :math:`p = (p_0, p_1, …)` sits at
    :math:`c_p = (c^{(0)}_{p_0}, c^{(1)}_{p_1}, …)` and the pixels are ordered as C order
    of the image shape ``(M_0, M_1, …)``. Each pixel reads the model state by ``method``:

    * ``"bilinear"`` (:class:`Bilinear`): :math:`y_p = (Iθ)(c_p)`, the multilinear
      interpolant at the centre — exact for multilinear fields;
    * ``"cell_average"`` (:class:`CellAverage`): :math:`y_p = |Q_p|^{-1}\int_{Q_p}Iθ\,dx`,
      the mean over the pixel's cell :math:`Q_p` — exact for constants (where the hats sum to
      1) and, inside the convex hull of the nodes, for multilinear fields; the mean of a
      smooth field :math:`f` is matched to :math:`O(h^2)` in the model spacing.

    Parameters
    ----------
    grid : Grid
    axes : sequence of array_like
        Pixel centres, one strictly increasing 1-D array per axis, inside ``[0, extent]``.
    method : {"bilinear", "cell_average"} or PixelMethod
    edges : sequence of array_like, optional
        Cell edges per axis (``M_a + 1`` each) for the cell average; default half-way
        between neighbouring centres.

    Attributes
    ----------
    axes, edges : tuple of ndarray
        The pixel centres and (cell average) the cell edges per axis; ``edges`` is None for
        the bilinear method.
    method : PixelMethod
    coords : tuple of ndarray
        The pixel centres as ``indexing="ij"`` meshgrid arrays of shape ``obs_shape``.

    Examples
    --------
    A 4 × 4 image of an 8 × 8 periodic grid, pixels twice the model spacing: both methods
    read a linear field inside the hull of the nodes exactly, and constants everywhere:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((8, 8))
    >>> centres = np.array([0.125, 0.375, 0.625, 0.875])
    >>> mean = GriddedSnapshots(grid, (centres, centres), "cell_average")
    >>> mean.obs_shape, mean.edges[0].tolist()
    ((4, 4), [0.0, 0.25, 0.5, 0.75, 1.0])
    >>> x, y = grid.coords
    >>> images = mean.forward(np.stack([np.ones((8, 8)), x + y])).reshape(2, 4, 4)
    >>> centres_sum = (mean.coords[0] + mean.coords[1])[:3, :3]    # cells inside the hull
    >>> bool(np.allclose(images[0], 1)), bool(np.allclose(images[1, :3, :3], centres_sum))
    (True, True)
    """

    def __init__(self, grid: Grid, axes, method: str | PixelMethod = "bilinear", *,
                 edges=None) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        axes = _as_axes(axes, grid, "axes")
        for a, (c, extent) in enumerate(zip(axes, grid.extent)):
            if c[0] < 0 or c[-1] > extent:
                raise ValueError(f"axes[{a}]: the pixel centres must lie inside the domain "
                                 f"[0, {extent:g}], got [{c[0]:g}, {c[-1]:g}]")
        self.method = PIXEL_METHODS.resolve(method, "method")
        self.axes = axes
        self.edges = self.method.cells(grid, axes, edges)
        super().__init__(grid, self.method.matrix(grid, axes, self.edges),
                         obs_shape=tuple(c.size for c in axes))
        self.coords = tuple(np.meshgrid(*axes, indexing="ij"))
