r"""Hamiltonian Monte Carlo with an exact Metropolis test and any gradient field.

**HMC with a surrogate gradient.** Hamiltonian Monte Carlo proposes by leapfrog integration
of :math:`H(x, p) = −\log π(x) + \tfrac12 p^Tp` (in coordinates whitened by the mass matrix).
Each leapfrog half-step :math:`p ← p + \tfrac ε2 g(x)` and drift :math:`x ← x + εp` is a shear,
so the leapfrog map is volume preserving and reversible (with a momentum flip) for **any**
vector field :math:`g(x)`, not only :math:`∇\log π`. The Metropolis test with the exact
:math:`H` therefore leaves :math:`π` invariant whatever :math:`g` is: replacing the exact
adjoint gradient by the first-order surrogate (1.6) changes the acceptance rate (efficiency),
never the target. This is the surrogate-trajectory idea the note's open question asks about.

**Divergences.** Along each leapfrog trajectory the energy error
:math:`ΔH = H(x_s, p_s) − H(x_0, p_0)` is tracked after every full step. When it exceeds
``max_energy_error`` (default 1000, Stan's threshold), becomes non-finite, the optional
``in_bounds(x)`` test fails, or the log-density/gradient raises
:class:`~advdiff_sens.exceptions.NonFiniteResultError` or
:class:`~advdiff_sens.exceptions.WorkLimitExceeded`, the trajectory ends at once, the
proposal is rejected (acceptance 0, also for the warm-up's step-size adaptation) and counted
as a divergence. ``in_bounds`` is tested **before** every log-density and gradient call, so a
runaway trajectory never starts an expensive (possibly never-ending) evaluation at a wild
point.

**Warm-up.** The step size is adapted by dual averaging
(:class:`~advdiff_sens.sampling.adaptation.DualAveraging`, Hoffman & Gelman 2014, §3.2.1)
toward ``target_accept``; after the warm-up the chain runs with the averaged step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advdiff_sens.validation import (as_real_array, check_callable, check_integer,
                                     check_positive_scalar)
from advdiff_sens.exceptions import NonFiniteResultError, WorkLimitExceeded
from advdiff_sens.sampling.adaptation import DualAveraging
from advdiff_sens.sampling.base import SAMPLERS, Bounds, ChainMonitor, Sampler
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits

__all__ = ["HMC"]

LogDensity = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]


def _mass_factor(inverse_mass) -> np.ndarray | None:
    """Factor C with C Cᵀ = inverse mass (a covariance-like matrix); None for the identity."""
    if inverse_mass is None:
        return None
    m = as_real_array(inverse_mass, "inverse_mass")
    if m.ndim == 1:
        if np.any(m <= 0):
            raise ValueError("inverse_mass must be positive")
        return np.diag(np.sqrt(m))
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"inverse_mass must have shape (p,) or (p, p), got {m.shape}")
    try:
        return np.linalg.cholesky(0.5 * (m + m.T))
    except np.linalg.LinAlgError as exc:
        raise ValueError("inverse_mass must be symmetric positive definite") from exc


class _Leapfrog:
    """Leapfrog trajectories of one chain with divergence detection (module docstring); counts
    its gradient calls."""

    def __init__(self, log_density: LogDensity, gradient: Gradient, C: np.ndarray,
                 max_energy_error: float, in_bounds: Bounds | None) -> None:
        self.log_density, self.gradient, self.C = log_density, gradient, C
        self.max_energy_error, self.in_bounds = max_energy_error, in_bounds
        self.n_grad = 0

    def inside(self, x: np.ndarray) -> bool:
        return self.in_bounds is None or bool(self.in_bounds(x))

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """log π(x) and the whitened gradient field Cᵀg(x) (the gradient first, so a
        log-density that caches the value of the last gradient call reuses it)."""
        g = np.asarray(self.gradient(x), dtype=float)
        self.n_grad += 1
        if g.shape != x.shape:
            raise ValueError(f"gradient must return an array of shape {x.shape} (that of x0), "
                             f"got {g.shape}")
        if not np.all(np.isfinite(g)):
            return -np.inf, g
        return float(self.log_density(x)), self.C.T @ g

    def trajectory(self, x: np.ndarray, logp: float, grad: np.ndarray, mom: np.ndarray,
                   eps: float, n_steps: int):
        """``n_steps`` leapfrog steps from (x, p); returns (x, log π, grad, p, h, divergent)
        with h the final energy."""
        h0 = -logp + 0.5 * mom @ mom
        for _ in range(n_steps):
            mom = mom + 0.5 * eps * grad
            x = x + eps * (self.C @ mom)
            if not self.inside(x):
                return x, -np.inf, grad, mom, np.inf, True
            try:
                logp, grad = self.evaluate(x)
            except (NonFiniteResultError, WorkLimitExceeded):
                return x, -np.inf, grad, mom, np.inf, True
            if not np.isfinite(logp):
                return x, logp, grad, mom, np.inf, True
            mom = mom + 0.5 * eps * grad
            h = -logp + 0.5 * mom @ mom
            if not np.isfinite(h) or h - h0 > self.max_energy_error:
                return x, logp, grad, mom, h, True
        return x, logp, grad, mom, h, False


SAMPLER_TRAITS["hmc"] = SamplerTraits(
    label="HMC", step="step_size",
    mixing_advice="a mass matrix inverse_mass such as the Laplace covariance, more n_leapfrog",
    accept_range=lambda a: (max(a - 0.2, 0.0), 1.0 - (1.0 - a) / 4))


@SAMPLERS.register("hmc")
class HMC(Sampler):
    r"""Hamiltonian Monte Carlo with an exact Metropolis test and any gradient field.

    Each iteration draws a momentum :math:`p \sim N(0, I)` (whitened coordinates
    :math:`x = Cz`, :math:`CC^T = M^{-1}`), runs ``n_leapfrog`` steps of
    :math:`p ← p + \tfrac ε2 C^Tg(x)`, :math:`x ← x + εCp`, :math:`p ← p + \tfrac ε2 C^Tg(x)`,
    and accepts with probability :math:`\min(1, e^{H_0 − H_1})`,
    :math:`H = −\log π(x) + \tfrac12 p^Tp` (module docstring).

    Parameters
    ----------
    step_size : float
        Leapfrog step ε (in whitened coordinates), jittered ±10 % per iteration; adapted by
        dual averaging toward ``target_accept`` during warm-up when ``n_warmup > 0``
        (a divergent proposal counts as acceptance 0, so a too-large initial step shrinks).
    n_leapfrog : int
        Leapfrog steps per proposal.
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Target mean acceptance probability of the adaptation, in (0, 1).
    inverse_mass : array_like (p,) or (p, p), optional
        Covariance-like metric :math:`M^{-1}` (e.g. the Laplace covariance); identity if None.
    max_energy_error : float
        A trajectory whose energy error :math:`H(x_s, p_s) − H(x_0, p_0)` exceeds this (or is
        not finite) ends there, is rejected and counted as a divergence (default 1000, as
        Stan).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sampling import HMC
    >>> sampler = HMC(step_size=1.0, n_leapfrog=3, n_warmup=100)
    >>> res = sampler.sample(lambda x: -0.5 * float(x @ x), lambda x: -x, np.zeros(2), 500,
    ...                      n_chains=2, rng=0)
    >>> res.samples.shape
    (2, 500, 2)
    >>> bool(np.all(np.abs(res.mean) < 4 * res.mcse()))       # N(0, I): mean 0 within MCSE
    True
    """

    name = "hmc"
    label = "HMC"

    def __init__(self, *, step_size: float = 0.5, n_leapfrog: int = 5, n_warmup: int = 0,
                 target_accept: float = 0.8, inverse_mass=None,
                 max_energy_error: float = 1000.0) -> None:
        super().__init__(n_warmup=n_warmup, target_accept=target_accept)
        self.step_size = check_positive_scalar(step_size, "step_size")
        self.n_leapfrog = check_integer(n_leapfrog, "n_leapfrog", minimum=1)
        self.max_energy_error = check_positive_scalar(max_energy_error, "max_energy_error")
        self.inverse_mass = None if inverse_mass is None else as_real_array(inverse_mass,
                                                                           "inverse_mass")
        _mass_factor(self.inverse_mass)                      # checks it before any sampling

    def with_inverse_mass(self, inverse_mass) -> HMC:
        """The same sampler with the metric ``inverse_mass`` (e.g. a Laplace covariance known
        only once the MAP is found).

        Examples
        --------
        >>> import numpy as np
        >>> HMC(step_size=0.3).with_inverse_mass(np.eye(2)).step_size
        0.3
        """
        return HMC(step_size=self.step_size, n_leapfrog=self.n_leapfrog,
                   n_warmup=self.n_warmup, target_accept=self.target_accept,
                   inverse_mass=inverse_mass, max_energy_error=self.max_energy_error)

    def __repr__(self) -> str:
        mass = (None if self.inverse_mass is None
                else f"<array of shape {self.inverse_mass.shape}>")
        return (f"HMC(step_size={self.step_size}, n_leapfrog={self.n_leapfrog}, "
                f"n_warmup={self.n_warmup}, target_accept={self.target_accept}, "
                f"inverse_mass={mass}, max_energy_error={self.max_energy_error})")

    def _whitening(self, p: int) -> np.ndarray:
        factor = _mass_factor(self.inverse_mass)
        if factor is None:
            return np.eye(p)
        if factor.shape != (p, p):
            raise ValueError(f"inverse_mass must have shape ({p},) or ({p}, {p}) for x0 of "
                             f"{p} parameters, got {self.inverse_mass.shape}")
        return factor

    def sample(self, log_density: LogDensity, gradient: Gradient, x0, n_draws: int, *,
               n_chains: int = 1, rng=None, in_bounds: Bounds | None = None, progress=None,
               callback: Callable | None = None, n_workers: int = 1) -> SamplerResult:
        r"""Draw ``n_draws`` states per chain from :math:`π ∝ e^{\text{log_density}}`.

        Parameters
        ----------
        log_density : callable
            Exact :math:`\log π(x)` (up to a constant); non-finite values reject the
            proposal. Called at every leapfrog point, right after ``gradient`` at the same
            point (for the energy error); a density that reuses the value its gradient call
            computed (as :meth:`advdiff_sens.inference.estimate.VelocityPosterior.log_density`
            does) costs nothing extra.
        gradient : callable
            :math:`g(x) ≈ ∇\log π(x)` used by the leapfrog; an approximation (e.g. the
            first-order surrogate gradient) keeps π invariant (module docstring). A non-finite
            gradient ends the trajectory, which is rejected (a divergence).
        x0 : array_like (p,) or (n_chains, p)
            Starting point(s).
        n_draws : int
            Draws kept per chain after warm-up (at least 4).
        n_chains : int
            Independent chains (independent streams from ``rng``).
        rng : None, int or numpy.random.Generator
        in_bounds : callable, optional
            ``in_bounds(x) -> bool``: where trajectories may go. Tested before every
            log-density/gradient evaluation; False ends the trajectory as a divergence before
            anything is evaluated at ``x``. Every starting point must satisfy it. The chain
            then samples π restricted to the region (a trajectory and its reverse visit the
            same points, so rejecting both keeps detailed balance). For a flow posterior pass
            :meth:`advdiff_sens.inference.estimate.VelocityPosterior.in_bounds`.
        progress : None, "auto" or meter
            ``"auto"`` prints one line per chain on stderr once a chain has run
            :data:`advdiff_sens.progress.AUTO_DELAY` s,
            ``HMC chain 1/2  draw  17/50  (warm-up) acc 0.81 div 2`` (acceptance averaged
            over the current phase; divergences so far); a meter object
            (:mod:`advdiff_sens.progress`) is shared by the chains, counting the iterations of
            all of them, with the chain in the extra text.
        callback : callable, optional
            Called with a :class:`~advdiff_sens.sampling.base.Draw` after every iteration
            (``n_chains * (n_warmup + n_draws)`` calls; from the worker threads, one at a
            time, when ``n_workers > 1``).
        n_workers : int
            Chains run at once, each in a thread of its own (:mod:`advdiff_sens.sampling.base`);
            the draws do not depend on it. With ``n_workers > 1`` ``log_density`` and
            ``gradient`` are called from several threads at once and must allow it (a
            density that reuses its gradient call's value through a cache does not).

        Returns
        -------
        SamplerResult
            Judge the run with :meth:`SamplerResult.diagnostics` (R̂, ESS, acceptance,
            divergences); the sampler itself does not warn. The gradient calls are counted
            per chain (:attr:`SamplerResult.gradient_evaluations_per_chain`).
        """
        check_callable(log_density, "log_density")
        check_callable(gradient, "gradient")
        starts, n_draws = self.starting_points(x0, n_draws, n_chains, in_bounds, callback)
        factor = self._whitening(starts.shape[1])
        chains, seconds = self.run_chains(
            lambda x, stream, monitor: self._chain(
                _Leapfrog(log_density, gradient, factor, self.max_energy_error, in_bounds), x,
                n_draws, stream, monitor),
            starts, n_draws, rng=rng, progress=progress, callback=callback, n_workers=n_workers)
        return SamplerResult.from_chains(chains, seconds, target_accept=self.target_accept,
                                         sampler=self.name)

    def _chain(self, leapfrog: _Leapfrog, x: np.ndarray, n_draws: int,
               rng: np.random.Generator, monitor: ChainMonitor) -> ChainResult:
        p, n_warmup, step = x.size, self.n_warmup, self.step_size
        if not leapfrog.inside(x):
            raise ValueError("x0 must satisfy in_bounds (every chain's starting point)")
        logp, grad = leapfrog.evaluate(x)
        if not (np.isfinite(logp) and np.all(np.isfinite(grad))):
            raise ValueError(f"log_density and gradient must be finite at the starting point "
                             f"x0 (got log density {logp}); start inside the support")
        adapt = DualAveraging(step, self.target_accept) if n_warmup > 0 else None
        draws, logps, accepts = np.empty((n_draws, p)), np.empty(n_draws), np.empty(n_draws)
        divergent = np.zeros(2, dtype=int)                      # (warm-up, after warm-up)
        phase_accepts: list[float] = []
        for it in range(n_warmup + n_draws):
            eps = step * rng.uniform(0.9, 1.1)
            mom = rng.standard_normal(p)
            h0 = -logp + 0.5 * mom @ mom
            x_new, logp_new, g_new, _, h1, diverged = leapfrog.trajectory(
                x, logp, grad, mom, eps, self.n_leapfrog)
            accept = 0.0 if diverged else float(np.exp(min(0.0, h0 - h1)))
            divergent[int(it >= n_warmup)] += diverged
            if rng.uniform() < accept:
                x, logp, grad = x_new, logp_new, g_new
            if it == n_warmup:
                phase_accepts = []
            phase_accepts.append(accept)
            if it < n_warmup:
                step = adapt.update(accept)
                if it == n_warmup - 1:
                    step = adapt.final
            else:
                k = it - n_warmup
                draws[k], logps[k], accepts[k] = x, logp, accept
            monitor.report(it, x, accept, phase_accepts, int(divergent.sum()))
        return ChainResult(draws, logps, float(accepts.mean()), step, int(divergent[1]),
                           int(divergent[0]), leapfrog.n_grad)
