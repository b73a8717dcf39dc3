"""``benchmarks/bench_ensemble.py`` runs end to end at a small size and finds every
executor's results equal to the serial sweep's."""

import pytest

from conftest import ROOT, run_script


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_ensemble_runs_at_a_small_size(tmp_path):
    pytest.importorskip("distributed")
    proc = run_script([str(ROOT / "benchmarks" / "bench_ensemble.py"), "--n", "8", "--cases",
                       "4", "--overhead-cases", "5"], cwd=tmp_path)
    assert "equal to the serial sweep's, case by case: True" in proc.stdout
    assert "| Sweep, dask LocalCluster | 2 |" in proc.stdout
    assert "ms per further case" in proc.stdout
