r"""The continuous adjoint by adaptive quadrature, for any backend.

For :math:`Φ(θ(t_1), …, θ(t_k))` with :math:`g_j = ∂Φ/∂θ(t_j)` and the adjoint
:math:`λ(s) = \sum_{t_j ≥ s} e^{(t_j − s)L^T} g_j`,

.. math::

    \frac{dΦ}{d\mathbf u}[\mathbf v] = \sum_j \int_0^{t_j} g_j^T e^{(t_j-s)L} J e^{sL}θ_0\,ds
    = \int_0^{t_k} λ(s)^T J(\mathbf v)\,θ(s)\,ds, \qquad
    \frac{∂Φ}{∂u_{a,i}} = \int_0^{t_k} λ_i(s)\,(P_aθ(s))_i\,ds,

the discrete form of (4.7) with its sign corrected. λ jumps by :math:`g_j` at each
:math:`t_j`, so the integral is taken panel by panel with
:func:`advdiff_sens.sensitivity.quadrature.adaptive_gauss_kronrod`, its first partition graded
toward the panel's end down to :math:`1/\|L\|_1` (the width of the point-sensor layer of λ,
~h²/κ) and, on the first panel, toward s = 0 (a rough θ0's layer; θ is smooth at later panel
starts); θ and λ at the quadrature nodes come from stepping the nearest stored state
(:class:`StateCache`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from advdiff_sens.matrix import Propagator
from advdiff_sens.matrix.expm import check_finite_result
from advdiff_sens.matrix.norms import norm1
from advdiff_sens.sensitivity.base import (
    ADJOINTS,
    Adjoint,
    GradientProblem,
    GradientResult,
)
from advdiff_sens.sensitivity.quadrature import adaptive_gauss_kronrod
from advdiff_sens.validation import check_integer, check_positive_scalar

__all__ = ["StateCache", "QuadratureAdjoint", "QuadratureAdjointInfo",
           "quadrature_adjoint_gradient"]


class StateCache:
    r"""States :math:`x(s)` of :math:`\dot x = ±Ax` reached from the nearest stored state.

    ``direction=+1``: :math:`x(s) = e^{(s − c)A}x(c)` from the latest stored time
    :math:`c ≤ s`; ``direction=-1``: :math:`x(s) = e^{(c − s)A}x(c)` from the earliest stored
    time :math:`c ≥ s` (the adjoint, with ``A = L^T``), ``propagator`` applying
    :math:`e^{τA}`. Every computed state is stored, so the memory is ``len(self) × n``
    values.

    Parameters
    ----------
    propagator : Propagator
        Applies :math:`e^{τA}`.
    direction : {+1, -1}
        Forward (states from the left) or backward (from the right).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import StateCache
    >>> cache = StateCache(Propagator(np.array([[-1.0]])), +1)
    >>> cache.add(0.0, np.array([1.0]))
    >>> x = cache.at_many(np.array([0.5, 2.0]))             # from the state at s = 0
    >>> bool(np.allclose(x[:, 0], np.exp([-0.5, -2.0]), rtol=1e-12)), len(cache)
    (True, 3)
    >>> y = cache.at_many(np.array([2.5, 2.5, 3.0]))          # repeated times are fine
    >>> bool(np.array_equal(y[0], y[1])), len(cache)
    (True, 5)
    """

    def __init__(self, propagator: Propagator, direction: int) -> None:
        self.propagator, self.direction = propagator, direction
        self._times: list[float] = []
        self._states: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._times)

    def add(self, s: float, x: np.ndarray) -> None:
        """Store the state ``x`` at time ``s`` (replacing one already there)."""
        k = bisect.bisect_left(self._times, s)
        if k < len(self._times) and self._times[k] == s:
            self._states[k] = x
        else:
            self._times.insert(k, s)
            self._states.insert(k, x)

    def _base(self, s: float) -> int:
        """Index of the stored state the states at ``s`` are computed from."""
        if self.direction > 0:
            k = bisect.bisect_right(self._times, s) - 1
        else:
            k = bisect.bisect_left(self._times, s)
        if k < 0 or k >= len(self._times):
            side = "left" if self.direction > 0 else "right"
            raise ValueError(f"no stored state on the {side} of s={s}")
        return k

    def at(self, s: float) -> np.ndarray:
        """The state at time ``s`` (computed and stored if new)."""
        return self.at_many(np.array([s]))[0]

    def at_many(self, s: np.ndarray) -> np.ndarray:
        """States at the sorted times ``s`` (shape ``(len(s), n)``), stored.

        All of them are reached in one propagation, with the offsets as output times (one
        schedule, one pass with dense output), from the stored state nearest to the first
        time in the direction of propagation; the quadrature asks for the nodes of adjacent
        intervals at once, so that state is at most one interval away.
        """
        k = self._base(float(s[0] if self.direction > 0 else s[-1]))
        # distinct offsets in increasing order (times can repeat: the nodes of adjacent
        # intervals, or nodes that round to the same value)
        offsets, inverse = np.unique(np.abs(s - self._times[k]), return_inverse=True)
        states = np.empty((offsets.size, self._states[k].size), dtype=self._states[k].dtype)
        fresh = offsets > 0
        states[~fresh] = self._states[k]
        if fresh.any():
            states[fresh] = self.propagator.apply(self._states[k], offsets[fresh])
        out = states[inverse.ravel()]
        for x, state in zip(s, out):
            self.add(float(x), state)
        return out

    def nbytes(self) -> int:
        """Memory held by the stored states."""
        return sum(x.nbytes for x in self._states)


@dataclass(frozen=True)
class QuadratureAdjointInfo:
    """Diagnostics of a :class:`QuadratureAdjoint` gradient.

    Attributes
    ----------
    error_estimate : float
        Estimated absolute quadrature error of the gradient field (2-norm).
    relative_error_estimate : float
        ``error_estimate / ‖gradient‖``.
    nodes : int
        Quadrature nodes ((θ, λ) state pairs evaluated).
    nbytes : int
        Peak memory of the stored forward and adjoint states.
    converged : bool
        Whether every panel met the tolerance.
    method : str
        ``"quadrature"``.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16,), bc="periodic"), kappa=0.05)
    >>> u, theta0 = np.ones((1, 16)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> info = model.gradient(u, theta0, lambda th: (float(th.sum()), np.ones(16)), 0.2,
    ...                       adjoint="quadrature").info
    >>> info.method, info.converged, info.nodes % 15        # whole 15-point rules
    ('quadrature', True, 0)
    """

    error_estimate: float
    relative_error_estimate: float
    nodes: int
    nbytes: int
    converged: bool
    method: str = "quadrature"


def quadrature_adjoint_gradient(forward_propagator: Propagator,
                                adjoint_propagator: Propagator, partials: list,
                                theta0: np.ndarray, times: np.ndarray, thetas: np.ndarray,
                                grads: np.ndarray, *, rtol: float = 1e-10,
                                max_intervals: int = 400
                                ) -> tuple[np.ndarray, np.ndarray, QuadratureAdjointInfo]:
    r"""Adjoint gradient :math:`∂Φ/∂u_{a,i} = \int_0^{t_k} λ_i(s)(P_aθ(s))_i\,ds`, the discrete
    form of (4.7) (module docstring), by adaptive quadrature.

    Parameters
    ----------
    forward_propagator, adjoint_propagator : Propagator
        :math:`e^{τL}` and :math:`e^{τL^T}` for :math:`L = L(\mathbf u)`.
    partials : list of sparse matrices
        :math:`P_a` for each axis.
    theta0 : ndarray (n,)
    times : ndarray (k,)
        Increasing observation times.
    thetas : ndarray (k, n)
        :math:`θ(t_j)`, already computed by the forward solve (stored as states).
    grads : ndarray (k, n)
        :math:`g_j = ∂Φ/∂θ(t_j)`.
    rtol : float
        Relative tolerance of the quadrature on each panel.
    max_intervals : int
        Largest number of Gauss–Kronrod intervals per panel.

    Returns
    -------
    gradient : ndarray (len(partials), n)
    theta0_gradient : ndarray (n,)
        The adjoint state at the start, :math:`λ(0) = ∂Φ/∂θ_0` (where the sweep ends).
    info : QuadratureAdjointInfo

    Examples
    --------
    :math:`Φ = θ(2)` for :math:`L = -1 + p`: :math:`∂Φ/∂p = \int_0^2 e^{-(2-s)}e^{-s}ds = 2e^{-2}`.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import quadrature_adjoint_gradient
    >>> L = np.array([[-1.0]])
    >>> theta0, times = np.array([1.0]), np.array([2.0])
    >>> thetas = np.exp(-times)[:, None]
    >>> grad, grad0, info = quadrature_adjoint_gradient(Propagator(L), Propagator(L.T),
    ...                                                 [np.array([[1.0]])], theta0, times,
    ...                                                 thetas, np.ones((1, 1)))
    >>> bool(abs(grad[0, 0] - 2 * np.exp(-2.0)) < 1e-12), info.converged
    (True, True)
    >>> bool(abs(grad0[0] - np.exp(-2.0)) < 1e-12)            # λ(0) = e^{-2}
    True
    """
    forward = StateCache(forward_propagator, +1)
    forward.add(0.0, theta0)
    for t, th in zip(times, thetas):
        forward.add(float(t), th)
    fastest = 1.0 / max(norm1(forward_propagator.A), 1e-300)   # 1/‖L‖₁: layer width
    ndim = len(partials)
    total = np.zeros((ndim, theta0.size))
    error, nodes, peak, converged = 0.0, 0, 0, True
    lam_end = np.zeros_like(grads[0])
    starts = np.concatenate([[0.0], times[:-1]])
    for j in range(len(times) - 1, -1, -1):
        lam_end = lam_end + grads[j]
        a, b = float(starts[j]), float(times[j])
        if b == a:
            continue
        adjoint = StateCache(adjoint_propagator, -1)
        adjoint.add(b, lam_end)

        def integrand(s_nodes: np.ndarray, adjoint=adjoint) -> np.ndarray:
            thetas_s = forward.at_many(s_nodes)
            lambdas_s = adjoint.at_many(s_nodes)
            return np.stack([(P @ thetas_s.T).T for P in partials], axis=1) * lambdas_s[:, None, :]

        # λ has its layer at the panel end; θ only at s = 0 (a rough θ0)
        ends = (fastest if j == 0 else None, fastest)
        result = adaptive_gauss_kronrod(integrand, a, b, rtol=rtol,
                                         end_width=ends, max_intervals=max_intervals)
        total += result.value
        error += result.error_estimate
        nodes += result.nodes.size
        converged &= result.converged
        lam_end = adjoint.at(a)
        peak = max(peak, forward.nbytes() + adjoint.nbytes())
    total = check_finite_result(total, "the quadrature adjoint gradient")
    norm = float(np.linalg.norm(total))
    info = QuadratureAdjointInfo(error, error / norm if norm > 0 else 0.0, nodes, peak,
                                 converged)
    lam_end = check_finite_result(lam_end, "the adjoint state at s = 0")
    return total, lam_end, info


@ADJOINTS.register("quadrature")
@dataclass(frozen=True)
class QuadratureAdjoint(Adjoint):
    r"""Adaptive Gauss–Kronrod quadrature of the continuous adjoint (module docstring),
    panel by panel between observation times, with an error estimate; any backend.

    Parameters
    ----------
    rtol : float
        Relative tolerance (estimated error / ‖gradient‖ per panel).
    max_intervals : int
        Largest number of Gauss–Kronrod intervals per panel.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.sensitivity import QuadratureAdjoint
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
    >>> u, theta0 = np.ones((1, 32)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> result = model.gradient(u, theta0, lambda th: (0.5 * float(th @ th), th), 0.3,
    ...                         adjoint=QuadratureAdjoint(rtol=1e-8))
    >>> result.info.converged
    True
    """

    rtol: float = 1e-10
    max_intervals: int = 400
    name = "quadrature"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtol", check_positive_scalar(self.rtol, "rtol"))
        object.__setattr__(self, "max_intervals",
                           check_integer(self.max_intervals, "max_intervals", minimum=1))

    def gradient(self, problem: GradientProblem) -> GradientResult:
        thetas = problem.forward_states()
        value, grads = problem.evaluate(thetas)
        grad, theta0_grad, info = quadrature_adjoint_gradient(
            problem.forward, problem.transpose(), problem.partials, problem.theta0,
            problem.times, thetas, grads, rtol=self.rtol, max_intervals=self.max_intervals)
        return GradientResult(value, grad, info,
                              theta0_gradient=theta0_grad if problem.want_theta0 else None)
