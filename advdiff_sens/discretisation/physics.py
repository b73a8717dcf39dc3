r"""Checks that the discretised flow problem is the one meant: the cell Péclet number of a
scheme that is not monotone, and flow through no-flux walls.

Two checks (:func:`check_physics`, called by
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

import numpy as np

from advdiff_sens.validation import check_nonnegative_scalar
from advdiff_sens.exceptions import PhysicsWarning
from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.schemes import SCHEMES, Scheme

__all__ = ["PHYSICS_CHECKS", "WALL_NORMAL_RTOL", "cell_peclet", "wall_normal_velocity",
           "check_physics"]

#: The names of the checks :func:`check_physics` runs (its ``skip`` takes them).
PHYSICS_CHECKS = ("cell_peclet", "wall_normal_velocity")
#: Default relative threshold of the wall check (:func:`check_physics`).
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
    u : ndarray, shape ``(ndim, *grid.shape)``
        Nodal velocity.

    Returns
    -------
    float
        The cell Péclet number (0 for u = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> cell_peclet(Grid((16,), bc="periodic"), 0.01, np.ones((1, 16)))    # (1/16)/(2·0.01)
    3.125
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
    u : ndarray, shape ``(ndim, *grid.shape)``
        Nodal velocity.

    Returns
    -------
    float

    Examples
    --------
    A uniform flow along x crosses the Neumann walls ``x = 0`` and ``x = 1``; the flow
    ``u = (x(1 − x), y(1 − y))`` has no normal component on any wall:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((9, 9), bc="neumann")
    >>> x, y = grid.coords
    >>> wall_normal_velocity(grid, np.stack([np.ones_like(x), np.zeros_like(x)]))
    1.0
    >>> wall_normal_velocity(grid, np.stack([x * (1 - x), y * (1 - y)]))
    0.0
    >>> wall_normal_velocity(Grid((9, 9), bc="periodic"), np.ones((2, 9, 9)))   # no walls
    0.0
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


def check_physics(grid: Grid, kappa: float, scheme: Scheme | str, u: np.ndarray, *,
                  skip: Collection[str] = (), rtol: float = WALL_NORMAL_RTOL) -> set[str]:
    r"""Warn when the discretised problem is probably not the one meant.

    Two checks, named as in :data:`PHYSICS_CHECKS`:

    ``"cell_peclet"``
        :func:`cell_peclet` :math:`> 1` with a scheme that is not
        :attr:`~advdiff_sens.discretisation.schemes.Scheme.monotone` (the central scheme;
        upwind and exponential fitting are positive for every Péclet number).
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
    scheme : Scheme or str
        The advection scheme, or its name in :data:`~advdiff_sens.discretisation.SCHEMES`.
        The advection scheme (:mod:`advdiff_sens.discretisation.schemes`).
    u : ndarray, shape ``(ndim, *grid.shape)``
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

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> from advdiff_sens.discretisation.schemes import Central, Upwind
    >>> grid, u = Grid((16,), bc="periodic"), np.ones((1, 16))      # cell Péclet 3.125
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     check_physics(grid, 0.01, Central(), u)
    {'cell_peclet'}
    >>> check_physics(grid, 0.01, Upwind(), u)
    set()
    """
    scheme = SCHEMES.resolve(scheme, "scheme")
    rtol = check_nonnegative_scalar(rtol, "rtol")
    messages = {}
    if "cell_peclet" not in skip and not scheme.monotone:
        messages["cell_peclet"] = _peclet_message(grid, kappa, u)
    if "wall_normal_velocity" not in skip:
        messages["wall_normal_velocity"] = _wall_message(grid, u, rtol)
    warned = set()
    for kind, message in messages.items():
        if message is not None:
            warnings.warn(message, PhysicsWarning, stacklevel=_user_stacklevel())
            warned.add(kind)
    return warned
