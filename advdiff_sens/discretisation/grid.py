"""Uniform Cartesian grids in 1, 2 or 3 dimensions with a boundary condition per axis.

Where the nodes sit (per axis of length ``extent`` with ``N`` nodes):

============  ==========================  ===============  =================================
bc            nodes                       spacing ``h``    boundary treatment
============  ==========================  ===============  =================================
periodic      ``x_i = i h``, i = 0..N-1   ``extent / N``   wrap-around, ``x_N ≡ x_0``
neumann       ``x_i = i h``, i = 0..N-1   ``extent/(N-1)`` both walls are nodes; reflection
                                                           through a ghost node,
                                                           ``θ_{-1} = θ_1``, ``θ_N = θ_{N-2}``
dirichlet     ``x_i = (i+1) h``           ``extent/(N+1)`` walls are not nodes; ``θ = 0``
              i = 0..N-1                                   there (boundary node dropped)
============  ==========================  ===============  =================================
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from advdiff_sens.validation import as_array, check_integer, check_positive_scalar

__all__ = ["Grid", "BOUNDARY_CONDITIONS", "MIN_NODES"]

BOUNDARY_CONDITIONS = ("periodic", "neumann", "dirichlet")
MIN_NODES = 3
# h = extent / (N + _INTERVALS_OFFSET[bc]): N, N - 1 or N + 1 intervals of length h.
_INTERVALS_OFFSET = {"periodic": 0, "neumann": -1, "dirichlet": 1}


class Grid:
    """A uniform grid on ``[0, extent_0] × … × [0, extent_{d-1}]``.

    Parameters
    ----------
    shape : sequence of int
        Number of nodes per axis (1, 2 or 3 axes, each at least 3).
    extent : sequence of float, optional
        Domain length per axis; default 1 on every axis.
    bc : str or sequence of str
        ``"periodic"``, ``"neumann"`` (no-flux, reflecting) or ``"dirichlet"`` (homogeneous),
        one for all axes or one per axis. The module docstring says where nodes sit.

    Attributes
    ----------
    ndim, shape, n, spacing, extent, bc
        Dimension, nodes per axis, total nodes, node spacing per axis, lengths, bcs.
    axes : tuple of ndarray
        1-D node coordinates per axis.
    coords : tuple of ndarray
        ``np.meshgrid(*axes, indexing="ij")``: each of shape ``shape``.

    Examples
    --------
    A periodic axis of 8 nodes (``h = 1/8``) and a Dirichlet axis of 15 (``h = 1/16``, walls
    not nodes):

    >>> import numpy as np
    >>> grid = Grid((8, 15), bc=("periodic", "dirichlet"))
    >>> grid.n, grid.spacing
    (120, (0.125, 0.0625))
    >>> float(grid.axes[1][0]), grid.coords[0].shape      # the first node is h off the wall
    (0.0625, (8, 15))
    >>> bool(np.isclose(grid.weights.sum(), 15 / 16))   # rectangle rule: 15 nodes of weight h
    True
    >>> integral = (grid.weights * np.sin(np.pi * grid.coords[1])).sum()   # exact: 2/π
    >>> bool(np.isclose(integral, 2 / np.pi, rtol=1e-2))
    True
    """

    def __init__(self, shape: Sequence[int], extent: Sequence[float] | None = None,
                 bc: str | Sequence[str] = "periodic") -> None:
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        if not isinstance(shape, Sequence) and not isinstance(shape, np.ndarray):
            raise TypeError(f"shape must be a sequence of integers, got {type(shape).__name__}")
        shape = tuple(check_integer(s, "shape", minimum=MIN_NODES) for s in shape)
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"shape must have 1, 2 or 3 axes, got {len(shape)}")
        ndim = len(shape)
        if extent is None:
            extent = (1.0,) * ndim
        if np.ndim(extent) == 0:
            extent = (extent,) * ndim
        if len(extent) != ndim:
            raise ValueError(f"extent must have {ndim} entries (one per axis), got {len(extent)}")
        extent = tuple(check_positive_scalar(e, "extent") for e in extent)
        if isinstance(bc, str):
            bc = (bc,) * ndim
        bc = tuple(bc)
        if len(bc) != ndim:
            raise ValueError(f"bc must be a string or have {ndim} entries, got {len(bc)}")
        for b in bc:
            if b not in BOUNDARY_CONDITIONS:
                raise ValueError(f"bc must be one of {BOUNDARY_CONDITIONS}, got {b!r}")
        self.shape: tuple[int, ...] = shape
        self.extent: tuple[float, ...] = extent
        self.bc: tuple[str, ...] = bc

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.shape)

    @property
    def n(self) -> int:
        """Total number of nodes, the size of the generator."""
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Node spacing ``h`` per axis (see the module docstring)."""
        return tuple(e / (s + _INTERVALS_OFFSET[b])
                     for e, s, b in zip(self.extent, self.shape, self.bc))

    def shape_for_spacing(self, max_spacing: Sequence[float]) -> tuple[int, ...]:
        r"""Smallest node counts, per axis, with spacing at most ``max_spacing``.

        On an axis of length :math:`\ell` with ``bc`` giving :math:`h = \ell/(N + d)`
        (:math:`d = 0, −1, +1` for periodic, Neumann, Dirichlet) this is
        :math:`N = \max(\lceil \ell/h_{\max} − d\rceil, 3)`; an infinite bound gives 3.

        Parameters
        ----------
        max_spacing : sequence of float
            Upper bound on ``h`` per axis (> 0, ``inf`` allowed).

        Returns
        -------
        tuple of int
            The node counts, one per axis.
        """
        if len(max_spacing) != self.ndim:
            raise ValueError(f"max_spacing must have {self.ndim} entries (one per axis), "
                             f"got {len(max_spacing)}")
        out = []
        for e, b, h in zip(self.extent, self.bc, max_spacing):
            h = float(h)
            if not h > 0:
                raise ValueError(f"max_spacing must be > 0, got {h}")
            out.append(max(int(np.ceil(e / h - _INTERVALS_OFFSET[b])), MIN_NODES))
        return tuple(out)

    @cached_property
    def axes(self) -> tuple[np.ndarray, ...]:
        """1-D node coordinates along each axis."""
        offsets = {"periodic": 0.0, "neumann": 0.0, "dirichlet": 1.0}
        return tuple((np.arange(s) + offsets[b]) * h
                     for s, b, h in zip(self.shape, self.bc, self.spacing))

    @cached_property
    def coords(self) -> tuple[np.ndarray, ...]:
        """Node coordinates as ``indexing="ij"`` meshgrid arrays of shape ``shape``."""
        return tuple(np.meshgrid(*self.axes, indexing="ij"))

    @cached_property
    def weights(self) -> np.ndarray:
        r"""Quadrature weights ``w`` of shape ``shape`` with :math:`\int θ\,dx ≈ \sum_i w_i θ_i`.

        Rectangle rule for periodic and Dirichlet axes, trapezoidal (half weight on the walls)
        for Neumann axes; the products over axes. The discrete mass :math:`w^T θ` is what
        the diffusion operator conserves (see :mod:`advdiff_sens.discretisation.operators`).
        """
        factors = []
        for s, b, h in zip(self.shape, self.bc, self.spacing):
            w = np.full(s, h)
            if b == "neumann":
                w[[0, -1]] = h / 2
            factors.append(w)
        out = factors[0]
        for f in factors[1:]:
            out = np.multiply.outer(out, f)
        return out

    def check_field(self, x, name: str) -> np.ndarray:
        """Validate a scalar field of shape ``shape`` (finite, real or complex)."""
        return as_array(x, name, shape=self.shape)

    def check_velocity(self, u, name: str) -> np.ndarray:
        """Validate a real velocity field of shape ``(ndim, *shape)``."""
        return as_array(u, name, shape=(self.ndim, *self.shape), allow_complex=False)

    def __repr__(self) -> str:
        return f"Grid(shape={self.shape}, extent={self.extent}, bc={self.bc})"
