r"""What ``estimate`` infers and under which prior: the parameter space (``--space``,
``--kmax``), the prior (``--spectrum-scale``, ``--spectrum-exponent``; ``--flow-std``,
``--correlation-length``, ``--alpha``), a time-varying flow (``--windows``, ``--temporal``,
``--temporal-scale``), the unknowns (``--unknowns flow,theta0,kappa``), the sampler
(``--sampler``, ``--reference``) and the Laplace rank (``--laplace-rank``).

The options are checked in two passes before anything is computed: :func:`choose` checks
them against each other (types and ranges are argparse's), :func:`check_against_file` against
the input file (what it holds and the sizes it implies). Every message is
``argument --x: <what is wrong>; <what was expected>``.

The priors (:mod:`advdiff_sens.inference.priors`):

* Fourier flow: :math:`c_k \sim N(0, s(|k|)^2)`, :math:`s(|k|) = s_0|k|^{-γ}`
  (``--spectrum-scale`` :math:`s_0`, default the file's scalar ``prior_std`` or
  :math:`1/2π`; ``--spectrum-exponent`` γ, default 1), or the file's one sd per coefficient;
* nodal flow: the stream function is a Gaussian random field, precision
  :math:`∝ (I − γΔ_h)^α`, pointwise sd ``--flow-std``, correlation length
  ``--correlation-length``. The default α = 3: in 2-D the field has smoothness ν = α − 1 and
  the velocity :math:`∇^⊥ψ` one less, α − 2; for α = 2 the velocity's pointwise variance grows
  like :math:`\log(1/h)` as the grid is refined, for α = 3 it has a limit;
* time-varying flow (``--windows T1,T2,…``): the flow's coefficients :math:`c_k` on each
  window :math:`[τ_k, τ_{k+1})` (:class:`~advdiff_sens.inference.WindowedFlow`) under a
  :class:`~advdiff_sens.inference.TemporalGaussian` prior over the spatial one :math:`N(m, C)`:
  a random walk :math:`c_{k+1} − c_k \sim N(0, σ^2C)` (``--temporal-scale`` σ, default
  :data:`RANDOM_WALK_STEP`) or a stationary AR(1) with neighbour correlation ρ (default
  :data:`AR1_RHO`);
* unknown θ0: a Gaussian random field (α = 2) around the file's ``theta0``, sd
  ``--theta0-std`` (default a quarter of max|θ0|), correlation length
  ``--theta0-correlation-length``;
* unknown κ: :math:`\log κ \sim N(\log κ_{file}, \text{--kappa-log-std}^2)`.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import warnings
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from advdiff_sens.cli.options import (finite_number, integer_at_least, number_above,
                                      number_at_least)
from advdiff_sens.inference import (DEFAULT_FIELD_SAMPLER, DEFAULT_SPECTRUM_SCALE, REFERENCES,
                                    BlockGaussian,
                                    GaussianRandomField, NodalStreamFunction, ParameterSpace,
                                    Posterior, PowerLawSpectrum, StreamFunctionBasis,
                                    TemporalGaussian, WindowedFlow, spectral_prior)
from advdiff_sens.discretisation import Observations, PointSensors
from advdiff_sens.matrix import ChebyshevBackend
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.problems import INFERENCE_TOL
from advdiff_sens.sampling import SAMPLERS, DiagonalGaussian, Sampler
from advdiff_sens.sensitivity import TimeWindows

__all__ = ["add_unknowns_options", "choose", "check_against_file", "build_posterior",
           "spectrum_given", "fourier_prior_std", "make_sampler", "unknowns_summary",
           "unknowns_list", "window_edges", "time_windows", "Choice", "TEMPORAL_PRIORS",
           "RANDOM_WALK_STEP", "AR1_RHO",
           "UNKNOWNS", "SPACES", "SAMPLER_CHOICES", "NODAL_FLOW_STD",
           "NODAL_CORRELATION_LENGTH", "NODAL_ALPHA", "SPECTRUM_EXPONENT", "THETA0_STD_FRACTION",
           "THETA0_CORRELATION_LENGTH", "THETA0_ALPHA", "KAPPA_LOG_STD"]

#: What ``--unknowns`` may list, in the order of the coefficient vector; ``kappa`` is the
#: space's ``log_kappa`` block.
UNKNOWNS = ("flow", "theta0", "kappa")
#: ``--space``: Fourier stream-function modes |k| ≤ kmax, or one stream-function value per node.
SPACES = ("fourier", "nodal")
#: ``--sampler``: names of :data:`advdiff_sens.sampling.SAMPLERS` (``hmc`` runs the workflow,
#: the others :func:`advdiff_sens.inference.run_inference`), or none (MAP and Laplace only).
SAMPLER_CHOICES = ("hmc", "infinity-hmc", "infinity-mala", "pcn", "none")
#: Defaults of the nodal flow prior (those of reference problem R5): stream-function sd,
#: correlation length (grid length units) and α.
NODAL_FLOW_STD = 0.05
NODAL_CORRELATION_LENGTH = 0.3
NODAL_ALPHA = 3
#: Default γ of the Fourier spectrum (the workflow's decay).
SPECTRUM_EXPONENT = 1.0
#: Default sd of an unknown θ0 as a fraction of max|θ0| of the file, its correlation length
#: and α (a bi-Laplacian prior).
THETA0_STD_FRACTION = 0.25
THETA0_CORRELATION_LENGTH = 0.2
THETA0_ALPHA = 2
#: Default sd of log κ (a factor e either way is one sd).
KAPPA_LOG_STD = 1.0

#: ``--temporal``: the prior over the windows of a time-varying flow
#: (:meth:`~advdiff_sens.inference.TemporalGaussian.random_walk`,
#: :meth:`~advdiff_sens.inference.TemporalGaussian.ar1`).
TEMPORAL_PRIORS = ("random-walk", "ar1")
#: Default ``--temporal-scale`` of the random walk: the sd σ of a window's change, as a
#: fraction of the spatial prior's (c_{k+1} − c_k ~ N(0, σ²C)).
RANDOM_WALK_STEP = 0.5
#: Default ``--temporal-scale`` of the AR(1) prior: the correlation ρ of neighbouring windows.
AR1_RHO = 0.8

_FOURIER_OPTIONS = ("kmax", "spectrum_scale", "spectrum_exponent")
_TEMPORAL_OPTIONS = ("windows", "temporal", "temporal_scale")
_NODAL_OPTIONS = ("flow_std", "correlation_length", "alpha", "through_flow_std")
_THETA0_OPTIONS = ("theta0_std", "theta0_correlation_length")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def unknowns_list(text: str) -> tuple[str, ...]:
    """An argparse type: a comma-separated, non-empty list of :data:`UNKNOWNS`, returned in
    their canonical order.

    Examples
    --------
    >>> unknowns_list("kappa,flow")
    ('flow', 'kappa')
    >>> unknowns_list("flow,velocity")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a comma-separated list of flow, theta0, kappa (each at most once), got 'flow,velocity'
    """
    names = [name.strip() for name in text.split(",")]
    if (not names or any(name not in UNKNOWNS for name in names)
            or len(set(names)) != len(names)):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of "
                                         f"{', '.join(UNKNOWNS)} (each at most once), got "
                                         f"{text!r}")
    return tuple(name for name in UNKNOWNS if name in names)


unknowns_list.__name__ = "unknowns"


def window_edges(text: str) -> tuple[float, ...]:
    """An argparse type: the interior window edges :math:`τ_1 < τ_2 < …`, comma-separated
    finite times > 0 (the windows are :math:`[0, τ_1), [τ_1, τ_2), …, [τ_{last}, ∞)`).

    Examples
    --------
    >>> window_edges("0.2,0.5")
    (0.2, 0.5)
    >>> window_edges("0.5,0.2")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a comma-separated list of strictly increasing finite times > 0 (the interior window edges, e.g. 0.5,1.0), got '0.5,0.2'
    """
    try:
        edges = tuple(float(part) for part in text.split(","))
    except ValueError:
        edges = ()
    if (not edges or not np.all(np.isfinite(edges)) or min(edges) <= 0
            or any(b <= a for a, b in itertools.pairwise(edges))):
        raise argparse.ArgumentTypeError(
            "expected a comma-separated list of strictly increasing finite times > 0 (the "
            f"interior window edges, e.g. 0.5,1.0), got {text!r}")
    return edges


window_edges.__name__ = "window edges"


def add_unknowns_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``estimate`` that choose the unknowns, the space, the prior, the sampler
    and the Laplace rank (module docstring). Every default is None, so that :func:`choose` can
    tell an option given from one left out."""
    group = parser.add_argument_group(
        "what is inferred, and how (defaults in brackets; the default run is the Fourier-flow "
        "MAP -> Laplace -> HMC workflow, any other choice runs the field pipeline and writes "
        "inference.npz)")
    group.add_argument("--unknowns", type=unknowns_list, default=None,
                       help="comma-separated unknowns among flow, theta0, kappa [flow]; a known "
                            "flow is the file's array 'velocity'")
    group.add_argument("--space", choices=SPACES, default=None,
                       help="flow parameterisation: Fourier stream-function modes 0 < |k| <= "
                            "kmax, or one stream-function value per node [fourier]")
    group.add_argument("--kmax", type=number_at_least(1.0), default=None,
                       help="Fourier space: largest |k| of the modes, >= 1 [the file's kmax]")
    group.add_argument("--spectrum-scale", type=number_above(0.0), default=None,
                       help="Fourier prior: sd s0 of the |k| = 1 modes, s(|k|) = s0 |k|^-γ, "
                            "> 0 [the file's scalar prior_std, else 1/2π]")
    group.add_argument("--spectrum-exponent", type=finite_number, default=None,
                       help=f"Fourier prior: γ, larger is smoother [{SPECTRUM_EXPONENT:g}]")
    group.add_argument("--flow-std", type=number_above(0.0), default=None,
                       help=f"nodal prior: pointwise sd of the stream function, > 0 "
                            f"[{NODAL_FLOW_STD:g}]")
    group.add_argument("--correlation-length", type=number_above(0.0), default=None,
                       help=f"nodal prior: correlation length of the stream function, > 0 "
                            f"[{NODAL_CORRELATION_LENGTH:g}]")
    group.add_argument("--alpha", type=integer_at_least(2), default=None,
                       help=f"nodal prior: exponent α of the precision (I - γΔ)^α, >= 2 "
                            f"[{NODAL_ALPHA}: the velocity ∇⊥ψ is one derivative rougher "
                            "than ψ, and α = 2 gives a velocity variance that grows like "
                            "log(1/h) as the grid spacing h shrinks; α = 3 keeps it bounded]")
    group.add_argument("--through-flow-std", type=number_above(0.0), default=None,
                       help="nodal prior on a channel with no-flux walls: also infer the net "
                            "flux Q (ψ = Q on the far wall), Q ~ N(0, sd²), sd > 0 [no "
                            "through-flow: ψ = 0 on both walls]")
    group.add_argument("--theta0-std", type=number_above(0.0), default=None,
                       help=f"unknown θ0: prior pointwise sd around the file's theta0, > 0 "
                            f"[{THETA0_STD_FRACTION:g} max|theta0|]")
    group.add_argument("--theta0-correlation-length", type=number_above(0.0), default=None,
                       help=f"unknown θ0: prior correlation length, > 0 "
                            f"[{THETA0_CORRELATION_LENGTH:g}]")
    group.add_argument("--kappa-log-std", type=number_above(0.0), default=None,
                       help=f"unknown κ: sd of log κ around log of the file's kappa, > 0 "
                            f"[{KAPPA_LOG_STD:g}]")
    group.add_argument("--windows", type=window_edges, default=None, metavar="T1,T2,...",
                       help="a time-varying flow, constant on the windows [0,T1), [T1,T2), "
                            "..., [Tlast,inf): the interior edges in the data's time units, "
                            "each below the last time [a steady flow]")
    group.add_argument("--temporal", choices=TEMPORAL_PRIORS, default=None,
                       help="prior over the windows: a Gaussian random walk from the spatial "
                            "prior, or a stationary AR(1) [random-walk]")
    group.add_argument("--temporal-scale", type=finite_number, default=None,
                       help=f"random walk: sd σ > 0 of a window's change as a fraction of the "
                            f"spatial prior's [{RANDOM_WALK_STEP:g}]; ar1: the correlation "
                            f"0 <= ρ < 1 of neighbouring windows [{AR1_RHO:g}]")
    group.add_argument("--sampler", choices=SAMPLER_CHOICES, default=None,
                       help="sampler after the Laplace stage, or none [hmc for the Fourier-flow "
                            "workflow, else infinity-hmc]; hmc runs only in the workflow")
    group.add_argument("--reference", choices=REFERENCES, default=None,
                       help="Gaussian that infinity-hmc / infinity-mala are preconditioned by "
                            "[laplace]")
    group.add_argument("--laplace-rank", type=integer_at_least(1), default=None,
                       help="eigenpairs of the low-rank Laplace approximation, <= the number of "
                            "unknown coefficients [min(number of data, coefficients)]")


@dataclass
class Choice:
    """The checked choices of an ``estimate`` run (defaults filled in where they do not
    depend on the input file).

    Attributes
    ----------
    unknowns : tuple of str
        Among :data:`UNKNOWNS`.
    space : str or None
        ``"fourier"`` or ``"nodal"`` when the flow is unknown.
    sampler : str
        One of :data:`SAMPLER_CHOICES`.
    workflow : bool
        The Fourier-flow MAP → Laplace → HMC workflow
        (:func:`advdiff_sens.inference.run_workflow`) rather than
        :func:`advdiff_sens.inference.run_inference`.
    options : dict
        The prior and Laplace options as given (None when left out).
    reference : str or None
        The sampler's reference (None for pCN, the workflow, or no sampler).
    optimizer : str
    n_draws, n_warmup : int or None
        None without a sampler.

    Examples
    --------
    >>> choice = Choice(("flow",), "fourier", "hmc", True, {}, None, "gauss-newton", 60, 20)
    >>> choice.infers("kappa")
    False
    """

    unknowns: tuple
    space: str | None
    sampler: str
    workflow: bool
    options: dict
    reference: str | None
    optimizer: str
    n_draws: int | None
    n_warmup: int | None

    def infers(self, name: str) -> bool:
        """Whether ``name`` (one of :data:`UNKNOWNS`) is inferred."""
        return name in self.unknowns


def _refuse(option: str, why: str, remedy: str) -> NoReturn:
    raise ValueError(f"argument {_flag(option)}: {why}; {remedy}")


def choose(args: argparse.Namespace, *, n_draws: int, n_warmup: int) -> Choice:
    """Check the options of ``estimate`` against each other and fill in the defaults that do
    not depend on the file (``n_draws``, ``n_warmup``: those of ``--samples``, ``--warmup``).

    Raises
    ------
    ValueError
        An option that does not apply to the others (each message names both).

    Examples
    --------
    >>> from advdiff_sens.cli import build_parser
    >>> args = build_parser().parse_args(["estimate", "d.npz", "--space", "nodal"])
    >>> choice = choose(args, n_draws=60, n_warmup=20)
    >>> choice.sampler, choice.workflow, choice.optimizer, choice.reference
    ('infinity-hmc', False, 'newton-cg', 'laplace')
    >>> args = build_parser().parse_args(["estimate", "d.npz", "--space", "nodal", "--kmax", "3"])
    >>> choose(args, n_draws=60, n_warmup=20)
    Traceback (most recent call last):
    ...
    ValueError: argument --kmax: sets the Fourier modes of --space fourier, but --space nodal was given; drop --kmax, or use --space fourier
    """
    given = {name: getattr(args, name) for name in
             (*_FOURIER_OPTIONS, *_NODAL_OPTIONS, *_THETA0_OPTIONS, *_TEMPORAL_OPTIONS,
              "kappa_log_std", "laplace_rank")}
    unknowns = args.unknowns or ("flow",)
    if "flow" in unknowns:
        space = args.space or "fourier"
        other, wrong = (("nodal", _NODAL_OPTIONS) if space == "fourier"
                        else ("fourier", _FOURIER_OPTIONS))
        for name in wrong:
            if given[name] is not None:
                what = ("sets the Fourier modes" if name == "kmax"
                        else "is a prior option")
                _refuse(name, f"{what} of --space {other}, but --space {space} was given",
                        f"drop {_flag(name)}, or use --space {other}")
    else:
        space = None
        for name in ("space", *_FOURIER_OPTIONS, *_NODAL_OPTIONS, *_TEMPORAL_OPTIONS):
            if getattr(args, name) is not None:
                _refuse(name, f"applies to an unknown flow, but --unknowns {','.join(unknowns)} "
                              "leaves the flow known (the file's array 'velocity')",
                        f"drop {_flag(name)}, or add flow to --unknowns")
    if "theta0" not in unknowns:
        for name in _THETA0_OPTIONS:
            if given[name] is not None:
                _refuse(name, "sets the prior of an unknown θ0, but theta0 is not in --unknowns",
                        f"drop {_flag(name)}, or add theta0 to --unknowns")
    if "kappa" not in unknowns and given["kappa_log_std"] is not None:
        _refuse("kappa_log_std", "sets the prior of an unknown κ, but kappa is not in --unknowns",
                "drop --kappa-log-std, or add kappa to --unknowns")
    _check_temporal(given)
    fourier_flow = unknowns == ("flow",) and space == "fourier" and given["windows"] is None
    sampler = args.sampler or ("hmc" if fourier_flow else "infinity-hmc")
    if sampler == "hmc" and not fourier_flow:
        _refuse("sampler", f"hmc runs only in the Fourier-flow workflow of a steady flow "
                           f"(--space fourier --unknowns flow), not with --unknowns "
                           f"{','.join(unknowns)}{'' if space is None else f' --space {space}'}"
                           f"{'' if given['windows'] is None else ' --windows'}",
                "use --sampler infinity-hmc, infinity-mala or pcn (dimension robust)")
    workflow = fourier_flow and sampler == "hmc"
    reference = args.reference
    if reference is not None and sampler not in ("infinity-hmc", "infinity-mala"):
        why = {"hmc": "the hmc workflow always runs in the Laplace metric",
               "pcn": "pcn proposes from the prior (it is prior-reversible)",
               "none": "--sampler none draws no samples"}[sampler]
        _refuse("reference", why, "drop --reference, or use --sampler infinity-hmc or "
                                  "infinity-mala")
    if workflow and given["laplace_rank"] is not None:
        _refuse("laplace_rank", "the hmc workflow uses the dense Laplace covariance",
                "drop --laplace-rank, or use --sampler infinity-hmc, infinity-mala, pcn or none")
    if sampler == "none":
        for name in ("samples", "warmup"):
            if getattr(args, name) is not None:
                _refuse(name, "--sampler none draws no samples",
                        f"drop {_flag(name)}, or choose a sampler")
    if sampler in ("infinity-hmc", "infinity-mala"):
        reference = reference or "laplace"
    return Choice(unknowns=unknowns, space=space, sampler=sampler, workflow=workflow,
                  options=given, reference=reference,
                  optimizer=args.optimizer or ("gauss-newton" if workflow else "newton-cg"),
                  n_draws=None if sampler == "none" else args.samples or n_draws,
                  n_warmup=(None if sampler == "none" else
                            n_warmup if args.warmup is None else args.warmup))


def _check_temporal(given: dict) -> None:
    """The temporal options against each other: ``--temporal`` and ``--temporal-scale`` need
    ``--windows``; the scale's range depends on the prior."""
    if given["windows"] is None:
        for name in ("temporal", "temporal_scale"):
            if given[name] is not None:
                _refuse(name, "sets the temporal prior of a time-varying flow, but --windows "
                              "was not given (the flow is steady)",
                        f"drop {_flag(name)}, or give --windows T1,T2,... (the window edges)")
    scale = given["temporal_scale"]
    if scale is None:
        return
    if (given["temporal"] or "random-walk") == "random-walk" and not scale > 0:
        _refuse("temporal_scale", f"the random walk's step sd σ must be > 0, got {scale:g}",
                "give a number > 0 (a fraction of the spatial prior's sd)")
    if given["temporal"] == "ar1" and not 0 <= scale < 1:
        _refuse("temporal_scale", f"the AR(1) correlation ρ must be in [0, 1) (stationary), "
                                  f"got {scale:g}", "give 0 <= ρ < 1")


def time_windows(choice: Choice) -> TimeWindows | None:
    """The :class:`~advdiff_sens.sensitivity.TimeWindows` of ``--windows``
    (:math:`0, τ_1, …, τ_{last}, ∞`), or None for a steady flow."""
    edges = choice.options.get("windows")
    return None if edges is None else TimeWindows([0.0, *edges, np.inf])


def _temporal(choice: Choice) -> tuple[str, float]:
    """The temporal prior and its scale, defaults filled in."""
    kind = choice.options["temporal"] or "random-walk"
    scale = choice.options["temporal_scale"]
    if scale is None:
        scale = RANDOM_WALK_STEP if kind == "random-walk" else AR1_RHO
    return kind, scale


def _check_windows(choice: Choice, d: dict, path: str) -> None:
    """``--windows`` against the file's times: every edge below the last time (an error);
    a window without an observation time is a warning."""
    windows = time_windows(choice)
    if windows is None:
        return
    times, edges = d["times"], np.asarray(choice.options["windows"])
    late = edges[edges >= times[-1]]
    if late.size:
        raise ValueError(f"argument --windows: edge(s) {late.tolist()} at or beyond the last "
                         f"observation time {times[-1]:g} of {path}: no data follow them, so "
                         f"the flow there is never seen; expected edges in (0, {times[-1]:g})")
    seen = {windows.window_of(t) for t in times}
    empty = [k for k in range(windows.n_windows) if k not in seen]
    if empty:
        spans = ", ".join(f"{k} [{windows.edges[k]:g}, {windows.edges[k + 1]:g})"
                          for k in empty)
        warnings.warn(f"--windows: window(s) {spans} hold no observation time of {path}: their "
                      "flow is seen only through the later data and is mostly its temporal "
                      "prior; drop an edge to merge such a window with its neighbour",
                      UserWarning, stacklevel=2)


def _n_params(choice: Choice, d: dict) -> int:
    """The number of unknown coefficients of ``choice`` on the file's grid."""
    n = d["grid"].n
    count = 0
    if choice.infers("flow"):
        windows = time_windows(choice)
        count += ((StreamFunctionBasis(d["grid"], choice.options["kmax"] or d["kmax"]).n_params
                   if choice.space == "fourier"
                   else NodalStreamFunction(d["grid"]).n_params
                   + (choice.options["through_flow_std"] is not None))
                  * (1 if windows is None else windows.n_windows))
    return count + n * choice.infers("theta0") + choice.infers("kappa")


def check_against_file(choice: Choice, d: dict, path: str) -> None:
    """Check ``choice`` against the checked input file ``d``
    (:func:`advdiff_sens.cli.datafile.load_data_file`) read from ``path``.

    Raises
    ------
    ValueError
        The file lacks what the choice needs (a known velocity, a θ0 to centre the prior
        on; fixed sensors for the hmc workflow), holds what it would ignore (a velocity of an
        unknown flow, a Fourier prior of a nodal space), or the sizes disagree
        (per-coefficient ``prior_std`` and ``--kmax``; ``--laplace-rank`` above the number of
        coefficients; ``--windows`` edges beyond the last time).
    """
    grid, prior_std, options = d["grid"], d["prior_std"], choice.options
    if choice.workflow and d["sensors"] is not None and d["sensors"].ndim == 3:
        raise ValueError(f"argument --sampler: the default hmc workflow reads fixed sensors, but "
                         f"{path}'s array 'sensors' has a position per time (moving sensors, "
                         f"shape {d['sensors'].shape}); choose --sampler infinity-hmc, "
                         "infinity-mala, pcn or none (the field pipeline)")
    if choice.infers("flow"):
        if d["velocity"] is not None:
            raise ValueError(f"argument --unknowns: {path} holds a known flow (array "
                             "'velocity') but the flow is in --unknowns; remove the array, or "
                             "leave flow out of --unknowns")
        if (choice.space == "nodal" and options["through_flow_std"] is not None
                and sorted(grid.bc) != ["neumann", "periodic"]):
            raise ValueError(f"argument --through-flow-std: a net flux needs a channel (one "
                             f"periodic axis, one axis with no-flux walls), but the model grid "
                             f"has bc = {grid.bc}; drop --through-flow-std, or choose a "
                             "channel (estimate DATA.nc --bc channel)")
        if choice.space == "nodal" and prior_std is not None:
            raise ValueError(f"argument --space: {path} holds a Fourier prior (array "
                             "'prior_std') that --space nodal cannot use; remove the array, or "
                             "use --space fourier (the nodal prior is --flow-std, "
                             "--correlation-length, --alpha)")
        if choice.space == "fourier" and np.ndim(prior_std) == 1:
            for name in _FOURIER_OPTIONS:
                if options[name] is not None:
                    raise ValueError(
                        f"argument {_flag(name)}: {path} fixes one prior sd per coefficient of "
                        f"kmax = {d['kmax']:g} (array 'prior_std', {prior_std.size} values); "
                        f"drop {_flag(name)}, or store a scalar prior_std")
    elif d["velocity"] is None:
        raise ValueError(f"argument --unknowns: --unknowns {','.join(choice.unknowns)} leaves "
                         f"the flow known, but {path} lacks the array 'velocity'; store the "
                         f"known velocity, shape (2, {grid.shape[0]}, {grid.shape[1]}), or add "
                         "flow to --unknowns")
    if (choice.infers("theta0") and options["theta0_std"] is None
            and not np.any(d["theta0"])):
        raise ValueError(f"argument --theta0-std: the default prior sd of θ0 is "
                         f"{THETA0_STD_FRACTION:g} max|theta0|, and {path}'s theta0 is zero "
                         "everywhere; give --theta0-std")
    _check_windows(choice, d, path)
    rank = options["laplace_rank"]
    if rank is not None and rank > (p := _n_params(choice, d)):
        raise ValueError(f"argument --laplace-rank: expected at most the number of unknown "
                         f"coefficients, {p}, got {rank}")


def spectrum_given(choice: Choice) -> bool:
    """Whether ``--spectrum-scale`` or ``--spectrum-exponent`` was given."""
    return any(choice.options[name] is not None for name in _FOURIER_OPTIONS[1:])


def fourier_prior_std(choice: Choice, d: dict, basis: StreamFunctionBasis) -> np.ndarray:
    """The sd of each Fourier coefficient: the file's one per coefficient, else
    :math:`s_0|k|^{-γ}` (:func:`advdiff_sens.inference.spectral_prior`) with :math:`s_0` from
    ``--spectrum-scale``, the file's scalar ``prior_std`` or :math:`1/2π`."""
    if np.ndim(d["prior_std"]) == 1:
        return d["prior_std"]
    options = choice.options
    scale = options["spectrum_scale"] or d["prior_std"] or DEFAULT_SPECTRUM_SCALE
    exponent = options["spectrum_exponent"]
    return spectral_prior(basis, PowerLawSpectrum(
        scale, SPECTRUM_EXPONENT if exponent is None else exponent)).std


def _flow(choice: Choice, d: dict) -> dict:
    """The ``flow`` and ``flow_prior`` of the space: steady, or with ``--windows`` a
    :class:`~advdiff_sens.inference.WindowedFlow` under a
    :class:`~advdiff_sens.inference.TemporalGaussian` prior over the spatial one."""
    grid, options = d["grid"], choice.options
    if choice.space == "nodal":
        flux_std = options["through_flow_std"]
        # ψ = 0 on no-flux walls (free nodes only), or ψ = Q on a channel's far wall
        flow = NodalStreamFunction(grid, through_flow=flux_std is not None)
        prior = GaussianRandomField(
            flow.free_grid, options["flow_std"] or NODAL_FLOW_STD,
            options["correlation_length"] or NODAL_CORRELATION_LENGTH,
            alpha=options["alpha"] or NODAL_ALPHA)
        if flux_std is not None:
            prior = BlockGaussian([prior, DiagonalGaussian([0.0], flux_std)])
    else:
        flow = StreamFunctionBasis(grid, options["kmax"] or d["kmax"])
        prior = DiagonalGaussian(np.zeros(flow.n_params), fourier_prior_std(choice, d, flow))
    windows = time_windows(choice)
    if windows is None:
        return {"flow": flow, "flow_prior": prior}
    kind, scale = _temporal(choice)
    temporal = (TemporalGaussian.random_walk if kind == "random-walk" else TemporalGaussian.ar1)
    return {"flow": WindowedFlow(flow, windows),
            "flow_prior": temporal(prior, windows.n_windows, scale)}


def build_posterior(choice: Choice, d: dict, scheme: str) -> Posterior:
    """The :class:`~advdiff_sens.inference.Posterior` of ``choice`` on the data ``d``.

    Its model runs the Chebyshev backend at the field twins' tolerance
    (:data:`advdiff_sens.problems.INFERENCE_TOL`) — the backend whose discrete adjoint the
    gradients use — and the gradient is the model's adjoint: one sweep for any number of
    coefficients, where the tangent Jacobian costs one solve per coefficient.
    """
    grid, options = d["grid"], choice.options
    space = _flow(choice, d) if choice.infers("flow") else {"velocity": d["velocity"]}
    if choice.infers("theta0"):
        space["theta0_prior"] = GaussianRandomField(
            grid, options["theta0_std"] or THETA0_STD_FRACTION * float(np.abs(d["theta0"]).max()),
            options["theta0_correlation_length"] or THETA0_CORRELATION_LENGTH,
            alpha=THETA0_ALPHA, mean=d["theta0"])
    else:
        space["theta0"] = d["theta0"]
    if choice.infers("kappa"):
        space["log_kappa_prior"] = DiagonalGaussian([np.log(d["kappa"])],
                                                    options["kappa_log_std"] or KAPPA_LOG_STD)
    model = AdvectionDiffusion(grid, d["kappa"], scheme,
                               backend=ChebyshevBackend(tol=INFERENCE_TOL))
    observations = d.get("observations")          # a netCDF snapshot file
    if observations is None and d["sensors"].ndim == 3:          # moving sensors
        observations = Observations(PointSensors(grid, d["sensors"]), d["data"], d["noise_std"])
    if observations is not None:
        return Posterior(model, ParameterSpace(grid, **space), times=d["times"],
                         observations=observations, gradient="adjoint")
    return Posterior(model, ParameterSpace(grid, **space), d["sensors"], d["times"],
                     d["data"], d["noise_std"], gradient="adjoint")


def make_sampler(choice: Choice) -> Sampler | None:
    """The sampler object of ``choice``: ∞-HMC with the options of
    :data:`advdiff_sens.inference.DEFAULT_FIELD_SAMPLER`, the others with their registered
    defaults (:data:`advdiff_sens.sampling.SAMPLERS`); ``--warmup`` draws adapt the step.
    None for ``--sampler none``."""
    if choice.sampler == "none":
        return None
    sampler = copy.copy(DEFAULT_FIELD_SAMPLER if choice.sampler == "infinity-hmc"
                        else SAMPLERS.resolve(choice.sampler, "--sampler"))
    sampler.n_warmup = choice.n_warmup
    return sampler


def unknowns_summary(choice: Choice, posterior: Posterior | None, d: dict) -> str:
    """What is inferred and under which prior, printed before the run (``posterior`` None: the
    Fourier-flow workflow, whose posterior the workflow builds)."""
    options = choice.options
    lines = []
    if choice.infers("flow"):
        if choice.space == "nodal":
            flux_std = options["through_flow_std"]
            free = NodalStreamFunction(d["grid"]).n_params
            lines.append(
                f"  flow: nodal stream function, {free} coefficients (one per free node), "
                f"Gaussian random field prior: sd {options['flow_std'] or NODAL_FLOW_STD:g}, "
                f"correlation length "
                f"{options['correlation_length'] or NODAL_CORRELATION_LENGTH:g}, "
                f"α = {options['alpha'] or NODAL_ALPHA}"
                + ("" if flux_std is None else
                   f"; and the channel's net flux Q (ψ on the far wall), prior N(0, "
                   f"{flux_std:g}²)"))
        else:
            kmax = options["kmax"] or d["kmax"]
            source = "--kmax" if options["kmax"] else "the file"
            basis = StreamFunctionBasis(d["grid"], kmax)
            if np.ndim(d["prior_std"]) == 1:
                std = d["prior_std"]
                prior = f"one per coefficient from the file, {std.min():g} to {std.max():g}"
            else:
                scale = options["spectrum_scale"] or d["prior_std"]
                exponent = options["spectrum_exponent"]
                prior = (f"{'1/2π' if scale is None else f'{scale:g}'}·|k|^-"
                         f"{SPECTRUM_EXPONENT if exponent is None else exponent:g}"
                         + (" (default)" if scale is None and exponent is None else ""))
            lines.append(f"  flow: Fourier stream function, kmax = {kmax:g} (from {source}): "
                         f"{basis.n_params} stream-function coefficients, prior sd {prior}")
        windows = time_windows(choice)
        if windows is not None:
            kind, scale = _temporal(choice)
            starts = ", ".join(f"{t:g}" for t in windows.edges[:-1])
            lines.append(f"  time-varying: {windows.n_windows} windows starting at t = {starts} "
                         f"(the last open), each with those coefficients; "
                         + (f"random-walk prior, step sd σ = {scale:g} of the spatial prior's"
                            if kind == "random-walk" else
                            f"AR(1) prior, correlation ρ = {scale:g} of neighbouring windows"))
    else:
        lines.append("  flow: known (the file's velocity)")
    if choice.infers("theta0"):
        std = options["theta0_std"] or THETA0_STD_FRACTION * float(np.abs(d["theta0"]).max())
        length = options["theta0_correlation_length"] or THETA0_CORRELATION_LENGTH
        lines.append(f"  θ0: unknown, {d['grid'].n} nodal values, Gaussian random field prior "
                     f"around the file's theta0: sd {std:.3g}, correlation length {length:g}, "
                     f"α = {THETA0_ALPHA}")
    else:
        lines.append("  θ0: known (the file's theta0)")
    if choice.infers("kappa"):
        lines.append(f"  κ: unknown, log κ ~ N(log {d['kappa']:g}, "
                     f"{options['kappa_log_std'] or KAPPA_LOG_STD:g}²)")
    else:
        lines.append(f"  κ: known, {d['kappa']:g}")
    total = f", {posterior.n_params} coefficients in all" if posterior is not None else ""
    return f"unknowns: {', '.join(choice.unknowns)}{total}\n" + "\n".join(lines)
