"""Velocity sensitivities: the tangent, the adjoint methods as objects, the surrogate, the
quadrature rule and the derivative checks.

Adjoint methods (``model.gradient(..., adjoint=...)``): :class:`DiscreteAdjoint`,
:class:`QuadratureAdjoint`, :class:`SurrogateAdjoint` and :class:`AutoAdjoint` (the
default), or their names ``"discrete"``, ``"quadrature"``, ``"surrogate"``, ``"auto"``
through :data:`ADJOINTS`.

Time-varying flows (:mod:`advdiff_sens.sensitivity.windows`): :class:`TimeWindows`,
:class:`WindowedVelocity` and :func:`windowed_gradient`, the window-by-window adjoint sweep.
"""

from advdiff_sens.sensitivity.auto import AutoAdjoint, as_adjoint
from advdiff_sens.sensitivity.base import (
                                           ADJOINTS,
                                           Adjoint,
                                           AdjointRecording,
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
from advdiff_sens.sensitivity.windows import (
                                           TimeWindows,
                                           WindowedVelocity,
                                           WindowSegment,
                                           windowed_gradient,
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
    "TimeWindows", "WindowedVelocity", "WindowSegment", "windowed_gradient", "AdjointRecording",
]
