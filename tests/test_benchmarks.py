"""The benchmark scripts run end to end at a tiny size (no timing is asserted)."""

from conftest import ROOT, run_script


def test_bench_sensitivity_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_sensitivity.py"), "--n", "16",
                       "--repeats", "1", "--cn-max-steps", "32"], tmp_path)
    assert "adjoint gradient, discrete, 512 params" in proc.stdout
    assert "adjoint gradient, quadrature, 512 params" in proc.stdout


def test_bench_propagate_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_propagate.py"), "--n", "16",
                       "--repeats", "1"], tmp_path)
    assert "scipy" in proc.stdout


def test_bench_kernels_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_kernels.py"), "--n", "16",
                       "--terms", "2", "--rounds", "1"], tmp_path)
    assert "adjoint recomputation ∥ backward" in proc.stdout
    assert "tangent / forward" in proc.stdout
