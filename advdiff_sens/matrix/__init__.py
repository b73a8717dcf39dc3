"""Matrix level: the exponential of a generator Q, its Fréchet derivative, surrogates and
the rate-matrix theory of the source note. Knows nothing of grids or PDEs."""

from advdiff_sens.matrix.expm.reverse import ExpmTape, expm_action_gradient, record_expm_action
from advdiff_sens.matrix.frechet import (expm_frechet, expm_frechet_action, expm_frechet_actions,
                      frechet_integral_reference,
                      frechet_ode_reference, frechet_series_reference)
from advdiff_sens.matrix.expm.propagator import (BACKENDS, DEFAULT_BACKEND, DEFAULT_TOL, Propagator, count_products,
                        expm_action, expm_pair_action)
from advdiff_sens.matrix.rate.random_matrices import ENSEMBLES, random_rate_matrix
from advdiff_sens.matrix.rate.generators import (RATE_MATRIX_RTOL, GroupInverseSolver, check_generator, decay_rate,
                            eigenvector_condition, group_inverse, group_inverse_solve,
                            is_irreducible, is_rate_matrix, moore_penrose,
                            singular_value_extremes, spectral_gap, stationary_distribution)
from advdiff_sens.matrix.rate.surrogates import ORDERS, asymptotic_surrogate, surrogate, surrogate_action
from advdiff_sens.matrix.rate.theorem import Theorem21Constants, theorem_2_1_constants, theorem_2_1_error

__all__ = [
    "expm_action", "expm_pair_action", "Propagator", "count_products", "BACKENDS",
    "DEFAULT_BACKEND", "DEFAULT_TOL",
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
