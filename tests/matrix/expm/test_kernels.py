"""The sparse kernels: the compiled (numba) kernel against scipy's, bit for bit — the product,
the fused Chebyshev term, and whole propagations, tangents and gradients — serial and
row-parallel; the process-wide choice of kernel; and a clean failure without numba."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import advdiff_sens as ads
from advdiff_sens.matrix.expm import kernels
from advdiff_sens.matrix.expm.kernels import (KERNELS, NUMBA_AVAILABLE, NumbaKernel, ScipyKernel,
                                              active_kernel, set_kernel, use_kernel)

needs_numba = pytest.mark.skipif(not NUMBA_AVAILABLE, reason="numba (the compiled extra) "
                                 "is not installed")


def compiled_kernels():
    """Serial and row-parallel (every matrix counts as large) compiled kernels."""
    return [NumbaKernel(parallel_rows=10**9), NumbaKernel(parallel_rows=1)]


def random_csr(n: int, dtype, rng) -> sp.csr_array:
    M = sp.random_array((n, n), density=5 / n, format="csr", rng=rng, dtype=np.float64)
    M = M + sp.eye_array(n, format="csr")
    if np.dtype(dtype).kind == "c":
        M = M + 1j * sp.random_array((n, n), density=3 / n, format="csr", rng=rng)
    M = sp.csr_array(M, dtype=dtype)
    M.sum_duplicates()
    return M


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("sign", [1, -1])
def test_compiled_product_is_scipys_bit_for_bit(dtype, sign):
    rng = np.random.default_rng(0)
    M = random_csr(500, dtype, rng)
    data = sign * M.data
    x = rng.standard_normal(500).astype(dtype)
    y0 = rng.standard_normal(500).astype(dtype)
    expected = y0.copy()
    ScipyKernel().matvec_add(M, data, x, expected)
    assert np.allclose(expected, y0 + sign * (M @ x), rtol=1e-14, atol=1e-13)
    for kernel in compiled_kernels():
        y = y0.copy()
        kernel.matvec_add(M, data, x, y)
        assert np.array_equal(y, expected)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_fused_term_is_the_generic_term_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    M = random_csr(400, dtype, rng)
    cur, prev, out = (rng.standard_normal(400).astype(dtype) for _ in range(3))
    c = 0.37 - (0.2j if np.dtype(dtype).kind == "c" else 0.0)
    p_ref, o_ref = prev.copy(), out.copy()
    ScipyKernel().recurrence_accumulate(M, -M.data, cur, p_ref, o_ref, c)
    assert np.allclose(p_ref, prev - M @ cur, rtol=1e-14, atol=1e-13)
    assert np.allclose(o_ref, out + c * p_ref, rtol=1e-14, atol=1e-13)
    for kernel in compiled_kernels():
        p, o = prev.copy(), out.copy()
        kernel.recurrence_accumulate(M, -M.data, cur, p, o, c)
        assert np.array_equal(p, p_ref)
        if np.isrealobj(c):
            assert np.array_equal(o, o_ref)
        else:   # numpy and numba may round a complex product differently: one rounding of
            # each of its two real products and sum, so |Δ| ≤ 2ε|c||p| (plus the addition's ε)
            eps = np.finfo(float).eps
            bound = 2 * eps * abs(c) * np.abs(p_ref) + eps * np.abs(o_ref)
            assert np.all(np.abs(o - o_ref) <= bound)


@needs_numba
def test_fused_term_with_real_coefficients_is_bit_for_bit_on_complex_vectors():
    rng = np.random.default_rng(2)
    M = random_csr(300, np.complex128, rng)
    cur, prev, out = (rng.standard_normal(300) + 1j * rng.standard_normal(300) for _ in range(3))
    p_ref, o_ref = prev.copy(), out.copy()
    ScipyKernel().recurrence_accumulate(M, M.data, cur, p_ref, o_ref, 0.81)
    for kernel in compiled_kernels():
        p, o = prev.copy(), out.copy()
        kernel.recurrence_accumulate(M, M.data, cur, p, o, 0.81)
        assert np.array_equal(p, p_ref) and np.array_equal(o, o_ref)


def model_results(n: int = 20):
    """Solve, tangent and discrete-adjoint gradient on a cellular flow (exponential fitting)."""
    grid = ads.Grid((n, n))
    x, y = grid.coords
    u = np.stack([np.sin(2 * np.pi * y), np.cos(2 * np.pi * x)])
    theta0 = np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.02)
    model = ads.AdvectionDiffusion(grid, 0.01, "exponential", progress=None)
    solve = model.solve(u, theta0, [0.3, 1.0])
    tangent = model.tangent(u, theta0, np.roll(u, 3, axis=1), [1.0])
    gradient = model.gradient(u, theta0, lambda th: (0.5 * float(np.sum(th ** 2)), th),
                              [0.5, 1.0], adjoint=ads.sensitivity.DiscreteAdjoint(checkpoints=3))
    return solve, tangent, gradient.gradient, gradient.value


@needs_numba
def test_propagation_tangent_and_gradient_are_the_scipy_kernels_bit_for_bit():
    with use_kernel("scipy"):
        reference = model_results()
    for kernel in compiled_kernels():
        with use_kernel(kernel):
            results = model_results()
        for a, b in zip(reference, results, strict=True):
            assert np.array_equal(a, b)


def test_kernel_choice_is_process_wide_and_restored():
    default = active_kernel()
    assert default.name == ("numba" if NUMBA_AVAILABLE else "scipy")
    with use_kernel("scipy") as kernel:
        assert isinstance(kernel, ScipyKernel) and active_kernel() is kernel
    assert active_kernel() is default
    previous = set_kernel(ScipyKernel())
    assert previous is default
    set_kernel(previous)
    with pytest.raises(ValueError, match="did you mean 'numba'"):
        set_kernel("numbaa")
    assert KERNELS.names() == ("scipy", "numba")


def test_without_numba_the_compiled_kernel_names_the_extra(monkeypatch):
    monkeypatch.setattr(kernels, "compiled", None)
    with pytest.raises(ImportError, match=r"advdiff_sens\[compiled\]"):
        NumbaKernel()


@needs_numba
def test_compiled_kernel_validates_its_options():
    with pytest.raises(ValueError, match="threads"):
        NumbaKernel(threads=0)
    with pytest.raises(ValueError, match="NUMBA_NUM_THREADS"):
        NumbaKernel(threads=10**6)
    with pytest.raises(ValueError, match="parallel_rows"):
        NumbaKernel(parallel_rows=0)


@needs_numba
def test_parallel_loops_are_parallel_builds_and_threads_are_restored():
    import numba

    from advdiff_sens.matrix.expm import compiled
    rng = np.random.default_rng(3)
    M = random_csr(300, np.float64, rng)
    x, y = rng.standard_normal(300), np.zeros(300)
    # the serial and the parallel loop are different builds (numba's cache keys on the
    # function, so one function compiled both ways could be served the other build)
    assert compiled.parallel_matvec_add.py_func is not compiled.matvec_add.py_func
    assert compiled.parallel_matvec_add.targetoptions.get("parallel")
    assert not compiled.matvec_add.targetoptions.get("parallel")
    before = numba.get_num_threads()
    NumbaKernel(threads=1, parallel_rows=1).matvec_add(M, M.data, x, y)
    assert numba.get_num_threads() == before
    if compiled.parallel_available():
        assert numba.threading_layer() in ("omp", "tbb")   # a parallel region did run


@needs_numba
def test_without_a_threading_layer_the_serial_loop_runs(monkeypatch):
    from advdiff_sens.matrix.expm import compiled
    monkeypatch.setattr(compiled, "parallel_available", lambda: False)

    def refuse(*args):
        raise AssertionError("the parallel loop ran")

    monkeypatch.setattr(compiled, "parallel_matvec_add", refuse)
    rng = np.random.default_rng(4)
    M = random_csr(200, np.float64, rng)
    x, y, expected = rng.standard_normal(200), np.zeros(200), np.zeros(200)
    NumbaKernel(parallel_rows=1).matvec_add(M, M.data, x, y)
    ScipyKernel().matvec_add(M, M.data, x, expected)
    assert np.array_equal(y, expected)
