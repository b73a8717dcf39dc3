"""``advdiff-sens sweep CONFIG.toml``: the file's cases computed and written, a rerun that
resumes, and bad files or options refused before anything is computed."""

from __future__ import annotations

import numpy as np
import pytest

from advdiff_sens import cli
from advdiff_sens.ensemble import (CaseTable, GradientTask, ProblemContext, ResultStore,
                                   Sweep)
from conftest import ROOT, run_script

pytestmark = pytest.mark.timeout(180)

FILE = """
[problem]
nodes = 8

[task]
kind = "gradient"
noise-std = 0.02

[cases]
combine = "zip"
amplitude = [0.5, 1.5]
t = [0.05, 0.1]

[run]
seed = 3
executor = "serial"
"""


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_file_s_cases_are_computed_as_the_library_computes_them(tmp_path, capsys):
    path = write(tmp_path, FILE)
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2 cases: 2 computed, 0 already on disk, 0 failed" in out
    reference = Sweep(GradientTask(noise_std=0.02), CaseTable.zip(amplitude=[0.5, 1.5],
                                                                  t=[0.05, 0.1]),
                      ProblemContext(n=8, progress=False), seed=3).run(tmp_path / "lib")
    assert reference.complete
    for case_id in ("0000", "0001"):
        a, b = ResultStore(tmp_path / "out").load(case_id), ResultStore(tmp_path / "lib").load(case_id)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out")]) == 0
    assert "0 computed, 2 already on disk" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("[task]\nkind = 'solv'\n[cases]\nt = [0.1]\n", "key 'task.kind': expected one of"),
    ("[task]\nkind = 'solve'\n[cases]\nkx = [1]\n", "key 'cases.kx': not a parameter of the "
                                                     "solve task"),
    ("[task]\nkind = 'solve'\n[cases]\nkappa = [0.01, -1]\n", "key 'cases.kappa': expected a "
                                                              "number > 0, got -1"),
    ("[task]\nkind = 'solve'\nnoise-std = 0.1\n[cases]\nt = [0.1]\n",
     "key 'task.noise-std': applies to the gradient and chain tasks only"),
    ("[task]\nkind = 'solve'\n[cases]\ncombine = 'zip'\nt = [0.1]\nkappa = [0.1, 0.2]\n",
     "one length"),
    ("[task]\nkind = 'solve'\n[cases]\n", "section \\[cases\\]: no parameters"),
    ("[tasks]\nkind = 'solve'\n", "not a section .*did you mean 'task'"),
    ("[task]\nkind = ['solve']\n[cases]\nt = [0.1]\n", "key 'task.kind': expected one of"),
    ("[task]\nkind = 'gradient'\nadjoint = 'discret'\n[cases]\nt = [0.1]\n",
     "key 'task.adjoint': expected one of"),
    ("[task]\nkind = 'solve'\n[cases]\nt = [0.1]\n[run]\nworkers = 0\n",
     "key 'run.workers': expected an integer >= 1"),
    ("[task]\nkind = 'solve'\n[cases]\nt = [0.1]\n[problem]\nnodes = 2\n",
     "key 'problem.nodes': expected an integer >= 3"),
    ("[task\n", "not valid TOML"),
])
def test_a_bad_file_is_one_error_line_before_any_computation(tmp_path, capsys, monkeypatch,
                                                             text, message):
    monkeypatch.setattr(Sweep, "run", lambda *a, **k: pytest.fail("computed"))
    path = write(tmp_path, text)
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err


def test_options_that_do_not_go_together_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Sweep, "run", lambda *a, **k: pytest.fail("computed"))
    path = write(tmp_path, FILE)
    assert cli.main(["sweep", str(path), "--executor", "dask", "--scheduler",
                     "tcp://127.0.0.1:1", "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert cli.main(["sweep", str(path), "--workers", "2"]) == 2       # the file says serial
    assert "--executor serial runs in this process" in capsys.readouterr().err
    assert cli.main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "no such sweep file" in capsys.readouterr().err


def test_another_sweep_in_the_folder_is_refused(tmp_path, capsys):
    path = write(tmp_path, FILE)
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out"), "--seed", "4"]) == 2
    assert "holds the results of another sweep (its seed differ" in capsys.readouterr().err


def test_without_dask_the_error_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    path = write(tmp_path, FILE)
    assert cli.main(["sweep", str(path), "--executor", "dask"]) == 2
    err = capsys.readouterr().err
    assert "distributed extra" in err and "--executor serial" in err


@pytest.mark.slow
def test_the_command_runs_on_a_local_cluster_it_starts(tmp_path):
    pytest.importorskip("distributed")
    path = write(tmp_path, FILE.replace('executor = "serial"', 'executor = "dask"'))
    proc = run_script(["-m", "advdiff_sens", "sweep", str(path), "--workers", "2",
                       "--outdir", str(tmp_path / "out")], cwd=ROOT)
    assert "2 cases: 2 computed" in proc.stdout and "n_workers=2" in proc.stdout
    assert ResultStore(tmp_path / "out").done() == {"0000", "0001"}


def test_a_chain_sweep_from_a_file(tmp_path, capsys):
    path = write(tmp_path, """
[problem]
nodes = 8
[task]
kind = "chain"
unknown = "mass"
noise-std = 0.1
draws = 20
warmup = 10
[cases]
x0 = [0.8, 1.2]
t = 0.1
[run]
executor = "serial"
""")
    assert cli.main(["sweep", str(path), "--outdir", str(tmp_path / "out")]) == 0
    assert "2 cases: 2 computed" in capsys.readouterr().out
    manifest = ResultStore(tmp_path / "out").manifest()
    assert manifest["task"]["options"]["n_draws"] == 20
    assert ResultStore(tmp_path / "out").load("0001")["samples"].shape == (20,)
