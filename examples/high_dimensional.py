"""Section 3 of the note: how e_m, sigma_m and ||Q^+ J (I - Q Q^+)|| behave as d grows.

For random irreducible rate matrices from three ensembles (iid Exp(1) rates — reference
problem R4 —, iid U(0,1) rates, and a sparse random graph with edge probability
2 log d / d and Exp(1) rates) and several seeds, compute

* e_m, e_M (2.4) and the eigenvector condition ||M||_F ||M^-1||_F,
* sigma_m, sigma_M (3.2),
* ||Q^+ J (I - Q Q^+)||_F for the single-entry J = e_1 e_2^T, with the two bounds of the
  note: sqrt(d-1)/e_m ||M||_F ||M^-1||_F ||J||_F (3.1) and ||J||_2/sigma_m (3.2),

then fit power laws q ~ d^p (least squares in log-log on the seed means, over d >= 50;
d >= 20 with ``quick``) and report the exponents.

Q^+ e_a is computed without an SVD from any generalized inverse G (here the group inverse
through a bordered LU): Q^+ = P_row G P_col with P_row = I - 1 1^T/d the projector onto
range(Q^T) and P_col = I - pi pi^T/|pi|^2 the projector onto range(Q); since
I - QQ^+ = pi pi^T/|pi|^2, ||Q^+ e_a e_b^T (I - QQ^+)||_F = |pi_b| ||Q^+ e_a|| / |pi|.

Run:  python examples/high_dimensional.py [--quick] [--outdir DIR]
      (full size: d up to 2000, ~9 minutes on 2 cores; --quick: d up to 80)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens import matrix as am

QUANTITIES = ("e_m", "e_M", "sigma_m", "sigma_M", "cond_F", "norm_QpJ", "bound_3_1",
              "bound_3_2")
#: Seeds of the gallery figure and the README numbers (``main(rng=None)``): one per
#: matrix sample, and the seed of the d = 40 matrix of the pseudo-inverse check.
GALLERY_SEEDS = (0, 1, 2)
CHECK_SEED = 99


@dataclass(frozen=True)
class HighDimensionalResult:
    """Section-3 quantities of random rate matrices against d.

    Attributes
    ----------
    dimensions : tuple of int
        The sizes d.
    seeds : tuple of int
        The seed of each matrix sample (the same seeds for every d and ensemble).
    fit_from : int
        Power laws are fitted on d >= fit_from.
    results : dict of str to dict of str to ndarray
        ``results[ensemble][quantity]``, shape ``(len(dimensions), len(seeds))``.
    exponents : dict of str to dict of str to float
        Fitted p in quantity ~ d^p (least squares on the seed means in log–log).
    pinv_check : float
        Relative difference of the LU route to Q^+ e_1 from ``numpy.linalg.pinv`` (d = 40).
    """

    dimensions: tuple[int, ...]
    seeds: tuple[int, ...]
    fit_from: int
    results: dict[str, dict[str, np.ndarray]]
    exponents: dict[str, dict[str, float]]
    pinv_check: float

    def summary(self) -> str:
        """The exponents and the values at the largest d as text."""
        lines = [f"d = {list(self.dimensions)}, seeds = {list(self.seeds)}; fitted exponents p "
                 f"in q ~ d^p (d >= {self.fit_from}, seed means)",
                 f"LU route to Q^+ e_a vs numpy pinv: relative difference {self.pinv_check:.1e}",
                 f"{'ensemble':12s}" + "".join(f"{q:>11s}" for q in QUANTITIES)]
        for ens, exps in self.exponents.items():
            lines.append(f"{ens:12s}" + "".join(f"{exps[q]:11.3f}" for q in QUANTITIES))
        lines.append(f"values at d = {self.dimensions[-1]} (seed means):")
        for ens, table in self.results.items():
            lines.append(f"{ens:12s}"
                         + "".join(f"{table[q][-1].mean():11.3g}" for q in QUANTITIES))
        return "\n".join(lines)


def sizes(quick: bool = False) -> tuple[tuple[int, ...], int, int]:
    """(dimensions, number of seeds, smallest d of the fit)."""
    if quick:
        return (10, 20, 40, 80), 2, 20
    return (10, 20, 50, 100, 200, 500, 1000, 2000), 3, 50


def pseudo_inverse_column(Q: np.ndarray, a: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (Q^+ e_a, pi) via the group-inverse solve (see the module docstring)."""
    d = Q.shape[0]
    solver = am.GroupInverseSolver(Q)
    pi = solver.pi
    e_a = np.zeros(d)
    e_a[a] = 1.0
    x = solver.solve(e_a - pi * (pi[a] / (pi @ pi)))
    return x - x.mean(), pi


def measure(Q) -> dict[str, float]:
    """All Section-3 quantities of one generator, for J = e_0 e_1^T."""
    Q = Q.toarray() if hasattr(Q, "toarray") else Q
    e_m, e_M = am.spectral_gap(Q)
    sigma_m, sigma_M = am.singular_value_extremes(Q)
    cond_F = am.eigenvector_condition(Q, norm="fro")
    column, pi = pseudo_inverse_column(Q, 0)
    d = Q.shape[0]
    return {"e_m": e_m, "e_M": e_M, "sigma_m": sigma_m, "sigma_M": sigma_M,
            "cond_F": cond_F,
            "norm_QpJ": abs(pi[1]) * np.linalg.norm(column) / np.linalg.norm(pi),
            "bound_3_1": np.sqrt(d - 1) / e_m * cond_F,
            "bound_3_2": 1.0 / sigma_m}


def study(dimensions, seeds) -> dict[str, dict[str, np.ndarray]]:
    """results[ensemble][quantity] has shape (len(dimensions), len(seeds))."""
    results = {}
    for ensemble in am.ENSEMBLES:
        table = {q: np.empty((len(dimensions), len(seeds))) for q in QUANTITIES}
        for i, d in enumerate(dimensions):
            for j, seed in enumerate(seeds):
                for q, value in measure(am.random_rate_matrix(d, seed, ensemble)).items():
                    table[q][i, j] = value
        results[ensemble] = table
    return results


def fit_exponents(results, dimensions, fit_from: int) -> dict[str, dict[str, float]]:
    """Least-squares slope of log(mean over seeds) against log d, for d >= fit_from."""
    dims = np.array(dimensions, dtype=float)
    use = dims >= fit_from
    return {ens: {q: float(np.polyfit(np.log(dims[use]), np.log(v.mean(axis=1)[use]), 1)[0])
                  for q, v in table.items()} for ens, table in results.items()}


def check_pseudo_inverse_identity(seed) -> float:
    """Relative difference of the LU route to Q^+ e_a from numpy.linalg.pinv (d = 40)."""
    Q = am.random_rate_matrix(40, seed)
    column, _ = pseudo_inverse_column(Q, 0)
    reference = am.moore_penrose(Q)[:, 0]
    return float(np.linalg.norm(column - reference) / np.linalg.norm(reference))


def main(quick: bool = False, rng=None) -> HighDimensionalResult:
    """The Section-3 study (module docstring).

    Parameters
    ----------
    quick : bool
        d = 10 … 80 and two seeds (fit from d = 20) instead of d = 10 … 2000, three seeds
        (fit from d = 50).
    rng : None, int or numpy.random.Generator
        None uses the seeds of the gallery figure (``GALLERY_SEEDS``, ``CHECK_SEED``);
        otherwise the seeds of the matrix samples and of the check are drawn from
        ``numpy.random.default_rng(rng)``.

    Returns
    -------
    HighDimensionalResult
    """
    dimensions, n_seeds, fit_from = sizes(quick)
    if rng is None:
        seeds, check_seed = GALLERY_SEEDS[:n_seeds], CHECK_SEED
    else:
        *seeds, check_seed = np.random.default_rng(rng).integers(2**32, size=n_seeds + 1)
        seeds = tuple(int(s) for s in seeds)
    results = study(dimensions, seeds)
    return HighDimensionalResult(dimensions, seeds, fit_from, results,
                                 fit_exponents(results, dimensions, fit_from),
                                 check_pseudo_inverse_identity(int(check_seed)))


def plot(result: HighDimensionalResult, path: Path) -> Path:
    """The six quantities against d with their fitted powers, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    titles = {"e_m": r"$e_m = \min_{\lambda \neq 0} |\lambda|$ (2.4)",
              "sigma_m": r"$\sigma_m$: smallest non-zero singular value",
              "norm_QpJ": r"$\|Q^+ J (I - QQ^+)\|_F$",
              "bound_3_1": r"its bound $\sqrt{d-1}\,\|M\|_F \|M^{-1}\|_F\,/\,e_m$",
              "bound_3_2": r"its 2-norm bound $\|J\|_2 / \sigma_m$",
              "cond_F": r"eigenvector condition $\|M\|_F \|M^{-1}\|_F$"}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), layout="constrained")
    dims = np.array(result.dimensions)
    n_seeds = len(result.seeds)
    for ax, (q, title) in zip(axes.ravel(), titles.items()):
        for ens, table in result.results.items():
            mean = table[q].mean(axis=1)
            line, = ax.loglog(dims, mean, "o-",
                              label=f"{ens}: ∝ d^{result.exponents[ens][q]:.2f}")
            ax.loglog(np.repeat(dims, n_seeds), table[q].ravel(), ".",
                      color=line.get_color(), alpha=0.4)
        ax.set_xticks(dims, [str(d) for d in dims], minor=False)
        ax.set_xticks([], minor=True)
        ax.set(title=title, xlabel="d")
        ax.legend(fontsize=8, title="ensemble: fitted power", title_fontsize=8)
    fig.suptitle(f"Random rate matrices ({n_seeds} seeds: dots, line = seed mean, power "
                 f"fitted for d ≥ {result.fit_from}); J = e_1 e_2^T")
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.summary())
    print(f"saved {plot(result, args.outdir / 'high_dimensional.png')}")
