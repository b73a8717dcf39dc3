"""``advdiff-sens sensitivity``: run every sensitivity method on R2 (tangent, finite difference,
adjoint, surrogates), print the table of values, errors against the tangent and times, and
save the figure."""

from __future__ import annotations

import argparse

from advdiff_sens.cli.options import (add_outdir_option, integer_at_least, number_between,
                                      prepare_outdir)
from advdiff_sens.discretisation.grid import MIN_NODES
from advdiff_sens.discretisation import SCHEMES
from advdiff_sens.problems import r2_problem

__all__ = ["HELP", "configure", "run"]

#: The command's line in ``advdiff-sens --help``.
HELP = "compare tangent, adjoint and surrogate methods on R2"


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``sensitivity``."""
    parser.add_argument("--n", type=integer_at_least(MIN_NODES), default=64,
                        help="grid points per axis (64)")
    parser.add_argument("--scheme", choices=SCHEMES.names(), default="central", help="advection scheme")
    parser.add_argument("--rtol", type=number_between(0.0, 1.0), default=1e-10,
                        help="adjoint quadrature tolerance, in (0, 1) (1e-10)")
    add_outdir_option(parser, "advdiff_sens_output", "figures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sensitivity``; return the exit code."""
    from advdiff_sens.comparison import compare_methods
    from advdiff_sens.plotting import plot_sensitivity_study, save_figure

    outdir = prepare_outdir(args.outdir)
    problem = r2_problem(args.n, scheme=args.scheme)
    print(f"R2 sensitivity study: grid {args.n}x{args.n}, scheme {args.scheme}, T = {problem.T}, "
          f"v = (cos 2πy, sin 2πx), Φ = ½ Σ θ(T, sensor)² over a 4x4 sensor lattice")
    study = compare_methods(problem.model, problem.u, problem.theta0, problem.T, rtol=args.rtol)
    print(study.table())
    fig = plot_sensitivity_study(problem.model.grid, study,
                                 title=f"R2 sensitivity, {args.n}², {args.scheme}")
    path = save_figure(fig, outdir / "sensitivity.png")
    args.saved.append(path)
    print(f"figure saved to {path}")
    return 0
