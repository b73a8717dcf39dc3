"""MCMC samplers as objects (:class:`HMC`, :class:`PCN`, by name through :data:`SAMPLERS`),
the result they return and its convergence diagnostics."""

from advdiff_sens.sampling.base import SAMPLERS, Sampler, Draw
from advdiff_sens.sampling.hmc import HMC
from advdiff_sens.sampling.pcn import PCN
from advdiff_sens.sampling.reference import GaussianReference, DiagonalGaussian, DenseGaussian
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits
from advdiff_sens.sampling.diagnostics import (
    SamplerDiagnostics, effective_sample_size, split_rhat, autocorrelation, MAX_RHAT, MIN_ESS
)

__all__ = [
    "SAMPLERS", "Sampler", "Draw", "HMC", "PCN", "GaussianReference", "DiagonalGaussian", "DenseGaussian", "SamplerResult", "ChainResult",
    "SamplerTraits", "SAMPLER_TRAITS",
    "SamplerDiagnostics", "effective_sample_size", "split_rhat", "autocorrelation",
    "MAX_RHAT", "MIN_ESS"
]
