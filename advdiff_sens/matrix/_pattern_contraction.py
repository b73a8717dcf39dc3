r"""Sampled outer-product sums contracted with sparse matrices:
:math:`g_a = (P_a ⊙ G)\mathbf 1`, :math:`G = \sum_k z_k y_k^T`, without forming :math:`G`.

The reverse sweep of :mod:`~advdiff_sens.matrix.adjoint` needs, for every partial matrix
:math:`P_a`, :math:`\sum_k z_k ⊙ (P_a y_k) = (P_a ⊙ G)\mathbf 1`. Only the entries of
:math:`G` on the union pattern :math:`\mathcal S` of the :math:`P_a` matter,

.. math::

    G_{ij} = \sum_k z_{k,i}\,y_{k,j}, \qquad (i, j) ∈ \mathcal S,

and they are accumulated block by block (a sampled dense–dense product). The pattern is
grouped by diagonal offset :math:`o = j - i`: a well-filled diagonal (a *band*, e.g. the
±1 and ±n neighbours of a finite-difference stencil) costs one vectorised pass
:math:`G_{i,i+o} \mathrel{+}= \sum_k z_{k,i}\,y_{k,i+o}` over a contiguous range of rows;
the remaining entries (short or half-empty diagonals such as most periodic wrap-around
entries, irregular patterns) are gathered together.
For the 2-D PDE's two partials this is four passes per vector pair instead of two sparse
products and two contractions, and it needs the states :math:`y_k` themselves, not the
products :math:`P_a y_k`. The :math:`P_a` are applied once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import as_real_array, as_square_operator

__all__ = ["PatternContraction"]

_BAND_MIN_ENTRIES = 256        # shorter diagonals are cheaper gathered than sliced
_MAX_BANDS = 16                # the most populated diagonals; the rest is gathered
_GATHER_CHUNK = 1 << 16        # gathered entries per vectorised call (bounds the scratch)


@dataclass
class _Band:
    """The entries of diagonal ``offset`` in rows ``lo..hi-1``; ``coefficients[a]`` holds
    :math:`P_a[i, i+o]` (zero where :math:`P_a` has no entry), ``accumulated`` :math:`G`."""

    offset: int
    lo: int
    hi: int
    coefficients: np.ndarray      # (p, hi - lo)
    accumulated: np.ndarray       # (hi - lo,)


def _as_real_csr(P, name: str, d: int) -> sp.csr_array:
    """Validate a real, finite ``(d, d)`` matrix (dense or sparse) as a CSR array."""
    if not sp.issparse(P):
        return sp.csr_array(as_real_array(P, name, shape=(d, d)))
    if P.shape != (d, d):
        raise ValueError(f"{name} must have shape {(d, d)}, got {P.shape}")
    if np.iscomplexobj(P.data):
        raise TypeError(f"{name} must be real")
    return as_square_operator(P, name)


class PatternContraction:
    r"""Accumulates :math:`G = \sum_k z_k y_k^T` on the union pattern of ``partials`` and
    returns :math:`g_a = (P_a ⊙ G)\mathbf 1` (module docstring).

    Bands are the (at most 16) most populated diagonals holding at least 256 entries that
    fill at least half of their row range; every other entry is gathered. Duplicate entries
    are summed.

    Parameters
    ----------
    partials : sequence of p matrices of shape (d, d)
        Real and finite, dense or sparse (dense ones are used through their nonzeros).
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
        candidates = candidates[np.argsort(total[candidates])[::-1][:_MAX_BANDS]]
        gathered = [np.ones(o.size, dtype=bool) for o in offsets]
        self._bands: list[_Band] = []
        for c in candidates:                        # c = offset + d - 1
            entries = [np.flatnonzero(o == c - (d - 1)) if n[c] else None
                       for o, n in zip(offsets, counts)]
            band_rows = [r[e] for r, e in zip(rows, entries) if e is not None]  # each sorted
            lo, hi = min(r[0] for r in band_rows), max(r[-1] for r in band_rows) + 1
            occupied = np.zeros(hi - lo, dtype=bool)
            for r in band_rows:
                occupied[r - lo] = True
            if 2 * np.count_nonzero(occupied) < hi - lo:
                continue                            # a sparse diagonal: gathered
            coefficients = np.zeros((self._p, hi - lo))
            for a, (P, r, e) in enumerate(zip(matrices, rows, entries)):
                if e is not None:
                    coefficients[a] = np.bincount(r[e] - lo, weights=P.data[e], minlength=hi - lo)
                    gathered[a][e] = False
            self._bands.append(_Band(int(c - (d - 1)), lo, hi, coefficients, np.zeros(hi - lo)))
        self._owner = np.concatenate([np.full(np.count_nonzero(g), a) for a, g in
                                      enumerate(gathered)] or [np.zeros(0, int)])
        self._rows = np.concatenate([r[g] for r, g in zip(rows, gathered)] or [np.zeros(0, int)])
        self._cols = np.concatenate([P.indices[g] for P, g in zip(matrices, gathered)]
                                    or [np.zeros(0, int)])
        self._values = np.concatenate([P.data[g] for P, g in zip(matrices, gathered)]
                                      or [np.zeros(0)])
        self._gathered = np.zeros(self._rows.size)

    def __len__(self) -> int:
        """The number p of partial matrices."""
        return self._p

    @property
    def nbytes(self) -> int:
        """Memory of the coefficients and accumulators."""
        arrays = [self._owner, self._rows, self._cols, self._values, self._gathered]
        arrays += [a for band in self._bands for a in (band.coefficients, band.accumulated)]
        return sum(a.nbytes for a in arrays)

    def add(self, z: np.ndarray, y: np.ndarray, share: tuple[int, int] = (0, 1)) -> None:
        r""":math:`G \mathrel{+}= \sum_k z_k y_k^T` on the pattern; ``z`` and ``y`` of shape
        (m, d), rows paired.

        ``share = (j, n)`` restricts the update to part ``j`` of ``n`` disjoint parts of the
        pattern (bands ``j, j + n, …``; the gathered entries belong to the last part), so that
        ``n`` threads can add the same block concurrently.
        """
        j, n = share
        for band in self._bands[j::n]:
            lo, hi, o = band.lo, band.hi, band.offset
            band.accumulated += np.einsum("ki,ki->i", z[:, lo:hi], y[:, lo + o:hi + o])
        if j != n - 1:
            return
        for s in range(0, self._rows.size, _GATHER_CHUNK):
            chunk = slice(s, s + _GATHER_CHUNK)
            self._gathered[chunk] += np.einsum("ke,ke->e", z[:, self._rows[chunk]],
                                               y[:, self._cols[chunk]])

    def gradients(self) -> np.ndarray:
        r""":math:`g_a = (P_a ⊙ G)\mathbf 1`, shape (p, d)."""
        g = np.zeros((self._p, self._d))
        for band in self._bands:
            g[:, band.lo:band.hi] += band.coefficients * band.accumulated
        for a in range(self._p):
            mine = self._owner == a
            g[a] += np.bincount(self._rows[mine], weights=self._values[mine] * self._gathered[mine],
                                minlength=self._d)
        return g
