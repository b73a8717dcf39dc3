"""The default adjoint: the discrete adjoint where a Chebyshev schedule can be recorded,
else the quadrature; and :func:`as_adjoint`, where an ``adjoint`` argument is validated."""

from __future__ import annotations

from dataclasses import dataclass, field

from advdiff_sens.exceptions import PlanUnavailable
from advdiff_sens.sensitivity.base import (
    ADJOINTS,
    Adjoint,
    AdjointRecording,
    GradientProblem,
    GradientResult,
)
from advdiff_sens.sensitivity.quadrature_adjoint import QuadratureAdjoint
from advdiff_sens.sensitivity.tangent import DiscreteAdjoint

__all__ = ["AutoAdjoint", "as_adjoint"]


@ADJOINTS.register("auto")
@dataclass(frozen=True)
class AutoAdjoint(Adjoint):
    """``preferred`` when it can make its plan, else ``fallback``.

    The default pair is :class:`~advdiff_sens.sensitivity.DiscreteAdjoint` (exact adjoint of
    the tangent, needs a Chebyshev schedule: not the ``"scipy"`` backend, a schedule that
    certifies the propagator tolerance for this u and t) and
    :class:`~advdiff_sens.sensitivity.QuadratureAdjoint` (any backend).

    Parameters
    ----------
    preferred : Adjoint
        Tried first; its :class:`~advdiff_sens.exceptions.PlanUnavailable` selects the
        fallback.
    fallback : Adjoint

    Examples
    --------
    >>> from advdiff_sens.sensitivity import AutoAdjoint, DiscreteAdjoint
    >>> AutoAdjoint(preferred=DiscreteAdjoint(checkpoints=4))
    AutoAdjoint(preferred=DiscreteAdjoint(checkpoints=4, reuse_tape=False), fallback=QuadratureAdjoint(rtol=1e-10, max_intervals=400))
    """

    preferred: Adjoint = field(default_factory=DiscreteAdjoint)
    fallback: Adjoint = field(default_factory=QuadratureAdjoint)
    name = "auto"

    def __post_init__(self) -> None:
        for argument in ("preferred", "fallback"):
            object.__setattr__(self, argument, ADJOINTS.resolve(getattr(self, argument),
                                                                argument))

    def gradient(self, problem: GradientProblem) -> GradientResult:
        try:
            return self.preferred.gradient(problem)
        except PlanUnavailable:
            return self.fallback.gradient(problem)

    def record(self, problem: GradientProblem, *, slot: int = 0) -> AdjointRecording:
        """``preferred``'s recording when it can make its plan, else ``fallback``'s."""
        try:
            return self.preferred.record(problem, slot=slot)
        except PlanUnavailable:
            return self.fallback.record(problem, slot=slot)


def as_adjoint(adjoint: str | Adjoint) -> Adjoint:
    """The adjoint object for an ``adjoint`` argument: an :class:`Adjoint` as it is, a name
    of :data:`~advdiff_sens.sensitivity.ADJOINTS` (``"auto"``, ``"discrete"``,
    ``"quadrature"``, ``"surrogate"``) as its default object.

    Parameters
    ----------
    adjoint : Adjoint or {"auto", "discrete", "quadrature", "surrogate"}

    Returns
    -------
    Adjoint

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    TypeError
        Neither a name nor an :class:`Adjoint`.

    Examples
    --------
    >>> as_adjoint("quadrature")
    QuadratureAdjoint(rtol=1e-10, max_intervals=400)
    """
    return ADJOINTS.resolve(adjoint, "adjoint")
