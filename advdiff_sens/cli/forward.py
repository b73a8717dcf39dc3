"""``advdiff-sens forward``: solve reference problem R2 at a chosen resolution, print the time
taken and save a PNG of θ(0) and θ(T)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from advdiff_sens.cli.options import add_outdir_option, integer_at_least, prepare_outdir
from advdiff_sens.discretisation.grid import MIN_NODES
from advdiff_sens.discretisation import SCHEMES
from advdiff_sens.problems import r2_problem

__all__ = ["HELP", "configure", "run"]

#: The command's line in ``advdiff-sens --help``.
HELP = "solve reference problem R2 and save θ(0), θ(T)"


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``forward``."""
    parser.add_argument("--n", type=integer_at_least(MIN_NODES), default=128,
                        help="grid points per axis (128)")
    parser.add_argument("--scheme", choices=SCHEMES.names(), default="central", help="advection scheme")
    add_outdir_option(parser, "advdiff_sens_output", "figures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``forward``; return the exit code."""
    from advdiff_sens.plotting import plot_fields, save_figure

    outdir = prepare_outdir(args.outdir)
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
    path = save_figure(fig, outdir / "forward.png")
    args.saved.append(path)
    print(f"  figure saved to {path}")
    return 0
