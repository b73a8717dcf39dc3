r"""The advection–diffusion model :math:`∂_tθ = (κΔ − \mathbf u·∇)θ` (4.3) on a grid.

:class:`AdvectionDiffusion` is a thin stateful front end: it holds the grid, κ, the scheme
and the propagator backend, caches the generator for the last velocity it saw, and
delegates the numerics to :mod:`advdiff_sens.operators` (the generator and its velocity
derivative), :mod:`advdiff_sens.matrix` (the exponential and its Fréchet derivative) and
:mod:`advdiff_sens.sensitivity` (tangent, adjoint and surrogate methods).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import operators
from ._validation import check_positive_scalar
from .grid import Grid
from .matrix.propagate import BACKENDS, expm_action

__all__ = ["AdvectionDiffusion"]


class AdvectionDiffusion:
    """Discretised advection–diffusion operator with velocity sensitivities.

    Parameters
    ----------
    grid : Grid
        The spatial grid (its ``bc`` fixes the boundary rows of the generator).
    kappa : float
        Diffusivity κ > 0.
    scheme : {"central", "upwind", "exponential"}
        Discretisation of the advection term (see :mod:`advdiff_sens.operators`).
    backend : str
        Propagator used for ``exp(tL)`` (see :mod:`advdiff_sens.matrix.propagate`).

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> grid = ads.Grid(shape=(32,), bc="periodic")
    >>> model = ads.AdvectionDiffusion(grid, kappa=0.01)
    >>> u = np.ones((1, 32))
    >>> theta = model.solve(u, np.sin(2 * np.pi * grid.coords[0]), 0.5)
    """

    def __init__(self, grid: Grid, kappa: float, scheme: str = "central", *,
                 backend: str = BACKENDS[0]) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        if scheme not in operators.SCHEMES:
            raise ValueError(f"scheme must be one of {operators.SCHEMES}, got {scheme!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.grid = grid
        self.kappa = check_positive_scalar(kappa, "kappa")
        self.scheme = scheme
        self.backend = backend
        self._mats = operators.difference_matrices(grid)
        self._cached_u: np.ndarray | None = None
        self._cached_generator: sp.csr_array | None = None

    def __repr__(self) -> str:
        return (f"AdvectionDiffusion({self.grid!r}, kappa={self.kappa}, "
                f"scheme={self.scheme!r}, backend={self.backend!r})")

    def generator(self, u) -> sp.csr_array:
        """The sparse generator :math:`L(\\mathbf u)` of shape ``(n, n)``.

        The result for the last ``u`` is cached, so repeated solves with the same velocity
        (optimisation line searches, MCMC) do not reassemble it.
        """
        u = self.grid.check_velocity(u, "u")
        if self._cached_u is not None and np.array_equal(u, self._cached_u):
            return self._cached_generator
        L = operators.assemble_generator(self.grid, self.kappa, self.scheme, u, self._mats)
        self._cached_u, self._cached_generator = u.copy(), L
        return L

    def partial_generators(self, u) -> list[sp.csr_array]:
        """Matrices :math:`P_a` with :math:`∂L/∂\\mathbf u[\\mathbf v] = \\sum_a \\operatorname{diag}(v_a)P_a`."""
        u = self.grid.check_velocity(u, "u")
        return operators.partial_generators(self.grid, self.kappa, self.scheme, u, self._mats)

    def generator_derivative(self, u, v) -> sp.csr_array:
        r"""Exact directional derivative :math:`J = ∂L/∂\mathbf u[\mathbf v]` (sparse, n × n).

        For the central scheme :math:`J = −\sum_a \operatorname{diag}(v_a) D^{(1)}_a
        = −\mathbf v·∇_h`, the discrete form of the corrected (4.6). The upwind scheme is not
        differentiable where a velocity component vanishes; the convention used there is
        documented in :mod:`advdiff_sens.operators`.
        """
        v = self.grid.check_velocity(v, "v")
        parts = self.partial_generators(u)
        terms = [sp.diags_array(v[a].ravel()) @ parts[a] for a in range(self.grid.ndim)]
        return sp.csr_array(sum(terms[1:], terms[0]))

    def _check_theta0(self, theta0) -> np.ndarray:
        return self.grid.check_field(theta0, "theta0")

    def solve(self, u, theta0, t) -> np.ndarray:
        r"""Solve (4.3): :math:`θ(t) = \exp(tL(\mathbf u))\,θ_0`.

        Parameters
        ----------
        u : array_like, shape (ndim, *grid.shape)
            Nodal velocity.
        theta0 : array_like, shape grid.shape
            Initial scalar field (real or complex).
        t : float or array_like
            A time ``t ≥ 0`` or strictly increasing times; several times are reached by
            stepping from the previous one (or in one call when equally spaced).

        Returns
        -------
        ndarray
            Shape ``grid.shape`` for scalar ``t``, ``(len(t), *grid.shape)`` otherwise.
        """
        L = self.generator(u)
        theta0 = self._check_theta0(theta0)
        out = expm_action(L, theta0.ravel(), t, backend=self.backend)
        return out.reshape(out.shape[:-1] + self.grid.shape)
