"""Figures: cell-centred placement, labels, keys and legends (asserted on the artists)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.quiver import Quiver, QuiverKey  # noqa: E402

from advdiff_sens.discretisation.grid import Grid  # noqa: E402
from advdiff_sens.plotting import (cell_edges, coefficient_labels, draw_field,  # noqa: E402
                                   plot_data_fit, plot_fields, plot_flow_estimate,
                                   plot_posterior_sd, plot_sensitivity_study, plot_traces)
from advdiff_sens.inference.parameterisations import StreamFunctionBasis  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def panels(fig):
    """The axes holding an image (colour-bar axes hold none)."""
    return [ax for ax in fig.axes if ax.images]


def colorbar_label(ax) -> str:
    return ax.images[0].colorbar.ax.get_ylabel()


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def flow(grid: Grid, phase: float = 0.0) -> np.ndarray:
    x, y = grid.coords
    return np.stack([np.sin(2 * np.pi * (y + phase)), np.cos(2 * np.pi * (x - phase))])


def test_periodic_cells_wrap_to_cover_the_period():
    grid = Grid((20, 10), (1.0, 2.0), "periodic")
    ex, ey = cell_edges(grid)
    assert ex.size == 22 and ey.size == 12
    np.testing.assert_allclose([ex[0], ex[-1], ey[0], ey[-1]], [-0.025, 1.025, -0.1, 2.1])
    np.testing.assert_allclose(np.diff(ex), 0.05)
    _, ax = plt.subplots()
    image = draw_field(ax, grid, grid.coords[0], label="x")
    np.testing.assert_allclose(image.get_extent(), (-0.025, 1.025, -0.1, 2.1))
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 2.0)
    values = image.get_array()                    # (y, x) after the transpose
    assert values.shape == (11, 21)
    np.testing.assert_array_equal(values[:, -1], values[:, 0])    # periodic image of node 0


@pytest.mark.parametrize("bc, n, expected", [("neumann", 11, (-0.05, 1.05)),
                                             ("dirichlet", 9, (0.05, 0.95))])
def test_non_periodic_cells_are_node_plus_minus_half_spacing(bc, n, expected):
    grid = Grid((n, n), (1.0, 1.0), bc)
    ex, ey = cell_edges(grid)
    np.testing.assert_allclose(ex, np.append(grid.axes[0] - 0.05, grid.axes[0][-1] + 0.05))
    np.testing.assert_allclose(ey, ex)
    _, ax = plt.subplots()
    image = draw_field(ax, grid, np.zeros(grid.shape), label="θ")
    np.testing.assert_allclose(image.get_extent(), expected * 2)
    assert image.get_array().shape == (n, n)
    assert ax.get_xlim() == (0.0, 1.0)


def test_mixed_bc_cells_follow_each_axis():
    grid = Grid((10, 6), (1.0, 1.0), ("periodic", "neumann"))
    _, ax = plt.subplots()
    image = draw_field(ax, grid, np.ones(grid.shape), label="θ")
    np.testing.assert_allclose(image.get_extent(), (-0.05, 1.05, -0.1, 1.1))
    assert image.get_array().shape == (6, 11)


def test_sensor_in_the_corner_lies_on_the_field():
    grid = Grid((20, 20))
    sensors = np.array([[0.99, 0.98], [0.5, 0.5], [0.001, 0.3]])
    fig = plot_flow_estimate(grid, flow(grid, 0.05), flow(grid), sensors)
    for ax in panels(fig):
        x0, x1, y0, y1 = ax.images[0].get_extent()
        lo_x, hi_x = ax.get_xlim()
        lo_y, hi_y = ax.get_ylim()
        for sx, sy in sensors:
            assert x0 <= sx <= x1 and y0 <= sy <= y1
            assert lo_x <= sx <= hi_x and lo_y <= sy <= hi_y
        (marks,) = [line for line in ax.lines if line.get_label().startswith("sensors")]
        np.testing.assert_array_equal(marks.get_xydata(), sensors)


def test_flow_figure_labels_keys_and_legend():
    grid = Grid((16, 16))
    sensors = np.array([[0.2, 0.3], [0.7, 0.9]])
    fig = plot_flow_estimate(grid, flow(grid, 0.05), flow(grid), sensors)
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == ["true flow u", "estimated flow û", "error û − u"]
    assert [colorbar_label(ax) for ax in axes] == ["|u|", "|û|", "|û − u|"]
    for ax in axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
        keys = [a for a in ax.artists if isinstance(a, QuiverKey)]
        assert len(keys) == 1 and keys[0].U > 0
        assert colorbar_label(ax) in keys[0].label
    assert legend_texts(fig) == ["sensors (2)"]
    true_ax, est_ax, _ = axes
    assert true_ax.images[0].get_clim() == est_ax.images[0].get_clim()
    scales = [next(c for c in ax.collections if isinstance(c, Quiver)).scale for ax in axes]
    assert scales[0] == scales[1] and scales[2] < scales[0]     # error arrows magnified


def test_flow_estimate_alone_has_one_panel_and_no_legend_without_sensors():
    grid = Grid((12, 12))
    fig = plot_flow_estimate(grid, flow(grid))
    (ax,) = panels(fig)
    assert colorbar_label(ax) == "|û|" and not fig.legends
    assert any(isinstance(a, QuiverKey) for a in ax.artists)


def test_plot_fields_labels_colour_bars():
    grid = Grid((8, 8), bc="neumann")
    x, y = grid.coords
    fig = plot_fields(grid, {"θ(0)": x, "ρ": x - y}, symmetric={"ρ": True},
                      labels={"ρ": "∂θ/∂u[v]"})
    first, second = panels(fig)
    assert colorbar_label(first) == "θ(0)" and colorbar_label(second) == "∂θ/∂u[v]"
    vmin, vmax = second.images[0].get_clim()
    assert vmin == -vmax == -1.0


def test_plot_fields_1d_periodic_line_spans_the_period():
    grid = Grid((10,), bc="periodic")
    fig = plot_fields(grid, {"θ": np.cos(2 * np.pi * grid.axes[0])})
    (line,) = fig.axes[0].lines
    assert line.get_xdata()[-1] == 1.0 and line.get_ydata()[-1] == line.get_ydata()[0]
    assert fig.axes[0].get_ylabel() == "θ"


def test_posterior_sd_shares_scale_and_marks_sensors():
    grid = Grid((10, 10))
    sd = np.stack([np.full(grid.shape, 0.1), np.full(grid.shape, 0.3)])
    fig = plot_posterior_sd(grid, sd, np.array([[0.5, 0.5]]))
    axes = panels(fig)
    assert [colorbar_label(ax) for ax in axes] == ["sd(u_x)", "sd(u_y)"]
    assert all(ax.images[0].get_clim() == (0.0, 0.3) for ax in axes)
    assert legend_texts(fig) == ["sensors (1)"]


def test_sensitivity_study_marks_the_objective_sensors():
    grid = Grid((12, 12))
    x, y = grid.coords
    study = SimpleNamespace(theta=x, rho=x - y, gradient=np.stack([y - 0.5, x]),
                            surrogate_error=0.1 * x, sensors=np.array([[0.25, 0.25], [0.75, 0.5]]))
    fig = plot_sensitivity_study(grid, study, title="study")
    axes = panels(fig)
    assert [colorbar_label(ax) for ax in axes] == ["θ", "ρ", "∂Φ/∂u_x", "ρ̃ − ρ"]
    assert [len(ax.lines) for ax in axes] == [0, 0, 1, 0]
    assert legend_texts(fig) == ["sensors of Φ (2)"]


def test_data_fit_shows_the_most_varying_sensors_and_says_so():
    times = np.linspace(0.1, 1.0, 10)
    amplitude = np.full(25, 0.01)
    varying = [3, 7, 11, 19, 20, 24]
    amplitude[varying] = np.linspace(1.0, 2.0, 6)
    data = np.outer(times, amplitude)
    sensors = np.random.default_rng(0).uniform(size=(25, 2))
    fig = plot_data_fit(times, data, data, 0.05, sensors=sensors, prediction_label="MAP prediction")
    assert "6 of 25" in fig.get_suptitle()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert [int(t.split()[1]) for t in titles] == varying
    assert f"({sensors[3, 0]:.2f}, {sensors[3, 1]:.2f})" in titles[0]
    assert legend_texts(fig) == ["prediction ± σ (σ = 0.05)", "MAP prediction", "data"]
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([band.min(), band.max()], [data[0, 3] - 0.05, data[-1, 3] + 0.05])


def test_data_fit_with_few_sensors_shows_all():
    times = np.linspace(0.1, 1.0, 4)
    data = np.arange(8.0).reshape(4, 2)
    fig = plot_data_fit(times, data, data, 0.1)
    assert "2 of 2 sensors" in fig.get_suptitle() and "largest" not in fig.get_suptitle()
    assert [ax.get_title() for ax in fig.axes] == ["sensor 0", "sensor 1"]


def test_coefficient_labels_name_wavevector_and_kind():
    basis = StreamFunctionBasis(Grid((8, 8)), kmax=1.0)
    labels = coefficient_labels(basis)
    assert len(labels) == basis.n_params == 4
    for i, label in enumerate(labels):
        kx, ky = basis.wavevectors[i]
        assert label == f"c[{i}] {basis.kind[i]} k=({kx}, {ky})"


def test_traces_show_largest_mean_with_chains_and_truth():
    basis = StreamFunctionBasis(Grid((8, 8)), kmax=2.0)
    p = basis.n_params
    means = np.linspace(-0.01, 0.01, p)
    means[[5, 2, 9, 0]] = [3.0, -2.0, 1.5, 1.0]
    samples = means + 0.01 * np.random.default_rng(1).standard_normal((3, 40, p))
    truth = means + 0.1
    fig = plot_traces(samples, names=coefficient_labels(basis), truth=truth)
    labels = coefficient_labels(basis)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [labels[j] for j in (5, 2, 9, 0)]
    assert "4 of 12" in fig.get_suptitle() and "|posterior mean|" in fig.get_suptitle()
    assert legend_texts(fig) == ["chain 1", "chain 2", "chain 3", "true value"]
    for ax, j in zip(fig.axes, (5, 2, 9, 0)):
        chains = [line for line in ax.lines if line.get_label().startswith("chain")]
        assert len({line.get_color() for line in chains}) == 3
        np.testing.assert_array_equal(chains[1].get_ydata(), samples[1, :, j])
        (true_line,) = [line for line in ax.lines if line.get_label() == "true value"]
        np.testing.assert_allclose(true_line.get_ydata(), truth[j])


def test_traces_by_sd_without_truth():
    rng = np.random.default_rng(2)
    samples = rng.standard_normal((2, 30, 6)) * np.array([1, 1, 9, 1, 5, 1]) + 10
    fig = plot_traces(samples, select="sd", max_params=2)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["c[2]", "c[4]"]
    assert legend_texts(fig) == ["chain 1", "chain 2"]
    assert "posterior sd" in fig.get_suptitle()


def test_traces_reject_bad_arguments():
    samples = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match="select"):
        plot_traces(samples, select="median")
    with pytest.raises(ValueError, match="names"):
        plot_traces(samples, names=["a", "b"])
