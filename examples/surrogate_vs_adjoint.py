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

Run:  python examples/surrogate_vs_adjoint.py   (ADVDIFF_SENS_QUICK=1 for a smaller run)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from advdiff_sens.inference import LBFGS, VelocityPosterior, estimate_velocity
from advdiff_sens.sampling.samplers import hmc
from advdiff_sens.problems.twin import make_twin

QUICK = os.environ.get("ADVDIFF_SENS_QUICK") == "1"
N = 10 if QUICK else 24
N_TIMES = 4 if QUICK else 20
WINDOWS = (0.05, 1.0) if QUICK else (0.025, 0.05, 0.1, 0.2, 0.5, 1.0)
STRENGTHS = (0.25, 1.0) if QUICK else (0.1, 0.25, 0.5, 1.0, 2.0)
HMC_DRAWS = 10 if QUICK else 400
SEED = 0


def _posterior(twin, times, data) -> VelocityPosterior:
    return VelocityPosterior(twin.model, twin.theta0, twin.sensors, times, data,
                             twin.noise_std, twin.basis)


def _timed(f, *args):
    start = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - start


def gradient_error(twin, window: float) -> dict:
    """Surrogate vs exact misfit gradient at the true coefficients, times in (0, window]."""
    times = np.linspace(window / N_TIMES, window, N_TIMES)
    clean = _posterior(twin, times, np.zeros((N_TIMES, len(twin.sensors))))
    data = clean.predict(twin.true_coefficients) + twin.noise_std * np.random.default_rng(
        SEED).standard_normal((N_TIMES, len(twin.sensors)))
    post = _posterior(twin, times, data)
    c = twin.true_coefficients
    prior_grad = c / post.prior_std**2
    (_, g_tan), t_tan = _timed(post.value_and_gradient, c, "tangent")
    (_, g_adj), t_adj = (_timed(post.value_and_gradient, c, "adjoint") if not QUICK
                         else ((None, g_tan), float("nan")))
    (_, g_sur), t_sur = _timed(post.value_and_gradient, c, "surrogate")
    exact, approx = g_tan - prior_grad, g_sur - prior_grad
    return {"T": window, "error": float(np.linalg.norm(approx - exact) / np.linalg.norm(exact)),
            "cosine": float(approx @ exact / np.linalg.norm(approx) / np.linalg.norm(exact)),
            "adjoint vs tangent": float(np.linalg.norm(g_adj - g_tan) / np.linalg.norm(g_tan)),
            "t_tangent": t_tan, "t_adjoint": t_adj, "t_surrogate": t_sur}


def map_comparison(twin) -> list[dict]:
    """L-BFGS + continuation with the exact (tangent) and the surrogate gradient, and the default."""
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


def hmc_comparison() -> tuple[list[dict], object]:
    """HMC with exact and surrogate gradients on a small near-Gaussian posterior."""
    twin = make_twin(10, kmax=1, n_sensors=16, times=np.linspace(0.1, 0.3, 3), noise_std=0.05,
                     flow_strength=0.5, rng=3)
    est = estimate_velocity(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                            twin.noise_std, kmax=1)
    post = est.posterior
    rows, results = [], {}
    for name in ("tangent", "surrogate"):
        res = hmc(post.log_density, lambda c, m=name: -post.value_and_gradient(c, m)[1],
                  est.coefficients, HMC_DRAWS, step_size=0.6, n_steps=3,
                  inverse_mass=est.covariance, n_chains=2, rng=SEED)
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


base = make_twin(N, n_sensors=25, times=np.linspace(1.0 / N_TIMES, 1.0, N_TIMES), rng=SEED)
T_ROWS = [gradient_error(base, T) for T in WINDOWS]
S_ROWS = [gradient_error(make_twin(N, n_sensors=25, flow_strength=s, rng=SEED), 0.5)
          for s in STRENGTHS]
MAP_ROWS = map_comparison(base)
HMC_ROWS, HMC_RESULTS = hmc_comparison()


def report() -> str:
    """All four tables as Markdown."""
    out = [f"R3 on {N}x{N}, 12 stream-function coefficients (kmax = 2), 25 sensors x "
           f"{N_TIMES} times, noise 0.01, kappa = 0.01, flow from the prior (rms |u| "
           f"{np.sqrt(np.mean(base.true_velocity**2)):.2f})", "",
           "Gradient of the misfit at the true flow, window (0, T]:", "",
           "| T | surrogate rel. error | cosine | adjoint vs tangent | tangent s | adjoint s | surrogate s |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r['T']:g} | {r['error']:.3g} | {r['cosine']:.3f} | {r['adjoint vs tangent']:.1e} | "
            f"{r['t_tangent']:.3f} | {r['t_adjoint']:.3f} | {r['t_surrogate']:.3f} |" for r in T_ROWS]
    out += ["", "Against the flow strength (multiplier of the prior draw), T = 0.5:", "",
            "| strength | surrogate rel. error | cosine |", "|---|---|---|"]
    out += [f"| {s:g} | {r['error']:.3g} | {r['cosine']:.3f} |" for s, r in zip(STRENGTHS, S_ROWS)]
    out += ["", "MAP (continuation 3, 6, 10, all times; L-BFGS tol 1e-9):", "",
            "| gradient | iterations | evaluations | seconds | misfit Φ | velocity rel. error |",
            "|---|---|---|---|---|---|"]
    out += [f"| {r['gradient']} | {r['iterations']} | {r['evaluations']} | {r['seconds']:.1f} | "
            f"{r['misfit']:.1f} | {r['error']:.3g} |" for r in MAP_ROWS]
    out += ["", f"HMC, 10x10, kmax = 1 (4 coefficients), 16 sensors x 3 times <= 0.3, Laplace "
            f"metric, 3 leapfrog steps of 0.6, 2 chains x {HMC_DRAWS}:", "",
            "| gradient | acceptance | min ESS | seconds | ESS/s | max R-hat | max |Δmean|/MCSE |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {r['gradient']} | {r['acceptance']:.2f} | {r['ess']:.0f} | {r['seconds']:.1f} | "
            f"{r['ess/s']:.2f} | {r['rhat']:.3f} | {r['z']:.1f} |" for r in HMC_ROWS]
    return "\n".join(out)


print(report())


if __name__ == "__main__":
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0), layout="constrained")
    for ax, x, rows, xlabel, title in (
            (axes[0], WINDOWS, T_ROWS, "observation window T", "against the window"),
            (axes[1], STRENGTHS, S_ROWS, "flow strength (× prior draw)",
             "against the flow strength (T = 0.5)")):
        ax.loglog(x, [r["error"] for r in rows], "o-")
        ax.set_xticks(x, [f"{v:g}" for v in x], minor=False)
        ax.set_xticks([], minor=True)
        ax.set(xlabel=xlabel, ylabel="‖g̃ − g‖ / ‖g‖ (misfit gradient)", title=title)
    reference = HMC_RESULTS["tangent"]
    j = int(np.argmax(np.abs(reference.mean)))
    for name, res in HMC_RESULTS.items():
        axes[2].plot(res.samples[0, :, j], lw=0.8,
                     label=f"{name} gradient (acceptance {res.accept_rate.mean():.2f})")
    axes[2].set(xlabel="draw (after warm-up)", ylabel=f"c[{j}] (largest |posterior mean|)",
                title="HMC trace, chain 1")
    axes[2].legend(fontsize=8, loc="best")
    fig.suptitle("R3: first-order surrogate gradient g̃ (1.6) against the exact gradient g")
    path = save_figure(fig, Path(os.environ.get("ADVDIFF_SENS_FIGDIR", "figures")) / "surrogate_vs_adjoint.png")
    print(f"figure saved to {path}")
