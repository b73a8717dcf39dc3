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
the boundary rows of :mod:`advdiff_sens.discretisation.grid` (wrap, reflection through a ghost node, or a
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

Physics checks (:func:`check_physics`, called by
:meth:`advdiff_sens.AdvectionDiffusion.generator`, which warns once per model and kind):

* :func:`cell_peclet` :math:`= \max_{a,i} |u_{a,i}|h_a/(2κ)` (over the weights the rows
  keep). The central generator has an off-diagonal weight :math:`κ/h_a − |u_{a,i}|/2 < 0`
  exactly when this exceeds 1: it is then no rate matrix, the maximum principle fails and θ
  oscillates and overshoots (on a periodic 64-node grid, u = sin 2πx, κ = 1e-4, Pe = 78,
  θ0 = (1 + cos 2πx)/2 ∈ [0, 1]: max θ(1) = 1.42 with central, 0.9997 with upwind and
  exponential).
* :func:`wall_normal_velocity` :math:`= \max |\mathbf u·\mathbf n|` on the no-flux
  (Neumann) walls. The generator is the non-conservative :math:`κΔ_h − \mathbf u·∇_h` with
  reflecting rows (zero row sums: constants stay steady), but the discrete mass obeys
  :math:`\frac{d}{dt} w^Tθ = w^T L θ`, a discrete form of
  :math:`−\oint θ\,\mathbf u·\mathbf n + \int θ\,∇·\mathbf u`: with
  :math:`\mathbf u·\mathbf n ≠ 0` the walls let scalar out (outflow) and in (inflow). For
  u = 1 on a 33-node Neumann axis, :math:`w^TL = (½, ½, 0, …, 0, −½, −½)`, and of the mass of
  θ0 = exp(−(x − ½)²/0.01) with κ = 0.01 only 0.005 % (central), 0.4 % (exponential) or
  1.5 % (upwind) is left at t = 1. Dirichlet walls are absorbing by
  design (θ = 0 there; flow through them carries no scalar in and is not checked), periodic
  axes have no walls.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Collection

import findiff
import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import check_nonnegative_scalar
from advdiff_sens.exceptions import PhysicsWarning
from advdiff_sens.discretisation.grid import Grid

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
    "PHYSICS_CHECKS",
    "WALL_NORMAL_RTOL",
    "cell_peclet",
    "wall_normal_velocity",
    "check_physics",
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


PHYSICS_CHECKS = ("cell_peclet", "wall_normal_velocity")
WALL_NORMAL_RTOL = 1e-12
_AXIS_NAMES = ("x", "y", "z")
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # advdiff_sens/


def _interior(field: np.ndarray, axis: int) -> np.ndarray:
    """``field`` without its first and last node along ``axis``."""
    index = [slice(None)] * field.ndim
    index[axis] = slice(1, -1)
    return field[tuple(index)]


def _axis_peclet_speeds(grid: Grid, u: np.ndarray) -> list[float]:
    r"""Per axis, the largest :math:`|u_{a,i}|` that enters an off-diagonal weight of L.

    Interior nodes use both :math:`c^\pm = κ/h ∓ u/2`. On a Neumann axis the wall rows
    reflect through the ghost node and use :math:`c^+ + c^- = 2κ/h` only, so the wall nodes
    do not count; on a Dirichlet axis the first node keeps only :math:`c^+` (counts
    :math:`\max(u, 0)`) and the last only :math:`c^-` (counts :math:`\max(−u, 0)`).
    """
    out = []
    for a, bc in enumerate(grid.bc):
        ua = u[a]
        if bc == "periodic":
            out.append(float(np.abs(ua).max()))
            continue
        if bc == "neumann":
            ends = 0.0
        else:
            ends = max(float(np.take(ua, 0, axis=a).max()), float(-np.take(ua, -1, axis=a).min()))
        out.append(max(float(np.abs(_interior(ua, a)).max()), ends))
    return out


def cell_peclet(grid: Grid, kappa: float, u: np.ndarray) -> float:
    r"""Largest cell Péclet number :math:`\max_{a,i} |u_{a,i}|\,h_a/(2κ)`.

    The central generator has off-diagonal weights :math:`(κ/h_a ∓ u_{a,i}/2)/h_a`, so the
    maximum runs over the axes ``a`` and the weights the rows keep: every node of a periodic
    axis; the interior nodes of a Neumann axis (the reflected wall rows use
    :math:`c^+ + c^- = 2κ/h`, free of u); on a Dirichlet axis the interior nodes, plus
    :math:`\max(u_a, 0)` at the first node and :math:`\max(−u_a, 0)` at the last (the
    weight towards the wall is dropped). Hence the central generator has no negative
    off-diagonal weight (for periodic and Neumann axes: is a rate matrix (2.1)) if and only if
    ``cell_peclet(grid, kappa, u) <= 1``.

    Parameters
    ----------
    grid : Grid
    kappa : float
        Diffusivity κ > 0.
    u : ndarray, shape (ndim, *grid.shape)
        Nodal velocity.

    Returns
    -------
    float
        The cell Péclet number (0 for u = 0).
    """
    return max(s * h / (2 * kappa) for s, h in zip(_axis_peclet_speeds(grid, u), grid.spacing))


def _wall_normal_maxima(grid: Grid, u: np.ndarray) -> list[tuple[str, float]]:
    """``(wall label, max |u·n| on that wall)`` for every wall of every Neumann axis."""
    out = []
    for a, (bc, length) in enumerate(zip(grid.bc, grid.extent)):
        if bc != "neumann":
            continue
        name = _AXIS_NAMES[a]
        for end, position in ((0, 0.0), (-1, length)):
            out.append((f"{name}={position:g}", float(np.abs(np.take(u[a], end, axis=a)).max())))
    return out


def wall_normal_velocity(grid: Grid, u: np.ndarray) -> float:
    r"""Largest normal velocity :math:`\max |\mathbf u·\mathbf n|` on the no-flux walls.

    An absolute value (in the units of u): on a Neumann axis ``a`` the walls
    :math:`x_a = 0` and :math:`x_a = \ell_a` are nodes and :math:`|\mathbf u·\mathbf n| =
    |u_a|` there. Periodic axes have no walls and Dirichlet (absorbing) walls are not
    counted; 0 when the grid has no Neumann axis. :func:`check_physics` compares it with
    :data:`WALL_NORMAL_RTOL` times :math:`\max_i |\mathbf u_i|`.

    Parameters
    ----------
    grid : Grid
    u : ndarray, shape (ndim, *grid.shape)
        Nodal velocity.

    Returns
    -------
    float
    """
    return max((value for _, value in _wall_normal_maxima(grid, u)), default=0.0)


def _user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the caller that points at the first frame
    outside this package (the user's call)."""
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _peclet_message(grid: Grid, kappa: float, u: np.ndarray) -> str | None:
    speeds = _axis_peclet_speeds(grid, u)
    pe = cell_peclet(grid, kappa, u)
    if pe <= 1:
        return None
    limits = [2 * kappa / s if s > 0 else np.inf for s in speeds]
    shape = tuple(max(n, m) for n, m in zip(grid.shape, grid.shape_for_spacing(limits)))
    digits = max(4, 2 - int(np.floor(np.log10(pe - 1))))    # 1.00001 is not printed as 1
    return (f"cell Péclet number max|u_a|h_a/(2κ) = {pe:.{digits}g} > 1 with the central scheme "
            f"(κ = {kappa:g}, h = {', '.join(f'{h:.4g}' for h in grid.spacing)}): the "
            "generator has negative off-diagonal weights (κ/h_a − |u_a|/2)/h_a, so there is no "
            "maximum principle and the discrete solution can oscillate and overshoot its "
            "initial range; refine the grid to h_a ≤ 2κ/max|u_a| = "
            f"{', '.join(f'{h:.4g}' for h in limits)} (shape ≥ {shape}), or use "
            "scheme='exponential' (positive for every Péclet "
            "number and differentiable in u) or 'upwind' (positive, first order)")


def _wall_message(grid: Grid, u: np.ndarray, rtol: float) -> str | None:
    speed = float(np.sqrt((u**2).sum(axis=0)).max())
    walls = [(label, value) for label, value in _wall_normal_maxima(grid, u)
             if value > rtol * speed]
    if not walls:
        return None
    worst = max(value for _, value in walls)
    return (f"velocity has a normal component at the no-flux wall(s) "
            f"{', '.join(label for label, _ in walls)}: max |u·n| = {worst:.4g} "
            f"({100 * worst / speed:.3g} % of max|u| = {speed:.4g}); the flow carries scalar "
            "through walls that should not let it through, so the mass is not conserved — "
            "make u·n = 0 on the walls (e.g. a velocity from a stream function with ψ = 0 on "
            "the boundary), or use bc='dirichlet' on that axis if the wall is meant to let "
            "scalar out (absorbing, θ = 0)")


def check_physics(grid: Grid, kappa: float, scheme: str, u: np.ndarray, *,
                  skip: Collection[str] = (), rtol: float = WALL_NORMAL_RTOL) -> set[str]:
    r"""Warn when the discretised problem is probably not the one meant.

    Two checks, named as in :data:`PHYSICS_CHECKS`:

    ``"cell_peclet"``
        :func:`cell_peclet` :math:`> 1` with the central scheme (upwind and exponential
        fitting are positive for every Péclet number).
    ``"wall_normal_velocity"``
        :func:`wall_normal_velocity` :math:`> \mathrm{rtol}\cdot\max_i|\mathbf u_i|` (any
        scheme): the no-flux walls are not no-flux for this u.

    Each emits one :class:`~advdiff_sens.exceptions.PhysicsWarning` naming the quantity, its
    value and the remedy, attributed to the first caller outside the package.

    Parameters
    ----------
    grid : Grid
    kappa : float
        Diffusivity κ > 0.
    scheme : {"central", "upwind", "exponential"}
    u : ndarray, shape (ndim, *grid.shape)
        Nodal velocity (already validated).
    skip : collection of str
        Checks not to run (e.g. those already warned about).
    rtol : float
        Relative threshold of the wall check, so that rounding (u·n ≈ 1e-16 max|u| from
        an analytic tangential field) does not warn.

    Returns
    -------
    set of str
        The checks that warned.
    """
    rtol = check_nonnegative_scalar(rtol, "rtol")
    messages = {}
    if "cell_peclet" not in skip and scheme == "central":
        messages["cell_peclet"] = _peclet_message(grid, kappa, u)
    if "wall_normal_velocity" not in skip:
        messages["wall_normal_velocity"] = _wall_message(grid, u, rtol)
    warned = set()
    for kind, message in messages.items():
        if message is not None:
            warnings.warn(message, PhysicsWarning, stacklevel=_user_stacklevel())
            warned.add(kind)
    return warned
