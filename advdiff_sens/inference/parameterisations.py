r"""Velocity parameterisations: coefficients ``c`` → nodal velocity ``u`` and the chain rule back.

Each parameterisation is linear, :math:`\mathbf u = B c`, so a gradient with respect to the
nodal field (the adjoint's output) pulls back as :math:`∇_c Φ = B^T ∇_{\mathbf u}Φ` and a
coefficient direction :math:`δc` pushes forward to the velocity direction :math:`B\,δc`.

* :class:`NodalVelocity` — every nodal value is a parameter (``B = I``).
* :class:`UniformVelocity` — one constant vector (``ndim`` parameters).
* :class:`StreamFunctionBasis` — 2-D periodic, divergence-free flows
  :math:`\mathbf u = (∂_yψ, −∂_xψ)` from the stream function
  :math:`ψ = \sum_{0<|k|≤k_{max}} a_k\cos(2π k·x/ℓ) + b_k\sin(2π k·x/ℓ)` over the integer
  wavevectors of a half plane (so each real mode appears once); derivatives are taken
  analytically, so :math:`\mathbf u` is divergence free to rounding both in the continuum
  and for the central discrete divergence (trigonometric modes are eigenfunctions of the
  central difference).
* :class:`NodalStreamFunction` — 2-D periodic, divergence-free flows
  :math:`\mathbf u = ∇^⊥_hψ` from a stream function with one value per node (p = n).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import as_real_array, check_positive_scalar
from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.operators import difference_matrices

__all__ = ["NodalVelocity", "UniformVelocity", "StreamFunctionBasis", "NodalStreamFunction"]


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


class StreamFunctionBasis(_LinearVelocity):
    r"""Divergence-free 2-D periodic velocities from stream-function Fourier modes.

    Parameters
    ----------
    grid : Grid
        2-D grid, periodic on both axes.
    kmax : float
        Keep integer wavevectors ``k ≠ 0`` with ``|k| ≤ kmax`` in the half plane
        ``k_x > 0 or (k_x = 0 and k_y > 0)``.
    decay : float
        Prior-style spectral decay; :attr:`prior_scale` is ``|k|^{-decay}`` per coefficient.

    Attributes
    ----------
    wavevectors : ndarray (m, 2)
        Integer wavevector of each coefficient (each appears twice: cosine then sine).
    kind : ndarray (m,)
        ``"cos"`` or ``"sin"``.
    n_params : int
    prior_scale : ndarray (m,)
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
    """

    def __init__(self, grid: Grid, kmax: float = 2.0, *, decay: float = 1.0) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        if grid.ndim != 2 or grid.bc != ("periodic", "periodic"):
            raise ValueError("grid must be 2-D and periodic on both axes for a stream-function basis")
        kmax = check_positive_scalar(kmax, "kmax")
        if kmax < 1:
            raise ValueError(f"kmax must be >= 1 (at least one mode), got {kmax}")
        self.grid = grid
        self.kmax = kmax
        self.decay = float(decay)
        r = int(np.floor(kmax))
        ks = [(kx, ky) for kx in range(0, r + 1) for ky in range(-r, r + 1)
              if (kx > 0 or ky > 0) and kx * kx + ky * ky <= kmax * kmax]
        self.wavevectors = np.repeat(np.array(ks, dtype=int), 2, axis=0)
        self.kind = np.array(["cos", "sin"] * len(ks))
        self.n_params = len(self.kind)
        self.prior_scale = np.linalg.norm(self.wavevectors, axis=1) ** (-self.decay)
        self._fields = self._build()

    def _build(self) -> np.ndarray:
        x, y = self.grid.coords
        (lx, ly), (hx, hy) = self.grid.extent, self.grid.spacing
        out = np.empty((self.n_params, 2, *self.grid.shape))
        for p, ((kx, ky), kind) in enumerate(zip(self.wavevectors, self.kind)):
            wx, wy = 2 * np.pi * kx / lx, 2 * np.pi * ky / ly
            phase = wx * x + wy * y
            # ψ = cos(phase) or sin(phase); D1 acts on a mode as ω → sin(ωh)/h
            dpsi = -np.sin(phase) if kind == "cos" else np.cos(phase)
            out[p, 0] = np.sin(wy * hy) / hy * dpsi
            out[p, 1] = -np.sin(wx * hx) / hx * dpsi
        return out

    def _basis(self) -> np.ndarray:
        return self._fields

    def stream_function(self, c) -> np.ndarray:
        """The stream function :math:`ψ` of coefficients ``c`` on the grid nodes."""
        c = self._check_coefficients(c)
        x, y = self.grid.coords
        lx, ly = self.grid.extent
        psi = np.zeros(self.grid.shape)
        for ck, (kx, ky), kind in zip(c, self.wavevectors, self.kind):
            phase = 2 * np.pi * (kx * x / lx + ky * y / ly)
            psi += ck * (np.cos(phase) if kind == "cos" else np.sin(phase))
        return psi



class NodalStreamFunction(_LinearVelocity):
    r"""Divergence-free 2-D periodic velocities from a nodal stream function: every node's
    :math:`ψ_i` is a parameter (p = n) and :math:`\mathbf u = ∇^⊥_hψ = (D^{(1)}_yψ, −D^{(1)}_xψ)`
    with the central first differences, so the central discrete divergence
    :math:`D^{(1)}_xu_x + D^{(1)}_yu_y = (D^{(1)}_xD^{(1)}_y − D^{(1)}_yD^{(1)}_x)ψ` vanishes to
    rounding (the periodic difference matrices commute).

    :meth:`pullback` is the transpose, :math:`B^Tg = D^{(1)T}_y g_x − D^{(1)T}_x g_y`.

    Parameters
    ----------
    grid : Grid
        2-D grid, periodic on both axes.

    Attributes
    ----------
    grid : Grid
    n_params : int
        ``grid.n``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> from advdiff_sens.discretisation import difference_matrices
    >>> grid = Grid((16, 16))
    >>> param = NodalStreamFunction(grid)
    >>> psi = np.random.default_rng(0).standard_normal(grid.n)
    >>> u = param.to_velocity(psi)
    >>> mats = difference_matrices(grid)
    >>> d1 = [(f + b) / 2 for f, b in zip(mats["forward"], mats["backward"])]
    >>> divergence = d1[0] @ u[0].ravel() + d1[1] @ u[1].ravel()
    >>> bool(np.abs(divergence).max() < 1e-12 * np.abs(u).max() * 16)
    True
    >>> g = np.random.default_rng(1).standard_normal(u.shape)      # ⟨Bψ, g⟩ = ⟨ψ, Bᵀg⟩
    >>> bool(np.isclose(np.sum(u * g), psi @ param.pullback(g)))
    True
    """

    def __init__(self, grid: Grid) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        if grid.ndim != 2 or grid.bc != ("periodic", "periodic"):
            raise ValueError("grid must be 2-D and periodic on both axes for a nodal stream "
                             "function (walled domains need ψ constant on the walls)")
        self.grid = grid
        self.n_params = grid.n
        mats = difference_matrices(grid)
        self._d1 = [sp.csr_array((f + b) / 2) for f, b in zip(mats["forward"], mats["backward"])]
        self._d1_t = [sp.csr_array(d.T) for d in self._d1]

    def to_velocity(self, c) -> np.ndarray:
        psi = self._check_coefficients(c)
        return np.stack([self._d1[1] @ psi, -(self._d1[0] @ psi)]).reshape(2, *self.grid.shape)

    def pullback(self, grad_u) -> np.ndarray:
        g = self.grid.check_velocity(grad_u, "grad_u").reshape(2, -1)
        return self._d1_t[1] @ g[0] - self._d1_t[0] @ g[1]

    def stream_function(self, c) -> np.ndarray:
        """:math:`ψ` on the grid nodes (``c`` reshaped to ``grid.shape``)."""
        return self._check_coefficients(c).reshape(self.grid.shape)
