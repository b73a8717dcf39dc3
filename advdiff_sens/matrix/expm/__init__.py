"""The action of the matrix exponential: propagator, backends, Chebyshev series and its reverse sweep."""

from advdiff_sens.matrix.expm.propagator import (
    BACKENDS, DEFAULT_BACKEND, DEFAULT_TOL, Propagator, PropagationPlan, expm_action,
    expm_pair_action, count_products, scipy_error_model, check_finite_result
)
from advdiff_sens.matrix.expm.reverse import ExpmTape, record_expm_action, expm_action_gradient

__all__ = [
    "BACKENDS", "DEFAULT_BACKEND", "DEFAULT_TOL", "Propagator", "PropagationPlan",
    "expm_action", "expm_pair_action", "count_products", "scipy_error_model",
    "check_finite_result", "ExpmTape", "record_expm_action", "expm_action_gradient"
]
