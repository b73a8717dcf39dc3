r"""Per-term kernel costs on R2: the floors under the tangent/forward and adjoint/forward ratios.

Every method of ``bench_sensitivity.py`` runs a Chebyshev series of about ``m`` terms
(:mod:`advdiff_sens.matrix._prop_chebyshev`), and per term it does:

* **forward** θ(T): ``y ← y ± M x`` (one real CSR product, in place) and ``out += a_k y``;
* **tangent** ρ(T): the same with the complex matrix ``M + iεJ`` and complex vectors (the
  complex step of :func:`advdiff_sens.matrix.expm_pair_action`); the alternative is three real
  products ``Mx``, ``My`` and ``Jx``;
* **discrete adjoint** (:mod:`advdiff_sens.matrix.adjoint`): the forward's term while
  recording, then per term a *recomputation* (an ``M`` product and the products with
  ``P_x``, ``P_y``) in a second thread and a *backward* term (an ``Mᵀ`` product, the addition
  of ``Z_{k+2}`` and its share of the contraction ``Σ_k w_k Z_{k+1} ⊙ P_aY_k``) in the main one.

Timing each term's kernels alone — many repetitions, in interleaved rounds, the ratio being
the median over rounds of each kernel's time over the forward term's in the same round —
gives the ratios that the whole methods cannot beat with these kernels, whatever the
surrounding code does: the floors. The two adjoint kernels are also run concurrently in two
threads, as the adjoint runs them, to measure what their overlap leaves.

With ``numba`` installed (not a dependency of the library), the same terms are also run as
fused compiled kernels on an ELL layout (every row padded to the widest, product and
accumulation in one pass; for the pair, ``Mx``, ``My + Jx`` in one pass sharing the index
loads): this shows what a compiled kernel changes — every term gets faster, their ratio does
not.

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

from advdiff_sens.matrix import _prop_chebyshev as cheb
from advdiff_sens.matrix.adjoint import _product_into
from advdiff_sens.matrix.propagate import _COMPLEX_STEP, DEFAULT_TOL, _pair_enclosure
from advdiff_sens.reference import r2_problem
from advdiff_sens.studies import default_direction

BLOCK = 30          # adjoint block length (≈ √terms at 256²): the contraction runs per block


def term_kernels(n: int, rng) -> tuple[dict[str, Callable[[], None]], dict[str, int]]:
    """One term's work of each method on R2 at ``n × n``, as closures over preallocated
    arrays, and the product counts of the forward and the tangent schedules."""
    problem = r2_problem(n)
    model, u, T = problem.model, problem.u, problem.T
    L = sp.csr_array(model.generator(u))
    J = sp.csr_array(model.generator_derivative(u, default_direction(model)))
    partials = model.partial_generators(u)
    d = L.shape[0]
    enclosure = cheb.field_of_values_enclosure(L)
    forward_schedule = cheb.select_schedule(enclosure, T, DEFAULT_TOL)
    schedule = cheb.select_schedule(_pair_enclosure(enclosure, T), T, DEFAULT_TOL / 3.0)
    op = cheb.shifted_operator(L, schedule, np.float64)
    op_t = cheb.shifted_operator(L.T.tocsr(), schedule, np.float64)
    op_j = cheb.shifted_operator(J, schedule, np.float64)   # 2J/f (+ a diagonal: same cost)
    eps = _COMPLEX_STEP
    op_c = cheb.shifted_operator(L + (1j * eps) * J, schedule, np.complex128)
    products = [_product_into(P, "P", d) for P in partials]

    x, y, out, scratch = (rng.standard_normal((1, d)) for _ in range(4))
    dx, dy, dout = (rng.standard_normal((1, d)) for _ in range(3))
    xc, yc, outc, scratchc = (rng.standard_normal((1, d)) + 1j * rng.standard_normal((1, d))
                              for _ in range(4))
    partial_rows = np.empty((len(partials), BLOCK, d))
    z = rng.standard_normal((BLOCK + 2, d))
    weights = rng.standard_normal(BLOCK)
    grads = np.zeros((len(partials), d))
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
        for a, product in enumerate(products):
            product(y[0], partial_rows[a, row])

    def adjoint_backward():
        op_t.matvec_add(-1, z[1:2], z[0:1])
        z[0] += z[2]
        rows["backward"] = (rows["backward"] + 1) % BLOCK
        if rows["backward"] == 0:                   # the contraction, once per block
            for a in range(len(products)):
                grads[a] += np.einsum("k,ki,ki->i", weights, partial_rows[a], z[1:BLOCK + 1])

    kernels = {"forward": forward, "tangent, complex step": tangent_complex,
               "tangent, three real products": tangent_three_real,
               "adjoint recomputation": adjoint_recompute, "adjoint backward": adjoint_backward}
    if importlib.util.find_spec("numba") is not None:
        kernels.update(_numba_kernels(op, op_j, rng))
    counts = {"forward": forward_schedule.cost, "tangent": schedule.cost}
    return kernels, counts


def _ell(pattern, matrices) -> tuple[np.ndarray, list[np.ndarray]]:
    """ELL layout on a common sparsity pattern: column indices of shape ``(d, width)`` (rows
    padded with their own diagonal index) and, for each matrix, its values there (zero where
    it has no entry, and in the padding)."""
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
    for A in matrices:
        a = sp.coo_array(A)
        at = np.searchsorted(keys, a.row.astype(np.int64) * d + a.col)
        v = np.zeros((d, width))
        np.add.at(v, (rows[at], slot[at]), a.data)
        values.append(v)
    return indices, values


def _numba_kernels(op, op_j, rng) -> dict[str, Callable[[], None]]:
    """Fused ELL kernels (numba) for the forward and the real tangent pair term."""
    from numba import njit

    M, J = op._sparse, op_j._sparse
    indices, (m_ell, j_ell) = _ell(abs(M) + abs(J), [M, J])
    width = indices.shape[1]

    @njit(fastmath=True, boundscheck=False, nogil=True)
    def forward_term(idx, values, cur, prev, out, c):
        for i in range(cur.shape[0]):
            acc = 0.0
            for q in range(width):
                acc += values[i, q] * cur[idx[i, q]]
            v = prev[i] + acc
            prev[i] = v
            out[i] += c * v

    @njit(fastmath=True, boundscheck=False, nogil=True)
    def pair_term(idx, values, jvalues, cur, prev, out, c):
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
    px, py, pout = (rng.standard_normal((d, 2)) for _ in range(3))
    forward_term(indices, m_ell, x, y, out, 0.37)            # compile outside the timings
    pair_term(indices, m_ell, j_ell, px, py, pout, 0.37)
    return {"numba ELL forward (fused)": lambda: forward_term(indices, m_ell, x, y, out, 0.37),
            "numba ELL tangent pair (fused)":
                lambda: pair_term(indices, m_ell, j_ell, px, py, pout, 0.37)}


def per_term_seconds(kernels: dict, terms: int, rounds: int) -> tuple[dict, dict]:
    """Median seconds per term of each kernel and the median over rounds of its ratio to
    the forward term, from ``rounds`` interleaved rounds of ``terms`` repetitions."""
    times = {name: [] for name in kernels}
    for name, fn in kernels.items():
        fn()                                            # warm up
    for _ in range(rounds):
        for name, fn in kernels.items():
            start = time.perf_counter()
            for _ in range(terms):
                fn()
            times[name].append((time.perf_counter() - start) / terms)
    forward = np.array(times["forward"])
    seconds = {name: statistics.median(t) for name, t in times.items()}
    ratios = {name: float(np.median(np.array(t) / forward)) for name, t in times.items()}
    return seconds, ratios


def overlapped_seconds(first: Callable[[], None], second: Callable[[], None], terms: int,
                       rounds: int) -> float:
    """Median wall seconds per term of ``first`` and ``second`` run concurrently in two
    threads, ``terms`` times each (as the adjoint's recomputation and backward pass run)."""
    walls = []
    for _ in range(rounds):
        worker = threading.Thread(target=lambda: [first() for _ in range(terms)])
        start = time.perf_counter()
        worker.start()
        for _ in range(terms):
            second()
        worker.join()
        walls.append((time.perf_counter() - start) / terms)
    return statistics.median(walls)


def run(n: int, terms: int, rounds: int, rng) -> dict:
    kernels, counts = term_kernels(n, rng)
    seconds, ratios = per_term_seconds(kernels, terms, rounds)
    both = overlapped_seconds(kernels["adjoint recomputation"], kernels["adjoint backward"],
                              terms, rounds)
    forward = seconds["forward"]
    print(f"\nR2 at {n}x{n}: per-term kernel costs ({rounds} interleaved rounds of {terms} "
          f"terms; schedules: forward {counts['forward']} products, tangent/adjoint "
          f"{counts['tangent']})")
    print("| kernel (one term) | µs | × forward term |")
    print("|---|---|---|")
    for name in kernels:
        print(f"| {name} | {1e6 * seconds[name]:.0f} | {ratios[name]:.2f} |")
    print(f"| adjoint recomputation ∥ backward (two threads) | {1e6 * both:.0f} | "
          f"{both / forward:.2f} |")
    extra = counts["tangent"] / counts["forward"]
    floors = {
        "tangent / forward": extra * ratios["tangent, complex step"],
        "adjoint / forward, one thread": 1.0 + extra * (ratios["adjoint recomputation"]
                                                         + ratios["adjoint backward"]),
        "adjoint / forward, two threads": 1.0 + extra * both / forward,
        "surrogate gradient / forward": 2.0,
    }
    if "numba ELL forward (fused)" in kernels:
        floors["tangent / forward, numba fused"] = extra * (
            seconds["numba ELL tangent pair (fused)"] / seconds["numba ELL forward (fused)"])
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
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for n in args.n:
        run(n, args.terms, args.rounds, rng)


if __name__ == "__main__":
    main()
