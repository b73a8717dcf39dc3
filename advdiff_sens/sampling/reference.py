r"""Gaussian reference measures :math:`N(m, C)` given by a square root of the covariance.

Dimension-robust samplers (pCN, ∞-MALA, ∞-HMC) and the function-space priors and Laplace
approximations of :mod:`advdiff_sens.inference` share one description of a Gaussian: its mean
:math:`m` and a square root :math:`C^{1/2}` (any factor with :math:`C = C^{1/2}C^{1/2\,T}`), so
that :math:`x = m + C^{1/2}z` with :math:`z \sim N(0, I)` is a draw. A subclass implements
:attr:`GaussianReference.mean`, :meth:`~GaussianReference.sqrt_cov`,
:meth:`~GaussianReference.sqrt_cov_transpose` and :meth:`~GaussianReference.whiten`; the
covariance and precision actions, draws and the log-density follow:

.. math::

    Cx = C^{1/2}(C^{1/2\,T}x),\qquad
    C^{-1}(x − m) = C^{-1/2\,T}\,\text{whiten}(x)\ \text{(subclasses may override)},\qquad
    −\log N(x; m, C) = \tfrac12|\text{whiten}(x)|^2 + \text{const}.

* :class:`DiagonalGaussian` — :math:`C = \operatorname{diag}(s^2)`;
* :class:`DenseGaussian` — a dense SPD :math:`C` through its Cholesky factor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from advdiff_sens.validation import as_real_array, as_rng

__all__ = ["GaussianReference", "DiagonalGaussian", "DenseGaussian", "SYMMETRY_RTOL"]

#: :class:`DenseGaussian` accepts a covariance whose largest asymmetry :math:`|C − C^T|` is at
#: most this times its largest entry: the rounding of products such as :math:`QΛQ^T` (about
#: p times the machine epsilon) with a margin; anything larger is a wrong matrix.
SYMMETRY_RTOL = 1e-10


class GaussianReference(ABC):
    r"""A Gaussian :math:`N(m, C)` through a square root :math:`C^{1/2}` of its covariance.

    Subclasses implement :attr:`mean`, :meth:`sqrt_cov`, :meth:`sqrt_cov_transpose` and
    :meth:`whiten` (module docstring); :meth:`covariance`, :meth:`precision`,
    :meth:`sample` and :meth:`neg_log_density` are derived from them.

    Examples
    --------
    >>> import numpy as np
    >>> ref = DiagonalGaussian([1.0, -1.0], [2.0, 0.5])
    >>> ref.dim, ref.sqrt_cov(np.ones(2)).tolist(), ref.whiten(np.array([3.0, -1.0])).tolist()
    (2, [2.0, 0.5], [1.0, 0.0])
    >>> ref.covariance(np.ones(2)).tolist(), ref.precision(np.ones(2)).tolist()
    ([4.0, 0.25], [0.25, 4.0])
    """

    @property
    @abstractmethod
    def mean(self) -> np.ndarray:
        """The mean :math:`m`, shape (p,)."""

    @property
    def dim(self) -> int:
        """The dimension p."""
        return self.mean.size

    @abstractmethod
    def sqrt_cov(self, z) -> np.ndarray:
        r""":math:`C^{1/2}z` for ``z`` of shape (p,)."""

    @abstractmethod
    def sqrt_cov_transpose(self, x) -> np.ndarray:
        r""":math:`C^{1/2\,T}x` for ``x`` of shape (p,)."""

    @abstractmethod
    def whiten(self, x) -> np.ndarray:
        r""":math:`z = C^{-1/2}(x − m)`, the inverse of :math:`z ↦ m + C^{1/2}z`."""

    def unwhiten_transpose(self, z) -> np.ndarray:
        r""":math:`C^{-1/2\,T}z`, the transpose of the linear part of :meth:`whiten`
        (solves :math:`C^{1/2\,T}y = z`); used by :meth:`precision`. The default inverts
        :meth:`sqrt_cov_transpose` densely (p solves); subclasses with a structure override it."""
        z = self._vector(z, "z")
        columns = np.stack([self.sqrt_cov_transpose(e) for e in np.eye(self.dim)], axis=1)
        return np.linalg.solve(columns, z)

    def covariance(self, x) -> np.ndarray:
        r""":math:`Cx = C^{1/2}(C^{1/2\,T}x)`."""
        return self.sqrt_cov(self.sqrt_cov_transpose(self._vector(x, "x")))

    def precision(self, x) -> np.ndarray:
        r""":math:`C^{-1}x = C^{-1/2\,T}(C^{-1/2}x)` (``x`` a direction: the mean is not
        subtracted). The default forms :math:`C^{-1/2}x` as ``whiten(x + mean)``, which loses
        the digits of ``x`` that lie below the rounding of :math:`|m|`; the subclasses here
        override it with an exact form, and so should a subclass whose mean is large."""
        x = self._vector(x, "x")
        return self.unwhiten_transpose(self.whiten(x + self.mean))

    def pointwise_variance(self) -> np.ndarray:
        r"""The variances :math:`\operatorname{diag}(C)`, shape (p,). The default applies
        :meth:`sqrt_cov` to the p unit vectors (:math:`C_{ii} = \sum_j (C^{1/2})_{ij}^2`);
        subclasses with a structure override it."""
        return np.sum(np.stack([self.sqrt_cov(e) for e in np.eye(self.dim)], axis=1) ** 2,
                      axis=1)

    def sample(self, rng=None, size: int | None = None) -> np.ndarray:
        """Draws :math:`m + C^{1/2}z`, shape (p,) or ``(size, p)``."""
        rng = as_rng(rng)
        if size is None:
            return self.mean + self.sqrt_cov(rng.standard_normal(self.dim))
        return np.stack([self.mean + self.sqrt_cov(rng.standard_normal(self.dim))
                         for _ in range(size)])

    def neg_log_density(self, x) -> float:
        r""":math:`\tfrac12|C^{-1/2}(x − m)|^2` (the negative log-density up to a constant)."""
        z = self.whiten(self._vector(x, "x"))
        return 0.5 * float(z @ z)

    def _vector(self, x, name: str) -> np.ndarray:
        return as_real_array(x, name, shape=(self.dim,))


class DiagonalGaussian(GaussianReference):
    r""":math:`N(m, \operatorname{diag}(s^2))`.

    Parameters
    ----------
    mean : array_like (p,)
    std : array_like (p,) or float
        Standard deviations :math:`s > 0` (a scalar is used for every coordinate).

    Examples
    --------
    >>> import numpy as np
    >>> ref = DiagonalGaussian(np.zeros(3), 2.0)
    >>> ref.sample(rng=0, size=4).shape, ref.neg_log_density(np.array([2.0, 0.0, 0.0]))
    ((4, 3), 0.5)
    """

    def __init__(self, mean, std) -> None:
        self._mean = _as_mean(mean)
        std = as_real_array(std, "std")
        if std.shape not in ((), self._mean.shape):
            raise ValueError(f"std must be a scalar or have the shape {self._mean.shape} of "
                             f"mean, got {std.shape}")
        if np.any(std <= 0):
            raise ValueError("std must be > 0 for every coordinate")
        self.std = np.broadcast_to(std, self._mean.shape).astype(float)

    def __repr__(self) -> str:
        return f"DiagonalGaussian(dim={self.dim})"

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def sqrt_cov(self, z) -> np.ndarray:
        return self.std * self._vector(z, "z")

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        return self.std * self._vector(x, "x")

    def whiten(self, x) -> np.ndarray:
        return (self._vector(x, "x") - self._mean) / self.std

    def unwhiten_transpose(self, z) -> np.ndarray:
        return self._vector(z, "z") / self.std

    def precision(self, x) -> np.ndarray:
        return self._vector(x, "x") / self.std**2

    def pointwise_variance(self) -> np.ndarray:
        return self.std**2


class DenseGaussian(GaussianReference):
    r""":math:`N(m, C)` for a dense symmetric positive definite :math:`C`, with
    :math:`C^{1/2}` its lower Cholesky factor :math:`R` (:math:`C = RR^T`).

    Parameters
    ----------
    mean : array_like (p,)
    covariance : array_like (p, p)
        Symmetric positive definite. An asymmetry at the level of rounding (at most
        :data:`SYMMETRY_RTOL` times the largest entry, as in a matrix formed as
        :math:`QΛQ^T`) is accepted; the symmetric part :math:`(C + C^T)/2` is factorised.

    Raises
    ------
    ValueError
        ``covariance`` is not symmetric or not positive definite.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> ref = DenseGaussian(np.zeros(2), C)
    >>> bool(np.allclose(ref.covariance(np.array([1.0, 2.0])), C @ [1.0, 2.0]))
    True
    >>> bool(np.allclose(ref.precision(np.array([1.0, 2.0])), np.linalg.solve(C, [1.0, 2.0])))
    True
    >>> bool(np.allclose(ref.pointwise_variance(), np.diag(C)))
    True
    """

    def __init__(self, mean, covariance) -> None:
        self._mean = _as_mean(mean)
        p = self._mean.size
        C = as_real_array(covariance, "covariance", shape=(p, p))
        asymmetry = float(np.max(np.abs(C - C.T)))
        if asymmetry > SYMMETRY_RTOL * float(np.max(np.abs(C))):
            raise ValueError(f"covariance must be symmetric (largest |C - C^T| = "
                             f"{asymmetry:.3g}, largest |C| = {np.max(np.abs(C)):.3g})")
        try:
            self.factor = np.linalg.cholesky(0.5 * (C + C.T))
        except np.linalg.LinAlgError:
            raise ValueError("covariance must be positive definite (its Cholesky "
                             "factorisation failed)") from None

    def __repr__(self) -> str:
        return f"DenseGaussian(dim={self.dim})"

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def sqrt_cov(self, z) -> np.ndarray:
        return self.factor @ self._vector(z, "z")

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        return self.factor.T @ self._vector(x, "x")

    def whiten(self, x) -> np.ndarray:
        return solve_triangular(self.factor, self._vector(x, "x") - self._mean, lower=True)

    def unwhiten_transpose(self, z) -> np.ndarray:
        return solve_triangular(self.factor.T, self._vector(z, "z"), lower=False)

    def precision(self, x) -> np.ndarray:
        return cho_solve((self.factor, True), self._vector(x, "x"))

    def pointwise_variance(self) -> np.ndarray:
        return np.sum(self.factor**2, axis=1)


def _as_mean(mean) -> np.ndarray:
    mean = as_real_array(mean, "mean", ndim=1)
    if mean.size == 0:
        raise ValueError("mean must have at least one entry")
    return mean
