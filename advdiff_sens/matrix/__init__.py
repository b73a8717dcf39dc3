"""Matrix level: the exponential of a generator Q, its Fréchet derivative, surrogates and
the rate-matrix theory of the source note. Knows nothing of grids or PDEs."""

from .propagate import BACKENDS, expm_action, expm_pair_action

__all__ = ["expm_action", "expm_pair_action", "BACKENDS"]
