r"""Function-space priors: a spectrum for Fourier coefficients, Gaussian random fields on the
grid, and block-diagonal products of them.

Every prior is a :class:`~advdiff_sens.sampling.GaussianReference` :math:`N(m, C)` given by its
square root (:math:`x = m + C^{1/2}z`, :math:`z \sim N(0, I)`), so it gives the covariance and
precision actions, draws and the log-density the estimators, the Laplace approximation and
the dimension-robust samplers need.

* :class:`PowerLawSpectrum` — the sd of a stream-function Fourier coefficient of wavevector
  :math:`k`, :math:`s(|k|) = s_0|k|^{-γ}`; :func:`spectral_prior` makes the diagonal prior of a
  :class:`~advdiff_sens.inference.parameterisations.StreamFunctionBasis` from it or from any
  user function :math:`E(|k|)`.
* :class:`GaussianRandomField` — a Matérn-type field on the grid nodes with precision
  :math:`C^{-1} ∝ (I − γΔ_h)^α` (α = 2 is hIPPYlib's bi-Laplacian prior), :math:`Δ_h` the
  second-order central Laplacian of the grid. On a periodic grid :math:`C^{1/2}` is applied
  by FFT (the Fourier modes diagonalise :math:`Δ_h`, and :math:`C^{1/2}` is symmetric); on
  other grids through a sparse factorisation of :math:`A = I − γΔ_h`: for even α its LU
  (with Neumann axes the reflecting rows make :math:`A` non-symmetric),
  :math:`C^{1/2} = cA^{-α/2}`, :math:`C = c^2A^{-α/2}A^{-α/2\,T}`; for odd α, on grids
  without Neumann axes (periodic and Dirichlet axes: :math:`A` symmetric positive definite),
  its Cholesky factor :math:`A = KK^T`, :math:`C^{1/2} = cA^{-(α−1)/2}K^{-T}`,
  :math:`C = c^2A^{-α}`.
* :class:`BlockGaussian` — independent blocks (flow, initial condition, log κ) side by side.

Matérn parameters. In :math:`d` dimensions the continuum field with precision
:math:`(δ − γΔ)^α` is Matérn with smoothness :math:`ν = α − d/2` and correlation length
:math:`ρ = \sqrt{8ν\,γ/δ}` (the distance at which the correlation has fallen to about 0.14).
:class:`GaussianRandomField` takes the correlation length and the pointwise sd :math:`σ` the
user thinks in: :math:`δ = 1`, :math:`γ = ρ^2/(8ν)`, and the amplitude is fixed so that the
pointwise variance on the grid is exactly :math:`σ^2` (periodic grids, where the field is
stationary; elsewhere at the grid's centre node).

Walls. The field inherits the grid's boundary conditions through :math:`Δ_h`, and near a wall
it is not stationary. At a **Dirichlet** wall the field is pinned, :math:`x = 0` at the wall
(the ghost node), so the pointwise variance decays to 0 there: the draws vanish linearly
and the variance grows roughly like the squared distance from the wall, reaching
:math:`σ^2` about one correlation length :math:`ρ` away (on a 64-node Dirichlet axis,
:math:`h = 1/65`, with :math:`ρ = 0.3` and α = 3: :math:`0.04σ^2` at the first node,
:math:`0.14σ^2` at the second, :math:`0.99σ^2` at distance ρ). This is the prior of a
stream function with
:math:`ψ = 0` on the walls
(:attr:`~advdiff_sens.inference.parameterisations.NodalStreamFunction.free_grid`): the
velocity :math:`∇^⊥ψ` is not pinned — its tangential component at the wall has a variance of
the interior's order. At a **Neumann** wall (reflection, the natural prior of a no-flux
θ) the field is reflected evenly and its variance rises towards the wall, where the image
coincides with the field: :math:`1.78σ^2` at the wall node of a 64-node Neumann axis with
:math:`ρ = 0.3`, α = 2 (the continuum value is :math:`2σ^2`), :math:`1.01σ^2` at distance
ρ. The operator, and so the interior correlation length, is the same everywhere: the
boundary changes the variance near it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.operators import difference_matrices
from advdiff_sens.inference.parameterisations import StreamFunctionBasis
from advdiff_sens.sampling.reference import DiagonalGaussian, GaussianReference
from advdiff_sens.validation import as_real_array, check_integer, check_positive_scalar

__all__ = ["PowerLawSpectrum", "spectral_prior", "laplacian", "GaussianRandomField", "BlockGaussian",
           "DEFAULT_SPECTRUM_SCALE", "MAX_DENSE_VARIANCE_NODES"]

#: :math:`s_0` of the default :class:`PowerLawSpectrum`: unit velocity sd per mode for γ = 1.
DEFAULT_SPECTRUM_SCALE = 1 / (2 * np.pi)
#: Largest grid for which a non-periodic :class:`GaussianRandomField` computes its exact
#: pointwise variance (n solves).
MAX_DENSE_VARIANCE_NODES = 10_000


class PowerLawSpectrum:
    r"""Prior sd of a Fourier coefficient, :math:`s(|k|) = s_0|k|^{-γ}`.

    Parameters
    ----------
    scale : float
        :math:`s_0 > 0` (default :data:`DEFAULT_SPECTRUM_SCALE`).
    exponent : float
        :math:`γ`; larger means smoother flows.

    Examples
    --------
    >>> spectrum = PowerLawSpectrum(2.0, 1.5)
    >>> spectrum(np.array([1.0, 4.0])).tolist()
    [2.0, 0.25]
    """

    def __init__(self, scale: float = DEFAULT_SPECTRUM_SCALE, exponent: float = 1.0) -> None:
        self.scale = check_positive_scalar(scale, "scale")
        self.exponent = float(exponent)

    def __repr__(self) -> str:
        return f"PowerLawSpectrum(scale={self.scale!r}, exponent={self.exponent!r})"

    def __call__(self, k_abs: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(k_abs, dtype=float) ** (-self.exponent)


def spectral_prior(basis: StreamFunctionBasis,
                   spectrum: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> DiagonalGaussian:
    r"""The prior :math:`c_k \sim N(0, s(|k|)^2)` of the coefficients of ``basis``.

    Parameters
    ----------
    basis : StreamFunctionBasis
    spectrum : callable, optional
        :math:`s(|k|)` for an array of wavevector lengths (positive and finite); default
        :class:`PowerLawSpectrum` with the basis' ``decay`` as exponent.

    Returns
    -------
    DiagonalGaussian

    Examples
    --------
    >>> from advdiff_sens import Grid
    >>> basis = StreamFunctionBasis(Grid((16, 16)), kmax=8)
    >>> prior = spectral_prior(basis, PowerLawSpectrum(1.0, 2.0))
    >>> prior.dim, float(prior.std.max())          # 196 coefficients, the |k| = 1 modes sd 1
    (196, 1.0)
    """
    if not isinstance(basis, StreamFunctionBasis):
        raise TypeError(f"basis must be a StreamFunctionBasis, got {type(basis).__name__}")
    if spectrum is None:
        spectrum = PowerLawSpectrum(exponent=basis.decay)
    if not callable(spectrum):
        raise TypeError(f"spectrum must be callable (|k| -> sd), got {type(spectrum).__name__}")
    std = np.asarray(spectrum(np.linalg.norm(basis.wavevectors, axis=1)), dtype=float)
    if std.shape != (basis.n_params,) or not np.all(np.isfinite(std)) or np.any(std <= 0):
        raise ValueError(f"spectrum must return {basis.n_params} positive finite sds (one per "
                         "coefficient's |k|)")
    return DiagonalGaussian(np.zeros(basis.n_params), std)


def laplacian(grid: Grid) -> sp.csr_array:
    r"""The second-order central Laplacian :math:`Δ_h = \sum_a (D^+_a − D^-_a)/h_a` of
    ``grid`` (its boundary rows: wrap, reflection, or dropped Dirichlet nodes).

    Examples
    --------
    >>> from advdiff_sens import Grid
    >>> L = laplacian(Grid((8,), bc="periodic"))
    >>> L.shape, bool(np.allclose(L @ np.ones(8), 0))
    ((8, 8), True)
    """
    mats = difference_matrices(grid)
    terms = [(f - b) / h for f, b, h in zip(mats["forward"], mats["backward"], grid.spacing)]
    return sp.csr_array(sum(terms[1:], terms[0]))


class GaussianRandomField(GaussianReference):
    r"""A Matérn-type Gaussian random field on the grid nodes: :math:`N(m, C)`,
    :math:`C = c^2(I − γΔ_h)^{-α}`.

    Parameters
    ----------
    grid : Grid
    std : float
        Pointwise sd :math:`σ` (module docstring).
    correlation_length : float
        :math:`ρ`, in the grid's length units; :math:`γ = ρ^2/(8ν)`, :math:`ν = α − d/2 > 0`.
    alpha : int
        Exponent α ≥ 1 with :math:`α > d/2`; 2 is the bi-Laplacian prior. Grids with a
        Neumann axis need an even α (the factorisation is the LU of the non-symmetric
        :math:`I − γΔ_h`); periodic and Dirichlet axes take any α.
    mean : float or array_like, grid.shape
        The mean field (a constant or a field, e.g. the first observed snapshot for an
        unknown initial condition).

    Attributes
    ----------
    gamma : float
    amplitude : float
        :math:`c`.
    periodic : bool
        Whether :math:`C^{1/2}` is applied by FFT.
    cholesky : bool
        Whether :math:`C^{1/2}` uses the Cholesky factor of :math:`I − γΔ_h` (odd α on a
        non-periodic grid).

    Examples
    --------
    >>> from advdiff_sens import Grid
    >>> grid = Grid((32, 32))
    >>> prior = GaussianRandomField(grid, std=0.5, correlation_length=0.2)
    >>> prior.dim, bool(np.allclose(prior.pointwise_variance(), 0.25))
    (1024, True)
    >>> x = prior.sample(rng=0)
    >>> bool(np.allclose(prior.mean + prior.sqrt_cov(prior.whiten(x)), x))
    True

    Between Dirichlet walls (the prior of a stream function that vanishes on them) the
    variance is σ² at the centre and decays towards the walls:

    >>> walled = GaussianRandomField(Grid((16, 15), bc=("periodic", "dirichlet")), 0.5, 0.3,
    ...                              alpha=3)
    >>> variance = walled.pointwise_variance().reshape(16, 15)
    >>> walled.cholesky, round(float(variance[8, 7]), 12), bool(variance[8, 0] < 0.5 * 0.25)
    (True, 0.25, True)
    """

    def __init__(self, grid: Grid, std: float = 1.0, correlation_length: float = 0.1, *,
                 alpha: int = 2, mean=0.0) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.std = check_positive_scalar(std, "std")
        self.correlation_length = check_positive_scalar(correlation_length,
                                                        "correlation_length")
        self.alpha = check_integer(alpha, "alpha", minimum=1)
        nu = self.alpha - grid.ndim / 2
        if nu <= 0:
            raise ValueError(f"alpha must exceed ndim/2 = {grid.ndim / 2} for a field with "
                             f"finite pointwise variance, got {alpha}")
        self.gamma = self.correlation_length**2 / (8 * nu)
        mean = as_real_array(mean, "mean")
        self._mean = (np.full(grid.n, float(mean)) if mean.ndim == 0
                      else grid.check_field(mean, "mean").ravel().copy())
        self.periodic = all(bc == "periodic" for bc in grid.bc)
        self.cholesky = not self.periodic and self.alpha % 2 == 1
        if self.periodic:
            self._root = self._fourier_root()
            return
        if self.cholesky and "neumann" in grid.bc:
            raise ValueError(f"alpha must be even on a grid with a Neumann axis (the field is "
                             f"applied through the LU of the non-symmetric I − γΔ_h; odd α "
                             f"needs periodic or Dirichlet axes), got {alpha}")
        self._operator = sp.csc_array(sp.identity(grid.n) - self.gamma * laplacian(grid))
        self._half = self.alpha // 2            # the power of A^{-1} in C^{1/2}, besides K^{-T}
        if self.cholesky:
            self._lu = self._cholesky()
        else:
            self._lu = spla.splu(self._operator)
        self.amplitude = 1.0
        centre = np.zeros(grid.n)
        centre[np.ravel_multi_index(tuple(s // 2 for s in grid.shape), grid.shape)] = 1.0
        # C_ii = |row i of C^{1/2}|² = |C^{1/2 T} e_i|²
        self.amplitude = self.std / np.linalg.norm(self.sqrt_cov_transpose(centre))

    def _cholesky(self):
        r"""The sparse Cholesky factor :math:`A = KK^T`, :math:`K = P^TLD^{1/2}`, from a
        symmetric-mode LU without pivoting, :math:`PAP^T = LU`, :math:`U = DL^T` (A is
        symmetric positive definite); returns the LU (its solves) and keeps P, L, D."""
        lu = spla.splu(self._operator, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
        d = lu.U.diagonal()
        if not np.array_equal(lu.perm_r, lu.perm_c) or np.any(d <= 0):
            raise ValueError("I − γΔ_h has no symmetric factorisation on this grid")
        self._perm = lu.perm_r
        self._lower = sp.csr_array(lu.L)
        self._upper = sp.csr_array(lu.L.T)
        self._sqrt_d = np.sqrt(d)
        return lu

    def _k(self, z: np.ndarray) -> np.ndarray:
        """:math:`Kz = P^TLD^{1/2}z`."""
        return (self._lower @ (self._sqrt_d * z))[self._perm]

    def _k_transpose(self, x: np.ndarray) -> np.ndarray:
        """:math:`K^Tx = D^{1/2}L^TPx`."""
        px = np.empty_like(x)
        px[self._perm] = x
        return self._sqrt_d * (self._upper @ px)

    def _k_inverse(self, x: np.ndarray) -> np.ndarray:
        """:math:`K^{-1}x = D^{-1/2}L^{-1}Px`."""
        px = np.empty_like(x)
        px[self._perm] = x
        return spla.spsolve_triangular(self._lower, px, lower=True,
                                       unit_diagonal=True) / self._sqrt_d

    def _k_inverse_transpose(self, z: np.ndarray) -> np.ndarray:
        """:math:`K^{-T}z = P^TL^{-T}D^{-1/2}z`."""
        return spla.spsolve_triangular(self._upper, z / self._sqrt_d, lower=False,
                                       unit_diagonal=True)[self._perm]

    def __repr__(self) -> str:
        return (f"GaussianRandomField({self.grid!r}, std={self.std!r}, "
                f"correlation_length={self.correlation_length!r}, alpha={self.alpha})")

    def _fourier_root(self) -> np.ndarray:
        """:math:`c(1 + γμ_k)^{-α/2}` on the rfft grid, :math:`μ_k ≥ 0` the eigenvalues of
        :math:`−Δ_h`, with :math:`c` fixing the pointwise variance to σ²."""
        shape, spacing = self.grid.shape, self.grid.spacing

        def symbol(frequencies):           # (1 + γμ_k)^{-α/2} on a grid of angular frequencies
            mu = sum(np.meshgrid(*[(2 - 2 * np.cos(w)) / h**2
                                   for w, h in zip(frequencies, spacing)], indexing="ij"))
            return (1 + self.gamma * mu) ** (-self.alpha / 2)

        full = [2 * np.pi * np.fft.fftfreq(s) for s in shape]
        half = full[:-1] + [2 * np.pi * np.fft.rfftfreq(shape[-1])]
        # unitary DFT: diag(C) = mean over all modes of the squared symbol
        self.amplitude = self.std * np.sqrt(self.grid.n / np.sum(symbol(full) ** 2))
        return self.amplitude * symbol(half)

    def _power(self, x: np.ndarray, k: int, transpose: bool = False) -> np.ndarray:
        """:math:`A^k x` (or :math:`(A^T)^k x`), :math:`A = I − γΔ_h`, for an integer k
        (negative: LU solves)."""
        for _ in range(abs(k)):
            if k < 0:
                x = self._lu.solve(x, trans="T" if transpose else "N")
            else:
                x = (self._operator.T if transpose else self._operator) @ x
        return x

    def _fourier(self, x: np.ndarray, power: float) -> np.ndarray:
        shape = self.grid.shape
        axes = tuple(range(len(shape)))
        return np.fft.irfftn(self._root**power * np.fft.rfftn(x.reshape(shape)), s=shape,
                             axes=axes).ravel()

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def sqrt_cov(self, z) -> np.ndarray:
        z = as_real_array(z, "z", shape=(self.dim,))
        if self.periodic:
            return self._fourier(z, 1.0)
        if self.cholesky:
            z = self._k_inverse_transpose(z)
        return self.amplitude * self._power(z, -self._half)

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        x = as_real_array(x, "x", shape=(self.dim,))
        if self.periodic:
            return self._fourier(x, 1.0)                 # symmetric on a periodic grid
        y = self.amplitude * self._power(x, -self._half, transpose=True)
        return self._k_inverse(y) if self.cholesky else y

    def unwhiten_transpose(self, z) -> np.ndarray:
        z = as_real_array(z, "z", shape=(self.dim,))
        if self.periodic:
            return self._fourier(z, -1.0)
        if self.cholesky:
            z = self._k(z)
        return self._power(z, self._half, transpose=True) / self.amplitude

    def whiten(self, x) -> np.ndarray:
        x = as_real_array(x, "x", shape=(self.dim,)) - self._mean
        if self.periodic:
            return self._fourier(x, -1.0)
        y = self._power(x, self._half) / self.amplitude
        return self._k_transpose(y) if self.cholesky else y

    def pointwise_variance(self) -> np.ndarray:
        """:math:`\\operatorname{diag}(C)`: σ² everywhere on a periodic grid; elsewhere exact
        by n solves (up to :data:`MAX_DENSE_VARIANCE_NODES` nodes)."""
        if self.periodic:
            return np.full(self.grid.n, self.std**2)
        if self.grid.n > MAX_DENSE_VARIANCE_NODES:
            raise ValueError(f"the pointwise variance of a non-periodic field is computed by n "
                             f"solves, limited to {MAX_DENSE_VARIANCE_NODES} nodes; the grid "
                             f"has {self.grid.n}")
        return super().pointwise_variance()


class BlockGaussian(GaussianReference):
    r"""Independent Gaussian blocks :math:`N(m_1, C_1) × N(m_2, C_2) × …` on the
    concatenated vector (each map acts block by block).

    Parameters
    ----------
    blocks : sequence of GaussianReference

    Examples
    --------
    >>> prior = BlockGaussian([DiagonalGaussian(np.zeros(2), 1.0),
    ...                        DiagonalGaussian([5.0], 0.5)])
    >>> prior.dim, prior.mean.tolist(), prior.sqrt_cov(np.ones(3)).tolist()
    (3, [0.0, 0.0, 5.0], [1.0, 1.0, 0.5])
    """

    def __init__(self, blocks: Sequence[GaussianReference]) -> None:
        blocks = list(blocks)
        if not blocks or not all(isinstance(b, GaussianReference) for b in blocks):
            raise TypeError("blocks must be a non-empty sequence of GaussianReference")
        self.blocks = blocks
        self.slices = []
        start = 0
        for b in blocks:
            self.slices.append(slice(start, start + b.dim))
            start += b.dim
        self._mean = np.concatenate([b.mean for b in blocks])

    def __repr__(self) -> str:
        return f"BlockGaussian({self.blocks!r})"

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def _map(self, method: str, x, name: str) -> np.ndarray:
        x = as_real_array(x, name, shape=(self.dim,))
        return np.concatenate([getattr(b, method)(x[s]) for b, s in zip(self.blocks,
                                                                         self.slices)])

    def sqrt_cov(self, z) -> np.ndarray:
        return self._map("sqrt_cov", z, "z")

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        return self._map("sqrt_cov_transpose", x, "x")

    def whiten(self, x) -> np.ndarray:
        return self._map("whiten", x, "x")

    def unwhiten_transpose(self, z) -> np.ndarray:
        return self._map("unwhiten_transpose", z, "z")

    def pointwise_variance(self) -> np.ndarray:
        return np.concatenate([b.pointwise_variance() for b in self.blocks])
