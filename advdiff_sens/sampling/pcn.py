r"""Preconditioned Crank–Nicolson MCMC (Cotter, Roberts, Stuart & White 2013).

For a Gaussian prior :math:`N(m, C)` (a
:class:`~advdiff_sens.sampling.reference.GaussianReference`) the proposal

.. math::

    x' = m + \sqrt{1−β^2}\,(x − m) + βC^{1/2}ξ,\qquad ξ \sim N(0, I),

is reversible with respect to the prior, so it is accepted with probability
:math:`\min(1, e^{ℓ(x') − ℓ(x)})`, ℓ the log-likelihood: gradient free, and its acceptance
does not degrade as the dimension grows. An array of standard deviations s is the prior
:math:`N(0, \operatorname{diag}(s^2))`, proposed as :math:`\sqrt{1−β^2}\,x + (βs)ξ` (the
arithmetic, and so the draws, of the versions that took only s).
During warm-up β is adapted by a Robbins–Monro step on :math:`\log β`,
:math:`β ← \operatorname{clip}(β\,e^{(a − a^*)/\sqrt{k}}, 10^{-4}, 1)` at iteration k.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advdiff_sens.validation import as_real_array, check_callable, check_positive_scalar
from advdiff_sens.sampling.base import SAMPLERS, Bounds, ChainMonitor, Sampler
from advdiff_sens.sampling.reference import GaussianReference
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits

__all__ = ["PCN"]

LogLikelihood = Callable[[np.ndarray], float]


SAMPLER_TRAITS["pcn"] = SamplerTraits(
    label="pCN", step="beta", mixing_advice="beta adapted by n_warmup >= 100",
    accept_range=lambda a: (0.4 * a, min(2.0 * a, 0.9)))


@SAMPLERS.register("pcn")
class PCN(Sampler):
    r"""Preconditioned Crank–Nicolson MCMC for a Gaussian prior :math:`N(m, C)` (module
    docstring).

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

    The same posterior with the prior as a Gaussian reference (here with a mean):

    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> prior = DiagonalGaussian(np.array([1.0, 1.0]), 1.0)        # posterior mean (y + 1)/2
    >>> res = PCN(beta=0.5, n_warmup=200).sample(
    ...     lambda x: -0.5 * float(np.sum((x - y) ** 2)), prior, np.ones(2), 2000, n_chains=2,
    ...     rng=0)
    >>> bool(np.all(np.abs(res.mean - (y + 1) / 2) < 4 * res.mcse()))
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

    def sample(self, log_likelihood: LogLikelihood, prior, x0, n_draws: int, *,
               n_chains: int = 1, rng=None, in_bounds: Bounds | None = None, progress=None,
               callback: Callable | None = None, n_workers: int = 1) -> SamplerResult:
        r"""Draw ``n_draws`` states per chain from prior × likelihood.

        Parameters
        ----------
        log_likelihood : callable
            :math:`ℓ(x) = \log π(\text{data}\mid x)` (the posterior is prior × likelihood);
            a non-finite value rejects the proposal.
        prior : GaussianReference or array_like (p,)
            The prior :math:`N(m, C)` (e.g. a
            :class:`~advdiff_sens.sampling.reference.DenseGaussian` or a function-space
            prior), or its standard deviations s (> 0) for :math:`N(0, \operatorname{diag}(s^2))`.
        x0 : array_like (p,) or (n_chains, p)
            Starting point(s).
        n_draws : int
            Draws kept per chain after warm-up (at least 4).
        n_chains : int
            Independent chains (independent streams from ``rng``).
        rng : None, int or numpy.random.Generator
        in_bounds : callable, optional
            ``in_bounds(x) -> bool``: a proposal outside is rejected before ``log_likelihood``
            is evaluated there (the chain samples the posterior restricted to the region, the
            proposal being prior reversible). Every starting point must satisfy it.
        progress : None, "auto" or meter
            As in :meth:`advdiff_sens.sampling.hmc.HMC.sample` (the line reads
            ``pCN chain 1/2  draw …``).
        callback : callable, optional
            Called with a :class:`~advdiff_sens.sampling.base.Draw` after every iteration
            (from the worker threads, one at a time, when ``n_workers > 1``).
        n_workers : int
            Chains run at once, each in a thread of its own (:mod:`advdiff_sens.sampling.base`;
            ``log_likelihood`` must then allow calls from several threads at once); the draws
            do not depend on it.

        Returns
        -------
        SamplerResult
            ``log_density`` holds log-likelihood + log-prior (up to a constant); judge the run
            with :meth:`SamplerResult.diagnostics` (acceptance band ``[0.1, 0.5]`` for the
            default target 0.25).
        """
        check_callable(log_likelihood, "log_likelihood")
        starts, n_draws = self.starting_points(x0, n_draws, n_chains, in_bounds, callback)
        prior = _as_prior(prior, starts.shape[1])
        chains, seconds = self.run_chains(
            lambda x, stream, monitor: self._chain(log_likelihood, prior, in_bounds, x,
                                                   n_draws, stream, monitor),
            starts, n_draws, rng=rng, progress=progress, callback=callback, n_workers=n_workers)
        return SamplerResult.from_chains(chains, seconds, 0, target_accept=self.target_accept,
                                         sampler=self.name)

    def _chain(self, log_likelihood: LogLikelihood, prior: GaussianReference | np.ndarray,
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
            proposal = _propose(prior, x, beta, rng.standard_normal(p))
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
        if isinstance(prior, GaussianReference):
            log_prior = -np.array([prior.neg_log_density(d) for d in draws])
        else:
            log_prior = -0.5 * np.sum((draws / prior) ** 2, axis=1)
        return ChainResult(draws, logls + log_prior, float(accepts.mean()), beta, 0, 0)


def _as_prior(prior, p: int) -> GaussianReference | np.ndarray:
    """The prior of :meth:`PCN.sample`: a reference of dimension p, or p standard deviations."""
    if isinstance(prior, GaussianReference):
        if prior.dim != p:
            raise ValueError(f"prior has dimension {prior.dim}, x0 has {p} parameters")
        return prior
    std = as_real_array(prior, "prior (prior_std, the prior standard deviations)", shape=(p,))
    if np.any(std <= 0):
        raise ValueError("prior (prior_std, the prior standard deviations) must be > 0")
    return std


def _propose(prior: GaussianReference | np.ndarray, x: np.ndarray, beta: float,
             xi: np.ndarray) -> np.ndarray:
    """The pCN proposal from ``x`` with the standard normal ``xi`` (module docstring)."""
    rho = np.sqrt(1 - beta**2)
    if isinstance(prior, GaussianReference):
        return prior.mean + rho * (x - prior.mean) + beta * prior.sqrt_cov(xi)
    return rho * x + beta * prior * xi
