r"""Velocity estimation from point-sensor data: posterior, MAP (with continuation) and Laplace.

Model (reference problem R3, DESIGN.md §4). The velocity is divergence free,
:math:`\mathbf u = Bc` with :math:`B` the stream-function basis of
:class:`advdiff_sens.inference.parameterisations.StreamFunctionBasis` (modes :math:`0 < |k| ≤ k_{max}`), and

.. math::

    d_j = Hθ(t_j; c) + ε_j,\quad ε_j \sim N(0, σ^2 I),\qquad
    c_k \sim N(0, s_k^2),\quad s_k = s_0|k|^{-γ}.

The negative log-posterior (up to a constant) is

.. math::

    Ψ(c) = \underbrace{\tfrac12\sum_j \|(Hθ(t_j; c) − d_j)/σ\|^2}_{Φ(c)}
           + \tfrac12\sum_k (c_k/s_k)^2 .

Gradients:

* **adjoint** — :math:`∇_cΦ = B^T∇_{\mathbf u}Φ` with :math:`∇_{\mathbf u}Φ` from
  :meth:`advdiff_sens.AdvectionDiffusion.gradient` (the discrete adjoint, about four or five
  forward solves, with the Chebyshev backend; the quadrature adjoint with ``"scipy"``; cost
  independent of the number of parameters p);
* **tangent** — the whitened Jacobian :math:`G = σ^{-1}[Hρ_i(t_j)]`, one exact tangent solve
  per basis direction, :math:`ρ_i = ∂θ/∂\mathbf u[Bε_i]`, then :math:`∇_cΦ = G^T r`; cheaper
  than the adjoint for few parameters (measured crossover in :data:`TANGENT_MAX_PARAMS`) and
  it gives the Gauss–Newton Hessian :math:`G^TG + S^{-2}` outright;
* **surrogate** — the first-order surrogate (1.6) adjoint, one backward solve, approximate.

The Gauss–Newton Hessian-vector product is the tangent in direction :math:`Bv` followed by the
adjoint of the linearised misfit, :math:`(G^TG + S^{-2})v`. The Laplace approximation at the
MAP :math:`\hat c` is :math:`N(\hat c, (G^TG + S^{-2})^{-1})`.

Globalisation. Φ is strongly non-convex for long windows (the observed scalar is a
many-to-one function of a flow that has stirred it for several turnover times).
:func:`estimate_velocity` therefore fits a growing prefix of the observation window
(continuation: first 3, 6, 10, then all times), warm-starting each stage from the last, from
``n_starts`` starting points.

Fit report (:meth:`VelocityEstimate.diagnostics`). Under a correct model the whitened
residuals at the truth are N i.i.d. standard normals, so :math:`2Φ \sim χ^2(N)`:
:math:`E[Φ] = N/2`, :math:`\operatorname{sd}(Φ) = \sqrt{N/2}`. A MAP misfit with
:math:`2Φ` above the 0.999 quantile of :math:`χ^2(N)` means a wrong basin or a wrong model
(κ, σ, k_max), and then the Laplace sd understate the actual error; starts that end in
distinct optima mean local minima (and possibly a multimodal posterior). Both give a
:class:`~advdiff_sens.exceptions.FitWarning` saying what to try.

Sampling bound. HMC trajectories can run away to flows so strong that a single solve takes
minutes; :meth:`VelocityPosterior.in_bounds` (rms speed ≤ :attr:`VelocityPosterior.max_speed`)
is the bound to hand to :func:`advdiff_sens.sampling.samplers.hmc`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.stats import chi2

from advdiff_sens.validation import as_real_array, as_rng, as_times, check_integer, check_positive_scalar
from advdiff_sens.exceptions import FitWarning
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.discretisation.observations import LeastSquaresObjective
from advdiff_sens.progress import as_progress
from advdiff_sens.inference.parameterisations import StreamFunctionBasis

__all__ = ["VelocityPosterior", "VelocityEstimate", "StageRecord", "StartRecord", "FitReport",
           "estimate_velocity", "continuation_schedule", "stacked_tangent", "GRADIENT_METHODS",
           "OPTIMIZERS", "TANGENT_MAX_PARAMS", "BOX_PRIOR_SDS", "SPEED_BOUND_FACTOR",
           "MISFIT_QUANTILE", "DISTINCT_OPTIMUM_PSI"]

GRADIENT_METHODS = ("auto", "adjoint", "tangent", "surrogate")
OPTIMIZERS = ("gauss-newton", "lbfgs", "newton-cg")
#: ``gradient="auto"`` uses the tangent Jacobian up to this many parameters and the adjoint
#: above it. Measured on R3 (24², 20 times, 2 cores) with the twin's ``"scipy"`` backend: 12
#: tangent directions 0.13–0.57 s against 1.2–3.8 s for one (quadrature) adjoint gradient,
#: about 0.05 s per direction. With the Chebyshev backend the discrete adjoint (0.13 s) already
#: beats 12 directions (0.25 s), but Gauss–Newton needs the Jacobian anyway.
TANGENT_MAX_PARAMS = 48
DEFAULT_PRIOR_STD = 1 / (2 * np.pi)
#: L-BFGS-B searches the box ``|c_k| ≤ BOX_PRIOR_SDS·s_k`` (prior mass outside ≈ 1e-23): an
#: unbounded line search driven by a poor (surrogate) gradient tried flows so strong that a
#: single solve took minutes and overflowed.
BOX_PRIOR_SDS = 10.0
#: Default :attr:`VelocityPosterior.max_speed`: this many times the prior's rms speed (and,
#: after :func:`estimate_velocity`, the MAP's rms speed if that is larger). Under the prior
#: the squared rms speed is a weighted sum of p ≥ 4 squared normals; with the default
#: spectrum (nearly equal weights) exceeding 3² = 9 times its mean has probability about
#: P(χ²₄ > 36) = 3e-7, and e⁻⁹ ≈ 1e-4 if a single cos/sin pair dominated. It is a guard
#: against runaway HMC trajectories, not a constraint the posterior should feel; a bound that
#: is hit shows as divergences in :meth:`advdiff_sens.sampling.samplers.SamplerResult.diagnostics`.
SPEED_BOUND_FACTOR = 3.0
#: The fit report warns when 2Φ exceeds this quantile of χ²(N).
MISFIT_QUANTILE = 0.999
#: Two starts end in the same optimum when their Ψ differ by at most this (a factor e in
#: posterior density) and their coefficients by at most one Laplace sd (Mahalanobis distance
#: ≤ 1 in the MAP's Laplace covariance).
DISTINCT_OPTIMUM_PSI = 1.0


def stacked_tangent(model: AdvectionDiffusion, u: np.ndarray, theta0: np.ndarray,
                    directions: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""θ(t_j) and the exact tangents (4.5) ρ_i(t_j) = ∂θ(t_j)/∂u[v_i] for p directions in one
    solve (the arrow system of :func:`advdiff_sens.matrix.expm_frechet_actions`, through
    :meth:`AdvectionDiffusion.tangent`).

    Returns
    -------
    theta : ndarray (k, n)
    rho : ndarray (p, k, n)
    """
    rho, theta = model.tangent(u, theta0, directions, times, with_solution=True)
    n = model.grid.n
    return theta.reshape(len(times), n), rho.reshape(len(directions), len(times), n)


def _coefficient_prior_std(basis: StreamFunctionBasis, prior_std) -> np.ndarray:
    """Per-coefficient prior sd: ``prior_std·|k|^-decay`` (scalar or None) or an explicit (p,) array."""
    if prior_std is None:
        return DEFAULT_PRIOR_STD * basis.prior_scale
    if np.ndim(prior_std) == 0:
        return check_positive_scalar(prior_std, "prior_std") * basis.prior_scale
    s = as_real_array(prior_std, "prior_std", shape=(basis.n_params,))
    if np.any(s <= 0):
        raise ValueError("prior_std must be > 0 for every coefficient")
    return s


class VelocityPosterior:
    r"""The posterior of the stream-function coefficients given point-sensor data.

    Parameters
    ----------
    model : AdvectionDiffusion
        On a 2-D doubly periodic grid.
    theta0 : array_like, grid.shape
        Known initial scalar field.
    sensors : array_like (m, 2)
        Sensor coordinates inside the domain.
    times : array_like (k,)
        Strictly increasing observation times > 0.
    data : array_like (k, m)
        Sensor readings.
    noise_std : float
        Noise standard deviation σ > 0.
    basis : StreamFunctionBasis
    prior_std : None, float or array_like (p,)
        See :func:`estimate_velocity`.
    max_speed : float, optional
        Bound on the rms speed for :meth:`in_bounds`; default :data:`SPEED_BOUND_FACTOR`
        times :attr:`prior_rms_speed`.
    """

    def __init__(self, model: AdvectionDiffusion, theta0, sensors, times, data, noise_std,
                 basis: StreamFunctionBasis, prior_std=None, max_speed: float | None = None
                 ) -> None:
        if not isinstance(model, AdvectionDiffusion):
            raise TypeError(f"model must be an AdvectionDiffusion, got {type(model).__name__}")
        if not isinstance(basis, StreamFunctionBasis) or basis.grid is not model.grid:
            raise TypeError("basis must be a StreamFunctionBasis on model.grid")
        self.model, self.basis = model, basis
        self.theta0 = model.grid.check_field(theta0, "theta0")
        self.times = as_times(times, "times")[0]
        if self.times[0] <= 0:
            raise ValueError(f"times must be > 0, got first time {self.times[0]}")
        data = as_real_array(data, "data", ndim=2)
        if data.shape[0] != self.times.size:
            raise ValueError(f"data must have one row per time: shape ({self.times.size}, "
                             f"n_sensors), got {data.shape}")
        self.objective = LeastSquaresObjective(model.grid, sensors, data, noise_std)
        self.sensors = as_real_array(sensors, "sensors", ndim=2)
        self.data, self.noise_std = self.objective.data, self.objective.noise_std
        self.prior_std = _coefficient_prior_std(basis, prior_std)
        self._directions = np.stack([basis.to_velocity(e) for e in np.eye(basis.n_params)])
        fields = self._directions.reshape(basis.n_params, -1)
        self._speed_gram = fields @ fields.T / model.grid.n
        self._last_value: tuple[np.ndarray, float] | None = None
        self.max_speed = (SPEED_BOUND_FACTOR * self.prior_rms_speed if max_speed is None
                          else max_speed)

    @property
    def max_speed(self) -> float:
        """Largest rms speed :meth:`in_bounds` accepts (settable, > 0)."""
        return self._max_speed

    @max_speed.setter
    def max_speed(self, value: float) -> None:
        self._max_speed = check_positive_scalar(value, "max_speed")

    @property
    def prior_rms_speed(self) -> float:
        r"""Prior root-mean-square speed :math:`\sqrt{E[\overline{|\mathbf u|^2}]}
        = \sqrt{\sum_k s_k^2 G_{kk}}`, with :math:`G` the Gram matrix of
        :meth:`rms_speed` (the overline is the mean over the grid nodes)."""
        return float(np.sqrt(np.sum(self.prior_std**2 * np.diag(self._speed_gram))))

    def rms_speed(self, c) -> float:
        r"""Root-mean-square speed of :math:`\mathbf u = Bc` over the grid nodes,
        :math:`\sqrt{c^TGc}` with :math:`G = B^TB/n`."""
        c = self._coefficients(c)
        return float(np.sqrt(max(c @ self._speed_gram @ c, 0.0)))

    def in_bounds(self, c) -> bool:
        """Whether the flow of ``c`` has rms speed ≤ :attr:`max_speed`.

        Pass it as ``in_bounds`` to :func:`advdiff_sens.sampling.samplers.hmc`: a trajectory that
        leaves the bound ends as a divergence before a (slow) solve at the wild flow starts.
        """
        return self.rms_speed(c) <= self.max_speed

    @property
    def n_params(self) -> int:
        """Number of coefficients p."""
        return self.basis.n_params

    def truncated(self, n_times: int) -> VelocityPosterior:
        """The posterior given only the first ``n_times`` observation times."""
        n_times = check_integer(n_times, "n_times", minimum=1)
        return VelocityPosterior(self.model, self.theta0, self.sensors, self.times[:n_times],
                                 self.data[:n_times], self.noise_std, self.basis, self.prior_std,
                                 self.max_speed)

    def _coefficients(self, c) -> np.ndarray:
        return as_real_array(c, "c", shape=(self.n_params,))

    def velocity(self, c) -> np.ndarray:
        """Velocity field :math:`Bc`, shape ``(2, *grid.shape)``."""
        return self.basis.to_velocity(c)

    def predict(self, c) -> np.ndarray:
        """Noise-free sensor readings :math:`Hθ(t_j; c)`, shape ``(k, m)``."""
        theta = self.model.solve(self.velocity(c), self.theta0, self.times)
        return self.objective.predict(theta)

    def residuals(self, c) -> np.ndarray:
        r"""Whitened residual vector :math:`[(Hθ − d)/σ;\ c/s]` of length ``k·m + p``.

        :math:`Ψ(c) = \tfrac12\|\,\text{residuals}(c)\|^2`.
        """
        c = self._coefficients(c)
        misfit = (self.predict(c) - self.data) / self.noise_std
        return np.concatenate([misfit.ravel(), c / self.prior_std])

    def misfit(self, c) -> float:
        """Data misfit :math:`Φ(c)` (the negative log-likelihood up to a constant)."""
        r = self.residuals(c)[:self.data.size]          # the data part, prior part after it
        return 0.5 * float(r @ r)

    def log_likelihood(self, c) -> float:
        """:math:`−Φ(c)`, the log-likelihood pCN needs."""
        return -self.misfit(c)

    def neg_log_posterior(self, c) -> float:
        """:math:`Ψ(c) = Φ(c) + \\tfrac12\\|c/s\\|^2` (up to an additive constant).

        Reuses the exact value :meth:`value_and_gradient` computed at the same ``c`` (HMC asks
        for the gradient at the end of a trajectory, then for the density there).
        """
        c = self._coefficients(c)
        if self._last_value is not None and np.array_equal(c, self._last_value[0]):
            return self._last_value[1]
        return 0.5 * float(np.sum(self.residuals(c) ** 2))

    def log_density(self, c) -> float:
        """Unnormalised log-posterior :math:`−Ψ(c)`."""
        return -self.neg_log_posterior(c)

    def _misfit_and_jacobian(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whitened data residual (k·m,) and its Jacobian (k·m, p) from one stacked tangent solve."""
        theta, rho = stacked_tangent(self.model, self.velocity(c), self.theta0,
                                     self._directions, self.times)
        residual = (self.objective.predict(theta) - self.data).ravel() / self.noise_std
        sens = np.stack([self.objective.predict(r) for r in rho], axis=-1)
        return residual, sens.reshape(-1, self.n_params) / self.noise_std

    def misfit_jacobian(self, c) -> np.ndarray:
        r"""Whitened Jacobian :math:`G = ∂[(Hθ − d)/σ]/∂c`, shape ``(k·m, p)``
        (:func:`stacked_tangent`)."""
        return self._misfit_and_jacobian(self._coefficients(c))[1]

    def jacobian(self, c) -> np.ndarray:
        """Jacobian of :meth:`residuals`, shape ``(k·m + p, p)``."""
        return np.vstack([self.misfit_jacobian(c), np.diag(1.0 / self.prior_std)])

    def _method(self, method: str) -> str:
        if method not in GRADIENT_METHODS:
            raise ValueError(f"method must be one of {GRADIENT_METHODS}, got {method!r}")
        if method == "auto":
            return "tangent" if self.n_params <= TANGENT_MAX_PARAMS else "adjoint"
        return method

    def value_and_gradient(self, c, method: str = "auto") -> tuple[float, np.ndarray]:
        r""":math:`Ψ(c)` and :math:`∇Ψ(c) = ∇_cΦ + c/s^2`.

        Parameters
        ----------
        c : array_like (p,)
        method : {"auto", "adjoint", "tangent", "surrogate"}
            How :math:`∇_cΦ` is computed (module docstring); ``"surrogate"`` is the
            first-order surrogate (1.6) and is approximate.
        """
        c = self._coefficients(c)
        method = self._method(method)
        prior_value = 0.5 * float(np.sum((c / self.prior_std) ** 2))
        prior_grad = c / self.prior_std**2
        if method == "tangent":
            misfit, G = self._misfit_and_jacobian(c)
            value, grad = 0.5 * float(misfit @ misfit) + prior_value, G.T @ misfit + prior_grad
        else:
            u = self.velocity(c)
            if method == "adjoint":
                value, grad_u = self.model.gradient(u, self.theta0, self.objective, self.times)
            else:
                value, grad_u = self.model.surrogate_gradient(u, self.theta0, self.objective,
                                                              self.times)
            value, grad = value + prior_value, self.basis.pullback(grad_u) + prior_grad
        self._last_value = (c.copy(), value)     # exact for every method (θ from the solve)
        return value, grad

    def gauss_newton_hvp(self, c, v) -> np.ndarray:
        r"""Gauss–Newton Hessian-vector product :math:`(G^TG + S^{-2})v`.

        One tangent solve gives :math:`Gv = σ^{-1}Hρ(t_j)`, :math:`ρ = ∂θ/∂\mathbf u[Bv]`; one
        adjoint solve of the linear functional :math:`θ ↦ σ^{-1}(Gv)^T Hθ` gives
        :math:`G^T(Gv)`.
        """
        c = self._coefficients(c)
        v = as_real_array(v, "v", shape=(self.n_params,))
        u = self.velocity(c)
        rho = self.model.tangent(u, self.theta0, self.velocity(v), self.times)
        gv = self.objective.predict(rho) / self.noise_std
        weight = (self.objective.H.T @ gv.T).T.reshape(rho.shape) / self.noise_std

        def linearised(theta):
            return float(np.sum(weight * theta)), weight

        _, grad_u = self.model.gradient(u, self.theta0, linearised, self.times)
        return self.basis.pullback(grad_u) + v / self.prior_std**2

    def gauss_newton_hessian(self, c) -> np.ndarray:
        """Dense Gauss–Newton Hessian :math:`G^TG + S^{-2}` (p tangent solves)."""
        G = self.misfit_jacobian(c)
        return G.T @ G + np.diag(1.0 / self.prior_std**2)

    def laplace_covariance(self, c) -> np.ndarray:
        """Laplace covariance :math:`(G^TG + S^{-2})^{-1}` at ``c`` (meant for the MAP)."""
        return np.linalg.inv(self.gauss_newton_hessian(c))


@dataclass
class StageRecord:
    """One continuation stage of :func:`estimate_velocity`.

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
    """Where one start of :func:`estimate_velocity` began and ended.

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
    """Result of :func:`estimate_velocity`.

    Attributes
    ----------
    coefficients : ndarray (p,)
        MAP stream-function coefficients.
    velocity : ndarray (2, *grid.shape)
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
    optimizer : str
        The optimiser used (named by the fit report's advice).
    """

    coefficients: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    posterior: VelocityPosterior
    history: list
    misfit: float
    seconds: float
    starts: list = field(default_factory=list)
    optimizer: str = "gauss-newton"

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
        r"""Check the fit (module docstring, "Fit report").

        * **Misfit**: under a correct model :math:`2Φ \sim χ^2(N)` for N data (the test
          ignores the p ≤ N fitted coefficients, which lower the expected misfit to about
          (N − p)/2, so it errs toward silence); it warns when :math:`2Φ` exceeds the
          :data:`MISFIT_QUANTILE` (0.999) quantile of :math:`χ^2(N)`
          (``scipy.stats.chi2.ppf``).
        * **Starts**: it warns when the starts ended in more than one distinct optimum
          (:meth:`optima`).

        Every message names the quantity, its value and what to try.

        Parameters
        ----------
        warn : bool
            Also emit each message as a :class:`~advdiff_sens.exceptions.FitWarning`
            (:func:`estimate_velocity` already does).

        Returns
        -------
        FitReport
        """
        n = int(self.posterior.data.size)
        phi = float(self.misfit)
        limit = 0.5 * float(chi2.ppf(MISFIT_QUANTILE, n))
        p_value = float(chi2.sf(2 * phi, n))
        optima = self.optima()
        n_starts = max(len(self.starts), 1)
        others = [o for o in OPTIMIZERS if o != self.optimizer]
        n_times = self.posterior.times.size
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
        fields = self.posterior._directions.reshape(self.posterior.n_params, -1)
        var = np.einsum("pi,pq,qi->i", fields, self.covariance, fields)
        return np.sqrt(np.maximum(var, 0)).reshape(self.velocity.shape)


def continuation_schedule(n_times: int, stages=(3, 6, 10)) -> list[int]:
    """Prefix lengths to fit in turn: the entries of ``stages`` below ``n_times``, then ``n_times``."""
    n_times = check_integer(n_times, "n_times", minimum=1)
    stages = [check_integer(s, f"stages[{i}]", minimum=1) for i, s in enumerate(stages)]
    return sorted({s for s in stages if s < n_times} | {n_times})


def _fit_stage(posterior: VelocityPosterior, c0: np.ndarray, optimizer: str, gradient: str,
               tol: float, max_iter: int,
               on_evaluation: Callable[[list], None]) -> tuple[np.ndarray, StageRecord]:
    """One continuation stage; ``on_evaluation(values)`` after every objective evaluation."""
    values: list[float] = []
    start = time.perf_counter()
    if optimizer == "gauss-newton":

        def fun(c):
            r = posterior.residuals(c)
            values.append(0.5 * float(r @ r))
            on_evaluation(values)
            return r

        res = least_squares(fun, c0, jac=posterior.jacobian, method="trf", x_scale="jac",
                            ftol=tol, xtol=tol, gtol=tol, max_nfev=max_iter)
        iterations = res.njev
    else:

        def fun(c):
            value, grad = posterior.value_and_gradient(c, gradient)
            values.append(value)
            on_evaluation(values)
            return value, grad

        if optimizer == "lbfgs":
            bound = BOX_PRIOR_SDS * posterior.prior_std
            res = minimize(fun, c0, jac=True, method="L-BFGS-B", bounds=list(zip(-bound, bound)),
                           options={"maxiter": max_iter, "ftol": tol, "gtol": tol})
        else:
            res = minimize(fun, c0, jac=True, method="Newton-CG",
                           hessp=posterior.gauss_newton_hvp,
                           options={"maxiter": max_iter, "xtol": tol})
        iterations = res.nit
    record = StageRecord(posterior.times.size, int(iterations), len(values),
                         float(min(values)), time.perf_counter() - start, values)
    return res.x, record


def estimate_velocity(model: AdvectionDiffusion, theta0, sensors, times, data, noise_std,
                      kmax: float = 2, prior_std=None, rng=None, *, decay: float = 1.0,
                      continuation=(3, 6, 10), optimizer: str = "gauss-newton",
                      gradient: str = "auto", n_starts: int = 1, tol: float = 1e-8,
                      max_iter: int = 100, max_speed: float | None = None, progress=None,
                      callback: Callable[[StageRecord, np.ndarray], None] | None = None
                      ) -> VelocityEstimate:
    r"""MAP estimate and Laplace approximation of a divergence-free velocity from sensor data.

    Minimises :math:`Ψ(c) = \tfrac12\sum_j\|(Hθ(t_j;c) − d_j)/σ\|^2 + \tfrac12\|c/s\|^2`
    (module docstring) over the stream-function coefficients, by continuation over the
    observation window: the first ``continuation[0]`` times, then the next prefix, …, then all
    times, each stage started from the previous optimum. Measured on R3 (32², 12 coefficients,
    25 sensors × 20 times), a fit from zero on all times at once stalls in a wrong local
    minimum while the continuation reaches the truth to within the noise (README section
    "Estimating a flow from scalar data").

    After the fit it runs :meth:`VelocityEstimate.diagnostics` and emits each of its messages
    as a :class:`~advdiff_sens.exceptions.FitWarning`: a misfit far above its expected value
    N/2 (2Φ above the 0.999 quantile of χ²(N)), or starts that ended in distinct optima.

    Parameters
    ----------
    model : AdvectionDiffusion
        On a 2-D doubly periodic grid.
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
        Stream-function modes :math:`0 < |k| ≤ k_{max}`.
    prior_std : None, float or array_like (p,)
        Prior sd :math:`s_k = \text{prior\_std}·|k|^{-\text{decay}}` for a scalar (None means
        :math:`1/2π`, unit velocity sd per mode for decay 1), or one sd per coefficient.
    rng : None, int or numpy.random.Generator
        Draws the extra starting points when ``n_starts > 1``.
    decay : float
        Spectral decay γ of the prior.
    continuation : sequence of int
        Prefix lengths fitted before the full window; ``()`` fits all times at once.
    optimizer : {"gauss-newton", "lbfgs", "newton-cg"}
        ``"gauss-newton"``: trust-region least squares (``scipy.optimize.least_squares``)
        with the tangent Jacobian; ``"lbfgs"``: L-BFGS-B with the gradient ``gradient`` in
        the box :data:`BOX_PRIOR_SDS` prior sds wide;
        ``"newton-cg"``: Newton-CG with Gauss–Newton Hessian-vector products.
    gradient : {"auto", "adjoint", "tangent", "surrogate"}
        Gradient used by ``"lbfgs"`` / ``"newton-cg"``.
    n_starts : int
        Number of starting points: zero, then prior draws; the lowest Ψ wins. Every start's
        end point is kept in :attr:`VelocityEstimate.starts`.
    tol : float
        Optimiser tolerance (relative change of Ψ / of c).
    max_iter : int
        Iteration (evaluation for Gauss–Newton) limit per stage.
    max_speed : float, optional
        :attr:`VelocityPosterior.max_speed` of the returned posterior (the sampling bound
        :meth:`VelocityPosterior.in_bounds`); default :data:`SPEED_BOUND_FACTOR` times the
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
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if gradient not in GRADIENT_METHODS:
        raise ValueError(f"gradient must be one of {GRADIENT_METHODS}, got {gradient!r}")
    n_starts = check_integer(n_starts, "n_starts", minimum=1)
    max_iter = check_integer(max_iter, "max_iter", minimum=1)
    tol = check_positive_scalar(tol, "tol")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if not isinstance(model, AdvectionDiffusion):
        raise TypeError(f"model must be an AdvectionDiffusion, got {type(model).__name__}")
    basis = StreamFunctionBasis(model.grid, kmax, decay=decay)
    posterior = VelocityPosterior(model, theta0, sensors, times, data, noise_std, basis, prior_std,
                                  max_speed)
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
            history = []
            for j, n_times in enumerate(schedule):
                done = i * len(schedule) + j
                label = f"start {i + 1}/{n_starts} stage {j + 1}/{len(schedule)} ({n_times} times)"

                def report(values, done=done, label=label):
                    meter.update(done, f"{label} eval {len(values)} Ψ {values[-1]:.4g}")

                c, record = _fit_stage(posterior.truncated(n_times), c, optimizer, gradient, tol,
                                       max_iter, report)
                record.start = i
                history.append(record)
                meter.update(done + 1, f"{label} done, Ψ {record.neg_log_posterior:.4g}")
                if callback is not None:
                    callback(record, c.copy())
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
