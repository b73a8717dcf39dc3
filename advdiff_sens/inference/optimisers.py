r"""Optimisers of the negative log-posterior :math:`Ψ(c)`, each an object with its own options.

Every optimiser has :meth:`Optimiser.minimise` ``(posterior, c0, *, callback=None)`` and
returns an :class:`OptimiserResult`:

* :class:`GaussNewton` — trust-region least squares (``scipy.optimize.least_squares``,
  ``"trf"``) on the whitened residuals :math:`[(Hθ − d)/σ;\ c/s]` with the tangent Jacobian;
* :class:`LBFGS` — L-BFGS-B on :math:`Ψ` with the posterior's gradient, in the box
  :math:`|c_k| ≤ \text{box\_prior\_sds}·s_k`;
* :class:`NewtonCG` — Newton-CG on :math:`Ψ` with the posterior's gradient and Gauss–Newton
  Hessian-vector products :math:`(G^TG + S^{-2})v`.

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
#: ``|c_k| ≤ BOX_PRIOR_SDS·s_k`` (prior mass outside ≈ 1e-23): an unbounded line search driven
#: by a poor (surrogate) gradient tried flows so strong that a single solve took minutes and
#: overflowed.
BOX_PRIOR_SDS = 10.0

#: ``callback(evaluation, value)``: called after every objective evaluation with its number
#: (from 1) and Ψ there.
EvaluationCallback = Callable[[int, float], None]


@dataclass
class OptimiserResult:
    """The end of one minimisation.

    Attributes
    ----------
    coefficients : ndarray (p,)
        The end point.
    iterations : int
        Optimiser iterations (Jacobian evaluations for :class:`GaussNewton`).
    values : list of float
        Ψ at every objective evaluation, in order.

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
    Every registered optimiser is an :class:`Optimiser`; Gauss–Newton and L-BFGS reach the
    same MAP of a small twin experiment:

    >>> import numpy as np
    >>> from advdiff_sens.inference import VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis, gradient="tangent")
    >>> optimisers = [OPTIMIZERS.resolve(name, "optimizer") for name in OPTIMIZERS.names()]
    >>> all(isinstance(o, Optimiser) for o in optimisers)
    True
    >>> gn, lbfgs = (o.minimise(post, np.zeros(4)) for o in (GaussNewton(), LBFGS()))
    >>> bool(np.allclose(gn.coefficients, lbfgs.coefficients, atol=1e-6))
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
        return OptimiserResult(res.x, int(res.njev), values)


def _value_and_gradient(posterior: VelocityPosterior, record: Callable[[float], None]):
    """Ψ and ∇Ψ of ``posterior`` (its gradient strategy), each value recorded."""

    def fun(c):
        value, grad = posterior.value_and_gradient(c)
        record(value)
        return value, grad

    return fun


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimiser):
    r"""L-BFGS-B (``scipy.optimize.minimize``) on :math:`Ψ` with the posterior's gradient
    (:attr:`VelocityPosterior.gradient`), in the box :math:`|c_k| ≤ \text{box\_prior\_sds}·s_k`.

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
        bound = self.box_prior_sds * posterior.prior_std
        res = minimize(fun, c0, jac=True, method="L-BFGS-B", bounds=list(zip(-bound, bound)),
                       options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": self.tol})
        return OptimiserResult(res.x, int(res.nit), values)


@OPTIMIZERS.register("newton-cg")
class NewtonCG(Optimiser):
    r"""Newton-CG (``scipy.optimize.minimize``) on :math:`Ψ` with the posterior's gradient and
    the Gauss–Newton Hessian-vector products :meth:`VelocityPosterior.gauss_newton_hvp`.

    Parameters
    ----------
    tol : float
        ``xtol`` of Newton-CG.
    max_iter : int
        Iteration limit (``maxiter``).

    Examples
    --------
    >>> NewtonCG()
    NewtonCG(tol=1e-08, max_iter=100)
    """

    def __init__(self, tol: float = 1e-8, max_iter: int = 100) -> None:
        self.tol = check_positive_scalar(tol, "tol")
        self.max_iter = check_integer(max_iter, "max_iter", minimum=1)

    def __repr__(self) -> str:
        return f"NewtonCG(tol={self.tol!r}, max_iter={self.max_iter})"

    def minimise(self, posterior: VelocityPosterior, c0: np.ndarray, *,
                 callback: EvaluationCallback | None = None) -> OptimiserResult:
        values: list[float] = []
        fun = _value_and_gradient(posterior, self._recorder(values, callback))
        res = minimize(fun, c0, jac=True, method="Newton-CG", hessp=posterior.gauss_newton_hvp,
                       options={"maxiter": self.max_iter, "xtol": self.tol})
        return OptimiserResult(res.x, int(res.nit), values)
