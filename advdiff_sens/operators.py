r"""Finite-difference discretisation of :math:`κΔ − \mathbf u·∇` as a sparse generator.

Every scheme is written in *flux form* along each axis ``a``: with the first-order forward and
backward differences :math:`D^+_a θ_i = (θ_{i+1} − θ_i)/h_a`, :math:`D^-_a θ_i = (θ_i − θ_{i-1})/h_a`,

.. math::

    L(\mathbf u) = \sum_a \big[\operatorname{diag}(c^+_a)\,D^+_a − \operatorname{diag}(c^-_a)\,D^-_a\big],

so that row ``i`` of :math:`L` has weight :math:`c^+_{a,i}/h_a` on the neighbour ahead,
:math:`c^-_{a,i}/h_a` on the one behind, and zero row sum away from Dirichlet walls. With
:math:`\mathrm{Pe} = u_a h_a/(2κ)` the cell Péclet number and
:math:`B(x) = x/(e^x − 1)` the Bernoulli function:

==============  =====================================  =====================================  =====
scheme          :math:`c^+`                            :math:`c^-`                            order
==============  =====================================  =====================================  =====
central         :math:`κ/h − u/2`                      :math:`κ/h + u/2`                      2
upwind          :math:`κ/h + \max(−u, 0)`              :math:`κ/h + \max(u, 0)`               1
exponential     :math:`(κ/h)\,B(2\mathrm{Pe})`         :math:`(κ/h)\,B(−2\mathrm{Pe})`        1
==============  =====================================  =====================================  =====

Central is :math:`κD^{(2)} − \operatorname{diag}(u)D^{(1)}` with the second-order central
differences (:math:`D^{(2)} = (D^+ − D^-)/h`, :math:`D^{(1)} = (D^+ + D^-)/2`); exponential
fitting (Il'in–Allen–Southwell) is the central scheme with the diffusivity replaced by
:math:`κ\,\mathrm{Pe}\coth\mathrm{Pe}` (because :math:`B(2x) + x = x\coth x`), which tends to
central as Pe → 0, so it is second order for resolved flows and first order uniformly.

Stencil weights come from :func:`findiff.coefficients`; the 1-D matrices are built here with
the boundary rows of :mod:`advdiff_sens.grid` (wrap, reflection through a ghost node, or a
dropped boundary node), because findiff's one-sided boundary stencils have negative
off-diagonal weights that would break the rate-matrix structure. Periodic central matrices
coincide with findiff's ``Diff(axis, h, periodic=True).matrix(shape)`` (tested).

Properties (tested in ``tests/test_operators.py``):

* every row sums to 0 for periodic/Neumann axes (constants are steady), and to ≤ 0 next to a
  Dirichlet wall (a sub-generator: killing at the wall);
* upwind and exponential have :math:`c^\pm ≥ 0` for every Péclet number (computed without
  cancellation), so they are rate matrices (2.1) and satisfy the discrete maximum principle;
  central does when :math:`|u|h/(2κ) ≤ 1`;
* the diffusion part conserves the discrete mass :math:`w^T θ` (:attr:`Grid.weights`);
  on periodic grids central advection conserves it too when the central discrete divergence
  :math:`\sum_a D^{(1)}_a u_a` vanishes.

The velocity derivative is :math:`J(\mathbf v) = ∂L/∂\mathbf u[\mathbf v] =
\sum_a \operatorname{diag}(v_a)\,P_a(\mathbf u)` with the *partial generators*
:math:`P_a = \operatorname{diag}(∂_u c^+_a)D^+_a − \operatorname{diag}(∂_u c^-_a)D^-_a`:

* central: :math:`∂_u c^\pm = ∓\tfrac12`, so :math:`P_a = −D^{(1)}_a` and
  :math:`J = −\mathbf v·∇_h` (the corrected sign of (4.6)); L is affine in u;
* exponential: :math:`∂_u c^+ = B'(2\mathrm{Pe})`, :math:`∂_u c^- = B'(2\mathrm{Pe}) + 1`;
* upwind: :math:`∂_u c^+ = −1[u<0]`, :math:`∂_u c^- = 1[u>0]`. Upwind is not differentiable
  where a component vanishes; there we return the average of the one-sided derivatives
  (:math:`∂_u c^\pm = ∓\tfrac12`, the central :math:`P_a`).
"""

from __future__ import annotations

import findiff
import numpy as np
import scipy.sparse as sp

from .grid import Grid

__all__ = [
    "SCHEMES",
    "axis_matrix",
    "difference_matrices",
    "bernoulli",
    "bernoulli_derivative",
    "flux_coefficients",
    "flux_coefficient_derivatives",
    "assemble_generator",
    "partial_generators",
]

SCHEMES = ("central", "upwind", "exponential")


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

    Returns
    -------
    dict
        Each value a list with one (n, n) CSR matrix per axis, boundary rows as in
        :func:`axis_matrix`.
    """
    stencils = {"forward": _one_sided((0, 1)), "backward": _one_sided((-1, 0))}
    out: dict[str, list[sp.csr_array]] = {}
    for key, (offsets, coefs) in stencils.items():
        out[key] = [_embed(axis_matrix(offsets, coefs / h, size, bc), axis, grid.shape)
                    for axis, (size, bc, h) in enumerate(zip(grid.shape, grid.bc, grid.spacing))]
    return out


_SERIES_LIMIT = 0.1


def _inverse_expm1(x: np.ndarray) -> np.ndarray:
    """:math:`1/(e^x − 1)` for ``x != 0`` without overflow (``e^{-x}/(1 − e^{-x})`` for x > 0)."""
    pos = np.where(x > 0, x, 1.0)
    neg = np.where(x < 0, x, -1.0)
    return np.where(x > 0, np.exp(-pos) / -np.expm1(-pos), 1.0 / np.expm1(neg))


def bernoulli(x: np.ndarray) -> np.ndarray:
    r"""Bernoulli function :math:`B(x) = x/(e^x − 1)` (``B(0) = 1``), positive for all x."""
    x = np.asarray(x, dtype=float)
    nonzero = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, nonzero * _inverse_expm1(nonzero))


def bernoulli_derivative(x: np.ndarray) -> np.ndarray:
    r""":math:`B'(x) = (1 − B(−x))/(e^x − 1)`, by its Taylor series
    :math:`−\tfrac12 + \tfrac x6 − \tfrac{x^3}{180} + \tfrac{x^5}{5040} − \tfrac{x^7}{151200}`
    for :math:`|x| < 0.1` (truncation < 1e-16), in closed form otherwise (no overflow)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < _SERIES_LIMIT
    safe = np.where(small, 1.0, x)
    closed = (1.0 - bernoulli(-safe)) * _inverse_expm1(safe)
    series = -0.5 + x / 6 - x**3 / 180 + x**5 / 5040 - x**7 / 151200
    return np.where(small, series, closed)


def flux_coefficients(u: np.ndarray, kappa: float, h: float, scheme: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Flux weights :math:`(c^+, c^-)` of one axis (module docstring table)."""
    if scheme == "central":
        return kappa / h - u / 2, kappa / h + u / 2
    if scheme == "upwind":
        return kappa / h + np.maximum(-u, 0.0), kappa / h + np.maximum(u, 0.0)
    pe2 = u * h / kappa
    return kappa / h * bernoulli(pe2), kappa / h * bernoulli(-pe2)


def flux_coefficient_derivatives(u: np.ndarray, kappa: float, h: float, scheme: str
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """Velocity derivatives :math:`(∂_u c^+, ∂_u c^-)` of :func:`flux_coefficients`."""
    if scheme == "central":
        return np.full_like(u, -0.5), np.full_like(u, 0.5)
    if scheme == "upwind":
        ahead = np.where(u < 0, -1.0, np.where(u > 0, 0.0, -0.5))
        return ahead, ahead + 1.0
    dplus = bernoulli_derivative(u * h / kappa)
    return dplus, dplus + 1.0


def _flux_form(cplus: list[np.ndarray], cminus: list[np.ndarray],
               mats: dict[str, list[sp.csr_array]]) -> sp.csr_array:
    terms = [sp.diags_array(cp.ravel()) @ mats["forward"][a]
             - sp.diags_array(cm.ravel()) @ mats["backward"][a]
             for a, (cp, cm) in enumerate(zip(cplus, cminus))]
    return sp.csr_array(sum(terms[1:], terms[0]))


def assemble_generator(grid: Grid, kappa: float, scheme: str, u: np.ndarray,
                       mats: dict[str, list[sp.csr_array]]) -> sp.csr_array:
    r"""Assemble :math:`L(\mathbf u) = \sum_a \operatorname{diag}(c^+_a)D^+_a − \operatorname{diag}(c^-_a)D^-_a`."""
    coefs = [flux_coefficients(u[a], kappa, h, scheme) for a, h in enumerate(grid.spacing)]
    return _flux_form([c[0] for c in coefs], [c[1] for c in coefs], mats)


def partial_generators(grid: Grid, kappa: float, scheme: str, u: np.ndarray,
                       mats: dict[str, list[sp.csr_array]]) -> list[sp.csr_array]:
    r"""Partial generators :math:`P_a` with :math:`∂L/∂\mathbf u[\mathbf v] = \sum_a \operatorname{diag}(v_a) P_a`.

    Row ``i`` of :math:`L` depends on the velocity at node ``i`` only, so
    :math:`∂(Lθ)_i/∂u_{a,i} = (P_a θ)_i`; this is what the adjoint gradient integrates.
    """
    out = []
    for a, h in enumerate(grid.spacing):
        dp, dm = flux_coefficient_derivatives(u[a], kappa, h, scheme)
        out.append(_flux_form([dp], [dm], {k: [v[a]] for k, v in mats.items()}))
    return out
