"""The numbers of the matrix-level examples (Theorem 2.1, high dimensions, quantum toy) at
quick size."""

from __future__ import annotations

import numpy as np
import pytest
from example_loader import load_example

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
