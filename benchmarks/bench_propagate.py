r"""Propagator benchmark on R2 (DESIGN.md §4): ``exp(TL) θ0`` and the tangent pair.

R2: periodic unit square, N×N nodes ``x_i = i/N`` (meshgrid 'ij', C-order), cellular flow
``u = (sin2πx cos2πy, −cos2πx sin2πy)``, κ = 0.01, T = 1,
``θ0 = exp(−((x−0.3)² + (y−0.5)²)/0.01)``, second-order central differences; tangent
direction ``v = (cos2πy, sin2πx)``.

Printed, measured side by side in one run: median seconds over ``--repeats`` (one run for
scipy on the 2n augmented tangent system, the slowest row), the ratio to
scipy's ``expm_multiply``, matrix–vector products (counted), relative error against a tight
reference (Chebyshev at the smallest certifiable tol, cross-checked against scipy), peak
memory (tracemalloc, separate untimed run), tangent/forward ratio, and the "floor": the
fewest products with which the Chebyshev series on the chosen ellipse and step count
actually reaches the target error on this θ0 (found by bisection over the degree) — what
the spectrum demands, against what the a priori bound spends.

Usage::

    python benchmarks/bench_propagate.py              # 256², ~2-3 min on 2 cores
    python benchmarks/bench_propagate.py --n 512 --repeats 1 --no-scipy-pair
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import advdiff_sens as ads
from advdiff_sens.matrix import DEFAULT_TOL, expm_action, expm_pair_action
from advdiff_sens.matrix.expm import chebyshev as cheb

import docs_fragment


def build_r2(n: int) -> tuple[sp.csr_array, sp.csr_array, np.ndarray]:
    """Generator ``L``, derivative ``J = ∂L/∂u[v]`` and ``θ0`` of R2 on an ``n × n`` grid."""
    grid = ads.Grid(shape=(n, n), extent=(1.0, 1.0), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.01, scheme="central")
    x, y = grid.coords
    u = np.stack([np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y),
                  -np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)])
    v = np.stack([np.cos(2 * np.pi * y), np.sin(2 * np.pi * x)])
    theta0 = np.exp(-((x - 0.3) ** 2 + (y - 0.5) ** 2) / 0.01).ravel()
    return sp.csr_array(model.generator(u)), sp.csr_array(model.generator_derivative(u, v)), theta0


class CountingOperator(spla.LinearOperator):
    """Wraps a matrix and counts products with vectors (each column counts once)."""

    def __init__(self, A):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A, self.count = A, 0

    def _matvec(self, x):
        self.count += 1
        return self.A @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        return self.A @ X

    def _rmatvec(self, x):
        self.count += 1
        return self.A.T.conj() @ x

    def _adjoint(self):
        return CountingOperator(self.A.T.conj())


def count_chebyshev_products(run: Callable[[], object]) -> int:
    """Products ``y += M x`` (one per vector row) performed by ``run``."""
    original = cheb.ShiftedOperator.matvec_add
    calls = [0]

    def counted(self, sign, x, y):
        calls[0] += x.shape[0]
        original(self, sign, x, y)

    cheb.ShiftedOperator.matvec_add = counted
    try:
        run()
    finally:
        cheb.ShiftedOperator.matvec_add = original
    return calls[0]


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_mib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def rel(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def certified(L, T: float, tol: float) -> bool:
    """Whether the Chebyshev bound certifies ``tol`` for the forward and the pair."""
    enclosure = cheb.field_of_values_enclosure(L)
    try:
        cheb.select_schedule(enclosure, T, tol)
        cheb.select_schedule(enclosure.enlarged(1.0 / T), T, tol / 3.0)
    except cheb.ToleranceUnreachable:
        return False
    return True


def tight_reference(L, J, theta0, T):
    """Forward and tangent at tol = 1e-13 in ``p`` equal sub-solves (the fewest that the
    bound certifies): a schedule independent of every benchmarked run."""
    pieces = next(p for p in (1, 2, 4, 8, 16, 32) if certified(L, T / p, 1e-13))
    x, y = theta0, np.zeros_like(theta0)
    for _ in range(pieces):
        # exp(dt B)[x; y], B = [[L, 0], [J, L]]: x <- e^{dt L} x,
        # y <- e^{dt L} y + (Fréchet derivative of e^{dt L} in J) x
        y_new = expm_action(L, y, T / pieces, tol=1e-13)
        x, dy = expm_pair_action(L, J, x, T / pieces, tol=1e-13)
        y = y_new + dy
    return x, y, f"tol=1e-13, {pieces} sub-solves"


def floor_products(L, theta0, T, tol, ref, target) -> int:
    """Fewest products (same ellipse and steps) whose result is within ``target`` of ``ref``."""
    schedule = cheb.select_schedule(cheb.field_of_values_enclosure(L), T, tol)
    x0, times = theta0[None, :], np.array([T])

    def error(degree: int) -> float:
        trial = dataclasses.replace(schedule, degree=degree)
        return rel(cheb.run_schedule(L, x0, times, trial, tol)[0, 0], ref)

    lo, hi = 0, schedule.degree
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if error(mid) <= target else (mid, hi)
    return schedule.steps * hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256, help="grid points per axis")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--tol", type=float, default=DEFAULT_TOL, help="tol of the default backend")
    parser.add_argument("--no-scipy-pair", dest="scipy_pair", action="store_false",
                        help="skip expm_multiply on the 2n augmented system")
    docs_fragment.add_option(parser, "bench_propagate")
    args = parser.parse_args()
    recorder = docs_fragment.Recorder(parser, args).start()
    T = 1.0
    L, J, theta0 = build_r2(args.n)
    print(f"R2 {args.n}x{args.n} (n = {L.shape[0]}, nnz(L) = {L.nnz}), T = {T}, "
          f"tol = {args.tol:g}, repeats = {args.repeats}")
    x_ref, y_ref, ref_tol = tight_reference(L, J, theta0, T)

    fwd = {
        "scipy": lambda: expm_action(L, theta0, T, backend="scipy"),
        "auto (chebyshev)": lambda: expm_action(L, theta0, T, tol=args.tol),
        "auto, tol=1e-8": lambda: expm_action(L, theta0, T, tol=1e-8),
    }
    pair = {"auto (chebyshev)": lambda: expm_pair_action(L, J, theta0, T, tol=args.tol)}
    if args.scipy_pair:
        pair["scipy"] = lambda: expm_pair_action(L, J, theta0, T, backend="scipy")

    big = sp.block_array([[L, None], [J, L]], format="csr")
    counter, counter_big = CountingOperator(L), CountingOperator(big)
    products = {
        ("fwd", "scipy"): lambda: (spla.expm_multiply(T * counter, theta0,
                                                      traceA=T * L.trace()), counter.count)[1],
        ("pair", "scipy"): lambda: (spla.expm_multiply(
            T * counter_big, np.concatenate([theta0, 0 * theta0]), traceA=T * big.trace()),
            counter_big.count)[1],
    }
    rows = []
    for kind, runs in (("fwd", fwd), ("pair", pair)):
        for name, run in runs.items():
            repeats = 1 if (kind, name) == ("pair", "scipy") else args.repeats
            seconds, out = median_seconds(run, repeats)
            if kind == "fwd":
                error = rel(out, x_ref)
            else:
                error = max(rel(out[0], x_ref), rel(out[1], y_ref))
            if name == "scipy":
                count = products[(kind, name)]() if (kind == "fwd" or args.scipy_pair) else 0
            else:
                count = count_chebyshev_products(run)
            rows.append((kind, name, seconds, count, error, peak_mib(run)))
    scipy_fwd = next(r[2] for r in rows if r[:2] == ("fwd", "scipy"))
    cheb_fwd = next(r[2] for r in rows if r[:2] == ("fwd", "auto (chebyshev)"))
    print(f"tight reference: chebyshev {ref_tol}; |ref - scipy| / |ref| = "
          f"{rel(fwd['scipy'](), x_ref):.1e} (forward)")
    header = (f"{'solve':5} {'backend':20} {'seconds':>8} {'vs scipy fwd':>12} "
              f"{'vs cheb fwd':>11} {'products':>9} {'rel.err':>9} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    for kind, name, seconds, count, error, mem in rows:
        print(f"{kind:5} {name:20} {seconds:8.3f} {scipy_fwd / seconds:11.1f}x "
              f"{seconds / cheb_fwd:10.2f}x {count:9d} {error:9.1e} {mem:9.1f}")
    pair_cheb = next(r[2] for r in rows if r[:2] == ("pair", "auto (chebyshev)"))
    print(f"tangent/forward (auto, same tol): {pair_cheb / cheb_fwd:.2f}  "
          "(pair products are complex: Q + i*eps*J on x + i*eps*y)")
    for target in (1e-8, rows[1][4]):
        floor = floor_products(L, theta0, T, args.tol, x_ref, max(target, 1e-13))
        print(f"floor: {floor} products reach rel.err <= {max(target, 1e-13):.1e} on the "
              f"chosen ellipse (a priori schedule: {rows[1][3]})")
    recorder.finish()


if __name__ == "__main__":
    main()
