r"""Velocity parameterisations: coefficients ``c`` → nodal velocity ``u`` and the chain rule back.

Each parameterisation is linear, :math:`\mathbf u = B c`, so a gradient with respect to the
nodal field (the adjoint's output) pulls back as :math:`∇_c Φ = B^T ∇_{\mathbf u}Φ` and a
coefficient direction :math:`δc` pushes forward to the velocity direction :math:`B\,δc`.

* :class:`NodalVelocity` — every nodal value is a parameter (``B = I``).
* :class:`UniformVelocity` — one constant vector (``ndim`` parameters).
* :class:`NodalStreamFunction` — 2-D divergence-free flows :math:`\mathbf u = ∇^⊥_hψ =
  (D^w_yψ, −D^w_xψ)` from a stream function with one value per free node, on every
  boundary-condition combination of the grid: periodic on both axes, the channel
  (periodic × walls) and the rectangle (walls × walls).
* :class:`StreamFunctionBasis` — the same map applied to stream-function modes: Fourier
  modes :math:`\cos/\sin(2πk·x/ℓ)` on the periodic square, products of
  :math:`\sin(πmx_a/ℓ_a)` across each wall axis and Fourier factors along a periodic axis
  otherwise.

Walls. Every non-periodic axis of the grid (``"neumann"``, no-flux for θ, or
``"dirichlet"``, absorbing for θ) is a wall of the flow, and the stream function is constant
on it, :math:`ψ = 0`: the velocity is tangential there and the channel carries no net flux
(:math:`\int u_x\,dy = ψ(\text{top}) − ψ(\text{bottom}) = 0`), unless
:class:`NodalStreamFunction` is given ``through_flow=True`` (ψ = Q on the far wall of a
no-flux channel, Q one more coefficient). Where the wall is depends on the grid's node layout
(:mod:`advdiff_sens.discretisation.grid`):

* a **Neumann** axis has its walls *on* the first and last nodes; their :math:`ψ` is fixed
  at 0 and the free values are the ``N − 2`` interior nodes;
* a **Dirichlet** axis has its walls half a ghost beyond the end nodes
  (:math:`x_{-1} = 0`, :math:`x_N = ℓ`): :math:`ψ = 0` at the ghosts, all ``N`` nodes free.

Either way the free nodes form the Dirichlet grid :attr:`NodalStreamFunction.free_grid`
(same extent and spacing), on which the stream function's prior lives
(:class:`~advdiff_sens.inference.priors.GaussianRandomField` with :math:`ψ = 0` at the walls).

The wall difference :math:`D^w_a` is the central difference
:math:`(ψ_{i+1} − ψ_{i−1})/2h` on periodic and Dirichlet axes (ghosts 0) and in the interior
of Neumann axes; on the wall nodes of a Neumann axis it is the one-sided difference,
:math:`(ψ_1 − ψ_0)/h` and :math:`(ψ_{N−1} − ψ_{N−2})/h` — the central difference with
:math:`ψ` reflected *oddly* about its wall value, because :math:`ψ − ψ_{\text{wall}}` changes
sign through the wall. (The generator's even reflection, right for θ, would make the
tangential wall velocity 0 and break the mass balance below.) Then:

* the normal velocity vanishes on every wall: on a Neumann wall node
  :math:`u_{\text{normal}} = ∓D^w_{\text{along}}ψ = 0` because :math:`ψ` is constant along
  the wall, exactly; across a Dirichlet wall the ghost velocity is 0 for the same reason;
* :func:`discrete_divergence` — the divergence in the central generator's mass balance
  :math:`\frac{d}{dt}w^Tθ = w^TL\,θ` — is :math:`D^w_xD^w_yψ − D^w_yD^w_xψ = 0` to rounding
  (difference matrices along different axes commute): central advection moves the scalar
  without creating or destroying mass, and at no-flux walls the total mass is conserved
  (at Dirichlet walls only diffusion removes it).

A flow parameterisation that can cross a no-flux wall (:class:`NodalVelocity`,
:class:`UniformVelocity` on a grid with Neumann axes) is rejected by
:class:`~advdiff_sens.inference.spaces.ParameterSpace`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import as_real_array, check_positive_scalar
from advdiff_sens.discretisation.grid import MIN_NODES, Grid
from advdiff_sens.discretisation.operators import difference_matrices

__all__ = ["NodalVelocity", "UniformVelocity", "StreamFunctionBasis", "NodalStreamFunction",
           "discrete_divergence"]


class _LinearVelocity:
    """Shared chain rule of a linear parameterisation ``u = B c`` stored as basis fields."""

    grid: Grid
    n_params: int

    def _basis(self) -> np.ndarray:
        raise NotImplementedError

    def _check_coefficients(self, c) -> np.ndarray:
        return as_real_array(c, "coefficients", shape=(self.n_params,))

    def to_velocity(self, c) -> np.ndarray:
        """Velocity field :math:`B c` of shape ``(ndim, *grid.shape)``."""
        return np.tensordot(self._check_coefficients(c), self._basis(), axes=(0, 0))

    def pullback(self, grad_u) -> np.ndarray:
        """Coefficient gradient :math:`B^T ∇_{\\mathbf u}Φ` from a nodal-velocity gradient."""
        grad_u = self.grid.check_velocity(grad_u, "grad_u")
        return np.tensordot(self._basis(), grad_u, axes=grad_u.ndim)


class NodalVelocity(_LinearVelocity):
    """Every nodal velocity value is a parameter: ``c`` is ``u`` flattened.

    ``B = I``: :meth:`to_velocity` reshapes ``c`` (p = ``ndim·grid.n``,) to
    ``(ndim, *grid.shape)`` and :meth:`pullback` flattens a nodal gradient back.

    Parameters
    ----------
    grid : Grid

    Attributes
    ----------
    grid : Grid
    n_params : int
        ``grid.ndim * grid.n``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> param = NodalVelocity(Grid((8, 8)))
    >>> c = np.arange(param.n_params, dtype=float)
    >>> param.n_params, param.to_velocity(c).shape
    (128, (2, 8, 8))
    >>> bool(np.array_equal(param.pullback(param.to_velocity(c)), c))     # B = I
    True
    """

    def __init__(self, grid: Grid) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.n_params = grid.ndim * grid.n

    def to_velocity(self, c) -> np.ndarray:
        return self._check_coefficients(c).reshape((self.grid.ndim, *self.grid.shape))

    def pullback(self, grad_u) -> np.ndarray:
        return self.grid.check_velocity(grad_u, "grad_u").ravel()


class UniformVelocity(_LinearVelocity):
    r"""A constant velocity vector: ``u_a(x) = c_a``.

    ``ndim`` parameters; :meth:`pullback` sums the nodal gradient over the nodes of each
    component, :math:`(B^T g)_a = \sum_i g_{a,i}`.

    Parameters
    ----------
    grid : Grid

    Attributes
    ----------
    grid : Grid
    n_params : int
        ``grid.ndim``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> param = UniformVelocity(Grid((8, 16)))
    >>> u = param.to_velocity([1.0, -2.0])
    >>> u.shape, u[:, 3, 5].tolist()
    ((2, 8, 16), [1.0, -2.0])
    >>> param.pullback(np.ones((2, 8, 16))).tolist()             # one sum per component
    [128.0, 128.0]
    """

    def __init__(self, grid: Grid) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.n_params = grid.ndim

    def to_velocity(self, c) -> np.ndarray:
        c = self._check_coefficients(c)
        return np.broadcast_to(c.reshape((-1,) + (1,) * self.grid.ndim),
                               (self.grid.ndim, *self.grid.shape)).copy()

    def pullback(self, grad_u) -> np.ndarray:
        grad_u = self.grid.check_velocity(grad_u, "grad_u")
        return grad_u.reshape(self.grid.ndim, -1).sum(axis=1)


def _check_2d(grid: Grid, what: str) -> None:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D for {what}, got {grid.ndim}-D")


def _wall_differences(grid: Grid) -> list[sp.csr_array]:
    r"""The wall differences :math:`D^w_a` (module docstring), one (n, n) matrix per axis."""
    mats = difference_matrices(grid)
    out = []
    for a, bc in enumerate(grid.bc):
        forward, backward = mats["forward"][a], mats["backward"][a]
        central = (forward + backward) / 2
        if bc != "neumann":
            out.append(sp.csr_array(central))
            continue
        index = np.indices(grid.shape)[a].ravel()
        first = (index == 0).astype(float)
        last = (index == grid.shape[a] - 1).astype(float)
        out.append(sp.csr_array(sp.diags_array(1.0 - first - last) @ central
                                + sp.diags_array(first) @ forward
                                + sp.diags_array(last) @ backward))
    return out


def discrete_divergence(grid: Grid, u) -> np.ndarray:
    r"""The divergence of the central scheme's mass balance,
    :math:`\operatorname{div}_h\mathbf u = −W^{-1}\sum_a D^{(1)T}_a(w ∘ u_a)`.

    With :math:`L = κΔ_h − \sum_a \operatorname{diag}(u_a)D^{(1)}_a` the central generator
    and :math:`w` the quadrature weights (:attr:`~advdiff_sens.discretisation.Grid.weights`),
    :math:`\frac{d}{dt}w^Tθ = κw^TΔ_hθ + \sum_i w_i(\operatorname{div}_h\mathbf u)_iθ_i`, a
    discrete :math:`\int θ∇·\mathbf u`: central advection conserves the mass of every θ iff
    :math:`\operatorname{div}_h\mathbf u = 0`. On a periodic axis this is the central
    difference of :math:`u_a`; on a Dirichlet axis the same with :math:`u_a = 0` at the
    walls; on a Neumann axis the wall nodes' normal component does not enter (the reflected
    wall rows of the central generator do not use it) and the wall rows are one-sided,
    :math:`u_{a,1}/h` and :math:`−u_{a,N−2}/h` (the odd reflection of a velocity that
    vanishes at the wall). The normal velocity on the Neumann walls is measured separately by
    :func:`advdiff_sens.discretisation.physics.wall_normal_velocity`.

    Parameters
    ----------
    grid : Grid
    u : array_like ``(ndim, *grid.shape)``
        Nodal velocity.

    Returns
    -------
    ndarray, grid.shape

    Examples
    --------
    A solid-body rotation about the centre of a Neumann square is divergence free but crosses
    the walls: its mass-balance divergence vanishes away from them and not next to them
    (the flux through the wall); the nodal stream function's flows have neither:

    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> from advdiff_sens.discretisation.physics import wall_normal_velocity
    >>> grid = Grid((9, 9), bc="neumann")
    >>> x, y = grid.coords
    >>> rotation = np.stack([-(y - 0.5), x - 0.5])
    >>> div = discrete_divergence(grid, rotation)
    >>> float(np.abs(div[2:-2, 2:-2]).max()), float(np.abs(div[1, 1:-1]).max())
    (0.0, 1.0)
    >>> wall_normal_velocity(grid, rotation)
    0.5
    >>> param = NodalStreamFunction(grid)
    >>> u = param.to_velocity(np.random.default_rng(0).standard_normal(param.n_params))
    >>> bool(np.abs(discrete_divergence(grid, u)).max() < 1e-13 * np.abs(u).max()), \
    ...     wall_normal_velocity(grid, u)
    (True, 0.0)
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
    u = grid.check_velocity(u, "u")
    mats = difference_matrices(grid)
    w = grid.weights.ravel()
    out = np.zeros(grid.n)
    for a in range(grid.ndim):
        d1 = (mats["forward"][a] + mats["backward"][a]) / 2
        out -= d1.T @ (w * u[a].ravel())
    return (out / w).reshape(grid.shape)


class NodalStreamFunction(_LinearVelocity):
    r"""Divergence-free 2-D velocities from a nodal stream function on any boundary-condition
    combination: :math:`\mathbf u = ∇^⊥_hψ = (D^w_yψ, −D^w_xψ)` with the wall differences
    :math:`D^w` and :math:`ψ = 0` on the walls (module docstring).

    The parameters are :math:`ψ` at the free nodes (p = :attr:`free_grid` ``.n``: every node on
    a periodic or Dirichlet axis, the interior nodes of a Neumann axis), so a flow through a
    wall is impossible by construction: the normal velocity on the walls is exactly zero and
    :func:`discrete_divergence` is :math:`(D^w_xD^w_y − D^w_yD^w_x)ψ = 0` to rounding. With
    ψ = 0 on both walls a channel has zero net flux; ``through_flow=True`` adds the net flux
    :math:`Q` (volume per unit time and unit depth, :math:`ψ` on the far wall minus on the
    near one) as a last coefficient: :math:`ψ = ψ' + Q\,s/ℓ` with :math:`s` the coordinate
    across the channel and :math:`ψ'` = 0 on both walls (the free-node coefficients), so
    ψ is constant on each wall and the flow is the uniform :math:`Q/ℓ` along the channel
    plus a zero-net-flux part (the wall differences of a linear function are exact).

    :meth:`pullback` is the transpose, :math:`B^Tg = E^T(D^{wT}_y g_x − D^{wT}_x g_y)` with
    :math:`E` the embedding of the free nodes.

    Parameters
    ----------
    grid : Grid
        2-D grid, any boundary conditions (a Neumann axis needs at least 5 nodes: 3 free).
    through_flow : bool
        Add the channel's net flux Q as a last coefficient (a channel only: one periodic
        axis, one no-flux axis). Its prior is the user's, e.g. ``BlockGaussian([field_prior,
        DiagonalGaussian([0.0], flux_sd)])``.

    Attributes
    ----------
    grid : Grid
    through_flow : bool
    free_grid : Grid
        The free nodes as a grid of the same extent: the Neumann axes lose their two wall
        nodes and become Dirichlet (ψ = 0 one spacing beyond the end nodes), the other axes
        are unchanged. A prior of the coefficients is a field on it, e.g.
        ``GaussianRandomField(param.free_grid, ...)``.
    n_params : int
        ``free_grid.n`` (``grid.n`` without Neumann axes), plus 1 with ``through_flow``.

    Examples
    --------
    On the periodic square every node is free:

    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> grid = Grid((16, 16))
    >>> param = NodalStreamFunction(grid)
    >>> psi = np.random.default_rng(0).standard_normal(param.n_params)
    >>> u = param.to_velocity(psi)
    >>> bool(np.abs(discrete_divergence(grid, u)).max() < 1e-12 * np.abs(u).max())
    True
    >>> g = np.random.default_rng(1).standard_normal(u.shape)      # ⟨Bψ, g⟩ = ⟨ψ, Bᵀg⟩
    >>> bool(np.isclose(np.sum(u * g), psi @ param.pullback(g)))
    True

    A channel, periodic in x with no-flux walls at y = 0 and y = 1 (nodes on the walls):

    >>> channel = NodalStreamFunction(Grid((16, 17), bc=("periodic", "neumann")))
    >>> channel.n_params, channel.free_grid
    (240, Grid(shape=(16, 15), extent=(1.0, 1.0), bc=('periodic', 'dirichlet')))
    >>> u = channel.to_velocity(np.random.default_rng(2).standard_normal(channel.n_params))
    >>> float(np.abs(u[1][:, [0, -1]]).max())                   # u_y on the walls
    0.0

    The same channel with a net flux Q = 0.3 and nothing else: a uniform flow Q/ℓ along it.

    >>> through = NodalStreamFunction(Grid((16, 17), bc=("periodic", "neumann")),
    ...                               through_flow=True)
    >>> c = np.zeros(through.n_params)
    >>> c[-1] = 0.3
    >>> u = through.to_velocity(c)
    >>> bool(np.allclose(u[0], 0.3) and np.all(u[1] == 0.0))
    True
    >>> psi = through.stream_function(c)
    >>> float(psi[:, 0].max()), float(psi[:, -1].min())         # ψ on the walls: 0 and Q
    (0.0, 0.3)
    """

    def __init__(self, grid: Grid, through_flow: bool = False) -> None:
        _check_2d(grid, "a nodal stream function")
        for size, bc in zip(grid.shape, grid.bc):
            if bc == "neumann" and size - 2 < MIN_NODES:
                raise ValueError(f"a Neumann (no-flux) axis needs at least {MIN_NODES + 2} nodes "
                                 f"for a nodal stream function ({MIN_NODES} free between the wall "
                                 f"nodes), got {size}")
        self.grid = grid
        self.free_grid = Grid(tuple(s - 2 if bc == "neumann" else s
                                    for s, bc in zip(grid.shape, grid.bc)),
                              grid.extent,
                              tuple("periodic" if bc == "periodic" else "dirichlet"
                                    for bc in grid.bc))
        self.through_flow = bool(through_flow)
        n_free = self.free_grid.n
        self.n_params = n_free + self.through_flow
        keep = [np.arange(s) if bc != "neumann" else np.arange(1, s - 1)
                for s, bc in zip(grid.shape, grid.bc)]
        self._free = np.ravel_multi_index(tuple(np.meshgrid(*keep, indexing="ij")),
                                          grid.shape).ravel()
        embed = sp.csr_array((np.ones(n_free), (self._free, np.arange(n_free))),
                             shape=(grid.n, n_free))
        if self.through_flow:
            if sorted(grid.bc) != ["neumann", "periodic"]:
                raise ValueError(f"through_flow needs a channel (one periodic axis and one "
                                 f"no-flux axis), got bc={grid.bc}")
            across = grid.bc.index("neumann")
            ramp = (grid.coords[across] / grid.extent[across]).ravel()    # 0 and 1 on the walls
            embed = sp.csr_array(sp.hstack([embed, sp.csr_array(ramp[:, None])]))
        self._embed = embed
        dx, dy = _wall_differences(grid)
        self._maps = [sp.csr_array(dy @ embed), sp.csr_array(-(dx @ embed))]
        self._maps_t = [sp.csr_array(m.T) for m in self._maps]

    def to_velocity(self, c) -> np.ndarray:
        psi = self._check_coefficients(c)
        return np.stack([m @ psi for m in self._maps]).reshape(2, *self.grid.shape)

    def pullback(self, grad_u) -> np.ndarray:
        g = self.grid.check_velocity(grad_u, "grad_u").reshape(2, -1)
        return self._maps_t[0] @ g[0] + self._maps_t[1] @ g[1]

    def stream_function(self, c) -> np.ndarray:
        """:math:`ψ` on the grid nodes, shape ``grid.shape`` (0 on Neumann wall nodes; with
        ``through_flow`` 0 on the near wall and Q on the far one)."""
        return (self._embed @ self._check_coefficients(c)).reshape(self.grid.shape)


def _factor(kind: str, k: float, x: np.ndarray, length: float) -> np.ndarray:
    """A 1-D mode factor: 1, cos or sin of :math:`2πkx/ℓ`."""
    if kind == "1":
        return np.ones_like(x)
    phase = 2 * np.pi * k * x / length
    return np.cos(phase) if kind == "cos" else np.sin(phase)


class StreamFunctionBasis(_LinearVelocity):
    r"""Divergence-free 2-D velocities from stream-function modes, on the periodic square, the
    channel (periodic × walls) and the rectangle (walls × walls).

    :math:`ψ = \sum_k c_kφ_k` and :math:`\mathbf u = ∇^⊥_hψ` through
    :class:`NodalStreamFunction` (the modes sampled at its free nodes), so the normal velocity
    is zero on the walls and :func:`discrete_divergence` vanishes to rounding. The modes, with
    wavevectors :math:`k` in cycles per domain length (physical wavenumber :math:`2πk_a/ℓ_a`):

    * periodic on both axes: :math:`\cos(2πk·x/ℓ)` and :math:`\sin(2πk·x/ℓ)` for the integer
      wavevectors :math:`k ≠ 0` of the half plane ``k_x > 0 or (k_x = 0 and k_y > 0)``;
    * otherwise products of one factor per axis: across a wall axis
      :math:`\sin(πm x_a/ℓ_a)`, :math:`m ≥ 1` (:math:`k_a = m/2`, half-integers; ψ = 0 on the
      walls), along a periodic axis :math:`1` (:math:`k_a = 0`), :math:`\cos` or
      :math:`\sin(2πk_ax_a/ℓ_a)`, :math:`k_a ≥ 1`.

    Each mode is an eigenfunction of the wall difference (a sine is odd about each wall, so
    the odd reflection agrees with it): the velocity is the analytic one with every
    derivative's :math:`ω` replaced by the central-difference symbol :math:`\sin(ωh)/h`, e.g.
    :math:`u_x = (\sin(ω_yh_y)/h_y)\cos(ω_yy)\,f(x)` for :math:`ψ = f(x)\sin(ω_yy)`, so it is
    :math:`∇^⊥ψ` to second order.

    Parameters
    ----------
    grid : Grid
        2-D grid, any boundary conditions (non-periodic axes are walls).
    kmax : float
        Keep the wavevectors with ``0 < |k| ≤ kmax`` (at least one: ``kmax ≥ 1`` on the
        periodic square, ``≥ 1/2`` for a channel, ``≥ √2/2`` for a rectangle).
    decay : float
        Prior-style spectral decay; :attr:`prior_scale` is ``|k|^{-decay}`` per coefficient.

    Attributes
    ----------
    wavevectors : ndarray (p, 2)
        Wavevector of each coefficient (int on the periodic square, where each appears twice:
        cosine then sine; float with half-integers across walls).
    kind : ndarray (p,)
        ``"cos"`` or ``"sin"`` of :math:`k·x` on the periodic square; otherwise the factors
        along x and y, e.g. ``"cos·sin"`` or ``"1·sin"``.
    n_params : int
    prior_scale : ndarray (p,)
        ``|k|^{-decay}`` of each coefficient.

    Examples
    --------
    ``kmax=1`` keeps the wavevectors (0, 1) and (1, 0), a cosine and a sine each:

    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> from advdiff_sens.discretisation import difference_matrices
    >>> grid = Grid((8, 8))
    >>> basis = StreamFunctionBasis(grid, kmax=1)
    >>> basis.n_params, basis.wavevectors.tolist(), basis.kind.tolist()
    (4, [[0, 1], [0, 1], [1, 0], [1, 0]], ['cos', 'sin', 'cos', 'sin'])

    The velocity is :math:`(D^{(1)}_yψ, −D^{(1)}_xψ)` with the central differences, so its
    central discrete divergence vanishes:

    >>> c = np.array([0.3, -0.1, 0.2, 0.5])
    >>> u, psi = basis.to_velocity(c), basis.stream_function(c).ravel()
    >>> mats = difference_matrices(grid)
    >>> d1 = [(f + b) / 2 for f, b in zip(mats["forward"], mats["backward"])]
    >>> bool(np.allclose(u[0].ravel(), d1[1] @ psi)), bool(np.allclose(u[1].ravel(), -d1[0] @ psi))
    (True, True)
    >>> bool(np.allclose(d1[0] @ u[0].ravel() + d1[1] @ u[1].ravel(), 0))
    True

    A channel with absorbing walls at y = 0 and 1: the shear flows :math:`ψ = \sin(πmy)`
    (:math:`k = (0, m/2)`) and the cells :math:`\cos/\sin(2πx)\sin(πy)`:

    >>> channel = StreamFunctionBasis(Grid((16, 15), bc=("periodic", "dirichlet")), kmax=1.2)
    >>> channel.kind.tolist()
    ['1·sin', '1·sin', 'cos·sin', 'sin·sin']
    >>> channel.wavevectors.tolist()
    [[0.0, 0.5], [0.0, 1.0], [1.0, 0.5], [1.0, 0.5]]
    >>> u = channel.to_velocity([0.0, 0.0, 1.0, 0.0])              # ψ = cos 2πx sin πy
    >>> bool(np.allclose(discrete_divergence(channel.grid, u), 0, atol=1e-12))
    True
    """

    def __init__(self, grid: Grid, kmax: float = 2.0, *, decay: float = 1.0) -> None:
        _check_2d(grid, "a stream-function basis")
        self.kmax = check_positive_scalar(kmax, "kmax")
        self.grid = grid
        self.decay = float(decay)
        self._nodal = NodalStreamFunction(grid)
        vectors, kinds = (self._fourier_modes() if grid.bc == ("periodic", "periodic")
                          else self._product_modes())
        if not kinds:
            smallest = 1.0 if grid.bc == ("periodic", "periodic") else (
                0.5 if "periodic" in grid.bc else np.sqrt(0.5))
            raise ValueError(f"kmax must be >= {smallest:.4g} on this grid (at least one mode: "
                             f"|k| of the gravest is {smallest:.4g}), got {kmax}")
        self.wavevectors = np.array(vectors)
        self.kind = np.array(kinds)
        self.n_params = len(kinds)
        self.prior_scale = np.linalg.norm(self.wavevectors, axis=1) ** (-self.decay)
        self._modes = self._sample(self._nodal.free_grid)
        self._fields = np.stack([self._nodal.to_velocity(m) for m in self._modes.T])

    def _fourier_modes(self) -> tuple[list, list]:
        """The half-plane integer wavevectors, a cosine and a sine each."""
        r = int(np.floor(self.kmax))
        ks = [(kx, ky) for kx in range(0, r + 1) for ky in range(-r, r + 1)
              if (kx > 0 or ky > 0) and kx * kx + ky * ky <= self.kmax * self.kmax]
        return [k for k in ks for _ in range(2)], ["cos", "sin"] * len(ks)

    def _product_modes(self) -> tuple[list, list]:
        """One factor per axis: sines across walls, 1/cos/sin along a periodic axis."""
        r = int(np.floor(2 * self.kmax))
        per_axis = []
        for bc in self.grid.bc:
            if bc == "periodic":
                per_axis.append([(0.0, "1")] + [(float(k), kind) for k in range(1, r + 1)
                                                for kind in ("cos", "sin")])
            else:
                per_axis.append([(m / 2, "sin") for m in range(1, r + 1)])
        vectors, kinds = [], []
        for kx, fx in per_axis[0]:
            for ky, fy in per_axis[1]:
                if kx * kx + ky * ky <= self.kmax * self.kmax:
                    vectors.append((kx, ky))
                    kinds.append(f"{fx}·{fy}")
        return vectors, kinds

    def _sample(self, grid: Grid) -> np.ndarray:
        """The modes at the nodes of ``grid``, shape ``(grid.n, p)``."""
        x, y = grid.coords
        lx, ly = grid.extent
        out = np.empty((grid.n, self.n_params))
        for p, ((kx, ky), kind) in enumerate(zip(self.wavevectors, self.kind)):
            if kind in ("cos", "sin"):
                phase = 2 * np.pi * (kx * x / lx + ky * y / ly)
                mode = np.cos(phase) if kind == "cos" else np.sin(phase)
            else:
                fx, fy = kind.split("·")
                mode = _factor(fx, kx, x, lx) * _factor(fy, ky, y, ly)
            out[:, p] = mode.ravel()
        return out

    def _basis(self) -> np.ndarray:
        return self._fields

    def stream_function(self, c) -> np.ndarray:
        """The stream function :math:`ψ` of coefficients ``c`` on the grid nodes (0 on the
        wall nodes of Neumann axes)."""
        return self._nodal.stream_function(self._modes @ self._check_coefficients(c))
