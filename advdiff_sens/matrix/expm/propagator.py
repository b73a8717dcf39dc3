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
    at high cell Péclet number) while ``expm_multiply`` meets ``tol`` by
    :func:`scipy_error_model`; then ``"scipy"``. When neither certifies ``tol``, the path
    with the smaller bound runs and an :class:`~advdiff_sens.exceptions.AccuracyWarning`
    states it (:class:`PropagationPlan` ``.error_bound``).
``"chebyshev"``
    Chebyshev series of :math:`e^{\tau z}` on an ellipse enclosing a Gershgorin polygon
    around the field of values :math:`W(A)`, with the step count :math:`s` and degree
    :math:`m` chosen once per operator and time from an a priori error bound (Bessel
    coefficients, Crouzeix–Palencia), no norm checks while it runs, and dense output for
    several times; see :mod:`advdiff_sens.matrix.expm.chebyshev`. Cost :math:`s\,m`
    products, growing like :math:`\sqrt{\|tA\|}` for diffusion-dominated generators. It
    honours ``tol``: the error is at most ``tol`` relative to :math:`e^{t\beta_-}\|b\|`,
    :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))` (rigorous for :math:`\beta \le 0`;
    for :math:`\beta > 0` times :math:`\Gamma^2`, the growth of the semigroup; on R2 the
    measured error relative to :math:`\|e^{tA}b\|` is about ``tol/100``). When its bound
    cannot certify ``tol`` it runs with the smallest ``tol·10^{k/2}`` it can certify, if
    that beats ``expm_multiply``'s error model, and warns.
    Chosen (through ``"auto"``) as the default by measurement: on R2 it is 20× faster than
    ``"scipy"`` at 128² and 256² at equal accuracy (``benchmarks/bench_propagate.py``).
``"scipy"``
    :func:`scipy.sparse.linalg.expm_multiply` (Al-Mohy & Higham 2011, truncated Taylor
    series with scaling, cost :math:`\approx \|tA\|_1` products plus two vector norms per
    term), the reference; backward stable, and ignores ``tol``: its forward error grows
    with :math:`t\|A\|` where nothing dissipates (:func:`scipy_error_model`; measured
    1.4e-12 at :math:`t\|A\|_1 = 619` and 6e-11 at 6,190 on a skew-Hermitian
    generator). A long call (over 20,000 products) runs in time chunks that report
    progress. Equally spaced
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
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from advdiff_sens.validation import (as_array, as_operator_pair, as_square_operator, as_times,
                           check_integer, check_positive_scalar)
from advdiff_sens.exceptions import AccuracyWarning, NonFiniteResultError, WorkLimitExceeded
from advdiff_sens.progress import NullProgress, as_progress, meter_closed
from advdiff_sens.matrix.expm.chebyshev import (
    PRODUCTS,
    Schedule,
    ToleranceUnreachable,
    field_of_values_enclosure,
    run_schedule,
    select_schedule,
)

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_TOL", "Propagator",
           "PropagationPlan", "expm_action", "expm_pair_action", "count_products",
           "scipy_error_model", "check_finite_result"]

BACKENDS = ("auto", "chebyshev", "scipy")
DEFAULT_BACKEND = "auto"
DEFAULT_TOL = 1e-12
_COMPLEX_STEP = 2.0 ** -400
_UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
#: A horizon whose direct schedule needs more products than this is probed for the
#: stationary limit (:meth:`Propagator.apply`, "Long times") when the generator allows it.
_STATIONARY_MIN_PRODUCTS = 20_000
_FIRST_SEGMENT_PRODUCTS = 2_000
#: ``expm_multiply`` runs in time chunks of about this many products, so that a long call
#: reports progress.
_SCIPY_CHUNK_PRODUCTS = 20_000


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


def _scipy_action(A, b: np.ndarray, times: np.ndarray, progress=None,
                  chunk: float | None = None, total: int = 0) -> np.ndarray:
    """``exp(t_j A) b`` for every time with ``expm_multiply``; shape ``(m, *b.shape)``.

    With ``chunk`` (a time), the horizon is crossed in pieces of at most that length, each
    one call stepping from the previous state, and ``progress`` (a meter,
    :mod:`advdiff_sens.progress`) is told after each piece the share of ``total`` products
    done."""
    trace = _trace(A)
    if chunk is not None and float(times[-1]) > chunk:
        marks = np.arange(1, int(np.ceil(float(times[-1]) / chunk))) * chunk
        grid = np.union1d(times, marks[marks < times[-1]])
        keep = np.isin(grid, times)
        out = np.empty((times.size, *b.shape), dtype=np.result_type(b, A.dtype))
        x, previous, j = b, 0.0, 0
        for i, time_i in enumerate(grid):
            x = _expm_multiply_once(A, x, float(time_i) - previous, trace)
            previous = float(time_i)
            if keep[i]:
                out[j], j = x, j + 1
            if progress is not None:
                progress.update(int(previous / float(times[-1]) * total))
        return out
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


def _as_rows(b: np.ndarray, A) -> tuple[np.ndarray, bool]:
    """The Chebyshev kernel's ``(k, d)`` block for ``b`` (columns become rows); for real
    ``A`` a complex ``b`` is split into its real and imaginary parts (two real products
    beat one complex one). Returns the block and whether it was split."""
    rows = b[:, None].T if b.ndim == 1 else b.T
    split = np.iscomplexobj(rows) and not np.iscomplexobj(A)
    work = np.concatenate([rows.real, rows.imag]) if split else rows
    return np.ascontiguousarray(work, dtype=np.result_type(work, A.dtype)), split


def _from_rows(z: np.ndarray, b: np.ndarray, split: bool) -> np.ndarray:
    """Inverse of :func:`_as_rows` on the ``(m, k, d)`` output: shape ``(m, *b.shape)``."""
    if split:
        k = z.shape[1] // 2
        z = z[:, :k] + 1j * z[:, k:]
    z = np.swapaxes(z, 1, 2)
    return z[..., 0] if b.ndim == 1 else z


def _chebyshev_action(A, b: np.ndarray, times: np.ndarray, tol: float,
                      enclosure=None, schedule: Schedule | None = None,
                      progress=None) -> np.ndarray:
    """``exp(t_j A) b`` with the Chebyshev backend; shape ``(m, *b.shape)`` (``times[-1] >
    0``). ``schedule``: the one selected for ``times[-1]``, if already known; ``progress``:
    a meter counting products."""
    work, split = _as_rows(b, A)
    if schedule is None:
        enclosure = field_of_values_enclosure(A) if enclosure is None else enclosure
        schedule = select_schedule(enclosure, float(times[-1]), tol)
    z = run_schedule(A, work, times, schedule, tol, progress=progress)
    return _from_rows(z, b, split)


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


def scipy_error_model(shifted_norm1: float, t: float) -> float:
    r"""Error model of ``expm_multiply`` relative to :math:`\|b\|`:
    :math:`u\,(1 + t\|A - \mu I\|_1)^{3/2}` (:math:`u` the unit round-off).

    ``expm_multiply`` is backward stable (Al-Mohy & Higham 2011), not accurate to double
    precision in the forward sense: its rounding errors accumulate over the
    :math:`\approx t\|A-\mu I\|_1` Taylor terms and are damped only by dissipation. The
    model is fitted to measurements on skew-Hermitian (non-dissipative) generators, where
    the measured error was 2–90 :math:`u\,t\|A-\mu I\|_1` for
    :math:`t\|A-\mu I\|_1` from 6 to 9,500 (``tests/test_propagate.py`` checks the
    routing it drives); for dissipative generators it overestimates the error."""
    return _UNIT_ROUNDOFF * (1.0 + t * shifted_norm1) ** 1.5


def _use_chebyshev(backend: str, shifted_norm1: float, enclosure, t: float, tol: float,
                   n_times: int = 1, nnz: int | None = None) -> bool:
    r"""``"chebyshev"``: always; ``"auto"``: when its schedule needs fewer products than the
    Taylor model of ``expm_multiply`` (it does not for strongly non-normal generators whose
    field of values reaches far into the right half-plane), or when ``expm_multiply`` would
    miss ``tol`` by :func:`scipy_error_model` (long non-dissipative evolutions). The model
    charges ``expm_multiply`` :math:`2t\|A - \mu I\|_1` products plus, per call (one per
    output time when stepping), a set-up of exact norms worth about 50 products (measured: a
    short ``expm_multiply`` call costs ≈ 60 products' time at 64²), whereas Chebyshev's
    dense output makes extra times nearly free.

    Small problems skip the schedule search when ``expm_multiply`` meets ``tol``: when the
    model's products times ``nnz`` (the stored entries of the operator) are below ``2e6``,
    ``expm_multiply`` takes under ~20 ms, less than the search itself (17–46 ms for a new
    operator on R2 from 16² to 128²; ``expm_multiply`` took 7 ms at 32², where the model
    gives 5e5, and 53 ms at 64², 7e6). May raise :class:`ToleranceUnreachable`."""
    if backend == "chebyshev":
        return True
    accurate = scipy_error_model(shifted_norm1, t) <= tol
    taylor = 2.0 * t * shifted_norm1 + _SCIPY_CALL_OVERHEAD * n_times
    if accurate and nnz is not None and taylor * nnz < _SEARCH_WORK:
        return False
    return not accurate or select_schedule(enclosure, t, tol).cost <= taylor


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


@dataclass(frozen=True)
class PropagationPlan:
    r"""What :meth:`Propagator.apply` will do for a horizon, known before any product.

    Attributes
    ----------
    backend : {"chebyshev", "scipy", "none"}
        The algorithm that will run (``"none"``: ``t = 0`` or an empty matrix).
    products : int
        Matrix–vector products per column of ``b``: exact for ``"chebyshev"``
        (:math:`s\,m` of the schedule), the Taylor model :math:`2t\|A-\mu I\|_1` for
        ``"scipy"``. With ``stationary`` set, the run stops early once the stationary limit
        is certified; probing for it takes at most a quarter of these products more.
    schedule : Schedule or None
        The Chebyshev schedule (steps, degree, ellipse) for ``"chebyshev"``.
    stationary : {"mean", "interval", "sub-interval"} or None
        Whether, and by which certificate, the run checks for the stationary limit
        (:meth:`Propagator.apply`, "Long times").
    error_bound : float
        The error the run guarantees relative to :math:`e^{t\beta_-}\|b\|` (Chebyshev:
        the tolerance its schedule certifies — the propagator's ``tol``, or a looser one
        when ``tol`` cannot be certified) or, for ``"scipy"``, :func:`scipy_error_model`.
        Above the propagator's ``tol``, :meth:`Propagator.apply` warns
        (:class:`~advdiff_sens.exceptions.AccuracyWarning`).
    """

    backend: str
    products: int
    schedule: Schedule | None = None
    stationary: str | None = None
    error_bound: float = 0.0

    def __str__(self) -> str:
        text = f"{self.backend}: {self.products:,} products per vector"
        if self.schedule is not None:
            text += f" ({self.schedule.steps} steps of degree {self.schedule.degree})"
        if self.stationary is not None:
            text += " (less once the stationary limit is certified)"
        return text


def _column_scales(b: np.ndarray) -> np.ndarray:
    """Per column of ``b``, the power of two nearest its largest modulus (1 for a zero
    column): dividing by it is exact and brings every column to unit size."""
    peak = np.abs(b).max(axis=0) if b.size else np.zeros(b.shape[1:])
    with np.errstate(divide="ignore"):
        exponent = np.where(peak > 0, np.round(np.log2(np.where(peak > 0, peak, 1.0))), 0.0)
    return np.ldexp(1.0, exponent.astype(int))


def _stationary_certificate(A, enclosure) -> str | None:
    r"""How the limit :math:`t \to \infty` of :math:`e^{tA}b` can be certified, if at all.

    ``"interval"``: ``A`` is a rate matrix (off-diagonal entries :math:`\ge 0`, row sums
    zero up to :math:`64u` times the row's absolute sum), so :math:`e^{sA}` is stochastic
    and every later state lies entrywise in :math:`[\min x, \max x]` of the current one.
    ``"sub-interval"``: a sub-generator (row sums :math:`\le 0`, e.g. absorbing Dirichlet
    walls), :math:`e^{sA}` is sub-stochastic and later states lie in
    :math:`[\min(x, 0), \max(x, 0)]`.
    ``"mean"``: row and column sums vanish (to the same tolerance) and the field of values
    (its ``enclosure``) lies in the closed left half-plane (to round-off), so :math:`e^{sA}` is a 2-norm
    contraction that preserves the mean and commutes with the projection on mean-free
    vectors (central differences on a discretely divergence-free periodic flow, e.g. R2,
    while the symmetric part keeps non-negative off-diagonals: velocity differences between
    neighbours below :math:`4\kappa/h`). None otherwise (complex, growth, a generator with
    negative off-diagonals that does not conserve).
    """
    if np.iscomplexobj(A) or A.shape[0] < 2:
        return None
    absolute = abs(A)
    row_scale = np.asarray(absolute.sum(axis=1)).ravel()
    col_scale = np.asarray(absolute.sum(axis=0)).ravel()
    slack = 64.0 * _UNIT_ROUNDOFF
    row_sums = np.asarray(A.sum(axis=1)).ravel()
    if np.any(row_sums > slack * row_scale):
        return None
    off = A - sp.diags_array(A.diagonal()) if sp.issparse(A) else A - np.diag(np.diag(A))
    off_min = off.data.min() if sp.issparse(off) and off.nnz else np.min(off)
    rows_zero = np.all(np.abs(row_sums) <= slack * row_scale)
    if off_min >= 0.0:
        return "interval" if rows_zero else "sub-interval"
    if not rows_zero:
        return None
    cols_zero = np.all(np.abs(np.asarray(A.sum(axis=0)).ravel()) <= slack * col_scale)
    if cols_zero and enclosure.beta <= slack * float(row_scale.max()):
        return "mean"
    return None


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
    max_products : int, optional
        Cap on the matrix–vector products of one :meth:`apply` per column of ``b``: a solve
        whose :meth:`plan` needs more raises
        :class:`~advdiff_sens.exceptions.WorkLimitExceeded` before it starts (a run probing
        for the stationary limit stops when it reaches the cap).
    progress : bool, "auto" or meter
        Progress line on stderr for long solves (:mod:`advdiff_sens.progress`): ``"auto"``
        (default) prints only once a solve has run
        :data:`advdiff_sens.progress.AUTO_DELAY` seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])          # a rate matrix
    >>> prop = Propagator(Q)
    >>> print(prop.plan(1.0).backend, prop.plan(1e6).stationary)
    scipy interval
    >>> x = prop.apply(np.array([1.0, 0.0]), 1e6)      # the stationary limit π·b = 2/3
    >>> bool(np.all(np.abs(x - 2 / 3) <= 1e-12))
    True
    """

    def __init__(self, A, *, backend: str = DEFAULT_BACKEND, tol: float = DEFAULT_TOL,
                 max_products: int | None = None, progress="auto") -> None:
        self.A = as_square_operator(A, "A")
        _check_backend(backend)
        self.backend = backend
        self.tol = _check_tol(tol)
        self.max_products = (None if max_products is None
                             else check_integer(max_products, "max_products", minimum=1))
        as_progress(progress, 1, "check")       # validates the argument
        self.progress = progress
        self._enclosure = None
        self._shifted_norm1: float | None = None
        self._certificate: str | None | bool = False   # False: not yet computed
        #: Error bound (relative, as ``tol``) the last :meth:`apply` guaranteed.
        self.last_error_bound: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    def chebyshev_inputs(self):
        """The operator's field-of-values enclosure and shifted 1-norm (computed once)."""
        if self._enclosure is None:
            self._enclosure = field_of_values_enclosure(self.A)
        return self._enclosure, self.shifted_norm1()

    def shifted_norm1(self) -> float:
        r""":math:`\|A - \mu I\|_1`, :math:`\mu = \mathrm{tr}(A)/d` (computed once): the Taylor
        model of ``expm_multiply`` and its error model need it, the enclosure not."""
        if self._shifted_norm1 is None:
            self._shifted_norm1 = _shifted_norm1(self.A)
        return self._shifted_norm1

    def _pair_products(self, horizon: float) -> int:
        """Products (per vector) of the tangent pair: its Chebyshev schedule on the grown
        enclosure at ``tol/3`` (module docstring), else the Taylor model."""
        enclosure = _pair_enclosure(self.chebyshev_inputs()[0], horizon)
        if self.backend != "scipy" and enclosure is not None:
            try:
                return select_schedule(enclosure, horizon, self.tol / 3.0).cost
            except ToleranceUnreachable:
                pass
        return int(np.ceil(2.0 * horizon * self.shifted_norm1())) + 1

    def check_work(self, products: int, what: str) -> None:
        """Raise :class:`~advdiff_sens.exceptions.WorkLimitExceeded` if ``products`` (per
        vector) exceed ``max_products``; ``what`` names the computation in the message."""
        if self.max_products is not None and products > self.max_products:
            raise WorkLimitExceeded(
                f"{what} needs {products:,} products > max_products = {self.max_products:,}; "
                "raise max_products, shorten t, or make the generator less stiff (a coarser "
                "grid or a weaker flow)")

    def _stationary(self) -> str | None:
        if self._certificate is False:
            self._certificate = _stationary_certificate(self.A, self.chebyshev_inputs()[0])
        return self._certificate

    def plan(self, t) -> PropagationPlan:
        r"""The backend, the products and the schedule :meth:`apply` will use for the time
        or times ``t`` (as in :func:`expm_action`), without computing any product.

        ``"auto"`` takes ``"chebyshev"`` unless the Taylor model of ``expm_multiply`` is
        cheaper and meets ``tol`` (:func:`scipy_error_model`); ``"chebyshev"`` falls back to
        ``"scipy"`` when its bound cannot certify ``tol``.
        """
        times, _ = as_times(t, "t")
        horizon, n_times = float(times[-1]), times.size
        if horizon == 0.0 or self.A.shape[0] == 0:
            return PropagationPlan("none", 0)
        norm1 = self.shifted_norm1()
        taylor = int(np.ceil(2.0 * horizon * norm1)) + 1
        schedule, bound = None, scipy_error_model(norm1, horizon)
        if self.backend != "scipy":
            enclosure = self.chebyshev_inputs()[0]
            try:
                if _use_chebyshev(self.backend, norm1, enclosure, horizon, self.tol, n_times,
                                  _stored_entries(self.A)):
                    schedule, bound = select_schedule(enclosure, horizon, self.tol), self.tol
            except ToleranceUnreachable:
                schedule, bound = _loosest_certified(enclosure, horizon, self.tol, bound)
        products = taylor if schedule is None else schedule.cost
        stationary = None
        if (products > _STATIONARY_MIN_PRODUCTS or bound > self.tol) and self.backend != "scipy":
            stationary = self._stationary()
        if stationary is not None:
            bound = self.tol
        backend = "scipy" if schedule is None and stationary is None else "chebyshev"
        return PropagationPlan(backend, products, schedule, stationary, bound)

    def apply(self, b, t) -> np.ndarray:
        r""":math:`\exp(tA)b`; arguments and result as :func:`expm_action`.

        **Range.** Each column of ``b`` is scaled to unit size by a power of two (exact)
        and the Chebyshev schedule keeps every intermediate vector inside the
        floating-point range (:data:`~advdiff_sens.matrix.expm.chebyshev.MAX_LOG_GROWTH`);
        a result that still is not finite (a solution that really outgrows the double
        range) raises :class:`~advdiff_sens.exceptions.NonFiniteResultError`.

        **Long times.** When the direct schedule would need more than 20,000 products per
        vector, or cannot certify ``tol``, and ``A`` conserves or decays (a rate matrix, a
        sub-generator, or a mean-preserving contraction: :func:`_stationary_certificate`),
        the horizon is crossed in segments of doubling length, each to ``tol/(2J)`` (``J``
        segments at most); after each, the current state ``x`` certifies the rest of the
        run: for a rate matrix every later state lies in :math:`[\min x, \max x]` (for a
        sub-generator in :math:`[\min(x, 0), \max(x, 0)]`), so the midpoint constant errs
        by at most :math:`\sqrt d\,(\max x - \min x)/2`; in the mean-preserving
        contraction case the mean errs by at most :math:`\|x - \bar x\|_2`. Once that is
        below ``tol/2`` times :math:`\|b\|_2`, the remaining outputs are that constant
        (the stationary limit :math:`\Pi b` to within ``tol``). Row sums are zero only to
        round-off, so the certificate holds for the generator with its row sums set to
        zero: a backward error of :math:`64u` relative to the rows.
        """
        b = _check_block(b, self.A.shape[0])
        times, scalar = as_times(t, "t")
        out = self._apply(b, times)
        return out[0] if scalar else out

    def _apply(self, b: np.ndarray, times: np.ndarray) -> np.ndarray:
        dtype = np.result_type(b, self.A.dtype)
        if times[-1] == 0.0 or b.size == 0:
            return np.broadcast_to(b, (times.size, *b.shape)).astype(dtype)
        plan = self.plan(times)
        if plan.stationary is None:
            self.check_work(plan.products, f"exp(tA)b to t = {times[-1]:g} ({plan})")
        self.last_error_bound = plan.error_bound
        if plan.error_bound > self.tol and self.backend != "scipy":   # "scipy" ignores tol
            warnings.warn(
                f"exp(tA)b to t = {times[-1]:g}: tol = {self.tol:g} cannot be certified; "
                f"{plan.backend} guarantees about {plan.error_bound:.1e} (t‖A - μI‖₁ = "
                f"{times[-1] * self.shifted_norm1():.3g}); loosen tol or shorten t",
                AccuracyWarning, stacklevel=4)
        scale = _column_scales(b)
        work = b / scale
        columns = (1 if b.ndim == 1 else b.shape[1]) * (
            2 if np.iscomplexobj(b) and not np.iscomplexobj(self.A) else 1)   # rows run
        meter = as_progress(self.progress, plan.products * columns,
                            f"exp(tA)b to t = {times[-1]:g} ({plan.backend})")
        owner = meter if meter is not self.progress else NullProgress()    # the user's stays open
        with meter_closed(owner), np.errstate(over="ignore", invalid="ignore"):
            if plan.stationary is not None:
                out = self._apply_long(work, times, plan, meter)
            elif plan.backend == "chebyshev":
                out = _chebyshev_action(self.A, work, times, plan.error_bound,
                                        schedule=plan.schedule, progress=meter)
            else:
                chunk = None if isinstance(meter, NullProgress) else (
                    float(times[-1]) * _SCIPY_CHUNK_PRODUCTS / plan.products)
                out = _scipy_action(self.A, work, times, meter, chunk,
                                    plan.products * columns)
            out = out * scale
        out = check_finite_result(out, f"exp(tA)b at t = {times[-1]:g}")
        self._warn_growth(b, out, float(times[-1]))
        return out

    def _warn_growth(self, b: np.ndarray, out: np.ndarray, horizon: float) -> None:
        r"""Warn when a generator that neither conserves nor contracts (:math:`\beta > 0`, not
        a rate matrix) amplified ``b`` by more than 10: both backends' error bounds then
        scale with the growth :math:`\Gamma \ge \max_j\|x(t_j)\|/\|b\|` (module docstring
        of :mod:`~advdiff_sens.matrix.expm.chebyshev`), and transient growth of a
        non-normal generator makes the result ill-conditioned."""
        size = np.abs(b.reshape(b.shape[0], -1)).max(axis=0)          # max norms
        peaks = np.abs(out.reshape(out.shape[0], out.shape[1], -1)).max(axis=1)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            growth = float(np.nanmax(peaks / np.where(size > 0, size, 1.0)))
        if growth <= 10.0:                   # the usual case: no enclosure or checks needed
            return
        if self._stationary() is not None or self.chebyshev_inputs()[0].beta <= 0.0:
            return
        if not _is_normal(self.A):
            warnings.warn(
                f"exp(tA)b to t = {horizon:g} grew by a factor {growth:.3g}: the generator "
                f"is not a rate matrix and its field of values reaches Re z = "
                f"{self.chebyshev_inputs()[0].beta:.3g} > 0, so the result is ill-conditioned "
                f"and its error may reach about tol·growth² = "
                f"{np.float64(self.tol) * np.square(np.float64(growth)):.1e} "
                "relative to ‖b‖; for a discretised flow, a positive scheme ('exponential' or "
                "'upwind') or a finer grid removes the growth", AccuracyWarning, stacklevel=4)

    def _apply_long(self, work: np.ndarray, times: np.ndarray, plan: PropagationPlan,
                    meter) -> np.ndarray:
        """Segments of doubling length with the stationary certificate after each (see
        :meth:`apply`, "Long times"), for at most a quarter of the plan's products; a run
        not certified by then goes on directly to the end with the other half of ``tol``."""
        horizon = float(times[-1])
        enclosure = self.chebyshev_inputs()[0]
        first = horizon * min(0.5, _FIRST_SEGMENT_PRODUCTS / plan.products)
        for _ in range(40):                  # a first segment short enough to certify
            n_segments = int(np.ceil(np.log2(horizon / first))) + 1
            tol = self.tol / (2.0 * n_segments)
            try:
                select_schedule(enclosure, first, tol)
                break
            except ToleranceUnreachable:
                first *= 0.5
        columns = work.reshape(work.shape[0], -1)
        size = np.linalg.norm(columns, axis=0)
        out = np.empty((times.size, *work.shape), dtype=np.result_type(work, self.A.dtype))
        j = int(np.count_nonzero(times == 0.0))
        out[:j] = work
        x, start, done, spent, length = work, 0.0, 0, 0.0, first
        while True:
            end = min(horizon, start + length)
            inside = times[(times > start) & (times <= end)]
            seg_times = inside if inside.size and inside[-1] == end else np.append(inside, end)
            seg, cost, bound = self._segment(x, seg_times - start, tol, done, horizon,
                                             budget=None if done == 0 else plan.products / 4)
            if seg is None:                  # probing has used its share: run to the end
                seg, cost, bound = self._segment(x, times[j:] - start, self.tol / 2.0, done,
                                                 horizon)
                out[j:] = seg
                meter.update(min(done + cost, plan.products) * size.size)
                self._warn_spent(horizon, spent + bound)
                return out
            out[j:j + inside.size] = seg[:inside.size]
            j, x, start, length = j + inside.size, seg[-1], end, 2.0 * length
            done, spent = done + cost, spent + bound
            meter.update(min(done, plan.products) * size.size)
            if j == times.size:
                self._warn_spent(horizon, spent)
                return out
            limit = _certified_limit(x, size, self.tol, plan.stationary)
            if limit is not None:
                out[j:] = limit
                self._warn_spent(horizon, spent + self.tol / 2.0)
                return out

    def _segment(self, x: np.ndarray, times: np.ndarray, tol: float, done: int,
                 horizon: float, budget: float | None = None):
        """``(exp(t_j A) x, products, error bound)`` for the relative ``times`` of one piece
        of a long run, at ``tol`` or the loosest tolerance certifiable below the error model
        of ``expm_multiply`` (:func:`_loosest_certified`); ``(None, products, 0)`` if the
        piece would take the run past ``budget``. Raises
        :class:`~advdiff_sens.exceptions.WorkLimitExceeded` before a piece that would pass
        ``max_products``."""
        length = float(times[-1])
        enclosure, norm1 = self.chebyshev_inputs()
        try:
            schedule, bound = select_schedule(enclosure, length, tol), tol
        except ToleranceUnreachable:
            schedule, bound = _loosest_certified(enclosure, length, tol,
                                                 scipy_error_model(norm1, length))
        cost = int(np.ceil(2.0 * length * norm1)) if schedule is None else schedule.cost
        if budget is not None and done + cost > budget:
            return None, cost, 0.0
        self.check_work(done + cost, f"exp(tA)b to t = {horizon:g}, not yet certified "
                                     f"stationary after {done:,} products,")
        if schedule is None:
            return _scipy_action(self.A, x, times), cost, bound
        return _chebyshev_action(self.A, x, times, bound, schedule=schedule), cost, bound

    def _warn_spent(self, horizon: float, spent: float) -> None:
        """Record the error bound of a long run; warn when its pieces add up to more than
        ``tol``."""
        self.last_error_bound = max(spent, self.tol)
        if spent > self.tol * (1.0 + 1e-9):
            warnings.warn(
                f"exp(tA)b to t = {horizon:g}: tol = {self.tol:g} cannot be certified; the "
                f"pieces of the run guarantee about {spent:.1e}; loosen tol or shorten t",
                AccuracyWarning, stacklevel=5)

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

        Raises
        ------
        NonFiniteResultError
            If a result is not finite (see :meth:`apply`, "Range").
        """
        if isinstance(Js, (str, bytes)) or not hasattr(Js, "__len__") or len(Js) == 0:
            raise ValueError("Js must be a non-empty sequence of (d, d) matrices")
        Js = [as_operator_pair(self.A, J, ("A", f"Js[{i}]"))[1] for i, J in enumerate(Js)]
        b = _check_block(b, self.A.shape[0])
        times, scalar = as_times(t, "t")
        if times[-1] == 0.0 or b.size == 0:
            x = np.broadcast_to(b, (times.size, *b.shape)).astype(np.result_type(b, self.A.dtype))
            dtype = np.result_type(b, self.A.dtype, *(J.dtype for J in Js))
            ys = np.zeros((len(Js), *x.shape), dtype=dtype)
            return (x[0], ys[:, 0]) if scalar else (x, ys)
        if self.max_products is not None:
            self.check_work(self._pair_products(float(times[-1])),
                            f"the Fréchet derivative to t = {times[-1]:g}")
        out = None
        with np.errstate(over="ignore", invalid="ignore"):    # overflow: checked below
            try:
                if self.backend != "scipy":
                    out = _frechet_chebyshev(self.A, Js, b, times, self.tol, self.backend,
                                             self.chebyshev_inputs())
            except ToleranceUnreachable:
                pass
            if out is None:
                out = _frechet_scipy(self.A, Js, b, times)
        x = check_finite_result(out[0], f"exp(tA)b at t = {times[-1]:g}")
        ys = check_finite_result(out[1], f"the Fréchet derivative at t = {times[-1]:g}")
        return (x[0], ys[:, 0]) if scalar else (x, ys)


def _is_normal(A) -> bool:
    r"""Whether :math:`\|AA^* - A^*A\|_F \le 10^{-12}\|A\|_F^2` (growth of a normal
    matrix's exponential is its spectrum's, not a transient)."""
    H = A.conj().T
    commutator = A @ H - H @ A
    size = float(spla.norm(A) if sp.issparse(A) else np.linalg.norm(A)) ** 2
    gap = float(spla.norm(commutator) if sp.issparse(A) else np.linalg.norm(commutator))
    return gap <= 1e-12 * size


def _loosest_certified(enclosure, horizon: float, tol: float, scipy_error: float
                       ) -> tuple[Schedule | None, float]:
    """When ``tol`` cannot be certified: the Chebyshev schedule for the smallest of
    ``tol·10^{k/2}``, ``k = 1..8``, that can, if it beats ``scipy_error`` (the error model of
    ``expm_multiply``); else ``(None, scipy_error)``."""
    for k in range(1, 9):
        loose = tol * 10.0 ** (k / 2)
        if loose >= min(scipy_error, 0.1):
            break
        try:
            return select_schedule(enclosure, horizon, loose), loose
        except ToleranceUnreachable:
            continue
    return None, scipy_error


def _certified_limit(x: np.ndarray, size: np.ndarray, tol: float, kind: str):
    r"""The constant state every later time is within ``tol/2·size`` of (per column), or
    None if ``x`` does not certify it yet (:meth:`Propagator.apply`, "Long times")."""
    if np.iscomplexobj(x):                      # real and imaginary parts separately
        real = _certified_limit(x.real, size, tol / np.sqrt(2.0), kind)
        imag = _certified_limit(x.imag, size, tol / np.sqrt(2.0), kind)
        return None if real is None or imag is None else real + 1j * imag
    columns = x.reshape(x.shape[0], -1)
    if kind in ("interval", "sub-interval"):
        high, low = columns.max(axis=0), columns.min(axis=0)
        if kind == "sub-interval":
            high, low = np.maximum(high, 0.0), np.minimum(low, 0.0)
        value = 0.5 * (high + low)
        bound = np.sqrt(columns.shape[0]) * 0.5 * (high - low)
    else:
        value = columns.mean(axis=0)
        bound = np.linalg.norm(columns - value, axis=0)
    if np.all(bound <= 0.5 * tol * size):
        return np.broadcast_to(value.reshape(x.shape[1:]), x.shape)
    return None


def check_finite_result(x: np.ndarray, what: str) -> np.ndarray:
    """Return ``x``, or raise :class:`~advdiff_sens.exceptions.NonFiniteResultError` if it
    holds NaN or inf (its inputs having been finite)."""
    if np.all(np.isfinite(x)):
        return x
    raise NonFiniteResultError(
        f"{what} is not finite although every input was: the solution leaves the "
        "double-precision range (|x| > 1.8e308), i.e. it grows like e^(tβ) with tβ above "
        "~709 for the largest growth rate β of the generator; shorten t or rescale the problem")


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
