r"""Time-varying flows in inference: one flow parameterisation per time window and a temporal
prior over the windows on top of the spatial one.

:class:`WindowedFlow` maps coefficients :math:`c = (c_0, …, c_{K-1})` (window-major) to the
:class:`~advdiff_sens.sensitivity.WindowedVelocity` with :math:`\mathbf u_k = Bc_k`, and pulls
the model's windowed gradient back as :math:`∇_{c_k}Φ = B^T∇_{\mathbf u_k}Φ`; a
:class:`~advdiff_sens.inference.ParameterSpace` takes it as its ``flow``, and the posterior,
its adjoint gradient, the Gauss–Newton products and everything built on them run unchanged.

:class:`TemporalGaussian` is the prior :math:`c ∼ N(\mathbf 1 ⊗ m,\ T ⊗ C)` with a spatial
prior :math:`N(m, C)` and a K × K temporal covariance :math:`T = RR^T`, :math:`R` lower
triangular: square root :math:`R ⊗ C^{1/2}`, so :math:`c_k = m + \sum_{j ≤ k} R_{kj}
C^{1/2}ξ_j` with independent standard normal :math:`ξ_j`.

* Gaussian random walk (:meth:`TemporalGaussian.random_walk`): :math:`c_0 ∼ N(m, C)`,
  :math:`c_{k+1} − c_k ∼ N(0, σ^2C)`; :math:`R_{k0} = 1`, :math:`R_{kj} = σ` for
  :math:`1 ≤ j ≤ k`, :math:`T_{kl} = 1 + σ^2\min(k, l)`.
* Stationary AR(1) (:meth:`TemporalGaussian.ar1`): :math:`c_{k+1} − m = ρ(c_k − m) +
  \sqrt{1 − ρ^2}\,C^{1/2}ξ_{k+1}`; :math:`R_{k0} = ρ^k`, :math:`R_{kj} = ρ^{k−j}\sqrt{1 − ρ^2}`,
  :math:`T_{kl} = ρ^{|k−l|}` (every window has the spatial prior as its marginal).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from advdiff_sens.sampling.reference import GaussianReference
from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
from advdiff_sens.validation import as_real_array, check_integer, check_positive_scalar

__all__ = ["WindowedFlow", "TemporalGaussian", "velocity_values"]


class WindowedFlow:
    r"""One linear flow parameterisation per time window (module docstring).

    Parameters
    ----------
    flow : parameterisation
        A linear velocity parameterisation (``grid``, ``n_params``, ``to_velocity``,
        ``pullback``): :class:`~advdiff_sens.inference.StreamFunctionBasis`,
        :class:`~advdiff_sens.inference.NodalStreamFunction`, … (its no-flux property on walled
        grids carries over to every window).
    windows : TimeWindows

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> from advdiff_sens.inference import StreamFunctionBasis, WindowedFlow
    >>> from advdiff_sens.sensitivity import TimeWindows
    >>> grid = Grid((8, 8))
    >>> flow = WindowedFlow(StreamFunctionBasis(grid, kmax=1), TimeWindows([0.0, 0.5, np.inf]))
    >>> flow.n_params, flow.to_velocity(np.arange(8.0)).values.shape
    (8, (2, 2, 8, 8))
    """

    def __init__(self, flow, windows: TimeWindows) -> None:
        if not isinstance(windows, TimeWindows):
            raise TypeError(f"windows must be a TimeWindows, got {type(windows).__name__}")
        for attribute in ("grid", "n_params", "to_velocity", "pullback"):
            if not hasattr(flow, attribute):
                raise TypeError(f"flow must be a linear flow parameterisation (it has no "
                                f"{attribute!r})")
        self.spatial = flow
        self.windows = windows
        self.grid = flow.grid
        self.n_windows = windows.n_windows
        self.n_params = self.n_windows * flow.n_params

    def __repr__(self) -> str:
        return f"WindowedFlow({self.spatial!r}, {self.windows!r})"

    def _blocks(self, c) -> np.ndarray:
        return as_real_array(c, "c", shape=(self.n_params,)).reshape(self.n_windows, -1)

    def to_velocity(self, c) -> WindowedVelocity:
        """The windowed velocity :math:`\\mathbf u_k = Bc_k`."""
        return WindowedVelocity(self.windows,
                                np.stack([self.spatial.to_velocity(ck) for ck in self._blocks(c)]))

    def stream_function(self, c) -> np.ndarray:
        """:math:`(ψ_0, …, ψ_{K-1})`, shape ``(K, *grid.shape)``: each window's stream function
        (the spatial parameterisation's ``stream_function``)."""
        if not hasattr(self.spatial, "stream_function"):
            raise AttributeError(f"{type(self.spatial).__name__} has no stream function")
        return np.stack([self.spatial.stream_function(ck) for ck in self._blocks(c)])

    def pullback(self, grad_u) -> np.ndarray:
        """:math:`(B^T g_0, …, B^T g_{K-1})` for the model's windowed gradient ``grad_u`` of
        shape ``(K, ndim, *grid.shape)`` (or a WindowedVelocity)."""
        if isinstance(grad_u, WindowedVelocity):
            grad_u = grad_u.values
        grad_u = as_real_array(grad_u, "grad_u")
        if grad_u.ndim == 0 or grad_u.shape[0] != self.n_windows:
            raise ValueError(f"grad_u must hold one gradient per window ({self.n_windows}), "
                             f"got shape {grad_u.shape}")
        return np.concatenate([np.asarray(self.spatial.pullback(g), dtype=float)
                               for g in grad_u])


def velocity_values(velocity) -> np.ndarray:
    """The nodal array of a steady velocity (itself) or of a
    :class:`~advdiff_sens.sensitivity.WindowedVelocity` (``(K, ndim, *grid.shape)``, window
    first).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import velocity_values
    >>> from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
    >>> u = WindowedVelocity(TimeWindows([0.0, 1.0, np.inf]), np.zeros((2, 2, 8, 8)))
    >>> velocity_values(u).shape, velocity_values(np.zeros((2, 8, 8))).shape
    ((2, 2, 8, 8), (2, 8, 8))
    """
    if isinstance(velocity, WindowedVelocity):
        return velocity.values
    return np.asarray(velocity, dtype=float)


class TemporalGaussian(GaussianReference):
    r""":math:`N(\mathbf 1 ⊗ m,\ RR^T ⊗ C)` over K windows of a spatial prior :math:`N(m, C)`
    (module docstring); the coefficient vector is window-major.

    Parameters
    ----------
    spatial : GaussianReference
        The prior of one window's coefficients.
    factor : array_like, shape (K, K)
        Lower-triangular :math:`R` with a positive diagonal (the Cholesky factor of the
        temporal covariance :math:`T`).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.inference import TemporalGaussian
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> walk = TemporalGaussian.random_walk(DiagonalGaussian(np.zeros(2), 1.0), 3, 0.5)
    >>> walk.temporal_covariance.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.25, 1.25], [1.0, 1.25, 1.5]]
    >>> walk.pointwise_variance().tolist()
    [1.0, 1.0, 1.25, 1.25, 1.5, 1.5]
    >>> ar = TemporalGaussian.ar1(DiagonalGaussian(np.zeros(2), 1.0), 3, 0.5)
    >>> bool(np.allclose(ar.temporal_covariance, [[1, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 1]]))
    True
    """

    def __init__(self, spatial: GaussianReference, factor) -> None:
        if not isinstance(spatial, GaussianReference):
            raise TypeError(f"spatial must be a GaussianReference, got {type(spatial).__name__}")
        R = as_real_array(factor, "factor", ndim=2)
        if R.shape[0] != R.shape[1]:
            raise ValueError(f"factor must be square (K, K), got {R.shape}")
        if np.any(np.triu(R, 1)) or np.any(np.diag(R) <= 0):
            raise ValueError("factor must be lower triangular with a positive diagonal "
                             "(a Cholesky factor)")
        self.spatial = spatial
        self.factor = R
        self.n_windows = R.shape[0]
        self._mean = np.tile(spatial.mean, self.n_windows)

    @classmethod
    def random_walk(cls, spatial: GaussianReference, n_windows: int,
                    step_scale: float) -> TemporalGaussian:
        r"""Gaussian random walk: :math:`c_0 ∼ N(m, C)`, :math:`c_{k+1} − c_k ∼ N(0, σ^2C)`,
        :math:`σ` = ``step_scale``.

        Examples
        --------
        >>> import numpy as np
        >>> from advdiff_sens.inference import TemporalGaussian
        >>> from advdiff_sens.sampling import DiagonalGaussian
        >>> TemporalGaussian.random_walk(DiagonalGaussian([0.0], 1.0), 3, 0.1).factor.tolist()
        [[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [1.0, 0.1, 0.1]]
        """
        K = check_integer(n_windows, "n_windows", minimum=1)
        sigma = check_positive_scalar(step_scale, "step_scale")
        R = np.tril(np.full((K, K), sigma))
        R[:, 0] = 1.0
        return cls(spatial, R)

    @classmethod
    def ar1(cls, spatial: GaussianReference, n_windows: int, rho: float) -> TemporalGaussian:
        r"""Stationary AR(1): :math:`c_{k+1} − m = ρ(c_k − m) + \sqrt{1 − ρ^2}\,C^{1/2}ξ`,
        :math:`0 ≤ ρ < 1`; every window's marginal is :math:`N(m, C)`.

        Examples
        --------
        >>> import numpy as np
        >>> from advdiff_sens.inference import TemporalGaussian
        >>> from advdiff_sens.sampling import DiagonalGaussian
        >>> TemporalGaussian.ar1(DiagonalGaussian([0.0], 1.0), 2, 0.6).factor.tolist()
        [[1.0, 0.0], [0.6, 0.8]]
        """
        K = check_integer(n_windows, "n_windows", minimum=1)
        rho = float(rho)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1) for a stationary AR(1), got {rho}")
        k = np.arange(K)
        lags = k[:, None] - k[None, :]
        R = np.where(lags >= 0, rho ** np.maximum(lags, 0), 0.0) * np.sqrt(1.0 - rho**2)
        R[:, 0] = rho**k
        return cls(spatial, R)

    def __repr__(self) -> str:
        return f"TemporalGaussian({self.spatial!r}, K={self.n_windows})"

    @property
    def temporal_covariance(self) -> np.ndarray:
        """:math:`T = RR^T`, shape (K, K)."""
        return self.factor @ self.factor.T

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def _rows(self, x, name: str) -> np.ndarray:
        return as_real_array(x, name, shape=(self.dim,)).reshape(self.n_windows,
                                                                 self.spatial.dim)

    def _each(self, method: str, X: np.ndarray) -> np.ndarray:
        return np.stack([getattr(self.spatial, method)(row) for row in X])

    def sqrt_cov(self, z) -> np.ndarray:
        return self._each("sqrt_cov", self.factor @ self._rows(z, "z")).ravel()

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        return (self.factor.T @ self._each("sqrt_cov_transpose", self._rows(x, "x"))).ravel()

    def whiten(self, x) -> np.ndarray:
        rows = self._each("whiten", self._rows(x, "x"))       # C^{-1/2}(x_k − m)
        return sla.solve_triangular(self.factor, rows, lower=True).ravel()

    def unwhiten_transpose(self, z) -> np.ndarray:
        rows = self._each("unwhiten_transpose", self._rows(z, "z"))
        return sla.solve_triangular(self.factor.T, rows, lower=False).ravel()

    def precision(self, x) -> np.ndarray:
        rows = self._each("precision", self._rows(x, "x"))
        return sla.cho_solve((self.factor, True), rows).ravel()

    def pointwise_variance(self) -> np.ndarray:
        return np.outer(np.diag(self.temporal_covariance),
                        self.spatial.pointwise_variance()).ravel()
