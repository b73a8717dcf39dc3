r"""What a sampler returns: the draws of every chain, their cost, and the checks of the run.

:class:`SamplerResult` is built in one place, :meth:`SamplerResult.from_chains`, from the
:class:`ChainResult` of each chain; :meth:`SamplerResult.diagnostics` turns R̂, ESS,
acceptance and divergences (:mod:`advdiff_sens.sampling.diagnostics`) into
:class:`~advdiff_sens.exceptions.FitWarning` messages, each naming the quantity, its value and
a remedy; :meth:`SamplerResult.to_inference_data` hands the draws to ArviZ.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from advdiff_sens.validation import check_positive_scalar
from advdiff_sens.exceptions import FitWarning
from advdiff_sens.sampling.diagnostics import (MAX_RHAT, MIN_ESS, SamplerDiagnostics,
                                               effective_sample_size, split_rhat)

__all__ = ["SamplerTraits", "SAMPLER_TRAITS", "ChainResult", "SamplerResult"]


class ChainResult(NamedTuple):
    """What one chain of a sampler produced.

    Attributes
    ----------
    draws : ndarray (n_draws, p)
        Post-warm-up draws.
    log_density : ndarray (n_draws,)
        Exact log-density of each draw.
    accept_rate : float
        Mean Metropolis acceptance probability after warm-up.
    step_size : float
        Final step: the leapfrog step ε (HMC, ∞-HMC), the step h (∞-MALA) or pCN's β.
    divergences : int
        Divergent trajectories after warm-up.
    warmup_divergences : int
        Divergent trajectories during warm-up.
    gradient_evaluations : int
        Gradient (or potential-and-gradient) calls of the chain, warm-up and starting point
        included (0 for a gradient-free sampler).

    Examples
    --------
    Each sampler's chains return one; :meth:`SamplerResult.from_chains` stacks them:

    >>> import numpy as np
    >>> chain = ChainResult(draws=np.zeros((5, 2)), log_density=np.zeros(5), accept_rate=0.9,
    ...                     step_size=0.5, divergences=0, warmup_divergences=1,
    ...                     gradient_evaluations=31)
    >>> chain.draws.shape, chain.step_size
    ((5, 2), 0.5)
    >>> res = SamplerResult.from_chains([chain] * 3, 1.0, target_accept=0.8, sampler="hmc")
    >>> res.samples.shape, res.accept_rate.tolist(), res.warmup_divergences.tolist()
    ((3, 5, 2), [0.9, 0.9, 0.9], [1, 1, 1])
    >>> res.gradient_evaluations, res.gradient_evaluations_per_chain.tolist()
    (93, [31, 31, 31])
    """

    draws: np.ndarray
    log_density: np.ndarray
    accept_rate: float
    step_size: float
    divergences: int
    warmup_divergences: int
    gradient_evaluations: int = 0


@dataclass(frozen=True)
class SamplerTraits:
    """What a result's diagnostics need to know of the sampler that drew it.

    Attributes
    ----------
    label : str
        The sampler's name in messages (``"HMC"``).
    step : str
        The option whose size sets the acceptance (``"step_size"``, ``"beta"``).
    mixing_advice : str
        What improves mixing, for the low-ESS message.
    accept_range : callable
        ``accept_range(target) -> (low, high)``: the band of mean acceptance
        :meth:`SamplerResult.diagnostics` accepts around the adapted target.
    divergence_advice : str
        What besides a smaller step avoids divergent trajectories, for the divergence
        message (default: a mass matrix, HMC's remedy).

    Examples
    --------
    >>> SAMPLER_TRAITS["hmc"].accept_range(0.8)
    (0.6000000000000001, 0.95)
    >>> SAMPLER_TRAITS["hmc"].divergence_advice
    'a mass matrix (inverse_mass)'
    """

    label: str
    step: str
    mixing_advice: str
    accept_range: Callable[[float], tuple[float, float]]
    divergence_advice: str = "a mass matrix (inverse_mass)"


#: Traits of each sampler by its registry name (:data:`advdiff_sens.sampling.SAMPLERS`);
#: a new sampler adds its own entry next to its class.
SAMPLER_TRAITS: dict[str, SamplerTraits] = {}


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
        Final step of each chain: the leapfrog step ε (HMC, ∞-HMC), the step h (∞-MALA)
        or pCN's β.
    gradient_evaluations : int
        Gradient calls of all chains, warm-up and starting points included (0 for pCN);
        :meth:`ess_per_gradient` divides the ESS by it.
    divergences : ndarray of int (n_chains,)
        Divergent trajectories after warm-up (:mod:`advdiff_sens.sampling.hmc`; always 0
        for pCN).
    warmup_divergences : ndarray of int (n_chains,)
        Divergent trajectories during warm-up (expected while a bad initial step adapts).
    target_accept : float
        The acceptance the warm-up adapted toward (the centre of the diagnostics' band).
    sampler : str
        Registry name of the sampler that drew the samples; its :data:`SAMPLER_TRAITS` set
        the default acceptance band and the advice of :meth:`diagnostics`.
    gradient_evaluations_per_chain : ndarray of int (n_chains,) or None
        Gradient calls of each chain (they sum to :attr:`gradient_evaluations`); None when
        they were not recorded (a result built by hand with only the total).

    Examples
    --------
    Two HMC chains on a 2-D standard normal:

    >>> import numpy as np
    >>> from advdiff_sens.sampling import HMC
    >>> res = HMC(step_size=1.0, n_leapfrog=3, n_warmup=100).sample(
    ...     lambda x: -0.5 * float(x @ x), lambda x: -x, np.zeros(2), 500, n_chains=2, rng=0)
    >>> res.samples.shape, res.log_density.shape, res.step_size.shape, res.sampler
    ((2, 500, 2), (2, 500), (2,), 'hmc')
    >>> bool(np.allclose(res.log_density, -0.5 * (res.samples ** 2).sum(axis=-1)))
    True
    >>> bool(np.all(np.abs(res.mean) < 4 * res.mcse())), res.divergences.tolist()
    (True, [0, 0])
    >>> [round(a, 2) for a in res.accept_range()]               # HMC band for target 0.8
    [0.6, 0.95]
    >>> int(res.gradient_evaluations_per_chain.sum()) == res.gradient_evaluations
    True
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
    gradient_evaluations_per_chain: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_chains = self.samples.shape[0]
        for name in ("divergences", "warmup_divergences"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(n_chains, dtype=int))
        if self.sampler not in SAMPLER_TRAITS:
            raise ValueError(f"sampler must be one of {tuple(SAMPLER_TRAITS)}, got "
                             f"{self.sampler!r}")
        per_chain = self.gradient_evaluations_per_chain
        if per_chain is not None:
            per_chain = np.asarray(per_chain)
            if per_chain.shape != (n_chains,) or int(per_chain.sum()) != self.gradient_evaluations:
                raise ValueError(
                    f"gradient_evaluations_per_chain must have shape ({n_chains},) and sum to "
                    f"gradient_evaluations = {self.gradient_evaluations}, got {per_chain}")

    @classmethod
    def from_chains(cls, chains: Sequence[ChainResult], seconds: float,
                    gradient_evaluations: int | None = None, *, target_accept: float,
                    sampler: str) -> SamplerResult:
        """Stack the chains' results (chain first) into one result.

        Parameters
        ----------
        chains : sequence of ChainResult
            One per chain, in chain order.
        seconds : float
            Wall time of all chains.
        gradient_evaluations : int, optional
            Gradient calls of all chains; by default the sum of the chains'
            :attr:`ChainResult.gradient_evaluations`, which are then also kept per chain
            (they are kept too when a given total equals their sum; otherwise
            :attr:`gradient_evaluations_per_chain` is None).
        target_accept : float
        sampler : str
            Registry name of the sampler (a key of :data:`SAMPLER_TRAITS`).

        Returns
        -------
        SamplerResult

        Examples
        --------
        >>> import numpy as np
        >>> chain = ChainResult(np.zeros((5, 2)), np.zeros(5), 0.9, 0.5, 0, 1)
        >>> res = SamplerResult.from_chains([chain, chain], 1.0, 12, target_accept=0.8,
        ...                                 sampler="hmc")
        >>> res.samples.shape, res.warmup_divergences.tolist()
        ((2, 5, 2), [1, 1])
        >>> res.gradient_evaluations, res.gradient_evaluations_per_chain    # not per chain
        (12, None)
        """
        per_chain = np.array([c.gradient_evaluations for c in chains], dtype=int)
        if gradient_evaluations is None:
            gradient_evaluations = int(per_chain.sum())
        elif per_chain.sum() != gradient_evaluations:
            per_chain = None
        return cls(np.stack([c.draws for c in chains]), np.stack([c.log_density for c in chains]),
                   np.array([c.accept_rate for c in chains]), seconds,
                   np.array([c.step_size for c in chains]), gradient_evaluations,
                   divergences=np.array([c.divergences for c in chains], dtype=int),
                   warmup_divergences=np.array([c.warmup_divergences for c in chains], dtype=int),
                   target_accept=target_accept, sampler=sampler,
                   gradient_evaluations_per_chain=per_chain)

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

    def ess_per_gradient(self) -> float:
        """Smallest ESS over the parameters divided by the gradient calls of all chains: the
        cost measure of gradient samplers whose gradient dominates the time.

        Raises
        ------
        ValueError
            The sampler evaluated no gradient (pCN): use :meth:`ess_per_second`.
        """
        if self.gradient_evaluations <= 0:
            raise ValueError(f"ess_per_gradient needs gradient evaluations; the {self.sampler} "
                             f"run made none (use ess_per_second)")
        return float(self.ess().min() / self.gradient_evaluations)

    def mcse(self) -> np.ndarray:
        """Monte Carlo standard error of the mean, :math:`\\hat σ/\\sqrt{\\text{ESS}}`."""
        return self.std / np.sqrt(self.ess())

    def accept_range(self) -> tuple[float, float]:
        r"""Default band of mean acceptance that :meth:`diagnostics` accepts.

        The sampler's :attr:`SamplerTraits.accept_range` at the target a: for HMC
        :math:`[a − 0.2,\ 1 − (1 − a)/4]` (``[0.6, 0.95]`` for a = 0.8; below, the step is
        too large for the posterior's curvature; above, it is so small that gradient
        evaluations are wasted; ∞-HMC the same); for pCN :math:`[0.4a,\ \min(2a, 0.9)]`
        (``[0.1, 0.5]`` for a = 0.25); for ∞-MALA :math:`[a − 0.25,\ \min(a + 0.25, 0.95)]`
        (``[0.35, 0.85]`` for a = 0.6).
        """
        return SAMPLER_TRAITS[self.sampler].accept_range(self.target_accept)

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
        traits = SAMPLER_TRAITS[self.sampler]
        name, step = traits.label, traits.step
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
                f"run a longer warm-up (n_warmup) and more draws (n_draws), start the chains "
                f"nearer the mode (e.g. at the MAP); chains stuck in different places mean a "
                f"multimodal posterior")
        if not stuck and ess[worst_ess] < min_ess:
            messages.append(
                f"{name} ESS = {ess[worst_ess]:.0f} < {min_ess:.0f} (parameter {worst_ess}, "
                f"{n_chains} x {n_draws} draws): the Monte Carlo error of the mean is "
                f"{1 / np.sqrt(max(ess[worst_ess], 1e-300)):.2g} posterior sd; run more draws "
                f"(n_draws) or improve mixing ({traits.mixing_advice})")
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
                f"draws may miss a region of the posterior. Use a smaller {step} (a higher "
                f"target_accept with n_warmup), {traits.divergence_advice}, or reparameterise")
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
