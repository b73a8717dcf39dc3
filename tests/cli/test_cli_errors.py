"""Bad input to the CLI: every argument and input array is checked before any computation,
and every error is one ``error: …`` line on stderr with exit status 2, never a traceback."""

import warnings
import zipfile

import numpy as np
import pytest

import advdiff_sens.inference.workflow
import advdiff_sens.sampling
import advdiff_sens.problems.twin
from advdiff_sens import cli
from advdiff_sens.cli import datafile, estimation, forward, sensitivity
from advdiff_sens.inference import VelocityPosterior
from advdiff_sens.problems.twin import make_twin
from conftest import run_script

# The tiny runs here (2 chains x 4 draws) cannot reach the sampler diagnostics' ESS target, so
# their FitWarnings are expected; what they look like is tested through the module itself.
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]


def _computation_started(*args, **kwargs):
    raise AssertionError("a computation started before the input was checked")


@pytest.fixture
def no_computation(monkeypatch):
    """Make every entry point of a computation fail the test if it is reached."""
    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", _computation_started)
    monkeypatch.setattr(advdiff_sens.problems.twin, "make_twin", _computation_started)
    monkeypatch.setattr(forward, "r2_problem", _computation_started)
    monkeypatch.setattr(sensitivity, "r2_problem", _computation_started)


@pytest.fixture(scope="module")
def twin():
    # κ = 0.05 and a gentle flow keep the cell Péclet number below 1 on the 8 x 8 grid
    return make_twin(8, kmax=1, kappa=0.05, flow_strength=0.5, n_sensors=6,
                     times=np.linspace(0.1, 0.3, 3), rng=1)


@pytest.fixture
def good_arrays(twin):
    return {"sensors": twin.sensors, "times": twin.times, "data": twin.data,
            "theta0": twin.theta0, "noise_std": twin.noise_std, "kappa": 0.05, "kmax": 1.0}


def _usage_error(capsys, argv: list[str], argument: str) -> str:
    """Run ``main(argv)``, expect an error naming ``argument``; return stderr."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(("error:", f"advdiff-sens {argv[0]}: error:")), err
    assert argument in lines[0], err
    return lines[0]


# ------------------------------------------------------------------ command-line arguments

def test_forward_n_not_an_integer_names_argument_and_expectation(capsys, no_computation):
    line = _usage_error(capsys, ["forward", "--n", "abc"], "--n")
    assert line == "advdiff-sens forward: error: argument --n: expected an integer >= 3, got 'abc'"


@pytest.mark.parametrize("argv, argument, expected", [
    (["forward", "--n", "2"], "--n", "integer >= 3"),
    (["sensitivity", "--n", "1.5"], "--n", "integer >= 3"),
    (["demo", "--noise", "0"], "--noise", "number > 0"),
    (["demo", "--noise", "nan"], "--noise", "number > 0"),
    (["demo", "--noise", "inf"], "--noise", "number > 0"),
    (["sensitivity", "--rtol", "0"], "--rtol", "number in (0, 1)"),
    (["sensitivity", "--rtol", "1"], "--rtol", "number in (0, 1)"),
    (["demo", "--seed", "-1"], "--seed", "integer >= 0"),
    (["demo", "--starts", "0"], "--starts", "integer >= 1"),
    (["demo", "--warmup", "-2"], "--warmup", "integer >= 0"),
    (["estimate", "data.npz", "--samples", "3"], "--samples", "integer >= 4"),
    (["estimate", "data.npz", "--starts", "x"], "--starts", "integer >= 1"),
    (["estimate", "data.npz", "--optimizer", "bfgs"], "--optimizer", "gauss-newton"),
    (["estimate", "data.npz", "--scheme", "centered"], "--scheme", "exponential"),
    (["estimate", "data.npz", "--stages", "3,2"], "--stages", "increasing positive integers"),
    (["estimate", "data.npz", "--stages", "0,3"], "--stages", "increasing positive integers"),
    (["estimate", "data.npz", "--stages", "three"], "--stages", "'none'"),
])
def test_bad_argument_is_a_usage_error(capsys, no_computation, argv, argument, expected):
    line = _usage_error(capsys, argv, argument)
    assert expected in line


def test_samples_below_four_rejected_before_the_map(capsys, tmp_path, monkeypatch,
                                                    no_computation, good_arrays):
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", **good_arrays)
    _usage_error(capsys, ["estimate", "data.npz", "--samples", "3"], "--samples")
    assert not (tmp_path / "advdiff_sens_estimate").exists()


def _interrupt_recording(calls: dict):
    """A stand-in that records its keyword arguments in ``calls`` and raises Ctrl-C."""

    def interrupted(*args, **kwargs):
        calls.update(kwargs)
        raise KeyboardInterrupt

    return interrupted


def test_stages_none_means_no_continuation(capsys, tmp_path, monkeypatch, good_arrays):
    calls = {}
    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", _interrupt_recording(calls))
    np.savez(tmp_path / "data.npz", **good_arrays)
    argv = ["estimate", str(tmp_path / "data.npz"), "--stages", "none", "--starts", "3",
            "--optimizer", "lbfgs", "--seed", "5", "--outdir", str(tmp_path / "out")]
    assert cli.main(argv) == 130
    assert calls["continuation"] == () and calls["n_starts"] == 3
    assert calls["optimizer"] == "lbfgs" and calls["rng"] == 5
    assert calls["progress"] == "auto"          # the MAP shows progress once it runs long
    assert "interrupted; nothing was saved" in capsys.readouterr().err


# ------------------------------------------------------------------ the output folder

@pytest.mark.parametrize("command", [["forward", "--n", "8"], ["demo", "--quick"],
                                     ["sensitivity", "--n", "8"], ["estimate", "data.npz"]])
def test_outdir_that_is_a_file_rejected_before_computing(capsys, tmp_path, monkeypatch,
                                                         no_computation, good_arrays, command):
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", **good_arrays)
    (tmp_path / "taken").write_text("not a folder")
    line = _usage_error(capsys, [*command, "--outdir", "taken"], "--outdir")
    assert "exists and is not a folder" in line and "'taken'" in line


@pytest.mark.parametrize("command", [["forward"], ["demo"], ["estimate", "data.npz"]])
def test_outdir_that_cannot_be_created_rejected_before_computing(capsys, tmp_path, monkeypatch,
                                                                 no_computation, good_arrays,
                                                                 command):
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", **good_arrays)
    (tmp_path / "file").write_text("a file, so file/sub cannot be a folder")
    line = _usage_error(capsys, [*command, "--outdir", "file/sub"], "--outdir")
    assert "cannot create or write to 'file/sub'" in line


def test_outdir_is_created_before_computing(tmp_path, monkeypatch):
    seen = []

    def stop(*args, **kwargs):
        seen.append((tmp_path / "new" / "deeper").is_dir())
        raise KeyboardInterrupt

    monkeypatch.setattr(forward, "r2_problem", stop)
    assert cli.main(["forward", "--outdir", str(tmp_path / "new" / "deeper")]) == 130
    assert seen == [True]


# ------------------------------------------------------------------ the input file

def _file_error(capsys, path, *names: str) -> str:
    """``estimate path`` fails naming the file and each of ``names``; return the line."""
    line = _usage_error(capsys, ["estimate", str(path)], str(path))
    assert line.startswith(f"error: {path}"), line
    for name in names:
        assert name in line, line
    return line


def test_empty_file(capsys, tmp_path, no_computation):
    (tmp_path / "d.npz").write_bytes(b"")
    assert "empty" in _file_error(capsys, tmp_path / "d.npz", "numpy.savez")


def test_text_file(capsys, tmp_path, no_computation):
    (tmp_path / "d.npz").write_text("x y\n1 2\n")
    line = _file_error(capsys, tmp_path / "d.npz", "not an .npz archive")
    assert "pickle" not in line


def test_truncated_archive(capsys, tmp_path, no_computation, good_arrays):
    np.savez(tmp_path / "d.npz", **good_arrays)
    blob = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(blob[: len(blob) // 2])
    _file_error(capsys, tmp_path / "d.npz", "corrupt or truncated")


def test_npy_instead_of_npz(capsys, tmp_path, no_computation, twin):
    np.save(tmp_path / "d.npy", twin.data)
    _file_error(capsys, tmp_path / "d.npy", ".npy", "numpy.savez")


def test_missing_file(capsys, tmp_path, no_computation):
    _file_error(capsys, tmp_path / "absent.npz", "no such file")


def test_zip_member_that_is_not_an_array(capsys, tmp_path, no_computation):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    _file_error(capsys, tmp_path / "d.npz", "'notes.txt'", "not a numpy array")


def test_none_saved_with_savez_is_named_without_pickle_advice(capsys, tmp_path, no_computation,
                                                              good_arrays):
    np.savez(tmp_path / "d.npz", **good_arrays, prior_std=None)
    line = _file_error(capsys, tmp_path / "d.npz", "array 'prior_std'", "Python object")
    assert line.endswith("store a number or leave the array out")
    assert "pickle" not in line


def test_unknown_array_lists_accepted_names(capsys, tmp_path, no_computation, good_arrays):
    np.savez(tmp_path / "d.npz", **good_arrays, kapa=0.02)
    line = _file_error(capsys, tmp_path / "d.npz", "unknown array(s) ['kapa']",
                       "did you mean 'kappa'")
    for name in (*datafile.NPZ_REQUIRED, *datafile.NPZ_OPTIONAL):
        assert name in line.split("accepted names:")[1]


def test_missing_required_array(capsys, tmp_path, no_computation, good_arrays):
    del good_arrays["theta0"]
    np.savez(tmp_path / "d.npz", **good_arrays)
    _file_error(capsys, tmp_path / "d.npz", "lacks the array(s) ['theta0']")


@pytest.mark.parametrize("key, value, names", [
    ("noise_std", np.array([0.01, 0.02]), ("array 'noise_std'", "shape (2,)")),
    ("noise_std", 0.0, ("array 'noise_std'", "> 0")),
    ("noise_std", "0.01", ("array 'noise_std'", "real number", "<U4")),
    ("kappa", -1.0, ("array 'kappa'", "> 0")),
    ("kappa", np.nan, ("array 'kappa'", "finite")),
    ("kmax", 0.5, ("array 'kmax'", ">= 1")),
    ("extent", np.ones(3), ("array 'extent'", "two domain lengths > 0")),
    ("extent", np.array([1.0, 0.0]), ("array 'extent'", "two domain lengths > 0")),
    ("extent", 0.5, ("array 'sensors'", "outside the domain [0, 0.5] x [0, 0.5]")),
    ("prior_std", np.ones(3), ("array 'prior_std'", "shape (4,)", "got shape (3,)")),
    ("prior_std", -1.0, ("array 'prior_std'", "> 0")),
    ("theta0", np.zeros((2, 8)), ("array 'theta0'", "at least 3 nodes", "(2, 8)")),
    ("theta0", np.zeros(8), ("array 'theta0'", "2 dimension(s)", "(8,)")),
    ("theta0", np.full((8, 8), np.inf), ("array 'theta0'", "NaN or inf")),
    ("times", np.array([0.1, 0.3, 0.2]), ("array 'times'", "strictly increasing")),
    ("times", np.array([0.0, 0.1, 0.2]), ("array 'times'", "> 0")),
    ("times", np.ones((3, 1)), ("array 'times'", "1 dimension(s)")),
    ("sensors", np.full((6, 3), 0.5), ("array 'sensors'", "(m, 2)", "(6, 3)")),
    ("sensors", np.full((6, 2), 1.5), ("array 'sensors'", "outside the domain")),
    ("data", np.zeros((3, 5)), ("array 'data'", "(3, 6)", "got (3, 5)")),
    ("data", np.full((3, 6), np.nan), ("array 'data'", "NaN or inf")),
])
def test_bad_array_named_before_computing(capsys, tmp_path, no_computation, good_arrays,
                                          key, value, names):
    np.savez(tmp_path / "d.npz", **{**good_arrays, key: value})
    _file_error(capsys, tmp_path / "d.npz", *names)


def test_scalar_extent_is_used_for_both_axes(capsys, tmp_path, monkeypatch, good_arrays):
    grids = []

    def stop(model, *args, **kwargs):
        grids.append(model.grid)
        raise KeyboardInterrupt

    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", stop)
    np.savez(tmp_path / "d.npz", **good_arrays, extent=2.0)
    assert cli.main(["estimate", str(tmp_path / "d.npz"), "--outdir", str(tmp_path)]) == 130
    assert grids[0].extent == (2.0, 2.0)
    assert "extent 2 x 2" in capsys.readouterr().out


# ------------------------------------------------------------------ runs that write results

def _estimate_argv(tmp_path, *extra: str) -> list[str]:
    return ["estimate", str(tmp_path / "data.npz"), "--samples", "4", "--warmup", "10",
            "--scheme", "exponential", "--outdir", str(tmp_path / "out"), *extra]


def test_estimate_prints_what_it_read_before_the_map(capsys, tmp_path, monkeypatch, good_arrays):
    real = advdiff_sens.inference.workflow.estimate_velocity
    printed_before = []

    def spy(*args, **kwargs):
        printed_before.append(capsys.readouterr().out)
        return real(*args, **kwargs)

    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", spy)
    np.savez(tmp_path / "data.npz", **good_arrays)
    assert cli.main(_estimate_argv(tmp_path, "--stages", "2")) == 0
    summary = printed_before[0]
    for text in ("grid 8 x 8", "periodic", "extent 1 x 1", "κ = 0.05", "kmax = 1",
                 "4 stream-function coefficients", "3 times in [0.1, 0.3]", "6 sensors",
                 "noise sd 0.01", "optimizer gauss-newton", "1 start(s)", "stages 2",
                 "fits the first 2, 3 times", "scheme exponential", "2 chains x 4 draws",
                 "after 10 warm-up"):
        assert text in summary, text
    assert "MAP:" not in summary


def test_figure_failure_keeps_the_saved_estimate(capsys, tmp_path, monkeypatch, good_arrays):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(estimation, "save_estimation_figures", disk_full)
    np.savez(tmp_path / "data.npz", **good_arrays)
    assert cli.main(_estimate_argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error: [Errno 28] No space left on device" in err
    assert f"saved before stopping: {(tmp_path / 'out' / 'estimate.npz').resolve()}" in err
    with np.load(tmp_path / "out" / "estimate.npz") as out:
        assert out["coefficients"].shape == (4,) and out["covariance"].shape == (4, 4)
        assert out["samples"].shape == (2, 4, 4)
    assert not list((tmp_path / "out").glob("*.part"))


def test_map_is_saved_before_sampling(capsys, tmp_path, monkeypatch, good_arrays):
    calls = {}

    def interrupted(sampler, *args, **kwargs):
        calls.update(kwargs, sampler=sampler)
        raise KeyboardInterrupt

    monkeypatch.setattr(advdiff_sens.sampling.HMC, "sample", interrupted)
    np.savez(tmp_path / "data.npz", **good_arrays)
    assert cli.main(_estimate_argv(tmp_path)) == 130
    assert calls["sampler"].n_warmup == 10 and calls["progress"] == "auto"
    # trajectories are bounded by the posterior's rms-speed bound
    assert calls["in_bounds"].__func__ is VelocityPosterior.in_bounds
    err = capsys.readouterr().err
    assert f"interrupted; saved before stopping: {(tmp_path / 'out' / 'estimate.npz').resolve()}" in err
    with np.load(tmp_path / "out" / "estimate.npz") as out:
        assert out["velocity"].shape == (2, 8, 8) and "samples" not in out.files
        assert np.isfinite(out["misfit"])


# ------------------------------------------------------------------ python -m advdiff_sens

def test_module_reports_usage_error_without_traceback(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "forward", "--n", "abc"], tmp_path, returncode=2)
    assert "advdiff-sens forward: error: argument --n: expected an integer >= 3, got 'abc'" \
        in proc.stderr
    assert "_positive_int" not in proc.stderr


def test_warnings_are_shown_as_one_cli_line(tmp_path, good_arrays):
    """A FitWarning (here: 2 x 4 draws cannot reach ESS 100) is shown as ``warning: … (FitWarning)``
    without the source line the default format adds."""
    np.savez(tmp_path / "data.npz", **good_arrays)
    proc = run_script(["-m", "advdiff_sens", *_estimate_argv(tmp_path)], tmp_path)
    lines = [line for line in proc.stderr.splitlines() if "FitWarning" in line]
    assert lines and all(line.startswith("warning: ") and line.endswith("(FitWarning)")
                         for line in lines), proc.stderr
    assert "diagnostics()" not in proc.stderr


def test_main_restores_the_warning_format(tmp_path, no_computation):
    before = warnings.formatwarning
    with pytest.raises(AssertionError):          # an unexpected error is not swallowed
        cli.main(["forward", "--outdir", str(tmp_path / "out")])
    assert warnings.formatwarning is before


def test_module_reports_bad_file_without_traceback(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    proc = run_script(["-m", "advdiff_sens", "estimate", "empty.npz"], tmp_path, returncode=2)
    assert proc.stderr.startswith("error: empty.npz: the file is empty")
