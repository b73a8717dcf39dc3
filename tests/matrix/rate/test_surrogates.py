"""Surrogates of the Fréchet derivative: first order (1.6), "third order" (4.1), the
corrected asymptotic form of Theorem 2.1; dense matrix vs sparse action; the errata.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from advdiff_sens import matrix as am


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def zero_row_sum(J: np.ndarray) -> np.ndarray:
    return J - np.diag(J.sum(axis=1))


def circulant(first_row: np.ndarray) -> np.ndarray:
    return np.array([np.roll(first_row, k) for k in range(first_row.size)])


# ---------------------------------------------------------------- first order (1.6)

def test_first_order_exact_for_polynomial_direction(rng):
    d = 12
    Q = rng.standard_normal((d, d))
    J = 0.3 * Q @ Q - 2.0 * Q + np.eye(d)
    for t in (0.1, 1.0, 3.0):
        assert rel(am.surrogate(Q, J, t, order=1), am.expm_frechet(Q, J, t)) <= 1e-12


def test_first_order_exact_for_periodic_advection_direction(rng):
    """Constant-u, constant-v periodic upwind generator: Q and J are circulant, so they
    commute and (1.6) is exact (reference problem R1 at matrix level); sparse action."""
    d, h, kappa, u, v = 64, 1 / 64, 0.01, 0.7, 0.4
    lap = circulant(np.r_[-2.0, 1.0, np.zeros(d - 3), 1.0]) / h**2
    back = circulant(np.r_[1.0, np.zeros(d - 2), -1.0]) / h
    Q, J = kappa * lap - u * back, -v * back
    assert am.is_rate_matrix(Q)
    theta0 = np.exp(-((np.arange(d) * h - 0.5) ** 2) / 0.01)
    for t in (0.05, 0.5):
        exact = am.expm_frechet_action(sp.csr_array(Q), sp.csr_array(J), theta0, t)
        approx = am.surrogate_action(sp.csr_array(Q), sp.csr_array(J), theta0, t, order=1)
        assert rel(approx, exact) <= 1e-10


def test_first_order_not_exact_without_commutation(rng):
    Q = am.random_rate_matrix(10, rng)
    J = zero_row_sum(rng.standard_normal((10, 10)))
    assert rel(am.surrogate(Q, J, 0.1, order=1), am.expm_frechet(Q, J, 0.1)) > 1e-3


def _small_t_errors(order, rng) -> np.ndarray:
    Q = am.random_rate_matrix(10, rng)
    J = zero_row_sum(rng.standard_normal((10, 10)))
    t0 = 1e-2 / np.linalg.norm(Q, 2)
    return np.array([np.linalg.norm(am.surrogate(Q, J, t, order) - am.expm_frechet(Q, J, t))
                     for t in (t0, t0 / 2, t0 / 4)])


def test_first_order_error_is_quadratic_in_t(rng):
    """(1.10): Z(t) = t^2/2 e^{tQ}[J, Q] + O(t^3): halving t divides the error by ~4."""
    errors = _small_t_errors(1, rng)
    np.testing.assert_allclose(errors[:-1] / errors[1:], 4.0, rtol=0.05)


def test_third_order_error_is_cubic_in_t(rng):
    """(4.1) matches (1.5) through t^2 only: halving t divides the error by ~8."""
    errors = _small_t_errors(3, rng)
    np.testing.assert_allclose(errors[:-1] / errors[1:], 8.0, rtol=0.05)


def test_third_order_formula(rng):
    d, t = 6, 0.4
    Q, J = rng.standard_normal((2, d, d))
    expected = sla.expm(t * Q) @ (t * J + t**2 / 2 * (J @ Q - Q @ J) - t**3 / 3 * Q @ J @ Q)
    np.testing.assert_allclose(am.surrogate(Q, J, t, order=3), expected, rtol=1e-13)


def test_third_order_is_a_short_time_expansion(rng):
    """At t||Q||_2 = 300 the (4.1) surrogate is useless (measured relative error ~1e4)
    while the asymptotic surrogate is at rounding level."""
    Q = am.random_rate_matrix(30, rng)
    J = zero_row_sum(rng.standard_normal((30, 30)))
    t = 300 / np.linalg.norm(Q, 2)
    exact = am.expm_frechet(Q, J, t)
    assert rel(am.surrogate(Q, J, t, order=3), exact) > 10
    assert rel(am.surrogate(Q, J, t, order="asymptotic"), exact) < 1e-10


# ---------------------------------------------------------------- asymptotic (Theorem 2.1)

def test_asymptotic_formula_matches_statement(rng):
    d, t = 15, 0.7
    Q = am.random_rate_matrix(d, rng)
    J = rng.standard_normal((d, d))
    G, E, I = am.group_inverse(Q), sla.expm(t * Q), np.eye(d)
    expected = t * E @ J - E @ J @ G @ (I + t * Q) - G @ J @ (I - Q @ G)
    np.testing.assert_allclose(am.surrogate(Q, J, t, "asymptotic"), expected,
                               atol=1e-12 * np.linalg.norm(expected))


def test_asymptotic_zero_row_sum_reduces_to_stationary_derivative(rng):
    """J 1 = 0: S(t) = -e^{tQ} J Q^#, whose limit -Pi J Q^# is the derivative of Pi."""
    d = 12
    Q = am.random_rate_matrix(d, rng)
    J = zero_row_sum(rng.standard_normal((d, d)))
    G = am.group_inverse(Q)
    t = 0.3
    np.testing.assert_allclose(am.surrogate(Q, J, t, "asymptotic"), -sla.expm(t * Q) @ J @ G,
                               atol=1e-13)
    eps = 1e-6
    dpi = (am.stationary_distribution(Q + eps * J)
           - am.stationary_distribution(Q - eps * J)) / (2 * eps)
    np.testing.assert_allclose(-am.stationary_distribution(Q) @ J @ G, dpi, atol=1e-9)


def test_printed_plus_sign_is_harmless_for_zero_row_sum_direction(rng):
    """The extra term Q^# J (I - Q Q^#) vanishes when J 1 = 0."""
    d = 20
    Q = am.random_rate_matrix(d, rng)
    J = zero_row_sum(rng.standard_normal((d, d)))
    np.testing.assert_allclose(am.asymptotic_surrogate(Q, J, 1.0, constant_sign=+1),
                               am.asymptotic_surrogate(Q, J, 1.0), atol=1e-13)


@pytest.mark.parametrize("variant", [{"inverse": "moore-penrose"}, {"constant_sign": +1}])
def test_printed_statement_plateaus(variant, rng):
    """Errata: with Q^+ or with the printed + sign the error of (2.10) does not decay
    (measured plateau 1e-3..1e-1 relative), while the corrected form reaches rounding."""
    d = 30
    Q = am.random_rate_matrix(d, rng)
    J = np.zeros((d, d))
    J[3, 7] = 1.0
    e_m, _ = am.spectral_gap(Q)
    for t in (25 / e_m, 50 / e_m):
        exact = am.expm_frechet(Q, J, t)
        Z = exact - t * sla.expm(t * Q) @ J
        assert np.linalg.norm(am.asymptotic_surrogate(Q, J, t, **variant) - exact) \
            > 1e-4 * np.linalg.norm(Z)
        assert np.linalg.norm(am.surrogate(Q, J, t, "asymptotic") - exact) \
            < 1e-10 * np.linalg.norm(Z)


# ---------------------------------------------------------------- action form

@pytest.mark.parametrize("order", am.ORDERS)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("block", [False, True])
def test_action_matches_dense_surrogate(order, sparse, block, rng):
    """Same coefficients, different exponential (expm_multiply vs expm) and group inverse
    (bordered LU vs Pi - (Pi - Q)^-1): agreement to 1e-12 relative."""
    d = 25
    Q = am.random_rate_matrix(d, rng)
    J = rng.standard_normal((d, d))
    b = rng.standard_normal((d, 3) if block else d)
    times = np.array([0.0, 0.05, 0.3, 2.0])
    Qa, Ja = (sp.csr_array(Q), sp.csr_array(J)) if sparse else (Q, J)
    out = am.surrogate_action(Qa, Ja, b, times, order=order)
    assert out.shape == (times.size, *b.shape)
    for k, t in enumerate(times):
        dense = am.surrogate(Q, J, t, order) @ b
        assert np.linalg.norm(out[k] - dense) <= 1e-12 * max(np.linalg.norm(dense), 1.0)
    scalar = am.surrogate_action(Qa, Ja, b, 0.3, order=order)
    assert scalar.shape == b.shape
    np.testing.assert_allclose(scalar, out[2], rtol=1e-12, atol=1e-14)


def test_action_with_complex_vector_and_reused_solver(rng):
    d = 30
    Q = sp.csr_array(am.random_rate_matrix(d, rng, "sparse"))
    J = sp.csr_array(rng.standard_normal((d, d)))
    b = rng.standard_normal(d) + 1j * rng.standard_normal(d)
    solver = am.GroupInverseSolver(Q)
    out = am.surrogate_action(Q, J, b, 1.5, order="asymptotic", solver=solver)
    dense = am.surrogate(Q, J, 1.5, "asymptotic") @ b
    np.testing.assert_allclose(out, dense, atol=1e-12 * np.linalg.norm(dense))


def test_action_of_skew_hermitian_first_order(rng):
    d = 8
    H = rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d))
    A, J = 0.5 * (H - H.conj().T), 1j * np.eye(d)
    b = rng.standard_normal(d) + 0j
    np.testing.assert_allclose(am.surrogate_action(A, J, b, 2.0),
                               am.expm_frechet_action(A, J, b, 2.0), atol=1e-12)


# ---------------------------------------------------------------- linearity (property-based)

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 10),
       alpha=st.floats(-5, 5, allow_nan=False), beta=st.floats(-5, 5, allow_nan=False),
       t=st.floats(0.0, 5.0, allow_nan=False), order=st.sampled_from(am.ORDERS))
def test_surrogates_are_linear_in_direction(seed, d, alpha, beta, t, order):
    rng = np.random.default_rng(seed)
    Q = am.random_rate_matrix(d, rng)
    J1, J2 = rng.standard_normal((2, d, d))
    S1, S2 = am.surrogate(Q, J1, t, order), am.surrogate(Q, J2, t, order)
    combined = am.surrogate(Q, alpha * J1 + beta * J2, t, order)
    scale = (abs(alpha) + abs(beta) + 1) * (np.linalg.norm(S1) + np.linalg.norm(S2) + 1)
    assert np.linalg.norm(combined - (alpha * S1 + beta * S2)) <= 1e-12 * scale


# ---------------------------------------------------------------- validation

def test_asymptotic_rejects_non_generator(rng):
    Q = rng.standard_normal((5, 5))
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.surrogate(Q, np.eye(5), 1.0, order="asymptotic")


def test_asymptotic_action_rejects_reducible_generator(rng):
    Q = sp.block_diag([am.random_rate_matrix(3, rng), am.random_rate_matrix(2, rng)])
    with pytest.raises(ValueError, match="reducible"):
        am.surrogate_action(Q, np.eye(5), np.ones(5), 1.0, order="asymptotic")


def test_first_order_accepts_non_generator(rng):
    Q = rng.standard_normal((5, 5))
    assert am.surrogate(Q, np.eye(5), 1.0, order=1).shape == (5, 5)


@pytest.mark.parametrize("order", [2, "first", True, 1.0, None])
def test_rejects_unknown_order(order, rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="order must be one of"):
        am.surrogate(Q, np.eye(4), 1.0, order=order)
    with pytest.raises(ValueError, match="order must be one of"):
        am.surrogate_action(Q, np.eye(4), np.ones(4), 1.0, order=order)


def test_rejects_negative_time(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="t must be >= 0"):
        am.surrogate(Q, np.eye(4), -0.1)
    with pytest.raises(ValueError, match="t must be >= 0"):
        am.surrogate_action(Q, np.eye(4), np.ones(4), [-1.0, 1.0])


def test_rejects_decreasing_times(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="strictly increasing"):
        am.surrogate_action(Q, np.eye(4), np.ones(4), [1.0, 0.5])


def test_rejects_direction_of_wrong_shape(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="J must have the shape"):
        am.surrogate(Q, np.eye(3), 1.0)


def test_action_rejects_vector_of_wrong_length(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="b must have shape"):
        am.surrogate_action(Q, np.eye(4), np.ones(3), 1.0)


def test_action_rejects_solver_of_wrong_shape(rng):
    Q = am.random_rate_matrix(4, rng)
    solver = am.GroupInverseSolver(am.random_rate_matrix(5, rng))
    with pytest.raises(ValueError, match="solver was built for shape"):
        am.surrogate_action(Q, np.eye(4), np.ones(4), 1.0, order="asymptotic", solver=solver)


def test_asymptotic_surrogate_rejects_unknown_inverse(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="inverse must be one of"):
        am.asymptotic_surrogate(Q, np.eye(4), 1.0, inverse="drazin-ish")


def test_asymptotic_surrogate_rejects_bad_sign(rng):
    Q = am.random_rate_matrix(4, rng)
    with pytest.raises(ValueError, match="constant_sign"):
        am.asymptotic_surrogate(Q, np.eye(4), 1.0, constant_sign=2)
