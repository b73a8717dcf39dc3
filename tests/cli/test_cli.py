"""The CLI commands run end to end (subprocess, Agg backend)."""

from conftest import run_script


def test_cli_help(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "--help"], tmp_path)
    assert "forward" in proc.stdout


def test_cli_forward_saves_figure(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "forward", "--n", "32", "--outdir", "out"], tmp_path)
    assert "R2 forward solve" in proc.stdout
    assert (tmp_path / "out" / "forward.png").stat().st_size > 1000


def test_cli_rejects_bad_resolution(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "forward", "--n", "2"], tmp_path, returncode=2)
    assert "error: argument --n: expected an integer >= 3, got '2'" in proc.stderr


def test_cli_sensitivity_prints_table_and_saves_figure(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "sensitivity", "--n", "24", "--outdir", "out"], tmp_path)
    assert "adjoint gradient" in proc.stdout and "tangent (exact)" in proc.stdout
    assert (tmp_path / "out" / "sensitivity.png").stat().st_size > 1000
