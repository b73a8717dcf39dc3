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
from dataclasses import dataclass

import numpy as np

from advdiff_sens.matrix import Propagator
from advdiff_sens.registry import Registry

__all__ = ["Adjoint", "GradientProblem", "GradientResult", "ADJOINTS", "Objective",
           "check_objective_output"]

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
    """

    forward: Propagator
    transpose: Callable[[], Propagator]
    partials: Sequence
    theta0: np.ndarray
    times: np.ndarray
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]]

    def forward_states(self) -> np.ndarray:
        """:math:`θ(t_j)`, shape ``(k, n)``, by the forward propagator."""
        return self.forward.apply(self.theta0, self.times)


class GradientResult(tuple):
    """``(value, gradient)`` pair that also carries the method's diagnostics as ``.info``.

    Unpacks like a tuple: ``value, grad = model.gradient(...)``.
    """

    info: object

    def __new__(cls, value: float, gradient: np.ndarray, info: object = None):
        obj = super().__new__(cls, (value, gradient))
        obj.info = info
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
    """An adjoint method: computes :math:`Φ` and :math:`∂Φ/∂u_{a,i}` for every node at once."""

    #: Registry name of the default object.
    name: str

    @abstractmethod
    def gradient(self, problem: GradientProblem) -> GradientResult:
        """``(value, gradient of shape (ndim, n), info)`` for ``problem``."""


ADJOINTS: Registry[Adjoint] = Registry("adjoint method", Adjoint)


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
