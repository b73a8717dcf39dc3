"""The note's open question on R3: first-order surrogate gradient (1.6) vs the exact gradient.

Reference problem R3 (torus, stream-function modes |k| <= kmax, theta0 = 1/2 - cos(2 pi x)/4
- cos(2 pi y)/4, point sensors, Gaussian noise and prior). Four comparisons, each printed as
a Markdown table:

1. relative error of the surrogate gradient of the misfit against the exact one, against
   the length of the observation window T (the surrogate is exact as T -> 0);
2. the same against the flow strength at fixed T;
3. MAP estimation by L-BFGS with continuation: exact (tangent) vs surrogate gradient —
   iterations, time, final velocity error;
4. HMC on a small posterior with the same leapfrog (Laplace metric, fixed step) and the exact
   Metropolis test: acceptance and ESS per second with each gradient, and the agreement of
   the posterior means (the surrogate changes efficiency, never the target).

Sizes: 24 x 24 nodes, 20 times, 6 windows, 5 strengths, 2 x 400 HMC draws; ``quick``:
10 x 10, 4 times, 2 windows, 2 strengths, 2 x 10 draws, and the adjoint gradient of table 1
is skipped (its column is NaN).

Run:  python examples/surrogate_vs_adjoint.py [--quick] [--outdir DIR]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdiff_sens.inference import LBFGS, VelocityPosterior, estimate_velocity
from advdiff_sens.problems import TwinExperiment, make_twin
from advdiff_sens.sampling import HMC, SamplerResult

#: Seeds of the gallery figure and the README numbers (``main(rng=None)``): the R3 twin,
#: the noise of the windowed data, the small twin of the HMC comparison, the HMC streams.
GALLERY_SEEDS = (0, 0, 3, 0)


@dataclass(frozen=True)
class Settings:
    """Grid, observation times, windows, flow strengths and HMC draws of one run."""

    n: int
    n_times: int
    windows: tuple[float, ...]
    strengths: tuple[float, ...]
    hmc_draws: int
    with_adjoint: bool


def settings(quick: bool = False) -> Settings:
    """The full sizes, or the reduced ones of the tests (``quick``)."""
    if quick:
        return Settings(10, 4, (0.05, 1.0), (0.25, 1.0), 10, False)
    return Settings(24, 20, (0.025, 0.05, 0.1, 0.2, 0.5, 1.0), (0.1, 0.25, 0.5, 1.0, 2.0),
                    400, True)


def posterior(twin: TwinExperiment, times: np.ndarray, data: np.ndarray) -> VelocityPosterior:
    """The posterior of the stream-function coefficients of ``twin`` given ``data``."""
    return VelocityPosterior(twin.model, twin.theta0, twin.sensors, times, data,
                             twin.noise_std, twin.basis)


def timed(f, *args):
    """(f(*args), seconds)."""
    start = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - start


def gradient_error(twin: TwinExperiment, window: float, n_times: int, noise_seed: int,
                   with_adjoint: bool) -> dict:
    """Surrogate vs exact misfit gradient at the true coefficients, times in (0, window]."""
    times = np.linspace(window / n_times, window, n_times)
    clean = posterior(twin, times, np.zeros((n_times, len(twin.sensors))))
    data = clean.predict(twin.true_coefficients) + twin.noise_std * np.random.default_rng(
        noise_seed).standard_normal((n_times, len(twin.sensors)))
    post = posterior(twin, times, data)
    c = twin.true_coefficients
    prior_grad = c / post.prior_std**2
    (_, g_tan), t_tan = timed(post.value_and_gradient, c, "tangent")
    if with_adjoint:
        (_, g_adj), t_adj = timed(post.value_and_gradient, c, "adjoint")
        adjoint_error = float(np.linalg.norm(g_adj - g_tan) / np.linalg.norm(g_tan))
    else:
        t_adj = adjoint_error = float("nan")
    (_, g_sur), t_sur = timed(post.value_and_gradient, c, "surrogate")
    exact, approx = g_tan - prior_grad, g_sur - prior_grad
    return {"T": window, "error": float(np.linalg.norm(approx - exact) / np.linalg.norm(exact)),
            "cosine": float(approx @ exact / np.linalg.norm(approx) / np.linalg.norm(exact)),
            "adjoint vs tangent": adjoint_error,
            "t_tangent": t_tan, "t_adjoint": t_adj, "t_surrogate": t_sur}


def map_comparison(twin: TwinExperiment) -> list[dict]:
    """L-BFGS + continuation with the exact (tangent) and the surrogate gradient; the default."""
    rows = []
    truth = np.linalg.norm(twin.true_velocity)
    for gradient in ("tangent", "surrogate"):
        est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                                twin.noise_std, kmax=twin.basis.kmax,
                                optimizer=LBFGS(tol=1e-9, max_iter=200), gradient=gradient)
        rows.append({"gradient": gradient, "iterations": est.iterations,
                     "evaluations": sum(s.evaluations for s in est.history),
                     "seconds": est.seconds, "misfit": est.misfit,
                     "error": float(np.linalg.norm(est.velocity - twin.true_velocity) / truth)})
    est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                            twin.noise_std, kmax=twin.basis.kmax)
    rows.append({"gradient": "Gauss-Newton (tangent Jacobian), default",
                 "iterations": est.iterations,
                 "evaluations": sum(s.evaluations for s in est.history),
                 "seconds": est.seconds, "misfit": est.misfit,
                 "error": float(np.linalg.norm(est.velocity - twin.true_velocity) / truth)})
    return rows


def hmc_comparison(draws: int, twin_seed: int,
                   hmc_seed: int) -> tuple[list[dict], dict[str, SamplerResult]]:
    """HMC with exact and surrogate gradients on a small near-Gaussian posterior."""
    twin = make_twin(10, kmax=1, n_sensors=16, times=np.linspace(0.1, 0.3, 3), noise_std=0.05,
                     flow_strength=0.5, rng=twin_seed)
    est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                            twin.noise_std, kmax=1)
    post = est.posterior
    rows, results = [], {}
    for name in ("tangent", "surrogate"):
        res = HMC(step_size=0.6, n_leapfrog=3, inverse_mass=est.covariance).sample(
            post.log_density, lambda c, m=name: -post.value_and_gradient(c, m)[1],
            est.coefficients, draws, n_chains=2, rng=hmc_seed)
        results[name] = res
        rows.append({"gradient": "exact (tangent)" if name == "tangent" else "surrogate (1.6)",
                     "acceptance": float(res.accept_rate.mean()), "ess": float(res.ess().min()),
                     "seconds": res.seconds, "ess/s": res.ess_per_second(),
                     "rhat": float(res.rhat().max())})
    ref, sur = results["tangent"], results["surrogate"]
    z = np.abs(sur.mean - ref.mean) / np.hypot(sur.mcse(), ref.mcse())
    rows[1]["z"] = float(z.max())
    rows[0]["z"] = 0.0
    return rows, results


@dataclass(frozen=True)
class SurrogateVsAdjointResult:
    """The four comparisons of the module docstring.

    Attributes
    ----------
    settings : Settings
    twin : TwinExperiment
        The R3 twin of tables 1 and 3.
    window_rows, strength_rows : list of dict
        Table 1 (against the window T) and 2 (against the flow strength at T = 0.5): the
        surrogate's relative error and cosine against the exact misfit gradient, the
        adjoint's relative difference from the tangent, and the times.
    map_rows : list of dict
        Table 3: iterations, evaluations, seconds, misfit and velocity error of each MAP.
    hmc_rows : list of dict
        Table 4: acceptance, min ESS, seconds, ESS/s, max R-hat and max |Δmean|/MCSE.
    hmc_results : dict of str to SamplerResult
        The chains of table 4 with the "tangent" and the "surrogate" gradient.
    """

    settings: Settings
    twin: TwinExperiment
    window_rows: list[dict]
    strength_rows: list[dict]
    map_rows: list[dict]
    hmc_rows: list[dict]
    hmc_results: dict[str, SamplerResult]

    def report(self) -> str:
        """All four tables as Markdown."""
        s = self.settings
        out = [f"R3 on {s.n}x{s.n}, 12 stream-function coefficients (kmax = 2), 25 sensors x "
               f"{s.n_times} times, noise 0.01, kappa = 0.01, flow from the prior (rms |u| "
               f"{np.sqrt(np.mean(self.twin.true_velocity**2)):.2f})", "",
               "Gradient of the misfit at the true flow, window (0, T]:", "",
               "| T | surrogate rel. error | cosine | adjoint vs tangent | tangent s "
               "| adjoint s | surrogate s |",
               "|---|---|---|---|---|---|---|"]
        out += [f"| {r['T']:g} | {r['error']:.3g} | {r['cosine']:.3f} | "
                f"{r['adjoint vs tangent']:.1e} | {r['t_tangent']:.3f} | {r['t_adjoint']:.3f} | "
                f"{r['t_surrogate']:.3f} |" for r in self.window_rows]
        out += ["", "Against the flow strength (multiplier of the prior draw), T = 0.5:", "",
                "| strength | surrogate rel. error | cosine |", "|---|---|---|"]
        out += [f"| {x:g} | {r['error']:.3g} | {r['cosine']:.3f} |"
                for x, r in zip(s.strengths, self.strength_rows)]
        out += ["", "MAP (continuation 3, 6, 10, all times; L-BFGS tol 1e-9):", "",
                "| gradient | iterations | evaluations | seconds | misfit Φ "
                "| velocity rel. error |",
                "|---|---|---|---|---|---|"]
        out += [f"| {r['gradient']} | {r['iterations']} | {r['evaluations']} | "
                f"{r['seconds']:.1f} | {r['misfit']:.1f} | {r['error']:.3g} |"
                for r in self.map_rows]
        out += ["", f"HMC, 10x10, kmax = 1 (4 coefficients), 16 sensors x 3 times <= 0.3, "
                f"Laplace metric, 3 leapfrog steps of 0.6, 2 chains x {s.hmc_draws}:", "",
                "| gradient | acceptance | min ESS | seconds | ESS/s | max R-hat "
                "| max |Δmean|/MCSE |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {r['gradient']} | {r['acceptance']:.2f} | {r['ess']:.0f} | "
                f"{r['seconds']:.1f} | {r['ess/s']:.2f} | {r['rhat']:.3f} | {r['z']:.1f} |"
                for r in self.hmc_rows]
        return "\n".join(out)


def main(quick: bool = False, rng=None) -> SurrogateVsAdjointResult:
    """The four comparisons of the module docstring.

    Parameters
    ----------
    quick : bool
        The reduced ``settings``.
    rng : None, int or numpy.random.Generator
        None uses the seeds of the gallery figure (``GALLERY_SEEDS``); otherwise the four
        seeds are drawn from ``numpy.random.default_rng(rng)``.

    Returns
    -------
    SurrogateVsAdjointResult
    """
    s = settings(quick)
    seeds = GALLERY_SEEDS if rng is None else tuple(
        int(x) for x in np.random.default_rng(rng).integers(2**32, size=4))
    twin_seed, noise_seed, hmc_twin_seed, hmc_seed = seeds
    base = make_twin(s.n, n_sensors=25, times=np.linspace(1.0 / s.n_times, 1.0, s.n_times),
                     rng=twin_seed)
    window_rows = [gradient_error(base, T, s.n_times, noise_seed, s.with_adjoint)
                   for T in s.windows]
    strength_rows = [gradient_error(make_twin(s.n, n_sensors=25, flow_strength=x,
                                              rng=twin_seed), 0.5, s.n_times, noise_seed,
                                    s.with_adjoint) for x in s.strengths]
    map_rows = map_comparison(base)
    hmc_rows, hmc_results = hmc_comparison(s.hmc_draws, hmc_twin_seed, hmc_seed)
    return SurrogateVsAdjointResult(s, base, window_rows, strength_rows, map_rows, hmc_rows,
                                    hmc_results)


def plot(result: SurrogateVsAdjointResult, path: Path) -> Path:
    """Surrogate error against T and flow strength, and the HMC traces, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    s = result.settings
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0), layout="constrained")
    for ax, x, rows, xlabel, title in (
            (axes[0], s.windows, result.window_rows, "observation window T",
             "against the window"),
            (axes[1], s.strengths, result.strength_rows, "flow strength (× prior draw)",
             "against the flow strength (T = 0.5)")):
        ax.loglog(x, [r["error"] for r in rows], "o-")
        ax.set_xticks(x, [f"{v:g}" for v in x], minor=False)
        ax.set_xticks([], minor=True)
        ax.set(xlabel=xlabel, ylabel="‖g̃ − g‖ / ‖g‖ (misfit gradient)", title=title)
    reference = result.hmc_results["tangent"]
    j = int(np.argmax(np.abs(reference.mean)))
    for name, res in result.hmc_results.items():
        axes[2].plot(res.samples[0, :, j], lw=0.8,
                     label=f"{name} gradient (acceptance {res.accept_rate.mean():.2f})")
    axes[2].set(xlabel="draw (after warm-up)", ylabel=f"c[{j}] (largest |posterior mean|)",
                title="HMC trace, chain 1")
    axes[2].legend(fontsize=8, loc="best")
    fig.suptitle("R3: first-order surrogate gradient g̃ (1.6) against the exact gradient g")
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.report())
    print(f"figure saved to {plot(result, args.outdir / 'surrogate_vs_adjoint.png')}")
