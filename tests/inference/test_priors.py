"""Function-space priors: the Gaussian random field's square root, precision and variance
against dense linear algebra, its correlation length in the documented terms and independent
of the mesh, its draws' statistics within Monte Carlo error; the spectral prior; blocks."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens import Grid
from advdiff_sens.inference import (BlockGaussian, GaussianRandomField, PowerLawSpectrum,
                                    StreamFunctionBasis, spectral_prior)
from advdiff_sens.sampling import DiagonalGaussian


def dense(operator, n):
    return np.stack([operator(e) for e in np.eye(n)], axis=1)


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_square_root_precision_and_variance_against_dense_algebra(bc):
    grid = Grid((14, 10), (1.0, 1.0), bc)
    mean = np.random.default_rng(0).standard_normal(grid.shape)
    prior = GaussianRandomField(grid, std=0.7, correlation_length=0.25, mean=mean)
    root, root_t = dense(prior.sqrt_cov, grid.n), dense(prior.sqrt_cov_transpose, grid.n)
    assert np.allclose(root_t, root.T, rtol=0, atol=1e-14)
    C = root @ root.T
    assert np.allclose(dense(prior.covariance, grid.n), C, rtol=0, atol=1e-14)
    assert np.allclose(dense(prior.precision, grid.n) @ C, np.eye(grid.n), atol=1e-10)
    assert np.allclose(prior.pointwise_variance(), np.diag(C), rtol=1e-12)
    x = prior.sample(rng=1)
    assert np.allclose(prior.mean + prior.sqrt_cov(prior.whiten(x)), x, atol=1e-12)
    assert prior.neg_log_density(x) == pytest.approx(
        0.5 * (x - prior.mean) @ np.linalg.solve(C, x - prior.mean), rel=1e-9)
    if bc == "periodic":
        assert np.allclose(np.diag(C), 0.49, rtol=1e-12)       # σ² exactly, everywhere
    else:
        centre = np.ravel_multi_index((7, 5), grid.shape)
        assert C[centre, centre] == pytest.approx(0.49, rel=1e-12)


@pytest.mark.parametrize("shape", [(64, 64), (128, 128)])
def test_correlation_at_the_correlation_length_is_matern_and_mesh_independent(shape):
    """Matérn ν = 1 (α = 2, d = 2) with ρ = √(8ν γ): correlation ρ_M(r) = (r/ℓ)K₁(r/ℓ),
    ℓ = ρ/√8, which is 0.1397 at r = ρ (continuum); the grid field has a period of 1, whose
    images add e^{-√8/0.2}-small corrections."""
    from scipy.special import k1
    grid = Grid(shape)
    rho = 0.25
    prior = GaussianRandomField(grid, 1.0, rho)
    e = np.zeros(grid.n)
    e[0] = 1.0
    column = prior.covariance(e).reshape(shape)
    lag = int(round(rho * shape[0]))
    s = np.sqrt(8) * lag / shape[0] / rho
    # discretisation error of the Laplacian: O(h²/ℓ²) ≈ (1/64 / 0.088)² ≈ 3e-2 at 64²
    assert column[lag, 0] == pytest.approx(s * k1(s), abs=4e-2 * (64 / shape[0]) ** 2)


def test_draws_have_the_pointwise_variance_within_monte_carlo_error():
    grid = Grid((32, 32))
    prior = GaussianRandomField(grid, 0.3, 0.1)
    draws = prior.sample(rng=2, size=400)
    # the node-averaged sample variance; its sd from the draws' independence across samples
    per_draw = np.mean(draws**2, axis=1)
    assert per_draw.mean() == pytest.approx(0.09, abs=4 * per_draw.std() / np.sqrt(400))


def test_spectral_prior_and_blocks():
    grid = Grid((16, 16))
    basis = StreamFunctionBasis(grid, kmax=8)
    prior = spectral_prior(basis, PowerLawSpectrum(0.5, 2.0))
    k = np.linalg.norm(basis.wavevectors, axis=1)
    assert basis.n_params == 196 and np.allclose(prior.std, 0.5 * k**-2.0)
    user = spectral_prior(basis, lambda kk: np.exp(-kk))
    assert np.allclose(user.std, np.exp(-k))
    with pytest.raises(ValueError, match="positive finite"):
        spectral_prior(basis, lambda kk: -kk)
    blocks = BlockGaussian([prior, DiagonalGaussian([1.0], 2.0)])
    z = np.random.default_rng(3).standard_normal(197)
    assert np.allclose(blocks.sqrt_cov(z)[:196], prior.sqrt_cov(z[:196]))
    assert blocks.sqrt_cov(z)[196] == pytest.approx(2 * z[196])
    assert np.allclose(blocks.precision(blocks.covariance(z)), z)


def test_field_validation():
    grid = Grid((8, 8))
    with pytest.raises(ValueError, match="exceed ndim/2"):
        GaussianRandomField(grid, 1.0, 0.1, alpha=1)
    with pytest.raises(ValueError, match="even"):
        GaussianRandomField(Grid((8, 8), (1.0, 1.0), "neumann"), 1.0, 0.1, alpha=3)
    with pytest.raises(ValueError, match="std"):
        GaussianRandomField(grid, -1.0, 0.1)
