r"""The compiled CSR kernels of :class:`~advdiff_sens.matrix.expm.kernels.NumbaKernel` (the
``compiled`` extra, numba): row-parallel loops over a CSR pattern with the arithmetic of
scipy's kernel, so that a result agrees with the scipy path bit for bit (a complex scalar
times a complex entry may round differently, within 2ε).

* :func:`matvec_add`: :math:`y_i \leftarrow y_i + \sum_k m_{ik}x_{j_k}` in stored order;
* :func:`recurrence_accumulate`: one Chebyshev term fused into one pass over the rows, the
  three-term recurrence :math:`Y_{k+1} = Y_{k-1} + sMY_k` written in place of
  :math:`Y_{k-1}` and the series accumulated, :math:`\text{out} \mathrel{+}= c_{k+1}Y_{k+1}`
  (the scipy path makes three passes: the product, the scaling, the addition).

The index arrays are passed as unsigned integers (:func:`unsigned`), which lets the loops
run at the speed of scipy's C loop. Each exists serial and row-parallel (``numba.prange``); the parallel ones need a threadsafe
threading layer (OpenMP or TBB: the reverse sweep calls the kernel from two Python threads
at once). This module imports numba at import time; :mod:`~advdiff_sens.matrix.expm.kernels`
imports it only when numba is installed.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["unsigned", "matvec_add", "recurrence_accumulate", "parallel_matvec_add",
           "parallel_recurrence_accumulate", "set_threads", "max_threads"]


def _matvec_add(indptr, indices, data, x, y):                       # pragma: no cover
    for i in numba.prange(indptr.size - 1):
        acc = y[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * x[indices[jj]]
        y[i] = acc


def _recurrence_accumulate(indptr, indices, data, cur, prev, out, c):  # pragma: no cover
    for i in numba.prange(indptr.size - 1):
        acc = prev[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * cur[indices[jj]]
        prev[i] = acc
        out[i] += acc * c


#: Serial versions (``prange`` runs as ``range`` without ``parallel=True``).
_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}
matvec_add = numba.njit(**_OPTIONS)(_matvec_add)
recurrence_accumulate = numba.njit(**_OPTIONS)(_recurrence_accumulate)
#: Row-parallel versions.
parallel_matvec_add = numba.njit(parallel=True, **_OPTIONS)(_matvec_add)
parallel_recurrence_accumulate = numba.njit(parallel=True, **_OPTIONS)(_recurrence_accumulate)


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


def select_threadsafe_layer() -> None:
    """Ask numba for a threadsafe threading layer (OpenMP or TBB) before the first parallel
    call; :func:`parallel_matvec_add` then raises if neither is available."""
    numba.config.THREADING_LAYER = "threadsafe"
