r"""Propagators: the action of the matrix exponential, ``b -> exp(t A) b``.

This is the single place where the library applies ``exp(tA)`` to vectors. Every other
module (the forward solve, the Fréchet action, tangent and adjoint methods) calls
:func:`expm_action` / :func:`expm_pair_action` or the :class:`Propagator` behind them, so
faster backends plug in here.

Backends
--------
``"auto"`` (default)
    ``"chebyshev"``, unless its a priori schedule needs more products than the Taylor
    model :math:`2\|t(A-\mu I)\|_1` of ``expm_multiply`` (strongly non-normal
    generators whose field of values reaches far into the right half-plane, e.g. upwind
    at high cell Péclet number) or cannot certify ``tol``; then ``"scipy"``.
``"chebyshev"``
    Chebyshev series of :math:`e^{\tau z}` on an ellipse enclosing a Gershgorin polygon
    around the field of values :math:`W(A)`, with the step count :math:`s` and degree
    :math:`m` chosen once per operator and time from an a priori error bound (Bessel
    coefficients, Crouzeix–Palencia), no norm checks while it runs, and dense output for
    several times; see :mod:`advdiff_sens.matrix._prop_chebyshev`. Cost :math:`s\,m`
    products, growing like :math:`\sqrt{\|tA\|}` for diffusion-dominated generators. It
    honours ``tol`` (falling back to ``"scipy"`` when its bound cannot certify it): the
    error is at most ``tol`` relative to :math:`e^{t\beta_-}\|b\|`,
    :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))` (rigorous for :math:`\beta \le 0`;
    on R2 the measured error relative to :math:`\|e^{tA}b\|` is about ``tol/100``).
    Chosen (through ``"auto"``) as the default by measurement: on R2 it is 20× faster than
    ``"scipy"`` at 128² and 256² at equal accuracy (``benchmarks/bench_propagate.py``).
``"scipy"``
    :func:`scipy.sparse.linalg.expm_multiply` (Al-Mohy & Higham 2011, truncated Taylor
    series with scaling, cost :math:`\approx \|tA\|_1` products plus two vector norms per
    term), the reference; works to double precision and ignores ``tol``. Equally spaced
    times are computed in one call with ``start=0, stop=t[-1]-t[0], num=len(t)`` after
    propagating to ``t[0]`` (this avoids scipy's documented loss of accuracy when
    ``start != 0``); arbitrary increasing times are reached by stepping from the previous
    time, ``x(t_{j+1}) = exp((t_{j+1}-t_j) A) x(t_j)``, never from 0 again.

Pair (tangent) propagation
--------------------------
:func:`expm_pair_action` evaluates the block lower-triangular exponential of the Fréchet
derivative. With ``"chebyshev"`` the schedule is that of :math:`Q` on its enclosure grown by
:math:`r = 1/t`: the lower-left block of :math:`p(B_\epsilon)`,
:math:`B_\epsilon = \begin{bmatrix}Q & 0\\ \epsilon J & Q\end{bmatrix}`, is exactly
:math:`\epsilon\,L_p(Q, J)` and :math:`W(B_\epsilon) \subset W(Q) + \{|z| \le
\epsilon\|J\|_2/2\}`, so with :math:`\epsilon = 2r/\|J\|_2` the tangent error is at most
:math:`\tfrac{t\|J\|_2}{2}e^{tr}` times the block error. For real ``Q, J, b`` the pair is
advanced as **one complex vector** :math:`z = x + i\epsilon y` under
:math:`Q + i\epsilon J`, :math:`\epsilon = 2^{-400}` over the power of two nearest
:math:`\|J\|_2` and ``b`` scaled to unit size by a power of two (a complex step: real part
:math:`x + O(\epsilon^2)`, imaginary part :math:`\epsilon(y + O(\epsilon^2))`, no
cancellation), i.e. one complex sparse product per term, measured ≈2.3× a real one with
scipy's kernels — cheaper than the three real products :math:`Qx, Qy, Jx` (≈2.8×) or scipy's
two-column product (≈3.8×). Complex input, and ``p`` directions at once
(:meth:`Propagator.apply_frechet`), use the arrow system of size :math:`(p+1)d` with
:math:`ε_i = 2r/(\sqrt p\,\|J_i\|_2)`, whose off-diagonal part has norm at most :math:`2r`:
the same grown enclosure and schedule serve it.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validation import (as_array, as_operator_pair, as_square_operator, as_times,
                           check_positive_scalar)
from ._prop_chebyshev import (
    PRODUCTS,
    ToleranceUnreachable,
    chebyshev_propagate,
    field_of_values_enclosure,
    select_schedule,
)

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_TOL", "Propagator", "expm_action",
           "expm_pair_action", "count_products"]

BACKENDS = ("auto", "chebyshev", "scipy")
DEFAULT_BACKEND = "auto"
DEFAULT_TOL = 1e-12
_COMPLEX_STEP = 2.0 ** -400


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


def _scipy_action(A, b: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``exp(t_j A) b`` for every time with ``expm_multiply``; shape ``(m, *b.shape)``."""
    trace = _trace(A)
    x0 = _expm_multiply_once(A, b, float(times[0]), trace)
    out = np.empty((times.size, *b.shape), dtype=np.result_type(x0, A.dtype))
    out[0] = x0
    if _is_equally_spaced(times):
        span = float(times[-1] - times[0])
        out[1:] = spla.expm_multiply(A, x0, start=0.0, stop=span, num=times.size,
                                     endpoint=True, traceA=trace)[1:]
        return out
    for j in range(1, times.size):
        out[j] = _expm_multiply_once(A, out[j - 1], float(times[j] - times[j - 1]), trace)
    return out


def _chebyshev_action(A, b: np.ndarray, times: np.ndarray, tol: float,
                      enclosure=None) -> np.ndarray:
    """``exp(t_j A) b`` with the Chebyshev backend; shape ``(m, *b.shape)``.

    Columns become rows of the internal ``(k, d)`` block; for real ``A`` a complex ``b`` is
    split into its real and imaginary parts (two real products beat one complex one).
    """
    rows = b[:, None].T if b.ndim == 1 else b.T
    split = np.iscomplexobj(rows) and not np.iscomplexobj(A)
    work = np.concatenate([rows.real, rows.imag]) if split else rows
    dtype = np.result_type(work, A.dtype)
    z = chebyshev_propagate(A, np.ascontiguousarray(work, dtype=dtype), times, tol, enclosure)
    if split:
        k = rows.shape[0]
        z = z[:, :k] + 1j * z[:, k:]
    z = np.swapaxes(z, 1, 2)
    return z[..., 0] if b.ndim == 1 else z


def _shifted_norm1(A) -> float:
    r""":math:`\|A - \mu I\|_1`, :math:`\mu = \mathrm{tr}(A)/d`: the Taylor model of
    ``expm_multiply`` needs :math:`2t\|A - \mu I\|_1` products (measured on R2: 12,635
    products for :math:`\|t(A-\mu I)\|_1 \approx 5{,}500`)."""
    d = A.shape[0]
    mu = _trace(A) / d
    shifted = A - mu * (sp.eye_array(d, format="csr") if sp.issparse(A) else np.eye(d))
    return float(abs(shifted).sum(axis=0).max())


def _stored_entries(A) -> int:
    """Entries a product with ``A`` touches: ``nnz`` if sparse, ``d²`` if dense."""
    return A.nnz if sp.issparse(A) else A.size


_SCIPY_CALL_OVERHEAD = 50
_SEARCH_WORK = 2e6


def _use_chebyshev(backend: str, shifted_norm1: float, enclosure, t: float, tol: float,
                   n_times: int = 1, nnz: int | None = None) -> bool:
    r"""``"chebyshev"``: always; ``"auto"``: when its schedule needs fewer products than the
    Taylor model of ``expm_multiply`` (it does not for strongly non-normal generators whose
    field of values reaches far into the right half-plane). The model charges
    ``expm_multiply`` :math:`2t\|A - \mu I\|_1` products plus, per call (one per output
    time when stepping), a set-up of exact norms worth about 50 products (measured: a
    short ``expm_multiply`` call costs ≈ 60 products' time at 64²), whereas Chebyshev's
    dense output makes extra times nearly free.

    Small problems skip the schedule search: when the model's products times ``nnz`` (the
    stored entries of the operator) are below ``2e6``, ``expm_multiply`` takes under ~20 ms,
    less than the search itself (17–46 ms for a new operator on R2 from 16² to 128²;
    ``expm_multiply`` took 7 ms at 32², where the model gives 5e5, and 53 ms at 64², 7e6).
    May raise :class:`ToleranceUnreachable`."""
    taylor = 2.0 * t * shifted_norm1 + _SCIPY_CALL_OVERHEAD * n_times
    if backend == "chebyshev":
        return True
    if nnz is not None and taylor * nnz < _SEARCH_WORK:
        return False
    return select_schedule(enclosure, t, tol).cost <= taylor


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _check_block(b, d: int) -> np.ndarray:
    b = as_array(b, "b")
    if b.ndim not in (1, 2) or b.shape[0] != d:
        raise ValueError(f"b must have shape ({d},) or ({d}, k), got {b.shape}")
    return b


def _check_tol(tol) -> float:
    tol = check_positive_scalar(tol, "tol")
    if tol >= 1.0:
        raise ValueError(f"tol must be < 1, got {tol}")
    return tol


class Propagator:
    r"""Applies :math:`\exp(tA)` to vectors, with the per-operator work done once.

    Holds the validated operator, its field-of-values enclosure and the norm used by
    ``"auto"`` (the Chebyshev schedules are cached per enclosure, time and tolerance), so
    repeated applications to the same operator — the adjoint's quadrature nodes, the
    stepping of several output times, optimisation and MCMC loops at a fixed velocity —
    pay for them once; :meth:`apply_frechet` (tangents) reuses the same enclosure. The
    operator is treated as immutable.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)
    backend : {"auto", "chebyshev", "scipy"}
    tol : float
        See :func:`expm_action`.
    """

    def __init__(self, A, *, backend: str = DEFAULT_BACKEND, tol: float = DEFAULT_TOL) -> None:
        self.A = as_square_operator(A, "A")
        _check_backend(backend)
        self.backend = backend
        self.tol = _check_tol(tol)
        self._enclosure = None
        self._shifted_norm1: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    def _chebyshev_inputs(self):
        if self._enclosure is None:
            self._enclosure = field_of_values_enclosure(self.A)
            self._shifted_norm1 = _shifted_norm1(self.A)
        return self._enclosure, self._shifted_norm1

    def apply(self, b, t) -> np.ndarray:
        r""":math:`\exp(tA)b`; arguments and result as :func:`expm_action`."""
        b = _check_block(b, self.A.shape[0])
        times, scalar = as_times(t, "t")
        out = None
        try:
            if self.backend != "scipy" and times[-1] > 0.0:
                enclosure, norm1 = self._chebyshev_inputs()
                if _use_chebyshev(self.backend, norm1, enclosure, float(times[-1]), self.tol,
                                  times.size, _stored_entries(self.A)):
                    out = _chebyshev_action(self.A, b, times, self.tol, enclosure)
        except ToleranceUnreachable:
            pass
        if out is None:
            out = _scipy_action(self.A, b, times)
        return out[0] if scalar else out

    def apply_frechet(self, Js, b, t) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\exp(tA)b` and :math:`\nabla_{J_i}\exp(tA)b`, ``i = 1..p``, from one
        propagation of the block lower-triangular (arrow) system (module docstring, "Pair
        (tangent) propagation"), reusing this operator's cached enclosure.

        Parameters
        ----------
        Js : sequence of p matrices of shape (d, d)
        b : array_like, shape (d,) or (d, k)
        t : float or array_like of shape (m,)

        Returns
        -------
        x : ndarray
            :math:`\exp(tA)b`, the shape of ``b`` for scalar ``t``, else ``(m, *b.shape)``.
        ys : ndarray
            The ``p`` derivatives, shape ``(p, *x.shape)``.
        """
        if isinstance(Js, (str, bytes)) or not hasattr(Js, "__len__") or len(Js) == 0:
            raise ValueError("Js must be a non-empty sequence of (d, d) matrices")
        Js = [as_operator_pair(self.A, J, ("A", f"Js[{i}]"))[1] for i, J in enumerate(Js)]
        b = _check_block(b, self.A.shape[0])
        times, scalar = as_times(t, "t")
        if times[-1] == 0.0:
            x = np.broadcast_to(b, (times.size, *b.shape)).copy()
            dtype = np.result_type(b, self.A.dtype, *(J.dtype for J in Js))
            ys = np.zeros((len(Js), *x.shape), dtype=dtype)
            return (x[0], ys[:, 0]) if scalar else (x, ys)
        out = None
        try:
            if self.backend != "scipy":
                out = _frechet_chebyshev(self.A, Js, b, times, self.tol, self.backend,
                                         self._chebyshev_inputs())
        except ToleranceUnreachable:
            pass
        if out is None:
            out = _frechet_scipy(self.A, Js, b, times)
        x, ys = out
        return (x[0], ys[:, 0]) if scalar else (x, ys)


def expm_action(A, b, t, *, backend: str = DEFAULT_BACKEND, tol: float = DEFAULT_TOL) -> np.ndarray:
    r"""Compute :math:`x(t) = \exp(tA)\,b`, the solution of :math:`\dot x = Ax,\ x(0)=b`.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)
        The generator (real or complex).
    b : array_like, shape (d,) or (d, k)
        Initial vector or block of vectors (real or complex).
    t : float or array_like of shape (m,)
        A time ``t >= 0``, or strictly increasing non-negative times.
    backend : {"auto", "chebyshev", "scipy"}
        Which algorithm applies the exponential (see the module docstring); ``"auto"``
        uses ``"chebyshev"`` unless its schedule needs more products than the Taylor
        model of ``expm_multiply``.
    tol : float
        Requested accuracy, ``0 < tol < 1``: with ``"chebyshev"`` the error of each column
        is bounded by ``tol`` times :math:`e^{t\beta_-}\|b\|`, :math:`\beta_- = \min(0,
        \max\mathrm{Re}\,W(A))` (module docstring); ``"scipy"`` ignores it (double
        precision). When the a priori bound cannot certify ``tol`` (``tol`` near round-off,
        or very long times) the call falls back to ``"scipy"``.

    Returns
    -------
    ndarray
        ``exp(tA) b`` with the shape of ``b`` for scalar ``t``; shape ``(m, *b.shape)`` for
        an array of times.
    """
    return Propagator(A, backend=backend, tol=tol).apply(b, t)


def _norm2_bound(J) -> float:
    r""":math:`\|J\|_2 \le \sqrt{\|J\|_1\|J\|_\infty}` (a product of square roots, which
    neither underflows nor overflows where the norms themselves do not)."""
    absJ = abs(J)
    return float(np.sqrt(absJ.sum(axis=0).max()) * np.sqrt(absJ.sum(axis=1).max()))


def _pair_enclosure(enclosure, horizon: float):
    r"""The enclosure grown by :math:`r = 1/t` that certifies derivatives (module docstring,
    "Pair (tangent) propagation"); None for a horizon so short that :math:`r^2` overflows
    (the ellipse fit squares it), which is left to ``expm_multiply``."""
    with np.errstate(over="ignore"):
        r = 1.0 / horizon
        if not np.isfinite(r * r):
            return None
    return enclosure.enlarged(r)


def _norm1(A) -> float:
    """Induced 1-norm (maximum absolute column sum) of a dense or sparse matrix."""
    if sp.issparse(A):
        return float(abs(A).sum(axis=0).max()) if A.nnz else 0.0
    return float(np.abs(A).sum(axis=0).max())


def _direction_scale(norm_q: float, norm_j: float) -> float:
    r"""Power of two :math:`\epsilon \le 1` with :math:`\epsilon\|J\|_1 \le \|Q\|_1`
    (:math:`\le 1` if :math:`Q = 0`): the directions' share of the arrow's norm, and with it
    of ``expm_multiply``'s Taylor degree, stays that of ``Q``. A power of two makes the
    scaling and the division back exact."""
    reference = norm_q if norm_q > 0 else 1.0
    if norm_j <= reference:
        return 1.0
    return 2.0 ** -math.ceil(math.log2(norm_j / reference))


def _power_of_two_near(value: float) -> float:
    """The power of two nearest ``value > 0`` (scaling by it is exact)."""
    return 2.0 ** round(math.log2(value))


def _arrow(Q, Js: list, scales) -> sp.csr_array | np.ndarray:
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


def _split_arrow(z: np.ndarray, p: int, scales) -> tuple[np.ndarray, np.ndarray]:
    """``(x, ys)`` from the arrow's state ``z`` of shape ``(m, (p+1)d, ...)``, each
    derivative divided by its scale."""
    parts = np.split(z, p + 1, axis=1)
    return parts[0], np.stack([y / eps for y, eps in zip(parts[1:], scales)])


def _frechet_chebyshev(Q, Js: list, b: np.ndarray, times: np.ndarray, tol: float,
                       backend: str, inputs: tuple):
    r"""Derivatives with the Chebyshev schedule of ``Q`` grown by ``r = 1/t`` (module
    docstring); ``inputs`` = (enclosure of ``Q``, its shifted 1-norm), as cached by
    :class:`Propagator`. None when ``backend == "auto"`` prefers ``expm_multiply``.

    One real direction of a real problem is a complex step: ``b`` and ``J`` are first scaled
    to unit size by powers of two (exact), so that :math:`\epsilon y` stays far from the
    subnormal range whatever their size. Otherwise the arrow system with
    :math:`ε_i = 2r/(\sqrt p\,\|J_i\|_2)`: its off-diagonal part has norm at most
    :math:`2r`, hence numerical radius at most :math:`r`, so the grown enclosure contains
    its field of values.
    """
    enclosure = _pair_enclosure(inputs[0], float(times[-1]))
    tol_block = tol / 3.0
    nnz = _stored_entries(Q) * (len(Js) + 1)        # the arrow's blocks, roughly
    if enclosure is None or not _use_chebyshev(backend, inputs[1], enclosure,
                                               float(times[-1]), tol_block, 1, nnz):
        return None
    norms = [_norm2_bound(J) for J in Js]
    real = not (np.iscomplexobj(Q) or np.iscomplexobj(b) or any(map(np.iscomplexobj, Js)))
    if real and len(Js) == 1:
        if norms[0] == 0.0 or not np.any(b):
            x = _chebyshev_action(Q, b, times, tol_block, enclosure)
            return x, np.zeros((1, *x.shape))
        b_scale = _power_of_two_near(float(np.abs(b).max()))
        j_scale = min(max(_power_of_two_near(norms[0]), 2.0**-1000), 2.0**1000)  # 1/j finite
        M = Q + (1j * _COMPLEX_STEP) * (Js[0] * (1.0 / j_scale))
        z = _chebyshev_action(M, b.astype(complex) / b_scale, times, tol_block, enclosure)
        return z.real * b_scale, ((z.imag / _COMPLEX_STEP) * j_scale * b_scale)[None]
    r = 1.0 / float(times[-1])
    scales = [2.0 * r / (np.sqrt(len(Js)) * n) if n > 0 else 1.0 for n in norms]
    zeros = np.zeros((len(Js) * b.shape[0], *b.shape[1:]), dtype=b.dtype)
    z = _chebyshev_action(_arrow(Q, Js, scales), np.concatenate([b, zeros]), times,
                          tol_block, enclosure)
    return _split_arrow(z, len(Js), scales)


def _frechet_scipy(Q, Js: list, b: np.ndarray, times: np.ndarray):
    """Derivatives by ``expm_multiply`` on the arrow system, each direction scaled by
    :func:`_direction_scale` so that the arrow's 1-norm stays that of ``Q``."""
    norm_q = _norm1(Q)
    scales = [_direction_scale(norm_q, _norm1(J)) for J in Js]
    zeros = np.zeros((len(Js) * b.shape[0], *b.shape[1:]), dtype=b.dtype)
    z = _scipy_action(_arrow(Q, Js, scales), np.concatenate([b, zeros]), times)
    return _split_arrow(z, len(Js), scales)


def expm_pair_action(Q, J, b, t, *, backend: str = DEFAULT_BACKEND,
                     tol: float = DEFAULT_TOL) -> tuple[np.ndarray, np.ndarray]:
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
    backend : {"auto", "chebyshev", "scipy"}
        See :func:`expm_action`. ``"chebyshev"`` shares one polynomial schedule between
        both halves (module docstring, "Pair (tangent) propagation").
    tol : float
        With ``"chebyshev"``: the error in ``x`` is at most ``tol`` times
        :math:`e^{t\beta_-}\|b\|` and the error in ``y`` at most ``tol`` times
        :math:`t\|J\|_2 e^{t\beta_-}\|b\|` (the natural scale of ``y``), with
        :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(Q))`.

    Returns
    -------
    x, y : ndarray
        ``exp(tQ) b`` and ``∇_J exp(tQ) b``, each with the shape of ``b`` (scalar ``t``)
        or ``(m, *b.shape)``.
    """
    Q, J = as_operator_pair(Q, J)
    _check_block(b, Q.shape[0])                    # before the backend and tol, as always
    x, ys = Propagator(Q, backend=backend, tol=tol).apply_frechet([J], b, t)
    return x, ys[0]


class ProductCount:
    """Products counted inside a :func:`count_products` block (``.products``)."""

    def __init__(self) -> None:
        self.products = 0


@contextmanager
def count_products():
    """Count the matrix–vector products of the Chebyshev kernel inside a ``with`` block.

    Products made by the ``"scipy"`` backend (``expm_multiply``) are not seen; benchmarks
    count those by wrapping the operator in a counting ``LinearOperator``.

    >>> with count_products() as counter:          # doctest: +SKIP
    ...     expm_action(A, b, 1.0)
    >>> counter.products                           # doctest: +SKIP
    """
    result = ProductCount()
    start = PRODUCTS.count
    try:
        yield result
    finally:
        result.products = PRODUCTS.count - start
