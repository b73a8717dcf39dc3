"""Figures for the examples and the CLI (the only module that imports matplotlib).

Placement of grid data
----------------------
The value at a node is drawn as the value of its cell: on an axis with spacing ``h`` node
``x_i`` owns ``[x_i − h/2, x_i + h/2]`` (:func:`cell_edges`). On a periodic axis the periodic
image of node 0 at ``x = ℓ`` is drawn too, so the cells run from ``−h/2`` to ``ℓ + h/2`` and the
picture, clipped to the domain ``[0, ℓ]``, covers the whole period: a sensor anywhere in the
domain lies on the field. On a Neumann axis the wall nodes' cells are cut in half by the
clip (their quadrature weight is ``h/2``); on a Dirichlet axis the strips ``[0, h/2]`` and
``[ℓ − h/2, ℓ]`` between the walls (θ = 0) and the first and last nodes stay blank.

Quantities are dimensionless (the library has no units); colour bars name the quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from advdiff_sens.discretisation.grid import Grid

__all__ = ["plot_fields", "plot_sensitivity_study", "plot_flow_estimate", "plot_posterior_sd",
           "plot_windowed_flow", "plot_windowed_posterior_sd", "plot_data_fit", "plot_traces",
           "coefficient_labels", "cell_edges", "draw_field", "save_figure"]

#: Arrows per axis on a quiver plot (about).
ARROWS_PER_AXIS = 10
#: Windows drawn at most by the figures of a time-varying flow (the first and last half).
MAX_WINDOW_PANELS = 4


def cell_edges(grid: Grid) -> tuple[np.ndarray, ...]:
    """Edges of the cells in which a field on ``grid`` is drawn, one array per axis.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    tuple of ndarray
        ``x_i ± h/2`` for the nodes ``x_i`` of each axis (``grid.axes``, spacing
        ``grid.spacing``), with the periodic image of node 0 at ``x = ℓ`` appended on periodic
        axes: ``N + 2`` edges from ``−h/2`` to ``ℓ + h/2`` there, ``N + 1`` edges otherwise.
    """
    return tuple(np.append(nodes - h / 2, nodes[-1] + h / 2)
                 for nodes, h in zip(_drawn_nodes(grid), grid.spacing))


def draw_field(ax: Axes, grid: Grid, field: np.ndarray, *, label: str,
               **imshow_kwargs) -> AxesImage:
    """Draw a 2-D nodal field as cells (:func:`cell_edges`) with a labelled colour bar.

    The axes show the domain ``[0, ℓ_x] × [0, ℓ_y]`` at equal aspect, labelled x and y.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    grid : Grid
        A 2-D grid.
    field : ndarray, shape ``grid.shape``
        Real part is drawn.
    label : str
        Colour-bar label: the quantity shown, e.g. ``"θ"`` or ``"|u|"``.
    **imshow_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (``cmap``, ``vmin``, ``vmax``, …).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    if grid.ndim != 2:
        raise ValueError(f"draw_field draws 2-D grids, got ndim={grid.ndim}")
    ex, ey = cell_edges(grid)
    values = _drawn_values(grid, np.real(np.asarray(field)))
    image = ax.imshow(values.T, origin="lower", extent=(ex[0], ex[-1], ey[0], ey[-1]),
                      interpolation="nearest", **({"cmap": "viridis"} | imshow_kwargs))
    ax.set(xlim=(0, grid.extent[0]), ylim=(0, grid.extent[1]), xlabel="x", ylabel="y",
           aspect="equal")
    ax.figure.colorbar(image, cax=ax.inset_axes((1.04, 0.0, 0.05, 1.0)), label=label)
    return image


def plot_fields(grid: Grid, fields: Mapping[str, np.ndarray], *, suptitle: str | None = None,
                cmap: str = "viridis", symmetric: Mapping[str, bool] | None = None,
                labels: Mapping[str, str] | None = None) -> Figure:
    """One panel per named field: cells for 2-D grids, a line for 1-D grids.

    Parameters
    ----------
    grid : Grid
        A 1-D or 2-D grid.
    fields : mapping of str to ndarray
        Panel title → field of shape ``grid.shape``.
    suptitle : str, optional
    cmap : str
        Colour map of the panels that are not symmetric.
    symmetric : mapping of str to bool, optional
        ``symmetric[name] = True`` centres that panel's colour scale on zero (diverging map,
        for sensitivities).
    labels : mapping of str to str, optional
        Colour-bar (2-D) or y-axis (1-D) label per panel; default the panel title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, _ = _field_panels(grid, fields, suptitle=suptitle, cmap=cmap, symmetric=symmetric,
                           labels=labels)
    return fig


def plot_sensitivity_study(grid: Grid, study, *, title: str | None = None) -> Figure:
    """θ(T), the tangent ρ(T), the adjoint gradient (x-component, sensors marked) and the
    first-order surrogate's error, from a :class:`advdiff_sens.comparison.SensitivityStudy`."""
    fields = {"θ(T)": study.theta, "ρ(T) = ∂θ/∂u[v] (tangent)": study.rho,
              "adjoint gradient ∂Φ/∂u_x": study.gradient[0],
              "surrogate (1.6) error ρ̃ − ρ": study.surrogate_error}
    labels = dict(zip(fields, ("θ", "ρ", "∂Φ/∂u_x", "ρ̃ − ρ")))
    fig, axes = _field_panels(grid, fields, suptitle=title, cmap="viridis",
                              symmetric={name: name != "θ(T)" for name in fields}, labels=labels)
    if grid.ndim == 2:
        _mark_sensors(axes[2], study.sensors, "sensors of Φ")
        _figure_legend(fig, axes)
    return fig


def plot_flow_estimate(grid: Grid, estimate: np.ndarray, truth: np.ndarray | None = None,
                       sensors: np.ndarray | None = None) -> Figure:
    """Estimated velocity û (speed and arrows), and the truth u and the error û − u when given.

    The true and estimated panels share the colour scale and the arrow scale; the error
    panel has its own (both shown by a colour bar and a quiver key).

    Parameters
    ----------
    grid : Grid
        A 2-D grid.
    estimate : ndarray, shape ``(2, *grid.shape)``
    truth : ndarray, shape ``(2, *grid.shape)``, optional
    sensors : ndarray, shape (m, 2) or (k, m, 2), optional
        Marked on every panel (moving sensors: their tracks from their first positions).

    Returns
    -------
    matplotlib.figure.Figure
    """
    flows = [("estimated flow û", estimate, "|û|")]
    if truth is not None:
        flows = [("true flow u", truth, "|u|")] + flows
    speed_max = max(float(np.max(np.hypot(*f))) for _, f, _ in flows)
    panels = [(title, f, label, speed_max) for title, f, label in flows]
    if truth is not None:
        error = estimate - truth
        panels.append(("error û − u", error, "|û − u|", float(np.max(np.hypot(*error)))))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 4.6), squeeze=False,
                             layout="constrained")
    stride = max(1, round(max(grid.shape) / ARROWS_PER_AXIS))
    for ax, (title, field, label, vmax) in zip(axes[0], panels):
        _quiver(ax, grid, field, label, vmax, stride)
        ax.set_title(title)
        if sensors is not None:
            _mark_sensors(ax, sensors)
    if sensors is not None:
        _figure_legend(fig, axes[0])
    return fig


def plot_posterior_sd(grid: Grid, std: np.ndarray, sensors: np.ndarray | None = None, *,
                      method: str = "Laplace") -> Figure:
    """Pointwise posterior standard deviation of both velocity components on one scale.

    Parameters
    ----------
    grid : Grid
        A 2-D grid.
    std : ndarray, shape ``(2, *grid.shape)``
        sd(u_x), sd(u_y), e.g. :meth:`advdiff_sens.inference.estimate.VelocityEstimate.velocity_std`.
    sensors : ndarray, shape (m, 2) or (k, m, 2), optional
        Marked on both panels (moving sensors: their tracks from their first positions).
    method : str
        How the posterior was approximated (for the title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    vmax = float(np.max(std)) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(9.2, 4.3), squeeze=False, layout="constrained")
    for ax, component, name in zip(axes[0], std, ("u_x", "u_y")):
        draw_field(ax, grid, component, label=f"sd({name})", vmin=0.0, vmax=vmax)
        ax.set_title(f"posterior sd of {name}")
        if sensors is not None:
            _mark_sensors(ax, sensors)
    fig.suptitle(f"{method} posterior standard deviation of the velocity")
    if sensors is not None:
        _figure_legend(fig, axes[0])
    return fig


def _shown_windows(n_windows: int) -> list[int]:
    """All windows, or the first and last :data:`MAX_WINDOW_PANELS` / 2 of more."""
    if n_windows <= MAX_WINDOW_PANELS:
        return list(range(n_windows))
    half = MAX_WINDOW_PANELS // 2
    return [*range(half), *range(n_windows - half, n_windows)]


def _window_title(k: int, starts: np.ndarray) -> str:
    if k == len(starts) - 1:
        return f"window {k}: t ≥ {starts[k]:g}"
    return f"window {k}: {starts[k]:g} ≤ t < {starts[k + 1]:g}"


def _windows_suptitle(what: str, shown: list[int], n_windows: int) -> str:
    if len(shown) == n_windows:
        return what
    return f"{what} (windows {', '.join(map(str, shown))} of {n_windows})"


def plot_windowed_flow(grid: Grid, velocities: np.ndarray, starts,
                       sensors: np.ndarray | None = None) -> Figure:
    """The velocity of each time window of a time-varying flow: speed and arrows, one panel
    per window on a shared colour and arrow scale (more than :data:`MAX_WINDOW_PANELS`
    windows: the first and last ones).

    Parameters
    ----------
    grid : Grid
        A 2-D grid.
    velocities : ndarray, shape ``(K, 2, *grid.shape)``
        One velocity per window.
    starts : array_like (K,)
        The windows' start times.
    sensors : ndarray, shape (m, 2) or (k, m, 2), optional
        Marked on every panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    velocities, starts = np.asarray(velocities), np.asarray(starts, dtype=float)
    shown = _shown_windows(len(velocities))
    vmax = max(float(np.max(np.hypot(*velocities[k]))) for k in shown)
    fig, axes = plt.subplots(1, len(shown), figsize=(4.8 * len(shown), 4.6), squeeze=False,
                             layout="constrained")
    stride = max(1, round(max(grid.shape) / ARROWS_PER_AXIS))
    for ax, k in zip(axes[0], shown):
        _quiver(ax, grid, velocities[k], "|û|", vmax, stride)
        ax.set_title(_window_title(k, starts))
        if sensors is not None:
            _mark_sensors(ax, sensors)
    fig.suptitle(_windows_suptitle("estimated flow û per time window", shown, len(velocities)))
    if sensors is not None:
        _figure_legend(fig, axes[0])
    return fig


def plot_windowed_posterior_sd(grid: Grid, std: np.ndarray, starts,
                               sensors: np.ndarray | None = None, *,
                               method: str = "Laplace") -> Figure:
    """Pointwise posterior sd of both velocity components per time window, one row per window
    and one scale for all (more than :data:`MAX_WINDOW_PANELS` windows: the first and last
    ones).

    Parameters
    ----------
    grid : Grid
        A 2-D grid.
    std : ndarray, shape ``(K, 2, *grid.shape)``
    starts : array_like (K,)
        The windows' start times.
    sensors : ndarray, shape (m, 2) or (k, m, 2), optional
    method : str
        How the posterior was approximated (for the title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    std, starts = np.asarray(std), np.asarray(starts, dtype=float)
    shown = _shown_windows(len(std))
    vmax = max(float(np.max(std[k])) for k in shown) or 1.0
    fig, axes = plt.subplots(len(shown), 2, figsize=(10.0, 4.0 * len(shown) + 0.4),
                             squeeze=False, layout="constrained")
    for row, k in zip(axes, shown):
        for ax, component, name in zip(row, std[k], ("u_x", "u_y")):
            draw_field(ax, grid, component, label=f"sd({name})", vmin=0.0, vmax=vmax)
            ax.set_title(f"{_window_title(k, starts)}, sd of {name}", fontsize=10)
            if sensors is not None:
                _mark_sensors(ax, sensors)
    fig.suptitle(_windows_suptitle(f"{method} posterior standard deviation of the velocity",
                                   shown, len(std)))
    if sensors is not None:
        _figure_legend(fig, axes[0])
    return fig


def plot_data_fit(times: np.ndarray, data: np.ndarray, predicted: np.ndarray, noise_std: float,
                  *, max_sensors: int = 6, sensors: np.ndarray | None = None,
                  prediction_label: str = "prediction") -> Figure:
    """Observed and predicted sensor time series at the sensors whose data vary most.

    The ``max_sensors`` sensors with the largest data range over time are shown (in index
    order); the title says how many of how many. Each panel shows the data, the prediction
    and the noise band prediction ± σ.

    Parameters
    ----------
    times : ndarray (k,)
    data, predicted : ndarray (k, m)
    noise_std : float
        σ of the data noise.
    max_sensors : int
        Panels at most.
    sensors : ndarray (m, 2) or (k, m, 2), optional
        Sensor positions (moving sensors: the first), quoted in the panel titles.
    prediction_label : str
        Legend entry of the prediction, e.g. ``"MAP prediction"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = data.shape[1]
    k = min(max_sensors, m)
    shown = np.sort(np.argsort(-np.ptp(data, axis=0), kind="stable")[:k])
    ncols = min(k, 3)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows + 0.8),
                             squeeze=False, sharex=True, layout="constrained")
    for ax, s in zip(axes.flat, shown):
        ax.fill_between(times, predicted[:, s] - noise_std, predicted[:, s] + noise_std,
                        color="C1", alpha=0.25, lw=0, label=f"prediction ± σ (σ = {noise_std:g})")
        ax.plot(times, predicted[:, s], "C1-", label=prediction_label)
        ax.plot(times, data[:, s], "k.", ms=4, label="data")
        if sensors is None:
            where = ""
        else:
            start = np.asarray(sensors)[..., s, :].reshape(-1, 2)[0]
            where = (f" {'from' if np.ndim(sensors) == 3 else 'at'} "
                     f"({start[0]:.2f}, {start[1]:.2f})")
        ax.set_title(f"sensor {s}{where}", fontsize=10)
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("θ at sensor")
    for ax in axes[-1]:
        ax.set_xlabel("t")
    which = " with the largest data range" if k < m else ""
    fig.suptitle(f"Data fit: {k} of {m} sensors{which} (numbered from 0)")
    _figure_legend(fig, axes.flat[:1], ncol=3)
    return fig


def coefficient_labels(basis) -> list[str]:
    """Labels ``"c[i] cos k=(k_x, k_y)"`` of the coefficients of a stream-function basis.

    Parameters
    ----------
    basis : advdiff_sens.inference.parameterisations.StreamFunctionBasis
        Anything with ``wavevectors`` (p, 2) and ``kind`` (p,) attributes.

    Returns
    -------
    list of str
    """
    return [f"c[{i}] {kind} k=({kx}, {ky})"
            for i, ((kx, ky), kind) in enumerate(zip(basis.wavevectors, basis.kind))]


def plot_traces(samples: np.ndarray, *, names: Sequence[str] | None = None,
                truth: np.ndarray | None = None, max_params: int = 4,
                select: str = "mean") -> Figure:
    """Trace plots of the most prominent parameters, one colour per chain.

    Parameters
    ----------
    samples : ndarray (chains, draws, p)
    names : sequence of str, optional
        Label per parameter (e.g. :func:`coefficient_labels`); default ``c[i]``.
    truth : ndarray (p,), optional
        True values (twin experiment), drawn as dashed horizontal lines.
    max_params : int
        Panels at most.
    select : {"mean", "sd"}
        Show the parameters with the largest \\|posterior mean\\| (the modes that carry the
        flow) or the largest posterior sd (the least constrained), largest first.

    Returns
    -------
    matplotlib.figure.Figure
    """
    scores = {"mean": lambda flat: np.abs(flat.mean(axis=0)),
              "sd": lambda flat: flat.std(axis=0)}
    if select not in scores:
        raise ValueError(f"select must be one of {tuple(scores)}, got {select!r}")
    n_chains, _, p = samples.shape
    names = list(names) if names is not None else [f"c[{i}]" for i in range(p)]
    if len(names) != p:
        raise ValueError(f"names must have one entry per parameter ({p}), got {len(names)}")
    k = min(max_params, p)
    shown = np.argsort(-scores[select](samples.reshape(-1, p)), kind="stable")[:k]
    fig, axes = plt.subplots(k, 1, figsize=(7, 1.5 * k + 1.1), squeeze=False, sharex=True,
                             layout="constrained")
    for ax, j in zip(axes[:, 0], shown):
        for c in range(n_chains):
            ax.plot(samples[c, :, j], color=f"C{c}", lw=0.9, label=f"chain {c + 1}")
        if truth is not None:
            ax.axhline(truth[j], color="k", ls="--", lw=1, label="true value")
        ax.set_title(names[j], loc="left", fontsize=9)
        ax.set_ylabel("value")
    axes[-1, 0].set_xlabel("draw (after warm-up)")
    criterion = {"mean": "|posterior mean|", "sd": "posterior sd"}[select]
    fig.suptitle(f"Traces of the {k} of {p} parameters with the largest {criterion}")
    _figure_legend(fig, axes[:1, 0], ncol=n_chains + 1)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG (creating the folder) and close it; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _drawn_nodes(grid: Grid) -> tuple[np.ndarray, ...]:
    """Node coordinates per axis, with the periodic image ``ℓ`` of node 0 on periodic axes."""
    return tuple(np.append(nodes, length) if bc == "periodic" else nodes
                 for nodes, length, bc in zip(grid.axes, grid.extent, grid.bc))


def _drawn_values(grid: Grid, field: np.ndarray) -> np.ndarray:
    """``field`` at :func:`_drawn_nodes`: node 0 repeated at the end of periodic axes."""
    return np.pad(field, [(0, 1) if bc == "periodic" else (0, 0) for bc in grid.bc], mode="wrap")


def _field_panels(grid: Grid, fields: Mapping[str, np.ndarray], *, suptitle: str | None,
                  cmap: str, symmetric: Mapping[str, bool] | None,
                  labels: Mapping[str, str] | None) -> tuple[Figure, np.ndarray]:
    """The figure of :func:`plot_fields` and its panel axes."""
    if grid.ndim not in (1, 2):
        raise ValueError(f"plot_fields draws 1-D or 2-D grids, got ndim={grid.ndim}")
    symmetric = dict(symmetric or {})
    labels = dict(labels or {})
    fig, axes = plt.subplots(1, len(fields), figsize=(4.4 * len(fields), 4.0), squeeze=False,
                             layout="constrained")
    for ax, (name, field) in zip(axes[0], fields.items()):
        field = np.real(np.asarray(field))
        label = labels.get(name, name)
        if grid.ndim == 1:
            ax.plot(_drawn_nodes(grid)[0], _drawn_values(grid, field))
            ax.set(xlim=(0, grid.extent[0]), xlabel="x", ylabel=label)
        else:
            kw = {"cmap": cmap}
            if symmetric.get(name, False):
                vmax = float(np.max(np.abs(field))) or 1.0
                kw = {"vmin": -vmax, "vmax": vmax, "cmap": "RdBu_r"}
            draw_field(ax, grid, field, label=label, **kw)
        ax.set_title(name)
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes[0]


def _nice_number(x: float) -> float:
    """The largest of 1, 2, 5 × 10^e not above ``x`` (``x > 0``)."""
    exponent = np.floor(np.log10(x))
    mantissa = x / 10**exponent
    return float(max(m for m in (1, 2, 5) if m <= mantissa + 1e-12) * 10**exponent)


def _quiver(ax: Axes, grid: Grid, velocity: np.ndarray, label: str, vmax: float,
            stride: int) -> None:
    """Speed as cells (colour bar ``label``) and arrows every ``stride`` nodes with a key.

    The longest arrow possible (speed ``vmax``) spans 0.9 ``stride`` cells; the key shows
    the round speed nearest below ``vmax``.
    """
    x, y = grid.coords
    vmax = vmax or 1.0
    draw_field(ax, grid, np.hypot(velocity[0], velocity[1]), label=label, vmin=0.0, vmax=vmax)
    s = (slice(stride // 2, None, stride),) * 2
    scale = vmax / (0.9 * stride * min(grid.spacing))
    arrows = ax.quiver(x[s], y[s], velocity[0][s], velocity[1][s], color="w", edgecolor="k",
                       linewidth=0.4, angles="xy", scale_units="xy", scale=scale, width=0.006)
    key = _nice_number(vmax)
    ax.quiverkey(arrows, 0.95, 1.03, key, f"{label} = {key:g}", labelpos="W",
                 coordinates="axes", color="k", fontproperties={"size": 8})


def _mark_sensors(ax: Axes, sensors: np.ndarray, label: str = "sensors") -> None:
    """Sensor positions as red dots, with a legend entry giving their number; moving sensors
    ``(k, m, 2)`` as their tracks (thin red lines) from their first positions (the dots)."""
    sensors = np.asarray(sensors)
    if sensors.ndim == 3:
        ax.plot(sensors[..., 0], sensors[..., 1], "r-", lw=0.8, alpha=0.7, clip_on=False)
        ax.plot([], [], "r-", lw=0.8, label=f"sensor tracks ({sensors.shape[0]} times)")
        sensors, label = sensors[0], f"{label} at the first time"
    ax.plot(sensors[:, 0], sensors[:, 1], "o", ms=4.5, mfc="r", mec="w", mew=0.7, ls="none",
            clip_on=False, label=f"{label} ({len(sensors)})")


def _figure_legend(fig: Figure, axes, ncol: int | None = None) -> None:
    """One legend below the panels with the distinct labelled artists of ``axes``."""
    entries: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, text in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(text, handle)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center",
               ncol=ncol or len(entries), frameon=False, fontsize=9)


def laplace_spectrum(eigenvalues, ax: Axes | None = None, *,
                     label: str = "eigenvalues") -> Axes:
    r"""The eigenvalues :math:`λ_i` of the prior-preconditioned data-misfit Hessian
    :math:`\tilde H` (:attr:`advdiff_sens.inference.LaplaceApproximation.eigenvalues`) on a log
    axis, with the line :math:`λ = 1`: above it the data inform a direction more than the prior
    does (the posterior variance along it is below half the prior's, :math:`1/(1+λ)`).

    Parameters
    ----------
    eigenvalues : array_like (r,)
        Non-negative, descending; zeros are not drawn (a log axis).
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.
    label : str
        Legend entry of the eigenvalues.

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = np.asarray(eigenvalues, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("eigenvalues must be a non-empty finite 1-D array")
    if np.any(values < 0):
        raise ValueError(f"eigenvalues must be >= 0, got minimum {values.min():.3g}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    index = np.arange(1, values.size + 1)
    shown = values > 0
    ax.semilogy(index[shown], values[shown], "o-", ms=3.5, lw=1, label=label)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="λ = 1 (data = prior)")
    ax.set_xlabel("index $i$")
    ax.set_ylabel("eigenvalue $\\lambda_i$\n(prior-preconditioned misfit Hessian)", fontsize=9)
    ax.set_title(f"Laplace spectrum: {int(np.sum(values > 1))} of {values.size} directions "
                 "informed by the data (λ > 1)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    return ax


__all__.append("laplace_spectrum")
