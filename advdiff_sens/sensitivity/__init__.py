"""Velocity sensitivities: tangent, adjoint gradients, surrogates, quadrature and derivative checks."""

from advdiff_sens.sensitivity.gradients import (
    tangent, surrogate, adjoint_gradient, discrete_adjoint_gradient, surrogate_gradient,
    ADJOINT_METHODS, GradientInfo, GradientResult, Checkpoints, Objective,
    check_objective_output
)
from advdiff_sens.sensitivity.quadrature import (
    QuadratureResult, adaptive_gauss_kronrod, graded_partition, KRONROD_NODES, KRONROD_WEIGHTS,
    GAUSS_WEIGHTS
)
from advdiff_sens.sensitivity.verification import (
    TaylorResult, taylor_test, dot_test, finite_difference_check
)

__all__ = [
    "tangent", "surrogate", "adjoint_gradient", "discrete_adjoint_gradient",
    "surrogate_gradient", "ADJOINT_METHODS", "GradientInfo", "GradientResult",
    "Checkpoints", "Objective", "check_objective_output", "QuadratureResult",
    "adaptive_gauss_kronrod", "graded_partition", "KRONROD_NODES", "KRONROD_WEIGHTS",
    "GAUSS_WEIGHTS", "TaylorResult", "taylor_test", "dot_test", "finite_difference_check"
]
