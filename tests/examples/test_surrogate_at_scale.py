"""The numbers of examples/surrogate_at_scale.py at quick size: the first-order surrogate
gradient (1.6) against the exact adjoint gradient on R5, as a gradient, inside Newton-CG and
L-BFGS, and inside ∞-HMC with the exact Metropolis test."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, run_script
from example_loader import load_example
from scipy import stats

from advdiff_sens.inference import MAP_DECREMENT_TOL
from advdiff_sens.problems import INFERENCE_TOL

# main(quick=True) takes about 40 CPU seconds, minutes on the loaded 2-core machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def example():
    return load_example("surrogate_at_scale")


@pytest.fixture(scope="module")
def result(example):
    return example.main(quick=True)


def _propagation_tolerance(study) -> float:
    """Two computations that each apply k propagators of relative accuracy ``INFERENCE_TOL``
    differ by at most about 2 k tol (relative)."""
    return 2 * study.twin.posterior.times.size * INFERENCE_TOL


def test_surrogate_is_exact_where_j_commutes_with_l(result):
    for study in result.studies.values():
        c = study.commuting
        bound = _propagation_tolerance(study) * c["amplification"]
        # constant u and v: J(v) commutes with L(u), ρ = tJe^{tL}θ0 is what (1.6) computes
        assert c["constant"] <= bound
        # a shear does not commute with L: the surrogate is off by far more than the solves
        assert c["shear"] > 100 * bound


def test_surrogate_value_is_exact_and_its_gradient_is_not(result):
    for study in result.studies.values():
        post = study.twin.posterior
        points = {"prior mean": post.prior.mean, "truth": study.twin.true_coefficients,
                  "exact MAP": study.map_coefficients}
        tol = _propagation_tolerance(study)
        for name, c in points.items():
            row = study.gradient_rows[name]
            # Ψ comes from the forward solve for every strategy: Φ = |r|²/2 with r = (Hθ − d)/σ,
            # and readings Hθ/σ accurate to tol relative move Φ by at most |r| |Hθ/σ| tol.
            r = (post.predict(c) - post.data) / post.noise_std
            reading = post.predict(c) / post.noise_std
            assert row["value_difference"] * row["psi"] <= (
                tol * np.linalg.norm(r) * np.linalg.norm(reading))
            # the gradient is the surrogate's: finite, and off by far more than the solves
            assert np.isfinite(row["misfit_error"]) and row["misfit_error"] > 1e3 * tol
            assert 0 < row["misfit_angle"] < 180 and 0 < row["angle_C"] < 180


def test_surrogate_error_grows_with_the_window(result):
    # ρ − t e^{tL}Jθ0 = ∫_0^t e^{(t−s)L}[J, e^{sL}]θ0 ds = O(t²) against ρ = O(t)
    for study in result.studies.values():
        errors = [row["misfit_error"] for row in study.window_rows]
        assert errors[0] < errors[-1]


def test_exact_newton_cg_reaches_the_map_and_the_surrogate_does_not(example, result):
    for study in result.studies.values():
        exact = study.optimiser_row("Newton-CG", example.EXACT)
        surrogate = study.optimiser_row("Newton-CG", example.SURROGATE)
        # both start at the truth; only the exact gradient leads to the MAP
        assert exact["psi"] <= surrogate["psi"]
        assert exact["stop"] == "gradient" and exact["g_C"] <= example.NEWTON_ATOL
        assert surrogate["g_C"] > example.NEWTON_ATOL
        assert exact["distance"] == 0 < surrogate["distance"]
        # C_post ≤ C for the low-rank Laplace approximation, so its Newton decrement is
        # bounded by |g|_C: a MAP in the sense of laplace_approximation
        lap = study.laplace
        assert lap["decrement"] <= exact["g_C"] * (1 + 1e-12)
        assert lap["decrement"] <= MAP_DECREMENT_TOL and not lap["warnings"]


def test_infinity_hmc_targets_the_same_posterior_with_either_gradient(example, result):
    s = result.settings
    for study in result.studies.values():
        exact, surrogate = study.sampler_rows
        assert exact["moved"] and surrogate["moved"]
        assert np.all(np.isfinite(study.sampler_results[example.SURROGATE].log_density))
        # the surrogate's energy error at a given step is larger: dual averaging shrinks it
        assert surrogate["step"] < exact["step"]
        # Both kernels leave the posterior invariant (exact Metropolis test) and start from
        # independent Laplace draws: the difference of the means over the chain-mean standard
        # errors is Student t with 2(M − 1) degrees of freedom; two-sided 0.1 % over the
        # compared coordinates.
        limit = stats.t.ppf(1 - 0.0005 / example.N_SUMMARIES, df=2 * (s.n_chains - 1))
        assert np.all(surrogate["z"] <= limit)


def test_script_saves_its_figure(tmp_path):
    proc = run_script([str(ROOT / "examples" / "surrogate_at_scale.py"), "--quick", "--outdir",
                       str(tmp_path)], tmp_path, timeout=1500)
    figure = tmp_path / "surrogate_at_scale.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert str(figure) in proc.stdout
