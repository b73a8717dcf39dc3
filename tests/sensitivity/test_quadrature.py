"""Adaptive Gauss–Kronrod quadrature: rule exactness, error estimate honesty, refinement."""

import numpy as np
import pytest

from advdiff_sens.sensitivity.quadrature import adaptive_gauss_kronrod


def layer(s):
    # boundary layers at both ends (like θ near 0 and a point-sensor λ near T), vector valued
    return np.stack([np.exp(-s / 1e-4), np.exp(-(1 - s) / 1e-3), np.cos(7 * s)], axis=1)


EXACT = np.array([1e-4 * (1 - np.exp(-1e4)), 1e-3 * (1 - np.exp(-1e3)), np.sin(7) / 7])


@pytest.mark.parametrize("rtol", [1e-6, 1e-10, 1e-13])
def test_error_estimate_bounds_actual_error(rtol):
    result = adaptive_gauss_kronrod(layer, 0.0, 1.0, rtol=rtol, end_width=1e-4)
    actual = np.linalg.norm(result.value - EXACT)
    assert result.converged
    assert actual <= max(result.error_estimate, 1e-15)
    assert result.error_estimate <= rtol * np.linalg.norm(result.value)


def test_nodes_are_graded_toward_the_layers():
    result = adaptive_gauss_kronrod(layer, 0.0, 1.0, rtol=1e-10, end_width=1e-4)
    nodes = result.nodes
    assert np.sum(nodes < 1e-2) > 10 and np.sum(nodes > 1 - 1e-2) > 10
    assert np.sum((nodes > 0.2) & (nodes < 0.8)) < np.sum(nodes < 1e-2)


def test_kronrod_and_gauss_rules_are_exact_to_their_degree():
    from advdiff_sens.sensitivity.quadrature import GAUSS_WEIGHTS, KRONROD_NODES, KRONROD_WEIGHTS
    moments = [2 / (k + 1) if k % 2 == 0 else 0.0 for k in range(26)]
    kronrod = [KRONROD_WEIGHTS @ KRONROD_NODES**k for k in range(26)]
    gauss = [GAUSS_WEIGHTS @ KRONROD_NODES**k for k in range(26)]
    assert np.allclose(kronrod[:23], moments[:23], rtol=0, atol=1e-15)
    assert abs(kronrod[24] - moments[24]) > 1e-12          # degree 23 + 1 is not exact
    assert np.allclose(gauss[:14], moments[:14], rtol=0, atol=1e-15)
    assert abs(gauss[14] - moments[14]) > 1e-6
    x, _ = np.polynomial.legendre.leggauss(7)
    assert np.allclose(np.sort(KRONROD_NODES[GAUSS_WEIGHTS > 0]), np.sort(x), atol=1e-15)


def test_graded_partition():
    from advdiff_sens.sensitivity.quadrature import graded_partition
    edges = graded_partition(0.0, 1.0, 1e-3, initial=2)
    assert edges[0] == 0 and edges[-1] == 1 and 0.5 in edges
    assert np.diff(edges).min() == pytest.approx(1e-3)
    widths = np.diff(edges)[:4]
    assert np.allclose(widths[1:] / widths[:-1], [3, 4, 4])   # ratio-4 breakpoints
    assert np.array_equal(graded_partition(0.0, 1.0, None, initial=3), np.linspace(0, 1, 4))
    right_only = graded_partition(0.0, 1.0, (None, 1e-3), initial=2)
    assert np.diff(right_only)[0] == 0.5 and np.diff(right_only)[-1] == pytest.approx(1e-3)


def test_equally_spaced_simpson_would_fail_here():
    # the motivation in DESIGN.md: composite Simpson with 161 nodes is far from converged
    s = np.linspace(0, 1, 161)
    h = s[1] - s[0]
    w = np.full(161, 2.0)
    w[1:-1:2] = 4.0
    w[[0, -1]] = 1.0
    simpson = h / 3 * w @ layer(s)
    assert np.linalg.norm(simpson - EXACT) / np.linalg.norm(EXACT) > 1e-3


def test_max_intervals_reports_non_convergence():
    result = adaptive_gauss_kronrod(layer, 0.0, 1.0, rtol=1e-14, max_intervals=3)
    assert not result.converged and result.intervals <= 4


@pytest.mark.parametrize("kwargs, match", [({"a": 1.0, "b": 0.0}, "b must be > a"),
                                           ({"rtol": 0.0}, "cannot both be 0"),
                                           ({"end_width": (1e-3, 1e-3, 1.0)}, "end_width"),
                                           ({"end_width": -1.0}, "end_width")])
def test_rejects_bad_arguments(kwargs, match):
    args = {"a": 0.0, "b": 1.0} | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        adaptive_gauss_kronrod(layer, args.pop("a"), args.pop("b"), **args)
