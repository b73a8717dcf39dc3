r"""The inference pipeline for any :class:`~advdiff_sens.inference.Posterior`: MAP with every
optimum, Laplace approximation, dimension-robust sampling, and the fields a user looks at.

:func:`run_inference`

1. finds the MAP :math:`\hat c` (:func:`~advdiff_sens.inference.find_map`: continuation,
   several starts, Newton-CG by default) and reports every distinct optimum;
2. builds the Laplace approximation :math:`N(\hat c, C_{post})` there
   (:func:`~advdiff_sens.inference.laplace_approximation`: dense for small p, low rank by the
   randomized eigensolver otherwise), with its eigenvalue spectrum and expected information
   gain;
3. optionally samples with a dimension-robust sampler (∞-HMC by default) preconditioned by the
   Laplace approximation or by the prior (:func:`~advdiff_sens.inference.sampling_potential`).

:func:`field_summaries` turns coefficients and a Gaussian (the Laplace approximation) or
draws into the fields of each unknown block — velocity, stream function, initial condition,
log κ — with their pointwise sd: for a linear image :math:`Bc`,
:math:`\operatorname{var}(Bc)_i = \operatorname{diag}(BCB^T)_i − \sum_j d_j(BC^{1/2}v_j)_i^2`
(:meth:`~advdiff_sens.inference.laplace.LaplaceApproximation.variance_of`), the prior part
exact: by stationarity from one column for a periodic Gaussian random field and a
translation-invariant map (the nodal stream function's curl, the identity), else by summing the
images of the p prior square-root columns.

Finished work is never lost: given a ``path``, the :class:`InferenceResult` is written there
(atomically) after the MAP and Laplace stage and again after sampling.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advdiff_sens.inference.laplace import LaplaceApproximation, laplace_approximation
from advdiff_sens.inference.map import MAPResult, find_map
from advdiff_sens.inference.optimisers import Optimiser
from advdiff_sens.inference.parameterisations import NodalStreamFunction
from advdiff_sens.inference.posterior import Posterior
from advdiff_sens.inference.results import check_output_path, save_arrays
from advdiff_sens.inference.priors import GaussianRandomField
from advdiff_sens.inference.targets import sampling_potential
from advdiff_sens.inference.temporal import TemporalGaussian, WindowedFlow, velocity_values
from advdiff_sens.sampling import (PCN, InfinityHMC, InfinityMALA, Sampler, SamplerDiagnostics,
                                   SamplerResult)
from advdiff_sens.validation import as_real_array, as_rng, check_callable, check_integer

__all__ = ["run_inference", "InferenceResult", "field_summaries", "FieldSummary",
           "DEFAULT_FIELD_SAMPLER", "REFERENCES", "INFERENCE_EVENTS"]

#: The sampler of :func:`run_inference` unless one is given: ∞-HMC, 4 leapfrog steps, the step
#: adapted during 50 warm-up draws toward acceptance 0.8.
DEFAULT_FIELD_SAMPLER = InfinityHMC(step_size=0.5, n_leapfrog=4, n_warmup=50)
#: The Gaussian references a sampler can be preconditioned by.
REFERENCES = ("laplace", "prior")
#: What ``callback(event, result)`` of :func:`run_inference` is told, in order.
INFERENCE_EVENTS = ("map", "laplace", "samples", "saved")


@dataclass
class FieldSummary:
    """One unknown block as fields: the value at a point (MAP or posterior mean) and the
    pointwise sd.

    Attributes
    ----------
    name : str
        ``"velocity"``, ``"stream_function"``, ``"theta0"`` or ``"log_kappa"``.
    value : ndarray
    sd : ndarray
        Of the shape of ``value``.

    Examples
    --------
    >>> summary = FieldSummary("log_kappa", np.array([-4.6]), np.array([0.1]))
    >>> summary.name, summary.sd.tolist()
    ('log_kappa', [0.1])
    """

    name: str
    value: np.ndarray
    sd: np.ndarray


def _field_of(flow, name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The linear map flow coefficients → the field ``name`` (velocity or stream function) as
    an array; a windowed flow's fields carry a leading window axis."""
    if name == "velocity":
        return lambda c: velocity_values(flow.to_velocity(c))
    return flow.stream_function


def _flow_fields(flow) -> tuple[str, ...]:
    """The fields a flow parameterisation has: velocity, and the stream function if it has one
    (for a windowed flow, if each window's parameterisation has one)."""
    spatial = flow.spatial if isinstance(flow, WindowedFlow) else flow
    return ("velocity", "stream_function") if hasattr(spatial, "stream_function") else ("velocity",)


def _block_maps(posterior: Posterior) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Linear maps full coefficient vector → field, for each field of the unknown blocks."""
    space = posterior.space
    maps: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if space.infers("flow"):
        flow = space.slices["flow"]
        for name in _flow_fields(space.flow):
            field_of = _field_of(space.flow, name)
            maps[name] = lambda c, field_of=field_of: field_of(c[flow])
    if space.infers("theta0"):
        theta0 = space.slices["theta0"]
        maps["theta0"] = lambda c: c[theta0].reshape(space.grid.shape)
    if space.infers("log_kappa"):
        log_kappa = space.slices["log_kappa"]
        maps["log_kappa"] = lambda c: c[log_kappa].copy()
    return maps


def _flow_prior_variance(flow, prior, name: str) -> np.ndarray:
    r""":math:`\operatorname{diag}(BCB^T)` of the flow field ``name`` under the flow prior
    (module docstring). A windowed flow under a :class:`TemporalGaussian` prior
    :math:`T ⊗ C`: window k's field has variance :math:`T_{kk}\operatorname{diag}(BCB^T)`."""
    if isinstance(flow, WindowedFlow) and isinstance(prior, TemporalGaussian):
        spatial = _flow_prior_variance(flow.spatial, prior.spatial, name)
        scale = np.diag(prior.temporal_covariance)
        return scale.reshape((-1,) + (1,) * spatial.ndim) * spatial
    apply = _field_of(flow, name)
    grid = flow.grid
    if (name == "stream_function" and isinstance(flow, NodalStreamFunction)
            and not flow.through_flow):
        return flow.stream_function(prior.pointwise_variance())          # 0 on wall nodes
    stationary = isinstance(prior, GaussianRandomField) and prior.periodic
    if (name == "velocity" and stationary and isinstance(flow, NodalStreamFunction)
            and not flow.through_flow):
        out = np.empty((2, *grid.shape))
        for a in range(2):
            probe = np.zeros((2, *grid.shape))
            probe[(a,) + (0,) * grid.ndim] = 1.0
            row = prior.sqrt_cov_transpose(flow.pullback(probe))
            out[a] = float(row @ row)
        return out
    total = None
    for e in np.eye(prior.dim):
        image = apply(prior.sqrt_cov(e)) ** 2
        total = image if total is None else total + image
    return total


def _prior_variance(posterior: Posterior, name: str, apply) -> np.ndarray:
    r""":math:`\operatorname{diag}(BCB^T)` of the field ``name`` (module docstring)."""
    space = posterior.space
    block = {"velocity": "flow", "stream_function": "flow"}.get(name, name)
    prior = space.prior.blocks[space.unknowns.index(block)]
    if block == "flow":
        return _flow_prior_variance(space.flow, prior, name)
    return prior.pointwise_variance().reshape(apply(space.prior.mean).shape)


def field_summaries(posterior: Posterior, point, laplace: LaplaceApproximation | None = None,
                    samples: np.ndarray | None = None) -> dict[str, FieldSummary]:
    r"""The fields of every unknown block with their pointwise sd (module docstring).

    Parameters
    ----------
    posterior : Posterior
    point : array_like (p,)
        Where the fields are evaluated (the MAP); ignored with ``samples``.
    laplace : LaplaceApproximation, optional
        The sd come from it (module docstring).
    samples : ndarray (..., p), optional
        Draws: the fields are the draws' mean, the sd their sd (every draw mapped).

    Returns
    -------
    dict of str to FieldSummary

    Examples
    --------
    The prior as the "posterior": its sd fields are the prior's.

    >>> import numpy as np
    >>> from advdiff_sens.problems import make_field_twin
    >>> twin = make_field_twin(16, n_sensors=4, times=[0.2], rng=0)
    >>> draws = twin.posterior.prior.sample(rng=1, size=2000)
    >>> fields = field_summaries(twin.posterior, None, samples=draws)
    >>> sorted(fields), fields["velocity"].sd.shape
    (['stream_function', 'velocity'], (2, 16, 16))
    >>> psi_sd = fields["stream_function"].sd
    >>> bool(abs(psi_sd.mean() - 0.05) < 0.005)            # the prior's pointwise sd 0.05
    True
    """
    if not isinstance(posterior, Posterior):
        raise TypeError(f"posterior must be a Posterior, got {type(posterior).__name__}")
    maps = _block_maps(posterior)
    out = {}
    if samples is not None:
        draws = np.asarray(samples, dtype=float).reshape(-1, posterior.n_params)
        for name, apply in maps.items():
            images = np.stack([apply(c) for c in draws])
            out[name] = FieldSummary(name, images.mean(axis=0), images.std(axis=0, ddof=1))
        return out
    point = as_real_array(point, "point", shape=(posterior.n_params,))
    for name, apply in maps.items():
        value = apply(point)
        if laplace is None:
            sd = np.full_like(value, np.nan)
        else:
            variance = laplace.variance_of(apply, _prior_variance(posterior, name, apply))
            sd = np.sqrt(np.maximum(variance, 0.0))
        out[name] = FieldSummary(name, value, sd)
    return out


@dataclass
class InferenceResult:
    r"""What :func:`run_inference` found.

    Attributes
    ----------
    map : MAPResult or None
        The MAP search with every optimum (None for a loaded result).
    laplace : LaplaceApproximation or None
    samples : SamplerResult or None
    sampler_report : SamplerDiagnostics or None
        ``samples.diagnostics()`` (its failed checks were emitted as FitWarnings).
    arrays : dict of str to ndarray
        What :meth:`save` writes: ``coefficients`` (MAP), ``optima_neg_log_posterior``,
        ``optima_misfit``, ``misfit``, ``n_data``; after the Laplace stage ``eigenvalues``,
        ``expected_information_gain``, ``variance_trace_ratio`` and, per field ``f`` of the
        unknown blocks (:func:`field_summaries`), ``f`` (MAP) and ``f_sd`` (Laplace); after
        sampling ``samples``, ``accept_rate``, ``step_size``, ``divergences``, ``f_mean`` and
        ``f_posterior_sd``.

    Examples
    --------
    >>> import tempfile
    >>> result = InferenceResult(arrays={"coefficients": np.zeros(3), "misfit": np.array(2.5)})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     loaded = InferenceResult.load(result.save(Path(folder) / "inference.npz"))
    >>> float(loaded.arrays["misfit"]), loaded.map is None
    (2.5, True)
    """

    map: MAPResult | None = None
    laplace: LaplaceApproximation | None = None
    samples: SamplerResult | None = None
    sampler_report: SamplerDiagnostics | None = None
    arrays: dict = field(default_factory=dict)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :attr:`arrays` to the ``.npz`` file ``path`` atomically (``path.part`` while
        writing never replaces a good file). Returns the path."""
        return save_arrays(path, self.arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> InferenceResult:
        """Read what :meth:`save` wrote (the arrays; no live objects)."""
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if "coefficients" not in arrays:
            raise ValueError(f"{path} lacks the array 'coefficients' of a saved inference "
                             "result")
        return cls(arrays=arrays)


def run_inference(posterior: Posterior, *, optimizer: str | Optimiser = "newton-cg",
                  continuation=(3, 6, 10), n_starts: int = 1, laplace_rank: int | None = None,
                  oversampling: int = 10, sampler: Sampler | None = DEFAULT_FIELD_SAMPLER,
                  reference: str = "laplace", n_draws: int = 100, n_chains: int = 2,
                  n_workers: int = 1, gradient=None, rng=None,
                  path: str | os.PathLike | None = None, progress=None,
                  callback: Callable[[str, InferenceResult], None] | None = None
                  ) -> InferenceResult:
    r"""MAP, Laplace approximation and (optionally) samples of ``posterior`` (module docstring).

    Parameters
    ----------
    posterior : Posterior
    optimizer, continuation, n_starts
        As in :func:`~advdiff_sens.inference.find_map`.
    laplace_rank : int, optional
        Eigenpairs of the low-rank Laplace approximation (None: :math:`\min(N, p)`, all that the
        data can inform); the dense one is used when it is as cheap (``dense="auto"``).
    oversampling : int
        Extra directions of the randomized eigensolver.
    sampler : Sampler or None
        :class:`~advdiff_sens.sampling.InfinityHMC` (default :data:`DEFAULT_FIELD_SAMPLER`),
        :class:`~advdiff_sens.sampling.InfinityMALA` or :class:`~advdiff_sens.sampling.PCN`;
        None skips sampling.
    reference : {"laplace", "prior"}
        The Gaussian the sampler is preconditioned by.
    n_draws, n_chains, n_workers : int
        Draws per chain (>= 4), chains, and threads running them.
    gradient : str or PosteriorGradient, optional
        The sampler's gradient (default: the posterior's), e.g. ``"surrogate"``.
    rng : None, int or numpy.random.Generator
        Extra starts, the eigensolver's directions and the chains.
    path : str or path-like, optional
        ``.npz`` file written after the Laplace stage and after sampling; its folder must exist.
    progress : None or "auto"
        Progress lines on stderr for each stage.
    callback : callable, optional
        ``callback(event, result)`` at each of :data:`INFERENCE_EVENTS`.

    Returns
    -------
    InferenceResult

    Examples
    --------
    >>> import warnings
    >>> from advdiff_sens.exceptions import FitWarning
    >>> from advdiff_sens.problems import make_field_twin
    >>> from advdiff_sens.sampling import InfinityMALA
    >>> twin = make_field_twin(12, n_sensors=6, times=[0.2, 0.4], rng=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FitWarning)        # 2 x 6 draws: ESS is tiny
    ...     result = run_inference(twin.posterior, continuation=(), n_draws=6, rng=0,
    ...                            sampler=InfinityMALA(step_size=0.1, n_warmup=4))
    >>> result.arrays["velocity_sd"].shape, result.samples.samples.shape
    ((2, 12, 12), (2, 6, 144))
    """
    if not isinstance(posterior, Posterior):
        raise TypeError(f"posterior must be a Posterior, got {type(posterior).__name__}")
    path = check_output_path(path)
    if progress not in (None, "auto"):
        raise ValueError(f"progress must be None or 'auto', got {progress!r}")
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    if sampler is not None and not isinstance(sampler, (InfinityHMC, InfinityMALA, PCN)):
        raise TypeError(f"sampler must be an InfinityHMC, InfinityMALA, PCN or None, got "
                        f"{type(sampler).__name__}")
    n_draws = check_integer(n_draws, "n_draws", minimum=4)
    n_chains = check_integer(n_chains, "n_chains", minimum=1)
    n_workers = check_integer(n_workers, "n_workers", minimum=1)
    if callback is not None:
        check_callable(callback, "callback")
    streams = as_rng(rng).spawn(3)            # starts, eigensolver, chains
    result = InferenceResult()

    def report(event: str) -> None:
        if callback is not None:
            callback(event, result)

    def save() -> None:
        if path is not None:
            result.save(path)
            report("saved")

    result.map = find_map(posterior, optimizer=optimizer, continuation=continuation,
                          n_starts=n_starts, rng=streams[0], progress=progress)
    best = result.map
    result.arrays.update(
        coefficients=best.coefficients, misfit=np.array(best.misfit),
        n_data=np.array(posterior.n_data),
        optima_neg_log_posterior=np.array([o.neg_log_posterior for o in best.optima]),
        optima_misfit=np.array([o.misfit for o in best.optima]))
    report("map")
    result.laplace = laplace_approximation(posterior, best.coefficients, rank=laplace_rank,
                                           oversampling=oversampling, rng=streams[1],
                                           dense="auto", progress=progress)
    lap = result.laplace
    result.arrays.update(eigenvalues=lap.eigenvalues,
                         expected_information_gain=np.array(lap.expected_information_gain),
                         variance_trace_ratio=np.array(lap.variance_trace_ratio))
    for name, summary in field_summaries(posterior, best.coefficients, lap).items():
        result.arrays[name], result.arrays[f"{name}_sd"] = summary.value, summary.sd
    report("laplace")
    save()
    if sampler is None:
        return result
    ref = lap if reference == "laplace" else posterior.prior
    x0 = lap.sample(streams[2], size=n_chains) if n_chains > 1 else best.coefficients
    if isinstance(sampler, PCN):
        samples = sampler.sample(posterior.log_likelihood, posterior.prior, x0, n_draws,
                                 n_chains=n_chains, rng=streams[2], progress=progress,
                                 n_workers=n_workers)
    else:
        potential = sampling_potential(posterior, ref, gradient=gradient)
        samples = sampler.sample(potential, ref, x0, n_draws, n_chains=n_chains,
                                 rng=streams[2], progress=progress, n_workers=n_workers)
    result.samples, result.sampler_report = samples, samples.diagnostics()
    result.arrays.update(samples=samples.samples, accept_rate=samples.accept_rate,
                         step_size=samples.step_size, divergences=samples.divergences)
    for name, summary in field_summaries(posterior, None, samples=samples.samples).items():
        result.arrays[f"{name}_mean"] = summary.value
        result.arrays[f"{name}_posterior_sd"] = summary.sd
    report("samples")
    save()
    return result
