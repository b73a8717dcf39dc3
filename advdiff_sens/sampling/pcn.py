r"""Preconditioned Crank–Nicolson MCMC (Cotter, Roberts, Stuart & White 2013).

For a Gaussian prior :math:`N(0, S^2)`, :math:`S = \operatorname{diag}(s)`, the proposal
:math:`x' = \sqrt{1−β^2}\,x + βSξ`, :math:`ξ \sim N(0, I)`, is reversible with respect to the
prior, so it is accepted with probability :math:`\min(1, e^{ℓ(x') − ℓ(x)})`, ℓ the
log-likelihood: gradient free, and its acceptance does not degrade as the dimension grows.
During warm-up β is adapted by a Robbins–Monro step on :math:`\log β`,
:math:`β ← \operatorname{clip}(β\,e^{(a − a^*)/\sqrt{k}}, 10^{-4}, 1)` at iteration k.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advdiff_sens.validation import as_real_array, check_callable, check_positive_scalar
from advdiff_sens.sampling.base import SAMPLERS, Bounds, ChainMonitor, Sampler
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits

__all__ = ["PCN"]

LogLikelihood = Callable[[np.ndarray], float]


SAMPLER_TRAITS["pcn"] = SamplerTraits(
    label="pCN", step="beta", mixing_advice="beta adapted by n_warmup >= 100",
    accept_range=lambda a: (0.4 * a, min(2.0 * a, 0.9)))


@SAMPLERS.register("pcn")
class PCN(Sampler):
    r"""Preconditioned Crank–Nicolson MCMC for a prior :math:`N(0, \operatorname{diag}(s^2))`.

    Parameters
    ----------
    beta : float
        Proposal step β ∈ (0, 1] (module docstring); during warm-up adapted (Robbins–Monro
        on log β) toward ``target_accept``.
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Target mean acceptance probability of the adaptation, in (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sampling import PCN
    >>> y = np.array([0.3, -1.0])           # prior N(0, 1), one observation y = x + N(0, 1)
    >>> res = PCN(beta=0.5, n_warmup=200).sample(
    ...     lambda x: -0.5 * float(np.sum((x - y) ** 2)), np.ones(2), np.zeros(2), 2000,
    ...     n_chains=2, rng=0)
    >>> bool(np.all(np.abs(res.mean - y / 2) < 4 * res.mcse()))    # posterior mean y/2
    True
    """

    name = "pcn"
    label = "pCN"

    def __init__(self, *, beta: float = 0.2, n_warmup: int = 0,
                 target_accept: float = 0.25) -> None:
        super().__init__(n_warmup=n_warmup, target_accept=target_accept)
        beta = check_positive_scalar(beta, "beta")
        if beta > 1:
            raise ValueError(f"beta must be in (0, 1], got {beta}")
        self.beta = beta

    def __repr__(self) -> str:
        return (f"PCN(beta={self.beta}, n_warmup={self.n_warmup}, "
                f"target_accept={self.target_accept})")

    def sample(self, log_likelihood: LogLikelihood, prior_std, x0, n_draws: int, *,
               n_chains: int = 1, rng=None, in_bounds: Bounds | None = None, progress=None,
               callback: Callable | None = None) -> SamplerResult:
        r"""Draw ``n_draws`` states per chain from prior × likelihood.

        Parameters
        ----------
        log_likelihood : callable
            :math:`ℓ(x) = \log π(\text{data}\mid x)` (the posterior is prior × likelihood);
            a non-finite value rejects the proposal.
        prior_std : array_like (p,)
            Prior standard deviations s (> 0).
        x0 : array_like (p,) or (n_chains, p)
            Starting point(s).
        n_draws : int
            Draws kept per chain after warm-up (at least 4).
        n_chains : int
            Independent chains (run one after the other, independent streams from ``rng``).
        rng : None, int or numpy.random.Generator
        in_bounds : callable, optional
            ``in_bounds(x) -> bool``: a proposal outside is rejected before ``log_likelihood``
            is evaluated there (the chain samples the posterior restricted to the region, the
            proposal being prior reversible). Every starting point must satisfy it.
        progress : None, "auto" or meter
            As in :meth:`advdiff_sens.sampling.hmc.HMC.sample` (the line reads
            ``pCN chain 1/2  draw …``).
        callback : callable, optional
            Called with a :class:`~advdiff_sens.sampling.base.Draw` after every iteration.

        Returns
        -------
        SamplerResult
            ``log_density`` holds log-likelihood + log-prior (up to a constant); judge the run
            with :meth:`SamplerResult.diagnostics` (acceptance band ``[0.1, 0.5]`` for the
            default target 0.25).
        """
        check_callable(log_likelihood, "log_likelihood")
        starts, n_draws = self.starting_points(x0, n_draws, n_chains, in_bounds, callback)
        prior_std = as_real_array(prior_std, "prior_std", shape=(starts.shape[1],))
        if np.any(prior_std <= 0):
            raise ValueError("prior_std must be > 0")
        chains, seconds = self.run_chains(
            lambda x, stream, monitor: self._chain(log_likelihood, prior_std, in_bounds, x,
                                                   n_draws, stream, monitor),
            starts, n_draws, rng=rng, progress=progress, callback=callback)
        return SamplerResult.from_chains(chains, seconds, 0, target_accept=self.target_accept,
                                         sampler=self.name)

    def _chain(self, log_likelihood: LogLikelihood, prior_std: np.ndarray,
               in_bounds: Bounds | None, x: np.ndarray, n_draws: int,
               rng: np.random.Generator, monitor: ChainMonitor) -> ChainResult:
        p, n_warmup, beta, target = x.size, self.n_warmup, self.beta, self.target_accept
        if in_bounds is not None and not in_bounds(x):
            raise ValueError("x0 must satisfy in_bounds (every chain's starting point)")
        loglik = float(log_likelihood(x))
        if not np.isfinite(loglik):
            raise ValueError(f"log_likelihood must be finite at the starting point x0 (got "
                             f"{loglik}); start inside the support")
        draws, logls, accepts = np.empty((n_draws, p)), np.empty(n_draws), np.empty(n_draws)
        phase_accepts: list[float] = []
        for it in range(n_warmup + n_draws):
            proposal = np.sqrt(1 - beta**2) * x + beta * prior_std * rng.standard_normal(p)
            if in_bounds is not None and not in_bounds(proposal):
                accept = 0.0
            else:
                loglik_new = float(log_likelihood(proposal))
                accept = (float(np.exp(min(0.0, loglik_new - loglik))) if np.isfinite(loglik_new)
                          else 0.0)
            if rng.uniform() < accept:
                x, loglik = proposal, loglik_new
            if it == n_warmup:
                phase_accepts = []
            phase_accepts.append(accept)
            if it < n_warmup:
                beta = float(np.clip(beta * np.exp((accept - target) / np.sqrt(it + 1)), 1e-4,
                                     1.0))
            else:
                k = it - n_warmup
                draws[k], logls[k], accepts[k] = x, loglik, accept
            monitor.report(it, x, accept, phase_accepts, 0)
        log_prior = -0.5 * np.sum((draws / prior_std) ** 2, axis=1)
        return ChainResult(draws, logls + log_prior, float(accepts.mean()), beta, 0, 0)
