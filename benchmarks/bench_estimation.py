r"""Benchmark of estimation at scale: Newton-CG MAP against L-BFGS, the low-rank Laplace
approximation, and an initial-condition inversion in the style of hIPPYlib's tutorial.

Prints, measured in one run:

* **MAP of a nodal-ψ twin** (reference problem R5, p = n, smooth prior, sensors × 20 times,
  noise 1 %) from the prior mean, all times at once: inexact Newton-CG (prior-preconditioned,
  Eisenstat–Walker, Armijo, stopped by the discrepancy principle 2Φ ≤ N) against L-BFGS (run
  until it reaches the same Ψ or its iteration limit): iterations, Hessian products, forward
  solves, seconds, Φ against its expected N/2, and the velocity error
  :math:`\|\mathbf u − \mathbf u^†\|/\|\mathbf u^†\|` (the truth is a prior draw, so the data
  inform only its large scales: the error at the noise level is far from 0);
* **low-rank Laplace** at the Newton-CG mode for each ``--rank`` (default 100 and 300): Hessian
  products, seconds, the largest and the last eigenvalue and the next one (left out),
  expected information gain, the posterior/prior variance-trace ratio;
  and, on a 24² grid, the agreement of its pointwise variance with the dense Laplace
  approximation (p Hessian products);
* **the initial-condition inversion** (R6: known cellular flow, θ0 unknown under a
  bi-Laplacian prior, 80 sensors × 16 times, noise 1 % of max θ): Newton-CG to
  :math:`|g|_C ≤` MAP_DECREMENT_TOL/10, Φ at the MAP against N/2, and the posterior/prior variance-trace ratio of the
  (exact: the problem is linear) Laplace approximation.

Usage::

    python benchmarks/bench_estimation.py              # 128² (MAP, Laplace), 64² (θ0)
    python benchmarks/bench_estimation.py --quick      # 24² and 16² (a smoke test)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from advdiff_sens.exceptions import FitWarning
from advdiff_sens.inference import LBFGS, MAP_DECREMENT_TOL, NewtonCG, laplace_approximation
from advdiff_sens.matrix import count_products
from advdiff_sens.problems import make_field_twin, make_initial_condition_twin

import docs_fragment

#: Targets the measured numbers are compared with (printed beside them).
NEWTON_ITERATIONS_TARGET = 15
MAP_SECONDS_TARGET = 300.0
LAPLACE_SECONDS_TARGET = 300.0
#: L-BFGS iterations allowed (it is compared at the Ψ Newton-CG reached).
LBFGS_ITERATIONS = 100
#: The continued Newton-CG run the Laplace approximation is built at stops at |g|_C ≤
#: MAP_DECREMENT_TOL, which bounds the Newton decrement sqrt(gᵀC_post g) the Laplace
#: approximation checks (C_post ≤ C), with a tight fixed forcing (GN converges linearly there).
MODE_ETA_MAX = 0.1
MODE_MAX_ITER = 60


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in row)
              + " |")


def timed(function, *args, **kwargs):
    """(result, seconds, products) of one call, FitWarnings recorded and returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitWarning)
        with count_products() as counter:
            begin = time.perf_counter()
            result = function(*args, **kwargs)
            seconds = time.perf_counter() - begin
    return result, seconds, counter.products, [str(w.message) for w in caught]


def map_benchmark(n: int, n_sensors: int, rng) -> tuple[object, np.ndarray, list]:
    """Newton-CG and L-BFGS on the nodal-ψ twin; returns the twin, the Newton MAP and the
    target rows."""
    twin = make_field_twin(n, n_sensors=n_sensors, rng=rng)
    post = twin.posterior
    c0 = post.prior.mean.copy()
    print(f"\nMAP: R5 nodal ψ at {n}x{n} (p = {post.n_params}), {n_sensors} sensors × "
          f"{post.times.size} times (N = {post.n_data}), noise 1 %; Φ at the truth "
          f"{post.misfit(twin.true_coefficients):.1f}, N/2 = {post.n_data / 2:.0f}")
    newton, t_newton, p_newton, w_newton = timed(
        NewtonCG(discrepancy=1.0, max_iter=50).minimise, post, c0)
    psi_newton = post.neg_log_posterior(newton.coefficients)
    lbfgs, t_lbfgs, p_lbfgs, w_lbfgs = timed(LBFGS(max_iter=LBFGS_ITERATIONS, tol=1e-12).minimise,
                                         post, c0)
    psi_lbfgs = post.neg_log_posterior(lbfgs.coefficients)
    rows = []
    for name, res, seconds, products in (("Newton-CG (discrepancy)", newton, t_newton,
                                          p_newton),
                                         ("L-BFGS", lbfgs, t_lbfgs, p_lbfgs)):
        phi = post.misfit(res.coefficients)
        rows.append([name, res.iterations, res.hessian_products, res.evaluations,
                     products, seconds, phi, post.neg_log_posterior(res.coefficients),
                     twin.velocity_error(res.coefficients), res.stop_reason])
    table(["optimiser", "iterations", "Hessian products", "Ψ evaluations", "L products",
           "seconds", "Φ", "Ψ", "velocity error", "stop"], rows)
    # the first L-BFGS evaluation reaching Newton's Ψ
    reached = next((i + 1 for i, v in enumerate(lbfgs.values) if v <= psi_newton), None)
    print(f"L-BFGS reached Newton-CG's Ψ = {psi_newton:.1f} "
          + (f"at evaluation {reached}" if reached else
             f"not within {lbfgs.evaluations} evaluations (its best: {psi_lbfgs:.1f})"))
    for message in w_newton + w_lbfgs:
        print(f"warning: {message[:160]}")
    # the Laplace approximation belongs at the mode: continue to the gradient tolerance
    mode, t_mode, _, w_mode = timed(
        NewtonCG(rtol=0.0, atol=MAP_DECREMENT_TOL, eta_max=MODE_ETA_MAX, cg_max_iter=300,
                 max_iter=MODE_MAX_ITER).minimise, post, newton.coefficients)
    print(f"Newton-CG continued from there to |g|_C ≤ {MAP_DECREMENT_TOL:g} (the mode, for the "
          f"Laplace approximation; forcing ≤ {MODE_ETA_MAX:g}): {mode.iterations} more "
          f"iterations, {mode.hessian_products} Hessian products, {t_mode:.1f} s, Φ = "
          f"{post.misfit(mode.coefficients):.1f}, velocity error "
          f"{twin.velocity_error(mode.coefficients):.3f}, stop: {mode.stop_reason}")
    for message in w_mode:
        print(f"warning: {message[:160]}")
    targets = [("Newton-CG iterations to the noise level", newton.iterations,
                NEWTON_ITERATIONS_TARGET),
               ("Newton-CG MAP seconds", t_newton, MAP_SECONDS_TARGET)]
    return twin, mode.coefficients, targets


def laplace_benchmark(twin, c_map: np.ndarray, ranks: list[int], rng) -> list:
    post = twin.posterior
    print(f"\nLow-rank Laplace at the Newton-CG mode ({post.space.grid.shape}, "
          f"p = {post.n_params}): randomized double-pass eigensolver, oversampling 10")
    rows, targets, warned = [], [], []
    for rank in ranks:
        lap, seconds, products, caught = timed(laplace_approximation, post, c_map, rank=rank,
                                               rng=rng)
        values = lap.eigenvalues
        rows.append([lap.rank, products, seconds, float(values[0]), float(values[-1]),
                     float(lap.dropped_eigenvalue), int(np.sum(values > 1)),
                     lap.expected_information_gain, lap.variance_trace_ratio])
        targets.append((f"low-rank Laplace seconds, rank {lap.rank}", seconds,
                        LAPLACE_SECONDS_TARGET))
        warned += caught
    table(["rank r", "L products", "seconds", "λ_1", "λ_r", "λ_r+1 (left out)",
           "eigenvalues > 1", "expected information gain", "tr C_post / tr C"], rows)
    for message in warned:
        print(f"warning: {message[:160]}")
    return targets


def dense_agreement(n: int, n_sensors: int, rng) -> None:
    twin = make_field_twin(n, n_sensors=n_sensors, rng=rng)
    post = twin.posterior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        c = NewtonCG(discrepancy=1.0).minimise(post, post.prior.mean.copy()).coefficients
        dense, t_dense, _, _ = timed(laplace_approximation, post, c, dense=True)
        lowrank, t_low, _, _ = timed(laplace_approximation, post, c, rng=rng)
    v_dense, v_low = dense.pointwise_variance(), lowrank.pointwise_variance()
    error = float(np.max(np.abs(v_low - v_dense)) / np.max(v_dense))
    print(f"\nLow-rank against dense Laplace at {n}x{n} (p = {post.n_params}, N = "
          f"{post.n_data}; rank min(N, p) = {lowrank.rank} covers the spectrum)")
    table(["approximation", "seconds", "max abs(var_lowrank − var_dense) / max var_dense"],
          [["dense (p Hessian products)", t_dense, "–"],
           ["low rank", t_low, error]])


def initial_condition_benchmark(n: int, rng) -> None:
    twin = make_initial_condition_twin(n, rng=rng)
    post = twin.posterior
    c0 = post.prior.mean.copy()
    # linear in θ0: Newton-CG to |g|_C ≤ MAP_DECREMENT_TOL / 10 puts the Laplace approximation
    # within 0.01 posterior sd of the mode
    newton, seconds, products, caught = timed(
        NewtonCG(rtol=0.0, atol=0.1 * MAP_DECREMENT_TOL).minimise, post, c0)
    lap, t_lap, _, caught_lap = timed(laplace_approximation, post, newton.coefficients,
                                      rng=rng)
    phi = post.misfit(newton.coefficients)
    error = float(np.linalg.norm(newton.coefficients - twin.true_coefficients)
                  / np.linalg.norm(twin.true_coefficients))
    print(f"\nInitial condition (R6) at {n}x{n} (p = {post.n_params}): 80 sensors × 16 times "
          f"(N = {post.n_data}), noise 1 % of max θ, bi-Laplacian prior")
    table(["Newton iterations", "CG iterations", "seconds", "Φ at the MAP", "N/2",
           "rel. θ0 error", "Laplace rank", "Laplace seconds", "tr C_post / tr C", "EIG"],
          [[newton.iterations, int(np.sum(newton.cg_iterations)), seconds, phi,
            post.n_data / 2, error, lap.rank, t_lap, lap.variance_trace_ratio,
            lap.expected_information_gain]])
    for message in caught + caught_lap:
        print(f"warning: {message[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="grid of the MAP and Laplace runs")
    parser.add_argument("--n-theta0", type=int, default=64, help="grid of the θ0 inversion")
    parser.add_argument("--n-dense", type=int, default=24,
                        help="grid of the low-rank against dense comparison")
    parser.add_argument("--quick", action="store_true", help="24² and 16² (a smoke test)")
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--rank", type=int, nargs="+", default=[100, 300],
                        help="low-rank Laplace ranks")
    parser.add_argument("--seed", type=int, default=0)
    docs_fragment.add_option(parser, "bench_estimation")
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_theta0, args.n_dense, args.sensors, args.rank = 24, 16, 16, 25, [40]
    recorder = docs_fragment.Recorder(parser, args).start()
    rng = np.random.default_rng(args.seed)
    twin, c_map, targets = map_benchmark(args.n, args.sensors, rng)
    targets += laplace_benchmark(twin, c_map, args.rank, rng)
    dense_agreement(args.n_dense, 25, rng)
    initial_condition_benchmark(args.n_theta0, rng)
    print("\nTargets")
    table(["quantity", "measured", "target", "met"],
          [[name, value, f"≤ {target:g}", "yes" if value <= target else "no"]
           for name, value, target in targets])
    recorder.finish()


if __name__ == "__main__":
    main()
