"""Sensitivity map on reference problem R2 (cellular flow, Gaussian blob, κ = 0.01, T = 1).

One figure: θ(T); the exact sensitivity ρ(T) = ∂θ(T)/∂u[v] for v = (cos 2πy, sin 2πx); the
adjoint gradient field of the point-sensor objective Φ = ½ Σ θ(T, sensor)² (sensors marked);
and the error of the first-order surrogate t·exp(tL)Jθ0 (1.6). Prints the methods table.

Run:  python examples/sensitivity_map.py      (ADVDIFF_SENS_QUICK=1: 32² instead of 96²)
"""

import os

from advdiff_sens.problems.reference_problems import r2_problem
from advdiff_sens.comparison import compare_methods

N = 32 if os.environ.get("ADVDIFF_SENS_QUICK") == "1" else 96
problem = r2_problem(N)
study = compare_methods(problem.model, problem.u, problem.theta0, problem.T)
print(f"R2 at {N}x{N}")
print(study.table())

if __name__ == "__main__":
    from advdiff_sens.plotting import figure_directory, plot_sensitivity_study, save_figure

    fig = plot_sensitivity_study(problem.model.grid, study, title=f"R2 sensitivity map, {N}²")
    path = save_figure(fig, figure_directory() / "sensitivity_map.png")
    print(f"figure saved to {path}")
