r"""The netCDF input of ``estimate``: gridded snapshots of the scalar (dye images, SST fields).

A ``.nc`` file (:func:`advdiff_sens.io.read_snapshots`: one ``(time, y, x)`` variable,
coordinate variables in metres and seconds, gaps as NaN or ``_FillValue``, optional ``kappa``
and ``noise_std``) becomes the data of a :class:`~advdiff_sens.inference.Posterior`:

* the **model grid** covers the images' domain with ``--nodes`` nodes per axis (default one
  per pixel) and the boundary conditions ``--bc`` (``periodic``, ``channel`` = periodic in x
  with no-flux walls in y, ``box`` = no-flux walls on both axes, or two of periodic, neumann,
  dirichlet);
* the **first image is the initial condition**: its observed pixels, interpolated linearly to
  the model's nodes (nearest pixel outside their hull), are θ0 — known, or the mean of θ0's
  prior with ``--unknowns ...,theta0``; the later images are the data, at their times since the
  first;
* each pixel reads the model state by ``--observation`` (``cell-average``, the default: the
  mean of the model's interpolant over the pixel; or ``bilinear``: its value at the centre),
  :class:`~advdiff_sens.discretisation.GriddedSnapshots`; masked pixels drop out;
* κ and the noise sd come from the file, or from ``--kappa`` and ``--noise-std`` (which win).

Every error is a ``ValueError`` naming the file or the option, raised before any computation.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.interpolate import griddata

from advdiff_sens.cli.options import integer_at_least, number_above
from advdiff_sens.discretisation import GriddedSnapshots, Grid, Observations
from advdiff_sens.discretisation.grid import MIN_NODES
from advdiff_sens.io import ScalarSnapshots, read_snapshots

__all__ = ["add_snapshot_options", "load_snapshot_file", "snapshot_summary", "BC_NAMES",
           "SNAPSHOT_OPTIONS", "is_snapshot_file"]

#: Named boundary-condition pairs of ``--bc`` (x axis, y axis).
BC_NAMES = {"periodic": ("periodic", "periodic"), "channel": ("periodic", "neumann"),
            "box": ("neumann", "neumann")}
#: The options that only apply to a netCDF input.
SNAPSHOT_OPTIONS = ("nodes", "bc", "observation", "kappa", "noise_std")
#: ``--observation`` → the pixel method of GriddedSnapshots.
PIXEL_METHOD_NAMES = {"cell-average": "cell_average", "bilinear": "bilinear"}


def is_snapshot_file(path: str) -> bool:
    """Whether ``path`` names a netCDF file (by its suffix ``.nc``/``.nc4``/``.cdf``)."""
    return str(path).lower().endswith((".nc", ".nc4", ".cdf"))


def node_counts(text: str) -> tuple[int, ...]:
    """An argparse type: nodes per axis, ``"64"`` (both axes) or ``"64,48"`` (x, y).

    Examples
    --------
    >>> node_counts("64"), node_counts("64,48")
    ((64, 64), (64, 48))
    """
    parse = integer_at_least(MIN_NODES)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected one or two integers >= {MIN_NODES} "
                                         f"(nodes along x[, y]), got {text!r}")
    counts = tuple(parse(p) for p in parts)
    return counts * 2 if len(counts) == 1 else counts


node_counts.__name__ = "node counts"


def boundary_conditions(text: str) -> tuple[str, str]:
    """An argparse type: ``periodic``, ``channel``, ``box`` or two of periodic, neumann,
    dirichlet (x, y).

    Examples
    --------
    >>> boundary_conditions("channel"), boundary_conditions("neumann,dirichlet")
    (('periodic', 'neumann'), ('neumann', 'dirichlet'))
    """
    name = text.strip().lower()
    if name in BC_NAMES:
        return BC_NAMES[name]
    parts = tuple(p.strip() for p in name.split(","))
    if len(parts) == 2 and all(p in ("periodic", "neumann", "dirichlet") for p in parts):
        return parts
    raise argparse.ArgumentTypeError(f"expected {', '.join(BC_NAMES)} or two of periodic, "
                                     f"neumann, dirichlet (x,y), got {text!r}")


boundary_conditions.__name__ = "boundary conditions"


def add_snapshot_options(parser: argparse.ArgumentParser) -> None:
    """The options of a netCDF input (module docstring)."""
    group = parser.add_argument_group("netCDF snapshot input (DATA.nc)")
    group.add_argument("--nodes", type=node_counts, default=None,
                       help="model nodes along x[,y] (default one per pixel)")
    group.add_argument("--bc", type=boundary_conditions, default=None,
                       help="boundary conditions: periodic (default), channel (walls in y), "
                            "box (walls on both axes), or x,y from periodic/neumann/dirichlet")
    group.add_argument("--observation", choices=tuple(PIXEL_METHOD_NAMES), default=None,
                       help="how a pixel reads the model: cell-average (default) or bilinear")
    group.add_argument("--kappa", type=number_above(0.0), default=None,
                       help="diffusivity in m²/s (default: the file's 'kappa' attribute)")
    group.add_argument("--noise-std", type=number_above(0.0), default=None,
                       help="noise sd of every pixel (default: the file's noise_std)")


def _cell_edges(centres: np.ndarray, extent: float) -> np.ndarray:
    """The pixel cells of one axis: half-way between centres, the domain's ends outside."""
    return np.concatenate([[0.0], 0.5 * (centres[1:] + centres[:-1]), [extent]])


def initial_condition(snaps: ScalarSnapshots, grid: Grid) -> np.ndarray:
    r"""θ0 on ``grid``'s nodes from the first image: linear interpolation of its observed
    pixels (a Delaunay triangulation of their centres), the nearest observed pixel where a node
    lies outside their hull."""
    first = snaps.values[0]
    seen = np.isfinite(first)
    centres = np.stack([c.ravel() for c in np.meshgrid(*snaps.pixel_centres,
                                                        indexing="ij")], axis=1)[seen.ravel()]
    values = first[seen]
    nodes = np.stack([c.ravel() for c in grid.coords], axis=1)
    if values.size >= 3 and np.linalg.matrix_rank(centres - centres[0]) == grid.ndim:
        theta0 = griddata(centres, values, nodes, method="linear")
    else:
        theta0 = np.full(nodes.shape[0], np.nan)
    outside = ~np.isfinite(theta0)
    if outside.any():
        theta0[outside] = griddata(centres, values, nodes[outside], method="nearest")
    return theta0.reshape(grid.shape)


def load_snapshot_file(path: str, args: argparse.Namespace) -> dict:
    """Read and check a netCDF input of ``estimate`` (module docstring); return the data in
    the form of :func:`advdiff_sens.cli.datafile.load_data_file` (``sensors`` None) with the
    :class:`~advdiff_sens.discretisation.Observations` of the later images and the snapshots.
    """
    snaps = read_snapshots(path)
    if snaps.values.ndim != 3:
        raise ValueError(f"{path}: {snaps.name}: expected 2-D images (time, y, x), got "
                         f"{snaps.values.ndim - 1}-D snapshots")
    if snaps.times.size < 2:
        raise ValueError(f"{path}: {snaps.name}: needs at least two snapshots (the first is "
                         f"the initial condition), got {snaps.times.size}")
    kappa = args.kappa if args.kappa is not None else snaps.kappa
    if kappa is None:
        raise ValueError(f"argument --kappa: {path} has no 'kappa' attribute; give --kappa "
                         "(m²/s)")
    noise = args.noise_std if args.noise_std is not None else snaps.noise_std
    if noise is None:
        raise ValueError(f"argument --noise-std: {path} has no noise_std (attribute or "
                         "variable); give --noise-std")
    if isinstance(noise, np.ndarray):
        noise = noise[1:]
    bc = args.bc or BC_NAMES["periodic"]
    shape = args.nodes or snaps.shape
    try:
        grid = Grid(shape, extent=snaps.extent, bc=bc)
        operator = GriddedSnapshots(grid, snaps.pixel_centres,
                                    PIXEL_METHOD_NAMES[args.observation or "cell-average"],
                                    edges=[_cell_edges(c, e) for c, e in
                                           zip(snaps.pixel_centres, snaps.extent)]
                                    if (args.observation or "cell-average") == "cell-average"
                                    else None)
        observations = Observations(operator, snaps.values[1:], noise)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return {"grid": grid, "theta0": initial_condition(snaps, grid), "sensors": None,
            "times": snaps.times[1:], "data": snaps.values[1:], "noise_std": noise,
            "kappa": float(kappa), "kmax": 2.0, "prior_std": None, "velocity": None,
            "observations": observations, "snapshots": snaps}


def snapshot_summary(path: str, d: dict) -> str:
    """What ``estimate`` read from a netCDF input, printed before it starts."""
    snaps, grid, obs = d["snapshots"], d["grid"], d["observations"]
    noise = d["noise_std"]
    noise_text = (f"noise sd {noise:g}" if np.ndim(noise) == 0 else
                  f"noise sd per pixel {np.nanmin(noise):g} to {np.nanmax(noise):g}")
    return "\n".join([
        f"read {path}: variable {snaps.name!r}, {snaps.times.size} images of "
        f"{snaps.shape[0]} x {snaps.shape[1]} pixels, {snaps.missing_fraction:.1%} missing",
        (f"  domain {snaps.extent[0]:g} x {snaps.extent[1]:g} m from ({snaps.origin[0]:g}, "
         f"{snaps.origin[1]:g}); model grid {grid.shape[0]} x {grid.shape[1]}, bc "
         f"{grid.bc[0]} (x), {grid.bc[1]} (y)"),
        f"  κ = {d['kappa']:g} m²/s; θ0 from the first image (t = {snaps.time_origin})",
        (f"  {d['times'].size} data images at t in [{d['times'][0]:g}, {d['times'][-1]:g}] s, "
         f"{obs.n_data} observed pixels, {noise_text}")])
