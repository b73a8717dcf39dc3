r"""Sparse kernels of the propagators: in-place :math:`y \mathrel{+}= Mx` and the count of
matrix–vector products.

The Chebyshev recurrence, the reverse sweep and the pattern contraction add a product into
an existing vector millions of times; :func:`csr_matvec_add` does that without a temporary,
through scipy's own compiled CSR kernel (the one behind ``M @ x``), which accumulates row
``i`` as :math:`y_i + \sum_k m_{ik}x_{j_k}` in stored order. scipy exposes that kernel only in
its private module ``scipy.sparse._sparsetools``; this module is the one place that imports
it, and falls back to the public product (one temporary per call) if a scipy release
removes it. A compiled multithreaded kernel (issue 16) replaces this module's functions.

:func:`count_products` counts the kernel's products in a ``with`` block. The count is kept
per thread (no lock in the hot path: the reverse sweep adds products from two threads) and
summed when read.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

try:
    from scipy.sparse._sparsetools import csr_matvec as scipy_csr_matvec
except ImportError:  # pragma: no cover - depends on the scipy version
    scipy_csr_matvec = None

__all__ = ["csr_matvec_add", "ProductCounter", "PRODUCTS", "ProductCount", "count_products"]


def csr_matvec_add(M: sp.csr_array, data: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    r"""``y += M' x`` in place for a 1-D ``x``, where ``M'`` is ``M``'s pattern (``indptr``,
    ``indices``) with the values ``data`` (``M.data`` or its negative), of shape
    ``(M.shape[0], x.size)``."""
    if scipy_csr_matvec is None:  # pragma: no cover - depends on the scipy version
        y += sp.csr_array((data, M.indices, M.indptr), shape=M.shape) @ x
        return
    scipy_csr_matvec(M.shape[0], M.shape[1], M.indptr, M.indices, data, x, y)


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
