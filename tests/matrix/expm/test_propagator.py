"""Propagator backends against dense ``expm``, ``expm_multiply`` and ``expm_frechet``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from advdiff_sens.matrix import count_products, expm_action, expm_pair_action
from advdiff_sens.matrix.expm.chebyshev import (
    ToleranceUnreachable,
    field_of_values_enclosure,
    select_schedule,
)
from advdiff_sens.matrix import BACKENDS, Propagator

CHEB_TOL = 1e-10


def periodic_diff(n: int, h: float) -> tuple[sp.csr_array, sp.csr_array]:
    """Central first and second differences on a periodic 1-D grid."""
    e = np.ones(n)
    d1 = sp.diags_array([-e[:-1], e[:-1], [-1.0], [1.0]], offsets=[-1, 1, n - 1, -(n - 1)])
    d2 = sp.diags_array([e[:-1], -2 * e, e[:-1], [1.0], [1.0]],
                        offsets=[-1, 0, 1, n - 1, -(n - 1)])
    return sp.csr_array(d1 / (2 * h)), sp.csr_array(d2 / h**2)


def advection_diffusion_1d(n: int, kappa: float, speed: np.ndarray | float) -> sp.csr_array:
    """``kappa d2 - diag(u) d1`` with central differences on the periodic unit interval."""
    d1, d2 = periodic_diff(n, 1.0 / n)
    u = np.broadcast_to(np.asarray(speed, dtype=float), (n,))
    return sp.csr_array(kappa * d2 - sp.diags_array(u) @ d1)


def cellular_2d(n: int, kappa: float) -> tuple[sp.csr_array, sp.csr_array, np.ndarray]:
    """A small R2: cellular flow on the periodic unit square, its J for v and theta0."""
    d1, d2 = periodic_diff(n, 1.0 / n)
    eye = sp.eye_array(n)
    dx, dy = sp.kron(d1, eye), sp.kron(eye, d1)
    lap = sp.kron(d2, eye) + sp.kron(eye, d2)
    x, y = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    ux = (np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y)).ravel()
    uy = (-np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)).ravel()
    L = kappa * lap - sp.diags_array(ux) @ dx - sp.diags_array(uy) @ dy
    J = -sp.diags_array(np.cos(2 * np.pi * y).ravel()) @ dx \
        - sp.diags_array(np.sin(2 * np.pi * x).ravel()) @ dy
    theta0 = np.exp(-((x - 0.3) ** 2 + (y - 0.5) ** 2) / 0.01).ravel()
    return sp.csr_array(L), sp.csr_array(J), theta0


def rel(x, ref) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def expm_ref(A, b, t):
    A = A.toarray() if sp.issparse(A) else A
    return sla.expm(t * A) @ b


def cases():
    rng = np.random.default_rng(1)
    n = 48
    grid = np.arange(n) / n
    yield "high_peclet", advection_diffusion_1d(n, 1e-4, 1.0 + 0.5 * np.sin(2 * np.pi * grid)), 1.0
    yield "stiff_diffusion", advection_diffusion_1d(n, 1.0, 0.3), 1.0   # kappa T / h^2 = 2304
    nonnormal = np.triu(rng.standard_normal((30, 30)), 1) * 3 - 2 * np.eye(30)
    yield "nonnormal_dense", nonnormal, 1.5
    rates = rng.exponential(size=(25, 25))
    np.fill_diagonal(rates, 0.0)
    yield "rate_matrix", rates - np.diag(rates.sum(axis=1)), 2.0
    skew = rng.standard_normal((20, 20)) + 1j * rng.standard_normal((20, 20))
    yield "complex_skew_hermitian", 1j * (skew + skew.conj().T) / 2, 1.0
    yield "complex_general", rng.standard_normal((20, 20)) + 1j * rng.standard_normal((20, 20)), 0.7


CASES = list(cases())


@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.AccuracyWarning")  # non-normal growth
@pytest.mark.parametrize("backend", BACKENDS.names())
@pytest.mark.parametrize("name,A,t", CASES, ids=[c[0] for c in CASES])
def test_matches_dense_expm(backend, name, A, t):
    rng = np.random.default_rng(2)
    b = rng.standard_normal(A.shape[0])
    x = expm_action(A, b, t, backend=backend, tol=CHEB_TOL)
    assert rel(x, expm_ref(A, b, t)) <= 10 * CHEB_TOL


@pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.AccuracyWarning")  # non-normal growth
@pytest.mark.parametrize("name,A,t", CASES, ids=[c[0] for c in CASES])
def test_chebyshev_matches_expm_multiply(name, A, t):
    b = np.cos(np.arange(A.shape[0]))
    ref = spla.expm_multiply(t * sp.csr_array(A), b.astype(np.result_type(A, b)))
    assert rel(expm_action(sp.csr_array(A), b, t, backend="chebyshev", tol=CHEB_TOL),
               ref) <= 10 * CHEB_TOL


def test_small_r2_both_backends_agree():
    L, _, theta0 = cellular_2d(16, 0.01)
    x = expm_action(L, theta0, 1.0, backend="chebyshev", tol=1e-12)
    assert rel(x, expm_action(L, theta0, 1.0, backend="scipy")) <= 1e-11
    assert rel(x, expm_ref(L, theta0, 1.0)) <= 1e-11


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-8, 1e-10, 1e-12])
@pytest.mark.parametrize("name", ["high_peclet", "stiff_diffusion", "rate_matrix"])
def test_tolerance_honoured(name, tol):
    A, t = next((c[1], c[2]) for c in CASES if c[0] == name)
    b = np.exp(-np.linspace(-3, 3, A.shape[0]) ** 2)
    ref = expm_ref(A, b, t)
    x = expm_action(A, b, t, backend="chebyshev", tol=tol)
    assert np.linalg.norm(x - ref) <= tol * np.linalg.norm(b)


def test_tolerance_honoured_on_small_r2():
    L, _, theta0 = cellular_2d(24, 0.01)
    ref = expm_ref(L, theta0, 1.0)
    for tol in (1e-4, 1e-8):
        assert rel(expm_action(L, theta0, 1.0, backend="chebyshev", tol=tol), ref) <= tol


@pytest.mark.parametrize("backend", BACKENDS.names())
def test_time_zero_returns_b(backend):
    A = advection_diffusion_1d(16, 0.1, 1.0)
    b = np.arange(16.0)
    np.testing.assert_array_equal(expm_action(A, b, 0.0, backend=backend), b)
    x, y = expm_pair_action(A, A, b, 0.0, backend=backend)
    np.testing.assert_array_equal(x, b)
    np.testing.assert_array_equal(y, np.zeros(16))


@pytest.mark.parametrize("backend", BACKENDS.names())
def test_blocks_and_several_times(backend):
    A = advection_diffusion_1d(40, 0.05, 2.0)
    rng = np.random.default_rng(3)
    b = rng.standard_normal((40, 3)) + 1j * rng.standard_normal((40, 3))
    times = np.array([0.0, 0.01, 0.3, 0.31, 1.7])
    out = expm_action(A, b, times, backend=backend, tol=CHEB_TOL)
    assert out.shape == (5, 40, 3)
    for j, t in enumerate(times):
        assert rel(out[j], expm_ref(A, b, t)) <= 10 * CHEB_TOL


def test_many_times_dense_output_matches_single_solves():
    L, _, theta0 = cellular_2d(12, 0.01)
    times = np.linspace(0.05, 2.0, 40)
    out = expm_action(L, theta0, times, backend="chebyshev", tol=1e-11)
    for j in (0, 7, 23, 39):
        assert rel(out[j], expm_ref(L, theta0, times[j])) <= 1e-10


def test_dense_and_sparse_input_agree():
    A = advection_diffusion_1d(30, 0.02, 1.0)
    b = np.sin(np.arange(30.0))
    np.testing.assert_allclose(expm_action(A, b, 0.8), expm_action(A.toarray(), b, 0.8),
                               rtol=0, atol=1e-11)


def frechet_ref(Q, J, b, t):
    Q = Q.toarray() if sp.issparse(Q) else Q
    J = J.toarray() if sp.issparse(J) else J
    expm, frechet = sla.expm_frechet(t * Q, t * J)
    return expm @ b, frechet @ b


@pytest.mark.parametrize("backend", BACKENDS.names())
@pytest.mark.parametrize("kind", ["real_sparse", "real_dense", "complex"])
def test_pair_matches_expm_frechet(backend, kind):
    L, J, theta0 = cellular_2d(10, 0.01)
    if kind == "real_dense":
        L, J = L.toarray(), J.toarray()
    if kind == "complex":
        L, theta0 = L + 0.5j * sp.eye_array(L.shape[0]), theta0 * (1 + 0.5j)
    x, y = expm_pair_action(L, J, theta0, 0.7, backend=backend, tol=CHEB_TOL)
    x_ref, y_ref = frechet_ref(L, J, theta0, 0.7)
    assert rel(x, x_ref) <= 10 * CHEB_TOL
    assert rel(y, y_ref) <= 10 * CHEB_TOL


def test_pair_nonnormal_block_and_times():
    rng = np.random.default_rng(4)
    Q = np.triu(rng.standard_normal((20, 20)), 1) * 2 - np.eye(20)
    J = rng.standard_normal((20, 20))
    b = rng.standard_normal((20, 2))
    times = np.array([0.2, 0.9, 1.4])
    x, y = expm_pair_action(Q, J, b, times, backend="chebyshev", tol=CHEB_TOL)
    assert x.shape == y.shape == (3, 20, 2)
    for j, t in enumerate(times):
        x_ref, y_ref = frechet_ref(Q, J, b, t)
        assert rel(x[j], x_ref) <= 10 * CHEB_TOL
        assert rel(y[j], y_ref) <= 10 * CHEB_TOL


@pytest.mark.parametrize("tol", [1e-5, 1e-9])
def test_pair_tolerance_honoured(tol):
    L, J, theta0 = cellular_2d(16, 0.01)
    x, y = expm_pair_action(L, J, theta0, 1.0, backend="chebyshev", tol=tol)
    x_ref, y_ref = frechet_ref(L, J, theta0, 1.0)
    assert rel(x, x_ref) <= tol
    assert rel(y, y_ref) <= tol


def test_propagator_pair_reuses_the_cached_enclosure(monkeypatch):
    """``Propagator.apply_frechet`` equals ``expm_pair_action`` and computes the enclosure of
    its operator once, however many tangents it propagates."""
    from advdiff_sens.matrix.expm import operator

    L, J, theta0 = cellular_2d(10, 0.01)
    propagator = Propagator(L, backend="chebyshev", tol=CHEB_TOL)
    calls = []
    original = operator.field_of_values_enclosure
    monkeypatch.setattr(operator, "field_of_values_enclosure",
                        lambda A: calls.append(1) or original(A))
    with count_products() as counter:
        x, (y,) = propagator.apply_frechet([J], theta0, 0.7)
        x2, (y2,) = propagator.apply_frechet([2.0 * J], theta0, [0.3, 0.7])
    assert len(calls) == 1 and counter.products > 0            # the Chebyshev path ran
    x_ref, y_ref = expm_pair_action(L, J, theta0, 0.7, backend="chebyshev", tol=CHEB_TOL)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(y2[1], 2.0 * y_ref, rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(x2[1], x_ref, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("b_size, j_size", [(1e-200, 1.0), (1e200, 1.0), (1.0, 1e-190),
                                             (1.0, 1e190), (1e-250, 1e250)])
def test_pair_is_scale_invariant(b_size, j_size):
    """The complex step scales b and J to unit size by powers of two: far from 1 (where a
    fixed step would leave the derivative subnormal) the tangent keeps its accuracy."""
    L, J, theta0 = cellular_2d(10, 0.01)
    x_ref, y_ref = expm_pair_action(L, J, theta0, 0.7, backend="chebyshev", tol=CHEB_TOL)
    x, y = expm_pair_action(L, j_size * J, b_size * theta0, 0.7, backend="chebyshev",
                            tol=CHEB_TOL)
    assert rel(x / b_size, x_ref) <= 1e-13
    assert rel(y / (b_size * j_size), y_ref) <= 1e-13


def test_several_directions_share_the_pair_schedule():
    """p directions: the arrow system on the grown enclosure costs the pair's number of
    terms (each product of size (p+1)d), and each derivative matches its own pair."""
    L, J, theta0 = cellular_2d(12, 0.01)
    propagator = Propagator(L, backend="chebyshev", tol=CHEB_TOL)
    directions = [J, 1e3 * J.T, sp.diags_array(np.linspace(0.0, 1.0, L.shape[0])) @ J]
    with count_products() as pair_count:
        _, (y0,) = propagator.apply_frechet([directions[0]], theta0, 0.7)
    with count_products() as arrow_count:
        x, ys = propagator.apply_frechet(directions, theta0, [0.3, 0.7])
    assert arrow_count.products <= 1.1 * pair_count.products
    for J_i, y in zip(directions, ys):
        x_ref, y_ref = frechet_ref(L, J_i, theta0, 0.7)
        assert rel(y[1], y_ref) <= 10 * CHEB_TOL
    assert rel(x[1], x_ref) <= 10 * CHEB_TOL
    assert rel(ys[0, 1], y0) <= 10 * CHEB_TOL


def test_auto_skips_the_schedule_search_for_small_problems(monkeypatch):
    """"auto" goes straight to expm_multiply when its whole run is cheaper than the search
    (model products x nnz < 2e6), and searches above that."""
    from advdiff_sens.matrix.expm import backends
    from advdiff_sens.matrix.norms import shifted_norm1

    searches = []
    original = backends.select_schedule
    monkeypatch.setattr(backends, "select_schedule",
                        lambda *args: searches.append(1) or original(*args))
    small, _, b_small = cellular_2d(10, 0.01)
    with count_products() as counter:
        x = expm_action(small, b_small, 1.0)
    assert searches == [] and counter.products == 0
    assert rel(x, expm_ref(small, b_small, 1.0)) <= 1e-13
    large, _, b_large = cellular_2d(64, 0.01)
    assert 2 * shifted_norm1(large) * large.nnz > 2e6     # AutoBackend's search threshold
    with count_products() as counter:
        expm_action(large, b_large, 1.0)
    assert searches and counter.products > 0


def test_bad_arguments():
    A = advection_diffusion_1d(8, 0.1, 1.0)
    b = np.ones(8)
    with pytest.raises(ValueError, match="backend must be one of"):
        expm_action(A, b, 1.0, backend="nope")
    with pytest.raises(ValueError, match="tol must be > 0"):
        expm_action(A, b, 1.0, tol=0.0)
    with pytest.raises(ValueError, match="tol must be < 1"):
        expm_action(A, b, 1.0, tol=2.0)
    with pytest.raises(ValueError, match="b must have shape"):
        expm_action(A, np.ones(7), 1.0)
    with pytest.raises(ValueError, match="J must have the shape"):
        expm_pair_action(A, np.eye(3), b, 1.0)


def test_uncertifiable_tol_falls_back_to_scipy():
    A = advection_diffusion_1d(24, 0.05, 1.0)
    b = np.sin(np.arange(24.0))
    with pytest.raises(ToleranceUnreachable):
        select_schedule(field_of_values_enclosure(A), 1.0, 1e-17)
    assert rel(expm_action(A, b, 1.0, tol=1e-17), expm_ref(A, b, 1.0)) <= 1e-13
    _, y = expm_pair_action(A, 0.5 * A, b, 1.0, tol=1e-17)
    assert rel(y, frechet_ref(A, 0.5 * A, b, 1.0)[1]) <= 1e-13


def test_strongly_nonnormal_upwind_generator():
    """W(A) reaches far into the right half-plane (beta * t ~ 60) while exp(tA) is a
    contraction in the maximum norm: no cancellation blow-up, maximum principle kept."""
    n = 60
    rng = np.random.default_rng(5)
    u = rng.uniform(0.05, 1.0, n) * 2 * n          # cell Peclet up to 20 for kappa = 1/(40 n)
    h = 1.0 / n
    back = sp.diags_array([np.ones(n), -np.ones(n - 1), [-1.0]], offsets=[0, -1, n - 1]) / h
    A = sp.csr_array(periodic_diff(n, h)[1] / (40 * n) - sp.diags_array(u) @ back)
    b = rng.uniform(0.2, 0.9, n)
    for backend, t in [("auto", 0.05), ("auto", 0.5), ("chebyshev", 0.05)]:
        x = expm_action(A, b, t, backend=backend, tol=CHEB_TOL)
        assert rel(x, expm_ref(A, b, t)) <= 10 * CHEB_TOL
        assert x.min() >= b.min() - 1e-12 and x.max() <= b.max() + 1e-12
