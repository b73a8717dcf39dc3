"""Physics checks: cell Péclet number with central differences, flow through no-flux walls
(issue 12, item 5), warned once per model and kind, attributed to the caller."""

import warnings

import numpy as np
import pytest

import advdiff_sens as ads
from advdiff_sens.exceptions import PhysicsWarning
from advdiff_sens.discretisation.physics import (
    PHYSICS_CHECKS,
    cell_peclet,
    check_physics,
    wall_normal_velocity,
)


def physics_warnings(call):
    """Run ``call()`` recording every warning (no deduplication by the registry) and return
    the PhysicsWarnings."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    return [w for w in record if issubclass(w.category, PhysicsWarning)]


def uniform(grid, *components):
    return np.stack([np.full(grid.shape, c, dtype=float) for c in components])


def cellular_in_box(grid):
    """u = (∂ψ/∂y, −∂ψ/∂x) for ψ = sin(πx) sin(πy)/π: ψ = 0 on the unit square's boundary."""
    x, y = grid.coords
    return np.stack([np.sin(np.pi * x) * np.cos(np.pi * y),
                     -np.cos(np.pi * x) * np.sin(np.pi * y)])


# ---------------------------------------------------------------------------- cell Péclet

def test_cell_peclet_1d_by_hand():
    # h = 1/16, Pe = u h/(2κ) = (1/16)/0.006 = 10.4166…
    grid = ads.Grid((16,), bc="periodic")
    assert cell_peclet(grid, 0.003, uniform(grid, -1.0)) == pytest.approx(125 / 12, rel=1e-14)
    assert cell_peclet(grid, 0.003, uniform(grid, 0.0)) == 0.0


def test_cell_peclet_2d_by_hand_and_neumann_wall_nodes_excluded():
    # h = (0.1, 0.25); Pe_x = 0.4·0.1/0.1 = 0.4, Pe_y = 0.652·0.25/0.1 = 1.63
    grid = ads.Grid((11, 8), extent=(1.0, 2.0), bc=("neumann", "periodic"))
    u = uniform(grid, 0.4, 0.652)
    assert cell_peclet(grid, 0.05, u) == pytest.approx(1.63, rel=1e-14)
    # the normal component on the Neumann walls drops out of the wall rows: not counted
    u[0, [0, -1], :] = 5.0
    assert cell_peclet(grid, 0.05, u) == pytest.approx(1.63, rel=1e-14)
    u[0, 1, 3] = 5.0   # an interior node: Pe_x = 5·0.1/0.1 = 5
    assert cell_peclet(grid, 0.05, u) == pytest.approx(5.0, rel=1e-14)


@pytest.mark.parametrize("bc", ["periodic", "neumann", "dirichlet"])
@pytest.mark.parametrize("peclet", [0.9, 1.1])
def test_cell_peclet_at_most_one_iff_central_off_diagonals_nonnegative(bc, peclet, rng):
    grid = ads.Grid((7, 6), bc=bc)
    kappa = 0.05
    u = rng.uniform(-1, 1, size=(2, *grid.shape))
    u *= peclet / cell_peclet(grid, kappa, u)
    # large components the rows do not use: the normal velocity on Neumann wall nodes; on
    # Dirichlet axes the first node's u < 0 and the last node's u > 0 (the weight towards
    # the dropped wall neighbour)
    if bc == "neumann":
        u[0, [0, -1], :] = 40.0
        u[1, :, [0, -1]] = -40.0
    if bc == "dirichlet":
        u[0, 0, :], u[0, -1, :] = -40.0, 40.0
        u[1, :, 0], u[1, :, -1] = -40.0, 40.0
    assert cell_peclet(grid, kappa, u) == pytest.approx(peclet, rel=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        dense = ads.AdvectionDiffusion(grid, kappa).generator(u).toarray()
    off = dense - np.diag(np.diag(dense))
    assert (off.min() >= 0) == (peclet <= 1)


def test_dirichlet_end_nodes_count_towards_the_interior():
    # first node, u = +3: c⁺ = κ/h − 3/2 is kept; h = 1/6, Pe = 3·(1/6)/(2·0.1) = 2.5
    grid = ads.Grid((5,), bc="dirichlet")
    u = np.zeros((1, 5))
    u[0, 0] = 3.0
    assert cell_peclet(grid, 0.1, u) == pytest.approx(2.5, rel=1e-14)
    u[0, 0], u[0, -1] = -3.0, 3.0     # weights towards the walls: dropped
    assert cell_peclet(grid, 0.1, u) == 0.0


def test_central_above_peclet_one_overshoots_and_positive_schemes_do_not():
    """The reason for the Péclet check (numbers quoted in the operators docstring)."""
    grid = ads.Grid((64,), bc="periodic")
    x = grid.coords[0]
    u = np.sin(2 * np.pi * x)[None]
    theta0 = (1 + np.cos(2 * np.pi * x)) / 2
    assert cell_peclet(grid, 1e-4, u) == pytest.approx(78.125, rel=1e-14)   # (1/64)/2e-4
    maxima = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        for scheme in ("central", "upwind", "exponential"):
            model = ads.AdvectionDiffusion(grid, kappa=1e-4, scheme=scheme)
            maxima[scheme] = model.solve(u, theta0, 1.0).max()
    assert maxima["central"] > 1.4
    assert maxima["upwind"] <= 1 and maxima["exponential"] <= 1


def test_central_above_peclet_one_warns_with_value_and_remedy():
    grid = ads.Grid((16,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.003, scheme="central")
    found = physics_warnings(lambda: model.generator(uniform(grid, 1.0)))
    assert len(found) == 1
    message = str(found[0].message)
    assert "cell Péclet" in message and "= 10.42 > 1" in message   # 125/12 = 10.4166…
    # h ≤ 2κ/max|u| = 0.006 needs N ≥ ceil(1/0.006) = 167 nodes on a periodic axis
    assert "= 0.006 " in message and "shape ≥ (167,)" in message
    assert "scheme='exponential'" in message and "'upwind'" in message


def test_peclet_remedy_shape_on_mixed_axes():
    # limits 2κ/max|u_a| = (0.25, 0.1534): Neumann x needs 1/0.25 + 1 = 5 ≤ 11 nodes (kept),
    # periodic y of length 2 needs ceil(2·0.652/0.1) = ceil(13.04) = 14
    grid = ads.Grid((11, 8), extent=(1.0, 2.0), bc=("neumann", "periodic"))
    u = uniform(grid, 0.4, 0.652)
    u[0, [0, -1], :] = 0.0        # no flow through the walls
    model = ads.AdvectionDiffusion(grid, kappa=0.05)
    found = physics_warnings(lambda: model.generator(u))
    assert len(found) == 1
    assert "= 1.63 > 1" in str(found[0].message)
    assert "shape ≥ (11, 14)" in str(found[0].message)


def test_peclet_exactly_one_and_below_do_not_warn():
    grid = ads.Grid((16,), bc="periodic")
    for speed in (0.096, 0.05):   # Pe = 0.096·(1/16)/0.006 = 1 exactly, and 0.52
        model = ads.AdvectionDiffusion(grid, kappa=0.003)
        u = uniform(grid, speed)
        assert physics_warnings(lambda m=model, u=u: m.generator(u)) == []


@pytest.mark.parametrize("scheme", ["upwind", "exponential"])
def test_positive_schemes_do_not_warn_at_high_peclet(scheme):
    grid = ads.Grid((16, 16), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=1e-4, scheme=scheme)
    u = uniform(grid, 1.0, -0.5)
    assert cell_peclet(grid, 1e-4, u) == pytest.approx(312.5, rel=1e-14)
    assert physics_warnings(lambda: model.generator(u)) == []


# ------------------------------------------------------------------------ no-flux walls

def test_wall_normal_component_warns_naming_the_wall_and_the_fraction():
    # u = (0.3 x, 0.4): u·n = 0 at x = 0, 0.3 at x = 1; max|u| = |(0.3, 0.4)| = 0.5 → 60 %
    grid = ads.Grid((5, 4), bc=("neumann", "periodic"))
    x, _ = grid.coords
    u = np.stack([0.3 * x, np.full(grid.shape, 0.4)])
    assert wall_normal_velocity(grid, u) == pytest.approx(0.3, rel=1e-14)
    model = ads.AdvectionDiffusion(grid, kappa=1.0)
    found = physics_warnings(lambda: model.generator(u))
    assert len(found) == 1
    message = str(found[0].message)
    assert "no-flux wall(s) x=1:" in message and "x=0" not in message
    assert "max |u·n| = 0.3 " in message and "(60 % of max|u| = 0.5)" in message
    assert "u·n = 0 on the walls" in message and "ψ = 0" in message


def test_wall_mass_balance_by_hand():
    """The reason for the wall check: with u = 1 the central generator's weighted column sums
    are wᵀL = (½, ½, 0, …, 0, −½, −½) (mass enters at x = 0 and leaves at x = 1)."""
    grid = ads.Grid((9,), bc="neumann")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhysicsWarning)
        L = ads.AdvectionDiffusion(grid, kappa=0.1).generator(uniform(grid, 1.0))
    expected = np.zeros(9)
    expected[[0, 1]], expected[[-2, -1]] = 0.5, -0.5
    assert np.allclose(grid.weights.ravel() @ L.toarray(), expected, rtol=0, atol=1e-13)


def test_tangential_flow_in_a_box_does_not_warn():
    grid = ads.Grid((16, 16), bc="neumann")
    u = cellular_in_box(grid)
    assert 0 < wall_normal_velocity(grid, u) < 1e-15   # sin(π) = 1.2e-16: rounding only
    model = ads.AdvectionDiffusion(grid, kappa=0.1)
    assert physics_warnings(lambda: model.generator(u)) == []


def test_wall_threshold_is_relative():
    grid = ads.Grid((5,), bc="neumann")
    for scale, warns in ((1e-13, False), (1e-11, True)):
        u = uniform(grid, 1e6)
        u[0, [0, -1]] = scale * 1e6
        assert wall_normal_velocity(grid, u) == pytest.approx(scale * 1e6, rel=1e-14)
        found = physics_warnings(lambda u=u: check_physics(grid, 1e8, ads.Central(), u))
        assert len(found) == int(warns)


@pytest.mark.parametrize("bc", ["periodic", "dirichlet"])
def test_no_wall_warning_on_periodic_or_dirichlet_axes(bc):
    grid = ads.Grid((6, 5), bc=bc)
    u = uniform(grid, 1.0, -2.0)
    assert wall_normal_velocity(grid, u) == 0.0
    assert physics_warnings(lambda: ads.AdvectionDiffusion(grid, kappa=1.0).generator(u)) == []


# --------------------------------------------------------------------------------- once

def test_warned_once_per_model_and_kind():
    grid = ads.Grid((8, 8), bc="neumann")
    model = ads.AdvectionDiffusion(grid, kappa=1e-3)
    box = cellular_in_box(grid)      # tangential, Pe = 1·(1/7)/0.002 ≈ 71
    through = uniform(grid, 1.0, 0.0)

    def loop():
        for k in range(1, 4):
            model.generator(k * box)
        model.generator(through)
        model.generator(2 * through)

    kinds = [str(w.message).split(" ")[0] for w in physics_warnings(loop)]
    assert kinds == ["cell", "velocity"]     # Péclet at the first call, the wall at the fourth
    assert physics_warnings(lambda: model.generator(3 * through)) == []
    other = ads.AdvectionDiffusion(grid, kappa=1e-3)   # a new model warns again
    assert len(physics_warnings(lambda: other.generator(through))) == 2


def test_check_physics_skips_and_reports_kinds():
    grid = ads.Grid((8,), bc="neumann")
    u = uniform(grid, 10.0)
    assert set(PHYSICS_CHECKS) == {"cell_peclet", "wall_normal_velocity"}
    found = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        found.append(check_physics(grid, 1e-3, ads.Central(), u))
        found.append(check_physics(grid, 1e-3, ads.Central(), u, skip={"cell_peclet"}))
        found.append(check_physics(grid, 1e-3, ads.Central(), u, skip=PHYSICS_CHECKS))
    assert found == [set(PHYSICS_CHECKS), {"wall_normal_velocity"}, set()]
    assert len(record) == 3


@pytest.mark.parametrize("method", ["solve", "tangent"])
def test_warning_points_at_the_caller(method):
    grid = ads.Grid((16,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.003)
    u = uniform(grid, 1.0)
    theta0 = np.sin(2 * np.pi * grid.coords[0])
    if method == "solve":
        found = physics_warnings(lambda: model.solve(u, theta0, 0.1))
    else:
        found = physics_warnings(lambda: model.tangent(u, theta0, u, 0.1))
    assert len(found) == 1
    assert found[0].filename == __file__


def test_warning_can_be_made_an_error_and_then_repeats():
    grid = ads.Grid((16,), bc="periodic")
    model = ads.AdvectionDiffusion(grid, kappa=0.003)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicsWarning)
        for _ in range(2):   # not cached, not marked as warned: raises every time
            with pytest.raises(PhysicsWarning, match="cell Péclet"):
                model.generator(uniform(grid, 1.0))


def test_grid_shape_for_spacing_by_hand():
    grid = ads.Grid((4, 4, 4), extent=(1.0, 1.0, 2.0), bc=("periodic", "neumann", "dirichlet"))
    # h = ℓ/N, ℓ/(N − 1), ℓ/(N + 1) ≤ 0.3: N ≥ 3.33…, 4.33…, 5.66…
    assert grid.shape_for_spacing((0.3, 0.3, 0.3)) == (4, 5, 6)
    assert grid.shape_for_spacing((np.inf, 10.0, 0.01)) == (3, 3, 199)
    with pytest.raises(ValueError, match="max_spacing"):
        grid.shape_for_spacing((0.3, 0.3))
    with pytest.raises(ValueError, match="max_spacing"):
        grid.shape_for_spacing((0.3, 0.0, 0.3))
