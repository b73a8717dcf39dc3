r"""Where the cases run: in this process (:class:`SerialExecutor`) or on a dask.distributed
cluster (:class:`DaskExecutor`).

An executor takes the function that runs one case, the shared context and the cases with
their seeds, and yields each case's outcome as it finishes — its result, or the text of the
exception it raised after its retries — so the sweep can write it to disk at once.

:class:`DaskExecutor` connects a ``distributed.Client`` to a scheduler address, or, with
none, starts a ``LocalCluster`` of worker processes with one thread each (one per core by
default) and closes it at the end. The context is scattered to every worker once
(``Client.scatter(..., broadcast=True)``): each worker unpickles it once and builds the
problem on its first case, and every task receives that same object. Each case is one task,
submitted with ``retries``; a task whose worker dies is rescheduled by the scheduler (up to
its ``distributed.scheduler.allowed-failures``) and otherwise reported as failed.
Without dask (the ``distributed`` extra) :class:`DaskExecutor` raises ``ImportError``
naming the extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from advdiff_sens.registry import Registry
from advdiff_sens.validation import check_integer

__all__ = ["Executor", "SerialExecutor", "DaskExecutor", "EXECUTORS", "DISTRIBUTED_EXTRA_HINT"]

#: What to install when dask.distributed is missing.
DISTRIBUTED_EXTRA_HINT = ('install the distributed extra: python -m pip install -e '
                          '".[distributed]" (dask.distributed)')


def error_text(exc: BaseException) -> str:
    """``"ExceptionClass: message"``, what the failure report records."""
    return f"{type(exc).__name__}: {exc}"


class Executor:
    """Base class of the executors.

    Parameters
    ----------
    retries : int
        Further attempts of a case whose task raised, before it is reported as failed.

    Examples
    --------
    >>> from advdiff_sens.ensemble import EXECUTORS
    >>> EXECUTORS.names()
    ('serial', 'dask')
    """

    def __init__(self, retries: int = 1) -> None:
        self.retries = check_integer(retries, "retries", minimum=0)

    def run(self, function: Callable, context, jobs: Sequence[tuple]) -> Iterator[tuple]:
        """Yield ``(job, result, error)`` for each job as it finishes: ``result`` of
        ``function(context, *job)``, or ``None`` and the error text. Closing the generator
        early (an interrupted sweep) cancels the jobs still running and releases the
        executor's resources."""
        raise NotImplementedError


#: The executors by name.
EXECUTORS: Registry[Executor] = Registry("executor", Executor)


@EXECUTORS.register("serial")
class SerialExecutor(Executor):
    """The cases one after the other in this process (the reference every other executor
    matches case by case).

    Examples
    --------
    >>> from advdiff_sens.ensemble import SerialExecutor
    >>> list(SerialExecutor().run(lambda context, x: context + x, 10, [(1,), (2,)]))
    [((1,), 11, None), ((2,), 12, None)]
    """

    def run(self, function, context, jobs):
        for job in jobs:
            for _ in range(self.retries + 1):
                try:
                    result = function(context, *job)
                except Exception as exc:       # reported by case, never raised past the sweep
                    outcome = (job, None, error_text(exc))
                else:
                    outcome = (job, result, None)
                    break
            yield outcome


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"DaskExecutor needs dask.distributed; {DISTRIBUTED_EXTRA_HINT}") \
            from exc
    return distributed


@EXECUTORS.register("dask")
class DaskExecutor(Executor):
    """The cases as tasks on a dask.distributed cluster.

    Parameters
    ----------
    address : str, optional
        A scheduler address (``"tcp://host:8786"``) to connect to; default: start a
        ``LocalCluster`` for the sweep and close it afterwards.
    n_workers : int, optional
        Worker processes of the local cluster (one thread each); default the number of
        cores. Only without ``address``.
    retries : int
        Further attempts of a task that raised (``Client.submit(retries=...)``).

    Raises
    ------
    ImportError
        dask.distributed is not installed (the ``distributed`` extra).

    Examples
    --------
    >>> from advdiff_sens.ensemble import DaskExecutor
    >>> DaskExecutor(n_workers=2).n_workers
    2
    >>> DaskExecutor(address="tcp://127.0.0.1:8786").address
    'tcp://127.0.0.1:8786'
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None,
                 retries: int = 1) -> None:
        super().__init__(retries)
        _distributed()
        if address is not None and n_workers is not None:
            raise ValueError("n_workers applies to the local cluster only, not with a "
                             "scheduler address (the cluster's deployment sets its workers)")
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be a string, got {type(address).__name__}")
        self.address = address
        self.n_workers = (None if n_workers is None
                          else check_integer(n_workers, "n_workers", minimum=1))

    def __repr__(self) -> str:
        where = (f"address={self.address!r}" if self.address
                 else f"n_workers={self.n_workers or os.cpu_count()}")
        return f"DaskExecutor({where}, retries={self.retries})"

    def client(self):
        """A ``(client, cluster)`` pair: connected to :attr:`address`, or to a new local
        cluster (``cluster`` None with an address)."""
        distributed = _distributed()
        if self.address is not None:
            return distributed.Client(self.address), None
        # one thread per worker process: the compiled kernel and BLAS of each worker too, so
        # that the workers do not oversubscribe the cores between them
        single = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                         "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        cluster = distributed.LocalCluster(n_workers=self.n_workers or os.cpu_count(),
                                           threads_per_worker=1, processes=True,
                                           dashboard_address=None, env=single)
        return distributed.Client(cluster), cluster

    def run(self, function, context, jobs):
        distributed = _distributed()
        client, cluster = self.client()
        futures = {}
        try:
            shared = client.scatter(context, broadcast=True, hash=False)
            for job in jobs:
                future = client.submit(function, shared, *job, retries=self.retries,
                                       pure=False)
                futures[future] = job
            # results are fetched in the background as tasks finish, not one round trip each
            for future, result in distributed.as_completed(futures, with_results=True,
                                                           raise_errors=False):
                job = futures.pop(future)
                if future.status == "finished":
                    yield job, result, None
                elif future.status == "error":
                    yield job, None, error_text(future.exception())
                else:                                  # cancelled or lost by the cluster
                    yield job, None, f"the task was {future.status} by the cluster"
                future.release()
        finally:
            for future in futures:
                future.cancel()
            client.close()
            if cluster is not None:
                cluster.close()
