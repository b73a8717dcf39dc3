r"""Per-term kernel costs on R2: the floors under the tangent/forward and adjoint/forward ratios.

Every method of ``bench_sensitivity.py`` runs a Chebyshev series of about ``m`` terms
(:mod:`advdiff_sens.matrix.expm.chebyshev`), and per term it does:

* **forward** θ(T): ``y ← y ± M x`` (one real CSR product, in place) and ``out += a_k y``;
* **tangent** ρ(T): the same with the complex matrix ``M + iεJ`` and complex vectors (the
  complex step of :func:`advdiff_sens.matrix.expm_pair_action`); the alternative is three real
  products ``Mx``, ``My`` and ``Jx``;
* **discrete adjoint** (:mod:`advdiff_sens.matrix.expm.reverse`): the forward's term while
  recording, then per term a *recomputation* (an ``M`` product and the weighted copy
  ``w_kY_k``) in a second thread and a *backward* term (an ``Mᵀ`` product and the addition
  of ``Z_{k+2}``) in the main one; each thread also contracts half of every block,
  ``(P_a ⊙ Σ_k Z_{k+1}(w_kY_k)ᵀ)1`` on the pattern of ``P_x``, ``P_y``
  (:mod:`advdiff_sens.matrix.expm.pattern`).

Timing each term's kernels alone — many repetitions, in interleaved rounds — gives the
ratios that the whole methods cannot beat with these kernels, whatever the surrounding code
does: the floors. The two adjoint kernels are also run concurrently in two threads, as the
adjoint runs them, inside the same rounds. Every ratio printed is the median over rounds of
the ratio measured within a round (so that a drifting machine load cancels), and the floors
multiply it by the ratio of the methods' product counts, counted on one run of each method.

With ``numba`` installed (not a dependency of the library), the forward and tangent terms are
also run as fused compiled kernels on an ELL layout (every row padded to the widest, product
and accumulation in one pass): the forward; the tangent's complex step (complex values
``M + iεJ`` times a complex vector, the library's algorithm); and the pair as three real
products ``Mx``, ``My + Jx`` sharing their index loads. The floor is then taken against the
compiled forward, because a library with a compiled kernel would use it for the forward too.

Usage::

    python benchmarks/bench_kernels.py              # 256²
    python benchmarks/bench_kernels.py --n 128 512
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from advdiff_sens.comparison import default_direction
from advdiff_sens.discretisation.observations import LeastSquaresObjective
from advdiff_sens.matrix import ChebyshevBackend, Propagator, count_products
from advdiff_sens.matrix.expm import chebyshev as cheb
from advdiff_sens.matrix.expm.pair import COMPLEX_STEP
from advdiff_sens.matrix.expm.pattern import PatternContraction
from advdiff_sens.problems import r2_problem

import docs_fragment

BLOCK = 30          # adjoint block length (≈ √terms at 256²): the contraction runs per block


def repeated(fn: Callable[[], None]) -> Callable[[int], None]:
    """``fn`` as a kernel that runs ``terms`` terms."""
    def run(terms: int) -> None:
        for _ in range(terms):
            fn()
    return run


def concurrently(first: Callable[[], None], second: Callable[[], None]) -> Callable[[int], None]:
    """``first`` in a second thread and ``second`` in this one, ``terms`` times each (as the
    adjoint's recomputation and backward pass run)."""
    def run(terms: int) -> None:
        worker = threading.Thread(target=repeated(first), args=(terms,))
        worker.start()
        repeated(second)(terms)
        worker.join()
    return run


def product_counts(problem) -> dict[str, float]:
    """Matrix–vector products of one forward solve, one tangent, one pass of the discrete
    adjoint (its total over three) and the surrogate gradient (forward plus one backward
    solve), counted on one run of each on R2."""
    model, u, theta0, T = problem.model, problem.u, problem.theta0, problem.T
    objective = LeastSquaresObjective(model.grid, [[0.5, 0.5]], np.zeros((1, 1)))
    runs = {"forward": lambda: model.solve(u, theta0, T),
            "tangent": lambda: model.tangent(u, theta0, default_direction(model), T),
            "adjoint": lambda: model.gradient(u, theta0, objective, [T], adjoint="discrete"),
            "surrogate": lambda: model.gradient(u, theta0, objective, [T],
                                                adjoint="surrogate")}
    counts = {}
    for name, fn in runs.items():
        with count_products() as counter:
            fn()
        counts[name] = counter.products
    counts["adjoint pass"] = counts["adjoint"] / 3.0
    return counts


def term_kernels(problem, rng) -> dict[str, Callable[[int], None]]:
    """One term's work of each method on R2, as kernels running ``terms`` terms over
    preallocated arrays (the operators are the library's own, on the tangent's schedule)."""
    model, u, T = problem.model, problem.u, problem.T
    L = sp.csr_array(model.generator(u))
    J = sp.csr_array(model.generator_derivative(u, default_direction(model)))
    partials = model.partial_generators(u)
    d = L.shape[0]
    schedule = Propagator(L, backend=ChebyshevBackend()).tangent_plan(T).schedule
    op = cheb.shifted_operator(L, schedule, np.float64)
    op_t = cheb.shifted_operator(L.T.tocsr(), schedule, np.float64)
    op_j = cheb.shifted_operator(J, schedule, np.float64)   # 2J/f (+ a diagonal: same cost)
    op_c = cheb.shifted_operator(L + (1j * COMPLEX_STEP) * J, schedule, np.complex128)
    contraction = PatternContraction(partials, d)

    x, y, out, scratch = (rng.standard_normal((1, d)) for _ in range(4))
    dx, dy, dout = (rng.standard_normal((1, d)) for _ in range(3))
    xc, yc, outc, scratchc = (rng.standard_normal((1, d)) + 1j * rng.standard_normal((1, d))
                              for _ in range(4))
    states = np.empty((BLOCK, d))
    z = rng.standard_normal((BLOCK + 2, d))
    rows = {"recomputation": 0, "backward": 0}     # each kernel's position in its block

    def accumulate(v, acc, tmp):
        np.multiply(v, 0.37, out=tmp)
        acc += tmp

    def forward():
        op.matvec_add(1, x, y)
        accumulate(y, out, scratch)

    def tangent_complex():
        op_c.matvec_add(1, xc, yc)
        accumulate(yc, outc, scratchc)

    def tangent_three_real():
        op.matvec_add(1, x, y)
        op.matvec_add(1, dx, dy)
        op_j.matvec_add(1, x, dy)
        accumulate(y, out, scratch)
        accumulate(dy, dout, scratch)

    def adjoint_recompute():
        op.matvec_add(1, x, y)
        row = rows["recomputation"] = (rows["recomputation"] + 1) % BLOCK
        np.multiply(y[0], 0.37, out=states[row])
        if row == 0:                                # its half of the contraction, per block
            contraction.add(z[1:BLOCK + 1], states, (1, 2))

    def adjoint_backward():
        op_t.matvec_add(-1, z[1:2], z[0:1])
        z[0] += z[2]
        rows["backward"] = (rows["backward"] + 1) % BLOCK
        if rows["backward"] == 0:
            contraction.add(z[1:BLOCK + 1], states, (0, 2))

    kernels = {"forward": repeated(forward),
               "tangent, complex step": repeated(tangent_complex),
               "tangent, three real products": repeated(tangent_three_real),
               "adjoint recomputation": repeated(adjoint_recompute),
               "adjoint backward": repeated(adjoint_backward),
               "adjoint recomputation ∥ backward (two threads)":
                   concurrently(adjoint_recompute, adjoint_backward)}
    if importlib.util.find_spec("numba") is not None:
        kernels.update(_numba_kernels(op, op_j, rng))
    return kernels


def _ell(pattern, matrices) -> tuple[np.ndarray, list[np.ndarray]]:
    """ELL layout on a common sparsity pattern: column indices of shape ``(d, width)`` (rows
    padded with their own diagonal index) and, for each matrix, its values there (zero where
    it has no entry, and in the padding). Checked against the CSR product."""
    d = pattern.shape[0]
    coo = pattern.tocoo()
    keys = coo.row.astype(np.int64) * d + coo.col
    order = np.argsort(keys)
    keys, rows, cols = keys[order], coo.row[order], coo.col[order]
    lengths = np.bincount(rows, minlength=d)
    width = int(lengths.max())
    slot = np.arange(keys.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    indices = np.repeat(np.arange(d, dtype=np.int64)[:, None], width, axis=1)
    indices[rows, slot] = cols
    values = []
    probe = np.random.default_rng(0).standard_normal(d)
    for A in matrices:
        a = sp.coo_array(A)
        at = np.searchsorted(keys, a.row.astype(np.int64) * d + a.col)
        v = np.zeros((d, width))
        np.add.at(v, (rows[at], slot[at]), a.data)
        reference = sp.csr_array(A) @ probe
        if not np.allclose((v * probe[indices]).sum(axis=1), reference, rtol=1e-13,
                           atol=1e-13 * np.abs(reference).max()):
            raise AssertionError("ELL layout does not reproduce the CSR product")
        values.append(v)
    return indices, values


def _numba_kernels(op, op_j, rng) -> dict[str, Callable[[int], None]]:
    """Fused ELL kernels (numba): the forward term, the tangent's complex step and the pair
    as three real products."""
    from numba import njit

    M, J = op.matrix, op_j.matrix
    indices, (m_ell, j_ell) = _ell(abs(M) + abs(J), [M, J])
    c_ell = m_ell + 1j * COMPLEX_STEP * j_ell
    width = indices.shape[1]

    @njit(fastmath=True, boundscheck=False, nogil=True)
    def forward_terms(terms, idx, values, cur, prev, out, c):
        for _ in range(terms):
            for i in range(cur.shape[0]):
                acc = values[i, 0] * cur[idx[i, 0]]
                for q in range(1, width):
                    acc += values[i, q] * cur[idx[i, q]]
                v = prev[i] + acc
                prev[i] = v
                out[i] += c * v

    @njit(fastmath=True, boundscheck=False, nogil=True)
    def pair_terms(terms, idx, values, jvalues, cur, prev, out, c):
        for _ in range(terms):
            for i in range(cur.shape[0]):
                a = 0.0
                b = 0.0
                e = 0.0
                for q in range(width):
                    j = idx[i, q]
                    xj = cur[j, 0]
                    mq = values[i, q]
                    a += mq * xj
                    b += mq * cur[j, 1]
                    e += jvalues[i, q] * xj
                v = prev[i, 0] + a
                prev[i, 0] = v
                out[i, 0] += c * v
                w = prev[i, 1] + b + e
                prev[i, 1] = w
                out[i, 1] += c * w

    d = M.shape[0]
    x, y, out = (rng.standard_normal(d) for _ in range(3))
    xc, yc, outc = (rng.standard_normal(d) + 1j * rng.standard_normal(d) for _ in range(3))
    px, py, pout = (rng.standard_normal((d, 2)) for _ in range(3))
    kernels = {
        "numba ELL forward (fused)":
            lambda terms: forward_terms(terms, indices, m_ell, x, y, out, 0.37),
        "numba ELL tangent, complex step (fused)":
            lambda terms: forward_terms(terms, indices, c_ell, xc, yc, outc, 0.37),
        "numba ELL tangent, three real products (fused)":
            lambda terms: pair_terms(terms, indices, m_ell, j_ell, px, py, pout, 0.37),
    }
    for kernel in kernels.values():                 # compile outside the timings
        kernel(1)
    return kernels


def interleaved_rounds(kernels: dict, terms: int, rounds: int) -> dict[str, np.ndarray]:
    """Seconds per term of each kernel in each of ``rounds`` interleaved rounds."""
    for kernel in kernels.values():                 # warm up
        kernel(1)
    times = {name: [] for name in kernels}
    for _ in range(rounds):
        for name, kernel in kernels.items():
            start = time.perf_counter()
            kernel(terms)
            times[name].append((time.perf_counter() - start) / terms)
    return {name: np.array(t) for name, t in times.items()}


def median_ratio(times: dict, name: str, reference: str = "forward") -> float:
    """Median over rounds of ``times[name] / times[reference]`` within each round."""
    return float(np.median(times[name] / times[reference]))


def run(n: int, terms: int, rounds: int, rng) -> dict:
    problem = r2_problem(n, backend="chebyshev")    # the kernels measured, at every size
    counts = product_counts(problem)
    kernels = term_kernels(problem, rng)
    times = interleaved_rounds(kernels, terms, rounds)
    print(f"\nR2 at {n}x{n}: per-term kernel costs ({rounds} interleaved rounds of {terms} "
          f"terms); products counted on one run of each method: forward {counts['forward']}, "
          f"tangent {counts['tangent']}, discrete adjoint {counts['adjoint']} "
          f"(3 × {counts['adjoint pass']:.0f}), surrogate gradient {counts['surrogate']}")
    print("| kernel (one term) | µs | × forward term |")
    print("|---|---|---|")
    for name in kernels:
        print(f"| {name} | {1e6 * statistics.median(times[name]):.0f} | "
              f"{median_ratio(times, name):.2f} |")
    pass_ratio = counts["adjoint pass"] / counts["forward"]
    floors = {
        "tangent / forward": counts["tangent"] / counts["forward"]
        * median_ratio(times, "tangent, complex step"),
        "adjoint / forward, one thread": pass_ratio * (
            1.0 + median_ratio(times, "adjoint recomputation")
            + median_ratio(times, "adjoint backward")),
        "adjoint / forward, two threads": pass_ratio * (
            1.0 + median_ratio(times, "adjoint recomputation ∥ backward (two threads)")),
        "surrogate gradient / forward (products)": counts["surrogate"] / counts["forward"],
    }
    if "numba ELL forward (fused)" in kernels:
        compiled = "numba ELL forward (fused)"
        for name in ("numba ELL tangent, complex step (fused)",
                     "numba ELL tangent, three real products (fused)"):
            label = name.removeprefix("numba ELL ").removesuffix(" (fused)")
            floors[f"{label} / forward, both compiled"] = (
                counts["tangent"] / counts["forward"] * median_ratio(times, name, compiled))
    print("| floor of the whole method (products ratio × term ratio) | × forward |")
    print("|---|---|")
    for name, value in floors.items():
        print(f"| {name} | {value:.2f} |")
    return floors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[256])
    parser.add_argument("--terms", type=int, default=200, help="repetitions per round")
    parser.add_argument("--rounds", type=int, default=7)
    docs_fragment.add_option(parser, "bench_kernels")
    args = parser.parse_args()
    recorder = docs_fragment.Recorder(parser, args).start()
    rng = np.random.default_rng(0)
    for n in args.n:
        run(n, args.terms, args.rounds, rng)
    recorder.finish()


if __name__ == "__main__":
    main()
