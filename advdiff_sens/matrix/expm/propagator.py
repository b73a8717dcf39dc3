r"""The propagator: the action of the matrix exponential, ``b -> exp(t A) b``.

This is the single place where the library applies ``exp(tA)`` to vectors. Every other
module (the forward solve, the Fréchet action, tangent and adjoint methods) calls
:func:`expm_action` / :func:`expm_pair_action` or the :class:`Propagator` behind them. A
:class:`Propagator` holds the operator with its cached summaries
(:class:`~advdiff_sens.matrix.expm.operator.ExpmOperator`), a backend object
(:mod:`~advdiff_sens.matrix.expm.backends`: :class:`~advdiff_sens.matrix.ChebyshevBackend`,
:class:`~advdiff_sens.matrix.ExpmMultiplyBackend`, :class:`~advdiff_sens.matrix.AutoBackend`)
that plans, and the caller's work cap and progress meter; it applies the plan, scales the
input to unit size, checks the result is finite, crosses long horizons of conserving
generators to their certified stationary limit, and warns when the tolerance cannot be
certified or a non-normal generator amplified the input.

Pair (tangent) propagation
--------------------------
:func:`expm_pair_action` and :meth:`Propagator.apply_frechet` evaluate the block
lower-triangular exponential of the Fréchet derivative on the backend's tangent plan
(:meth:`~advdiff_sens.matrix.expm.backends.Backend.tangent_plan`; the complex step and the
arrow system are in :mod:`~advdiff_sens.matrix.expm.pair`), or by ``expm_multiply`` on the
arrow system when the backend prefers it or has no plan.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from advdiff_sens.exceptions import (
    AccuracyWarning,
    NonFiniteResultError,
    PlanUnavailable,
    WorkLimitExceeded,
)
from advdiff_sens.matrix.expm.backends import (
    Backend,
    as_backend,
    loosest_certified,
    scipy_error_model,
)
from advdiff_sens.matrix.expm.chebyshev import (
    Schedule,
    ToleranceUnreachable,
    chebyshev_action,
    select_schedule,
)
from advdiff_sens.matrix.expm.expm_multiply import expm_multiply_action
from advdiff_sens.matrix.expm.operator import ExpmOperator
from advdiff_sens.matrix.expm.pair import frechet_chebyshev, frechet_expm_multiply
from advdiff_sens.matrix.expm.stationary import certified_limit
from advdiff_sens.matrix.norms import is_normal
from advdiff_sens.progress import NullProgress, as_progress, meter_closed
from advdiff_sens.validation import as_array, as_operator_pair, as_times, check_integer

__all__ = ["Propagator", "PropagationPlan", "expm_action", "expm_pair_action",
           "check_finite_result", "STATIONARY_MIN_PRODUCTS"]

#: A horizon whose direct schedule needs more products than this is probed for the
#: stationary limit (:meth:`Propagator.apply`, "Long times") when the generator allows it.
STATIONARY_MIN_PRODUCTS = 20_000
_FIRST_SEGMENT_PRODUCTS = 2_000


def _check_block(b, d: int) -> np.ndarray:
    b = as_array(b, "b")
    if b.ndim not in (1, 2) or b.shape[0] != d:
        raise ValueError(f"b must have shape ({d},) or ({d}, k), got {b.shape}")
    return b


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

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> A = np.array([[-2.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, -2.0]])
    >>> plan = Propagator(A, backend="chebyshev").plan(1.0)
    >>> plan.backend, plan.products == plan.schedule.steps * plan.schedule.degree
    ('chebyshev', True)
    >>> bool(plan.error_bound <= 1e-12), plan.stationary is None
    (True, True)
    >>> Propagator(A).plan(0.0).backend
    'none'
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


class Propagator:
    r"""Applies :math:`\exp(tA)` to vectors, with the per-operator work done once.

    Holds the operator with its field-of-values enclosure and shifted 1-norm
    (:class:`~advdiff_sens.matrix.expm.operator.ExpmOperator`; the Chebyshev schedules are
    cached per enclosure, time and tolerance) and the backend that plans, so
    repeated applications to the same operator — the adjoint's quadrature nodes, the
    stepping of several output times, optimisation and MCMC loops at a fixed velocity —
    pay for them once; :meth:`apply_frechet` (tangents) reuses the same enclosure. The
    operator is treated as immutable.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)
    backend : Backend or {"auto", "chebyshev", "scipy"}
        :class:`~advdiff_sens.matrix.AutoBackend` (default),
        :class:`~advdiff_sens.matrix.ChebyshevBackend`,
        :class:`~advdiff_sens.matrix.ExpmMultiplyBackend`, or a registry name of one.
    tol : float, optional
        With a backend name only: its tolerance (default
        :data:`~advdiff_sens.matrix.expm.backends.DEFAULT_TOL`); a backend object carries
        its own.
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

    def __init__(self, A, *, backend: str | Backend = "auto", tol: float | None = None,
                 max_products: int | None = None, progress="auto") -> None:
        self.operator = ExpmOperator(A)
        self.backend = as_backend(backend, tol)
        self.max_products = (None if max_products is None
                             else check_integer(max_products, "max_products", minimum=1))
        as_progress(progress, 1, "check")       # validates the argument
        self.progress = progress
        #: Error bound (relative, as ``tol``) the last :meth:`apply` guaranteed.
        self.last_error_bound: float | None = None

    @property
    def A(self):
        """The operator (validated; dense ndarray or scipy sparse)."""
        return self.operator.A

    @property
    def shape(self) -> tuple[int, int]:
        return self.operator.shape

    @property
    def tol(self) -> float:
        """The backend's tolerance."""
        return self.backend.tol

    def tangent_plan(self, horizon: float):
        """The backend's tangent plan to ``horizon`` for this operator (raises
        :class:`~advdiff_sens.exceptions.PlanUnavailable` with the reason)."""
        return self.backend.tangent_plan(self.operator, horizon)

    def _pair_products(self, horizon: float) -> int:
        """Products (per vector) of the tangent pair: its tangent plan, else the Taylor
        model."""
        try:
            return self.tangent_plan(horizon).schedule.cost
        except PlanUnavailable:
            return int(np.ceil(2.0 * horizon * self.operator.shifted_norm1)) + 1

    def check_work(self, products: int, what: str) -> None:
        """Raise :class:`~advdiff_sens.exceptions.WorkLimitExceeded` if ``products`` (per
        vector) exceed ``max_products``; ``what`` names the computation in the message."""
        if self.max_products is not None and products > self.max_products:
            raise WorkLimitExceeded(
                f"{what} needs {products:,} products > max_products = {self.max_products:,}; "
                "raise max_products, shorten t, or make the generator less stiff (a coarser "
                "grid or a weaker flow)")

    def plan(self, t) -> PropagationPlan:
        r"""The backend, the products and the schedule :meth:`apply` will use for the time
        or times ``t`` (as in :func:`expm_action`), without computing any product.

        The backend chooses (:meth:`~advdiff_sens.matrix.expm.backends.Backend.plan`);
        a certifying backend whose run is long or cannot certify ``tol`` checks for the
        stationary limit where the generator allows it (:meth:`apply`, "Long times").
        """
        times, _ = as_times(t, "t")
        horizon, n_times = float(times[-1]), times.size
        if horizon == 0.0 or self.A.shape[0] == 0:
            return PropagationPlan("none", 0)
        taylor = int(np.ceil(2.0 * horizon * self.operator.shifted_norm1)) + 1
        schedule, bound = self.backend.plan(self.operator, horizon, n_times)
        products = taylor if schedule is None else schedule.cost
        stationary = None
        if (products > STATIONARY_MIN_PRODUCTS or bound > self.tol) and self.backend.certifies:
            stationary = self.operator.stationary_certificate
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
        sub-generator, or a mean-preserving contraction:
        :func:`~advdiff_sens.matrix.expm.stationary.stationary_certificate`),
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
        if plan.error_bound > self.tol and self.backend.certifies:
            warnings.warn(
                f"exp(tA)b to t = {times[-1]:g}: tol = {self.tol:g} cannot be certified; "
                f"{plan.backend} guarantees about {plan.error_bound:.1e} (t‖A - μI‖₁ = "
                f"{times[-1] * self.operator.shifted_norm1:.3g}); loosen tol or shorten t",
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
            else:
                out = self.backend.apply(
                    self.operator, plan, work, times,
                    None if isinstance(meter, NullProgress) else meter, plan.products * columns)
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
        if self.operator.stationary_certificate is not None or self.operator.enclosure.beta <= 0.0:
            return
        if not is_normal(self.A):
            warnings.warn(
                f"exp(tA)b to t = {horizon:g} grew by a factor {growth:.3g}: the generator "
                f"is not a rate matrix and its field of values reaches Re z = "
                f"{self.operator.enclosure.beta:.3g} > 0, so the result is ill-conditioned "
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
        enclosure = self.operator.enclosure
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
            limit = certified_limit(x, size, self.tol, plan.stationary)
            if limit is not None:
                out[j:] = limit
                self._warn_spent(horizon, spent + self.tol / 2.0)
                return out

    def _segment(self, x: np.ndarray, times: np.ndarray, tol: float, done: int,
                 horizon: float, budget: float | None = None):
        """``(exp(t_j A) x, products, error bound)`` for the relative ``times`` of one piece
        of a long run, at ``tol`` or the loosest tolerance certifiable below the error model
        of ``expm_multiply``
        (:func:`~advdiff_sens.matrix.expm.backends.loosest_certified`); ``(None, products,
        0)`` if the
        piece would take the run past ``budget``. Raises
        :class:`~advdiff_sens.exceptions.WorkLimitExceeded` before a piece that would pass
        ``max_products``."""
        length = float(times[-1])
        enclosure, norm1 = self.operator.enclosure, self.operator.shifted_norm1
        try:
            schedule, bound = select_schedule(enclosure, length, tol), tol
        except ToleranceUnreachable:
            schedule, bound = loosest_certified(enclosure, length, tol,
                                                scipy_error_model(norm1, length))
        cost = int(np.ceil(2.0 * length * norm1)) if schedule is None else schedule.cost
        if budget is not None and done + cost > budget:
            return None, cost, 0.0
        self.check_work(done + cost, f"exp(tA)b to t = {horizon:g}, not yet certified "
                                     f"stationary after {done:,} products,")
        if schedule is None:
            return expm_multiply_action(self.A, x, times), cost, bound
        return chebyshev_action(self.A, x, times, bound, schedule=schedule), cost, bound

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
        (tangent) propagation"), reusing this operator's cached enclosure: the backend's
        tangent plan (:meth:`tangent_plan`) when it has one and prefers it, else
        ``expm_multiply`` on the arrow system.

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
        plan = None
        if self.backend.pair_uses_chebyshev(self.operator, float(times[-1]), len(Js)):
            try:
                plan = self.tangent_plan(float(times[-1]))
            except PlanUnavailable:
                plan = None
        with np.errstate(over="ignore", invalid="ignore"):    # overflow: checked below
            if plan is None:
                out = frechet_expm_multiply(self.A, Js, b, times)
            else:
                out = frechet_chebyshev(self.A, Js, b, times, plan)
        x = check_finite_result(out[0], f"exp(tA)b at t = {times[-1]:g}")
        ys = check_finite_result(out[1], f"the Fréchet derivative at t = {times[-1]:g}")
        return (x[0], ys[:, 0]) if scalar else (x, ys)


def check_finite_result(x: np.ndarray, what: str) -> np.ndarray:
    """Return ``x``, or raise :class:`~advdiff_sens.exceptions.NonFiniteResultError` if it
    holds NaN or inf (its inputs having been finite).

    Parameters
    ----------
    x : ndarray
        A computed result.
    what : str
        Names the quantity in the error message.

    Returns
    -------
    ndarray
        ``x`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix.expm import check_finite_result
    >>> check_finite_result(np.array([1.0, 2.0]), "x")
    array([1., 2.])
    >>> try:
    ...     check_finite_result(np.array([1.0, np.inf]), "x")
    ... except FloatingPointError as exc:
    ...     print(type(exc).__name__)
    NonFiniteResultError
    """
    if np.all(np.isfinite(x)):
        return x
    raise NonFiniteResultError(
        f"{what} is not finite although every input was: the solution leaves the "
        "double-precision range (|x| > 1.8e308), i.e. it grows like e^(tβ) with tβ above "
        "~709 for the largest growth rate β of the generator; shorten t or rescale the problem")


def expm_action(A, b, t, *, backend: str | Backend = "auto", tol: float | None = None
                ) -> np.ndarray:
    r"""Compute :math:`x(t) = \exp(tA)\,b`, the solution of :math:`\dot x = Ax,\ x(0)=b`.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)
        The generator (real or complex).
    b : array_like, shape (d,) or (d, k)
        Initial vector or block of vectors (real or complex).
    t : float or array_like of shape (m,)
        A time ``t >= 0``, or strictly increasing non-negative times.
    backend : Backend or {"auto", "chebyshev", "scipy"}
        Which algorithm applies the exponential
        (:mod:`~advdiff_sens.matrix.expm.backends`); the default
        :class:`~advdiff_sens.matrix.AutoBackend` uses Chebyshev unless its schedule needs
        more products than the Taylor model of ``expm_multiply``.
    tol : float, optional
        With a backend name: the requested accuracy, ``0 < tol < 1`` (default
        ``1e-12``): with Chebyshev the error of each column is bounded by ``tol`` times
        :math:`e^{t\beta_-}\|b\|`, :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))`;
        ``"scipy"`` has no tolerance (double precision). When the a priori bound cannot
        certify ``tol`` (``tol`` near round-off, or very long times) the call falls back to
        ``expm_multiply`` or a looser certified tolerance and warns. A backend object
        carries its own ``tol``.

    Returns
    -------
    ndarray
        ``exp(tA) b`` with the shape of ``b`` for scalar ``t``; shape ``(m, *b.shape)`` for
        an array of times.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_action
    >>> A = np.array([[0.0, 1.0], [-1.0, 0.0]])          # a rotation generator
    >>> x = expm_action(A, np.array([1.0, 0.0]), np.pi / 2, backend="chebyshev")
    >>> bool(np.allclose(x, [0.0, -1.0], atol=1e-12))
    True
    """
    return Propagator(A, backend=backend, tol=tol).apply(b, t)


def expm_pair_action(Q, J, b, t, *, backend: str | Backend = "auto",
                     tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    backend : Backend or {"auto", "chebyshev", "scipy"}
        See :func:`expm_action`. Chebyshev shares one polynomial schedule between both
        halves (module docstring, "Pair (tangent) propagation").
    tol : float, optional
        With a backend name, as :func:`expm_action`. With Chebyshev: the error in ``x`` is at most ``tol`` times
        :math:`e^{t\beta_-}\|b\|` and the error in ``y`` at most ``tol`` times
        :math:`t\|J\|_2 e^{t\beta_-}\|b\|` (the natural scale of ``y``), with
        :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(Q))`.

    Returns
    -------
    x, y : ndarray
        ``exp(tQ) b`` and ``∇_J exp(tQ) b``, each with the shape of ``b`` (scalar ``t``)
        or ``(m, *b.shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_pair_action
    >>> Q, J = np.array([[-1.0]]), np.array([[1.0]])      # d/dε e^{t(-1+ε)} = t e^{-t}
    >>> x, y = expm_pair_action(Q, J, np.array([1.0]), 2.0)
    >>> bool(abs(y[0] - 2 * np.exp(-2.0)) < 1e-12)
    True
    """
    Q, J = as_operator_pair(Q, J)
    _check_block(b, Q.shape[0])                    # before the backend and tol, as always
    x, ys = Propagator(Q, backend=backend, tol=tol).apply_frechet([J], b, t)
    return x, ys[0]
