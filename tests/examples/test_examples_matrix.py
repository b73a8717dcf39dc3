"""Run the matrix-level example scripts (quick sizes, Agg backend) and check their figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("script, figure", [
    ("theorem_2_1.py", "theorem_2_1.png"),
    ("high_dimensional.py", "high_dimensional.png"),
    ("quantum_toy.py", "quantum_toy.png"),
])
def test_example_runs_and_saves_figure(script, figure, tmp_path):
    proc = run_script([str(EXAMPLES / script)], tmp_path)
    path = tmp_path / figure
    assert path.is_file() and path.stat().st_size > 10_000
    assert str(path) in proc.stdout
