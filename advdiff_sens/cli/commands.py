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

Bad input
---------
Every argument and every array of an input file is checked before any computation starts
(the output folder is created and test-written first). Every error is one line
``error: <what, which argument or array, what was expected>`` on stderr (argparse's own
``advdiff-sens <command>: error: argument --x: …`` for command-line syntax) with exit
status 2, never a traceback. Results are written as soon as they exist (``estimate.npz``
right after the MAP, again with the samples after HMC, figures last); when a later step
fails, or on Ctrl-C (exit status 130), the message lists what was already saved.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.inference import estimate as inverse

from advdiff_sens.sampling import samplers as sampling
from advdiff_sens.validation import as_real_array, as_times, check_positive_scalar
from advdiff_sens.exceptions import NonFiniteResultError, WorkLimitExceeded
from advdiff_sens.discretisation.grid import MIN_NODES, Grid
from advdiff_sens.discretisation.operators import SCHEMES
from advdiff_sens.problems.reference_problems import r2_problem
from advdiff_sens.inference.parameterisations import StreamFunctionBasis

__all__ = ["main", "build_parser", "NPZ_REQUIRED", "NPZ_OPTIONAL"]

#: Arrays an ``estimate`` input file must hold: sensors (m, 2), times (k,), data (k, m),
#: theta0 (N0, N1), noise_std ().
NPZ_REQUIRED = ("sensors", "times", "data", "theta0", "noise_std")
#: Optional scalars/arrays with their defaults (a scalar ``extent`` is used for both axes).
NPZ_OPTIONAL = {"kappa": 0.01, "kmax": 2.0, "extent": (1.0, 1.0), "prior_std": None}
#: Errors that are reported as ``error: …`` (exit status 2) instead of a traceback: bad
#: input found by the CLI or the library, files that cannot be read or written, and the
#: library's errors for results it cannot compute.
REPORTED_ERRORS = (ValueError, TypeError, OSError, NonFiniteResultError, WorkLimitExceeded)
#: HMC settings of ``demo`` and ``estimate``: leapfrog steps, initial step (adapted during
#: warm-up), chains.
HMC_STEPS, HMC_STEP_SIZE, HMC_CHAINS = 5, 0.6, 2
#: Default HMC warm-up draws per chain of ``demo`` (full size, ``--quick``) and ``estimate``.
DEMO_WARMUP = {False: 20, True: 4}
#: HMC draws per chain of ``demo`` (full size, ``--quick``): at full size enough for the
#: diagnostics' ESS ≥ 100 over two chains.
DEMO_DRAWS = {False: 40, True: 8}
#: Advection scheme of ``demo`` and ``estimate``: positive at every cell Péclet number and
#: differentiable in u (the demo's 20² grid has cell Péclet ≈ 9).
ESTIMATE_SCHEME = "exponential"
ESTIMATE_WARMUP = 20
#: Default continuation schedule (``--stages``), that of :func:`inverse.estimate_velocity`.
DEFAULT_STAGES = (3, 6, 10)


def _integer(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _real(low: float, high: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number in the open interval ``(low, high)`` (``high``
    None: any finite number ``> low``)."""
    expected = f"a number > {low:g}" if high is None else f"a number in ({low:g}, {high:g})"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value > low and (high is None or value < high)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


def _stages(text: str) -> tuple[int, ...]:
    """An argparse type: the continuation schedule, ``"3,6,10"`` or ``"none"`` (``()``)."""
    if text.strip().lower() == "none":
        return ()
    try:
        stages = tuple(int(s) for s in text.split(","))
    except ValueError:
        stages = ()
    if not stages or min(stages) < 1 or any(b <= a for a, b in itertools.pairwise(stages)):
        raise argparse.ArgumentTypeError(
            "expected a comma-separated list of increasing positive integers (numbers of "
            f"times fitted per continuation stage, e.g. 3,6,10) or 'none', got {text!r}")
    return stages


_stages.__name__ = "continuation stages"


def _prepare_outdir(outdir: str) -> Path:
    """Create ``outdir`` (with its parents) and check that a file can be written in it."""
    path = Path(outdir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"argument --outdir: {outdir!r} exists and is not a folder; expected "
                         "a folder to write the results to (or a path where one can be created)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"argument --outdir: cannot create or write to {outdir!r} "
                         f"({exc.strerror or exc}); expected a writable folder") from None
    return path


def _write_npz(path: Path, arrays: dict, saved: list[Path]) -> None:
    """Write ``arrays`` to ``path`` atomically (a partial file never replaces a good one) and
    record it in ``saved``."""
    partial = path.with_name(path.name + ".part")
    try:
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if path not in saved:
        saved.append(path)


def _saved_note(saved: list[Path]) -> str:
    """What was written before a run stopped, for its last message."""
    if not saved:
        return "nothing was saved"
    return "saved before stopping: " + ", ".join(str(p.resolve()) for p in saved)


def _cmd_forward(args: argparse.Namespace) -> int:
    from advdiff_sens.plotting import plot_fields, save_figure

    outdir = _prepare_outdir(args.outdir)
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


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from advdiff_sens.plotting import plot_sensitivity_study, save_figure
    from advdiff_sens.comparison import compare_methods

    outdir = _prepare_outdir(args.outdir)
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


def _run_settings(args: argparse.Namespace, scheme: str, n_times: int, n_draws: int,
                  n_warmup: int) -> str:
    """One line with the estimation settings of ``demo`` / ``estimate``."""
    schedule = inverse.continuation_schedule(n_times, args.stages)
    return (f"run: optimizer {args.optimizer}, {args.starts} start(s), continuation stages "
            f"{','.join(map(str, args.stages)) or 'none'} (fits the first "
            f"{', '.join(map(str, schedule))} times), scheme "
            f"{scheme}, HMC {HMC_CHAINS} chains x {n_draws} draws after {n_warmup} warm-up "
            f"draws (step-size adaptation), seed {args.seed}")


def _fit(model, theta0, sensors, times, data, noise_std, kmax, prior_std,
         args: argparse.Namespace, truth=None) -> inverse.VelocityEstimate:
    """MAP by continuation + Laplace covariance (a progress line on stderr once it has run
    for a few seconds); print the stages and the fit report (its failed checks are
    FitWarnings from :func:`inverse.estimate_velocity`)."""
    est = inverse.estimate_velocity(model, theta0, sensors, times, data, noise_std, kmax=kmax,
                                    prior_std=prior_std, rng=args.seed,
                                    continuation=args.stages, optimizer=args.optimizer,
                                    n_starts=args.starts, progress="auto")
    rows = ["| stage (times fitted) | iterations | Ψ | seconds |", "|---|---|---|---|"]
    rows += [f"| {s.n_times} | {s.iterations} | {s.neg_log_posterior:.1f} | {s.seconds:.1f} |"
             for s in est.history]
    print("\n".join(rows))
    fit = est.diagnostics()
    print(f"MAP: {est.iterations} iterations, misfit Φ = {fit.misfit:.1f} (expected "
          f"{fit.expected_misfit:.0f} ± {fit.misfit_sd:.0f} for {fit.n_data} data at the noise "
          f"level, p = {fit.p_value:.2g}), {len(fit.optima)} distinct "
          f"optim{'a' if len(fit.optima) > 1 else 'um'} from {args.starts} start(s), "
          f"{est.seconds:.1f} s")
    if truth is not None:
        error = float(np.linalg.norm(est.velocity - truth) / np.linalg.norm(truth))
        print(f"velocity relative L2 error: {error:.4f}")
    return est


def _estimate_arrays(est: inverse.VelocityEstimate) -> dict:
    """The arrays ``estimate.npz`` holds after the MAP: MAP, Laplace and the fit."""
    post = est.posterior
    return {"coefficients": est.coefficients, "velocity": est.velocity,
            "covariance": est.covariance, "velocity_std": est.velocity_std(),
            "predicted": post.predict(est.coefficients), "misfit": est.misfit,
            "wavevectors": post.basis.wavevectors}


def _sample(est: inverse.VelocityEstimate, n_draws: int, n_warmup: int,
            seed: int) -> sampling.SamplerResult:
    """A short exact-gradient HMC run in the Laplace metric from the MAP, step size adapted in
    warm-up, trajectories bounded by the posterior's rms-speed bound; print the run's
    diagnostics (failed checks are FitWarnings)."""
    post = est.posterior
    samples = sampling.hmc(post.log_density, lambda c: -post.value_and_gradient(c)[1],
                           est.coefficients, n_draws, step_size=HMC_STEP_SIZE, n_steps=HMC_STEPS,
                           inverse_mass=est.covariance, n_warmup=n_warmup, n_chains=HMC_CHAINS,
                           in_bounds=post.in_bounds, rng=seed, progress=True)
    report = samples.diagnostics()
    print(f"HMC (exact gradient, Laplace metric, rms speed <= {post.max_speed:.3g}): "
          f"{HMC_CHAINS} chains x {n_draws} draws after {n_warmup} warm-up, step size "
          f"{np.mean(samples.step_size):.3g}, acceptance {report.accept_rate:.2f}, "
          f"{report.divergences} divergences ({int(np.sum(samples.warmup_divergences))} in "
          f"warm-up), min ESS {report.min_ess:.0f}, max R-hat {report.max_rhat:.3f}, "
          f"{samples.seconds:.1f} s")
    return samples


def _estimate_and_save(outdir: Path, saved: list[Path], model, theta0, sensors, times, data,
                       noise_std, kmax, prior_std, args: argparse.Namespace, *, n_draws: int,
                       n_warmup: int, truth=None, true_coefficients=None) -> None:
    """MAP → ``estimate.npz``; HMC → ``estimate.npz`` with the samples; then the figures
    (``truth``, ``true_coefficients``: the twin experiment's true velocity and coefficients)."""
    est = _fit(model, theta0, sensors, times, data, noise_std, kmax, prior_std, args, truth)
    path = outdir / "estimate.npz"
    arrays = _estimate_arrays(est)
    _write_npz(path, arrays, saved)
    print(f"MAP and Laplace results saved to {path.resolve()}")
    samples = _sample(est, n_draws, n_warmup, args.seed)
    _write_npz(path, {**arrays, "samples": samples.samples, "accept_rate": samples.accept_rate,
                      "step_size": samples.step_size, "divergences": samples.divergences},
               saved)
    print(f"HMC samples added to {path.resolve()}")
    paths = _save_estimation_figures(outdir, model, sensors, times, data, noise_std,
                                     {"estimate": est, "samples": samples}, truth=truth,
                                     true_coefficients=true_coefficients)
    saved.extend(paths)
    print(f"figures saved to {outdir.resolve()}: {', '.join(p.name for p in paths)}")


def _save_estimation_figures(outdir: Path, model, sensors, times, data, noise_std, run: dict,
                             truth: np.ndarray | None = None,
                             true_coefficients: np.ndarray | None = None) -> list[Path]:
    """Save flow.png, data_fit.png, posterior_sd.png and traces.png; return their paths.

    ``truth`` (the true velocity) adds the true-flow and error panels to flow.png and
    ``true_coefficients`` the true values to traces.png (twin experiments).
    """
    from advdiff_sens.plotting import (coefficient_labels, plot_data_fit, plot_flow_estimate,
                           plot_posterior_sd, plot_traces, save_figure)

    est, samples = run["estimate"], run["samples"]
    grid = model.grid
    predicted = est.posterior.predict(est.coefficients)
    return [
        save_figure(plot_flow_estimate(grid, est.velocity, truth, sensors), outdir / "flow.png"),
        save_figure(plot_data_fit(times, data, predicted, noise_std, sensors=sensors,
                                  prediction_label="MAP prediction"), outdir / "data_fit.png"),
        save_figure(plot_posterior_sd(grid, est.velocity_std(), sensors),
                    outdir / "posterior_sd.png"),
        save_figure(plot_traces(samples.samples, names=coefficient_labels(est.posterior.basis),
                                truth=true_coefficients), outdir / "traces.png"),
    ]


def _cmd_demo(args: argparse.Namespace) -> int:
    from advdiff_sens.problems.twin import make_twin

    outdir = _prepare_outdir(args.outdir)
    n, n_times, n_sensors = (10, 5, 12) if args.quick else (20, 20, 25)
    n_draws = DEMO_DRAWS[args.quick]
    n_warmup = DEMO_WARMUP[args.quick] if args.warmup is None else args.warmup
    start = time.perf_counter()
    twin = make_twin(n, kmax=2, n_sensors=n_sensors, noise_std=args.noise,
                     times=np.linspace(1.0 / n_times, 1.0, n_times), scheme=args.scheme,
                     rng=args.seed)
    print(f"R3 twin experiment: {n}x{n} torus, κ = 0.01, {twin.basis.n_params} stream-function "
          f"coefficients (|k| <= 2), {n_sensors} sensors x {n_times} times, noise σ = {args.noise}")
    print(_run_settings(args, twin.model.scheme, n_times, n_draws, n_warmup))
    _estimate_and_save(outdir, args.saved, twin.model, twin.theta0, twin.sensors, twin.times,
                       twin.data, twin.noise_std, 2, None, args, n_draws=n_draws,
                       n_warmup=n_warmup, truth=twin.true_velocity,
                       true_coefficients=twin.true_coefficients)
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


_SAVEZ_HINT = "expected an .npz archive of named arrays written with numpy.savez"


def _read_member(archive: zipfile.ZipFile, member: str, path: str, key: str) -> np.ndarray:
    """One array of an .npz archive, refusing (and naming) object arrays without unpickling."""
    headers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    with archive.open(member) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in headers:
                raise ValueError(f"unsupported .npy format version {version}")
            dtype = headers[version](f)[2]
        except ValueError as exc:
            raise ValueError(f"{path}: array {key!r} is not a readable numpy array ({exc}); "
                             f"{_SAVEZ_HINT}") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: array {key!r} holds a Python object (e.g. None); store a "
                         "number or leave the array out")
    with archive.open(member) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _read_npz_arrays(path: str) -> dict[str, np.ndarray]:
    """The arrays of the .npz file ``path``, read without unpickling anything; an empty, text,
    ``.npy``, corrupt or truncated file is a ``ValueError`` naming the file."""
    file = Path(path)
    if not file.is_file():
        what = "is not a file" if file.exists() else "no such file"
        raise ValueError(f"{path}: {what}; {_SAVEZ_HINT}")
    with open(file, "rb") as f:
        head = f.read(6)
    if not head:
        raise ValueError(f"{path}: the file is empty; {_SAVEZ_HINT}")
    if head == b"\x93NUMPY":
        raise ValueError(f"{path}: holds a single unnamed array (a .npy file, numpy.save); "
                         f"{_SAVEZ_HINT}, e.g. numpy.savez(path, sensors=..., times=..., ...)")
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"{path}: is not an .npz archive (text or a corrupt file); {_SAVEZ_HINT}")
    try:
        with zipfile.ZipFile(file) as archive:
            arrays = {}
            for member in archive.namelist():
                key = member.removesuffix(".npy")
                if key == member:
                    raise ValueError(f"{path}: holds {member!r}, which is not a numpy array; "
                                     f"{_SAVEZ_HINT}")
                arrays[key] = _read_member(archive, member, path, key)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{path}: the archive is corrupt or truncated ({exc}); "
                         f"{_SAVEZ_HINT}") from None
    return arrays


def _positive_number(value, key: str) -> float:
    """A number > 0 stored as a 0-d array (the array is named in the errors)."""
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"array {key!r} must be a single number (shape ()), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) and np.isrealobj(arr)):
        raise TypeError(f"array {key!r} must be a real number, got dtype {arr.dtype}")
    return check_positive_scalar(arr, f"array {key!r}")


def _check_arrays(d: dict) -> dict:
    """Check every array of an ``estimate`` input (defaults filled in); return the values to
    use and the grid and the number of coefficients they imply."""
    theta0 = as_real_array(d["theta0"], "array 'theta0' (N0, N1)", ndim=2)
    if min(theta0.shape) < MIN_NODES:
        raise ValueError(f"array 'theta0' must have at least {MIN_NODES} nodes on each axis, "
                         f"got shape {theta0.shape}")
    extent = as_real_array(d["extent"], "array 'extent'")
    if extent.ndim == 0:
        extent = np.full(2, extent)
    if extent.shape != (2,) or np.any(extent <= 0):
        raise ValueError("array 'extent' must be two domain lengths > 0 (or one, used for both "
                         f"axes), got {extent.tolist()}")
    times = as_times(as_real_array(d["times"], "array 'times' (k,)", ndim=1), "array 'times'")[0]
    if times[0] <= 0:
        raise ValueError(f"array 'times' must be > 0, got first time {times[0]:g}")
    sensors = as_real_array(d["sensors"], "array 'sensors' (m, 2)", ndim=2)
    if sensors.shape[0] == 0 or sensors.shape[1] != 2:
        raise ValueError(f"array 'sensors' must have shape (m, 2) with m >= 1, got {sensors.shape}")
    outside = np.flatnonzero(np.any((sensors < 0) | (sensors > extent), axis=1))
    if outside.size:
        raise ValueError(f"array 'sensors': sensor(s) {outside[:10].tolist()} lie outside the "
                         f"domain [0, {extent[0]:g}] x [0, {extent[1]:g}] (first one at "
                         f"{sensors[outside[0]].tolist()})")
    data = as_real_array(d["data"], "array 'data' (k, m)", ndim=2)
    if data.shape != (times.size, sensors.shape[0]):
        raise ValueError(f"array 'data' must have shape (k, m) = ({times.size}, "
                         f"{sensors.shape[0]}) (one row per time, one column per sensor), got "
                         f"{data.shape}")
    kmax = _positive_number(d["kmax"], "kmax")
    if kmax < 1:
        raise ValueError(f"array 'kmax' must be >= 1 (at least one stream-function mode), got "
                         f"{kmax:g}")
    grid = Grid(theta0.shape, tuple(extent), "periodic")
    n_params = StreamFunctionBasis(grid, kmax).n_params
    prior_std = d["prior_std"]
    if prior_std is not None:
        prior_std = as_real_array(prior_std, "array 'prior_std'")
        if prior_std.ndim == 0:
            prior_std = _positive_number(prior_std, "prior_std")
        elif prior_std.shape != (n_params,) or np.any(prior_std <= 0):
            raise ValueError(f"array 'prior_std' must be a number > 0 or one sd > 0 per "
                             f"coefficient, shape ({n_params},), got shape {prior_std.shape}")
    return {"grid": grid, "theta0": theta0, "sensors": sensors, "times": times, "data": data,
            "noise_std": _positive_number(d["noise_std"], "noise_std"),
            "kappa": _positive_number(d["kappa"], "kappa"), "kmax": kmax, "n_params": n_params,
            "prior_std": prior_std}


def _load_npz(path: str) -> dict:
    """Read and check an ``estimate`` input file (see :data:`NPZ_REQUIRED`,
    :data:`NPZ_OPTIONAL`): the file, the names, and every array's type, shape and values.
    Every error names the file and the array."""
    raw = _read_npz_arrays(path)
    accepted = (*NPZ_REQUIRED, *NPZ_OPTIONAL)
    unknown = [key for key in raw if key not in accepted]
    if unknown:
        hints = "".join(f" ({key!r}: did you mean {match[0]!r}?)" for key in unknown
                        if (match := difflib.get_close_matches(key, accepted, n=1)))
        raise ValueError(f"{path}: unknown array(s) {unknown}{hints}; accepted names: "
                         f"{', '.join(NPZ_REQUIRED)} (required), {', '.join(NPZ_OPTIONAL)} "
                         "(optional)")
    missing = [key for key in NPZ_REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"{path} lacks the array(s) {missing}; required: {list(NPZ_REQUIRED)}, "
                         f"optional: {list(NPZ_OPTIONAL)}")
    try:
        return _check_arrays({**NPZ_OPTIONAL, **raw})
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _data_summary(path: str, d: dict) -> str:
    """What ``estimate`` read, printed before it starts."""
    grid, times, prior = d["grid"], d["times"], d["prior_std"]
    if prior is None:
        prior_text = "1/2π·|k|^-1 (default)"
    elif np.ndim(prior) == 0:
        prior_text = f"{prior:g}·|k|^-1"
    else:
        prior_text = f"one per coefficient, {prior.min():g} to {prior.max():g}"
    return "\n".join([
        f"read {path}:",
        (f"  grid {grid.shape[0]} x {grid.shape[1]}, bc periodic on both axes, extent "
         f"{grid.extent[0]:g} x {grid.extent[1]:g}"),
        (f"  κ = {d['kappa']:g}, kmax = {d['kmax']:g}: {d['n_params']} stream-function "
         f"coefficients, prior sd {prior_text}"),
        (f"  {times.size} times in [{times[0]:g}, {times[-1]:g}], {d['sensors'].shape[0]} "
         f"sensors, {d['data'].size} data, noise sd {d['noise_std']:g}")])


def _cmd_estimate(args: argparse.Namespace) -> int:
    from advdiff_sens.model import AdvectionDiffusion

    d = _load_npz(args.data)
    outdir = _prepare_outdir(args.outdir)
    print(_data_summary(args.data, d))
    print(_run_settings(args, args.scheme, d["times"].size, args.samples, args.warmup))
    print(f"results go to {outdir.resolve()}")
    model = AdvectionDiffusion(d["grid"], d["kappa"], args.scheme, backend="scipy")
    _estimate_and_save(outdir, args.saved, model, d["theta0"], d["sensors"], d["times"],
                       d["data"], d["noise_std"], d["kmax"], d["prior_std"], args,
                       n_draws=args.samples, n_warmup=args.warmup)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="advdiff-sens",
        description="Velocity sensitivity of the advection-diffusion equation.")
    sub = parser.add_subparsers(dest="command", required=True)
    fwd = sub.add_parser("forward", help="solve reference problem R2 and save θ(0), θ(T)")
    fwd.add_argument("--n", type=_integer(MIN_NODES), default=128,
                     help="grid points per axis (128)")
    fwd.add_argument("--scheme", choices=SCHEMES, default="central", help="advection scheme")
    fwd.add_argument("--outdir", default="advdiff_sens_output", help="folder for figures")
    fwd.set_defaults(func=_cmd_forward)
    sens = sub.add_parser("sensitivity", help="compare tangent, adjoint and surrogate methods on R2")
    sens.add_argument("--n", type=_integer(MIN_NODES), default=64,
                      help="grid points per axis (64)")
    sens.add_argument("--scheme", choices=SCHEMES, default="central", help="advection scheme")
    sens.add_argument("--rtol", type=_real(0.0, 1.0), default=1e-10,
                      help="adjoint quadrature tolerance, in (0, 1) (1e-10)")
    sens.add_argument("--outdir", default="advdiff_sens_output", help="folder for figures")
    sens.set_defaults(func=_cmd_sensitivity)
    demo = sub.add_parser("demo", help="R3 twin experiment: estimate a flow from sensor data")
    demo.add_argument("--quick", action="store_true", help="reduced size (seconds, for tests)")
    demo.add_argument("--noise", type=_real(0.0), default=0.01,
                      help="noise standard deviation, > 0 (0.01)")
    _add_estimation_options(demo, warmup=None, warmup_help=(
        f"HMC warm-up draws per chain, with step-size adaptation ({DEMO_WARMUP[False]}; "
        f"{DEMO_WARMUP[True]} with --quick)"))
    demo.add_argument("--outdir", default="advdiff_sens_demo", help="folder for results")
    demo.set_defaults(func=_cmd_demo)
    est = sub.add_parser("estimate", help="estimate a flow from a DATA.npz file of sensor data")
    est.add_argument("data", help="npz with sensors, times, data, theta0, noise_std "
                                  "[, kappa, kmax, extent, prior_std]")
    est.add_argument("--samples", type=_integer(4), default=60,
                     help="HMC draws per chain after warm-up, >= 4 (60)")
    _add_estimation_options(est, warmup=ESTIMATE_WARMUP, warmup_help=(
        f"HMC warm-up draws per chain, with step-size adaptation ({ESTIMATE_WARMUP})"))
    est.add_argument("--outdir", default="advdiff_sens_estimate", help="folder for results")
    est.set_defaults(func=_cmd_estimate)
    return parser


def _add_estimation_options(parser: argparse.ArgumentParser, *, warmup: int | None,
                            warmup_help: str) -> None:
    """The options ``demo`` and ``estimate`` share."""
    parser.add_argument("--seed", type=_integer(0), default=0, help="random seed, >= 0 (0)")
    parser.add_argument("--starts", type=_integer(1), default=1,
                        help="optimiser starting points: zero, then prior draws; the lowest "
                             "Ψ wins (1)")
    parser.add_argument("--optimizer", choices=inverse.OPTIMIZERS, default=inverse.OPTIMIZERS[0],
                        help=f"MAP optimiser ({inverse.OPTIMIZERS[0]})")
    parser.add_argument("--stages", type=_stages, default=DEFAULT_STAGES,
                        help="continuation schedule: how many times to fit in the stages "
                             "before all of them, comma-separated, or 'none' "
                             f"({','.join(map(str, DEFAULT_STAGES))})")
    parser.add_argument("--warmup", type=_integer(0), default=warmup, help=warmup_help)
    parser.add_argument("--scheme", choices=SCHEMES, default=ESTIMATE_SCHEME,
                        help=f"advection scheme of the model ({ESTIMATE_SCHEME}: positive at "
                             "every cell Péclet number)")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    0 on success; 2 for bad input (``error: …`` on stderr, after any results already
    saved are listed); 130 on Ctrl-C.
    """
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:          # --help (0) or a usage error argparse printed (2)
        return int(exc.code or 0)
    args.saved = []
    library_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"interrupted; {_saved_note(args.saved)}", file=sys.stderr)
        return 130
    except REPORTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.saved:
            print(_saved_note(args.saved), file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = library_format


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as the CLI shows them: ``warning: <message> (<class>)``, no source line."""
    return f"warning: {message} ({category.__name__})\n"
