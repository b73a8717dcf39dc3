"""Property-based comparison of the default backend with dense ``expm`` (issue 12).

Random grids, diffusivities, flow strengths (cell Péclet numbers up to 10³), times up to
10³, schemes and boundary conditions: the default backend's result is finite and within its
stated tolerance of ``scipy.linalg.expm(tL) θ0``. The cases are those with a guarantee: the
positive schemes (rate matrices, or sub-generators with Dirichlet walls) at any Péclet
number, and central differences where they are positive (cell Péclet ≤ 1; above it, even a
divergence-free periodic flow can make the discrete generator grow, which
``Propagator.apply`` reports). Solves are capped by ``max_products`` (the documented way to
bound work): a case over the cap is rejected, so the default run stays fast; the slow run
draws more cases without the cap.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import advdiff_sens as ads
from advdiff_sens.exceptions import AccuracyWarning, PhysicsWarning, WorkLimitExceeded
from advdiff_sens.matrix import DEFAULT_TOL
from advdiff_sens.discretisation.physics import cell_peclet
from advdiff_sens.problems import cellular_flow, gaussian_blob

TOL = DEFAULT_TOL
UNIT_ROUNDOFF = np.finfo(float).eps / 2

cases = st.fixed_dictionaries({
    "n": st.integers(6, 14),
    "log_kappa": st.floats(-3.0, -1.0),
    "log_peclet": st.floats(-1.0, 3.0),
    "log_t": st.floats(-3.0, 3.0),
    "scheme": st.sampled_from(["central", "upwind", "exponential"]),
    "bc": st.sampled_from(["periodic", "neumann", "dirichlet"]),
})


def _case(n, log_kappa, log_peclet, log_t, scheme, bc, max_products=None):
    grid = ads.Grid((n, n), (1.0, 1.0), bc)
    kappa = 10.0 ** log_kappa
    h = max(grid.spacing)
    peclet = 10.0 ** log_peclet
    if scheme == "central":
        peclet = min(peclet, 1.0)               # positive only for cell Péclet <= 1
    amplitude = peclet * 2.0 * kappa / h
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        model = ads.AdvectionDiffusion(grid, kappa, scheme, max_products=max_products)
        u = cellular_flow(grid, amplitude)      # no normal component at the walls
        L = model.generator(u)
    return model, u, gaussian_blob(grid, (0.3, 0.5), 0.02), L, 10.0 ** log_t


def _check_against_dense_expm(case, max_products=None):
    model, u, theta0, L, t = _case(**case, max_products=max_products)
    assert case["scheme"] != "central" or cell_peclet(model.grid, model.kappa, u) <= 1 + 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        warnings.simplefilter("ignore", AccuracyWarning)  # the bound it states is checked
        try:
            theta = model.solve(u, theta0, t)
        except WorkLimitExceeded:
            reject()
    stated = model.propagator(u).last_error_bound
    assert np.all(np.isfinite(theta))
    dense = L.toarray()
    reference = sl.expm(t * dense) @ theta0.ravel()
    # rate matrices contract in the maximum norm (Γ = 1 there): sqrt(n) between the norms;
    # the dense reference errs by about u·t‖L‖₁ (scaling and squaring)
    reference_error = 10 * UNIT_ROUNDOFF * max(1.0, t * np.abs(dense).sum(axis=0).max())
    stated = max(stated, TOL)                     # tol, or the looser bound it warned about
    bound = (stated * np.sqrt(model.grid.n) + reference_error) * np.linalg.norm(theta0)
    assert np.linalg.norm(theta.ravel() - reference) <= bound


@pytest.mark.timeout(120)
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cases)
def test_default_backend_is_finite_and_within_tol_of_dense_expm(case):
    _check_against_dense_expm(case, max_products=30_000)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_default_backend_within_tol_of_dense_expm_many_cases(case):
    _check_against_dense_expm(case)
