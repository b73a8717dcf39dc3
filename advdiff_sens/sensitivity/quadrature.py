r"""Adaptive Gauss–Kronrod quadrature for vector-valued integrands.

Used by the adjoint gradient, whose integrand :math:`λ(s) ⊙ P θ(s)` is a product of two
trajectories. For point-sensor objectives :math:`λ(s) = e^{(T-s)L^T} g` has a boundary layer of
width :math:`\sim h^2/κ` at :math:`s = T` (and a rough :math:`θ_0` one at :math:`s = 0`), so
equally spaced rules converge slowly; bisection driven by an error estimate grades the nodes
toward wherever the integrand is rough.

Rule on one interval :math:`I`: the 15-point Kronrod value :math:`K_{15}(I)` (exact for
polynomials of degree 22) with the embedded 7-point Gauss value :math:`G_7(I)` (degree 13,
its nodes are among the Kronrod nodes); the error estimate is
:math:`e(I) = \|K_{15}(I) − G_7(I)\|`, which bounds the error of :math:`K_{15}` whenever
:math:`K_{15}` is the more accurate (conservative: for smooth integrands the true error of
:math:`K_{15}` is orders of magnitude smaller). The interval with the largest estimate is
bisected until :math:`\sum_I e(I) ≤ \max(\text{rtol}\,\|Q\|, \text{atol})` (2-norms).

No error estimate sees a layer that falls between the nodes of the first partition, so the
initial partition is graded geometrically (ratio 4) toward the ends down to a width
``end_width`` — for trajectories of :math:`e^{sL}` the fastest time scale, :math:`1/\|L\|`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from advdiff_sens.validation import (
    check_integer,
    check_nonnegative_scalar,
    check_positive_scalar,
)

__all__ = ["QuadratureResult", "adaptive_gauss_kronrod", "graded_partition",
           "KRONROD_NODES", "KRONROD_WEIGHTS", "GAUSS_WEIGHTS"]

# Gauss–Kronrod (7, 15) on [-1, 1], from QUADPACK's qk15 (Piessens et al. 1983): Kronrod nodes
# (the odd-indexed ones are the 7 Gauss nodes), Kronrod weights, Gauss weights; verified in
# the quadrature tests by polynomial exactness (degree 22 and 13).
_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
KRONROD_NODES = np.concatenate([-_XGK[:-1], _XGK[::-1]])
KRONROD_WEIGHTS = np.concatenate([_WGK[:-1], _WGK[::-1]])
GAUSS_WEIGHTS = np.zeros(15)
GAUSS_WEIGHTS[1:7:2] = _WG[:3]
GAUSS_WEIGHTS[7] = _WG[3]
GAUSS_WEIGHTS[9:15:2] = _WG[:3][::-1]


@dataclass
class QuadratureResult:
    """Result of :func:`adaptive_gauss_kronrod`.

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

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import adaptive_gauss_kronrod
    >>> result = adaptive_gauss_kronrod(lambda s: s[:, None] ** 2, 0.0, 3.0)
    >>> bool(abs(result.value[0] - 9.0) < 1e-13), result.converged, result.nodes.size
    (True, True, 30)
    """

    value: np.ndarray
    error_estimate: float
    nodes: np.ndarray = field(repr=False)
    intervals: int
    converged: bool


def _gauss_nodes(a: float, b: float, x: np.ndarray) -> np.ndarray:
    return 0.5 * (a + b) + 0.5 * (b - a) * x


def graded_partition(a: float, b: float, end_width, initial: int = 2,
                     ratio: float = 4.0) -> np.ndarray:
    """Breakpoints of ``initial`` equal intervals refined geometrically toward the ends.

    ``end_width`` is a width for both ends, a pair ``(left, right)`` (``None`` for an end
    that needs no grading), or ``None``. The outermost interval at a graded end has that
    width, and widths grow by ``ratio`` inward until they reach the equal intervals.

    Parameters
    ----------
    a, b : float
        The interval.
    end_width : float, (float | None, float | None) or None
        Width of the outermost interval at each graded end.
    initial : int
        Number of equal intervals.
    ratio : float
        Growth of the widths inward.

    Returns
    -------
    ndarray
        Sorted breakpoints, ``a`` and ``b`` included.

    Examples
    --------
    >>> from advdiff_sens.sensitivity import graded_partition
    >>> [round(float(x), 2) for x in graded_partition(0.0, 1.0, 0.01)]
    [0.0, 0.01, 0.04, 0.16, 0.5, 0.84, 0.96, 0.99, 1.0]
    >>> [round(float(x), 2) for x in graded_partition(0.0, 1.0, (None, 0.1))]
    [0.0, 0.5, 0.6, 0.9, 1.0]
    """
    left, right = end_width if isinstance(end_width, tuple) else (end_width, end_width)
    edges = [np.linspace(a, b, initial + 1)]
    coarse = (b - a) / initial
    for width, start, sign in ((left, a, 1.0), (right, b, -1.0)):
        if width is None or width >= coarse / ratio:
            continue
        steps = width * ratio ** np.arange(int(np.ceil(np.log(coarse / width) / np.log(ratio))))
        edges.append(start + sign * steps[steps < coarse])
    return np.unique(np.concatenate(edges))


def adaptive_gauss_kronrod(integrand: Callable[[np.ndarray], np.ndarray], a: float, b: float,
                           *, rtol: float = 1e-10, atol: float = 0.0, initial: int = 2,
                           end_width=None, max_intervals: int = 400) -> QuadratureResult:
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
    initial : int
        Number of equal intervals to start from.
    end_width : float or (float | None, float | None), optional
        Grade the initial partition toward both ends (or the ends given) down to this width
        (:func:`graded_partition`).
    max_intervals : int
        Give up refining (``converged = False``) past this many intervals.

    Returns
    -------
    QuadratureResult

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import adaptive_gauss_kronrod
    >>> f = lambda s: np.stack([np.cos(s), np.exp(s)], axis=1)
    >>> result = adaptive_gauss_kronrod(f, 0.0, 1.0)
    >>> bool(np.allclose(result.value, [np.sin(1.0), np.e - 1.0], rtol=0, atol=1e-14))
    True
    >>> layer = adaptive_gauss_kronrod(lambda s: np.exp(-1e4 * (1 - s))[:, None], 0.0, 1.0,
    ...                                end_width=(None, 1e-4))
    >>> bool(abs(layer.value[0] - 1e-4) < 1e-14), layer.converged
    (True, True)
    """
    a, b = float(a), float(b)
    if not b > a:
        raise ValueError(f"b must be > a, got a={a}, b={b}")
    rtol = check_nonnegative_scalar(rtol, "rtol")
    atol = check_nonnegative_scalar(atol, "atol")
    if rtol == 0 and atol == 0:
        raise ValueError("rtol and atol cannot both be 0")
    initial = check_integer(initial, "initial", minimum=1)
    widths = end_width if isinstance(end_width, tuple) else (end_width, end_width)
    if len(widths) != 2:
        raise ValueError(f"end_width must be a float or a pair, got {end_width!r}")
    end_width = tuple(None if w is None else check_positive_scalar(w, "end_width") for w in widths)
    edges = graded_partition(a, b, end_width, initial)
    max_intervals = check_integer(max_intervals, "max_intervals", minimum=len(edges) - 1)
    evaluated: list[np.ndarray] = []
    heap: list = []
    counter = 0

    def evaluate(intervals: list[tuple[float, float]]) -> None:
        """Kronrod value and error of each interval, one integrand call for all nodes."""
        nonlocal counter
        nodes = np.concatenate([0.5 * (lo + hi) + 0.5 * (hi - lo) * KRONROD_NODES
                                for lo, hi in intervals])
        perm = np.argsort(nodes, kind="stable")
        sorted_values = np.asarray(integrand(nodes[perm]))
        values = np.empty_like(sorted_values)
        values[perm] = sorted_values
        evaluated.append(nodes)
        for k, (lo, hi) in enumerate(intervals):
            block = values[15 * k:15 * (k + 1)]
            kronrod = 0.5 * (hi - lo) * np.tensordot(KRONROD_WEIGHTS, block, axes=(0, 0))
            gauss = 0.5 * (hi - lo) * np.tensordot(GAUSS_WEIGHTS, block, axes=(0, 0))
            err = float(np.linalg.norm(np.ravel(kronrod - gauss)))
            heapq.heappush(heap, (-err, counter, (lo, hi), kronrod))
            counter += 1

    def totals():
        return sum(item[3] for item in heap), sum(-item[0] for item in heap)

    def target(value) -> float:
        return max(rtol * float(np.linalg.norm(np.ravel(value))), atol)

    evaluate(list(zip(edges[:-1], edges[1:])))
    value, error = totals()
    while error > target(value) and len(heap) < max_intervals:
        _, _, (lo, hi), _ = heapq.heappop(heap)
        mid = 0.5 * (lo + hi)
        evaluate([(lo, mid), (mid, hi)])
        value, error = totals()
    return QuadratureResult(value=value, error_estimate=error,
                            nodes=np.sort(np.concatenate(evaluated)), intervals=len(heap),
                            converged=error <= target(value))
