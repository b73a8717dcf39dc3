r"""A sweep: one task mapped over a table of cases, each finished case written to disk.

:class:`Sweep` holds the task, the shared context, the case table and the seed.
:meth:`Sweep.run` skips the cases already in the output folder, hands the others to an
executor, writes each result as it arrives (:class:`~advdiff_sens.ensemble.ResultStore`),
reports progress in cases done, and returns a :class:`SweepReport`: the cases computed, the
cases skipped and the cases that failed (case id → error text, also in ``failures.json``).
A failed case is never dropped silently: the report lists it, a warning names how many
failed, and a rerun retries exactly the failed and missing cases.

Case :math:`i` draws from ``default_rng(SeedSequence(seed).spawn(n)[i])``
(:func:`~advdiff_sens.ensemble.case_seeds`), so its result does not depend on the executor,
the order or the run that computed it.
"""

from __future__ import annotations

import os
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advdiff_sens.ensemble.cases import Case, CaseTable, case_seeds
from advdiff_sens.ensemble.contexts import ProblemContext
from advdiff_sens.ensemble.executors import EXECUTORS, Executor
from advdiff_sens.ensemble.store import ResultStore
from advdiff_sens.ensemble.tasks import TASKS, Task
from advdiff_sens.exceptions import AdvDiffSensWarning, NonFiniteResultError
from advdiff_sens.progress import as_progress, meter_closed

__all__ = ["Sweep", "SweepReport", "CaseResult", "run_case"]


@dataclass(frozen=True)
class CaseResult:
    """What one task execution sends back: the arrays and where they were computed.

    Attributes
    ----------
    values : dict
        Name → array.
    meta : dict
        ``pid`` (the worker process), ``context_uses`` (cases that process's copy of the
        context has served, this one included), ``context_builds``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import CaseResult
    >>> CaseResult({"x": np.zeros(2)}, {"pid": 1}).values["x"].shape
    (2,)
    """

    values: dict
    meta: dict


def run_case(context: ProblemContext, task: Task, case: Case,
             seed: np.random.SeedSequence) -> CaseResult:
    """Run ``task`` on ``case`` with its own generator ``default_rng(seed)``; check that
    every array is finite.

    Raises
    ------
    NonFiniteResultError
        An array of the result is not finite (named with the case).
    TypeError
        The task did not return a dict of arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Case, ProblemContext, SolveTask, run_case
    >>> context = ProblemContext(n=8, progress=False)
    >>> out = run_case(context, SolveTask(), Case("a", 0, {"t": 0.1}), np.random.SeedSequence(0))
    >>> out.values["theta"].shape, out.meta["context_uses"]
    ((8, 8), 1)
    """
    context.uses += 1
    values = task.run(context, case, np.random.default_rng(seed))
    if not isinstance(values, dict):
        raise TypeError(f"case {case.id}: the task must return a dict of arrays, got "
                        f"{type(values).__name__}")
    values = {str(k): np.asarray(v) for k, v in values.items()}
    for name, value in values.items():
        if np.issubdtype(value.dtype, np.number) and not np.all(np.isfinite(value)):
            raise NonFiniteResultError(f"case {case.id}: the task's result {name!r} is not "
                                       "finite")
    return CaseResult(values, {"pid": os.getpid(), "context_uses": context.uses,
                               "context_builds": context.builds})


@dataclass(frozen=True)
class SweepReport:
    """What a run of a sweep did.

    Attributes
    ----------
    folder : Path
        The output folder.
    computed : tuple of str
        Cases computed (and written) in this run, in the order they finished.
    skipped : tuple of str
        Cases already on disk, not recomputed.
    failed : dict
        Case id → error text of the cases that failed after their retries.

    Examples
    --------
    >>> from pathlib import Path
    >>> from advdiff_sens.ensemble import SweepReport
    >>> report = SweepReport(Path("out"), ("0001",), ("0000",), {"0002": "ValueError: bad"})
    >>> print(report.summary())
    3 cases: 1 computed, 1 already on disk, 1 failed
      case 0002: ValueError: bad
    """

    folder: Path
    computed: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """No case failed."""
        return not self.failed

    def summary(self) -> str:
        """The counts, then one line per failed case."""
        total = len(self.computed) + len(self.skipped) + len(self.failed)
        lines = [f"{total} cases: {len(self.computed)} computed, {len(self.skipped)} already "
                 f"on disk, {len(self.failed)} failed"]
        lines += [f"  case {case_id}: {text}" for case_id, text in self.failed.items()]
        return "\n".join(lines)


class Sweep:
    """A task over a table of cases with a shared context and a seed.

    Parameters
    ----------
    task : Task or {"solve", "tangent", "gradient"}
        What each case computes (:mod:`advdiff_sens.ensemble.tasks`).
    cases : CaseTable
        The cases.
    context : ProblemContext, optional
        The shared problem (default R2 at 32², :func:`~advdiff_sens.problems.r2_problem`).
    seed : int, optional
        The sweep's seed (:func:`~advdiff_sens.ensemble.case_seeds`). None draws one; it is
        recorded in the manifest, and a rerun in the same folder without a seed reuses it.

    Examples
    --------
    >>> import tempfile
    >>> from advdiff_sens.ensemble import CaseTable, ProblemContext, ResultStore, Sweep
    >>> sweep = Sweep("gradient", CaseTable.product(amplitude=[0.5, 1.5], t=[0.1]),
    ...               ProblemContext(n=8, progress=False), seed=1)
    >>> folder = tempfile.mkdtemp()
    >>> print(sweep.run(folder).summary())
    2 cases: 2 computed, 0 already on disk, 0 failed
    >>> print(sweep.run(folder).summary())              # a rerun finds everything on disk
    2 cases: 0 computed, 2 already on disk, 0 failed
    >>> ResultStore(folder).load("0001")["gradient"].shape
    (2, 8, 8)
    """

    def __init__(self, task: Task | str, cases: CaseTable,
                 context: ProblemContext | None = None, seed: int | None = None) -> None:
        self.task = TASKS.resolve(task, "task")
        if not isinstance(cases, CaseTable):
            raise TypeError(f"cases must be a CaseTable, got {type(cases).__name__}")
        self.cases = cases
        self.context = ProblemContext(n=32, progress=False) if context is None else context
        if not isinstance(self.context, ProblemContext):
            raise TypeError(f"context must be a ProblemContext, got "
                            f"{type(self.context).__name__}")
        self.seed = seed

    def manifest(self, seed: int) -> dict:
        """What the output folder records about the sweep."""
        return {"task": self.task.describe(), "context": self.context.describe(),
                "seed": seed, "cases": self.cases.as_records()}

    def _seed(self, store: ResultStore) -> int:
        if self.seed is not None:
            return self.seed
        existing = store.manifest()
        if existing is not None and isinstance(existing.get("seed"), int):
            return existing["seed"]
        return int(np.random.SeedSequence().entropy)

    def run(self, outdir, executor: Executor | str = "serial", *,
            progress="auto") -> SweepReport:
        """Compute every case not yet in ``outdir``, writing each as it finishes.

        Parameters
        ----------
        outdir : str or Path
            The output folder (:class:`~advdiff_sens.ensemble.ResultStore`).
        executor : Executor or {"serial", "dask"}
            Where the cases run (:mod:`advdiff_sens.ensemble.executors`; ``"dask"`` is a
            local cluster with one worker per core).
        progress : bool, "auto" or meter
            Progress in cases done (:func:`advdiff_sens.progress.as_progress`).

        Returns
        -------
        SweepReport

        Raises
        ------
        ValueError
            ``outdir`` holds another sweep.

        Warns
        -----
        AdvDiffSensWarning
            Some cases failed (the report and ``failures.json`` name them and the error).
        """
        executor = EXECUTORS.resolve(executor, "executor")
        store = ResultStore(outdir)
        seed = self._seed(store)
        store.open(self.manifest(seed))
        seeds = case_seeds(seed, len(self.cases))
        on_disk = store.done()
        skipped = tuple(case.id for case in self.cases if case.id in on_disk)
        jobs = [(self.task, case, seeds[case.index]) for case in self.cases
                if case.id not in on_disk]
        computed, failed = [], {}
        meter = as_progress(progress, len(self.cases), "sweep (cases)")
        outcomes = executor.run(run_case, self.context, jobs)
        with meter_closed(meter), closing(outcomes):    # an interruption stops the executor
            meter.update(len(skipped))
            for (_, case, _), result, error in outcomes:
                if error is None:
                    store.save(case.id, result.values, result.meta)
                    computed.append(case.id)
                else:
                    failed[case.id] = error
                done = len(skipped) + len(computed)
                meter.update(done, f"failed {len(failed)}" if failed else "")
        order = {case_id: k for k, case_id in enumerate(self.cases.ids)}
        failed = dict(sorted(failed.items(), key=lambda item: order[item[0]]))
        store.write_failures(failed)
        report = SweepReport(Path(outdir), tuple(computed), skipped, failed)
        if failed:
            warnings.warn(f"{len(failed)} of {len(self.cases)} cases failed after their "
                          f"retries (first: case {next(iter(failed))}: "
                          f"{next(iter(failed.values()))}); the report's failed and "
                          f"{store.failures_path} list them all; fix the cause and rerun in "
                          "the same folder to compute only those", AdvDiffSensWarning,
                          stacklevel=2)
        return report
