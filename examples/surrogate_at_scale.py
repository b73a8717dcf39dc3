"""The note's open question at scale: the first-order surrogate gradient (1.6) against the exact
adjoint gradient for p = 196 (Fourier stream function) and p = n (nodal stream function).

Reference problem R5 (``make_field_twin``): the periodic unit square, kappa = 0.01,
exponential fitting, theta0 of R3, uniform point sensors, noise 1 % of the largest clean
reading; the flow is a Fourier stream function with |k| <= kmax (p = 196 for kmax = 8,
power-law spectrum) or a nodal stream function (p = n, Gaussian random field prior), drawn
from its prior. The surrogate replaces the sensitivity
rho = int_0^t e^{(t-s)L} J e^{sL} theta0 ds by t e^{tL} J theta0; its adjoint gives an
approximate gradient of all p coefficients from one backward sweep, while Psi itself stays
exact. For each flow:

1. the gradient at the prior mean, the truth and the exact MAP: relative error and angle of
   the surrogate's misfit gradient, the error of grad Psi in the prior-preconditioned norm
   |g|_C = sqrt(g^T C g) and the angle in that inner product, the relative difference of Psi,
   the CPU seconds of each gradient and of a forward solve; the error against the
   observation window T at the truth; and a commuting case (constant u and v, where J
   commutes with L) in which (1.6) is exact;
2. Newton-CG and L-BFGS with each gradient, all from the truth: iterations, evaluations,
   Hessian products, CPU seconds, stop reason, Psi, Phi, |grad Psi|_C, velocity error and the
   distance of the end point from the exact MAP (the exact Newton-CG end point) in its
   Gauss-Newton metric, in posterior standard deviations;
3. infinity-HMC relative to the low-rank Laplace approximation at the exact MAP with the
   exact Metropolis test: for both gradients the same initial step
   (1/sqrt(1 + lambda_{r+1}), lambda_{r+1} the largest eigenvalue the approximation leaves
   out), adapted by dual averaging during the warm-up, and the same number of steps per
   trajectory; independent Laplace draws as starting points. Adapted step, acceptance, the
   squared jump per gradient evaluation of the leading data-informed coordinates (in
   posterior sds), their ESS per CPU second and per gradient evaluation (warm-up included),
   and the agreement of their posterior means within the standard error of the chain means.

Sizes: 64 x 64 nodes, kmax = 8 (p = 196 and 4096), 49 sensors x 20 times in (0, 1];
Newton-CG to |grad Psi|_C <= 0.1 or 20 iterations of at most 40 CG steps, L-BFGS 30
iterations; Laplace rank 50; infinity-HMC 4 chains x (15 warm-up + 15) draws of 3 steps.
``quick``: 16 x 16, kmax = 4 (p = 48 and 256), 9 sensors x 5 times in (0, 0.1] (a short
window, so that Newton-CG reaches the MAP), 15 iterations of each optimiser, Laplace rank
45 = N, 4 chains x (10 + 16) draws of 2 steps.

Run:  python examples/surrogate_at_scale.py [--quick] [--outdir DIR]
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens.inference import (GRADIENTS, LBFGS, NewtonCG, Optimiser, Posterior,
                                    laplace_approximation, sampling_potential)
from advdiff_sens.problems import FieldTwin, make_field_twin
from advdiff_sens.sampling import InfinityHMC, SamplerResult, effective_sample_size

#: Seeds of the gallery figure and the guide's numbers (``main(rng=None)``): the twins
#: (truth, sensors, noise), the Laplace eigensolver, the starting points and streams of
#: infinity-HMC.
GALLERY_SEEDS = (0, 1, 2)
#: The exact gradient: the model's adjoint (discrete, with the twins' Chebyshev backend).
EXACT = "adjoint"
#: The first-order surrogate (1.6) through the model's surrogate adjoint.
SURROGATE = "surrogate"
#: The parameterisations compared, in this order.
FLOWS = ("fourier", "nodal")
#: Newton-CG stops when |grad Psi|_C <= this. The Gauss-Newton Hessian is H >= C^-1, so the
#: Newton decrement sqrt(g^T H^-1 g) <= |g|_C: the end point is then a MAP in the sense of
#: ``laplace_approximation`` (decrement <= MAP_DECREMENT_TOL = 0.1 posterior sds).
NEWTON_ATOL = 0.1
#: Leading data-informed coordinates on which the two samplers' posterior means are compared.
N_SUMMARIES = 5


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (module docstring)."""

    n: int
    kmax: float
    n_sensors: int
    n_times: int
    t_max: float                      # observation times t_j = j t_max / n_times
    windows: tuple[int, ...]          # numbers of observation times (window T = t_k)
    newton_iter: int
    cg_iter: int
    lbfgs_iter: int
    rank: int
    n_leapfrog: int
    n_warmup: int
    n_draws: int
    n_chains: int


def settings(quick: bool = False) -> Settings:
    """The full sizes, or the reduced ones of the tests (``quick``)."""
    if quick:
        return Settings(16, 4, 9, 5, 0.1, (1, 2, 5), 15, 45, 15, 45, 2, 10, 16, 4)
    return Settings(64, 8, 49, 20, 1.0, (1, 2, 5, 10, 20), 20, 40, 30, 50, 3, 15, 15, 4)


def with_gradient(posterior: Posterior, gradient: str) -> Posterior:
    """The same posterior with its default gradient strategy replaced by ``gradient``."""
    out = copy.copy(posterior)
    out.gradient = GRADIENTS.resolve(gradient, "gradient")
    return out


def c_norm(posterior: Posterior, g: np.ndarray) -> float:
    """The prior-preconditioned norm |g|_C = sqrt(g^T C g) of a gradient."""
    return math.sqrt(max(float(g @ posterior.prior.covariance(g)), 0.0))


def angle(a: np.ndarray, b: np.ndarray, metric=None) -> float:
    """The angle between a and b in degrees, in the inner product <x, metric(y)>."""
    metric = (lambda x: x) if metric is None else metric
    cosine = float(a @ metric(b)) / math.sqrt(float(a @ metric(a)) * float(b @ metric(b)))
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def timed(f, *args, **kwargs):
    """(f(*args, **kwargs), CPU seconds of this process): CPU time does not depend on the load
    of a shared machine, and the solves here run on one thread."""
    begin = time.process_time()
    out = f(*args, **kwargs)
    return out, time.process_time() - begin


def compare_gradients(posterior: Posterior, c: np.ndarray) -> dict:
    """The surrogate's Psi and grad Psi at ``c`` against the exact ones (module docstring).

    Each strategy is called once before it is timed, so that both are timed with the
    generator and the propagators of this flow planned.
    """
    for gradient in (EXACT, SURROGATE):
        posterior.value_and_gradient(c, gradient)
    (psi, g), t_exact = timed(posterior.value_and_gradient, c, EXACT)
    (psi_s, g_s), t_surrogate = timed(posterior.value_and_gradient, c, SURROGATE)
    _, t_forward = timed(posterior.misfit, c)
    prior_grad = posterior.prior_term(c)[1]
    misfit, misfit_s = g - prior_grad, g_s - prior_grad
    return {"psi": psi, "value_difference": abs(psi_s - psi) / abs(psi),
            "misfit_error": float(np.linalg.norm(misfit_s - misfit) / np.linalg.norm(misfit)),
            "misfit_angle": angle(misfit_s, misfit),
            "g_C": c_norm(posterior, g), "error_C": c_norm(posterior, g_s - g),
            "angle_C": angle(g_s, g, posterior.prior.covariance),
            "t_exact": t_exact, "t_surrogate": t_surrogate, "t_forward": t_forward}


def window_rows(posterior: Posterior, c: np.ndarray, windows) -> list[dict]:
    """The surrogate's misfit-gradient error at ``c`` given the first k observation times,
    for k in ``windows`` (window T = t_k)."""
    rows = []
    for k in windows:
        row = compare_gradients(posterior.truncated(k), c)
        rows.append({"T": float(posterior.times[k - 1]), "misfit_error": row["misfit_error"],
                     "misfit_angle": row["misfit_angle"]})
    return rows


def commuting_case(twin: FieldTwin) -> dict:
    r"""Constant u and v on the periodic grid: :math:`J(\mathbf v)` commutes with
    :math:`L(\mathbf u)`, so :math:`ρ(t) = tJe^{tL}θ_0` and (1.6) is exact.

    The directional derivative :math:`d = \sum_j g_j^Tρ_j` of the twin's misfit at the
    constant flow along a constant direction, by the exact adjoint and by the surrogate's;
    the same along a shear :math:`(\sin 2πy, 0)`, which does not commute. ``amplification``
    is :math:`\sum_j |g_j||t_jJθ(t_j)|/|d|` for the constant direction: each of the two
    computations applies k propagators of relative accuracy ``INFERENCE_TOL``, so they agree
    to about :math:`2k·\text{tol}·\text{amplification}`.
    """
    post = twin.posterior
    model, grid = post.model, post.model.grid
    u = np.stack([np.full(grid.shape, 0.3), np.full(grid.shape, -0.2)])
    theta0 = post.inputs(post.prior.mean).theta0
    directions = {"constant": np.stack([np.ones(grid.shape), np.full(grid.shape, 0.5)]),
                  "shear": np.stack([np.sin(2 * np.pi * grid.coords[1]),
                                     np.zeros(grid.shape)])}
    exact = model.gradient(u, theta0, post.objective, post.times, adjoint="auto").gradient
    cheap = model.gradient(u, theta0, post.objective, post.times, adjoint="surrogate").gradient
    out = {}
    for name, v in directions.items():
        d_exact, d_cheap = float(np.sum(exact * v)), float(np.sum(cheap * v))
        out[name] = abs(d_cheap - d_exact) / abs(d_exact)
        if name == "constant":
            states = model.solve(u, theta0, post.times).reshape(post.times.size, -1)
            g = post.objective(states.reshape(post.times.size, *grid.shape))[1]
            J = model.generator_derivative(u, v)
            terms = [np.linalg.norm(gj) * np.linalg.norm(t * (J @ s))
                     for gj, t, s in zip(g.reshape(states.shape), post.times, states, strict=True)]
            out["amplification"] = float(np.sum(terms) / abs(d_exact))
    return out


def optimise(posterior: Posterior, optimizer: Optimiser, c0: np.ndarray) -> dict:
    """Minimise Psi of ``posterior`` (with its gradient strategy) from ``c0``; the result, its
    CPU seconds and its warnings as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, seconds = timed(optimizer.minimise, posterior, c0)
    return {"result": result, "seconds": seconds,
            "warnings": [str(w.message) for w in caught]}


def optimiser_rows(twin: FieldTwin, s: Settings, progress=None) -> tuple[list[dict], np.ndarray]:
    """Newton-CG and L-BFGS with each gradient from the truth; the exact Newton-CG end point
    is the reference MAP. Returns the rows and that MAP."""
    exact_post = with_gradient(twin.posterior, EXACT)
    optimizers = {"Newton-CG": NewtonCG(rtol=0.0, atol=NEWTON_ATOL, max_iter=s.newton_iter,
                                        cg_max_iter=s.cg_iter, progress=progress),
                  "L-BFGS": LBFGS(max_iter=s.lbfgs_iter)}
    runs = {(name, gradient): optimise(with_gradient(twin.posterior, gradient), optimizer,
                                       twin.true_coefficients)
            for name, optimizer in optimizers.items() for gradient in (EXACT, SURROGATE)}
    c_map = runs["Newton-CG", EXACT]["result"].coefficients
    at_map = exact_post.linearise(c_map)
    rows = []
    for (name, gradient), run in runs.items():
        res = run["result"]
        c = res.coefficients
        psi, g = exact_post.value_and_gradient(c)
        delta = c - c_map
        rows.append({
            "optimiser": name, "gradient": gradient, "iterations": res.iterations,
            "evaluations": res.evaluations, "hessian_products": res.hessian_products,
            "seconds": run["seconds"], "stop": res.stop_reason, "warnings": run["warnings"],
            "values": np.asarray(res.values), "psi": psi, "misfit": exact_post.misfit(c),
            "g_C": c_norm(exact_post, g), "velocity_error": twin.velocity_error(c),
            "distance": math.sqrt(max(float(delta @ at_map.hessian(delta)), 0.0)),
            "psi_above_map": psi - at_map.value, "coefficients": c})
    return rows, c_map


def leading_coordinates(laplace, samples: np.ndarray) -> np.ndarray:
    """The prior-whitened coordinates along the Laplace eigenvectors of the largest
    eigenvalues (the directions the data inform most), shape ``(..., N_SUMMARIES)``."""
    vectors = laplace.eigenvectors[:, :N_SUMMARIES]
    flat = samples.reshape(-1, samples.shape[-1])
    z = np.stack([laplace.prior.whiten(x) for x in flat]) @ vectors
    return z.reshape(*samples.shape[:-1], vectors.shape[1])


def chain_means_error(summary: np.ndarray) -> np.ndarray:
    """The Monte Carlo standard error of the mean of each coordinate from the spread of the
    chain means, :math:`s(\\bar x_c)/\\sqrt{M}` over M independent chains of equal length:
    valid however slowly each chain mixes (the chains start from independent draws), where the
    autocorrelation-based ESS of a few dozen draws is not."""
    means = summary.mean(axis=1)
    return means.std(axis=0, ddof=1) / math.sqrt(means.shape[0])


def sampler_rows(twin: FieldTwin, c_map: np.ndarray, s: Settings, laplace_seed, hmc_seed,
                 progress=None) -> tuple[list[dict], dict[str, SamplerResult], dict]:
    """infinity-HMC with each gradient relative to the low-rank Laplace approximation at
    ``c_map``: the same initial step and steps per trajectory, independent Laplace draws as
    starting points; each run adapts its step during the warm-up.

    The initial step is :math:`ε = 1/\\sqrt{1 + λ_{r+1}}`: in a direction the approximation
    leaves out, the potential :math:`\\tilde Φ` keeps the curvature :math:`λ_{r+1}` of the
    data, and the kick–rotate–kick step is stable only for :math:`ε\\sqrt{λ}` below about 2.
    """
    post = twin.posterior
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        laplace, seconds = timed(laplace_approximation, post, c_map, rank=s.rank,
                                 rng=laplace_seed, progress=progress)
    dropped = (laplace.eigenvalues[-1] if laplace.dropped_eigenvalue is None
               else laplace.dropped_eigenvalue)
    step = min(1.0 / math.sqrt(1.0 + dropped), 0.5 * math.pi / s.n_leapfrog)
    g = post.value_and_gradient(c_map, EXACT)[1]
    laplace_info = {"rank": laplace.rank, "seconds": seconds,
                    "decrement": math.sqrt(max(float(g @ laplace.covariance(g)), 0.0)),
                    "largest": float(laplace.eigenvalues[0]),
                    "smallest_kept": float(laplace.eigenvalues[-1]), "dropped": float(dropped),
                    "step": step, "warnings": [str(w.message) for w in caught],
                    "laplace": laplace}
    rng = np.random.default_rng(hmc_seed)
    sampler = InfinityHMC(step_size=step, n_leapfrog=s.n_leapfrog, n_warmup=s.n_warmup)
    results, rows = {}, []
    for gradient in (EXACT, SURROGATE):
        starts, stream = laplace.sample(rng, size=s.n_chains), int(rng.integers(2**32))
        res, cpu = timed(sampler.sample, sampling_potential(post, laplace, gradient=gradient),
                         laplace, starts, s.n_draws, n_chains=s.n_chains, rng=stream,
                         progress=progress)
        results[gradient] = res
        summary = leading_coordinates(laplace, res.samples)
        flat = summary.reshape(-1, summary.shape[-1])
        # a chain that never moved would count as independent draws: no ESS
        moved = bool(np.all(np.ptp(res.samples, axis=1).max(axis=-1) > 0))
        ess = effective_sample_size(summary) if moved else np.full(summary.shape[-1], np.nan)
        scale = np.sqrt(1.0 + laplace.eigenvalues[:summary.shape[-1]])   # posterior sds
        jumps = np.sum((np.diff(summary, axis=1) * scale) ** 2, axis=-1)
        rows.append({"gradient": gradient, "step": float(res.step_size.mean()),
                     "jump_per_gradient": float(jumps.mean() / s.n_leapfrog),
                     "acceptance": float(res.accept_rate.mean()),
                     "divergences": int(res.divergences.sum()), "moved": moved,
                     "min_ess": float(ess.min()), "seconds": cpu,
                     "gradients": res.gradient_evaluations,
                     "ess_per_second": float(ess.min() / cpu),
                     "ess_per_gradient": float(ess.min() / res.gradient_evaluations),
                     "mean": flat.mean(axis=0), "mcse": chain_means_error(summary)})
    exact, cheap = rows
    cheap["z"] = np.abs(cheap["mean"] - exact["mean"]) / np.hypot(cheap["mcse"], exact["mcse"])
    exact["z"] = np.zeros_like(cheap["z"])
    return rows, results, laplace_info


@dataclass(frozen=True)
class FlowStudy:
    """The three comparisons of the module docstring for one parameterisation.

    Attributes
    ----------
    flow : str
        ``"fourier"`` or ``"nodal"``.
    twin : FieldTwin
    map_coefficients : ndarray (p,)
        The exact MAP (the exact-gradient Newton-CG end point).
    gradient_rows : dict of str to dict
        At ``"prior mean"``, ``"truth"`` and ``"exact MAP"``: Psi, the relative difference of
        the surrogate's Psi, the relative error and angle (degrees) of its misfit gradient,
        |grad Psi|_C, |g_surrogate - g|_C, their angle in the C inner product, and the CPU
        seconds of the exact gradient, the surrogate gradient and a forward solve.
    window_rows : list of dict
        The misfit-gradient error and angle at the truth against the window T.
    commuting : dict of str to float
        Relative difference of the surrogate's directional derivative from the exact one at a
        constant flow along a constant direction (``"constant"``: J commutes with L) and a
        shear (``"shear"``), and the ``"amplification"`` of :func:`commuting_case`.
    optimiser_rows : list of dict
        Newton-CG and L-BFGS with each gradient (:func:`optimiser_rows`).
    laplace : dict
        Rank, CPU seconds, the Newton decrement :math:`\\sqrt{g^TC_{post}g}` at the MAP (in
        posterior sds), largest, smallest kept and dropped eigenvalue, the initial ∞-HMC
        step, warnings and the ``LowRankLaplace`` itself.
    sampler_rows : list of dict
        ∞-HMC with each gradient: adapted step, mean squared jump of the leading coordinates
        per gradient (posterior sds squared), acceptance, divergences after the warm-up,
        whether every chain moved, min ESS of the leading coordinates, CPU seconds, gradient
        evaluations, ESS/s, ESS/gradient, means, their standard errors
        (:func:`chain_means_error`) and |difference of the means| / combined error (``z``).
    sampler_results : dict of str to SamplerResult
    """

    flow: str
    twin: FieldTwin
    map_coefficients: np.ndarray
    gradient_rows: dict
    window_rows: list
    commuting: dict
    optimiser_rows: list
    laplace: dict
    sampler_rows: list
    sampler_results: dict

    @property
    def n_params(self) -> int:
        """The number of coefficients p."""
        return self.twin.posterior.n_params

    def optimiser_row(self, optimiser: str, gradient: str) -> dict:
        """The row of ``optimiser`` ("Newton-CG" or "L-BFGS") with ``gradient``."""
        return next(r for r in self.optimiser_rows
                    if r["optimiser"] == optimiser and r["gradient"] == gradient)


def study_flow(flow: str, s: Settings, seeds, progress=None) -> FlowStudy:
    """The three comparisons for one parameterisation of the flow."""
    twin_seed, laplace_seed, hmc_seed = seeds
    twin = make_field_twin(s.n, flow=flow, kmax=s.kmax, n_sensors=s.n_sensors,
                           times=np.linspace(s.t_max / s.n_times, s.t_max, s.n_times),
                           noise=0.01, rng=twin_seed)
    post = twin.posterior
    optimisers, c_map = optimiser_rows(twin, s, progress)
    points = {"prior mean": post.prior.mean, "truth": twin.true_coefficients,
              "exact MAP": c_map}
    gradients = {name: compare_gradients(post, c) for name, c in points.items()}
    windows = window_rows(post, twin.true_coefficients, s.windows)
    samplers, results, laplace = sampler_rows(twin, c_map, s, laplace_seed, hmc_seed,
                                              progress)
    return FlowStudy(flow, twin, c_map, gradients, windows, commuting_case(twin), optimisers,
                     laplace, samplers, results)


@dataclass(frozen=True)
class SurrogateAtScaleResult:
    """Both parameterisations (:class:`FlowStudy`, keyed ``"fourier"`` and ``"nodal"``).

    Attributes
    ----------
    settings : Settings
    seeds : tuple of int
    studies : dict of str to FlowStudy
    seconds, cpu_seconds : float
        Wall and CPU time of the whole run.
    """

    settings: Settings
    seeds: tuple
    studies: dict
    seconds: float
    cpu_seconds: float

    def report(self) -> str:
        """The tables as Markdown."""
        s = self.settings
        out = [f"R5 on {s.n}x{s.n}, kmax = {s.kmax:g}, {s.n_sensors} sensors x {s.n_times} "
               f"times in (0, {s.t_max:g}], noise 1 %, kappa = 0.01; seeds {self.seeds}; "
               f"{self.seconds:.0f} s wall, {self.cpu_seconds:.0f} s CPU; times below are CPU "
               "seconds", ""]
        for study in self.studies.values():
            out += _flow_report(study, s)
        return "\n".join(out)


def _flow_report(study: FlowStudy, s: Settings) -> list[str]:
    """The tables of one parameterisation."""
    twin = study.twin
    speed = np.sqrt(np.mean(twin.true_inputs.velocity ** 2))
    out = [f"## {study.flow} stream function, p = {study.n_params} (true rms speed "
           f"{speed:.2f}, N = {twin.posterior.n_data} data)", "",
           "Gradient (exact adjoint g, surrogate g~, misfit parts g_Φ, g~_Φ):", "",
           "| point | Ψ | rel. diff. of Ψ | ‖g~_Φ − g_Φ‖/‖g_Φ‖ | angle | \\|g\\|_C "
           "| \\|g~ − g\\|_C | C-angle | exact s | surrogate s | forward s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {name} | {r['psi']:.1f} | {r['value_difference']:.1e} | "
            f"{r['misfit_error']:.3g} | {r['misfit_angle']:.1f}° | {r['g_C']:.3g} | "
            f"{r['error_C']:.3g} | {r['angle_C']:.1f}° | {r['t_exact']:.2f} | "
            f"{r['t_surrogate']:.2f} | {r['t_forward']:.2f} |"
            for name, r in study.gradient_rows.items()]
    out += ["", "Against the window (0, T], at the truth:", "",
            "| T | ‖g~_Φ − g_Φ‖/‖g_Φ‖ | angle |", "|---|---|---|"]
    out += [f"| {r['T']:.2f} | {r['misfit_error']:.3g} | {r['misfit_angle']:.1f}° |"
            for r in study.window_rows]
    c = study.commuting
    out += ["", f"Constant flow (0.3, −0.2): the surrogate's directional derivative differs "
            f"from the exact one by {c['constant']:.1e} (relative; amplification "
            f"{c['amplification']:.3g}) along a constant direction, where J commutes with L, "
            f"and by {c['shear']:.3g} along the shear (sin 2πy, 0).", "",
            "MAP from the truth (exact MAP = the exact Newton-CG end point; distance in its "
            "Gauss–Newton metric, posterior sds):", "",
            "| optimiser | gradient | iterations | evaluations | Hessian products | CPU s "
            "| stop | Ψ | Ψ − Ψ_MAP | Φ | \\|∇Ψ\\|_C | velocity error | distance to MAP |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['optimiser']} | {r['gradient']} | {r['iterations']} | {r['evaluations']} "
            f"| {r['hessian_products']} | {r['seconds']:.0f} | {_short(r['stop'])} | "
            f"{r['psi']:.2f} | {r['psi_above_map']:.3g} | {r['misfit']:.1f} | {r['g_C']:.3g} "
            f"| {r['velocity_error']:.3f} | {r['distance']:.3g} |"
            for r in study.optimiser_rows]
    lap = study.laplace
    out += ["", f"∞-HMC relative to the Laplace approximation at the exact MAP (rank "
            f"{lap['rank']}, λ_1 = {lap['largest']:.3g}, λ_r = {lap['smallest_kept']:.3g}, "
            f"λ_(r+1) ≈ {lap['dropped']:.3g}; {lap['seconds']:.0f} s; Newton decrement at the "
            f"MAP {lap['decrement']:.3g} posterior sds), initial step "
            f"{lap['step']:.3g}, {s.n_leapfrog} steps per trajectory, {s.n_chains} chains x "
            f"({s.n_warmup} warm-up + {s.n_draws}) draws from Laplace draws; jumps, ESS and "
            f"means of the {N_SUMMARIES} leading data-informed coordinates:", "",
            "| gradient | adapted step | acceptance | divergences | jump²/gradient | min ESS "
            "| CPU s | gradients | ESS/s | ESS/gradient | max \\|Δmean\\|/SE |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['gradient']} | {r['step']:.3g} | {r['acceptance']:.2f} | {r['divergences']} | "
            f"{r['jump_per_gradient']:.3g} | {r['min_ess']:.1f} | {r['seconds']:.0f} | "
            f"{r['gradients']} | "
            f"{r['ess_per_second']:.3f} | {r['ess_per_gradient']:.4f} | "
            f"{float(np.max(r['z'])):.2f} |" for r in study.sampler_rows]
    return out + [""]


def _short(reason: str) -> str:
    """An optimiser's stop reason in a table cell (scipy's ``STOP:`` prefix dropped)."""
    return reason.removeprefix("STOP: ").rstrip(": ").lower()[:40]


def main(quick: bool = False, rng=None, progress=None) -> SurrogateAtScaleResult:
    """The three comparisons of the module docstring for both parameterisations.

    Parameters
    ----------
    quick : bool
        The reduced ``settings``.
    rng : None, int or numpy.random.Generator
        None uses the seeds of the gallery figure (``GALLERY_SEEDS``); otherwise the three
        seeds are drawn from ``numpy.random.default_rng(rng)``.
    progress : None, "auto" or meter
        Progress of Newton-CG, of the Laplace eigensolver and of the chains.

    Returns
    -------
    SurrogateAtScaleResult
    """
    s = settings(quick)
    seeds = GALLERY_SEEDS if rng is None else tuple(
        int(x) for x in np.random.default_rng(rng).integers(2**32, size=3))
    wall, cpu = time.perf_counter(), time.process_time()
    studies = {flow: study_flow(flow, s, seeds, progress) for flow in FLOWS}
    return SurrogateAtScaleResult(s, seeds, studies, time.perf_counter() - wall,
                                  time.process_time() - cpu)


def plot(result: SurrogateAtScaleResult, path: Path) -> Path:
    """Surrogate error against the window, the optimisers' Ψ histories and the ∞-HMC traces
    of the leading coordinate, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    studies = list(result.studies.values())
    fig, axes = plt.subplots(len(studies), 3, figsize=(14, 3.8 * len(studies)),
                             layout="constrained", squeeze=False)
    for row, study in zip(axes, studies, strict=True):
        label = f"{study.flow}, p = {study.n_params}"
        windows = study.window_rows
        row[0].loglog([r["T"] for r in windows], [r["misfit_error"] for r in windows], "o-")
        row[0].set(xlabel="observation window T", ylabel="‖g̃_Φ − g_Φ‖ / ‖g_Φ‖ at the truth",
                   title=f"{label}: surrogate gradient error")
        psi_map = study.optimiser_row("Newton-CG", EXACT)["psi"]
        for r in study.optimiser_rows:
            excess = np.minimum.accumulate(r["values"]) - psi_map
            row[1].semilogy(np.arange(1, excess.size + 1), np.maximum(excess, 1e-2),
                            "-" if r["gradient"] == EXACT else "--",
                            label=f"{r['optimiser']}, {r['gradient']}")
        row[1].set(xlabel="evaluation of Ψ (and its gradient)",
                   ylabel="best Ψ − Ψ_MAP (floor 0.01)",
                   title=f"{label}: optimisers from the truth")
        row[1].legend(fontsize=8)
        laplace = study.laplace["laplace"]
        for r in study.sampler_rows:
            res = study.sampler_results[r["gradient"]]
            trace = leading_coordinates(laplace, res.samples[:1])[0, :, 0]
            row[2].plot(trace, lw=0.9,
                        label=f"{r['gradient']} (acceptance {r['acceptance']:.2f})")
        row[2].set(xlabel="draw", ylabel="leading data-informed coordinate",
                   title=f"{label}: ∞-HMC, chain 1")
        row[2].legend(fontsize=8)
    fig.suptitle("R5: first-order surrogate gradient (1.6) against the exact adjoint gradient")
    return save_figure(fig, path)


if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick, progress=None if args.quick else "auto")
    print(result.report())
    print(f"figure saved to {plot(result, args.outdir / 'surrogate_at_scale.png')}")
