r"""The tangent: :math:`e^{tQ}b` and :math:`\nabla_{J_i}e^{tQ}b` from one propagation.

The block lower-triangular exponential of the Fréchet derivative (Van Loan 1978; Najfeld &
Havel 1995) is advanced on the tangent plan of
:mod:`~advdiff_sens.matrix.expm.backends` (the schedule of :math:`Q` on its enclosure grown
by :math:`r = 1/t`, at ``tol/3``). For real ``Q, J, b`` and one direction the pair is
advanced as **one complex vector** :math:`z = x + i\epsilon y` under :math:`Q + i\epsilon J`,
:math:`\epsilon = 2^{-400}` over the power of two nearest :math:`\|J\|_2` and ``b`` scaled
to unit size by a power of two (a complex step: real part :math:`x + O(\epsilon^2)`,
imaginary part :math:`\epsilon(y + O(\epsilon^2))`, no cancellation), i.e. one complex
sparse product per term — cheaper than the three real products :math:`Qx, Qy, Jx` or scipy's
two-column product. Complex input, and ``p`` directions at once, use the arrow system of size
:math:`(p+1)d` with :math:`ε_i = 2r/(\sqrt p\,\|J_i\|_2)`, whose off-diagonal part has norm
at most :math:`2r`: the same grown enclosure and schedule serve it. With
``expm_multiply`` the arrow system is scaled by :func:`direction_scale` instead.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from advdiff_sens.matrix.expm.backends import TangentPlan
from advdiff_sens.matrix.expm.chebyshev import chebyshev_action
from advdiff_sens.matrix.expm.expm_multiply import expm_multiply_action
from advdiff_sens.matrix.norms import norm1, norm2_bound

__all__ = ["COMPLEX_STEP", "direction_scale", "power_of_two_near", "arrow_generator",
           "split_arrow", "frechet_chebyshev", "frechet_expm_multiply"]

#: The complex step :math:`\epsilon` (before the scaling by :math:`\|J\|_2`).
COMPLEX_STEP = 2.0 ** -400


def direction_scale(norm_q: float, norm_j: float) -> float:
    r"""Power of two :math:`\epsilon \le 1` with :math:`\epsilon\|J\|_1 \le \|Q\|_1`
    (:math:`\le 1` if :math:`Q = 0`): the directions' share of the arrow's norm, and with it
    of ``expm_multiply``'s Taylor degree, stays that of ``Q``. A power of two makes the
    scaling and the division back exact."""
    reference = norm_q if norm_q > 0 else 1.0
    if norm_j <= reference:
        return 1.0
    return 2.0 ** -math.ceil(math.log2(norm_j / reference))


def power_of_two_near(value: float) -> float:
    """The power of two nearest ``value > 0`` (scaling by it is exact)."""
    return 2.0 ** round(math.log2(value))


def arrow_generator(Q, Js: list, scales) -> sp.csr_array | np.ndarray:
    r"""The arrow generator :math:`\begin{bmatrix}Q\\ ε_1J_1 & Q\\ \vdots && \ddots\\
    ε_pJ_p &&& Q\end{bmatrix}` of size :math:`(p+1)d`."""
    p = len(Js)
    if sp.issparse(Q) or any(sp.issparse(J) for J in Js):
        Qs = sp.csr_array(Q)
        rows = [[Qs] + [None] * p]
        for i, (J, eps) in enumerate(zip(Js, scales)):
            rows.append([eps * sp.csr_array(J)] + [Qs if q == i else None for q in range(p)])
        return sp.block_array(rows, format="csr")
    d = Q.shape[0]
    dtype = np.result_type(Q, *Js)
    big = np.zeros(((p + 1) * d, (p + 1) * d), dtype=dtype)
    for i in range(p + 1):
        big[i * d:(i + 1) * d, i * d:(i + 1) * d] = Q
    for i, (J, eps) in enumerate(zip(Js, scales)):
        big[(i + 1) * d:(i + 2) * d, :d] = eps * J
    return big


def split_arrow(z: np.ndarray, p: int, scales) -> tuple[np.ndarray, np.ndarray]:
    """``(x, ys)`` from the arrow's state ``z`` of shape ``(m, (p+1)d, ...)``, each
    derivative divided by its scale."""
    parts = np.split(z, p + 1, axis=1)
    return parts[0], np.stack([y / eps for y, eps in zip(parts[1:], scales)])


def frechet_chebyshev(Q, Js: list, b: np.ndarray, times: np.ndarray, plan: TangentPlan):
    r"""``(exp(t_j Q) b, derivatives)`` by the tangent ``plan``'s Chebyshev schedule
    (:meth:`~advdiff_sens.matrix.expm.backends.Backend.tangent_plan`).

    One real direction of a real problem is a complex step: ``b`` and ``J`` are first scaled
    to unit size by powers of two (exact), so that :math:`\epsilon y` stays far from the
    subnormal range whatever their size. Otherwise the arrow system with
    :math:`ε_i = 2r/(\sqrt p\,\|J_i\|_2)`: its off-diagonal part has norm at most
    :math:`2r`, hence numerical radius at most :math:`r`, so the grown enclosure contains
    its field of values.
    """
    enclosure, tol_block = plan.enclosure, plan.tol
    norms = [norm2_bound(J) for J in Js]
    real = not (np.iscomplexobj(Q) or np.iscomplexobj(b) or any(map(np.iscomplexobj, Js)))
    if real and len(Js) == 1:
        if norms[0] == 0.0 or not np.any(b):
            x = chebyshev_action(Q, b, times, tol_block, enclosure, plan.schedule)
            return x, np.zeros((1, *x.shape))
        b_scale = power_of_two_near(float(np.abs(b).max()))
        j_scale = min(max(power_of_two_near(norms[0]), 2.0**-1000), 2.0**1000)  # 1/j finite
        M = Q + (1j * COMPLEX_STEP) * (Js[0] * (1.0 / j_scale))
        z = chebyshev_action(M, b.astype(complex) / b_scale, times, tol_block, enclosure,
                             plan.schedule)
        return z.real * b_scale, ((z.imag / COMPLEX_STEP) * j_scale * b_scale)[None]
    r = 1.0 / float(times[-1])
    scales = [2.0 * r / (np.sqrt(len(Js)) * n) if n > 0 else 1.0 for n in norms]
    zeros = np.zeros((len(Js) * b.shape[0], *b.shape[1:]), dtype=b.dtype)
    z = chebyshev_action(arrow_generator(Q, Js, scales), np.concatenate([b, zeros]), times,
                         tol_block, enclosure, plan.schedule)
    return split_arrow(z, len(Js), scales)


def frechet_expm_multiply(Q, Js: list, b: np.ndarray, times: np.ndarray):
    """Derivatives by ``expm_multiply`` on the arrow system, each direction scaled by
    :func:`direction_scale` so that the arrow's 1-norm stays that of ``Q``."""
    norm_q = norm1(Q)
    scales = [direction_scale(norm_q, norm1(J)) for J in Js]
    zeros = np.zeros((len(Js) * b.shape[0], *b.shape[1:]), dtype=b.dtype)
    z = expm_multiply_action(arrow_generator(Q, Js, scales), np.concatenate([b, zeros]), times)
    return split_arrow(z, len(Js), scales)
