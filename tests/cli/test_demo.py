"""The `demo` and `estimate` commands run end to end."""

import numpy as np

from conftest import run_script


def test_demo_quick_runs_and_writes_figures(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "demo", "--quick", "--outdir", "out"], tmp_path)
    assert "velocity relative L2 error" in proc.stdout and "HMC" in proc.stdout
    for name in ("flow.png", "data_fit.png", "posterior_sd.png", "traces.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
    assert str(tmp_path / "out") in proc.stdout
    assert "after 4 warm-up" in proc.stdout            # the --quick warm-up default
    with np.load(tmp_path / "out" / "estimate.npz") as out:   # the demo keeps its arrays too
        assert out["coefficients"].shape == (12,) and out["samples"].shape == (2, 8, 12)


def test_estimate_reads_npz_and_writes_results(tmp_path):
    from advdiff_sens.problems.twin import make_twin

    twin = make_twin(10, kmax=1, n_sensors=9, times=np.linspace(0.1, 0.4, 4), rng=2)
    np.savez(tmp_path / "data.npz", sensors=twin.sensors, times=twin.times, data=twin.data,
             theta0=twin.theta0, noise_std=twin.noise_std, kappa=0.01, kmax=1.0)
    proc = run_script(["-m", "advdiff_sens", "estimate", "data.npz", "--samples", "6",
                       "--warmup", "3", "--outdir", "res"], tmp_path)
    assert proc.stdout.index("read data.npz") < proc.stdout.index("MAP:")
    with np.load(tmp_path / "res" / "estimate.npz") as out:
        assert out["velocity"].shape == (2, 10, 10)
        p = out["coefficients"].size
        assert out["samples"].shape == (2, 6, p) and out["accept_rate"].shape == (2,)
        assert out["step_size"].shape == (2,) and np.all(out["step_size"] > 0)
        error = np.linalg.norm(out["velocity"] - twin.true_velocity) / np.linalg.norm(twin.true_velocity)
        assert error < 0.1
    assert (tmp_path / "res" / "flow.png").exists()


def test_estimate_rejects_incomplete_file(tmp_path):
    np.savez(tmp_path / "bad.npz", sensors=np.zeros((3, 2)))
    proc = run_script(["-m", "advdiff_sens", "estimate", "bad.npz"], tmp_path, returncode=2)
    assert "lacks the array(s)" in proc.stderr
