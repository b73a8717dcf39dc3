import numpy as np
import pytest

import advdiff_sens as ads


@pytest.mark.parametrize("bc, first, last", [("periodic", 0.0, 0.75), ("neumann", 0.0, 1.0),
                                              ("dirichlet", 0.2, 0.8)])
def test_node_positions(bc, first, last):
    grid = ads.Grid(shape=(4,), bc=bc)
    assert grid.axes[0][0] == pytest.approx(first)
    assert grid.axes[0][-1] == pytest.approx(last)
    assert np.allclose(np.diff(grid.axes[0]), grid.spacing[0])


def test_attributes_3d_mixed_bc():
    grid = ads.Grid(shape=(4, 5, 6), extent=(1.0, 2.0, 3.0), bc=("periodic", "neumann", "dirichlet"))
    assert grid.ndim == 3 and grid.n == 120 and grid.shape == (4, 5, 6)
    assert grid.spacing == pytest.approx((0.25, 0.5, 3.0 / 7))
    assert len(grid.coords) == 3 and all(c.shape == grid.shape for c in grid.coords)
    assert grid.coords[1][0, :, 0] == pytest.approx(grid.axes[1])
    # the quadrature weights integrate 1 to the domain volume (exactly for periodic/neumann)
    grid_pn = ads.Grid(shape=(4, 5), extent=(1.0, 2.0), bc=("periodic", "neumann"))
    assert grid_pn.weights.sum() == pytest.approx(2.0, rel=1e-14)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"shape": (2,)}, ValueError, "shape"),
    ({"shape": (4, 4, 4, 4)}, ValueError, "shape"),
    ({"shape": (4.0,)}, TypeError, "shape"),
    ({"shape": (4, 4), "extent": (1.0,)}, ValueError, "extent"),
    ({"shape": (4,), "extent": (-1.0,)}, ValueError, "extent"),
    ({"shape": (4,), "extent": (np.nan,)}, ValueError, "extent"),
    ({"shape": (4,), "bc": "robin"}, ValueError, "bc"),
    ({"shape": (4, 4), "bc": ("periodic",)}, ValueError, "bc"),
])
def test_grid_rejects_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ads.Grid(**kwargs)
