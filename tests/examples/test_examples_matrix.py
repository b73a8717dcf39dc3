"""The numbers of the matrix-level examples (Theorem 2.1, high dimensions, quantum toy) at
quick size."""

from __future__ import annotations

import numpy as np
import pytest
from example_loader import load_example

from advdiff_sens import matrix as am

EPS = np.finfo(float).eps


@pytest.fixture(scope="module")
def theorem():
    return load_example("theorem_2_1").main(quick=True)


def _rounding(result, direction):
    """Rounding floor of a surrogate's error: it is a difference of terms of size about
    ||t e^{tQ} J|| <= ||S_1 - grad|| + ||grad||, each with relative error O(d eps)."""
    errs = result.errors[direction]
    return result.d * EPS * (errs["first order (1.6)"] + errs["||grad||"])


@pytest.mark.parametrize("direction", ["zero-row-sum J", "single-entry J"])
def test_theorem_2_1_bound_holds(theorem, direction):
    bound = theorem.bound(direction)
    measured = theorem.errors[direction]["asymptotic, corrected"]
    assert np.all(measured <= bound + _rounding(theorem, direction))
    assert np.all(bound <= theorem.envelope(direction))
    c = theorem.constants[direction]
    assert 0 < c.kappa < c.gamma == pytest.approx(theorem.gamma)


@pytest.mark.parametrize("direction", ["zero-row-sum J", "single-entry J"])
def test_theorem_2_1_printed_versions(theorem, direction):
    errs = theorem.errors[direction]
    allowance = _rounding(theorem, direction)
    # Moore–Penrose: I - QQ^+ is not the spectral projector, the error plateaus.
    assert errs["asymptotic, Moore-Penrose"][-1] > theorem.bound(direction)[-1] + allowance[-1]
    assert theorem.relative_errors(direction, "asymptotic, Moore-Penrose")[-1] > 0.01
    plus = errs["asymptotic, printed + sign"]
    if direction == "zero-row-sum J":
        # J 1 = 0 makes J(I - QQ#) = J 1 pi^T vanish: the sign of that term does not matter.
        assert np.all(np.abs(plus - errs["asymptotic, corrected"]) <= allowance)
    else:
        assert plus[-1] > theorem.bound(direction)[-1] + allowance[-1]
    # (1.6) has none of the constant terms: its error grows with t.
    first = theorem.relative_errors(direction, "first order (1.6)")
    assert first[-1] > first[0]


@pytest.fixture(scope="module")
def high_dimensional():
    example = load_example("high_dimensional")
    return example, example.main(quick=True)


def test_high_dimensional_bounds_of_section_3_hold(high_dimensional):
    _, result = high_dimensional
    for table in result.results.values():
        assert np.all(table["norm_QpJ"] <= table["bound_3_1"])   # (3.1)
        assert np.all(table["norm_QpJ"] <= table["bound_3_2"])   # (3.2)
        assert np.all(table["sigma_m"] <= table["sigma_M"])
        assert np.all(table["e_m"] <= table["e_M"])


def test_high_dimensional_pseudo_inverse_route(high_dimensional):
    example, result = high_dimensional
    # Both routes are backward stable: they differ by O(d eps cond(Q)) on range(Q^T).
    sigma_m, sigma_M = am.singular_value_extremes(
        am.random_rate_matrix(40, example.CHECK_SEED))
    assert result.pinv_check <= 40 * EPS * sigma_M / sigma_m


def test_high_dimensional_spectral_gap_grows_linearly_for_dense_rates(high_dimensional):
    _, result = high_dimensional
    # Dense iid rates with mean mu and sd s: Q = -d mu I + fluctuations of spectral radius
    # about s sqrt(d) (circular law), so e_m = d mu - O(sqrt d): the log–log slope is
    # 1 + (s/mu) / (2 sqrt(d) - 2 s/mu) + ... from above: at most 1.15 (Exp(1), d = 20);
    # the band's upper end leaves room for the fluctuations of a mean over two seeds.
    for ensemble in ("exponential", "uniform"):
        assert 1.0 <= result.exponents[ensemble]["e_m"] <= 1.2
    # The sparse graph has mean degree 2 log d: its gap grows far slower.
    assert result.exponents["sparse"]["e_m"] < 0.5 * result.exponents["exponential"]["e_m"]


@pytest.fixture(scope="module")
def quantum():
    example = load_example("quantum_toy")
    return example, example.main(quick=True)


def test_quantum_toy_gradient_check(quantum):
    example, result = quantum
    # Central difference with step h: truncation O(h²) relative, rounding about tol/h with
    # the propagator's relative tolerance tol on the states.
    h = example.FD_STEP
    assert result.gradient_check <= h**2 + 2 * am.DEFAULT_TOL / h


def test_quantum_toy_exact_fit_reaches_the_noise(quantum):
    example, result = quantum
    n = result.data.size
    exact = result.fits[result.best][0]
    # At the truth 2Φ/σ² ~ χ²_n; the minimum is below it: at most mean + 4 sd.
    assert 2 * exact.fun / example.NOISE_STD**2 <= n + 4 * np.sqrt(2 * n)
    # The surrogate gradient (1.6) does not lead BFGS to the noise level: e^{tA} is unitary
    # and nothing damps the commutator terms it drops.
    assert result.surrogate_fit[0].fun > 100 * result.noise_floor
    assert result.parameter_error(result.surrogate_fit[0].x) > 100 * result.parameter_error(
        exact.x)


def test_quantum_toy_surrogate_is_exact_only_as_t_goes_to_zero(quantum):
    _, result = quantum
    # ∇_J e^{tA}x - t e^{tA}Jx = ∫_0^t e^{(t-s)A}[J, e^{sA}]x ds = O(t²) against O(t).
    assert result.surrogate_error[0] < result.surrogate_error[-1]
    assert result.gradient_cosine < 1
