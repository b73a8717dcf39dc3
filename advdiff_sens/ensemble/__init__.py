r"""Ensembles: one task mapped over a table of cases, serially or on dask.distributed.

Solves, tangents or gradients for many flows, directions, κ or final times, and
twin-experiment batteries, each case with its own seed and its own result file:

* :class:`CaseTable` — case id → parameters (:meth:`CaseTable.product`,
  :meth:`CaseTable.zip`); :func:`case_seeds` — ``SeedSequence(seed).spawn(n)``, one per case.
* :class:`ProblemContext` — the shared problem, sent as a picklable recipe and built once
  per process.
* Tasks — :class:`SolveTask`, :class:`TangentTask`, :class:`GradientTask`,
  :class:`ChainTask` (registry :data:`TASKS`), each with ``run(context, case, rng)``.
* Executors — :class:`SerialExecutor`, :class:`DaskExecutor` (a ``LocalCluster`` of
  single-threaded processes by default, any scheduler address otherwise; the
  ``distributed`` extra), registry :data:`EXECUTORS`.
* :class:`Sweep` — writes each finished case at once (:class:`ResultStore`), resumes from
  what is on disk, retries failed tasks and reports those that still fail
  (:class:`SweepReport`).

The guide "Ensembles on dask.distributed" walks through a sweep; ``advdiff-sens sweep
CONFIG.toml`` runs one from a file.
"""

from advdiff_sens.ensemble.cases import Case, CaseTable, case_seeds
from advdiff_sens.ensemble.contexts import ProblemContext
from advdiff_sens.ensemble.executors import (DISTRIBUTED_EXTRA_HINT, EXECUTORS, DaskExecutor,
                                             Executor, SerialExecutor)
from advdiff_sens.ensemble.store import ResultStore
from advdiff_sens.ensemble.sweep import CaseResult, Sweep, SweepReport, run_case
from advdiff_sens.ensemble.tasks import (TASKS, ChainTask, GradientTask, SolveTask, TangentTask,
                                         Task, mode_direction)

__all__ = ["Case", "CaseTable", "case_seeds", "ProblemContext", "Task", "SolveTask",
           "TangentTask", "GradientTask", "ChainTask", "TASKS", "mode_direction", "Executor",
           "SerialExecutor", "DaskExecutor", "EXECUTORS", "DISTRIBUTED_EXTRA_HINT",
           "ResultStore", "Sweep", "SweepReport", "CaseResult", "run_case"]
