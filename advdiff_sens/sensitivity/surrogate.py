r"""The frozen-coefficient surrogate and its adjoint, side by side.

First order (1.6): :math:`ρ ≈ t e^{tL}Jθ_0`; third order (4.1); asymptotic (corrected
Theorem 2.1), all by :func:`advdiff_sens.matrix.surrogate_action` (:func:`surrogate`). The
first-order surrogate's adjoint needs one backward solve and no quadrature
(:class:`SurrogateAdjoint`): :math:`∂Φ/∂u_{a} ≈ w ⊙ (P_aθ_0)` with
:math:`w = \sum_j t_j e^{t_jL^T} g_j`. It is exact when every :math:`J(\mathbf v)` commutes
with :math:`L` (constant u and v on a periodic grid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.matrix import Backend, Propagator, surrogate_action
from advdiff_sens.sensitivity.base import (
    ADJOINTS,
    Adjoint,
    GradientProblem,
    GradientResult,
)
from advdiff_sens.validation import as_real_array, as_times

__all__ = ["surrogate", "SurrogateAdjoint", "SurrogateAdjointInfo", "surrogate_adjoint_gradient"]


def surrogate(L, J, theta0: np.ndarray, t, order, *, backend: str | Backend) -> np.ndarray:
    r"""Surrogate of :math:`ρ(t)`: order 1, (1.6), :math:`ρ ≈ t\,e^{tL}Jθ_0`; order 3, (4.1);
    or ``"asymptotic"`` (corrected Theorem 2.1) — see
    :func:`advdiff_sens.matrix.surrogate_action`.

    Parameters
    ----------
    L : ndarray or scipy sparse matrix, shape (n, n)
        The generator.
    J : ndarray or scipy sparse matrix, shape (n, n)
        :math:`J(\mathbf v) = ∂L/∂\mathbf u[\mathbf v]`.
    theta0 : ndarray, shape (n,)
    t : float or array_like
        A time or increasing times.
    order : {1, 3, "asymptotic"}
    backend : Backend or str
        Propagator backend.

    Returns
    -------
    ndarray
        Shape ``(n,)`` for scalar ``t``, else ``(m, n)``.

    Examples
    --------
    For :math:`L = -1`, :math:`J = 1` (they commute) order 1 is exact,
    :math:`ρ(t) = t e^{-t}θ_0`:

    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import surrogate
    >>> rho = surrogate(np.array([[-1.0]]), np.array([[1.0]]), np.array([1.0]), 2.0, 1,
    ...                 backend="auto")
    >>> bool(abs(rho[0] - 2 * np.exp(-2.0)) < 1e-12)
    True
    """
    return surrogate_action(L, J, theta0, t, order=order, backend=backend)


def surrogate_adjoint_gradient(adjoint_propagator: Propagator, partials: list,
                               theta0: np.ndarray, times: np.ndarray, grads: np.ndarray, *,
                               with_theta0: bool = False):
    r"""First-order surrogate gradient :math:`w ⊙ (P_aθ_0)`, :math:`w = \sum_j t_j e^{t_jL^T}g_j`.

    The adjoint of (1.6): :math:`g^T t e^{tL}J(\mathbf v)θ_0 = \sum_a v_a·(t e^{tL^T}g ⊙
    P_aθ_0)`; ``w`` is accumulated in one backward sweep,
    :math:`w ← e^{(t_j − t_{j−1})L^T}(w + t_j g_j)` from the last time to 0.

    Parameters
    ----------
    adjoint_propagator : Propagator
        :math:`e^{τL^T}`.
    partials : list of matrices
        :math:`P_a`, one per velocity component.
    theta0 : ndarray, shape (n,)
    times : ndarray, shape (k,)
        Increasing observation times.
    grads : ndarray, shape (k, n)
        :math:`g_j = ∂Φ/∂θ(t_j)`.

    with_theta0 : bool
        Also return the exact :math:`∂Φ/∂θ_0 = λ(0) = \sum_j e^{t_jL^T}g_j` (the surrogate
        approximates the velocity derivative only), accumulated in the same sweep as a
        second column, :math:`λ ← e^{(t_j − t_{j−1})L^T}(λ + g_j)`.

    Returns
    -------
    gradient : ndarray, shape (len(partials), n)
    theta0_gradient : ndarray, shape (n,)
        Only with ``with_theta0``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import surrogate_adjoint_gradient
    >>> grad = surrogate_adjoint_gradient(Propagator(np.array([[-1.0]])), [np.array([[1.0]])],
    ...                                   np.array([1.0]), np.array([2.0]), np.ones((1, 1)))
    >>> bool(abs(grad[0, 0] - 2 * np.exp(-2.0)) < 1e-12)        # exact: L and P commute
    True
    >>> _, grad0 = surrogate_adjoint_gradient(Propagator(np.array([[-1.0]])),
    ...                                       [np.array([[1.0]])], np.array([1.0]),
    ...                                       np.array([2.0]), np.ones((1, 1)), with_theta0=True)
    >>> bool(abs(grad0[0] - np.exp(-2.0)) < 1e-12)
    True
    """
    times, _ = as_times(times, "times")
    grads = as_real_array(grads, "grads", shape=(times.size, adjoint_propagator.shape[0]))
    starts = np.concatenate([[0.0], times[:-1]])
    if not with_theta0:
        w = np.zeros_like(grads[0])
        for j in range(len(times) - 1, -1, -1):
            w = adjoint_propagator.apply(w + times[j] * grads[j], float(times[j] - starts[j]))
        return np.stack([w * (P @ theta0) for P in partials])
    wl = np.zeros((grads.shape[1], 2))                 # columns: w and λ
    for j in range(len(times) - 1, -1, -1):
        wl = adjoint_propagator.apply(wl + np.stack([times[j] * grads[j], grads[j]], axis=1),
                                      float(times[j] - starts[j]))
    return np.stack([wl[:, 0] * (P @ theta0) for P in partials]), wl[:, 1].copy()


@dataclass(frozen=True)
class SurrogateAdjointInfo:
    """Diagnostics of a :class:`SurrogateAdjoint` gradient.

    Attributes
    ----------
    order : int
        The surrogate's order.
    backward_solves : int
        Solves with :math:`e^{τL^T}` (one per observation time).
    method : str
        ``"surrogate"``.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16,), bc="periodic"), kappa=0.05)
    >>> u, theta0 = np.ones((1, 16)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> objective = lambda th: (float(th.sum()), np.ones_like(th))
    >>> model.gradient(u, theta0, objective, [0.1, 0.2], adjoint="surrogate").info
    SurrogateAdjointInfo(order=1, backward_solves=2, method='surrogate')
    """

    order: int
    backward_solves: int
    method: str = "surrogate"


@ADJOINTS.register("surrogate")
@dataclass(frozen=True)
class SurrogateAdjoint(Adjoint):
    r"""Gradient of the first-order surrogate (1.6): one backward solve, no quadrature.

    An approximation of the exact gradient, exact when every :math:`J(\mathbf v)` commutes
    with :math:`L` (module docstring); cheap, for optimisers' early iterations and for
    comparing with the exact adjoint (the note's open question).

    Parameters
    ----------
    order : int
        The surrogate's order; 1 (the only one with an adjoint here).

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
    >>> u, theta0 = np.ones((1, 32)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> w = np.cos(2 * np.pi * model.grid.coords[0])
    >>> objective = lambda th: (float(th @ w), w)
    >>> exact = model.gradient(u, theta0, objective, 0.3)
    >>> cheap = model.gradient(u, theta0, objective, 0.3, adjoint="surrogate")
    >>> v = np.ones((1, 32))            # constant u and v: J commutes with L
    >>> bool(abs(np.sum(cheap.gradient * v) - np.sum(exact.gradient * v)) < 1e-10)
    True
    """

    order: int = 1
    name = "surrogate"

    def __post_init__(self) -> None:
        if self.order != 1 or isinstance(self.order, bool):
            raise ValueError(f"order must be 1 (only the first-order surrogate (1.6) has an "
                             f"adjoint here), got {self.order!r}")

    def gradient(self, problem: GradientProblem) -> GradientResult:
        value, grads = problem.evaluate(problem.forward_states())
        info = SurrogateAdjointInfo(self.order, problem.times.size)
        if not problem.want_theta0:
            grad = surrogate_adjoint_gradient(problem.transpose(), problem.partials,
                                              problem.theta0, problem.times, grads)
            return GradientResult(value, grad, info)
        grad, theta0_grad = surrogate_adjoint_gradient(problem.transpose(), problem.partials,
                                                       problem.theta0, problem.times, grads,
                                                       with_theta0=True)
        return GradientResult(value, grad, info, theta0_gradient=theta0_grad)
