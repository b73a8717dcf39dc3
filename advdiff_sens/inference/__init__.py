"""Estimating velocity fields from scalar data: parameterisations, posterior and its gradients,
optimisers, MAP and Laplace, and the MAP → Laplace → HMC workflow."""

from advdiff_sens.inference.parameterisations import (
    NodalVelocity, UniformVelocity, StreamFunctionBasis, NodalStreamFunction
)
from advdiff_sens.inference.priors import (
    PowerLawSpectrum, spectral_prior, laplacian, GaussianRandomField, BlockGaussian,
    DEFAULT_SPECTRUM_SCALE, MAX_DENSE_VARIANCE_NODES
)
from advdiff_sens.inference.spaces import ParameterSpace, ModelInputs, BLOCKS
from advdiff_sens.inference.temporal import WindowedFlow, TemporalGaussian, velocity_values
from advdiff_sens.inference.gradients import (
    PosteriorGradient, TangentGradient, AdjointGradient, AutoGradient, GRADIENTS,
    TANGENT_MAX_PARAMS
)
from advdiff_sens.inference.posterior import (
    Posterior, Linearisation, VelocityPosterior, stacked_tangent, DEFAULT_PRIOR_STD, SPEED_BOUND_FACTOR
)
from advdiff_sens.inference.optimisers import (
    Optimiser, OptimiserResult, GaussNewton, LBFGS, NewtonCG, OPTIMIZERS, BOX_PRIOR_SDS
)
from advdiff_sens.inference.linalg import (
    CGResult, steihaug_cg, randomized_eigh, CG_REASONS, SYMMETRY_RTOL
)
from advdiff_sens.inference.newton import (
    Globalisation, ArmijoLineSearch, SteihaugTrustRegion, GLOBALISATIONS, NEWTON_STOP_REASONS
)
from advdiff_sens.inference.laplace import (
    LaplaceApproximation, LowRankLaplace, DenseLaplace, laplace_approximation,
    COVERAGE_THRESHOLD, MAP_DECREMENT_TOL
)
from advdiff_sens.inference.results import (
    StageRecord, StartRecord, FitReport, VelocityEstimate, fit_report, MISFIT_QUANTILE,
    DISTINCT_OPTIMUM_PSI
)
from advdiff_sens.inference.map import (
    find_map, MAPResult, Optimum, group_optima, fit_stages, continuation_schedule
)
from advdiff_sens.inference.targets import sampling_potential
from advdiff_sens.inference.pipeline import (
    run_inference, InferenceResult, field_summaries, FieldSummary, DEFAULT_FIELD_SAMPLER,
    REFERENCES, INFERENCE_EVENTS
)
from advdiff_sens.inference.estimate import estimate_velocity
from advdiff_sens.inference.workflow import (
    run_workflow, WorkflowResult, WORKFLOW_EVENTS, MAP_ARRAYS, SAMPLE_ARRAYS
)
# walled domains (issue #15)
from advdiff_sens.inference.parameterisations import discrete_divergence

__all__ = [
    "NodalVelocity", "UniformVelocity", "StreamFunctionBasis", "NodalStreamFunction",
    "PowerLawSpectrum", "spectral_prior", "laplacian", "GaussianRandomField", "BlockGaussian",
    "DEFAULT_SPECTRUM_SCALE", "MAX_DENSE_VARIANCE_NODES",
    "ParameterSpace", "ModelInputs", "BLOCKS", "Posterior", "Linearisation",
    "PosteriorGradient", "TangentGradient", "AdjointGradient", "AutoGradient", "GRADIENTS",
    "TANGENT_MAX_PARAMS",
    "VelocityPosterior", "stacked_tangent", "DEFAULT_PRIOR_STD", "SPEED_BOUND_FACTOR",
    "Optimiser", "OptimiserResult", "GaussNewton", "LBFGS", "NewtonCG", "OPTIMIZERS",
    "BOX_PRIOR_SDS",
    "StageRecord", "StartRecord", "FitReport", "VelocityEstimate", "fit_report",
    "MISFIT_QUANTILE",
    "DISTINCT_OPTIMUM_PSI",
    "find_map", "MAPResult", "Optimum", "group_optima", "fit_stages", "continuation_schedule",
    "sampling_potential", "run_inference", "InferenceResult", "field_summaries", "FieldSummary",
    "DEFAULT_FIELD_SAMPLER", "REFERENCES", "INFERENCE_EVENTS", "estimate_velocity",
    "run_workflow", "WorkflowResult", "WORKFLOW_EVENTS", "MAP_ARRAYS", "SAMPLE_ARRAYS",
    "CGResult", "steihaug_cg", "randomized_eigh", "CG_REASONS", "SYMMETRY_RTOL",
    "Globalisation", "ArmijoLineSearch", "SteihaugTrustRegion", "GLOBALISATIONS",
    "NEWTON_STOP_REASONS",
    "LaplaceApproximation", "LowRankLaplace", "DenseLaplace", "laplace_approximation",
    "COVERAGE_THRESHOLD", "MAP_DECREMENT_TOL",
]
# walled domains (issue #15)
__all__ += ["discrete_divergence"]
# time-varying flows (issue #15)
__all__ += ["WindowedFlow", "TemporalGaussian", "velocity_values"]
