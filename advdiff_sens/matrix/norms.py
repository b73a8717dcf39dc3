r"""Matrix norms and sizes the propagators, the Fréchet code and the adjoints need.

One implementation of each, for dense ndarrays and scipy sparse matrices alike:

* :func:`norm1` — the induced 1-norm :math:`\|A\|_1 = \max_j \sum_i |a_{ij}|`;
* :func:`norm2_bound` — :math:`\|A\|_2 \le \sqrt{\|A\|_1\|A\|_\infty}`;
* :func:`shifted_norm1` — :math:`\|A - \mu I\|_1`, :math:`\mu = \operatorname{tr}(A)/d`, the
  quantity scipy's ``expm_multiply`` bases its Taylor degree on;
* :func:`trace`, :func:`stored_entries` and :func:`is_normal`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["trace", "norm1", "norm2_bound", "shifted_norm1", "stored_entries", "is_normal"]


def _matrix(A, square: bool = False):
    """``A`` itself if it is a 2-D (square) ndarray or sparse matrix, else a ``ValueError``."""
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2 or (square and shape[0] != shape[1]):
        raise ValueError(f"A must be a {'square ' if square else ''}2-D ndarray or scipy "
                         f"sparse matrix, got shape {shape}")
    return A


def trace(A) -> complex | float:
    r""":math:`\operatorname{tr}(A)` of a dense or sparse square matrix.

    Examples
    --------
    >>> import numpy as np
    >>> float(trace(np.array([[1.0, 2.0], [3.0, 4.0]])))
    5.0
    """
    A = _matrix(A, square=True)
    return A.trace() if sp.issparse(A) else np.trace(A)


def norm1(A) -> float:
    r"""Induced 1-norm :math:`\|A\|_1` (maximum absolute column sum); 0 for an empty
    sparse matrix.

    Examples
    --------
    >>> import numpy as np
    >>> norm1(np.array([[1.0, -2.0], [3.0, 4.0]]))
    6.0
    """
    A = _matrix(A)
    if sp.issparse(A):
        return float(abs(A).sum(axis=0).max()) if A.nnz else 0.0
    return float(np.abs(A).sum(axis=0).max())


def norm2_bound(A) -> float:
    r""":math:`\|A\|_2 \le \sqrt{\|A\|_1\|A\|_\infty}`, computed as a product of square roots,
    which neither underflows nor overflows where the norms themselves do not.

    Examples
    --------
    >>> import numpy as np
    >>> norm2_bound(np.diag([3.0, -4.0]))
    4.0
    """
    A = _matrix(A)
    absolute = abs(A)
    return float(np.sqrt(absolute.sum(axis=0).max()) * np.sqrt(absolute.sum(axis=1).max()))


def shifted_norm1(A) -> float:
    r""":math:`\|A - \mu I\|_1` with :math:`\mu = \operatorname{tr}(A)/d`: the Taylor model
    of ``expm_multiply`` needs about :math:`2t\|A - \mu I\|_1` products.

    Examples
    --------
    >>> import numpy as np
    >>> shifted_norm1(np.array([[-1.0, 1.0], [1.0, -1.0]]))
    1.0
    """
    A = _matrix(A, square=True)
    d = A.shape[0]
    mu = trace(A) / d
    shifted = A - mu * (sp.eye_array(d, format="csr") if sp.issparse(A) else np.eye(d))
    return float(abs(shifted).sum(axis=0).max())


def stored_entries(A) -> int:
    """Entries a product with ``A`` touches: ``nnz`` if sparse, ``d²`` if dense."""
    return A.nnz if sp.issparse(A) else A.size


def is_normal(A) -> bool:
    r"""Whether :math:`\|AA^* - A^*A\|_F \le 10^{-12}\|A\|_F^2` (the growth of a normal
    matrix's exponential is its spectrum's, not a transient)."""
    A = _matrix(A, square=True)
    H = A.conj().T
    commutator = A @ H - H @ A
    size = float(spla.norm(A) if sp.issparse(A) else np.linalg.norm(A)) ** 2
    gap = float(spla.norm(commutator) if sp.issparse(A) else np.linalg.norm(commutator))
    return gap <= 1e-12 * size
