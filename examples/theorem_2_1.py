"""Theorem 2.1, corrected: error of the surrogates of the Fréchet derivative against t.

For a random 30 x 30 rate matrix (iid Exp(1) rates) and two directions — a zero-row-sum J
(every perturbation inside the rate-matrix class) and a single-entry J (the note's
Section 3) — plot the Frobenius error against the exact derivative (scipy's
``expm_frechet``) of

* the first-order surrogate (1.6) and the "third-order" surrogate (4.1),
* the asymptotic surrogate of the corrected Theorem 2.1 (group inverse, minus sign),
* the note's printed versions: Moore–Penrose pseudo-inverse, and + sign in (2.10),

together with the explicit bound and C exp(-kappa t) of ``theorem_2_1_constants``.

Run:  python examples/theorem_2_1.py        (ADVDIFF_SENS_QUICK=1 for a smaller run)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from advdiff_sens import matrix as am

QUICK = os.environ.get("ADVDIFF_SENS_QUICK") == "1"
D = 15 if QUICK else 30
N_TIMES = 25 if QUICK else 80
SEED = 1

rng = np.random.default_rng(SEED)
Q = am.random_rate_matrix(D, rng)
E_M_MIN, E_M_MAX = am.spectral_gap(Q)
J_zero_row = rng.standard_normal((D, D))
J_zero_row -= np.diag(J_zero_row.sum(axis=1))
J_single = np.zeros((D, D))
J_single[2, 5] = 1.0
DIRECTIONS = {"zero-row-sum J": J_zero_row, "single-entry J": J_single}
TIMES = np.linspace(0.25, 40.0, N_TIMES) / E_M_MIN
REPORT_AT = (1.0, 25.0, 40.0)  # values of t * e_m quoted in the summary

APPROXIMATIONS = {
    "first order (1.6)": lambda J, t: am.surrogate(Q, J, t, order=1),
    "third order (4.1)": lambda J, t: am.surrogate(Q, J, t, order=3),
    "asymptotic, corrected": lambda J, t: am.surrogate(Q, J, t, order="asymptotic"),
    "asymptotic, Moore-Penrose": lambda J, t: am.asymptotic_surrogate(
        Q, J, t, inverse="moore-penrose"),
    "asymptotic, printed + sign": lambda J, t: am.asymptotic_surrogate(
        Q, J, t, constant_sign=+1),
}


def errors(J: np.ndarray) -> dict[str, np.ndarray]:
    """Frobenius errors ||S(t) - grad_J exp(tQ)|| of every approximation, and ||grad||."""
    exact = [am.expm_frechet(Q, J, t) for t in TIMES]
    out = {name: np.array([np.linalg.norm(f(J, t) - g) for t, g in zip(TIMES, exact)])
           for name, f in APPROXIMATIONS.items()}
    out["||grad||"] = np.array([np.linalg.norm(g) for g in exact])
    return out


ERRORS = {name: errors(J) for name, J in DIRECTIONS.items()}
CONSTANTS = {name: am.theorem_2_1_constants(Q, J) for name, J in DIRECTIONS.items()}


def summary() -> str:
    lines = [f"random Exp(1) rate matrix d={D}, seed {SEED}: e_m={E_M_MIN:.4g}, "
             f"e_M={E_M_MAX:.4g}, decay rate gamma={am.decay_rate(Q):.4g}",
             "relative error ||S(t) - grad|| / ||grad|| at t*e_m = "
             + ", ".join(f"{r:g}" for r in REPORT_AT)]
    for name, errs in ERRORS.items():
        c = CONSTANTS[name]
        lines.append(f"{name}: C={c.C:.4g}, kappa={c.kappa:.4g} (gamma/2), "
                     f"cond2(V)={c.condition:.3g}")
        for approx in APPROXIMATIONS:
            rel = errs[approx] / errs["||grad||"]
            values = [np.interp(r / E_M_MIN, TIMES, rel) for r in REPORT_AT]
            lines.append(f"  {approx:28s} " + "  ".join(f"{v:.2e}" for v in values))
    return "\n".join(lines)


def plot(figdir: Path) -> Path:
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.0), sharey=True, layout="constrained")
    for ax, (name, errs) in zip(axes, ERRORS.items()):
        c = CONSTANTS[name]
        for approx, style in zip(APPROXIMATIONS, ["-", "-", "-", "-", "-."]):
            ax.semilogy(TIMES * E_M_MIN, np.maximum(errs[approx], 1e-17), style, label=approx,
                        lw=2.5 if approx.endswith("corrected") else 1.5)
        ax.semilogy(TIMES * E_M_MIN, [c.bound(t) for t in TIMES], "k--",
                    label="Theorem 2.1 bound(t)")
        ax.semilogy(TIMES * E_M_MIN, c.C * np.exp(-c.kappa * TIMES), "k:",
                    label=r"$C e^{-\kappa t}$, $\kappa=\gamma/2$")
        ax.set_title(f"{name}, d={D}")
        ax.set_xlabel(r"$t\, e_m$")
        ax.set_ylim(1e-17, 1e4)
    axes[0].set_ylabel(r"$\|S(t) - \nabla_J e^{tQ}\|_F$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize=8, frameon=False)
    return save_figure(fig, figdir / "theorem_2_1.png")


if __name__ == "__main__":
    from advdiff_sens.plotting import figure_directory

    figdir = figure_directory()
    print(summary())
    print(f"saved {plot(figdir)}")
