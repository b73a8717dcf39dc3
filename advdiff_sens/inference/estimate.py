r"""Velocity estimation from point-sensor data: MAP by continuation and Laplace.

The posterior is :class:`~advdiff_sens.inference.posterior.VelocityPosterior` (model and
gradients there), the optimisers are :mod:`advdiff_sens.inference.optimisers`.

Globalisation. Φ is strongly non-convex for long windows (the observed scalar is a
many-to-one function of a flow that has stirred it for several turnover times).
:func:`estimate_velocity` therefore fits a growing prefix of the observation window
(continuation: first 3, 6, 10, then all times), warm-starting each stage from the last, from
``n_starts`` starting points; it ends with the Laplace covariance at the best end point and
the fit report (:meth:`~advdiff_sens.inference.results.VelocityEstimate.diagnostics`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference.gradients import PosteriorGradient
from advdiff_sens.inference.map import continuation_schedule, fit_stages
from advdiff_sens.inference.optimisers import OPTIMIZERS, Optimiser
from advdiff_sens.inference.parameterisations import StreamFunctionBasis
from advdiff_sens.inference.posterior import SPEED_BOUND_FACTOR, VelocityPosterior
from advdiff_sens.inference.results import StageRecord, StartRecord, VelocityEstimate
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.progress import as_progress
from advdiff_sens.validation import as_rng, check_callable, check_integer

__all__ = ["estimate_velocity", "continuation_schedule"]


def estimate_velocity(model: AdvectionDiffusion, theta0, sensors, times, data, noise_std,
                      kmax: float = 2, prior_std=None, rng=None, *, decay: float = 1.0,
                      continuation=(3, 6, 10), optimizer: str | Optimiser = "gauss-newton",
                      gradient: str | PosteriorGradient = "auto", n_starts: int = 1,
                      max_speed: float | None = None, progress=None,
                      callback: Callable[[StageRecord, np.ndarray], None] | None = None
                      ) -> VelocityEstimate:
    r"""MAP estimate and Laplace approximation of a divergence-free velocity from sensor data.

    Minimises :math:`Ψ(c) = \tfrac12\sum_j\|(Hθ(t_j;c) − d_j)/σ\|^2 + \tfrac12\|c/s\|^2`
    (:mod:`advdiff_sens.inference.posterior`) over the stream-function coefficients, by
    continuation over the
    observation window: the first ``continuation[0]`` times, then the next prefix, …, then all
    times, each stage started from the previous optimum. Measured on R3 (32², 12 coefficients,
    25 sensors × 20 times), a fit from zero on all times at once stalls in a wrong local
    minimum while the continuation reaches the truth to within the noise (the documentation's
    flow-estimation guide).

    After the fit it runs :meth:`VelocityEstimate.diagnostics` and emits each of its messages
    as a :class:`~advdiff_sens.exceptions.FitWarning`: a misfit far above its expected value
    N/2 (2Φ above the 0.999 quantile of χ²(N)), or starts that ended in distinct optima.

    The flow is :class:`~advdiff_sens.inference.parameterisations.StreamFunctionBasis` on the
    model's grid: Fourier modes on the periodic square; on a channel or a rectangle (any
    non-periodic axis, Neumann or Dirichlet for θ, is an impermeable wall) products of
    :math:`\sin(πmx_a/ℓ_a)` across the walls and Fourier factors along a periodic axis, so
    every flow it considers is tangential to the walls.

    Parameters
    ----------
    model : AdvectionDiffusion
        On a 2-D grid with any boundary conditions.
    theta0 : array_like, grid.shape
        Initial scalar field (known).
    sensors : array_like (m, 2)
        Sensor coordinates inside the domain.
    times : array_like (k,)
        Strictly increasing observation times > 0.
    data : array_like (k, m)
        Observations, one row per time, one column per sensor.
    noise_std : float
        Noise standard deviation σ > 0.
    kmax : float
        Stream-function modes :math:`0 < |k| ≤ k_{max}` (wavevectors in cycles per domain
        length; half-integers across walls).
    prior_std : None, float or array_like (p,)
        Prior sd :math:`s_k = \text{prior\_std}·|k|^{-\text{decay}}` for a scalar (None means
        :math:`1/2π`, unit velocity sd per mode for decay 1), or one sd per coefficient.
    rng : None, int or numpy.random.Generator
        Draws the extra starting points when ``n_starts > 1``.
    decay : float
        Spectral decay γ of the prior.
    continuation : sequence of int
        Prefix lengths fitted before the full window; ``()`` fits all times at once.
    optimizer : {"gauss-newton", "lbfgs", "newton-cg"} or Optimiser
        :class:`~advdiff_sens.inference.optimisers.GaussNewton`: trust-region least squares
        with the tangent Jacobian; :class:`~advdiff_sens.inference.optimisers.LBFGS`:
        L-BFGS-B with the posterior's gradient in a box of prior sds;
        :class:`~advdiff_sens.inference.optimisers.NewtonCG`: Newton-CG with Gauss–Newton
        Hessian-vector products. A name means the object's defaults; an object carries its
        own tolerance and iteration limit (per stage).
    gradient : {"auto", "adjoint", "tangent", "surrogate"} or PosteriorGradient
        The posterior's gradient (:mod:`advdiff_sens.inference.gradients`), used by
        ``"lbfgs"`` / ``"newton-cg"`` and by samplers of the returned posterior.
    n_starts : int
        Number of starting points: zero, then prior draws; the lowest Ψ wins. Every start's
        end point is kept in :attr:`VelocityEstimate.starts`.
    max_speed : float, optional
        :attr:`~advdiff_sens.inference.posterior.VelocityPosterior.max_speed` of the returned
        posterior (the sampling bound
        :meth:`~advdiff_sens.inference.posterior.VelocityPosterior.in_bounds`); default
        :data:`~advdiff_sens.inference.posterior.SPEED_BOUND_FACTOR` times the
        larger of the prior's and the MAP's rms speed.
    progress : None, bool, "auto" or meter
        Progress line on stderr (:func:`advdiff_sens.progress.as_progress`; ``"auto"``
        after :data:`advdiff_sens.progress.AUTO_DELAY` s). Its units are the stages of
        all starts plus the Laplace covariance; it is refreshed at every objective
        evaluation, ``MAP  2/9  start 1/2 stage 3/4 (10 times) eval 17 Ψ 123.4``.
    callback : callable, optional
        ``callback(record, coefficients)`` after every stage, with its
        :class:`StageRecord` (``record.start`` says which start) and end point.

    Returns
    -------
    VelocityEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference.optimisers import LBFGS
    >>> from advdiff_sens.problems.twin import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                         twin.noise_std, kmax=1, optimizer=LBFGS(tol=1e-9),
    ...                         gradient="tangent")
    >>> est.coefficients.shape, [stage.n_times for stage in est.history]
    ((4,), [3])
    """
    optimizer = OPTIMIZERS.resolve(optimizer, "optimizer")
    n_starts = check_integer(n_starts, "n_starts", minimum=1)
    if callback is not None:
        check_callable(callback, "callback")
    if not isinstance(model, AdvectionDiffusion):
        raise TypeError(f"model must be an AdvectionDiffusion, got {type(model).__name__}")
    basis = StreamFunctionBasis(model.grid, kmax, decay=decay)
    posterior = VelocityPosterior(model, theta0, sensors, times, data, noise_std, basis, prior_std,
                                  max_speed, gradient)
    schedule = continuation_schedule(posterior.times.size, continuation)
    start = time.perf_counter()
    rng = as_rng(rng)
    initial = [np.zeros(basis.n_params)] + [posterior.prior_std * rng.standard_normal(basis.n_params)
                                            for _ in range(n_starts - 1)]
    n_units = n_starts * len(schedule) + 1
    meter = as_progress(progress, n_units, "MAP")
    records = []
    try:
        for i, c in enumerate(initial):
            def report(stage: int, text: str, i=i) -> None:
                meter.update(i * len(schedule) + stage, f"start {i + 1}/{n_starts} {text}")

            def on_stage(record: StageRecord, c_end: np.ndarray, i=i) -> None:
                record.start = i
                meter.update(i * len(schedule) + len(
                    [s for s in schedule if s <= record.n_times]),
                    f"start {i + 1}/{n_starts} {record.n_times} times done, "
                    f"Ψ {record.neg_log_posterior:.4g}")
                if callback is not None:
                    callback(record, c_end)

            c, history = fit_stages(posterior, c, optimizer, schedule, report, on_stage)
            records.append(StartRecord(initial[i], c, posterior.neg_log_posterior(c),
                                       posterior.misfit(c), history))
        best = min(records, key=lambda r: r.neg_log_posterior)
        covariance = posterior.laplace_covariance(best.coefficients)
        meter.update(n_units, f"Laplace covariance, Ψ {best.neg_log_posterior:.4g}")
    finally:
        meter.close()
    if max_speed is None:
        posterior.max_speed = SPEED_BOUND_FACTOR * max(posterior.prior_rms_speed,
                                                       posterior.rms_speed(best.coefficients))
    estimate = VelocityEstimate(best.coefficients, posterior.velocity(best.coefficients),
                                covariance, posterior, best.history, best.misfit,
                                time.perf_counter() - start, records, optimizer)
    for message in estimate.diagnostics().warnings:
        warnings.warn(message, FitWarning, stacklevel=2)
    return estimate
