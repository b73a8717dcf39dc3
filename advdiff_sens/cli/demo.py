"""``advdiff-sens demo``: the main job, an R3 twin experiment (velocity estimation from
point-sensor data) with embedded defaults — MAP by continuation, Laplace covariance, a short
HMC run (:func:`advdiff_sens.inference.run_workflow`) — printing a table and saving
``estimate.npz`` and figures (``--quick`` for a reduced size)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from advdiff_sens.cli.estimation import estimate_and_save, run_settings
from advdiff_sens.cli.options import (add_estimation_options, add_outdir_option, number_above,
                                      prepare_outdir)

__all__ = ["HELP", "configure", "run", "DEMO_WARMUP", "DEMO_DRAWS"]

#: The command's line in ``advdiff-sens --help``.
HELP = "R3 twin experiment: estimate a flow from sensor data"
#: Default HMC warm-up draws per chain (full size, ``--quick``).
DEMO_WARMUP = {False: 20, True: 4}
#: HMC draws per chain (full size, ``--quick``): at full size enough for the diagnostics'
#: ESS ≥ 100 over two chains.
DEMO_DRAWS = {False: 40, True: 8}


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``demo``."""
    parser.add_argument("--quick", action="store_true", help="reduced size (seconds, for tests)")
    parser.add_argument("--noise", type=number_above(0.0), default=0.01,
                        help="noise standard deviation, > 0 (0.01)")
    add_estimation_options(parser, warmup=None, warmup_help=(
        f"HMC warm-up draws per chain, with step-size adaptation ({DEMO_WARMUP[False]}; "
        f"{DEMO_WARMUP[True]} with --quick)"))
    add_outdir_option(parser, "advdiff_sens_demo", "results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``demo``; return the exit code."""
    from advdiff_sens.problems.twin import make_twin

    outdir = prepare_outdir(args.outdir)
    n, n_times, n_sensors = (10, 5, 12) if args.quick else (20, 20, 25)
    n_draws = DEMO_DRAWS[args.quick]
    n_warmup = DEMO_WARMUP[args.quick] if args.warmup is None else args.warmup
    start = time.perf_counter()
    twin = make_twin(n, kmax=2, n_sensors=n_sensors, noise_std=args.noise,
                     times=np.linspace(1.0 / n_times, 1.0, n_times), scheme=args.scheme,
                     rng=args.seed)
    print(f"R3 twin experiment: {n}x{n} torus, κ = 0.01, {twin.basis.n_params} stream-function "
          f"coefficients (|k| <= 2), {n_sensors} sensors x {n_times} times, noise σ = {args.noise}")
    print(run_settings(args, twin.model.scheme, n_times, n_draws, n_warmup))
    estimate_and_save(outdir, args.saved, twin.model, twin.theta0, twin.sensors, twin.times,
                      twin.data, twin.noise_std, 2, None, args, n_draws=n_draws,
                      n_warmup=n_warmup, truth=twin.true_velocity,
                      true_coefficients=twin.true_coefficients)
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0
