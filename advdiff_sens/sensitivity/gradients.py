r"""Velocity sensitivity of :math:`θ(t) = e^{tL(\mathbf u)}θ_0`: tangent, adjoint and surrogates.

Notation: :math:`J(\mathbf v) = ∂L/∂\mathbf u[\mathbf v] = \sum_a \operatorname{diag}(v_a)P_a`
(:mod:`advdiff_sens.discretisation.operators`), :math:`ρ(t) = ∂θ(t)/∂\mathbf u[\mathbf v]`.

* **Tangent** (exact): ρ solves the sensitivity equation :math:`\dot ρ = Lρ + Jθ`,
  :math:`ρ(0) = 0` ((1.3), and the corrected (4.6): the source term is :math:`−\mathbf v·∇θ`
  for central differences), i.e. :math:`ρ(t) = ∇_J e^{tL}θ_0`, computed by the matrix
  level's :func:`advdiff_sens.matrix.expm_frechet_action` (block-triangular system).
* **Adjoint** (all nodal parameters at once), two methods:

  - ``"discrete"`` (default with the Chebyshev backend): reverse mode of the tangent's own
    polynomial propagator (:mod:`advdiff_sens.matrix.expm.reverse`): one recorded forward pass,
    one recomputation and one backward Clenshaw pass (three forward solves of products plus
    the contractions, measured 3.3–3.8× a forward solve at 256², ``bench_sensitivity.py``), memory
    bounded by a checkpoint count; gradient · v equals the tangent to rounding, with no
    quadrature error.
  - ``"quadrature"`` (any backend): the continuous adjoint below.

  For :math:`Φ(θ(t_1), …, θ(t_k))` with
  :math:`g_j = ∂Φ/∂θ(t_j)` and the adjoint :math:`λ(s) = \sum_{t_j ≥ s} e^{(t_j − s)L^T} g_j`,

  .. math::

      \frac{dΦ}{d\mathbf u}[\mathbf v] = \sum_j \int_0^{t_j} g_j^T e^{(t_j-s)L} J e^{sL}θ_0\,ds
      = \int_0^{t_k} λ(s)^T J(\mathbf v)\,θ(s)\,ds, \qquad
      \frac{∂Φ}{∂u_{a,i}} = \int_0^{t_k} λ_i(s)\,(P_aθ(s))_i\,ds,

  the discrete form of (4.7). λ jumps by :math:`g_j` at each :math:`t_j`, so the integral is
  taken panel by panel with :func:`advdiff_sens.sensitivity.quadrature.adaptive_gauss_kronrod`, its
  first partition graded toward the panel's end down to :math:`1/\|L\|_1` (the width of
  the point-sensor layer of λ, ~h²/κ) and, on the first panel, toward s = 0 (a rough θ0's
  layer; θ is smooth at later panel starts); θ and λ at the quadrature
  nodes come from stepping the nearest stored state (checkpoint).
* **Surrogates**: first order (1.6) :math:`ρ ≈ t e^{tL}Jθ_0`, third order (4.1), asymptotic
  (corrected Theorem 2.1), all from :func:`advdiff_sens.matrix.surrogate_action`. The
  first-order surrogate gradient needs one adjoint solve and no quadrature:
  :math:`∂Φ/∂u_{a} ≈ w ⊙ (P_aθ_0)` with :math:`w = \sum_j t_j e^{t_jL^T} g_j`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import as_real_array, as_times, check_positive_scalar
from advdiff_sens.matrix import expm_frechet_actions, surrogate_action
from advdiff_sens.matrix.expm.reverse import ExpmTape
from advdiff_sens.matrix.expm.propagator import Propagator, _norm2_bound, check_finite_result
from advdiff_sens.sensitivity.quadrature import adaptive_gauss_kronrod

__all__ = ["tangent", "surrogate", "adjoint_gradient", "discrete_adjoint_gradient",
           "surrogate_gradient", "ADJOINT_METHODS",
           "GradientInfo", "GradientResult", "Checkpoints", "Objective",
           "check_objective_output"]

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
ADJOINT_METHODS = ("auto", "discrete", "quadrature")


def tangent(L, Js: list, theta0: np.ndarray, t, *, backend: str | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`θ(t)` and :math:`ρ_i(t) = ∇_{J_i} e^{tL}θ_0` for each direction (flat
    states; ``t`` scalar or increasing array): the velocity sensitivity (4.5), i.e. the
    solution of the sensitivity ODE (1.3) :math:`\dot ρ_i = Lρ_i + J_iθ`, :math:`ρ_i(0) = 0`,
    by
    :func:`advdiff_sens.matrix.expm_frechet_actions`: the pair propagation for one
    direction, the arrow system for several. ``L`` is the generator or its
    :class:`~advdiff_sens.matrix.expm.propagator.Propagator` (whose cached enclosure is then
    reused, and whose backend applies)."""
    return expm_frechet_actions(L, Js, theta0, t, backend=backend)


def surrogate(L, J, theta0: np.ndarray, t, order, *, backend: str) -> np.ndarray:
    r"""Surrogate of :math:`ρ(t)`: order 1, (1.6), :math:`ρ ≈ t\,e^{tL}Jθ_0`; order 3, (4.1);
    or ``"asymptotic"`` (corrected Theorem 2.1) — see
    :func:`advdiff_sens.matrix.surrogate_action`."""
    return surrogate_action(L, J, theta0, t, order=order, backend=backend)


class Checkpoints:
    r"""States :math:`x(s)` of :math:`\dot x = ±Ax` reached from the nearest stored state.

    ``direction=+1``: :math:`x(s) = e^{(s − c)A}x(c)` from the latest checkpoint :math:`c ≤ s`;
    ``direction=-1``: :math:`x(s) = e^{(c − s)A}x(c)` from the earliest checkpoint
    :math:`c ≥ s` (the adjoint, with ``A = L^T``), ``propagator`` applying :math:`e^{τA}`.
    Every computed state is stored, so the memory is ``len(self) × n`` values.
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
        """Index of the checkpoint states at ``s`` are computed from."""
        if self.direction > 0:
            k = bisect.bisect_right(self._times, s) - 1
        else:
            k = bisect.bisect_left(self._times, s)
        if k < 0 or k >= len(self._times):
            side = "left" if self.direction > 0 else "right"
            raise ValueError(f"no checkpoint on the {side} of s={s}")
        return k

    def at(self, s: float) -> np.ndarray:
        """The state at time ``s`` (computed and stored if new)."""
        return self.at_many(np.array([s]))[0]

    def at_many(self, s: np.ndarray) -> np.ndarray:
        """States at the sorted times ``s`` (shape ``(len(s), n)``), stored as checkpoints.

        All of them are reached in one propagation, with the offsets as output times (one
        schedule, one pass with dense output), from the checkpoint nearest to the first time
        in the direction of propagation; the quadrature asks for the nodes of adjacent
        intervals at once, so that checkpoint is at most one interval away.
        """
        k = self._base(float(s[0] if self.direction > 0 else s[-1]))
        offsets = np.abs(s - self._times[k])
        order = np.argsort(offsets, kind="stable")
        out = np.empty((s.size, self._states[k].size), dtype=self._states[k].dtype)
        fresh = offsets[order] > 0
        out[order[~fresh]] = self._states[k]
        if fresh.any():
            out[order[fresh]] = self.propagator.apply(self._states[k], offsets[order][fresh])
        for x, state in zip(s, out):
            self.add(float(x), state)
        return out

    def nbytes(self) -> int:
        """Memory held by the stored states."""
        return sum(x.nbytes for x in self._states)


class GradientResult(tuple):
    """``(value, gradient)`` pair that also carries :class:`GradientInfo` as ``.info``.

    Unpacks like a tuple: ``value, grad = model.gradient(...)``.
    """

    info: "GradientInfo | None"

    def __new__(cls, value: float, gradient: np.ndarray, info: "GradientInfo | None" = None):
        obj = super().__new__(cls, (value, gradient))
        obj.info = info
        return obj

    @property
    def value(self) -> float:
        """The objective value."""
        return self[0]

    @property
    def gradient(self) -> np.ndarray:
        """The gradient with respect to the velocity, shape ``(ndim, *grid.shape)``."""
        return self[1]


@dataclass
class GradientInfo:
    r"""Diagnostics of an adjoint gradient.

    Attributes
    ----------
    error_estimate : float
        Absolute error of the gradient field (2-norm): for ``"quadrature"`` the estimated
        quadrature error; for ``"discrete"`` the a priori bound
        :math:`\mathrm{tol}\,\|θ_0\|\,(\sum_a\|P_a\|_2^2)^{1/2}\sum_j t_j\|g_j\|` inherited
        from the tangent's propagator bound (rigorous when :math:`W(L)` lies in the closed
        left half-plane; typically many orders of magnitude pessimistic).
    relative_error_estimate : float
        ``error_estimate / ‖gradient‖``.
    nodes : int
        Quadrature nodes ((θ, λ) state pairs evaluated); 0 for ``"discrete"``.
    checkpoint_bytes : int
        Peak memory of the stored states (quadrature: every forward and adjoint state
        computed; discrete: the checkpoints and the block buffers of the reverse sweep).
    converged : bool
        Whether every quadrature panel met the tolerance (always True for ``"discrete"``).
    checkpoints : int
        Stored recurrence states of the discrete sweep (0 for ``"quadrature"``).
    method : str
        ``"discrete"`` or ``"quadrature"``.
    """

    error_estimate: float
    relative_error_estimate: float
    nodes: int
    checkpoint_bytes: int
    converged: bool
    checkpoints: int = 0
    method: str = "quadrature"


def adjoint_gradient(forward_propagator: Propagator, adjoint_propagator: Propagator,
                     partials: list, theta0: np.ndarray, times: np.ndarray,
                     thetas: np.ndarray, grads: np.ndarray, *,
                     rtol: float = 1e-10, max_intervals: int = 400
                     ) -> tuple[np.ndarray, GradientInfo]:
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
        :math:`θ(t_j)`, already computed by the forward solve (used as checkpoints).
    grads : ndarray (k, n)
        :math:`g_j = ∂Φ/∂θ(t_j)`.
    rtol : float
        Relative tolerance of the quadrature on each panel.

    Returns
    -------
    gradient : ndarray (ndim, n)
    info : GradientInfo
    """
    forward = Checkpoints(forward_propagator, +1)
    forward.add(0.0, theta0)
    for t, th in zip(times, thetas):
        forward.add(float(t), th)
    L = forward_propagator.A
    fastest = 1.0 / max(float(abs(L).sum(axis=0).max()), 1e-300)   # 1/‖L‖₁: layer width
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
        adjoint = Checkpoints(adjoint_propagator, -1)
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
    info = GradientInfo(error, error / norm if norm > 0 else 0.0, nodes, peak, converged,
                        method="quadrature")
    return total, info


def discrete_adjoint_gradient(tape: ExpmTape, partials: list, theta0: np.ndarray,
                              times: np.ndarray, grads: np.ndarray, tol: float
                              ) -> tuple[np.ndarray, GradientInfo]:
    r"""Adjoint gradient by the reverse sweep of a recorded forward propagation.

    :math:`∂Φ/∂u_{a} = \sum_j` (reverse mode of :math:`θ(t_j) = p_j(L)θ_0`, the propagator's
    polynomial) — the exact gradient of the computed :math:`Φ`, which approximates (4.7)
    :math:`\int_0^{t_k} λ ⊙ P_aθ\,ds` to the propagator's accuracy — by
    ``tape.pullback(grads, partials)`` (:mod:`advdiff_sens.matrix.expm.reverse`). The error bound
    of :class:`GradientInfo`,
    :math:`\mathrm{tol}\,\|θ_0\|\,(\sum_a\|P_a\|_2^2)^{1/2}\sum_j t_j\|g_j\|`, uses the
    propagator tolerance ``tol``.
    """
    tol = check_positive_scalar(tol, "tol")
    times, _ = as_times(times, "times")
    grads = as_real_array(grads, "grads", shape=(times.size, tape.states.shape[1]))
    _, total = tape.pullback(grads, partials)
    total = check_finite_result(total, "the discrete adjoint gradient")
    scale = np.sqrt(sum(_norm2_bound(P) ** 2 for P in partials))
    error = tol * float(np.linalg.norm(theta0)) * scale * float(
        np.sum(times * np.linalg.norm(grads, axis=1)))
    norm = float(np.linalg.norm(total))
    info = GradientInfo(error, error / norm if norm > 0 else 0.0, 0, tape.nbytes(),
                        True, tape.checkpoints, method="discrete")
    return total, info


def surrogate_gradient(adjoint_propagator: Propagator, partials: list, theta0: np.ndarray,
                       times: np.ndarray, grads: np.ndarray) -> np.ndarray:
    r"""First-order surrogate gradient :math:`w ⊙ (P_aθ_0)`, :math:`w = \sum_j t_j e^{t_jL^T}g_j`.

    The adjoint of (1.6): :math:`g^T t e^{tL}J(\mathbf v)θ_0 = \sum_a v_a·(t e^{tL^T}g ⊙ P_aθ_0)`;
    ``w`` is accumulated in one backward sweep,
    :math:`w ← e^{(t_j − t_{j−1})L^T}(w + t_j g_j)` from the last time to 0.
    """
    times, _ = as_times(times, "times")
    grads = as_real_array(grads, "grads", shape=(times.size, adjoint_propagator.shape[0]))
    w = np.zeros_like(grads[0])
    starts = np.concatenate([[0.0], times[:-1]])
    for j in range(len(times) - 1, -1, -1):
        w = adjoint_propagator.apply(w + times[j] * grads[j], float(times[j] - starts[j]))
    return np.stack([w * (P @ theta0) for P in partials])


def check_objective_output(result, theta_shape: tuple) -> tuple[float, np.ndarray]:
    """Validate ``objective(theta) -> (value, dvalue/dtheta)``."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError("objective must return a tuple (value, dvalue/dtheta)")
    value, dtheta = result
    if np.ndim(value) != 0 or not np.isfinite(value) or np.iscomplexobj(value):
        raise ValueError(f"objective value must be a finite real scalar, got {value!r}")
    if np.iscomplexobj(dtheta):
        raise TypeError("objective gradient must be real, got a complex array")
    dtheta = np.asarray(dtheta, dtype=float)
    if dtheta.shape != theta_shape:
        raise ValueError(f"objective gradient must have shape {theta_shape} (the shape of "
                         f"theta), got {dtheta.shape}")
    if not np.all(np.isfinite(dtheta)):
        raise ValueError("objective gradient contains NaN or inf")
    return float(value), dtheta

