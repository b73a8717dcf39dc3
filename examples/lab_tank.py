r"""A lab tank: a steady cellular flow recovered from dye images, end to end through the CLI.

Issue #15, worked example (a). A square tank, 1 m × 1 m, no-flux walls on all four sides
(``--bc box``), κ = 2·10⁻³ m²/s, holds the steady cellular flow

.. math::

   ψ^†(x, y) = A\sin πx\,\sin πy,\qquad A = 0.05\ \text{m}^2/\text{s}

(one cell turning anticlockwise, peak speed Aπ ≈ 0.16 m/s; ψ = 0 on the walls, so the truth is
exactly the nodal stream function's free values). Dye, initially
:math:`θ_0 = 0.5 + 0.4\cos 3πx\cos 2πy` (no-flux at the walls), is imaged by a camera of
``camera`` × ``camera`` pixels, coarser than the ``nodes`` × ``nodes`` model grid, every 0.1 s
from t = 0: each pixel the mean of the model's state over its cell, noise sd 1 % of the
largest reading, and 20 % of the pixels of each image masked (random pixels, and a glare disc
that moves between frames).

The images go to ``tank.nc`` (:func:`advdiff_sens.io.write_fields`) and the run's options to
``tank.toml``; then ``advdiff-sens estimate tank.nc --config tank.toml`` runs: the first image
is θ0's prior mean (θ0 is estimated, prior sd about 1.5 times the first image's error), the
flow is the nodal ψ under the walled Matérn prior, Newton-CG to the MAP (no continuation, up
to 3 000 CG iterations per Newton step: the images inform thousands of directions), a Laplace
approximation of rank 3 000 (quick: all of the spectrum), ``results.nc``, ``fit.nc`` and the
figures. The example then reads ``results.nc`` and reports the recovery error of the velocity
and of θ0, the coverage of the truth by the Laplace 90 % band (the fraction of nodes off the
walls where :math:`|u^† − \hat u| ≤ 1.645\,\mathrm{sd}`, both components), the check of the
MAP (:math:`|g|_C` at it, which bounds the Newton decrement), the Laplace spectrum kept, the
warnings of the run and the seconds.

Run:  python examples/lab_tank.py [--quick] [--outdir DIR]
      (full size: 96² model, 64² camera, 10 images, about 50 minutes; --quick: 24², 16²,
      4 images, a few minutes)
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens import AdvectionDiffusion, Grid, cli
from advdiff_sens.cli.config import read_config
from advdiff_sens.cli.estimate import ESTIMATE_DRAWS, ESTIMATE_WARMUP
from advdiff_sens.cli.snapshotfile import initial_condition, load_snapshot_file
from advdiff_sens.cli.unknowns import build_posterior, choose
from advdiff_sens.discretisation import GriddedSnapshots
from advdiff_sens.exceptions import AdvDiffSensWarning
from advdiff_sens.inference import (MAP_DECREMENT_TOL, InferenceResult, NodalStreamFunction,
                                    Posterior)
from advdiff_sens.io import read_snapshots, write_fields
from advdiff_sens.validation import as_rng

#: Seed of the gallery figure and the docs' numbers.
GALLERY_SEED = 15
#: Diffusivity (m²/s), cell amplitude A (m²/s), image interval (s), noise, masked fraction.
KAPPA = 2e-3
AMPLITUDE = 0.05
FRAME_INTERVAL = 0.1
NOISE = 0.01
MASKED = 0.2
#: The Laplace band's two-sided 90 % quantile.
BAND = 1.6448536269514722
#: Newton iterations allowed (the full run needs about 20).
NEWTON_MAX_ITER = 100


@dataclass(frozen=True)
class Settings:
    """Sizes: model nodes and camera pixels per axis, images after the first, Laplace rank
    (None: min(N, p), every direction the data can inform), Newton-CG's CG iterations per
    Newton step, and the prior sd of θ0 around the first image (about 1.5 times the first
    image's RMS error on the model grid: 0.019 at full size, 0.053 at quick size — the 1 %
    noise, the coarser camera and the interpolation across the masked pixels)."""

    nodes: int
    camera: int
    n_images: int
    laplace_rank: int | None
    cg_max_iter: int
    theta0_std: float


def settings(quick: bool = False) -> Settings:
    """The full example (module docstring) or its quick version."""
    return (Settings(24, 16, 4, None, 500, 0.08) if quick
            else Settings(96, 64, 10, 3000, 3000, 0.03))


def true_stream_function(grid: Grid) -> np.ndarray:
    """:math:`ψ^† = A\\sin πx\\sin πy` at the nodes of ``grid``."""
    x, y = grid.coords
    return AMPLITUDE * np.sin(np.pi * x) * np.sin(np.pi * y)


def initial_dye(grid: Grid) -> np.ndarray:
    """:math:`θ_0 = 0.5 + 0.4\\cos 3πx\\cos 2πy` at the nodes."""
    x, y = grid.coords
    return 0.5 + 0.4 * np.cos(3 * np.pi * x) * np.cos(2 * np.pi * y)


def camera_centres(n_pixels: int) -> np.ndarray:
    """Pixel centres of the camera along one axis (cells tiling [0, 1])."""
    return (np.arange(n_pixels) + 0.5) / n_pixels


def mask(shape: tuple[int, int], frame: int, rng: np.random.Generator) -> np.ndarray:
    """Missing pixels of one frame: a glare disc of 8 % of the area drifting with ``frame``,
    and random pixels to bring the total to :data:`MASKED`."""
    c = [camera_centres(s) for s in shape]
    x, y = np.meshgrid(*c, indexing="ij")
    centre = (0.3 + 0.04 * frame, 0.65 - 0.02 * frame)
    glare = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= 0.08 / np.pi
    extra = (MASKED - glare.mean()) / (1 - glare.mean())
    return glare | (rng.random(shape) < extra)


@dataclass(frozen=True)
class TankResult:
    """What the example measured (module docstring)."""

    settings: Settings
    velocity_error: float
    theta0_error: float
    theta0_prior_error: float
    coverage: float
    misfit: float
    n_data: int
    n_params: int
    gradient_norm: float
    eigenvalues: np.ndarray
    warnings: tuple[str, ...]
    missing_fraction: float
    seconds: float
    outdir: Path
    true_psi: np.ndarray
    map_psi: np.ndarray
    psi_sd: np.ndarray
    first_image: np.ndarray

    def report(self) -> str:
        """The numbers as text."""
        s = self.settings
        return "\n".join([
            f"lab tank: {s.nodes}² model, {s.camera}² camera, {s.n_images} images after the "
            f"first, {self.missing_fraction:.1%} of the pixels masked",
            f"velocity error |û − u†|/|u†| = {self.velocity_error:.3f}",
            f"θ0 error: MAP {self.theta0_error:.4f}, first image (its prior mean) "
            f"{self.theta0_prior_error:.4f}",
            f"coverage of u† by the Laplace 90 % band: {self.coverage:.3f}",
            f"misfit Φ = {self.misfit:.1f} against N/2 = {self.n_data / 2:.0f}",
            f"MAP check: |g|_C = {self.gradient_norm:.3g} (bounds the Newton decrement; "
            f"tolerance {MAP_DECREMENT_TOL:g})",
            f"Laplace: rank {self.eigenvalues.size} of min(N, p) = "
            f"{min(self.n_data, self.n_params)}, eigenvalues {self.eigenvalues[0]:.3g} to "
            f"{self.eigenvalues[-1]:.3g}, {int(np.sum(self.eigenvalues > 1))} above 1",
            "warnings: " + ("; ".join(self.warnings) if self.warnings else "none"),
            f"estimate: {self.seconds:.1f} s; results in {self.outdir}"])


def write_tank_files(outdir: Path, config: Settings, rng: np.random.Generator
                     ) -> tuple[Path, Path, AdvectionDiffusion, np.ndarray]:
    """Simulate the images; write ``tank.nc`` and ``tank.toml``; return their paths, the model
    and the true free ψ values."""
    grid = Grid((config.nodes, config.nodes), bc="neumann")
    flow = NodalStreamFunction(grid)
    truth = true_stream_function(flow.free_grid).ravel()
    model = AdvectionDiffusion(grid, KAPPA, "exponential")
    times = FRAME_INTERVAL * np.arange(config.n_images + 1)
    theta = np.concatenate([initial_dye(grid)[None],
                            model.solve(flow.to_velocity(truth), initial_dye(grid), times[1:])])
    centres = camera_centres(config.camera)
    camera = GriddedSnapshots(grid, (centres, centres), "cell_average")
    clean = camera.forward(theta).reshape(-1, config.camera, config.camera)
    sd = NOISE * float(np.abs(clean).max())
    images = clean + sd * rng.standard_normal(clean.shape)
    for frame in range(images.shape[0]):
        images[frame][mask(images.shape[1:], frame, rng)] = np.nan
    tank = write_fields(outdir / "tank.nc", Grid((config.camera,) * 2), {"dye": images},
                        times=times, cell_centred=True,
                        attrs={"kappa": KAPPA, "noise_std": sd, "title": "lab tank, dye"},
                        units={"dye": "1"})
    toml = outdir / "tank.toml"
    rank = "" if config.laplace_rank is None else f"laplace-rank = {config.laplace_rank}\n"
    toml.write_text(f"""# advdiff-sens estimate tank.nc --config tank.toml
[domain]
bc = "box"
nodes = {config.nodes}

[data]
observation = "cell-average"

[unknowns]
unknowns = ["flow", "theta0"]
theta0-std = {config.theta0_std}

[space]
space = "nodal"
flow-std = 0.05
correlation-length = 0.3

[optimiser]
stages = "none"
newton-max-iter = {NEWTON_MAX_ITER}
cg-max-iter = {config.cg_max_iter}

[sampler]
sampler = "none"
{rank}
[output]
outdir = "{(outdir / 'results').as_posix()}"
""")
    return tank, toml, model, truth


def main(quick: bool = False, rng=None) -> TankResult:
    """Simulate, write the files, run ``advdiff-sens estimate tank.nc --config tank.toml`` in
    a folder next to them (a temporary one unless ``outdir`` is given under ``__main__``), and
    measure (module docstring).

    Parameters
    ----------
    quick : bool
        24² model, 16² camera, 4 images, Laplace rank 20.
    rng : None, int or numpy.random.Generator
        Noise and masks; None uses ``GALLERY_SEED``.

    Returns
    -------
    TankResult
    """
    import tempfile

    return run(Path(tempfile.mkdtemp(prefix="lab_tank_")), quick=quick, rng=rng)


def run(outdir: Path, *, quick: bool = False, rng=None) -> TankResult:
    """:func:`main` writing into ``outdir``."""
    config = settings(quick)
    rng = as_rng(GALLERY_SEED if rng is None else rng)
    outdir.mkdir(parents=True, exist_ok=True)
    tank, toml, model, truth = write_tank_files(outdir, config, rng)
    begin = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        # the library's own warnings (fit, accuracy, physics), not third-party deprecations
        warnings.simplefilter("always", AdvDiffSensWarning)
        code = cli.main(["estimate", str(tank), "--config", str(toml)])
    seconds = time.perf_counter() - begin
    for w in caught:
        print(f"warning: {w.message} ({w.category.__name__})")
    if code != 0:
        raise RuntimeError(f"advdiff-sens estimate exited with status {code}")
    arrays = InferenceResult.load(outdir / "results" / "inference.npz").arrays
    posterior = cli_posterior(tank, toml)
    gradient = posterior.linearise(arrays["coefficients"]).gradient
    import xarray

    results = xarray.open_dataset(outdir / "results" / "results.nc", engine="h5netcdf")
    grid = model.grid
    flow = NodalStreamFunction(grid)
    u_true = flow.to_velocity(truth)
    # results.nc is (y, x): back to the model's (x, y)
    u_map = np.stack([results["u"].values.T, results["v"].values.T])
    u_sd = np.stack([results["u_sd"].values.T, results["v_sd"].values.T])
    inner = (slice(None), slice(1, -1), slice(1, -1))
    covered = np.abs(u_true - u_map)[inner] <= BAND * u_sd[inner]
    snaps = read_snapshots(tank)
    theta0_true = initial_dye(grid)
    norm = np.linalg.norm(theta0_true)
    first_on_grid = initial_condition(snaps, grid)        # θ0's prior mean, as the CLI made it
    return TankResult(
        config, float(np.linalg.norm(u_map - u_true) / np.linalg.norm(u_true)),
        float(np.linalg.norm(results["theta0"].values.T - theta0_true) / norm),
        float(np.linalg.norm(first_on_grid - theta0_true) / norm),
        float(covered.mean()), float(results.attrs["misfit"]), int(results.attrs["n_data"]),
        posterior.n_params, float(np.sqrt(gradient @ posterior.prior.covariance(gradient))),
        arrays["eigenvalues"], tuple(str(w.message) for w in caught),
        snaps.missing_fraction, seconds, outdir / "results",
        flow.stream_function(truth), results["psi"].values.T, results["psi_sd"].values.T,
        snaps.values[0])


def cli_posterior(tank: Path, toml: Path) -> Posterior:
    r"""The posterior ``advdiff-sens estimate tank.nc --config tank.toml`` builds (for the
    check of its MAP: :math:`|g|_C = \sqrt{g^TCg}` bounds the Newton decrement
    :math:`\sqrt{g^TC_{post}g}`, as :math:`C_{post} ≤ C`)."""
    parser = cli.build_parser()
    command = parser.commands["estimate"]
    command.set_defaults(**read_config(toml, command))
    args = parser.parse_args(["estimate", str(tank)])
    choice = choose(args, n_draws=ESTIMATE_DRAWS, n_warmup=ESTIMATE_WARMUP)
    return build_posterior(choice, load_snapshot_file(str(tank), args), args.scheme)


def plot(result: TankResult, path: Path) -> Path:
    """The first image, the true and MAP stream functions, and the posterior sd of ψ."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import draw_field, save_figure

    n = result.true_psi.shape[0]
    grid = Grid((n, n), bc="neumann")
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), layout="constrained")
    camera = Grid(result.first_image.shape)
    draw_field(axes[0], camera, result.first_image, label="dye", cmap="viridis")
    axes[0].set_title(f"first image ({result.missing_fraction:.0%} of all pixels masked)",
                      fontsize=10)
    limits = {"vmin": result.true_psi.min(), "vmax": result.true_psi.max(), "cmap": "RdBu_r"}
    draw_field(axes[1], grid, result.true_psi, label="ψ† (m²/s)", **limits)
    axes[1].set_title("true cellular flow ψ†", fontsize=10)
    draw_field(axes[2], grid, result.map_psi, label="ψ MAP (m²/s)", **limits)
    axes[2].set_title(f"MAP, velocity error {result.velocity_error:.2f}", fontsize=10)
    draw_field(axes[3], grid, result.psi_sd, label="sd of ψ", cmap="magma")
    axes[3].set_title(f"Laplace sd; 90 % band covers u† at {result.coverage:.0%} of nodes",
                      fontsize=10)
    fig.suptitle("lab tank: a steady cellular flow from dye images "
                 f"({result.settings.camera}² camera, {result.settings.nodes}² model)")
    return save_figure(fig, path)


if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = run(args.outdir / "lab_tank", quick=args.quick)
    print(result.report())
    print(f"saved {plot(result, args.outdir / 'lab_tank.png')}")
