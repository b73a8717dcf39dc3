"""Estimating velocity fields from scalar data: parameterisations, posterior, MAP and Laplace."""

from advdiff_sens.inference.parameterisations import (
    NodalVelocity, UniformVelocity, StreamFunctionBasis
)
from advdiff_sens.inference.estimate import (
    VelocityPosterior, VelocityEstimate, StageRecord, StartRecord, FitReport,
    estimate_velocity, continuation_schedule, stacked_tangent, GRADIENT_METHODS, OPTIMIZERS,
    TANGENT_MAX_PARAMS, BOX_PRIOR_SDS, SPEED_BOUND_FACTOR, MISFIT_QUANTILE,
    DISTINCT_OPTIMUM_PSI
)

__all__ = [
    "NodalVelocity", "UniformVelocity", "StreamFunctionBasis", "VelocityPosterior",
    "VelocityEstimate", "StageRecord", "StartRecord", "FitReport", "estimate_velocity",
    "continuation_schedule", "stacked_tangent", "GRADIENT_METHODS", "OPTIMIZERS",
    "TANGENT_MAX_PARAMS", "BOX_PRIOR_SDS", "SPEED_BOUND_FACTOR", "MISFIT_QUANTILE",
    "DISTINCT_OPTIMUM_PSI"
]
