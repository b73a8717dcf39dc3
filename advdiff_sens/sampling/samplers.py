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

:meth:`SamplerResult.diagnostics` turns these numbers into :class:`~advdiff_sens.exceptions.FitWarning`
messages (R̂, ESS, acceptance, divergences), each naming the quantity, its value and a remedy.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from advdiff_sens.validation import as_real_array, as_rng, check_integer, check_positive_scalar
from advdiff_sens.exceptions import FitWarning, NonFiniteResultError, WorkLimitExceeded
from advdiff_sens.progress import Progress, as_progress

__all__ = ["SamplerResult", "SamplerDiagnostics", "hmc", "pcn", "effective_sample_size",
           "split_rhat", "autocorrelation", "Progress", "MAX_RHAT", "MIN_ESS",
]

LogDensity = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]
Bounds = Callable[[np.ndarray], bool]

#: :meth:`SamplerResult.diagnostics` warns when the largest split-R̂ exceeds this
#: (Vehtari et al. 2021).
MAX_RHAT = 1.01
#: :meth:`SamplerResult.diagnostics` warns when the smallest ESS (all chains together) is
#: below this. A rule of thumb: below 100 the Monte Carlo error of a mean is more than a tenth
#: of the posterior sd (MCSE = sd/√ESS), and the ESS and R̂ estimates themselves are
#: unreliable; Vehtari et al. (2021) recommend 100 per chain (400 for four chains) for
#: rank-normalised ESS.
MIN_ESS = 100.0


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
    divergences : ndarray of int (n_chains,)
        Divergent trajectories after warm-up (module docstring; always 0 for pCN).
    warmup_divergences : ndarray of int (n_chains,)
        Divergent trajectories during warm-up (expected while a bad initial step adapts).
    target_accept : float
        The acceptance the warm-up adapted toward (the centre of the diagnostics' band).
    sampler : {"hmc", "pcn"}
        Which sampler drew the samples (sets the default acceptance band of
        :meth:`diagnostics`).
    """

    samples: np.ndarray
    log_density: np.ndarray
    accept_rate: np.ndarray
    seconds: float
    step_size: np.ndarray
    gradient_evaluations: int
    divergences: np.ndarray = field(default=None)
    warmup_divergences: np.ndarray = field(default=None)
    target_accept: float = 0.8
    sampler: str = "hmc"

    def __post_init__(self) -> None:
        n_chains = self.samples.shape[0]
        for name in ("divergences", "warmup_divergences"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(n_chains, dtype=int))
        if self.sampler not in ("hmc", "pcn"):
            raise ValueError(f"sampler must be 'hmc' or 'pcn', got {self.sampler!r}")

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

    def accept_range(self) -> tuple[float, float]:
        r"""Default band of mean acceptance that :meth:`diagnostics` accepts.

        HMC: :math:`[a − 0.2,\ 1 − (1 − a)/4]` around the target a (``[0.6, 0.95]`` for
        a = 0.8; below, the step is too large for the posterior's curvature; above, it is so
        small that gradient evaluations are wasted). pCN: :math:`[0.4a,\ \min(2a, 0.9)]`
        (``[0.1, 0.5]`` for a = 0.25).
        """
        a = self.target_accept
        if self.sampler == "hmc":
            return max(a - 0.2, 0.0), 1.0 - (1.0 - a) / 4
        return 0.4 * a, min(2.0 * a, 0.9)

    def diagnostics(self, *, max_rhat: float = MAX_RHAT, min_ess: float = MIN_ESS,
                    accept_range: tuple[float, float] | None = None,
                    warn: bool = True) -> SamplerDiagnostics:
        r"""Check the run and say what is wrong with it.

        Four checks, each giving one message that names the quantity, its value and a remedy:

        * largest split-:math:`\hat R` above ``max_rhat`` (default :data:`MAX_RHAT` = 1.01,
          Vehtari et al. 2021), or a chain that never moved;
        * smallest ESS (all chains) below ``min_ess`` (default :data:`MIN_ESS` = 100, a
          rule of thumb: module constant);
        * mean acceptance outside ``accept_range`` (default :meth:`accept_range`);
        * any divergent trajectory after warm-up.

        Parameters
        ----------
        max_rhat : float
        min_ess : float
        accept_range : (float, float), optional
        warn : bool
            Also emit each message as a :class:`~advdiff_sens.exceptions.FitWarning`.

        Returns
        -------
        SamplerDiagnostics
        """
        max_rhat = check_positive_scalar(max_rhat, "max_rhat")
        min_ess = check_positive_scalar(min_ess, "min_ess")
        if accept_range is None:
            accept_range = self.accept_range()
        lo, hi = (float(a) for a in accept_range)
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"accept_range must be (low, high) with 0 <= low < high <= 1, got "
                             f"{accept_range}")
        name = "HMC" if self.sampler == "hmc" else "pCN"
        step = "step_size" if self.sampler == "hmc" else "beta"
        n_chains, n_draws = self.samples.shape[:2]
        stuck = [c + 1 for c in range(n_chains) if np.all(self.samples[c] == self.samples[c, 0])]
        rhat, ess = self.rhat(), self.ess()
        worst_rhat = int(np.argmax(rhat))
        worst_ess = int(np.argmin(ess))
        accept = float(self.accept_rate.mean())
        messages = []
        if stuck:
            messages.append(
                f"{name} chain(s) {stuck} never moved in {n_draws} draws (every proposal "
                f"rejected): R-hat and ESS are meaningless; use a smaller {step}, "
                f"n_warmup >= 100 to adapt it, and start inside the posterior's bulk")
        elif rhat[worst_rhat] > max_rhat:
            messages.append(
                f"{name} split R-hat = {rhat[worst_rhat]:.3f} > {max_rhat} (parameter "
                f"{worst_rhat}): the chains (or their halves) disagree and have not converged; "
                f"run a longer warm-up (n_warmup) and more draws (n_samples), start the chains "
                f"nearer the mode (e.g. at the MAP); chains stuck in different places mean a "
                f"multimodal posterior")
        if not stuck and ess[worst_ess] < min_ess:
            messages.append(
                f"{name} ESS = {ess[worst_ess]:.0f} < {min_ess:.0f} (parameter {worst_ess}, "
                f"{n_chains} x {n_draws} draws): the Monte Carlo error of the mean is "
                f"{1 / np.sqrt(max(ess[worst_ess], 1e-300)):.2g} posterior sd; run more draws "
                f"(n_samples) or improve mixing ("
                + ("a mass matrix inverse_mass such as the Laplace covariance, more n_steps)"
                   if self.sampler == "hmc" else "beta adapted by n_warmup >= 100)"))
        if not lo <= accept <= hi:
            if accept < lo:
                why = (f"the {step} is too large for the posterior's curvature; use a smaller "
                       f"{step} or n_warmup >= 100 to adapt it")
            else:
                why = (f"the {step} is so small that the chain moves slowly; use a larger "
                       f"{step} or n_warmup >= 100 to adapt it")
            messages.append(f"{name} mean acceptance = {accept:.2f} outside "
                            f"[{lo:.2f}, {hi:.2f}] (target {self.target_accept:.2f}): {why}")
        n_div = int(np.sum(self.divergences))
        if n_div:
            messages.append(
                f"{name} had {n_div} divergent trajectories after warm-up (per chain "
                f"{self.divergences.tolist()}, of {n_draws} draws each): energy error above "
                f"max_energy_error, a non-finite density, or a point outside in_bounds; the "
                f"draws may miss a region of the posterior. Use a smaller step_size (a higher "
                f"target_accept with n_warmup), a mass matrix (inverse_mass), or reparameterise")
        if warn:
            for message in messages:
                warnings.warn(message, FitWarning, stacklevel=2)
        return SamplerDiagnostics(float(rhat.max()), float(ess.min()), accept, (lo, hi),
                                  n_div, messages)

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


@dataclass
class SamplerDiagnostics:
    """What :meth:`SamplerResult.diagnostics` measured.

    Attributes
    ----------
    max_rhat : float
        Largest split-R̂ over the parameters.
    min_ess : float
        Smallest effective sample size (all chains together).
    accept_rate : float
        Mean acceptance over the chains.
    accept_range : (float, float)
        The band the acceptance was checked against.
    divergences : int
        Divergent trajectories after warm-up, all chains.
    warnings : list of str
        One message per failed check (empty for a run that passed them all).
    """

    max_rhat: float
    min_ess: float
    accept_rate: float
    accept_range: tuple
    divergences: int
    warnings: list

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.warnings

    def __str__(self) -> str:
        lines = [f"max R-hat {self.max_rhat:.3f}, min ESS {self.min_ess:.0f}, acceptance "
                 f"{self.accept_rate:.2f} (band {self.accept_range[0]:.2f}-"
                 f"{self.accept_range[1]:.2f}), {self.divergences} divergences"]
        return "\n".join(lines + [f"warning: {m}" for m in self.warnings])


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


def _chain_meters(progress, label: str, n_chains: int, n_iter: int) -> list:
    """(meter, offset, prefix) per chain. True/False/None/"auto" give one line per chain,
    ``label chain c/n  draw k/n_iter``; a user's meter object is shared, counting the draws of
    all chains, with the chain named in the extra text."""
    if progress is None or isinstance(progress, (bool, str)):
        return [(as_progress(progress, n_iter, f"{label} chain {c + 1}/{n_chains}  draw"), 0, "")
                for c in range(n_chains)]
    meter = as_progress(progress, n_chains * n_iter, label)
    return [(meter, c * n_iter, f"chain {c + 1}/{n_chains} ") for c in range(n_chains)]


def _progress_text(prefix: str, warmup: bool, accepts: list, divergent: int) -> str:
    text = prefix + ("(warm-up) " if warmup else "") + f"acc {np.mean(accepts):.2f}"
    return text + (f" div {divergent}" if divergent else "")


class _Leapfrog:
    """Leapfrog trajectories with divergence detection (module docstring)."""

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


def _hmc_chain(leapfrog: _Leapfrog, x: np.ndarray, n_samples: int, n_warmup: int, step: float,
               n_steps: int, target: float, rng: np.random.Generator, meter) -> tuple:
    p = x.size
    meter, offset, prefix = meter
    if not leapfrog.inside(x):
        raise ValueError("x0 must satisfy in_bounds (every chain's starting point)")
    logp, grad = leapfrog.evaluate(x)
    if not (np.isfinite(logp) and np.all(np.isfinite(grad))):
        raise ValueError(f"log_density and gradient must be finite at the starting point x0 "
                         f"(got log density {logp}); start inside the support")
    adapt = _DualAveraging(step, target) if n_warmup > 0 else None
    draws, logps, accepts = np.empty((n_samples, p)), np.empty(n_samples), np.empty(n_samples)
    divergent = np.zeros(2, dtype=int)                      # (warm-up, after warm-up)
    phase_accepts: list[float] = []
    for it in range(n_warmup + n_samples):
        eps = step * rng.uniform(0.9, 1.1)
        mom = rng.standard_normal(p)
        h0 = -logp + 0.5 * mom @ mom
        x_new, logp_new, g_new, _, h1, diverged = leapfrog.trajectory(x, logp, grad, mom, eps,
                                                                      n_steps)
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
        meter.update(offset + it + 1, _progress_text(prefix, it < n_warmup, phase_accepts,
                                                     int(divergent.sum())))
    return draws, logps, float(accepts.mean()), step, divergent


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


def _run_chains(run_chain, meters: list, n_chains: int) -> tuple[list, float]:
    begin = time.perf_counter()
    try:
        out = [run_chain(c, meters[c]) for c in range(n_chains)]
    finally:
        for meter in {id(m[0]): m[0] for m in meters}.values():
            meter.close()
    return out, time.perf_counter() - begin


def hmc(log_density: LogDensity, gradient: Gradient, x0, n_samples: int, *,
        step_size: float = 0.5, n_steps: int = 5, inverse_mass=None, n_warmup: int = 0,
        target_accept: float = 0.8, n_chains: int = 1, max_energy_error: float = 1000.0,
        in_bounds: Bounds | None = None, rng=None, progress=False) -> SamplerResult:
    r"""Hamiltonian Monte Carlo with an exact Metropolis test and any gradient field.

    Parameters
    ----------
    log_density : callable
        Exact :math:`\log π(x)` (up to a constant); non-finite values reject the proposal.
        Called at every leapfrog point, right after ``gradient`` at the same point (for the
        energy error); a density that reuses the value its gradient call computed (as
        :meth:`advdiff_sens.inference.estimate.VelocityPosterior.log_density` does) costs nothing extra.
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
        dual averaging toward ``target_accept`` during warm-up when ``n_warmup > 0``
        (a divergent proposal counts as acceptance 0, so a too-large initial step shrinks).
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
    max_energy_error : float
        A trajectory whose energy error :math:`H(x_s, p_s) − H(x_0, p_0)` exceeds this (or is
        not finite) ends there, is rejected and counted as a divergence (default 1000, as
        Stan).
    in_bounds : callable, optional
        ``in_bounds(x) -> bool``: where trajectories may go. Tested before every
        log-density/gradient evaluation; False ends the trajectory as a divergence before
        anything is evaluated at ``x``. Every starting point must satisfy it. The chain then
        samples π restricted to the region (a trajectory and its reverse visit the same
        points, so rejecting both keeps detailed balance). For a flow posterior pass
        :meth:`advdiff_sens.inference.estimate.VelocityPosterior.in_bounds`.
    rng : None, int or numpy.random.Generator
    progress : bool, "auto" or meter
        True prints one line per chain on stderr,
        ``HMC chain 1/2  draw  17/50  (warm-up) acc 0.81 div 2`` (acceptance averaged over
        the current phase; divergences so far); ``"auto"`` the same once a chain has run
        :data:`advdiff_sens.progress.AUTO_DELAY` s; a meter object (:mod:`advdiff_sens.progress`) is shared by
        the chains, counting the draws of all of them, with the chain in the extra text.

    Returns
    -------
    SamplerResult
        Judge the run with :meth:`SamplerResult.diagnostics` (R̂, ESS, acceptance,
        divergences); the sampler itself does not warn.
    """
    _check_callable(log_density, "log_density")
    _check_callable(gradient, "gradient")
    if in_bounds is not None:
        _check_callable(in_bounds, "in_bounds")
    n_samples, n_warmup, n_chains, target_accept = _check_common(
        n_samples, n_warmup, n_chains, target_accept)
    step_size = check_positive_scalar(step_size, "step_size")
    n_steps = check_integer(n_steps, "n_steps", minimum=1)
    max_energy_error = check_positive_scalar(max_energy_error, "max_energy_error")
    starts = _initial_points(x0, n_chains)
    leapfrog = _Leapfrog(log_density, gradient, _mass_factor(inverse_mass, starts.shape[1]),
                         max_energy_error, in_bounds)
    streams = as_rng(rng).spawn(n_chains)
    meters = _chain_meters(progress, "HMC", n_chains, n_warmup + n_samples)
    out, seconds = _run_chains(
        lambda c, meter: _hmc_chain(leapfrog, starts[c].copy(), n_samples, n_warmup, step_size,
                                    n_steps, target_accept, streams[c], meter),
        meters, n_chains)
    divergent = np.stack([o[4] for o in out])
    return SamplerResult(np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
                         np.array([o[2] for o in out]), seconds, np.array([o[3] for o in out]),
                         leapfrog.n_grad, divergences=divergent[:, 1],
                         warmup_divergences=divergent[:, 0], target_accept=target_accept,
                         sampler="hmc")


def _pcn_chain(log_likelihood: LogDensity, prior_std: np.ndarray, x: np.ndarray, n_samples: int,
               n_warmup: int, beta: float, target: float, rng: np.random.Generator, meter):
    p = x.size
    meter, offset, prefix = meter
    loglik = float(log_likelihood(x))
    if not np.isfinite(loglik):
        raise ValueError(f"log_likelihood must be finite at the starting point x0 (got "
                         f"{loglik}); start inside the support")
    draws, logls, accepts = np.empty((n_samples, p)), np.empty(n_samples), np.empty(n_samples)
    phase_accepts: list[float] = []
    for it in range(n_warmup + n_samples):
        proposal = np.sqrt(1 - beta**2) * x + beta * prior_std * rng.standard_normal(p)
        loglik_new = float(log_likelihood(proposal))
        accept = float(np.exp(min(0.0, loglik_new - loglik))) if np.isfinite(loglik_new) else 0.0
        if rng.uniform() < accept:
            x, loglik = proposal, loglik_new
        if it == n_warmup:
            phase_accepts = []
        phase_accepts.append(accept)
        if it < n_warmup:
            beta = float(np.clip(beta * np.exp((accept - target) / np.sqrt(it + 1)), 1e-4, 1.0))
        else:
            k = it - n_warmup
            draws[k], logls[k], accepts[k] = x, loglik, accept
        meter.update(offset + it + 1, _progress_text(prefix, it < n_warmup, phase_accepts, 0))
    log_prior = -0.5 * np.sum((draws / prior_std) ** 2, axis=1)
    return draws, logls + log_prior, float(accepts.mean()), beta


def pcn(log_likelihood: LogDensity, prior_std, x0, n_samples: int, *, beta: float = 0.2,
        n_warmup: int = 0, target_accept: float = 0.25, n_chains: int = 1, rng=None,
        progress=False) -> SamplerResult:
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
        As in :func:`hmc` (the progress line reads ``pCN chain 1/2  draw …``).

    Returns
    -------
    SamplerResult
        ``log_density`` holds log-likelihood + log-prior (up to a constant); judge the run
        with :meth:`SamplerResult.diagnostics` (acceptance band ``[0.1, 0.5]`` for the
        default target 0.25).
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
    meters = _chain_meters(progress, "pCN", n_chains, n_warmup + n_samples)
    out, seconds = _run_chains(
        lambda c, meter: _pcn_chain(log_likelihood, prior_std, starts[c].copy(), n_samples,
                                    n_warmup, beta, target_accept, streams[c], meter),
        meters, n_chains)
    return SamplerResult(np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
                         np.array([o[2] for o in out]), seconds, np.array([o[3] for o in out]), 0,
                         target_accept=target_accept, sampler="pcn")
