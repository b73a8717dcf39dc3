"""MCMC samplers as objects (:class:`HMC`, :class:`PCN`, the dimension-robust
:class:`InfinityHMC` and :class:`InfinityMALA`; by name through :data:`SAMPLERS`), the Gaussian
references they precondition with, the result they return and its convergence diagnostics."""

from advdiff_sens.sampling.base import SAMPLERS, Sampler, Draw
from advdiff_sens.sampling.adaptation import DualAveraging
from advdiff_sens.sampling.hmc import HMC
from advdiff_sens.sampling.pcn import PCN
from advdiff_sens.sampling.infinite import InfinityHMC, InfinityMALA
from advdiff_sens.sampling.reference import GaussianReference, DiagonalGaussian, DenseGaussian
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits
from advdiff_sens.sampling.diagnostics import (
    SamplerDiagnostics, effective_sample_size, split_rhat, autocorrelation, MAX_RHAT, MIN_ESS
)

__all__ = [
    "SAMPLERS", "Sampler", "Draw", "HMC", "PCN", "InfinityHMC", "InfinityMALA", "DualAveraging",
    "GaussianReference", "DiagonalGaussian", "DenseGaussian", "SamplerResult", "ChainResult",
    "SamplerTraits", "SAMPLER_TRAITS",
    "SamplerDiagnostics", "effective_sample_size", "split_rhat", "autocorrelation",
    "MAX_RHAT", "MIN_ESS"
]
