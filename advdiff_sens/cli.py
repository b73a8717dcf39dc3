"""Command-line interface: ``advdiff-sens`` / ``python -m advdiff_sens``.

Commands
--------
forward
    Solve reference problem R2 at a chosen resolution, print the time taken and save a PNG
    of θ(0) and θ(T).
sensitivity
    Run every sensitivity method on R2 (tangent, finite difference, adjoint, surrogates),
    print the table of values, errors against the tangent and times, and save the figure.
demo
    The main job: an R3 twin experiment (velocity estimation from point-sensor data) with
    embedded defaults — MAP by continuation, Laplace covariance, a short HMC run — printing a
    table and saving figures (``--quick`` for a reduced size).
estimate DATA.npz
    The same estimation on user data (format: README section "Estimating a flow from
    scalar data", and :data:`NPZ_REQUIRED`), writing ``estimate.npz`` and figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .operators import SCHEMES
from .reference import r2_problem

__all__ = ["main", "build_parser", "NPZ_REQUIRED", "NPZ_OPTIONAL"]

#: Arrays an ``estimate`` input file must hold: sensors (m, 2), times (k,), data (k, m),
#: theta0 (N0, N1), noise_std ().
NPZ_REQUIRED = ("sensors", "times", "data", "theta0", "noise_std")
#: Optional scalars/arrays with their defaults.
NPZ_OPTIONAL = {"kappa": 0.01, "kmax": 2.0, "extent": (1.0, 1.0), "prior_std": None}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 3:
        raise argparse.ArgumentTypeError(f"must be an integer >= 3, got {text}")
    return value


def _cmd_forward(args: argparse.Namespace) -> int:
    from .plotting import plot_fields, save_figure

    problem = r2_problem(args.n, scheme=args.scheme)
    start = time.perf_counter()
    theta = problem.model.solve(problem.u, problem.theta0, problem.T)
    elapsed = time.perf_counter() - start
    print(f"R2 forward solve: grid {args.n}x{args.n} (n = {args.n**2}), scheme {args.scheme}, "
          f"T = {problem.T}: {elapsed:.3f} s")
    print(f"  mass  w·θ(0) = {np.sum(problem.model.grid.weights * problem.theta0):.12f}, "
          f"w·θ(T) = {np.sum(problem.model.grid.weights * theta):.12f}")
    print(f"  range θ(T) in [{theta.min():.3e}, {theta.max():.3e}]")
    fig = plot_fields(problem.model.grid, {"θ(0)": problem.theta0, f"θ(T={problem.T})": theta},
                      suptitle="R2: cellular flow, κ = 0.01")
    path = save_figure(fig, Path(args.outdir) / "forward.png")
    print(f"  figure saved to {path}")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from .plotting import plot_sensitivity_study, save_figure
    from .studies import compare_methods

    problem = r2_problem(args.n, scheme=args.scheme)
    print(f"R2 sensitivity study: grid {args.n}x{args.n}, scheme {args.scheme}, T = {problem.T}, "
          f"v = (cos 2πy, sin 2πx), Φ = ½ Σ θ(T, sensor)² over a 4x4 sensor lattice")
    study = compare_methods(problem.model, problem.u, problem.theta0, problem.T, rtol=args.rtol)
    print(study.table())
    fig = plot_sensitivity_study(problem.model.grid, study,
                                 title=f"R2 sensitivity, {args.n}², {args.scheme}")
    path = save_figure(fig, Path(args.outdir) / "sensitivity.png")
    print(f"figure saved to {path}")
    return 0


def _estimation_run(model, theta0, sensors, times, data, noise_std, kmax, prior_std, *,
                    n_draws: int, seed: int, truth=None) -> dict:
    """MAP + Laplace + a short exact-gradient HMC run; print the table; return the results."""
    from .inverse import estimate_velocity
    from .sampling import hmc

    est = estimate_velocity(model, theta0, sensors, times, data, noise_std, kmax=kmax,
                            prior_std=prior_std)
    post = est.posterior
    rows = ["| stage (times fitted) | iterations | Ψ | seconds |", "|---|---|---|---|"]
    rows += [f"| {s.n_times} | {s.iterations} | {s.neg_log_posterior:.1f} | {s.seconds:.1f} |"
             for s in est.history]
    print("\n".join(rows))
    n_data = data.size
    print(f"MAP: {est.iterations} iterations, misfit Φ = {est.misfit:.1f} (≈ {n_data / 2:.0f} "
          f"expected for {n_data} data at the noise level), {est.seconds:.1f} s")
    if truth is not None:
        error = float(np.linalg.norm(est.velocity - truth) / np.linalg.norm(truth))
        print(f"velocity relative L2 error: {error:.4f}")
    start = time.perf_counter()
    samples = hmc(post.log_density, lambda c: -post.value_and_gradient(c)[1], est.coefficients,
                  n_draws, step_size=0.6, n_steps=3, inverse_mass=est.covariance, n_chains=2,
                  rng=seed, progress=True)
    print(f"HMC (exact gradient, Laplace metric): 2 chains x {n_draws} draws, acceptance "
          f"{samples.accept_rate.mean():.2f}, min ESS {samples.ess().min():.0f}, max R-hat "
          f"{samples.rhat().max():.3f}, {time.perf_counter() - start:.1f} s")
    return {"estimate": est, "samples": samples}


def _save_estimation_figures(outdir: Path, model, sensors, times, data, noise_std, run: dict,
                             truth=None) -> list[Path]:
    from .plotting import plot_data_fit, plot_fields, plot_flow_estimate, plot_traces, save_figure

    est, samples = run["estimate"], run["samples"]
    grid = model.grid
    sd = est.velocity_std()
    paths = [
        save_figure(plot_flow_estimate(grid, est.velocity, truth, sensors), outdir / "flow.png"),
        save_figure(plot_data_fit(times, data, est.posterior.predict(est.coefficients), noise_std),
                    outdir / "data_fit.png"),
        save_figure(plot_fields(grid, {"posterior sd of u_x": sd[0], "posterior sd of u_y": sd[1]},
                                suptitle="Laplace posterior standard deviation"),
                    outdir / "posterior_sd.png"),
        save_figure(plot_traces(samples.samples), outdir / "traces.png"),
    ]
    return paths


def _cmd_demo(args: argparse.Namespace) -> int:
    from .twin import make_twin

    n, n_times, n_sensors, n_draws = (10, 5, 12, 8) if args.quick else (20, 20, 25, 25)
    start = time.perf_counter()
    twin = make_twin(n, kmax=2, n_sensors=n_sensors, noise_std=args.noise,
                     times=np.linspace(1.0 / n_times, 1.0, n_times), rng=args.seed)
    print(f"R3 twin experiment: {n}x{n} torus, κ = 0.01, {twin.basis.n_params} stream-function "
          f"coefficients (|k| <= 2), {n_sensors} sensors x {n_times} times, noise σ = {args.noise}")
    run = _estimation_run(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                          twin.noise_std, 2, None, n_draws=n_draws, seed=args.seed,
                          truth=twin.true_velocity)
    paths = _save_estimation_figures(Path(args.outdir), twin.model, twin.sensors, twin.times,
                                     twin.data, twin.noise_std, run, truth=twin.true_velocity)
    print(f"figures saved to {Path(args.outdir).resolve()}: {', '.join(p.name for p in paths)}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


def _load_npz(path: str) -> dict:
    """Read and check an ``estimate`` input file (see :data:`NPZ_REQUIRED`)."""
    with np.load(path) as npz:
        missing = [key for key in NPZ_REQUIRED if key not in npz]
        if missing:
            raise ValueError(f"{path} lacks the array(s) {missing}; required: {list(NPZ_REQUIRED)}")
        out = {key: npz[key] for key in npz.files}
    for key, default in NPZ_OPTIONAL.items():
        out.setdefault(key, default)
    theta0 = np.asarray(out["theta0"])
    if theta0.ndim != 2:
        raise ValueError(f"theta0 must be a 2-D array (N0, N1), got shape {theta0.shape}")
    return out


def _cmd_estimate(args: argparse.Namespace) -> int:
    from .grid import Grid
    from .model import AdvectionDiffusion

    try:
        d = _load_npz(args.data)
        grid = Grid(np.asarray(d["theta0"]).shape, tuple(np.asarray(d["extent"], dtype=float)),
                    "periodic")
        model = AdvectionDiffusion(grid, float(d["kappa"]), backend="scipy")
        prior = None if d["prior_std"] is None else np.asarray(d["prior_std"])
        run = _estimation_run(model, d["theta0"], d["sensors"], d["times"], d["data"],
                              float(d["noise_std"]), float(d["kmax"]),
                              None if prior is None else (prior.item() if prior.ndim == 0 else prior),
                              n_draws=args.samples, seed=args.seed)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    est = run["estimate"]
    np.savez(outdir / "estimate.npz", coefficients=est.coefficients, velocity=est.velocity,
             covariance=est.covariance, velocity_std=est.velocity_std(),
             predicted=est.posterior.predict(est.coefficients), misfit=est.misfit,
             wavevectors=est.posterior.basis.wavevectors, samples=run["samples"].samples)
    paths = _save_estimation_figures(outdir, model, np.asarray(d["sensors"]), np.asarray(d["times"]),
                                     np.asarray(d["data"]), float(d["noise_std"]), run)
    print(f"results saved to {(outdir / 'estimate.npz').resolve()}; figures: "
          f"{', '.join(p.name for p in paths)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="advdiff-sens",
        description="Velocity sensitivity of the advection-diffusion equation.")
    sub = parser.add_subparsers(dest="command", required=True)
    fwd = sub.add_parser("forward", help="solve reference problem R2 and save θ(0), θ(T)")
    fwd.add_argument("--n", type=_positive_int, default=128, help="grid points per axis (128)")
    fwd.add_argument("--scheme", choices=SCHEMES, default="central", help="advection scheme")
    fwd.add_argument("--outdir", default="advdiff_sens_output", help="folder for figures")
    fwd.set_defaults(func=_cmd_forward)
    sens = sub.add_parser("sensitivity", help="compare tangent, adjoint and surrogate methods on R2")
    sens.add_argument("--n", type=_positive_int, default=64, help="grid points per axis (64)")
    sens.add_argument("--scheme", choices=SCHEMES, default="central", help="advection scheme")
    sens.add_argument("--rtol", type=float, default=1e-10, help="adjoint quadrature tolerance")
    sens.add_argument("--outdir", default="advdiff_sens_output", help="folder for figures")
    sens.set_defaults(func=_cmd_sensitivity)
    demo = sub.add_parser("demo", help="R3 twin experiment: estimate a flow from sensor data")
    demo.add_argument("--quick", action="store_true", help="reduced size (seconds, for tests)")
    demo.add_argument("--noise", type=float, default=0.01, help="noise standard deviation (0.01)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.add_argument("--outdir", default="advdiff_sens_demo", help="folder for figures")
    demo.set_defaults(func=_cmd_demo)
    est = sub.add_parser("estimate", help="estimate a flow from a DATA.npz file of sensor data")
    est.add_argument("data", help="npz with sensors, times, data, theta0, noise_std "
                                  "[, kappa, kmax, extent, prior_std]")
    est.add_argument("--samples", type=int, default=60, help="HMC draws per chain (60)")
    est.add_argument("--seed", type=int, default=0, help="random seed (0)")
    est.add_argument("--outdir", default="advdiff_sens_estimate", help="folder for results")
    est.set_defaults(func=_cmd_estimate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)
