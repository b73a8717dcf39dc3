"""``advdiff-sens estimate DATA.npz``: the estimation of ``demo`` on user data (format:
:mod:`advdiff_sens.cli.datafile`), writing ``estimate.npz`` and figures."""

from __future__ import annotations

import argparse

from advdiff_sens.cli.datafile import data_summary, load_data_file
from advdiff_sens.cli.estimation import estimate_and_save, run_settings
from advdiff_sens.cli.options import (add_estimation_options, add_outdir_option,
                                      integer_at_least, prepare_outdir)
from advdiff_sens.model import AdvectionDiffusion

__all__ = ["HELP", "configure", "run", "ESTIMATE_WARMUP"]

#: The command's line in ``advdiff-sens --help``.
HELP = "estimate a flow from a DATA.npz file of sensor data"
#: Default HMC warm-up draws per chain.
ESTIMATE_WARMUP = 20


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``estimate``."""
    parser.add_argument("data", help="npz with sensors, times, data, theta0, noise_std "
                                     "[, kappa, kmax, extent, prior_std]")
    parser.add_argument("--samples", type=integer_at_least(4), default=60,
                        help="HMC draws per chain after warm-up, >= 4 (60)")
    add_estimation_options(parser, warmup=ESTIMATE_WARMUP, warmup_help=(
        f"HMC warm-up draws per chain, with step-size adaptation ({ESTIMATE_WARMUP})"))
    add_outdir_option(parser, "advdiff_sens_estimate", "results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``estimate``; return the exit code."""
    d = load_data_file(args.data)
    outdir = prepare_outdir(args.outdir)
    print(data_summary(args.data, d))
    print(run_settings(args, args.scheme, d["times"].size, args.samples, args.warmup))
    print(f"results go to {outdir.resolve()}")
    model = AdvectionDiffusion(d["grid"], d["kappa"], args.scheme, backend="scipy")
    estimate_and_save(outdir, args.saved, model, d["theta0"], d["sensors"], d["times"],
                      d["data"], d["noise_std"], d["kmax"], d["prior_std"], args,
                      n_draws=args.samples, n_warmup=args.warmup)
    return 0
