r"""The stationary limit of :math:`e^{tA}b` and its certificates.

A generator that conserves or decays lets a long run stop early: after each segment of a
long horizon the current state bounds every later one (:func:`stationary_certificate`
names how), and once that bound is below the tolerance the remaining outputs are the limit
(:func:`certified_limit`). Used by :meth:`advdiff_sens.matrix.Propagator.apply`
("Long times").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["stationary_certificate", "certified_limit", "ROW_SUM_SLACK"]

#: Row (and column) sums count as zero up to this multiple of the unit round-off times the
#: row's absolute sum.
ROW_SUM_SLACK = 64.0 * (np.finfo(np.float64).eps / 2)


def stationary_certificate(A, enclosure) -> str | None:
    r"""How the limit :math:`t \to \infty` of :math:`e^{tA}b` can be certified, if at all.

    ``"interval"``: ``A`` is a rate matrix (off-diagonal entries :math:`\ge 0`, row sums
    zero up to :math:`64u` times the row's absolute sum), so :math:`e^{sA}` is stochastic
    and every later state lies entrywise in :math:`[\min x, \max x]` of the current one.
    ``"sub-interval"``: a sub-generator (row sums :math:`\le 0`, e.g. absorbing Dirichlet
    walls), :math:`e^{sA}` is sub-stochastic and later states lie in
    :math:`[\min(x, 0), \max(x, 0)]`.
    ``"mean"``: row and column sums vanish (to the same tolerance) and the field of values
    (its ``enclosure``) lies in the closed left half-plane (to round-off), so :math:`e^{sA}` is a 2-norm
    contraction that preserves the mean and commutes with the projection on mean-free
    vectors (central differences on a discretely divergence-free periodic flow, e.g. the
    cellular flow :math:`(\sin 2πx\cos 2πy, −\cos 2πx\sin 2πy)` of reference problem R2,
    while the symmetric part keeps non-negative off-diagonals: velocity differences between
    neighbours below :math:`4\kappa/h`). None otherwise (complex, growth, a generator with
    negative off-diagonals that does not conserve).
    """
    if np.iscomplexobj(A) or A.shape[0] < 2:
        return None
    absolute = abs(A)
    row_scale = np.asarray(absolute.sum(axis=1)).ravel()
    col_scale = np.asarray(absolute.sum(axis=0)).ravel()
    slack = ROW_SUM_SLACK
    row_sums = np.asarray(A.sum(axis=1)).ravel()
    if np.any(row_sums > slack * row_scale):
        return None
    off = A - sp.diags_array(A.diagonal()) if sp.issparse(A) else A - np.diag(np.diag(A))
    off_min = off.data.min() if sp.issparse(off) and off.nnz else np.min(off)
    rows_zero = np.all(np.abs(row_sums) <= slack * row_scale)
    if off_min >= 0.0:
        return "interval" if rows_zero else "sub-interval"
    if not rows_zero:
        return None
    cols_zero = np.all(np.abs(np.asarray(A.sum(axis=0)).ravel()) <= slack * col_scale)
    if cols_zero and enclosure.beta <= slack * float(row_scale.max()):
        return "mean"
    return None



def certified_limit(x: np.ndarray, size: np.ndarray, tol: float, kind: str):
    r"""The constant state every later time is within ``tol/2·size`` of (per column), or
    None if ``x`` does not certify it yet (:meth:`~advdiff_sens.matrix.Propagator.apply`, "Long times")."""
    if np.iscomplexobj(x):                      # real and imaginary parts separately
        real = certified_limit(x.real, size, tol / np.sqrt(2.0), kind)
        imag = certified_limit(x.imag, size, tol / np.sqrt(2.0), kind)
        return None if real is None or imag is None else real + 1j * imag
    columns = x.reshape(x.shape[0], -1)
    if kind in ("interval", "sub-interval"):
        high, low = columns.max(axis=0), columns.min(axis=0)
        if kind == "sub-interval":
            high, low = np.maximum(high, 0.0), np.minimum(low, 0.0)
        value = 0.5 * (high + low)
        bound = np.sqrt(columns.shape[0]) * 0.5 * (high - low)
    else:
        value = columns.mean(axis=0)
        bound = np.linalg.norm(columns - value, axis=0)
    if np.all(bound <= 0.5 * tol * size):
        return np.broadcast_to(value.reshape(x.shape[1:]), x.shape)
    return None

