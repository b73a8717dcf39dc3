r"""What a velocity estimation returns: stage and start records, the estimate and its fit
report.

Fit report (:meth:`VelocityEstimate.diagnostics`). Under a correct model the whitened
residuals at the truth are N i.i.d. standard normals, so :math:`2Φ \sim χ^2(N)`:
:math:`E[Φ] = N/2`, :math:`\operatorname{sd}(Φ) = \sqrt{N/2}`. A MAP misfit with
:math:`2Φ` above the 0.999 quantile of :math:`χ^2(N)` means a wrong basin or a wrong model
(κ, σ, k_max), and then the Laplace sd understate the actual error; starts that end in
distinct optima mean local minima (and possibly a multimodal posterior). Both give a
:class:`~advdiff_sens.exceptions.FitWarning` saying what to try.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import chi2

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference.optimisers import OPTIMIZERS, GaussNewton, Optimiser
from advdiff_sens.inference.posterior import VelocityPosterior

__all__ = ["StageRecord", "StartRecord", "FitReport", "VelocityEstimate", "fit_report",
           "save_arrays", "check_output_path",
           "MISFIT_QUANTILE", "DISTINCT_OPTIMUM_PSI"]

#: The fit report warns when 2Φ exceeds this quantile of χ²(N).
MISFIT_QUANTILE = 0.999
#: Two starts end in the same optimum when their Ψ differ by at most this (a factor e in
#: posterior density) and their coefficients by at most one Laplace sd (Mahalanobis distance
#: ≤ 1 in the MAP's Laplace covariance).
DISTINCT_OPTIMUM_PSI = 1.0


@dataclass
class StageRecord:
    """One continuation stage of :func:`~advdiff_sens.inference.estimate.estimate_velocity`.

    Attributes
    ----------
    n_times : int
        Observation times fitted in this stage.
    iterations : int
        Optimiser iterations.
    evaluations : int
        Forward solves (objective evaluations).
    neg_log_posterior : float
        Ψ at the end of the stage (on the stage's data).
    seconds : float
        Wall time of the stage.
    values : list of float
        Ψ at every objective evaluation, in order.
    start : int
        Index of the starting point (0 is zero, then the prior draws).

    Examples
    --------
    A continuation over 1, 2, then all 3 observation times gives three stages:

    >>> import numpy as np
    >>> from advdiff_sens import estimate_velocity
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                         twin.noise_std, kmax=1, continuation=(1, 2))
    >>> [(stage.n_times, stage.start) for stage in est.history]
    [(1, 0), (2, 0), (3, 0)]
    >>> all(stage.evaluations == len(stage.values) for stage in est.history)
    True
    >>> last = est.history[-1]
    >>> bool(last.neg_log_posterior == min(last.values)), last.iterations > 0
    (True, True)
    """

    n_times: int
    iterations: int
    evaluations: int
    neg_log_posterior: float
    seconds: float
    values: list = field(default_factory=list)
    start: int = 0


@dataclass
class StartRecord:
    """Where one start of :func:`~advdiff_sens.inference.estimate.estimate_velocity` began and ended.

    Attributes
    ----------
    initial : ndarray (p,)
        Starting coefficients.
    coefficients : ndarray (p,)
        Coefficients at the end of the last stage.
    neg_log_posterior : float
        Ψ there, on all the data.
    misfit : float
        Φ there, on all the data.
    history : list of StageRecord
        The start's continuation stages.

    Examples
    --------
    Two starts, zero and a prior draw; the estimate is the one with the lower Ψ:

    >>> import numpy as np
    >>> from advdiff_sens import estimate_velocity
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                         twin.noise_std, kmax=1, continuation=(), n_starts=2, rng=0)
    >>> [bool(np.any(start.initial != 0)) for start in est.starts]
    [False, True]
    >>> best = min(est.starts, key=lambda start: start.neg_log_posterior)
    >>> bool(np.array_equal(best.coefficients, est.coefficients)), best.history is est.history
    (True, True)
    >>> bool(np.isclose(best.misfit, est.posterior.misfit(best.coefficients)))
    True
    """

    initial: np.ndarray
    coefficients: np.ndarray
    neg_log_posterior: float
    misfit: float
    history: list


@dataclass
class FitReport:
    r"""The checks of :meth:`VelocityEstimate.diagnostics`.

    Attributes
    ----------
    misfit : float
        Φ at the MAP.
    n_data : int
        Number of data N.
    expected_misfit : float
        :math:`E[Φ] = N/2` under a correct model (:math:`2Φ \sim χ^2(N)`).
    misfit_sd : float
        :math:`\operatorname{sd}(Φ) = \sqrt{N/2}`.
    misfit_limit : float
        Half the :data:`MISFIT_QUANTILE` quantile of :math:`χ^2(N)`; Φ above it warns.
    p_value : float
        :math:`P(χ^2(N) ≥ 2Φ)`.
    optima : list of (float, float, int)
        Distinct optima the starts reached, best first: (Ψ, Φ, number of starts); empty when
        the estimate recorded no starts.
    warnings : list of str
        One message per failed check.

    Examples
    --------
    For 9 sensors at 3 times N = 27, so :math:`E[Φ] = 13.5`:

    >>> import numpy as np
    >>> from advdiff_sens import estimate_velocity
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                         twin.noise_std, kmax=1)
    >>> report = est.diagnostics()
    >>> report.n_data, report.expected_misfit, bool(np.isclose(report.misfit_sd ** 2, 13.5))
    (27, 13.5, True)
    >>> report.ok, report.warnings, report.misfit < report.misfit_limit
    (True, [], True)
    >>> len(report.optima), report.optima[0][2]              # one start, one optimum
    (1, 1)
    """

    misfit: float
    n_data: int
    expected_misfit: float
    misfit_sd: float
    misfit_limit: float
    p_value: float
    optima: list
    warnings: list

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.warnings

    def __str__(self) -> str:
        lines = [f"misfit Φ = {self.misfit:.1f}, expected N/2 = {self.expected_misfit:.1f} ± "
                 f"{self.misfit_sd:.1f} for N = {self.n_data} data (warn above "
                 f"{self.misfit_limit:.1f}; p = {self.p_value:.2g})"]
        if self.optima:
            n_starts = sum(count for *_, count in self.optima)
            optima = ", ".join(f"Ψ {psi:.1f} (Φ {phi:.1f}, {count} start{'s' * (count > 1)})"
                               for psi, phi, count in self.optima)
            lines.append(f"{n_starts} start{'s' * (n_starts > 1)}, {len(self.optima)} distinct "
                         f"optim{'a' if len(self.optima) > 1 else 'um'}: {optima}")
        return "\n".join(lines + [f"warning: {m}" for m in self.warnings])


@dataclass
class VelocityEstimate:
    """Result of :func:`~advdiff_sens.inference.estimate.estimate_velocity`.

    Attributes
    ----------
    coefficients : ndarray (p,)
        MAP stream-function coefficients.
    velocity : ndarray ``(2, *grid.shape)``
        MAP velocity :math:`B\\hat c`.
    covariance : ndarray (p, p)
        Laplace (Gauss–Newton) posterior covariance at the MAP.
    posterior : VelocityPosterior
        The full-data posterior (for sampling or predictions).
    history : list of StageRecord
        The continuation stages, in order.
    misfit : float
        Φ at the MAP (half the whitened sum of squares of the data residuals).
    seconds : float
        Total wall time including the Laplace covariance.
    starts : list of StartRecord
        Every start's end point, in the order they ran (``history`` is the best one's).
    optimizer : Optimiser
        The optimiser used (the fit report's advice names the others).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import estimate_velocity
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                         twin.noise_std, kmax=1)
    >>> est.coefficients.shape, est.covariance.shape, est.velocity.shape, est.optimizer
    ((4,), (4, 4), (2, 8, 8), GaussNewton(tol=1e-08, max_evaluations=100))
    >>> bool(np.allclose(est.velocity, est.posterior.velocity(est.coefficients)))
    True
    >>> bool(np.allclose(est.std ** 2, np.diag(est.covariance))), est.velocity_std().shape
    (True, (2, 8, 8))

    The truth lies within a few Laplace sd of the MAP:

    >>> bool(np.all(np.abs(est.coefficients - twin.true_coefficients) < 4 * est.std))
    True
    """

    coefficients: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    posterior: VelocityPosterior
    history: list
    misfit: float
    seconds: float
    starts: list = field(default_factory=list)
    optimizer: Optimiser = field(default_factory=GaussNewton)

    def optima(self) -> list[tuple[float, float, int]]:
        """The distinct optima the starts reached, best first: (Ψ, Φ, number of starts).

        Starts are grouped greedily in order of Ψ; a start joins an optimum when its Ψ is
        within :data:`DISTINCT_OPTIMUM_PSI` of it and its coefficients within one Laplace sd
        (Mahalanobis distance in :attr:`covariance`).
        """
        groups: list[list] = []
        for start in sorted(self.starts, key=lambda r: r.neg_log_posterior):
            for group in groups:
                delta = start.coefficients - group[0].coefficients
                distance = float(np.sqrt(max(delta @ np.linalg.solve(self.covariance, delta),
                                             0.0)))
                if (start.neg_log_posterior - group[0].neg_log_posterior <= DISTINCT_OPTIMUM_PSI
                        and distance <= 1.0):
                    group.append(start)
                    break
            else:
                groups.append([start])
        return [(g[0].neg_log_posterior, g[0].misfit, len(g)) for g in groups]

    def diagnostics(self, *, warn: bool = False) -> FitReport:
        r"""Check the fit (:func:`fit_report`): the misfit against its χ² expectation and the
        distinct optima of the starts (:meth:`optima`).

        Parameters
        ----------
        warn : bool
            Also emit each message as a :class:`~advdiff_sens.exceptions.FitWarning`
            (:func:`~advdiff_sens.inference.estimate.estimate_velocity` already does).

        Returns
        -------
        FitReport
        """
        return fit_report(self.posterior, self.misfit, self.optima(), max(len(self.starts), 1),
                          self.optimizer, warn=warn)

    @property
    def iterations(self) -> int:
        """Optimiser iterations summed over the stages."""
        return sum(stage.iterations for stage in self.history)

    @property
    def std(self) -> np.ndarray:
        """Laplace standard deviations of the coefficients."""
        return np.sqrt(np.diag(self.covariance))

    def velocity_std(self) -> np.ndarray:
        """Pointwise Laplace sd of each velocity component, shape ``(2, *grid.shape)``.

        :math:`\\operatorname{sd}(u_a(x)) = \\sqrt{b_a(x)^TΣ\\,b_a(x)}` with :math:`b_a(x)` the
        basis fields at :math:`x`.
        """
        fields = self.posterior.directions.reshape(self.posterior.n_params, -1)
        var = np.einsum("pi,pq,qi->i", fields, self.covariance, fields)
        return np.sqrt(np.maximum(var, 0)).reshape(self.velocity.shape)


def fit_report(posterior, misfit: float, optima: list, n_starts: int, optimizer: Optimiser, *,
               warn: bool = False) -> FitReport:
    r"""Check a fit (module docstring, "Fit report").

    * **Misfit**: under a correct model :math:`2Φ \sim χ^2(N)` for N data (the test ignores
      the fitted coefficients, which lower the expected misfit, so it errs toward silence);
      it warns when :math:`2Φ` exceeds the :data:`MISFIT_QUANTILE` (0.999) quantile of
      :math:`χ^2(N)` (``scipy.stats.chi2.ppf``).
    * **Starts**: it warns when the starts ended in more than one distinct optimum.

    Every message names the quantity, its value and what to try.

    Parameters
    ----------
    posterior : Posterior
        The posterior fitted (its data and observation times).
    misfit : float
        Φ at the MAP.
    optima : list of (float, float, int)
        The distinct optima, best first: (Ψ, Φ, number of starts).
    n_starts : int
    optimizer : Optimiser
        The optimiser used (the advice names the others).
    warn : bool
        Also emit each message as a :class:`~advdiff_sens.exceptions.FitWarning`.

    Returns
    -------
    FitReport

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import GaussNewton, VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> report = fit_report(post, 500.0, [(510.0, 500.0, 1), (530.0, 520.0, 1)], 2, GaussNewton())
    >>> len(report.warnings), report.warnings[0].startswith("misfit Φ = 500")
    (2, True)
    """
    n = posterior.n_data
    phi = float(misfit)
    limit = 0.5 * float(chi2.ppf(MISFIT_QUANTILE, n))
    p_value = float(chi2.sf(2 * phi, n))
    n_starts = max(int(n_starts), 1)
    others = [name for name in OPTIMIZERS.names()
              if type(OPTIMIZERS.resolve(name, "optimizer")) is not type(optimizer)]
    n_times = posterior.times.size
    denser = tuple(2**j for j in range(1, int(np.log2(max(n_times - 1, 1))) + 1))
    schedule = (f"a denser continuation schedule (continuation={denser})" if denser else
                "more observation times to continue over")
    messages = []
    if phi > limit:
        messages.append(
            f"misfit Φ = {phi:.4g} at the MAP is far above its expected value N/2 = "
            f"{n / 2:.4g} ± {np.sqrt(n / 2):.3g} for N = {n} data (2Φ above the "
            f"{MISFIT_QUANTILE} quantile of χ²(N), Φ limit {limit:.4g}; p = {p_value:.2g}): "
            f"the optimiser probably stopped in a wrong basin, or the model (kappa, "
            f"noise_std, kmax) does not fit the data, and the Laplace sd then understate "
            f"the actual error. Try more starts (n_starts={max(2 * n_starts, 5)}), "
            f"{schedule}, more observation times "
            f"(early ones especially), another optimizer ({' or '.join(others)}), a "
            f"smaller kmax; check noise_std and kappa")
    if len(optima) > 1:
        listed = ", ".join(f"{psi:.4g}" for psi, _, _ in optima)
        messages.append(
            f"the {n_starts} starts ended in {len(optima)} distinct optima (Ψ = {listed}; "
            f"the best reached by {optima[0][2]} of {n_starts}): the misfit has local "
            f"minima, so the best may not be the global one, and where Ψ differ by a few "
            f"units the posterior is multimodal (the Laplace sd describe one mode only). "
            f"Try more starts (n_starts={2 * n_starts}), {schedule}, more observation "
            f"times; sample with HMC from each "
            f"optimum and compare")
    if warn:
        for message in messages:
            warnings.warn(message, FitWarning, stacklevel=2)
    return FitReport(phi, n, n / 2, float(np.sqrt(n / 2)), limit, p_value, optima, messages)


def check_output_path(path) -> Path | None:
    """The ``.npz`` output file of a workflow, its folder checked before any computation.

    Examples
    --------
    >>> check_output_path(None) is None, check_output_path("result.npz").name
    (True, 'result.npz')
    """
    if path is None:
        return None
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"path: the folder of {str(path)!r} does not exist; expected a file "
                         "path in an existing folder")
    return path


def save_arrays(path: str | os.PathLike, arrays: dict) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically: a partial file
    (``path.part`` while writing) never replaces a good one. Returns the path.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_arrays(Path(folder) / "x.npz", {"a": np.arange(3)})
    ...     print(np.load(path)["a"].tolist())
    [0, 1, 2]
    """
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    try:
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path

