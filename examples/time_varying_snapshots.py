r"""A flow that changes twice, recovered window by window from dye snapshots.

Issue #15, worked example (c). A square tank, 1 m × 1 m with no-flux walls on all four sides,
κ = 10⁻³ m²/s, is stirred by a flow that is steady on each of three time windows
:math:`[0, 1)`, :math:`[1, 2)`, :math:`[2, ∞)` s and jumps at t = 1 s and t = 2 s:

.. math::

   ψ_0 = A\,s_{11},\qquad ψ_1 = A\,s_{21},\qquad ψ_2 = −0.7A\,s_{11} + 0.4A\,s_{12},
   \qquad s_{mn}(x, y) = \sin mπx\,\sin nπy,\quad A = 0.1\ \text{m}^2/\text{s}

(one cell turning anticlockwise, then two counter-rotating cells side by side, then one cell
turning the other way with a pair of layers on top; peak speed about 0.3 m/s). Each
:math:`ψ_k` is a combination of the walled sine modes of
:class:`~advdiff_sens.inference.StreamFunctionBasis` with :math:`|k| ≤` ``kmax`` = 2 (8 modes,
ψ = 0 on the walls), so the truth is exactly representable: the unknown is the 3 × 8 mode
coefficients (:class:`~advdiff_sens.inference.WindowedFlow`) under a stationary AR(1)
prior in time (:class:`~advdiff_sens.inference.TemporalGaussian`, ρ = 0.5) on top of the
basis's spectral prior.

The dye, :math:`θ_0 = 0.5 + 0.4\cos 3πx\cos 2πy` (known), is imaged every 0.1 s for
t ∈ (0, 3] s by a ``camera`` × ``camera`` camera coarser than the ``nodes`` × ``nodes`` model
grid (each pixel the mean of the state over its cell,
:class:`~advdiff_sens.discretisation.GriddedSnapshots` ``"cell_average"``), noise sd 1 % of
the largest reading, 10 % of the pixels of each image missing (a different random set per
image, NaN). Images at t = 1 s and t = 2 s sit on window edges (they close the earlier
window).

Newton-CG finds the MAP, the dense Gauss–Newton Laplace approximation (p = 24) gives the
posterior, and the run reports, per window: the relative L2 error of the MAP velocity, the
coverage of the true velocity by the Laplace 90 % band (the fraction of the nodes off the
walls where :math:`|u^† − \hat u| ≤ 1.645\,\mathrm{sd}`, both components), and overall the
standardised error of the coefficients :math:`|L^{-1}(\hat c − c^†)|^2` (L the Cholesky factor
of the Laplace covariance; :math:`χ^2_{24}` if the approximation is calibrated), the misfit Φ
against N/2 and the seconds. A steady fit (one window) of the same images shows what the
windows buy: its misfit is far above N/2 and :func:`~advdiff_sens.inference.fit_report` says so.

Run:  python examples/time_varying_snapshots.py [--quick] [--outdir DIR]
      (full size: 48² model, 32² camera, 30 images; --quick: 24², 16², 15 images)
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.discretisation import GriddedSnapshots, Observations
from advdiff_sens.inference import (NewtonCG, ParameterSpace, Posterior,
                                    StreamFunctionBasis, TemporalGaussian, WindowedFlow,
                                    field_summaries, fit_report, laplace_approximation,
                                    spectral_prior)
from advdiff_sens.matrix import ChebyshevBackend
from advdiff_sens.problems import INFERENCE_TOL
from advdiff_sens.sensitivity import TimeWindows
from advdiff_sens.validation import as_rng

#: Seed of the gallery figure and the docs' numbers.
GALLERY_SEED = 16
#: Diffusivity (m²/s), flow amplitude A (m²/s), noise relative to the largest reading,
#: missing fraction of every image, last image time (s).
KAPPA = 1e-3
AMPLITUDE = 0.1
NOISE = 0.01
MISSING = 0.1
DURATION = 3.0
#: Window edges (s): the flow jumps at 1 s and 2 s.
EDGES = (0.0, 1.0, 2.0, np.inf)
#: Each window's ψ as (coefficient / A, m, n) of sin mπx sin nπy.
TRUE_MODES = (((1.0, 1, 1),), ((1.0, 2, 1),), ((-0.7, 1, 1), (0.4, 1, 2)))
#: The walled sine modes kept (|k| ≤ KMAX, k = (m, n)/2) and the AR(1) correlation.
KMAX = 2.0
RHO = 0.5
#: The credible level of the bands whose coverage is measured, and its normal quantile.
LEVEL = 0.9
BAND = float(stats.norm.ppf(0.5 + LEVEL / 2))
#: Newton-CG stops at |grad Psi|_C ≤ this (then the Newton decrement is below the 0.1
#: posterior sds ``laplace_approximation`` asks of a MAP); the steady fit gets more iterations
#: (its flow cannot fit the images, so its Newton steps are poor far from its optimum).
NEWTON_ATOL = 0.01
STEADY_MAX_ITER = 200


@dataclass(frozen=True)
class Settings:
    """Model nodes and camera pixels per axis, and the image interval (s)."""

    nodes: int
    camera: int
    frame_interval: float


def settings(quick: bool = False) -> Settings:
    """The full example (module docstring) or its quick version."""
    return Settings(24, 16, 0.2) if quick else Settings(48, 32, 0.1)


def initial_dye(grid: Grid) -> np.ndarray:
    """:math:`θ_0 = 0.5 + 0.4\\cos 3πx\\cos 2πy` at the nodes."""
    x, y = grid.coords
    return 0.5 + 0.4 * np.cos(3 * np.pi * x) * np.cos(2 * np.pi * y)


def true_coefficients(basis: StreamFunctionBasis) -> np.ndarray:
    r"""The truth's coefficients (window-major) in ``basis``: the mode of wavevector
    (m/2, n/2) is proportional to :math:`\sin mπx \sin nπy` on the nodes, and its
    coefficient makes the stream function exactly :math:`A·(\text{weight})\sin mπx\sin nπy`."""
    x, y = basis.grid.coords
    out = []
    for modes in TRUE_MODES:
        c = np.zeros(basis.n_params)
        for weight, m, n in modes:
            i = int(np.flatnonzero(np.all(basis.wavevectors == (m / 2, n / 2), axis=1))[0])
            mode = basis.stream_function(np.eye(basis.n_params)[i])
            target = np.sin(m * np.pi * x) * np.sin(n * np.pi * y)
            scale = float(np.sum(mode * target) / np.sum(target * target))
            if not np.allclose(mode, scale * target, rtol=0, atol=1e-12 * abs(scale)):
                raise ValueError(f"mode {i} of the basis is not sin {m}πx sin {n}πy")
            c[i] = AMPLITUDE * weight / scale
        out.append(c)
    return np.concatenate(out)


@dataclass(frozen=True)
class WindowProblem:
    """The synthetic images, the windowed posterior, the steady posterior and the truth."""

    posterior: Posterior
    steady: Posterior
    truth: np.ndarray
    true_velocity: np.ndarray
    images: np.ndarray
    times: np.ndarray


def make_problem(s: Settings, rng) -> WindowProblem:
    """Simulate the images of the truth; the posteriors with three windows and with one."""
    rng = as_rng(rng)
    grid = Grid((s.nodes, s.nodes), bc="neumann")
    model = AdvectionDiffusion(grid, KAPPA, "exponential",
                               backend=ChebyshevBackend(tol=INFERENCE_TOL), progress=None)
    basis = StreamFunctionBasis(grid, kmax=KMAX)
    windows = TimeWindows(list(EDGES))
    flow = WindowedFlow(basis, windows)
    truth = true_coefficients(basis)
    velocity = flow.to_velocity(truth)
    theta0 = initial_dye(grid)
    n_images = int(round(DURATION / s.frame_interval))
    times = s.frame_interval * np.arange(1, n_images + 1)
    centres = (np.arange(s.camera) + 0.5) / s.camera
    camera = GriddedSnapshots(grid, (centres, centres), "cell_average")
    clean = camera.forward(model.solve(velocity, theta0, times))
    noise_std = NOISE * float(np.abs(clean).max())
    images = clean + noise_std * rng.standard_normal(clean.shape)
    images[rng.random(images.shape) < MISSING] = np.nan
    spatial = spectral_prior(basis)
    windowed = ParameterSpace(grid, flow=flow, theta0=theta0,
                              flow_prior=TemporalGaussian.ar1(spatial, windows.n_windows, RHO))
    posterior = Posterior(model, windowed, times=times,
                          observations=Observations(camera, images, noise_std))
    steady = Posterior(model, ParameterSpace(grid, flow=basis, flow_prior=spatial, theta0=theta0),
                       times=times, observations=Observations(camera, images, noise_std))
    return WindowProblem(posterior, steady, truth, velocity.values,
                         images.reshape(n_images, s.camera, s.camera), times)


def interior_coverage(truth: np.ndarray, centre: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Per window, the fraction of the velocity components at the nodes off the walls where
    the truth lies in centre ± 1.645 sd (arrays ``(K, 2, n, n)``; 0.9 expected under a
    calibrated posterior, but the nodes are strongly correlated through p = 24 coefficients,
    so one realisation's fraction scatters widely around it)."""
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    inside = np.abs(truth - centre)[inner] <= BAND * sd[inner]
    return inside.mean(axis=(1, 2, 3))


def relative_errors(u: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per window, |u_k − u†_k| / |u†_k| (nodal L2)."""
    axes = tuple(range(1, u.ndim))
    return np.sqrt(np.sum((u - truth) ** 2, axis=axes) / np.sum(truth ** 2, axis=axes))


@dataclass(frozen=True)
class WindowResult:
    """What :func:`main` measured (module docstring); seconds are wall-clock per stage."""

    settings: Settings
    problem: WindowProblem
    map_coefficients: np.ndarray
    newton: dict
    velocity: np.ndarray
    velocity_sd: np.ndarray
    stream_function: np.ndarray
    velocity_errors: np.ndarray
    coverage: np.ndarray
    standardised_error2: float
    misfit: float
    steady_coefficients: np.ndarray
    steady_misfit: float
    steady_velocity_errors: np.ndarray
    steady_report: str
    laplace_warnings: list
    seconds: dict

    @property
    def n_data(self) -> int:
        return self.problem.posterior.n_data

    def report(self) -> str:
        """The numbers as Markdown."""
        s, p = self.settings, self.problem.posterior.n_params
        lo, hi = stats.chi2.ppf([0.005, 0.995], p)
        windows = ", ".join(f"[{a:g}, {b:g})" for a, b in zip(EDGES[:-1], EDGES[1:], strict=True))
        return "\n".join([
            f"Time-varying flow: {s.nodes}² model, {s.camera}² camera, "
            f"{self.problem.times.size} images every {s.frame_interval:g} s, "
            f"{MISSING:.0%} missing, windows {windows} s, p = {p}",
            "",
            "| quantity | window 0 | window 1 | window 2 |", "|---|---|---|---|",
            "| velocity error at the MAP (relative L2) | "
            + " | ".join(f"{e:.3f}" for e in self.velocity_errors) + " |",
            "| coverage of u† by the Laplace 90 % band | "
            + " | ".join(f"{c:.3f}" for c in self.coverage) + " |",
            "| steady fit's velocity error against each window | "
            + " | ".join(f"{e:.3f}" for e in self.steady_velocity_errors) + " |",
            "",
            "| quantity | value |", "|---|---|",
            f"| standardised coefficient error \\|L⁻¹(ĉ − c†)\\|² | "
            f"{self.standardised_error2:.1f} (χ²_{p} 99 % interval {lo:.1f}–{hi:.1f}) |",
            f"| Φ at the MAP / N/2 | {self.misfit:.1f} / {self.n_data / 2:.0f} |",
            f"| Φ of the steady fit / N/2 | {self.steady_misfit:.1f} / {self.n_data / 2:.0f} |",
            f"| Newton-CG | {self.newton['iterations']} iterations, "
            f"{self.newton['hessian_products']} Hessian products, stop {self.newton['stop']}; "
            f"steady fit {self.newton['steady_iterations']} iterations, stop "
            f"{self.newton['steady_stop']} |",
            "| seconds | " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()) + " |",
            "", f"steady fit's report: {self.steady_report}"])


def timed(f, *args, **kwargs):
    """(f(*args, **kwargs), wall-clock seconds)."""
    begin = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - begin


def main(quick: bool = False, rng=None, progress=None) -> WindowResult:
    """The example of the module docstring.

    Parameters
    ----------
    quick : bool
        24² model, 16² camera, an image every 0.2 s.
    rng : None, int or numpy.random.Generator
        Noise and missing pixels; None uses ``GALLERY_SEED``.
    progress : None or "auto"
        Progress of Newton-CG.

    Returns
    -------
    WindowResult
    """
    s = settings(quick)
    rng = as_rng(GALLERY_SEED if rng is None else rng)
    seconds = {}
    problem, seconds["data"] = timed(make_problem, s, rng)
    post = problem.posterior
    optimizer = NewtonCG(rtol=0.0, atol=NEWTON_ATOL, progress=progress)
    res, seconds["MAP"] = timed(optimizer.minimise, post, post.prior.mean)
    c_map = res.coefficients
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lap, seconds["Laplace"] = timed(laplace_approximation, post, c_map, dense=True)
    fields, seconds["sd fields"] = timed(field_summaries, post, c_map, lap)
    z = lap.whiten(problem.truth)                    # L⁻¹(c† − ĉ), L Lᵀ the Laplace covariance
    steady = problem.steady
    steady_optimizer = NewtonCG(rtol=0.0, atol=NEWTON_ATOL, max_iter=STEADY_MAX_ITER,
                                progress=progress)
    steady_res, seconds["steady MAP"] = timed(steady_optimizer.minimise, steady,
                                              steady.prior.mean)
    steady_misfit = steady.misfit(steady_res.coefficients)
    steady_velocity = steady.inputs(steady_res.coefficients).velocity
    report = fit_report(steady, steady_misfit, [(steady_res.values[-1], steady_misfit, 1)], 1,
                        steady_optimizer)
    velocity = fields["velocity"]
    return WindowResult(
        settings=s, problem=problem, map_coefficients=c_map,
        newton={"iterations": res.iterations, "hessian_products": res.hessian_products,
                "stop": res.stop_reason, "steady_stop": steady_res.stop_reason,
                "steady_iterations": steady_res.iterations},
        velocity=velocity.value, velocity_sd=velocity.sd,
        stream_function=fields["stream_function"].value,
        velocity_errors=relative_errors(velocity.value, problem.true_velocity),
        coverage=interior_coverage(problem.true_velocity, velocity.value, velocity.sd),
        standardised_error2=float(z @ z), misfit=post.misfit(c_map),
        steady_coefficients=steady_res.coefficients, steady_misfit=steady_misfit,
        steady_velocity_errors=relative_errors(
            np.broadcast_to(steady_velocity, problem.true_velocity.shape),
            problem.true_velocity),
        steady_report=str(report), laplace_warnings=[str(w.message) for w in caught],
        seconds=seconds)


def plot(result: WindowResult, path: Path) -> Path:
    """Per window: the true and MAP stream functions with the velocity and the Laplace sd of
    the velocity; in the last column an image, the misfit of each image for the windowed and
    the steady fit, and the steady fit's flow."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import draw_field, save_figure

    problem = result.problem
    grid = problem.posterior.model.grid
    flow = problem.posterior.space.flow
    true_psi = flow.stream_function(problem.truth)
    fig, axes = plt.subplots(3, 4, figsize=(17, 12), layout="constrained")
    limits = {"vmin": true_psi.min(), "vmax": true_psi.max(), "cmap": "RdBu_r"}
    x, y = grid.coords
    every = max(1, grid.shape[0] // 12)
    for k in range(flow.n_windows):
        start, end = EDGES[k], min(EDGES[k + 1], DURATION)
        for row, (name, psi, u) in enumerate([("true", true_psi[k], problem.true_velocity[k]),
                                              ("MAP", result.stream_function[k],
                                               result.velocity[k])]):
            ax = axes[row, k]
            draw_field(ax, grid, psi, label="ψ (m²/s)", **limits)
            ax.quiver(x[::every, ::every], y[::every, ::every], u[0][::every, ::every],
                      u[1][::every, ::every], scale=4, width=0.003)
            title = f"{name} flow, t ∈ [{start:g}, {end:g}) s"
            if name == "MAP":
                title = (f"MAP [{start:g}, {end:g}) s: error {result.velocity_errors[k]:.3f}, "
                         f"band covers {result.coverage[k]:.0%}")
            ax.set_title(title, fontsize=10)
        speed_sd = np.sqrt(np.sum(result.velocity_sd[k] ** 2, axis=0))
        draw_field(axes[2, k], grid, speed_sd, label="sd of u (m/s)", cmap="magma")
        axes[2, k].set_title(f"Laplace sd of the velocity, window {k}", fontsize=10)
    camera = Grid(problem.images.shape[1:])
    last = problem.images.shape[0] // 2
    draw_field(axes[0, 3], camera, problem.images[last], label="dye", cmap="viridis")
    axes[0, 3].set_title(f"image at t = {problem.times[last]:g} s (missing pixels white)",
                         fontsize=10)
    post, steady = problem.posterior, problem.steady
    for name, posterior, c in (("three windows", post, result.map_coefficients),
                               ("steady", steady, result.steady_coefficients)):
        residual = posterior.predict(c).reshape(problem.images.shape) - problem.images
        per_image = 0.5 * np.nansum((residual / post.noise_std) ** 2, axis=(1, 2))
        axes[1, 3].plot(problem.times, per_image, "o-", label=name)
    axes[1, 3].axhline(np.mean(np.isfinite(problem.images), axis=(1, 2)).mean()
                       * camera.n / 2, color="k", ls=":", label="N_image / 2")
    axes[1, 3].set(xlabel="t (s)", ylabel="Φ of each image", yscale="log",
                   title="misfit of each image: windowed and steady fits")
    for edge in EDGES[1:-1]:
        axes[1, 3].axvline(edge, color="grey", lw=0.8)
    axes[1, 3].legend(fontsize=8)
    steady_flow = steady.space.flow
    u = steady_flow.to_velocity(result.steady_coefficients)
    draw_field(axes[2, 3], grid, steady_flow.stream_function(result.steady_coefficients),
               label="ψ (m²/s)", **limits)
    axes[2, 3].quiver(x[::every, ::every], y[::every, ::every], u[0][::every, ::every],
                      u[1][::every, ::every], scale=4, width=0.003)
    errors = ", ".join(f"{e:.2f}" for e in result.steady_velocity_errors)
    axes[2, 3].set_title(f"steady fit: errors {errors}, Φ/(N/2) = "
                         f"{result.steady_misfit / (result.n_data / 2):.0f}", fontsize=10)
    fig.suptitle("A flow that changes at t = 1 s and t = 2 s, from dye snapshots: windowed "
                 "Newton-CG MAP and Laplace")
    return save_figure(fig, path)


if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick, progress=None if args.quick else "auto")
    print(result.report())
    print(f"saved {plot(result, args.outdir / 'time_varying_snapshots.png')}")
