"""Flows in walled domains: the nodal stream function and the sine/Fourier stream-function
basis on channels and rectangles with no-flux (Neumann) or absorbing (Dirichlet) walls for θ.
Zero normal velocity on the walls, the mass-balance divergence zero to rounding, the central
generator conserving mass, the closed form and second order of the sine modes, the pullback
(transpose, finite differences), the parameter space's no-flux check and the physics
warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.discretisation.operators import assemble_generator, difference_matrices
from advdiff_sens.discretisation.physics import wall_normal_velocity
from advdiff_sens.exceptions import PhysicsWarning
from advdiff_sens.inference import (NodalStreamFunction, NodalVelocity, ParameterSpace,
                                    StreamFunctionBasis, UniformVelocity, discrete_divergence)
from advdiff_sens.problems import gaussian_blob
from advdiff_sens.sampling import DiagonalGaussian
from advdiff_sens.sensitivity import dot_test, finite_difference_check

#: Every walled combination: channels both ways round, rectangles, mixed θ walls.
WALLED = [("periodic", "neumann"), ("periodic", "dirichlet"), ("neumann", "periodic"),
          ("neumann", "neumann"), ("dirichlet", "dirichlet"), ("neumann", "dirichlet")]
KINDS = ("nodal", "basis")


def make(kind: str, grid: Grid):
    return NodalStreamFunction(grid) if kind == "nodal" else StreamFunctionBasis(grid, 2.6)


def walled_grid(bc) -> Grid:
    return Grid((13, 11), (1.0, 1.5), bc)


def wall_slice(grid: Grid, axis: int, end: int):
    index = [slice(None)] * grid.ndim
    index[axis] = end
    return tuple(index)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bc", WALLED)
def test_normal_velocity_vanishes_on_the_walls_and_the_divergence_is_zero(kind, bc, rng):
    grid = walled_grid(bc)
    par = make(kind, grid)
    u = par.to_velocity(rng.standard_normal(par.n_params))
    speed = np.abs(u).max()
    for a, b in enumerate(bc):
        if b == "neumann":                       # walls on nodes: u_a there is exactly 0
            for end in (0, -1):
                assert np.all(u[a][wall_slice(grid, a, end)] == 0.0)
    assert wall_normal_velocity(grid, u) == 0.0
    # the divergence is a difference quotient: terms of size |u|/h, rounding 1e-16 of them
    div = discrete_divergence(grid, u)
    assert np.abs(div).max() <= 1e-13 * speed / min(grid.spacing)
    # the same statement through the central generator: w^T L_adv = 0 (mass conserved)
    mats = difference_matrices(grid)
    advection = (assemble_generator(grid, 0.01, "central", u, mats)
                 - assemble_generator(grid, 0.01, "central", np.zeros_like(u), mats))
    w = grid.weights.ravel()
    assert np.abs(w @ advection).max() <= 1e-13 * np.abs(w @ abs(advection)).max()


@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("neumann", "neumann")])
def test_a_flow_through_the_walls_is_seen_by_both_checks(bc, rng):
    """The checks can fail: a uniform flow across the walls."""
    grid = walled_grid(bc)
    u = UniformVelocity(grid).to_velocity([0.3, 1.0])
    assert wall_normal_velocity(grid, u) == pytest.approx(1.0)
    assert np.abs(discrete_divergence(grid, u)).max() >= 1.0 / grid.spacing[1] / 2


@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("periodic", "dirichlet")])
def test_sine_modes_have_the_closed_form_and_are_second_order(bc):
    """ψ = cos(2πx/ℓx) sin(πy/ℓy): u is the analytic ∇⊥ψ with the central-difference symbol
    sin(ωh)/h for ω, at every node (including Neumann wall nodes, where the tangential
    velocity is the slip sin(ω_y h)/h · cos(2πx/ℓx)), and converges at second order."""
    errors, spacings = [], []
    for ny in (17, 33, 65):
        grid = Grid((16, ny), (1.0, 1.5), bc)
        basis = StreamFunctionBasis(grid, kmax=1.2)
        index = [i for i, (k, kind) in enumerate(zip(basis.wavevectors, basis.kind))
                 if kind == "cos·sin" and tuple(k) == (1.0, 0.5)]
        c = np.zeros(basis.n_params)
        c[index] = 1.0
        u = basis.to_velocity(c)
        x, y = grid.coords
        (lx, ly), (hx, hy) = grid.extent, grid.spacing
        wx, wy = 2 * np.pi / lx, np.pi / ly
        exact_h = np.stack([np.sin(wy * hy) / hy * np.cos(wx * x) * np.cos(wy * y),
                            np.sin(wx * hx) / hx * np.sin(wx * x) * np.sin(wy * y)])
        assert np.abs(u - exact_h).max() <= 1e-12 * np.abs(u).max()
        exact = np.stack([wy * np.cos(wx * x) * np.cos(wy * y),
                          wx * np.sin(wx * x) * np.sin(wy * y)])
        errors.append(np.abs(u[0] - exact[0]).max())     # the y-derivative converges with ny
        spacings.append(hy)
    rates = np.diff(np.log(errors)) / np.diff(np.log(spacings))
    assert np.all(np.abs(rates - 2) < 0.1), rates


def test_mode_sets_of_channel_and_rectangle():
    channel = StreamFunctionBasis(Grid((16, 15), bc=("periodic", "dirichlet")), kmax=2)
    k = channel.wavevectors
    assert np.all(np.linalg.norm(k, axis=1) <= 2) and np.all(k[:, 1] > 0)
    assert np.all(np.isin(k[:, 1] * 2, np.arange(1, 5)))          # half-integers across walls
    assert set(channel.kind) == {"1·sin", "cos·sin", "sin·sin"}
    shear = channel.kind == "1·sin"
    assert np.all(k[shear, 0] == 0) and shear.sum() == 4         # ψ = sin(πmy), m = 1..4
    rectangle = StreamFunctionBasis(Grid((12, 12), bc="neumann"), kmax=1.5)
    assert set(rectangle.kind) == {"sin·sin"}
    assert sorted(map(tuple, 2 * rectangle.wavevectors)) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    with pytest.raises(ValueError, match="kmax must be >= 0.7071"):
        StreamFunctionBasis(Grid((12, 12), bc="neumann"), kmax=0.7)
    with pytest.raises(ValueError, match="kmax must be >= 0.5"):
        StreamFunctionBasis(Grid((12, 12), bc=("dirichlet", "periodic")), kmax=0.4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("neumann", "dirichlet")])
def test_pullback_is_the_transpose_and_the_coefficient_gradient_matches_differences(kind, bc):
    grid = walled_grid(bc)
    par = make(kind, grid)
    mismatch = dot_test(par.to_velocity, par.pullback, (par.n_params,),
                        (2, *grid.shape), rng=3)
    assert mismatch <= 1e-13
    model = AdvectionDiffusion(grid, 0.01, "exponential")
    theta0 = gaussian_blob(grid, (0.4, 0.6), 0.03)
    sensor = (6, 5)
    rng = np.random.default_rng(7)
    c = 0.02 * rng.standard_normal(par.n_params)

    def f(coefs):
        return model.solve(par.to_velocity(coefs), theta0, 0.4)[sensor]

    delta = np.zeros(grid.shape)
    delta[sensor] = 1.0
    _, grad_u = model.gradient(par.to_velocity(c), theta0, lambda th: (th[sensor], delta), 0.4)
    dc = rng.standard_normal(par.n_params)
    # a coefficient step of 1e-5 moves u by ≤ 1e-5·|B| ≈ 1e-3: truncation ~1e-7 relative,
    # rounding ~1e-11, the propagator's tolerance far below
    assert finite_difference_check(f, c, dc, float(par.pullback(grad_u) @ dc),
                                   step=1e-5) <= 1e-6


@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("dirichlet", "neumann")])
def test_parameter_space_push_and_pullback_are_adjoint(bc, rng):
    """A walled space with flow (nodal ψ on the free grid), θ0 and log κ: ⟨push(δc), g⟩ =
    ⟨δc, pullback(g)⟩ for the joint input direction (δu, δθ0, δκ)."""
    from advdiff_sens.inference import GaussianRandomField
    grid = walled_grid(bc)
    psi = NodalStreamFunction(grid)
    space = ParameterSpace(grid, flow=psi,
                           flow_prior=GaussianRandomField(psi.free_grid, 0.05, 0.3, alpha=3),
                           theta0_prior=GaussianRandomField(grid, 0.2, 0.2, mean=0.5),
                           log_kappa_prior=DiagonalGaussian([np.log(0.02)], 1.0))
    c = space.prior.sample(rng=rng)
    dc = rng.standard_normal(space.n_params)
    g_u, g_theta0, g_kappa = (rng.standard_normal((2, *grid.shape)),
                              rng.standard_normal(grid.shape), float(rng.standard_normal()))
    du, dtheta0, dkappa = space.push(c, dc)
    lhs = np.sum(du * g_u) + np.sum(dtheta0 * g_theta0) + dkappa * g_kappa
    rhs = dc @ space.pullback(c, g_u, g_theta0, g_kappa)
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), abs(rhs))


def test_nodal_free_nodes_and_stream_function():
    grid = Grid((10, 9), (2.0, 1.0), ("neumann", "dirichlet"))
    par = NodalStreamFunction(grid)
    assert par.free_grid.shape == (8, 9) and par.free_grid.bc == ("dirichlet", "dirichlet")
    assert par.free_grid.spacing == pytest.approx(grid.spacing)
    assert np.allclose(par.free_grid.axes[0], grid.axes[0][1:-1])      # the interior nodes
    assert np.allclose(par.free_grid.axes[1], grid.axes[1])
    psi = par.stream_function(np.arange(1.0, par.n_params + 1))
    assert np.all(psi[[0, -1]] == 0) and np.all(psi[1:-1] > 0)


def test_parameter_space_rejects_flows_that_can_cross_a_no_flux_wall():
    theta0 = np.zeros((13, 11))
    for bc in (("periodic", "neumann"), ("neumann", "dirichlet"), "neumann"):
        grid = walled_grid(bc)
        for par in (NodalVelocity(grid), UniformVelocity(grid)):
            with pytest.raises(ValueError, match="can cross the no-flux"):
                ParameterSpace(grid, flow=par,
                               flow_prior=DiagonalGaussian(np.zeros(par.n_params), 1.0),
                               theta0=theta0)
        for kind in KINDS:
            par = make(kind, grid)
            ParameterSpace(grid, flow=par, flow_prior=DiagonalGaussian(np.zeros(par.n_params),
                                                                       1.0), theta0=theta0)
    # absorbing walls are not no-flux walls: a nodal velocity is allowed there
    grid = walled_grid("dirichlet")
    ParameterSpace(grid, flow=NodalVelocity(grid),
                   flow_prior=DiagonalGaussian(np.zeros(2 * grid.n), 1.0), theta0=theta0)


class AlongChannel:
    """A uniform flow along a channel's walls: tangential though not a stream function."""

    def __init__(self, grid):
        self.grid, self.n_params = grid, 1

    def to_velocity(self, c):
        u = np.zeros((2, *self.grid.shape))
        u[0] = c[0]
        return u

    def pullback(self, grad_u):
        return np.array([np.sum(grad_u[0])])


def test_the_check_is_about_the_flow_not_the_class():
    grid = walled_grid(("periodic", "neumann"))
    space = ParameterSpace(grid, flow=AlongChannel(grid),
                           flow_prior=DiagonalGaussian(np.zeros(1), 1.0),
                           theta0=np.zeros(grid.shape))
    assert space.n_params == 1
    across = walled_grid(("neumann", "periodic"))
    with pytest.raises(ValueError, match="x=0|can cross"):
        ParameterSpace(across, flow=AlongChannel(across),
                       flow_prior=DiagonalGaussian(np.zeros(1), 1.0),
                       theta0=np.zeros(across.shape))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bc", [("periodic", "neumann"), ("neumann", "neumann"),
                                ("neumann", "dirichlet")])
def test_no_physics_warning_for_these_flows_and_one_for_a_crossing_flow(kind, bc, rng):
    grid = walled_grid(bc)
    par = make(kind, grid)
    theta0 = gaussian_blob(grid, (0.5, 0.7), 0.03)
    u = par.to_velocity(0.05 * rng.standard_normal(par.n_params))
    model = AdvectionDiffusion(grid, 0.01, "exponential")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicsWarning)
        model.solve(u, theta0, 0.1)
    x, y = grid.coords
    rotation = 0.5 * np.stack([-(y - 0.75), x - 0.5])                  # crosses every wall
    with pytest.warns(PhysicsWarning, match="normal component at the no-flux wall"):
        AdvectionDiffusion(grid, 0.01, "exponential").solve(rotation, theta0, 0.1)


CHANNELS = [("periodic", "neumann"), ("neumann", "periodic")]


@pytest.mark.parametrize("bc", CHANNELS)
def test_through_flow_is_the_net_flux_and_stays_tangential(bc, rng):
    grid = walled_grid(bc)
    par = NodalStreamFunction(grid, through_flow=True)
    assert par.n_params == NodalStreamFunction(grid).n_params + 1
    c = rng.standard_normal(par.n_params)
    u = par.to_velocity(c)
    across = bc.index("neumann")
    along = 1 - across
    assert wall_normal_velocity(grid, u) == 0.0
    div = discrete_divergence(grid, u)
    assert np.abs(div).max() <= 1e-13 * np.abs(u).max() / min(grid.spacing)
    # ψ is 0 on the near wall and Q on the far one
    psi = par.stream_function(c)
    assert np.all(psi[wall_slice(grid, across, 0)] == 0.0)
    assert np.allclose(psi[wall_slice(grid, across, -1)], c[-1], rtol=0, atol=1e-15)
    # the net flux through a cross-section: the trapezoid rule of the along-channel velocity
    # over the nodes across is exact for the uniform part Q/ℓ and, for the zero-flux part
    # (ψ' = 0 on both walls), telescopes to 0 with the central/one-sided wall differences
    sign = 1.0 if along == 0 else -1.0          # u = (∂ψ/∂y, −∂ψ/∂x)
    profile = np.moveaxis(u[along], across, -1)[0]
    h = grid.spacing[across]
    flux = sign * h * (profile.sum() - 0.5 * (profile[0] + profile[-1]))
    assert flux == pytest.approx(c[-1], rel=1e-12, abs=1e-13)
    # the pullback is the transpose
    assert dot_test(par.to_velocity, par.pullback, (par.n_params,), (2, *grid.shape),
                    rng=4) <= 1e-13


def test_through_flow_in_a_parameter_space_and_its_errors(rng):
    from advdiff_sens.inference import BlockGaussian, GaussianRandomField
    grid = walled_grid(("periodic", "neumann"))
    par = NodalStreamFunction(grid, through_flow=True)
    prior = BlockGaussian([GaussianRandomField(par.free_grid, 0.05, 0.3, alpha=3),
                           DiagonalGaussian([0.0], 0.1)])
    space = ParameterSpace(grid, flow=par, flow_prior=prior,
                           theta0=gaussian_blob(grid, (0.4, 0.6), 0.03))
    assert space.n_params == par.n_params
    with pytest.raises(ValueError, match="through_flow needs a channel"):
        NodalStreamFunction(walled_grid(("neumann", "neumann")), through_flow=True)
    with pytest.raises(ValueError, match="through_flow needs a channel"):
        NodalStreamFunction(Grid((8, 8)), through_flow=True)


def test_through_flow_field_summaries_are_the_dense_variances():
    from advdiff_sens.inference import (BlockGaussian, GaussianRandomField, LowRankLaplace,
                                        Posterior, field_summaries)
    grid = Grid((8, 9), (1.0, 1.0), ("periodic", "neumann"))
    par = NodalStreamFunction(grid, through_flow=True)
    prior = BlockGaussian([GaussianRandomField(par.free_grid, 0.05, 0.3, alpha=3),
                           DiagonalGaussian([0.0], 0.1)])
    space = ParameterSpace(grid, flow=par, flow_prior=prior,
                           theta0=gaussian_blob(grid, (0.4, 0.6), 0.03))
    model = AdvectionDiffusion(grid, 0.02, "exponential")
    post = Posterior(model, space, [[0.3, 0.5]], [0.2], np.zeros((1, 1)), 0.01)
    e = np.zeros((par.n_params, 1))
    e[0, 0] = 1.0
    as_prior = LowRankLaplace(prior.mean, prior, [0.0], e, dropped_eigenvalue=0.0)
    fields = field_summaries(post, prior.mean, as_prior)
    S = np.stack([prior.sqrt_cov(z) for z in np.eye(par.n_params)], axis=1)
    for name, apply in (("stream_function", par.stream_function),
                        ("velocity", par.to_velocity)):
        B = np.stack([np.ravel(apply(z)) for z in np.eye(par.n_params)], axis=1)
        sd = np.sqrt(np.sum((B @ S) ** 2, axis=1)).reshape(fields[name].sd.shape)
        assert np.allclose(fields[name].sd, sd, rtol=1e-10, atol=1e-14)
    # ψ on the far wall is Q alone: its sd is Q's prior sd
    assert np.allclose(fields["stream_function"].sd[:, -1], 0.1, rtol=1e-12)


def test_through_flow_coefficient_gradient_matches_differences():
    grid = walled_grid(("periodic", "neumann"))
    par = NodalStreamFunction(grid, through_flow=True)
    model = AdvectionDiffusion(grid, 0.01, "exponential")
    theta0 = gaussian_blob(grid, (0.4, 0.6), 0.03)
    sensor = (6, 5)
    rng = np.random.default_rng(8)
    c = 0.02 * rng.standard_normal(par.n_params)

    def f(coefs):
        return model.solve(par.to_velocity(coefs), theta0, 0.4)[sensor]

    delta = np.zeros(grid.shape)
    delta[sensor] = 1.0
    _, grad_u = model.gradient(par.to_velocity(c), theta0, lambda th: (th[sensor], delta), 0.4)
    dc = np.zeros(par.n_params)
    dc[-1] = 1.0                                   # the net flux alone, then every coefficient
    for direction in (dc, rng.standard_normal(par.n_params)):
        # as in the test above: truncation ~1e-7 relative at step 1e-5
        assert finite_difference_check(f, c, direction,
                                       float(par.pullback(grad_u) @ direction),
                                       step=1e-5) <= 1e-6
