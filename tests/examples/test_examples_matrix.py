"""Run the matrix-level example scripts (quick sizes, Agg backend) and check their figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("script, figure", [
    ("theorem_2_1.py", "theorem_2_1.png"),
    ("high_dimensional.py", "high_dimensional.png"),
    ("quantum_toy.py", "quantum_toy.png"),
])
def test_example_runs_and_saves_figure(script, figure, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", ADVDIFF_SENS_QUICK="1",
               ADVDIFF_SENS_FIGDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    path = tmp_path / figure
    assert path.is_file() and path.stat().st_size > 10_000
    assert str(path) in proc.stdout
