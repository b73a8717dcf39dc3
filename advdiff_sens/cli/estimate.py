"""``advdiff-sens estimate DATA.npz``: estimation on user data (format:
:mod:`advdiff_sens.cli.datafile`).

The default run (``--space fourier --unknowns flow --sampler hmc``) is the estimation of
``demo``, the MAP → Laplace → HMC workflow (:func:`advdiff_sens.inference.run_workflow`,
:mod:`advdiff_sens.cli.estimation`), writing ``estimate.npz`` and figures. Any other choice of
space, unknowns or sampler (:mod:`advdiff_sens.cli.unknowns`) runs
:func:`advdiff_sens.inference.run_inference` (:mod:`advdiff_sens.cli.field_estimation`),
writing ``inference.npz`` and figures; so does a time-varying flow (``--windows``). Both
write ``results.nc`` and ``fit.nc`` too when xarray is installed
(:mod:`advdiff_sens.cli.results_netcdf`).
"""

from __future__ import annotations

import argparse

from advdiff_sens.cli.config import CONFIG_HELP
from advdiff_sens.cli.datafile import data_summary, load_data_file
from advdiff_sens.cli.estimation import estimate_and_save, run_settings
from advdiff_sens.cli.field_estimation import field_optimizer, infer_and_save, inference_settings
from advdiff_sens.cli.results_netcdf import results_writer
from advdiff_sens.cli.snapshotfile import (SNAPSHOT_OPTIONS, add_snapshot_options,
                                           is_snapshot_file, load_snapshot_file,
                                           snapshot_summary)
from advdiff_sens.cli.options import (add_estimation_options, add_newton_options,
                                      add_outdir_option, integer_at_least, prepare_outdir)
from advdiff_sens.cli.unknowns import (add_unknowns_options, build_posterior,
                                       check_against_file, choose, fourier_prior_std,
                                       spectrum_given, time_windows, unknowns_summary)
from advdiff_sens.inference import StreamFunctionBasis
from advdiff_sens.model import AdvectionDiffusion

__all__ = ["HELP", "configure", "run", "ESTIMATE_WARMUP", "ESTIMATE_DRAWS"]

#: The command's line in ``advdiff-sens --help``.
HELP = "estimate a flow (and θ0, κ) from a DATA.npz file of sensor data"
#: Default warm-up draws per chain.
ESTIMATE_WARMUP = 20
#: Default draws per chain after warm-up.
ESTIMATE_DRAWS = 60


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``estimate``."""
    parser.add_argument("data", help="npz with sensors (fixed (m, 2) or moving (k, m, 2)), "
                                     "times, data, theta0, noise_std [, kappa, kmax, extent, "
                                     "prior_std, velocity]; or a netCDF file of (time, y, x) "
                                     "images")
    parser.add_argument("--samples", type=integer_at_least(4), default=None,
                        help=f"draws per chain after warm-up, >= 4 ({ESTIMATE_DRAWS})")
    add_estimation_options(
        parser, warmup=None,
        warmup_help=f"warm-up draws per chain, with step-size adaptation ({ESTIMATE_WARMUP})",
        optimizer=None, optimizer_help="MAP optimiser (gauss-newton for the default Fourier-"
                                       "flow HMC workflow, newton-cg otherwise)")
    add_newton_options(parser)
    add_outdir_option(parser, "advdiff_sens_estimate", "results")
    add_unknowns_options(parser)
    add_snapshot_options(parser)
    parser.add_argument("--config", metavar="FILE", default=None, help=CONFIG_HELP)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``estimate``; return the exit code."""
    choice = choose(args, n_draws=ESTIMATE_DRAWS, n_warmup=ESTIMATE_WARMUP)
    field_optimizer(args, choice)                        # checks the Newton-CG limits
    snapshots = is_snapshot_file(args.data)
    if snapshots:
        if choice.workflow:
            raise ValueError(f"argument --sampler: the default hmc workflow reads point "
                             f"sensors from an .npz file, not the images of {args.data}; "
                             "choose --sampler infinity-hmc, infinity-mala, pcn or none, or "
                             "--space nodal")
        d = load_snapshot_file(args.data, args)
    else:
        for name in SNAPSHOT_OPTIONS:
            if getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"argument {flag}: applies to a netCDF snapshot file "
                                 f"(DATA.nc), not to {args.data}; drop {flag}")
        d = load_data_file(args.data)
    check_against_file(choice, d, args.data)
    posterior = None if choice.workflow else build_posterior(choice, d, args.scheme)
    outdir = prepare_outdir(args.outdir)
    print(snapshot_summary(args.data, d) if snapshots else data_summary(args.data, d))
    print(unknowns_summary(choice, posterior, d))
    netcdf = results_writer(outdir, d, args.data, windows=time_windows(choice))
    if choice.workflow:
        args.optimizer = choice.optimizer
        kmax = choice.options["kmax"] or d["kmax"]
        prior_std = (fourier_prior_std(choice, d, StreamFunctionBasis(d["grid"], kmax))
                     if spectrum_given(choice) else d["prior_std"])
        print(run_settings(args, args.scheme, d["times"].size, choice.n_draws,
                           choice.n_warmup))
        print(f"results go to {outdir.resolve()}")
        model = AdvectionDiffusion(d["grid"], d["kappa"], args.scheme, backend="scipy")
        estimate_and_save(outdir, args.saved, model, d["theta0"], d["sensors"], d["times"],
                          d["data"], d["noise_std"], kmax, prior_std, args,
                          n_draws=choice.n_draws, n_warmup=choice.n_warmup, netcdf=netcdf)
    else:
        print(inference_settings(args, choice, posterior))
        print(f"results go to {outdir.resolve()}")
        infer_and_save(outdir, args.saved, posterior, choice, args, netcdf=netcdf)
    return 0
