r"""Sampled outer-product sums contracted with sparse matrices:
:math:`g_a = (P_a ⊙ G)\mathbf 1`, :math:`G = \sum_k z_k y_k^T`, without forming :math:`G`.

The reverse sweep of :mod:`~advdiff_sens.matrix.expm.reverse` needs, for every partial matrix
:math:`P_a`, :math:`\sum_k z_k ⊙ (P_a y_k) = (P_a ⊙ G)\mathbf 1`. Only the entries of
:math:`G` on the union pattern :math:`\mathcal S` of the :math:`P_a` matter,

.. math::

    G_{ij} = \sum_k z_{k,i}\,y_{k,j}, \qquad (i, j) ∈ \mathcal S,

and they are accumulated block by block (a sampled dense–dense product). The pattern is
grouped by diagonal offset :math:`o = j - i`: a well-filled diagonal (a *band*, e.g. the
±1 and ±n neighbours of a finite-difference stencil) costs one vectorised pass
:math:`G_{i,i+o} \mathrel{+}= \sum_k z_{k,i}\,y_{k,i+o}` over a contiguous range of rows,
and the :math:`P_a` are applied to it once, at the end. The entries of each :math:`P_a`
outside the bands (short or sparsely filled diagonals such as most periodic wrap-around
entries, irregular or dense patterns) form its *remainder* :math:`R_a`, restricted to the
rows that have any, and contribute :math:`\sum_k z_k ⊙ (R_a y_k)` directly: a dense block
product (BLAS) or one CSR product per vector. For the 2-D PDE with central differences this
is four full-length passes per vector pair instead of two sparse products and two
contractions, and it needs the states :math:`y_k` themselves, not the products
:math:`P_a y_k`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from advdiff_sens.matrix.expm.kernels import csr_matvec_add
from advdiff_sens.validation import as_real_array, as_square_operator

__all__ = ["PatternContraction"]

_BAND_MIN_ENTRIES = 256        # shorter diagonals are cheaper as part of the remainder
_BAND_MIN_FILL = 0.25          # a band's pass costs its whole row range
_MAX_BANDS = 16
_DENSE_FILL = 0.25             # a remainder this full is multiplied as a dense block (BLAS)


@dataclass
class _Band:
    """The entries of diagonal ``offset`` in rows ``lo..hi-1``; ``coefficients[a]`` holds
    :math:`P_a[i, i+o]` (zero where :math:`P_a` has no entry), ``accumulated`` :math:`G`."""

    offset: int
    lo: int
    hi: int
    coefficients: np.ndarray      # (p, hi - lo)
    accumulated: np.ndarray       # (hi - lo,)


@dataclass
class _Remainder:
    r"""The entries of :math:`P_a` outside the bands, as a matrix :math:`R` of the rows that
    have any (``rows``; None for all rows), dense or CSR; ``accumulated`` holds
    :math:`\sum_k z_{k,\text{rows}} ⊙ (R y_k)`."""

    partial: int
    rows: np.ndarray | None
    matrix: np.ndarray | sp.csr_array
    accumulated: np.ndarray
    product: np.ndarray           # scratch for one CSR product


def _as_real_csr(P, name: str, d: int) -> sp.csr_array:
    """Validate a real, finite ``(d, d)`` matrix (dense or sparse) as a CSR array."""
    if not sp.issparse(P):
        return sp.csr_array(as_real_array(P, name, shape=(d, d)))
    if P.shape != (d, d):
        raise ValueError(f"{name} must have shape {(d, d)}, got {P.shape}")
    if np.iscomplexobj(P.data):
        raise TypeError(f"{name} must be real")
    return as_square_operator(P, name)


def _remainder(a: int, P: sp.csr_array, rows: np.ndarray, keep: np.ndarray, d: int
               ) -> _Remainder | None:
    """The entries ``keep`` of ``P`` (CSR order, row indices ``rows``) as a
    :class:`_Remainder` on the rows that have any, or None if there are none."""
    if not keep.any():
        return None
    lengths = np.bincount(rows[keep], minlength=d)
    nonempty = np.flatnonzero(lengths)
    indptr = np.concatenate([[0], np.cumsum(lengths[nonempty])])
    R = sp.csr_array((P.data[keep], P.indices[keep], indptr), shape=(nonempty.size, d))
    if R.nnz >= _DENSE_FILL * nonempty.size * d:
        R = R.toarray()                                  # duplicates summed
    return _Remainder(a, nonempty if nonempty.size < d else None, R, np.zeros(nonempty.size),
                      np.empty(nonempty.size))


class PatternContraction:
    r"""Accumulates :math:`G = \sum_k z_k y_k^T` on the union pattern of ``partials`` and
    returns :math:`g_a = (P_a ⊙ G)\mathbf 1` (module docstring).

    Bands: up to 16 diagonals, the most populated first, each holding at least 256 entries
    that fill at least a quarter of its row range. The other entries of each :math:`P_a`
    (its *remainder*) are applied as a matrix: a dense block product (BLAS) when they fill a
    quarter of their rows, else one CSR product per vector. Duplicate entries are summed.

    Parameters
    ----------
    partials : sequence of p matrices of shape (d, d)
        Real and finite, dense or sparse.
    d : int
        The dimension.

    Raises
    ------
    TypeError, ValueError
        For a partial that is not a real, finite ``(d, d)`` matrix, named ``partials[a]``.
    """

    def __init__(self, partials, d: int) -> None:
        if isinstance(partials, (str, bytes)) or not hasattr(partials, "__iter__"):
            raise TypeError(f"partials must be a sequence of (d, d) matrices, got "
                            f"{type(partials).__name__}")
        matrices = [_as_real_csr(P, f"partials[{a}]", d) for a, P in enumerate(partials)]
        self._d, self._p = d, len(matrices)
        rows = [np.repeat(np.arange(d), np.diff(P.indptr)) for P in matrices]
        offsets = [P.indices - r for P, r in zip(matrices, rows)]
        counts = [np.bincount(o + (d - 1), minlength=2 * d - 1) for o in offsets]
        total = sum(counts, np.zeros(2 * d - 1, dtype=np.int64))
        candidates = np.flatnonzero(total >= _BAND_MIN_ENTRIES)
        remaining = [np.ones(o.size, dtype=bool) for o in offsets]
        self._bands: list[_Band] = []
        for c in candidates[np.argsort(total[candidates], kind="stable")[::-1]]:
            if len(self._bands) == _MAX_BANDS:
                break
            entries = [np.flatnonzero(o == c - (d - 1)) if n[c] else None
                       for o, n in zip(offsets, counts)]
            band_rows = [r[e] for r, e in zip(rows, entries) if e is not None]  # each sorted
            lo, hi = min(r[0] for r in band_rows), max(r[-1] for r in band_rows) + 1
            occupied = np.zeros(hi - lo, dtype=bool)
            for r in band_rows:
                occupied[r - lo] = True
            if np.count_nonzero(occupied) < _BAND_MIN_FILL * (hi - lo):
                continue
            coefficients = np.zeros((self._p, hi - lo))
            for a, (P, r, e) in enumerate(zip(matrices, rows, entries)):
                if e is not None:
                    coefficients[a] = np.bincount(r[e] - lo, weights=P.data[e], minlength=hi - lo)
                    remaining[a][e] = False
            self._bands.append(_Band(int(c - (d - 1)), lo, hi, coefficients, np.zeros(hi - lo)))
        remainders = (_remainder(a, P, rows_a, keep, d)
                      for a, (P, rows_a, keep) in enumerate(zip(matrices, rows, remaining)))
        self._remainders = [r for r in remainders if r is not None]

    def __len__(self) -> int:
        """The number p of partial matrices."""
        return self._p

    @property
    def empty(self) -> bool:
        """Whether the pattern has no entry (every gradient is zero)."""
        return not (self._bands or self._remainders)

    @property
    def nbytes(self) -> int:
        """Memory of the coefficients, remainders and accumulators."""
        arrays = [a for band in self._bands for a in (band.coefficients, band.accumulated)]
        for r in self._remainders:
            M = r.matrix
            arrays += [r.accumulated, r.product] + ([M] if isinstance(M, np.ndarray) else
                                                    [M.data, M.indices, M.indptr])
            arrays += [] if r.rows is None else [r.rows]
        return sum(a.nbytes for a in arrays)

    def add(self, z: np.ndarray, y: np.ndarray, share: tuple[int, int] = (0, 1)) -> None:
        r""":math:`G \mathrel{+}= \sum_k z_k y_k^T` on the pattern; ``z`` and ``y`` of shape
        (m, d), rows paired.

        ``share = (j, n)`` restricts the update to part ``j`` of ``n`` disjoint parts of the
        pattern (bands and remainders ``j, j + n, …``), so that ``n`` threads can add the
        same block concurrently.
        """
        j, n = share
        for band in self._bands[j::n]:
            lo, hi, o = band.lo, band.hi, band.offset
            band.accumulated += np.einsum("ki,ki->i", z[:, lo:hi], y[:, lo + o:hi + o])
        for r in self._remainders[j::n]:
            zr = z if r.rows is None else z[:, r.rows]
            if isinstance(r.matrix, np.ndarray):
                r.accumulated += np.einsum("ki,ki->i", zr, y @ r.matrix.T)
                continue
            R = r.matrix
            for zk, yk in zip(zr, y):
                r.product[...] = 0.0
                csr_matvec_add(R, R.data, yk, r.product)
                r.product *= zk
                r.accumulated += r.product

    def gradients(self) -> np.ndarray:
        r""":math:`g_a = (P_a ⊙ G)\mathbf 1`, shape (p, d)."""
        g = np.zeros((self._p, self._d))
        for band in self._bands:
            g[:, band.lo:band.hi] += band.coefficients * band.accumulated
        for r in self._remainders:
            if r.rows is None:
                g[r.partial] += r.accumulated
            else:
                g[r.partial, r.rows] += r.accumulated
        return g
