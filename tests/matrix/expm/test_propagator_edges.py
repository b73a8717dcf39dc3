"""Propagators at the edges (issue 12, items 1, 2 and 8): no silent NaN at moderate times,
bounded and announced work, the stationary limit, empty and huge inputs, real symmetric
input on the Chebyshev path, and routing by the requested tolerance."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp

import advdiff_sens as ads
from advdiff_sens import matrix as am
from advdiff_sens.exceptions import (AccuracyWarning, NonFiniteResultError, PhysicsWarning,
                                     WorkLimitExceeded)
from advdiff_sens.matrix import BACKENDS, DEFAULT_TOL
from advdiff_sens.matrix.expm import scipy_error_model
from advdiff_sens.matrix.expm.backends import SCIPY_CHUNK_PRODUCTS
from advdiff_sens.matrix.norms import norm2_bound
from advdiff_sens.matrix.expm.chebyshev import MAX_LOG_GROWTH
from advdiff_sens.progress import Progress
from advdiff_sens.problems import r2_problem

TOL = DEFAULT_TOL
# R2 below 50² has cell Péclet > 1 with central differences (deliberately: the reported
# defects were found there)
pytestmark = pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.PhysicsWarning")


def _quiet_r2(n: int, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)   # R2 at 16², 32²: cell Péclet > 1
        problem = r2_problem(n, **options)
        problem.model.generator(problem.u)
    return problem


class Recorder:
    """A progress meter that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[int] = []
        self.closed = False

    def update(self, done: int, extra: str = "") -> None:
        self.reports.append(done)

    def close(self) -> None:
        self.closed = True


# --- item 1: NaN at moderate times -------------------------------------------------------

@pytest.mark.parametrize("n, t", [(16, 80.0), (32, 7.0), (64, 10.0)])
def test_r2_default_backend_is_finite_and_accurate_at_moderate_times(n, t):
    # before: one Chebyshev step of degree ~1257 whose basis grew like e^818 -> all NaN
    problem = _quiet_r2(n)
    model, u, theta0 = problem.model, problem.u, problem.theta0
    plan = model.plan_solve(u, t)
    assert plan.backend == "chebyshev"
    assert plan.schedule.degree * plan.schedule.log_r <= MAX_LOG_GROWTH
    theta = model.solve(u, theta0, t)
    reference = ads.AdvectionDiffusion(model.grid, model.kappa, backend="scipy").solve(
        u, theta0, t)
    norm1 = model.propagator(u).operator.shifted_norm1
    bound = (TOL + scipy_error_model(norm1, t)) * np.linalg.norm(theta0)
    assert np.all(np.isfinite(theta))
    assert np.linalg.norm(theta - reference) <= bound


def test_two_output_times_are_both_finite():
    problem = _quiet_r2(64)
    both = problem.model.solve(problem.u, problem.theta0, [1.0, 10.0])
    assert np.all(np.isfinite(both))
    first = problem.model.solve(problem.u, problem.theta0, 1.0)
    assert np.linalg.norm(both[0] - first) <= 2 * TOL * np.linalg.norm(problem.theta0)


def test_tangent_and_gradient_are_finite_at_moderate_times():
    problem = _quiet_r2(32)
    model, u, theta0, t = problem.model, problem.u, problem.theta0, 7.0
    x, y = model.grid.coords
    v = np.stack([np.cos(2 * np.pi * y), np.sin(2 * np.pi * x)])
    rho = model.tangent(u, theta0, v, t)
    reference = ads.AdvectionDiffusion(model.grid, model.kappa, backend="scipy").tangent(
        u, theta0, v, t)
    assert np.all(np.isfinite(rho))
    J = model.generator_derivative(u, v)
    scale = t * norm2_bound(J) * np.linalg.norm(theta0)   # the tangent's scale
    assert np.linalg.norm(rho - reference) <= 10 * TOL * scale
    value, grad = model.gradient(u, theta0, lambda th: (0.5 * np.sum(th ** 2), th), t)
    assert np.all(np.isfinite(grad)) and np.isfinite(value)
    theta = model.solve(u, theta0, t)
    assert np.sum(grad * v) == pytest.approx(np.sum(theta * rho), rel=1e-8)


def test_a_solution_that_leaves_the_double_range_is_an_error_not_inf():
    for backend in BACKENDS.names():
        with pytest.raises(NonFiniteResultError, match="double-precision range"):
            am.expm_action(np.array([[800.0]]), np.ones(1), 1.0, backend=backend)
    with pytest.raises(NonFiniteResultError):
        am.expm_frechet_action(np.array([[800.0]]), np.ones((1, 1)), np.ones(1), 1.0)


# --- item 8: edge inputs at the matrix level ------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS.names())
def test_huge_and_tiny_vectors_are_rescaled_exactly(backend):
    problem = _quiet_r2(20)
    L = problem.model.generator(problem.u)
    b = problem.theta0.ravel()
    base = am.expm_action(L, b, 0.5, backend=backend)
    for power in (990, -990):                          # |b| ~ 1e298 and ~ 1e-299
        scaled = am.expm_action(L, b * 2.0 ** power, 0.5, backend=backend)
        np.testing.assert_array_equal(scaled, base * 2.0 ** power)


def test_empty_matrix_gives_empty_results_like_scipy():
    empty = np.zeros((0, 0))
    assert am.expm_action(empty, np.zeros(0), 1.0).shape == (0,)
    assert am.expm_action(sp.csr_array((0, 0)), np.zeros((0, 2)), [0.5, 1.0]).shape == (2, 0, 2)
    assert am.expm_frechet_action(empty, empty, np.zeros(0), 1.0).shape == (0,)
    x, ys = am.expm_frechet_actions(empty, [empty, empty], np.zeros(0), [0.5, 1.0])
    assert x.shape == (2, 0) and ys.shape == (2, 2, 0)


# Burkardt's test matrices 1, 2 and 11 (as in scipy's TestExpM), scaled identities, 1x1,
# diagonal and symmetric matrices: a zero-height enclosure used to give a complex centre.
_REAL_SYMMETRIC = {
    "burkardt 1": np.array([[1.0, 0.0], [0.0, 2.0]]),
    "burkardt 2": np.array([[1.0, 3.0], [3.0, 2.0]]),
    "burkardt 11": np.array([[29.87942128909879, 0.7815750847907159, -2.289519314033932],
                             [0.7815750847907159, 25.72656945571064, 8.680737820540137],
                             [-2.289519314033932, 8.680737820540137, 34.39400925519054]]),
    "scaled identity": 2.5 * np.eye(4),
    "1x1": np.array([[-3.0]]),
    "diagonal": np.diag([-1.0, -2.0, 3.0]),
}


@pytest.mark.parametrize("name", sorted(_REAL_SYMMETRIC))
def test_real_symmetric_input_on_the_chebyshev_path_is_warning_free(name):
    A = _REAL_SYMMETRIC[name]
    b = np.linspace(1.0, 2.0, A.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # ComplexWarning before the fix
        x = am.expm_action(A, b, 0.1, backend="chebyshev")
        y = am.expm_frechet_action(A, np.ones_like(A), b, 0.1, backend="chebyshev")
    assert x.dtype == np.float64 and y.dtype == np.float64
    growth = np.exp(0.1 * max(np.linalg.eigvalsh(A).max(), 0.0))   # Γ of the bound
    assert np.linalg.norm(x - sl.expm(0.1 * A) @ b) <= TOL * growth ** 2 * np.linalg.norm(b)


def _unitary_case(t: float):
    """A skew-Hermitian 6×6 generator with ‖A‖₂ = 3.9, a vector, and exp(tA)b exactly."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))
    A = (X - X.conj().T) / 2
    A *= 3.9 / np.linalg.norm(A, 2)
    b = rng.standard_normal(6) + 0j
    w, V = np.linalg.eigh(1j * A)
    return A, b, V @ (np.exp(-1j * t * w) * (V.conj().T @ b))


def test_long_unitary_evolution_is_routed_to_the_path_that_meets_tol():
    A, b, exact = _unitary_case(100.0)
    norm1 = am.Propagator(A).operator.shifted_norm1
    assert scipy_error_model(norm1, 100.0) > TOL          # expm_multiply may miss
    plan = am.Propagator(A).plan(100.0)
    assert plan.backend == "chebyshev" and plan.error_bound == TOL
    x = am.expm_action(A, b, 100.0)
    assert np.linalg.norm(x - exact) <= TOL * np.linalg.norm(b)     # β = 0: rigorous


def test_uncertifiable_tolerance_warns_with_the_bound_it_meets():
    A, b, exact = _unitary_case(1000.0)
    plan = am.Propagator(A).plan(1000.0)
    assert plan.error_bound > TOL
    with pytest.warns(AccuracyWarning, match="cannot be certified"):
        x = am.expm_action(A, b, 1000.0)
    assert np.linalg.norm(x - exact) <= plan.error_bound * np.linalg.norm(b)


def test_growth_of_a_non_conserving_generator_is_reported():
    grid = ads.Grid((12, 12), (1.0, 1.0), "neumann")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        model = ads.AdvectionDiffusion(grid, 0.092, "central")
        u = 39.7 * np.stack([np.sin(2 * np.pi * grid.coords[0]) * np.cos(2 * np.pi * grid.coords[1]),
                             -np.cos(2 * np.pi * grid.coords[0]) * np.sin(2 * np.pi * grid.coords[1])])
        warnings.simplefilter("ignore", AccuracyWarning)    # tol cannot be certified either
        with pytest.warns(AccuracyWarning, match="grew by a factor"):
            model.solve(u, np.ones(grid.shape), 10.0)


# --- item 2: bounded, announced work and the stationary limit -------------------------------

def test_plan_tells_the_products_before_any_is_made():
    problem = _quiet_r2(64)
    with am.count_products() as counter:
        plan = problem.model.plan_solve(problem.u, 1.0)
    assert counter.products == 0
    with am.count_products() as counter:
        problem.model.solve(problem.u, problem.theta0, 1.0)
    assert plan.backend == "chebyshev" and counter.products == plan.products
    assert str(plan).startswith("chebyshev: ")


def test_max_products_stops_solve_tangent_and_gradient_before_they_start():
    base = _quiet_r2(32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        model = ads.AdvectionDiffusion(base.model.grid, 0.01, max_products=50)
    u, theta0 = base.u, base.theta0
    with am.count_products() as counter:
        with pytest.raises(WorkLimitExceeded, match="max_products = 50"):
            model.solve(u, theta0, 1.0)
        with pytest.raises(WorkLimitExceeded):
            model.tangent(u, theta0, u, 1.0)
        with pytest.raises(WorkLimitExceeded):
            model.gradient(u, theta0, lambda th: (0.5 * np.sum(th ** 2), th), 1.0,
                           adjoint="discrete")
    assert counter.products == 0
    with pytest.raises(ValueError, match="max_products"):
        ads.AdvectionDiffusion(base.model.grid, 0.01, max_products=0)


@pytest.mark.timeout(60)
def test_long_time_returns_the_certified_mean_of_a_conserving_scheme():
    # before: t = 1e4 at 16² took 34 s on both backends; t = 1e6 ran for minutes
    problem = _quiet_r2(16)
    model, u, theta0 = problem.model, problem.u, problem.theta0
    plan = model.plan_solve(u, 1e6)
    assert plan.stationary == "mean"                 # central, divergence free: Pe 3 > 1
    with am.count_products() as counter:
        theta = model.solve(u, theta0, [1.0, 1e4, 1e6])
    assert counter.products < plan.products / 100
    mean = theta0.mean()
    for late in theta[1:]:
        assert np.linalg.norm(late - mean) <= TOL * np.linalg.norm(theta0)
    early = model.solve(u, theta0, 1.0)
    assert np.linalg.norm(theta[0] - early) <= 2 * TOL * np.linalg.norm(theta0)


@pytest.mark.timeout(60)
def test_long_time_returns_the_stationary_distribution_of_a_rate_matrix():
    problem = _quiet_r2(24, scheme="upwind")
    model, u, theta0 = problem.model, problem.u, problem.theta0
    L = model.generator(u)
    assert am.is_rate_matrix(L) and model.plan_solve(u, 1e5).stationary == "interval"
    theta = model.solve(u, theta0, 1e5)
    pi = am.stationary_distribution(L)
    limit = float(pi @ theta0.ravel())             # θ(∞) = 1 πᵀθ0
    residual = np.abs(pi @ L).max() / np.abs(L).max()   # accuracy of the computed π
    assert np.linalg.norm(theta - limit) <= (TOL + 10 * residual) * np.linalg.norm(theta0)


def test_stationary_route_keeps_time_zero_and_complex_vectors():
    Q = np.array([[-1.0, 1.0], [2.0, -2.0]])          # π = (2/3, 1/3)
    prop = am.Propagator(Q)
    b = np.array([1.0, 0.0])
    assert prop.plan(1e6).stationary == "interval"
    x = prop.apply(b, [0.0, 1.0, 1e6])
    np.testing.assert_array_equal(x[0], b)             # t = 0 was shifted before
    assert np.linalg.norm(x[1] - sl.expm(Q) @ b) <= TOL * np.sqrt(2)
    z = prop.apply(np.array([1.0 + 1.0j, 1.0 + 0.0j]), 1e6)   # real part already constant
    assert np.abs(z - (1.0 + 2.0j / 3.0)).max() <= TOL * np.sqrt(2)


def test_dirichlet_generator_is_probed_for_decay_to_zero():
    grid = ads.Grid((16, 16), (1.0, 1.0), "dirichlet")
    model = ads.AdvectionDiffusion(grid, 0.01, "exponential")
    assert model.plan_solve(np.zeros((2, 16, 16)), 1e6).stationary == "sub-interval"
    theta = model.solve(np.zeros((2, 16, 16)), np.ones(grid.shape), [1.0, 1e6])
    assert np.linalg.norm(theta[1]) <= TOL * grid.n ** 0.5 and np.all(theta[0] > 0.0)


def test_progress_meter_sees_the_products_of_a_solve():
    problem = _quiet_r2(32)
    meter = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        model = ads.AdvectionDiffusion(problem.model.grid, 0.01, progress=meter)
    plan = model.plan_solve(problem.u, 7.0)
    model.solve(problem.u, problem.theta0, 7.0)
    assert not meter.closed                       # a meter the user passed stays theirs
    assert len(meter.reports) >= plan.products // 64 - plan.schedule.steps
    assert meter.reports == sorted(meter.reports) and meter.reports[-1] <= plan.products


def test_auto_progress_is_silent_for_short_solves_and_a_line_otherwise(capsys):
    problem = _quiet_r2(16)
    problem.model.solve(problem.u, problem.theta0, 1.0)
    assert capsys.readouterr().err == ""
    stream = io.StringIO()
    meter = Progress(1000, "exp(tA)b", stream=stream)
    am.Propagator(problem.model.generator(problem.u), backend="chebyshev",
                  progress=meter).apply(problem.theta0.ravel(), 7.0)
    assert "exp(tA)b" in stream.getvalue()


def test_long_scipy_solves_run_in_chunks_that_report_progress():
    problem = _quiet_r2(16)
    L = problem.model.generator(problem.u)
    b, t = problem.theta0.ravel(), 2000.0
    meter = Recorder()
    plan = am.Propagator(L, backend="scipy").plan(t)
    assert plan.products > 2 * SCIPY_CHUNK_PRODUCTS
    stepped = am.Propagator(L, backend="scipy", progress=meter).apply(b, t)
    whole = am.Propagator(L, backend="scipy", progress=False).apply(b, t)
    assert len(meter.reports) >= plan.products // SCIPY_CHUNK_PRODUCTS
    bound = 2 * scipy_error_model(plan.products / (2 * t), t) * np.linalg.norm(b)
    assert np.linalg.norm(stepped - whole) <= bound


def test_progress_argument_is_validated():
    with pytest.raises(ValueError, match="progress"):
        am.Propagator(np.eye(2), progress="sometimes")
    with pytest.raises(TypeError, match="progress"):
        am.Propagator(np.eye(2), progress=3)
