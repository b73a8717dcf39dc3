r"""The Laplace approximation of the posterior at the MAP, low-rank (any p) or dense (small p).

At the MAP :math:`\hat c` of :math:`Ψ(c) = Φ(c) + \tfrac12|C^{-1/2}(c − m)|^2` the Laplace
approximation is :math:`N(\hat c, C_{post})` with the Gauss–Newton Hessian,
:math:`C_{post} = (G^TG + C^{-1})^{-1}` (:math:`G` the whitened Jacobian, exact for a
linear-Gaussian model). With the **prior-preconditioned data-misfit Hessian**

.. math::

    \tilde H = C^{1/2\,T}G^TG\,C^{1/2} ≈ VΛV^T\quad(\text{rank } r,\ V^TV = I),

:math:`C_{post} = C^{1/2}(I + \tilde H)^{-1}C^{1/2\,T}`, and by Sherman–Morrison–Woodbury

.. math::

    C_{post} ≈ C − C^{1/2}VDV^TC^{1/2\,T},\qquad D = \operatorname{diag}\frac{λ_i}{1 + λ_i}.

:math:`\tilde H` has rank ≤ N (the number of data) and, the data informing few directions,
a fast-decaying spectrum: :math:`λ_i > 1` are the directions the data inform more than the
prior. :class:`LowRankLaplace` holds :math:`(\hat c, C, Λ, V)` and never a p × p matrix; its
square root is

.. math::

    C_{post}^{1/2} = C^{1/2}(I + \tilde H)^{-1/2},\qquad
    (I + \tilde H)^{-1/2} = I − V\big(I − (I + Λ)^{-1/2}\big)V^T,

so it is a :class:`~advdiff_sens.sampling.GaussianReference` that samplers can be
preconditioned by. The eigenpairs come from :func:`~advdiff_sens.inference.randomized_eigh`
(2(r + oversampling) products :math:`\tilde Hz`, each a tangent and an adjoint solve).
:class:`DenseLaplace` is the same approximation from a dense Hessian (p products), for small p
and as the reference of the low-rank one. :func:`laplace_approximation` builds either.

Truncation. Dropping :math:`λ_j` (:math:`j > r`) leaves out
:math:`C^{1/2}v_j\frac{λ_j}{1+λ_j}v_j^TC^{1/2\,T}` from the variance reduction: the low-rank
covariance is larger than the full one by a PSD matrix of norm (in the prior-whitened
coordinates) :math:`λ_{r+1}/(1 + λ_{r+1})`. An estimate of :math:`λ_{r+1}` (the
eigensolver's next Ritz value, a lower bound by interlacing) above :data:`COVERAGE_THRESHOLD`
warns that the rank does not cover the spectrum.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.linalg import solve_triangular

from advdiff_sens.exceptions import AccuracyWarning, FitWarning
from advdiff_sens.inference.linalg import SYMMETRY_RTOL, randomized_eigh
from advdiff_sens.progress import as_progress, meter_closed
from advdiff_sens.sampling.reference import GaussianReference
from advdiff_sens.validation import (as_real_array, check_callable, check_integer,
                                     check_nonnegative_scalar, check_positive_scalar)

__all__ = ["LaplaceApproximation", "LowRankLaplace", "DenseLaplace", "laplace_approximation",
           "COVERAGE_THRESHOLD", "MAP_DECREMENT_TOL"]

#: :class:`LowRankLaplace` warns when the largest eigenvalue it leaves out, :math:`λ_{r+1}`
#: (or :math:`λ_r` when that is not known), exceeds this (and r < p): a dropped direction would
#: then still reduce the prior variance along it by :math:`λ/(1+λ) > 9\%`.
COVERAGE_THRESHOLD = 0.1

#: :func:`laplace_approximation` warns when the Newton decrement
#: :math:`\sqrt{g^TC_{post}g}` at ``c_map`` (the distance to the MAP of the quadratic model, in
#: posterior sds) exceeds this: the point is not a MAP.
MAP_DECREMENT_TOL = 0.1


class LaplaceApproximation(GaussianReference):
    r"""A Laplace approximation :math:`N(\hat c, C_{post})` of a posterior with Gaussian prior
    :math:`N(m, C)`, described by the eigenpairs :math:`(λ_i, v_i)` of the
    prior-preconditioned data-misfit Hessian :math:`\tilde H` (module docstring).

    Subclasses (:class:`LowRankLaplace`, :class:`DenseLaplace`) implement the
    :class:`~advdiff_sens.sampling.GaussianReference` square root and
    :meth:`pointwise_variance`; the information measures below are shared.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> prior = DiagonalGaussian(np.zeros(3), 1.0)
    >>> lap = LowRankLaplace(np.zeros(3), prior, [3.0], np.array([[1.0], [0.0], [0.0]]),
    ...                      dropped_eigenvalue=0.0)
    >>> isinstance(lap, LaplaceApproximation), lap.pointwise_variance().tolist()
    (True, [0.25, 1.0, 1.0])
    >>> bool(np.isclose(lap.expected_information_gain, 0.5 * np.log(4.0)))
    True
    """

    def __init__(self, mean, prior: GaussianReference, eigenvalues, eigenvectors) -> None:
        if not isinstance(prior, GaussianReference):
            raise TypeError(f"prior must be a GaussianReference, got {type(prior).__name__}")
        self.prior = prior
        self._mean = as_real_array(mean, "mean", shape=(prior.dim,))
        values = as_real_array(eigenvalues, "eigenvalues", ndim=1)
        vectors = as_real_array(eigenvectors, "eigenvectors", shape=(prior.dim, values.size))
        if values.size and np.any(np.diff(values) > 0):
            raise ValueError("eigenvalues must be in descending order")
        if values.size and values[-1] < -SYMMETRY_RTOL * max(values[0], 1.0):
            raise ValueError(f"eigenvalues of the Gauss–Newton misfit Hessian are >= 0, got "
                             f"{values[-1]:.3e}")
        if np.linalg.norm(vectors.T @ vectors - np.eye(values.size)) > 1e-8 * max(
                1, values.size):
            raise ValueError("eigenvectors must have orthonormal columns")
        self._values = np.maximum(values, 0.0)               # rounding below 0 clipped
        self.eigenvectors = vectors
        #: :math:`W = C^{1/2}V`, the parameter-space directions of the variance reduction.
        self.directions = (np.stack([prior.sqrt_cov(v) for v in vectors.T], axis=1)
                           if values.size else np.zeros((prior.dim, 0)))

    @property
    def mean(self) -> np.ndarray:
        r"""The MAP :math:`\hat c`."""
        return self._mean

    @property
    def eigenvalues(self) -> np.ndarray:
        r"""The eigenvalues :math:`λ_1 ≥ … ≥ λ_r ≥ 0` of :math:`\tilde H`."""
        return self._values

    @property
    def rank(self) -> int:
        """The number r of eigenpairs kept."""
        return self._values.size

    @property
    def reduction_weights(self) -> np.ndarray:
        r""":math:`d_i = λ_i/(1 + λ_i) ∈ [0, 1)`: the fraction of the prior variance along
        :math:`C^{1/2}v_i` that the data remove."""
        return self._values / (1.0 + self._values)

    @property
    def expected_information_gain(self) -> float:
        r"""The Laplace (linearised) expected information gain
        :math:`\tfrac12\sum_i\log(1 + λ_i) = \tfrac12\log\det(I + \tilde H)`, in nats.

        For a linear-Gaussian model it is exact: the mutual information between parameter and
        data, :math:`E_d[\mathrm{KL}(π(c|d)\,\|\,π(c))]`. For a nonlinear model it is that of the
        model linearised at :math:`\hat c`. With r < p eigenpairs the dropped ones are left
        out, so the value is a lower bound (short by
        :math:`\tfrac12\sum_{j>r}\log(1 + λ_j) ≤ \tfrac12\sum_{j>r}λ_j`).
        """
        return 0.5 * float(np.sum(np.log1p(self._values)))

    def kl_divergence(self) -> float:
        r"""The Kullback–Leibler divergence of this Gaussian from the prior,
        :math:`\mathrm{KL}(N(\hat c, C_{post})\,\|\,N(m, C))`, in nats:

        .. math::

            \tfrac12\big[\operatorname{tr}(C^{-1}C_{post}) − p
            + \log\tfrac{\det C}{\det C_{post}} + |C^{-1/2}(\hat c − m)|^2\big]
            = \tfrac12\sum_i\Big[\log(1 + λ_i) − \frac{λ_i}{1 + λ_i}\Big]
              + \tfrac12|C^{-1/2}(\hat c − m)|^2 ,

        since :math:`C^{-1}C_{post}` is similar to :math:`(I + \tilde H)^{-1}` (trace
        :math:`p − \sum_i λ_i/(1+λ_i)`, determinant :math:`\prod_i(1 + λ_i)^{-1}`). The
        log-det and trace terms together are ≥ 0 (each bracket is); for a linear-Gaussian model
        the last term averages to :math:`\tfrac12\sum_iλ_i/(1+λ_i)` over the data, which makes
        the average :attr:`expected_information_gain`. Dropped eigenpairs (r < p) are left out:
        a lower bound, short by about :math:`\tfrac14\sum_{j>r}λ_j^2`.

        Returns
        -------
        float
        """
        values = self._values
        z = self.prior.whiten(self._mean)
        return 0.5 * float(np.sum(np.log1p(values) - values / (1.0 + values)) + z @ z)

    @property
    def variance_trace_ratio(self) -> float:
        r""":math:`\operatorname{tr}C_{post}/\operatorname{tr}C`: the fraction of the prior's
        total variance left by the data, from the prior's pointwise variances (exact for the
        eigenpairs held; dropped ones would lower it)."""
        return float(np.sum(self.pointwise_variance()) / np.sum(self.prior.pointwise_variance()))

    def variance_of(self, apply: Callable[[np.ndarray], np.ndarray], prior_variance
                    ) -> np.ndarray:
        r"""Pointwise posterior variance of a linear image :math:`Bc` (a velocity field from
        its coefficients, a prediction at the sensors),

        .. math::

            \operatorname{diag}(BC_{post}B^T) = \operatorname{diag}(BCB^T)
            − \sum_i d_i\,(Bw_i)^2,\qquad w_i = C^{1/2}v_i ,

        from r applications of :math:`B`.

        Parameters
        ----------
        apply : callable
            ``apply(c) -> Bc``, a linear map from shape (p,) to any shape.
        prior_variance : array_like
            :math:`\operatorname{diag}(BCB^T)`, the prior pointwise variance of :math:`Bc`
            (known in closed form for a function-space prior; the caller supplies it), of
            the shape of :math:`Bc`.

        Returns
        -------
        ndarray
            The shape of :math:`Bc`.
        """
        check_callable(apply, "apply")
        prior_variance = as_real_array(prior_variance, "prior_variance")
        reduction = np.zeros_like(prior_variance)
        for weight, w in zip(self.reduction_weights, self.directions.T):
            image = np.asarray(apply(w), dtype=float)
            if image.shape != prior_variance.shape:
                raise ValueError(f"apply(c) has shape {image.shape} but prior_variance has "
                                 f"shape {prior_variance.shape}")
            reduction += weight * image**2
        return prior_variance - reduction


class LowRankLaplace(LaplaceApproximation):
    r"""The low-rank Laplace approximation
    :math:`N(\hat c,\ C − C^{1/2}VDV^TC^{1/2\,T})` (module docstring), matrix-free.

    :meth:`sqrt_cov` is :math:`C^{1/2}(I − VPV^T)` with :math:`P = I − (I + Λ)^{-1/2}`;
    :meth:`whiten` and :meth:`precision` invert it through
    :math:`(I − VPV^T)^{-1} = I + V((I + Λ)^{1/2} − I)V^T`, so the precision is the low-rank
    Hessian :math:`C^{-1/2\,T}(I + VΛV^T)C^{-1/2}`.

    Parameters
    ----------
    mean : array_like (p,)
        The MAP :math:`\hat c`.
    prior : GaussianReference
        The prior :math:`N(m, C)`.
    eigenvalues : array_like (r,)
        :math:`λ_1 ≥ … ≥ λ_r ≥ 0` of :math:`\tilde H`.
    eigenvectors : array_like (p, r)
        Orthonormal :math:`V`.
    dropped_eigenvalue : float, optional
        The largest eigenvalue left out, :math:`λ_{r+1}` (the eigensolver's next Ritz value:
        :func:`laplace_approximation` passes it), if known.
    coverage_threshold : float
        Warn when the spectrum is not covered (:data:`COVERAGE_THRESHOLD`).

    Warns
    -----
    FitWarning
        ``rank r does not cover the spectrum`` (r < p): ``dropped_eigenvalue`` — or, when it
        is not known, :math:`λ_r` — exceeds ``coverage_threshold``.

    Examples
    --------
    The Laplace approximation of :math:`d = c_1 + ε`, ε ∼ N(0, 1/3), under a standard normal
    prior in 3 dimensions: :math:`\tilde H = 3e_1e_1^T`.

    >>> import numpy as np
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> prior = DiagonalGaussian(np.zeros(3), 1.0)
    >>> lap = LowRankLaplace([0.5, 0.0, 0.0], prior, [3.0], [[1.0], [0.0], [0.0]],
    ...                      dropped_eigenvalue=0.0)
    >>> lap.covariance(np.array([1.0, 1.0, 0.0])).tolist()
    [0.25, 1.0, 0.0]
    >>> lap.precision(np.array([1.0, 0.0, 0.0])).tolist()
    [4.0, 0.0, 0.0]
    >>> lap.sample(rng=0, size=2).shape, round(lap.variance_trace_ratio, 4)
    ((2, 3), 0.75)
    >>> lap.variance_of(lambda c: np.array([c[0] + c[1]]), [2.0]).tolist()   # Var(c1 + c2)
    [1.25]
    """

    def __init__(self, mean, prior: GaussianReference, eigenvalues, eigenvectors, *,
                 dropped_eigenvalue: float | None = None,
                 coverage_threshold: float = COVERAGE_THRESHOLD) -> None:
        super().__init__(mean, prior, eigenvalues, eigenvectors)
        coverage_threshold = check_positive_scalar(coverage_threshold, "coverage_threshold")
        #: :math:`λ_{r+1}` if known (None otherwise).
        self.dropped_eigenvalue = (None if dropped_eigenvalue is None else
                                   check_nonnegative_scalar(dropped_eigenvalue,
                                                            "dropped_eigenvalue"))
        log1p = np.log1p(self._values)
        self._shrink = -np.expm1(-0.5 * log1p)                 # 1 − (1+λ)^{-1/2}
        self._grow = np.expm1(0.5 * log1p)                     # (1+λ)^{1/2} − 1
        if self.dropped_eigenvalue is None:
            index, value = self.rank, (self._values[-1] if self.rank else 0.0)
        else:
            index, value = self.rank + 1, self.dropped_eigenvalue
        if self.rank < prior.dim and value > coverage_threshold:
            warnings.warn(f"rank {self.rank} does not cover the spectrum: λ_{index} = "
                          f"{value:.3g} > {coverage_threshold:g}, so the dropped directions "
                          "still carry information and the variances are too large; raise "
                          "rank", FitWarning, stacklevel=2)

    def __repr__(self) -> str:
        return f"LowRankLaplace(dim={self.dim}, rank={self.rank})"

    def _update(self, z: np.ndarray, factors: np.ndarray, sign: float) -> np.ndarray:
        """:math:`z + \\text{sign}·V\\operatorname{diag}(\\text{factors})V^Tz`."""
        return z + sign * (self.eigenvectors @ (factors * (self.eigenvectors.T @ z)))

    def sqrt_cov(self, z) -> np.ndarray:
        z = as_real_array(z, "z", shape=(self.dim,))
        return self.prior.sqrt_cov(self._update(z, self._shrink, -1.0))

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        x = as_real_array(x, "x", shape=(self.dim,))
        return self._update(self.prior.sqrt_cov_transpose(x), self._shrink, -1.0)

    def whiten(self, x) -> np.ndarray:
        x = as_real_array(x, "x", shape=(self.dim,))
        return self._update(self.prior.whiten(x - self._mean + self.prior.mean), self._grow, 1.0)

    def unwhiten_transpose(self, z) -> np.ndarray:
        z = as_real_array(z, "z", shape=(self.dim,))
        return self.prior.unwhiten_transpose(self._update(z, self._grow, 1.0))

    def pointwise_variance(self) -> np.ndarray:
        r""":math:`\operatorname{diag}C − \sum_i d_i(C^{1/2}v_i)^2` (r prior square-root
        applications, made once)."""
        return self.prior.pointwise_variance() - self.directions**2 @ self.reduction_weights


class DenseLaplace(LaplaceApproximation):
    r"""The Laplace approximation :math:`N(\hat c, H^{-1})` from a dense posterior Hessian
    :math:`H = G^TG + C^{-1}` (small p), through its Cholesky factor :math:`H = LL^T`:
    :math:`C_{post}^{1/2} = L^{-T}`.

    Its eigenvalues are those of :math:`C^{1/2\,T}HC^{1/2} − I = \tilde H` (all p, from the
    dense prior square root: p applications of ``prior.sqrt_cov``).

    Parameters
    ----------
    mean : array_like (p,)
        The MAP :math:`\hat c`.
    hessian : array_like (p, p)
        Symmetric positive definite :math:`G^TG + C^{-1}`.
    prior : GaussianReference
        The prior :math:`N(m, C)`.

    Raises
    ------
    ValueError
        ``hessian`` is not symmetric (to 1e-10, relative) or not positive definite.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> prior = DiagonalGaussian(np.zeros(3), 1.0)
    >>> lap = DenseLaplace([0.5, 0.0, 0.0], np.diag([4.0, 1.0, 1.0]), prior)
    >>> lap.pointwise_variance().tolist(), np.round(lap.eigenvalues, 12).tolist()
    ([0.25, 1.0, 1.0], [3.0, 0.0, 0.0])
    >>> bool(np.allclose(lap.covariance(np.ones(3)), [0.25, 1.0, 1.0]))
    True
    """

    def __init__(self, mean, hessian, prior: GaussianReference) -> None:
        if not isinstance(prior, GaussianReference):
            raise TypeError(f"prior must be a GaussianReference, got {type(prior).__name__}")
        p = prior.dim
        hessian = as_real_array(hessian, "hessian", shape=(p, p))
        if np.linalg.norm(hessian - hessian.T) > 1e-10 * np.linalg.norm(hessian):
            raise ValueError("hessian must be symmetric")
        try:
            self.factor = np.linalg.cholesky(hessian)
        except np.linalg.LinAlgError:
            raise ValueError("hessian must be positive definite (its Cholesky factorisation "
                             "failed)") from None
        self.hessian = hessian
        root = np.stack([prior.sqrt_cov(e) for e in np.eye(p)], axis=1)
        whitened = root.T @ hessian @ root - np.eye(p)
        values, vectors = np.linalg.eigh(0.5 * (whitened + whitened.T))
        order = np.argsort(values)[::-1]
        super().__init__(mean, prior, values[order], vectors[:, order])

    def __repr__(self) -> str:
        return f"DenseLaplace(dim={self.dim})"

    def sqrt_cov(self, z) -> np.ndarray:
        z = as_real_array(z, "z", shape=(self.dim,))
        return solve_triangular(self.factor.T, z, lower=False)

    def sqrt_cov_transpose(self, x) -> np.ndarray:
        x = as_real_array(x, "x", shape=(self.dim,))
        return solve_triangular(self.factor, x, lower=True)

    def whiten(self, x) -> np.ndarray:
        return self.factor.T @ (as_real_array(x, "x", shape=(self.dim,)) - self._mean)

    def unwhiten_transpose(self, z) -> np.ndarray:
        return self.factor @ as_real_array(z, "z", shape=(self.dim,))

    def pointwise_variance(self) -> np.ndarray:
        r""":math:`\operatorname{diag}H^{-1}`: the squared column norms of :math:`L^{-1}`."""
        inverse = solve_triangular(self.factor, np.eye(self.dim), lower=True)
        return np.sum(inverse**2, axis=0)


def laplace_approximation(posterior, c_map, *, rank: int | None = None, oversampling: int = 10,
                          rng=None, dense: bool | str = False, progress=None
                          ) -> LaplaceApproximation:
    r"""The Laplace approximation of ``posterior`` at its MAP ``c_map``.

    One linearisation at ``c_map`` (forward + adjoint), then either the eigenpairs of
    :math:`\tilde H = C^{1/2\,T}G^TGC^{1/2}` by :func:`~advdiff_sens.inference.randomized_eigh`
    (:math:`2ℓ` products ``lin.misfit_hessian``, :math:`ℓ = \min(\text{rank} + \text{oversampling},
    p)`) → :class:`LowRankLaplace`, or the dense Hessian from p products ``lin.hessian`` →
    :class:`DenseLaplace`.

    Parameters
    ----------
    posterior : object
        With ``n_params``, ``n_data``, ``prior`` and ``linearise(c)`` (the protocol of
        :class:`~advdiff_sens.inference.NewtonCG`).
    c_map : array_like (p,)
        The MAP (e.g. from :class:`~advdiff_sens.inference.NewtonCG`).
    rank : int, optional
        Eigenpairs kept, ``1 ≤ rank ≤ p``. None: :math:`\min(N, p)`, which covers the whole
        spectrum (:math:`G` is N × p, so :math:`\tilde H` has rank ≤ N).
    oversampling : int
        Extra random directions of the eigensolver.
    rng : None, int or numpy Generator
        The eigensolver's random directions.
    dense : bool or "auto"
        True: :class:`DenseLaplace`; ``"auto"``: dense when its p products are no more than the
        eigensolver's :math:`2ℓ`.
    progress : bool, "auto" or meter, optional
        Reports the Hessian products.

    Returns
    -------
    LowRankLaplace or DenseLaplace

    Warns
    -----
    FitWarning
        The rank does not cover the spectrum (:class:`LowRankLaplace`); or ``c_map`` is not a
        MAP: the Newton decrement :math:`\sqrt{g^TC_{post}g}` exceeds :data:`MAP_DECREMENT_TOL`
        posterior sds.
    AccuracyWarning
        The Hessian products are not symmetric (an adjoint that is not the transpose of the
        tangent): the dense Hessian is symmetrised.

    Examples
    --------
    A linear-Gaussian toy (:math:`F(c) = Ac`, σ = 1, prior :math:`N(0, I)`): the Laplace
    approximation is the posterior, :math:`N((A^TA + I)^{-1}A^Td, (A^TA + I)^{-1})`.

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> A, d = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]), np.array([1.0, 0.5])
    >>> class Toy:
    ...     n_params, n_data, prior = 3, 2, DiagonalGaussian(np.zeros(3), 1.0)
    ...     def linearise(self, c):
    ...         r = A @ c - d
    ...         return SimpleNamespace(point=c, misfit=0.5 * r @ r, value=0.5 * (r @ r + c @ c),
    ...                                gradient=A.T @ r + c, misfit_hessian=lambda v: A.T @ A @ v,
    ...                                hessian=lambda v: A.T @ A @ v + v)
    >>> H = A.T @ A + np.eye(3)
    >>> lap = laplace_approximation(Toy(), np.linalg.solve(H, A.T @ d), rng=0)
    >>> lap, bool(np.allclose(lap.pointwise_variance(), np.diag(np.linalg.inv(H))))
    (LowRankLaplace(dim=3, rank=2), True)
    >>> dense = laplace_approximation(Toy(), lap.mean, dense=True)
    >>> bool(np.allclose(dense.covariance(np.ones(3)), lap.covariance(np.ones(3))))
    True
    """
    prior = posterior.prior
    p = posterior.n_params
    c_map = as_real_array(c_map, "c_map", shape=(p,))
    oversampling = check_integer(oversampling, "oversampling", minimum=0)
    if rank is None:
        rank = min(posterior.n_data, p)
    rank = check_integer(rank, "rank", minimum=1)
    if rank > p:
        raise ValueError(f"rank must be <= n_params = {p}, got {rank}")
    if dense == "auto":
        dense = p <= 2 * min(rank + oversampling, p)
    elif not isinstance(dense, bool):
        raise ValueError(f"dense must be True, False or 'auto', got {dense!r}")
    lin = posterior.linearise(c_map)
    if dense:
        laplace: LaplaceApproximation = DenseLaplace(c_map, _dense_hessian(lin, p, progress),
                                                     prior)
    else:
        def whitened_hessian(z: np.ndarray) -> np.ndarray:
            return prior.sqrt_cov_transpose(lin.misfit_hessian(prior.sqrt_cov(z)))

        wanted = rank + 1 if rank < p and oversampling > 0 else rank    # λ_{r+1}: coverage
        values, vectors = randomized_eigh(whitened_hessian, p, wanted,
                                          oversampling=oversampling - (wanted - rank), rng=rng,
                                          progress=progress)
        laplace = LowRankLaplace(c_map, prior, values[:rank], vectors[:, :rank],
                                 dropped_eigenvalue=(max(float(values[rank]), 0.0)
                                                     if wanted > rank else None))
    gradient = as_real_array(lin.gradient, "the gradient at c_map", shape=(p,))
    decrement = math.sqrt(max(float(gradient @ laplace.covariance(gradient)), 0.0))
    if decrement > MAP_DECREMENT_TOL:
        warnings.warn(f"c_map is not a MAP: the Newton decrement sqrt(gᵀC_post g) = "
                      f"{decrement:.3g} posterior sds > {MAP_DECREMENT_TOL:g}, so the Laplace "
                      "approximation is centred off the mode; minimise further (NewtonCG) "
                      "first", FitWarning, stacklevel=2)
    return laplace


def _dense_hessian(lin, p: int, progress) -> np.ndarray:
    """The dense Hessian from p products ``lin.hessian(e_i)``, symmetrised."""
    with meter_closed(as_progress(progress, p, "dense Hessian")) as meter:
        columns = []
        for i, e in enumerate(np.eye(p)):
            columns.append(as_real_array(lin.hessian(e), f"the Hessian product {i}",
                                         shape=(p,)))
            meter.update(i + 1)
    hessian = np.stack(columns, axis=1)
    asymmetry = np.linalg.norm(hessian - hessian.T) / np.linalg.norm(hessian)
    if asymmetry > SYMMETRY_RTOL:
        warnings.warn(f"the Hessian products are not symmetric: ‖H − Hᵀ‖/‖H‖ = {asymmetry:.2e}"
                      f" > {SYMMETRY_RTOL:g}; using (H + Hᵀ)/2. Check that the adjoint of the "
                      "product is the transpose of its tangent.", AccuracyWarning, stacklevel=3)
    return 0.5 * (hessian + hessian.T)
