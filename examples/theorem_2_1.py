"""Theorem 2.1, corrected: error of the surrogates of the Fréchet derivative against t.

For a random d x d rate matrix Q (iid Exp(1) rates, d = 30; 15 with ``quick``) and two
directions — a zero-row-sum J (every perturbation inside the rate-matrix class) and a
single-entry J (the note's Section 3) — compare with the exact derivative
grad_J exp(tQ) (scipy's ``expm_frechet``), in the Frobenius norm,

* the first-order surrogate (1.6) and the "third-order" surrogate (4.1),
* the asymptotic surrogate of the corrected Theorem 2.1,
  t e^{tQ} J - e^{tQ} J Q#(I + tQ) - Q# J (I - Q Q#)  (group inverse Q#, minus sign),
* the note's printed versions: Moore–Penrose pseudo-inverse Q+, and + sign in (2.10),

together with the explicit bound(t) <= C exp(-kappa t) of ``theorem_2_1_constants``
(2.10)–(2.11): the corrected surrogate's error stays below bound(t) and decays like
exp(-kappa t); the Moore–Penrose version does not decay, and the + sign decays only for a
zero-row-sum J (J 1 = 0).

Run:  python examples/theorem_2_1.py [--quick] [--outdir DIR]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens import matrix as am

#: Seed of the gallery figure and the README numbers (``main(rng=None)``).
SEED = 1
REPORT_AT = (1.0, 25.0, 40.0)  # values of t * e_m quoted in the summary

APPROXIMATIONS: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "first order (1.6)": lambda Q, J, t: am.surrogate(Q, J, t, order=1),
    "third order (4.1)": lambda Q, J, t: am.surrogate(Q, J, t, order=3),
    "asymptotic, corrected": lambda Q, J, t: am.surrogate(Q, J, t, order="asymptotic"),
    "asymptotic, Moore-Penrose": lambda Q, J, t: am.asymptotic_surrogate(
        Q, J, t, inverse="moore-penrose"),
    "asymptotic, printed + sign": lambda Q, J, t: am.asymptotic_surrogate(
        Q, J, t, constant_sign=+1),
}


@dataclass(frozen=True)
class Theorem21Result:
    """Errors of every surrogate against t for one rate matrix and two directions.

    Attributes
    ----------
    Q : ndarray, shape (d, d)
        The random rate matrix.
    e_m, e_M : float
        Smallest and largest modulus of a non-zero eigenvalue of Q (2.4).
    gamma : float
        Decay rate min_{i<d}(-Re λ_i).
    times : ndarray
        The times t (from 0.25/e_m to 40/e_m).
    directions : dict of str to ndarray
        The directions J by name.
    errors : dict of str to dict of str to ndarray
        ``errors[direction][approximation][k] = ||S(t_k) - grad_J exp(t_k Q)||_F``, and
        ``errors[direction]["||grad||"]`` the norm of the exact derivative.
    constants : dict of str to Theorem21Constants
        (C, kappa) and the time-resolved bound of Theorem 2.1 for each direction.
    """

    Q: np.ndarray
    e_m: float
    e_M: float
    gamma: float
    times: np.ndarray
    directions: dict[str, np.ndarray]
    errors: dict[str, dict[str, np.ndarray]]
    constants: dict[str, am.Theorem21Constants]

    @property
    def d(self) -> int:
        """Number of states."""
        return self.Q.shape[0]

    def bound(self, direction: str) -> np.ndarray:
        """The time-resolved bound cond_2(V) || |V^-1 J V| o beta(t) ||_F at every time."""
        return np.array([self.constants[direction].bound(t) for t in self.times])

    def envelope(self, direction: str) -> np.ndarray:
        """C exp(-kappa t) at every time."""
        c = self.constants[direction]
        return c.C * np.exp(-c.kappa * self.times)

    def relative_errors(self, direction: str, approximation: str) -> np.ndarray:
        """||S(t) - grad|| / ||grad|| at every time."""
        errs = self.errors[direction]
        return errs[approximation] / errs["||grad||"]

    def summary(self, seed: int | None = None) -> str:
        """The constants and the relative errors at t e_m in ``REPORT_AT`` as text."""
        origin = "" if seed is None else f", seed {seed}"
        lines = [f"random Exp(1) rate matrix d={self.d}{origin}: e_m={self.e_m:.4g}, "
                 f"e_M={self.e_M:.4g}, decay rate gamma={self.gamma:.4g}",
                 "relative error ||S(t) - grad|| / ||grad|| at t*e_m = "
                 + ", ".join(f"{r:g}" for r in REPORT_AT)]
        for name in self.errors:
            c = self.constants[name]
            lines.append(f"{name}: C={c.C:.4g}, kappa={c.kappa:.4g} (gamma/2), "
                         f"cond2(V)={c.condition:.3g}")
            for approx in APPROXIMATIONS:
                rel = self.relative_errors(name, approx)
                values = [np.interp(r / self.e_m, self.times, rel) for r in REPORT_AT]
                lines.append(f"  {approx:28s} " + "  ".join(f"{v:.2e}" for v in values))
        return "\n".join(lines)


def sizes(quick: bool = False) -> tuple[int, int]:
    """(d, number of times): (30, 80), or (15, 25) with ``quick``."""
    return (15, 25) if quick else (30, 80)


def directions(d: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A Gaussian J with its row sums removed from the diagonal, and J = e_3 e_6^T."""
    zero_row = rng.standard_normal((d, d))
    zero_row -= np.diag(zero_row.sum(axis=1))
    single = np.zeros((d, d))
    single[2, 5] = 1.0
    return {"zero-row-sum J": zero_row, "single-entry J": single}


def errors(Q: np.ndarray, J: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
    """Frobenius errors ||S(t) - grad_J exp(tQ)|| of every approximation, and ||grad||."""
    exact = [am.expm_frechet(Q, J, t) for t in times]
    out = {name: np.array([np.linalg.norm(f(Q, J, t) - g) for t, g in zip(times, exact)])
           for name, f in APPROXIMATIONS.items()}
    out["||grad||"] = np.array([np.linalg.norm(g) for g in exact])
    return out


def main(quick: bool = False, rng=None) -> Theorem21Result:
    """The errors of every surrogate and the Theorem 2.1 constants (module docstring).

    Parameters
    ----------
    quick : bool
        d = 15 and 25 times instead of d = 30 and 80 times.
    rng : None, int or numpy.random.Generator
        Draws Q, then the zero-row-sum J. None means ``SEED``, the seed of the gallery figure.

    Returns
    -------
    Theorem21Result
    """
    d, n_times = sizes(quick)
    rng = np.random.default_rng(SEED if rng is None else rng)
    Q = am.random_rate_matrix(d, rng)
    e_m, e_M = am.spectral_gap(Q)
    J = directions(d, rng)
    times = np.linspace(0.25, 40.0, n_times) / e_m
    return Theorem21Result(Q, e_m, e_M, am.decay_rate(Q), times, J,
                           {name: errors(Q, j, times) for name, j in J.items()},
                           {name: am.theorem_2_1_constants(Q, j) for name, j in J.items()})


def plot(result: Theorem21Result, path: Path) -> Path:
    """Errors, bound(t) and C exp(-kappa t) against t e_m for both directions, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.0), sharey=True, layout="constrained")
    scaled = result.times * result.e_m
    for ax, (name, errs) in zip(axes, result.errors.items()):
        for approx, style in zip(APPROXIMATIONS, ["-", "-", "-", "-", "-."]):
            ax.semilogy(scaled, np.maximum(errs[approx], 1e-17), style, label=approx,
                        lw=2.5 if approx.endswith("corrected") else 1.5)
        ax.semilogy(scaled, result.bound(name), "k--", label="Theorem 2.1 bound(t)")
        ax.semilogy(scaled, result.envelope(name), "k:",
                    label=r"$C e^{-\kappa t}$, $\kappa=\gamma/2$")
        ax.set_title(f"{name}, d={result.d}")
        ax.set_xlabel(r"$t\, e_m$")
        ax.set_ylim(1e-17, 1e4)
    axes[0].set_ylabel(r"$\|S(t) - \nabla_J e^{tQ}\|_F$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize=8, frameon=False)
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.summary(seed=SEED))
    print(f"saved {plot(result, args.outdir / 'theorem_2_1.png')}")
