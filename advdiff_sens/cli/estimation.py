"""What ``demo`` and ``estimate`` share: the settings line, the estimation workflow
(:func:`advdiff_sens.inference.run_workflow`) with its printed report, and the figures.

Results are written as soon as they exist: ``estimate.npz`` right after the MAP, again with
the samples after HMC (by the workflow), figures last; every written file is recorded in
the ``saved`` list the command was given, for the message of a run that stops later.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.cli.results_netcdf import save_netcdf, workflow_arrays
from advdiff_sens.inference import WorkflowResult, continuation_schedule, run_workflow
from advdiff_sens.inference.workflow import DEFAULT_SAMPLER, HMC_CHAINS
from advdiff_sens.sampling import HMC

__all__ = ["map_settings", "run_settings", "estimate_and_save", "save_estimation_figures"]


def map_settings(args: argparse.Namespace, optimizer: str, n_times: int) -> str:
    """The MAP part of the settings line: optimiser, starts and continuation schedule."""
    schedule = continuation_schedule(n_times, args.stages)
    return (f"optimizer {optimizer}, {args.starts} start(s), continuation stages "
            f"{','.join(map(str, args.stages)) or 'none'} (fits the first "
            f"{', '.join(map(str, schedule))} times)")


def run_settings(args: argparse.Namespace, scheme: str, n_times: int, n_draws: int,
                 n_warmup: int) -> str:
    """One line with the estimation settings of ``demo`` / ``estimate`` (the workflow)."""
    return (f"run: {map_settings(args, args.optimizer, n_times)}, scheme "
            f"{scheme}, HMC {HMC_CHAINS} chains x {n_draws} draws after {n_warmup} warm-up "
            f"draws (step-size adaptation), seed {args.seed}")


def _print_map(result: WorkflowResult, args: argparse.Namespace, truth) -> None:
    """The stages and the fit report of the MAP (its failed checks are FitWarnings from
    :func:`advdiff_sens.inference.estimate_velocity`)."""
    est, fit = result.estimate, result.fit_report
    rows = ["| stage (times fitted) | iterations | Ψ | seconds |", "|---|---|---|---|"]
    rows += [f"| {s.n_times} | {s.iterations} | {s.neg_log_posterior:.1f} | {s.seconds:.1f} |"
             for s in est.history]
    print("\n".join(rows))
    print(f"MAP: {est.iterations} iterations, misfit Φ = {fit.misfit:.1f} (expected "
          f"{fit.expected_misfit:.0f} ± {fit.misfit_sd:.0f} for {fit.n_data} data at the noise "
          f"level, p = {fit.p_value:.2g}), {len(fit.optima)} distinct "
          f"optim{'a' if len(fit.optima) > 1 else 'um'} from {args.starts} start(s), "
          f"{est.seconds:.1f} s")
    if truth is not None:
        error = float(np.linalg.norm(est.velocity - truth) / np.linalg.norm(truth))
        print(f"velocity relative L2 error: {error:.4f}")


def _print_hmc(result: WorkflowResult, n_draws: int, n_warmup: int) -> None:
    """The HMC run's diagnostics (its failed checks are FitWarnings of the workflow)."""
    samples, report = result.sampler_result, result.sampler_report
    print(f"HMC (exact gradient, Laplace metric, rms speed <= "
          f"{result.estimate.posterior.max_speed:.3g}): "
          f"{HMC_CHAINS} chains x {n_draws} draws after {n_warmup} warm-up, step size "
          f"{np.mean(samples.step_size):.3g}, acceptance {report.accept_rate:.2f}, "
          f"{report.divergences} divergences ({int(np.sum(samples.warmup_divergences))} in "
          f"warm-up), min ESS {report.min_ess:.0f}, max R-hat {report.max_rhat:.3f}, "
          f"{samples.seconds:.1f} s")


def estimate_and_save(outdir: Path, saved: list[Path], model, theta0, sensors, times, data,
                      noise_std, kmax, prior_std, args: argparse.Namespace, *, n_draws: int,
                      n_warmup: int, truth=None, true_coefficients=None,
                      netcdf: Callable[[dict], list[Path]] | None = None) -> None:
    """Run the workflow (MAP → ``estimate.npz``; HMC → ``estimate.npz`` with the samples),
    printing each stage as it ends, then save the figures (``truth``,
    ``true_coefficients``: the twin experiment's true velocity and coefficients);
    ``netcdf(arrays)`` (:func:`advdiff_sens.cli.results_netcdf.results_writer`) writes the
    netCDF results beside ``estimate.npz`` each time."""
    path = outdir / "estimate.npz"

    def report(event: str, result: WorkflowResult) -> None:
        if event == "map":
            _print_map(result, args, truth)
        elif event == "hmc":
            _print_hmc(result, n_draws, n_warmup)
        else:
            if path not in saved:
                saved.append(path)
            print(f"MAP and Laplace results saved to {path.resolve()}" if result.samples is None
                  else f"HMC samples added to {path.resolve()}")
            save_netcdf(netcdf, workflow_arrays(result), saved, outdir)

    result = run_workflow(model, theta0, sensors, times, data, noise_std, kmax=kmax,
                          prior_std=prior_std, continuation=args.stages,
                          optimizer=args.optimizer, n_starts=args.starts, n_draws=n_draws,
                          sampler=HMC(step_size=DEFAULT_SAMPLER.step_size,
                                      n_leapfrog=DEFAULT_SAMPLER.n_leapfrog, n_warmup=n_warmup),
                          rng=args.seed, path=path, progress="auto",
                          callback=report)
    paths = save_estimation_figures(outdir, model, sensors, times, data, noise_std, result,
                                    truth=truth, true_coefficients=true_coefficients)
    saved.extend(paths)
    print(f"figures saved to {outdir.resolve()}: {', '.join(p.name for p in paths)}")


def save_estimation_figures(outdir: Path, model, sensors, times, data, noise_std,
                            result: WorkflowResult, truth: np.ndarray | None = None,
                            true_coefficients: np.ndarray | None = None) -> list[Path]:
    """Save flow.png, data_fit.png, posterior_sd.png and traces.png; return their paths.

    ``truth`` (the true velocity) adds the true-flow and error panels to flow.png and
    ``true_coefficients`` the true values to traces.png (twin experiments).
    """
    from advdiff_sens.plotting import (coefficient_labels, plot_data_fit, plot_flow_estimate,
                                       plot_posterior_sd, plot_traces, save_figure)

    grid = model.grid
    return [
        save_figure(plot_flow_estimate(grid, result.velocity, truth, sensors),
                    outdir / "flow.png"),
        save_figure(plot_data_fit(times, data, result.predicted, noise_std, sensors=sensors,
                                  prediction_label="MAP prediction"), outdir / "data_fit.png"),
        save_figure(plot_posterior_sd(grid, result.velocity_std, sensors),
                    outdir / "posterior_sd.png"),
        save_figure(plot_traces(result.samples,
                                names=coefficient_labels(result.estimate.posterior.basis),
                                truth=true_coefficients), outdir / "traces.png"),
    ]
