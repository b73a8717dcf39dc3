"""The foundation and estimation examples run end to end."""

import re

import pytest

from conftest import ROOT, run_script


def test_example_convergence_r1(tmp_path):
    proc = run_script([str(ROOT / "examples" / "convergence_r1.py")], tmp_path)
    assert "fitted order" in proc.stdout
    assert (tmp_path / "convergence_r1.png").exists()


def test_example_sensitivity_map(tmp_path):
    proc = run_script([str(ROOT / "examples" / "sensitivity_map.py")], tmp_path)
    assert "surrogate, order 1" in proc.stdout
    assert (tmp_path / "sensitivity_map.png").exists()


@pytest.mark.slow   # ~15 s alone, 35 s on the loaded 2-core machine
def test_example_surrogate_vs_adjoint(tmp_path):
    proc = run_script([str(ROOT / "examples" / "surrogate_vs_adjoint.py")], tmp_path)
    assert "surrogate rel. error" in proc.stdout and "| gradient | acceptance" in proc.stdout
    assert (tmp_path / "surrogate_vs_adjoint.png").exists()


@pytest.mark.slow   # ~12 s alone, 35 s on the loaded 2-core machine
def test_example_rate_matrix_hmc(tmp_path):
    proc = run_script([str(ROOT / "examples" / "rate_matrix_hmc.py")], tmp_path)
    assert "asymptotic surrogate" in proc.stdout
    # central difference with step 1e-5: truncation ~1e-10, rounding ~1e-16·|log π|/1e-5
    check = re.search(r"near the MAP: relative error (\S+)", proc.stdout)
    assert check and float(check.group(1)) <= 1e-6
    assert (tmp_path / "rate_matrix_hmc.png").exists()
