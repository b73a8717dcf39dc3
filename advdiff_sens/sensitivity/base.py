r"""What every adjoint method shares: the problem it is handed, its result, its registry.

A model (:class:`advdiff_sens.AdvectionDiffusion`) hands an adjoint method a
:class:`GradientProblem`: the propagator of :math:`e^{tL}`, the transpose propagator on
demand, the partial generators :math:`P_a` with :math:`∂L/∂\mathbf u[\mathbf v] = \sum_a
\operatorname{diag}(v_a)P_a`, the flat initial state, the observation times and the
objective on flat states. The method returns a :class:`GradientResult` whose ``.info`` is
its own diagnostics type. Strings name the default objects through :data:`ADJOINTS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from advdiff_sens.matrix import Propagator
from advdiff_sens.registry import Registry

__all__ = ["Adjoint", "GradientProblem", "GradientResult", "ADJOINTS", "Objective",
           "check_objective_output", "AdjointRecording"]

#: ``objective(theta) -> (value, dvalue/dtheta)``: a scalar objective of the state(s) and its
#: gradient, of the shape of ``theta``.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class GradientProblem:
    r"""The pieces of :math:`∂Φ(θ(t_1), …, θ(t_k))/∂\mathbf u` an adjoint method needs.

    Attributes
    ----------
    forward : Propagator
        :math:`e^{τL}` for :math:`L = L(\mathbf u)`.
    transpose : callable
        ``transpose() -> Propagator`` of :math:`e^{τL^T}` (built on demand).
    partials : sequence of sparse matrices
        :math:`P_a`, one per velocity component.
    theta0 : ndarray, shape (n,)
        Real initial state.
    times : ndarray, shape (k,)
        Increasing observation times.
    evaluate : callable
        ``evaluate(states) -> (value, grads)`` for states of shape ``(k, n)``: the objective
        :math:`Φ` and :math:`g_j = ∂Φ/∂θ(t_j)`, shape ``(k, n)`` (the model reshapes to its
        grid and validates the user's objective).
    want_theta0 : bool
        Also return :math:`∂Φ/∂θ_0 = λ(0) = \sum_j e^{t_jL^T}g_j`, the adjoint state at
        :math:`s = 0` (free for the discrete and quadrature adjoints, whose sweeps end there;
        one more backward sweep for the surrogate).

    Examples
    --------
    The scalar problem :math:`L = -1 + p`, :math:`P = 1`, :math:`θ_0 = 1`,
    :math:`Φ = θ(2)`: :math:`∂Φ/∂p = 2e^{-2}`, the same for every adjoint method.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import GradientProblem
    >>> from advdiff_sens.sensitivity import ADJOINTS, as_adjoint
    >>> L = np.array([[-1.0]])
    >>> problem = GradientProblem(Propagator(L), lambda: Propagator(L.T), [np.array([[1.0]])],
    ...                           np.array([1.0]), np.array([2.0]),
    ...                           lambda states: (float(states[-1, 0]), np.ones((1, 1))))
    >>> problem.forward_states().shape
    (1, 1)
    >>> all(abs(as_adjoint(name).gradient(problem).gradient[0, 0] - 2 * np.exp(-2.0)) < 1e-10
    ...     for name in ADJOINTS.names())
    True
    """

    forward: Propagator
    transpose: Callable[[], Propagator]
    partials: Sequence
    theta0: np.ndarray
    times: np.ndarray
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]]
    want_theta0: bool = False

    def forward_states(self) -> np.ndarray:
        """:math:`θ(t_j)`, shape ``(k, n)``, by the forward propagator."""
        return self.forward.apply(self.theta0, self.times)


class GradientResult(tuple):
    """``(value, gradient)`` pair that also carries the method's diagnostics as ``.info`` and,
    when asked for, the gradients with respect to the initial state and the diffusivity.

    Unpacks like a tuple: ``value, grad = model.gradient(...)``.

    Parameters
    ----------
    value : float
        The objective value.
    gradient : ndarray
        The gradient with respect to the velocity.
    info : object, optional
        The method's diagnostics (:class:`DiscreteAdjointInfo`, ...).
    theta0_gradient : ndarray, optional
        :math:`∂Φ/∂θ_0` (None unless asked for).
    kappa_gradient : float, optional
        :math:`∂Φ/∂κ` (None unless asked for).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import GradientResult
    >>> result = GradientResult(1.5, np.zeros((1, 4)), info="diagnostics")
    >>> value, grad = result
    >>> value, grad.shape, result.info
    (1.5, (1, 4), 'diagnostics')
    >>> result.value == result[0]
    True
    """

    info: object
    theta0_gradient: np.ndarray | None
    kappa_gradient: float | None

    def __new__(cls, value: float, gradient: np.ndarray, info: object = None, *,
                theta0_gradient: np.ndarray | None = None, kappa_gradient: float | None = None):
        obj = super().__new__(cls, (value, gradient))
        obj.info = info
        obj.theta0_gradient, obj.kappa_gradient = theta0_gradient, kappa_gradient
        return obj

    @property
    def value(self) -> float:
        """The objective value."""
        return self[0]

    @property
    def gradient(self) -> np.ndarray:
        """The gradient with respect to the velocity."""
        return self[1]


class Adjoint(ABC):
    """An adjoint method: computes :math:`Φ` and :math:`∂Φ/∂u_{a,i}` for every node at once.

    A subclass implements :meth:`gradient` for a :class:`GradientProblem`;
    :data:`ADJOINTS` maps the names ``"discrete"``, ``"quadrature"``, ``"surrogate"`` and
    ``"auto"`` to the default objects, and ``model.gradient(..., adjoint=...)`` takes
    either.

    Examples
    --------
    >>> from advdiff_sens.sensitivity import ADJOINTS, Adjoint, as_adjoint
    >>> sorted(ADJOINTS.names())
    ['auto', 'discrete', 'quadrature', 'surrogate']
    >>> all(isinstance(as_adjoint(name), Adjoint) for name in ADJOINTS.names())
    True
    """

    #: Registry name of the default object.
    name: str

    @abstractmethod
    def gradient(self, problem: GradientProblem) -> GradientResult:
        """``(value, gradient of shape (ndim, n), info)`` for ``problem``."""

    def record(self, problem: GradientProblem, *, slot: int = 0) -> AdjointRecording:
        r"""The forward states of ``problem`` and a pullback of any cotangents, for sweeps that
        must see every state before they can seed the adjoint (the windows of
        :func:`~advdiff_sens.sensitivity.windowed_gradient`).

        This default solves forward once and runs :meth:`gradient` on the cotangents (which
        may solve forward again); :class:`~advdiff_sens.sensitivity.DiscreteAdjoint` records its
        tape once and pulls back through it. ``slot`` names the recording a method that keeps
        its recordings (``DiscreteAdjoint(reuse_tape=True)``) keeps it under.

        Parameters
        ----------
        problem : GradientProblem
            Its ``evaluate`` is not used.
        slot : int

        Returns
        -------
        AdjointRecording

        Examples
        --------
        >>> import numpy as np
        >>> from advdiff_sens.matrix import Propagator
        >>> from advdiff_sens.sensitivity import GradientProblem, QuadratureAdjoint
        >>> L = np.array([[-1.0]])
        >>> problem = GradientProblem(Propagator(L), lambda: Propagator(L.T),
        ...                           [np.array([[1.0]])], np.array([1.0]), np.array([2.0]), None)
        >>> recording = QuadratureAdjoint().record(problem)
        >>> result = recording.pullback(np.ones((1, 1)))     # Φ = θ(2)
        >>> bool(abs(result.gradient[0, 0] - 2 * np.exp(-2.0)) < 1e-9)
        True
        >>> bool(abs(result.theta0_gradient[0] - np.exp(-2.0)) < 1e-12)
        True
        """
        def pullback(cotangents: np.ndarray) -> GradientResult:
            seeded = replace(problem, evaluate=lambda _: (0.0, cotangents), want_theta0=True)
            return self.gradient(seeded)

        return AdjointRecording(problem.forward_states(), pullback)


@dataclass(frozen=True)
class AdjointRecording:
    r"""The forward states of a :class:`GradientProblem` and the pullback of cotangents
    (:meth:`Adjoint.record`).

    Attributes
    ----------
    states : ndarray, shape (k, n)
        :math:`θ(t_j)`.
    pullback : callable
        ``pullback(cotangents (k, n)) -> GradientResult`` of the linear functional
        :math:`\sum_j c_j^Tθ(t_j)`: its ``gradient`` with respect to the partials' parameters
        and its ``theta0_gradient`` :math:`\sum_j e^{t_jL^T}c_j` (``value`` is 0).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import DiscreteAdjoint, GradientProblem
    >>> L = np.array([[-1.0]])
    >>> problem = GradientProblem(Propagator(L), lambda: Propagator(L.T),
    ...                           [np.array([[1.0]])], np.array([1.0]), np.array([2.0]), None)
    >>> recording = DiscreteAdjoint().record(problem)
    >>> bool(abs(recording.states[0, 0] - np.exp(-2.0)) < 1e-12)
    True
    >>> bool(abs(recording.pullback(np.ones((1, 1))).gradient[0, 0] - 2 * np.exp(-2.0)) < 1e-12)
    True
    """

    states: np.ndarray
    pullback: Callable[[np.ndarray], GradientResult]


ADJOINTS: Registry[Adjoint] = Registry("adjoint method", Adjoint)


def check_objective_output(result, theta_shape: tuple) -> tuple[float, np.ndarray]:
    """Validate ``objective(theta) -> (value, dvalue/dtheta)``.

    Parameters
    ----------
    result : object
        What the objective returned.
    theta_shape : tuple
        The shape ``dvalue/dtheta`` must have.

    Returns
    -------
    value : float
    dtheta : ndarray
        Real, finite, of shape ``theta_shape``.

    Raises
    ------
    TypeError
        Not a pair, or a complex gradient.
    ValueError
        A non-finite or non-scalar value, or a gradient of the wrong shape or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import check_objective_output
    >>> value, dtheta = check_objective_output((np.float64(2.0), [1, 2, 3]), (3,))
    >>> value, dtheta.dtype
    (2.0, dtype('float64'))
    >>> check_objective_output((2.0, np.ones(2)), (3,))
    Traceback (most recent call last):
    ...
    ValueError: objective gradient must have shape (3,) (the shape of theta), got (2,)
    """
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
