"""Propagators: the action of the matrix exponential, ``b -> exp(t A) b``.

This is the single place where the library applies ``exp(tA)`` to vectors. Every other
module (the forward solve, the Fréchet action, tangent and adjoint methods) calls
:func:`expm_action`, so faster backends plug in here.

Backends
--------
``"scipy"``
    :func:`scipy.sparse.linalg.expm_multiply` (Al-Mohy & Higham 2011, truncated Taylor
    series with scaling). Several times are handled as follows: equally spaced times are
    computed in one call with ``start=0, stop=t[-1]-t[0], num=len(t)`` after propagating to
    ``t[0]`` (this avoids scipy's documented loss of accuracy when ``start != 0``);
    arbitrary increasing times are reached by stepping from the previous time,
    ``x(t_{j+1}) = exp((t_{j+1}-t_j) A) x(t_j)``, never from 0 again.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validation import as_array, as_square_operator, as_times

__all__ = ["expm_action", "expm_pair_action", "BACKENDS"]

BACKENDS = ("scipy",)


def _trace(A) -> complex | float:
    return A.trace() if sp.issparse(A) else np.trace(A)


def _expm_multiply_once(A, b: np.ndarray, t: float, trace) -> np.ndarray:
    if t == 0.0:
        return b.copy()
    return spla.expm_multiply(t * A, b, traceA=t * trace)


def _is_equally_spaced(times: np.ndarray) -> bool:
    if times.size < 3:
        return False
    steps = np.diff(times)
    return bool(np.all(np.abs(steps - steps[0]) <= 1e-12 * max(abs(times[-1]), 1.0)))


def expm_action(A, b, t, *, backend: str = "scipy") -> np.ndarray:
    r"""Compute :math:`x(t) = \exp(tA)\,b`, the solution of :math:`\dot x = Ax,\ x(0)=b`.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)
        The generator.
    b : array_like, shape (d,) or (d, k)
        Initial vector or block of vectors.
    t : float or array_like of shape (m,)
        A time ``t >= 0``, or strictly increasing non-negative times.
    backend : {"scipy"}
        Which algorithm applies the exponential (see the module docstring).

    Returns
    -------
    ndarray
        ``exp(tA) b`` with the shape of ``b`` for scalar ``t``; shape ``(m, *b.shape)`` for
        an array of times.
    """
    A = as_square_operator(A, "A")
    b = as_array(b, "b")
    if b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise ValueError(f"b must have shape ({A.shape[0]},) or ({A.shape[0]}, k), got {b.shape}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    times, scalar = as_times(t, "t")
    trace = _trace(A)
    x0 = _expm_multiply_once(A, b, float(times[0]), trace)
    if scalar:
        return x0
    out = np.empty((times.size, *b.shape), dtype=np.result_type(x0, A.dtype))
    out[0] = x0
    if times.size == 1:
        return out
    if _is_equally_spaced(times):
        span = float(times[-1] - times[0])
        out[1:] = spla.expm_multiply(A, x0, start=0.0, stop=span, num=times.size,
                                     endpoint=True, traceA=trace)[1:]
        return out
    for j in range(1, times.size):
        out[j] = _expm_multiply_once(A, out[j - 1], float(times[j] - times[j - 1]), trace)
    return out


def expm_pair_action(Q, J, b, t, *, backend: str = "scipy") -> tuple[np.ndarray, np.ndarray]:
    r"""Propagate the block lower-triangular system of the Fréchet derivative.

    .. math::

        \exp\Big(t\begin{bmatrix} Q & 0 \\ J & Q \end{bmatrix}\Big)
        \begin{bmatrix} b \\ 0 \end{bmatrix}
        = \begin{bmatrix} \exp(tQ)\,b \\ \nabla_J \exp(tQ)\,b \end{bmatrix}

    (Van Loan 1978; Najfeld & Havel 1995), i.e. the sensitivity ODE (1.3) applied to ``b``:
    :math:`\dot x = Qx,\ \dot y = Qy + Jx,\ x(0) = b,\ y(0) = 0`.

    Parameters
    ----------
    Q, J : ndarray or scipy sparse matrix, shape (d, d)
    b : ndarray, shape (d,) or (d, k)
    t : float or array_like of shape (m,)
        Non-negative, strictly increasing times.
    backend : str
        See :func:`expm_action`.

    Returns
    -------
    x, y : ndarray
        ``exp(tQ) b`` and ``∇_J exp(tQ) b``, each with the shape of ``b`` (scalar ``t``)
        or ``(m, *b.shape)``.
    """
    Q = as_square_operator(Q, "Q")
    J = as_square_operator(J, "J")
    if J.shape != Q.shape:
        raise ValueError(f"J must have the shape of Q {Q.shape}, got {J.shape}")
    b = as_array(b, "b")
    d = Q.shape[0]
    if b.ndim not in (1, 2) or b.shape[0] != d:
        raise ValueError(f"b must have shape ({d},) or ({d}, k), got {b.shape}")
    big = sp.block_array([[sp.csr_array(Q), None], [sp.csr_array(J), sp.csr_array(Q)]],
                         format="csr")
    z0 = np.concatenate([b, np.zeros_like(b)], axis=0)
    z = expm_action(big, z0, t, backend=backend)
    x, y = np.split(z, 2, axis=-1 if b.ndim == 1 else -2)
    return x, y
