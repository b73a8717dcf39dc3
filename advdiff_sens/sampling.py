r"""MCMC for posteriors with an expensive log-density: HMC (exact or surrogate gradient), pCN,
and the standard convergence diagnostics.

**HMC with a surrogate gradient.** Hamiltonian Monte Carlo proposes by leapfrog integration
of :math:`H(x, p) = −\log π(x) + \tfrac12 p^Tp` (in coordinates whitened by the mass matrix).
Each leapfrog half-step :math:`p ← p + \tfrac ε2 g(x)` and drift :math:`x ← x + εp` is a shear,
so the leapfrog map is volume preserving and reversible (with a momentum flip) for **any**
vector field :math:`g(x)`, not only :math:`∇\log π`. The Metropolis test with the exact
:math:`H` therefore leaves :math:`π` invariant whatever :math:`g` is: replacing the exact
adjoint gradient by the first-order surrogate (1.6) changes the acceptance rate (efficiency),
never the target. This is the surrogate-trajectory idea the note's open question asks about.

**pCN** (preconditioned Crank–Nicolson; Cotter, Roberts, Stuart & White 2013) for a Gaussian
prior :math:`N(0, S^2)`: :math:`x' = \sqrt{1−β^2}\,x + βSξ`, accepted with probability
:math:`\min(1, e^{ℓ(x') − ℓ(x)})`, ℓ the log-likelihood; gradient free and prior reversible.

**Diagnostics** (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, without rank
normalisation): split-:math:`\hat R`, and the effective sample size

.. math::

    \text{ESS} = \frac{MN}{1 + 2\sum_{t≥1}\hat ρ_t},\qquad
    \hat ρ_t = 1 − \frac{W − \overline{\text{acov}}_t}{\widehat{\text{var}}^+},

computed on the half-chains (each chain split in two, so that a drift within a chain lowers
the ESS) with the sum truncated by Geyer's initial monotone positive sequence. These are
ArviZ's ``ess(method="mean")`` and ``rhat(method="split")``, kept here (a few lines of numpy)
so that the samplers need no extra dependency; ``tests/test_sampling.py`` checks them against
ArviZ. For rank-normalised bulk and tail ESS and plots, :meth:`SamplerResult.to_inference_data`
hands the draws to ArviZ (``pip install "advdiff_sens[diagnostics]"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import as_real_array, as_rng, check_integer, check_positive_scalar
from .progress import Progress

__all__ = ["SamplerResult", "hmc", "pcn", "effective_sample_size", "split_rhat",
           "autocorrelation", "Progress"]

LogDensity = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]


@dataclass
class SamplerResult:
    """Draws of several chains and their cost.

    Attributes
    ----------
    samples : ndarray (n_chains, n_draws, p)
        Post-warm-up draws.
    log_density : ndarray (n_chains, n_draws)
        Exact log-density of each draw.
    accept_rate : ndarray (n_chains,)
        Mean Metropolis acceptance probability after warm-up.
    seconds : float
        Wall time of all chains, warm-up included.
    step_size : ndarray (n_chains,)
        Final leapfrog step ε (HMC) or pCN β.
    gradient_evaluations : int
        Gradient calls (0 for pCN).
    """

    samples: np.ndarray
    log_density: np.ndarray
    accept_rate: np.ndarray
    seconds: float
    step_size: np.ndarray
    gradient_evaluations: int

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean estimate over all chains, shape (p,)."""
        return self.samples.reshape(-1, self.samples.shape[-1]).mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """Posterior standard deviation estimate, shape (p,)."""
        return self.samples.reshape(-1, self.samples.shape[-1]).std(axis=0, ddof=1)

    def ess(self) -> np.ndarray:
        """Effective sample size of each parameter (:func:`effective_sample_size`)."""
        return effective_sample_size(self.samples)

    def rhat(self) -> np.ndarray:
        """Split-R̂ of each parameter (:func:`split_rhat`)."""
        return split_rhat(self.samples)

    def ess_per_second(self) -> float:
        """Smallest ESS over the parameters divided by the wall time."""
        return float(self.ess().min() / self.seconds)

    def mcse(self) -> np.ndarray:
        """Monte Carlo standard error of the mean, :math:`\\hat σ/\\sqrt{\\text{ESS}}`."""
        return self.std / np.sqrt(self.ess())

    def to_inference_data(self, name: str = "c"):
        """The draws as an ``arviz.InferenceData`` (posterior variable ``name`` with
        dimensions chain × draw × parameter, and the log-density as a sample statistic).
        Needs ArviZ: ``pip install "advdiff_sens[diagnostics]"``."""
        try:
            import arviz
        except ImportError as err:
            raise ImportError("to_inference_data needs ArviZ: "
                              "pip install \"advdiff_sens[diagnostics]\"") from err
        return arviz.from_dict(posterior={name: self.samples},
                               sample_stats={"lp": self.log_density})


def _as_chains(samples) -> np.ndarray:
    x = as_real_array(samples, "samples")
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 4:
        raise ValueError(f"samples must have shape (n_chains, n_draws >= 4, p), got {x.shape}")
    return x


def autocorrelation(x) -> np.ndarray:
    r"""Autocorrelation :math:`\hat ρ_t = \hat γ_t/\hat γ_0`, t = 0..n−1, of a 1-D series, with
    the biased autocovariance :math:`\hat γ_t = \frac1n\sum_{i=0}^{n-1-t}(x_i-\bar x)
    (x_{i+t}-\bar x)` computed by FFT (zero-padded to 2n, so no wrap-around)."""
    x = as_real_array(x, "x", ndim=1)
    n = x.size
    y = x - x.mean()
    f = np.fft.rfft(y, 2 * n)
    acov = np.fft.irfft(f * np.conj(f))[:n] / n
    return acov / acov[0] if acov[0] > 0 else np.ones(n)


def _ess_1d(chains: np.ndarray) -> float:
    m, n = chains.shape
    acov = np.stack([autocorrelation(c) * c.var() for c in chains])
    within = float(np.mean(chains.var(axis=1, ddof=1)))
    var_plus = within * (n - 1) / n + (float(np.var(chains.mean(axis=1), ddof=1)) if m > 1 else 0.0)
    if var_plus <= 0:
        return float(m * n)
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer's initial positive sequence over pairs (ρ_{2k}, ρ_{2k+1}), keeping the positive
    # even lag of the first non-positive pair (antithetic chains), then the initial
    # monotone sequence; the same steps as Stan and ArviZ
    kept = np.zeros(n)
    kept[:2] = rho[:2]
    t, even, odd = 1, 1.0, rho[1]
    while t < n - 3 and even + odd > 0.0:
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0.0:
            kept[t + 1], kept[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0.0:
        kept[last + 1] = even
    for t in range(1, last - 1, 2):
        if kept[t + 1] + kept[t + 2] > kept[t - 1] + kept[t]:
            kept[t + 1] = kept[t + 2] = 0.5 * (kept[t - 1] + kept[t])
    tau = -1.0 + 2.0 * float(np.sum(kept[:last + 1])) + float(np.sum(kept[last + 1:last + 2]))
    tau = max(tau, 1.0 / np.log10(m * n))
    return float(m * n / tau)


def _split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain's first and last ``n // 2`` draws as two chains (the middle draw of an odd
    length is dropped)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def effective_sample_size(samples) -> np.ndarray:
    """Multi-chain effective sample size of each parameter, over the half-chains (module
    docstring).

    Parameters
    ----------
    samples : array_like (n_chains, n_draws, p), (n_draws, p) or (n_draws,)

    Returns
    -------
    ndarray (p,)
    """
    x = _split_chains(_as_chains(samples))
    return np.array([_ess_1d(x[:, :, j]) for j in range(x.shape[2])])


def split_rhat(samples) -> np.ndarray:
    r"""Split-:math:`\hat R = \sqrt{\widehat{\text{var}}^+/W}` of each parameter over the
    half-chains (Gelman et al., BDA3 §11.4). Values above ≈1.01 flag non-convergence."""
    halves = _split_chains(_as_chains(samples))
    n = halves.shape[1]
    within = halves.var(axis=1, ddof=1).mean(axis=0)
    between = halves.mean(axis=1).var(axis=0, ddof=1)
    var_plus = within * (n - 1) / n + between
    return np.sqrt(var_plus / np.where(within > 0, within, np.inf))


def _initial_points(x0, n_chains: int) -> np.ndarray:
    x0 = as_real_array(x0, "x0")
    if x0.ndim == 1:
        return np.tile(x0, (n_chains, 1))
    if x0.ndim != 2 or x0.shape[0] != n_chains:
        raise ValueError(f"x0 must have shape (p,) or (n_chains={n_chains}, p), got {x0.shape}")
    return x0


def _mass_factor(inverse_mass, p: int) -> np.ndarray:
    """Factor C with C Cᵀ = inverse mass (a covariance-like matrix); identity for None."""
    if inverse_mass is None:
        return np.eye(p)
    m = as_real_array(inverse_mass, "inverse_mass")
    if m.shape == (p,):
        if np.any(m <= 0):
            raise ValueError("inverse_mass must be positive")
        return np.diag(np.sqrt(m))
    if m.shape != (p, p):
        raise ValueError(f"inverse_mass must have shape ({p},) or ({p}, {p}), got {m.shape}")
    try:
        return np.linalg.cholesky(0.5 * (m + m.T))
    except np.linalg.LinAlgError as exc:
        raise ValueError("inverse_mass must be symmetric positive definite") from exc


class _DualAveraging:
    """Step-size adaptation toward a target acceptance (Hoffman & Gelman 2014, §3.2.1)."""

    def __init__(self, step: float, target: float) -> None:
        self.mu, self.target = np.log(10 * step), target
        self.h_bar, self.log_bar, self.k = 0.0, np.log(step), 0

    def update(self, accept: float) -> float:
        self.k += 1
        eta = 1.0 / (self.k + 10)
        self.h_bar = (1 - eta) * self.h_bar + eta * (self.target - accept)
        log_step = self.mu - np.sqrt(self.k) / 0.05 * self.h_bar
        w = self.k ** -0.75
        self.log_bar = w * log_step + (1 - w) * self.log_bar
        return float(np.exp(log_step))

    @property
    def final(self) -> float:
        return float(np.exp(self.log_bar))


def _hmc_chain(log_density: LogDensity, gradient: Gradient, x: np.ndarray, C: np.ndarray,
               n_samples: int, n_warmup: int, step: float, n_steps: int, target: float,
               rng: np.random.Generator, progress: Progress, offset: int):
    p = x.size
    logp = float(log_density(x))
    g0 = np.asarray(gradient(x))
    if g0.shape != x.shape:
        raise ValueError(f"gradient must return an array of shape {x.shape} (that of x0), "
                         f"got {g0.shape}")
    grad = C.T @ g0
    if not (np.isfinite(logp) and np.all(np.isfinite(grad))):
        raise ValueError(f"log_density and gradient must be finite at the starting point x0 "
                         f"(got log density {logp}); start inside the support")
    adapt = _DualAveraging(step, target) if n_warmup > 0 else None
    draws, logps, accepts = np.empty((n_samples, p)), np.empty(n_samples), np.empty(n_samples)
    n_grad = 1
    for it in range(n_warmup + n_samples):
        eps = step * rng.uniform(0.9, 1.1)
        mom = rng.standard_normal(p)
        h0 = -logp + 0.5 * mom @ mom
        x_new, g_new = x.copy(), grad.copy()
        mom_new = mom + 0.5 * eps * g_new
        for s in range(n_steps):
            x_new = x_new + eps * (C @ mom_new)
            g_new = C.T @ gradient(x_new)
            n_grad += 1
            if not np.all(np.isfinite(g_new)):      # divergent trajectory: reject
                break
            mom_new = mom_new + (eps if s < n_steps - 1 else 0.5 * eps) * g_new
        finite = np.all(np.isfinite(g_new))
        logp_new = float(log_density(x_new)) if finite else -np.inf
        h1 = -logp_new + 0.5 * mom_new @ mom_new
        accept = float(np.exp(min(0.0, h0 - h1))) if np.isfinite(h1) else 0.0
        if rng.uniform() < accept:
            x, logp, grad = x_new, logp_new, g_new
        if it < n_warmup:
            step = adapt.update(accept)
            if it == n_warmup - 1:
                step = adapt.final
        else:
            k = it - n_warmup
            draws[k], logps[k], accepts[k] = x, logp, accept
        progress.update(offset + it + 1, f"acc {np.mean(accepts[:max(it - n_warmup + 1, 1)]):.2f}"
                        if it >= n_warmup else "warm-up")
    return draws, logps, float(accepts.mean()), step, n_grad


def _check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


def _check_common(n_samples, n_warmup, n_chains, target_accept):
    n_samples = check_integer(n_samples, "n_samples", minimum=4)
    n_warmup = check_integer(n_warmup, "n_warmup", minimum=0)
    n_chains = check_integer(n_chains, "n_chains", minimum=1)
    target_accept = check_positive_scalar(target_accept, "target_accept")
    if target_accept >= 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    return n_samples, n_warmup, n_chains, target_accept


def hmc(log_density: LogDensity, gradient: Gradient, x0, n_samples: int, *,
        step_size: float = 0.5, n_steps: int = 5, inverse_mass=None, n_warmup: int = 0,
        target_accept: float = 0.8, n_chains: int = 1, rng=None,
        progress: bool = False) -> SamplerResult:
    r"""Hamiltonian Monte Carlo with an exact Metropolis test and any gradient field.

    Parameters
    ----------
    log_density : callable
        Exact :math:`\log π(x)` (up to a constant); non-finite values reject the proposal.
    gradient : callable
        :math:`g(x) ≈ ∇\log π(x)` used by the leapfrog; an approximation (e.g. the
        first-order surrogate gradient) keeps π invariant (module docstring). A non-finite
        gradient ends the trajectory, which is rejected (a divergence).
    x0 : array_like (p,) or (n_chains, p)
        Starting point(s).
    n_samples : int
        Draws kept per chain after warm-up.
    step_size : float
        Leapfrog step ε (in whitened coordinates), jittered ±10 % per iteration; adapted by
        dual averaging toward ``target_accept`` during warm-up when ``n_warmup > 0``.
    n_steps : int
        Leapfrog steps per proposal.
    inverse_mass : array_like (p,) or (p, p), optional
        Covariance-like metric :math:`M^{-1}` (e.g. the Laplace covariance); identity if None.
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Target mean acceptance probability of the adaptation.
    n_chains : int
        Independent chains (run one after the other, independent streams from ``rng``).
    rng : None, int or numpy.random.Generator
    progress : bool
        Print a progress line on stderr.
    """
    _check_callable(log_density, "log_density")
    _check_callable(gradient, "gradient")
    n_samples, n_warmup, n_chains, target_accept = _check_common(
        n_samples, n_warmup, n_chains, target_accept)
    step_size = check_positive_scalar(step_size, "step_size")
    n_steps = check_integer(n_steps, "n_steps", minimum=1)
    starts = _initial_points(x0, n_chains)
    C = _mass_factor(inverse_mass, starts.shape[1])
    streams = as_rng(rng).spawn(n_chains)
    total = n_chains * (n_warmup + n_samples)
    bar = Progress(total, "HMC", progress)
    begin = time.perf_counter()
    out = [_hmc_chain(log_density, gradient, starts[c].copy(), C, n_samples, n_warmup, step_size,
                      n_steps, target_accept, streams[c], bar, c * (n_warmup + n_samples))
           for c in range(n_chains)]
    seconds = time.perf_counter() - begin
    return SamplerResult(np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
                         np.array([o[2] for o in out]), seconds, np.array([o[3] for o in out]),
                         sum(o[4] for o in out))


def _pcn_chain(log_likelihood: LogDensity, prior_std: np.ndarray, x: np.ndarray, n_samples: int,
               n_warmup: int, beta: float, target: float, rng: np.random.Generator,
               progress: Progress, offset: int):
    p = x.size
    loglik = float(log_likelihood(x))
    if not np.isfinite(loglik):
        raise ValueError(f"log_likelihood must be finite at the starting point x0 (got "
                         f"{loglik}); start inside the support")
    draws, logls, accepts = np.empty((n_samples, p)), np.empty(n_samples), np.empty(n_samples)
    for it in range(n_warmup + n_samples):
        proposal = np.sqrt(1 - beta**2) * x + beta * prior_std * rng.standard_normal(p)
        loglik_new = float(log_likelihood(proposal))
        accept = float(np.exp(min(0.0, loglik_new - loglik))) if np.isfinite(loglik_new) else 0.0
        if rng.uniform() < accept:
            x, loglik = proposal, loglik_new
        if it < n_warmup:
            beta = float(np.clip(beta * np.exp((accept - target) / np.sqrt(it + 1)), 1e-4, 1.0))
        else:
            k = it - n_warmup
            draws[k], logls[k], accepts[k] = x, loglik, accept
        progress.update(offset + it + 1)
    log_prior = -0.5 * np.sum((draws / prior_std) ** 2, axis=1)
    return draws, logls + log_prior, float(accepts.mean()), beta


def pcn(log_likelihood: LogDensity, prior_std, x0, n_samples: int, *, beta: float = 0.2,
        n_warmup: int = 0, target_accept: float = 0.25, n_chains: int = 1, rng=None,
        progress: bool = False) -> SamplerResult:
    r"""Preconditioned Crank–Nicolson MCMC for a prior :math:`N(0, \operatorname{diag}(s^2))`.

    Parameters
    ----------
    log_likelihood : callable
        :math:`ℓ(x) = \log π(\text{data}\mid x)` (the posterior is prior × likelihood).
    prior_std : array_like (p,)
        Prior standard deviations s.
    x0 : array_like (p,) or (n_chains, p)
    n_samples : int
        Draws kept per chain.
    beta : float
        Proposal step β ∈ (0, 1]; during warm-up adapted (Robbins–Monro on log β) toward
        ``target_accept``.
    n_warmup, target_accept, n_chains, rng, progress
        As in :func:`hmc`.

    Returns
    -------
    SamplerResult
        ``log_density`` holds log-likelihood + log-prior (up to a constant).
    """
    _check_callable(log_likelihood, "log_likelihood")
    n_samples, n_warmup, n_chains, target_accept = _check_common(
        n_samples, n_warmup, n_chains, target_accept)
    beta = check_positive_scalar(beta, "beta")
    if beta > 1:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    starts = _initial_points(x0, n_chains)
    prior_std = as_real_array(prior_std, "prior_std", shape=(starts.shape[1],))
    if np.any(prior_std <= 0):
        raise ValueError("prior_std must be > 0")
    streams = as_rng(rng).spawn(n_chains)
    bar = Progress(n_chains * (n_warmup + n_samples), "pCN", progress)
    begin = time.perf_counter()
    out = [_pcn_chain(log_likelihood, prior_std, starts[c].copy(), n_samples, n_warmup, beta,
                      target_accept, streams[c], bar, c * (n_warmup + n_samples))
           for c in range(n_chains)]
    seconds = time.perf_counter() - begin
    return SamplerResult(np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
                         np.array([o[2] for o in out]), seconds, np.array([o[3] for o in out]), 0)
