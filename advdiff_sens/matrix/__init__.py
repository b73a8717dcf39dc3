"""Matrix level: the exponential of a generator Q, its Fréchet derivative, surrogates and
the rate-matrix theory of the source note. Knows nothing of grids or PDEs.

Subpackages: :mod:`advdiff_sens.matrix.expm` (propagator, backends, Chebyshev series and
its reverse sweep) and :mod:`advdiff_sens.matrix.rate` (rate matrices, surrogates,
Theorem 2.1, random generators); :mod:`advdiff_sens.matrix.frechet` (Fréchet derivative
actions and dense references) and :mod:`advdiff_sens.matrix.norms`.
"""

from advdiff_sens.matrix.expm import (
                                      BACKENDS,
                                      DEFAULT_TOL,
                                      KERNELS,
                                      AutoBackend,
                                      Backend,
                                      ChebyshevBackend,
                                      ExpmMultiplyBackend,
                                      ExpmTape,
                                      NumbaKernel,
                                      PropagationPlan,
                                      Propagator,
                                      ScipyKernel,
                                      SparseKernel,
                                      TangentPlan,
                                      active_kernel,
                                      as_backend,
                                      count_products,
                                      expm_action,
                                      expm_action_gradient,
                                      expm_pair_action,
                                      record_expm_action,
                                      set_kernel,
                                      use_kernel,
)
from advdiff_sens.matrix.frechet import (
                                      expm_frechet,
                                      expm_frechet_action,
                                      expm_frechet_actions,
                                      frechet_integral_reference,
                                      frechet_ode_reference,
                                      frechet_series_reference,
)
from advdiff_sens.matrix.rate import (
                                      ENSEMBLES,
                                      ORDERS,
                                      RATE_MATRIX_RTOL,
                                      GroupInverseSolver,
                                      Theorem21Constants,
                                      asymptotic_surrogate,
                                      check_generator,
                                      decay_rate,
                                      eigenvector_condition,
                                      group_inverse,
                                      group_inverse_solve,
                                      is_irreducible,
                                      is_rate_matrix,
                                      moore_penrose,
                                      random_rate_matrix,
                                      singular_value_extremes,
                                      spectral_gap,
                                      stationary_distribution,
                                      surrogate,
                                      surrogate_action,
                                      theorem_2_1_constants,
                                      theorem_2_1_error,
)

__all__ = [
    "expm_action", "expm_pair_action", "Propagator", "PropagationPlan", "count_products",
    "Backend", "ChebyshevBackend", "ExpmMultiplyBackend", "AutoBackend", "BACKENDS",
    "DEFAULT_TOL", "TangentPlan", "as_backend",
    "SparseKernel", "ScipyKernel", "NumbaKernel", "KERNELS", "active_kernel", "set_kernel",
    "use_kernel",
    "expm_frechet_action", "expm_frechet_actions", "expm_frechet",
    "expm_action_gradient", "record_expm_action", "ExpmTape",
    "frechet_ode_reference", "frechet_integral_reference", "frechet_series_reference",
    "surrogate", "surrogate_action", "asymptotic_surrogate", "ORDERS",
    "is_rate_matrix", "RATE_MATRIX_RTOL", "is_irreducible", "check_generator",
    "stationary_distribution",
    "group_inverse", "GroupInverseSolver", "group_inverse_solve", "moore_penrose",
    "spectral_gap", "decay_rate", "eigenvector_condition", "singular_value_extremes",
    "random_rate_matrix", "ENSEMBLES",
    "Theorem21Constants", "theorem_2_1_constants", "theorem_2_1_error",
]
