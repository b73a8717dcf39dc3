r"""What every sampler shares: the :class:`Sampler` interface, the :data:`SAMPLERS` registry,
and the chain driver (starting points, random streams, progress meters, the callback hook).

A sampler is an object holding its own options (``HMC(step_size=0.3, n_leapfrog=4)``,
``PCN(beta=0.2)``); its ``sample`` method takes the target first (log-density and gradient
for HMC, log-likelihood and prior for pCN, potential and Gaussian reference for ∞-HMC and
∞-MALA) and then the same arguments for every sampler::

    sampler.sample(*target, x0, n_draws, n_chains=1, rng=None, in_bounds=None,
                   progress=None, callback=None, n_workers=1) -> SamplerResult

``rng`` seeds ``n_chains`` independent streams (:meth:`numpy.random.Generator.spawn`), one
per chain. With ``n_workers=1`` the chains run one after the other; with ``n_workers > 1``
up to that many run at once, each in a thread of its own (numpy's dense products and
scipy's sparse ones release the GIL, so the chains' linear algebra overlaps). Chain c
always uses stream c and starting point c, so the draws are the same for every
``n_workers``; the target's functions must then be safe to call from several threads at
once (no cache of the last point shared between calls). When a chain raises, the others
stop at their next iteration and the error is raised (that of the lowest-numbered failed
chain if several failed).

``progress`` is ``None`` (silent), ``"auto"`` (a line on stderr once the run has lasted
:data:`advdiff_sens.progress.AUTO_DELAY` s: one per chain when the chains run one after the
other, one for all chains when they run in parallel) or a meter object with
``update(done, extra)`` and ``close()`` (:mod:`advdiff_sens.progress`), shared by the
chains and counting the iterations of all of them. ``callback`` is called with a
:class:`Draw` after every iteration of every chain, warm-up included; with
``n_workers > 1`` it is called from the worker threads, one call at a time (calls and meter
updates hold one lock), the chains' iterations interleaved in no fixed order.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import ClassVar, NamedTuple

import numpy as np

from advdiff_sens.validation import (as_real_array, as_rng, check_callable, check_integer,
                                     check_positive_scalar)
from advdiff_sens.progress import as_progress
from advdiff_sens.registry import Registry
from advdiff_sens.sampling.result import ChainResult, SamplerResult

__all__ = ["Sampler", "SAMPLERS", "Draw", "ChainMonitor", "MeterShare", "Bounds"]

#: ``in_bounds(x) -> bool``: where a chain may go.
Bounds = Callable[[np.ndarray], bool]


class Draw(NamedTuple):
    """What the ``callback`` of :meth:`Sampler.sample` receives after each iteration.

    Attributes
    ----------
    chain : int
        The chain (0-based).
    iteration : int
        The iteration of that chain (0-based, warm-up included).
    warmup : bool
        Whether the iteration belongs to the warm-up (its state is not kept).
    x : ndarray (p,)
        The chain's state after the iteration (a copy).
    accept : float
        Metropolis acceptance probability of the iteration's proposal.

    Examples
    --------
    Collect every iteration of two short HMC chains on a 2-D standard normal:

    >>> import numpy as np
    >>> from advdiff_sens.sampling import HMC
    >>> draws = []
    >>> res = HMC(step_size=0.8, n_leapfrog=3, n_warmup=5).sample(
    ...     lambda x: -0.5 * float(x @ x), lambda x: -x, np.zeros(2), 10, n_chains=2, rng=0,
    ...     callback=draws.append)
    >>> len(draws), draws[0].chain, draws[0].warmup, draws[-1].chain, draws[-1].iteration
    (30, 0, True, 1, 14)
    >>> sum(not d.warmup for d in draws) == res.samples.shape[0] * res.samples.shape[1]
    True
    >>> bool(np.array_equal(draws[-1].x, res.samples[1, -1])), 0 <= draws[-1].accept <= 1
    (True, True)
    """

    chain: int
    iteration: int
    warmup: bool
    x: np.ndarray
    accept: float


def _progress_text(prefix: str, warmup: bool, accepts: list, divergent: int) -> str:
    text = prefix + ("(warm-up) " if warmup else "") + f"acc {np.mean(accepts):.2f}"
    return text + (f" div {divergent}" if divergent else "")


class _ChainsStopped(Exception):
    """Raised in a chain's thread when another chain failed: the run is abandoned."""


class MeterShare:
    """One progress meter and the iterations reported to it so far, by any chain.

    Parameters
    ----------
    meter : meter
        Progress meter (:mod:`advdiff_sens.progress`).

    Attributes
    ----------
    done : int
        Iterations reported to the meter (of every chain that shares it).
    """

    def __init__(self, meter) -> None:
        self.meter, self.done = meter, 0


class ChainMonitor:
    """Reports one chain's iterations to its progress meter and to the user's callback.

    Parameters
    ----------
    chain : int
        The chain (0-based).
    share : MeterShare
        The meter the chain reports to (its own, or shared with the other chains).
    prefix : str
        Start of the meter's extra text (the chain, on a shared meter).
    n_warmup : int
        Warm-up iterations of the chain.
    callback : callable or None
        Called with a :class:`Draw` after each iteration.
    lock : threading.Lock
        Held while the meter is updated and the callback runs (one lock for all chains of a
        run, so that neither is ever entered by two chains at once).
    stop : threading.Event
        Set when another chain failed: :meth:`report` then ends this chain.
    """

    def __init__(self, chain: int, share: MeterShare, prefix: str, n_warmup: int,
                 callback: Callable[[Draw], object] | None, lock: threading.Lock,
                 stop: threading.Event) -> None:
        self.chain, self.share, self.prefix = chain, share, prefix
        self.n_warmup, self.callback, self.lock, self.stop = n_warmup, callback, lock, stop

    def report(self, iteration: int, x: np.ndarray, accept: float, phase_accepts: list,
               divergent: int) -> None:
        """Report the end of ``iteration`` (state ``x``, acceptance ``accept``; the meter
        shows the mean of ``phase_accepts`` and the ``divergent`` trajectories so far)."""
        if self.stop.is_set():
            raise _ChainsStopped
        warmup = iteration < self.n_warmup
        text = _progress_text(self.prefix, warmup, phase_accepts, divergent)
        with self.lock:
            self.share.done += 1
            self.share.meter.update(self.share.done, text)
            if self.callback is not None:
                self.callback(Draw(self.chain, iteration, warmup, x.copy(), accept))


def _chain_meters(progress, label: str, n_chains: int, n_iter: int,
                  parallel: bool) -> list[tuple[MeterShare, str]]:
    """(meter share, prefix) per chain. None/"auto" give one meter per chain,
    ``label chain c/n  draw k/n_iter``, when the chains run one after the other; a user's
    meter object, and "auto" for parallel chains, are shared, counting the draws of all
    chains, with the chain named in the extra text."""
    expected = "progress must be None, 'auto' or a meter (an object with update() and close())"
    if isinstance(progress, (bool, str)) and progress != "auto":
        raise ValueError(f"{expected}, got {progress!r}")
    if not (progress is None or isinstance(progress, str) or (
            callable(getattr(progress, "update", None))
            and callable(getattr(progress, "close", None)))):
        raise TypeError(f"{expected}, got {type(progress).__name__}")
    if progress is None or (isinstance(progress, str) and not parallel):
        return [(MeterShare(as_progress(progress, n_iter,
                                        f"{label} chain {c + 1}/{n_chains}  draw")), "")
                for c in range(n_chains)]
    share = MeterShare(as_progress(progress, n_chains * n_iter, label))
    return [(share, f"chain {c + 1}/{n_chains} ") for c in range(n_chains)]


class Sampler(ABC):
    """An MCMC sampler: its options as attributes, :meth:`sample` to run it.

    Parameters
    ----------
    n_warmup : int
        Adaptation iterations discarded per chain.
    target_accept : float
        Mean acceptance probability the warm-up adapts toward, in (0, 1).

    Examples
    --------
    A sampler by name (its default options) or as an object draws the same for the same
    ``rng``:

    >>> import numpy as np
    >>> from advdiff_sens.sampling import SAMPLERS, PCN
    >>> SAMPLERS.resolve("pcn", "sampler")
    PCN(beta=0.2, n_warmup=0, target_accept=0.25)
    >>> args = (lambda x: -0.5 * float(x @ x), np.ones(2), np.zeros(2), 10)
    >>> a = SAMPLERS.resolve("pcn", "sampler").sample(*args, rng=1)
    >>> bool(np.array_equal(a.samples, PCN().sample(*args, rng=1).samples))
    True
    """

    #: Registry name, also :attr:`SamplerResult.sampler`.
    name: ClassVar[str]
    #: Start of the progress line.
    label: ClassVar[str]

    def __init__(self, *, n_warmup: int, target_accept: float) -> None:
        self.n_warmup = check_integer(n_warmup, "n_warmup", minimum=0)
        target_accept = check_positive_scalar(target_accept, "target_accept")
        if target_accept >= 1:
            raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
        self.target_accept = target_accept

    @abstractmethod
    def sample(self, *target, **options) -> SamplerResult:
        """Run the chains on ``target`` (module docstring for the common arguments)."""

    def starting_points(self, x0, n_draws: int, n_chains: int, in_bounds: Bounds | None,
                        callback) -> tuple[np.ndarray, int]:
        """Check the arguments every sampler takes; the starting point of each chain,
        shape (n_chains, p), and ``n_draws``."""
        if in_bounds is not None:
            check_callable(in_bounds, "in_bounds")
        if callback is not None:
            check_callable(callback, "callback")
        n_draws = check_integer(n_draws, "n_draws", minimum=4)
        n_chains = check_integer(n_chains, "n_chains", minimum=1)
        x0 = as_real_array(x0, "x0")
        if x0.ndim == 1:
            return np.tile(x0, (n_chains, 1)), n_draws
        if x0.ndim != 2 or x0.shape[0] != n_chains:
            raise ValueError(f"x0 must have shape (p,) or (n_chains={n_chains}, p), got "
                             f"{x0.shape}")
        return x0, n_draws

    def run_chains(self, chain: Callable[[np.ndarray, np.random.Generator, ChainMonitor],
                                         ChainResult],
                   starts: np.ndarray, n_draws: int, *, rng, progress, callback,
                   n_workers: int = 1) -> tuple[list[ChainResult], float]:
        """Run ``chain(x, stream, monitor)`` from each starting point, with its own random
        stream and monitor, on up to ``n_workers`` threads (module docstring); the chains'
        results in chain order and the wall time of all of them.

        Examples
        --------
        A toy "sampler" whose chain returns its stream's first normal draw: the same for one
        worker and for two.

        >>> import numpy as np
        >>> from advdiff_sens.sampling import ChainResult, PCN
        >>> def chain(x, stream, monitor):
        ...     draws = np.full((4, 1), stream.standard_normal())
        ...     for it in range(4):
        ...         monitor.report(it, draws[it], 1.0, [1.0], 0)
        ...     return ChainResult(draws, np.zeros(4), 1.0, 0.1, 0, 0)
        >>> run = lambda n: PCN().run_chains(chain, np.zeros((3, 1)), 4, rng=5, progress=None,
        ...                                  callback=None, n_workers=n)[0]
        >>> [c.draws[0, 0] for c in run(1)] == [c.draws[0, 0] for c in run(2)]
        True
        """
        n_chains = starts.shape[0]
        n_workers = min(check_integer(n_workers, "n_workers", minimum=1), n_chains)
        streams = as_rng(rng).spawn(n_chains)
        meters = _chain_meters(progress, self.label, n_chains, self.n_warmup + n_draws,
                               parallel=n_workers > 1)
        lock, stop = threading.Lock(), threading.Event()
        monitors = [ChainMonitor(c, *meters[c], self.n_warmup, callback, lock, stop)
                    for c in range(n_chains)]
        begin = time.perf_counter()
        try:
            if n_workers == 1:
                out = [chain(starts[c].copy(), streams[c], monitors[c]) for c in range(n_chains)]
            else:
                out = _run_threads(chain, starts, streams, monitors, n_workers, stop)
        finally:
            for share in {id(m[0]): m[0] for m in meters}.values():
                share.meter.close()
        return out, time.perf_counter() - begin


def _run_threads(chain, starts: np.ndarray, streams: list, monitors: list[ChainMonitor],
                 n_workers: int, stop: threading.Event) -> list[ChainResult]:
    """The chains on ``n_workers`` threads; when one raises (or the caller is interrupted),
    ``stop`` ends the others at their next iteration and the error of the lowest-numbered
    failed chain is raised."""
    pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="sampler-chain")
    futures = []
    try:
        futures = [pool.submit(chain, starts[c].copy(), streams[c], monitors[c])
                   for c in range(len(monitors))]
        wait(futures, return_when=FIRST_EXCEPTION)
    finally:
        stop.set()                            # a no-op for chains that have all finished
        pool.shutdown(wait=True, cancel_futures=True)
    errors = [f.exception() for f in futures if not f.cancelled()
              and f.exception() is not None and not isinstance(f.exception(), _ChainsStopped)]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


#: Samplers by name: ``"hmc"`` (:class:`~advdiff_sens.sampling.hmc.HMC`), ``"pcn"``
#: (:class:`~advdiff_sens.sampling.pcn.PCN`), ``"infinity-hmc"``
#: (:class:`~advdiff_sens.sampling.infinite.InfinityHMC`) and ``"infinity-mala"``
#: (:class:`~advdiff_sens.sampling.infinite.InfinityMALA`), each with its default options.
SAMPLERS: Registry[Sampler] = Registry("sampler", Sampler)
