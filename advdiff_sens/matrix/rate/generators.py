r"""Rate matrices (generators of continuous-time Markov chains) and their inverses.

A rate matrix (the note's class (2.1), with the strict positivity of the off-diagonal
entries relaxed to non-negativity so that sparse generators are included) is a real
:math:`Q \in \mathbb{R}^{d\times d}` with

.. math::

    Q_{ij} \ge 0 \quad (i \ne j), \qquad \sum_j Q_{ij} = 0 \quad \text{for every } i.

If the directed graph of its positive off-diagonal entries is strongly connected, ``Q`` is
*irreducible*: 0 is a simple eigenvalue with right eigenvector :math:`\mathbf 1` and a
positive left eigenvector, the stationary distribution :math:`\pi` (:math:`\pi^T Q = 0`,
:math:`\pi^T\mathbf 1 = 1`), and every other eigenvalue has negative real part. Such a ``Q``
has index 1, so its group (Drazin) inverse exists,

.. math::

    Q^\# = \Pi - (\Pi - Q)^{-1}, \qquad \Pi = \mathbf 1 \pi^T, \qquad
    Q Q^\# = Q^\# Q = I - \Pi,

which is the inverse that Theorem 2.1 needs: the note writes the Moore–Penrose
:math:`Q^+`, whose projector :math:`QQ^+` is orthogonal, not the spectral projector
:math:`I - \Pi`, and with it the theorem's error does not decay (the library's corrected
statement uses :math:`Q^\#`; see :mod:`advdiff_sens.matrix.rate.theorem`).

Every function here that needs a generator (stationary distribution, group inverse, the
spectral quantities of (2.4)) raises ``ValueError`` on a matrix that is not an irreducible
rate matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from advdiff_sens.validation import as_array, as_square_operator, check_positive_scalar

__all__ = [
    "RATE_MATRIX_RTOL",
    "is_rate_matrix",
    "is_irreducible",
    "check_generator",
    "stationary_distribution",
    "group_inverse",
    "GroupInverseSolver",
    "group_inverse_solve",
    "moore_penrose",
    "spectral_gap",
    "decay_rate",
    "eigenvector_condition",
    "singular_value_extremes",
]

RATE_MATRIX_RTOL = 1e-10
"""Default relative tolerance of :func:`is_rate_matrix` (per row, relative to
:math:`\\sum_j |Q_{ij}|`)."""

_SPARSE_EIGS_TOL = 1e-12


def _row_abs_sums(Q) -> np.ndarray:
    if sp.issparse(Q):
        return np.asarray(abs(Q).sum(axis=1)).ravel()
    return np.abs(Q).sum(axis=1)


def _off_diagonal_min(Q) -> np.ndarray:
    """Per-row minimum of the off-diagonal entries (``inf`` for rows without any)."""
    d = Q.shape[0]
    if sp.issparse(Q):
        off = sp.coo_array(Q)
        mask = off.row != off.col
        out = np.full(d, np.inf)
        np.minimum.at(out, off.row[mask], off.data[mask].real)
        return out
    masked = np.where(np.eye(d, dtype=bool), np.inf, Q.real)
    return masked.min(axis=1)


def is_rate_matrix(Q, *, rtol: float = RATE_MATRIX_RTOL) -> bool:
    r"""Whether ``Q`` is a rate matrix: non-negative off-diagonal entries, zero row sums.

    With the row scale :math:`s_i = \sum_j |Q_{ij}|` the test is

    .. math::

        Q_{ij} \ge -\,\mathrm{rtol}\; s_i \ (i\ne j), \qquad
        \Big|\sum_j Q_{ij}\Big| \le \mathrm{rtol}\; s_i ,

    so rounding in assembling a generator (a row sum computed in floating point has error
    about :math:`d\,\varepsilon\, s_i`, far below the default ``rtol = 1e-10`` for any
    practical ``d``) is accepted, while a genuine sink or negative rate is not. Complex
    input is accepted only if its imaginary part is exactly zero. This is the note's class
    (2.1) with ``>`` relaxed to ``>=`` on the off-diagonal; irreducibility is tested
    separately by :func:`is_irreducible`.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
    rtol : float
        Relative tolerance, see above.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import is_rate_matrix
    >>> is_rate_matrix(np.array([[-1.0, 1.0], [2.0, -2.0]]))
    True
    >>> is_rate_matrix(np.array([[-1.0, 1.0], [2.0, -1.0]]))       # a row sum is 1
    False
    """
    Q = as_square_operator(Q, "Q")
    rtol = check_positive_scalar(rtol, "rtol")
    data = Q.data if sp.issparse(Q) else Q
    if np.iscomplexobj(data):
        if np.any(data.imag != 0):
            return False
        Q = Q.real
    scale = _row_abs_sums(Q)
    row_sums = np.asarray(Q.sum(axis=1)).ravel()
    if np.any(np.abs(row_sums) > rtol * scale):
        return False
    return bool(np.all(_off_diagonal_min(Q) >= -rtol * scale))


def is_irreducible(Q) -> bool:
    """Whether the directed graph of the non-zero off-diagonal entries of ``Q`` is strongly
    connected (``scipy.sparse.csgraph.connected_components(connection="strong")``).

    For a rate matrix this is irreducibility of the Markov chain: every state can reach
    every other, 0 is a simple eigenvalue and the stationary distribution is positive.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import is_irreducible
    >>> is_irreducible(np.array([[-1.0, 1.0], [2.0, -2.0]]))
    True
    >>> is_irreducible(np.array([[-1.0, 1.0], [0.0, 0.0]]))       # state 2 absorbs
    False
    """
    Q = as_square_operator(Q, "Q")
    graph = sp.csr_array(Q, copy=True)
    graph.setdiag(0)
    graph.eliminate_zeros()
    n_components, _ = csgraph.connected_components(graph, directed=True, connection="strong")
    return n_components == 1


def check_generator(Q, name: str = "Q"):
    """Validate that ``Q`` is an irreducible rate matrix and return it (CSR or real ndarray).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
    name : str
        Names ``Q`` in the error messages.

    Returns
    -------
    ndarray or scipy sparse matrix
        ``Q`` validated, with a real dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import check_generator
    >>> check_generator(np.array([[-1.0, 1.0], [2.0, -2.0]])).shape
    (2, 2)
    >>> try:
    ...     check_generator(np.array([[-1.0, 1.0], [0.0, 0.0]]))
    ... except ValueError as exc:
    ...     print(str(exc).split(" (")[0])
    Q is a reducible rate matrix

    Raises
    ------
    ValueError
        If ``Q`` is not a rate matrix (:func:`is_rate_matrix`), is reducible
        (:func:`is_irreducible`) or is smaller than 2 x 2.
    """
    Q = as_square_operator(Q, name)
    if Q.shape[0] < 2:
        raise ValueError(f"{name} must be at least 2 x 2 to be an irreducible generator")
    if not is_rate_matrix(Q):
        raise ValueError(
            f"{name} is not a rate matrix (need real entries, off-diagonal entries >= 0 and "
            f"zero row sums up to a relative tolerance {RATE_MATRIX_RTOL:g}); this function "
            "requires the generator of a Markov chain")
    if not is_irreducible(Q):
        raise ValueError(
            f"{name} is a reducible rate matrix (its transition graph is not strongly "
            "connected), so the stationary distribution and group inverse are not unique")
    return Q.real


class _BorderedLU:
    r"""LU factorisation of the bordered matrix :math:`\begin{bmatrix} A & u \\ v^T & 0
    \end{bmatrix}` (dense ``scipy.linalg.lu_factor`` or sparse ``splu``)."""

    def __init__(self, A, u: np.ndarray, v: np.ndarray):
        self.d = A.shape[0]
        if sp.issparse(A):
            bordered = sp.block_array([[A, u[:, None]], [v[None, :], None]], format="csc")
            self._lu = spla.splu(bordered)
            self._sparse = True
        else:
            bordered = np.block([[A, u[:, None]], [v[None, :], np.zeros((1, 1))]])
            self._lu = sla.lu_factor(bordered)
            self._sparse = False

    def solve(self, rhs: np.ndarray, *, transpose: bool = False) -> np.ndarray:
        if self._sparse:
            return self._lu.solve(rhs, trans="T" if transpose else "N")
        return sla.lu_solve(self._lu, rhs, trans=1 if transpose else 0)


def stationary_distribution(Q) -> np.ndarray:
    r"""Stationary distribution :math:`\pi` of an irreducible rate matrix.

    Solves the non-singular bordered system

    .. math::

        \begin{bmatrix} Q^T & \mathbf 1 \\ \mathbf 1^T & 0 \end{bmatrix}
        \begin{bmatrix} \pi \\ \nu \end{bmatrix} = \begin{bmatrix} 0 \\ 1 \end{bmatrix}

    (dense LU or sparse ``splu``); multiplying the first block row by :math:`\mathbf 1^T`
    gives :math:`d\,\nu = 0`, hence :math:`\pi^T Q = 0,\ \pi^T \mathbf 1 = 1`.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix.

    Returns
    -------
    ndarray, shape (d,)

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix.

    Examples
    --------
    A two-state chain with rates 1 (1 → 2) and 2 (2 → 1) spends 2/3 of its time in state 1:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import stationary_distribution
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> pi = stationary_distribution(Q)
    >>> bool(np.allclose(pi, [2 / 3, 1 / 3], rtol=0, atol=1e-15))
    True
    >>> bool(np.abs(pi @ Q).max() < 1e-15)
    True
    """
    Q = check_generator(Q)
    d = Q.shape[0]
    ones = np.ones(d)
    rhs = np.zeros(d + 1)
    rhs[-1] = 1.0
    return _BorderedLU(Q.T, ones, ones).solve(rhs)[:d]


def group_inverse(Q) -> np.ndarray:
    r"""Dense group (Drazin) inverse of an irreducible rate matrix,

    .. math::

        Q^\# = \Pi - (\Pi - Q)^{-1}, \qquad \Pi = \mathbf 1 \pi^T,

    the unique matrix with :math:`QQ^\#Q = Q,\ Q^\#QQ^\# = Q^\#,\ QQ^\# = Q^\#Q`. It is the
    inverse of ``Q`` on the range of :math:`I-\Pi` and zero on the null space: if
    :math:`Q = V\Lambda V^{-1}` then :math:`Q^\# = V\Lambda^\# V^{-1}` with
    :math:`\Lambda^\# = \mathrm{diag}(1/\lambda_1,\dots,1/\lambda_{d-1}, 0)`. For the
    action on vectors of a large sparse ``Q`` use :class:`GroupInverseSolver`.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix (densified).

    Returns
    -------
    ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import group_inverse, stationary_distribution
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> G = group_inverse(Q)
    >>> Pi = np.outer(np.ones(2), stationary_distribution(Q))
    >>> bool(np.allclose(Q @ G, np.eye(2) - Pi) and np.allclose(G @ Q, np.eye(2) - Pi))
    True
    >>> bool(np.allclose(G, np.array([[-1.0, 1.0], [2.0, -2.0]]) / 9))   # Q# = Q/9 here
    True
    """
    Q = check_generator(Q)
    Q = Q.toarray() if sp.issparse(Q) else Q
    Pi = np.outer(np.ones(Q.shape[0]), stationary_distribution(Q))
    return Pi - np.linalg.solve(Pi - Q, np.eye(Q.shape[0]))


class GroupInverseSolver:
    r"""Factorise once, then apply :math:`Q^\#` (or :math:`(Q^\#)^T`) to many vectors.

    :math:`x = Q^\# b` is the unique solution of :math:`Qx = (I-\Pi)b,\ \pi^T x = 0`, i.e. of
    the non-singular bordered system

    .. math::

        \begin{bmatrix} Q & \mathbf 1 \\ \pi^T & 0 \end{bmatrix}
        \begin{bmatrix} x \\ \mu \end{bmatrix} = \begin{bmatrix} b \\ 0 \end{bmatrix}

    (the first row times :math:`\pi^T` gives :math:`\mu = \pi^T b`). The transposed system
    gives :math:`(Q^\#)^T b`. Sparse ``Q`` is factorised with ``scipy.sparse.linalg.splu``
    (never densified), dense ``Q`` with LAPACK ``getrf``.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix.

    Attributes
    ----------
    pi : ndarray, shape (d,)
        The stationary distribution.

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from advdiff_sens.matrix import GroupInverseSolver, group_inverse
    >>> Q = np.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    >>> solver = GroupInverseSolver(sp.csr_array(Q))        # factorised once
    >>> b = np.array([1.0, 2.0, 4.0])
    >>> bool(np.allclose(solver.solve(b), group_inverse(Q) @ b, rtol=0, atol=1e-14))
    True
    >>> bool(np.allclose(solver.solve(b, transpose=True), group_inverse(Q).T @ b))
    True
    """

    def __init__(self, Q):
        Q = check_generator(Q)
        self.shape = Q.shape
        self.pi = stationary_distribution(Q)
        self._lu = _BorderedLU(Q, np.ones(Q.shape[0]), self.pi)

    def solve(self, b, *, transpose: bool = False) -> np.ndarray:
        r"""Return :math:`Q^\# b` (or :math:`(Q^\#)^T b` if ``transpose``) for ``b`` of shape
        (d,) or (d, k), real or complex."""
        d = self.shape[0]
        b = as_array(b, "b")
        if b.ndim not in (1, 2) or b.shape[0] != d:
            raise ValueError(f"b must have shape ({d},) or ({d}, k), got {b.shape}")
        if np.iscomplexobj(b):
            return (self.solve(b.real, transpose=transpose)
                    + 1j * self.solve(b.imag, transpose=transpose))
        rhs = np.concatenate([b, np.zeros((1, *b.shape[1:]))], axis=0)
        return self._lu.solve(rhs, transpose=transpose)[:d]


def group_inverse_solve(Q, b, *, transpose: bool = False) -> np.ndarray:
    r"""Return :math:`Q^\# b` for an irreducible rate matrix ``Q`` (dense or sparse).

    One-shot form of :class:`GroupInverseSolver`; build the solver directly to reuse the
    factorisation for several right-hand sides.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix.
    b : array_like, shape (d,) or (d, k)
    transpose : bool
        Apply :math:`(Q^\#)^T` instead.

    Returns
    -------
    ndarray
        The shape of ``b``.

    Examples
    --------
    :math:`x = Q^\#b` solves :math:`Qx = (I - \Pi)b` with :math:`\pi^Tx = 0`:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import group_inverse_solve, stationary_distribution
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> b = np.array([3.0, 0.0])
    >>> x = group_inverse_solve(Q, b)
    >>> pi = stationary_distribution(Q)
    >>> bool(np.allclose(Q @ x, b - pi @ b) and abs(pi @ x) < 1e-15)
    True
    """
    return GroupInverseSolver(Q).solve(b, transpose=transpose)


def moore_penrose(Q) -> np.ndarray:
    r"""Dense Moore–Penrose pseudo-inverse :math:`Q^+` (``numpy.linalg.pinv``).

    Kept for comparison with :func:`group_inverse`: for a rate matrix :math:`QQ^+` is the
    orthogonal projector onto :math:`\pi^\perp`, not the spectral projector
    :math:`I - \mathbf 1\pi^T`, so Theorem 2.1 with :math:`Q^+` does not converge (its
    error plateaus instead of decaying; the corrected statement uses :math:`Q^\#`).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        Any square matrix (densified).

    Returns
    -------
    ndarray, shape (d, d)

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import moore_penrose, stationary_distribution
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> P = Q @ moore_penrose(Q)
    >>> bool(np.allclose(P, P.T))                         # an orthogonal projector ...
    True
    >>> Pi = np.outer(np.ones(2), stationary_distribution(Q))
    >>> bool(np.allclose(P, np.eye(2) - Pi))             # ... not the spectral one
    False
    """
    Q = as_square_operator(Q, "Q")
    return np.linalg.pinv(Q.toarray() if sp.issparse(Q) else Q)


def _nonzero_eigenvalues(Q) -> np.ndarray:
    """Eigenvalues of a dense generator without the (simple) zero eigenvalue."""
    lam = np.linalg.eigvals(Q)
    return np.delete(lam, np.argmin(np.abs(lam)))


def spectral_gap(Q) -> tuple[float, float]:
    r"""The extreme moduli (2.4) of the non-zero eigenvalues of a generator,

    .. math::

        e_m = \min_{i<d} |\lambda_i|, \qquad e_M = \max_{i<d} |\lambda_i| ,

    where :math:`\lambda_d = 0` is the simple zero eigenvalue of an irreducible rate
    matrix. Dense ``Q``: ``numpy.linalg.eigvals``. Sparse ``Q``: ARPACK (``eigs``) for the
    largest-modulus eigenvalue of ``Q`` (:math:`e_M`) and of :math:`Q^\#` (its eigenvalues
    are :math:`1/\lambda_i` and 0, so the largest modulus is :math:`1/e_m`), applied through
    :class:`GroupInverseSolver`. The decay rate of :math:`e^{tQ} - \Pi` is
    :func:`decay_rate`, which is :math:`\le e_m`.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix.

    Returns
    -------
    e_m, e_M : float

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix.

    Examples
    --------
    The cyclic chain on three states (rate 1) has the non-zero eigenvalues
    :math:`-3/2 \pm i\sqrt3/2`, both of modulus :math:`\sqrt3`:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import spectral_gap
    >>> Q = np.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    >>> e_m, e_M = spectral_gap(Q)
    >>> bool(abs(e_m - np.sqrt(3)) < 1e-12 and abs(e_M - np.sqrt(3)) < 1e-12)
    True
    """
    Q = check_generator(Q)
    if not sp.issparse(Q):
        moduli = np.abs(_nonzero_eigenvalues(Q))
        return float(moduli.min()), float(moduli.max())
    solver = GroupInverseSolver(Q)
    ginv = spla.LinearOperator(Q.shape, matvec=solver.solve, dtype=np.float64)
    e_max = spla.eigs(Q, k=1, which="LM", return_eigenvectors=False, tol=_SPARSE_EIGS_TOL)
    g_max = spla.eigs(ginv, k=1, which="LM", return_eigenvectors=False, tol=_SPARSE_EIGS_TOL)
    return float(1.0 / np.abs(g_max[0])), float(np.abs(e_max[0]))


def decay_rate(Q) -> float:
    r"""Decay rate :math:`\gamma = \min_{i<d} (-\operatorname{Re}\lambda_i)` of
    :math:`e^{tQ} - \Pi` for a dense irreducible generator: the rate :math:`\kappa` in
    Theorem 2.1 (:func:`~advdiff_sens.matrix.rate.theorem.theorem_2_1_constants`).

    :math:`\gamma \le e_m` of (2.4), with equality when the slowest mode is real.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix (densified).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix.

    Examples
    --------
    For the cyclic chain on three states :math:`\gamma = 3/2 < e_m = \sqrt3` (complex
    slowest modes):

    >>> import numpy as np
    >>> from advdiff_sens.matrix import decay_rate
    >>> Q = np.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    >>> bool(abs(decay_rate(Q) - 1.5) < 1e-12)
    True
    """
    Q = check_generator(Q)
    Q = Q.toarray() if sp.issparse(Q) else Q
    return float(np.min(-_nonzero_eigenvalues(Q).real))


def eigenvector_condition(Q, *, norm: str = "fro") -> float:
    r"""Condition number :math:`\|M\|\,\|M^{-1}\|` of the eigenvector matrix of ``Q``
    (the factor in (2.3), (2.9) and Section 3.1).

    The note writes :math:`D = MQM^{-1}`; here :math:`M^{-1} = V` from
    ``numpy.linalg.eig`` (unit 2-norm columns, within :math:`\sqrt d` of the optimal
    column scaling by van der Sluis' theorem).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        Any square matrix (dense eigen-decomposition).
    norm : {"fro", 2}
        The Frobenius norm (the note's choice) or the spectral norm.

    Returns
    -------
    float
        ``inf`` if the eigenvector matrix is numerically singular (``Q`` defective).

    Examples
    --------
    A normal matrix has orthonormal eigenvectors: condition 1 in the 2-norm, ``d`` in the
    Frobenius norm.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import eigenvector_condition
    >>> Q = np.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    >>> bool(abs(eigenvector_condition(Q, norm=2) - 1) < 1e-12)
    True
    >>> bool(abs(eigenvector_condition(Q) - 3) < 1e-12)
    True
    """
    if norm not in ("fro", 2):
        raise ValueError(f"norm must be 'fro' or 2, got {norm!r}")
    Q = as_square_operator(Q, "Q")
    _, V = np.linalg.eig(Q.toarray() if sp.issparse(Q) else Q)
    if np.linalg.cond(V) > 1.0 / np.finfo(float).eps:
        return float("inf")
    return float(np.linalg.norm(V, norm) * np.linalg.norm(np.linalg.inv(V), norm))


def singular_value_extremes(Q) -> tuple[float, float]:
    r"""Smallest non-zero and largest singular values :math:`\sigma_m, \sigma_M` (3.2).

    "Non-zero" means above the numerical-rank threshold
    :math:`\sigma_M\, d\, \varepsilon` (``numpy.linalg.matrix_rank``'s default); for an
    irreducible rate matrix exactly one singular value is dropped, and
    :math:`\|Q\|_2 = \sigma_M,\ \|Q^+\|_2 = 1/\sigma_m`.

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        Any non-zero square matrix (densified).

    Returns
    -------
    sigma_m, sigma_M : float

    Raises
    ------
    ValueError
        If ``Q`` is the zero matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import singular_value_extremes
    >>> sigma_m, sigma_M = singular_value_extremes(np.array([[-1.0, 1.0], [1.0, -1.0]]))
    >>> bool(abs(sigma_m - 2) < 1e-14 and abs(sigma_M - 2) < 1e-14)    # σ = 2, 0
    True
    """
    Q = as_square_operator(Q, "Q")
    s = sla.svdvals(Q.toarray() if sp.issparse(Q) else Q)
    nonzero = s[s > s[0] * Q.shape[0] * np.finfo(float).eps]
    if nonzero.size == 0:
        raise ValueError("Q must not be the zero matrix")
    return float(nonzero[-1]), float(nonzero[0])
