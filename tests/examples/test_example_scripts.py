"""Every example runs as a script (``--quick``, Agg backend) and saves its figure."""

from __future__ import annotations

import pytest
from conftest import ROOT, run_script

EXAMPLES = ["convergence_r1", "sensitivity_map", "theorem_2_1", "high_dimensional",
            "quantum_toy",
            # ~15 s and ~12 s alone, 35 s each on the loaded 2-core machine
            pytest.param("surrogate_vs_adjoint", marks=pytest.mark.slow),
            pytest.param("rate_matrix_hmc", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_script_saves_its_figure(name, tmp_path):
    proc = run_script([str(ROOT / "examples" / f"{name}.py"), "--quick", "--outdir",
                       str(tmp_path)], tmp_path)
    figure = tmp_path / f"{name}.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert str(figure) in proc.stdout
