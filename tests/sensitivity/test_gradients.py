"""Tangent, adjoint and surrogate velocity sensitivities, verified three ways."""

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.problems import cellular_flow, gaussian_blob
from advdiff_sens.exceptions import PlanUnavailable
from advdiff_sens.sensitivity import (AutoAdjoint, DiscreteAdjoint, QuadratureAdjoint,
                                      SurrogateAdjoint, SurrogateAdjointInfo, dot_test,
                                      finite_difference_check, taylor_test)

SHAPES = {1: (24,), 2: (14, 12)}


def make_problem(ndim, bc, scheme, rng, *, compressible=True, kappa=0.02, backend="auto"):
    grid = ads.Grid(SHAPES[ndim], bc=bc)
    model = ads.AdvectionDiffusion(grid, kappa=kappa, scheme=scheme, backend=backend)
    if ndim == 2 and not compressible:   # divergence free, |u_a| >= 0.3 (no upwind kinks)
        x, y = grid.coords
        u = np.stack([0.6 + 0.3 * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y),
                      -0.6 - 0.3 * np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)])
    else:
        u = 0.5 + 0.5 * rng.uniform(size=(ndim, *grid.shape))   # compressible, |u| >= 0.5
        u[0] *= np.sign(rng.standard_normal(grid.shape))        # both signs, no zeros
    theta0 = gaussian_blob(grid, [0.4] * ndim, 0.02) + 0.1 * rng.standard_normal(grid.shape)
    v = rng.standard_normal(u.shape)
    return model, u, theta0, v


@pytest.mark.parametrize("scheme", ["central", "upwind", "exponential"])
@pytest.mark.parametrize("bc", ["periodic", "neumann", "dirichlet"])
@pytest.mark.parametrize("ndim, compressible", [(1, True), (2, True), (2, False)])
@pytest.mark.parametrize("backend", ["auto", "chebyshev"])   # auto: expm_multiply this small
def test_tangent_against_finite_differences(scheme, bc, ndim, compressible, backend, rng):
    model, u, theta0, v = make_problem(ndim, bc, scheme, rng, compressible=compressible,
                                       backend=backend)
    times = np.array([0.1, 0.35])
    rho = model.tangent(u, theta0, v, times)
    if scheme == "upwind":   # stay on one side of every kink: step smaller than min |u|
        assert np.abs(u).min() > 1e-3
    err = finite_difference_check(lambda w: model.solve(w, theta0, times), u, v, rho, step=1e-4)
    # central difference: O(step^2 |θ'''|) ≈ 1e-8 truncation, rounding 1e-16/step ≈ 1e-12
    assert err <= 1e-6


def test_tangent_sign_of_equation_4_6(rng):
    # the derivative of −u·∇θ along v is −v·∇θ: ρ solves ρ' = Lρ − v·∇_hθ (central)
    model, u, theta0, v = make_problem(2, "periodic", "central", rng)
    t = 0.2
    rho = model.tangent(u, theta0, v, t)
    fd = (model.solve(u + 1e-5 * v, theta0, t) - model.solve(u - 1e-5 * v, theta0, t)) / 2e-5
    assert np.sum(rho * fd) > 0 and np.linalg.norm(rho - fd) <= 1e-6 * np.linalg.norm(fd)
    # the note's printed sign (+v·∇θ) gives -ρ, which the finite difference rejects
    assert np.linalg.norm(-rho - fd) > np.linalg.norm(fd)


@pytest.mark.parametrize("backend", ["auto", "chebyshev"])
def test_tangent_block_of_directions(backend, rng):
    model, u, theta0, v = make_problem(2, "periodic", "exponential", rng, backend=backend)
    block = np.stack([v, 2 * v, rng.standard_normal(v.shape)])
    out = model.tangent(u, theta0, block, 0.3)
    assert out.shape == (3, *model.grid.shape)
    for k in range(3):
        single = model.tangent(u, theta0, block[k], 0.3)
        assert np.allclose(out[k], single, rtol=0, atol=1e-14 * np.abs(single).max())


def point_sensor_objective(grid, rng, n_sensors, n_times):
    idx = tuple(rng.integers(0, s, size=n_sensors) for s in grid.shape)
    data = rng.standard_normal((n_times, n_sensors))

    def objective(theta):
        theta = theta.reshape((n_times, *grid.shape))
        residual = theta[(slice(None),) + idx] - data
        grad = np.zeros_like(theta)
        for k in range(n_times):
            np.add.at(grad[k], idx, residual[k])
        return 0.5 * float(np.sum(residual**2)), grad

    return objective


@pytest.mark.parametrize("method", ["discrete", "quadrature"])
@pytest.mark.parametrize("scheme", ["central", "upwind", "exponential"])
@pytest.mark.parametrize("bc", ["periodic", "neumann", "dirichlet"])
def test_adjoint_matches_tangent_smooth_objective(scheme, bc, method, rng):
    model, u, theta0, v = make_problem(2, bc, scheme, rng)
    weight = np.cos(np.pi * model.grid.coords[0]) + model.grid.coords[1]

    def objective(theta):
        return 0.5 * float(np.sum(weight * theta**2)), weight * theta

    t = 0.4
    value, grad = model.gradient(u, theta0, objective, t, adjoint=method)
    rho = model.tangent(u, theta0, v, t)
    theta = model.solve(u, theta0, t)
    directional = float(np.sum(weight * theta * rho))
    # forward solutions from two schedules, each within the propagator tol 1e-12
    assert value == pytest.approx(objective(theta)[0], rel=1e-11)
    # quadrature: rtol 1e-10 on the time integral, so 1e-9 on a directional derivative (the
    # issue asks 1e-8; measured ≤ 1e-13); discrete: the transpose of the tangent's own
    # polynomial, equal to rounding (measured ≤ 1e-14)
    bound = 1e-9 if method == "quadrature" else 1e-12
    assert abs(np.sum(grad * v) - directional) <= bound * abs(directional)


@pytest.mark.parametrize("method", ["discrete", "quadrature"])
@pytest.mark.parametrize("scheme", ["central", "exponential"])
def test_adjoint_matches_tangent_point_sensors_many_times(scheme, method, rng):
    grid = ads.Grid((32, 32), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.005, scheme=scheme)
    u = cellular_flow(grid)
    theta0 = gaussian_blob(grid, (0.3, 0.5))
    times = np.array([0.1, 0.3, 0.6])
    objective = point_sensor_objective(grid, rng, 20, len(times))
    result = model.gradient(u, theta0, objective, times, adjoint=method)
    assert result.info.method == method
    if method == "quadrature":
        assert result.info.converged and result.info.relative_error_estimate <= 1e-10
    theta = model.solve(u, theta0, times)
    _, g = objective(theta)
    for _ in range(3):
        v = rng.standard_normal(u.shape)
        directional = float(np.sum(g * model.tangent(u, theta0, v, times)))
        error = abs(np.sum(result[1] * v) - directional)
        # quadrature: its rtol 1e-10, ×10 for a directional derivative (the issue asks 1e-6
        # for point sensors; measured ≤ 1e-13)
        assert error <= (1e-9 if method == "quadrature" else 1e-12) * abs(directional)
        if method == "discrete":  # the a priori bound holds along every unit direction
            assert error <= result.info.error_bound * np.linalg.norm(v)


def test_discrete_adjoint_is_the_transpose_of_the_tangent(rng):
    """One direction: model.tangent and the discrete adjoint differentiate the same
    polynomial, so they agree to rounding, far below the propagator tolerance."""
    model, u, theta0, v = make_problem(2, "periodic", "exponential", rng)
    times = np.array([0.15, 0.4])
    w = rng.standard_normal((2, *model.grid.shape))
    _, grad = model.gradient(u, theta0, lambda th: (float(np.sum(w * th)), w), times)
    directional = float(np.sum(w * model.tangent(u, theta0, v, times)))
    assert abs(np.sum(grad * v) - directional) <= 1e-13 * np.abs(grad * v).sum()


def test_discrete_adjoint_checkpoints(rng):
    model, u, theta0, _ = make_problem(2, "neumann", "central", rng)
    objective = point_sensor_objective(model.grid, rng, 5, 1)
    default = model.gradient(u, theta0, objective, [0.3])
    few = model.gradient(u, theta0, objective, [0.3], adjoint=DiscreteAdjoint(checkpoints=2))
    assert few.info.checkpoints <= 2 < default.info.checkpoints
    assert np.allclose(few[1], default[1], rtol=0, atol=1e-13 * np.abs(default[1]).max())
    with pytest.raises(ValueError, match="checkpoints"):
        DiscreteAdjoint(checkpoints=0)
    with pytest.raises(TypeError, match="checkpoints"):
        DiscreteAdjoint(checkpoints="many")


def test_adjoint_method_selection(rng):
    grid = ads.Grid((12, 10), bc="periodic")
    u = np.ones((2, *grid.shape))
    theta0 = rng.standard_normal(grid.shape)
    objective = point_sensor_objective(grid, rng, 4, 1)
    scipy_model = ads.AdvectionDiffusion(grid, kappa=0.02, backend="scipy")
    assert scipy_model.gradient(u, theta0, objective, [0.2]).info.method == "quadrature"
    with pytest.raises(PlanUnavailable, match="DiscreteAdjoint needs a Chebyshev schedule: "
                                              "the 'scipy' backend"):
        scipy_model.gradient(u, theta0, objective, [0.2], adjoint="discrete")
    model = ads.AdvectionDiffusion(grid, kappa=0.02)
    assert model.gradient(u, theta0, objective, [0.2]).info.method == "discrete"
    assert isinstance(model.gradient(u, theta0, objective, [0.2], adjoint="surrogate").info,
                      SurrogateAdjointInfo)
    with pytest.raises(ValueError, match="adjoint must be one of .* got 'exact'"):
        model.gradient(u, theta0, objective, [0.2], adjoint="exact")
    with pytest.raises(TypeError, match="adjoint must be one of"):
        model.gradient(u, theta0, objective, [0.2], adjoint=3)


@pytest.mark.parametrize("name, adjoint", [("discrete", DiscreteAdjoint()),
                                           ("auto", AutoAdjoint()),
                                           ("quadrature", QuadratureAdjoint()),
                                           ("surrogate", SurrogateAdjoint())])
def test_a_name_is_its_default_object(name, adjoint, rng):
    """Strings are sugar: the name and the default object give bit-identical results."""
    model, u, theta0, _ = make_problem(2, "periodic", "central", rng)
    objective = point_sensor_objective(model.grid, rng, 5, 2)
    by_name = model.gradient(u, theta0, objective, [0.1, 0.3], adjoint=name)
    by_object = model.gradient(u, theta0, objective, [0.1, 0.3], adjoint=adjoint)
    assert by_name.value == by_object.value and by_name.info == by_object.info
    np.testing.assert_array_equal(by_name.gradient, by_object.gradient)


def test_tangent_reuses_the_solve_enclosure_and_honours_the_backend(rng, monkeypatch):
    """model.tangent goes through the model's cached propagator: the enclosure computed by
    solve serves the tangent, and backend="scipy" still means expm_multiply (no Chebyshev
    products), with the same answer."""
    from advdiff_sens.matrix import count_products
    from advdiff_sens.matrix.expm import operator

    _, u, theta0, v = make_problem(2, "periodic", "central", rng)
    model = ads.AdvectionDiffusion(ads.Grid(SHAPES[2], bc="periodic"), kappa=0.02,
                                   backend="chebyshev")
    model.solve(u, theta0, 0.3)
    calls = []
    original = operator.field_of_values_enclosure
    monkeypatch.setattr(operator, "field_of_values_enclosure",
                        lambda A: calls.append(1) or original(A))
    with count_products() as counter:
        rho = model.tangent(u, theta0, v, 0.3)
    assert calls == [] and counter.products > 0
    scipy_model = ads.AdvectionDiffusion(model.grid, kappa=model.kappa, backend="scipy")
    with count_products() as counter:
        rho_scipy = scipy_model.tangent(u, theta0, v, 0.3)
    assert counter.products == 0
    # both to ~1e-12 (the Chebyshev tol; expm_multiply to double precision); measured 1e-15
    np.testing.assert_allclose(rho, rho_scipy, rtol=0, atol=1e-10 * np.abs(rho_scipy).max())


def test_model_settings_are_read_only():
    model = ads.AdvectionDiffusion(ads.Grid((8,), bc="periodic"), kappa=0.1)
    for name, value in [("kappa", 0.2), ("scheme", "upwind"), ("backend", "scipy"),
                        ("grid", None)]:
        with pytest.raises(AttributeError):
            setattr(model, name, value)


def test_dot_test_tangent_against_adjoint(rng):
    model, u, theta0, _ = make_problem(2, "neumann", "exponential", rng)
    t = 0.3

    def forward(v):
        return model.tangent(u, theta0, v, t)

    def adjoint(w, method):
        return model.gradient(u, theta0, lambda th: (float(np.sum(w * th)), w), t,
                              adjoint=method)[1]

    assert dot_test(forward, lambda w: adjoint(w, "quadrature"), u.shape, model.grid.shape,
                    rng=rng) <= 1e-9
    assert dot_test(forward, lambda w: adjoint(w, "discrete"), u.shape, model.grid.shape,
                    rng=rng) <= 1e-12


def test_taylor_remainder_rates(rng):
    model, u, theta0, v = make_problem(2, "periodic", "exponential", rng)
    objective = point_sensor_objective(model.grid, rng, 10, 2)
    times = np.array([0.2, 0.5])
    value, grad = model.gradient(u, theta0, objective, times)
    result = taylor_test(lambda w: objective(model.solve(w, theta0, times))[0], u, v,
                         float(np.sum(grad * v)), step=1e-2, n_steps=5)
    assert np.all(result.rates0 > 0.9) and np.all(result.rates0 < 1.1)
    assert result.min_rate1 > 1.9
    # a wrong gradient fails the test: the second-order rate drops to 1
    wrong = taylor_test(lambda w: objective(model.solve(w, theta0, times))[0], u, v,
                        1.01 * float(np.sum(grad * v)), step=1e-2, n_steps=5)
    assert wrong.min_rate1 < 1.5


def test_first_order_surrogate_exact_for_constant_flow(rng):
    # constant u and v on a periodic grid: J = −v·∇_h commutes with L
    grid = ads.Grid((16, 12), bc="periodic")
    for scheme in ("central", "exponential", "upwind"):
        model = ads.AdvectionDiffusion(grid, kappa=0.03, scheme=scheme)
        u = np.stack([np.full(grid.shape, 0.8), np.full(grid.shape, -0.3)])
        v = np.stack([np.full(grid.shape, 0.5), np.full(grid.shape, 1.5)])
        theta0 = rng.standard_normal(grid.shape)
        for t in (0.1, 1.0, 3.0):
            exact = model.tangent(u, theta0, v, t)
            approx = model.surrogate(u, theta0, v, t, order=1)
            assert np.abs(approx - exact).max() <= 1e-9 * np.abs(exact).max()


def test_surrogate_gradient_exact_for_constant_flow(rng):
    grid = ads.Grid((16, 12), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.03, scheme="central")
    u = np.stack([np.full(grid.shape, 0.8), np.full(grid.shape, -0.3)])
    theta0 = rng.standard_normal(grid.shape)
    times = np.array([0.2, 0.7])
    objective = point_sensor_objective(grid, rng, 6, 2)
    _, exact = model.gradient(u, theta0, objective, times)
    _, approx = model.gradient(u, theta0, objective, times, adjoint="surrogate")
    # only constant directions commute with L: compare along them
    for e in np.eye(2):
        v = e[:, None, None] * np.ones((2, *grid.shape))
        assert abs(np.sum((approx - exact) * v)) <= 1e-9 * np.abs(exact).sum()


def test_third_order_surrogate_is_a_short_time_expansion(rng):
    model, u, theta0, v = make_problem(2, "periodic", "central", rng)
    errors = {}
    for order in (1, 3):
        errors[order] = []
        for t in (1e-3, 2e-3):
            exact = model.tangent(u, theta0, v, t)
            errors[order].append(np.linalg.norm(model.surrogate(u, theta0, v, t, order=order) - exact))
    # local error orders in t: (1.6) is O(t^2); (4.1) matches the series (1.5) through t^2
    # but keeps only −t³/3·QJQ of the t³ term t³/6·(JQ² − 2QJQ + Q²J), so it is O(t^3)
    assert np.log2(errors[1][1] / errors[1][0]) == pytest.approx(2, abs=0.1)
    assert np.log2(errors[3][1] / errors[3][0]) == pytest.approx(3, abs=0.1)


def test_asymptotic_surrogate_converges_at_large_t():
    from advdiff_sens.matrix import spectral_gap
    grid = ads.Grid((10, 8), bc="neumann")
    model = ads.AdvectionDiffusion(grid, kappa=0.05, scheme="exponential")
    rng = np.random.default_rng(3)
    u = rng.standard_normal((2, *grid.shape))
    v = rng.standard_normal(u.shape)
    theta0 = rng.standard_normal(grid.shape)
    gap, _ = spectral_gap(model.generator(u).toarray())
    errors = []
    for t in (2 / gap, 8 / gap, 25 / gap):
        exact = model.tangent(u, theta0, v, t)
        approx = model.surrogate(u, theta0, v, t, order="asymptotic")
        errors.append(np.linalg.norm(approx - exact) / np.linalg.norm(exact))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] <= 1e-8


def test_asymptotic_surrogate_rejects_sub_generator(rng):
    model, u, theta0, v = make_problem(2, "dirichlet", "upwind", rng)
    with pytest.raises(ValueError, match="rate matrix|generator"):
        model.surrogate(u, theta0, v, 1.0, order="asymptotic")


@pytest.mark.parametrize("bad, exc, match", [
    (lambda th: 1.0, TypeError, "tuple"),
    (lambda th: (np.nan, th), ValueError, "finite"),
    (lambda th: (1.0, th[..., :-1]), ValueError, "shape"),
    (lambda th: (1.0, np.full_like(th, np.inf)), ValueError, "NaN or inf"),
    ("not callable", TypeError, "callable"),
])
def test_gradient_rejects_bad_objective(bad, exc, match, rng):
    model, u, theta0, _ = make_problem(1, "periodic", "central", rng)
    with pytest.raises(exc, match=match):
        model.gradient(u, theta0, bad, 0.1)


def test_adjoint_objects_validate_their_options():
    with pytest.raises(ValueError, match="rtol"):
        QuadratureAdjoint(rtol=-1)
    with pytest.raises(ValueError, match="max_intervals"):
        QuadratureAdjoint(max_intervals=0)
    with pytest.raises(ValueError, match="order must be 1"):
        SurrogateAdjoint(order=3)
    with pytest.raises(TypeError, match="preferred must be"):
        AutoAdjoint(preferred=1.0)


def test_tangent_rejects_bad_direction(rng):
    model, u, theta0, _ = make_problem(2, "periodic", "central", rng)
    with pytest.raises(ValueError, match="v must have shape"):
        model.tangent(u, theta0, np.ones((2, 3, 3)), 0.1)


@pytest.mark.parametrize("output, error, match", [
    (lambda th: 1.0, TypeError, "must return a tuple"),
    (lambda th: (float("nan"), th), ValueError, "finite real scalar"),
    (lambda th: (1.0 + 1j, th), ValueError, "finite real scalar"),
    (lambda th: (1.0, th[..., :-1]), ValueError, "must have shape"),
    (lambda th: (1.0, np.full_like(th, np.nan)), ValueError, "NaN or inf"),
    (lambda th: (1.0, th * (1 + 1j)), TypeError, "must be real"),
])
@pytest.mark.parametrize("method", ["discrete", "quadrature"])
def test_bad_objective_output_is_named(output, error, match, method, rng):
    model, u, theta0, _ = make_problem(1, "periodic", "central", rng)
    with pytest.raises(error, match=match):
        model.gradient(u, theta0, output, 0.2, adjoint=method)
    with pytest.raises(error, match=match):
        model.gradient(u, theta0, output, 0.2, adjoint="surrogate")
