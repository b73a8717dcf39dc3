"""Velocity sensitivities: the tangent, the adjoint methods as objects, the surrogate, the
quadrature rule and the derivative checks.

Adjoint methods (``model.gradient(..., adjoint=...)``): :class:`DiscreteAdjoint`,
:class:`QuadratureAdjoint`, :class:`SurrogateAdjoint` and :class:`AutoAdjoint` (the
default), or their names ``"discrete"``, ``"quadrature"``, ``"surrogate"``, ``"auto"``
through :data:`ADJOINTS`.
"""

from advdiff_sens.sensitivity.auto import AutoAdjoint, as_adjoint
from advdiff_sens.sensitivity.base import (
                                           ADJOINTS,
                                           Adjoint,
                                           GradientProblem,
                                           GradientResult,
                                           Objective,
                                           check_objective_output,
)
from advdiff_sens.sensitivity.quadrature import (
                                           GAUSS_WEIGHTS,
                                           KRONROD_NODES,
                                           KRONROD_WEIGHTS,
                                           QuadratureResult,
                                           adaptive_gauss_kronrod,
                                           graded_partition,
)
from advdiff_sens.sensitivity.quadrature_adjoint import (
                                           QuadratureAdjoint,
                                           QuadratureAdjointInfo,
                                           StateCache,
                                           quadrature_adjoint_gradient,
)
from advdiff_sens.sensitivity.surrogate import (
                                           SurrogateAdjoint,
                                           SurrogateAdjointInfo,
                                           surrogate,
                                           surrogate_adjoint_gradient,
)
from advdiff_sens.sensitivity.tangent import (
                                           DiscreteAdjoint,
                                           DiscreteAdjointInfo,
                                           discrete_adjoint_gradient,
                                           tangent,
)
from advdiff_sens.sensitivity.verification import (
                                           TaylorResult,
                                           dot_test,
                                           finite_difference_check,
                                           taylor_test,
)

__all__ = [
    "Adjoint", "DiscreteAdjoint", "QuadratureAdjoint", "SurrogateAdjoint", "AutoAdjoint",
    "ADJOINTS", "as_adjoint", "GradientProblem", "GradientResult", "Objective",
    "check_objective_output", "DiscreteAdjointInfo", "QuadratureAdjointInfo",
    "SurrogateAdjointInfo", "tangent", "surrogate", "discrete_adjoint_gradient",
    "quadrature_adjoint_gradient", "surrogate_adjoint_gradient", "StateCache",
    "QuadratureResult", "adaptive_gauss_kronrod", "graded_partition", "KRONROD_NODES",
    "KRONROD_WEIGHTS", "GAUSS_WEIGHTS", "TaylorResult", "taylor_test", "dot_test",
    "finite_difference_check",
]
