r"""Adaptive composite Gauss–Legendre quadrature for vector-valued integrands.

Used by the adjoint gradient, whose integrand :math:`λ(s) ⊙ P θ(s)` is a product of two
trajectories. For point-sensor objectives :math:`λ(s) = e^{(T-s)L^T} g` has a boundary layer of
width :math:`\sim h^2/κ` at :math:`s = T` (and a rough :math:`θ_0` one at :math:`s = 0`), so
equally spaced rules converge slowly; bisection driven by an error estimate grades the nodes
toward wherever the integrand is rough.

Rule on one interval :math:`I`: the m-point Gauss–Legendre value :math:`Q_m(I)` and the
composite value on its two halves :math:`Q_m(I_l) + Q_m(I_r)`; the error estimate of the
(more accurate) composite value is :math:`e(I) = \|Q_m(I_l) + Q_m(I_r) − Q_m(I)\|`, which
bounds the composite error whenever halving reduces the error at all (conservative:
for smooth integrands the composite error is smaller by :math:`2^{-2m}`). The interval with the
largest estimate is bisected (its halves' values are reused as the children's coarse values)
until :math:`\sum_I e(I) ≤ \max(\text{rtol}\,\|Q\|, \text{atol})`.

No error estimate sees a layer that falls between the nodes of the first partition, so the
initial partition is graded geometrically (ratio 4) toward both ends down to a width
``end_width`` — for trajectories of :math:`e^{sL}` the fastest time scale, :math:`1/\|L\|`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_integer, check_nonnegative_scalar, check_positive_scalar

__all__ = ["QuadratureResult", "adaptive_gauss_legendre", "graded_partition"]


@dataclass
class QuadratureResult:
    """Result of :func:`adaptive_gauss_legendre`.

    Attributes
    ----------
    value : ndarray
        The integral (shape of one integrand value).
    error_estimate : float
        Norm of the estimated absolute error (sum over intervals).
    nodes : ndarray
        Every node at which the integrand was evaluated (sorted).
    intervals : int
        Number of intervals in the final partition.
    converged : bool
        Whether the tolerance was met within ``max_intervals``.
    """

    value: np.ndarray
    error_estimate: float
    nodes: np.ndarray = field(repr=False)
    intervals: int
    converged: bool


def _gauss_nodes(a: float, b: float, x: np.ndarray) -> np.ndarray:
    return 0.5 * (a + b) + 0.5 * (b - a) * x


def graded_partition(a: float, b: float, end_width: float | None, initial: int = 2,
                     ratio: float = 4.0) -> np.ndarray:
    """Breakpoints of ``initial`` equal intervals refined geometrically toward ``a`` and ``b``.

    The outermost intervals have width ``end_width`` (none added if ``end_width`` is None or
    not smaller than the equal intervals); widths grow by ``ratio`` inward.
    """
    edges = np.linspace(a, b, initial + 1)
    if end_width is None or end_width >= (b - a) / (initial * ratio):
        return edges
    widths = end_width * ratio ** np.arange(
        int(np.ceil(np.log((b - a) / initial / end_width) / np.log(ratio))))
    widths = widths[widths < (b - a) / initial]
    extra = np.concatenate([a + widths, b - widths])
    return np.unique(np.concatenate([edges, extra]))


def adaptive_gauss_legendre(integrand: Callable[[np.ndarray], np.ndarray], a: float, b: float,
                            *, rtol: float = 1e-10, atol: float = 0.0, order: int = 8,
                            initial: int = 2, end_width: float | None = None,
                            max_intervals: int = 400) -> QuadratureResult:
    r"""Integrate :math:`\int_a^b f(s)\,ds` for a vector-valued ``f`` by adaptive bisection.

    Parameters
    ----------
    integrand : callable
        ``integrand(s)`` takes a sorted 1-D array of nodes and returns the stacked values,
        shape ``(len(s), ...)``. It is called once per refinement step with all new nodes,
        so an integrand that advances trajectories can step through them in order.
    a, b : float
        Interval, ``a < b``.
    rtol, atol : float
        Stop when the summed error estimate is ≤ ``max(rtol·‖Q‖, atol)`` (2-norm).
    order : int
        Gauss–Legendre points per rule (``m``).
    initial : int
        Number of equal intervals to start from.
    end_width : float, optional
        Grade the initial partition toward both ends down to this width
        (:func:`graded_partition`).
    max_intervals : int
        Give up refining (``converged = False``) past this many intervals.
    """
    a, b = float(a), float(b)
    if not b > a:
        raise ValueError(f"b must be > a, got a={a}, b={b}")
    rtol = check_nonnegative_scalar(rtol, "rtol")
    atol = check_nonnegative_scalar(atol, "atol")
    if rtol == 0 and atol == 0:
        raise ValueError("rtol and atol cannot both be 0")
    order = check_integer(order, "order", minimum=1)
    initial = check_integer(initial, "initial", minimum=1)
    if end_width is not None:
        end_width = check_positive_scalar(end_width, "end_width")
    edges = graded_partition(a, b, end_width, initial)
    max_intervals = check_integer(max_intervals, "max_intervals", minimum=len(edges) - 1)
    x, w = np.polynomial.legendre.leggauss(order)
    evaluated: list[np.ndarray] = []

    def rules(intervals: list[tuple[float, float]]) -> list[np.ndarray]:
        """m-point values on each interval, with one integrand call for all nodes."""
        nodes = np.concatenate([_gauss_nodes(lo, hi, x) for lo, hi in intervals])
        perm = np.argsort(nodes, kind="stable")
        sorted_values = np.asarray(integrand(nodes[perm]))
        evaluated.append(nodes)
        values = np.empty_like(sorted_values)
        values[perm] = sorted_values
        out = []
        for k, (lo, hi) in enumerate(intervals):
            block = values[k * order:(k + 1) * order]
            out.append(0.5 * (hi - lo) * np.tensordot(w, block, axes=(0, 0)))
        return out

    def halves(lo: float, hi: float) -> list[tuple[float, float]]:
        mid = 0.5 * (lo + hi)
        return [(lo, mid), (mid, hi)]

    coarse_intervals = list(zip(edges[:-1], edges[1:]))
    coarse = rules(coarse_intervals)
    heap: list = []
    counter = 0

    def push(intervals, coarse_values):
        nonlocal counter
        fine_intervals = [half for iv in intervals for half in halves(*iv)]
        fine = rules(fine_intervals)
        for k, (iv, q) in enumerate(zip(intervals, coarse_values)):
            left, right = fine[2 * k], fine[2 * k + 1]
            err = float(np.linalg.norm(np.ravel(left + right - q)))
            heapq.heappush(heap, (-err, counter, iv, left, right))
            counter += 1

    push(coarse_intervals, coarse)

    def totals():
        value = sum(item[3] + item[4] for item in heap)
        error = sum(-item[0] for item in heap)
        return value, error

    def target(value) -> float:
        return max(rtol * float(np.linalg.norm(np.ravel(value))), atol)

    value, error = totals()
    while error > target(value) and len(heap) < max_intervals:
        _, _, iv, left, right = heapq.heappop(heap)
        push(halves(*iv), [left, right])
        value, error = totals()
    converged = error <= target(value)
    return QuadratureResult(value=value, error_estimate=error,
                            nodes=np.sort(np.concatenate(evaluated)), intervals=len(heap),
                            converged=converged)
