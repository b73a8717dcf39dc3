r"""Dimension-robust sampling under mesh refinement: R5's nodal stream function at 32², 64², 128².

The question of issue #14: do the acceptance and the ESS per gradient of ∞-MALA and ∞-HMC
stay put as the grid is refined, while HMC with an identity mass collapses? For each
resolution n the same continuum problem is solved:

* **Truth.** One stream function of the continuum, drawn once: the Fourier modes
  :math:`0 < |k|_∞ ≤` ``TRUTH_KMAX`` of the α = 3 Matérn field of R5's prior (pointwise sd 0.05,
  correlation length 0.3), :math:`ψ^†(x) = \sum_k a_k\cos 2πk·x + b_k\sin 2πk·x` with
  :math:`a_k, b_k \sim N(0, s_k^2)`, :math:`s_k^2 ∝ (1 + γ|2πk|^2)^{−3}` scaled so that
  :math:`\sum_k s_k^2 = 0.05^2`. It is *evaluated* at the nodes of every grid, so every grid
  sees the same field (a draw of one grid's prior would be a different field on each grid).
* **Data.** The same 49 sensors (uniform, drawn once), R5's 20 times in (0, 1], the same
  standard normal noise vector ξ and the same noise sd σ (``NOISE`` × the largest clean reading
  on the finest grid): :math:`d_n = F_n(ψ^†) + σξ`. The data of two grids differ only by the
  discretisation error of the clean readings (reported as ``data shift``, in units of σ).
  The noise is 5 %, not R5's 1 %, for the budget: on one draw of this set-up at 16², 1 % gave
  :math:`λ_1 ≈ 18\,000` and :math:`λ_{61} ≈ 11` against :math:`λ_1 ≈ 730` and
  :math:`λ_{41} ≈ 2.5` at 5 %, and Newton-CG from the prior mean needed about 800 Hessian
  products against 450 (the Laplace rank and every sampler's step scale with that spectrum).
* **Model and prior** are R5's (:func:`~advdiff_sens.problems.make_field_twin`, whose own
  truth, sensors and noise are not used): κ = 0.01, exponential fitting, θ0 of R3, the nodal
  stream function (p = n²) under the α = 3 Gaussian random field prior.

Per resolution:

1. **MAP** by Newton-CG (:func:`~advdiff_sens.inference.find_map`), stopped at
   :math:`|g|_C ≤` ``MAP_GRADIENT_TOL`` — which bounds the Newton decrement
   :math:`\sqrt{g^TC_{post}g} ≤ |g|_C` that the Laplace approximation checks, since
   :math:`C_{post} ≤ C`. The coarsest grid continues over the observation window (3, 6, 10,
   20 times) from the prior mean; every finer grid starts from the coarser MAP, trigonometrically
   interpolated (:func:`prolong`), with all times.
2. **Laplace** approximation of rank ``rank``
   (:func:`~advdiff_sens.inference.laplace_approximation`); its eigenvalues :math:`λ_i` of the prior-preconditioned misfit Hessian are the
   data-informed directions, and their convergence under refinement is what makes the
   samplers dimension robust.
3. **Samplers**, each with its step adapted by dual averaging during warm-up, 2 chains started
   at two draws of the Laplace approximation (the same for every sampler):
   ∞-MALA and ∞-HMC relative to the prior (potential Φ) and to the Laplace approximation
   (potential :math:`\tilde Φ`, :func:`~advdiff_sens.inference.sampling_potential`), and HMC
   with an identity mass on −Ψ. The warm-ups start from the step scales the theory gives
   (:func:`theory_step`; each sampler is given a tenth of it, because dual averaging first
   tries ten times its initial step): :math:`ε_0 = (1 + λ_1)^{−1/2}` for ∞-HMC relative to
   the prior, :math:`(1 + λ_{r+1})^{−1/2}` relative to the Laplace approximation (the directions
   it leaves out), ∞-MALA :math:`h_0 = ε_0^2`, and for HMC :math:`ε_0 = \sqrt{λ_{min}(C)}`, half
   the leapfrog stability limit :math:`2\sqrt{λ_{min}(C)}` of the prior's stiffest (Nyquist)
   mode (:func:`stiffest_prior_variance`). It falls like :math:`h^2`: the symbol
   :math:`(1 + γμ_{max})^{−3/2} ∝ h^3` times the amplitude :math:`∝ 1/h` that keeps the
   pointwise variance fixed.

**Measured** per sampler and resolution: the adapted step (mean over chains), the acceptance
after warm-up, the smallest ESS over ``FUNCTIONALS`` — the cosine and sine coefficients
:math:`ℓ(ψ) = 2\int ψ\cos(2πk·x)\,dx` (and sin) of the modes k = (1, 0), (0, 1), (1, 1),
(2, −1), 8 linear functionals that converge as the grid is refined (the ESS of all n²
nodal values is noise) —, that ESS per gradient evaluation (all chains, warm-up included), the
largest split-R̂ over the same functionals, and the wall time.

Sizes: 32², 64², 128²; 40 warm-up iterations per chain at every size (the adapted step then
carries the same dual-averaging bias everywhere) and 120, 80 and 40 kept draws (a 128² gradient
costs about ten times a 32² one); 3 leapfrog steps; Laplace rank 40. These short trajectories
(length 3ε) do not decorrelate the slowest functional within a chain, so their ESS is the
estimator's floor: their step and acceptance are the robust numbers. ``LONG_RUN`` measures the
ESS per gradient: ∞-HMC relative to the Laplace approximation with 10 leapfrog steps
(trajectory length 10ε ≈ 1.5, a quarter period of the Gaussian part) and the same 30 warm-up
and 80 kept iterations at every size, so its ESS per gradient compares like with like.
``quick``: 16² and 24², 25 sensors at 10 times, rank 20, 40 + 30 iterations (20 + 20 for
``LONG_RUN``, 5 steps); the ESS means nothing at this length: the quick run checks steps,
acceptance and the MAP.

Run:  python examples/mesh_refinement_sampling.py [--quick] [--outdir DIR]
      (full size: about an hour of two cores; --quick: about 3 minutes)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation import Grid
from advdiff_sens.inference import (MAP_DECREMENT_TOL, GaussianRandomField, NewtonCG, Posterior,
                                    find_map, laplace_approximation, sampling_potential)
from advdiff_sens.problems import make_field_twin
from advdiff_sens.sampling import (HMC, MIN_ESS, InfinityHMC, InfinityMALA, SamplerResult,
                                   effective_sample_size, split_rhat)
from advdiff_sens.validation import as_rng

#: Seed of the gallery figure and the docs' table (``main(rng=None)``).
GALLERY_SEED = 14
#: Highest wavenumber (per axis) of the continuum truth.
TRUTH_KMAX = 4
#: R5's prior: pointwise sd and correlation length of the α = 3 stream-function field.
FLOW_STD, CORRELATION_LENGTH, ALPHA = 0.05, 0.3, 3
#: Noise sd relative to the largest clean reading on the finest grid.
NOISE = 0.05
#: Newton-CG stops at |g|_C ≤ this: the Newton decrement the Laplace approximation allows.
MAP_GRADIENT_TOL = MAP_DECREMENT_TOL
#: Largest forcing term of Newton-CG: the Gauss–Newton iteration converges slowly in its tail
#: here; on the quick 24² problem from the interpolated 16² MAP, η_max = 0.1 needed 15 iterations
#: and 221 Hessian products, the default 0.5 28 and 395.
NEWTON_ETA_MAX = 0.1
#: Laplace draws that estimate the posterior spread of the velocity.
SPREAD_DRAWS = 64
#: Fourier modes whose cosine and sine coefficients are the ESS functionals.
FUNCTIONAL_MODES = ((1, 0), (0, 1), (1, 1), (2, -1))
FUNCTIONALS = tuple(f"{part}({k[0]},{k[1]})" for k in FUNCTIONAL_MODES for part in ("cos", "sin"))
SAMPLER_NAMES = ("∞-MALA, prior", "∞-MALA, Laplace", "∞-HMC, prior", "∞-HMC, Laplace",
                 "HMC, identity", "∞-HMC, Laplace, long")
#: The run whose trajectories are long enough to decorrelate the functionals within a chain.
LONG_RUN = SAMPLER_NAMES[-1]


@dataclass(frozen=True)
class Settings:
    """Sizes of the study.

    Attributes
    ----------
    sizes : tuple of int
        Nodes per axis, coarse to fine.
    n_sensors, n_times : int
        Sensors and observation times (equally spaced up to t = 1).
    rank : int
        Laplace rank.
    iterations : dict of int to (int, int)
        Warm-up and kept draws per chain, by n.
    n_leapfrog : int
        Steps per ∞-HMC and HMC proposal.
    long_iterations : (int, int)
        Warm-up and kept draws per chain of ``LONG_RUN``, the same at every n.
    long_leapfrog : int
        Steps per proposal of ``LONG_RUN``.
    n_chains : int
    """

    sizes: tuple[int, ...]
    n_sensors: int
    n_times: int
    rank: int
    iterations: dict[int, tuple[int, int]]
    n_leapfrog: int
    long_iterations: tuple[int, int]
    long_leapfrog: int
    n_chains: int = 2

    @property
    def times(self) -> np.ndarray:
        """The observation times: R5's 20 in [0.05, 1] at full size."""
        return np.linspace(1.0 / self.n_times, 1.0, self.n_times)


def settings(quick: bool = False) -> Settings:
    """The full study (module docstring) or its quick version."""
    if quick:
        return Settings((16, 24), 25, 10, 20, {16: (40, 30), 24: (40, 30)}, 3, (20, 20), 5)
    return Settings((32, 64, 128), 49, 20, 40, {32: (40, 120), 64: (40, 80), 128: (40, 40)},
                    3, (30, 80), 10)


@dataclass(frozen=True)
class ContinuumTruth:
    r"""A band-limited periodic stream function :math:`ψ(x) = \sum_k a_k\cos 2πk·x +
    b_k\sin 2πk·x` on the unit square.

    Attributes
    ----------
    wavevectors : ndarray of int (m, 2)
        One of each pair ±k.
    cos, sin : ndarray (m,)
        :math:`a_k` and :math:`b_k`.
    """

    wavevectors: np.ndarray
    cos: np.ndarray
    sin: np.ndarray

    def on(self, grid: Grid) -> np.ndarray:
        """ψ at the nodes of ``grid``, as the coefficients of a nodal stream function."""
        x, y = grid.coords
        phase = 2 * np.pi * (self.wavevectors[:, 0, None, None] * x
                             + self.wavevectors[:, 1, None, None] * y)
        return np.tensordot(self.cos, np.cos(phase), 1).ravel() + np.tensordot(
            self.sin, np.sin(phase), 1).ravel()


def draw_truth(rng, kmax: int = TRUTH_KMAX, std: float = FLOW_STD,
               correlation_length: float = CORRELATION_LENGTH, alpha: int = ALPHA
               ) -> ContinuumTruth:
    r"""The modes :math:`0 < |k|_∞ ≤ k_{max}` of a continuum Matérn field with precision
    :math:`∝ (1 − γΔ)^α`, :math:`γ = ρ^2/(8(α − 1))` (as the grid prior), scaled to the pointwise
    variance ``std``²: :math:`\operatorname{var} a_k = \operatorname{var} b_k = s_k^2`,
    :math:`\sum_k s_k^2 = σ^2`."""
    rng = as_rng(rng)
    k = np.array([(kx, ky) for kx in range(kmax + 1) for ky in range(-kmax, kmax + 1)
                  if kx > 0 or ky > 0])
    gamma = correlation_length**2 / (8 * (alpha - 1))
    weight = (1 + gamma * (2 * np.pi) ** 2 * np.sum(k**2, axis=1)) ** (-float(alpha))
    sd = std * np.sqrt(weight / weight.sum())
    return ContinuumTruth(k, sd * rng.standard_normal(len(k)), sd * rng.standard_normal(len(k)))


def fourier_functionals(grid: Grid, modes=FUNCTIONAL_MODES) -> np.ndarray:
    r"""Rows :math:`2w_i\cos 2πk·x_i` and :math:`2w_i\sin 2πk·x_i` (w the quadrature weights)
    for each mode: applied to a nodal ψ they give its Fourier coefficients, exactly for a
    trigonometric polynomial whose modes do not alias with ``modes`` on the grid."""
    x, y = grid.coords
    w = grid.weights
    rows = []
    for kx, ky in modes:
        phase = 2 * np.pi * (kx * x + ky * y)
        rows += [2 * (w * np.cos(phase)).ravel(), 2 * (w * np.sin(phase)).ravel()]
    return np.array(rows)


def prolong(c: np.ndarray, n_from: int, n_to: int) -> np.ndarray:
    """Trigonometric interpolation of a nodal field from the ``n_from``² to the ``n_to``² grid
    (the modes |k| < n_from/2 per axis; the Nyquist modes are dropped so the interpolant is
    real)."""
    spectrum = np.fft.fft2(np.asarray(c, dtype=float).reshape(n_from, n_from))
    kept = np.r_[0:(n_from + 1) // 2, -((n_from - 1) // 2):0]
    fine = np.zeros((n_to, n_to), dtype=complex)
    fine[np.ix_(kept % n_to, kept % n_to)] = spectrum[np.ix_(kept % n_from, kept % n_from)]
    return np.fft.ifft2(fine).real.ravel() * (n_to / n_from) ** 2


def stiffest_prior_variance(prior: GaussianRandomField) -> float:
    r""":math:`λ_{min}(C) = c^2(1 + γμ_{max})^{−α}` of a periodic Gaussian random field,
    :math:`μ_{max}` the largest eigenvalue of :math:`−Δ_h` (at the Nyquist frequency); HMC with
    an identity mass is unstable for leapfrog steps above :math:`2\sqrt{λ_{min}(C)}`."""
    mu = sum(np.max(2 - 2 * np.cos(2 * np.pi * np.arange(s) / s)) / h**2
             for s, h in zip(prior.grid.shape, prior.grid.spacing))
    return float(prior.amplitude**2 * (1 + prior.gamma * mu) ** (-prior.alpha))


@dataclass(frozen=True)
class Level:
    """One resolution: its posterior and the truth on its grid."""

    n: int
    posterior: Posterior
    truth: np.ndarray
    clean: np.ndarray


def build_levels(truth: ContinuumTruth, config: Settings, sensors: np.ndarray,
                 xi: np.ndarray) -> list[Level]:
    """R5's model and prior at every size, with the data of the module docstring."""
    probes = []
    for n in config.sizes:
        base = make_field_twin(n, n_sensors=config.n_sensors, times=config.times, noise=NOISE,
                               rng=0).posterior
        c = truth.on(base.model.grid)
        probe = Posterior(base.model, base.space, sensors, config.times, np.zeros(xi.shape), 1.0)
        probes.append((n, base, c, probe.predict(c)))
    sigma = NOISE * float(np.abs(probes[-1][3]).max())
    return [Level(n, Posterior(base.model, base.space, sensors, config.times, clean + sigma * xi,
                               sigma, gradient="adjoint"), c, clean)
            for n, base, c, clean in probes]


@dataclass(frozen=True)
class LevelSummary:
    r"""MAP and Laplace approximation at one resolution.

    Attributes
    ----------
    n, n_params : int
    data_shift : float
        max |clean readings here − on the finest grid| / σ.
    velocity_error : float
        Relative rms error of the MAP velocity against the truth's (both ∇⊥_h on this grid).
    velocity_spread : float
        The Laplace approximation's rms velocity spread about the MAP,
        :math:`\sqrt{E|\mathbf u(c) − \mathbf u(\hat c)|^2}`, relative to the truth's
        :math:`|\mathbf u^†|` (``SPREAD_DRAWS`` draws): the error the posterior expects.
    misfit_ratio : float
        2Φ/N at the MAP.
    psi_map, psi_truth : float
        Ψ at the MAP and at the truth.
    newton_iterations : int
        Over all continuation stages.
    map_seconds, laplace_seconds : float
    eigenvalues : ndarray (rank,)
        λ_i of the Laplace approximation.
    dropped_eigenvalue : float
        The eigensolver's estimate of λ_{rank+1}.
    stiffest_prior_sd : float
        :math:`\sqrt{λ_{min}(C)}`.
    truth_field, map_field : ndarray (n, n)
        ψ of the truth and of the MAP.
    """

    n: int
    n_params: int
    data_shift: float
    velocity_error: float
    velocity_spread: float
    misfit_ratio: float
    psi_map: float
    psi_truth: float
    newton_iterations: int
    map_seconds: float
    laplace_seconds: float
    eigenvalues: np.ndarray
    dropped_eigenvalue: float
    stiffest_prior_sd: float
    truth_field: np.ndarray
    map_field: np.ndarray


@dataclass(frozen=True)
class SamplerRow:
    """One sampler at one resolution (module docstring).

    Attributes
    ----------
    sampler : str
        One of ``SAMPLER_NAMES``.
    n : int
    step : float
        Adapted step, mean over chains (ε; h for ∞-MALA).
    theory_step : float
        The scale :func:`theory_step` that set the initial step.
    accept : float
        Mean acceptance after warm-up.
    accept_band : (float, float)
        The band the sampler's diagnostics accept around its target
        (:meth:`~advdiff_sens.sampling.SamplerResult.accept_range`).
    ess : float
        Smallest ESS over ``FUNCTIONALS``.
    ess_per_gradient : float
        ``ess`` over the gradient evaluations of all chains, warm-up included.
    rhat : float
        Largest split-R̂ over ``FUNCTIONALS``.
    gradients : int
    divergences : int
        After warm-up, all chains.
    seconds : float
    """

    sampler: str
    n: int
    step: float
    theory_step: float
    accept: float
    accept_band: tuple[float, float]
    ess: float
    ess_per_gradient: float
    rhat: float
    gradients: int
    divergences: int
    seconds: float


@dataclass(frozen=True)
class MeshRefinementResult:
    """The study (module docstring): one :class:`LevelSummary` per size and one
    :class:`SamplerRow` per sampler and size."""

    settings: Settings
    truth: ContinuumTruth
    noise_std: float
    levels: tuple[LevelSummary, ...]
    rows: tuple[SamplerRow, ...]
    seconds: float

    def level(self, n: int) -> LevelSummary:
        """The summary at size n."""
        return next(level for level in self.levels if level.n == n)

    def row(self, sampler: str, n: int) -> SamplerRow:
        """The row of ``sampler`` at size n."""
        return next(r for r in self.rows if r.sampler == sampler and r.n == n)

    def series(self, sampler: str, field: str) -> np.ndarray:
        """``field`` of ``sampler``'s rows against the sizes."""
        return np.array([getattr(self.row(sampler, n), field) for n in self.settings.sizes])

    def summary(self) -> str:
        """The two tables as text."""
        rank = self.settings.rank
        lines = [(f"noise sd σ = {self.noise_std:.4g}; Laplace rank {rank}; total "
                  f"{self.seconds:.0f} s"),
                 (f"{'n':>5s}{'p':>7s}{'shift/σ':>9s}{'vel.err':>9s}{'spread':>8s}{'2Φ/N':>7s}"
                  f"{'Ψ map':>9s}{'Ψ truth':>9s}{'Newton':>8s}{'λ_1':>8s}{'λ_10':>8s}"
                  f"{f'λ_{rank + 1}':>8s}{'√λmin C':>10s}{'MAP s':>7s}{'Lap s':>7s}")]
        for lv in self.levels:
            lines.append(f"{lv.n:5d}{lv.n_params:7d}{lv.data_shift:9.3f}"
                         f"{lv.velocity_error:9.3f}{lv.velocity_spread:8.3f}"
                         f"{lv.misfit_ratio:7.3f}{lv.psi_map:9.1f}"
                         f"{lv.psi_truth:9.1f}{lv.newton_iterations:8d}{lv.eigenvalues[0]:8.1f}"
                         f"{lv.eigenvalues[min(9, rank - 1)]:8.2f}{lv.dropped_eigenvalue:8.2f}"
                         f"{lv.stiffest_prior_sd:10.2e}{lv.map_seconds:7.0f}"
                         f"{lv.laplace_seconds:7.0f}")
        lines.append(f"{'sampler':22s}{'n':>5s}{'step':>10s}{'theory':>10s}{'accept':>8s}"
                     f"{'min ESS':>9s}{'ESS/grad':>10s}{'R-hat':>8s}{'grads':>7s}{'div':>5s}"
                     f"{'s':>7s}")
        for r in self.rows:
            lines.append(f"{r.sampler:22s}{r.n:5d}{r.step:10.3g}{r.theory_step:10.3g}"
                         f"{r.accept:8.2f}{r.ess:9.1f}"
                         f"{r.ess_per_gradient:10.2e}{r.rhat:8.2f}{r.gradients:7d}"
                         f"{r.divergences:5d}{r.seconds:7.0f}")
        return "\n".join(lines)


def solve_map(level: Level, start: np.ndarray | None):
    """Newton-CG to |g|_C ≤ MAP_GRADIENT_TOL, by continuation over the observation window from
    the prior mean (``start`` None) or with all times from ``start``."""
    newton = NewtonCG(rtol=0.0, atol=MAP_GRADIENT_TOL, eta_max=NEWTON_ETA_MAX, cg_max_iter=200)
    return find_map(level.posterior, start, optimizer=newton,
                    continuation=(3, 6, 10) if start is None else ())


def theory_step(name: str, level: Level, laplace) -> float:
    """The step scale of sampler ``name`` (module docstring): ε, and h = ε² for ∞-MALA."""
    if name == "HMC, identity":
        return float(np.sqrt(stiffest_prior_variance(level.posterior.prior.blocks[0])))
    curvature = laplace.eigenvalues[0] if name.endswith("prior") else laplace.dropped_eigenvalue
    step = 1.0 / np.sqrt(1.0 + float(curvature))
    return step**2 if name.startswith("∞-MALA") else step


def run_sampler(name: str, level: Level, laplace, x0: np.ndarray, config: Settings,
                rng: np.random.Generator) -> SamplerResult:
    """Run sampler ``name`` on ``level`` from ``x0``. Dual averaging first tries steps about
    ten times the initial one (μ = log 10ε₀), so each sampler is given a tenth of its
    :func:`theory_step` and its warm-up starts there."""
    post = level.posterior
    n_warmup, n_draws = (config.long_iterations if name == LONG_RUN
                         else config.iterations[level.n])
    n_leapfrog = config.long_leapfrog if name == LONG_RUN else config.n_leapfrog
    step = theory_step(name, level, laplace) / 10
    options = {"n_chains": config.n_chains, "rng": rng, "n_workers": config.n_chains}
    if name == "HMC, identity":
        return HMC(step_size=step, n_leapfrog=n_leapfrog, n_warmup=n_warmup).sample(
            post.log_density, lambda c: -post.value_and_gradient(c)[1], x0, n_draws, **options)
    sampler = (InfinityMALA(step_size=step, n_warmup=n_warmup) if name.startswith("∞-MALA")
               else InfinityHMC(step_size=step, n_leapfrog=n_leapfrog, n_warmup=n_warmup))
    reference = post.prior if name.endswith("prior") else laplace
    return sampler.sample(sampling_potential(post, reference), reference, x0, n_draws, **options)


def sampler_row(name: str, n: int, result: SamplerResult, functionals: np.ndarray,
                theory: float) -> SamplerRow:
    """The measured numbers of one run (ESS and R̂ of the functionals)."""
    traces = result.samples @ functionals.T
    ess = float(effective_sample_size(traces).min())
    return SamplerRow(name, n, float(result.step_size.mean()), theory,
                      float(result.accept_rate.mean()), result.accept_range(), ess,
                      ess / result.gradient_evaluations, float(split_rhat(traces).max()),
                      result.gradient_evaluations, int(result.divergences.sum()), result.seconds)


def summarise_level(level: Level, fit, laplace, seconds: tuple[float, float], finest_clean,
                    rng: np.random.Generator) -> LevelSummary:
    """The MAP and Laplace numbers of one resolution."""
    post, grid = level.posterior, level.posterior.model.grid
    u_true = post.inputs(level.truth).velocity
    u_map = post.inputs(fit.coefficients).velocity
    spread = np.mean([np.sum((post.inputs(laplace.sample(rng)).velocity - u_map) ** 2)
                      for _ in range(SPREAD_DRAWS)])
    flow_prior = post.prior.blocks[0]
    return LevelSummary(
        level.n, post.n_params,
        float(np.abs(level.clean - finest_clean).max() / post.noise_std),
        float(np.linalg.norm(u_map - u_true) / np.linalg.norm(u_true)),
        float(np.sqrt(spread) / np.linalg.norm(u_true)),
        2 * fit.misfit / post.n_data, fit.neg_log_posterior,
        post.neg_log_posterior(level.truth),
        sum(stage.iterations for stage in fit.starts[0].history), *seconds,
        laplace.eigenvalues.copy(), float(laplace.dropped_eigenvalue),
        float(np.sqrt(stiffest_prior_variance(flow_prior))),
        level.truth.reshape(grid.shape), fit.coefficients.reshape(grid.shape))


def main(quick: bool = False, rng=None) -> MeshRefinementResult:
    """The mesh-refinement study (module docstring).

    Parameters
    ----------
    quick : bool
        16² and 24² with fewer data and short chains instead of 32², 64², 128².
    rng : None, int or numpy.random.Generator
        Draws the truth, the sensors, the noise, the Laplace eigensolvers' directions, the
        starting points and the chains; None uses ``GALLERY_SEED``.

    Returns
    -------
    MeshRefinementResult
    """
    begin = time.perf_counter()
    config = settings(quick)
    rng = as_rng(GALLERY_SEED if rng is None else rng)
    truth = draw_truth(rng)
    sensors = rng.uniform(0.0, 1.0, size=(config.n_sensors, 2))
    xi = rng.standard_normal((config.n_times, config.n_sensors))
    levels = build_levels(truth, config, sensors, xi)
    summaries, rows = [], []
    fit, previous = None, None
    for level in levels:
        t0 = time.perf_counter()
        fit = solve_map(level, None if fit is None
                        else prolong(fit.coefficients, previous, level.n))
        t1 = time.perf_counter()
        laplace = laplace_approximation(level.posterior, fit.coefficients, rank=config.rank,
                                        rng=rng)
        summaries.append(summarise_level(level, fit, laplace, (t1 - t0, time.perf_counter() - t1),
                                         levels[-1].clean, rng))
        x0 = np.stack([laplace.sample(rng) for _ in range(config.n_chains)])
        functionals = fourier_functionals(level.posterior.model.grid)
        for name in SAMPLER_NAMES:
            result = run_sampler(name, level, laplace, x0, config, rng)
            rows.append(sampler_row(name, level.n, result, functionals,
                                    theory_step(name, level, laplace)))
        previous = level.n
    return MeshRefinementResult(config, truth, levels[0].posterior.noise_std, tuple(summaries),
                                tuple(rows), time.perf_counter() - begin)


def plot(result: MeshRefinementResult, path: Path) -> Path:
    """Truth and MAP ψ on the finest grid, the Laplace spectra, and step, acceptance and ESS per
    gradient against n; saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import draw_field, laplace_spectrum, save_figure

    sizes = np.array(result.settings.sizes)
    finest = result.levels[-1]
    grid = Grid((finest.n, finest.n))
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), layout="constrained")
    limits = {"vmin": finest.truth_field.min(), "vmax": finest.truth_field.max(),
              "cmap": "RdBu_r"}
    draw_field(axes[0, 0], grid, finest.truth_field, label="ψ†", **limits)
    axes[0, 0].set_title(f"continuum truth ψ† on the {finest.n}² grid", fontsize=10)
    draw_field(axes[0, 1], grid, finest.map_field, label="ψ MAP", **limits)
    axes[0, 1].set_title(f"MAP (Newton-CG), velocity error {finest.velocity_error:.2f}",
                         fontsize=10)
    for level in result.levels:
        laplace_spectrum(level.eigenvalues, axes[0, 2], label=f"{level.n}²")
    entries = dict(zip(*axes[0, 2].get_legend_handles_labels()[::-1]))   # one λ = 1 entry
    axes[0, 2].legend(entries.values(), entries.keys(), frameon=False, fontsize=8)
    axes[0, 2].set_title("Laplace spectra: the data-informed directions converge", fontsize=10)
    for name in SAMPLER_NAMES:
        style = {"marker": "o", "label": name,
                 "ls": "--" if name.startswith("HMC") else "-." if name == LONG_RUN else "-"}
        axes[1, 0].loglog(sizes, result.series(name, "step"), **style)
        axes[1, 1].semilogx(sizes, result.series(name, "accept"), **style)
        ess = result.series(name, "ess_per_gradient")
        line, = axes[1, 2].loglog(sizes, ess, ls=style["ls"], label=name)
        resolved = result.series(name, "ess") >= MIN_ESS
        for kept, face in ((resolved, line.get_color()), (~resolved, "none")):
            axes[1, 2].loglog(sizes[kept], ess[kept], "o", color=line.get_color(), mfc=face)
    axes[1, 0].loglog(sizes, [lv.stiffest_prior_sd * 2 for lv in result.levels], "k:",
                      label="HMC stability limit 2√λmin(C)")
    axes[1, 0].set(title="adapted step (ε; h for ∞-MALA)", xlabel="n (grid n × n)")
    axes[1, 1].set(title="acceptance after warm-up", xlabel="n", ylim=(0, 1))
    axes[1, 2].set(title=f"min ESS over {len(FUNCTIONALS)} Fourier functionals per gradient\n"
                         f"(open: min ESS < {MIN_ESS:.0f}, not resolved)", xlabel="n")
    for ax in axes[1]:
        ax.set_xticks(sizes, [str(s) for s in sizes], minor=False)
        ax.set_xticks([], minor=True)
    axes[1, 0].legend(fontsize=8)
    fig.suptitle(f"R5 nodal ψ under mesh refinement (noise {NOISE:.0%}, "
                 f"{result.settings.n_sensors} sensors × {result.settings.n_times} times, "
                 f"{result.settings.n_chains} chains)")
    return save_figure(fig, path)


if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.summary())
    print(f"saved {plot(result, args.outdir / 'mesh_refinement_sampling.png')}")
