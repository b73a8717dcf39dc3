"""Inexact Newton-CG (hIPPYlib's method) and its Steihaug CG, on toy posteriors with an explicit
forward map: convergence rates from the theory (quadratic at a zero-residual optimum with tight
forcing, order 1.5 with Eisenstat–Walker forcing, the Gauss–Newton linear rate otherwise), the
same MAP as scipy, the stopping rules, the counts, the failures."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.optimize import minimize

from advdiff_sens.exceptions import FitWarning, NonFiniteResultError
from advdiff_sens.inference import (GLOBALISATIONS, LBFGS, OPTIMIZERS, ArmijoLineSearch,
                                    NewtonCG, OptimiserResult, SteihaugTrustRegion,
                                    steihaug_cg)
from advdiff_sens.sampling import DenseGaussian, DiagonalGaussian


class LeastSquaresPosterior:
    """Ψ(c) = ½|(F(c) − d)/σ|² + ½|C^{-1/2}(c − m)|² for an explicit F with Jacobian J: the
    posterior protocol of NewtonCG, counting its linearisations and Hessian products."""

    def __init__(self, forward, jacobian, data, noise_std, prior):
        self.forward, self.jacobian, self.prior = forward, jacobian, prior
        self.data, self.noise_std = np.asarray(data, dtype=float), noise_std
        self.counts = {"linearise": 0, "hessian": 0}

    @property
    def n_params(self):
        return self.prior.dim

    @property
    def n_data(self):
        return self.data.size

    def residual(self, c):
        return (self.forward(c) - self.data) / self.noise_std

    def misfit(self, c):
        r = self.residual(c)
        return 0.5 * float(r @ r)

    def neg_log_posterior(self, c):
        z = self.prior.whiten(c)
        return self.misfit(c) + 0.5 * float(z @ z)

    def value_and_gradient(self, c):
        G = self.jacobian(c) / self.noise_std
        return (self.neg_log_posterior(c),
                G.T @ self.residual(c) + self.prior.precision(c - self.prior.mean))

    def gauss_newton_hessian(self, c):
        G = self.jacobian(c) / self.noise_std
        return G.T @ G + np.stack([self.prior.precision(e) for e in np.eye(self.n_params)])

    def linearise(self, c):
        self.counts["linearise"] += 1
        c = np.array(c, dtype=float)
        G = self.jacobian(c) / self.noise_std
        value, gradient = self.value_and_gradient(c)

        def hessian(v):
            self.counts["hessian"] += 1
            return G.T @ (G @ v) + self.prior.precision(v)

        return SimpleNamespace(point=c, value=value, misfit=self.misfit(c), gradient=gradient,
                               misfit_hessian=lambda v: G.T @ (G @ v), hessian=hessian)


def correlated_prior(mean, length=0.3):
    """A squared-exponential prior covariance (plus a nugget) on [0, 1]: dense, correlated."""
    x = np.linspace(0, 1, len(mean))
    cov = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / length**2) + 1e-3 * np.eye(len(mean))
    return DenseGaussian(mean, cov)


def nonlinear_posterior(p=6, n=10, seed=0, zero_residual=False, gamma=0.5, noise=0.05):
    """F(c) = Ac + γ(Bc)² (elementwise square: ∇²F_i = 2γ b_i b_iᵀ) under a correlated prior;
    with ``zero_residual`` the data are F(m), so the MAP is the prior mean m with zero
    residual (the Gauss–Newton Hessian is the Hessian there)."""
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, p)) / np.sqrt(p), rng.standard_normal((n, p)) / np.sqrt(p)

    def F(c):
        return A @ c + gamma * (B @ c) ** 2

    def J(c):
        return A + 2 * gamma * (B @ c)[:, None] * B

    prior = correlated_prior(np.linspace(-0.5, 0.5, p))
    rng = np.random.default_rng(seed + 1)
    data = F(prior.mean) if zero_residual else (F(prior.sample(rng))
                                                + noise * rng.standard_normal(n))
    post = LeastSquaresPosterior(F, J, data, noise, prior)
    post.B, post.gamma = B, gamma
    return post


def c_norm(prior, g):
    return float(np.sqrt(g @ prior.covariance(g)))


def orders(norms):
    """Observed convergence orders log(g_{k+1}/g_k)/log(g_k/g_{k-1})."""
    g = np.asarray(norms)
    return np.log(g[2:] / g[1:-1]) / np.log(g[1:-1] / g[:-2])


# --- convergence rates ---------------------------------------------------------------------

def test_quadratic_convergence_at_a_zero_residual_optimum_with_tight_forcing():
    # at a zero-residual MAP the Gauss–Newton Hessian is the Hessian: Newton with (nearly)
    # exact CG steps converges quadratically, |g_{k+1}| ~ K|g_k|², order 2
    post = nonlinear_posterior(p=60, n=120, zero_residual=True)
    result = NewtonCG(eta_max=1e-10, rtol=1e-14, atol=0, cg_max_iter=600).minimise(
        post, np.ones(60))
    assert result.stop_reason == "gradient"
    g = np.asarray(result.gradient_norms)
    measured = g[g > 1e-12 * g[0]]               # above the rounding floor of the gradient
    q = orders(measured)
    assert q[-1] > 1.8 and q[-2] > 1.8, q
    np.testing.assert_allclose(result.coefficients, post.prior.mean, atol=1e-9)


def test_eisenstat_walker_forcing_gives_order_one_and_a_half_with_less_cg_work():
    # η_k = sqrt(|g_k|/|g_0|): |g_{k+1}| ≲ η_k|g_k| + K|g_k|² = O(|g_k|^1.5) — superlinear of
    # order ≥ 1.5, for far fewer CG iterations than near-exact steps (no oversolving)
    post = nonlinear_posterior(p=60, n=120, zero_residual=True)
    ew = NewtonCG(rtol=1e-14, atol=0, cg_max_iter=600).minimise(post, np.ones(60))
    tight = NewtonCG(eta_max=1e-10, rtol=1e-14, atol=0, cg_max_iter=600).minimise(
        post, np.ones(60))
    g = np.asarray(ew.gradient_norms)
    q = orders(g[g > 1e-12 * g[0]])
    assert np.all(q[-2:] > 1.4), q                 # the asymptotic regime: the last two
    assert sum(ew.cg_iterations) < 0.6 * sum(tight.cg_iterations)


def test_gauss_newton_rate_at_a_nonzero_residual_optimum_is_the_neglected_curvature():
    # with residuals r ≠ 0 at the MAP the Gauss–Newton step misses S = Σ_i r_i ∇²F_i/σ, and
    # the error contracts by the spectral radius of H_GN⁻¹S per iteration: linear convergence
    post = nonlinear_posterior(gamma=1.0, noise=0.2)
    result = NewtonCG(rtol=1e-12).minimise(post, np.full(6, 2.0))
    c = result.coefficients
    S = 2 * post.gamma / post.noise_std * post.B.T @ np.diag(post.residual(c)) @ post.B
    mu = np.sort(np.abs(np.linalg.eigvals(np.linalg.solve(post.gauss_newton_hessian(c), S))))
    rate, gap = mu[-1], mu[-2] / mu[-1]
    assert 0.1 < rate < 0.5 and gap < 0.6
    g = np.asarray(result.gradient_norms)
    taken = (g[1:] > 1e-10 * g[0]) & (np.asarray(result.step_lengths) > 0)  # above rounding
    ratios = (g[1:] / g[:-1])[taken][-3:]
    # the other error components decay relative to the dominant one by gap^k; after ten
    # iterations in the linear regime that is below 1 %
    np.testing.assert_allclose(ratios, rate, rtol=0.01)


# --- the same MAP ------------------------------------------------------------------------

def _fd_whitened_hessian(post, c, h=1e-5):
    """C^{1/2ᵀ}∇²Ψ C^{1/2} by central differences of the gradient."""
    root = np.stack([post.prior.sqrt_cov(e) for e in np.eye(post.n_params)], axis=1)
    cols = [(post.value_and_gradient(c + h * s)[1] - post.value_and_gradient(c - h * s)[1])
            / (2 * h) for s in root.T]
    M = root.T @ np.stack(cols, axis=1)
    return 0.5 * (M + M.T)


@pytest.mark.parametrize("globalisation", ["armijo", "trust-region"])
def test_armijo_and_trust_region_reach_the_scipy_map(globalisation):
    post = nonlinear_posterior()
    c0 = np.full(6, 2.0)
    ours = NewtonCG(globalisation).minimise(post, c0)
    ref = minimize(post.value_and_gradient, c0, jac=True, method="BFGS",
                   options={"gtol": 1e-9, "maxiter": 2000})
    # BFGS may end with scipy's "precision loss" at gtol 1e-9; the bound below uses its actual
    # gradient, so it holds whatever scipy reports
    assert ours.stop_reason == "gradient"
    # near the MAP |Δc|_{C⁻¹} ≤ (|g_ours|_C + |g_ref|_C)/μ, μ the smallest eigenvalue of the
    # whitened Hessian C^{1/2ᵀ}∇²Ψ C^{1/2} (strong convexity in the whitened coordinates)
    mu = np.linalg.eigvalsh(_fd_whitened_hessian(post, ours.coefficients))[0]
    assert mu > 0.5
    bound = (c_norm(post.prior, post.value_and_gradient(ours.coefficients)[1])
             + c_norm(post.prior, ref.jac)) / mu
    diff = ours.coefficients - ref.x
    assert np.sqrt(diff @ post.prior.precision(diff)) <= bound
    assert bound < 1e-3


def test_both_globalisations_agree_from_a_far_start():
    post = nonlinear_posterior()
    a = NewtonCG("armijo", rtol=1e-10).minimise(post, np.full(6, 4.0))
    b = NewtonCG(SteihaugTrustRegion(initial_radius=0.5), rtol=1e-10).minimise(
        post, np.full(6, 4.0))
    assert a.stop_reason == b.stop_reason == "gradient"
    np.testing.assert_allclose(a.coefficients, b.coefficients, atol=1e-8)
    assert b.step_lengths[0] == pytest.approx(0.5, rel=1e-10)     # CG stopped on Δ_0 = 0.5
    assert a.step_lengths[0] > 0.5


def test_linear_gaussian_map_is_the_closed_form():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 8))
    prior = correlated_prior(rng.standard_normal(8))
    d = rng.standard_normal(5)
    post = LeastSquaresPosterior(lambda c: A @ c, lambda c: A, d, 0.1, prior)
    result = NewtonCG(rtol=1e-12).minimise(post, np.zeros(8))
    C = np.stack([prior.covariance(e) for e in np.eye(8)])
    K = C @ A.T @ np.linalg.inv(A @ C @ A.T + 0.01 * np.eye(5))
    np.testing.assert_allclose(result.coefficients, prior.mean + K @ (d - A @ prior.mean),
                               atol=1e-9)
    # CG on the prior-preconditioned system I + H̃ (rank H̃ ≤ N = 5) needs ≤ N + 1 iterations
    assert max(result.cg_iterations) <= 6


# --- stopping rules ------------------------------------------------------------------------

def test_discrepancy_principle_stops_at_the_first_iterate_that_fits_the_noise():
    post = nonlinear_posterior()
    tau = 1.5
    threshold = tau**2 * post.n_data
    result = NewtonCG(discrepancy=tau).minimise(post, np.full(6, 2.0))
    assert result.stop_reason == "discrepancy"
    assert 2 * post.misfit(result.coefficients) <= threshold
    full = NewtonCG().minimise(post, np.full(6, 2.0))
    assert full.iterations > result.iterations >= 2
    with pytest.warns(FitWarning, match="max_iter"):       # the same path, one step shorter
        before = NewtonCG(max_iter=result.iterations - 1).minimise(post, np.full(6, 2.0))
    assert 2 * post.misfit(before.coefficients) > threshold


def test_gradient_stop_uses_the_prior_norm_and_rtol():
    post = nonlinear_posterior()
    rtol = 1e-6
    result = NewtonCG(rtol=rtol).minimise(post, np.full(6, 2.0))
    g = result.gradient_norms
    assert result.stop_reason == "gradient"
    assert g[-1] <= rtol * g[0] < g[-2]
    assert g[-1] == pytest.approx(c_norm(post.prior, post.value_and_gradient(
        result.coefficients)[1]), rel=1e-12)


def test_starting_at_the_optimum_stops_at_once():
    post = nonlinear_posterior(zero_residual=True)
    result = NewtonCG(atol=1e-6).minimise(post, post.prior.mean)
    assert result.stop_reason == "gradient" and result.iterations == 0
    assert result.evaluations == 1 and result.hessian_products == 0


def test_unreachable_tolerance_stops_on_a_small_step_without_warning(recwarn):
    post = nonlinear_posterior()
    result = NewtonCG(rtol=1e-15, atol=0).minimise(post, np.full(6, 2.0))
    assert result.stop_reason == "small step"
    assert not [w for w in recwarn if issubclass(w.category, FitWarning)]
    assert result.gradient_norms[-1] < 1e-9 * result.gradient_norms[0]


def test_max_iter_warns_with_the_gradient_reduction():
    post = nonlinear_posterior()
    with pytest.warns(FitWarning, match=r"max_iter = 2.*\|g\|_C/\|g_0\|_C = .*raise max_iter"):
        result = NewtonCG(max_iter=2).minimise(post, np.full(6, 2.0))
    assert result.stop_reason == "max_iter" and result.iterations == 2


def test_cg_cap_is_named_when_the_run_fails():
    post = nonlinear_posterior(p=30, n=40)
    with pytest.warns(FitWarning, match=r"CG reached cg_max_iter = 1 in 3 of 3"):
        result = NewtonCG(max_iter=3, cg_max_iter=1, eta_max=1e-6).minimise(post, np.ones(30))
    assert result.cg_iterations == [1, 1, 1]


# --- records and reports -------------------------------------------------------------------

@pytest.mark.parametrize("globalisation", ["armijo", "trust-region"])
def test_counts_are_those_of_the_posterior(globalisation):
    post = nonlinear_posterior()
    seen = []
    result = NewtonCG(globalisation).minimise(post, np.full(6, 3.0),
                                              callback=lambda n, v: seen.append((n, v)))
    assert isinstance(result, OptimiserResult)
    assert result.evaluations == len(result.values) == post.counts["linearise"] == len(seen)
    assert seen == list(enumerate(result.values, start=1))
    assert result.hessian_products == post.counts["hessian"] == sum(result.cg_iterations)
    assert len(result.cg_iterations) == len(result.step_lengths) == result.iterations
    assert len(result.gradient_norms) == result.iterations + 1
    assert post.neg_log_posterior(result.coefficients) == pytest.approx(min(result.values))


def test_progress_reports_every_iterate():
    class Meter:
        def __init__(self):
            self.lines, self.closed = [], False

        def update(self, done, extra=""):
            self.lines.append((done, extra))

        def close(self):
            self.closed = True

    meter = Meter()
    post = nonlinear_posterior()
    result = NewtonCG(progress=meter).minimise(post, np.full(6, 2.0))
    assert [done for done, _ in meter.lines] == list(range(result.iterations + 1))
    assert meter.closed
    last = meter.lines[-1][1]
    for key in ("Ψ=", "Φ=", "|g|_C=", "cg=", "step="):
        assert key in last
    assert f"cg={result.cg_iterations[-1]}" in last


def test_registered_and_reproducible():
    assert OPTIMIZERS.names() == ("gauss-newton", "lbfgs", "newton-cg")
    assert type(OPTIMIZERS.resolve("newton-cg", "optimizer")) is NewtonCG
    assert GLOBALISATIONS.names() == ("armijo", "trust-region")
    post = nonlinear_posterior()
    by_name = NewtonCG("trust-region").minimise(post, np.full(6, 2.0))
    by_object = NewtonCG(SteihaugTrustRegion()).minimise(post, np.full(6, 2.0))
    assert np.array_equal(by_name.coefficients, by_object.coefficients)
    assert by_name.values == by_object.values


# --- failures ------------------------------------------------------------------------------

def test_non_finite_start_raises_with_the_reason():
    post = nonlinear_posterior()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
            NonFiniteResultError, match=r"Ψ\(c0\) = inf is not finite.*start"):
        NewtonCG().minimise(post, np.full(6, 1e200))


def test_non_finite_gradient_raises():
    post = nonlinear_posterior()
    lin = post.linearise

    def broken(c):
        out = lin(c)
        out.gradient = np.full(6, np.nan)
        return out

    post.linearise = broken
    with pytest.raises(NonFiniteResultError, match="∇Ψ is not finite"):
        NewtonCG().minimise(post, np.zeros(6))


@pytest.mark.parametrize("globalisation", ["armijo", "trust-region"])
def test_non_finite_trial_points_are_rejected(globalisation):
    # Ψ = inf in a ball around the first trial point (a forward model that fails there): the
    # line search backtracks and the trust region shrinks, to the same MAP
    c0 = np.full(6, 2.0)
    tried = []
    reference_post = nonlinear_posterior()
    lin = reference_post.linearise
    reference_post.linearise = lambda c: tried.append(np.array(c)) or lin(c)
    reference = NewtonCG(globalisation, rtol=1e-10).minimise(reference_post, c0)
    hole = tried[1]
    radius = 0.25 * min(np.linalg.norm(hole - c0), np.linalg.norm(hole - reference.coefficients))

    post = nonlinear_posterior()
    lin = post.linearise

    def failing(c):
        out = lin(c)
        if np.linalg.norm(c - hole) < radius:
            out.value = np.inf
        return out

    post.linearise = failing
    result = NewtonCG(globalisation, rtol=1e-10).minimise(post, c0)
    assert np.isinf(result.values[1])
    assert result.stop_reason == "gradient"
    np.testing.assert_allclose(result.coefficients, reference.coefficients, atol=1e-8)


@pytest.mark.parametrize("globalisation, match", [
    ("armijo", "no sufficient decrease of Ψ .* after max_backtracks = 12"),
    ("trust-region", "trust region shrank to radius"),
])
def test_a_wrong_gradient_stops_without_descent_and_warns(globalisation, match):
    post = nonlinear_posterior()
    lin = post.linearise

    def wrong(c):
        out = lin(c)
        out.gradient = -out.gradient                # an adjoint with the wrong sign
        return out

    post.linearise = wrong
    with pytest.warns(FitWarning, match=match):
        result = NewtonCG(globalisation, max_iter=200).minimise(post, np.full(6, 2.0))
    assert result.stop_reason == "no descent"
    assert np.array_equal(result.coefficients, np.full(6, 2.0))


@pytest.mark.parametrize("make, error, match", [
    (lambda: NewtonCG(rtol=-1.0), ValueError, "rtol must be >= 0"),
    (lambda: NewtonCG(eta_max=1.0), ValueError, r"eta_max must be in \(0, 1\)"),
    (lambda: NewtonCG(cg_max_iter=0), ValueError, "cg_max_iter must be >= 1"),
    (lambda: NewtonCG(max_iter=2.5), TypeError, "max_iter must be an integer"),
    (lambda: NewtonCG(discrepancy=0.0), ValueError, "discrepancy must be > 0"),
    (lambda: NewtonCG(step_tol=np.nan), ValueError, "step_tol must be finite"),
    (lambda: NewtonCG("armjio"), ValueError, "did you mean 'armijo'"),
    (lambda: NewtonCG(globalisation=3), TypeError, "globalisation must be one of"),
    (lambda: NewtonCG(progress="loud"), ValueError, "progress must be"),
    (lambda: ArmijoLineSearch(c_armijo=0.0), ValueError, "c_armijo must be > 0"),
    (lambda: ArmijoLineSearch(max_backtracks=-1), ValueError, "max_backtracks must be >= 0"),
    (lambda: ArmijoLineSearch(shrink=1.0), ValueError, r"shrink must be in \(0, 1\)"),
    (lambda: SteihaugTrustRegion(initial_radius=0.0), ValueError, "initial_radius must be > 0"),
    (lambda: SteihaugTrustRegion(accept_ratio=0.25), ValueError, "accept_ratio must be in"),
])
def test_options_are_validated(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_starting_point_is_validated():
    post = nonlinear_posterior()
    with pytest.raises(ValueError, match=r"c0 must have shape \(6,\)"):
        NewtonCG().minimise(post, np.zeros(5))


# --- L-BFGS box from the prior -------------------------------------------------------------

def test_lbfgs_box_is_centred_on_the_prior_with_its_pointwise_sds():
    # prior N(5, 0.1²): the MAP is near 5, outside a box |c| ≤ 10 s = 1 around 0
    rng = np.random.default_rng(4)
    A = rng.standard_normal((6, 3))
    prior = DiagonalGaussian(np.full(3, 5.0), 0.1)
    post = LeastSquaresPosterior(lambda c: A @ c, lambda c: A, A @ np.full(3, 5.1), 0.1, prior)
    newton = NewtonCG(rtol=1e-12).minimise(post, prior.mean)
    lbfgs = LBFGS().minimise(post, prior.mean)
    np.testing.assert_allclose(lbfgs.coefficients, newton.coefficients, atol=1e-5)
    assert isinstance(lbfgs.stop_reason, str) and lbfgs.stop_reason
    assert lbfgs.hessian_products == 0 and lbfgs.cg_iterations == [] == lbfgs.gradient_norms
    boxed = LBFGS(box_prior_sds=0.5).minimise(post, prior.mean)
    assert np.max(np.abs(boxed.coefficients - 5.0)) == pytest.approx(0.05, rel=1e-12)


# --- Steihaug CG ---------------------------------------------------------------------------

def _spd(p, seed, condition=1e3):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((p, p)))[0]
    return Q @ np.diag(np.geomspace(1, condition, p)) @ Q.T


def test_cg_solves_to_the_forcing_tolerance_in_the_preconditioned_norm():
    A, P = _spd(20, 0), np.linalg.inv(_spd(20, 1, 10.0))
    b = np.random.default_rng(2).standard_normal(20)
    res = steihaug_cg(lambda v: A @ v, b, lambda r: P @ r, rtol=1e-3)
    r = b - A @ res.solution
    assert res.reason == "converged"
    assert np.sqrt(r @ P @ r) <= 1e-3 * np.sqrt(b @ P @ b) * (1 + 1e-8)
    assert res.residual_norm == pytest.approx(np.sqrt(r @ P @ r), rel=1e-6)
    x = res.solution
    assert res.model_decrease == pytest.approx(b @ x - 0.5 * x @ A @ x, rel=1e-10)
    assert res.solution_norm == pytest.approx(np.sqrt(x @ np.linalg.solve(P, x)), rel=1e-10)
    exact = steihaug_cg(lambda v: A @ v, b, lambda r: P @ r, rtol=1e-13, max_iter=200)
    np.testing.assert_allclose(exact.solution, np.linalg.solve(A, b), rtol=1e-9)


def test_prior_preconditioning_makes_cg_count_the_data_not_the_parameters():
    # (GᵀG + C⁻¹) preconditioned by C is similar to I + H̃, rank H̃ ≤ N: CG converges in
    # N + 1 iterations for p = 200 parameters and N = 4 data, unpreconditioned it does not
    rng = np.random.default_rng(5)
    p, n = 200, 4
    prior = correlated_prior(np.zeros(p), length=0.05)
    C = np.stack([prior.covariance(e) for e in np.eye(p)])
    G = rng.standard_normal((n, p)) * 3
    H = G.T @ G + np.linalg.inv(C)
    b = rng.standard_normal(p)
    pre = steihaug_cg(lambda v: H @ v, b, prior.covariance, rtol=1e-10, max_iter=50)
    plain = steihaug_cg(lambda v: H @ v, b, lambda r: r, rtol=1e-10, max_iter=50)
    assert pre.reason == "converged" and pre.iterations <= n + 1
    assert plain.reason == "max_iter"


def test_cg_stops_on_the_trust_region_boundary_in_the_preconditioner_norm():
    A, P = _spd(15, 3), np.linalg.inv(_spd(15, 4, 5.0))
    b = np.ones(15)
    full = steihaug_cg(lambda v: A @ v, b, lambda r: P @ r, rtol=1e-12, max_iter=100)
    radius = 0.3 * full.solution_norm
    res = steihaug_cg(lambda v: A @ v, b, lambda r: P @ r, rtol=1e-12, radius=radius)
    x = res.solution
    assert res.reason == "boundary"
    assert np.sqrt(x @ np.linalg.solve(P, x)) == pytest.approx(radius, rel=1e-10)
    assert res.model_decrease == pytest.approx(b @ x - 0.5 * x @ A @ x, rel=1e-10)
    assert 0 < res.model_decrease < full.model_decrease


def test_cg_stops_on_negative_curvature():
    A = np.diag([1.0, -1.0, 2.0])
    b = np.array([0.0, 1.0, 0.0])
    first = steihaug_cg(lambda v: A @ v, b, lambda r: r, rtol=1e-12)
    assert first.reason == "negative curvature" and first.iterations == 1
    np.testing.assert_array_equal(first.solution, b)          # the steepest-descent step
    bounded = steihaug_cg(lambda v: A @ v, b, lambda r: r, rtol=1e-12, radius=2.0)
    assert np.linalg.norm(bounded.solution) == pytest.approx(2.0)


def test_cg_failures_are_reported():
    with pytest.raises(NonFiniteResultError, match="operator product is not finite"):
        steihaug_cg(lambda v: v * np.nan, np.ones(3), lambda r: r, rtol=0.1)
    with pytest.raises(ValueError, match="preconditioner is not positive definite"):
        steihaug_cg(lambda v: v, np.ones(3), lambda r: -r, rtol=0.1)
    with pytest.raises(ValueError, match="radius must be > 0"):
        steihaug_cg(lambda v: v, np.ones(3), lambda r: r, rtol=0.1, radius=0.0)
    zero = steihaug_cg(lambda v: v, np.zeros(3), lambda r: r, rtol=0.1)
    assert zero.reason == "converged" and zero.iterations == 0 and zero.relative_residual == 0
