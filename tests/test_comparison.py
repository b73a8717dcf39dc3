"""The methods comparison used by the CLI: the numbers it reports are consistent."""

import numpy as np

from advdiff_sens.problems import r2_problem
from advdiff_sens.comparison import compare_methods


def test_compare_methods_on_small_r2():
    problem = r2_problem(24)
    study = compare_methods(problem.model, problem.u, problem.theta0, problem.T)
    rows = {r.method.split(" (")[0]: r for r in study.rows}
    # discrete adjoint: the tangent's transpose; quadrature: rtol 1e-10, ×10 for a
    # directional derivative
    assert rows["adjoint gradient, discrete"].relative_error <= 1e-12
    assert rows["adjoint gradient, quadrature"].relative_error <= 1e-9
    assert rows["central finite difference"].relative_error <= 1e-6
    # the surrogate gradient is the adjoint of the first-order surrogate: same number
    s1 = rows["surrogate, order 1"].directional_derivative
    assert np.isclose(rows["surrogate gradient, order 1"].directional_derivative, s1, rtol=1e-10)
    assert study.rho.shape == study.gradient[0].shape == (24, 24)
