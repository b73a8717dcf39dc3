r"""Reference problem R1: measured convergence order of the three spatial schemes.

R1 is the 1-D periodic plane wave: on the unit interval with constant velocity u = 1,
κ = 0.02 and θ0 = sin kx (k = 2π), the exact solution is

.. math::

    θ(x, t) = e^{-κk^2t} \sin(k(x - ut)).

The semi-discrete problem θ' = L(u)θ is solved exactly in time (the certified propagator), so
the error at t = 0.5 is the spatial error alone: order 2 for the central scheme, order 1 for
upwind (its numerical diffusion uh/2), and order 2 as h → 0 for exponential fitting
(diffusivity κ Pe coth Pe = κ(1 + Pe²/3 + …), Pe = uh/(2κ)). :func:`main` returns the
max-norm errors on N = 16 … 512 nodes (16 … 128 with ``quick``) and the orders fitted over
the last four grids.

Run:  python examples/convergence_r1.py [--quick] [--outdir DIR]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import advdiff_sens as ads
from advdiff_sens.problems import plane_wave, plane_wave_solution

KAPPA, VELOCITY, TIME, K = 0.02, 1.0, 0.5, 2 * np.pi
SCHEMES = ("central", "upwind", "exponential")
#: Order of accuracy in space of each scheme as h → 0 at fixed κ.
ASYMPTOTIC_ORDERS = {"central": 2, "upwind": 1, "exponential": 2}
#: The fitted order uses this many of the finest grids.
FIT_LAST = 4


@dataclass(frozen=True)
class ConvergenceResult:
    """Errors of R1 at t = 0.5 and their fitted orders.

    Attributes
    ----------
    sizes : ndarray of int
        Nodes N of each grid.
    errors : dict of str to ndarray
        ``errors[scheme][i] = max_j |θ_h(x_j, t) − θ(x_j, t)|`` on ``sizes[i]`` nodes.
    orders : dict of str to float
        Minus the least-squares slope of log error against log N over the last
        ``FIT_LAST`` grids.
    """

    sizes: np.ndarray
    errors: dict[str, np.ndarray]
    orders: dict[str, float]

    def local_orders(self, scheme: str) -> np.ndarray:
        r"""Orders between consecutive grids, :math:`\log(e_i/e_{i+1}) / \log(N_{i+1}/N_i)`."""
        e = self.errors[scheme]
        return np.log(e[:-1] / e[1:]) / np.log(self.sizes[1:] / self.sizes[:-1])

    def table(self) -> str:
        """The errors and fitted orders as a Markdown table."""
        lines = ["| N | " + " | ".join(self.errors) + " |", "|" + "---|" * (len(self.errors) + 1)]
        lines += [f"| {n} | " + " | ".join(f"{e[i]:.2e}" for e in self.errors.values()) + " |"
                  for i, n in enumerate(self.sizes)]
        lines.append(f"| fitted order (last {FIT_LAST}) | "
                     + " | ".join(f"{self.orders[s]:.2f}" for s in self.errors) + " |")
        return "\n".join(lines)


def grid_sizes(quick: bool = False) -> np.ndarray:
    """N = 16, 32, …, 512 (up to 128 with ``quick``)."""
    return np.array([16, 32, 64, 128] if quick else [16, 32, 64, 128, 256, 512])


def r1_error(scheme: str, n: int) -> float:
    """Max-norm error of ``scheme`` on ``n`` nodes at t = 0.5 against the exact solution."""
    grid = ads.Grid((n,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, KAPPA, scheme)
    theta = model.solve(np.full((1, n), VELOCITY), plane_wave(grid, [K]), TIME)
    return float(np.abs(theta - plane_wave_solution(grid, [K], [VELOCITY], KAPPA, TIME)).max())


def fitted_order(sizes: np.ndarray, errors: np.ndarray) -> float:
    """Minus the least-squares slope of log error against log N on the last ``FIT_LAST`` grids."""
    return float(-np.polyfit(np.log(sizes[-FIT_LAST:]), np.log(errors[-FIT_LAST:]), 1)[0])


def main(quick: bool = False, rng=None) -> ConvergenceResult:
    """Errors of the three schemes on R1 and their fitted orders.

    Parameters
    ----------
    quick : bool
        Grids up to N = 128 instead of 512.
    rng : None
        Unused: R1 is deterministic (accepted for the common signature of the examples).

    Returns
    -------
    ConvergenceResult
    """
    sizes = grid_sizes(quick)
    errors = {s: np.array([r1_error(s, n) for n in sizes]) for s in SCHEMES}
    return ConvergenceResult(sizes, errors, {s: fitted_order(sizes, e) for s, e in errors.items()})


def plot(result: ConvergenceResult, path: Path) -> Path:
    """Log–log plot of the errors against N, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, ax = plt.subplots(figsize=(5, 4))
    for scheme, err in result.errors.items():
        ax.loglog(result.sizes, err, "o-", label=f"{scheme} (order {result.orders[scheme]:.2f})")
    ax.set_xticks(result.sizes, [str(n) for n in result.sizes], minor=False)
    ax.set_xticks([], minor=True)
    ax.set_xlabel("N (nodes per axis)")
    ax.set_ylabel("max error at t = 0.5")
    ax.set_title("R1: convergence against the exact solution")
    ax.legend()
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.table())
    print(f"figure saved to {plot(result, args.outdir / 'convergence_r1.png')}")
