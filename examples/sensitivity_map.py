r"""Sensitivity map on reference problem R2: every method on one problem, side by side.

R2 is the periodic unit square with the cellular flow
u = (sin 2πx cos 2πy, −cos 2πx sin 2πy), κ = 0.01, T = 1, a Gaussian blob θ0 centred at
(0.3, 0.5) with width 0.01 and the central scheme. For the direction v = (cos 2πy, sin 2πx)
and the point-sensor objective Φ = ½ Σ θ(T, sensor)², :func:`main` computes
dΦ/du[v] = gᵀρ(T) (g = HᵀHθ(T)) by the tangent ρ(T) = ∂θ(T)/∂u[v] (the reference), a central
finite difference, the discrete and the quadrature adjoint gradients, the surrogates of
order 1 (1.6) and 3 (4.1), and the first-order surrogate gradient. The figure shows θ(T),
ρ(T), the adjoint gradient field (sensors marked) and the error of the first-order surrogate
t·exp(tL)Jθ0.

Run:  python examples/sensitivity_map.py [--quick] [--outdir DIR]     (quick: 32² instead of 96²)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from advdiff_sens.comparison import SensitivityStudy, compare_methods
from advdiff_sens.problems import ReferenceProblem, r2_problem


@dataclass(frozen=True)
class SensitivityMapResult:
    """The methods table of R2 on an n × n grid.

    Attributes
    ----------
    n : int
        Nodes per axis.
    problem : ReferenceProblem
        R2 at this size.
    study : SensitivityStudy
        Every method's dΦ/du[v], its relative error against the tangent, and the fields.
    """

    n: int
    problem: ReferenceProblem
    study: SensitivityStudy

    def row(self, prefix: str):
        """The row of the method whose name starts with ``prefix``."""
        return next(r for r in self.study.rows if r.method.startswith(prefix))

    def summary(self) -> str:
        """Grid size and the methods table (Markdown)."""
        return f"R2 at {self.n}x{self.n}\n{self.study.table()}"


def grid_size(quick: bool = False) -> int:
    """Nodes per axis: 96 (32 with ``quick``)."""
    return 32 if quick else 96


def main(quick: bool = False, rng=None) -> SensitivityMapResult:
    """Every sensitivity method on R2 (module docstring).

    Parameters
    ----------
    quick : bool
        32 × 32 nodes instead of 96 × 96.
    rng : None
        Unused: R2 is deterministic (accepted for the common signature of the examples).

    Returns
    -------
    SensitivityMapResult
    """
    n = grid_size(quick)
    problem = r2_problem(n)
    return SensitivityMapResult(n, problem, compare_methods(problem.model, problem.u,
                                                            problem.theta0, problem.T))


def plot(result: SensitivityMapResult, path: Path) -> Path:
    """The four fields of the study, saved to ``path``."""
    from advdiff_sens.plotting import plot_sensitivity_study, save_figure

    fig = plot_sensitivity_study(result.problem.model.grid, result.study,
                                 title=f"R2 sensitivity map, {result.n}²")
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.summary())
    print(f"figure saved to {plot(result, args.outdir / 'sensitivity_map.png')}")
