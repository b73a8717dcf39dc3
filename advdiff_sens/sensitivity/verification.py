r"""Derivative checks for users verifying their own objectives (as pyadjoint's ``taylor_test``).

* :func:`taylor_test` — for :math:`f(x + εδ)`, the remainders
  :math:`r_0(ε) = |f(x+εδ) − f(x)|` and :math:`r_1(ε) = |f(x+εδ) − f(x) − ε\,f'(x)[δ]|`
  decay like :math:`ε^1` and :math:`ε^2`; the observed rates
  :math:`\log_2(r(ε)/r(ε/2))` are returned.
* :func:`dot_test` — a tangent map :math:`A` and its claimed adjoint :math:`A^*` satisfy
  :math:`⟨Ax, y⟩ = ⟨x, A^*y⟩` for random :math:`x, y`.
* :func:`finite_difference_check` — central difference
  :math:`(f(x+εδ) − f(x−εδ))/(2ε)` against the claimed directional derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import as_real_array, as_rng, check_positive_scalar

__all__ = ["TaylorResult", "taylor_test", "dot_test", "finite_difference_check"]


@dataclass
class TaylorResult:
    """Remainders and their observed convergence rates.

    Attributes
    ----------
    steps : ndarray
        Step sizes ε (halving).
    remainder0, remainder1 : ndarray
        Zeroth- and first-order Taylor remainders at each step.
    rates0, rates1 : ndarray
        Observed rates between consecutive steps (expect 1 and 2).

    Examples
    --------
    A wrong derivative shows as a first-order rate of ``rates1``:

    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import taylor_test
    >>> f, x, dx = (lambda x: float(np.sum(np.sin(x)))), np.ones(3), np.array([1.0, -1.0, 2.0])
    >>> right = taylor_test(f, x, dx, float(np.cos(x) @ dx))
    >>> wrong = taylor_test(f, x, dx, 1.1 * float(np.cos(x) @ dx))
    >>> bool(abs(right.min_rate1 - 2) < 0.1), bool(abs(wrong.min_rate1 - 1) < 0.1)
    (True, True)
    """

    steps: np.ndarray
    remainder0: np.ndarray
    remainder1: np.ndarray
    rates0: np.ndarray
    rates1: np.ndarray

    @property
    def min_rate1(self) -> float:
        """Smallest observed second-order rate (2 for a correct derivative)."""
        return float(np.min(self.rates1))


def taylor_test(f: Callable[[np.ndarray], float], x, direction, derivative: float, *,
                step: float = 1e-2, n_steps: int = 5) -> TaylorResult:
    """Taylor remainder test of a scalar function ``f`` at ``x`` along ``direction``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x, direction : array_like
        Point and perturbation (same shape).
    derivative : float
        Claimed directional derivative :math:`f'(x)[δ]` (e.g. ``np.sum(grad * direction)``).
    step : float
        Largest ε; the others are ``step / 2**k``.
    n_steps : int
        Number of step sizes (≥ 2).

    Returns
    -------
    TaylorResult

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import taylor_test
    >>> x, dx = np.ones(3), np.array([1.0, -1.0, 2.0])
    >>> result = taylor_test(lambda x: float(x @ x), x, dx, float(2 * x @ dx))
    >>> result.steps.shape, bool(np.allclose(result.rates1, 2.0)), bool(np.allclose(result.rates0, 1.0, atol=0.02))
    ((5,), True, True)
    """
    x = as_real_array(x, "x")
    direction = as_real_array(direction, "direction", shape=x.shape)
    step = check_positive_scalar(step, "step")
    if n_steps < 2:
        raise ValueError(f"n_steps must be >= 2, got {n_steps}")
    f0 = float(f(x))
    steps = step / 2.0 ** np.arange(n_steps)
    values = np.array([float(f(x + eps * direction)) for eps in steps])
    r0 = np.abs(values - f0)
    r1 = np.abs(values - f0 - steps * derivative)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates0 = np.log2(r0[:-1] / r0[1:])
        rates1 = np.log2(r1[:-1] / r1[1:])
    return TaylorResult(steps, r0, r1, rates0, rates1)


def dot_test(forward: Callable[[np.ndarray], np.ndarray],
             adjoint: Callable[[np.ndarray], np.ndarray], x_shape: tuple, y_shape: tuple, *,
             rng=None) -> float:
    r"""Relative mismatch :math:`|⟨Ax, y⟩ − ⟨x, A^*y⟩| / \max(|⟨Ax, y⟩|, |⟨x, A^*y⟩|)`.

    ``x`` and ``y`` are standard normal draws from ``numpy.random.default_rng(rng)``.

    Parameters
    ----------
    forward, adjoint : callable
        ``forward(x)`` applies :math:`A`, ``adjoint(y)`` the claimed :math:`A^*`.
    x_shape, y_shape : tuple
        Shapes of the input and the output of ``forward``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    float
        The relative mismatch (rounding level for a correct adjoint).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import dot_test
    >>> M = np.arange(6.0).reshape(2, 3)
    >>> bool(dot_test(lambda x: M @ x, lambda y: M.T @ y, (3,), (2,), rng=0) < 1e-14)
    True
    >>> bool(dot_test(lambda x: M @ x, lambda y: 2 * M.T @ y, (3,), (2,), rng=0) > 0.1)
    True
    """
    rng = as_rng(rng)
    x = rng.standard_normal(x_shape)
    y = rng.standard_normal(y_shape)
    lhs = float(np.sum(np.asarray(forward(x)) * y))
    rhs = float(np.sum(x * np.asarray(adjoint(y))))
    scale = max(abs(lhs), abs(rhs))
    return abs(lhs - rhs) / scale if scale > 0 else 0.0


def finite_difference_check(f: Callable[[np.ndarray], np.ndarray], x, direction, derivative, *,
                            step: float = 1e-5) -> float:
    """Relative error of ``derivative`` against the central difference of ``f`` (any output
    shape): ``‖fd − derivative‖ / ‖fd‖`` with ``fd = (f(x+εδ) − f(x−εδ))/(2ε)``.

    Parameters
    ----------
    f : callable
        ``f(x) -> array`` (any shape).
    x, direction : array_like
        Point and perturbation δ (same shape).
    derivative : array_like
        Claimed :math:`f'(x)[δ]`, the shape of ``f``'s output.
    step : float
        ε.

    Returns
    -------
    float
        The relative error, :math:`O(ε^2)` plus rounding of order :math:`u/ε` for a correct
        derivative.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import finite_difference_check
    >>> x = np.array([0.3, 1.0])
    >>> bool(finite_difference_check(np.sin, x, np.ones(2), np.cos(x)) < 1e-9)
    True
    """
    x = as_real_array(x, "x")
    direction = as_real_array(direction, "direction", shape=x.shape)
    step = check_positive_scalar(step, "step")
    fd = (np.asarray(f(x + step * direction)) - np.asarray(f(x - step * direction))) / (2 * step)
    derivative = np.asarray(derivative)
    if derivative.shape != fd.shape:
        raise ValueError(f"derivative must have the shape of f's output {fd.shape}, got {derivative.shape}")
    norm = float(np.linalg.norm(fd))
    return float(np.linalg.norm(fd - derivative)) / norm if norm > 0 else float(np.linalg.norm(derivative))
