r"""The advection–diffusion model :math:`∂_tθ = (κΔ − \mathbf u·∇)θ` (4.3) on a grid.

:class:`AdvectionDiffusion` is a thin stateful front end: it holds the grid, κ, the scheme
and the propagator backend, caches the generator for the last velocity it saw, and
delegates the numerics to :mod:`advdiff_sens.discretisation` (the generator and its
velocity derivative), :mod:`advdiff_sens.matrix` (the exponential and its Fréchet
derivative) and :mod:`advdiff_sens.sensitivity` (tangent, adjoint and surrogate methods).
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sp

from advdiff_sens.discretisation import operators, physics
from advdiff_sens.discretisation.schemes import SCHEMES, Scheme
from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.matrix import Backend, PropagationPlan, Propagator, as_backend
from advdiff_sens.sensitivity import (
    Adjoint,
    GradientProblem,
    GradientResult,
    Objective,
    WindowedVelocity,
    as_adjoint,
    check_objective_output,
    surrogate,
    tangent,
    windowed_gradient,
)
from advdiff_sens.validation import as_real_array, as_times, check_callable, check_positive_scalar

__all__ = ["AdvectionDiffusion"]


class AdvectionDiffusion:
    """Discretised advection–diffusion operator with velocity sensitivities.

    Parameters
    ----------
    grid : Grid
        The spatial grid (its ``bc`` fixes the boundary rows of the generator).
    kappa : float
        Diffusivity κ > 0.
    scheme : Scheme or {"central", "upwind", "exponential"}
        Discretisation of the advection term: :class:`~advdiff_sens.Central`,
        :class:`~advdiff_sens.Upwind` or :class:`~advdiff_sens.ExponentialFitting`, or its name
        (see :mod:`advdiff_sens.discretisation.schemes`).
    backend : Backend or {"auto", "chebyshev", "scipy"}
        Propagator backend for ``exp(tL)``: :class:`~advdiff_sens.matrix.AutoBackend`
        (default), :class:`~advdiff_sens.matrix.ChebyshevBackend`,
        :class:`~advdiff_sens.matrix.ExpmMultiplyBackend`, or a registry name of one.
    max_products : int, optional
        Cap on the matrix–vector products of one solve (per vector): a :meth:`solve`,
        :meth:`tangent` or adjoint whose schedule needs more raises
        :class:`~advdiff_sens.exceptions.WorkLimitExceeded` before it starts.
        :meth:`plan_solve` tells the cost beforehand.
    progress : bool, "auto" or meter
        Progress line on stderr for long solves; ``"auto"`` (default) prints only once a
        solve has run :data:`advdiff_sens.progress.AUTO_DELAY` seconds.

    The four settings grid, κ, scheme and backend are read-only attributes: the generator,
    propagators and partial generators cached for the last velocity depend on them, so a
    different κ, scheme or backend is a new model.

    Examples
    --------
    >>> import numpy as np, advdiff_sens as ads
    >>> grid = ads.Grid(shape=(64,), bc="periodic")       # cell Péclet 0.78 ≤ 1
    >>> model = ads.AdvectionDiffusion(grid, kappa=0.01)
    >>> u = np.ones((1, 64))
    >>> theta = model.solve(u, np.sin(2 * np.pi * grid.coords[0]), 0.5)
    >>> theta.shape, bool(abs(theta.mean()) < 1e-15)      # a periodic flow keeps the mean 0
    ((64,), True)
    """

    def __init__(self, grid: Grid, kappa: float, scheme: Scheme | str = "central", *,
                 backend: str | Backend = "auto", max_products: int | None = None,
                 progress="auto") -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self._grid = grid
        self._kappa = check_positive_scalar(kappa, "kappa")
        self._scheme = SCHEMES.resolve(scheme, "scheme")
        self._backend = as_backend(backend)
        self._propagator_options = {"max_products": max_products, "progress": progress}
        Propagator(sp.csr_array((1, 1)), **self._propagator_options)   # validates them
        self._mats = operators.difference_matrices(grid)
        # the generator, propagators and partials of the last velocity, one cache per thread
        # (samplers run chains on threads, each at its own velocity)
        self._cache = threading.local()
        self._physics_warned: set[str] = set()     # the physics checks already warned about
        # one model per further window of a WindowedVelocity, each caching its window's
        # generator, propagators and partials (window 0 is this model)
        self._window_models: list[AdvectionDiffusion] = []
        self._window_lock = threading.Lock()

    def _thread_cache(self):
        """This thread's cache of the last velocity's generator, propagators and partials."""
        cache = self._cache
        if not hasattr(cache, "u"):
            cache.u, cache.generator, cache.propagators, cache.partials = None, None, {}, None
        return cache

    def _window_model(self, k: int) -> AdvectionDiffusion:
        """The model whose cache holds window ``k`` of a :class:`WindowedVelocity` (this one
        for window 0; the others share this model's settings and physics warnings)."""
        if k == 0:
            return self
        with self._window_lock:
            while len(self._window_models) < k:
                sibling = AdvectionDiffusion(self.grid, self.kappa, self.scheme,
                                             backend=self.backend, **self._propagator_options)
                sibling._physics_warned = self._physics_warned
                self._window_models.append(sibling)
            return self._window_models[k - 1]

    def _check_windowed(self, u: WindowedVelocity) -> None:
        shape = (u.n_windows, self.grid.ndim, *self.grid.shape)
        if u.values.shape != shape:
            raise ValueError(f"the WindowedVelocity's values must have shape {shape} (one "
                             f"velocity per window on this grid), got {u.values.shape}")

    def _windowed_direction(self, u: WindowedVelocity, v) -> tuple[np.ndarray, bool]:
        """Directions of a windowed tangent as ``(m, K, ndim, *shape)`` and whether a block."""
        if isinstance(v, WindowedVelocity):
            if v.windows != u.windows:
                raise ValueError("the direction's windows differ from the velocity's")
            v = v.values
        v = as_real_array(v, "v")
        shape = u.values.shape
        if v.shape == shape:
            return v[None], False
        if v.ndim == len(shape) + 1 and v.shape[1:] == shape:
            return v, True
        raise ValueError(f"v must have shape {shape} (one direction per window) or (m, "
                         f"*{shape}) (a block), got {v.shape}")

    # Read-only: the cached generator, propagators and partials depend on all four.
    @property
    def grid(self) -> Grid:
        return self._grid

    @property
    def kappa(self) -> float:
        return self._kappa

    @property
    def scheme(self) -> Scheme:
        return self._scheme

    @property
    def backend(self) -> Backend:
        return self._backend

    def __repr__(self) -> str:
        return (f"AdvectionDiffusion({self.grid!r}, kappa={self.kappa}, "
                f"scheme={self.scheme!r}, backend={self.backend!r})")

    def with_kappa(self, kappa: float) -> AdvectionDiffusion:
        """The same model (grid, scheme, backend, work limit, progress) with diffusivity
        ``kappa``; ``self`` when ``kappa`` equals :attr:`kappa` (its caches are kept).

        Examples
        --------
        >>> import advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(16,), bc="periodic"), 0.05)
        >>> model.with_kappa(0.1).kappa, model.with_kappa(0.05) is model
        (0.1, True)
        """
        kappa = check_positive_scalar(kappa, "kappa")
        if kappa == self.kappa:
            return self
        return AdvectionDiffusion(self.grid, kappa, self.scheme, backend=self.backend,
                                  **self._propagator_options)

    def generator(self, u) -> sp.csr_array:
        """The sparse generator :math:`L(\\mathbf u)` of shape ``(n, n)``.

        The result for the last ``u`` is cached, so repeated solves with the same velocity
        (optimisation line searches, MCMC) do not reassemble it.

        Warns
        -----
        PhysicsWarning
            Once per model and kind (:data:`advdiff_sens.discretisation.physics.PHYSICS_CHECKS`), however
            many velocities an optimiser or sampler assembles: a cell Péclet number
            :math:`\\max_a |u_a|h_a/(2κ) > 1` with the central scheme (negative off-diagonal
            weights, no maximum principle: θ can oscillate and overshoot), or a normal velocity
            :math:`\\mathbf u·\\mathbf n ≠ 0` on a no-flux (Neumann) wall (scalar leaves and
            enters through it). See :func:`advdiff_sens.discretisation.physics.check_physics`.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.

        Returns
        -------
        scipy.sparse.csr_array, shape (n, n)
            ``n = grid.n``: :math:`κΔ_h − \\mathbf u·∇_h` with the grid's boundary rows.

        Examples
        --------
        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> L = model.generator(u)
        >>> L.shape, bool(np.abs(L.sum(axis=1)).max() < 1e-12)   # periodic: zero row sums
        ((32, 32), True)
        >>> model.generator(u) is L                               # cached for the same u
        True
        """
        u = self.grid.check_velocity(u, "u")
        cache = self._thread_cache()
        if cache.u is not None and np.array_equal(u, cache.u):
            return cache.generator
        L = operators.assemble_generator(self.grid, self.kappa, self.scheme, u, self._mats)
        self._physics_warned |= physics.check_physics(self.grid, self.kappa, self.scheme, u,
                                                      skip=self._physics_warned)
        cache.u, cache.generator = u.copy(), L
        cache.propagators = {}
        cache.partials = None
        return L

    def propagator(self, u, *, transpose: bool = False) -> Propagator:
        r""":class:`~advdiff_sens.matrix.expm.propagator.Propagator` of :math:`L(\mathbf u)` (or of
        :math:`L^T`, the adjoint), cached with the generator.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.
        transpose : bool
            The propagator of :math:`L^T` instead.

        Returns
        -------
        Propagator
            With the model's backend, ``max_products`` and ``progress``.

        Examples
        --------
        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> prop = model.propagator(u)
        >>> prop is model.propagator(u), prop.shape
        (True, (32, 32))
        >>> x = np.sin(2 * np.pi * model.grid.coords[0])
        >>> bool(np.allclose(prop.apply(x, 0.5), model.solve(u, x, 0.5), rtol=0, atol=1e-15))
        True
        """
        L = self.generator(u)
        propagators = self._thread_cache().propagators
        if transpose not in propagators:
            propagators[transpose] = Propagator(
                L.T.tocsr() if transpose else L, backend=self.backend,
                **self._propagator_options)
        return propagators[transpose]

    def partial_generators(self, u) -> list[sp.csr_array]:
        """Matrices :math:`P_a` with :math:`∂L/∂\\mathbf u[\\mathbf v] = \\sum_a \\operatorname{diag}(v_a)P_a`
        (cached with the generator of the last ``u``).

        For the central scheme :math:`P_a = −D^{(1)}_a`, the first-difference matrix of axis
        ``a``, whatever ``u``.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.

        Returns
        -------
        list of scipy.sparse.csr_array
            ``grid.ndim`` matrices of shape (n, n).

        Examples
        --------
        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> P = model.partial_generators(u)
        >>> v = 0.2 * np.cos(2 * np.pi * model.grid.coords[0])[None]
        >>> J = model.generator_derivative(u, v)
        >>> len(P), bool(np.allclose(J.toarray(), np.diag(v[0]) @ P[0].toarray(), rtol=0, atol=0))
        (1, True)
        """
        self.generator(u)
        cache = self._thread_cache()
        if cache.partials is None:
            cache.partials = operators.partial_generators(
                self.grid, self.kappa, self.scheme, cache.u, self._mats)
        return cache.partials

    def generator_derivative(self, u, v) -> sp.csr_array:
        r"""Exact directional derivative :math:`J = ∂L/∂\mathbf u[\mathbf v]` (sparse, n × n).

        For the central scheme :math:`J = −\sum_a \operatorname{diag}(v_a) D^{(1)}_a
        = −\mathbf v·∇_h`, the discrete form of the corrected (4.6). The upwind scheme is not
        differentiable where a velocity component vanishes; the convention used there is
        documented in :mod:`advdiff_sens.discretisation.operators`.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.
        v : array_like, shape ``(ndim, *grid.shape)``
            Direction.

        Returns
        -------
        scipy.sparse.csr_array, shape (n, n)

        Examples
        --------
        The central generator is affine in u, so its difference quotient is exact:

        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> v = 0.2 * np.cos(2 * np.pi * model.grid.coords[0])[None]
        >>> J = model.generator_derivative(u, v)
        >>> bool(abs(model.generator(u + v) - model.generator(u) - J).max() < 1e-12)
        True
        """
        v = self.grid.check_velocity(v, "v")
        parts = self.partial_generators(u)
        terms = [sp.diags_array(v[a].ravel()) @ parts[a] for a in range(self.grid.ndim)]
        return sp.csr_array(sum(terms[1:], terms[0]))

    def kappa_derivative(self, u) -> sp.csr_array:
        r"""Exact :math:`K = ∂L/∂κ` at ``u`` (sparse, n × n).

        Every scheme's generator is positively homogeneous of degree one in
        :math:`(\mathbf u, κ)` — central and upwind are :math:`κΔ_h` plus a term of degree
        one in :math:`\mathbf u`, and the exponentially fitted coefficients are
        :math:`(κ/h^2)B(±uh/κ)` —, so Euler's theorem gives
        :math:`L = J(\mathbf u; \mathbf u) + κK`, i.e.
        :math:`K = (L − \sum_a \operatorname{diag}(u_a)P_a)/κ`: the discrete Laplacian
        :math:`Δ_h` for central and upwind, a Péclet-dependent operator for exponential fitting.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.

        Returns
        -------
        scipy.sparse.csr_array, shape (n, n)

        Examples
        --------
        The central generator is affine in κ, so the difference quotient is exact:

        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.05)
        >>> u = np.ones((1, 32))
        >>> K = model.kappa_derivative(u)
        >>> dL = model.with_kappa(0.06).generator(u) - model.generator(u)
        >>> bool(abs(dL / 0.01 - K).max() < 1e-9 * abs(K).max())
        True
        """
        L = self.generator(u)
        return sp.csr_array((L - self.generator_derivative(u, self._thread_cache().u)) / self.kappa)

    def plan_solve(self, u, t) -> PropagationPlan:
        r"""What :meth:`solve` will do for ``u`` and ``t``, before any product: the backend,
        the matrix–vector products, the Chebyshev schedule and whether the run checks for
        the stationary limit (:meth:`advdiff_sens.matrix.Propagator.plan`). A tangent costs
        about twice, a discrete-adjoint gradient about four times these products.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
            Nodal velocity.
        t : float or array_like
            As in :meth:`solve`.

        Returns
        -------
        PropagationPlan

        Examples
        --------
        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(64,), bc="periodic"), kappa=0.01)
        >>> plan = model.plan_solve(np.ones((1, 64)), 1e6)
        >>> plan.stationary                    # long time: stops at the certified mean
        'interval'
        """
        return self.propagator(u).plan(t)

    def _check_theta0(self, theta0) -> np.ndarray:
        return self.grid.check_field(theta0, "theta0")

    def solve(self, u, theta0, t) -> np.ndarray:
        r"""Solve (4.3): :math:`θ(t) = \exp(tL(\mathbf u))\,θ_0`.

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
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

        Examples
        --------
        On a periodic grid the central scheme carries a plane wave
        :math:`\sin kx` exactly as :math:`e^{−κk_h^2t}\sin(kx − u\tilde k t)` with
        :math:`k_h^2 = (2 − 2\cos kh)/h^2` and :math:`\tilde k = \sin(kh)/h`:

        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> x, k, h = model.grid.coords[0], 2 * np.pi, 1 / 32
        >>> theta = model.solve(u, np.sin(k * x), [0.25, 0.5])
        >>> decay, shift = (2 - 2 * np.cos(k * h)) / h**2, np.sin(k * h) / h
        >>> exact = np.exp(-0.02 * decay * 0.5) * np.sin(k * x - shift * 0.5)
        >>> theta.shape, bool(np.abs(theta[1] - exact).max() < 1e-12)
        ((2, 32), True)

        A :class:`~advdiff_sens.sensitivity.WindowedVelocity` is a flow constant on each time
        window, and the solution the product of exponentials
        :math:`e^{(t − τ_k)L_k}e^{Δ_{k-1}L_{k-1}}\cdots e^{Δ_0L_0}θ_0`
        (:mod:`advdiff_sens.sensitivity.windows`). The same flow on two windows is the steady
        flow:

        >>> from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
        >>> two = WindowedVelocity(TimeWindows([0.0, 0.3, np.inf]), np.stack([u, u]))
        >>> bool(np.allclose(model.solve(two, np.sin(k * x), 0.5), theta[1], rtol=0, atol=1e-12))
        True
        """
        theta0 = self._check_theta0(theta0)
        if isinstance(u, WindowedVelocity):
            return self._windowed_solve(u, theta0.ravel(), t)
        return self._to_grid(self.propagator(u).apply(theta0.ravel(), t))

    def _windowed_solve(self, u: WindowedVelocity, theta0: np.ndarray, t) -> np.ndarray:
        """:meth:`solve` window by window (the end state of one starts the next)."""
        self._check_windowed(u)
        times, scalar = as_times(t, "t")
        out = None
        x = theta0
        for segment in u.windows.segments(times):
            k = segment.window
            states = self._window_model(k).propagator(u.window(k)).apply(x, segment.times)
            if out is None:
                out = np.empty((times.size, x.size), dtype=states.dtype)
            out[segment.observed] = states[:segment.n_observed]
            x = states[-1]
        return self._to_grid(out[0] if scalar else out)

    def _to_grid(self, x: np.ndarray) -> np.ndarray:
        """Flat states ``(..., n)`` reshaped to ``(..., *grid.shape)``."""
        return x.reshape(x.shape[:-1] + self.grid.shape)

    def tangent(self, u, theta0, v, t, *, with_solution: bool = False, dkappa=None):
        r"""Exact velocity sensitivity :math:`ρ(t) = ∂θ(t)/∂\mathbf u[\mathbf v]` ((4.5), (1.3)).

        Solves :math:`\dot ρ = Lρ + J(\mathbf v)θ`, :math:`ρ(0) = 0` through the
        block-triangular system of :func:`advdiff_sens.matrix.expm_frechet_actions` (the
        pair for one direction; for a block of directions one arrow system that shares θ).
        With ``dkappa`` the direction also changes the diffusivity: :math:`J = J(\mathbf v) +
        δκ\,K`, :math:`K = ∂L/∂κ` (:meth:`kappa_derivative`).

        Parameters
        ----------
        u : array_like, shape ``(ndim, *grid.shape)``
        theta0 : array_like, shape grid.shape
        v : array_like, shape ``(ndim, *grid.shape)`` or ``(m, ndim, *grid.shape)``
            One direction, or a block of ``m`` directions.
        t : float or array_like
            As in :meth:`solve`.
        with_solution : bool
            Also return θ(t) (from the same propagation).
        dkappa : float or array_like (m,), optional
            Diffusivity change of the direction (one per direction of a block).

        Returns
        -------
        rho : ndarray
            The shape :meth:`solve` returns, with a leading ``m`` axis for a block of
            directions.
        theta : ndarray
            Only if ``with_solution``: the shape :meth:`solve` returns.

        Examples
        --------
        For constant ``u`` and ``v`` the plane wave of :meth:`solve` gives
        :math:`ρ = −v\tilde k t\,e^{−κk_h^2t}\cos(kx − u\tilde k t)`:

        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> x, k, h, t = model.grid.coords[0], 2 * np.pi, 1 / 32, 0.5
        >>> rho, theta = model.tangent(u, np.sin(k * x), np.ones((1, 32)), t, with_solution=True)
        >>> decay, shift = (2 - 2 * np.cos(k * h)) / h**2, np.sin(k * h) / h
        >>> exact = -shift * t * np.exp(-0.02 * decay * t) * np.cos(k * x - shift * t)
        >>> bool(np.abs(rho - exact).max() < 1e-12)
        True
        >>> model.tangent(u, np.sin(k * x), np.ones((3, 1, 32)), t).shape   # a block of 3
        (3, 32)

        A change of κ alone damps the wave: :math:`ρ = −tμ\,θ`, :math:`μ = (2 − 2\cos kh)/h^2`:

        >>> rho = model.tangent(u, np.sin(k * x), np.zeros((1, 32)), t, dkappa=1.0)
        >>> bool(np.abs(rho + t * decay * theta).max() < 1e-10)
        True

        For a :class:`~advdiff_sens.sensitivity.WindowedVelocity` the direction has one
        velocity per window, ``(K, ndim, *grid.shape)`` (or a block ``(m, K, ndim,
        *grid.shape)``), and ρ carries across the edges: :math:`ρ(τ_k + s) =
        ∇_{J_k}e^{sL_k}θ(τ_k) + e^{sL_k}ρ(τ_k)`. Perturbing both windows alike is the steady
        tangent:

        >>> from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
        >>> two = WindowedVelocity(TimeWindows([0.0, 0.2, np.inf]), np.stack([u, u]))
        >>> rho2 = model.tangent(two, np.sin(k * x), np.ones((2, 1, 32)), t)
        >>> bool(np.abs(rho2 - exact).max() < 1e-12)
        True
        """
        theta0 = self._check_theta0(theta0).ravel()
        if isinstance(u, WindowedVelocity):
            return self._windowed_tangent(u, theta0, v, t, with_solution, dkappa)
        v = np.asarray(v)
        block = v.ndim == self.grid.ndim + 2
        directions = v if block else v[None]
        Js = [self.generator_derivative(u, vk) for vk in directions]
        if dkappa is not None:
            dkappa = as_real_array(dkappa, "dkappa", shape=(len(Js),) if block else ())
            K = self.kappa_derivative(u)
            Js = [J + dk * K for J, dk in zip(Js, np.atleast_1d(dkappa))]
        theta, rho = tangent(self.propagator(u), Js, theta0, t)
        rho = self._to_grid(rho if block else rho[0])
        return (rho, self._to_grid(theta)) if with_solution else rho

    def _windowed_tangent(self, u: WindowedVelocity, theta0: np.ndarray, v, t,
                          with_solution: bool, dkappa):
        """:meth:`tangent` window by window (θ and ρ carried across the edges)."""
        self._check_windowed(u)
        directions, block = self._windowed_direction(u, v)
        m = len(directions)
        if dkappa is not None:
            dkappa = np.atleast_1d(as_real_array(dkappa, "dkappa", shape=(m,) if block else ()))
        times, scalar = as_times(t, "t")
        n = self.grid.n
        theta_out, rho_out = np.empty((times.size, n)), np.empty((m, times.size, n))
        x, rho0 = theta0, None
        for segment in u.windows.segments(times):
            k = segment.window
            model, uk = self._window_model(k), u.window(k)
            Js = [model.generator_derivative(uk, d[k]) for d in directions]
            if dkappa is not None:
                K = model.kappa_derivative(uk)
                Js = [J + dk * K for J, dk in zip(Js, dkappa)]
            propagator = model.propagator(uk)
            theta, rho = tangent(propagator, Js, x, segment.times)
            if rho0 is not None and np.any(rho0):
                rho = rho + np.moveaxis(propagator.apply(rho0.T, segment.times), -1, 0)
            theta_out[segment.observed] = theta[:segment.n_observed]
            rho_out[:, segment.observed] = rho[:, :segment.n_observed]
            x, rho0 = theta[-1], rho[:, -1]
        if scalar:
            theta_out, rho_out = theta_out[0], rho_out[:, 0]
        rho_out = self._to_grid(rho_out if block else rho_out[0])
        return (rho_out, self._to_grid(theta_out)) if with_solution else rho_out

    def surrogate(self, u, theta0, v, t, order: int | str = 1) -> np.ndarray:
        r"""Surrogate of :math:`ρ(t)`: order 1 (1.6) :math:`tE Jθ_0`, order 3 (4.1), or
        ``"asymptotic"`` (corrected Theorem 2.1; requires a rate-matrix generator).

        Here :math:`E = e^{tL}`. Order 1 is exact when :math:`J` commutes with :math:`L`
        (constant u and v on a periodic grid); order 3 is a short-time expansion, useful for
        :math:`t\|L\| ≲ 1`; the asymptotic form is accurate once :math:`t ≫ 1/e_m`
        (spectral gap). See :func:`advdiff_sens.matrix.surrogate_action`.

        Parameters
        ----------
        u, theta0, v, t
            As in :meth:`tangent` (one direction ``v``).
        order : {1, 3, "asymptotic"}

        Returns
        -------
        ndarray
            The shape :meth:`solve` returns.

        Examples
        --------
        Constant u and v on a periodic grid: :math:`J` commutes with :math:`L` and order 1
        is the tangent.

        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u = np.ones((1, 32))
        >>> theta0, v = np.sin(2 * np.pi * model.grid.coords[0]), np.ones((1, 32))
        >>> rho1 = model.surrogate(u, theta0, v, 0.5)
        >>> bool(np.allclose(rho1, model.tangent(u, theta0, v, 0.5), rtol=0, atol=1e-12))
        True
        """
        L = self.generator(u)
        J = self.generator_derivative(u, v)
        theta0 = self._check_theta0(theta0).ravel()
        return self._to_grid(surrogate(L, J, theta0, t, order, backend=self.backend))

    def gradient(self, u, theta0, objective: Objective, t, *,
                 adjoint: str | Adjoint = "auto", with_theta0: bool = False,
                 with_kappa: bool = False) -> GradientResult:
        r"""Adjoint gradient of :math:`Φ(θ)` with respect to the nodal velocity field, and on
        request to the initial state and the diffusivity, from the same sweep.

        .. math::

            \frac{∂Φ}{∂u_{a,i}} = \int_0^{t_k} λ_i(s)\,(P_aθ(s))_i\,ds,\qquad
            λ(s) = \sum_{t_j ≥ s} e^{(t_j − s)L^T}\frac{∂Φ}{∂θ(t_j)}

        (the discrete (4.7) with the sign corrected; see :mod:`advdiff_sens.sensitivity`);
        :math:`∂Φ/∂θ_0 = λ(0)`, the adjoint state where the sweep ends, and
        :math:`∂Φ/∂κ = \int_0^{t_k} λ(s)^T Kθ(s)\,ds` with :math:`K = ∂L/∂κ`
        (:meth:`kappa_derivative`; :math:`Δ_h` for central and upwind): the same contraction
        as a velocity component, one more pattern, no extra solve.

        Parameters
        ----------
        u, theta0, t
            As in :meth:`solve` (real ``theta0``).
        objective : callable
            ``objective(theta) -> (value, dvalue/dtheta)``, ``theta`` shaped like the output of
            ``solve(u, theta0, t)``.
        adjoint : Adjoint or {"auto", "discrete", "quadrature", "surrogate"}
            The method (:mod:`advdiff_sens.sensitivity`):
            :class:`~advdiff_sens.sensitivity.DiscreteAdjoint` (reverse mode of the
            Chebyshev propagator, the products of three forward solves plus the
            contractions, exact adjoint of :meth:`tangent`; needs a Chebyshev schedule),
            :class:`~advdiff_sens.sensitivity.QuadratureAdjoint` (adaptive Gauss–Kronrod
            quadrature of the integral above with an error estimate; any backend),
            :class:`~advdiff_sens.sensitivity.SurrogateAdjoint` (the first-order surrogate
            (1.6): one backward solve, exact only when :math:`J` commutes with :math:`L`),
            or :class:`~advdiff_sens.sensitivity.AutoAdjoint` (default: discrete where a
            Chebyshev schedule can be recorded, else quadrature).
        with_theta0 : bool
            Also compute :math:`∂Φ/∂θ_0` (``.theta0_gradient``, of ``grid.shape``; exact for
            every method, the surrogate included, which approximates only the velocity
            derivative).
        with_kappa : bool
            Also compute :math:`∂Φ/∂κ` (``.kappa_gradient``; with the surrogate, the
            surrogate's approximation of it).

        Returns
        -------
        GradientResult
            Unpacks as ``value, grad`` (``grad`` of shape ``(ndim, *grid.shape)``); its
            ``.info`` is the method's diagnostics (error estimate or bound, quadrature nodes,
            memory of the stored states); ``.theta0_gradient`` and ``.kappa_gradient`` are
            set when asked for.

        Examples
        --------
        >>> import numpy as np, advdiff_sens as ads
        >>> model = ads.AdvectionDiffusion(ads.Grid(shape=(32,), bc="periodic"), kappa=0.02)
        >>> u, theta0 = np.ones((1, 32)), np.sin(2 * np.pi * model.grid.coords[0])
        >>> value, grad = model.gradient(u, theta0, lambda th: (float(th.sum()), np.ones(32)), 0.5)
        >>> grad.shape
        (1, 32)

        The mean is conserved, so :math:`Φ = \sum_iθ_i(t)` has :math:`∂Φ/∂θ_0 = 1` and
        :math:`∂Φ/∂κ = 0`:

        >>> result = model.gradient(u, theta0, lambda th: (float(th.sum()), np.ones(32)), 0.5,
        ...                         with_theta0=True, with_kappa=True)
        >>> bool(np.allclose(result.theta0_gradient, 1)), bool(abs(result.kappa_gradient) < 1e-9)
        (True, True)

        For a :class:`~advdiff_sens.sensitivity.WindowedVelocity` the gradient has one field
        per window, ``(K, ndim, *grid.shape)``, from one forward and one backward sweep across
        the windows (:func:`~advdiff_sens.sensitivity.windowed_gradient`; windows after the
        last time get zeros); ``.info`` is the tuple of the windows' diagnostics. The windows'
        gradients add up to the steady one:

        >>> from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
        >>> two = WindowedVelocity(TimeWindows([0.0, 0.2, np.inf]), np.stack([u, u]))
        >>> objective = lambda th: (0.5 * float(th @ th), th)
        >>> steady = model.gradient(u, theta0, objective, 0.5).gradient
        >>> windowed = model.gradient(two, theta0, objective, 0.5).gradient
        >>> windowed.shape, bool(np.allclose(windowed.sum(axis=0), steady, rtol=0, atol=1e-12))
        ((2, 1, 32), True)
        """
        method = as_adjoint(adjoint)
        check_callable(objective, "objective")
        theta0 = self._check_theta0(theta0).ravel()
        times, scalar = as_times(t, "t")
        n = self.grid.n

        def evaluate(states: np.ndarray) -> tuple[float, np.ndarray]:
            theta = states[0] if scalar else states
            value, dtheta = check_objective_output(objective(self._to_grid(theta)),
                                                   theta.shape[:-1] + self.grid.shape)
            return value, dtheta.reshape(len(times), n)

        if isinstance(u, WindowedVelocity):
            return self._windowed_gradient(u, theta0, evaluate, times, method, with_theta0,
                                           with_kappa)
        partials = list(self.partial_generators(u))
        if with_kappa:
            partials.append(self.kappa_derivative(u))
        problem = GradientProblem(self.propagator(u),
                                  lambda: self.propagator(u, transpose=True),
                                  partials, theta0, times, evaluate,
                                  want_theta0=bool(with_theta0))
        result = method.gradient(problem)
        ndim = self.grid.ndim
        return GradientResult(
            result.value, result.gradient[:ndim].reshape((ndim, *self.grid.shape)), result.info,
            theta0_gradient=(None if result.theta0_gradient is None
                             else result.theta0_gradient.reshape(self.grid.shape)),
            kappa_gradient=float(result.gradient[ndim].sum()) if with_kappa else None)

    def _windowed_gradient(self, u: WindowedVelocity, theta0: np.ndarray, evaluate, times,
                           method: Adjoint, with_theta0: bool, with_kappa: bool
                           ) -> GradientResult:
        """:meth:`gradient` by :func:`~advdiff_sens.sensitivity.windowed_gradient`."""
        self._check_windowed(u)

        def window_problem(k: int, x: np.ndarray, local: np.ndarray) -> GradientProblem:
            model, uk = self._window_model(k), u.window(k)
            partials = list(model.partial_generators(uk))
            if with_kappa:
                partials.append(model.kappa_derivative(uk))
            return GradientProblem(model.propagator(uk),
                                   lambda: model.propagator(uk, transpose=True),
                                   partials, x, local, evaluate, want_theta0=True)

        result = windowed_gradient(method, u.windows, window_problem, theta0, times, evaluate)
        ndim, K = self.grid.ndim, u.n_windows
        return GradientResult(
            result.value, result.gradient[:, :ndim].reshape((K, ndim, *self.grid.shape)),
            result.info,
            theta0_gradient=(result.theta0_gradient.reshape(self.grid.shape) if with_theta0
                             else None),
            kappa_gradient=float(result.gradient[:, ndim].sum()) if with_kappa else None)
