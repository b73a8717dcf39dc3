r"""Sparse kernels of the propagators: in-place :math:`y \mathrel{+}= Mx`, one fused Chebyshev
term, and the count of matrix–vector products.

The Chebyshev recurrence, the reverse sweep and the pattern contraction add a product into
an existing vector millions of times. A **kernel** object does that without a temporary
(:class:`SparseKernel`; registry :data:`KERNELS`):

* :class:`ScipyKernel` — scipy's own compiled CSR kernel (the one behind ``M @ x``), which
  accumulates row ``i`` as :math:`y_i + \sum_k m_{ik}x_{j_k}` in stored order, on one core.
  scipy exposes it only in its private module ``scipy.sparse._sparsetools``; this module is
  the one place that imports it, and falls back to the public product (one temporary per
  call) if a scipy release removes it.
* :class:`NumbaKernel` — the same arithmetic compiled by numba (the ``compiled`` extra), the
  rows split over threads, and one Chebyshev term fused into one pass over the rows
  (:meth:`SparseKernel.recurrence_accumulate`: the recurrence and the series' accumulation
  together, where the scipy path makes three passes). Same operations in the same order, so
  on x86-64 builds the two kernels agree bit for bit, except that a *complex* series
  coefficient times a vector entry may round differently in numba and numpy (within 2ε of
  the product; the coefficients are complex only for a complex-centred series); where a
  compiler contracts multiply–adds into FMAs (e.g. scipy built for aarch64) they agree to
  rounding. Without a threadsafe threading layer (OpenMP or TBB) the compiled kernel runs
  its serial loop.

The kernel in use is process-wide: :func:`active_kernel` (numba when it is installed, else
scipy), changed by :func:`set_kernel` or, for a block, :func:`use_kernel`.

:func:`count_products` counts the kernel's products in a ``with`` block. The count is kept
per thread (no lock in the hot path: the reverse sweep adds products from two threads) and
summed when read.
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from advdiff_sens.registry import Registry
from advdiff_sens.validation import check_integer

try:
    from scipy.sparse._sparsetools import csr_matvec as scipy_csr_matvec
except ImportError:  # pragma: no cover - depends on the scipy version
    scipy_csr_matvec = None

try:
    from advdiff_sens.matrix.expm import compiled
except ImportError:
    compiled = None

__all__ = ["csr_matvec_add", "ProductCounter", "PRODUCTS", "ProductCount", "count_products",
           "SparseKernel", "ScipyKernel", "NumbaKernel", "KERNELS", "active_kernel",
           "set_kernel", "use_kernel", "NUMBA_AVAILABLE", "COMPILED_EXTRA_HINT"]

#: Whether numba (the ``compiled`` extra) can be imported.
NUMBA_AVAILABLE = compiled is not None
#: What to install for :class:`NumbaKernel`.
COMPILED_EXTRA_HINT = ("the compiled kernel needs numba: python -m pip install "
                       "'advdiff_sens[compiled]' (or: python -m pip install numba)")


class SparseKernel:
    """How a CSR pattern with given values multiplies into a vector in place.

    Subclasses implement :meth:`matvec_add`; :meth:`recurrence_accumulate` has a generic
    implementation from it that a kernel may fuse.

    Examples
    --------
    A kernel made of the public sparse product (one temporary per call):

    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> class PublicProduct(SparseKernel):
    ...     name = "public"
    ...     def matvec_add(self, M, data, x, y):
    ...         y += sp.csr_array((data, M.indices, M.indptr), shape=M.shape) @ x
    >>> M = sp.csr_array(np.array([[2.0, 1.0], [0.0, 3.0]]))
    >>> prev, out = np.ones(2), np.zeros(2)
    >>> PublicProduct().recurrence_accumulate(M, M.data, np.array([1.0, 2.0]), prev, out, 0.5)
    >>> prev.tolist(), out.tolist()
    ([5.0, 7.0], [2.5, 3.5])
    """

    name: ClassVar[str] = "kernel"

    def matvec_add(self, M: sp.csr_array, data: np.ndarray, x: np.ndarray,
                   y: np.ndarray) -> None:
        r"""``y += M' x`` in place for 1-D ``x`` and ``y``, where ``M'`` is ``M``'s pattern
        (``indptr``, ``indices``) with the values ``data`` (``M.data`` or its negative)."""
        raise NotImplementedError

    def recurrence_accumulate(self, M: sp.csr_array, data: np.ndarray, cur: np.ndarray,
                              prev: np.ndarray, out: np.ndarray, c) -> None:
        r"""One Chebyshev term: ``prev += M' cur`` (now :math:`Y_{k+1}`), then
        ``out += c * prev``; 1-D arrays."""
        self.matvec_add(M, data, cur, prev)
        out += prev * c


KERNELS: Registry[SparseKernel] = Registry("sparse kernel", SparseKernel)


@KERNELS.register("scipy")
@dataclasses.dataclass(frozen=True)
class ScipyKernel(SparseKernel):
    """scipy's compiled CSR kernel on one core (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> M = sp.csr_array(np.array([[2.0, 1.0], [0.0, 3.0]]))
    >>> y = np.ones(2)
    >>> ScipyKernel().matvec_add(M, M.data, np.array([1.0, 2.0]), y)
    >>> y.tolist()
    [5.0, 7.0]
    """

    name: ClassVar[str] = "scipy"

    def matvec_add(self, M, data, x, y) -> None:
        if scipy_csr_matvec is None:  # pragma: no cover - depends on the scipy version
            y += sp.csr_array((data, M.indices, M.indptr), shape=M.shape) @ x
            return
        scipy_csr_matvec(M.shape[0], M.shape[1], M.indptr, M.indices, data, x, y)


@KERNELS.register("numba")
@dataclasses.dataclass(frozen=True)
class NumbaKernel(SparseKernel):
    """The compiled, row-parallel kernel (module docstring; the ``compiled`` extra).

    Parameters
    ----------
    threads : int, optional
        Threads of the row-parallel loops (numba's count of the calling thread is restored
        after each product); None: numba's (by default one per core).
    parallel_rows : int
        Matrices with fewer rows run the serial compiled loop: below a few ten thousand
        rows starting the threads costs more than they save.

    Raises
    ------
    ImportError
        numba is not installed (the message names the extra).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> M = sp.csr_array(np.array([[2.0, 1.0], [0.0, 3.0]]))
    >>> y = np.ones(2)
    >>> NumbaKernel().matvec_add(M, M.data, np.array([1.0, 2.0]), y)
    >>> y.tolist()
    [5.0, 7.0]
    """

    name: ClassVar[str] = "numba"
    threads: int | None = None
    parallel_rows: int = 32768

    def __post_init__(self) -> None:
        if compiled is None:
            raise ImportError(COMPILED_EXTRA_HINT)
        if self.threads is not None:
            object.__setattr__(self, "threads", check_integer(self.threads, "threads",
                                                              minimum=1))
            if self.threads > compiled.max_threads():
                raise ValueError(f"threads must be at most NUMBA_NUM_THREADS = "
                                 f"{compiled.max_threads()}, got {self.threads}")
        object.__setattr__(self, "parallel_rows", check_integer(self.parallel_rows,
                                                                "parallel_rows", minimum=1))

    def _call(self, serial, parallel, M, *arrays) -> None:
        """The serial loop for a small matrix or without a threadsafe threading layer, else
        the parallel one on ``threads`` threads (numba's thread count of the calling thread
        restored afterwards)."""
        index = (compiled.unsigned(M.indptr), compiled.unsigned(M.indices))
        if M.shape[0] < self.parallel_rows or not compiled.parallel_available():
            serial(*index, *arrays)
            return
        if self.threads is None:
            parallel(*index, *arrays)
            return
        before = compiled.get_threads()
        compiled.set_threads(self.threads)
        try:
            parallel(*index, *arrays)
        finally:
            compiled.set_threads(before)

    def matvec_add(self, M, data, x, y) -> None:
        self._call(compiled.matvec_add, compiled.parallel_matvec_add, M, data, x, y)

    def recurrence_accumulate(self, M, data, cur, prev, out, c) -> None:
        self._call(compiled.recurrence_accumulate, compiled.parallel_recurrence_accumulate, M,
                   data, cur, prev, out, c)


if compiled is not None:
    compiled.select_threadsafe_layer()


def _default_kernel() -> SparseKernel:
    return NumbaKernel() if NUMBA_AVAILABLE else ScipyKernel()


_ACTIVE: list[SparseKernel] = [_default_kernel()]


def active_kernel() -> SparseKernel:
    """The kernel every propagator uses now (numba's when installed, else scipy's).

    Examples
    --------
    >>> from advdiff_sens.matrix.expm.kernels import NUMBA_AVAILABLE
    >>> active_kernel().name == ("numba" if NUMBA_AVAILABLE else "scipy")
    True
    """
    return _ACTIVE[0]


def set_kernel(kernel) -> SparseKernel:
    """Use ``kernel`` (an object or a name of :data:`KERNELS`) from now on, process-wide;
    returns the previous one.

    Examples
    --------
    >>> previous = set_kernel("scipy")
    >>> active_kernel().name
    'scipy'
    >>> _ = set_kernel(previous)
    """
    previous = _ACTIVE[0]
    _ACTIVE[0] = KERNELS.resolve(kernel, "kernel")
    return previous


@contextmanager
def use_kernel(kernel):
    """Use ``kernel`` inside a ``with`` block (then the previous one again).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_action
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> with use_kernel("scipy"):
    ...     x = expm_action(A, np.ones(2), 1.0)
    """
    previous = set_kernel(kernel)
    try:
        yield active_kernel()
    finally:
        set_kernel(previous)


def csr_matvec_add(M: sp.csr_array, data: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    r"""``y += M' x`` in place for a 1-D ``x``, where ``M'`` is ``M``'s pattern (``indptr``,
    ``indices``) with the values ``data`` (``M.data`` or its negative), of shape
    ``(M.shape[0], x.size)``, by the :func:`active_kernel`."""
    _ACTIVE[0].matvec_add(M, data, x, y)


class ProductCounter:
    """Running count of the matrix–vector products of the Chebyshev kernel.

    Each thread adds to its own cell (registered once, under a lock); :attr:`count` sums
    the cells. Adding is therefore lock-free, and reading while another thread adds gives
    a count that is at most that thread's current block of products behind.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._cells: list[list[int]] = []
        self._register = threading.Lock()

    def add(self, n: int) -> None:
        """Count ``n`` products made by the calling thread."""
        cell = getattr(self._local, "cell", None)
        if cell is None:
            cell = self._local.cell = [0]
            with self._register:
                self._cells.append(cell)
        cell[0] += n

    @property
    def count(self) -> int:
        """Products counted so far, over all threads."""
        with self._register:
            return sum(cell[0] for cell in self._cells)


#: The library-wide counter the Chebyshev kernel reports to.
PRODUCTS = ProductCounter()


class ProductCount:
    """Products counted inside a :func:`count_products` block (``.products``)."""

    def __init__(self) -> None:
        self.products = 0


@contextmanager
def count_products():
    """Count the matrix–vector products of the Chebyshev kernel inside a ``with`` block.

    Products made by :class:`~advdiff_sens.matrix.ExpmMultiplyBackend` (scipy's
    ``expm_multiply``) are not seen; benchmarks count those by wrapping the operator in a
    counting ``LinearOperator``.

    Yields
    ------
    ProductCount
        Its ``products`` holds the count once the block has ended.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import ChebyshevBackend, expm_action
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> with count_products() as counter:
    ...     x = expm_action(A, np.ones(2), 1.0, backend=ChebyshevBackend())
    >>> counter.products > 0
    True
    """
    result = ProductCount()
    start = PRODUCTS.count
    try:
        yield result
    finally:
        result.products = PRODUCTS.count - start
