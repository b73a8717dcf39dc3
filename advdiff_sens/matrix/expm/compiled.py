r"""The compiled CSR kernels of :class:`~advdiff_sens.matrix.expm.kernels.NumbaKernel` (the
``compiled`` extra, numba): row-parallel loops over a CSR pattern with the arithmetic of
scipy's kernel, so that a result agrees with the scipy path bit for bit on x86-64 builds
(where neither compiler contracts a multiply and an add into one FMA; elsewhere, and for a
complex scalar times a complex entry, within rounding).

* :func:`matvec_add`: :math:`y_i \leftarrow y_i + \sum_k m_{ik}x_{j_k}` in stored order;
* :func:`recurrence_accumulate`: one Chebyshev term fused into one pass over the rows, the
  three-term recurrence :math:`Y_{k+1} = Y_{k-1} + sMY_k` written in place of
  :math:`Y_{k-1}` and the series accumulated, :math:`\text{out} \mathrel{+}= c_{k+1}Y_{k+1}`
  (the scipy path makes three passes: the product, the scaling, the addition).

The index arrays are passed as unsigned integers (:func:`unsigned`), which lets the loops
run at the speed of scipy's C loop. Each exists serial and row-parallel (``numba.prange``); the parallel ones need a threadsafe
threading layer (OpenMP or TBB: the reverse sweep calls the kernel from two Python threads
at once), and without one (:func:`parallel_available`) the serial loops run. GNU OpenMP is
not fork-safe: a process that has run a parallel loop should start child processes with
the ``spawn`` method (dask's ``LocalCluster`` does). This module imports numba at import time; :mod:`~advdiff_sens.matrix.expm.kernels`
imports it only when numba is installed.
"""

from __future__ import annotations

import functools
import os

import numba
import numpy as np

__all__ = ["unsigned", "matvec_add", "recurrence_accumulate", "parallel_matvec_add",
           "parallel_recurrence_accumulate", "set_threads", "get_threads", "max_threads",
           "parallel_available", "select_threadsafe_layer"]


def _matvec_add(indptr, indices, data, x, y):                       # pragma: no cover
    for i in range(indptr.size - 1):
        acc = y[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * x[indices[jj]]
        y[i] = acc


def _parallel_matvec_add(indptr, indices, data, x, y):              # pragma: no cover
    for i in numba.prange(indptr.size - 1):
        acc = y[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * x[indices[jj]]
        y[i] = acc


def _recurrence_accumulate(indptr, indices, data, cur, prev, out, c):  # pragma: no cover
    for i in range(indptr.size - 1):
        acc = prev[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * cur[indices[jj]]
        prev[i] = acc
        out[i] += acc * c


def _parallel_recurrence_accumulate(indptr, indices, data, cur, prev, out,
                                    c):                              # pragma: no cover
    for i in numba.prange(indptr.size - 1):
        acc = prev[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * cur[indices[jj]]
        prev[i] = acc
        out[i] += acc * c


# The serial and parallel loops are separate functions: numba's on-disk cache is keyed by the
# function, not by the ``parallel`` option, so one function compiled both ways would be
# served the other build from the cache.
_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}
#: Serial versions.
matvec_add = numba.njit(**_OPTIONS)(_matvec_add)
recurrence_accumulate = numba.njit(**_OPTIONS)(_recurrence_accumulate)
#: Row-parallel versions.
parallel_matvec_add = numba.njit(parallel=True, **_OPTIONS)(_parallel_matvec_add)
parallel_recurrence_accumulate = numba.njit(parallel=True,
                                            **_OPTIONS)(_parallel_recurrence_accumulate)


def unsigned(index: np.ndarray) -> np.ndarray:
    """An index array (non-negative) viewed as unsigned integers of the same width: indexing
    with them skips numba's negative-index wrap-around test in the inner loop."""
    return index.view(np.uint64 if index.itemsize == 8 else np.uint32)


def max_threads() -> int:
    """The most threads numba may use (``NUMBA_NUM_THREADS``, by default the cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def set_threads(n: int) -> None:
    """Threads of the parallel kernels from now on (``numba.set_num_threads``)."""
    numba.set_num_threads(n)


def get_threads() -> int:
    """Threads of the parallel kernels in the calling thread (``numba.get_num_threads``)."""
    return int(numba.get_num_threads())


def select_threadsafe_layer() -> None:
    """Ask numba for a threadsafe threading layer (OpenMP or TBB: the reverse sweep calls the
    kernels from two threads) before the first parallel call, unless the user chose one
    (``NUMBA_THREADING_LAYER``)."""
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "threadsafe"


def _probe(x):                                                       # pragma: no cover
    for i in numba.prange(x.size):
        x[i] += 1.0


@functools.lru_cache(maxsize=1)
def parallel_available() -> bool:
    """Whether numba can run a parallel loop here (a threadsafe threading layer loads): tried
    once, on a tiny loop; False sends every product to the serial compiled loop."""
    try:
        numba.njit(parallel=True)(_probe)(np.zeros(4))
    except Exception:       # numba raises ValueError or its own errors when no layer loads
        return False
    return True
