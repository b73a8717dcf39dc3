r"""How the posterior's gradient is computed: the tangent Jacobian of inference, or an adjoint
of the model.

A posterior gradient strategy returns :math:`Ψ(c)` and :math:`∇Ψ(c) = ∇_cΦ + C^{-1}(c − m)` for
a :class:`~advdiff_sens.inference.posterior.Posterior`; only :math:`∇_cΦ` differs:

* :class:`TangentGradient` — the whitened Jacobian :math:`G = σ^{-1}[Hρ_i(t_j)]`, one stacked
  tangent solve for the p basis directions,
  :math:`ρ_i = ∂θ/∂\mathbf u[Bε_i]`, then :math:`∇_cΦ = G^Tr`; cheaper than an adjoint for few
  parameters (crossover in :data:`TANGENT_MAX_PARAMS`), and the Jacobian is the Gauss–Newton
  Hessian's;
* :class:`AdjointGradient` — :math:`∇_cΦ = B^T∇_{\mathbf u}Φ` with :math:`∇_{\mathbf u}Φ` from
  the model's adjoint (:meth:`advdiff_sens.AdvectionDiffusion.gradient`; cost independent of
  p), the adjoint passed through as it is: ``"auto"`` (discrete with a Chebyshev backend,
  quadrature with ``"scipy"``), ``"discrete"``, ``"quadrature"`` or ``"surrogate"`` (the
  first-order surrogate (1.6), one backward solve, approximate);
* :class:`AutoGradient` — the tangent up to :data:`TANGENT_MAX_PARAMS` parameters, the model's
  ``"auto"`` adjoint above.

:data:`GRADIENTS` maps the names ``"auto"``, ``"adjoint"`` (the model's ``"auto"`` adjoint),
``"tangent"`` and ``"surrogate"`` to these objects. :func:`model_gradient` is the one call of
the model's adjoint in the inference package.

Examples
--------
>>> GRADIENTS.resolve("surrogate", "gradient")
AdjointGradient(adjoint=SurrogateAdjoint(order=1))
>>> AutoGradient().max_tangent_params == TANGENT_MAX_PARAMS
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.registry import Registry
from advdiff_sens.sensitivity import as_adjoint
from advdiff_sens.validation import check_integer

if TYPE_CHECKING:
    from advdiff_sens.inference.posterior import Posterior

__all__ = ["PosteriorGradient", "TangentGradient", "AdjointGradient", "AutoGradient",
           "GRADIENTS", "TANGENT_MAX_PARAMS", "model_gradient", "prior_term"]

#: :class:`AutoGradient` uses the tangent Jacobian up to this many parameters and the adjoint
#: above it. Measured on R3 (24², 20 times, 2 cores) with the twin's ``"scipy"`` backend: 12
#: tangent directions cost a tenth to a half of one (quadrature) adjoint gradient, about a
#: twentieth of it per direction. With the Chebyshev backend the discrete adjoint already
#: beats 12 directions, but Gauss–Newton needs the Jacobian anyway.
TANGENT_MAX_PARAMS = 48


def model_gradient(model: AdvectionDiffusion, u: np.ndarray, theta0: np.ndarray, objective,
                   times: np.ndarray, adjoint, *, with_theta0: bool = False,
                   with_kappa: bool = False):
    r"""The model's adjoint gradient :math:`(Φ(θ), ∇_{\mathbf u}Φ)` of ``objective`` at ``u``:
    the one place where inference calls the model's adjoint.

    Parameters
    ----------
    model : AdvectionDiffusion
    u : ndarray ``(2, *grid.shape)``
        Velocity field.
    theta0 : ndarray, grid.shape
        Initial scalar field.
    objective : callable
        ``objective(theta) -> (value, dvalue/dtheta)``.
    times : ndarray (k,)
        Observation times.
    adjoint : {"auto", "discrete", "quadrature", "surrogate"}
        The model's adjoint (validated by the model).
    with_theta0, with_kappa : bool
        Also the gradients with respect to θ0 and κ (same sweep).

    Returns
    -------
    GradientResult
        Unpacks as ``value, grad_u`` (``grad_u`` of shape ``(2, *grid.shape)``), with
        ``.theta0_gradient`` and ``.kappa_gradient`` when asked for.

    Examples
    --------
    >>> from advdiff_sens import AdvectionDiffusion, Grid
    >>> model = AdvectionDiffusion(Grid((8, 8), (1.0, 1.0), "periodic"), 0.05, backend="scipy")
    >>> theta0 = model.grid.coords[0]
    >>> value, grad_u = model_gradient(model, np.zeros((2, 8, 8)), theta0,
    ...                                lambda theta: (float(np.sum(theta)), np.ones_like(theta)),
    ...                                np.array([0.1]), "auto")
    >>> grad_u.shape
    (2, 8, 8)
    """
    return model.gradient(u, theta0, objective, times, adjoint=adjoint, with_theta0=with_theta0,
                          with_kappa=with_kappa)


def prior_term(posterior: Posterior, c: np.ndarray) -> tuple[float, np.ndarray]:
    r"""The Gaussian prior's part of :math:`Ψ` and of its gradient:
    :math:`\tfrac12|C^{-1/2}(c − m)|^2` and :math:`C^{-1}(c − m)`
    (:meth:`~advdiff_sens.inference.posterior.Posterior.prior_term`)."""
    return posterior.prior_term(c)


class PosteriorGradient(ABC):
    r"""A way to compute :math:`Ψ(c)` and :math:`∇Ψ(c)` of a velocity posterior.

    Subclasses implement :meth:`value_and_gradient`; an instance (or its name in
    :data:`GRADIENTS`) is the ``gradient`` of
    :class:`~advdiff_sens.inference.posterior.Posterior` and of
    :func:`~advdiff_sens.inference.estimate.estimate_velocity`.

    Examples
    --------
    A strategy of one's own, by central differences of :math:`Ψ` (2p solves), agrees with
    the tangent and adjoint ones:

    >>> import numpy as np
    >>> from advdiff_sens.inference import VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> class CentralDifferences(PosteriorGradient):
    ...     def value_and_gradient(self, posterior, c):
    ...         psi, steps = posterior.neg_log_posterior, 1e-6 * np.eye(c.size)
    ...         return psi(c), np.array([(psi(c + e) - psi(c - e)) / 2e-6 for e in steps])
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis, gradient=CentralDifferences())
    >>> c = twin.true_coefficients
    >>> _, g_fd = post.value_and_gradient(c)
    >>> _, g_tangent = post.value_and_gradient(c, "tangent")
    >>> _, g_adjoint = post.value_and_gradient(c, "adjoint")
    >>> bool(np.allclose(g_fd, g_tangent, rtol=1e-4)), bool(np.allclose(g_adjoint, g_tangent))
    (True, True)
    """

    @abstractmethod
    def value_and_gradient(self, posterior: Posterior,
                           c: np.ndarray) -> tuple[float, np.ndarray]:
        r""":math:`Ψ(c)` and :math:`∇Ψ(c)` at the checked coefficients ``c`` (p,)."""


GRADIENTS: Registry[PosteriorGradient] = Registry("posterior gradient", PosteriorGradient)


@GRADIENTS.register("tangent")
class TangentGradient(PosteriorGradient):
    r"""Exact gradient from the stacked tangent Jacobian: :math:`∇Ψ = G^Tr + C^{-1}(c − m)`, with
    :math:`r` the whitened data residual and :math:`G` its Jacobian
    (:meth:`~advdiff_sens.inference.posterior.Posterior.misfit_and_jacobian`), one
    tangent solve for all p directions.

    Examples
    --------
    >>> TangentGradient()
    TangentGradient()
    """

    def __repr__(self) -> str:
        return "TangentGradient()"

    def value_and_gradient(self, posterior: Posterior,
                           c: np.ndarray) -> tuple[float, np.ndarray]:
        prior_value, prior_grad = prior_term(posterior, c)
        misfit, G = posterior.misfit_and_jacobian(c)
        return 0.5 * float(misfit @ misfit) + prior_value, G.T @ misfit + prior_grad


class AdjointGradient(PosteriorGradient):
    r"""Gradient from the model's adjoint: :math:`∇Ψ = ∇_cΦ + C^{-1}(c − m)`, with
    :math:`∇_cΦ` the model's gradients (velocity, θ0, κ: :func:`model_gradient`, one sweep)
    pulled back by the parameter space.

    Parameters
    ----------
    adjoint : Adjoint or {"auto", "discrete", "quadrature", "surrogate"}
        The model's adjoint (:mod:`advdiff_sens.sensitivity`), validated here and passed
        through to :meth:`~advdiff_sens.AdvectionDiffusion.gradient`; ``"surrogate"`` is
        approximate.

    Examples
    --------
    >>> AdjointGradient("quadrature")
    AdjointGradient(adjoint=QuadratureAdjoint(rtol=1e-10, max_intervals=400))
    """

    def __init__(self, adjoint="auto") -> None:
        self.adjoint = as_adjoint(adjoint)

    def __repr__(self) -> str:
        return f"AdjointGradient(adjoint={self.adjoint!r})"

    def value_and_gradient(self, posterior: Posterior,
                           c: np.ndarray) -> tuple[float, np.ndarray]:
        return posterior.adjoint_value_and_gradient(c, self.adjoint)


GRADIENTS.register("adjoint", AdjointGradient)
GRADIENTS.register("surrogate", lambda: AdjointGradient("surrogate"))


@GRADIENTS.register("auto")
class AutoGradient(PosteriorGradient):
    r""":class:`TangentGradient` up to ``max_tangent_params`` coefficients, else
    :class:`AdjointGradient` with the model's ``"auto"`` adjoint.

    Parameters
    ----------
    max_tangent_params : int
        Largest number of coefficients p differentiated by the tangent Jacobian.

    Examples
    --------
    >>> AutoGradient(max_tangent_params=4)
    AutoGradient(max_tangent_params=4)
    """

    def __init__(self, max_tangent_params: int = TANGENT_MAX_PARAMS) -> None:
        self.max_tangent_params = check_integer(max_tangent_params, "max_tangent_params",
                                                minimum=0)

    def __repr__(self) -> str:
        return f"AutoGradient(max_tangent_params={self.max_tangent_params})"

    def strategy(self, n_params: int) -> PosteriorGradient:
        """The strategy used for ``n_params`` coefficients."""
        if n_params <= self.max_tangent_params:
            return TangentGradient()
        return AdjointGradient()

    def value_and_gradient(self, posterior: Posterior,
                           c: np.ndarray) -> tuple[float, np.ndarray]:
        return self.strategy(posterior.n_params).value_and_gradient(posterior, c)
