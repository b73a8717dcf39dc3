"""Benchmark of the sensitivity methods on reference problem R2 (DESIGN.md §4–5).

Prints, measured side by side in one run for each grid: seconds (median of repeats), ratio to
the library's forward solve (forward, tangent, discrete adjoint and surrogate gradient run in
interleaved rounds; the ratio is the median over rounds of each one's time over the
forward's in the same round, so that a drifting machine load cancels), matrix–vector
products with L or Lᵀ, peak Python memory (tracemalloc), and the accuracy of dΦ/du[v]
against the tangent, for

* forward solve θ(T); tangent ρ(T) (exact);
* adjoint gradient of a 20-point-sensor objective for all 2n nodal velocity parameters, by
  the discrete adjoint (reverse Chebyshev sweep) and by the quadrature adjoint (one repeat);
* first-order surrogate gradient (all parameters, one backward solve), with the forward
  solve that gives ∂Φ/∂θ(T) and, separately, its backward solve alone (the cost on top of
  a forward that evaluates Φ anyway, as in an optimisation loop);
* finite-difference gradient of all 2n parameters (extrapolated: 2·2n forward solves);
* Crank–Nicolson with the tangent-linear model (θ and ρ), the fewest steps (doubling from 32,
  at most ``--cn-max-steps``) that reach 1e-6 relative accuracy on dΦ/du[v].

Usage::

    python benchmarks/bench_sensitivity.py              # 128² and 256²
    python benchmarks/bench_sensitivity.py --n 64 128   # chosen sizes
    python benchmarks/bench_sensitivity.py --large      # adds 512²
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from advdiff_sens.comparison import default_direction
from advdiff_sens.discretisation.observations import LeastSquaresObjective
from advdiff_sens.matrix import count_products
from advdiff_sens.problems import r2_problem
from advdiff_sens.sensitivity import surrogate_adjoint_gradient

import docs_fragment


def timed_rounds(methods: dict, repeats: int) -> tuple[dict, dict]:
    """Run the methods in interleaved rounds (forward, tangent, ..., forward, tangent, ...)
    so that a drifting machine load hits all of them alike. Returns the median seconds and
    the median over rounds of each method's time divided by the forward's in that round."""
    times = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    forward = np.array(times["forward"])
    seconds = {name: statistics.median(t) for name, t in times.items()}
    ratios = {name: float(np.median(np.array(t) / forward)) for name, t in times.items()}
    return seconds, ratios


def measure(fn):
    """Peak traced memory (MiB), products with L, and the result of one call."""
    tracemalloc.start()
    with count_products() as counter:
        result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak, counter.products, result


def crank_nicolson_tangent(L, J, theta0, T, steps):
    """θ and ρ at T by Crank–Nicolson with the tangent-linear model (one LU, reused)."""
    dt = T / steps
    eye = sp.identity(L.shape[0], format="csc")
    lu = spla.splu((eye - 0.5 * dt * L).tocsc())
    explicit = (eye + 0.5 * dt * L).tocsr()
    theta, rho = theta0.copy(), np.zeros_like(theta0)
    for _ in range(steps):
        new_theta = lu.solve(explicit @ theta)
        rho = lu.solve(explicit @ rho + 0.5 * dt * (J @ (theta + new_theta)))
        theta = new_theta
    return theta, rho


def run(n: int, repeats: int, rng, cn_max_steps: int) -> list[tuple]:
    problem = r2_problem(n)
    model, u, theta0, T = problem.model, problem.u, problem.theta0, problem.T
    sensors = rng.uniform(0, 1, size=(20, 2))
    objective = LeastSquaresObjective(model.grid, sensors, np.zeros((1, 20)))
    v = default_direction(model)
    model.generator(u)                               # assemble once, outside the timings

    dtheta = objective(model.solve(u, theta0, [T]))[1].reshape(1, -1)
    methods = {
        "forward": lambda: model.solve(u, theta0, [T]),
        "tangent": lambda: model.tangent(u, theta0, v, T),
        "adjoint": lambda: model.gradient(u, theta0, objective, [T], adjoint="discrete"),
        "surrogate": lambda: model.gradient(u, theta0, objective, [T], adjoint="surrogate"),
        "surrogate backward": lambda: surrogate_adjoint_gradient(
            model.propagator(u, transpose=True), model.partial_generators(u),
            theta0.ravel(), np.array([T]), dtheta),
    }
    for fn in methods.values():                      # warm the per-operator caches
        fn()
    seconds, ratios = timed_rounds(methods, repeats)
    fwd_s, fwd_r = seconds["forward"], ratios["forward"]
    tan_s, tan_r = seconds["tangent"], ratios["tangent"]
    adj_s, adj_r = seconds["adjoint"], ratios["adjoint"]
    sur_s, sur_r = seconds["surrogate"], ratios["surrogate"]
    back_s, back_r = seconds["surrogate backward"], ratios["surrogate backward"]
    fwd_mem, fwd_mv, theta = measure(methods["forward"])
    g = objective(theta)[1][0]
    tan_mem, tan_mv, rho = measure(methods["tangent"])
    reference = float(np.sum(g * rho))

    def err(value):
        return abs(value - reference) / abs(reference)

    adj_mem, adj_mv, adj = measure(methods["adjoint"])
    sur_mem, sur_mv, sur = measure(methods["surrogate"])
    back_mem, back_mv, back = measure(methods["surrogate backward"])
    start = time.perf_counter()
    quad = model.gradient(u, theta0, objective, [T], adjoint="quadrature")
    quad_s = time.perf_counter() - start
    quad_mem, quad_mv, _ = measure(
        lambda: model.gradient(u, theta0, objective, [T], adjoint="quadrature"))
    rows = [("forward θ(T)", fwd_s, fwd_r, fwd_mv, fwd_mem, float("nan")),
            ("tangent ρ(T)", tan_s, tan_r, tan_mv, tan_mem, 0.0),
            (f"adjoint gradient, discrete, {2 * n * n} params", adj_s, adj_r, adj_mv, adj_mem,
             err(float(np.sum(adj[1] * v)))),
            (f"adjoint gradient, quadrature, {2 * n * n} params", quad_s, quad_s / fwd_s,
             quad_mv, quad_mem, err(float(np.sum(quad[1] * v)))),
            ("surrogate gradient (1.6)", sur_s, sur_r, sur_mv, sur_mem,
             err(float(np.sum(sur[1] * v)))),
            ("surrogate gradient (1.6), backward solve alone", back_s, back_r, back_mv,
             back_mem, err(float(np.sum(back.reshape(v.shape) * v)))),
            (f"finite differences, {2 * n * n} params (extrapolated)", 4 * n * n * fwd_s,
             4.0 * n * n, 4 * n * n * fwd_mv, fwd_mem, float("nan"))]
    L = model.generator(u)
    J = model.generator_derivative(u, v)
    steps = 32
    while True:
        start = time.perf_counter()
        _, rho_cn = crank_nicolson_tangent(L, J, theta0.ravel(), T, steps)
        cn_s = time.perf_counter() - start
        cn_err = err(float(np.sum(g.ravel() * rho_cn)))
        if cn_err <= 1e-6 or steps >= cn_max_steps:
            break
        steps *= 2
    rows.append((f"Crank–Nicolson TLM, {steps} steps (LU solves)", cn_s, cn_s / fwd_s, 3 * steps,
                 float("nan"), cn_err))
    print(f"\nR2 at {n}x{n} (n = {n * n}); discrete adjoint: {adj.info.checkpoints} "
          f"checkpoints, {adj.info.nbytes / 2**20:.0f} MiB of states; quadrature "
          f"adjoint: {quad.info.nodes} nodes, estimated relative error "
          f"{quad.info.relative_error_estimate:.1e}, {quad.info.nbytes / 2**20:.0f} "
          f"MiB of states")
    print("| method | seconds | × forward | products | peak MiB | rel. error of dΦ/du[v] |")
    print("|---|---|---|---|---|---|")
    for name, secs, ratio, products, memory, error in rows:
        print(f"| {name} | {secs:.3f} | {ratio:.2f} | {products} | {memory:.0f} | {error:.1e} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--large", action="store_true", help="also run 512²")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--cn-max-steps", type=int, default=1024)
    docs_fragment.add_option(parser, "bench_sensitivity")
    args = parser.parse_args()
    recorder = docs_fragment.Recorder(parser, args).start()
    sizes = args.n + ([512] if args.large else [])
    rng = np.random.default_rng(0)
    for n in sizes:
        run(n, args.repeats, rng, args.cn_max_steps)
    recorder.finish()


if __name__ == "__main__":
    main()
