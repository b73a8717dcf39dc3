"""Reference problem R1: measured convergence order of the three schemes.

1-D periodic unit interval, constant u = 1, κ = 0.02, θ0 = sin 2πx, t = 0.5; the exact solution
is exp(−κk²t) sin(k(x − ut)). Prints the max-norm error table with the fitted orders and
saves a log–log plot.

Run:  python examples/convergence_r1.py     (ADVDIFF_SENS_QUICK=1 for a smaller run)
"""

import os

import numpy as np

import advdiff_sens as ads
from advdiff_sens.problems.reference_problems import plane_wave, plane_wave_solution

QUICK = os.environ.get("ADVDIFF_SENS_QUICK") == "1"
SIZES = np.array([16, 32, 64, 128] if QUICK else [16, 32, 64, 128, 256, 512])
KAPPA, VELOCITY, TIME, K = 0.02, 1.0, 0.5, 2 * np.pi


def r1_error(scheme: str, n: int) -> float:
    grid = ads.Grid((n,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, KAPPA, scheme)
    theta = model.solve(np.full((1, n), VELOCITY), plane_wave(grid, [K]), TIME)
    return float(np.abs(theta - plane_wave_solution(grid, [K], [VELOCITY], KAPPA, TIME)).max())


errors = {s: np.array([r1_error(s, n) for n in SIZES]) for s in ("central", "upwind", "exponential")}
orders = {s: -np.polyfit(np.log(SIZES[-4:]), np.log(e[-4:]), 1)[0] for s, e in errors.items()}

header = "| N | " + " | ".join(errors) + " |"
print(header)
print("|" + "---|" * (len(errors) + 1))
for i, n in enumerate(SIZES):
    print(f"| {n} | " + " | ".join(f"{e[i]:.2e}" for e in errors.values()) + " |")
print("| fitted order (last 4) | " + " | ".join(f"{orders[s]:.2f}" for s in errors) + " |")

if __name__ == "__main__":
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import figure_directory, save_figure

    fig, ax = plt.subplots(figsize=(5, 4))
    for scheme, err in errors.items():
        ax.loglog(SIZES, err, "o-", label=f"{scheme} (order {orders[scheme]:.2f})")
    ax.set_xticks(SIZES, [str(n) for n in SIZES], minor=False)
    ax.set_xticks([], minor=True)
    ax.set_xlabel("N (nodes per axis)")
    ax.set_ylabel("max error at t = 0.5")
    ax.set_title("R1: convergence against the exact solution")
    ax.legend()
    path = save_figure(fig, figure_directory() / "convergence_r1.png")
    print(f"figure saved to {path}")
