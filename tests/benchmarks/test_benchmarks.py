"""The benchmark scripts run end to end at a tiny size (no timing is asserted); the accuracies
they print are checked against what each method guarantees."""

import importlib.util

import pytest

from conftest import ROOT, run_script


def _table_rows(stdout: str) -> dict[str, list[str]]:
    """Markdown table rows ``| name | c1 | c2 | ... |`` keyed by their first cell."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and not line.startswith("|---"):
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_sensitivity_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_sensitivity.py"), "--n", "16",
                       "--repeats", "1", "--cn-max-steps", "32"], tmp_path)
    rows = _table_rows(proc.stdout)
    # last column: relative error of dΦ/du[v] against the tangent
    assert float(rows["adjoint gradient, discrete, 512 params"][-1]) <= 1e-12
    assert float(rows["adjoint gradient, quadrature, 512 params"][-1]) <= 1e-9
    surrogate = rows["surrogate gradient (1.6)"][-1]
    assert rows["surrogate gradient (1.6), backward solve alone"][-1] == surrogate


def test_bench_propagate_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_propagate.py"), "--n", "16",
                       "--repeats", "1"], tmp_path)
    errors = {}
    for line in proc.stdout.splitlines():
        if line.startswith(("fwd ", "pair ")):
            label = " ".join(line.split()[:-6])           # solve and backend
            errors[label] = float(line.split()[-2])        # the rel.err column
    assert errors["fwd auto, tol=1e-8"] <= 1e-8
    assert all(err <= 1e-11 for label, err in errors.items() if "tol=1e-8" not in label)
    assert len(errors) == 5


def test_bench_kernels_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_kernels.py"), "--n", "16",
                       "--terms", "2", "--rounds", "1"], tmp_path)
    rows = _table_rows(proc.stdout)
    assert "adjoint recomputation ∥ backward (two threads)" in rows
    assert float(rows["surrogate gradient / forward (products)"][0]) == 2.0
    assert float(rows["tangent / forward"][0]) > 0


@pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                    reason="numba (the compiled extra) is not installed")
def test_bench_threads_runs_and_checks_the_kernels_agree(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_threads.py"), "--n", "16",
                       "--rounds", "1", "--triad-entries", "100000"], tmp_path)
    assert "every kernel's results equal scipy's bit for bit" in proc.stdout
    rows = _table_rows(proc.stdout)
    assert int(rows["forward"][0]) > 0 and int(rows["adjoint gradient"][0]) > 0
    assert float(rows["1"][0]) > 0 and float(rows["2"][0]) > 0          # bandwidths


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_estimation_runs(tmp_path):
    proc = run_script([str(ROOT / "benchmarks" / "bench_estimation.py"), "--n", "12",
                       "--n-theta0", "10", "--n-dense", "8", "--sensors", "9", "--rank", "8"],
                      tmp_path, timeout=900)
    rows = _table_rows(proc.stdout)
    newton = rows["Newton-CG (discrepancy)"]
    assert newton[-1] in ("discrepancy", "gradient")           # stopped at the noise level
    if newton[-1] == "discrepancy":                           # 2Φ ≤ N = 20 times × 9 sensors
        assert float(newton[5]) <= 0.5 * 20 * 9
    # the low-rank Laplace with rank min(N, p) reproduces the dense variances to rounding
    assert float(rows["low rank"][-1]) < 1e-8
    assert "Targets" in proc.stdout
