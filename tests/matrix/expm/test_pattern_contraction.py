"""The sampled contraction g_a = (P_a ⊙ Σ_k z_k y_kᵀ) 1 of the reverse sweep
(advdiff_sens.matrix.expm.pattern), against the dense formula.

Each entry of g is a sum of at most (rows × entries per row) products of O(1) numbers, so
the agreement is to rounding: 1e-13 relative to the largest entry.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from advdiff_sens.matrix.expm import pattern as pc
from advdiff_sens.matrix.expm.pattern import PatternContraction

RTOL = 1e-13


def dense_reference(partials, blocks) -> np.ndarray:
    G = sum(z.T @ y for z, y in blocks)
    return np.array([((P.toarray() if sp.issparse(P) else np.asarray(P)) * G).sum(axis=1)
                     for P in partials]).reshape(len(partials), G.shape[0])


def contract(partials, blocks, d) -> tuple[np.ndarray, PatternContraction]:
    contraction = PatternContraction(partials, d)
    for z, y in blocks:
        contraction.add(z, y)
    return contraction.gradients(), contraction


def assert_matches(partials, d, rng, rows=(5, 3, 1)):
    blocks = [(rng.standard_normal((m, d)), rng.standard_normal((m, d))) for m in rows]
    got, contraction = contract(partials, blocks, d)
    expected = dense_reference(partials, blocks)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= RTOL * max(np.abs(expected).max(), 1.0)
    return contraction


def periodic_differences(n: int, rng) -> list:
    """∂/∂x and ∂/∂y-like matrices on an n×n periodic grid with random coefficients: two
    full diagonals each, plus the wrap-around entries."""
    d = n * n
    index = np.arange(d).reshape(n, n)
    partials = []
    for axis in (0, 1):
        plus, minus = np.roll(index, -1, axis).ravel(), np.roll(index, 1, axis).ravel()
        rows = np.concatenate([index.ravel(), index.ravel()])
        cols = np.concatenate([plus, minus])
        partials.append(sp.csr_array((rng.standard_normal(2 * d), (rows, cols)), shape=(d, d)))
    return partials


def test_stencil_pattern_uses_bands_and_keeps_the_wrap_around_as_remainder(rng):
    n = 24
    contraction = assert_matches(periodic_differences(n, rng), n * n, rng)
    assert sorted(abs(b.offset) for b in contraction._bands) == [1, 1, n, n]
    remainders = contraction._remainders
    assert [r.partial for r in remainders] == [0, 1]
    assert all(sp.issparse(r.matrix) for r in remainders)
    assert sum(r.matrix.nnz for r in remainders) == 4 * n     # the wrap-around entries


@pytest.mark.parametrize("density, dense", [(0.05, False), (0.5, True), (1.0, True)])
def test_irregular_sparse_and_dense_partials(density, dense, rng):
    d = 40
    partials = [sp.csr_array(rng.standard_normal((d, d)) * (rng.random((d, d)) < density)),
                rng.standard_normal((d, d)) * (rng.random((d, d)) < density)]
    contraction = assert_matches(partials, d, rng)
    assert contraction._bands == []
    assert all(isinstance(r.matrix, np.ndarray) == dense for r in contraction._remainders)


def test_duplicate_and_unsorted_entries_are_summed(rng):
    d = 600
    rows = np.repeat(np.arange(d - 1), 3)                # offsets +1, -1 (if any), +1 again
    cols = rows + np.tile([1, -1, 1], d - 1)
    keep = cols >= 0
    rows, cols = rows[keep], cols[keep]
    data = rng.standard_normal(rows.size)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=d))])
    P = sp.csr_array((data, cols, indptr), shape=(d, d))    # unsorted, with duplicates
    assert not P.has_canonical_format
    canonical = sp.csr_array((data, (rows, cols)), shape=(d, d))
    blocks = [(rng.standard_normal((4, d)), rng.standard_normal((4, d)))]
    got, contraction = contract([P], blocks, d)
    assert sorted(b.offset for b in contraction._bands) == [-1, 1]
    expected = dense_reference([canonical], blocks)
    assert np.abs(got - expected).max() <= RTOL * np.abs(expected).max()


@pytest.mark.parametrize("step, band", [(3, True), (5, False)])
def test_diagonals_filled_below_a_quarter_are_left_to_the_remainder(step, band, rng):
    d = 1500
    rows = np.arange(0, d - 1, step)                     # fill 1/3 or 1/5, ≥ 256 entries
    P = sp.csr_array((rng.standard_normal(rows.size), (rows, rows + 1)), shape=(d, d))
    contraction = assert_matches([P], d, rng)
    assert (len(contraction._bands) == 1) == band
    assert (len(contraction._remainders) == 0) == band


def test_band_count_is_capped(rng):
    d, width = 400, 12                                   # 25 full diagonals
    P = sp.diags_array([rng.standard_normal(d - abs(o)) for o in range(-width, width + 1)],
                       offsets=list(range(-width, width + 1)), format="csr")
    contraction = assert_matches([P, 2.0 * P], d, rng)
    assert len(contraction._bands) == pc._MAX_BANDS


def test_an_underfilled_diagonal_does_not_take_a_band_slot(rng):
    d = 4000                                             # offset 0: 800 entries, fill 1/5
    offsets = list(range(3480, 3480 + pc._MAX_BANDS))    # 16 full diagonals of ~500 entries
    full = sp.diags_array([rng.standard_normal(d - o) for o in offsets], offsets=offsets,
                          shape=(d, d), format="csr")
    rows = np.arange(0, d, 5)
    sparse_diagonal = sp.csr_array((rng.standard_normal(rows.size), (rows, rows)), shape=(d, d))
    contraction = assert_matches([full + sparse_diagonal], d, rng, rows=(2,))
    assert sorted(b.offset for b in contraction._bands) == offsets


def test_explicit_zeros_and_empty_matrices(rng):
    d = 10
    P = sp.csr_array((np.zeros(3), (np.array([0, 4, 9]), np.array([1, 4, 0]))), shape=(d, d))
    assert_matches([P, sp.csr_array((d, d))], d, rng)
    contraction = PatternContraction([], d)
    contraction.add(np.ones((2, d)), np.ones((2, d)))
    assert len(contraction) == 0 and contraction.gradients().shape == (0, d)
    assert contraction.empty and PatternContraction([sp.csr_array((d, d))], d).empty


def test_validation():
    d = 4
    with pytest.raises(TypeError, match="partials must be a sequence"):
        PatternContraction(np.eye(d)[0, 0], d)
    with pytest.raises(ValueError, match=r"partials\[1\] must have shape"):
        PatternContraction([np.eye(d), sp.eye_array(d + 1)], d)
    with pytest.raises(TypeError, match=r"partials\[0\] must be real"):
        PatternContraction([sp.eye_array(d) * 1j], d)
    with pytest.raises(ValueError, match=r"partials\[0\] contains NaN"):
        PatternContraction([np.full((d, d), np.inf)], d)


@pytest.mark.parametrize("parts", [2, 3])
def test_disjoint_shares_add_up_to_the_whole(parts, rng):
    n = 24
    partials = periodic_differences(n, rng)
    z, y = rng.standard_normal((4, n * n)), rng.standard_normal((4, n * n))
    whole, _ = contract(partials, [(z, y)], n * n)
    shared = PatternContraction(partials, n * n)
    for j in range(parts):
        shared.add(z, y, (j, parts))
    assert np.array_equal(shared.gradients(), whole)
