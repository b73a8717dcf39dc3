"""A channel with a shear flow and an eddy, seen by 15 drifting sensors: the flow from the
scalar they read, with Newton-CG, the low-rank Laplace approximation and a short ∞-HMC run.

The domain is the channel [0, 2) x [0, 1], periodic in x with no-flux (Neumann) walls at
y = 0 and y = 1 for the scalar; kappa = 0.01, exponential fitting. The true flow is
u = curl psi with

    psi(x, y) = A sin(pi y) + B exp(-|x - x_e|^2 / (2 r^2)) sin(pi y),

a shear u = A pi cos(pi y) (the walls' fluid moves in opposite directions, zero net flux:
the unknown fixes psi = 0 on both walls, NodalStreamFunction(grid); through_flow=True would
add the net flux as one more coefficient, docs/guides/walled_domains.rst) plus a counter-clockwise eddy of radius r at
x_e = (1, 0.5); A = 0.12, B = 0.05, r = 0.15 (peak speeds 0.41 along, 0.20 across). psi
vanishes on the walls, so the truth is *exactly representable* by the nodal stream function
(its free-node values): the unknown is that nodal psi (p = nx (ny - 2)) under the walled
Gaussian random field prior (alpha = 3, pointwise sd 0.05 at the centre, correlation length
0.5; psi = 0 on the walls). The truth is not a typical prior draw: it is smoother, its
squared prior norm |C^{-1/2} c|^2 is about 26 against E = p for a draw.

The nodal psi is chosen over the sine/cosine basis because the eddy is localised (it needs
many modes) and because the walled prior is the one the guide describes; the basis would
make the truth only approximately representable.

Sensors: 15 drifters start at uniform random points with 0.15 <= y <= 0.85 and are carried
by the *true* discrete velocity, interpolated bilinearly between the nodes (the observation
operator's interpolant), integrated by RK4 with 10 steps between observation times. They
read theta at 20 times in (0, 1]; noise sd 1 % of the largest clean reading. Positions are
known to the estimator (PointSensors with a position per time). theta0 = 0.5 + 0.2 cos(pi x)
+ 0.2 cos(pi y) is known (structure along and across the channel, no-flux at the walls).

Reported: the relative L2 error of the velocity at the MAP, Phi at the MAP against N/2 and
against the linear-Gaussian expectation (N - d_eff)/2 with d_eff = sum l/(1 + l) over the
Laplace eigenvalues, the coverage of the true velocity by the Laplace 90 % band (per node,
|u_true - u_MAP| <= 1.645 sd; u_x on every node, u_y off the wall rows where it is 0 by
construction), the same for the prior's band, and the CPU seconds of each stage.

Sizes: 64 x 33 nodes (p = 1984), Newton-CG to |grad Psi|_C <= 0.1 (at most 40 iterations of
at most 80 CG steps), Laplace rank 100, infinity-HMC 2 chains x (20 warm-up + 40) draws of 4
steps. ``quick``: 32 x 17 (p = 480), rank 60, 2 chains x (10 + 10) draws of 3 steps.

Run:  python examples/channel_moving_sensors.py [--quick] [--outdir DIR]
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.discretisation import Observations, PointSensors, observation_operator
from advdiff_sens.inference import (GaussianRandomField, LowRankLaplace, NewtonCG,
                                    NodalStreamFunction, ParameterSpace, Posterior,
                                    field_summaries, laplace_approximation,
                                    sampling_potential)
from advdiff_sens.matrix import ChebyshevBackend
from advdiff_sens.problems import INFERENCE_TOL
from advdiff_sens.sampling import InfinityHMC, SamplerResult

#: Seed of the gallery figure and the guide's numbers (``main(rng=None)``).
GALLERY_SEED = 2024
#: The channel's lengths (x periodic, y between the walls) and boundary conditions.
EXTENT = (2.0, 1.0)
BC = ("periodic", "neumann")
KAPPA = 0.01
N_SENSORS = 15
#: Noise sd relative to the largest clean reading.
NOISE = 0.01
#: The true stream function (module docstring).
SHEAR_AMPLITUDE = 0.12
EDDY_AMPLITUDE = 0.05
EDDY_RADIUS = 0.15
EDDY_CENTRE = (1.0, 0.5)
#: The walled field prior of the nodal stream function.
PRIOR_SD = 0.05
CORRELATION_LENGTH = 0.5
#: The drifters start this far from the walls at least.
START_MARGIN = 0.15
#: RK4 steps between consecutive observation times.
RK4_STEPS = 10
#: The credible level of the bands whose coverage is measured.
LEVEL = 0.9
#: Newton-CG stops when |grad Psi|_C <= this (then the Newton decrement is below the
#: 0.1 posterior sds ``laplace_approximation`` asks of a MAP).
NEWTON_ATOL = 0.1


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (module docstring)."""

    nx: int
    ny: int
    n_times: int
    newton_iter: int
    cg_iter: int
    rank: int
    n_chains: int
    n_warmup: int
    n_draws: int
    n_leapfrog: int


def settings(quick: bool = False) -> Settings:
    """The full sizes, or the reduced ones of the tests (``quick``)."""
    if quick:
        return Settings(32, 17, 20, 40, 80, 60, 2, 10, 10, 3)
    return Settings(64, 33, 20, 40, 80, 100, 2, 20, 40, 4)


def true_stream_function(grid: Grid) -> np.ndarray:
    """The shear plus the eddy (module docstring) on the nodes, exactly 0 on the walls."""
    x, y = grid.coords
    length = grid.extent[0]
    dx = (x - EDDY_CENTRE[0] + length / 2) % length - length / 2       # periodic distance
    envelope = np.exp(-(dx ** 2 + (y - EDDY_CENTRE[1]) ** 2) / (2 * EDDY_RADIUS ** 2))
    psi = (SHEAR_AMPLITUDE + EDDY_AMPLITUDE * envelope) * np.sin(np.pi * y / grid.extent[1])
    psi[:, [0, -1]] = 0.0
    return psi


def initial_condition(grid: Grid) -> np.ndarray:
    """The known theta0: cosines along and across the channel (no-flux at the walls)."""
    x, y = grid.coords
    return (0.5 + 0.2 * np.cos(2 * np.pi * x / grid.extent[0])
            + 0.2 * np.cos(np.pi * y / grid.extent[1]))


def interpolated_velocity(grid: Grid, velocity: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The velocity at ``points`` (m, 2) by the bilinear interpolant of the nodal field (the
    observation operator's), x wrapped into the periodic period; a point beyond a wall
    raises."""
    if np.any((points[:, 1] < 0) | (points[:, 1] > grid.extent[1])):
        raise ValueError("a drifter left the channel (an RK4 stage beyond a wall): take more "
                         "RK4 steps")
    wrapped = np.column_stack([points[:, 0] % grid.extent[0], points[:, 1]])
    H = observation_operator(grid, wrapped)
    return np.column_stack([H @ velocity[0].ravel(), H @ velocity[1].ravel()])


def drifter_tracks(grid: Grid, velocity: np.ndarray, starts: np.ndarray, times: np.ndarray,
                   steps: int = RK4_STEPS) -> np.ndarray:
    """Positions ``(k, m, 2)`` at ``times`` of drifters carried from ``starts`` at t = 0 by
    the interpolated ``velocity`` (RK4, ``steps`` per interval), x wrapped into [0, L).

    On a wall row the nodal normal velocity is exactly 0, so the interpolant's normal
    component vanishes on the wall and falls to 0 linearly towards it: a drifter cannot reach
    the wall in finite time. A step (or an RK4 stage) that leaves the channel anyway (a step
    too long for the flow) raises.
    """
    p, t, out = np.array(starts, dtype=float), 0.0, []
    for t_next in times:
        dt = (t_next - t) / steps
        for _ in range(steps):
            k1 = interpolated_velocity(grid, velocity, p)
            k2 = interpolated_velocity(grid, velocity, p + dt / 2 * k1)
            k3 = interpolated_velocity(grid, velocity, p + dt / 2 * k2)
            k4 = interpolated_velocity(grid, velocity, p + dt * k3)
            p = p + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if np.any((p[:, 1] <= 0) | (p[:, 1] >= grid.extent[1])):
                raise ValueError(f"a drifter left the channel at t = {t_next:g}: take more "
                                 "RK4 steps")
        t = t_next
        out.append(np.column_stack([p[:, 0] % grid.extent[0], p[:, 1]]))
    return np.array(out)


@dataclass(frozen=True)
class ChannelProblem:
    """The synthetic data set, its posterior and the truth."""

    posterior: Posterior
    flow: NodalStreamFunction
    true_coefficients: np.ndarray
    true_velocity: np.ndarray
    starts: np.ndarray
    tracks: np.ndarray
    clean: np.ndarray
    noise_std: float


def make_problem(s: Settings, rng) -> ChannelProblem:
    """The channel, the truth, the drifters' tracks, the noisy readings and the posterior."""
    rng = np.random.default_rng(rng)
    grid = Grid((s.nx, s.ny), extent=EXTENT, bc=BC)
    flow = NodalStreamFunction(grid)
    prior = GaussianRandomField(flow.free_grid, PRIOR_SD, CORRELATION_LENGTH, alpha=3)
    psi = true_stream_function(grid)
    truth = psi[:, 1:-1].ravel()                     # the free nodes: psi is exactly this
    velocity = flow.to_velocity(truth)
    times = np.linspace(1.0 / s.n_times, 1.0, s.n_times)
    starts = np.column_stack([rng.uniform(0.0, EXTENT[0], N_SENSORS),
                              rng.uniform(START_MARGIN, EXTENT[1] - START_MARGIN, N_SENSORS)])
    tracks = drifter_tracks(grid, velocity, starts, times)
    sensors = PointSensors(grid, tracks)
    model = AdvectionDiffusion(grid, KAPPA, "exponential",
                               backend=ChebyshevBackend(tol=INFERENCE_TOL), progress=None)
    theta0 = initial_condition(grid)
    space = ParameterSpace(grid, flow=flow, flow_prior=prior, theta0=theta0)
    clean = sensors.forward(model.solve(velocity, theta0, times))
    noise_std = NOISE * float(np.abs(clean).max())
    data = clean + noise_std * rng.standard_normal(clean.shape)
    posterior = Posterior(model, space, times=times,
                          observations=Observations(sensors, data, noise_std),
                          gradient="adjoint")
    return ChannelProblem(posterior, flow, truth, velocity, starts, tracks, clean, noise_std)


def prior_velocity_sd(posterior: Posterior) -> np.ndarray:
    """The prior's pointwise sd of the velocity: :func:`field_summaries` of the prior written
    as a Laplace approximation with no data-informed direction (one eigenvalue 0)."""
    e = np.zeros((posterior.n_params, 1))
    e[0, 0] = 1.0
    as_laplace = LowRankLaplace(posterior.prior.mean, posterior.prior, [0.0], e,
                                dropped_eigenvalue=0.0)
    return field_summaries(posterior, posterior.prior.mean, as_laplace)["velocity"].sd


def relative_error(u: np.ndarray, truth: np.ndarray) -> float:
    """Relative L2 (nodal) error |u - truth| / |truth|."""
    return float(np.linalg.norm(u - truth) / np.linalg.norm(truth))


def band_coverage(truth: np.ndarray, centre: np.ndarray, sd: np.ndarray,
                  level: float = LEVEL) -> dict:
    """Where the truth lies inside the pointwise band centre ± z sd (z the two-sided normal
    quantile of ``level``): u_x on every node, u_y off the wall rows (0 there in every flow of
    the parameterisation, sd 0). Returns the per-node map ``inside`` (2, nx, ny), with the
    u_y wall rows True, and the fractions ``x``, ``y`` and ``all``."""
    z = stats.norm.ppf(0.5 + level / 2)
    inside = np.abs(truth - centre) <= z * sd
    interior = inside[1][:, 1:-1]
    inside[1][:, [0, -1]] = True
    return {"inside": inside, "x": float(inside[0].mean()), "y": float(interior.mean()),
            "all": float((inside[0].sum() + interior.sum()) / (inside[0].size + interior.size))}


@dataclass(frozen=True)
class ChannelResult:
    """What :func:`main` measured (module docstring); seconds are CPU seconds per stage."""

    settings: Settings
    seed: object
    problem: ChannelProblem
    prior_norm2: float
    map_coefficients: np.ndarray
    newton: dict
    map_velocity: np.ndarray
    velocity_sd: np.ndarray
    stream_function_sd: np.ndarray
    velocity_error: float
    posterior_spread: float
    misfit_truth: float
    misfit_map: float
    effective_dof: float
    coverage: dict
    prior_coverage: dict
    laplace: dict
    hmc: dict
    seconds: dict

    def report(self) -> str:
        """The numbers as Markdown."""
        s, post, lap, h = self.settings, self.problem.posterior, self.laplace, self.hmc
        n = post.n_data
        lo, hi = stats.chi2.ppf([0.001, 0.999], n - self.effective_dof)
        return "\n".join([
            f"Channel {EXTENT[0]:g} x {EXTENT[1]:g} on {s.nx} x {s.ny} nodes, nodal psi "
            f"p = {post.n_params}, {N_SENSORS} drifters x {s.n_times} times (N = {n}), noise "
            f"{NOISE:.0%}, seed {self.seed}; truth's squared prior norm {self.prior_norm2:.1f}",
            "",
            "| quantity | value |", "|---|---|",
            f"| velocity error at the MAP (relative L2) | {self.velocity_error:.3f} |",
            f"| Laplace spread sqrt(sum sd^2)/\\|u\\| | {self.posterior_spread:.3f} |",
            f"| Phi at the truth / N/2 | {self.misfit_truth:.1f} / {n / 2:.0f} |",
            f"| Phi at the MAP / (N - d_eff)/2 | {self.misfit_map:.1f} / "
            f"{(n - self.effective_dof) / 2:.1f} (d_eff = {self.effective_dof:.1f}; 99.8 % "
            f"interval {lo / 2:.1f}–{hi / 2:.1f}) |",
            f"| Newton-CG | {self.newton['iterations']} iterations, "
            f"{self.newton['hessian_products']} Hessian products, stop "
            f"{self.newton['stop']}, \\|g\\|_C = {self.newton['g_C']:.3g} |",
            f"| Laplace | rank {lap['rank']}, lambda_1 = {lap['largest']:.3g}, lambda_r = "
            f"{lap['smallest_kept']:.3g}, decrement {lap['decrement']:.3g} |",
            f"| coverage of the Laplace 90 % band: u_x, u_y, both | {self.coverage['x']:.3f}, "
            f"{self.coverage['y']:.3f}, {self.coverage['all']:.3f} |",
            f"| coverage of the prior 90 % band: u_x, u_y, both | "
            f"{self.prior_coverage['x']:.3f}, {self.prior_coverage['y']:.3f}, "
            f"{self.prior_coverage['all']:.3f} |",
            f"| ∞-HMC ({s.n_chains} x ({s.n_warmup} + {s.n_draws}) draws of {s.n_leapfrog} "
            f"steps, Laplace reference) | acceptance {h['acceptance']:.2f}, step "
            f"{h['step']:.3g}, divergences {h['divergences']}, velocity error of the chain "
            f"mean {h['velocity_error']:.3f}, coverage of its 90 % band {h['coverage']:.3f} |",
            "| CPU seconds | " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items())
            + " |"])


def timed(f, *args, **kwargs):
    """(f(*args, **kwargs), CPU seconds of this process)."""
    begin = time.process_time()
    out = f(*args, **kwargs)
    return out, time.process_time() - begin


def run_hmc(problem: ChannelProblem, laplace, c_map: np.ndarray, s: Settings, rng
            ) -> tuple[SamplerResult, dict]:
    """A short ∞-HMC run relative to the Laplace approximation from Laplace draws; the
    initial step 1/sqrt(1 + lambda_(r+1)) (stable in the directions the approximation leaves
    out), adapted during the warm-up."""
    post = problem.posterior
    dropped = (laplace.eigenvalues[-1] if laplace.dropped_eigenvalue is None
               else laplace.dropped_eigenvalue)
    step = min(1.0 / math.sqrt(1.0 + dropped), 0.5 * math.pi / s.n_leapfrog)
    sampler = InfinityHMC(step_size=step, n_leapfrog=s.n_leapfrog, n_warmup=s.n_warmup)
    starts = laplace.sample(rng, size=s.n_chains)
    res = sampler.sample(sampling_potential(post, laplace), laplace, starts, s.n_draws,
                         n_chains=s.n_chains, rng=rng)
    fields = field_summaries(post, None, samples=res.samples)["velocity"]
    cover = band_coverage(problem.true_velocity, fields.value, fields.sd)
    return res, {"acceptance": float(res.accept_rate.mean()), "step": float(res.step_size.mean()),
                 "divergences": int(res.divergences.sum()),
                 "velocity_error": relative_error(fields.value, problem.true_velocity),
                 "coverage": cover["all"], "moved": bool(np.all(np.ptp(res.samples, axis=1) > 0))}


def main(quick: bool = False, rng=None, progress=None) -> ChannelResult:
    """The channel example of the module docstring.

    Parameters
    ----------
    quick : bool
        The reduced ``settings``.
    rng : None, int or numpy.random.Generator
        None uses ``GALLERY_SEED``; draws the drifters' starts, the noise, the eigensolver's
        directions and the chains.
    progress : None or "auto"
        Progress of Newton-CG.

    Returns
    -------
    ChannelResult
    """
    s = settings(quick)
    seed = GALLERY_SEED if rng is None else rng
    rng = np.random.default_rng(seed)
    seconds = {}
    problem, seconds["data"] = timed(make_problem, s, rng)
    post = problem.posterior
    prior = post.prior
    z = prior.whiten(problem.true_coefficients)
    optimizer = NewtonCG(rtol=0.0, atol=NEWTON_ATOL, max_iter=s.newton_iter,
                         cg_max_iter=s.cg_iter, progress=progress)
    res, seconds["MAP"] = timed(optimizer.minimise, post, prior.mean)
    c_map = res.coefficients
    g = post.value_and_gradient(c_map)[1]
    newton = {"iterations": res.iterations, "hessian_products": res.hessian_products,
              "stop": res.stop_reason, "g_C": math.sqrt(float(g @ prior.covariance(g)))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lap, seconds["Laplace"] = timed(laplace_approximation, post, c_map,
                                        rank=min(s.rank, post.n_data), rng=rng)
    fields, seconds["sd fields"] = timed(field_summaries, post, c_map, lap)
    velocity = fields["velocity"]
    truth = problem.true_velocity
    eig = lap.eigenvalues
    laplace = {"rank": lap.rank, "largest": float(eig[0]), "smallest_kept": float(eig[-1]),
               "decrement": math.sqrt(max(float(g @ lap.covariance(g)), 0.0)),
               "warnings": [str(w.message) for w in caught], "approximation": lap}
    (samples, hmc), seconds["∞-HMC"] = timed(run_hmc, problem, lap, c_map, s, rng)
    hmc["result"] = samples
    return ChannelResult(
        settings=s, seed=seed, problem=problem, prior_norm2=float(z @ z),
        map_coefficients=c_map, newton=newton, map_velocity=velocity.value,
        velocity_sd=velocity.sd, stream_function_sd=fields["stream_function"].sd,
        velocity_error=relative_error(velocity.value, truth),
        posterior_spread=float(np.sqrt(np.sum(velocity.sd ** 2)) / np.linalg.norm(truth)),
        misfit_truth=post.misfit(problem.true_coefficients), misfit_map=post.misfit(c_map),
        effective_dof=float(np.sum(eig / (1 + eig))),
        coverage=band_coverage(truth, velocity.value, velocity.sd),
        prior_coverage=band_coverage(truth, np.zeros_like(truth), prior_velocity_sd(post)),
        laplace=laplace, hmc=hmc, seconds=seconds)


def plot(result: ChannelResult, path: Path) -> Path:
    """True and MAP flow (psi contours and velocity arrows) with the drifters' tracks, the
    Laplace sd of the speed and the coverage map, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    problem = result.problem
    grid = problem.posterior.model.grid

    def wrapped(a: np.ndarray) -> np.ndarray:            # the periodic column x = L again
        return np.concatenate([a, a[:1]], axis=0)

    x, y = (wrapped(c) for c in grid.coords)
    x[-1] = grid.extent[0]
    fig, axes = plt.subplots(2, 2, figsize=(13, 6.6), layout="constrained")
    every = max(1, grid.shape[0] // 16)
    panels = [("truth", problem.true_coefficients, problem.true_velocity),
              ("MAP", result.map_coefficients, result.map_velocity)]
    for ax, (name, c, u) in zip(axes[0], panels, strict=True):
        psi = problem.flow.stream_function(c)
        im = ax.contourf(x, y, wrapped(psi), levels=20, cmap="RdBu_r")
        fig.colorbar(im, ax=ax, label="ψ")
        ax.quiver(x[:-1:every, ::2], y[:-1:every, ::2], u[0][::every, ::2], u[1][::every, ::2],
                  scale=8, width=0.002)
        for s in range(N_SENSORS):
            track = np.vstack([problem.starts[s], problem.tracks[:, s]])
            jumps = np.where(np.abs(np.diff(track[:, 0])) > grid.extent[0] / 2)[0] + 1
            for piece in np.split(track, jumps):
                ax.plot(piece[:, 0], piece[:, 1], "k-", lw=1.2)
            ax.plot(*problem.starts[s], "ko", ms=3)
        ax.set(aspect="equal", title=f"{name}: ψ, velocity and the drifters' tracks"
               + (f" (error {result.velocity_error:.2f})" if name == "MAP" else ""))
    speed_sd = np.sqrt(result.velocity_sd[0] ** 2 + result.velocity_sd[1] ** 2)
    im = axes[1, 0].pcolormesh(x, y, wrapped(speed_sd), shading="auto", cmap="viridis")
    fig.colorbar(im, ax=axes[1, 0], label="sqrt(sd(u_x)² + sd(u_y)²)")
    axes[1, 0].set(aspect="equal", title="Laplace posterior sd of the velocity")
    for s in range(N_SENSORS):
        axes[1, 0].plot(problem.tracks[:, s, 0], problem.tracks[:, s, 1], "w.", ms=2)
    inside = result.coverage["inside"]
    code = inside[0].astype(int) + 2 * inside[1].astype(int)     # 3: both components inside
    im = axes[1, 1].pcolormesh(x, y, wrapped(code), shading="auto", cmap="viridis", vmin=0, vmax=3)
    bar = fig.colorbar(im, ax=axes[1, 1], ticks=[0, 1, 2, 3])
    bar.ax.set_yticklabels(["neither", "u_x only", "u_y only", "both"])
    cov = result.coverage
    axes[1, 1].set(aspect="equal", title=f"truth inside the Laplace 90 % band: u_x "
                   f"{cov['x']:.2f}, u_y {cov['y']:.2f}")
    fig.suptitle(f"Channel, shear + eddy, {N_SENSORS} drifters: Newton-CG MAP and low-rank "
                 "Laplace")
    return save_figure(fig, path)


if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick, progress=None if args.quick else "auto")
    print(result.report())
    print(f"figure saved to {plot(result, args.outdir / 'channel_moving_sensors.png')}")
