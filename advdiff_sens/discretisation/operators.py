r"""Finite-difference discretisation of :math:`κΔ − \mathbf u·∇` as a sparse generator.

Every scheme (:mod:`advdiff_sens.discretisation.schemes`) is written in *flux form* along
each axis ``a``: with the first-order forward and backward differences
:math:`D^+_a θ_i = (θ_{i+1} − θ_i)/h_a`, :math:`D^-_a θ_i = (θ_i − θ_{i-1})/h_a`,

.. math::

    L(\mathbf u) = \sum_a \big[\operatorname{diag}(c^+_a)\,D^+_a − \operatorname{diag}(c^-_a)\,D^-_a\big],

so that row ``i`` of :math:`L` has weight :math:`c^+_{a,i}/h_a` on the neighbour ahead,
:math:`c^-_{a,i}/h_a` on the one behind, and zero row sum away from Dirichlet walls; the
scheme's :meth:`~advdiff_sens.discretisation.schemes.Scheme.coefficients` give
:math:`c^\pm_a`. Central is :math:`κD^{(2)} − \operatorname{diag}(u)D^{(1)}` with the
second-order central differences (:math:`D^{(2)} = (D^+ − D^-)/h`,
:math:`D^{(1)} = (D^+ + D^-)/2`).

Stencil weights come from :func:`findiff.coefficients`; the 1-D matrices are built here with
the boundary rows of :mod:`advdiff_sens.discretisation.grid` (wrap, reflection through a ghost node, or a
dropped boundary node), because findiff's one-sided boundary stencils have negative
off-diagonal weights that would break the rate-matrix structure. Periodic central matrices
coincide with findiff's ``Diff(axis, h, periodic=True).matrix(shape)`` (tested).

Properties (tested in ``tests/discretisation/test_operators.py``):

* every row sums to 0 for periodic/Neumann axes (constants are steady), and to ≤ 0 next to a
  Dirichlet wall (a sub-generator: killing at the wall);
* the :attr:`~advdiff_sens.discretisation.schemes.Scheme.monotone` schemes (upwind and
  exponential) have :math:`c^\pm ≥ 0` for every Péclet number, so they are rate matrices
  (2.1) and satisfy the discrete maximum principle; central does when :math:`|u|h/(2κ) ≤ 1`
  (:func:`advdiff_sens.discretisation.physics.cell_peclet`);
* the diffusion part conserves the discrete mass :math:`w^T θ` (:attr:`Grid.weights`);
  on periodic grids central advection conserves it too when the central discrete divergence
  :math:`\sum_a D^{(1)}_a u_a` vanishes.

The velocity derivative is :math:`J(\mathbf v) = ∂L/∂\mathbf u[\mathbf v] =
\sum_a \operatorname{diag}(v_a)\,P_a(\mathbf u)` with the *partial generators*
:math:`P_a = \operatorname{diag}(∂_u c^+_a)D^+_a − \operatorname{diag}(∂_u c^-_a)D^-_a`, the
:math:`∂_u c^\pm_a` from the scheme's
:meth:`~advdiff_sens.discretisation.schemes.Scheme.coefficient_derivatives`. For central
:math:`P_a = −D^{(1)}_a` and :math:`J = −\mathbf v·∇_h` (the corrected sign of (4.6)).
"""

from __future__ import annotations

import findiff
import numpy as np
import scipy.sparse as sp

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.schemes import SCHEMES, Scheme

__all__ = ["axis_matrix", "difference_matrices", "assemble_generator", "partial_generators"]


def axis_matrix(offsets, weights, size: int, bc: str) -> sp.csr_array:
    """1-D difference matrix of a stencil ``Σ_o w_o θ_{i+o} / h^p`` with boundary rows.

    Parameters
    ----------
    offsets, weights : sequence
        Stencil offsets and weights (already divided by the power of ``h``).
    size : int
        Number of nodes on the axis.
    bc : {"periodic", "neumann", "dirichlet"}
        Out-of-range neighbours wrap (periodic), reflect through the wall node
        (``-o → o``, ``N-1+o → N-1-o``; Neumann), or are dropped (Dirichlet, θ = 0).

    Returns
    -------
    scipy.sparse.csr_array (size, size)

    Examples
    --------
    The second difference ``θ_{i-1} − 2θ_i + θ_{i+1}`` (h = 1): its first row under each
    boundary condition.

    >>> for bc in ("periodic", "neumann", "dirichlet"):
    ...     print(bc, axis_matrix((-1, 0, 1), (1.0, -2.0, 1.0), 4, bc).toarray()[0].tolist())
    periodic [-2.0, 1.0, 0.0, 1.0]
    neumann [-2.0, 2.0, 0.0, 0.0]
    dirichlet [-2.0, 1.0, 0.0, 0.0]
    """
    rows, cols, vals = [], [], []
    i = np.arange(size)
    for o, w in zip(offsets, weights):
        j = i + int(o)
        if bc == "periodic":
            keep = np.ones(size, dtype=bool)
            j = j % size
        elif bc == "neumann":
            keep = np.ones(size, dtype=bool)
            j = np.where(j < 0, -j, j)
            j = np.where(j > size - 1, 2 * (size - 1) - j, j)
        else:
            keep = (j >= 0) & (j < size)
        rows.append(i[keep])
        cols.append(j[keep])
        vals.append(np.full(keep.sum(), float(w)))
    return sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(size, size))


def _embed(matrix_1d: sp.csr_array, axis: int, shape: tuple[int, ...]) -> sp.csr_array:
    """Kronecker-embed a 1-D operator acting along ``axis`` of a C-ordered field."""
    before = int(np.prod(shape[:axis]))
    after = int(np.prod(shape[axis + 1:]))
    out = sp.kron(sp.identity(before, format="csr"), matrix_1d, format="csr")
    return sp.csr_array(sp.kron(out, sp.identity(after, format="csr"), format="csr"))


def _one_sided(offsets) -> tuple[np.ndarray, np.ndarray]:
    c = findiff.coefficients(deriv=1, offsets=list(offsets))
    return np.asarray(c["offsets"]), np.asarray(c["coefficients"], dtype=float)


def difference_matrices(grid: Grid) -> dict[str, list[sp.csr_array]]:
    """Per-axis first-order forward (``"forward"``) and backward (``"backward"``) differences.

    :math:`D^+_a θ_i = (θ_{i+1} − θ_i)/h_a` and :math:`D^-_a θ_i = (θ_i − θ_{i-1})/h_a` on the
    C-ordered (flattened) field, Kronecker-embedded along axis ``a``.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    dict
        Each value a list with one (n, n) CSR matrix per axis, boundary rows as in
        :func:`axis_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((8, 16), bc="periodic")
    >>> mats = difference_matrices(grid)
    >>> sorted(mats), len(mats["forward"]), mats["forward"][1].shape
    (['backward', 'forward'], 2, (128, 128))
    >>> bool(np.allclose(mats["forward"][0] @ np.ones(grid.n), 0))      # constants: no slope
    True

    On the periodic axis the backward difference is the forward one shifted by a node:

    >>> theta = np.sin(2 * np.pi * grid.coords[1]).ravel()
    >>> fwd = (mats["forward"][1] @ theta).reshape(grid.shape)
    >>> bwd = (mats["backward"][1] @ theta).reshape(grid.shape)
    >>> bool(np.allclose(bwd, np.roll(fwd, 1, axis=1)))
    True
    """
    stencils = {"forward": _one_sided((0, 1)), "backward": _one_sided((-1, 0))}
    out: dict[str, list[sp.csr_array]] = {}
    for key, (offsets, coefs) in stencils.items():
        out[key] = [_embed(axis_matrix(offsets, coefs / h, size, bc), axis, grid.shape)
                    for axis, (size, bc, h) in enumerate(zip(grid.shape, grid.bc, grid.spacing))]
    return out


def _flux_form(cplus: list[np.ndarray], cminus: list[np.ndarray],
               mats: dict[str, list[sp.csr_array]]) -> sp.csr_array:
    terms = [sp.diags_array(cp.ravel()) @ mats["forward"][a]
             - sp.diags_array(cm.ravel()) @ mats["backward"][a]
             for a, (cp, cm) in enumerate(zip(cplus, cminus))]
    return sp.csr_array(sum(terms[1:], terms[0]))


def assemble_generator(grid: Grid, kappa: float, scheme: Scheme | str, u: np.ndarray,
                       mats: dict[str, list[sp.csr_array]]) -> sp.csr_array:
    r"""Assemble :math:`L(\mathbf u) = \sum_a \operatorname{diag}(c^+_a)D^+_a − \operatorname{diag}(c^-_a)D^-_a`.

    Parameters
    ----------
    grid : Grid
    kappa : float
        Diffusivity κ > 0.
    scheme : Scheme or str
        The advection scheme, or its name in :data:`~advdiff_sens.discretisation.SCHEMES`.
        Gives the flux weights :math:`c^\pm_a` (:mod:`advdiff_sens.discretisation.schemes`).
    u : ndarray, shape ``(ndim, *grid.shape)``
        Nodal velocity.
    mats : dict
        :func:`difference_matrices` of ``grid``.

    Returns
    -------
    scipy.sparse.csr_array (n, n)

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> from advdiff_sens.discretisation.schemes import Upwind
    >>> grid = Grid((4,), bc="periodic")
    >>> L = assemble_generator(grid, 0.25, Upwind(), np.ones((1, 4)), difference_matrices(grid))
    >>> L.toarray()[0].tolist()                   # κ/h² = 4 each side, u/h = 4 from behind
    [-12.0, 4.0, 0.0, 8.0]
    """
    scheme = SCHEMES.resolve(scheme, "scheme")
    coefs = [scheme.coefficients(u[a], kappa, h) for a, h in enumerate(grid.spacing)]
    return _flux_form([c[0] for c in coefs], [c[1] for c in coefs], mats)


def partial_generators(grid: Grid, kappa: float, scheme: Scheme | str, u: np.ndarray,
                       mats: dict[str, list[sp.csr_array]]) -> list[sp.csr_array]:
    r"""Partial generators :math:`P_a` with :math:`∂L/∂\mathbf u[\mathbf v] = \sum_a \operatorname{diag}(v_a) P_a`.

    Row ``i`` of :math:`L` depends on the velocity at node ``i`` only, so
    :math:`∂(Lθ)_i/∂u_{a,i} = (P_a θ)_i`; this is what the adjoint gradient integrates.

    Parameters
    ----------
    grid : Grid
    kappa : float
        Diffusivity κ > 0.
    scheme : Scheme or str
        The advection scheme, or its name in :data:`~advdiff_sens.discretisation.SCHEMES`.
        Gives the flux-weight derivatives :math:`∂_u c^\pm_a`
        (:meth:`~advdiff_sens.discretisation.schemes.Scheme.coefficient_derivatives`).
    u : ndarray, shape ``(ndim, *grid.shape)``
        Nodal velocity at which L is differentiated.
    mats : dict
        :func:`difference_matrices` of ``grid``.

    Returns
    -------
    list of scipy.sparse.csr_array (n, n)
        One :math:`P_a` per axis.

    Examples
    --------
    For the central scheme :math:`P_a = −D^{(1)}_a = −(D^+_a + D^-_a)/2`:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> from advdiff_sens.discretisation.schemes import Central, ExponentialFitting
    >>> grid = Grid((8, 8), bc="periodic")
    >>> mats = difference_matrices(grid)
    >>> u = np.ones((2, 8, 8))
    >>> P = partial_generators(grid, 0.1, Central(), u, mats)
    >>> len(P), bool(np.allclose(P[0].toarray(),
    ...                          -(mats["forward"][0] + mats["backward"][0]).toarray() / 2))
    (2, True)

    For any scheme :math:`\sum_a \operatorname{diag}(v_a) P_a` is the derivative of
    :func:`assemble_generator` in direction v (a central difference in u):

    >>> scheme = ExponentialFitting()
    >>> v = np.random.default_rng(0).standard_normal((2, 8, 8))
    >>> P = partial_generators(grid, 0.1, scheme, u, mats)
    >>> J = sum(v[a].ravel()[:, None] * P[a].toarray() for a in range(2))
    >>> eps = 1e-6
    >>> fd = (assemble_generator(grid, 0.1, scheme, u + eps * v, mats)
    ...       - assemble_generator(grid, 0.1, scheme, u - eps * v, mats)).toarray() / (2 * eps)
    >>> bool(np.allclose(J, fd, atol=1e-6))
    True
    """
    scheme = SCHEMES.resolve(scheme, "scheme")
    out = []
    for a, h in enumerate(grid.spacing):
        dp, dm = scheme.coefficient_derivatives(u[a], kappa, h)
        out.append(_flux_form([dp], [dm], {k: [v[a]] for k, v in mats.items()}))
    return out
