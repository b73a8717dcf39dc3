r"""Dimension-robust gradient samplers: ∞-HMC and ∞-MALA (Beskos, Girolami, Lan, Farrell &
Stuart 2017, *Geometric MCMC for infinite-dimensional inverse problems*, J. Comput. Phys. 335).

**Target.** A posterior given by its density with respect to a Gaussian reference
:math:`μ_0 = N(m, C)` (a :class:`~advdiff_sens.sampling.reference.GaussianReference`),

.. math::

    \frac{dπ}{dμ_0}(x) ∝ e^{−Φ(x)},

with the potential Φ (the negative log-likelihood when :math:`μ_0` is the prior). In whitened
coordinates :math:`x = m + C^{1/2}z` the reference is :math:`N(0, I)`, the target
:math:`π(z) ∝ e^{−Φ(m + C^{1/2}z) − |z|^2/2}`, and the gradient of the potential is
:math:`g(z) = C^{1/2\,T}∇Φ(x)`.

**Splitting.** With a velocity :math:`v \sim N(0, I)` the Hamiltonian is
:math:`H(z, v) = Φ + \tfrac12|z|^2 + \tfrac12|v|^2`. Its Gaussian part
:math:`\tfrac12(|z|^2 + |v|^2)` has the exact flow of a rotation of :math:`(z, v)`, Φ that of a
kick of v; a step of kick size a and angle θ is

.. math::

    v ← v − a\,g(z),\qquad
    (z, v) ← (z\cos θ + v\sin θ,\ −z\sin θ + v\cos θ),\qquad
    v ← v − a\,g(z).

:class:`InfinityHMC` takes ``n_leapfrog`` such steps with :math:`a = ε/2`, :math:`θ = ε` (the
Strang splitting of the two flows). :class:`InfinityMALA` takes one step with
:math:`a = \sqrt h/2` and the Crank–Nicolson rotation
:math:`\cos θ = ρ = (1 − h/4)/(1 + h/4)`, :math:`\sin θ = \sqrt{1 − ρ^2} = \sqrt h/(1 + h/4)`
(:math:`θ = 2\arctan(\sqrt h/2)`), which is the ∞-MALA proposal of the paper,

.. math::

    x' = m + ρ(x − m) + \sqrt{1 − ρ^2}\,\bigl(C^{1/2}ξ − \tfrac{\sqrt h}{2}\,C∇Φ(x)\bigr),
    \qquad ξ \sim N(0, I).

*Correspondence.* ∞-MALA with step h is the one-step ∞-HMC whose rotation angle is
:math:`θ = 2\arctan(\sqrt h/2)` and whose kick is :math:`\tan(θ/2) = \sqrt h/2` instead of
θ/2; with :math:`ε = \sqrt h` the kicks agree exactly and the angles to
:math:`θ = ε − ε^3/12 + O(ε^5)` (:math:`ρ = \cos ε + h^2/12 + O(h^3)`): the same method to
leading order, with the rotation replaced by its Cayley (Crank–Nicolson) approximation.
``tests/sampling/test_infinite.py`` checks that the proposal and the acceptance of
:class:`InfinityMALA` are those of the paper's formulas.

**Acceptance.** Kicks are shears and rotations are rotations, so every step preserves volume,
and the composition kick–rotate–kick is reversible under :math:`v → −v` for any a and θ: the
Metropolis test :math:`\min(1, e^{H_0 − H_1})` leaves π exactly invariant. The rotation leaves
:math:`\tfrac12(|z|^2 + |v|^2)` unchanged and a kick from v to :math:`v − ag` changes it by
:math:`−a⟨g, v⟩ + \tfrac12a^2|g|^2`, so

.. math::

    H_1 − H_0 = Φ(x_1) − Φ(x_0) + \sum_{\text{kicks}}\bigl(−a⟨g, v⟩ + \tfrac12 a^2|g|^2\bigr)

is computed without :math:`|z|^2` and :math:`|v|^2`, which grow like p: what remains stays
finite and well defined as the discretisation is refined (for a Φ with
:math:`|C^{1/2\,T}∇Φ|` bounded, the Cameron–Martin condition of the paper). This is why the
step size and the acceptance do not collapse as p grows, whereas HMC with an identity mass on
the same target must resolve the stiffest direction of :math:`C^{−1}` and its step shrinks
with the mesh.

**Divergences** are handled as in :class:`~advdiff_sens.sampling.hmc.HMC`: a step whose
position leaves ``in_bounds`` (tested before Φ is evaluated there), a non-finite Φ or ∇Φ, a
potential raising :class:`~advdiff_sens.exceptions.NonFiniteResultError` or
:class:`~advdiff_sens.exceptions.WorkLimitExceeded`, or an energy error
:math:`H_s − H_0` above ``max_energy_error`` ends the trajectory; it is rejected (acceptance 0,
also for the adaptation) and counted.

**Warm-up** adapts ε (∞-HMC) or h (∞-MALA) by dual averaging
(:class:`~advdiff_sens.sampling.adaptation.DualAveraging`) toward ``target_accept``. ∞-HMC
jitters its step by ±10 % per iteration, as HMC does (a fixed trajectory length
:math:`n_\text{leapfrog}ε` near a multiple of π would make the rotation return the chain where
it started).

**Preconditioning.** With the prior as reference, Φ is the negative log-likelihood. A
reference closer to the posterior, its Laplace approximation :math:`N(\hat x, C_\text{post})`,
takes the potential :math:`\tilde Φ(x) = Ψ(x) − \tfrac12\|x − \hat x\|^2_{C_\text{post}^{−1}}`,
Ψ the negative log-posterior (docs page *Dimension-robust sampling*).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import numpy as np

from advdiff_sens.validation import check_callable, check_integer, check_positive_scalar
from advdiff_sens.exceptions import NonFiniteResultError, WorkLimitExceeded
from advdiff_sens.sampling.adaptation import DualAveraging
from advdiff_sens.sampling.base import SAMPLERS, Bounds, ChainMonitor, Sampler
from advdiff_sens.sampling.hmc import HMC
from advdiff_sens.sampling.reference import GaussianReference
from advdiff_sens.sampling.result import SAMPLER_TRAITS, ChainResult, SamplerResult, SamplerTraits

__all__ = ["InfinityHMC", "InfinityMALA", "Potential"]

#: ``potential(x) -> (Φ(x), ∇Φ(x))``: the potential of the target relative to the reference
#: and its gradient (shape (p,)), at a point of the original coordinates.
Potential = Callable[[np.ndarray], tuple[float, np.ndarray]]


class _WhitenedDynamics:
    """The split Hamiltonian dynamics of one chain in whitened coordinates, with divergence
    detection (module docstring); counts the potential's calls."""

    def __init__(self, potential: Potential, reference: GaussianReference,
                 max_energy_error: float, in_bounds: Bounds | None) -> None:
        self.potential, self.reference = potential, reference
        self.max_energy_error, self.in_bounds = max_energy_error, in_bounds
        self.n_grad = 0

    def inside(self, x: np.ndarray) -> bool:
        return self.in_bounds is None or bool(self.in_bounds(x))

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Φ(x) and the whitened gradient :math:`C^{1/2T}∇Φ(x)`; Φ = inf when either is not
        finite."""
        out = self.potential(x)
        self.n_grad += 1
        try:
            phi, grad = out
        except (TypeError, ValueError):
            raise TypeError(f"potential must return the pair (Φ(x), ∇Φ(x)), got "
                            f"{type(out).__name__}") from None
        grad = np.asarray(grad, dtype=float)
        if np.ndim(phi) != 0 or grad.shape != x.shape:
            raise ValueError(f"potential must return (Φ(x), ∇Φ(x)) with a scalar Φ and ∇Φ of "
                             f"shape {x.shape} (that of x0), got Φ of shape {np.shape(phi)} "
                             f"and ∇Φ of shape {grad.shape}")
        phi = float(phi)
        if not (np.isfinite(phi) and np.all(np.isfinite(grad))):
            return np.inf, grad
        return phi, self.reference.sqrt_cov_transpose(grad)

    def trajectory(self, z: np.ndarray, phi: float, g: np.ndarray, v: np.ndarray, kick: float,
                   cos: float, sin: float, n_steps: int):
        """``n_steps`` kick–rotate–kick steps from (z, v); returns (z, x, Φ, g, energy error,
        divergent)."""
        phi0, kinetic = phi, 0.0
        x = None
        # an overflow of the step's own arithmetic gives a non-finite state or energy, which
        # ends the trajectory as a divergence: numpy's warning about it would say nothing more
        quiet = dict(over="ignore", invalid="ignore")
        for _ in range(n_steps):
            with np.errstate(**quiet):
                kinetic += kick * (0.5 * kick * float(g @ g) - float(g @ v))
                v = v - kick * g
                z, v = cos * z + sin * v, cos * v - sin * z
            if not np.all(np.isfinite(z)):
                return z, x, np.inf, g, np.inf, True
            with np.errstate(**quiet):
                x = self.reference.mean + self.reference.sqrt_cov(z)
            if not (np.all(np.isfinite(x)) and self.inside(x)):
                return z, x, np.inf, g, np.inf, True
            try:
                phi, g = self.evaluate(x)
            except (NonFiniteResultError, WorkLimitExceeded):
                return z, x, np.inf, g, np.inf, True
            if not np.isfinite(phi):
                return z, x, phi, g, np.inf, True
            with np.errstate(**quiet):
                kinetic += kick * (0.5 * kick * float(g @ g) - float(g @ v))
                v = v - kick * g
                error = phi - phi0 + kinetic
            if not np.isfinite(error) or error > self.max_energy_error:
                return z, x, phi, g, error, True
        return z, x, phi, g, error, False


class _WhitenedSampler(Sampler):
    """What ∞-HMC and ∞-MALA share: the options, ``sample`` and the chain; a subclass gives the
    integrator of one proposal (:meth:`_integrator`)."""

    def __init__(self, *, step_size: float, n_warmup: int, target_accept: float,
                 max_energy_error: float) -> None:
        super().__init__(n_warmup=n_warmup, target_accept=target_accept)
        self.step_size = check_positive_scalar(step_size, "step_size")
        self.max_energy_error = check_positive_scalar(max_energy_error, "max_energy_error")

    @abstractmethod
    def _integrator(self, step: float, rng: np.random.Generator
                    ) -> tuple[float, float, float, int]:
        """(kick a, cos θ, sin θ, steps) of one proposal at the current step."""

    def sample(self, potential: Potential, reference: GaussianReference, x0, n_draws: int, *,
               n_chains: int = 1, rng=None, in_bounds: Bounds | None = None, progress=None,
               callback: Callable | None = None, n_workers: int = 1) -> SamplerResult:
        r"""Draw ``n_draws`` states per chain from :math:`dπ/dμ_0 ∝ e^{−Φ}`,
        :math:`μ_0 = N(m, C)` the reference.

        Parameters
        ----------
        potential : callable
            ``potential(x) -> (Φ(x), ∇Φ(x))`` at a point x of the original coordinates (the
            negative log-likelihood and its gradient when the reference is the prior; module
            docstring for a Laplace reference). A non-finite value or gradient rejects the
            proposal (a divergence).
        reference : GaussianReference
            :math:`μ_0 = N(m, C)`; the chains move in its whitened coordinates.
        x0 : array_like (p,) or (n_chains, p)
            Starting point(s), in the original coordinates.
        n_draws : int
            Draws kept per chain after warm-up (at least 4).
        n_chains : int
            Independent chains (independent streams from ``rng``).
        rng : None, int or numpy.random.Generator
        in_bounds : callable, optional
            ``in_bounds(x) -> bool``: where trajectories may go, tested before every potential
            evaluation; False ends the trajectory as a divergence. Every starting point must
            satisfy it.
        progress : None, "auto" or meter
            As in :meth:`advdiff_sens.sampling.hmc.HMC.sample`.
        callback : callable, optional
            Called with a :class:`~advdiff_sens.sampling.base.Draw` (state x in the original
            coordinates) after every iteration; from the worker threads, one at a time, when
            ``n_workers > 1``.
        n_workers : int
            Chains run at once, each in a thread of its own (:mod:`advdiff_sens.sampling.base`;
            ``potential`` must then allow calls from several threads at once); the draws do not
            depend on it.

        Returns
        -------
        SamplerResult
            Draws in the original coordinates; ``log_density`` is
            :math:`−Φ(x) − \tfrac12|C^{−1/2}(x − m)|^2` (up to a constant); the potential calls
            per chain are :attr:`SamplerResult.gradient_evaluations_per_chain`
            (:meth:`SamplerResult.ess_per_gradient`). Judge the run with
            :meth:`SamplerResult.diagnostics`.
        """
        check_callable(potential, "potential")
        if not isinstance(reference, GaussianReference):
            raise TypeError(f"reference must be a GaussianReference (e.g. DenseGaussian), got "
                            f"{type(reference).__name__}")
        starts, n_draws = self.starting_points(x0, n_draws, n_chains, in_bounds, callback)
        if reference.dim != starts.shape[1]:
            raise ValueError(f"reference has dimension {reference.dim}, x0 has "
                             f"{starts.shape[1]} parameters")
        chains, seconds = self.run_chains(
            lambda x, stream, monitor: self._chain(
                _WhitenedDynamics(potential, reference, self.max_energy_error, in_bounds), x,
                n_draws, stream, monitor),
            starts, n_draws, rng=rng, progress=progress, callback=callback, n_workers=n_workers)
        return SamplerResult.from_chains(chains, seconds, target_accept=self.target_accept,
                                         sampler=self.name)

    def _chain(self, dynamics: _WhitenedDynamics, x: np.ndarray, n_draws: int,
               rng: np.random.Generator, monitor: ChainMonitor) -> ChainResult:
        p, n_warmup, step = x.size, self.n_warmup, self.step_size
        if not dynamics.inside(x):
            raise ValueError("x0 must satisfy in_bounds (every chain's starting point)")
        z = dynamics.reference.whiten(x)
        phi, g = dynamics.evaluate(x)
        if not np.isfinite(phi):
            raise ValueError("potential must be finite (Φ and ∇Φ) at the starting point x0; "
                             "start inside the support")
        adapt = DualAveraging(step, self.target_accept) if n_warmup > 0 else None
        draws, logps, accepts = np.empty((n_draws, p)), np.empty(n_draws), np.empty(n_draws)
        divergent = np.zeros(2, dtype=int)                      # (warm-up, after warm-up)
        phase_accepts: list[float] = []
        for it in range(n_warmup + n_draws):
            kick, cos, sin, n_steps = self._integrator(step, rng)
            v = rng.standard_normal(p)
            z_new, x_new, phi_new, g_new, error, diverged = dynamics.trajectory(
                z, phi, g, v, kick, cos, sin, n_steps)
            accept = 0.0 if diverged else float(np.exp(min(0.0, -error)))
            divergent[int(it >= n_warmup)] += diverged
            if rng.uniform() < accept:
                z, x, phi, g = z_new, x_new, phi_new, g_new
            if it == n_warmup:
                phase_accepts = []
            phase_accepts.append(accept)
            if it < n_warmup:
                step = adapt.update(accept)
                if it == n_warmup - 1:
                    step = adapt.final
            else:
                k = it - n_warmup
                draws[k], logps[k], accepts[k] = x, -phi - 0.5 * float(z @ z), accept
            monitor.report(it, x, accept, phase_accepts, int(divergent.sum()))
        return ChainResult(draws, logps, float(accepts.mean()), step, int(divergent[1]),
                           int(divergent[0]), dynamics.n_grad)


SAMPLER_TRAITS["infinity-hmc"] = SamplerTraits(
    label="infinity-HMC", step="step_size",
    mixing_advice="a longer trajectory n_leapfrog * step_size (up to about pi/2), or a "
                  "reference closer to the posterior such as its Laplace approximation",
    accept_range=SAMPLER_TRAITS[HMC.name].accept_range,
    divergence_advice="a reference closer to the posterior (its Laplace approximation)")


@SAMPLERS.register("infinity-hmc")
class InfinityHMC(_WhitenedSampler):
    r"""∞-HMC: Hamiltonian Monte Carlo in the whitened coordinates of a Gaussian reference,
    with the reference's part of the dynamics integrated exactly (a rotation), so that its
    step size and acceptance do not degrade as the discretisation is refined (module
    docstring).

    Each iteration draws :math:`v \sim N(0, I)`, takes ``n_leapfrog`` steps of
    :math:`v ← v − \tfrac ε2 C^{1/2\,T}∇Φ`, a rotation of :math:`(z, v)` by the angle ε, and
    :math:`v ← v − \tfrac ε2 C^{1/2\,T}∇Φ`, and accepts with probability
    :math:`\min(1, e^{H_0 − H_1})`.

    Parameters
    ----------
    step_size : float
        Step (and rotation angle) ε, jittered ±10 % per iteration; adapted by dual averaging
        toward ``target_accept`` during warm-up when ``n_warmup > 0``. Where the data are
        weak (the posterior near the reference) a trajectory of length
        :math:`n_\text{leapfrog}ε ≈ π/2` makes successive draws nearly independent.
    n_leapfrog : int
        Steps per proposal.
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Target mean acceptance probability of the adaptation, in (0, 1).
    max_energy_error : float
        A trajectory whose energy error exceeds this (or is not finite) ends there, is
        rejected and counted as a divergence (default 1000, as HMC).

    Examples
    --------
    Prior :math:`N(0, C)` with correlated coordinates, one observation :math:`y = x_0 + x_1 +`
    noise of sd 0.5; the posterior mean is :math:`Cw\,y/(w^TCw + 0.25)`, :math:`w = (1, 1)`:

    >>> import numpy as np
    >>> from advdiff_sens.sampling import DenseGaussian, InfinityHMC
    >>> C, w, y = np.array([[1.0, 0.5], [0.5, 2.0]]), np.ones(2), 1.5
    >>> def potential(x):                      # Φ = |w·x − y|² / (2 · 0.5²) and ∇Φ
    ...     r = (w @ x - y) / 0.25
    ...     return 0.5 * r * (w @ x - y), r * w
    >>> res = InfinityHMC(step_size=0.3, n_leapfrog=5, n_warmup=100).sample(
    ...     potential, DenseGaussian(np.zeros(2), C), np.zeros(2), 1000, n_chains=2, rng=0)
    >>> exact = C @ w * y / (w @ C @ w + 0.25)
    >>> bool(np.all(np.abs(res.mean - exact) < 4 * res.mcse())), res.divergences.tolist()
    (True, [0, 0])
    """

    name = "infinity-hmc"
    label = "infinity-HMC"

    def __init__(self, *, step_size: float = 0.3, n_leapfrog: int = 5, n_warmup: int = 0,
                 target_accept: float = 0.8, max_energy_error: float = 1000.0) -> None:
        super().__init__(step_size=step_size, n_warmup=n_warmup, target_accept=target_accept,
                         max_energy_error=max_energy_error)
        self.n_leapfrog = check_integer(n_leapfrog, "n_leapfrog", minimum=1)

    def __repr__(self) -> str:
        return (f"InfinityHMC(step_size={self.step_size}, n_leapfrog={self.n_leapfrog}, "
                f"n_warmup={self.n_warmup}, target_accept={self.target_accept}, "
                f"max_energy_error={self.max_energy_error})")

    def _integrator(self, step: float, rng: np.random.Generator
                    ) -> tuple[float, float, float, int]:
        eps = step * rng.uniform(0.9, 1.1)
        return 0.5 * eps, float(np.cos(eps)), float(np.sin(eps)), self.n_leapfrog


SAMPLER_TRAITS["infinity-mala"] = SamplerTraits(
    label="infinity-MALA", step="step_size",
    mixing_advice="infinity-HMC (several steps per proposal), or a reference closer to the "
                  "posterior such as its Laplace approximation",
    accept_range=lambda a: (max(a - 0.25, 0.0), min(a + 0.25, 0.95)),
    divergence_advice="a reference closer to the posterior (its Laplace approximation)")


@SAMPLERS.register("infinity-mala")
class InfinityMALA(_WhitenedSampler):
    r"""∞-MALA: the Metropolis-adjusted Langevin proposal of Beskos et al. (2017) relative to
    a Gaussian reference, dimension robust like pCN but guided by the gradient (module
    docstring).

    The proposal from x is, with :math:`ρ = (1 − h/4)/(1 + h/4)` and :math:`ξ \sim N(0, I)`,

    .. math::

        x' = m + ρ(x − m) + \sqrt{1 − ρ^2}\,\bigl(C^{1/2}ξ − \tfrac{\sqrt h}{2}C∇Φ(x)\bigr),

    one kick–rotate–kick step (kick :math:`\sqrt h/2`, :math:`\cos θ = ρ`) accepted with
    :math:`\min(1, e^{H_0 − H_1})`, which equals the Metropolis–Hastings ratio of this
    proposal. It is the one-step :class:`InfinityHMC` of step :math:`ε = \sqrt h` with the
    rotation replaced by its Crank–Nicolson approximation (module docstring).

    Parameters
    ----------
    step_size : float
        The step h (> 0); :math:`h → 0` proposes nothing new, :math:`h = 4` gives
        :math:`ρ = 0`, a draw from the reference moved by the gradient; adapted by dual
        averaging toward ``target_accept`` during warm-up when ``n_warmup > 0``.
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Target mean acceptance probability of the adaptation, in (0, 1) (default 0.6, near
        the 0.574 that is optimal for MALA).
    max_energy_error : float
        A proposal whose energy error exceeds this (or is not finite) is rejected and counted
        as a divergence (default 1000).

    Examples
    --------
    The posterior of :class:`InfinityHMC`'s example:

    >>> import numpy as np
    >>> from advdiff_sens.sampling import DenseGaussian, InfinityMALA
    >>> C, w, y = np.array([[1.0, 0.5], [0.5, 2.0]]), np.ones(2), 1.5
    >>> def potential(x):
    ...     r = (w @ x - y) / 0.25
    ...     return 0.5 * r * (w @ x - y), r * w
    >>> res = InfinityMALA(step_size=0.5, n_warmup=200).sample(
    ...     potential, DenseGaussian(np.zeros(2), C), np.zeros(2), 2000, n_chains=2, rng=0)
    >>> exact = C @ w * y / (w @ C @ w + 0.25)
    >>> bool(np.all(np.abs(res.mean - exact) < 4 * res.mcse()))
    True
    >>> lo, hi = res.accept_range()
    >>> bool(lo <= res.accept_rate.mean() <= hi)
    True
    """

    name = "infinity-mala"
    label = "infinity-MALA"

    def __init__(self, *, step_size: float = 0.5, n_warmup: int = 0,
                 target_accept: float = 0.6, max_energy_error: float = 1000.0) -> None:
        super().__init__(step_size=step_size, n_warmup=n_warmup, target_accept=target_accept,
                         max_energy_error=max_energy_error)

    def __repr__(self) -> str:
        return (f"InfinityMALA(step_size={self.step_size}, n_warmup={self.n_warmup}, "
                f"target_accept={self.target_accept}, "
                f"max_energy_error={self.max_energy_error})")

    def _integrator(self, step: float, rng: np.random.Generator
                    ) -> tuple[float, float, float, int]:
        root = np.sqrt(step)
        return 0.5 * root, (1 - step / 4) / (1 + step / 4), root / (1 + step / 4), 1
