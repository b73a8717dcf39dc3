"""The action of the matrix exponential: the propagator, its backends, the Chebyshev series
with its reverse sweep, the tangent (pair) propagation and the stationary limit."""

from advdiff_sens.matrix.expm.backends import (
                                               BACKENDS,
                                               DEFAULT_TOL,
                                               AutoBackend,
                                               Backend,
                                               ChebyshevBackend,
                                               ExpmMultiplyBackend,
                                               TangentPlan,
                                               as_backend,
                                               scipy_error_model,
)
from advdiff_sens.matrix.expm.kernels import count_products
from advdiff_sens.matrix.expm.operator import ExpmOperator
from advdiff_sens.matrix.expm.propagator import (
                                               PropagationPlan,
                                               Propagator,
                                               check_finite_result,
                                               expm_action,
                                               expm_pair_action,
)
from advdiff_sens.matrix.expm.reverse import (
                                               ExpmTape,
                                               expm_action_gradient,
                                               record_expm_action,
)

__all__ = [
    "Backend", "ChebyshevBackend", "ExpmMultiplyBackend", "AutoBackend", "BACKENDS",
    "DEFAULT_TOL", "TangentPlan", "as_backend", "scipy_error_model", "ExpmOperator",
    "Propagator", "PropagationPlan", "check_finite_result", "expm_action", "expm_pair_action",
    "count_products", "ExpmTape", "record_expm_action", "expm_action_gradient",
]
