r"""The ``estimate`` runs other than the Fourier-flow workflow: any parameter space and unknowns
through :func:`advdiff_sens.inference.run_inference` — MAP with every optimum, Laplace
approximation, optionally a dimension-robust sampler — printed as each stage ends. Newton-CG
(the default optimiser here) stops at :math:`|g|_C ≤` :data:`~advdiff_sens.inference.MAP_DECREMENT_TOL`
(or its relative tolerance): that bounds the Newton decrement :math:`\sqrt{g^TC_{post}g}` by
0.1 posterior sd, the point where the Laplace approximation's "not a MAP" check is satisfied and
further iterations do not change the answer statistically (Gauss–Newton converges only
linearly there). ``--newton-max-iter`` and ``--cg-max-iter`` set its iteration limits
(:func:`field_optimizer`).

Results are written as soon as they exist: ``inference.npz`` after the Laplace stage (with the
MAP and the Laplace fields), then the figures of that stage; again after sampling, then the
figures of the samples. Every written file is recorded in the ``saved`` list the command was
given, for the message of a run that stops later.

``inference.npz`` holds :attr:`advdiff_sens.inference.InferenceResult.arrays` and, for the
figures, ``predicted`` (k, m), the MAP's sensor readings, (Fourier space) ``wavevectors``
(p_flow, 2) of one window's coefficients and (a time-varying flow) ``window_starts`` (K,); a
time-varying flow's fields carry a leading window axis, velocity (K, 2, N0, N1) and stream
function (K, N0, N1), and its figures draw one panel per window.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.cli.estimation import map_settings
from advdiff_sens.cli.options import NEWTON_OPTIONS
from advdiff_sens.cli.results_netcdf import save_netcdf
from advdiff_sens.cli.unknowns import Choice, make_sampler
from advdiff_sens.inference import (MAP_DECREMENT_TOL, DenseLaplace, InferenceResult, NewtonCG,
                                    Posterior, run_inference)
from advdiff_sens.inference.workflow import HMC_CHAINS

__all__ = ["inference_settings", "field_optimizer", "infer_and_save", "save_laplace_figures",
           "save_sample_figures", "INFERENCE_FILE"]

#: The results file of these runs (in ``--outdir``).
INFERENCE_FILE = "inference.npz"


def field_optimizer(args: argparse.Namespace, choice: Choice) -> NewtonCG | str | None:
    """The MAP optimiser of the field pipeline: for ``newton-cg``
    ``NewtonCG(atol=MAP_DECREMENT_TOL)`` with the limits ``--newton-max-iter`` and
    ``--cg-max-iter`` when given; another optimiser by its name; None for the Fourier-flow
    workflow.

    Raises
    ------
    ValueError
        ``--newton-max-iter`` or ``--cg-max-iter`` given for the workflow or another
        optimiser (they would be ignored).

    Examples
    --------
    >>> import argparse
    >>> from advdiff_sens.cli.unknowns import Choice
    >>> args = argparse.Namespace(newton_max_iter=None, cg_max_iter=400)
    >>> choice = Choice(("flow",), "nodal", "none", False, {}, None, "newton-cg", None, None)
    >>> field_optimizer(args, choice).cg_max_iter
    400
    >>> choice.optimizer = "lbfgs"
    >>> field_optimizer(args, choice)
    Traceback (most recent call last):
    ...
    ValueError: argument --cg-max-iter: applies to the newton-cg optimiser of the field pipeline, not to lbfgs; drop --cg-max-iter, or choose --optimizer newton-cg
    """
    limits = {name: getattr(args, dest) for dest, name in NEWTON_OPTIONS.items()
              if getattr(args, dest) is not None}
    if limits and (choice.workflow or choice.optimizer != "newton-cg"):
        flag = "--" + next(dest for dest, name in NEWTON_OPTIONS.items()
                           if name in limits).replace("_", "-")
        remedy = ("run the field pipeline (--space nodal, other unknowns or another sampler)"
                  if choice.workflow else "choose --optimizer newton-cg")
        raise ValueError(f"argument {flag}: applies to the newton-cg optimiser of the field "
                         f"pipeline, not to "
                         f"{'the hmc workflow' if choice.workflow else choice.optimizer}; "
                         f"drop {flag}, or {remedy}")
    if choice.workflow:
        return None
    return (NewtonCG(atol=MAP_DECREMENT_TOL, **limits) if choice.optimizer == "newton-cg"
            else choice.optimizer)


def inference_settings(args: argparse.Namespace, choice: Choice, posterior: Posterior) -> str:
    """One line with the settings of the run."""
    rank = (f"{choice.options['laplace_rank']}" if choice.options["laplace_rank"]
            else f"min(N, p) = {min(posterior.n_data, posterior.n_params)}")
    sampler = make_sampler(choice)
    if sampler is None:
        sampling = "no sampling"
    else:
        preconditioner = {None: "the prior (pCN proposals)", "prior": "the prior",
                          "laplace": "the Laplace approximation"}[choice.reference]
        sampling = (f"{sampler.label} ({sampler!r}) preconditioned by {preconditioner}: "
                    f"{HMC_CHAINS} chains x {choice.n_draws} draws after {choice.n_warmup} "
                    "warm-up draws (step-size adaptation)")
    optimizer = field_optimizer(args, choice)
    limits = (f", Newton-CG limits {optimizer.max_iter} iterations per stage and "
              f"{optimizer.cg_max_iter} CG iterations per Newton iteration"
              if isinstance(optimizer, NewtonCG) else "")
    return (f"run: {map_settings(args, choice.optimizer, posterior.times.size)}{limits}, "
            f"scheme {posterior.model.scheme}, Laplace rank {rank}, {sampling}, seed "
            f"{args.seed}")


def _print_map(result: InferenceResult, posterior: Posterior, n_starts: int) -> None:
    """Every optimum the starts reached (Ψ, Φ, starts) and the misfit against N/2 (the
    failed checks were FitWarnings of :func:`advdiff_sens.inference.find_map`)."""
    found = result.map
    fit = found.diagnostics()
    rows = ["| optimum | Ψ | Φ | starts |", "|---|---|---|---|"]
    rows += [f"| {i + 1} | {o.neg_log_posterior:.2f} | {o.misfit:.2f} | "
             f"{','.join(str(s + 1) for s in o.starts)} |" for i, o in enumerate(found.optima)]
    print("\n".join(rows))
    print(f"MAP: misfit Φ = {fit.misfit:.1f} (expected N/2 = {fit.expected_misfit:.1f} ± "
          f"{fit.misfit_sd:.1f} for N = {fit.n_data} data at the noise level, p = "
          f"{fit.p_value:.2g}), {len(found.optima)} distinct "
          f"optim{'a' if len(found.optima) > 1 else 'um'} from {n_starts} start(s), "
          f"{found.seconds:.1f} s")
    if posterior.space.infers("log_kappa"):
        print(f"MAP κ = {posterior.inputs(found.coefficients).kappa:.4g}")


def _print_laplace(result: InferenceResult, posterior: Posterior) -> None:
    """The Laplace approximation's rank, spectrum, information gain and variance ratio."""
    lap, arrays = result.laplace, result.arrays
    values = lap.eigenvalues
    kind = "dense" if isinstance(lap, DenseLaplace) else "low-rank"
    print(f"Laplace ({kind}): rank {lap.rank} of p = {posterior.n_params}, eigenvalues "
          f"{values[0]:.3g} to {values[-1]:.3g}, {int(np.sum(values > 1))} above 1 (directions "
          f"the data inform more than the prior), expected information gain "
          f"{lap.expected_information_gain:.3g} nats, variance trace ratio tr C_post / tr C = "
          f"{lap.variance_trace_ratio:.3g}")
    if "log_kappa" in arrays:
        print(f"  log κ = {float(arrays['log_kappa'][0]):.4g} ± "
              f"{float(arrays['log_kappa_sd'][0]):.2g} (Laplace sd)")


def _print_samples(result: InferenceResult) -> None:
    """The sampler's acceptance, ESS, R-hat and divergences (failed checks were FitWarnings)."""
    samples, report = result.samples, result.sampler_report
    n_chains, n_draws, _ = samples.samples.shape
    step = "β" if samples.sampler == "pcn" else "step size"
    print(f"{samples.sampler}: {n_chains} chains x {n_draws} draws, {step} "
          f"{np.mean(samples.step_size):.3g}, acceptance {report.accept_rate:.2f}, "
          f"{report.divergences} divergences "
          f"({int(np.sum(samples.warmup_divergences))} in warm-up), min ESS "
          f"{report.min_ess:.0f}, max R-hat {report.max_rhat:.3f}, {samples.seconds:.1f} s")


def infer_and_save(outdir: Path, saved: list[Path], posterior: Posterior, choice: Choice,
                   args: argparse.Namespace, *,
                   netcdf: Callable[[dict], list[Path]] | None = None) -> InferenceResult:
    """Run :func:`advdiff_sens.inference.run_inference` on ``posterior`` with the options of
    ``choice`` and ``args``, printing each stage as it ends and writing
    :data:`INFERENCE_FILE` and the figures as soon as they exist (module docstring);
    ``netcdf(arrays)`` writes netCDF results beside it each time and returns their paths."""
    path = outdir / INFERENCE_FILE
    space = posterior.space

    def record(new: list[Path]) -> None:
        saved.extend(p for p in new if p not in saved)

    def report(event: str, result: InferenceResult) -> None:
        if event == "map":
            _print_map(result, posterior, args.starts)
            result.arrays["predicted"] = posterior.predict(result.map.coefficients)
            spatial = getattr(space.flow, "spatial", space.flow)       # a windowed flow's
            if hasattr(spatial, "wavevectors"):
                result.arrays["wavevectors"] = spatial.wavevectors
            if hasattr(space.flow, "windows"):
                result.arrays["window_starts"] = space.flow.windows.edges[:-1]
        elif event == "laplace":
            _print_laplace(result, posterior)
        elif event == "samples":
            _print_samples(result)
        else:
            record([path])
            first = result.samples is None
            print(f"MAP and Laplace results saved to {path.resolve()}" if first
                  else f"samples added to {path.resolve()}")
            save_netcdf(netcdf, result.arrays, saved, outdir)
            figures = (save_laplace_figures(outdir, posterior, result.arrays) if first
                       else save_sample_figures(outdir, posterior, result.arrays,
                                                result.samples.sampler))
            record(figures)
            if figures:
                print(f"figures saved to {outdir.resolve()}: "
                      f"{', '.join(p.name for p in figures)}")

    sampler = make_sampler(choice)
    sampling = {} if sampler is None else {"n_draws": choice.n_draws, "n_chains": HMC_CHAINS}
    if choice.reference is not None:
        sampling["reference"] = choice.reference
    return run_inference(posterior, optimizer=field_optimizer(args, choice),
                         continuation=args.stages, n_starts=args.starts, laplace_rank=choice.options["laplace_rank"],
                         sampler=sampler, rng=args.seed, path=path, progress="auto",
                         callback=report, **sampling)


def save_laplace_figures(outdir: Path, posterior: Posterior, arrays: dict) -> list[Path]:
    """Save the figures of the MAP and Laplace stage; return their paths: ``flow.png`` (MAP
    flow with the sensors) and ``posterior_sd.png`` (Laplace sd of the velocity) when the flow
    is inferred, ``theta0.png`` (MAP and Laplace sd) when θ0 is, ``laplace_spectrum.png``
    and ``data_fit.png``."""
    from advdiff_sens.plotting import (laplace_spectrum, plot_data_fit, plot_fields,
                                       plot_flow_estimate, plot_posterior_sd,
                                       plot_windowed_flow, plot_windowed_posterior_sd,
                                       save_figure)

    grid, sensors = posterior.model.grid, posterior.sensors
    paths = []
    if "window_starts" in arrays and "velocity" in arrays:
        starts = arrays["window_starts"]
        paths.append(save_figure(plot_windowed_flow(grid, arrays["velocity"], starts, sensors),
                                 outdir / "flow.png"))
        paths.append(save_figure(plot_windowed_posterior_sd(grid, arrays["velocity_sd"], starts,
                                                            sensors),
                                 outdir / "posterior_sd.png"))
    elif "velocity" in arrays:
        paths.append(save_figure(plot_flow_estimate(grid, arrays["velocity"], None, sensors),
                                 outdir / "flow.png"))
        paths.append(save_figure(plot_posterior_sd(grid, arrays["velocity_sd"], sensors),
                                 outdir / "posterior_sd.png"))
    if "theta0" in arrays:
        paths.append(save_figure(plot_fields(grid, {"θ0 (MAP)": arrays["theta0"],
                                                    "θ0 Laplace sd": arrays["theta0_sd"]},
                                             suptitle="initial condition"),
                                 outdir / "theta0.png"))
    paths.append(save_figure(laplace_spectrum(arrays["eigenvalues"]).figure,
                             outdir / "laplace_spectrum.png"))
    paths.append(save_figure(plot_data_fit(posterior.times, posterior.data, arrays["predicted"],
                                           posterior.noise_std, sensors=sensors,
                                           prediction_label="MAP prediction"),
                             outdir / "data_fit.png"))
    return paths


def save_sample_figures(outdir: Path, posterior: Posterior, arrays: dict,
                        sampler: str) -> list[Path]:
    """Save the figures of the samples; return their paths: ``posterior_sd_samples.png``
    (the samples' sd of the velocity) when the flow is inferred, ``theta0_samples.png``
    (posterior mean and sd) when θ0 is."""
    from advdiff_sens.plotting import (plot_fields, plot_posterior_sd,
                                       plot_windowed_posterior_sd, save_figure)

    grid, paths = posterior.model.grid, []
    if "velocity_posterior_sd" in arrays:
        method = f"{sampler} samples:"
        sd = arrays["velocity_posterior_sd"]
        figure = (plot_windowed_posterior_sd(grid, sd, arrays["window_starts"],
                                             posterior.sensors, method=method)
                  if "window_starts" in arrays else
                  plot_posterior_sd(grid, sd, posterior.sensors, method=method))
        paths.append(save_figure(figure, outdir / "posterior_sd_samples.png"))
    if "theta0_mean" in arrays:
        paths.append(save_figure(
            plot_fields(grid, {"θ0 posterior mean": arrays["theta0_mean"],
                               "θ0 posterior sd": arrays["theta0_posterior_sd"]},
                        suptitle=f"initial condition, {sampler} samples"),
            outdir / "theta0_samples.png"))
    return paths
