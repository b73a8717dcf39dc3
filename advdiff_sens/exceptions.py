"""Warnings and errors the library raises for results it cannot vouch for.

Every warning names the quantity it measured and the remedy; every error says why a result
could not be computed. All warnings derive from :class:`AdvDiffSensWarning`, so a user can
filter them together (``warnings.simplefilter("error", AdvDiffSensWarning)``).
"""

from __future__ import annotations

__all__ = ["AdvDiffSensWarning", "PhysicsWarning", "FitWarning", "AccuracyWarning",
           "NonFiniteResultError", "WorkLimitExceeded", "PlanUnavailable"]


class AdvDiffSensWarning(UserWarning):
    """Base class of the library's warnings."""


class PhysicsWarning(AdvDiffSensWarning):
    """The discretised problem is probably not the one the user meant (a cell Péclet number
    above 1 with central differences, a flow through a no-flux wall)."""


class FitWarning(AdvDiffSensWarning):
    """An estimate or a sampler run that should not be trusted as it stands (misfit far
    above its expected value, unconverged chains, acceptance off target, divergences)."""


class NonFiniteResultError(FloatingPointError):
    """A computation from finite input produced a non-finite value; the message says which
    quantity left the floating-point range and why."""


class WorkLimitExceeded(RuntimeError):
    """The work a computation would take (in matrix–vector products) exceeds the cap the
    caller set; raised before the work starts."""


class AccuracyWarning(AdvDiffSensWarning):
    """A result computed by a method that cannot guarantee the requested tolerance."""


class PlanUnavailable(ValueError):
    """A strategy cannot make a plan for this operator, time or input (e.g. no Chebyshev
    schedule certifies the tolerance, or the backend has no schedule at all). ``reason``
    says why, in words that name the remedy."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
