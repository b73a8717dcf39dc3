"""The numbers of ``examples/blessing_of_dimensionality.py`` at quick size: the two routes
to the Fréchet derivative agree, the mean-field closed form holds, the fitted exponents have
the signs the documentation states, and (1.6) is exact for a commuting direction."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, run_script
from example_loader import load_example

DENSE_ENSEMBLES = ("exponential", "uniform")


@pytest.fixture(scope="module")
def blessing():
    example = load_example("blessing_of_dimensionality")
    return example, example.main(quick=True)


def test_errors_are_finite_and_non_negative(blessing):
    _, result = blessing
    for table in (result.dense, result.absolute, result.derivative):
        for ensemble in table.values():
            for values in ensemble.values():
                assert np.all(np.isfinite(values)) and np.all(values >= 0)
    for ensemble in result.action.values():
        for values in ensemble.values():
            ran = np.isfinite(values)
            assert ran.any() and np.all(values[ran] >= 0)
    assert all(0 <= r < np.inf for values in result.pde.values() for r in values)


def test_action_route_agrees_with_the_dense_route(blessing):
    example, result = blessing
    # The same ||(grad - S)B|| / ||grad B|| by expm_frechet_action / surrogate_action and by
    # scipy's expm_frechet times B: within the propagator's tolerance carried through the
    # ratio (block_agreement_bound).
    assert result.agreement() <= 1.0
    # The block B of k standard normal vectors estimates r: the Hutchinson estimate of
    # ||A||_F^2 has relative standard deviation at most sqrt(2/k), so log ||AB||_F at most
    # 1/sqrt(2k), and the log of the ratio of two such at most twice that.
    rms, _ = result.sampling()
    assert rms <= np.sqrt(2 / example.N_VECTORS)


def test_mean_field_closed_form(blessing):
    example, result = blessing
    # r on the equal-rates generator against its closed form, within the rounding of the two
    # dense matrices (d eps relative each) carried through r = ||G - S|| / ||G||.
    assert result.mean_field_rounding <= 1.0
    # The closed form's limits: -> tau - 1 in the mixed regime, ~ d^(-1/2) at fixed tau.
    # At tau = 1: r sqrt(d - 1) -> (tau - 1 + e^-tau) / (tau e^-tau) = 1, up to O(1/d).
    d = 10**6
    assert example.mean_field_error(d, 1.0) * np.sqrt(d - 1) == pytest.approx(1.0, rel=1e-5)
    assert example.mean_field_error(20, 40.0) == pytest.approx(40 * 20 / 19 - 1, rel=1e-12)


@pytest.mark.parametrize("ensemble", DENSE_ENSEMBLES)
def test_relative_error_falls_with_d_only_in_exit_rate_units(blessing, ensemble):
    example, result = blessing
    dims = np.array(result.settings.dimensions, dtype=float)
    use = dims >= result.settings.fit_from
    for column in example.COLUMNS:
        per_seed = result.seed_exponents[ensemble][column]
        p = result.exponents[ensemble][column]
        if column.startswith("exit"):
            assert np.all(per_seed < 0)            # every seed's fit falls with d
        else:
            assert np.all(per_seed > 0)            # mixed regime: r ~ tc - 1, c ~ d
        # The equal-rates generator predicts the exponent; the random fluctuations move it
        # by less than the seeds differ among themselves.
        mean_field = example.fit_exponent(dims[use], result.mean_field[column][use])
        assert abs(p - mean_field) <= np.ptp(per_seed)


def test_absolute_error_falls_in_both_units(blessing):
    _, result = blessing
    # ||grad - S||_F -> a multiple of ||P J||_F = sqrt(2/d): the sense in which a bound on
    # the absolute error improves with d.
    for ensemble in DENSE_ENSEMBLES:
        assert all(p < 0 for p in result.absolute_exponents[ensemble].values())


def test_pde_error_is_set_by_the_physics(blessing):
    _, result = blessing
    # Refining R2 does not shrink the error: it converges to its continuum value (from
    # below on these grids).
    assert all(p >= 0 for p in result.pde_exponents.values())
    n = np.array(result.settings.resolutions, dtype=float)
    # The mean exit rate is 4 kappa / h^2 = 4 kappa N^2, the slowest mode is physical.
    np.testing.assert_allclose(result.pde_exit_rate, 4 * 0.01 * n**2, rtol=1e-12)
    assert np.ptp(result.pde_gap) <= 0.1 * result.pde_gap.min()


def test_surrogate_is_exact_for_a_commuting_direction(blessing):
    _, result = blessing
    assert result.commuting_error <= result.commuting_bound


@pytest.mark.slow   # ~10 s alone, more on the loaded 2-core machine
def test_blessing_script_saves_its_figure(tmp_path):
    proc = run_script([str(ROOT / "examples" / "blessing_of_dimensionality.py"), "--quick",
                       "--outdir", str(tmp_path)], tmp_path)
    figure = tmp_path / "blessing_of_dimensionality.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert str(figure) in proc.stdout
