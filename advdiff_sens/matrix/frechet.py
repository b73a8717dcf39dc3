r"""The Fréchet derivative of the matrix exponential, (1.1):

.. math::

    \nabla_J \exp(tQ) = \lim_{\epsilon\to 0}
    \frac{\exp(t(Q+\epsilon J)) - \exp(tQ)}{\epsilon}.

Fast paths
----------
:func:`expm_frechet_action`
    :math:`\nabla_J \exp(tQ)\, b` for dense or sparse ``Q, J`` through the block-triangular
    augmented system propagated by :func:`~advdiff_sens.matrix.expm.propagator.expm_pair_action`.
:func:`expm_frechet`
    The full dense derivative (``scipy.linalg.expm_frechet``, Al-Mohy & Higham 2009).

References (slow, for tests and teaching)
-----------------------------------------
:func:`frechet_ode_reference` (1.3), :func:`frechet_integral_reference` (1.4) and
:func:`frechet_series_reference` (1.5): the note's three representations, each accurate in
the regime stated in its docstring.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from advdiff_sens.matrix.expm.backends import Backend, as_backend
from advdiff_sens.matrix.expm.propagator import Propagator
from advdiff_sens.matrix.norms import norm1
from advdiff_sens.validation import (
    as_operator_pair,
    as_square_operator,
    check_integer,
    check_nonnegative_scalar,
)

__all__ = [
    "expm_frechet_action",
    "expm_frechet_actions",
    "expm_frechet",
    "frechet_ode_reference",
    "frechet_integral_reference",
    "frechet_series_reference",
]


def _propagator_of(Q, backend: str | Backend | None) -> Propagator:
    """``Q`` itself when it is a :class:`Propagator` (its cached per-operator work is
    reused), else a new one for the matrix ``Q`` with ``backend`` (default ``"auto"``)."""
    resolved = None if backend is None else as_backend(backend)
    if isinstance(Q, Propagator):
        differs = (backend != Q.backend.name if isinstance(backend, str)
                   else resolved is not None and resolved != Q.backend)
        if differs:
            raise ValueError(f"backend={backend!r} conflicts with the backend {Q.backend!r} "
                             f"of the Propagator passed as Q; pass one or the other")
        return Q
    return Propagator(as_square_operator(Q, "Q"),
                      backend="auto" if resolved is None else resolved)


def _dense(A) -> np.ndarray:
    return A.toarray() if sp.issparse(A) else A


def expm_frechet_action(Q, J, b, t, *, with_expm: bool = False,
                        backend: str | Backend | None = None):
    r"""Apply the Fréchet derivative (1.1) of :math:`\exp(tQ)` in direction ``J`` to ``b``.

    Computes :math:`y(t) = \nabla_J \exp(tQ)\, b`, the solution of the sensitivity ODE
    (1.3) applied to ``b``, :math:`\dot y = Qy + Jx,\ \dot x = Qx,\ x(0)=b,\ y(0)=0`, as the
    lower half of

    .. math::

        \exp\Big(t\begin{bmatrix} Q & 0 \\ \epsilon J & Q\end{bmatrix}\Big)
        \begin{bmatrix} b \\ 0\end{bmatrix}
        = \begin{bmatrix} \exp(tQ)\,b \\ \epsilon\,\nabla_J\exp(tQ)\,b\end{bmatrix}

    (Van Loan 1978; Najfeld & Havel 1995), computed by
    :meth:`~advdiff_sens.matrix.expm.propagator.Propagator.apply_frechet`. The lower block is linear
    in ``J``, so the scale :math:`\epsilon` is free: the Chebyshev backend takes a complex
    step of size :math:`2^{-400}/\|J\|_2`; ``expm_multiply`` scales :math:`\|J\|_1` to at most
    :math:`\|Q\|_1` by a power of two, so that its Taylor degree is set by ``Q`` alone; both
    divide back exactly.

    Parameters
    ----------
    Q : ndarray, scipy sparse matrix or Propagator, shape (d, d)
        Generator; real or complex (e.g. skew-Hermitian, Section 4.1). A
        :class:`~advdiff_sens.matrix.expm.propagator.Propagator` lends its cached enclosure (repeated
        tangents at one generator skip that set-up), its backend and its tolerance.
    J : ndarray or scipy sparse matrix, shape (d, d)
        Direction.
    b : array_like, shape (d,) or (d, k)
    t : float or array_like of shape (m,)
        A time ``t >= 0`` or strictly increasing non-negative times.
    with_expm : bool
        Also return :math:`\exp(tQ)\,b` (computed in the same propagation).
    backend : Backend or str, optional
        Propagator backend (:mod:`~advdiff_sens.matrix.expm.backends`), default
        :class:`~advdiff_sens.matrix.AutoBackend`; with a Propagator ``Q``, its own (a
        different value is an error).

    Returns
    -------
    y : ndarray
        :math:`\nabla_J \exp(tQ)\, b`, shape of ``b`` for scalar ``t`` and ``(m, *b.shape)``
        for an array of times.
    x : ndarray
        :math:`\exp(tQ)\,b`, same shape; only if ``with_expm``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, expm_frechet_action
    >>> Q = np.array([[-2.0, 2.0], [1.0, -1.0]])
    >>> J = np.array([[0.0, 1.0], [0.0, -1.0]])
    >>> b = np.array([1.0, 0.0])
    >>> y, x = expm_frechet_action(Q, J, b, 1.5, with_expm=True)
    >>> bool(np.allclose(y, expm_frechet(Q, J, 1.5) @ b, rtol=0, atol=1e-12))
    True
    >>> from scipy.linalg import expm
    >>> bool(np.allclose(x, expm(1.5 * Q) @ b, rtol=0, atol=1e-12))
    True
    """
    propagator = _propagator_of(Q, backend)
    _, J = as_operator_pair(propagator.A, J)
    x, ys = propagator.apply_frechet([J], b, t)
    return (ys[0], x) if with_expm else ys[0]


def expm_frechet_actions(Q, Js, b, t, *, backend: str | Backend | None = None):
    r"""Fréchet derivatives of :math:`\exp(tQ)` in ``p`` directions, applied to ``b``, at once.

    The block lower-triangular (arrow) generator generalises the pair of
    :func:`expm_frechet_action` to ``p`` directions:

    .. math::

        \exp\Big(t\begin{bmatrix} Q & & & \\ ε_1J_1 & Q & & \\ \vdots & & \ddots & \\
        ε_pJ_p & & & Q\end{bmatrix}\Big)\begin{bmatrix}b\\0\\\vdots\\0\end{bmatrix}
        = \begin{bmatrix}\exp(tQ)b\\ε_1\nabla_{J_1}\exp(tQ)b\\\vdots\\
        ε_p\nabla_{J_p}\exp(tQ)b\end{bmatrix},

    each block row being the sensitivity ODE (1.3) of one direction, computed by
    :meth:`~advdiff_sens.matrix.expm.propagator.Propagator.apply_frechet` (which chooses the scales
    :math:`ε_i` and divides them back). One propagation of size :math:`(p+1)d` replaces ``p``
    pair propagations of size :math:`2d` (the arrow shares the :math:`\exp(tQ)b` block),
    which pays for few directions; for ``p = 1`` this is :func:`expm_frechet_action`.

    Parameters
    ----------
    Q : ndarray, scipy sparse matrix or Propagator, shape (d, d)
        As in :func:`expm_frechet_action` (a Propagator's enclosure serves every ``p``).
    Js : sequence of p matrices of shape (d, d)
    b : array_like, shape (d,)
    t : float or array_like of shape (m,)
    backend : Backend or str, optional
        As in :func:`expm_frechet_action`.

    Returns
    -------
    x : ndarray
        :math:`\exp(tQ)b`, shape ``(d,)`` or ``(m, d)``.
    ys : ndarray
        :math:`\nabla_{J_i}\exp(tQ)b`, shape ``(p, d)`` or ``(p, m, d)``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, expm_frechet_actions
    >>> Q = np.array([[-2.0, 2.0], [1.0, -1.0]])
    >>> Js = [np.eye(2), np.array([[0.0, 1.0], [0.0, -1.0]])]
    >>> x, ys = expm_frechet_actions(Q, Js, np.array([1.0, 0.0]), [0.5, 1.0])
    >>> x.shape, ys.shape
    ((2, 2), (2, 2, 2))
    >>> bool(np.allclose(ys[0, 1], 1.0 * x[1], rtol=0, atol=1e-12))   # J = I: t e^{tQ} b
    True
    >>> bool(np.allclose(ys[1, 1], expm_frechet(Q, Js[1], 1.0)[:, 0], rtol=0, atol=1e-12))
    True
    """
    if len(Js) == 0:
        raise ValueError("Js must contain at least one direction")
    propagator = _propagator_of(Q, backend)
    Js = [as_operator_pair(propagator.A, J, ("Q", f"Js[{i}]"))[1] for i, J in enumerate(Js)]
    b = np.asarray(b)
    if b.ndim != 1:
        raise ValueError(f"b must be a vector of shape ({propagator.A.shape[0]},), got {b.shape}")
    return propagator.apply_frechet(Js, b, t)


def expm_frechet(Q, J, t: float = 1.0, *, with_expm: bool = False):
    r"""Full dense Fréchet derivative :math:`\nabla_J \exp(tQ) = L_{\exp}(tQ, tJ)`.

    Uses ``scipy.linalg.expm_frechet`` (Al-Mohy & Higham 2009, scaling and squaring of
    the block-triangular exponential). Sparse inputs are densified.

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
    t : float
        Time ``t >= 0``.
    with_expm : bool
        Also return :math:`\exp(tQ)`.

    Returns
    -------
    frechet : ndarray, shape (d, d)
    expm : ndarray, shape (d, d)
        Only if ``with_expm``.

    Examples
    --------
    For a direction that commutes with ``Q`` the derivative is the first-order surrogate
    (1.6), :math:`t\,e^{tQ}J`:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> L, E = expm_frechet(Q, np.eye(2), 0.7, with_expm=True)
    >>> bool(np.allclose(L, 0.7 * E, rtol=0, atol=1e-14))
    True
    """
    Q, J = as_operator_pair(Q, J)
    t = check_nonnegative_scalar(t, "t")
    expm, frechet = sla.expm_frechet(t * _dense(Q), t * _dense(J), method="SPS")
    return (frechet, expm) if with_expm else frechet


def frechet_ode_reference(Q, J, t: float, *, rtol: float = 1e-12,
                          atol: float = 1e-14) -> np.ndarray:
    r"""Reference: integrate the sensitivity ODE (1.3) with an explicit Runge–Kutta method.

    .. math::

        \dot X = QX,\quad \dot Y = QY + JX,\qquad X(0) = I,\ Y(0) = 0,
        \qquad Y(t) = \nabla_J \exp(tQ),

    with ``scipy.integrate.solve_ivp`` (DOP853) on the :math:`2d^2` unknowns. Accurate to
    about ``rtol`` times :math:`\max_s\|(X,Y)(s)\|` for non-stiff problems; the cost grows
    with :math:`t\|Q\|` (explicit step-size limit), so it is meant for small ``d`` and
    moderate :math:`t\|Q\|`. Not a fast path.

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
        Generator and direction (densified).
    t : float
        Time ``t >= 0``.
    rtol, atol : float
        Tolerances of ``solve_ivp``.

    Returns
    -------
    ndarray, shape (d, d)
        :math:`Y(t) = \nabla_J \exp(tQ)`.

    Raises
    ------
    RuntimeError
        If ``solve_ivp`` fails.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, frechet_ode_reference
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 0.0], [1.0, -1.0]])
    >>> Y = frechet_ode_reference(Q, J, 1.0)
    >>> bool(np.allclose(Y, expm_frechet(Q, J, 1.0), rtol=0, atol=1e-10))
    True
    """
    Q, J = as_operator_pair(Q, J)
    Q, J = _dense(Q), _dense(J)
    t = check_nonnegative_scalar(t, "t")
    d = Q.shape[0]
    dtype = np.result_type(Q, J)

    def rhs(_, z):
        X, Y = z.reshape(2, d, d)
        return np.concatenate([(Q @ X).ravel(), (Q @ Y + J @ X).ravel()])

    z0 = np.concatenate([np.eye(d, dtype=dtype).ravel(), np.zeros(d * d, dtype=dtype)])
    if t == 0.0:
        return np.zeros((d, d), dtype=dtype)
    sol = solve_ivp(rhs, (0.0, t), z0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y[:, -1].reshape(2, d, d)[1]


def frechet_integral_reference(Q, J, t: float, *, panels: int | None = None,
                               nodes: int = 16) -> np.ndarray:
    r"""Reference: the variation-of-constants integral (1.4) by Gauss–Legendre quadrature.

    .. math::

        \nabla_J \exp(tQ) = \exp(tQ)\int_0^t e^{-sQ} J e^{sQ}\,ds
        = \int_0^t e^{(t-s)Q} J e^{sQ}\,ds ,

    evaluated in the second (equivalent) form, which never forms the growing factor
    :math:`e^{-sQ}`, with ``nodes``-point Gauss–Legendre on ``panels`` equal panels and a
    dense ``scipy.linalg.expm`` per node. The integrand is entire in :math:`s`; on a panel
    of length :math:`h` the rule's error decays like :math:`(h\|Q\|/4)^{2n}/(2n)!`, so the
    default ``panels = ceil(t‖Q‖_1 / 2)`` with 16 nodes reaches rounding level. Not a fast
    path.

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
        Generator and direction (densified).
    t : float
        Time ``t >= 0``.
    panels : int, optional
        Number of equal panels of :math:`[0, t]`; default ``ceil(t‖Q‖_1 / 2)``.
    nodes : int
        Gauss–Legendre nodes per panel.

    Returns
    -------
    ndarray, shape (d, d)
        :math:`\nabla_J \exp(tQ)`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, frechet_integral_reference
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 0.0], [1.0, -1.0]])
    >>> Y = frechet_integral_reference(Q, J, 1.0)
    >>> bool(np.allclose(Y, expm_frechet(Q, J, 1.0), rtol=0, atol=1e-13))
    True
    """
    Q, J = as_operator_pair(Q, J)
    Q, J = _dense(Q), _dense(J)
    t = check_nonnegative_scalar(t, "t")
    nodes = check_integer(nodes, "nodes", minimum=1)
    if panels is None:
        panels = max(1, math.ceil(t * norm1(Q) / 2.0))
    panels = check_integer(panels, "panels", minimum=1)
    x, w = np.polynomial.legendre.leggauss(nodes)
    half = 0.5 * t / panels
    s = (np.arange(panels)[:, None] * 2.0 * half + half * (x[None, :] + 1.0)).ravel()
    weights = np.tile(half * w, panels)
    # The composite rule is symmetric on [0, t]: node k reversed is t - s_k.
    exps = [sla.expm(sk * Q) for sk in s]
    total = np.zeros(Q.shape, dtype=np.result_type(Q, J))
    for k, wk in enumerate(weights):
        total += wk * (exps[-1 - k] @ J @ exps[k])
    return total


def frechet_series_reference(Q, J, t: float, *, max_terms: int = 200) -> np.ndarray:
    r"""Reference: the Najfeld–Havel series (1.5).

    .. math::

        \nabla_J \exp(tQ) = e^{tQ}\sum_{n\ge 0} \frac{t^{n+1}}{(n+1)!}\, C_n,\qquad
        C_n = \sum_{l=0}^n (-1)^l \binom{n}{l} Q^l J Q^{n-l} = (-\operatorname{ad}_Q)^n J,

    summed with the recursion :math:`C_{n+1} = C_n Q - Q C_n` until the term falls below
    :math:`\varepsilon` times the partial sum. The series converges for every ``t`` but its
    terms grow like :math:`(2t\|Q\|)^n/n!` before they decay, so cancellation costs about
    :math:`e^{2t\|Q\|}` in relative accuracy: use it for :math:`t\|Q\| \lesssim 1`.
    Truncating after :math:`n = 0` gives the first-order surrogate (1.6).

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
        Generator and direction (densified).
    t : float
        Time ``t >= 0``.
    max_terms : int
        Largest number of terms of the series.

    Returns
    -------
    ndarray, shape (d, d)
        :math:`\nabla_J \exp(tQ)`.

    Raises
    ------
    RuntimeError
        If the series has not converged within ``max_terms`` terms (or overflows).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, frechet_series_reference
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 0.0], [1.0, -1.0]])
    >>> Y = frechet_series_reference(Q, J, 0.3)
    >>> bool(np.allclose(Y, expm_frechet(Q, J, 0.3), rtol=0, atol=1e-14))
    True
    """
    Q, J = as_operator_pair(Q, J)
    Q, J = _dense(Q), _dense(J)
    t = check_nonnegative_scalar(t, "t")
    max_terms = check_integer(max_terms, "max_terms", minimum=1)
    C = J.astype(np.result_type(Q, J))
    coefficient = t
    total = coefficient * C
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(1, max_terms):
            C = C @ Q - Q @ C
            coefficient *= t / (n + 1)
            term = coefficient * C
            total = total + term
            if not np.all(np.isfinite(total)):
                break
            if np.linalg.norm(term) <= np.finfo(float).eps * np.linalg.norm(total):
                return sla.expm(t * Q) @ total
    raise RuntimeError(f"series (1.5) did not converge in {max_terms} terms; "
                       "it is meant for t*||Q|| of order 1")
