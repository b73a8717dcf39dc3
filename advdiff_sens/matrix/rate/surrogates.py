r"""Cheap approximations (surrogates) of the Fréchet derivative :math:`\nabla_J \exp(tQ)`.

Every surrogate has the form

.. math::

    S(t)\,b = \sum_p t^p\, e^{tQ} c_p + c_{\mathrm{const}}

with vectors :math:`c_p, c_{\mathrm{const}}` that do not depend on ``t``
(:func:`_coefficients`), so one propagation of the block :math:`[c_p]_p` gives all times.
The dense matrix :func:`surrogate` (``b = I``, ``scipy.linalg.expm``) and the action
:func:`surrogate_action` (sparse ``Q``, :func:`~advdiff_sens.matrix.expm.propagator.expm_action`
and the sparse group-inverse solve) share that single implementation.

Orders
------
``1`` — first order (1.6), :math:`t\,e^{tQ}J`.
    Exact when :math:`QJ = JQ` (then :math:`e^{-sQ}Je^{sQ} = J` in (1.4)); otherwise the
    error (1.10) is :math:`\tfrac{t^2}{2}e^{tQ}[J,Q] + O(t^3)` for small ``t`` and, for a
    generator, grows linearly in ``t`` at large ``t`` (it misses the constant-in-time
    correction of Theorem 2.1).
``3`` — the note's "higher-order" surrogate (4.1),
    :math:`e^{tQ}\big(tJ + \tfrac{t^2}{2}(JQ - QJ) - \tfrac{t^3}{3}QJQ\big)`, obtained by
    replacing :math:`e^{-sQ}Je^{sQ}` in (1.4) with :math:`(I - sQ)J(I + sQ)`. It matches the
    series (1.5) through the :math:`t^2` term only (its :math:`t^3` term differs from
    (1.5)'s :math:`\tfrac{t^3}{6}(Q^2J - 2QJQ + JQ^2)` by :math:`\tfrac{t^3}{6}(Q^2J + JQ^2)`),
    so its error is :math:`O(t^3\|Q\|^2\|J\|)`: a short-time expansion, useful for
    :math:`t\|Q\| \lesssim 1` and growing like :math:`t^3` beyond.
``"asymptotic"`` — the corrected Theorem 2.1 (the note's (2.10) with the group inverse
    :math:`Q^\#` in place of the Moore–Penrose :math:`Q^+` and the sign of the constant
    term flipped; :mod:`advdiff_sens.matrix.rate.theorem`),
    :math:`t\,e^{tQ}J - e^{tQ}JQ^\#(I + tQ) - Q^\#J(I - QQ^\#)` with the group inverse
    :math:`Q^\#`. For an irreducible diagonalizable rate matrix its error decays like
    :math:`(C_0 + C_1 t)e^{-\gamma t}` (:func:`~advdiff_sens.matrix.rate.theorem.theorem_2_1_constants`),
    so it is accurate for :math:`t \gtrsim 25/e_m`; at ``t = 0`` it is off by
    :math:`JQ^\# + Q^\#J\Pi`. With :math:`Q^\#Q = I - \Pi` it simplifies to
    :math:`e^{tQ}(t\,J\Pi - JQ^\#) - Q^\#J\Pi`, so for zero-row-sum ``J`` (:math:`J\Pi = 0`)
    it is :math:`-e^{tQ}JQ^\# \to -\Pi J Q^\#`, the derivative of the limit
    :math:`\Pi = \lim e^{tQ}`.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from advdiff_sens.matrix.expm.backends import Backend
from advdiff_sens.matrix.expm.propagator import expm_action
from advdiff_sens.matrix.rate.generators import (
    GroupInverseSolver,
    check_generator,
    group_inverse,
    moore_penrose,
)
from advdiff_sens.validation import (
    as_array,
    as_operator_pair,
    as_times,
    check_nonnegative_scalar,
)

__all__ = ["ORDERS", "surrogate", "surrogate_action", "asymptotic_surrogate"]

ORDERS = (1, 3, "asymptotic")
_INVERSES = ("group", "moore-penrose")


def _check_order(order) -> int | str:
    valid_int = isinstance(order, Integral) and not isinstance(order, bool) and order in (1, 3)
    if not (valid_int or (isinstance(order, str) and order == "asymptotic")):
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return order


def _coefficients(Q, J, b: np.ndarray, order, ginv: Callable | None,
                  constant_sign: float) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    r"""Coefficients :math:`\{p: c_p\}, c_{\mathrm{const}}` of :math:`S(t)b` (module docstring).

    For ``"asymptotic"``, ``ginv`` applies a generalized inverse :math:`G` and

    .. math::

        S(t)b = t e^{tQ}Jb - e^{tQ}JG(I + tQ)b + s\,GJ(I - QG)b
        = e^{tQ}\big[-JGb + t\,J(b - GQb)\big] + s\,GJ(b - QGb)

    with ``s = constant_sign`` (``-1`` corrected, ``+1`` as printed in (2.10)).
    """
    Jb = J @ b
    if order == 1:
        return {1: Jb}, None
    if order == 3:
        JQb = J @ (Q @ b)
        return {1: Jb, 2: 0.5 * (JQb - Q @ Jb), 3: -(Q @ JQb) / 3.0}, None
    Gb = ginv(b)
    return ({0: -(J @ Gb), 1: Jb - J @ ginv(Q @ b)},
            constant_sign * ginv(J @ (b - Q @ Gb)))


def _apply(Q, J, b: np.ndarray, times: np.ndarray, order, propagate: Callable,
           ginv: Callable | None, constant_sign: float = -1.0) -> np.ndarray:
    """Evaluate :math:`S(t)b` at every time: one propagation of the stacked coefficients.

    ``propagate(X)`` must return :math:`e^{tQ}X` for each time, shape ``(m, *X.shape)``.
    """
    coefficients, constant = _coefficients(Q, J, b, order, ginv, constant_sign)
    powers = sorted(coefficients)
    block = np.stack([coefficients[p] for p in powers], axis=-1)
    propagated = propagate(block.reshape(b.shape[0], -1)).reshape(times.size, *block.shape)
    weights = (times[:, None] ** np.array(powers)).reshape(times.size, *([1] * b.ndim), -1)
    out = (propagated * weights).sum(axis=-1)
    return out if constant is None else out + constant


def asymptotic_surrogate(Q, J, t: float, *, inverse: str = "group",
                         constant_sign: float = -1.0) -> np.ndarray:
    r"""Dense asymptotic surrogate of Theorem 2.1, with the errata switchable.

    .. math::

        \nabla_J e^{tQ} \approx t e^{tQ}J - e^{tQ}JG(I + tQ) + s\,GJ(I - QG)

    The corrected statement (the default) has :math:`G = Q^\#` (group inverse) and
    :math:`s = -1`. ``inverse="moore-penrose"`` (:math:`G = Q^+`, as the note writes) and
    ``constant_sign=+1`` (the sign printed in (2.10)) reproduce the note's version, whose
    error does not decay (it plateaus; see ``docs/matrix_level.md``).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix.
    J : ndarray or scipy sparse matrix, shape (d, d)
    t : float
        Time ``t >= 0``.
    inverse : {"group", "moore-penrose"}
        :math:`G = Q^\#` (corrected) or :math:`G = Q^+` (as the note writes).
    constant_sign : {-1, +1}
        :math:`s`: ``-1`` corrected, ``+1`` as printed in (2.10).

    Returns
    -------
    ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix, or on an unknown ``inverse``/sign.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import asymptotic_surrogate, expm_frechet
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])            # e_m = 3
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> exact = expm_frechet(Q, J, 10.0)
    >>> bool(np.abs(asymptotic_surrogate(Q, J, 10.0) - exact).max() < 1e-10)
    True
    >>> note = asymptotic_surrogate(Q, J, 10.0, inverse="moore-penrose", constant_sign=+1)
    >>> bool(np.abs(note - exact).max() > 0.1)              # the note's version: no decay
    True
    """
    if inverse not in _INVERSES:
        raise ValueError(f"inverse must be one of {_INVERSES}, got {inverse!r}")
    if constant_sign not in (-1, 1):
        raise ValueError(f"constant_sign must be -1 or +1, got {constant_sign!r}")
    Q, J = as_operator_pair(Q, J)
    Q = check_generator(Q)
    return _dense_surrogate(Q, J, t, "asymptotic", inverse, float(constant_sign))


def _dense_surrogate(Q, J, t, order, inverse: str, constant_sign: float) -> np.ndarray:
    t = check_nonnegative_scalar(t, "t")
    Q = Q.toarray() if sp.issparse(Q) else Q
    J = J.toarray() if sp.issparse(J) else J
    ginv = None
    if order == "asymptotic":
        G = group_inverse(Q) if inverse == "group" else moore_penrose(Q)
        ginv = G.__matmul__
    E = sla.expm(t * Q)
    return _apply(Q, J, np.eye(Q.shape[0]), np.array([t]), order,
                  lambda X: (E @ X)[None], ginv, constant_sign)[0]


def surrogate(Q, J, t: float, order: int | str = 1) -> np.ndarray:
    r"""Dense surrogate matrix approximating :math:`\nabla_J \exp(tQ)` (1.1).

    ``order=1``: :math:`t e^{tQ}J` (1.6); ``order=3``: (4.1); ``order="asymptotic"``:
    the corrected Theorem 2.1. See the module docstring for when each is accurate.

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
        Generator and direction (densified). ``order="asymptotic"`` requires ``Q`` to be an
        irreducible rate matrix.
    t : float
        Time ``t >= 0``.
    order : {1, 3, "asymptotic"}

    Returns
    -------
    ndarray, shape (d, d)

    Raises
    ------
    ValueError
        On an unknown ``order``, or for ``"asymptotic"`` if ``Q`` is not an irreducible rate
        matrix.

    Examples
    --------
    Order 1 is exact for a commuting direction; for a short time order 3 beats order 1:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_frechet, surrogate
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> bool(np.allclose(surrogate(Q, Q, 0.8), expm_frechet(Q, Q, 0.8), rtol=0, atol=1e-14))
    True
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> exact = expm_frechet(Q, J, 0.05)
    >>> errors = [np.abs(surrogate(Q, J, 0.05, order) - exact).max() for order in (1, 3)]
    >>> bool(errors[1] < errors[0] / 10)
    True
    """
    order = _check_order(order)
    if order == "asymptotic":
        return asymptotic_surrogate(Q, J, t)
    Q, J = as_operator_pair(Q, J)
    return _dense_surrogate(Q, J, t, order, "group", -1.0)


def surrogate_action(Q, J, b, t, order: int | str = 1, *,
                     solver: GroupInverseSolver | None = None,
                     backend: str | Backend = "auto") -> np.ndarray:
    r"""Surrogate of :math:`\nabla_J \exp(tQ)\,b` without forming any dense matrix.

    Evaluates :math:`S(t)b = \sum_p t^p e^{tQ}c_p + c_{\mathrm{const}}` (module docstring)
    with one call of :func:`~advdiff_sens.matrix.expm.propagator.expm_action` on the stacked
    coefficient block (all times at once) and, for ``"asymptotic"``, three sparse solves
    with :math:`Q^\#` sharing one LU factorisation of the bordered system
    (:class:`~advdiff_sens.matrix.rate.generators.GroupInverseSolver`).

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
    b : array_like, shape (d,) or (d, k)
    t : float or array_like of shape (m,)
        A time ``t >= 0`` or strictly increasing non-negative times.
    order : {1, 3, "asymptotic"}
    solver : GroupInverseSolver, optional
        A factorisation of ``Q`` to reuse (``"asymptotic"`` only); built if omitted.
    backend : Backend or str
        Propagator backend, see :func:`~advdiff_sens.matrix.expm_action`.

    Returns
    -------
    ndarray
        Shape of ``b`` for scalar ``t``; ``(m, *b.shape)`` for an array of times.

    Raises
    ------
    ValueError
        On bad shapes or times, an unknown ``order``, or for ``"asymptotic"`` if ``Q`` is not
        an irreducible rate matrix or ``solver`` has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from advdiff_sens.matrix import surrogate, surrogate_action
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> b = np.array([1.0, 0.5])
    >>> y = surrogate_action(sp.csr_array(Q), sp.csr_array(J), b, [0.5, 2.0], order="asymptotic")
    >>> y.shape
    (2, 2)
    >>> bool(np.allclose(y[1], surrogate(Q, J, 2.0, "asymptotic") @ b, rtol=0, atol=1e-12))
    True
    """
    order = _check_order(order)
    Q, J = as_operator_pair(Q, J)
    b = as_array(b, "b")
    d = Q.shape[0]
    if b.ndim not in (1, 2) or b.shape[0] != d:
        raise ValueError(f"b must have shape ({d},) or ({d}, k), got {b.shape}")
    times, scalar = as_times(t, "t")
    ginv = None
    if order == "asymptotic":
        Q = check_generator(Q)
        if solver is None:
            solver = GroupInverseSolver(Q)
        elif solver.shape != Q.shape:
            raise ValueError(f"solver was built for shape {solver.shape}, Q has {Q.shape}")
        ginv = solver.solve
    out = _apply(Q, J, b, times, order,
                 lambda X: expm_action(Q, X, times, backend=backend), ginv)
    return out[0] if scalar else out
