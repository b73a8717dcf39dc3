r"""Matrix-free linear algebra of the Newton and Laplace computations: operators are functions
``apply(v) -> Av`` (one PDE tangent and one adjoint solve each for a Gauss–Newton Hessian), so
every product counts.

* :func:`steihaug_cg` — preconditioned conjugate gradients for :math:`Ax = b`, :math:`A`
  symmetric, stopped at a relative residual in the preconditioned norm, on negative
  curvature, or on the boundary of a trust region (Steihaug 1983);
* :func:`randomized_eigh` — the ``rank`` largest eigenpairs of a symmetric positive
  semi-definite operator by the double-pass randomized algorithm (Halko, Martinsson & Tropp
  2011, Algorithms 4.1 and 5.3).

Preconditioned CG with :math:`P ≈ A^{-1}` (symmetric positive definite). From :math:`x_0 = 0`,
:math:`r_0 = b`, :math:`z_0 = Pr_0`, :math:`d_0 = z_0`:

.. math::

    α_j = \frac{r_j^Tz_j}{d_j^TAd_j},\quad x_{j+1} = x_j + α_jd_j,\quad
    r_{j+1} = r_j − α_jAd_j,\quad z_{j+1} = Pr_{j+1},\quad
    d_{j+1} = z_{j+1} + \frac{r_{j+1}^Tz_{j+1}}{r_j^Tz_j}d_j ,

stopped when :math:`\|r_j\|_P ≤ \text{rtol}\,\|r_0\|_P` (:math:`\|r\|_P^2 = r^TPr`). The
iterates grow monotonically in the norm :math:`\|x\|_{P^{-1}}` (Steihaug's theorem), which
is therefore the trust-region norm: with a radius :math:`Δ` the iteration stops where
:math:`\|x_j + τd_j\|_{P^{-1}} = Δ`. The vectors :math:`P^{-1}d_j` follow from the recurrence
:math:`P^{-1}d_{j+1} = r_{j+1} + β_jP^{-1}d_j` (:math:`P^{-1}d_0 = r_0`), so the norm costs
no application of :math:`P^{-1}`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advdiff_sens.exceptions import AccuracyWarning, NonFiniteResultError
from advdiff_sens.progress import as_progress, meter_closed
from advdiff_sens.validation import (as_real_array, as_rng, check_callable, check_integer,
                                     check_nonnegative_scalar, check_positive_scalar)

__all__ = ["CGResult", "steihaug_cg", "randomized_eigh", "CG_REASONS", "SYMMETRY_RTOL"]

#: Why :func:`steihaug_cg` stopped: the relative residual reached ``rtol``; a direction of
#: non-positive curvature :math:`d^TAd ≤ 0`; the trust-region boundary; ``max_iter``.
CG_REASONS = ("converged", "negative curvature", "boundary", "max_iter")

#: Relative asymmetry :math:`\|T − T^T\|_F/\|T\|_F` of the projected operator
#: :math:`T = Q^TAQ` above which :func:`randomized_eigh` warns that the operator is not
#: symmetric (an adjoint that is not the transpose of its tangent).
SYMMETRY_RTOL = 1e-6


@dataclass(frozen=True)
class CGResult:
    r"""The end of one :func:`steihaug_cg` solve.

    Attributes
    ----------
    solution : ndarray (p,)
        The approximate solution :math:`x`.
    iterations : int
        CG iterations, equal to the number of operator products.
    reason : str
        One of :data:`CG_REASONS`.
    residual_norm : float
        :math:`\|b − Ax\|_P` at the end (from the recurrence).
    initial_residual_norm : float
        :math:`\|b\|_P`.
    solution_norm : float
        :math:`\|x\|_{P^{-1}}` (the trust-region norm).
    model_decrease : float
        :math:`b^Tx − \tfrac12x^TAx = \tfrac12x^T(b + r)`: the decrease of the quadratic model
        :math:`m(x) = \tfrac12x^TAx − b^Tx` from :math:`x = 0` (for a Newton system
        :math:`b = −g`, the predicted reduction of the objective).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([1.0, 2.0, 4.0])
    >>> res = steihaug_cg(lambda v: A @ v, np.ones(3), lambda r: r, rtol=1e-12)
    >>> res.reason, res.iterations, bool(np.allclose(res.solution, [1.0, 0.5, 0.25]))
    ('converged', 3, True)
    """

    solution: np.ndarray
    iterations: int
    reason: str
    residual_norm: float
    initial_residual_norm: float
    solution_norm: float
    model_decrease: float

    @property
    def relative_residual(self) -> float:
        r""":math:`\|r\|_P/\|r_0\|_P` (0 for :math:`b = 0`)."""
        if self.initial_residual_norm == 0:
            return 0.0
        return self.residual_norm / self.initial_residual_norm


def steihaug_cg(apply: Callable[[np.ndarray], np.ndarray], b, precondition: Callable[
        [np.ndarray], np.ndarray], *, rtol: float, max_iter: int = 100,
        radius: float | None = None) -> CGResult:
    r"""Preconditioned CG for :math:`Ax = b` from :math:`x_0 = 0`, with Steihaug's stops.

    Parameters
    ----------
    apply : callable
        ``apply(v) -> Av`` for a symmetric :math:`A`, vectors of shape (p,).
    b : array_like (p,)
        Right-hand side.
    precondition : callable
        ``precondition(r) -> Pr`` for a symmetric positive definite :math:`P ≈ A^{-1}`.
    rtol : float
        Stop when :math:`\|r_j\|_P ≤ \text{rtol}\,\|b\|_P` (the Eisenstat–Walker forcing
        term of an inexact Newton method).
    max_iter : int
        CG iterations (operator products) allowed.
    radius : float, optional
        Trust-region radius :math:`Δ` in the norm :math:`\|·\|_{P^{-1}}`: an iterate that would
        leave the region stops on its boundary (``reason="boundary"``).

    Returns
    -------
    CGResult
        On negative curvature :math:`d_j^TAd_j ≤ 0` the solve stops (``reason="negative
        curvature"``) at the current iterate, moved to the trust-region boundary along
        :math:`d_j` when a radius is given, or at :math:`x = d_0 = Pb` (the preconditioned
        steepest-descent step) when it happens at the first iteration without one.

    Raises
    ------
    NonFiniteResultError
        A product :math:`Ad_j` is not finite.
    ValueError
        :math:`r^TPr < 0`: the preconditioner is not positive definite.

    Examples
    --------
    A trust region of radius 0.5 (identity preconditioner) stops CG on its boundary:

    >>> import numpy as np
    >>> A = np.diag([1.0, 10.0])
    >>> res = steihaug_cg(lambda v: A @ v, np.array([1.0, 1.0]), lambda r: r, rtol=1e-10,
    ...                   radius=0.5)
    >>> res.reason, round(float(np.linalg.norm(res.solution)), 12)
    ('boundary', 0.5)
    """
    check_callable(apply, "apply")
    check_callable(precondition, "precondition")
    b = as_real_array(b, "b", ndim=1)
    rtol = check_nonnegative_scalar(rtol, "rtol")
    max_iter = check_integer(max_iter, "max_iter", minimum=1)
    if radius is not None:
        radius = check_positive_scalar(radius, "radius")
    x, mx = np.zeros_like(b), np.zeros_like(b)          # x and P^{-1}x
    r = b.copy()
    z = _preconditioned(precondition, r)
    rz = float(r @ z)
    rz0 = rz
    d, md = z.copy(), r.copy()                            # d and P^{-1}d
    reason, iterations = "max_iter", 0
    if rz0 == 0.0:
        return CGResult(x, 0, "converged", 0.0, 0.0, 0.0, 0.0)
    for j in range(max_iter):
        ad = np.asarray(apply(d), dtype=float)
        iterations += 1
        if ad.shape != b.shape or not np.all(np.isfinite(ad)):
            raise NonFiniteResultError(
                f"CG iteration {j}: the operator product is not finite (or has shape "
                f"{ad.shape}, expected {b.shape}); the Hessian product failed at this point")
        curvature = float(d @ ad)
        if curvature <= 0.0:
            reason = "negative curvature"
            if radius is not None:
                tau = _to_boundary(x, mx, d, md, radius)
            elif j == 0:
                tau = 1.0
            else:
                tau = 0.0
            x, mx, r = x + tau * d, mx + tau * md, r - tau * ad
            break
        alpha = rz / curvature
        if radius is not None and _norm2(x + alpha * d, mx + alpha * md) >= radius**2:
            tau = _to_boundary(x, mx, d, md, radius)
            x, mx, r = x + tau * d, mx + tau * md, r - tau * ad
            reason = "boundary"
            break
        x, mx, r = x + alpha * d, mx + alpha * md, r - alpha * ad
        z = _preconditioned(precondition, r)
        rz_new = float(r @ z)
        beta, rz = rz_new / rz, rz_new
        if rz <= rtol**2 * rz0:
            reason = "converged"
            break
        d, md = z + beta * d, r + beta * md
    if reason in ("negative curvature", "boundary"):          # r moved after the last z
        rz = float(r @ _preconditioned(precondition, r))
    return CGResult(x, iterations, reason, math.sqrt(max(rz, 0.0)), math.sqrt(rz0),
                    math.sqrt(max(_norm2(x, mx), 0.0)), 0.5 * float(x @ (b + r)))


def _preconditioned(precondition, r: np.ndarray) -> np.ndarray:
    z = np.asarray(precondition(r), dtype=float)
    if z.shape != r.shape or not np.all(np.isfinite(z)):
        raise NonFiniteResultError("the preconditioner returned a non-finite vector (or shape "
                                   f"{z.shape}, expected {r.shape})")
    if float(r @ z) < -1e-12 * float(np.linalg.norm(r) * np.linalg.norm(z)):
        raise ValueError(f"the preconditioner is not positive definite: r^T P r = {r @ z:.3e}")
    return z


def _norm2(x: np.ndarray, mx: np.ndarray) -> float:
    """:math:`\\|x\\|^2_{P^{-1}}` from x and P⁻¹x."""
    return float(x @ mx)


def _to_boundary(x, mx, d, md, radius: float) -> float:
    r"""The τ ≥ 0 with :math:`\|x + τd\|_{P^{-1}} = Δ` (``x`` inside the region)."""
    xd, dd = float(x @ md), float(d @ md)
    slack = max(radius**2 - _norm2(x, mx), 0.0)
    return (-xd + math.sqrt(xd**2 + dd * slack)) / dd


def randomized_eigh(apply: Callable[[np.ndarray], np.ndarray], dim: int, rank: int, *,
                    oversampling: int = 10, rng=None, progress=None
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``rank`` largest eigenpairs of a symmetric positive semi-definite operator by the
    double-pass randomized algorithm.

    With :math:`ℓ = \min(\text{rank} + \text{oversampling}, \text{dim})` and a Gaussian
    :math:`Ω ∈ ℝ^{\text{dim}×ℓ}`: the first pass forms :math:`Y = AΩ` and its orthonormal
    basis :math:`Q` (QR), the second :math:`AQ`; the eigenpairs :math:`(λ_i, s_i)` of the
    small :math:`T = Q^TAQ` give the Ritz pairs :math:`(λ_i, Qs_i)` (Halko, Martinsson & Tropp
    2011, Algorithms 4.1 and 5.3; hIPPYlib's ``doublePass``). That is :math:`2ℓ` products,
    applied column by column.

    Accuracy. The Ritz values never exceed the eigenvalues (:math:`λ_i(T) ≤ λ_i(A)`, Cauchy
    interlacing), and with oversampling :math:`s = ℓ − \text{rank} ≥ 2` the approximation
    :math:`\hat A = \sum_{i ≤ \text{rank}} λ_i q_iq_i^T` satisfies (HMT Theorem 10.6 and
    §5.3: :math:`\|A − QQ^TAQQ^T\| ≤ 2\|A − QQ^TA\|`)

    .. math::

        \mathbb E\|A − \hat A\|_2 ≤ λ_{k+1} + 2\Big[\Big(1 + \sqrt{\tfrac{k}{s − 1}}\Big)
        λ_{k+1} + \frac{e\sqrt{k + s}}{s}\Big(\sum_{j>k}λ_j^2\Big)^{1/2}\Big],
        \quad k = \text{rank}:

    exact (to rounding) when :math:`A` has rank ≤ ``rank``, and the closer to
    :math:`λ_{k+1}` the faster the spectrum decays past :math:`k` and the more oversampling.

    Parameters
    ----------
    apply : callable
        ``apply(v) -> Av`` for vectors of shape (dim,).
    dim : int
        The dimension p.
    rank : int
        Eigenpairs wanted, ``1 ≤ rank ≤ dim``.
    oversampling : int
        Extra random directions (≥ 0; 10 is customary).
    rng : None, int or numpy Generator
        Source of :math:`Ω`.
    progress : bool, "auto" or meter, optional
        Reports the :math:`2ℓ` products.

    Returns
    -------
    eigenvalues : ndarray (rank,)
        Descending.
    eigenvectors : ndarray (dim, rank)
        Orthonormal columns.

    Warns
    -----
    AccuracyWarning
        :math:`T` is not symmetric to :data:`SYMMETRY_RTOL`, or has an eigenvalue below
        :math:`−\text{SYMMETRY\_RTOL}·λ_1`: the operator is not symmetric positive
        semi-definite (an inexact adjoint).

    Examples
    --------
    A matrix of rank 3 is recovered exactly by rank 3:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> U = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    >>> A = U @ np.diag([9.0, 4.0, 1.0]) @ U.T
    >>> values, vectors = randomized_eigh(lambda v: A @ v, 50, 3, rng=1)
    >>> np.round(values, 10).tolist(), bool(np.allclose(vectors @ np.diag(values) @ vectors.T, A))
    ([9.0, 4.0, 1.0], True)
    """
    check_callable(apply, "apply")
    dim = check_integer(dim, "dim", minimum=1)
    rank = check_integer(rank, "rank", minimum=1)
    if rank > dim:
        raise ValueError(f"rank must be <= dim = {dim}, got {rank}")
    oversampling = check_integer(oversampling, "oversampling", minimum=0)
    rng = as_rng(rng)
    n_columns = min(rank + oversampling, dim)
    omega = rng.standard_normal((dim, n_columns))
    with meter_closed(as_progress(progress, 2 * n_columns, "randomized eigensolver")) as meter:
        def product(v: np.ndarray, done: int) -> np.ndarray:
            av = np.asarray(apply(v), dtype=float)
            if av.shape != (dim,) or not np.all(np.isfinite(av)):
                raise NonFiniteResultError(
                    f"randomized_eigh: the operator product {done + 1} is not finite (or has "
                    f"shape {av.shape}, expected ({dim},))")
            meter.update(done + 1)
            return av

        y = np.stack([product(omega[:, j], j) for j in range(n_columns)], axis=1)
        q = np.linalg.qr(y)[0]
        aq = np.stack([product(q[:, j], n_columns + j) for j in range(n_columns)], axis=1)
    t = q.T @ aq
    scale = float(np.linalg.norm(t))
    asymmetry = float(np.linalg.norm(t - t.T)) / scale if scale > 0 else 0.0
    values, vectors = np.linalg.eigh(0.5 * (t + t.T))
    order = np.argsort(values)[::-1][:rank]
    values, vectors = values[order], q @ vectors[:, order]
    if asymmetry > SYMMETRY_RTOL:
        warnings.warn(f"randomized_eigh: the operator is not symmetric: ‖QᵀAQ − (QᵀAQ)ᵀ‖/‖QᵀAQ‖ "
                      f"= {asymmetry:.2e} > {SYMMETRY_RTOL:g}; its eigenpairs are those of the "
                      "symmetric part. Check that the adjoint of the product is the transpose "
                      "of its tangent.", AccuracyWarning, stacklevel=2)
    if values[-1] < -SYMMETRY_RTOL * max(values[0], 0.0):
        warnings.warn(f"randomized_eigh: the operator is not positive semi-definite: "
                      f"eigenvalue {values[-1]:.3e} with largest {values[0]:.3e}; a Gauss–Newton "
                      "Hessian is PSD by construction, so its products are inaccurate.",
                      AccuracyWarning, stacklevel=2)
    return values, vectors
