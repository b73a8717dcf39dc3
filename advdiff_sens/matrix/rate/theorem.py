r"""Theorem 2.1 with explicit constants (the note leaves (2.11) blank).

Statement (corrected)
---------------------
The note's (2.10) is stated with the Moore–Penrose :math:`Q^+` and a ``+`` before the
constant term :math:`Q^+J(I - QQ^+)`; with either, the error does not decay in general. The
corrected statement uses the group inverse :math:`Q^\#`
(:func:`~advdiff_sens.matrix.rate.generators.group_inverse`) and a ``−`` sign, and fills in
the constants (2.11) left blank in the note:

For an irreducible, diagonalizable rate matrix :math:`Q = V\Lambda V^{-1}` (class
(2.2); the note's :math:`M` is :math:`V^{-1}`), any :math:`J \in \mathbb C^{d\times d}`
and every :math:`t \ge 0`,

.. math::

    \big\| Z(t) - A(t) \big\|_F \le C e^{-\kappa t}, \qquad
    Z(t) = \nabla_J e^{tQ} - t e^{tQ}J \ \ (1.8), \qquad
    A(t) = -e^{tQ}JQ^\#(I + tQ) - Q^\#J(I - QQ^\#),

for every :math:`0 < \kappa < \gamma = \min_{i<d}(-\operatorname{Re}\lambda_i)` (the decay
rate, :func:`~advdiff_sens.matrix.rate.generators.decay_rate`; :math:`\gamma \le e_m` of
(2.4), equal when the slowest mode is real), with the explicit ``C`` of
:func:`theorem_2_1_constants`. The error carries terms :math:`t e^{-\gamma t}`, so
:math:`\kappa = \gamma` itself is not attainable in general.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from advdiff_sens.matrix.frechet import expm_frechet
from advdiff_sens.matrix.rate.generators import check_generator
from advdiff_sens.matrix.rate.surrogates import surrogate
from advdiff_sens.validation import (
    as_square_operator,
    check_nonnegative_scalar,
    check_positive_scalar,
)

__all__ = ["Theorem21Constants", "theorem_2_1_constants", "theorem_2_1_error"]

_MAX_EIGENVECTOR_CONDITION = 1e10


@dataclass(frozen=True)
class Theorem21Constants:
    r"""Constants of the corrected Theorem 2.1 for one pair ``(Q, J)``.

    :math:`\|Z(t) - A(t)\|_F \le` :meth:`bound` :math:`(t) \le C e^{-\kappa t}` for every
    :math:`t \ge 0` (derivation in :func:`theorem_2_1_constants`). Iterating yields
    ``(C, kappa)``, so ``C, kappa = theorem_2_1_constants(Q, J)`` works.

    Attributes
    ----------
    C, kappa : float
        The constants of (2.10)–(2.11).
    gamma : float
        The decay rate :math:`\gamma = \min_{i<d}(-\operatorname{Re}\lambda_i)`;
        ``kappa < gamma``.
    condition : float
        :math:`\|V\|_2\|V^{-1}\|_2` of the eigenvector matrix used.
    eigenvalues : ndarray, shape (d,)
        Eigenvalues of ``Q`` with the zero eigenvalue last.
    abs_jbar : ndarray, shape (d, d)
        :math:`|V^{-1}JV|` in the same ordering.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import theorem_2_1_constants, theorem_2_1_error
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> constants = theorem_2_1_constants(Q, J)
    >>> C, kappa = constants
    >>> bool(abs(constants.gamma - 3.0) < 1e-12 and kappa == constants.gamma / 2)
    True
    >>> all(theorem_2_1_error(Q, J, t) <= constants.bound(t) <= C * np.exp(-kappa * t)
    ...     for t in (0.0, 1.0, 5.0))
    True
    """

    C: float
    kappa: float
    gamma: float
    condition: float
    eigenvalues: np.ndarray
    abs_jbar: np.ndarray

    def __iter__(self):
        return iter((self.C, self.kappa))

    def bound(self, t: float) -> float:
        r"""The time-resolved bound :math:`\mathrm{cond}(V)\,\||\bar J|\circ\beta(t)\|_F`."""
        t = check_nonnegative_scalar(t, "t")
        return self.condition * float(np.linalg.norm(self.abs_jbar * _beta(self.eigenvalues, t)))


def _phi(mu_i: np.ndarray, mu_j: np.ndarray, t: float) -> np.ndarray:
    r""":math:`\int_0^t e^{-(t-s)\mu_i - s\mu_j}ds = t e^{-\mu_i t} h((\mu_j-\mu_i)t)`,
    :math:`h(x) = (1 - e^{-x})/x`, evaluated without cancellation."""
    x = (mu_j - mu_i) * t
    safe = np.where(x == 0.0, 1.0, x)
    h = np.where(x == 0.0, 1.0, -np.expm1(-safe) / safe)
    return t * np.exp(-mu_i * t) * h


def _beta(lam: np.ndarray, t: float) -> np.ndarray:
    r"""Entrywise bounds :math:`|\epsilon_{ij}(t)| \le \beta_{ij}(t)` (zero eigenvalue last)."""
    mu, inv = -lam[:-1].real, 1.0 / np.abs(lam[:-1])
    decay = np.exp(-mu * t)
    beta = np.zeros((lam.size, lam.size))
    beta[:-1, :-1] = _phi(mu[:, None], mu[None, :], t) + decay[:, None] * inv[None, :]
    np.fill_diagonal(beta[:-1, :-1], decay * (inv + t))
    beta[:-1, -1] = decay * (inv + t)
    beta[-1, :-1] = decay * inv
    return beta


def _sup_weights(lam: np.ndarray, kappa: float) -> np.ndarray:
    r"""Entrywise :math:`c_{ij}(\kappa) \ge \sup_t e^{\kappa t}\beta_{ij}(t)`."""
    alpha, inv = -lam[:-1].real - kappa, 1.0 / np.abs(lam[:-1])
    c = np.zeros((lam.size, lam.size))
    c[:-1, :-1] = 1.0 / np.maximum(alpha[:, None], alpha[None, :]) + inv[None, :]
    np.fill_diagonal(c[:-1, :-1], inv + 1.0 / (np.e * alpha))
    c[:-1, -1] = inv + 1.0 / (np.e * alpha)
    c[-1, :-1] = inv
    return c


def theorem_2_1_constants(Q, J, *, kappa: float | None = None) -> Theorem21Constants:
    r"""Explicit constants :math:`(C, \kappa)` of Theorem 2.1 (2.10)–(2.11), corrected.

    Notes
    -----
    **Derivation.**
    Write :math:`Q = V\Lambda V^{-1}` with :math:`\lambda_d = 0`,
    :math:`\mu_i = -\operatorname{Re}\lambda_i \ge \gamma > 0` for :math:`i < d`, and
    :math:`\bar J = V^{-1}JV`. Every matrix in the theorem is a function of ``Q`` times
    ``J`` times a function of ``Q``, so in eigen-coordinates it acts entrywise on
    :math:`\bar J`: :math:`\nabla_J e^{tQ} = V(\bar J\circ\Phi(t))V^{-1}` with
    :math:`\Phi_{ij}(t) = \int_0^t e^{(t-s)\lambda_i}e^{s\lambda_j}ds` (the note's
    :math:`\Phi` of the :math:`T_2` bound, extended to the null row and column),
    :math:`Q^\# = V\Lambda^\# V^{-1}` and :math:`I - QQ^\# = V e_d e_d^T V^{-1}`. Hence
    :math:`Z(t) - A(t) = V(\bar J\circ\epsilon(t))V^{-1}` with the entries
    :math:`\epsilon_{ij}(t)` and bounds :math:`|\epsilon_{ij}(t)| \le \beta_{ij}(t)`:

    - :math:`i = j = d`: :math:`\epsilon = 0`;
    - :math:`i < d = j` (T1, T3): :math:`e^{t\lambda_i}(1/\lambda_i - t)`,
      :math:`\beta = e^{-\mu_i t}(1/|\lambda_i| + t)`;
    - :math:`i = d > j` (T1): :math:`e^{t\lambda_j}/\lambda_j`,
      :math:`\beta = e^{-\mu_j t}/|\lambda_j|`;
    - :math:`i = j < d` (T1, T2): :math:`e^{t\lambda_i}(1/\lambda_i + t)`,
      :math:`\beta = e^{-\mu_i t}(1/|\lambda_i| + t)`;
    - :math:`i \ne j`, :math:`i, j < d` (T2, T1): :math:`\Phi_{ij}(t) + e^{t\lambda_i}/\lambda_j`,
      :math:`\beta = \phi_{ij}(t) + e^{-\mu_i t}/|\lambda_j|`,

    where :math:`|\Phi_{ij}(t)| \le \phi_{ij}(t) = \int_0^t e^{-(t-s)\mu_i - s\mu_j}ds`.
    (The constant :math:`-Q^\#J(I-QQ^\#)` cancels the constant :math:`-1/\lambda_i` that
    :math:`\Phi_{id} = (e^{t\lambda_i} - 1)/\lambda_i` leaves in the last column; with the
    printed ``+`` sign that entry tends to :math:`-2/\lambda_i` instead of 0, unless
    :math:`\bar J_{id} = 0` for all ``i``, i.e. :math:`J\mathbf 1 = 0`. With the
    Moore–Penrose :math:`Q^+` the projector :math:`I - QQ^+` is not :math:`Ve_de_d^TV^{-1}`
    and no entry cancels.) Since
    :math:`\|VXV^{-1}\|_F \le \|V\|_2\|V^{-1}\|_2\|X\|_F`,

    .. math::

        \|Z(t) - A(t)\|_F \le \mathrm{cond}_2(V)\,\big\||\bar J|\circ\beta(t)\big\|_F
        \quad (\text{:meth:`Theorem21Constants.bound`}).

    For :math:`\kappa < \gamma` put :math:`\alpha_i = \mu_i - \kappa > 0`; then
    :math:`t e^{-\mu_i t} \le e^{-\kappa t}/(e\,\alpha_i)` and
    :math:`\phi_{ij}(t) \le e^{-\kappa t}/\max(\alpha_i, \alpha_j)`, so
    :math:`\beta_{ij}(t) \le c_{ij}\,e^{-\kappa t}` with

    .. math::

        c_{id} = c_{ii} = \frac{1}{|\lambda_i|} + \frac{1}{e\,\alpha_i},\quad
        c_{dj} = \frac{1}{|\lambda_j|},\quad
        c_{ij} = \frac{1}{\max(\alpha_i,\alpha_j)} + \frac{1}{|\lambda_j|},\quad
        C = \mathrm{cond}_2(V)\,\big\||\bar J|\circ c\big\|_F .

    ``C`` blows up like :math:`1/(\gamma - \kappa)` as :math:`\kappa \to \gamma` because
    the diagonal entries carry :math:`t e^{-\gamma t}`: with :math:`\kappa = \gamma` the
    statement is false in general. Cruder, eigenvalue-free in the entries:
    :math:`c_{ij} \le 1/e_m + 1/(\gamma - \kappa)` and
    :math:`\|\bar J\|_F \le \mathrm{cond}_2(V)\|J\|_F` give
    :math:`C \le \mathrm{cond}_2(V)^2\,\|J\|_F\,(1/e_m + 1/(\gamma-\kappa))`, the form of
    the note's (2.3), (2.9). The constants come from a numerical eigen-decomposition, so
    they are as reliable as it is (``Q`` with ``cond(V) > 1e10`` is rejected).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        Irreducible, diagonalizable rate matrix (densified).
    J : ndarray or scipy sparse matrix, shape (d, d)
        Direction, real or complex.
    kappa : float, optional
        Rate of the exponential form, ``0 < kappa < gamma``; default :math:`\gamma/2`.

    Returns
    -------
    Theorem21Constants

    Raises
    ------
    ValueError
        If ``Q`` is not an irreducible rate matrix, is numerically defective, or ``kappa``
        is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import random_rate_matrix, theorem_2_1_constants, theorem_2_1_error
    >>> Q = random_rate_matrix(4, rng=0)
    >>> J = np.random.default_rng(1).standard_normal((4, 4))
    >>> C, kappa = theorem_2_1_constants(Q, J)
    >>> all(theorem_2_1_error(Q, J, t) <= C * np.exp(-kappa * t) for t in (0.0, 0.5, 2.0, 8.0))
    True
    """
    Q = check_generator(Q)
    J = as_square_operator(J, "J")
    if J.shape != Q.shape:
        raise ValueError(f"J must have the shape of Q {Q.shape}, got {J.shape}")
    Q = Q.toarray() if sp.issparse(Q) else Q
    J = J.toarray() if sp.issparse(J) else J
    lam, V = np.linalg.eig(Q)
    condition = float(np.linalg.cond(V))
    if not condition <= _MAX_EIGENVECTOR_CONDITION:
        raise ValueError(f"Q is numerically defective (eigenvector condition {condition:.3g}); "
                         "Theorem 2.1 needs a diagonalizable Q (class (2.2))")
    order = np.argsort(np.abs(lam))[::-1]
    lam, V = lam[order], V[:, order]
    gamma = float(np.min(-lam[:-1].real))
    kappa = 0.5 * gamma if kappa is None else check_positive_scalar(kappa, "kappa")
    if kappa >= gamma:
        raise ValueError(f"kappa must be < gamma = {gamma:.6g}, got {kappa}")
    abs_jbar = np.abs(np.linalg.solve(V, J @ V))
    C = condition * float(np.linalg.norm(abs_jbar * _sup_weights(lam, kappa)))
    return Theorem21Constants(C=C, kappa=kappa, gamma=gamma, condition=condition,
                              eigenvalues=lam, abs_jbar=abs_jbar)


def theorem_2_1_error(Q, J, t: float) -> float:
    r"""Measured error :math:`\|Z(t) - A(t)\|_F` of the corrected Theorem 2.1, i.e.
    :math:`\|\nabla_J e^{tQ} - S_{\mathrm{asym}}(t)\|_F` with the exact derivative from
    ``scipy.linalg.expm_frechet`` and :func:`~advdiff_sens.matrix.rate.surrogates.surrogate`
    (``order="asymptotic"``).

    Parameters
    ----------
    Q : ndarray or scipy sparse matrix, shape (d, d)
        An irreducible rate matrix (densified).
    J : ndarray or scipy sparse matrix, shape (d, d)
    t : float
        Time ``t >= 0``.

    Returns
    -------
    float

    Examples
    --------
    The error decays at the rate :math:`\gamma` (here 3):

    >>> import numpy as np
    >>> from advdiff_sens.matrix import theorem_2_1_error
    >>> Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> errors = [theorem_2_1_error(Q, J, t) for t in (1.0, 3.0, 5.0)]
    >>> bool(errors[0] > errors[1] > errors[2] and errors[2] < 1e-4)
    True
    """
    t = check_nonnegative_scalar(t, "t")
    return float(np.linalg.norm(expm_frechet(Q, J, t) - surrogate(Q, J, t, "asymptotic")))
