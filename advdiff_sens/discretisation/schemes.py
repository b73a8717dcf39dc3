r"""Advection schemes as objects: the face fluxes of one axis and their velocity derivatives.

Every scheme is written in flux form (:mod:`advdiff_sens.discretisation.operators`): row i of
the generator has weight :math:`c^+_i/h` on the neighbour ahead and :math:`c^-_i/h` on the one
behind. With :math:`\mathrm{Pe} = u h/(2κ)` the cell Péclet number and
:math:`B(x) = x/(e^x − 1)` the Bernoulli function:

==============  =====================================  =====================================  =====
scheme          :math:`c^+`                            :math:`c^-`                            order
==============  =====================================  =====================================  =====
central         :math:`κ/h − u/2`                      :math:`κ/h + u/2`                      2
upwind          :math:`κ/h + \max(−u, 0)`              :math:`κ/h + \max(u, 0)`               1
exponential     :math:`(κ/h)\,B(2\mathrm{Pe})`         :math:`(κ/h)\,B(−2\mathrm{Pe})`        1
==============  =====================================  =====================================  =====

(the classes :class:`Central`, :class:`Upwind` and :class:`ExponentialFitting`), and the
velocity derivatives :math:`∂_u c^\pm` that the partial generators
(:func:`advdiff_sens.discretisation.operators.partial_generators`) are made of:

* central: :math:`∂_u c^\pm = ∓\tfrac12` (L is affine in u);
* exponential: :math:`∂_u c^+ = B'(2\mathrm{Pe})`, :math:`∂_u c^- = B'(2\mathrm{Pe}) + 1`
  (because :math:`B(−x) = B(x) + x`);
* upwind: :math:`∂_u c^+ = −1[u<0]`, :math:`∂_u c^- = 1[u>0]`. Upwind is not differentiable
  where a component vanishes; there the average of the one-sided derivatives is returned
  (:math:`∂_u c^\pm = ∓\tfrac12`, the central values).

Exponential fitting (Il'in–Allen–Southwell) is the central scheme with the diffusivity
replaced by :math:`κ\,\mathrm{Pe}\coth\mathrm{Pe}` (because :math:`B(2x) + x = x\coth x`),
which tends to central as Pe → 0, so it is second order for resolved flows and first order
uniformly. Upwind and exponential fitting have :math:`c^\pm ≥ 0` for every Péclet number
(computed without cancellation): :attr:`Scheme.monotone`. Central has them when
:math:`|u|h/(2κ) ≤ 1` (:func:`advdiff_sens.discretisation.physics.cell_peclet`).

:data:`SCHEMES` maps the names ``"central"``, ``"upwind"`` and ``"exponential"`` to the
schemes, so ``AdvectionDiffusion(grid, kappa, scheme="upwind")`` and
``AdvectionDiffusion(grid, kappa, scheme=Upwind())`` are the same model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from advdiff_sens.registry import Registry

__all__ = ["Scheme", "Central", "Upwind", "ExponentialFitting", "SCHEMES", "bernoulli",
           "bernoulli_derivative"]

_SERIES_LIMIT = 0.1


def _inverse_expm1(x: np.ndarray) -> np.ndarray:
    """:math:`1/(e^x − 1)` for ``x != 0`` without overflow (``e^{-x}/(1 − e^{-x})`` for x > 0)."""
    pos = np.where(x > 0, x, 1.0)
    neg = np.where(x < 0, x, -1.0)
    return np.where(x > 0, np.exp(-pos) / -np.expm1(-pos), 1.0 / np.expm1(neg))


def bernoulli(x: np.ndarray) -> np.ndarray:
    r"""Bernoulli function :math:`B(x) = x/(e^x − 1)` (``B(0) = 1``), positive for all x.

    Computed as :math:`x e^{−x}/(1 − e^{−x})` for x > 0, so that it neither overflows nor
    cancels at large :math:`|x|`.

    Parameters
    ----------
    x : array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> bernoulli([0.0, 1e3, -1e3]).tolist()
    [1.0, 0.0, 1000.0]
    """
    x = np.asarray(x, dtype=float)
    nonzero = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, nonzero * _inverse_expm1(nonzero))


def bernoulli_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative :math:`B'(x) = (1 − B(−x))/(e^x − 1)` of :func:`bernoulli`.

    By its Taylor series :math:`−\tfrac12 + \tfrac x6 − \tfrac{x^3}{180} + \tfrac{x^5}{5040} −
    \tfrac{x^7}{151200}` for :math:`|x| < 0.1` (truncation < 1e-16), in closed form otherwise
    (no overflow).

    Parameters
    ----------
    x : array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(bernoulli_derivative(0.0))
    -0.5
    """
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < _SERIES_LIMIT
    safe = np.where(small, 1.0, x)
    closed = (1.0 - bernoulli(-safe)) * _inverse_expm1(safe)
    series = -0.5 + x / 6 - x**3 / 180 + x**5 / 5040 - x**7 / 151200
    return np.where(small, series, closed)


class Scheme(ABC):
    r"""An advection scheme: the flux weights :math:`(c^+, c^-)` of one axis and their
    velocity derivatives (module docstring).

    Schemes have no options: two instances of the same class are equal, and ``str`` of a
    scheme is its :data:`SCHEMES` name.

    Examples
    --------
    >>> import numpy as np
    >>> scheme = SCHEMES.resolve("central", "scheme")
    >>> scheme, str(scheme), scheme.monotone
    (Central(), 'central', False)
    >>> cp, cm = scheme.coefficients(np.array([1.0]), 0.5, 0.25)     # κ/h ∓ u/2
    >>> cp.tolist(), cm.tolist()
    ([1.5], [2.5])
    """

    #: The :data:`SCHEMES` name.
    name: ClassVar[str]
    #: True when :math:`c^\pm ≥ 0` for every cell Péclet number: the generator is then a rate
    #: matrix (with Dirichlet walls a sub-generator) and obeys the discrete maximum principle
    #: whatever the flow. For a scheme that is not,
    #: :func:`~advdiff_sens.discretisation.physics.check_physics` checks the cell Péclet number.
    monotone: ClassVar[bool]
    #: Order of accuracy for resolved flows.
    order: ClassVar[int]

    @abstractmethod
    def coefficients(self, u: np.ndarray, kappa: float, h: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Flux weights :math:`(c^+, c^-)` at the nodes of one axis.

        Parameters
        ----------
        u : ndarray
            Velocity component along the axis, at every node.
        kappa : float
            Diffusivity κ > 0.
        h : float
            Grid spacing along the axis.

        Returns
        -------
        (ndarray, ndarray)
            :math:`c^+` and :math:`c^-`, shaped like ``u``.
        """

    @abstractmethod
    def coefficient_derivatives(self, u: np.ndarray, kappa: float, h: float
                                ) -> tuple[np.ndarray, np.ndarray]:
        """Velocity derivatives :math:`(∂_u c^+, ∂_u c^-)` of :meth:`coefficients` (same
        arguments and shapes)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


#: Advection schemes by name (``scheme="central"`` is ``scheme=Central()``).
SCHEMES: Registry[Scheme] = Registry("advection scheme", Scheme)


@SCHEMES.register("central")
class Central(Scheme):
    r"""Second-order central differences: :math:`c^\pm = κ/h ∓ u/2`,
    :math:`∂_u c^\pm = ∓\tfrac12`.

    Not monotone: negative off-diagonal weights when the cell Péclet number exceeds 1.

    Examples
    --------
    >>> import numpy as np
    >>> [d.tolist() for d in Central().coefficient_derivatives(np.array([3.0]), 0.1, 0.5)]
    [[-0.5], [0.5]]
    """

    name = "central"
    monotone = False
    order = 2

    def coefficients(self, u: np.ndarray, kappa: float, h: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        return kappa / h - u / 2, kappa / h + u / 2

    def coefficient_derivatives(self, u: np.ndarray, kappa: float, h: float
                                ) -> tuple[np.ndarray, np.ndarray]:
        return np.full_like(u, -0.5), np.full_like(u, 0.5)


@SCHEMES.register("upwind")
class Upwind(Scheme):
    r"""First-order upwind: :math:`c^+ = κ/h + \max(−u, 0)`, :math:`c^- = κ/h + \max(u, 0)`.

    Monotone; not differentiable at u = 0, where :meth:`coefficient_derivatives` returns the
    average of the one-sided derivatives.

    Examples
    --------
    >>> import numpy as np
    >>> [d.tolist() for d in Upwind().coefficient_derivatives(np.array([-1.0, 0.0, 1.0]),
    ...                                                      0.1, 0.5)]
    [[-1.0, -0.5, 0.0], [0.0, 0.5, 1.0]]
    """

    name = "upwind"
    monotone = True
    order = 1

    def coefficients(self, u: np.ndarray, kappa: float, h: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        return kappa / h + np.maximum(-u, 0.0), kappa / h + np.maximum(u, 0.0)

    def coefficient_derivatives(self, u: np.ndarray, kappa: float, h: float
                                ) -> tuple[np.ndarray, np.ndarray]:
        ahead = np.where(u < 0, -1.0, np.where(u > 0, 0.0, -0.5))
        return ahead, ahead + 1.0


@SCHEMES.register("exponential")
class ExponentialFitting(Scheme):
    r"""Exponential fitting (Il'in–Allen–Southwell, Scharfetter–Gummel):
    :math:`c^\pm = (κ/h)\,B(\pm 2\mathrm{Pe})`, :math:`2\mathrm{Pe} = uh/κ`.

    Monotone for every Péclet number and smooth in u: :math:`∂_u c^+ = B'(2\mathrm{Pe})`,
    :math:`∂_u c^- = B'(2\mathrm{Pe}) + 1`.

    Examples
    --------
    >>> import numpy as np
    >>> cp, cm = ExponentialFitting().coefficients(np.array([0.0]), 0.5, 0.25)
    >>> cp.tolist(), cm.tolist()                                   # u = 0: pure diffusion κ/h
    ([2.0], [2.0])
    """

    name = "exponential"
    monotone = True
    order = 1

    def coefficients(self, u: np.ndarray, kappa: float, h: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        pe2 = u * h / kappa
        return kappa / h * bernoulli(pe2), kappa / h * bernoulli(-pe2)

    def coefficient_derivatives(self, u: np.ndarray, kappa: float, h: float
                                ) -> tuple[np.ndarray, np.ndarray]:
        dplus = bernoulli_derivative(u * h / kappa)
        return dplus, dplus + 1.0
