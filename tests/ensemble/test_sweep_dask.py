"""Sweeps on a dask.distributed LocalCluster of two single-threaded worker processes,
started and closed by the fixture: the same results as the serial run case by case, a
worker killed mid-sweep, a raising task reported by case, resume."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from advdiff_sens.ensemble import (CaseTable, DaskExecutor, GradientTask, ProblemContext,
                                   ResultStore, SolveTask, Sweep, Task, TangentTask)
from advdiff_sens.exceptions import AdvDiffSensWarning

# the test tasks below travel to the workers by value (the workers cannot import this file)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CASES = CaseTable.product(amplitude=[0.5, 1.0, 1.5], t=[0.05, 0.1])


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        with distributed.Client(local) as client:
            yield local, client


def executor(cluster) -> DaskExecutor:
    return DaskExecutor(address=cluster[0].scheduler_address, retries=1)


def context():
    return ProblemContext(n=8, progress=False)


def assert_same(a: ResultStore, b: ResultStore, ids) -> None:
    for case_id in ids:
        x, y = a.load(case_id), b.load(case_id)
        assert sorted(x) == sorted(y), case_id
        for key in x:
            assert np.array_equal(x[key], y[key]), (case_id, key)


class Slow(Task):
    """The solve task, a little slower (so a sweep is still running when a worker dies)."""

    name = "slow-solve"

    def run(self, context, case, rng):
        time.sleep(0.3)
        return {**SolveTask().run(context, case, rng), "draw": rng.standard_normal(2)}


class Raises(Task):
    name = "raises"

    def run(self, context, case, rng):
        if case.id == "0003":
            raise ValueError("no flow for this case")
        return SolveTask().run(context, case, rng)


class KillAWorker:
    """A progress meter that kills one worker process (SIGKILL) when the first case is done."""

    def __init__(self, client):
        self.client, self.killed = client, None

    def update(self, done, extra=""):
        if done >= 1 and self.killed is None:
            self.killed = next(iter(self.client.run(os.getpid).values()))
            os.kill(self.killed, signal.SIGKILL)

    def close(self):
        pass


@pytest.mark.timeout(180)
@pytest.mark.parametrize("task", [TangentTask(), GradientTask()], ids=lambda t: t.name)
def test_results_are_those_of_the_serial_run_case_by_case(tmp_path, cluster, task):
    serial = Sweep(task, CASES, context(), seed=4).run(tmp_path / "serial")
    report = Sweep(task, CASES, context(), seed=4).run(tmp_path / "dask", executor(cluster))
    assert serial.complete and report.complete
    assert sorted(report.computed) == sorted(CASES.ids)
    store = ResultStore(tmp_path / "dask")
    assert_same(ResultStore(tmp_path / "serial"), store, CASES.ids)
    # the context went to each worker once: each worker's copy served its cases in turn and
    # built the problem once
    metas = [store.meta(c) for c in CASES.ids]
    for pid in {m["pid"] for m in metas}:
        uses = sorted(m["context_uses"] for m in metas if m["pid"] == pid)
        assert uses == list(range(1, len(uses) + 1))
        assert {m["context_builds"] for m in metas if m["pid"] == pid} == {1}
    assert os.getpid() not in {m["pid"] for m in metas}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_sweep_survives_a_killed_worker_with_every_case(tmp_path, cluster):
    local, client = cluster
    cases = CaseTable.product(amplitude=[0.5, 1.0, 1.5, 2.0], t=[0.05, 0.1, 0.15])
    meter = KillAWorker(client)
    report = Sweep(Slow(), cases, context(), seed=2).run(tmp_path / "dask", executor(cluster),
                                                          progress=meter)
    assert meter.killed is not None
    assert report.complete and sorted(report.computed) == sorted(cases.ids)
    Sweep(Slow(), cases, context(), seed=2).run(tmp_path / "serial")
    assert_same(ResultStore(tmp_path / "serial"), ResultStore(tmp_path / "dask"), cases.ids)
    client.wait_for_workers(2, timeout=60)      # the nanny restarted it, for the next tests
    assert meter.killed not in client.run(os.getpid).values()


@pytest.mark.timeout(180)
def test_a_raising_task_is_reported_with_its_case_id_and_the_others_finish(tmp_path, cluster):
    with pytest.warns(AdvDiffSensWarning, match="1 of 6 cases failed"):
        report = Sweep(Raises(), CASES, context(), seed=1).run(tmp_path, executor(cluster))
    assert report.failed == {"0003": "ValueError: no flow for this case"}
    assert ResultStore(tmp_path).done() == set(CASES.ids) - {"0003"}
    assert ResultStore(tmp_path).failures() == report.failed


@pytest.mark.timeout(180)
def test_resume_on_the_cluster_recomputes_nothing_on_disk(tmp_path, cluster):
    class StopAfter:
        def update(self, done, extra=""):
            if done >= 2:
                raise KeyboardInterrupt

        def close(self):
            pass

    sweep = Sweep(GradientTask(), CASES, context(), seed=6)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(tmp_path / "dask", executor(cluster), progress=StopAfter())
    store = ResultStore(tmp_path / "dask")
    first = store.done()
    assert len(first) >= 2
    stamps = {c: os.stat(store.path(c)).st_mtime_ns for c in first}
    report = sweep.run(tmp_path / "dask", executor(cluster))
    assert set(report.skipped) == first and set(report.computed) == set(CASES.ids) - first
    assert {c: os.stat(store.path(c)).st_mtime_ns for c in first} == stamps
    Sweep(GradientTask(), CASES, context(), seed=6).run(tmp_path / "serial")
    assert_same(ResultStore(tmp_path / "serial"), store, CASES.ids)


@pytest.mark.timeout(120)
def test_the_local_cluster_runs_one_thread_per_worker_process():
    client, cluster = DaskExecutor(n_workers=1).client()
    try:
        threads = list(client.run(lambda: {name: os.environ.get(name) for name in
                                           ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}).values())
        assert threads == [{"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}]
    finally:
        client.close()
        cluster.close()
