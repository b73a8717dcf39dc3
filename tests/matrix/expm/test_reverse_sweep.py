"""Reverse mode of the Chebyshev propagator (advdiff_sens.matrix.expm.reverse).

The reverse sweep differentiates the tangent's own polynomial, so against the exact Fréchet
derivative (``scipy.linalg.expm_frechet``) it errs by at most the tangent's propagator
bound (tol = 1e-12 relative to the natural scale); the contract of DESIGN.md §5 is 1e-10.
Against the library's tangent (same polynomial) the agreement is to rounding: 1e-12.
Propagator tolerance TOL = 1e-11 throughout: the schedule runs at TOL/3 (the tangent's), and
at 3e-13 the a priori bound cannot certify the cancellation-limited advective and
long-time rate-matrix cases (measured errors at TOL: 1e-15 to 1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from advdiff_sens import matrix as am
from advdiff_sens.exceptions import PlanUnavailable

CONTRACT = 1e-10
TOL = 1e-11


def generator(kind: str, d: int, rng):
    if kind == "rate":
        return am.random_rate_matrix(d, rng)
    if kind == "nonnormal":
        return rng.standard_normal((d, d)) - 3.0 * np.eye(d)
    # advection-dominated: large skew part, imaginary-foci Chebyshev series
    S = rng.standard_normal((d, d))
    return 20.0 * (S - S.T) - np.eye(d)


def reference(Q, P, v, b, times, cot) -> float:
    """sum_j c_j^T L_exp(t_j Q, t_j diag(v) P) b with scipy's dense Fréchet derivative."""
    J = np.diag(v) @ (P.toarray() if sp.issparse(P) else P)
    return sum(c @ sla.expm_frechet(t * Q, t * J, compute_expm=False) @ b
               for c, t in zip(cot, times))


@pytest.mark.parametrize("kind", ["rate", "nonnormal", "advective"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("times", [[1.3], [0.0, 0.2, 0.7, 1.3]])
def test_gradient_matches_expm_frechet(kind, sparse, times, rng):
    d = 12
    Q = generator(kind, d, rng)
    partials = [rng.standard_normal((d, d)),
                sp.csr_array(rng.standard_normal((d, d)) * (rng.random((d, d)) < 0.3))]
    b = rng.standard_normal(d)
    times = np.array(times)
    cot = rng.standard_normal((times.size, d))
    A = sp.csr_array(Q) if sparse else Q
    b_bar, grads = am.expm_action_gradient(A, partials, b, times, cot, tol=TOL)
    for a, P in enumerate(partials):
        v = rng.standard_normal(d)
        exact = reference(Q, P, v, b, times, cot)
        assert abs(grads[a] @ v - exact) <= CONTRACT * abs(exact)
    exact_b_bar = sum(sla.expm(t * Q).T @ c for c, t in zip(cot, times))
    assert np.linalg.norm(b_bar - exact_b_bar) <= CONTRACT * np.linalg.norm(exact_b_bar)


def test_every_stride_gives_the_same_gradient(rng, monkeypatch):
    """Block boundaries at every term (stride 1), odd strides, a last block of one term
    (m % stride == 0) and a single block (stride > m): the same numbers to rounding."""
    from advdiff_sens.matrix.expm import reverse as adjoint
    d = 30
    Q = sp.csr_array(generator("rate", d, rng))
    P = [sp.csr_array(np.triu(rng.standard_normal((d, d))))]
    b, c = rng.standard_normal(d), rng.standard_normal((2, d))
    times = np.array([1.1, 3.0])
    propagator = am.Propagator(Q, backend="chebyshev", tol=TOL)
    tape = am.record_expm_action(propagator, b, times)
    reference_bbar, reference = tape.pullback(c, P)
    m = tape.degree
    for stride in (1, 2, 3, m, m + 1, m + 7):
        monkeypatch.setattr(adjoint, "_stride_for", lambda degrees, cap, r=stride: r)
        forced = am.record_expm_action(propagator, b, times)
        assert forced.stride == stride
        b_bar, grads = forced.pullback(c, P)
        assert np.allclose(grads, reference, rtol=0, atol=1e-13 * np.abs(reference).max())
        assert np.allclose(b_bar, reference_bbar, rtol=0, atol=1e-13 * np.abs(b_bar).max())


def test_checkpoint_cap(rng):
    d = 30
    Q = sp.csr_array(generator("rate", d, rng))
    b = rng.standard_normal(d)
    propagator = am.Propagator(Q, backend="chebyshev", tol=TOL)
    default = am.record_expm_action(propagator, b, 3.0)
    for cap in (1, 2, 5, default.checkpoints - 1):
        capped = am.record_expm_action(propagator, b, 3.0, checkpoints=cap)
        assert capped.checkpoints <= max(cap, capped.steps)
        assert capped.stride > default.stride
    larger = am.record_expm_action(propagator, b, 3.0, checkpoints=10 * default.checkpoints)
    assert larger.stride == default.stride        # more checkpoints than √terms do not help


def test_memory_counts_the_stored_states_and_the_work_arrays(rng):
    d = 30
    Q = sp.csr_array(generator("rate", d, rng))
    tape = am.record_expm_action(am.Propagator(Q, backend="chebyshev", tol=TOL),
                                 rng.standard_normal(d), 3.0)
    stored = tape.nbytes()
    assert tape.work_nbytes == 0 and stored >= 8 * d * tape.checkpoints
    tape.pullback(np.ones((1, d)), [Q, sp.eye_array(d)])
    rows = min(tape.stride, tape.degree + 1)       # two adjoint and two state blocks, scratch
    assert tape.work_nbytes >= 8 * d * (4 * rows + 5)
    assert tape.nbytes() == stored + tape.work_nbytes


def test_gradient_equals_the_tangent_to_rounding(rng):
    """Same polynomial: <grad, v> = c^T (tangent of the pair propagator) to ~1e-15."""
    d = 40
    Q = sp.csr_array(generator("rate", d, rng))
    P = sp.csr_array(rng.standard_normal((d, d)) * (rng.random((d, d)) < 0.2))
    b, c, v = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal(d)
    times = np.array([0.5, 2.0])
    cot = np.stack([c, -c])
    _, grads = am.expm_action_gradient(Q, [P], b, times, cot, tol=TOL)
    J = sp.diags_array(v) @ P
    _, y = am.expm_pair_action(Q, J, b, times, backend="chebyshev", tol=TOL)
    tangent = float(np.sum(cot * y))
    # rounding scale of the dot product itself (measured 5e-15 relative to the tangent)
    assert abs(grads[0] @ v - tangent) <= 1e-12 * np.abs(cot * y).sum()


def test_tape_states_are_the_exponential(rng):
    d = 25
    Q = generator("nonnormal", d, rng)
    b = rng.standard_normal(d)
    times = np.array([0.1, 0.4, 0.9])
    tape = am.record_expm_action(am.Propagator(Q, tol=TOL), b, times)
    for x, t in zip(tape.states, times):
        assert np.linalg.norm(x - sla.expm(t * Q) @ b) <= 1e-11 * np.linalg.norm(b)


def test_zero_horizon(rng):
    d = 6
    Q = generator("rate", d, rng)
    b, c = rng.standard_normal(d), rng.standard_normal(d)
    b_bar, grads = am.expm_action_gradient(Q, [np.eye(d)], b, 0.0, c)
    assert np.array_equal(b_bar, c) and not grads.any()


def test_says_why_where_the_chebyshev_backend_does_not_apply(rng):
    Q = generator("rate", 5, rng)
    b = rng.standard_normal(5)
    with pytest.raises(PlanUnavailable, match="'scipy' backend") as raised:
        am.record_expm_action(am.Propagator(Q, backend="scipy"), b, 1.0)
    assert "Chebyshev schedule" in raised.value.reason
    with pytest.raises(PlanUnavailable, match="complex"):
        am.record_expm_action(am.Propagator(Q + 1j * np.eye(5)), b, 1.0)
    with pytest.raises(ValueError, match="reverse sweep"):
        am.expm_action_gradient(Q, [Q], b + 0j, 1.0, b)


def test_validation(rng):
    d = 5
    Q = generator("rate", d, rng)
    b = rng.standard_normal(d)
    propagator = am.Propagator(Q)
    with pytest.raises(TypeError, match="propagator"):
        am.record_expm_action(Q, b, 1.0)
    with pytest.raises(ValueError, match="b must have shape"):
        am.record_expm_action(propagator, np.ones(d + 1), 1.0)
    with pytest.raises(ValueError, match="checkpoints"):
        am.record_expm_action(propagator, b, 1.0, checkpoints=0)
    with pytest.raises(TypeError, match="checkpoints"):
        am.record_expm_action(propagator, b, 1.0, checkpoints=2.5)
    tape = am.record_expm_action(propagator, b, [0.5, 1.0])
    with pytest.raises(ValueError, match="cotangents"):
        tape.pullback(np.ones((1, d)), [Q])
    with pytest.raises(ValueError, match="partials"):
        tape.pullback(np.ones((2, d)), [np.eye(d + 1)])
    with pytest.raises(TypeError, match="cotangents must be real"):
        tape.pullback(np.ones((2, d)) * 1j, [Q])
    with pytest.raises(TypeError, match=r"partials\[0\] must be real"):
        tape.pullback(np.ones((2, d)), [Q * 1j])
    with pytest.raises(TypeError, match="partials must be a sequence"):
        tape.pullback(np.ones((2, d)), None)
    with pytest.raises(ValueError, match=r"partials\[0\] must have shape"):
        tape.pullback(np.ones((2, d)), [[[1.0, 2.0]]])
    with pytest.raises(ValueError, match=r"partials\[0\] contains NaN"):
        tape.pullback(np.ones((2, d)), [sp.csr_array(np.full((d, d), np.nan))])
    with pytest.raises(ValueError, match="cotangents must have shape"):
        am.expm_action_gradient(Q, [Q], b, 1.0, np.ones((1, d)))


def test_pullback_leaves_the_partials_untouched(rng):
    d = 4
    Q = generator("rate", d, rng)
    # non-canonical CSR (duplicate, unsorted entries): the pullback works on a copy
    P = sp.csr_array((np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), np.array([0, 3, 3, 3, 3])),
                     shape=(d, d))
    before = (P.indices.copy(), P.indptr.copy(), P.data.copy())
    am.expm_action_gradient(Q, [P], np.ones(d), 1.0, np.ones(d), tol=TOL)
    assert all(np.array_equal(x, y) for x, y in zip(before, (P.indices, P.indptr, P.data)))
