"""The case table and the per-case seeds."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens.ensemble import CaseTable, case_seeds


def test_product_and_zip_tables():
    table = CaseTable.product(amplitude=[0.5, 1.0, 2.0], kappa=[0.01, 0.02])
    assert len(table) == 6
    assert table[5].parameters == {"amplitude": 2.0, "kappa": 0.02}
    assert [c.index for c in table] == list(range(6))
    zipped = CaseTable.zip(kx=[1, 2], ky=[0, 1])
    assert [c.parameters for c in zipped] == [{"kx": 1, "ky": 0}, {"kx": 2, "ky": 1}]
    assert table == CaseTable.product(amplitude=[0.5, 1.0, 2.0], kappa=[0.01, 0.02])
    assert table != zipped


@pytest.mark.parametrize("build, message", [
    (lambda: CaseTable([]), "at least one case"),
    (lambda: CaseTable([{"a": 1}, {"a": 2}], ids=["x", "x"]), "appears twice"),
    (lambda: CaseTable([{"a": 1}], ids=["../up"]), "names the result file"),
    (lambda: CaseTable.zip(a=[1, 2], b=[1]), "one length"),
    (lambda: CaseTable([{"a": float("nan")}]), "finite"),
])
def test_bad_tables_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_boolean_parameter_is_refused():
    with pytest.raises(TypeError, match="boolean"):
        CaseTable([{"flag": True}])


def test_each_case_has_its_own_stream_fixed_by_its_row():
    seeds = case_seeds(11, 4)
    draws = [np.random.default_rng(s).standard_normal(3) for s in seeds]
    again = [np.random.default_rng(s).standard_normal(3) for s in reversed(case_seeds(11, 4))]
    assert all(np.array_equal(a, b) for a, b in zip(draws, reversed(again)))
    assert not np.array_equal(draws[0], draws[1])
    other = np.random.default_rng(case_seeds(12, 4)[0]).standard_normal(3)
    assert not np.array_equal(draws[0], other)
