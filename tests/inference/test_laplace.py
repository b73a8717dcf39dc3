"""The randomized eigensolver (against numpy.linalg.eigh and the Halko–Martinsson–Tropp
bounds) and the low-rank and dense Laplace approximations (against the closed-form posterior
of a linear-Gaussian model, against each other, and with the truncation error the dropped
eigenvalues predict)."""

import warnings
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from advdiff_sens.exceptions import (AccuracyWarning, FitWarning,  # noqa: E402
                                     NonFiniteResultError)
from advdiff_sens.inference import (DenseLaplace, LaplaceApproximation, LowRankLaplace,  # noqa: E402
                                    NewtonCG, laplace_approximation, randomized_eigh)
from advdiff_sens.plotting import laplace_spectrum  # noqa: E402
from advdiff_sens.sampling import DenseGaussian, DiagonalGaussian, GaussianReference  # noqa: E402


class ExplicitPosterior:
    """The posterior protocol for Ψ(c) = ½|(F(c) − d)/σ|² + ½|C^{-1/2}(c − m)|², counting its
    linearisations and products."""

    def __init__(self, forward, jacobian, data, noise_std, prior):
        self.forward, self.jacobian, self.prior = forward, jacobian, prior
        self.data, self.noise_std = np.asarray(data, dtype=float), noise_std
        self.counts = {"linearise": 0, "hessian": 0, "misfit_hessian": 0}

    @property
    def n_params(self):
        return self.prior.dim

    @property
    def n_data(self):
        return self.data.size

    def linearise(self, c):
        self.counts["linearise"] += 1
        c = np.array(c, dtype=float)
        r = (self.forward(c) - self.data) / self.noise_std
        G = self.jacobian(c) / self.noise_std
        z = self.prior.whiten(c)

        def misfit_hessian(v):
            self.counts["misfit_hessian"] += 1
            return G.T @ (G @ v)

        def hessian(v):
            self.counts["hessian"] += 1
            return G.T @ (G @ v) + self.prior.precision(v)

        return SimpleNamespace(point=c, value=0.5 * float(r @ r + z @ z), misfit=0.5 * float(r @ r),
                               gradient=G.T @ r + self.prior.precision(c - self.prior.mean),
                               misfit_hessian=misfit_hessian, hessian=hessian)


def correlated_prior(mean, length=0.2):
    x = np.linspace(0, 1, len(mean))
    cov = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / length**2) + 1e-2 * np.eye(len(mean))
    return DenseGaussian(mean, cov)


def dense(apply, p):
    """The matrix of a linear map of (p,) vectors."""
    return np.stack([apply(e) for e in np.eye(p)], axis=1)


P, N, SIGMA = 40, 8, 0.1


@pytest.fixture
def linear():
    """A linear-Gaussian model F(c) = Ac with its closed-form posterior (Kalman form)."""
    rng = np.random.default_rng(7)
    A = rng.standard_normal((N, P)) / np.sqrt(P) * np.geomspace(1, 0.05, N)[:, None]
    prior = correlated_prior(np.sin(np.linspace(0, 3, P)))
    d = A @ prior.sample(rng) + SIGMA * rng.standard_normal(N)
    post = ExplicitPosterior(lambda c: A @ c, lambda c: A, d, SIGMA, prior)
    C = dense(prior.covariance, P)
    gain = C @ A.T @ np.linalg.inv(A @ C @ A.T + SIGMA**2 * np.eye(N))
    mean = prior.mean + gain @ (d - A @ prior.mean)
    cov = C - gain @ A @ C
    H = A.T @ A / SIGMA**2 + np.linalg.inv(C)
    return SimpleNamespace(post=post, A=A, d=d, prior=prior, C=C, mean=mean, cov=cov, H=H)


def build(posterior, c, kind, **kwargs):
    return laplace_approximation(posterior, c, dense=(kind == "dense"), rng=0, **kwargs)


# --- randomized_eigh -----------------------------------------------------------------------

def _operator(eigenvalues, seed=0):
    n = len(eigenvalues)
    U = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]
    return U @ np.diag(eigenvalues) @ U.T, U


@pytest.mark.parametrize("oversampling", [0, 10])
def test_eigh_is_exact_for_an_operator_of_rank_at_most_rank(oversampling):
    values = np.zeros(60)
    values[:5] = [50.0, 10.0, 3.0, 1.0, 0.2]
    A, U = _operator(values)
    calls = []
    vals, vecs = randomized_eigh(lambda v: calls.append(1) or A @ v, 60, 5,
                                 oversampling=oversampling, rng=1)
    assert len(calls) == 2 * (5 + oversampling)                     # double pass, ℓ columns
    np.testing.assert_allclose(vals, values[:5], rtol=1e-11)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(5), atol=1e-13)
    np.testing.assert_allclose(vecs @ vecs.T, U[:, :5] @ U[:, :5].T, atol=1e-11)


def test_ritz_values_never_exceed_the_eigenvalues():
    values = 1.0 / np.arange(1, 101) ** 1.5
    A, _ = _operator(values, seed=3)
    for seed in range(5):
        vals, _ = randomized_eigh(lambda v: A @ v, 100, 8, oversampling=4, rng=seed)
        assert np.all(vals <= values[:8] + 1e-13)                    # Cauchy interlacing
        assert np.all(np.diff(vals) <= 0)


def hmt_bound(values, rank, oversampling):
    """E‖A − Â_r‖₂ ≤ λ_{r+1} + 2[(1 + √(r/(s−1)))λ_{r+1} + e√(r+s)/s (Σ_{j>r} λ_j²)^½]
    (HMT 2011 Theorem 10.6, and ‖A − QQᵀAQQᵀ‖ ≤ 2‖A − QQᵀA‖ of §5.3)."""
    k, s = rank, oversampling
    tail = values[k:]
    return tail[0] + 2 * ((1 + np.sqrt(k / (s - 1))) * tail[0]
                          + np.e * np.sqrt(k + s) / s * np.sqrt(np.sum(tail**2)))


def mean_error(A, rank, oversampling, seeds=20):
    errors = []
    for seed in range(seeds):
        vals, vecs = randomized_eigh(lambda v: A @ v, A.shape[0], rank, oversampling=oversampling,
                                     rng=seed)
        errors.append(np.linalg.norm(A - vecs @ np.diag(vals) @ vecs.T, 2))
    return np.array(errors)


def test_eigh_error_is_within_the_hmt_bound_and_decays_with_oversampling():
    values = 0.8 ** np.arange(200)
    A, _ = _operator(values, seed=4)
    rank = 10
    means = []
    for s in (2, 5, 10, 20):
        errors = mean_error(A, rank, s)
        assert np.all(errors >= values[rank] * (1 - 1e-10))         # Eckart–Young: best is λ_{r+1}
        assert errors.mean() <= hmt_bound(values, rank, s)
        means.append(errors.mean())
    assert np.all(np.diff(means) < 0), means


def test_eigh_error_decays_with_the_spectral_gap():
    # λ_j = 1 for j ≤ r, ε·0.9^j beyond: the bound, and the error, scale with ε
    rank, s = 10, 5
    for eps in (1e-2, 1e-4, 1e-6):
        values = np.concatenate([np.ones(rank), eps * 0.9 ** np.arange(150)])
        A, _ = _operator(values, seed=5)
        errors = mean_error(A, rank, s, seeds=10)
        assert eps <= errors.mean() * (1 + 1e-8) and errors.mean() <= hmt_bound(values, rank, s)


def test_eigh_validates_and_warns():
    A = np.diag([3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="rank must be <= dim = 3"):
        randomized_eigh(lambda v: A @ v, 3, 4)
    with pytest.raises(ValueError, match="oversampling must be >= 0"):
        randomized_eigh(lambda v: A @ v, 3, 2, oversampling=-1)
    with pytest.raises(NonFiniteResultError, match="product 1 is not finite"):
        randomized_eigh(lambda v: np.full(3, np.nan), 3, 2)
    with pytest.warns(AccuracyWarning, match="not symmetric"):
        randomized_eigh(lambda v: np.triu(np.ones((3, 3))) @ v, 3, 3)
    with pytest.warns(AccuracyWarning, match="not positive semi-definite"):
        randomized_eigh(lambda v: np.diag([1.0, -1.0, 0.5]) @ v, 3, 3)

    class Meter:
        def __init__(self):
            self.done = []

        def update(self, done, extra=""):
            self.done.append(done)

        def close(self):
            pass

    meter = Meter()
    randomized_eigh(lambda v: A @ v, 3, 1, oversampling=1, progress=meter)
    assert meter.done == [1, 2, 3, 4]


# --- the Laplace approximation of a linear-Gaussian model -----------------------------------

@pytest.mark.parametrize("kind", ["low-rank", "dense"])
def test_linear_gaussian_laplace_is_the_exact_posterior(linear, kind):
    c_map = NewtonCG(rtol=1e-13).minimise(linear.post, linear.prior.mean).coefficients
    np.testing.assert_allclose(c_map, linear.mean, rtol=1e-9, atol=1e-9)
    lap = build(linear.post, c_map, kind)
    assert isinstance(lap, LaplaceApproximation) and isinstance(lap, GaussianReference)
    assert type(lap) is (DenseLaplace if kind == "dense" else LowRankLaplace)
    scale = np.max(np.abs(linear.C))
    np.testing.assert_allclose(dense(lap.covariance, P), linear.cov, atol=1e-10 * scale)
    np.testing.assert_allclose(lap.pointwise_variance(), np.diag(linear.cov), atol=1e-10 * scale)
    np.testing.assert_array_equal(lap.mean, c_map)


@pytest.mark.parametrize("kind", ["low-rank", "dense"])
def test_laplace_is_a_gaussian_reference_of_the_posterior(linear, kind):
    lap = build(linear.post, linear.mean, kind)
    S = dense(lap.sqrt_cov, P)
    np.testing.assert_allclose(S @ S.T, linear.cov, atol=1e-10 * np.max(np.abs(linear.C)))
    np.testing.assert_allclose(dense(lap.sqrt_cov_transpose, P), S.T, atol=1e-12)
    z = np.random.default_rng(1).standard_normal(P)
    np.testing.assert_allclose(lap.whiten(lap.mean + S @ z), z, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(dense(lap.unwhiten_transpose, P), np.linalg.inv(S.T),
                               rtol=1e-8, atol=1e-8 * np.max(np.abs(linear.H)))
    np.testing.assert_allclose(dense(lap.precision, P), linear.H, rtol=1e-8,
                               atol=1e-9 * np.max(np.abs(linear.H)))
    x = lap.mean + z
    assert lap.neg_log_density(x) == pytest.approx(0.5 * z @ linear.H @ z, rel=1e-8)


def test_laplace_samples_have_the_posterior_moments(linear):
    lap = build(linear.post, linear.mean, "low-rank")
    n = 4000
    draws = lap.sample(rng=2, size=n)
    sd = np.sqrt(np.diag(linear.cov))
    # independent draws: MCSE of the mean sd/√n, of the variance ≈ σ²√(2/n)
    assert np.all(np.abs(draws.mean(axis=0) - linear.mean) <= 4.5 * sd / np.sqrt(n))
    assert np.all(np.abs(draws.var(axis=0) / sd**2 - 1) <= 4.5 * np.sqrt(2 / n))


def test_low_rank_equals_dense_when_the_rank_covers_the_data(linear):
    low = laplace_approximation(linear.post, linear.mean, rank=N, rng=3)    # rank H̃ ≤ N
    full = laplace_approximation(linear.post, linear.mean, dense=True)
    scale = np.max(np.abs(linear.C))
    np.testing.assert_allclose(dense(low.covariance, P), dense(full.covariance, P),
                               atol=1e-10 * scale)
    np.testing.assert_allclose(low.pointwise_variance(), full.pointwise_variance(),
                               atol=1e-10 * scale)
    np.testing.assert_allclose(low.eigenvalues, full.eigenvalues[:N], rtol=1e-9)
    assert np.all(np.abs(full.eigenvalues[N:]) <= 1e-9 * full.eigenvalues[0])


def test_low_rank_truncation_error_is_that_of_the_dropped_eigenvalues(linear):
    # rank 3 of the 8 non-zero eigenvalues, with ℓ = 13 ≥ 8 random directions: the eigenpairs
    # are exact, and the covariance is too large by C^{1/2} V_⊥ D_⊥ V_⊥ᵀ C^{1/2ᵀ} exactly
    rank = 3
    with pytest.warns(FitWarning, match=r"rank 3 does not cover the spectrum: λ_4 = "):
        low = laplace_approximation(linear.post, linear.mean, rank=rank, rng=4)
    full = laplace_approximation(linear.post, linear.mean, dense=True)
    W = full.directions[:, rank:]                       # C^{1/2} v_j, j > r
    d = full.reduction_weights[rank:]
    predicted = W @ np.diag(d) @ W.T
    error = dense(low.covariance, P) - dense(full.covariance, P)
    scale = np.max(np.abs(linear.C))
    np.testing.assert_allclose(error, predicted, atol=1e-10 * scale)
    assert np.max(np.abs(predicted)) > 1e-3 * scale                  # the test can fail
    np.testing.assert_allclose(low.pointwise_variance() - full.pointwise_variance(),
                               np.diag(predicted), atol=1e-10 * scale)
    assert low.dropped_eigenvalue == pytest.approx(full.eigenvalues[rank], rel=1e-9)


def test_information_measures_against_the_dense_closed_forms(linear):
    lap = build(linear.post, linear.mean, "low-rank")
    sign_h, logdet_h = np.linalg.slogdet(linear.H)
    sign_c, logdet_c = np.linalg.slogdet(linear.C)
    assert sign_h == sign_c == 1
    eig = 0.5 * (logdet_h + logdet_c)                     # ½ log det(I + H̃) = ½ log det(HC)
    assert lap.expected_information_gain == pytest.approx(eig, rel=1e-9)
    diff = linear.mean - linear.prior.mean
    kl = 0.5 * (np.trace(np.linalg.solve(linear.C, linear.cov)) - P
                + logdet_c - np.linalg.slogdet(linear.cov)[1]
                + diff @ np.linalg.solve(linear.C, diff))
    assert lap.kl_divergence() == pytest.approx(kl, rel=1e-8)
    assert lap.variance_trace_ratio == pytest.approx(np.trace(linear.cov) / np.trace(linear.C),
                                                     rel=1e-10)
    dense_lap = build(linear.post, linear.mean, "dense")
    assert dense_lap.expected_information_gain == pytest.approx(eig, rel=1e-9)
    assert dense_lap.kl_divergence() == pytest.approx(kl, rel=1e-8)


def test_expected_information_gain_is_the_mean_kl_over_the_data(linear):
    # EIG = E_d KL(π(c|d) ‖ π(c)) for a linear-Gaussian model: average the KL of the exact
    # posteriors (same covariance, mean ĉ(d)) over d = Ac + ε from the prior predictive
    lap = build(linear.post, linear.mean, "low-rank")
    rng = np.random.default_rng(5)
    C = linear.C
    gain = C @ linear.A.T @ np.linalg.inv(linear.A @ C @ linear.A.T + SIGMA**2 * np.eye(N))
    kls = []
    for _ in range(2000):
        d = linear.A @ linear.prior.sample(rng) + SIGMA * rng.standard_normal(N)
        mean = linear.prior.mean + gain @ (d - linear.A @ linear.prior.mean)
        kls.append(LowRankLaplace(mean, linear.prior, lap.eigenvalues, lap.eigenvectors,
                                  dropped_eigenvalue=0.0).kl_divergence())
    kls = np.array(kls)
    mcse = kls.std(ddof=1) / np.sqrt(kls.size)
    assert abs(kls.mean() - lap.expected_information_gain) <= 4 * mcse


@pytest.mark.parametrize("kind", ["low-rank", "dense"])
def test_variance_of_a_linear_image(linear, kind):
    lap = build(linear.post, linear.mean, kind)
    B = np.random.default_rng(6).standard_normal((3, 5, P))         # an image of shape (3, 5)
    apply = lambda c: B @ c                                          # noqa: E731
    prior_var = np.einsum("ijp,pq,ijq->ij", B, linear.C, B)
    np.testing.assert_allclose(lap.variance_of(apply, prior_var),
                               np.einsum("ijp,pq,ijq->ij", B, linear.cov, B),
                               rtol=1e-8, atol=1e-10 * np.max(prior_var))
    with pytest.raises(ValueError, match=r"apply\(c\) has shape \(3, 5\)"):
        lap.variance_of(apply, prior_var.ravel())


# --- laplace_approximation: choices, counts, warnings --------------------------------------

def test_products_counted(linear):
    post = linear.post
    laplace_approximation(post, linear.mean, rank=5, oversampling=4, rng=0)
    # λ_{r+1} for the coverage check comes from the same ℓ = r + oversampling directions
    assert post.counts == {"linearise": 1, "hessian": 0, "misfit_hessian": 2 * (5 + 4)}
    post.counts.update(linearise=0, misfit_hessian=0)
    with pytest.warns(FitWarning):
        laplace_approximation(post, linear.mean, rank=2, oversampling=0, rng=0)   # λ_2 checked
    assert post.counts["misfit_hessian"] == 2 * 2
    post.counts.update(linearise=0, misfit_hessian=0)
    laplace_approximation(post, linear.mean, dense=True)
    assert post.counts == {"linearise": 1, "hessian": P, "misfit_hessian": 0}


def test_dense_auto_compares_the_product_counts(linear):
    # p = 40 products against 2ℓ = 2·min(8 + 10, 40) = 36: the low-rank one is cheaper
    assert type(laplace_approximation(linear.post, linear.mean, dense="auto", rng=0)) \
        is LowRankLaplace
    A = np.random.default_rng(8).standard_normal((8, 12))
    prior = DiagonalGaussian(np.zeros(12), 1.0)
    small = ExplicitPosterior(lambda c: A @ c, lambda c: A, np.zeros(8), 1.0, prior)
    assert type(laplace_approximation(small, np.zeros(12), dense="auto")) is DenseLaplace


def test_full_rank_is_silent_and_covers_everything(linear):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lap = laplace_approximation(linear.post, linear.mean, rng=0)     # rank = N
    assert lap.rank == N and lap.dropped_eigenvalue <= 1e-9 * lap.eigenvalues[0]


def test_a_point_that_is_not_a_map_warns(linear):
    with pytest.warns(FitWarning, match=r"c_map is not a MAP: the Newton decrement"):
        laplace_approximation(linear.post, linear.prior.mean, rng=0)


def test_nonlinear_low_rank_matches_dense_at_the_newton_map():
    rng = np.random.default_rng(9)
    A, B = rng.standard_normal((N, P)) / np.sqrt(P), rng.standard_normal((N, P)) / np.sqrt(P)
    prior = correlated_prior(np.zeros(P))
    d = A @ prior.sample(rng) + 0.5 * (B @ prior.sample(rng)) ** 2 + SIGMA * rng.standard_normal(N)
    post = ExplicitPosterior(lambda c: A @ c + 0.5 * (B @ c) ** 2,
                             lambda c: A + (B @ c)[:, None] * B, d, SIGMA, prior)
    c_map = NewtonCG(rtol=1e-12).minimise(post, np.zeros(P)).coefficients
    low = laplace_approximation(post, c_map, rng=0)
    full = laplace_approximation(post, c_map, dense=True)
    np.testing.assert_allclose(dense(low.covariance, P), dense(full.covariance, P),
                               atol=1e-10 * np.max(np.abs(dense(prior.covariance, P))))
    assert low.expected_information_gain == pytest.approx(full.expected_information_gain,
                                                          rel=1e-9)


def test_asymmetric_hessian_products_warn(linear):
    post = linear.post
    lin = post.linearise
    skew = np.triu(np.ones((P, P)), 1) * 1e-3

    def skewed(c):
        out = lin(c)
        hessian = out.hessian
        out.hessian = lambda v: hessian(v) + skew @ v
        return out

    post.linearise = skewed
    with pytest.warns(AccuracyWarning, match="Hessian products are not symmetric"):
        laplace_approximation(post, linear.mean, dense=True)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rank": 0}, ValueError, "rank must be >= 1"),
    ({"rank": P + 1}, ValueError, f"rank must be <= n_params = {P}"),
    ({"rank": 2.0}, TypeError, "rank must be an integer"),
    ({"dense": "yes"}, ValueError, "dense must be True, False or 'auto'"),
    ({"oversampling": -1}, ValueError, "oversampling must be >= 0"),
])
def test_laplace_approximation_validates(linear, kwargs, error, match):
    with pytest.raises(error, match=match):
        laplace_approximation(linear.post, linear.mean, **kwargs)


def test_constructors_validate():
    prior = DiagonalGaussian(np.zeros(3), 1.0)
    e = np.eye(3)[:, :2]
    with pytest.raises(ValueError, match="descending"):
        LowRankLaplace(np.zeros(3), prior, [1.0, 2.0], e)
    with pytest.raises(ValueError, match="orthonormal"):
        LowRankLaplace(np.zeros(3), prior, [2.0, 1.0], 2 * e)
    with pytest.raises(ValueError, match=">= 0"):
        LowRankLaplace(np.zeros(3), prior, [2.0, -1.0], e)
    with pytest.raises(ValueError, match=r"eigenvectors must have shape \(3, 2\)"):
        LowRankLaplace(np.zeros(3), prior, [2.0, 1.0], np.eye(3))
    with pytest.raises(TypeError, match="prior must be a GaussianReference"):
        LowRankLaplace(np.zeros(3), np.ones(3), [2.0, 1.0], e)
    with pytest.raises(ValueError, match="symmetric"):
        DenseLaplace(np.zeros(3), np.triu(np.ones((3, 3))), prior)
    with pytest.raises(ValueError, match="positive definite"):
        DenseLaplace(np.zeros(3), -np.eye(3), prior)


# --- the spectrum figure -------------------------------------------------------------------

def test_laplace_spectrum_figure():
    ax = laplace_spectrum([30.0, 4.0, 0.5, 0.0])
    try:
        assert ax.get_yscale() == "log"
        points = ax.lines[0].get_xydata()
        np.testing.assert_array_equal(points, [[1, 30.0], [2, 4.0], [3, 0.5]])   # 0 not drawn
        assert any(np.all(np.asarray(line.get_ydata()) == 1.0) for line in ax.lines[1:])
        assert ax.get_xlabel() and "eigenvalue" in ax.get_ylabel()
        assert "2 of 4" in ax.get_title()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["eigenvalues", "λ = 1 (data = prior)"]
    finally:
        plt.close("all")
    with pytest.raises(ValueError, match=">= 0"):
        laplace_spectrum([1.0, -1.0])
    with pytest.raises(ValueError, match="non-empty finite"):
        laplace_spectrum([])
