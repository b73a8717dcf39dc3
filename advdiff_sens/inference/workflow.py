r"""The estimation workflow: MAP by continuation, Laplace covariance, then a short HMC run.

:func:`run_workflow` is what the ``demo`` and ``estimate`` commands run:

1. the MAP :math:`\hat c` and the Laplace covariance :math:`Σ = (G^TG + S^{-2})^{-1}` by
   :func:`~advdiff_sens.inference.estimate.estimate_velocity`, with its fit report;
2. HMC (:class:`advdiff_sens.sampling.HMC`) with the posterior's gradient (exact by default) from :math:`\hat c` in the Laplace
   metric (inverse mass :math:`Σ`), the step size adapted during warm-up, trajectories bounded
   by :meth:`~advdiff_sens.inference.posterior.VelocityPosterior.in_bounds`, with the
   sampler's diagnostics.

Finished work is never lost: given a ``path``, the :class:`WorkflowResult` is written there
(atomically, :meth:`WorkflowResult.save`) right after the MAP and again after HMC, and
:meth:`WorkflowResult.load` reads it back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advdiff_sens.inference.estimate import estimate_velocity
from advdiff_sens.inference.gradients import PosteriorGradient
from advdiff_sens.inference.optimisers import Optimiser
from advdiff_sens.inference.results import (FitReport, VelocityEstimate, check_output_path,
                                            save_arrays)
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.sampling import HMC, SamplerDiagnostics, SamplerResult
from advdiff_sens.validation import check_callable, check_integer

__all__ = ["run_workflow", "WorkflowResult", "WORKFLOW_EVENTS", "MAP_ARRAYS", "SAMPLE_ARRAYS",
           "DEFAULT_SAMPLER", "HMC_CHAINS"]

#: HMC defaults of :func:`run_workflow`: leapfrog steps, initial step (adapted during
#: warm-up), chains.
#: The workflow's sampler unless one is given: HMC with 5 leapfrog steps from step 0.6,
#: adapted during 20 warm-up draws; its metric is the Laplace covariance.
DEFAULT_SAMPLER = HMC(step_size=0.6, n_leapfrog=5, n_warmup=20)
HMC_CHAINS = 2
#: What ``callback(event, result)`` of :func:`run_workflow` is told: ``"map"`` (the MAP,
#: Laplace covariance and fit report exist), ``"hmc"`` (the samples and their diagnostics
#: exist) and ``"saved"`` (the result so far was written to ``path``).
WORKFLOW_EVENTS = ("map", "hmc", "saved")
#: Arrays a saved result holds after the MAP.
MAP_ARRAYS = ("coefficients", "velocity", "covariance", "velocity_std", "predicted", "misfit",
              "wavevectors")
#: Arrays a saved result holds in addition after HMC.
SAMPLE_ARRAYS = ("samples", "accept_rate", "step_size", "divergences")


@dataclass
class WorkflowResult:
    r"""What :func:`run_workflow` found, as saved arrays and (in a run) the live objects.

    Attributes
    ----------
    coefficients : ndarray (p,)
        MAP stream-function coefficients :math:`\hat c`.
    velocity : ndarray ``(2, *grid.shape)``
        MAP velocity :math:`B\hat c`.
    covariance : ndarray (p, p)
        Laplace covariance :math:`Σ`.
    velocity_std : ndarray ``(2, *grid.shape)``
        Pointwise Laplace sd of the velocity.
    predicted : ndarray (k, m)
        MAP sensor readings :math:`Hθ(t_j; \hat c)`.
    misfit : float
        Φ at the MAP.
    wavevectors : ndarray (p, 2)
        The stream-function modes of the coefficients.
    samples : ndarray (n_chains, n_draws, p) or None
        HMC draws (None before HMC).
    accept_rate, step_size : ndarray (n_chains,) or None
        Per chain: mean acceptance and adapted step size.
    divergences : ndarray of int (n_chains,) or None
        Divergent trajectories per chain after warm-up.
    estimate : VelocityEstimate or None
        The MAP estimate with its posterior (None for a loaded result).
    fit_report : FitReport or None
        ``estimate.diagnostics()``.
    sampler_result : SamplerResult or None
        The HMC run.
    sampler_report : SamplerDiagnostics or None
        ``sampler_result.diagnostics()``.

    Examples
    --------
    >>> import tempfile
    >>> result = WorkflowResult(np.zeros(4), np.zeros((2, 8, 8)), np.eye(4),
    ...                         np.ones((2, 8, 8)), np.zeros((3, 6)), 9.5, np.eye(4, 2))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = result.save(Path(folder) / "estimate.npz")
    ...     loaded = WorkflowResult.load(path)
    >>> loaded.misfit, loaded.samples is None
    (9.5, True)
    """

    coefficients: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    velocity_std: np.ndarray
    predicted: np.ndarray
    misfit: float
    wavevectors: np.ndarray
    samples: np.ndarray | None = None
    accept_rate: np.ndarray | None = None
    step_size: np.ndarray | None = None
    divergences: np.ndarray | None = None
    estimate: VelocityEstimate | None = field(default=None, repr=False)
    fit_report: FitReport | None = field(default=None, repr=False)
    sampler_result: SamplerResult | None = field(default=None, repr=False)
    sampler_report: SamplerDiagnostics | None = field(default=None, repr=False)

    @classmethod
    def from_estimate(cls, estimate: VelocityEstimate) -> WorkflowResult:
        """The result after the MAP: ``estimate``'s arrays and its fit report."""
        post = estimate.posterior
        return cls(estimate.coefficients, estimate.velocity, estimate.covariance,
                   estimate.velocity_std(), post.predict(estimate.coefficients),
                   estimate.misfit, post.basis.wavevectors, estimate=estimate,
                   fit_report=estimate.diagnostics())

    def add_samples(self, samples: SamplerResult) -> None:
        """Record an HMC run and its diagnostics (failed checks are
        :class:`~advdiff_sens.exceptions.FitWarning`)."""
        self.samples, self.accept_rate = samples.samples, samples.accept_rate
        self.step_size, self.divergences = samples.step_size, samples.divergences
        self.sampler_result, self.sampler_report = samples, samples.diagnostics()

    def arrays(self) -> dict[str, np.ndarray | float]:
        """The arrays :meth:`save` writes: :data:`MAP_ARRAYS`, then :data:`SAMPLE_ARRAYS`
        once there are samples."""
        names = MAP_ARRAYS + (SAMPLE_ARRAYS if self.samples is not None else ())
        return {name: getattr(self, name) for name in names}

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`arrays` to the ``.npz`` file ``path`` atomically: a partial file
        (``path.part`` while writing) never replaces a good one. Returns the path."""
        return save_arrays(path, self.arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> WorkflowResult:
        """Read a result :meth:`save` wrote (its arrays; no live objects).

        Raises
        ------
        ValueError
            The file lacks one of :data:`MAP_ARRAYS`, or holds some but not all of
            :data:`SAMPLE_ARRAYS`.
        """
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        missing = [name for name in MAP_ARRAYS if name not in arrays]
        sampled = [name for name in SAMPLE_ARRAYS if name in arrays]
        if sampled:
            missing += [name for name in SAMPLE_ARRAYS if name not in arrays]
        if missing:
            raise ValueError(f"{path} lacks the array(s) {missing} of a saved workflow result "
                             f"(expected {list(MAP_ARRAYS)}, and {list(SAMPLE_ARRAYS)} after "
                             "HMC)")
        arrays["misfit"] = float(arrays["misfit"])
        return cls(**{name: arrays.get(name) for name in MAP_ARRAYS + SAMPLE_ARRAYS})


def run_workflow(model: AdvectionDiffusion, theta0, sensors, times, data, noise_std, *,
                 kmax: float = 2, prior_std=None, continuation=(3, 6, 10),
                 optimizer: str | Optimiser = "gauss-newton",
                 gradient: str | PosteriorGradient = "auto", n_starts: int = 1,
                 sampler: HMC = DEFAULT_SAMPLER, n_draws: int = 60,
                 n_chains: int = HMC_CHAINS, rng=None,
                 path: str | os.PathLike | None = None, progress=None,
                 callback: Callable[[str, WorkflowResult], None] | None = None
                 ) -> WorkflowResult:
    r"""MAP by continuation and Laplace covariance, then HMC from the MAP in the Laplace metric.

    The MAP and :math:`Σ = (G^TG + S^{-2})^{-1}` come from
    :func:`~advdiff_sens.inference.estimate.estimate_velocity` (its FitWarnings included);
    then ``n_chains`` chains of ``sampler`` (an :class:`advdiff_sens.sampling.HMC` with its
    own step size, leapfrog steps and warm-up; its metric is :math:`Σ` unless it has one)
    draw ``n_draws`` each, with the posterior's gradient, bounded by
    :meth:`~advdiff_sens.inference.posterior.VelocityPosterior.in_bounds`; the sampler's
    diagnostics warn for failed checks.

    Parameters
    ----------
    model, theta0, sensors, times, data, noise_std, kmax, prior_std, continuation
        As in :func:`~advdiff_sens.inference.estimate.estimate_velocity`.
    optimizer, gradient, n_starts
        As in :func:`~advdiff_sens.inference.estimate.estimate_velocity`.
    sampler : HMC
        The sampler and its options (:data:`DEFAULT_SAMPLER` unless given); without an
        ``inverse_mass`` of its own it runs in the Laplace metric :math:`Σ`.
    n_draws : int
        Draws per chain after warm-up, >= 4.
    n_chains : int
        Chains, >= 1.
    rng : None, int or numpy.random.Generator
        Passed as it is to both stages: the extra starts of the MAP, then the chains (an int
        seeds each stage alike; a Generator is drawn from in turn).
    path : str or path-like, optional
        ``.npz`` file written (:meth:`WorkflowResult.save`) after the MAP and again after HMC;
        its folder must exist.
    progress : {None, "auto"}
        Progress lines on stderr (:mod:`advdiff_sens.progress`) for the MAP and each chain:
        ``"auto"`` prints once a stage has run a few seconds, None prints nothing. (The two
        stages count different units, so one meter object cannot serve both.)
    callback : callable, optional
        ``callback(event, result)`` at each of :data:`WORKFLOW_EVENTS`, in the order
        ``"map"``, ``"saved"``, ``"hmc"``, ``"saved"`` (``"saved"`` only with ``path``).

    Returns
    -------
    WorkflowResult

    Examples
    --------
    >>> import warnings
    >>> from advdiff_sens.exceptions import FitWarning
    >>> from advdiff_sens.problems import make_twin
    >>> from advdiff_sens.sampling import HMC
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FitWarning)   # 2 x 4 draws: ESS far below 100
    ...     result = run_workflow(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                           twin.noise_std, kmax=1, n_draws=4, rng=0,
    ...                           sampler=HMC(step_size=0.6, n_leapfrog=5, n_warmup=2))
    >>> result.coefficients.shape, result.samples.shape
    ((4,), (2, 4, 4))
    """
    path = check_output_path(path)
    if progress not in (None, "auto"):
        raise ValueError(f"progress must be None or 'auto', got {progress!r}")
    if not isinstance(sampler, HMC):
        raise TypeError(f"sampler must be an advdiff_sens.sampling.HMC, got "
                        f"{type(sampler).__name__}")
    n_draws = check_integer(n_draws, "n_draws", minimum=4)
    n_chains = check_integer(n_chains, "n_chains", minimum=1)
    if callback is not None:
        check_callable(callback, "callback")

    def report(event: str) -> None:
        if callback is not None:
            callback(event, result)
        if path is not None:
            result.save(path)
            if callback is not None:
                callback("saved", result)

    estimate = estimate_velocity(model, theta0, sensors, times, data, noise_std, kmax=kmax,
                                 prior_std=prior_std, rng=rng, continuation=continuation,
                                 optimizer=optimizer, gradient=gradient, n_starts=n_starts,
                                 progress=progress)
    result = WorkflowResult.from_estimate(estimate)
    report("map")
    post = estimate.posterior
    if sampler.inverse_mass is None:
        sampler = sampler.with_inverse_mass(estimate.covariance)
    samples = sampler.sample(post.log_density, lambda c: -post.value_and_gradient(c)[1],
                             estimate.coefficients, n_draws, n_chains=n_chains,
                             in_bounds=post.in_bounds, rng=rng, progress=progress)
    result.add_samples(samples)
    report("hmc")
    return result
