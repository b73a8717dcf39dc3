r"""Propagator backends: how :math:`b \mapsto e^{tA}b` is computed, as objects.

A backend plans once per operator and horizon (:meth:`Backend.plan`: the Chebyshev
schedule, or None for ``expm_multiply``, and the error bound it certifies), applies the plan
(:meth:`Backend.apply`) and gives the **tangent plan** (:meth:`Backend.tangent_plan`) that
both the tangent (the complex-step or arrow propagation of
:mod:`~advdiff_sens.matrix.expm.pair`) and the reverse sweep
(:mod:`~advdiff_sens.matrix.expm.reverse`) evaluate — one rule in one place, so the adjoint
of the recorded polynomial is exactly the tangent's derivative. The
:class:`~advdiff_sens.matrix.Propagator` around it scales the input, checks the result,
enforces the work cap and crosses long horizons to the certified stationary limit.

:class:`ChebyshevBackend` (``"chebyshev"``)
    Chebyshev series of :math:`e^{\tau z}` on an ellipse enclosing a Gershgorin polygon
    around the field of values :math:`W(A)`, with the step count :math:`s` and degree
    :math:`m` chosen once per operator and time from an a priori error bound (Bessel
    coefficients, Crouzeix–Palencia), no norm checks while it runs, and dense output for
    several times; see :mod:`advdiff_sens.matrix.expm.chebyshev`. Cost :math:`s\,m`
    products, growing like :math:`\sqrt{\|tA\|}` for diffusion-dominated generators. It
    honours ``tol``: the error is at most ``tol`` relative to :math:`e^{t\beta_-}\|b\|`,
    :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))` (rigorous for :math:`\beta \le 0`; for
    :math:`\beta > 0` times :math:`\Gamma^2`, the growth of the semigroup). When its bound
    cannot certify ``tol`` it runs with the smallest ``tol·10^{k/2}`` it can certify, if that
    beats ``expm_multiply``'s error model (:func:`scipy_error_model`), and the propagator
    warns.
:class:`ExpmMultiplyBackend` (``"scipy"``)
    :func:`scipy.sparse.linalg.expm_multiply` (Al-Mohy & Higham 2011, truncated Taylor series
    with scaling, about :math:`\|tA\|_1` products plus two vector norms per term), the
    reference; backward stable, without a tolerance: its forward error grows with
    :math:`t\|A\|` where nothing dissipates (:func:`scipy_error_model`).
:class:`AutoBackend` (``"auto"``, the default)
    Chebyshev, unless its schedule needs more products than the Taylor model
    :math:`2t\|A-\mu I\|_1` of ``expm_multiply`` (strongly non-normal generators whose field
    of values reaches far into the right half-plane, e.g. upwind at high cell Péclet number)
    while ``expm_multiply`` meets ``tol`` by :func:`scipy_error_model`.

Strings are sugar for the default objects through :data:`BACKENDS`
(:class:`~advdiff_sens.registry.Registry`); :func:`as_backend` is where a ``backend``
argument is validated.

Tangent plan
------------
With a Chebyshev schedule the tangent propagates the block lower-triangular system whose
lower-left block of :math:`p(B_\epsilon)`, :math:`B_\epsilon = \begin{bmatrix}Q & 0\\
\epsilon J & Q\end{bmatrix}`, is exactly :math:`\epsilon\,L_p(Q, J)`, and
:math:`W(B_\epsilon) \subset W(Q) + \{|z| \le \epsilon\|J\|_2/2\}`; with :math:`\epsilon =
2r/\|J\|_2`, :math:`r = 1/t`, the schedule of :math:`Q` on its enclosure grown by :math:`r`
at ``tol/3`` bounds the tangent error by :math:`\tfrac{t\|J\|_2}{2}e^{tr}` times the block
error (:class:`TangentPlan`).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from advdiff_sens.exceptions import PlanUnavailable
from advdiff_sens.matrix.expm.chebyshev import (Enclosure, Schedule, ToleranceUnreachable,
                                                chebyshev_action, select_schedule)
from advdiff_sens.matrix.expm.expm_multiply import expm_multiply_action
from advdiff_sens.matrix.expm.operator import ExpmOperator
from advdiff_sens.registry import Registry
from advdiff_sens.validation import check_positive_scalar

__all__ = ["Backend", "ChebyshevBackend", "ExpmMultiplyBackend", "AutoBackend", "BACKENDS",
           "DEFAULT_TOL", "TangentPlan", "as_backend", "check_tol", "scipy_error_model",
           "loosest_certified", "pair_enclosure", "TANGENT_TOL_SHARE", "SCIPY_CHUNK_PRODUCTS"]

DEFAULT_TOL = 1e-12
#: The tangent's schedule is chosen at ``tol`` divided by this (module docstring).
TANGENT_TOL_SHARE = 3.0
_UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
_SCIPY_CALL_OVERHEAD = 50
_SEARCH_WORK = 2e6
#: ``expm_multiply`` runs in time chunks of about this many products when a progress meter
#: watches, so that a long call reports progress.
SCIPY_CHUNK_PRODUCTS = 20_000


def check_tol(tol) -> float:
    """``tol`` as a float in ``(0, 1)``, or a ``ValueError`` naming it."""
    tol = check_positive_scalar(tol, "tol")
    if tol >= 1.0:
        raise ValueError(f"tol must be < 1, got {tol}")
    return tol


def scipy_error_model(shifted_norm1: float, t: float) -> float:
    r"""Error model of ``expm_multiply`` relative to :math:`\|b\|`:
    :math:`u\,(1 + t\|A - \mu I\|_1)^{3/2}` (:math:`u` the unit round-off).

    ``expm_multiply`` is backward stable (Al-Mohy & Higham 2011), not accurate to double
    precision in the forward sense: its rounding errors accumulate over the
    :math:`\approx t\|A-\mu I\|_1` Taylor terms and are damped only by dissipation. The
    model is fitted to the forward errors of skew-Hermitian (non-dissipative) generators,
    which grow roughly linearly in :math:`t\|A-\mu I\|_1` (fitted for
    :math:`t\|A-\mu I\|_1` up to about 10⁴; ``tests/matrix/expm/test_propagator.py`` checks
    the routing it drives); for dissipative generators it overestimates the error.

    Parameters
    ----------
    shifted_norm1 : float
        :math:`\|A - \mu I\|_1` for the shift :math:`\mu` of ``expm_multiply``.
    t : float
        The horizon.

    Returns
    -------
    float
        The modelled error relative to :math:`\|b\|`.

    Examples
    --------
    >>> f"{scipy_error_model(1000.0, 1.0):.1e}"
    '3.5e-12'
    >>> bool(scipy_error_model(1000.0, 2.0) > scipy_error_model(1000.0, 1.0))   # grows with t
    True
    """
    return _UNIT_ROUNDOFF * (1.0 + t * shifted_norm1) ** 1.5


def loosest_certified(enclosure: Enclosure, horizon: float, tol: float, scipy_error: float
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


def pair_enclosure(enclosure: Enclosure, horizon: float) -> Enclosure | None:
    r"""The enclosure grown by :math:`r = 1/t` that certifies derivatives (module docstring,
    "Tangent plan"); None for a horizon so short that :math:`r^2` overflows (the ellipse
    fit squares it)."""
    with np.errstate(over="ignore"):
        r = 1.0 / horizon
        if not np.isfinite(r * r):
            return None
    return enclosure.enlarged(r)


@dataclasses.dataclass(frozen=True)
class TangentPlan:
    r"""The Chebyshev schedule of a tangent to one horizon, shared by the forward tangent and
    the reverse sweep (module docstring, "Tangent plan").

    Attributes
    ----------
    horizon : float
        The time :math:`t` it reaches.
    enclosure : Enclosure
        :math:`W(Q)`'s enclosure grown by :math:`1/t`.
    schedule : Schedule
        Its schedule at :attr:`tol`.
    tol : float
        The propagator's tolerance divided by :data:`TANGENT_TOL_SHARE`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> A = np.array([[-2.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, -2.0]])
    >>> plan = Propagator(A, backend="chebyshev").tangent_plan(1.0)
    >>> plan.horizon, bool(plan.tol == 1e-12 / 3), plan.schedule.steps
    (1.0, True, 1)
    """

    horizon: float
    enclosure: Enclosure
    schedule: Schedule
    tol: float


class Backend(ABC):
    """A way of applying :math:`e^{tA}`; see the module docstring for the three kinds.

    A backend is a frozen dataclass with a tolerance :attr:`tol`; it plans
    (:meth:`plan`), runs its plan (:meth:`apply`) and gives the tangent plan
    (:meth:`tangent_plan`); the :class:`~advdiff_sens.matrix.Propagator` around it scales,
    checks and crosses long horizons. :data:`BACKENDS` maps
    the names ``"chebyshev"``, ``"scipy"`` and ``"auto"`` to the default objects.

    Examples
    --------
    >>> from advdiff_sens.matrix import BACKENDS, Backend, as_backend
    >>> BACKENDS.names()
    ('chebyshev', 'scipy', 'auto')
    >>> all(isinstance(as_backend(name), Backend) for name in BACKENDS.names())
    True
    >>> as_backend("chebyshev").with_tol(1e-6)
    ChebyshevBackend(tol=1e-06)
    """

    #: Registry name of the default object.
    name: ClassVar[str]
    #: Whether results are certified to :attr:`tol` (an accuracy warning when not, the
    #: stationary long-time route, tangent schedules).
    certifies: ClassVar[bool] = True
    tol: float

    @abstractmethod
    def plan(self, operator: ExpmOperator, horizon: float, n_times: int
             ) -> tuple[Schedule | None, float]:
        """The Chebyshev schedule for ``horizon`` (None: ``expm_multiply``) and the error
        bound, relative to :math:`e^{t\\beta_-}\\|b\\|`, that the choice certifies."""

    def apply(self, operator: ExpmOperator, plan, b: np.ndarray, times: np.ndarray,
              progress=None, total: int = 0) -> np.ndarray:
        """Run a plan this backend selected: :math:`e^{t_jA}b` for every time, shape
        ``(m, *b.shape)``.

        The Chebyshev series of ``plan.schedule`` at ``plan.error_bound``, or, for a plan
        without a schedule, ``expm_multiply``; with a ``progress`` meter the latter runs in
        time chunks of about :data:`SCIPY_CHUNK_PRODUCTS` products and reports the share of
        ``total`` done after each.

        Parameters
        ----------
        operator : ExpmOperator
        plan : PropagationPlan
            From :meth:`advdiff_sens.matrix.Propagator.plan` with this backend.
        b : ndarray, shape (d,) or (d, k)
        times : ndarray, shape (m,)
            Increasing, ``times[-1] > 0``.
        progress : meter, optional
        total : int
            Products of the whole call, for the meter.

        Examples
        --------
        >>> import numpy as np
        >>> from advdiff_sens.matrix import ChebyshevBackend, Propagator
        >>> prop = Propagator(np.array([[-1.0]]), backend=ChebyshevBackend())
        >>> x = prop.backend.apply(prop.operator, prop.plan(1.0), np.array([1.0]),
        ...                        np.array([1.0]))
        >>> bool(abs(x[0, 0] - np.exp(-1.0)) < 1e-12)
        True
        """
        if plan.schedule is not None:
            return chebyshev_action(operator.A, b, times, plan.error_bound,
                                    schedule=plan.schedule, progress=progress)
        chunk = None if progress is None else (
            float(times[-1]) * SCIPY_CHUNK_PRODUCTS / plan.products)
        return expm_multiply_action(operator.A, b, times, progress, chunk, total)

    def tangent_plan(self, operator: ExpmOperator, horizon: float) -> TangentPlan:
        """The schedule the tangent and the reverse sweep use to ``horizon`` (module
        docstring, "Tangent plan").

        Raises
        ------
        PlanUnavailable
            With the reason: a horizon too short for the grown enclosure, or no schedule
            certifies ``tol / 3``.
        """
        enclosure = pair_enclosure(operator.enclosure, horizon)
        if enclosure is None:
            raise PlanUnavailable(f"the horizon t = {horizon:g} is so short that the "
                                  "derivative's enclosure (grown by 1/t) overflows")
        tol = self.tol / TANGENT_TOL_SHARE
        try:
            return TangentPlan(horizon, enclosure, select_schedule(enclosure, horizon, tol),
                               tol)
        except ToleranceUnreachable as exc:
            raise PlanUnavailable(f"no Chebyshev schedule certifies tol/3 = {tol:g} to "
                                  f"t = {horizon:g}: {exc}") from exc

    def pair_uses_chebyshev(self, operator: ExpmOperator, horizon: float,
                            n_directions: int) -> bool:
        """Whether the tangent of ``n_directions`` to ``horizon`` should run the Chebyshev
        tangent plan (else ``expm_multiply`` on the arrow system); decided before the plan
        is made, so that a backend preferring ``expm_multiply`` skips the schedule search."""
        return True

    def with_tol(self, tol: float) -> Backend:
        """The same backend with tolerance ``tol`` (string sugar ``backend=..., tol=...``)."""
        return dataclasses.replace(self, tol=check_tol(tol))


BACKENDS: Registry[Backend] = Registry("propagator backend", Backend)


@BACKENDS.register("chebyshev")
@dataclasses.dataclass(frozen=True)
class ChebyshevBackend(Backend):
    """The certified Chebyshev series (module docstring).

    Parameters
    ----------
    tol : float
        Requested accuracy, ``0 < tol < 1``: the error of each column is at most ``tol``
        times :math:`e^{t\\beta_-}\\|b\\|`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import ChebyshevBackend, expm_action
    >>> A = np.array([[-1.0, 1.0], [1.0, -1.0]])
    >>> x = expm_action(A, np.array([1.0, 0.0]), 1.0, backend=ChebyshevBackend(tol=1e-10))
    >>> bool(abs(x[0] - (1 + np.exp(-2.0)) / 2) < 1e-10)
    True
    """

    name: ClassVar[str] = "chebyshev"
    tol: float = DEFAULT_TOL

    def __post_init__(self) -> None:
        object.__setattr__(self, "tol", check_tol(self.tol))

    def plan(self, operator, horizon, n_times):
        enclosure = operator.enclosure
        try:
            return select_schedule(enclosure, horizon, self.tol), self.tol
        except ToleranceUnreachable:
            return loosest_certified(enclosure, horizon, self.tol,
                                     scipy_error_model(operator.shifted_norm1, horizon))


@BACKENDS.register("scipy")
@dataclasses.dataclass(frozen=True)
class ExpmMultiplyBackend(Backend):
    """scipy's :func:`~scipy.sparse.linalg.expm_multiply`, the reference (module docstring).

    It has no tolerance: :attr:`tol` is the accuracy its results are reported against
    (:data:`DEFAULT_TOL`), and ``backend="scipy", tol=...`` leaves it unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import ExpmMultiplyBackend, expm_action
    >>> x = expm_action(np.array([[-1.0]]), np.array([1.0]), 2.0, backend=ExpmMultiplyBackend())
    >>> bool(abs(x[0] - np.exp(-2.0)) < 1e-15)
    True
    """

    name: ClassVar[str] = "scipy"
    certifies: ClassVar[bool] = False
    tol: ClassVar[float] = DEFAULT_TOL

    def plan(self, operator, horizon, n_times):
        return None, scipy_error_model(operator.shifted_norm1, horizon)

    def tangent_plan(self, operator, horizon):
        raise PlanUnavailable("the 'scipy' backend (ExpmMultiplyBackend) has no Chebyshev "
                              "schedule to record or differentiate")

    def pair_uses_chebyshev(self, operator, horizon, n_directions):
        return False

    def with_tol(self, tol: float) -> Backend:
        check_tol(tol)
        return self


@BACKENDS.register("auto")
@dataclasses.dataclass(frozen=True)
class AutoBackend(Backend):
    r"""Chebyshev, or ``expm_multiply`` where that is cheaper and accurate enough.

    The Taylor model charges ``expm_multiply`` :math:`2t\|A - \mu I\|_1` products plus, per
    call (one per output time when stepping), a set-up of exact norms worth about 50
    products, whereas Chebyshev's dense output makes extra times nearly free. Small
    problems skip the schedule search when ``expm_multiply`` meets ``tol``: when the model's
    products times the operator's stored entries are below ``2e6`` (there
    ``expm_multiply`` costs less than the search itself). Where ``expm_multiply`` would miss
    ``tol`` by :func:`scipy_error_model` (long non-dissipative evolutions), Chebyshev runs.

    Parameters
    ----------
    tol : float
        As :class:`ChebyshevBackend`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import AutoBackend, Propagator
    >>> Propagator(-np.eye(3), backend=AutoBackend(tol=1e-10)).plan(1.0).backend
    'scipy'
    """

    name: ClassVar[str] = "auto"
    tol: float = DEFAULT_TOL

    def __post_init__(self) -> None:
        object.__setattr__(self, "tol", check_tol(self.tol))

    def prefers_chebyshev(self, shifted_norm1: float, enclosure: Enclosure, t: float,
                          tol: float, n_times: int = 1, nnz: int | None = None) -> bool:
        """The routing rule of the class docstring; may raise ``ToleranceUnreachable``."""
        accurate = scipy_error_model(shifted_norm1, t) <= tol
        taylor = 2.0 * t * shifted_norm1 + _SCIPY_CALL_OVERHEAD * n_times
        if accurate and nnz is not None and taylor * nnz < _SEARCH_WORK:
            return False
        return not accurate or select_schedule(enclosure, t, tol).cost <= taylor

    def plan(self, operator, horizon, n_times):
        enclosure, norm1 = operator.enclosure, operator.shifted_norm1
        try:
            if self.prefers_chebyshev(norm1, enclosure, horizon, self.tol, n_times,
                                      operator.stored_entries):
                return select_schedule(enclosure, horizon, self.tol), self.tol
            return None, scipy_error_model(norm1, horizon)
        except ToleranceUnreachable:
            return loosest_certified(enclosure, horizon, self.tol,
                                     scipy_error_model(norm1, horizon))

    def pair_uses_chebyshev(self, operator, horizon, n_directions):
        enclosure = pair_enclosure(operator.enclosure, horizon)
        if enclosure is None:
            return False
        try:
            return self.prefers_chebyshev(operator.shifted_norm1, enclosure, horizon,
                                          self.tol / TANGENT_TOL_SHARE, 1,
                                          operator.stored_entries * (n_directions + 1))
        except ToleranceUnreachable:
            return False


def as_backend(backend: str | Backend = "auto", tol: float | None = None) -> Backend:
    """The backend object for a ``backend`` argument: a :class:`Backend` as it is, a name
    of :data:`BACKENDS` as its default object; ``tol`` (with a name only) sets its
    tolerance.

    Parameters
    ----------
    backend : Backend or {"auto", "chebyshev", "scipy"}
    tol : float, optional
        With a name only: ``0 < tol < 1``.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones), a bad ``tol``, or ``tol`` given
        with a backend object.

    Examples
    --------
    >>> as_backend("chebyshev", tol=1e-8)
    ChebyshevBackend(tol=1e-08)
    >>> as_backend(AutoBackend(tol=1e-9))
    AutoBackend(tol=1e-09)
    """
    if isinstance(backend, Backend):
        if tol is not None:
            raise ValueError("tol is an option of the backend object: pass "
                             f"{type(backend).__name__}(tol=...) instead of tol=")
        return backend
    resolved = BACKENDS.resolve(backend, "backend")
    return resolved if tol is None else resolved.with_tol(tol)
