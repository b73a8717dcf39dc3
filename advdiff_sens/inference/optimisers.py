r"""Optimisers of the negative log-posterior :math:`Ψ(c)`, each an object with its own options.

Every optimiser has :meth:`Optimiser.minimise` ``(posterior, c0, *, callback=None)`` and
returns an :class:`OptimiserResult`:

* :class:`GaussNewton` — trust-region least squares (``scipy.optimize.least_squares``,
  ``"trf"``) on the whitened residuals :math:`[(Hθ − d)/σ;\ c/s]` with the tangent Jacobian;
* :class:`LBFGS` — L-BFGS-B on :math:`Ψ` with the posterior's gradient, in the box
  :math:`|c − m| ≤ \text{box\_prior\_sds}·\sqrt{\operatorname{diag}C}` around the prior
  :math:`N(m, C)`;
* :class:`~advdiff_sens.inference.NewtonCG` — matrix-free inexact Newton-CG with
  Gauss–Newton Hessian products, prior preconditioning, Eisenstat–Walker forcing and a line
  search or a trust region (:doc:`/theory/newton_and_laplace`).

:data:`OPTIMIZERS` maps the names ``"gauss-newton"``, ``"lbfgs"`` and ``"newton-cg"`` to their
default objects.

Examples
--------
>>> OPTIMIZERS.names()
('gauss-newton', 'lbfgs', 'newton-cg')
>>> OPTIMIZERS.resolve("lbfgs", "optimizer")
LBFGS(tol=1e-08, max_iter=100, box_prior_sds=10.0)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares, minimize

from advdiff_sens.inference.posterior import VelocityPosterior
from advdiff_sens.registry import Registry
from advdiff_sens.validation import check_integer, check_positive_scalar

__all__ = ["Optimiser", "OptimiserResult", "GaussNewton", "LBFGS", "NewtonCG", "OPTIMIZERS",
           "BOX_PRIOR_SDS"]

#: Default of :class:`LBFGS` ``box_prior_sds``: L-BFGS-B searches the box
#: ``|c_k − m_k| ≤ BOX_PRIOR_SDS·sqrt(C_kk)`` (prior mass outside ≈ 1e-23 per coordinate): an
#: unbounded line search driven by a poor (surrogate) gradient tried flows so strong that a
#: single solve took minutes and overflowed.
BOX_PRIOR_SDS = 10.0

#: ``callback(evaluation, value)``: called after every objective evaluation with its number
#: (from 1) and Ψ there.
EvaluationCallback = Callable[[int, float], None]


@dataclass
class OptimiserResult:
    r"""The end of one minimisation.

    Attributes
    ----------
    coefficients : ndarray (p,)
        The end point.
    iterations : int
        Optimiser iterations (Jacobian evaluations for :class:`GaussNewton`).
    values : list of float
        Ψ at every objective evaluation, in order.
    stop_reason : str
        Why the optimiser stopped: scipy's message for :class:`GaussNewton` and
        :class:`LBFGS`, one of :data:`~advdiff_sens.inference.NEWTON_STOP_REASONS`
        for :class:`~advdiff_sens.inference.NewtonCG`.
    hessian_products : int
        Hessian-vector products (tangent + adjoint each); 0 for the optimisers that use none.
    cg_iterations : list of int
        CG iterations per Newton iteration (empty for the others).
    gradient_norms : list of float
        :math:`|g_k|_C = \sqrt{g_k^TCg_k}` at every Newton iterate :math:`c_0, …, c_K`
        (``iterations + 1`` entries; empty for the others).
    step_lengths : list of float
        :math:`|c_{k+1} − c_k|_{C^{-1}}` per Newton iteration (0 for a rejected step; empty
        for the others).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import GaussNewton, VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> result = GaussNewton().minimise(post, np.zeros(4))
    >>> result.coefficients.shape, result.evaluations == len(result.values)
    ((4,), True)
    >>> bool(min(result.values) < result.values[0])                # Ψ went down from c0
    True
    >>> bool(np.isclose(post.neg_log_posterior(result.coefficients), min(result.values)))
    True
    """

    coefficients: np.ndarray
    iterations: int
    values: list = field(default_factory=list)
    stop_reason: str = ""
    hessian_products: int = 0
    cg_iterations: list = field(default_factory=list)
    gradient_norms: list = field(default_factory=list)
    step_lengths: list = field(default_factory=list)

    @property
    def evaluations(self) -> int:
        """Number of objective evaluations (forward solves)."""
        return len(self.values)


class Optimiser(ABC):
    """A minimiser of the negative log-posterior of a :class:`VelocityPosterior`.

    Subclasses hold their options as attributes and implement :meth:`minimise`;
    :data:`OPTIMIZERS` resolves the registered ones by name.

    Examples
    --------
    Every registered optimiser is an :class:`Optimiser`; on a linear-Gaussian toy posterior
    (:math:`F(c) = Ac`, σ = 1, prior :math:`N(0, I)`, the protocol of
    :class:`~advdiff_sens.inference.NewtonCG`) L-BFGS and Newton-CG reach the same MAP:

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> optimisers = [OPTIMIZERS.resolve(name, "optimizer") for name in OPTIMIZERS.names()]
    >>> all(isinstance(o, Optimiser) for o in optimisers)
    True
    >>> A, d = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]]), np.array([1.0, 0.5, 0.0])
    >>> class Toy:
    ...     n_params, n_data, prior = 2, 3, DiagonalGaussian(np.zeros(2), 1.0)
    ...     def value_and_gradient(self, c):
    ...         r = A @ c - d
    ...         return 0.5 * (r @ r + c @ c), A.T @ r + c
    ...     def linearise(self, c):
    ...         value, gradient = self.value_and_gradient(c)
    ...         return SimpleNamespace(point=c, value=value, gradient=gradient,
    ...                                misfit=0.5 * np.sum((A @ c - d) ** 2),
    ...                                hessian=lambda v: A.T @ A @ v + v)
    >>> lbfgs, newton = (o.minimise(Toy(), np.zeros(2)) for o in optimisers[1:])
    >>> bool(np.allclose(lbfgs.coefficients, newton.coefficients, atol=1e-6))
    True
    """

    @abstractmethod
    def minimise(self, posterior: VelocityPosterior, c0: np.ndarray, *,
                 callback: EvaluationCallback | None = None) -> OptimiserResult:
        r"""Minimise :math:`Ψ` of ``posterior`` from ``c0``.

        Parameters
        ----------
        posterior : VelocityPosterior
        c0 : ndarray (p,)
            Starting coefficients.
        callback : callable, optional
            ``callback(evaluation, value)`` after every objective evaluation.

        Returns
        -------
        OptimiserResult
        """

    @staticmethod
    def _recorder(values: list, callback: EvaluationCallback | None) -> Callable[[float], None]:
        """Append a value to ``values`` and report it to ``callback``."""

        def record(value: float) -> None:
            values.append(value)
            if callback is not None:
                callback(len(values), value)

        return record


OPTIMIZERS: Registry[Optimiser] = Registry("optimiser", Optimiser)


@OPTIMIZERS.register("gauss-newton")
class GaussNewton(Optimiser):
    r"""Trust-region Gauss–Newton: ``scipy.optimize.least_squares(method="trf",
    x_scale="jac")`` on the whitened residuals, :math:`Ψ = \tfrac12\|r(c)\|^2`, with the
    tangent Jacobian :meth:`VelocityPosterior.jacobian`.

    Parameters
    ----------
    tol : float
        ``ftol``, ``xtol`` and ``gtol`` of ``least_squares`` (relative change of Ψ / of c).
    max_evaluations : int
        Residual evaluations allowed (``max_nfev``).

    Examples
    --------
    >>> GaussNewton(tol=1e-6)
    GaussNewton(tol=1e-06, max_evaluations=100)
    """

    def __init__(self, tol: float = 1e-8, max_evaluations: int = 100) -> None:
        self.tol = check_positive_scalar(tol, "tol")
        self.max_evaluations = check_integer(max_evaluations, "max_evaluations", minimum=1)

    def __repr__(self) -> str:
        return f"GaussNewton(tol={self.tol!r}, max_evaluations={self.max_evaluations})"

    def minimise(self, posterior: VelocityPosterior, c0: np.ndarray, *,
                 callback: EvaluationCallback | None = None) -> OptimiserResult:
        values: list[float] = []
        record = self._recorder(values, callback)

        def fun(c):
            r = posterior.residuals(c)
            record(0.5 * float(r @ r))
            return r

        res = least_squares(fun, c0, jac=posterior.jacobian, method="trf", x_scale="jac",
                            ftol=self.tol, xtol=self.tol, gtol=self.tol,
                            max_nfev=self.max_evaluations)
        return OptimiserResult(res.x, int(res.njev), values, stop_reason=str(res.message))


def _value_and_gradient(posterior: VelocityPosterior, record: Callable[[float], None]):
    """Ψ and ∇Ψ of ``posterior`` (its gradient strategy), each value recorded."""

    def fun(c):
        value, grad = posterior.value_and_gradient(c)
        record(value)
        return value, grad

    return fun


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimiser):
    r"""L-BFGS-B (``scipy.optimize.minimize``) on :math:`Ψ` with the posterior's
    ``value_and_gradient``, in the box :math:`|c − m| ≤ \text{box\_prior\_sds}·
    \sqrt{\operatorname{diag}C}` around the posterior's prior :math:`N(m, C)`
    (``posterior.prior.pointwise_variance()``).

    Parameters
    ----------
    tol : float
        ``ftol`` and ``gtol`` of L-BFGS-B.
    max_iter : int
        Iteration limit (``maxiter``).
    box_prior_sds : float
        Half-width of the search box in prior sds (:data:`BOX_PRIOR_SDS`).

    Examples
    --------
    >>> LBFGS(max_iter=200)
    LBFGS(tol=1e-08, max_iter=200, box_prior_sds=10.0)
    """

    def __init__(self, tol: float = 1e-8, max_iter: int = 100,
                 box_prior_sds: float = BOX_PRIOR_SDS) -> None:
        self.tol = check_positive_scalar(tol, "tol")
        self.max_iter = check_integer(max_iter, "max_iter", minimum=1)
        self.box_prior_sds = check_positive_scalar(box_prior_sds, "box_prior_sds")

    def __repr__(self) -> str:
        return (f"LBFGS(tol={self.tol!r}, max_iter={self.max_iter}, "
                f"box_prior_sds={self.box_prior_sds!r})")

    def minimise(self, posterior: VelocityPosterior, c0: np.ndarray, *,
                 callback: EvaluationCallback | None = None) -> OptimiserResult:
        values: list[float] = []
        fun = _value_and_gradient(posterior, self._recorder(values, callback))
        prior = posterior.prior
        half_width = self.box_prior_sds * np.sqrt(prior.pointwise_variance())
        bounds = list(zip(prior.mean - half_width, prior.mean + half_width))
        res = minimize(fun, c0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": self.tol})
        return OptimiserResult(res.x, int(res.nit), values, stop_reason=str(res.message))


# NewtonCG lives in its own module (it registers itself as "newton-cg" there, after the two
# above); imported last because that module builds on the classes of this one.
from advdiff_sens.inference.newton import NewtonCG  # noqa: E402
