"""Sweeps in this process: results on disk, resume, failures by case, refused folders."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from advdiff_sens.ensemble import (CaseTable, GradientTask, ProblemContext, ResultStore,
                                   SolveTask, Sweep, Task, TangentTask, mode_direction)
from advdiff_sens.exceptions import AdvDiffSensWarning


def small_context():
    return ProblemContext(n=8, progress=False)


class FailOn(Task):
    """Solves, but raises on the listed case ids (and returns NaN on ``nan_on``)."""

    name = "fail-on"

    def __init__(self, ids=(), nan_on=()):
        self.ids, self.nan_on = tuple(ids), tuple(nan_on)

    def options(self):
        return {"ids": list(self.ids), "nan_on": list(self.nan_on)}

    def run(self, context, case, rng):
        if case.id in self.ids:
            raise ValueError(f"refused case {case.id}")
        theta = SolveTask().run(context, case, rng)["theta"]
        return {"theta": theta * np.nan if case.id in self.nan_on else theta}


class StopAfter:
    """A progress meter that interrupts the sweep once ``k`` cases are done."""

    def __init__(self, k):
        self.k = k

    def update(self, done, extra=""):
        if done >= self.k:
            raise KeyboardInterrupt

    def close(self):
        pass


def same_results(a: ResultStore, b: ResultStore, ids) -> None:
    for case_id in ids:
        x, y = a.load(case_id), b.load(case_id)
        assert sorted(x) == sorted(y), case_id
        for key in x:
            assert np.array_equal(x[key], y[key]), (case_id, key)


CASES = CaseTable.product(amplitude=[0.5, 1.5], t=[0.05, 0.1])


@pytest.mark.parametrize("task", [SolveTask(), TangentTask(), GradientTask(with_kappa=True)],
                         ids=lambda t: t.name)
def test_each_case_lands_on_disk_with_what_the_task_computes(tmp_path, task):
    context = small_context()
    report = Sweep(task, CASES, context, seed=5).run(tmp_path)
    assert report.complete and sorted(report.computed) == list(CASES.ids)
    store = ResultStore(tmp_path)
    case = CASES[3]
    direct = task.run(small_context(), case,
                      np.random.default_rng(np.random.SeedSequence(5).spawn(4)[3]))
    stored = store.load(case.id)
    assert sorted(stored) == sorted(direct)
    assert all(np.array_equal(stored[k], direct[k]) for k in direct)
    assert context.builds == 1 and context.uses == len(CASES)
    assert json.loads(store.manifest_path.read_text())["seed"] == 5


def test_the_tangent_of_a_mode_direction_matches_the_model():
    context = small_context()
    case = CaseTable([{"kx": 1, "ky": 2, "t": 0.1}])[0]
    out = TangentTask().run(context, case, np.random.default_rng(0))
    problem = context.problem
    v = mode_direction(problem.model.grid, 1, 2)
    assert np.array_equal(out["direction"], v)
    assert np.array_equal(out["rho"], problem.model.tangent(problem.u, problem.theta0, v, 0.1))


def test_the_gradient_task_is_the_gradient_of_its_misfit():
    """Central finite difference of Φ along a direction matches ⟨∇Φ, v⟩ to O(h²)."""
    context, case = small_context(), CaseTable([{"amplitude": 0.7, "t": 0.1}])[0]
    out = GradientTask().run(context, case, np.random.default_rng(2))
    problem, data = context.problem, out["data"]
    v = mode_direction(problem.model.grid, 1, 1)

    def phi(s):
        theta = problem.model.solve((0.7 * problem.u + s * v), problem.theta0, 0.1)
        return 0.5 * np.sum((theta - data) ** 2) / 0.01**2

    directional = float(np.sum(out["gradient"] * v))
    errors = [abs((phi(h) - phi(-h)) / (2 * h) - directional) for h in (1e-2, 5e-3)]
    assert errors[1] < errors[0] / 3            # second order: ratio 4 as h halves
    assert abs(float(out["value"]) - phi(0.0)) <= 1e-9 * phi(0.0)


def test_a_resumed_sweep_recomputes_nothing_on_disk_and_matches_an_uninterrupted_one(tmp_path):
    sweep = Sweep(GradientTask(), CASES, small_context(), seed=9)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(tmp_path / "resumed", progress=StopAfter(2))
    store = ResultStore(tmp_path / "resumed")
    first = sorted(store.done())
    assert len(first) == 2
    stamps = {c: os.stat(store.path(c)).st_mtime_ns for c in first}
    uses = sweep.context.uses
    report = sweep.run(tmp_path / "resumed")
    assert sorted(report.skipped) == first
    assert sorted(report.computed) == sorted(set(CASES.ids) - set(first))
    assert sweep.context.uses - uses == len(CASES) - 2          # two fewer executions
    assert {c: os.stat(store.path(c)).st_mtime_ns for c in first} == stamps
    whole = Sweep(GradientTask(), CASES, small_context(), seed=9)
    assert whole.run(tmp_path / "whole").complete
    same_results(store, ResultStore(tmp_path / "whole"), CASES.ids)
    again = sweep.run(tmp_path / "resumed")
    assert again.computed == () and sorted(again.skipped) == sorted(CASES.ids)


def test_a_failing_case_is_reported_by_id_and_the_others_finish(tmp_path):
    task = FailOn(ids=["0001"], nan_on=["0002"])
    with pytest.warns(AdvDiffSensWarning, match="2 of 4 cases failed"):
        report = Sweep(task, CASES, small_context(), seed=1).run(tmp_path)
    assert list(report.failed) == ["0001", "0002"]
    assert report.failed["0001"] == "ValueError: refused case 0001"
    assert report.failed["0002"].startswith("NonFiniteResultError: case 0002")
    assert ResultStore(tmp_path).done() == {"0000", "0003"}
    assert ResultStore(tmp_path).failures() == report.failed
    assert "case 0001: ValueError" in report.summary()


def test_a_task_that_fails_once_is_retried(tmp_path):
    class Flaky(Task):
        name = "flaky"
        calls = 0

        def run(self, context, case, rng):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("transient")
            return {"x": np.array(float(case.index))}

    report = Sweep(Flaky(), CASES, small_context(), seed=1).run(tmp_path, "serial")
    assert report.complete and Flaky.calls == len(CASES) + 1


def test_another_sweep_in_the_same_folder_is_refused(tmp_path):
    Sweep(SolveTask(), CASES, small_context(), seed=1).run(tmp_path)
    with pytest.raises(ValueError, match="another sweep .*seed"):
        Sweep(SolveTask(), CASES, small_context(), seed=2).run(tmp_path)
    with pytest.raises(ValueError, match="another sweep .*task"):
        Sweep(TangentTask(), CASES, small_context(), seed=1).run(tmp_path)


def test_without_a_seed_the_drawn_one_is_recorded_and_reused(tmp_path):
    sweep = Sweep(GradientTask(), CASES, small_context())
    with pytest.raises(KeyboardInterrupt):
        sweep.run(tmp_path / "a", progress=StopAfter(1))
    seed = ResultStore(tmp_path / "a").manifest()["seed"]
    assert sweep.run(tmp_path / "a").complete
    assert Sweep(GradientTask(), CASES, small_context(), seed=seed).run(tmp_path / "b").complete
    same_results(ResultStore(tmp_path / "a"), ResultStore(tmp_path / "b"), CASES.ids)


def test_the_dask_executor_names_the_extra_without_dask(monkeypatch):
    from advdiff_sens.ensemble import DaskExecutor
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"distributed extra: .*\[distributed\]"):
        DaskExecutor()
