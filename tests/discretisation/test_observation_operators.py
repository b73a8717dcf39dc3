"""Observation operators (point sensors fixed and moving, gridded snapshots by bilinear
interpolation or cell average, any given matrices) and the Observations misfit: dot tests for
every operator and boundary condition, exactness of the interpolant and of its cell means,
the cell average's measured order of convergence to the pixel mean, masks, per-datum noise
and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from advdiff_sens import Grid
from advdiff_sens.discretisation import (
    CELL_EDGE_RTOL, Bilinear, CellAverage, GriddedSnapshots, LeastSquaresObjective,
    ObservationOperator, Observations, PointSensors, cell_average_operator, observation_operator
)

BCS = {"periodic": "periodic", "neumann": "neumann", "dirichlet": "dirichlet",
       "mixed": ("periodic", "dirichlet"), "mixed2": ("dirichlet", "neumann")}
SHAPE, EXTENT, K = (7, 6), (1.0, 1.5), 3
PIXEL_GRIDS = ("coarser", "finer", "offset")
OPERATORS = ("sensors", "moving", "generic",
             *(f"{m}-{g}" for m in ("bilinear", "cell_average") for g in PIXEL_GRIDS))


def pixel_grid(grid: Grid, kind: str):
    """Pixel centres and (for the offset grid) edges per axis: 3 pixels, 2N + 1 pixels, or
    N - 1 pixels of the model's cell size shifted by 0.3 of it."""
    axes, edges = [], []
    for size, extent in zip(grid.shape, grid.extent):
        if kind == "offset":
            e = (np.arange(size) + 0.3) * extent / size
            axes.append(0.5 * (e[:-1] + e[1:]))
            edges.append(e)
        else:
            m = 3 if kind == "coarser" else 2 * size + 1
            axes.append((np.arange(m) + 0.5) * extent / m)
    return axes, (edges if kind == "offset" else None)


def make_operator(grid: Grid, kind: str, rng) -> ObservationOperator:
    hi = np.array(grid.extent)
    if kind == "sensors":
        return PointSensors(grid, rng.uniform(0, hi, size=(5, grid.ndim)))
    if kind == "moving":
        return PointSensors(grid, rng.uniform(0, hi, size=(K, 4, grid.ndim)))
    if kind == "generic":
        return ObservationOperator(grid, [sp.random(3, grid.n, density=0.3, random_state=j)
                                          for j in range(K)])
    method, pixels = kind.split("-")
    axes, edges = pixel_grid(grid, pixels)
    if method == "bilinear":
        return GriddedSnapshots(grid, axes, "bilinear")
    return GriddedSnapshots(grid, axes, "cell_average", edges=edges)


def dot_test(forward, adjoint, theta, w) -> None:
    """⟨Fθ, w⟩ = ⟨θ, F*w⟩ to rounding: the error is a few ulps of the sums of |terms|."""
    y, lam = forward(theta), adjoint(w)
    lhs, rhs = np.sum(y * w), np.sum(theta * lam)
    scale = np.sum(np.abs(y * w)) + np.sum(np.abs(theta * lam))
    assert abs(lhs - rhs) <= 1e-13 * scale


@pytest.mark.parametrize("kind", OPERATORS)
@pytest.mark.parametrize("bc", BCS)
def test_dot_test_of_every_operator(bc, kind, rng):
    grid = Grid(SHAPE, EXTENT, BCS[bc])
    op = make_operator(grid, kind, rng)
    theta = rng.standard_normal((K, *SHAPE))
    dot_test(op.forward, op.adjoint, theta, rng.standard_normal((K, op.n_obs)))


@pytest.mark.parametrize("kind", ("moving", "cell_average-offset", "bilinear-finer"))
@pytest.mark.parametrize("bc", BCS)
def test_dot_test_of_masked_whitened_observations(bc, kind, rng):
    """The linear part G = (H_jθ_j/σ)_{observed} and its adjoint, with a different mask and a
    different σ per datum at each time."""
    grid = Grid(SHAPE, EXTENT, BCS[bc])
    op = make_operator(grid, kind, rng)
    data = rng.standard_normal((K, op.n_obs))
    data[rng.uniform(size=data.shape) < 0.3] = np.nan
    data[:, 0] = 1.0                                      # every time keeps a datum
    obs = Observations(op, data, rng.uniform(0.5, 2.0, size=data.shape))
    assert obs.n_data == np.isfinite(data).sum() < data.size
    dot_test(obs.forward, obs.adjoint, rng.standard_normal((K, *SHAPE)),
             rng.standard_normal(obs.n_data))


def test_moving_sensors_read_each_time_at_its_positions(rng):
    grid = Grid((8, 8), bc=("neumann", "periodic"))
    path = rng.uniform(0, 1, size=(K, 4, 2))
    theta = rng.standard_normal((K, 8, 8))
    moving = PointSensors(grid, path).forward(theta)
    for j in range(K):
        np.testing.assert_array_equal(moving[j], observation_operator(grid, path[j]) @
                                      theta[j].ravel())
    with pytest.raises(ValueError, match="theta has 2 time.*each of 3 times"):
        PointSensors(grid, path).forward(theta[:2])


def multilinear(x, y):
    return 1.0 + 2.0 * x - 0.5 * y + 0.7 * x * y


def hull(grid: Grid, a: int) -> tuple[float, float]:
    """The convex hull of the nodes on axis a: where the interpolant of a non-periodic field
    that does not vanish at Dirichlet walls is exact."""
    return grid.axes[a][0], grid.axes[a][-1]


@pytest.mark.parametrize("bc", BCS)
def test_bilinear_snapshots_are_exact_for_multilinear_fields(bc):
    grid = Grid(SHAPE, EXTENT, BCS[bc])
    axes = [np.linspace(*hull(grid, a), 11) for a in range(2)]
    op = GriddedSnapshots(grid, axes, "bilinear")
    images = op.forward(multilinear(*grid.coords)[None]).reshape(op.obs_shape)
    np.testing.assert_allclose(images, multilinear(*op.coords), rtol=1e-13, atol=1e-13)


def gauss_mean_of_interpolant(grid: Grid, theta: np.ndarray, edges) -> np.ndarray:
    """An independent check of the cell means: 2-point Gauss–Legendre on each piece between
    consecutive multiples of h (exact for the piecewise-multilinear interpolant), evaluated
    by observation_operator (periodic points mapped into [0, extent))."""
    nodes = np.array([-1.0, 1.0]) / np.sqrt(3)
    out = np.zeros([len(e) - 1 for e in edges])
    for p in np.ndindex(*out.shape):
        points, weights = [], []
        for a, (e, h, extent, bc) in enumerate(zip(edges, grid.spacing, grid.extent, grid.bc)):
            lo, hi = e[p[a]], e[p[a] + 1]
            cuts = np.concatenate(([lo], h * np.arange(np.floor(lo / h) + 1, np.ceil(hi / h)),
                                   [hi]))
            mid, half = 0.5 * (cuts[1:] + cuts[:-1]), 0.5 * np.diff(cuts)
            x = (mid[:, None] + half[:, None] * nodes).ravel()
            points.append(x % extent if bc == "periodic" else x)
            weights.append(np.repeat(half, 2) / (hi - lo))
        mesh = np.stack([m.ravel() for m in np.meshgrid(*points, indexing="ij")], axis=1)
        w = np.prod(np.meshgrid(*weights, indexing="ij"), axis=0).ravel()
        out[p] = w @ (observation_operator(grid, mesh) @ theta.ravel())
    return out.ravel()


@pytest.mark.parametrize("pixels", PIXEL_GRIDS + ("wrapping",))
@pytest.mark.parametrize("bc", BCS)
def test_cell_average_is_the_exact_mean_of_the_interpolant(bc, pixels, rng):
    """Random fields, walls and periodic wrap included: the weights are the exact cell means
    of the interpolant that observation_operator evaluates. The wrapping pixels are centred on
    the nodes (between them on walled axes), so the first cell of a periodic axis crosses
    the wrap."""
    grid = Grid(SHAPE, EXTENT, BCS[bc])
    if pixels == "wrapping":
        axes, edges = [ax if b == "periodic" else 0.5 * (ax[1:] + ax[:-1])
                       for ax, b in zip(grid.axes, grid.bc)], None
    else:
        axes, edges = pixel_grid(grid, pixels)
    op = GriddedSnapshots(grid, axes, "cell_average", edges=edges)
    if pixels == "wrapping" and "periodic" in grid.bc:
        assert min(e[0] for e in op.edges) < 0
    theta = rng.standard_normal(SHAPE)
    np.testing.assert_allclose(op.forward(theta[None])[0],
                               gauss_mean_of_interpolant(grid, theta, op.edges),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pixels", PIXEL_GRIDS)
@pytest.mark.parametrize("bc", BCS)
def test_cell_average_is_exact_for_constants_and_multilinear_fields(bc, pixels):
    """Constants wherever the hats sum to 1 (everywhere but next to a Dirichlet wall);
    multilinear fields in the hull of the nodes, where the mean over a box is the value at
    its centre."""
    grid = Grid(SHAPE, EXTENT, BCS[bc])
    axes, edges = pixel_grid(grid, pixels)
    op = GriddedSnapshots(grid, axes, "cell_average", edges=edges)
    centres = np.meshgrid(*[0.5 * (e[1:] + e[:-1]) for e in op.edges], indexing="ij")
    in_hull = np.ones(op.obs_shape, dtype=bool)
    constant_ok = np.ones(op.obs_shape, dtype=bool)
    for a, (e, b) in enumerate(zip(op.edges, grid.bc)):
        lo, hi = hull(grid, a)
        inside = np.expand_dims((e[:-1] >= lo - 1e-12) & (e[1:] <= hi + 1e-12),
                                [d for d in range(2) if d != a])
        in_hull &= inside
        if b == "dirichlet":
            constant_ok &= inside
    means = op.forward(np.stack([np.ones(SHAPE), multilinear(*grid.coords)])).reshape(
        2, *op.obs_shape)
    assert constant_ok.any() and in_hull.any()
    np.testing.assert_allclose(means[0][constant_ok], 1.0, rtol=1e-14)
    np.testing.assert_allclose(means[1][in_hull], multilinear(*centres)[in_hull], rtol=1e-13)
    if "dirichlet" in grid.bc:                           # the strip at the wall reads less
        assert np.all(means[0][~constant_ok] < 1 - 1e-3)


def _mean_of_sine(omega, phase, a, b):
    """Exact mean of sin(ωx + φ) over [a, b] (vectorised over the cells)."""
    return (np.cos(omega * a + phase) - np.cos(omega * b + phase)) / (omega * (b - a))


SMOOTH = {   # per bc: (ω, φ, constant) of a factor sin(ωx + φ) + constant of a separable f
    "periodic": (2 * np.pi, 0.3, 0.5),
    "neumann": (2.3, 0.4, 0.2),
    "dirichlet": (np.pi, 0.0, 0.0),                      # vanishes at the walls (θ = 0 there)
}


CONVERGENCE_EDGES = {
    # on the nodes of every level (multiples of 1/8): error −h²/12·mean(Δf) + O(h⁴)
    "aligned": ([0.0, 0.25, 0.625, 1.0], [0.125, 0.5, 0.75, 0.875], 0.01),
    # between nodes: the partial pieces at the edges add an oscillation of relative size O(h)
    "unaligned": ([0.0, 0.29, 0.61, 1.0], [0.05, 0.4, 0.7, 0.97], 0.05),
}


@pytest.mark.parametrize("cells", CONVERGENCE_EDGES)
@pytest.mark.parametrize("bc", ("periodic", "neumann", "dirichlet"))
def test_cell_average_converges_at_second_order_to_the_pixel_mean(bc, cells):
    """Fixed 3 × 3 pixels, model spacing h = 1/8 … 1/64: the cell mean of the interpolant of
    a smooth f approaches the exact pixel mean of f as h² (linear interpolation); the
    measured orders from h = 1/16 on are 2 within the tolerance of the error model."""
    *edges, tol = CONVERGENCE_EDGES[cells]
    edges = [np.array(e) for e in edges]
    omega, phase, const = SMOOTH[bc]
    exact = np.outer(*[_mean_of_sine(omega, phase, e[:-1], e[1:]) + const for e in edges])
    errors = []
    for n in (8, 16, 32, 64):
        nodes = {"periodic": n, "neumann": n + 1, "dirichlet": n - 1}[bc]   # h = 1/n
        grid = Grid((nodes, nodes), bc=bc)
        x, y = grid.coords
        f = (np.sin(omega * x + phase) + const) * (np.sin(omega * y + phase) + const)
        op = GriddedSnapshots(grid, [0.5 * (e[1:] + e[:-1]) for e in edges], "cell_average",
                              edges=edges)
        errors.append(np.abs(op.forward(f[None])[0] - exact.ravel()).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders[1:] - 2) < tol), orders
    # the point value at the centre is no pixel mean: its error does not shrink with h
    bilinear = GriddedSnapshots(grid, op.axes, "bilinear").forward(f[None])[0]
    assert np.abs(bilinear - exact.ravel()).max() > 100 * errors[-1]


def test_default_cells_are_half_way_and_end_at_the_walls_to_rounding():
    grid = Grid((7, 6), (1.0, 1.5), "neumann")
    axes = [(np.arange(5) + 0.5) * 1.0 / 5, (np.arange(3) + 0.5) * 1.5 / 3]
    op = GriddedSnapshots(grid, axes, CellAverage())
    np.testing.assert_allclose(op.edges[0], np.linspace(0, 1, 6), atol=1e-15)
    assert op.edges[0][0] - 0 <= CELL_EDGE_RTOL and op.edges[1][-1] - 1.5 <= CELL_EDGE_RTOL
    # a cell a hair outside the wall (rounding) is moved onto it, further out is an error
    A = cell_average_operator(grid, [np.array([-1e-14, 0.5, 1.0]), np.array([0.0, 1.5])])
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-14)
    with pytest.raises(ValueError, match="inside the domain"):
        cell_average_operator(grid, [np.array([-1e-6, 0.5, 1.0]), np.array([0.0, 1.5])])


def test_observations_misfit_gradient_and_noise_per_datum(rng):
    """Φ = ½Σ_observed ((Hθ − d)/σ)²; ∂Φ/∂θ = Hᵀ(r/σ) against central differences (Φ is
    quadratic: exact to rounding); σ broadcasts per time and per sensor."""
    grid = Grid((8, 7), bc=("periodic", "neumann"))
    op = PointSensors(grid, rng.uniform(0, 1, size=(K, 5, 2)))
    theta = rng.standard_normal((K, 8, 7))
    data = rng.standard_normal((K, 5))
    data[1, [0, 3]] = np.nan
    sigma = rng.uniform(0.2, 2.0, size=(K, 5))
    obs = Observations(op, data, sigma)
    pred = op.forward(theta)
    observed = np.isfinite(data)
    terms = np.where(observed, (pred - np.nan_to_num(data)) / sigma, 0.0) ** 2 / 2
    value, grad = obs(theta)
    assert value == pytest.approx(terms.sum(), rel=1e-14)
    d = rng.standard_normal(theta.shape)
    fd = (obs.misfit(theta + 1e-3 * d) - obs.misfit(theta - 1e-3 * d)) / 2e-3
    assert np.sum(grad * d) == pytest.approx(fd, rel=1e-9)
    # doubling one datum's σ divides its term by 4
    doubled = sigma.copy()
    doubled[2, 4] *= 2
    assert Observations(op, data, doubled).misfit(theta) == pytest.approx(
        value - 0.75 * terms[2, 4], rel=1e-13)
    # per-time (k, 1) and per-sensor (m,) σ are the full array they broadcast to
    per_time, per_sensor = sigma[:, :1], sigma[0]
    for given in (per_time, per_sensor):
        full = np.broadcast_to(given, (K, 5))
        assert Observations(op, data, given).misfit(theta) == pytest.approx(
            Observations(op, data, full).misfit(theta), rel=1e-15)


def test_a_missing_datum_changed_to_anything_changes_nothing(rng):
    """NaN, a fill value and a masked array's mask drop the same entries from Φ and ∂Φ/∂θ
    (bit for bit), and a missing datum is not a zero datum."""
    grid = Grid((6, 6), bc="dirichlet")
    op = GriddedSnapshots(grid, [np.linspace(0.2, 0.8, 4)] * 2, "cell_average")
    theta = rng.standard_normal((K, 6, 6))
    data = rng.standard_normal((K, 16))
    missing = rng.uniform(size=data.shape) < 0.4
    missing[:, 0] = False
    with_nan = np.where(missing, np.nan, data)
    reference = Observations(op, with_nan, 0.3)(theta)
    for changed in (np.where(missing, -999.0, data), np.where(missing, 1e6, data)):
        filled = Observations(op, changed, 0.3, fill_value=changed[missing][0])
        masked = Observations(op, np.ma.masked_array(rng.standard_normal(data.shape) * 1e3
                                                     * missing + data * ~missing, missing), 0.3)
        for obs in (filled, masked):
            value, grad = obs(theta)
            assert value == reference[0]
            np.testing.assert_array_equal(grad, reference[1])
    zero = Observations(op, np.where(missing, 0.0, data), 0.3)(theta)[0]
    assert zero > reference[0]
    # σ may be anything where the datum is missing
    noise = np.where(missing, np.nan, 0.3)
    assert Observations(op, with_nan, noise)(theta)[0] == reference[0]


def test_images_and_noise_may_be_shaped_like_the_observation_grid(rng):
    grid = Grid((8, 8))
    op = GriddedSnapshots(grid, [np.linspace(0.1, 0.9, 3), np.linspace(0.2, 0.8, 4)])
    images = rng.standard_normal((2, 3, 4))
    noise = rng.uniform(0.5, 1.0, size=(3, 4))
    as_images = Observations(op, images, noise)
    flat = Observations(op, images.reshape(2, 12), noise.ravel())
    np.testing.assert_array_equal(as_images.data, flat.data)
    np.testing.assert_array_equal(as_images.sigma, flat.sigma)
    assert Observations(op, images.reshape(2, 12), noise).n_data == 24


def test_least_squares_objective_is_the_point_sensor_case(rng):
    grid = Grid((8, 8))
    sensors = rng.uniform(0, 1, size=(4, 2))
    data = rng.standard_normal((K, 4))
    objective = LeastSquaresObjective(grid, sensors, data, 0.4)
    general = Observations(PointSensors(grid, sensors), data, 0.4)
    theta = rng.standard_normal((K, 8, 8))
    assert isinstance(objective, Observations) and objective.noise_std == 0.4
    value, grad = objective(theta)
    assert value == general(theta)[0]
    np.testing.assert_array_equal(grad, general(theta)[1])
    assert objective.n_data == K * 4 and objective.H.shape == (4, 64)
    short = objective.truncated(2)
    assert isinstance(short, LeastSquaresObjective) and short.data.shape == (2, 4)


def test_truncation_keeps_the_first_times(rng):
    grid = Grid((6, 6))
    path = rng.uniform(0, 1, size=(K, 3, 2))
    data = rng.standard_normal((K, 3))
    data[2, 1] = np.nan
    obs = Observations(PointSensors(grid, path), data, np.full((K, 3), 0.5))
    short = obs.truncated(2)
    theta = rng.standard_normal((2, 6, 6))
    expected = Observations(PointSensors(grid, path[:2]), data[:2], 0.5)
    assert short.operator.n_times == 2 and short.operator.positions.shape == (2, 3, 2)
    assert short.misfit(theta) == pytest.approx(expected.misfit(theta), rel=1e-15)
    assert GriddedSnapshots(grid, [np.array([0.2, 0.6])] * 2).truncated(2).n_times is None


def test_pixel_methods_by_name_and_object():
    grid = Grid((6, 6))
    axes = [np.array([0.2, 0.5, 0.8])] * 2
    assert isinstance(GriddedSnapshots(grid, axes).method, Bilinear)
    by_name = GriddedSnapshots(grid, axes, "cell_average")
    by_object = GriddedSnapshots(grid, axes, CellAverage())
    assert (by_name.matrices[0] != by_object.matrices[0]).nnz == 0
    with pytest.raises(ValueError, match="did you mean 'cell_average'"):
        GriddedSnapshots(grid, axes, "cell_averages")


GRID = Grid((6, 6), bc="neumann")
BAD_OPERATORS = [
    (lambda: PointSensors(GRID, np.full((2, 3, 3), 0.5)), "positions must have shape"),
    (lambda: PointSensors(GRID, np.full((2, 3, 2, 1), 0.5)), "positions must have shape"),
    (lambda: PointSensors(GRID, [[[0.5, 0.5]], [[1.5, 0.5]]]), "time index 1.*inside the domain"),
    (lambda: PointSensors(GRID, [[np.nan, 0.5]]), "positions contains NaN"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.2, 1.2]), np.array([0.5])]),
     r"axes\[0\]: the pixel centres must lie inside"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5, 0.2]), np.array([0.5])]),
     "strictly increasing"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5])]), "2 entries"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5]), np.array([0.5])], "cell_average"),
     "single pixel"),
    (lambda: GriddedSnapshots(GRID, [GRID.axes[0], GRID.axes[1]], "cell_average"),
     "inside the domain.*pass edges"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5]), np.array([0.5])], "cell_average",
                              edges=[[0.4, 0.6, 0.7], [0.4, 0.6]]), "must have 2 entries"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5]), np.array([0.5])], "cell_average",
                              edges=[[0.6, 0.7], [0.4, 0.6]]), "outside their cells"),
    (lambda: GriddedSnapshots(GRID, [np.array([0.5]), np.array([0.5])], "bilinear",
                              edges=[[0.4, 0.6], [0.4, 0.6]]), "edges are the cells"),
    (lambda: cell_average_operator(Grid((6,)), [np.array([0.0, 1.5])]), "wider than the period"),
    (lambda: ObservationOperator(GRID, np.ones((2, 35))), r"shape \(m, 36\)"),
    (lambda: ObservationOperator(GRID, [np.ones((2, 36)), np.ones((3, 36))]),
     "same number of rows"),
    (lambda: ObservationOperator(GRID, [np.full((2, 36), np.inf)]), "NaN or inf"),
    (lambda: ObservationOperator(GRID, np.ones((4, 36)), obs_shape=(3, 2)), "obs_shape"),
]


@pytest.mark.parametrize("build, match", BAD_OPERATORS)
def test_operators_reject_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


SENSORS = PointSensors(GRID, [[0.2, 0.3], [0.5, 0.5]])
MOVING = PointSensors(GRID, np.full((2, 2, 2), 0.5))
BAD_DATA = [
    (SENSORS, [[0.0, 1.0, 2.0]], 1.0, {}, "data must have shape"),
    (SENSORS, [[np.nan, np.nan], [0.0, 1.0]], 1.0, {}, r"time index\(es\) \[0\]"),
    (SENSORS, [[-9.0, -9.0]], 1.0, {"fill_value": -9.0}, "no observed entry"),
    (SENSORS, [[np.inf, 1.0]], 1.0, {}, "data contains inf"),
    (SENSORS, [[0.0, 1.0]], [[1.0, np.nan]], {}, "finite and > 0.*time index 0, entry 1"),
    (SENSORS, [[0.0, 1.0]], -1.0, {}, "finite and > 0"),
    (SENSORS, [[0.0, 1.0]], [1.0, 1.0, 1.0], {}, "noise_std must be a scalar or broadcast"),
    (MOVING, np.zeros((3, 2)), 1.0, {}, "data has 3 time"),
]


@pytest.mark.parametrize("operator, data, noise, options, match", BAD_DATA)
def test_observations_reject_bad_input(operator, data, noise, options, match):
    with pytest.raises(ValueError, match=match):
        Observations(operator, data, noise, **options)


def test_observations_reject_wrong_types_and_shapes():
    with pytest.raises(TypeError, match="ObservationOperator"):
        Observations(np.eye(2), [[0.0, 1.0]])
    with pytest.raises(TypeError, match="real"):
        Observations(SENSORS, [[1j, 1.0]])
    obs = Observations(SENSORS, [[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"theta must have shape \(1, 6, 6\)"):
        obs(np.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="one entry per observed datum"):
        obs.adjoint(np.zeros(3))
    with pytest.raises(ValueError, match="theta must have shape"):
        SENSORS.forward(np.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match="weights must have shape"):
        SENSORS.adjoint(np.zeros((2, 3)))


@pytest.mark.parametrize("method", ("bilinear", "cell_average"))
def test_one_and_three_dimensional_snapshots(method, rng):
    """The Kronecker product of the 1-D cell means (and the interpolation) in 1-D and 3-D:
    dot test, constants and a multilinear field inside the hull exact."""
    for grid in (Grid((9,), bc="neumann"), Grid((5, 4, 6), (1.0, 2.0, 1.5),
                                                ("periodic", "neumann", "dirichlet"))):
        axes = [np.linspace(ax[0], ax[-1], 4)[1:-1] for ax in grid.axes]
        op = GriddedSnapshots(grid, axes, method)
        theta = rng.standard_normal((2, *grid.shape))
        dot_test(op.forward, op.adjoint, theta, rng.standard_normal((2, op.n_obs)))
        field = 1.0 + sum((a + 1) * c for a, c in enumerate(grid.coords)) + np.prod(grid.coords,
                                                                                  axis=0)
        expected = 1.0 + sum((a + 1) * c for a, c in enumerate(op.coords)) + np.prod(op.coords,
                                                                                    axis=0)
        np.testing.assert_allclose(op.forward(field[None])[0], expected.ravel(), rtol=1e-13)
