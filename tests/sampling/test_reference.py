"""Gaussian references N(m, C): the square-root maps against dense linear algebra, the derived
actions (covariance, precision, variances, log-density), draws within Monte Carlo error, the
generic defaults of a subclass that implements only the abstract maps, and the checks.

Exact identities are compared at rounding level (rtol 1e-12 for p ≤ 20, condition numbers
≤ 1e3); draws of N(m, C) are compared with |mean − m| ≤ 4 sd/√n and
|Ĉ_ij − C_ij| ≤ 4 √((C_ii C_jj + C_ij²)/n), the large-sample sd of a sample covariance.
"""

import doctest

import numpy as np
import pytest

from advdiff_sens.sampling import DenseGaussian, DiagonalGaussian, GaussianReference
from advdiff_sens.sampling import reference

P = 6
RNG = np.random.default_rng(20)
MEAN = RNG.standard_normal(P)
A = RNG.standard_normal((P, P))
COV = A @ A.T / P + 0.5 * np.eye(P)
STD = np.array([0.5, 1.0, 2.0, 0.1, 3.0, 1.5])


def matrix_of(f, p=P):
    """The matrix of the linear map f, column by column."""
    return np.stack([f(e) for e in np.eye(p)], axis=1)


class SqrtOnly(GaussianReference):
    """A reference that implements only the abstract maps (a dense factor R, C = RRᵀ): every
    other method is the ABC's generic default."""

    def __init__(self, mean, factor):
        self._mean, self.R = np.asarray(mean, float), np.asarray(factor, float)

    @property
    def mean(self):
        return self._mean

    def sqrt_cov(self, z):
        return self.R @ z

    def sqrt_cov_transpose(self, x):
        return self.R.T @ x

    def whiten(self, x):
        return np.linalg.solve(self.R, x - self._mean)


# a non-triangular square root: the defaults must not assume a Cholesky factor
FACTOR = np.linalg.cholesky(COV) @ np.linalg.qr(RNG.standard_normal((P, P)))[0]

REFERENCES = {
    "diagonal": (DiagonalGaussian(MEAN, STD), np.diag(STD**2)),
    "dense": (DenseGaussian(MEAN, COV), COV),
    "sqrt-only": (SqrtOnly(MEAN, FACTOR), COV),
}


@pytest.fixture(params=list(REFERENCES), ids=list(REFERENCES))
def case(request):
    return REFERENCES[request.param]


def test_square_root_maps_factor_the_covariance(case):
    ref, C = case
    L = matrix_of(ref.sqrt_cov)
    np.testing.assert_allclose(L @ L.T, C, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(matrix_of(ref.sqrt_cov_transpose), L.T, rtol=1e-12, atol=1e-14)
    assert ref.dim == P
    np.testing.assert_array_equal(ref.mean, MEAN)


def test_whiten_inverts_the_affine_map(case):
    ref, _ = case
    z = RNG.standard_normal(P)
    np.testing.assert_allclose(ref.whiten(ref.mean + ref.sqrt_cov(z)), z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ref.whiten(ref.mean), 0.0, atol=0)


def test_derived_actions_match_dense_linear_algebra(case):
    ref, C = case
    x = RNG.standard_normal(P)
    L = matrix_of(ref.sqrt_cov)
    np.testing.assert_allclose(ref.covariance(x), C @ x, rtol=1e-12)
    np.testing.assert_allclose(ref.precision(x), np.linalg.solve(C, x), rtol=1e-10)
    np.testing.assert_allclose(ref.unwhiten_transpose(x), np.linalg.solve(L.T, x), rtol=1e-10)
    np.testing.assert_allclose(ref.pointwise_variance(), np.diag(C), rtol=1e-12)
    d = x - MEAN
    assert ref.neg_log_density(x) == pytest.approx(0.5 * d @ np.linalg.solve(C, d), rel=1e-12)


def test_draws_have_the_mean_and_covariance_within_monte_carlo_error(case):
    ref, C = case
    n = 4000
    draws = ref.sample(rng=1, size=n)
    assert draws.shape == (n, P) and ref.sample(rng=1).shape == (P,)
    sd = np.sqrt(np.diag(C))
    assert np.all(np.abs(draws.mean(axis=0) - MEAN) <= 4 * sd / np.sqrt(n))
    sample_cov = np.cov(draws, rowvar=False)
    tol = 4 * np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
    assert np.all(np.abs(sample_cov - C) <= tol)


def test_draws_follow_rng():
    ref = DenseGaussian(MEAN, COV)
    np.testing.assert_array_equal(ref.sample(rng=3, size=5), ref.sample(rng=3, size=5))
    np.testing.assert_array_equal(ref.sample(rng=np.random.default_rng(3), size=5),
                                  ref.sample(rng=3, size=5))
    assert not np.array_equal(ref.sample(rng=3), ref.sample(rng=4))


def test_precision_keeps_small_directions_under_a_large_mean():
    """A direction x far below |m|: the exact overrides keep every digit; the generic default
    (whiten(x + m)) loses those below the rounding of m, as documented."""
    mean = np.full(P, 1e8)
    x = np.linspace(1e-3, 6e-3, P)
    exact = np.linalg.solve(COV, x)
    np.testing.assert_allclose(DiagonalGaussian(mean, STD).precision(x), x / STD**2, rtol=1e-14)
    np.testing.assert_allclose(DenseGaussian(mean, COV).precision(x), exact, rtol=1e-12)
    generic = SqrtOnly(mean, FACTOR).precision(x)
    assert np.max(np.abs(generic - exact) / np.abs(exact)) > 1e-8


def test_covariance_with_rounding_asymmetry_is_accepted():
    """QΛQᵀ is symmetric only up to rounding (measured |C − Cᵀ| ~ 4e-17 at p = 50)."""
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.standard_normal((50, 50)))[0]
    C = q @ np.diag(np.linspace(0.01, 1.0, 50)) @ q.T
    assert not np.array_equal(C, C.T)
    ref = DenseGaussian(np.zeros(50), C)
    x = rng.standard_normal(50)
    np.testing.assert_allclose(ref.covariance(x), C @ x, rtol=1e-10, atol=1e-13)


def test_scalar_std_is_used_for_every_coordinate():
    ref = DiagonalGaussian(np.zeros(3), 2.0)
    np.testing.assert_array_equal(ref.pointwise_variance(), [4.0, 4.0, 4.0])


@pytest.mark.parametrize("make, error, match", [
    (lambda: DenseGaussian(np.zeros(2), [[1.0, 0.5], [0.4, 1.0]]), ValueError, "symmetric"),
    (lambda: DenseGaussian(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]]), ValueError,
     "positive definite"),
    (lambda: DenseGaussian(np.zeros(2), np.eye(3)), ValueError, r"covariance must have shape"),
    (lambda: DenseGaussian(np.zeros(2), [[1.0, np.nan], [np.nan, 1.0]]), ValueError, "NaN"),
    (lambda: DenseGaussian(np.zeros((2, 2)), np.eye(2)), ValueError, "mean must have 1"),
    (lambda: DiagonalGaussian(np.zeros(0), 1.0), ValueError, "at least one entry"),
    (lambda: DiagonalGaussian(np.zeros(2), [1.0, 0.0]), ValueError, "std must be > 0"),
    (lambda: DiagonalGaussian(np.zeros(3), [1.0, 2.0]), ValueError, r"std must be a scalar"),
    (lambda: DiagonalGaussian(np.zeros(2), "wide"), TypeError, "std"),
], ids=["asymmetric", "indefinite", "shape", "nan", "mean-2d", "empty", "zero-std",
        "std-shape", "std-type"])
def test_bad_references_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_vectors_of_the_wrong_shape_are_named():
    ref = DenseGaussian(MEAN, COV)
    with pytest.raises(ValueError, match=r"z must have shape \(6,\)"):
        ref.sqrt_cov(np.ones(5))
    with pytest.raises(ValueError, match=r"x must have shape \(6,\)"):
        ref.whiten(np.ones((6, 1)))


def test_the_abstract_maps_are_required():
    class MeanOnly(GaussianReference):
        @property
        def mean(self):
            return np.zeros(2)

    with pytest.raises(TypeError, match="abstract"):
        MeanOnly()


def test_repr_names_the_dimension():
    assert repr(DenseGaussian(MEAN, COV)) == "DenseGaussian(dim=6)"
    assert repr(DiagonalGaussian(MEAN, STD)) == "DiagonalGaussian(dim=6)"


def test_examples_in_docstrings_run():
    outcome = doctest.testmod(reference, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0
