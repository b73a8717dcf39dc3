"""Rate matrices (generators), surrogates of the Fréchet derivative, Theorem 2.1 and random generators."""

from advdiff_sens.matrix.rate.generators import (
    RATE_MATRIX_RTOL,
    GroupInverseSolver,
    check_generator,
    decay_rate,
    eigenvector_condition,
    group_inverse,
    group_inverse_solve,
    is_irreducible,
    is_rate_matrix,
    moore_penrose,
    singular_value_extremes,
    spectral_gap,
    stationary_distribution,
)
from advdiff_sens.matrix.rate.random_matrices import ENSEMBLES, random_rate_matrix
from advdiff_sens.matrix.rate.surrogates import (
    ORDERS,
    asymptotic_surrogate,
    surrogate,
    surrogate_action,
)
from advdiff_sens.matrix.rate.theorem import (
    Theorem21Constants,
    theorem_2_1_constants,
    theorem_2_1_error,
)

__all__ = [
    "RATE_MATRIX_RTOL", "is_rate_matrix", "is_irreducible", "check_generator",
    "stationary_distribution", "group_inverse", "GroupInverseSolver", "group_inverse_solve",
    "moore_penrose", "spectral_gap", "decay_rate", "eigenvector_condition",
    "singular_value_extremes", "ORDERS", "surrogate", "surrogate_action",
    "asymptotic_surrogate", "Theorem21Constants", "theorem_2_1_constants",
    "theorem_2_1_error", "ENSEMBLES", "random_rate_matrix"
]
