"""Corrected Theorem 2.1 and its explicit constants (2.11).

Rounding allowance: the measured error is the difference of two computed d x d matrices
(``expm_frechet`` and the asymptotic surrogate), each accurate to a few hundred epsilon
times its norm, so once the true error falls below ~1e-13 * ||grad|| the measurement is
rounding noise. Bounds are checked with that additive allowance, ``ROUNDING * ||grad||``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from advdiff_sens import matrix as am

ROUNDING = 1e-12


def zero_row_sum(J: np.ndarray) -> np.ndarray:
    return J - np.diag(J.sum(axis=1))


def single_entry(d: int, i: int, j: int) -> np.ndarray:
    J = np.zeros((d, d))
    J[i, j] = 1.0
    return J


def directions(d: int, rng) -> dict[str, np.ndarray]:
    return {"zero-row-sum": zero_row_sum(rng.standard_normal((d, d))),
            "single-entry": single_entry(d, *rng.integers(0, d, size=2))}


@pytest.mark.parametrize("d", [8, 30, 80])
@pytest.mark.parametrize("seed", [0, 1])
def test_corrected_theorem_converges_to_1e_8(d, seed):
    """Relative error ||Z - A|| / ||Z|| <= 1e-8 once t >= 25/e_m (Z = grad - t e^{tQ} J)."""
    rng = np.random.default_rng(seed)
    Q = am.random_rate_matrix(d, rng)
    e_m, _ = am.spectral_gap(Q)
    for name, J in directions(d, rng).items():
        for t in (25 / e_m, 40 / e_m, 200 / e_m):
            Z = am.expm_frechet(Q, J, t) - t * sla.expm(t * Q) @ J
            error = am.theorem_2_1_error(Q, J, t)
            assert error <= 1e-8 * np.linalg.norm(Z), (name, t * e_m, error)


def test_corrected_theorem_on_sparse_ensemble():
    for seed in range(3):
        rng = np.random.default_rng(seed)
        Q = am.random_rate_matrix(25, rng, "sparse").toarray()
        e_m, _ = am.spectral_gap(Q)
        t = 25 / am.decay_rate(Q)
        for J in directions(25, rng).values():
            Z = am.expm_frechet(Q, J, t) - t * sla.expm(t * Q) @ J
            assert am.theorem_2_1_error(Q, J, t) <= 1e-8 * np.linalg.norm(Z)


def _cases():
    """24 random (Q, J): three ensembles, d in {5, 12, 30}, four kinds of J."""
    cases = []
    rng = np.random.default_rng(2024)
    for ensemble in am.ENSEMBLES:
        for d in (5, 12):
            Q = am.random_rate_matrix(d, rng, ensemble)
            Q = Q.toarray() if hasattr(Q, "toarray") else Q
            general = rng.standard_normal((d, d))
            cases += [(Q, zero_row_sum(general)), (Q, single_entry(d, 0, d - 1)),
                      (Q, general), (Q, general + 1j * rng.standard_normal((d, d)))]
    return cases


def test_measured_error_below_explicit_bound():
    """On 24 random cases the error stays below bound(t) and C e^{-kappa t} for t gamma
    from 0 to 30, where the bound has reached rounding level."""
    cases = _cases()
    assert len(cases) >= 20
    for Q, J in cases:
        constants = am.theorem_2_1_constants(Q, J)
        C, kappa = constants
        for t in np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]) / constants.gamma:
            exact = am.expm_frechet(Q, J, t)
            error = np.linalg.norm(exact - am.surrogate(Q, J, t, "asymptotic"))
            allowance = ROUNDING * np.linalg.norm(exact)
            assert error <= constants.bound(t) + allowance
            assert error <= C * np.exp(-kappa * t) + allowance


def test_bound_is_not_vacuous():
    """The bound is within a factor 1e4 of the measured error at t = 5/gamma (a useful
    bound, measured factor ~30-100 = the eigenvector condition number)."""
    for Q, J in _cases()[:8]:
        constants = am.theorem_2_1_constants(Q, J)
        t = 5 / constants.gamma
        assert constants.bound(t) <= 1e4 * am.theorem_2_1_error(Q, J, t)


def test_printed_statement_violates_the_bound(rng):
    """The bound can fail: the printed + sign breaks it for a direction with J 1 != 0."""
    d = 12
    Q = am.random_rate_matrix(d, rng)
    J = single_entry(d, 2, 5)
    constants = am.theorem_2_1_constants(Q, J)
    t = 20 / constants.gamma
    printed = np.linalg.norm(am.expm_frechet(Q, J, t)
                             - am.asymptotic_surrogate(Q, J, t, constant_sign=+1))
    assert printed > 1e3 * constants.bound(t)


def test_constants_unpack_and_kappa_choice(rng):
    Q = am.random_rate_matrix(10, rng)
    J = zero_row_sum(rng.standard_normal((10, 10)))
    default = am.theorem_2_1_constants(Q, J)
    C, kappa = default
    assert kappa == pytest.approx(default.gamma / 2)
    assert default.gamma == pytest.approx(am.decay_rate(Q), rel=1e-12)
    assert C >= default.bound(0.0)
    faster = am.theorem_2_1_constants(Q, J, kappa=0.9 * default.gamma)
    assert faster.C > C


def test_constants_reject_kappa_at_the_gap(rng):
    Q = am.random_rate_matrix(6, rng)
    gamma = am.decay_rate(Q)
    with pytest.raises(ValueError, match="kappa must be < gamma"):
        am.theorem_2_1_constants(Q, np.eye(6), kappa=gamma)


def test_constants_reject_non_positive_kappa(rng):
    with pytest.raises(ValueError, match="kappa must be > 0"):
        am.theorem_2_1_constants(am.random_rate_matrix(6, rng), np.eye(6), kappa=-1.0)


def test_constants_reject_non_generator(rng):
    with pytest.raises(ValueError, match="not a rate matrix"):
        am.theorem_2_1_constants(rng.standard_normal((6, 6)), np.eye(6))


def test_constants_reject_direction_of_wrong_shape(rng):
    with pytest.raises(ValueError, match="J must have the shape"):
        am.theorem_2_1_constants(am.random_rate_matrix(6, rng), np.eye(5))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decay_estimate_2_9_needs_the_smallest_modulus_and_the_gap(seed):
    """Erratum to (2.9) (docs, errata 5): the sum (Σ_{i<d} |D_ii^{-1} e^{tD_ii}|²)^{1/2} over
    the non-zero eigenvalues is bounded by √(d−1) e_m^{-1} e^{−γt} (γ the gap, e_m the smallest
    modulus), not by the printed √(d−1) e_M^{-1} e^{−t e_M}, which is its smallest term."""
    Q = am.random_rate_matrix(6, rng=seed)
    eigenvalues = np.linalg.eigvals(Q)
    nonzero = eigenvalues[np.argsort(np.abs(eigenvalues))[1:]]       # drop the zero one
    e_m, e_M = np.abs(nonzero).min(), np.abs(nonzero).max()
    gamma = float(np.min(-nonzero.real))
    times = np.linspace(0.0, 10.0 / gamma, 200)
    terms = np.abs(np.exp(np.outer(times, nonzero)) / nonzero)
    total = np.sqrt(np.sum(terms ** 2, axis=1))
    d1 = len(nonzero)
    corrected = np.sqrt(d1) * np.exp(-gamma * times) / e_m
    printed = np.sqrt(d1) * np.exp(-e_M * times) / e_M
    assert np.all(total <= corrected * (1 + 1e-12))
    assert np.any(total > printed)
