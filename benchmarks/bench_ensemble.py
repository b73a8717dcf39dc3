r"""Benchmark of ensembles: a gradient sweep serially and on a dask LocalCluster.

Prints, measured in one run:

* **throughput of a gradient sweep** (default 64 cases of the twin-experiment gradient task,
  :class:`~advdiff_sens.ensemble.GradientTask`, on R2 at 64², flow amplitudes 0.5–1.5): the
  plain serial loop (``task.run`` per case, nothing written), :class:`~advdiff_sens.ensemble.Sweep`
  with the serial executor (results written), and the sweep on a ``LocalCluster`` with 1 and
  with 2 single-threaded worker processes (started before the clock starts; its start-up
  time is printed apart): seconds, cases per second, speed-up against the serial loop;
* **the per-task overhead** of the dask executor: a sweep of a task that does nothing (it
  returns one number) over ``--overhead-cases`` cases on one worker, seconds per case, and
  the same through the serial executor (writing the files only);
* **the shared context sent once per worker or once per task**: the gradient sweep with the
  context scattered to the workers (what :class:`~advdiff_sens.ensemble.DaskExecutor` does)
  against the same tasks submitted with the context as an argument (each task unpickles and
  rebuilds the problem).

The results of every executor are checked to equal the serial ones, case by case.

Usage::

    python benchmarks/bench_ensemble.py                    # 64 cases at 64²
    python benchmarks/bench_ensemble.py --n 16 --cases 8 --overhead-cases 20   # a smoke test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from advdiff_sens.ensemble import (CaseTable, DaskExecutor, GradientTask, ProblemContext,
                                   ResultStore, Sweep, Task, case_seeds, run_case)

import docs_fragment


class Nothing(Task):
    """A task that returns one number: what is left is the executor's own cost."""

    name = "nothing"

    def run(self, context, case, rng):
        return {"x": np.array(float(case.index))}


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in row)
              + " |")


def timed_sweep(sweep: Sweep, executor) -> tuple[float, Path]:
    folder = Path(tempfile.mkdtemp(prefix="bench_ensemble_"))
    begin = time.perf_counter()
    report = sweep.run(folder, executor, progress=False)
    seconds = time.perf_counter() - begin
    if not report.complete:
        raise RuntimeError(report.summary())
    return seconds, folder


def same(a: Path, b: Path, ids) -> bool:
    sa, sb = ResultStore(a), ResultStore(b)
    return all(np.array_equal(sa.load(c)[k], sb.load(c)[k]) for c in ids for k in sa.load(c))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="grid points per axis")
    parser.add_argument("--cases", type=int, default=64, help="cases of the gradient sweep")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="LocalCluster sizes")
    parser.add_argument("--overhead-cases", type=int, default=200,
                        help="cases of the do-nothing sweep")
    parser.add_argument("--seed", type=int, default=0)
    docs_fragment.add_option(parser, "bench_ensemble")
    args = parser.parse_args()
    import distributed

    recorder = docs_fragment.Recorder(parser, args).start()
    cases = CaseTable.product(amplitude=np.linspace(0.5, 1.5, args.cases))
    task = GradientTask()

    def context():
        return ProblemContext(n=args.n, scheme="exponential", progress=False)

    print(f"gradient sweep: {args.cases} cases of the twin gradient task on R2 at "
          f"{args.n}x{args.n} (exponential scheme), T = 1\n")
    seeds = case_seeds(args.seed, len(cases))
    run_case(context(), task, cases[0], seeds[0])     # warm-up: imports, first-call costs
    shared = context()
    begin = time.perf_counter()
    for case in cases:
        run_case(shared, task, case, seeds[case.index])
    loop = time.perf_counter() - begin
    rows = [["serial loop (task.run)", "-", loop, args.cases / loop, 1.0]]
    serial, serial_dir = timed_sweep(Sweep(task, cases, context(), seed=args.seed), "serial")
    rows.append(["Sweep, serial executor", "-", serial, args.cases / serial, loop / serial])
    identical = True
    startups = []
    for workers in args.workers:
        begin = time.perf_counter()
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster:
            startups.append((workers, time.perf_counter() - begin))
            executor = DaskExecutor(address=cluster.scheduler_address)
            seconds, folder = timed_sweep(Sweep(task, cases, context(), seed=args.seed),
                                          executor)
            identical &= same(serial_dir, folder, cases.ids)
            rows.append(["Sweep, dask LocalCluster", workers, seconds, args.cases / seconds,
                         loop / seconds])
            if workers == args.workers[-1]:
                with distributed.Client(cluster) as client:
                    begin = time.perf_counter()
                    futures = [client.submit(run_case, context(), task, case,
                                             seeds[case.index], pure=False) for case in cases]
                    results = client.gather(futures)
                    per_task = time.perf_counter() - begin
                builds = sum(r.meta["context_builds"] for r in results)
                scattered = seconds
                store = ResultStore(folder)
                scattered_builds = len({store.meta(c)["pid"] for c in cases.ids})
    table(["executor", "workers", "seconds", "cases/s", "speed-up vs loop"], rows)
    print("\nLocalCluster start-up (not in the times above): "
          + ", ".join(f"{w} worker(s) {s:.2f} s" for w, s in startups))
    print(f"results of every executor equal to the serial sweep's, case by case: {identical}")

    print(f"\nshared context on {args.workers[-1]} worker(s):")
    table(["context", "problem builds", "seconds", "cases/s"],
          [["scattered once per worker (DaskExecutor)", scattered_builds, scattered,
            args.cases / scattered],
           ["an argument of every task", builds, per_task, args.cases / per_task]])

    print(f"\nper-task overhead: {args.overhead_cases} cases of a task that does nothing")
    nothing = CaseTable.product(k=list(range(args.overhead_cases)))
    rows = []
    seconds, _ = timed_sweep(Sweep(Nothing(), nothing, context(), seed=0), "serial")
    rows.append(["serial executor (writes the files)", "-", seconds,
                 1e3 * seconds / args.overhead_cases])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        executor = DaskExecutor(address=cluster.scheduler_address)
        fixed, _ = timed_sweep(Sweep(Nothing(), CaseTable([{"k": 0}]), context(), seed=0), executor)
        seconds, _ = timed_sweep(Sweep(Nothing(), nothing, context(), seed=0), executor)
    rows.append(["dask LocalCluster", 1, seconds, 1e3 * seconds / args.overhead_cases])
    table(["executor", "workers", "seconds", "ms per case"], rows)
    print(f"dask: {fixed:.3f} s for a sweep of one case (connect, scatter, one task); "
          f"{1e3 * (seconds - fixed) / (args.overhead_cases - 1):.2f} ms per further case")
    recorder.finish()


if __name__ == "__main__":
    main()
