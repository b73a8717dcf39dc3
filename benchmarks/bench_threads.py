r"""Every core in one solve: the whole forward, tangent and discrete-adjoint gradient on R2 with
the scipy kernel and the compiled kernel on 1 and 2 threads, side by side in one run.

Each method runs under each kernel (:func:`advdiff_sens.matrix.use_kernel`) in interleaved
rounds, so a drifting machine load hits every kernel alike; the tables give the median
seconds and the median within-round ratios. The products of each method are counted once
(:func:`advdiff_sens.matrix.count_products`, the same under every kernel: the kernels do the
same arithmetic), and the results of every kernel are checked bit for bit against scipy's.

Memory bandwidth is measured on the same machine with the sweep every Chebyshev term makes —
read the matrix and three vectors, write two — as a compiled triad over arrays far larger
than the caches, on 1 and 2 threads; the bytes a term moves divided by the bandwidth is the
term's floor, and the floor on 16 cores follows from a bandwidth that no longer grows once
the memory channels are saturated (stated with the assumption in the output).

Usage::

    python benchmarks/bench_threads.py                # R2 at 256², 5 rounds
    python benchmarks/bench_threads.py --n 128 256 --rounds 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from advdiff_sens.matrix import NumbaKernel, count_products, use_kernel
from advdiff_sens.matrix.expm.kernels import NUMBA_AVAILABLE
from advdiff_sens.problems import r2_problem
from advdiff_sens.sensitivity import DiscreteAdjoint

import docs_fragment

KERNEL_NAMES = ("scipy", "numba, 1 thread", "numba, 2 threads")


def kernels() -> dict:
    """The kernels compared (every matrix of R2 at 128² and up counts as large)."""
    return {"scipy": "scipy", "numba, 1 thread": NumbaKernel(threads=1, parallel_rows=1),
            "numba, 2 threads": NumbaKernel(threads=2, parallel_rows=1)}


def methods(problem) -> dict:
    """Forward θ(T), tangent ρ(T) along the default direction and the discrete-adjoint
    gradient of ½|θ(T)|² with respect to all 2n velocities."""
    model, u, theta0, t = problem.model, problem.u, problem.theta0, problem.T
    v = np.roll(u, 1, axis=1)

    def objective(theta):
        return 0.5 * float(np.sum(theta ** 2)), theta

    return {"forward": lambda: model.solve(u, theta0, t),
            "tangent": lambda: model.tangent(u, theta0, v, t),
            "adjoint gradient": lambda: model.gradient(u, theta0, objective, t,
                                                       adjoint=DiscreteAdjoint()).gradient}


def rounds(problem, n_rounds: int) -> tuple[dict, dict]:
    """Seconds of every (method, kernel) pair in each round, and the products per method."""
    todo = methods(problem)
    products, reference = {}, {}
    with use_kernel("scipy"):
        for name, f in todo.items():
            with count_products() as counter:
                reference[name] = f()
            products[name] = counter.products
    chosen = kernels()
    for label, kernel in chosen.items():            # compile and check outside the timings
        with use_kernel(kernel):
            for name, f in todo.items():
                if not np.array_equal(f(), reference[name]):
                    raise AssertionError(f"{label}: {name} differs from the scipy kernel's")
    seconds = {(m, k): [] for m in todo for k in chosen}
    for _ in range(n_rounds):
        for label, kernel in chosen.items():
            with use_kernel(kernel):
                for name, f in todo.items():
                    start = time.perf_counter()
                    f()
                    seconds[name, label].append(time.perf_counter() - start)
    return {key: np.array(v) for key, v in seconds.items()}, products


def triad_bandwidth(threads: int, size: int = 2 ** 25, repeats: int = 5) -> float:
    """GB/s of ``out += c * (prev + a * cur)`` over float64 arrays of ``size`` entries (four
    read, one written: 40 bytes per entry), on ``threads`` threads, the best of ``repeats``."""
    import numba

    @numba.njit(parallel=True, nogil=True)
    def triad(prev, cur, a, out, c):                    # pragma: no cover - compiled
        for i in numba.prange(out.size):
            v = prev[i] + a[i] * cur[i]
            prev[i] = v
            out[i] += c * v

    arrays = [np.random.default_rng(k).standard_normal(size) for k in range(4)]
    numba.set_num_threads(threads)
    triad(*arrays, 0.5)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        triad(*arrays, 0.5)
        best = min(best, time.perf_counter() - start)
    return 48 * size / best / 1e9                       # 4 reads, 2 writes of 8 bytes


def run(n: int, n_rounds: int, triad_entries: int) -> None:
    problem = r2_problem(n, scheme="exponential", backend="chebyshev", progress=None)
    seconds, products = rounds(problem, n_rounds)
    nnz = problem.model.generator(problem.u).nnz
    print(f"\nR2 at {n}x{n} (exponential fitting, tol 1e-8), {n_rounds} interleaved rounds; "
          f"every kernel's results equal scipy's bit for bit")
    print("| method | products | " + " | ".join(f"{k} (s)" for k in KERNEL_NAMES)
          + " | scipy / numba 2 threads | numba 1 → 2 threads |")
    print("|---" * (3 + len(KERNEL_NAMES) + 1) + "|")
    for name in methods(problem):
        cells = [f"{np.median(seconds[name, k]):.3f}" for k in KERNEL_NAMES]
        speedup = np.median(seconds[name, "scipy"] / seconds[name, "numba, 2 threads"])
        scaling = np.median(seconds[name, "numba, 1 thread"] / seconds[name, "numba, 2 threads"])
        print(f"| {name} | {products[name]} | " + " | ".join(cells)
              + f" | {speedup:.2f} | {scaling:.2f} |")
    print("| ratio to the forward, same kernel | | " + " | ".join(
        f"tangent {np.median(seconds['tangent', k] / seconds['forward', k]):.2f}, "
        f"adjoint {np.median(seconds['adjoint gradient', k] / seconds['forward', k]):.2f}"
        for k in KERNEL_NAMES) + " | | |")
    bandwidth = {t: triad_bandwidth(t, triad_entries) for t in (1, 2)}
    rows = problem.theta0.size
    term_bytes = 12 * nnz + 8 * rows + 2 * 16 * rows          # matrix, cur, prev r/w, out r/w
    per_term = {t: term_bytes / (bandwidth[t] * 1e9) for t in (1, 2)}
    measured = {t: np.median(seconds["forward", f"numba, {t} thread" + ("s" if t > 1 else "")])
                / products["forward"] for t in (1, 2)}
    print(f"\nBandwidth (compiled triad, 48 bytes per entry, {triad_entries} entries): 1 thread "
          f"{bandwidth[1]:.1f} GB/s, 2 threads {bandwidth[2]:.1f} GB/s. A forward term at "
          f"{n}² moves {term_bytes / 1e6:.1f} MB (nnz {nnz}): its bandwidth floor is "
          f"{1e6 * per_term[1]:.0f} µs on 1 thread, {1e6 * per_term[2]:.0f} µs on 2; measured "
          f"{1e6 * measured[1]:.0f} µs and {1e6 * measured[2]:.0f} µs per product.")
    print("| threads | bandwidth (GB/s) | forward term, floor (µs) | forward term, measured (µs) |")
    print("|---|---|---|---|")
    for t in (1, 2):
        print(f"| {t} | {bandwidth[t]:.1f} | {1e6 * per_term[t]:.0f} | "
              f"{1e6 * measured[t]:.0f} |")
    print(f"16 cores: the term is bandwidth-bound once the threads saturate the memory "
          f"channels; at the per-thread bandwidth measured here ({bandwidth[1]:.1f} GB/s) "
          f"16 threads would need {16 * bandwidth[1]:.0f} GB/s. A workstation socket with "
          f"B GB/s then runs a {n}² forward term in about {term_bytes / 1e3:.0f}/B µs, i.e. "
          f"{term_bytes / 1e3 / 100:.0f} µs at B = 100 and "
          f"{term_bytes / 1e3 / 200:.0f} µs at B = 200 (a prediction from bytes moved, not a "
          "measurement).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[256])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--triad-entries", type=int, default=2 ** 25,
                        help="array length of the bandwidth triad (far beyond the caches)")
    docs_fragment.add_option(parser, "bench_threads")
    args = parser.parse_args()
    if not NUMBA_AVAILABLE:
        parser.error("the compiled kernel needs numba (python -m pip install numba)")
    recorder = docs_fragment.Recorder(parser, args).start()
    for n in args.n:
        run(n, args.rounds, args.triad_entries)
    recorder.finish()


if __name__ == "__main__":
    main()
