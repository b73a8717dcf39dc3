"""Fréchet derivative of exp(tQ): the fast action, the dense derivative, the note's three
reference representations (1.3)-(1.5), and validation.

Tolerance 1e-10 (relative, Frobenius) against ``scipy.linalg.expm_frechet``: both are
backward-stable methods whose error is a modest multiple of machine epsilon times the
condition of the problem (measured ~1e-15 here); 1e-10 is the accuracy contract of
DESIGN.md §5.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from advdiff_sens import matrix as am
from advdiff_sens.matrix.expm.pair import direction_scale

CONTRACT = 1e-10


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def random_pair(d: int, rng, *, complex_: bool, kind: str = "gaussian"):
    if kind == "rate":
        Q = am.random_rate_matrix(d, rng)
    else:
        Q = rng.standard_normal((d, d))
    J = rng.standard_normal((d, d))
    if complex_:
        Q = Q + 1j * rng.standard_normal((d, d))
        J = J + 1j * rng.standard_normal((d, d))
    return Q, J


@pytest.mark.parametrize("d", [3, 17, 40])
@pytest.mark.parametrize("t", [0.05, 1.0, 4.0])
@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("backend", ["scipy", "chebyshev"])
def test_action_matches_expm_frechet(d, t, complex_, sparse, backend, rng):
    Q, J = random_pair(d, rng, complex_=complex_)
    b_vec = rng.standard_normal(d)
    b_blk = rng.standard_normal((d, 3))
    exact = am.expm_frechet(Q, J, t)
    Qa, Ja = (sp.csr_array(Q), sp.csr_array(J)) if sparse else (Q, J)
    assert rel(am.expm_frechet_action(Qa, Ja, b_vec, t, backend=backend),
               exact @ b_vec) <= CONTRACT
    assert rel(am.expm_frechet_action(Qa, Ja, b_blk, t, backend=backend),
               exact @ b_blk) <= CONTRACT


@pytest.mark.parametrize("d", [10, 30])
@pytest.mark.parametrize("t", [0.1, 2.0, 10.0])
@pytest.mark.parametrize("backend", ["scipy", "chebyshev"])
def test_action_on_rate_matrices_at_long_times(d, t, backend, rng):
    """t*||Q|| up to ~600: the regime of Theorem 2.1."""
    Q, J = random_pair(d, rng, complex_=False, kind="rate")
    b = rng.standard_normal((d, 2))
    y = am.expm_frechet_action(Q, J, b, t, backend=backend)
    assert rel(y, am.expm_frechet(Q, J, t) @ b) <= CONTRACT


def test_skew_hermitian_generator(rng):
    d = 12
    H = rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d))
    A = 0.5 * (H - H.conj().T)
    K = rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d))
    J = 0.5 * (K - K.conj().T)
    b = rng.standard_normal(d) + 1j * rng.standard_normal(d)
    for t in (0.3, 5.0):
        y, x = am.expm_frechet_action(A, J, b, t, with_expm=True)
        assert rel(y, am.expm_frechet(A, J, t) @ b) <= CONTRACT
        assert abs(np.linalg.norm(x) - np.linalg.norm(b)) <= 1e-12 * np.linalg.norm(b)


def test_array_of_times(rng):
    d = 15
    Q, J = random_pair(d, rng, complex_=False)
    b = rng.standard_normal((d, 2))
    times = np.array([0.0, 0.2, 0.5, 1.7])
    y, x = am.expm_frechet_action(Q, J, b, times, with_expm=True)
    assert y.shape == x.shape == (4, d, 2)
    assert np.all(y[0] == 0.0) and np.allclose(x[0], b, rtol=0, atol=0)
    for k, t in enumerate(times[1:], start=1):
        frechet, expm = am.expm_frechet(Q, J, t, with_expm=True)
        assert rel(y[k], frechet @ b) <= CONTRACT
        assert rel(x[k], expm @ b) <= CONTRACT


def test_large_direction_is_scaled_exactly(rng):
    """||J|| >> ||Q||: the power-of-two scaling keeps the result at the contract."""
    d = 20
    Q, J = random_pair(d, rng, complex_=False)
    J = 1e8 * J
    eps = direction_scale(np.abs(Q).sum(0).max(), np.abs(J).sum(0).max())
    assert eps < 1 and np.log2(eps) == np.round(np.log2(eps))
    b = rng.standard_normal(d)
    assert rel(am.expm_frechet_action(Q, J, b, 1.5), am.expm_frechet(Q, J, 1.5) @ b) <= CONTRACT


def test_zero_generator_gives_t_times_direction(rng):
    d = 6
    J = rng.standard_normal((d, d))
    b = rng.standard_normal(d)
    y = am.expm_frechet_action(np.zeros((d, d)), J, b, 2.5)
    np.testing.assert_allclose(y, 2.5 * J @ b, rtol=1e-14)


# ---------------------------------------------------------------- reference representations

@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_sensitivity_ode_reference(t, rng):
    """(1.3) with DOP853 at rtol 1e-12: global error is rtol times an O(t||Q||) step count
    and the growth of ||exp(tQ)||, so 1e-9 is the method's accuracy, not a loosened bound."""
    Q, J = random_pair(8, rng, complex_=False)
    assert rel(am.frechet_ode_reference(Q, J, t), am.expm_frechet(Q, J, t)) <= 1e-9


def test_sensitivity_ode_reference_complex(rng):
    Q, J = random_pair(6, rng, complex_=True)
    assert rel(am.frechet_ode_reference(Q, J, 0.7), am.expm_frechet(Q, J, 0.7)) <= 1e-9


@pytest.mark.parametrize("t", [0.1, 1.0, 3.0])
def test_variation_of_constants_reference(t, rng):
    """(1.4) by 16-point Gauss-Legendre on panels of length 2/||Q||_1: exponential
    convergence to rounding level."""
    Q, J = random_pair(8, rng, complex_=True)
    assert rel(am.frechet_integral_reference(Q, J, t), am.expm_frechet(Q, J, t)) <= 1e-12


def test_variation_of_constants_reference_converges_with_nodes(rng):
    Q, J = random_pair(8, rng, complex_=False)
    exact = am.expm_frechet(Q, J, 1.0)
    errors = [rel(am.frechet_integral_reference(Q, J, 1.0, panels=1, nodes=n), exact)
              for n in (2, 4, 8)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] > 1e-4


@pytest.mark.parametrize("t_norm", [0.1, 1.0, 4.0])
def test_najfeld_havel_series_reference(t_norm, rng):
    """(1.5) in its regime t||Q||_1 <= 4: cancellation costs at most the largest term over
    the sum (< e^{2t||Q||}, measured far less), so the sum is good to ~1e-13."""
    Q, J = random_pair(8, rng, complex_=False)
    t = t_norm / np.abs(Q).sum(0).max()
    assert rel(am.frechet_series_reference(Q, J, t), am.expm_frechet(Q, J, t)) <= 1e-12


def test_najfeld_havel_series_fails_outside_its_regime(rng):
    """Documented limit: at t||Q||_1 ~ 160 the alternating series loses every digit (it
    either stops on a meaningless partial sum or overflows)."""
    Q = am.random_rate_matrix(30, rng)
    J = rng.standard_normal((30, 30))
    t = 160 / np.abs(Q).sum(0).max()
    try:
        series = am.frechet_series_reference(Q, J, t)
    except RuntimeError:
        return
    assert rel(series, am.expm_frechet(Q, J, t)) > 1e-2


# ---------------------------------------------------------------- linearity (property-based)

@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 12),
       alpha=st.floats(-10, 10, allow_nan=False), beta=st.floats(-10, 10, allow_nan=False),
       t=st.floats(0.0, 3.0, allow_nan=False))
@example(seed=0, d=2, alpha=0.0, beta=5e-324, t=1.0)      # subnormal direction (found once)
def test_action_is_linear_in_direction(seed, d, alpha, beta, t):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((d, d))
    J1, J2 = rng.standard_normal((2, d, d))
    b = rng.standard_normal(d)
    lhs = am.expm_frechet_action(Q, alpha * J1 + beta * J2, b, t)
    rhs = (alpha * am.expm_frechet_action(Q, J1, b, t)
           + beta * am.expm_frechet_action(Q, J2, b, t))
    scale = (abs(alpha) + abs(beta) + 1) * (np.linalg.norm(am.expm_frechet(Q, J1, t) @ b)
                                            + np.linalg.norm(am.expm_frechet(Q, J2, t) @ b) + 1)
    assert np.linalg.norm(lhs - rhs) <= CONTRACT * scale


# ---------------------------------------------------------------- validation

@pytest.fixture
def pair(rng):
    return rng.standard_normal((4, 4)), rng.standard_normal((4, 4)), rng.standard_normal(4)


def test_rejects_non_square_generator(pair):
    _, J, b = pair
    with pytest.raises(ValueError, match="Q must be square"):
        am.expm_frechet_action(np.ones((4, 3)), J, b, 1.0)


def test_rejects_direction_of_wrong_shape(pair):
    Q, _, b = pair
    with pytest.raises(ValueError, match="J must have the shape"):
        am.expm_frechet_action(Q, np.ones((3, 3)), b, 1.0)


def test_rejects_nan_in_direction(pair):
    Q, J, b = pair
    J[1, 2] = np.nan
    with pytest.raises(ValueError, match="J contains NaN"):
        am.expm_frechet_action(Q, J, b, 1.0)


def test_rejects_vector_of_wrong_length(pair):
    Q, J, _ = pair
    with pytest.raises(ValueError, match="b must have shape"):
        am.expm_frechet_action(Q, J, np.ones(5), 1.0)


def test_rejects_three_dimensional_vector(pair):
    Q, J, _ = pair
    with pytest.raises(ValueError, match="b must have shape"):
        am.expm_frechet_action(Q, J, np.ones((4, 2, 2)), 1.0)


def test_rejects_negative_time(pair):
    Q, J, b = pair
    with pytest.raises(ValueError, match="t must be >= 0"):
        am.expm_frechet_action(Q, J, b, -1.0)


def test_rejects_non_increasing_times(pair):
    Q, J, b = pair
    with pytest.raises(ValueError, match="strictly increasing"):
        am.expm_frechet_action(Q, J, b, [0.0, 1.0, 1.0])


def test_propagator_as_generator(pair):
    """A Propagator passed as Q gives the matrix's result, for one and several directions."""
    Q, J, b = pair
    Q = Q - 3.0 * np.eye(4)
    propagator = am.Propagator(Q)
    np.testing.assert_array_equal(am.expm_frechet_action(propagator, J, b, 0.8),
                                  am.expm_frechet_action(Q, J, b, 0.8))
    x, ys = am.expm_frechet_actions(propagator, [J, 2.0 * J], b, 0.8)
    x_ref, ys_ref = am.expm_frechet_actions(Q, [J, 2.0 * J], b, 0.8)
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-13, atol=0.0)
    np.testing.assert_allclose(x, x_ref, rtol=1e-13, atol=0.0)


def test_propagator_backend_conflict_is_an_error(pair):
    Q, J, b = pair
    with pytest.raises(ValueError, match="conflicts with the backend"):
        am.expm_frechet_action(am.Propagator(Q, backend="scipy"), J, b, 1.0, backend="auto")
    with pytest.raises(ValueError, match="conflicts with the backend"):
        am.expm_frechet_actions(am.Propagator(Q), [J, J], b, 1.0, backend="scipy")
    with pytest.raises(ValueError, match="backend must be one of"):
        am.expm_frechet_action(am.Propagator(Q), J, b, 1.0, backend="nope")


def test_backend_none_means_auto(pair):
    Q, J, b = pair
    Q = Q - 3.0 * np.eye(4)
    np.testing.assert_array_equal(am.expm_frechet_action(Q, J, b, 0.5, backend=None),
                                  am.expm_frechet_action(Q, J, b, 0.5, backend="auto"))


def test_propagator_settings_reach_the_arrow_system(pair):
    """Several directions are propagated with the Propagator's backend and tol: "scipy"
    makes no Chebyshev product, and a looser tol fewer of them."""
    Q, J, b = pair
    Q = Q - 3.0 * np.eye(4)
    counts = {}
    for backend, tol in [("scipy", 1e-12), ("chebyshev", 1e-12), ("chebyshev", 1e-4)]:
        with am.count_products() as counter:
            am.expm_frechet_actions(am.Propagator(Q, backend=backend, tol=tol),
                                    [J, 2.0 * J], b, 0.5)
        counts[backend, tol] = counter.products
    assert counts["scipy", 1e-12] == 0
    assert 0 < counts["chebyshev", 1e-4] < counts["chebyshev", 1e-12]



def test_rejects_unknown_backend(pair):
    Q, J, b = pair
    with pytest.raises(ValueError, match="backend"):
        am.expm_frechet_action(Q, J, b, 1.0, backend="nope")


def test_dense_derivative_rejects_array_time(pair):
    Q, J, _ = pair
    with pytest.raises(TypeError, match="t must be a real number"):
        am.expm_frechet(Q, J, np.array([1.0, 2.0]))


def test_rejects_string_generator(pair):
    _, J, b = pair
    with pytest.raises(TypeError, match="Q must be an array of numbers"):
        am.expm_frechet_action([["a", "b"], ["c", "d"]], J[:2, :2], b[:2], 1.0)


def test_sign_of_velocity_sensitivity_against_finite_differences():
    """Erratum in (4.6)/(4.7): with L(u) = k D2 - diag(u) D1 (1-D periodic central
    differences) the direction is J = dL/du[v] = -diag(v) D1, i.e. -v.grad(theta).
    Central differences with step 1e-6 have truncation ~1e-12 and rounding ~1e-10
    relative; the wrong sign is off by 200% (measured 2.0)."""
    n, k, T, step = 64, 0.01, 0.5, 1e-6
    h, x = 1.0 / n, np.arange(n) / n
    shift = np.roll(np.eye(n), 1, axis=1)
    D1, D2 = (shift - shift.T) / (2 * h), (shift + shift.T - 2 * np.eye(n)) / h**2
    u, v = 0.5 + 0.3 * np.sin(2 * np.pi * x), np.cos(2 * np.pi * x)
    theta0 = np.exp(-((x - 0.5) ** 2) / 0.01)

    def solve(w):
        return sla.expm(T * (k * D2 - np.diag(w) @ D1)) @ theta0

    fd = (solve(u + step * v) - solve(u - step * v)) / (2 * step)
    L = k * D2 - np.diag(u) @ D1
    assert rel(am.expm_frechet_action(L, -np.diag(v) @ D1, theta0, T), fd) <= 1e-7
    assert rel(am.expm_frechet_action(L, np.diag(v) @ D1, theta0, T), fd) > 1.0


def test_frechet_actions_several_directions_match_single_pairs():
    from advdiff_sens.matrix import expm_frechet_actions
    rng = np.random.default_rng(5)
    Q = am.random_rate_matrix(12, rng=rng)
    Js = [rng.standard_normal((12, 12)) * s for s in (1e-3, 1.0, 1e3)]   # scaling exercised
    b = rng.standard_normal(12)
    times = np.array([0.1, 0.4])
    x, ys = expm_frechet_actions(Q, Js, b, times)
    assert ys.shape == (3, 2, 12) and x.shape == (2, 12)
    for J, y in zip(Js, ys):
        for k, t in enumerate(times):
            expected = sla.expm_frechet(t * Q, t * J, compute_expm=False) @ b
            assert np.linalg.norm(y[k] - expected) <= 1e-10 * np.linalg.norm(expected)
    assert np.allclose(x[1], sla.expm(0.4 * Q) @ b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="at least one direction"):
        expm_frechet_actions(Q, [], b, 0.1)


def test_a_backend_name_matching_the_propagators_is_accepted():
    """A name names the kind of backend: the Propagator's own options (its tol) stand."""
    Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    J = np.array([[0.0, 1.0], [0.0, 0.0]])
    propagator = am.Propagator(Q, backend="chebyshev", tol=1e-8)
    y = am.expm_frechet_action(propagator, J, np.ones(2), 0.5, backend="chebyshev")
    np.testing.assert_array_equal(y, am.expm_frechet_action(propagator, J, np.ones(2), 0.5))
