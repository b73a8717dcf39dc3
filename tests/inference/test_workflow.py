"""The MAP → Laplace → HMC workflow as a Python API: events, saving after each stage, the
save/load round trip, checks before computing, and the same arrays as the CLI."""

import numpy as np
import pytest

import advdiff_sens.inference.workflow as workflow
from advdiff_sens import AdvectionDiffusion, Grid
from advdiff_sens.cli import main
from advdiff_sens.inference import MAP_ARRAYS, SAMPLE_ARRAYS, WorkflowResult, run_workflow
from advdiff_sens.problems import make_twin
from advdiff_sens.sampling import HMC

# 2 chains x 4 draws cannot reach the sampler diagnostics' ESS target: FitWarnings expected
pytestmark = pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")


@pytest.fixture(scope="module")
def twin():
    # the CLI tests' twin: κ = 0.05 and a gentle flow on 8 x 8, 4 coefficients
    return make_twin(8, kmax=1, kappa=0.05, flow_strength=0.5, n_sensors=6,
                     times=np.linspace(0.1, 0.3, 3), rng=1)


def _run(twin, **kwargs):
    kwargs = {"kmax": 1, "n_draws": 4, "rng": 0,
              "sampler": HMC(step_size=0.6, n_leapfrog=5, n_warmup=2), **kwargs}
    return run_workflow(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
                        twin.noise_std, **kwargs)


@pytest.fixture(scope="module")
def result(twin, tmp_path_factory):
    return _run(twin, path=tmp_path_factory.mktemp("run") / "estimate.npz")


def test_result_holds_map_laplace_samples_and_diagnostics(result):
    p = result.coefficients.size
    assert p == 4 and result.covariance.shape == (p, p) and result.samples.shape == (2, 4, p)
    assert np.array_equal(result.coefficients, result.estimate.coefficients)
    assert result.fit_report.misfit == result.misfit == result.estimate.misfit
    assert result.sampler_report.divergences == int(np.sum(result.divergences))
    assert np.array_equal(result.samples, result.sampler_result.samples)


def test_events_in_order_and_the_file_written_after_each_stage(twin, tmp_path):
    path = tmp_path / "estimate.npz"
    events = []

    def callback(event, result):
        files = np.load(path).files if path.exists() else []
        events.append((event, result.samples is not None, tuple(files)))

    _run(twin, path=path, callback=callback)
    assert events == [("map", False, ()), ("saved", False, MAP_ARRAYS),
                      ("hmc", True, MAP_ARRAYS), ("saved", True, MAP_ARRAYS + SAMPLE_ARRAYS)]
    assert not list(tmp_path.glob("*.part"))
    seen = []
    _run(twin, callback=lambda event, result: seen.append(event))
    assert seen == ["map", "hmc"]


def test_save_load_round_trip(result, tmp_path):
    for stage in (result, WorkflowResult(**{name: getattr(result, name) for name in MAP_ARRAYS})):
        loaded = WorkflowResult.load(stage.save(tmp_path / "r.npz"))
        assert loaded.arrays().keys() == stage.arrays().keys()
        for name, value in stage.arrays().items():
            assert np.array_equal(getattr(loaded, name), value), name
        assert isinstance(loaded.misfit, float) and loaded.estimate is None


def test_a_failed_save_keeps_the_previous_file(result, tmp_path, monkeypatch):
    path = result.save(tmp_path / "r.npz")
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        result.save(path)
    assert path.read_bytes() == before and not list(tmp_path.glob("*.part"))


def test_load_rejects_an_incomplete_file(result, tmp_path):
    arrays = result.arrays()
    del arrays["covariance"], arrays["step_size"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"lacks the array\(s\) \['covariance', 'step_size'\]"):
        WorkflowResult.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("change, error, match", [
    ({"n_draws": 3}, ValueError, "n_draws must be >= 4"),
    ({"sampler": "hmc"}, TypeError, "sampler must be an advdiff_sens.sampling.HMC"),
    ({"n_chains": 0}, ValueError, "n_chains must be >= 1"),
    ({"callback": 1}, TypeError, "callback must be callable"),
    ({"path": "/nonexistent-folder/estimate.npz"}, ValueError, "does not exist"),
    ({"progress": True}, ValueError, "progress must be None or 'auto'"),
])
def test_bad_arguments_are_rejected_before_computing(twin, monkeypatch, change, error, match):
    def started(*args, **kwargs):
        raise AssertionError("a computation started before the arguments were checked")

    monkeypatch.setattr(workflow, "estimate_velocity", started)
    with pytest.raises(error, match=match):
        _run(twin, **change)


def test_python_api_gives_the_arrays_of_the_cli(twin, tmp_path, capsys):
    np.savez(tmp_path / "data.npz", sensors=twin.sensors, times=twin.times, data=twin.data,
             theta0=twin.theta0, noise_std=twin.noise_std, kappa=0.05, kmax=1.0)
    assert main(["estimate", str(tmp_path / "data.npz"), "--samples", "4", "--warmup", "3",
                 "--seed", "7", "--outdir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    model = AdvectionDiffusion(Grid((8, 8), (1.0, 1.0), "periodic"), 0.05, "exponential",
                               backend="scipy")
    result = run_workflow(model, twin.theta0, twin.sensors, twin.times, twin.data,
                          twin.noise_std, kmax=1.0, n_draws=4, rng=7,
                          sampler=HMC(step_size=0.6, n_leapfrog=5, n_warmup=3))
    cli = WorkflowResult.load(tmp_path / "out" / "estimate.npz")
    for name, value in result.arrays().items():
        assert np.array_equal(getattr(cli, name), value), name
