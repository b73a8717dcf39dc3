r"""The exact velocity sensitivity and its exact adjoint, side by side.

Notation: :math:`J(\mathbf v) = ∂L/∂\mathbf u[\mathbf v] = \sum_a \operatorname{diag}(v_a)P_a`
(:mod:`advdiff_sens.discretisation`), :math:`ρ(t) = ∂θ(t)/∂\mathbf u[\mathbf v]`.

* **Tangent** (:func:`tangent`): ρ solves the sensitivity equation :math:`\dot ρ = Lρ + Jθ`,
  :math:`ρ(0) = 0` ((1.3), and the corrected (4.6): the source term is :math:`−\mathbf v·∇θ`
  for central differences), i.e. :math:`ρ(t) = ∇_J e^{tL}θ_0`, computed by the matrix
  level's :func:`advdiff_sens.matrix.expm_frechet_actions` (block-triangular system) on the
  backend's tangent plan.
* **Discrete adjoint** (:class:`DiscreteAdjoint`): reverse mode of the same polynomial
  propagator (:mod:`advdiff_sens.matrix.expm.reverse`) — one recorded forward pass, one
  recomputation and one backward Clenshaw pass (the products of three forward solves plus
  the contractions), memory bounded by a checkpoint count. Its gradient is the exact
  gradient of the computed :math:`Φ`: gradient · v equals the tangent to rounding, with no
  quadrature error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from advdiff_sens.exceptions import PlanUnavailable
from advdiff_sens.matrix import ExpmTape, expm_frechet_actions, record_expm_action
from advdiff_sens.matrix.expm import check_finite_result
from advdiff_sens.matrix.norms import norm2_bound
from advdiff_sens.sensitivity.base import (
    ADJOINTS,
    Adjoint,
    AdjointRecording,
    GradientProblem,
    GradientResult,
)
from advdiff_sens.validation import (
    as_real_array,
    as_times,
    check_integer,
    check_positive_scalar,
)

__all__ = ["tangent", "DiscreteAdjoint", "DiscreteAdjointInfo", "discrete_adjoint_gradient"]


def tangent(L, Js: list, theta0: np.ndarray, t) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`θ(t)` and :math:`ρ_i(t) = ∇_{J_i} e^{tL}θ_0` for each direction (flat
    states; ``t`` scalar or increasing array): the velocity sensitivity (4.5), i.e. the
    solution of the sensitivity ODE (1.3) :math:`\dot ρ_i = Lρ_i + J_iθ`, :math:`ρ_i(0) = 0`,
    by :func:`advdiff_sens.matrix.expm_frechet_actions`: the pair propagation for one
    direction, the arrow system for several. ``L`` is the generator's
    :class:`~advdiff_sens.matrix.Propagator` (whose cached enclosure is reused and whose
    backend applies) or the generator itself.

    Parameters
    ----------
    L : Propagator, ndarray or scipy sparse matrix, shape (n, n)
        The generator or its propagator.
    Js : list of matrices, shape (n, n)
        The directions :math:`J_i = J(\mathbf v_i)`.
    theta0 : ndarray, shape (n,)
    t : float or array_like
        A time or increasing times.

    Returns
    -------
    theta : ndarray
        :math:`θ(t)`, shape ``(n,)`` or ``(m, n)``.
    rho : ndarray
        :math:`ρ_i(t)`, shape ``(p, n)`` or ``(p, m, n)``.

    Examples
    --------
    >>> import numpy as np
    >>> L, J = np.array([[-1.0]]), np.array([[1.0]])       # ρ(t) = t e^{-t} θ0
    >>> theta, rho = tangent(L, [J], np.array([1.0]), 2.0)
    >>> bool(abs(rho[0, 0] - 2 * np.exp(-2.0)) < 1e-12)
    True
    """
    return expm_frechet_actions(L, Js, theta0, t)


@dataclass(frozen=True)
class DiscreteAdjointInfo:
    r"""Diagnostics of a :class:`DiscreteAdjoint` gradient.

    Attributes
    ----------
    error_bound : float
        A priori bound on the gradient field's error (2-norm),
        :math:`\mathrm{tol}\,\|θ_0\|\,(\sum_a\|P_a\|_2^2)^{1/2}\sum_j t_j\|g_j\|`, inherited
        from the tangent's propagator bound (rigorous when :math:`W(L)` lies in the closed
        left half-plane; typically many orders of magnitude pessimistic).
    relative_error_bound : float
        ``error_bound / ‖gradient‖``.
    checkpoints : int
        Stored recurrence states of the sweep.
    nbytes : int
        Peak memory of the checkpoints and the block buffers of the reverse sweep.
    method : str
        ``"discrete"``.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16,), bc="periodic"), kappa=0.05)
    >>> u, theta0 = np.ones((1, 16)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> info = model.gradient(u, theta0, lambda th: (float(th.sum()), np.ones(16)), 0.2,
    ...                       adjoint="discrete").info
    >>> info.method, info.checkpoints >= 1, bool(info.relative_error_bound < 1e-6)
    ('discrete', True, True)
    """

    error_bound: float
    relative_error_bound: float
    checkpoints: int
    nbytes: int
    method: str = "discrete"


def discrete_adjoint_gradient(tape: ExpmTape, partials: list, theta0: np.ndarray,
                              times: np.ndarray, grads: np.ndarray, tol: float
                              ) -> tuple[np.ndarray, np.ndarray, DiscreteAdjointInfo]:
    r"""Adjoint gradient by the reverse sweep of a recorded forward propagation.

    :math:`∂Φ/∂u_{a} = \sum_j` (reverse mode of :math:`θ(t_j) = p_j(L)θ_0`, the propagator's
    polynomial) — the exact gradient of the computed :math:`Φ`, which approximates (4.7)
    :math:`\int_0^{t_k} λ ⊙ P_aθ\,ds` to the propagator's accuracy — by
    ``tape.pullback(grads, partials)``, which also gives the initial state's gradient
    :math:`∂Φ/∂θ_0 = \sum_j p_j(L)^Tg_j` (the adjoint state at :math:`s = 0`). The error
    bound of :class:`DiscreteAdjointInfo` uses the propagator tolerance ``tol``.

    Parameters
    ----------
    tape : ExpmTape
        The recorded forward propagation (:func:`advdiff_sens.matrix.record_expm_action`).
    partials : list of matrices
        :math:`P_a`, one per velocity component.
    theta0 : ndarray, shape (n,)
    times : ndarray, shape (k,)
        The recorded times.
    grads : ndarray, shape (k, n)
        :math:`g_j = ∂Φ/∂θ(t_j)`.
    tol : float
        The propagator's tolerance.

    Returns
    -------
    gradient : ndarray, shape (len(partials), n)
    theta0_gradient : ndarray, shape (n,)
    info : DiscreteAdjointInfo

    Examples
    --------
    :math:`Φ = θ(2)` for :math:`L = -1 + p`: :math:`∂Φ/∂p = 2e^{-2}`, :math:`∂Φ/∂θ_0 = e^{-2}`.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator, record_expm_action
    >>> from advdiff_sens.sensitivity import discrete_adjoint_gradient
    >>> theta0, times = np.array([1.0]), np.array([2.0])
    >>> tape = record_expm_action(Propagator(np.array([[-1.0]])), theta0, times)
    >>> grad, grad0, info = discrete_adjoint_gradient(tape, [np.array([[1.0]])], theta0, times,
    ...                                               np.ones((1, 1)), 1e-12)
    >>> bool(abs(grad[0, 0] - 2 * np.exp(-2.0)) < 1e-12), info.method
    (True, 'discrete')
    >>> bool(abs(grad0[0] - np.exp(-2.0)) < 1e-12)
    True
    """
    tol = check_positive_scalar(tol, "tol")
    times, _ = as_times(times, "times")
    grads = as_real_array(grads, "grads", shape=(times.size, tape.states.shape[1]))
    theta0_grad, total = tape.pullback(grads, partials)
    total = check_finite_result(total, "the discrete adjoint gradient")
    theta0_grad = check_finite_result(theta0_grad, "the discrete adjoint state at s = 0")
    scale = np.sqrt(sum(norm2_bound(P) ** 2 for P in partials))
    error = tol * float(np.linalg.norm(theta0)) * scale * float(
        np.sum(times * np.linalg.norm(grads, axis=1)))
    norm = float(np.linalg.norm(total))
    info = DiscreteAdjointInfo(error, error / norm if norm > 0 else 0.0, tape.checkpoints,
                               tape.nbytes())
    return total, theta0_grad, info


@ADJOINTS.register("discrete")
@dataclass(frozen=True)
class DiscreteAdjoint(Adjoint):
    r"""Reverse mode of the Chebyshev propagator: the exact adjoint of :func:`tangent`.

    Parameters
    ----------
    checkpoints : int, optional
        Largest number of stored recurrence states (two vectors of size n each; raised to
        one per step of the schedule, which usually has one step); fewer checkpoints mean
        longer recomputed blocks and larger block buffers. Default: about the square root
        of the number of polynomial terms, which nearly minimises the memory.
    reuse_tape : bool
        Keep the last recorded forward propagation and reuse it when the next gradient has the
        same propagator (the same velocity of the same model), θ0 and times: repeated adjoints
        at one point — the Gauss–Newton products of a Newton-CG iteration — then cost the
        recomputation and the backward pass only (about two forward solves instead of three).
        The object then holds one tape (its checkpoints) per slot — one for a steady flow, one
        per window for a :class:`~advdiff_sens.sensitivity.WindowedVelocity` — and is meant
        for one thread.

    Raises
    ------
    PlanUnavailable
        From :meth:`gradient` when no Chebyshev schedule can be recorded (the ``"scipy"``
        backend, a tolerance the a priori bound cannot certify); the message names the
        reason. :class:`~advdiff_sens.sensitivity.AutoAdjoint` then uses the quadrature.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> from advdiff_sens.sensitivity import DiscreteAdjoint
    >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
    >>> u, theta0 = np.ones((1, 32)), np.sin(2 * np.pi * model.grid.coords[0])
    >>> result = model.gradient(u, theta0, lambda th: (0.5 * float(th @ th), th), 0.3,
    ...                         adjoint=DiscreteAdjoint(checkpoints=8))
    >>> result.gradient.shape, result.info.method
    ((1, 32), 'discrete')
    """

    checkpoints: int | None = None
    reuse_tape: bool = False
    _recorded: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    name = "discrete"

    def __post_init__(self) -> None:
        if self.checkpoints is not None:
            object.__setattr__(self, "checkpoints",
                               check_integer(self.checkpoints, "checkpoints", minimum=1))
        if not isinstance(self.reuse_tape, bool):
            raise TypeError(f"reuse_tape must be True or False, got {self.reuse_tape!r}")

    def _tape(self, problem: GradientProblem, slot: int = 0) -> ExpmTape:
        """The recorded forward propagation of ``problem`` (the one kept in ``slot`` when it
        matches)."""
        kept = self._recorded.get(slot) if self.reuse_tape else None
        if kept is not None:
            forward, theta0, times, tape = kept
            if (forward is problem.forward and np.array_equal(theta0, problem.theta0)
                    and np.array_equal(times, problem.times)):
                return tape
        try:
            tape = record_expm_action(problem.forward, problem.theta0, problem.times,
                                      checkpoints=self.checkpoints)
        except PlanUnavailable as exc:
            raise PlanUnavailable(f"DiscreteAdjoint needs a Chebyshev schedule: {exc.reason}; "
                                  "use QuadratureAdjoint() (any backend) or AutoAdjoint()"
                                  ) from exc
        if self.reuse_tape:
            self._recorded[slot] = (problem.forward, problem.theta0.copy(),
                                    problem.times.copy(), tape)
        return tape

    def record(self, problem: GradientProblem, *, slot: int = 0) -> AdjointRecording:
        """The recorded tape's states and its reverse sweep (:meth:`Adjoint.record`); with
        ``reuse_tape`` the tape is kept in ``slot`` (one per window of a windowed sweep)."""
        tape = self._tape(problem, slot)

        def pullback(cotangents: np.ndarray) -> GradientResult:
            grad, theta0_grad, info = discrete_adjoint_gradient(
                tape, problem.partials, problem.theta0, problem.times, cotangents,
                problem.forward.tol)
            return GradientResult(0.0, grad, info, theta0_gradient=theta0_grad)

        return AdjointRecording(tape.states, pullback)

    def gradient(self, problem: GradientProblem) -> GradientResult:
        recording = self.record(problem)
        value, grads = problem.evaluate(recording.states)
        result = recording.pullback(grads)
        return GradientResult(value, result.gradient, result.info,
                              theta0_gradient=result.theta0_gradient if problem.want_theta0
                              else None)
