"""The norms the propagators and adjoints share, dense and sparse alike."""

import numpy as np
import pytest
import scipy.sparse as sp

from advdiff_sens.matrix.norms import (is_normal, norm1, norm2_bound, shifted_norm1,
                                       stored_entries, trace)


@pytest.mark.parametrize("convert", [np.asarray, sp.csr_array], ids=["dense", "sparse"])
def test_norms_against_numpy(convert, rng):
    A = rng.standard_normal((7, 7))
    M = convert(A)
    assert norm1(M) == pytest.approx(np.linalg.norm(A, 1), rel=1e-15)
    assert np.linalg.norm(A, 2) <= norm2_bound(M) * (1 + 1e-15)
    assert norm2_bound(M) == pytest.approx(np.sqrt(np.linalg.norm(A, 1) * np.linalg.norm(A, np.inf)),
                                           rel=1e-15)
    mu = np.trace(A) / 7
    assert shifted_norm1(M) == pytest.approx(np.linalg.norm(A - mu * np.eye(7), 1), rel=1e-15)
    assert trace(M) == pytest.approx(np.trace(A), rel=1e-15)
    assert stored_entries(M) == 49
    assert not is_normal(M) and is_normal(convert(A + A.T))


def test_norms_refuse_what_is_not_a_matrix():
    with pytest.raises(ValueError, match="2-D ndarray or scipy sparse matrix, got shape \\(3,\\)"):
        norm1(np.ones(3))
    with pytest.raises(ValueError, match="square"):
        shifted_norm1(np.ones((2, 3)))
