r"""Sensitivity study: every method on one problem, side by side.

For a velocity direction :math:`\mathbf v` and a point-sensor objective
:math:`Φ(θ) = \tfrac12\|Hθ(T)\|^2`, :func:`compare_methods` computes
:math:`dΦ/d\mathbf u[\mathbf v] = g^Tρ(T)` (:math:`g = H^THθ(T)`) by the tangent (reference),
a central finite difference, the adjoint gradient (discrete and quadrature), the surrogates
of order 1, 3 and "asymptotic" (the last only when :math:`L` is a rate matrix), and the
first-order surrogate gradient, with the time each took. Used by the ``sensitivity`` CLI command and
``examples/sensitivity_map.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from advdiff_sens.discretisation.observations import LeastSquaresObjective
from advdiff_sens.matrix import is_rate_matrix
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.sensitivity import AutoAdjoint, QuadratureAdjoint, SurrogateAdjoint

__all__ = ["MethodRow", "SensitivityStudy", "compare_methods", "default_direction",
           "lattice_sensors"]


@dataclass
class MethodRow:
    """One line of the methods table.

    Attributes
    ----------
    method : str
        The method's name.
    directional_derivative : float
        Its :math:`dΦ/d\\mathbf u[\\mathbf v]` (NaN for the forward solve).
    relative_error : float
        Relative to the tangent.
    seconds : float
        Wall-clock time of the call.

    Examples
    --------
    >>> from advdiff_sens.comparison import MethodRow
    >>> MethodRow("tangent (exact)", 1.5, 0.0, 0.01).relative_error
    0.0
    """

    method: str
    directional_derivative: float
    relative_error: float
    seconds: float


@dataclass
class SensitivityStudy:
    """Rows of the table and the fields to plot (``grid.shape`` arrays).

    Attributes
    ----------
    rows : list of MethodRow
    theta : ndarray
        :math:`θ(T)`.
    rho : ndarray
        The tangent :math:`ρ(T)` in the direction ``v``.
    gradient : ndarray, shape (ndim, *grid.shape)
        The adjoint gradient.
    surrogate_error : ndarray
        First-order surrogate minus tangent.
    sensors : ndarray, shape (m, ndim)
    notes : list of str
        Lines printed after the table (adjoint memory and error estimates).

    Examples
    --------
    See :func:`compare_methods`.

    >>> from advdiff_sens.comparison import SensitivityStudy
    >>> [name for name in SensitivityStudy.__dataclass_fields__][:3]
    ['rows', 'theta', 'rho']
    """

    rows: list[MethodRow]
    theta: np.ndarray
    rho: np.ndarray
    gradient: np.ndarray
    surrogate_error: np.ndarray
    sensors: np.ndarray
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The rows as a Markdown table."""
        lines = ["| method | dΦ/du[v] | rel. error vs tangent | seconds |", "|---|---|---|---|"]
        lines += [f"| {r.method} | {r.directional_derivative:.10e} | {r.relative_error:.1e} | "
                  f"{r.seconds:.3f} |" for r in self.rows]
        return "\n".join(lines + self.notes)


def default_direction(model: AdvectionDiffusion) -> np.ndarray:
    """The smooth direction :math:`\\mathbf v = (\\cos 2πy, \\sin 2πx)` (2-D) or ``ones``.

    Parameters
    ----------
    model : AdvectionDiffusion

    Returns
    -------
    ndarray, shape (ndim, *grid.shape)

    Examples
    --------
    >>> import advdiff_sens as ads
    >>> from advdiff_sens.comparison import default_direction
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16, 16), bc="periodic"), kappa=0.05)
    >>> v = default_direction(model)
    >>> v.shape, float(v[0][0, 0]), float(v[1][0, 0])
    ((2, 16, 16), 1.0, 0.0)
    """
    if model.grid.ndim == 2:
        x, y = model.grid.coords
        return np.stack([np.cos(2 * np.pi * y / model.grid.extent[1]),
                         np.sin(2 * np.pi * x / model.grid.extent[0])])
    return np.ones((model.grid.ndim, *model.grid.shape))


def lattice_sensors(model: AdvectionDiffusion, per_axis: int = 4) -> np.ndarray:
    """``per_axis**ndim`` sensors on a regular lattice inside the domain, shape (m, ndim).

    Parameters
    ----------
    model : AdvectionDiffusion
    per_axis : int
        Sensors per axis, at the cell centres of a ``per_axis``-cell partition.

    Returns
    -------
    ndarray, shape (per_axis**ndim, ndim)

    Examples
    --------
    >>> import advdiff_sens as ads
    >>> from advdiff_sens.comparison import lattice_sensors
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16, 16), bc="periodic"), kappa=0.05)
    >>> sensors = lattice_sensors(model, 2)
    >>> sensors.tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    axes = [(np.arange(per_axis) + 0.5) / per_axis * e for e in model.grid.extent]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def compare_methods(model: AdvectionDiffusion, u, theta0, T: float, *, v=None, sensors=None,
                    fd_step: float = 1e-5, rtol: float = 1e-10) -> SensitivityStudy:
    r"""Run every sensitivity method on one problem (module docstring).

    The reference is the tangent's :math:`g^Tρ(T)`; every other row reports its relative
    error against it and its wall-clock time.

    Parameters
    ----------
    model : AdvectionDiffusion
    u : array_like, shape (ndim, *grid.shape)
        The velocity.
    theta0 : array_like, shape grid.shape
        Real initial state.
    T : float
        The final time.
    v : array_like, shape (ndim, *grid.shape), optional
        The direction; default :func:`default_direction`.
    sensors : array_like, shape (m, ndim), optional
        Point sensors of :math:`H`; default :func:`lattice_sensors`.
    fd_step : float
        Step of the central finite difference.
    rtol : float
        Tolerance of the quadrature adjoint.

    Returns
    -------
    SensitivityStudy

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.comparison import compare_methods
    >>> from advdiff_sens.problems import gaussian_blob
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16,), bc="periodic"), kappa=0.05)
    >>> u = 1 + 0.5 * np.sin(2 * np.pi * model.grid.coords[0])[None]
    >>> study = compare_methods(model, u, gaussian_blob(model.grid, 0.3, 0.02), 0.2)
    >>> study.rows[1].method
    'tangent (exact)'
    >>> max(r.relative_error for r in study.rows if r.method.startswith("adjoint")) < 1e-10
    True
    >>> study.table().splitlines()[0]
    '| method | dΦ/du[v] | rel. error vs tangent | seconds |'
    """
    v = default_direction(model) if v is None else model.grid.check_velocity(v, "v")
    sensors = lattice_sensors(model) if sensors is None else np.asarray(sensors, dtype=float)
    objective = LeastSquaresObjective(model.grid, sensors, np.zeros((1, len(sensors))))

    def phi(theta):
        value, grad = objective(theta[None])
        return value, grad[0]

    theta, t_fwd = _timed(lambda: model.solve(u, theta0, T))
    _, g = phi(theta)
    rho, t_tan = _timed(lambda: model.tangent(u, theta0, v, T))
    reference = float(np.sum(g * rho))
    rows = [MethodRow("forward solve (θ only)", float("nan"), float("nan"), t_fwd),
            MethodRow("tangent (exact)", reference, 0.0, t_tan)]

    def add(name, value, seconds):
        rows.append(MethodRow(name, value, abs(value - reference) / abs(reference), seconds))

    fd, t_fd = _timed(lambda: (phi(model.solve(u + fd_step * v, theta0, T))[0]
                               - phi(model.solve(u - fd_step * v, theta0, T))[0]) / (2 * fd_step))
    add(f"central finite difference (ε={fd_step:g})", fd, t_fd)
    quadrature_adjoint = QuadratureAdjoint(rtol=rtol)
    result, t_adj = _timed(lambda: model.gradient(
        u, theta0, phi, T, adjoint=AutoAdjoint(fallback=quadrature_adjoint)))
    add(f"adjoint gradient, {result.info.method} (all {v.size} parameters)",
        float(np.sum(result[1] * v)), t_adj)
    quadrature = result
    if result.info.method != "quadrature":
        quadrature, t_quad = _timed(lambda: model.gradient(u, theta0, phi, T,
                                                           adjoint=quadrature_adjoint))
        add(f"adjoint gradient, quadrature (all {v.size} parameters)",
            float(np.sum(quadrature[1] * v)), t_quad)
    surrogate_rho = {}
    orders = [1, 3] + (["asymptotic"] if is_rate_matrix(model.generator(u)) else [])
    for order in orders:
        surrogate_rho[order], seconds = _timed(
            lambda order=order: model.surrogate(u, theta0, v, T, order=order))
        add(f"surrogate, order {order}", float(np.sum(g * surrogate_rho[order])), seconds)
    sg, t_sg = _timed(lambda: model.gradient(u, theta0, phi, T, adjoint=SurrogateAdjoint()))
    add("surrogate gradient, order 1 (all parameters)", float(np.sum(sg[1] * v)), t_sg)
    notes = [f"\nadjoint quadrature: {quadrature.info.nodes} nodes, estimated relative error "
             f"{quadrature.info.relative_error_estimate:.1e}, stored states "
             f"{quadrature.info.nbytes / 2**20:.1f} MiB"]
    if result.info.method == "discrete":
        notes.append(f"discrete adjoint: {result.info.checkpoints} checkpoints, "
                     f"{result.info.nbytes / 2**20:.1f} MiB, a priori relative "
                     f"error bound {result.info.relative_error_bound:.1e}")
    if "asymptotic" not in orders:
        notes.append("asymptotic surrogate skipped: L(u) is not a rate matrix here")
    return SensitivityStudy(rows, theta, rho, result[1], surrogate_rho[1] - rho, sensors, notes)
