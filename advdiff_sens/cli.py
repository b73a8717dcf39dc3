"""Command-line interface: ``advdiff-sens`` / ``python -m advdiff_sens``.

Commands
--------
forward
    Solve reference problem R2 at a chosen resolution, print the time taken and save a PNG
    of θ(0) and θ(T).
sensitivity
    Run every sensitivity method on R2 (tangent, finite difference, adjoint, surrogates),
    print the table of values, errors against the tangent and times, and save the figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .operators import SCHEMES
from .reference import r2_problem

__all__ = ["main", "build_parser"]


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)
