"""MCMC samplers (HMC, pCN) and their convergence diagnostics."""

from advdiff_sens.sampling.samplers import (
    SamplerResult, SamplerDiagnostics, hmc, pcn, effective_sample_size, split_rhat,
    autocorrelation, Progress, MAX_RHAT, MIN_ESS
)

__all__ = [
    "SamplerResult", "SamplerDiagnostics", "hmc", "pcn", "effective_sample_size",
    "split_rhat", "autocorrelation", "Progress", "MAX_RHAT", "MIN_ESS"
]
