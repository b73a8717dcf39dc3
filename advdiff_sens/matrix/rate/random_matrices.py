r"""Random irreducible rate matrices for the note's Section 3 (high-dimensional asymptotics).

Reference problem R4 is the default ensemble: dense :math:`d \times d` rate matrices with
iid :math:`\mathrm{Exp}(1)` off-diagonal rates (R1–R3, the PDE problems, are defined on the
documentation's "Reference problems" page and in :mod:`advdiff_sens.problems`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from advdiff_sens.validation import as_rng, check_integer

__all__ = ["ENSEMBLES", "random_rate_matrix"]

ENSEMBLES = ("exponential", "uniform", "sparse")


def _with_diagonal(off: np.ndarray) -> np.ndarray:
    np.fill_diagonal(off, 0.0)
    off[np.diag_indices_from(off)] = -off.sum(axis=1)
    return off


def _sparse_ensemble(d: int, density: float | None, rng: np.random.Generator) -> sp.csr_array:
    p = min(1.0, 2.0 * np.log(d) / d) if density is None else density
    rows, cols = np.nonzero(rng.random((d, d)) < p)
    keep = rows != cols
    perm = rng.permutation(d)
    cycle_rows, cycle_cols = perm, np.roll(perm, -1)
    rows = np.concatenate([rows[keep], cycle_rows])
    cols = np.concatenate([cols[keep], cycle_cols])
    rates = rng.exponential(size=rows.size)
    off = sp.coo_array((rates, (rows, cols)), shape=(d, d)).tocsr()
    off.sum_duplicates()
    return (off - sp.diags_array(np.asarray(off.sum(axis=1)).ravel())).tocsr()


def random_rate_matrix(d: int, rng=None, ensemble: str = "exponential", *,
                       density: float | None = None):
    r"""Draw a random irreducible rate matrix :math:`Q` (2.1).

    Parameters
    ----------
    d : int
        Dimension, ``d >= 2``.
    rng : None, int or numpy.random.Generator
        Seed or generator for ``numpy.random.default_rng``.
    ensemble : {"exponential", "uniform", "sparse"}
    density : float in (0, 1], optional
        Edge probability of the ``"sparse"`` ensemble.

    Returns
    -------
    ndarray or scipy.sparse.csr_array, shape (d, d)

    Notes
    -----
    The ensembles:

    ``"exponential"`` (default; reference problem R4)
        :math:`Q_{ij} \sim \mathrm{Exp}(1)` iid for :math:`i\ne j`,
        :math:`Q_{ii} = -\sum_{j\ne i} Q_{ij}`; dense ndarray. Irreducible with probability 1
        (all off-diagonal rates are positive, so ``Q`` is in the note's class (2.1)).
    ``"uniform"``
        As above with :math:`Q_{ij} \sim U(0, 1)`; dense ndarray.
    ``"sparse"``
        A random directed graph: each off-diagonal edge is present independently with
        probability ``density`` (default :math:`\min(1, 2\log d / d)`), plus a random
        Hamiltonian cycle so that the graph is strongly connected (irreducible) for every
        draw; rates :math:`\mathrm{Exp}(1)` (summed on the cycle's edges); ``scipy.sparse``
        CSR array.

    Examples
    --------
    >>> from advdiff_sens.matrix import is_irreducible, is_rate_matrix, random_rate_matrix
    >>> Q = random_rate_matrix(5, rng=0)
    >>> Q.shape, is_rate_matrix(Q), is_irreducible(Q)
    ((5, 5), True, True)
    >>> S = random_rate_matrix(6, rng=1, ensemble="sparse")
    >>> type(S).__name__, is_rate_matrix(S), is_irreducible(S)
    ('csr_array', True, True)
    """
    d = check_integer(d, "d", minimum=2)
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    if density is not None:
        if ensemble != "sparse":
            raise ValueError("density applies only to ensemble='sparse'")
        if not 0.0 < density <= 1.0:
            raise ValueError(f"density must be in (0, 1], got {density}")
    rng = as_rng(rng)
    if ensemble == "exponential":
        return _with_diagonal(rng.exponential(size=(d, d)))
    if ensemble == "uniform":
        return _with_diagonal(rng.random((d, d)))
    return _sparse_ensemble(d, density, rng)
