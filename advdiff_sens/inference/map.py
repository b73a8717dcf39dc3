r"""MAP estimation of any :class:`~advdiff_sens.inference.posterior.Posterior`: continuation over
the observation window, several starts, and every distinct local optimum reported.

:func:`find_map` fits a growing prefix of the observation times (continuation, as
:func:`~advdiff_sens.inference.estimate.estimate_velocity`) from ``n_starts`` starting points
— the prior mean, then prior draws — and groups the end points into optima
(:func:`group_optima`): two end points are the same optimum when their Ψ differ by at most
:data:`~advdiff_sens.inference.results.DISTINCT_OPTIMUM_PSI` and their distance in the
Gauss–Newton metric of the better one, :math:`\sqrt{δ^TH_{GN}δ}` (the Mahalanobis distance in
its Laplace covariance), is at most one. A posterior with several modes — symmetric sensors
cannot tell :math:`\mathbf u` from :math:`−\mathbf u` — shows as several optima, each with its
Ψ, Φ and the starts that reached it, and :meth:`MAPResult.diagnostics` warns about it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference.optimisers import OPTIMIZERS, Optimiser
from advdiff_sens.inference.posterior import Posterior
from advdiff_sens.inference.results import (DISTINCT_OPTIMUM_PSI, FitReport, StageRecord,
                                            StartRecord, fit_report)
from advdiff_sens.progress import as_progress
from advdiff_sens.validation import as_real_array, as_rng, check_callable, check_integer

__all__ = ["find_map", "MAPResult", "Optimum", "group_optima", "fit_stages",
           "continuation_schedule"]


def continuation_schedule(n_times: int, stages=(3, 6, 10)) -> list[int]:
    """Prefix lengths to fit in turn: the entries of ``stages`` below ``n_times``, then ``n_times``.

    Parameters
    ----------
    n_times : int
        Number of observation times (≥ 1).
    stages : sequence of int
        Prefix lengths to fit before all times (each ≥ 1); ``()`` fits all at once.

    Returns
    -------
    list of int
        Strictly increasing, ending with ``n_times``.

    Examples
    --------
    >>> continuation_schedule(20)
    [3, 6, 10, 20]
    >>> continuation_schedule(6), continuation_schedule(2)
    ([3, 6], [2])
    >>> continuation_schedule(5, stages=())
    [5]
    """
    n_times = check_integer(n_times, "n_times", minimum=1)
    stages = [check_integer(s, f"stages[{i}]", minimum=1) for i, s in enumerate(stages)]
    return sorted({s for s in stages if s < n_times} | {n_times})


@dataclass
class Optimum:
    """A distinct local optimum that one or more starts reached.

    Attributes
    ----------
    coefficients : ndarray (p,)
        The best end point of the group.
    neg_log_posterior : float
        Ψ there (all data).
    misfit : float
        Φ there.
    starts : list of int
        The starts that ended here.

    Examples
    --------
    >>> optimum = Optimum(np.zeros(2), 12.5, 11.0, [0, 3])
    >>> len(optimum.starts), optimum.misfit
    (2, 11.0)
    """

    coefficients: np.ndarray
    neg_log_posterior: float
    misfit: float
    starts: list = field(default_factory=list)


def group_optima(posterior: Posterior, records: list[StartRecord]) -> list[Optimum]:
    r"""Group the starts' end points into distinct optima, best first (module docstring).

    The metric of a group is the Gauss–Newton Hessian at its best point
    (:meth:`~advdiff_sens.inference.posterior.Linearisation.hessian`, one product per
    comparison).

    Parameters
    ----------
    posterior : Posterior
    records : list of StartRecord

    Returns
    -------
    list of Optimum

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import VelocityPosterior
    >>> from advdiff_sens.inference.results import StartRecord
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2], scheme="exponential", rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> c = twin.true_coefficients
    >>> records = [StartRecord(c, x, post.neg_log_posterior(x), post.misfit(x), [])
    ...            for x in (c, c + 1e-6, -c)]
    >>> [optimum.starts for optimum in group_optima(post, records)]      # c and -c differ
    [[0, 1], [2]]
    """
    order = sorted(range(len(records)), key=lambda i: records[i].neg_log_posterior)
    groups: list[tuple[Optimum, object]] = []
    for i in order:
        record = records[i]
        for optimum, linearisation in groups:
            delta = record.coefficients - optimum.coefficients
            distance = float(np.sqrt(max(delta @ linearisation.hessian(delta), 0.0)))
            if (record.neg_log_posterior - optimum.neg_log_posterior <= DISTINCT_OPTIMUM_PSI
                    and distance <= 1.0):
                optimum.starts.append(i)
                break
        else:
            groups.append((Optimum(record.coefficients, record.neg_log_posterior,
                                   record.misfit, [i]),
                           posterior.linearise(record.coefficients)))
    return [optimum for optimum, _ in groups]


def fit_stages(posterior: Posterior, c0: np.ndarray, optimizer: Optimiser, schedule: list[int],
               report: Callable[[int, str], None] | None = None,
               callback: Callable[[StageRecord, np.ndarray], None] | None = None
               ) -> tuple[np.ndarray, list[StageRecord]]:
    """Minimise Ψ over the growing prefixes ``schedule`` of the observation times, each stage
    warm-started from the last; ``report(stage, text)`` at every objective evaluation and
    ``callback(record, c)`` after every stage.

    Returns
    -------
    c : ndarray (p,)
        The end point.
    history : list of StageRecord

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import GaussNewton, VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> c, history = fit_stages(post, np.zeros(4), GaussNewton(), [1, 3])
    >>> [stage.n_times for stage in history]
    [1, 3]
    """
    c = np.asarray(c0, dtype=float)
    history = []
    for j, n_times in enumerate(schedule):
        stage_posterior = posterior.truncated(n_times)
        label = f"stage {j + 1}/{len(schedule)} ({n_times} times)"

        def on_evaluation(evaluation: int, value: float, j=j, label=label) -> None:
            if report is not None:
                report(j, f"{label} eval {evaluation} Ψ {value:.4g}")

        begin = time.perf_counter()
        result = optimizer.minimise(stage_posterior, c, callback=on_evaluation)
        c = result.coefficients
        record = StageRecord(n_times, result.iterations, result.evaluations,
                             float(min(result.values)), time.perf_counter() - begin,
                             result.values)
        history.append(record)
        if callback is not None:
            callback(record, c.copy())
    return c, history


@dataclass
class MAPResult:
    """What :func:`find_map` found.

    Attributes
    ----------
    posterior : Posterior
    coefficients : ndarray (p,)
        The best optimum (lowest Ψ).
    neg_log_posterior, misfit : float
        Ψ and Φ there.
    optima : list of Optimum
        Every distinct optimum, best first.
    starts : list of StartRecord
        Every start, in the order they ran.
    optimizer : Optimiser
    seconds : float

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import GaussNewton, VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> result = find_map(post, optimizer=GaussNewton(), continuation=())
    >>> report = result.diagnostics()
    >>> report.n_data, report.ok
    (27, True)
    """

    posterior: Posterior
    coefficients: np.ndarray
    neg_log_posterior: float
    misfit: float
    optima: list
    starts: list
    optimizer: Optimiser
    seconds: float

    def diagnostics(self, *, warn: bool = False) -> FitReport:
        """The fit report (:func:`~advdiff_sens.inference.results.fit_report`): the misfit
        against its χ² expectation and the distinct optima."""
        return fit_report(self.posterior, self.misfit,
                          [(o.neg_log_posterior, o.misfit, len(o.starts)) for o in self.optima],
                          len(self.starts), self.optimizer, warn=warn)


def find_map(posterior: Posterior, c0=None, *, optimizer: str | Optimiser = "newton-cg",
             continuation=(3, 6, 10), n_starts: int = 1, rng=None, progress=None,
             callback: Callable[[StageRecord, np.ndarray], None] | None = None) -> MAPResult:
    r"""MAP of ``posterior`` by continuation from several starts, with every distinct optimum.

    Parameters
    ----------
    posterior : Posterior
    c0 : array_like (p,), optional
        First starting point (default: the prior mean).
    optimizer : str or Optimiser
        A name of :data:`~advdiff_sens.inference.optimisers.OPTIMIZERS` or an object.
    continuation : sequence of int
        Prefix lengths fitted before all times
        (:func:`~advdiff_sens.inference.estimate.continuation_schedule`).
    n_starts : int
        Starting points: ``c0``, then ``n_starts − 1`` prior draws.
    rng : None, int or numpy.random.Generator
        Draws the extra starts.
    progress : None, "auto" or meter
        Progress line (units: the stages of all starts).
    callback : callable, optional
        ``callback(record, c)`` after every stage; ``record.start`` says which start.

    Returns
    -------
    MAPResult
        Its fit report's messages are emitted as
        :class:`~advdiff_sens.exceptions.FitWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import GaussNewton, VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> result = find_map(post, optimizer=GaussNewton(), continuation=())
    >>> len(result.optima), result.coefficients.shape
    (1, (4,))
    """
    if not isinstance(posterior, Posterior):
        raise TypeError(f"posterior must be a Posterior, got {type(posterior).__name__}")
    optimizer = OPTIMIZERS.resolve(optimizer, "optimizer")
    n_starts = check_integer(n_starts, "n_starts", minimum=1)
    if callback is not None:
        check_callable(callback, "callback")
    first = (posterior.prior.mean.copy() if c0 is None
             else as_real_array(c0, "c0", shape=(posterior.n_params,)))
    rng = as_rng(rng)
    initial = [first] + [posterior.prior.sample(rng) for _ in range(n_starts - 1)]
    schedule = continuation_schedule(posterior.times.size, continuation)
    meter = as_progress(progress, n_starts * len(schedule), "MAP")
    begin = time.perf_counter()
    records = []
    try:
        for i, c in enumerate(initial):
            def report(stage: int, text: str, i=i) -> None:
                meter.update(i * len(schedule) + stage, f"start {i + 1}/{n_starts} {text}")

            def on_stage(record: StageRecord, c_end: np.ndarray, i=i) -> None:
                record.start = i
                if callback is not None:
                    callback(record, c_end)

            end, history = fit_stages(posterior, c, optimizer, schedule, report, on_stage)
            records.append(StartRecord(initial[i], end, posterior.neg_log_posterior(end),
                                       posterior.misfit(end), history))
            meter.update((i + 1) * len(schedule), f"start {i + 1}/{n_starts} done")
        optima = group_optima(posterior, records)
    finally:
        meter.close()
    best = optima[0]
    result = MAPResult(posterior, best.coefficients, best.neg_log_posterior, best.misfit,
                       optima, records, optimizer, time.perf_counter() - begin)
    for message in result.diagnostics().warnings:
        warnings.warn(message, FitWarning, stacklevel=2)
    return result
