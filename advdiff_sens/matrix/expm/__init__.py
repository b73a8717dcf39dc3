"""The action of the matrix exponential: the propagator, its backends, the Chebyshev series
with its reverse sweep, the tangent (pair) propagation, the stationary limit, and the sparse
kernels they all run on (scipy's, or numba's compiled row-parallel one)."""

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
from advdiff_sens.matrix.expm.kernels import (
                                               KERNELS,
                                               NumbaKernel,
                                               ScipyKernel,
                                               SparseKernel,
                                               active_kernel,
                                               count_products,
                                               set_kernel,
                                               use_kernel,
)
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
    "SparseKernel", "ScipyKernel", "NumbaKernel", "KERNELS", "active_kernel", "set_kernel",
    "use_kernel",
]
