"""Rate matrices: structure tests, stationary distribution, group / Moore-Penrose inverses,
spectral quantities (2.4), (3.2), random ensembles, and validation.

Tolerances: the identities below hold exactly in exact arithmetic; backward-stable LU and
eigen-solvers on these well-conditioned (cond ~ 1e2) matrices leave errors of a few hundred
epsilon times the matrix scale, so 1e-12 (relative to the scale) is the method's accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from advdiff_sens import matrix as am

TOL = 1e-12


def two_state(a: float, b: float) -> np.ndarray:
    return np.array([[-a, a], [b, -b]])


def symmetric_rate_matrix(d: int, rng) -> np.ndarray:
    off = rng.exponential(size=(d, d))
    off = off + off.T
    np.fill_diagonal(off, 0.0)
    return off - np.diag(off.sum(axis=1))


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("ensemble", am.ENSEMBLES)
def test_random_matrices_are_irreducible_generators(ensemble, rng):
    for d in (2, 5, 40):
        Q = am.random_rate_matrix(d, rng, ensemble)
        assert am.is_rate_matrix(Q) and am.is_irreducible(Q)
        assert sp.issparse(Q) == (ensemble == "sparse")


def test_is_rate_matrix_rejects_negative_rate():
    Q = two_state(1.0, 2.0)
    Q[0, 1], Q[0, 0] = -0.5, 0.5
    assert not am.is_rate_matrix(Q)


def test_is_rate_matrix_rejects_nonzero_row_sum():
    Q = two_state(1.0, 2.0)
    Q[1, 1] -= 1e-6
    assert not am.is_rate_matrix(Q)
    assert not am.is_rate_matrix(sp.csr_array(Q))


def test_is_rate_matrix_tolerance_is_relative_to_the_row(rng):
    """Row-sum rounding far below rtol * sum|Q_ij| is accepted, above it rejected."""
    Q = 1e6 * am.random_rate_matrix(10, rng)
    scale = np.abs(Q[3]).sum()
    Q[3, 3] += 1e-3 * am.RATE_MATRIX_RTOL * scale
    assert am.is_rate_matrix(Q)
    Q[3, 3] += 10 * am.RATE_MATRIX_RTOL * scale
    assert not am.is_rate_matrix(Q)
    assert am.is_rate_matrix(Q, rtol=1e-6)


def test_is_rate_matrix_complex_input():
    Q = two_state(1.0, 2.0).astype(complex)
    assert am.is_rate_matrix(Q)
    Q[0, 1] += 1e-3j
    assert not am.is_rate_matrix(Q)


def test_sink_row_is_a_rate_matrix_but_reducible():
    Q = np.array([[-1.0, 1.0, 0.0], [0.5, -1.0, 0.5], [0.0, 0.0, 0.0]])
    assert am.is_rate_matrix(Q)
    assert not am.is_irreducible(Q)


def test_irreducibility_of_a_directed_cycle():
    d = 7
    P = np.roll(np.eye(d), 1, axis=1)
    assert am.is_irreducible(P - np.eye(d))
    assert am.is_irreducible(sp.csr_array(P - np.eye(d)))
    P[d - 1, 0] = 0.0
    assert not am.is_irreducible(P - np.diag(P.sum(1)))


def test_block_diagonal_is_reducible(rng):
    Q = sla.block_diag(am.random_rate_matrix(3, rng), am.random_rate_matrix(4, rng))
    assert am.is_rate_matrix(Q) and not am.is_irreducible(Q)


# ---------------------------------------------------------------- stationary distribution

def test_stationary_distribution_two_state():
    np.testing.assert_allclose(am.stationary_distribution(two_state(1.0, 3.0)),
                               [0.75, 0.25], rtol=TOL)


@pytest.mark.parametrize("ensemble", am.ENSEMBLES)
def test_stationary_distribution_dense_and_sparse(ensemble, rng):
    Q = am.random_rate_matrix(50, rng, ensemble)
    Qd = Q.toarray() if sp.issparse(Q) else Q
    pi = am.stationary_distribution(Q)
    pi_other = am.stationary_distribution(sp.csr_array(Qd) if not sp.issparse(Q) else Qd)
    assert np.all(pi > 0) and abs(pi.sum() - 1) <= TOL
    assert np.abs(pi @ Qd).max() <= TOL * np.abs(Qd).max()
    np.testing.assert_allclose(pi, pi_other, rtol=1e-10)


def test_stationary_distribution_of_symmetric_generator_is_uniform(rng):
    Q = symmetric_rate_matrix(12, rng)
    np.testing.assert_allclose(am.stationary_distribution(Q), np.full(12, 1 / 12), rtol=TOL)


def test_stationary_distribution_is_the_long_time_limit(rng):
    Q = am.random_rate_matrix(8, rng)
    np.testing.assert_allclose(sla.expm(50.0 * Q)[0], am.stationary_distribution(Q),
                               rtol=1e-10)


# ---------------------------------------------------------------- inverses

@pytest.mark.parametrize("d", [2, 10, 60])
def test_group_inverse_identities(d, rng):
    Q = am.random_rate_matrix(d, rng)
    G = am.group_inverse(Q)
    scale = np.linalg.norm(Q) * np.linalg.norm(G)
    assert np.linalg.norm(Q @ G @ Q - Q) <= TOL * scale * np.linalg.norm(Q)
    assert np.linalg.norm(G @ Q @ G - G) <= TOL * scale * np.linalg.norm(G)
    assert np.linalg.norm(Q @ G - G @ Q) <= TOL * scale
    Pi = np.outer(np.ones(d), am.stationary_distribution(Q))
    assert np.linalg.norm(Q @ G - (np.eye(d) - Pi)) <= TOL * scale


def test_group_inverse_matches_spectral_definition(rng):
    Q = am.random_rate_matrix(15, rng)
    lam, V = np.linalg.eig(Q)
    inv = np.where(np.abs(lam) == np.abs(lam).min(), 0.0, 1.0 / np.where(lam == 0, 1, lam))
    spectral = (V * inv) @ np.linalg.inv(V)
    np.testing.assert_allclose(am.group_inverse(Q), spectral.real, atol=1e-12)
    assert np.abs(spectral.imag).max() < 1e-12


def test_moore_penrose_differs_from_group_inverse(rng):
    """Q Q^+ is an orthogonal projector; Q Q^# = I - 1 pi^T is not symmetric."""
    Q = am.random_rate_matrix(12, rng)
    P = am.moore_penrose(Q)
    np.testing.assert_allclose(P, np.linalg.pinv(Q), atol=1e-14)
    np.testing.assert_allclose(Q @ P, (Q @ P).T, atol=1e-12)
    G = am.group_inverse(Q)
    assert np.linalg.norm(G - P) > 1e-3 * np.linalg.norm(G)
    assert np.linalg.norm(Q @ G - (Q @ G).T) > 1e-3


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
def test_group_inverse_solve_agrees_with_dense(sparse, transpose, rng):
    d = 40
    Q = am.random_rate_matrix(d, rng, "sparse").toarray()
    G = am.group_inverse(Q)
    solver = am.GroupInverseSolver(sp.csr_array(Q) if sparse else Q)
    B = rng.standard_normal((d, 3)) + 1j * rng.standard_normal((d, 3))
    Gt = G.T if transpose else G
    scale = np.linalg.norm(G) * np.linalg.norm(B)
    assert np.linalg.norm(solver.solve(B, transpose=transpose) - Gt @ B) <= TOL * scale
    assert np.linalg.norm(solver.solve(B[:, 0], transpose=transpose) - Gt @ B[:, 0]) \
        <= TOL * scale
    np.testing.assert_allclose(solver.pi, am.stationary_distribution(Q), rtol=1e-10)


def test_group_inverse_solve_function(rng):
    Q = am.random_rate_matrix(20, rng)
    b = rng.standard_normal(20)
    np.testing.assert_allclose(am.group_inverse_solve(sp.csr_array(Q), b),
                               am.group_inverse(Q) @ b, atol=1e-13)


# ---------------------------------------------------------------- spectra

@pytest.mark.parametrize("ensemble", am.ENSEMBLES)
def test_spectral_gap_against_dense_eig(ensemble, rng):
    Q = am.random_rate_matrix(30, rng, ensemble)
    Qd = Q.toarray() if sp.issparse(Q) else Q
    lam = sla.eig(Qd, right=False)
    moduli = np.sort(np.abs(lam))[1:]
    e_m, e_M = am.spectral_gap(Q)
    np.testing.assert_allclose([e_m, e_M], [moduli[0], moduli[-1]], rtol=1e-10)
    assert am.decay_rate(Q) <= e_m * (1 + 1e-12)
    np.testing.assert_allclose(am.decay_rate(Q), np.sort(-lam.real)[1], rtol=1e-10)


def test_spectral_gap_sparse_path_matches_dense(rng):
    Q = am.random_rate_matrix(200, rng, "sparse")
    np.testing.assert_allclose(am.spectral_gap(Q), am.spectral_gap(Q.toarray()), rtol=1e-8)


def test_spectral_gap_two_state():
    """Eigenvalues of [[-a, a], [b, -b]] are 0 and -(a + b)."""
    assert am.spectral_gap(two_state(1.0, 2.0)) == pytest.approx((3.0, 3.0), rel=1e-14)


def test_eigenvector_condition(rng):
    """Normal (symmetric) Q: orthonormal eigenvectors, ||M||_F ||M^-1||_F = d, 2-norm 1."""
    Q = symmetric_rate_matrix(9, rng)
    assert am.eigenvector_condition(Q) == pytest.approx(9.0, rel=1e-10)
    assert am.eigenvector_condition(Q, norm=2) == pytest.approx(1.0, rel=1e-10)
    assert am.eigenvector_condition(am.random_rate_matrix(20, rng), norm=2) > 1.0 + 1e-6


def test_eigenvector_condition_of_defective_matrix_is_infinite():
    assert am.eigenvector_condition(np.array([[0.0, 1.0], [0.0, 0.0]])) == np.inf


def test_singular_value_extremes(rng):
    Q = am.random_rate_matrix(25, rng)
    s_m, s_M = am.singular_value_extremes(Q)
    assert s_M == pytest.approx(np.linalg.norm(Q, 2), rel=1e-12)
    assert 1.0 / s_m == pytest.approx(np.linalg.norm(np.linalg.pinv(Q), 2), rel=1e-10)
    assert s_m == pytest.approx(np.sort(sla.svdvals(Q))[1], rel=1e-12)


# ---------------------------------------------------------------- random ensembles

def test_random_rate_matrix_is_reproducible():
    a = am.random_rate_matrix(10, 123)
    b = am.random_rate_matrix(10, np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, am.random_rate_matrix(10, 124))


def test_exponential_ensemble_has_unit_mean_rates(rng):
    """iid Exp(1): the mean of 9,900 rates has standard deviation 0.01; 5 sigma."""
    Q = am.random_rate_matrix(100, rng)
    off = Q[~np.eye(100, dtype=bool)]
    assert np.all(off > 0)
    assert abs(off.mean() - 1.0) < 0.05
    assert abs(off.std() - 1.0) < 0.1


def test_uniform_ensemble_rates_lie_in_unit_interval(rng):
    Q = am.random_rate_matrix(50, rng, "uniform")
    off = Q[~np.eye(50, dtype=bool)]
    assert np.all((off >= 0) & (off < 1)) and abs(off.mean() - 0.5) < 0.05


def test_sparse_ensemble_is_irreducible_even_when_very_sparse(rng):
    for _ in range(20):
        Q = am.random_rate_matrix(60, rng, "sparse", density=1e-4)
        assert am.is_rate_matrix(Q) and am.is_irreducible(Q)
    Q = am.random_rate_matrix(400, rng, "sparse")
    assert Q.nnz < 0.1 * 400 ** 2


# ---------------------------------------------------------------- validation

def test_stationary_distribution_rejects_non_generator(rng):
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.stationary_distribution(rng.standard_normal((4, 4)))


def test_group_inverse_rejects_non_generator(rng):
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.group_inverse(rng.standard_normal((4, 4)))


def test_group_inverse_rejects_reducible_generator(rng):
    Q = sla.block_diag(am.random_rate_matrix(3, rng), am.random_rate_matrix(2, rng))
    with pytest.raises(ValueError, match="reducible"):
        am.group_inverse(Q)


def test_solver_rejects_reducible_sparse_generator(rng):
    Q = sp.block_diag([am.random_rate_matrix(3, rng), am.random_rate_matrix(2, rng)])
    with pytest.raises(ValueError, match="reducible"):
        am.GroupInverseSolver(Q)


def test_spectral_gap_rejects_non_generator():
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.spectral_gap(np.diag([-1.0, -2.0]))


def test_generator_functions_reject_one_by_one():
    with pytest.raises(ValueError, match="at least 2 x 2"):
        am.stationary_distribution(np.zeros((1, 1)))


def test_group_inverse_rejects_complex_generator():
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.group_inverse(two_state(1.0, 2.0) + 0.1j)


def test_group_inverse_rejects_non_square():
    with pytest.raises(ValueError, match="Q must be square"):
        am.group_inverse(np.zeros((2, 3)))


def test_group_inverse_rejects_nan():
    Q = two_state(1.0, 2.0)
    Q[0, 0] = np.nan
    with pytest.raises(ValueError, match="Q contains NaN"):
        am.group_inverse(Q)


def test_solver_rejects_vector_of_wrong_length(rng):
    solver = am.GroupInverseSolver(am.random_rate_matrix(5, rng))
    with pytest.raises(ValueError, match="b must have shape"):
        solver.solve(np.ones(4))


def test_is_rate_matrix_rejects_bad_tolerance():
    with pytest.raises(ValueError, match="rtol must be > 0"):
        am.is_rate_matrix(two_state(1.0, 1.0), rtol=0.0)


def test_eigenvector_condition_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm must be"):
        am.eigenvector_condition(two_state(1.0, 1.0), norm="nuc")


def test_random_rate_matrix_rejects_unknown_ensemble():
    with pytest.raises(ValueError, match="ensemble must be one of"):
        am.random_rate_matrix(5, ensemble="gaussian")


def test_random_rate_matrix_rejects_small_dimension():
    with pytest.raises(ValueError, match="d must be >= 2"):
        am.random_rate_matrix(1)


def test_random_rate_matrix_rejects_non_integer_dimension():
    with pytest.raises(TypeError, match="d must be an integer"):
        am.random_rate_matrix(5.0)


def test_random_rate_matrix_rejects_density_out_of_range():
    with pytest.raises(ValueError, match="density must be in"):
        am.random_rate_matrix(5, ensemble="sparse", density=1.5)


def test_random_rate_matrix_rejects_density_for_dense_ensemble():
    with pytest.raises(ValueError, match="density applies only"):
        am.random_rate_matrix(5, density=0.5)
