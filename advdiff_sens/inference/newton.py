r"""Inexact Newton-CG for the negative log-posterior, matrix-free and for any number of
parameters: the method of hIPPYlib (Villa, Petra & Ghattas 2021, ``ReducedSpaceNewtonCG``).

The posterior. :class:`NewtonCG` needs of ``posterior`` only ``n_params``, ``n_data``, ``prior``
(a :class:`~advdiff_sens.sampling.GaussianReference` :math:`N(m, C)`) and ``linearise(c)``,
which returns an object with ``point``, ``value`` :math:`Ψ(c)`, ``misfit`` :math:`Φ(c)`,
``gradient`` :math:`∇Ψ(c)`, ``misfit_hessian(v)`` :math:`G^TGv` and ``hessian(v)``
:math:`(G^TG + C^{-1})v` (one forward solve and one adjoint for the linearisation, one tangent
and one adjoint per product), where

.. math::

    Ψ(c) = Φ(c) + \tfrac12|C^{-1/2}(c − m)|^2,\qquad Φ(c) = \tfrac12|(F(c) − d)/σ|^2,

and :math:`G = ∂[(F − d)/σ]/∂c` is the whitened Jacobian.

The iteration. At :math:`c_k` with gradient :math:`g_k`, the Gauss–Newton system

.. math::

    (G^TG + C^{-1})\,p_k = −g_k

is solved by CG preconditioned by the prior covariance :math:`C`
(:func:`~advdiff_sens.inference.steihaug_cg`): the preconditioned operator
:math:`C^{1/2\,T}(G^TG + C^{-1})C^{1/2} = I + \tilde H` is the identity plus the
prior-preconditioned data Hessian of rank ≤ N, so CG needs about as many iterations as
:math:`\tilde H` has eigenvalues above 1, whatever p is. CG stops at the Eisenstat–Walker
forcing term

.. math::

    η_k = \min\Big(η_{max}, \sqrt{|g_k|_C/|g_0|_C}\Big),\qquad |g|_C = \sqrt{g^TCg},

of the relative residual in the preconditioned norm (inexact early, exact near the optimum:
superlinear convergence of order 1.5, quadratic where the Gauss–Newton Hessian is the
Hessian — a zero-residual optimum — and :math:`η_{max} → 0`), or on negative curvature. The
step is made safe by a :class:`Globalisation`:

* :class:`ArmijoLineSearch` — :math:`c_{k+1} = c_k + α p_k` with the first
  :math:`α = 1, \tfrac12, \tfrac14, …` such that
  :math:`Ψ(c_k + αp_k) ≤ Ψ(c_k) + c_{armijo}\,α\,g_k^Tp_k`;
* :class:`SteihaugTrustRegion` — CG stops on the boundary :math:`|p|_{C^{-1}} = Δ_k`; the step
  is accepted when the ratio :math:`ρ_k` of the actual to the predicted reduction
  :math:`Ψ(c_k) − m_k(p_k)`, :math:`m_k(p) = Ψ(c_k) + g_k^Tp + \tfrac12p^T(G^TG + C^{-1})p`,
  exceeds ``accept_ratio``; :math:`Δ` halves when :math:`ρ < \tfrac14` and doubles when
  :math:`ρ > \tfrac34` on the boundary (Nocedal & Wright, Algorithm 4.1).

It stops on the gradient, :math:`|g_k|_C ≤ \max(\text{rtol}\,|g_0|_C, \text{atol})`; on the
discrepancy principle, :math:`2Φ(c_k) ≤ τ^2N` (optional: the data are fitted to their noise,
iterating further fits the noise); on a step too small to matter (:math:`|c_{k+1} − c_k|_{C^{-1}}`
below ``step_tol`` prior sds, or a predicted decrease below the rounding of Ψ); or at
``max_iter``. :data:`NEWTON_STOP_REASONS` lists the reasons.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advdiff_sens.exceptions import FitWarning, NonFiniteResultError
from advdiff_sens.inference.linalg import CGResult, steihaug_cg
from advdiff_sens.inference.optimisers import (OPTIMIZERS, EvaluationCallback, Optimiser,
                                               OptimiserResult)
from advdiff_sens.progress import as_progress, meter_closed
from advdiff_sens.registry import Registry
from advdiff_sens.validation import (as_real_array, check_integer, check_nonnegative_scalar,
                                     check_positive_scalar)

__all__ = ["Globalisation", "ArmijoLineSearch", "SteihaugTrustRegion", "GLOBALISATIONS",
           "NewtonCG", "NEWTON_STOP_REASONS"]

#: Why :class:`NewtonCG` stopped (:attr:`OptimiserResult.stop_reason`): the gradient test;
#: the discrepancy principle; a step too small to change Ψ; ``max_iter``; no decrease of Ψ
#: along the Newton direction (the last two warn).
NEWTON_STOP_REASONS = ("gradient", "discrepancy", "small step", "max_iter", "no descent")

#: A predicted decrease below this many units of rounding of Ψ cannot be measured.
_ROUNDING_UNITS = 16


@dataclass(frozen=True)
class _Step:
    """What a globalisation made of one CG direction."""

    point: np.ndarray          # c_{k+1} (c_k if rejected)
    linearisation: object      # posterior.linearise there
    accepted: bool
    length: float              # |c_{k+1} − c_k|_{C^{-1}}
    radius: float | None       # trust-region radius for the next CG solve
    stop: str | None = None    # a reason of NEWTON_STOP_REASONS, or None to go on
    message: str = ""


class Globalisation(ABC):
    r"""How :class:`NewtonCG` makes a Newton step safe far from the optimum.

    A subclass gives :attr:`initial_radius` (the trust-region radius of the first CG solve,
    None for an unconstrained solve) and turns each CG direction into a step.

    Examples
    --------
    >>> sorted(GLOBALISATIONS.names())
    ['armijo', 'trust-region']
    >>> isinstance(GLOBALISATIONS.resolve("trust-region", "globalisation"), Globalisation)
    True
    """

    @property
    def initial_radius(self) -> float | None:
        """Trust-region radius of the first CG solve (None: unconstrained)."""
        return None

    @abstractmethod
    def _step(self, evaluate: Callable[[np.ndarray], object], c: np.ndarray, lin,
              gradient: np.ndarray, cg: CGResult, radius: float | None, rounding: float,
              step_tol: float) -> _Step:
        """Turn the CG direction ``cg.solution`` at ``c`` into a step."""


GLOBALISATIONS: Registry[Globalisation] = Registry("globalisation", Globalisation)


def _small(step_length: float, step_tol: float) -> str:
    return (f"the step |Δc|_C⁻¹ = {step_length:.3e} prior sds is below step_tol = {step_tol:g}")


@GLOBALISATIONS.register("armijo")
class ArmijoLineSearch(Globalisation):
    r"""Backtracking line search along the CG direction :math:`p`: the first
    :math:`α = 1, \text{shrink}, \text{shrink}^2, …` with the Armijo sufficient decrease

    .. math::

        Ψ(c + αp) ≤ Ψ(c) + c_{armijo}\,α\,g^Tp .

    A trial point where Ψ is not finite counts as no decrease (the step backtracks).

    Parameters
    ----------
    c_armijo : float
        Sufficient-decrease constant, in (0, 1).
    max_backtracks : int
        Backtracks allowed per iteration (at most ``max_backtracks + 1`` trial points); after
        them :class:`NewtonCG` stops with ``"no descent"`` and warns.
    shrink : float
        Factor of α per backtrack, in (0, 1).

    Examples
    --------
    >>> ArmijoLineSearch(max_backtracks=6)
    ArmijoLineSearch(c_armijo=0.0001, max_backtracks=6, shrink=0.5)
    >>> ArmijoLineSearch(c_armijo=1.5)
    Traceback (most recent call last):
    ...
    ValueError: c_armijo must be in (0, 1), got 1.5
    """

    def __init__(self, c_armijo: float = 1e-4, max_backtracks: int = 12,
                 shrink: float = 0.5) -> None:
        self.c_armijo = _unit_interval(c_armijo, "c_armijo")
        self.max_backtracks = check_integer(max_backtracks, "max_backtracks", minimum=0)
        self.shrink = _unit_interval(shrink, "shrink")

    def __repr__(self) -> str:
        return (f"ArmijoLineSearch(c_armijo={self.c_armijo!r}, "
                f"max_backtracks={self.max_backtracks}, shrink={self.shrink!r})")

    def _step(self, evaluate, c, lin, gradient, cg, radius, rounding, step_tol) -> _Step:
        direction = cg.solution
        slope = float(gradient @ direction)
        if not slope < 0:
            return _Step(c, lin, False, 0.0, radius, "no descent",
                         f"the CG direction is not a descent direction (gᵀp = {slope:.3e} ≥ 0):"
                         " the Hessian products or the gradient are inaccurate")
        if -slope <= rounding:
            return _Step(c, lin, False, 0.0, radius, "small step",
                         f"the predicted decrease −gᵀp = {-slope:.3e} is below the rounding of Ψ")
        alpha = 1.0
        for _ in range(self.max_backtracks + 1):
            length = alpha * cg.solution_norm
            if length <= step_tol:
                return _Step(c, lin, False, 0.0, radius, "small step", _small(length, step_tol))
            point = c + alpha * direction
            trial = evaluate(point)
            if trial.value <= lin.value + self.c_armijo * alpha * slope:   # False for NaN
                return _Step(point, trial, True, length, radius)
            alpha *= self.shrink
        return _Step(c, lin, False, 0.0, radius, "no descent",
                     f"no sufficient decrease of Ψ = {lin.value:.6g} after max_backtracks = "
                     f"{self.max_backtracks} backtracks (last α = {alpha / self.shrink:.3e}, "
                     f"gᵀp = {slope:.3e}): the gradient or the Hessian products are inaccurate, "
                     "or Ψ is not smooth here; raise max_backtracks or use SteihaugTrustRegion")


@GLOBALISATIONS.register("trust-region")
class SteihaugTrustRegion(Globalisation):
    r"""Trust region in the prior-whitened norm :math:`|p|_{C^{-1}} ≤ Δ` with Steihaug's CG
    (stopped on the boundary).

    The step is accepted when :math:`ρ = (Ψ(c) − Ψ(c + p))/(Ψ(c) − m(p)) >` ``accept_ratio``;
    :math:`Δ` halves when :math:`ρ < \tfrac14` (or Ψ is not finite at :math:`c + p`) and
    doubles when :math:`ρ > \tfrac34` and CG stopped on the boundary. A rejected step keeps
    :math:`c` (and its linearisation) and solves again in the smaller region.

    Parameters
    ----------
    initial_radius : float, optional
        :math:`Δ_0` in prior sds. None: the first CG solve is unconstrained and
        :math:`Δ = \max(|p_0|_{C^{-1}}, 1)` afterwards (hIPPYlib's choice).
    accept_ratio : float
        Smallest ratio ρ of an accepted step, in [0, 1/4).

    Examples
    --------
    >>> SteihaugTrustRegion(initial_radius=2.0)
    SteihaugTrustRegion(initial_radius=2.0, accept_ratio=0.05)
    >>> SteihaugTrustRegion(accept_ratio=0.5)
    Traceback (most recent call last):
    ...
    ValueError: accept_ratio must be in [0, 0.25), got 0.5
    """

    def __init__(self, initial_radius: float | None = None, accept_ratio: float = 0.05) -> None:
        self._initial_radius = (None if initial_radius is None
                                else check_positive_scalar(initial_radius, "initial_radius"))
        self.accept_ratio = check_nonnegative_scalar(accept_ratio, "accept_ratio")
        if self.accept_ratio >= 0.25:
            raise ValueError(f"accept_ratio must be in [0, 0.25), got {accept_ratio}")

    def __repr__(self) -> str:
        return (f"SteihaugTrustRegion(initial_radius={self._initial_radius!r}, "
                f"accept_ratio={self.accept_ratio!r})")

    @property
    def initial_radius(self) -> float | None:
        return self._initial_radius

    def _step(self, evaluate, c, lin, gradient, cg, radius, rounding, step_tol) -> _Step:
        if radius is None:
            radius = max(cg.solution_norm, 1.0)
        predicted = cg.model_decrease
        if predicted <= rounding:
            return _Step(c, lin, False, 0.0, radius, "small step",
                         f"the predicted decrease {predicted:.3e} is below the rounding of Ψ")
        point = c + cg.solution
        trial = evaluate(point)
        ratio = (lin.value - trial.value) / predicted
        if not math.isfinite(ratio):
            ratio = -math.inf
        if ratio < 0.25:
            radius *= 0.5
        elif ratio > 0.75 and cg.reason == "boundary":
            radius *= 2.0
        if ratio > self.accept_ratio:
            return _Step(point, trial, True, cg.solution_norm, radius)
        if radius <= step_tol:
            return _Step(c, lin, False, 0.0, radius, "no descent",
                         f"the trust region shrank to radius {radius:.3e} ≤ step_tol = "
                         f"{step_tol:g} prior sds without an acceptable step (last ratio "
                         f"ρ = {ratio:.3g}): the gradient or the Hessian products are inaccurate")
        return _Step(c, lin, False, 0.0, radius)


def _unit_interval(x, name: str) -> float:
    x = check_positive_scalar(x, name)
    if x >= 1:
        raise ValueError(f"{name} must be in (0, 1), got {x}")
    return x


@OPTIMIZERS.register("newton-cg")
class NewtonCG(Optimiser):
    r"""Inexact Newton-CG on :math:`Ψ` with prior-preconditioned CG on the Gauss–Newton
    system, Eisenstat–Walker forcing and a line search or a trust region (module docstring).

    Each iteration costs one linearisation (forward + adjoint) per trial point and one
    Hessian product (tangent + adjoint) per CG iteration; nothing is of size p × p.

    Parameters
    ----------
    globalisation : {"armijo", "trust-region"} or Globalisation
        :class:`ArmijoLineSearch` or :class:`SteihaugTrustRegion` (by name their defaults).
    rtol, atol : float
        Stop when :math:`|g_k|_C ≤ \max(\text{rtol}\,|g_0|_C, \text{atol})`.
    max_iter : int
        Newton iterations (CG solves) allowed.
    eta_max : float
        Largest forcing term :math:`η_{max}` in (0, 1).
    cg_max_iter : int
        CG iterations (Hessian products) per Newton iteration.
    discrepancy : float, optional
        τ of the discrepancy principle: stop when :math:`2Φ(c_k) ≤ τ^2N`; None: no such stop.
    step_tol : float
        A step shorter than this many prior sds, :math:`|Δc|_{C^{-1}}`, stops the iteration.
    progress : bool, "auto" or meter, optional
        Reports every iteration: Ψ, Φ, :math:`|g|_C`, the CG iterations and the step length of
        the last step.

    Notes
    -----
    The result (:class:`~advdiff_sens.inference.OptimiserResult`) records the iterations,
    ``hessian_products``, ``cg_iterations`` and ``step_lengths`` (:math:`|Δc|_{C^{-1}}`, 0 for a
    rejected step) per iteration, ``gradient_norms`` :math:`|g_k|_C` per iterate and
    ``stop_reason`` (:data:`NEWTON_STOP_REASONS`).

    Warns
    -----
    FitWarning
        Stopped at ``max_iter`` or without descent (``stop_reason`` ``"max_iter"`` or ``"no
        descent"``); the message names the gradient reduction reached, and whether CG ran
        into ``cg_max_iter``.

    Raises
    ------
    NonFiniteResultError
        Ψ at ``c0``, or the gradient at an accepted point, is not finite.

    Examples
    --------
    A linear-Gaussian toy posterior, :math:`F(c) = Ac`, σ = 1, prior :math:`N(0, I)`: the MAP
    solves :math:`(A^TA + I)c = A^Td`.

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> A, d = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]]), np.array([1.0, 0.5, 0.0])
    >>> class Toy:
    ...     n_params, n_data, prior = 2, 3, DiagonalGaussian(np.zeros(2), 1.0)
    ...     def linearise(self, c):
    ...         r = A @ c - d
    ...         return SimpleNamespace(point=c, misfit=0.5 * r @ r, value=0.5 * (r @ r + c @ c),
    ...                                gradient=A.T @ r + c, misfit_hessian=lambda v: A.T @ A @ v,
    ...                                hessian=lambda v: A.T @ A @ v + v)
    >>> result = NewtonCG().minimise(Toy(), np.zeros(2))
    >>> result.stop_reason, bool(np.allclose(result.coefficients,
    ...                                      np.linalg.solve(A.T @ A + np.eye(2), A.T @ d)))
    ('gradient', True)
    >>> result.hessian_products == sum(result.cg_iterations)
    True
    >>> NewtonCG("trust-region", rtol=1e-10)           # doctest: +ELLIPSIS
    NewtonCG(globalisation=SteihaugTrustRegion(initial_radius=None, ...), rtol=1e-10, ...)
    """

    def __init__(self, globalisation: str | Globalisation = "armijo", rtol: float = 1e-8,
                 atol: float = 1e-12, max_iter: int = 50, eta_max: float = 0.5,
                 cg_max_iter: int = 100, discrepancy: float | None = None,
                 step_tol: float = 1e-12, progress=None) -> None:
        self.globalisation = GLOBALISATIONS.resolve(globalisation, "globalisation")
        self.rtol = check_nonnegative_scalar(rtol, "rtol")
        self.atol = check_nonnegative_scalar(atol, "atol")
        self.max_iter = check_integer(max_iter, "max_iter", minimum=1)
        self.eta_max = _unit_interval(eta_max, "eta_max")
        self.cg_max_iter = check_integer(cg_max_iter, "cg_max_iter", minimum=1)
        self.discrepancy = (None if discrepancy is None
                            else check_positive_scalar(discrepancy, "discrepancy"))
        self.step_tol = check_nonnegative_scalar(step_tol, "step_tol")
        as_progress(progress, 1, "newton-cg")                # validated now, made per run
        self.progress = progress

    def __repr__(self) -> str:
        return (f"NewtonCG(globalisation={self.globalisation!r}, rtol={self.rtol!r}, "
                f"atol={self.atol!r}, max_iter={self.max_iter}, eta_max={self.eta_max!r}, "
                f"cg_max_iter={self.cg_max_iter}, discrepancy={self.discrepancy!r}, "
                f"step_tol={self.step_tol!r})")

    def minimise(self, posterior, c0: np.ndarray, *,
                 callback: EvaluationCallback | None = None) -> OptimiserResult:
        prior = posterior.prior
        c = as_real_array(c0, "c0", shape=(posterior.n_params,))
        values: list[float] = []

        def evaluate(point: np.ndarray):
            lin = posterior.linearise(point)
            values.append(float(lin.value))
            if callback is not None:
                callback(len(values), values[-1])
            return lin

        lin = evaluate(c)
        if not math.isfinite(lin.value):
            raise NonFiniteResultError(
                f"Newton-CG: Ψ(c0) = {lin.value} is not finite: the forward model failed at the "
                "starting point; start where it is finite (the prior mean, a smaller flow)")
        threshold = (None if self.discrepancy is None
                     else self.discrepancy**2 * posterior.n_data)
        radius = self.globalisation.initial_radius
        gradient_norms: list[float] = []
        cg_iterations: list[int] = []
        step_lengths: list[float] = []
        capped, message, reason = 0, "", "max_iter"
        with meter_closed(as_progress(self.progress, self.max_iter, "newton-cg")) as meter:
            for k in range(self.max_iter + 1):
                gradient = np.asarray(lin.gradient, dtype=float)
                if not np.all(np.isfinite(gradient)):
                    raise NonFiniteResultError(
                        f"Newton-CG iteration {k}: ∇Ψ is not finite although Ψ = {lin.value:.6g}"
                        " is: the adjoint solve failed at this point")
                norm = math.sqrt(max(float(gradient @ prior.covariance(gradient)), 0.0))
                gradient_norms.append(norm)
                if k == 0:
                    tolerance = max(self.rtol * norm, self.atol)
                meter.update(k, _report(lin, norm, cg_iterations, step_lengths))
                if norm <= tolerance:
                    reason = "gradient"
                    break
                if threshold is not None and 2 * lin.misfit <= threshold:
                    reason = "discrepancy"
                    break
                if k == self.max_iter:
                    break
                forcing = min(self.eta_max, math.sqrt(norm / gradient_norms[0]))
                cg = steihaug_cg(lin.hessian, -gradient, prior.covariance, rtol=forcing,
                                 max_iter=self.cg_max_iter, radius=radius)
                cg_iterations.append(cg.iterations)
                capped += cg.reason == "max_iter"
                step = self.globalisation._step(
                    evaluate, c, lin, gradient, cg, radius,
                    _ROUNDING_UNITS * np.finfo(float).eps * abs(lin.value), self.step_tol)
                step_lengths.append(step.length)
                c, lin, radius = step.point, step.linearisation, step.radius
                if step.stop is not None:
                    reason, message = step.stop, step.message
                    gradient_norms.append(norm)                 # c unchanged
                    break
        if reason in ("max_iter", "no descent"):
            self._warn(reason, message, gradient_norms, capped, len(cg_iterations))
        return OptimiserResult(c, len(cg_iterations), values, stop_reason=reason,
                               hessian_products=sum(cg_iterations), cg_iterations=cg_iterations,
                               gradient_norms=gradient_norms, step_lengths=step_lengths)

    def _warn(self, reason: str, message: str, norms: list[float], capped: int,
              iterations: int) -> None:
        reduction = norms[-1] / norms[0]
        what = (f"stopped at max_iter = {self.max_iter}" if reason == "max_iter"
                else f"stopped without descent: {message}")
        remedy = "raise max_iter (or loosen rtol)" if reason == "max_iter" else ""
        if capped:
            remedy += ("; " if remedy else "") + (
                f"CG reached cg_max_iter = {self.cg_max_iter} in {capped} of {iterations} "
                "iterations without its forcing tolerance: raise cg_max_iter")
        warnings.warn(f"Newton-CG {what}, with |g|_C/|g_0|_C = {reduction:.2e} > rtol = "
                      f"{self.rtol:g}" + (f"; {remedy}" if remedy else ""), FitWarning,
                      stacklevel=3)


def _report(lin, norm: float, cg_iterations: list[int], step_lengths: list[float]) -> str:
    """The progress line of one Newton iterate."""
    last = (f"  cg={cg_iterations[-1]} step={step_lengths[-1]:.3g}" if cg_iterations else "")
    return f"Ψ={lin.value:.8g} Φ={lin.misfit:.6g} |g|_C={norm:.3g}{last}"
