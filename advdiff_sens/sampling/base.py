r"""What every sampler shares: the :class:`Sampler` interface, the :data:`SAMPLERS` registry,
and the chain driver (starting points, random streams, progress meters, the callback hook).

A sampler is an object holding its own options (``HMC(step_size=0.3, n_leapfrog=4)``,
``PCN(beta=0.2)``); its ``sample`` method takes the target first (log-density and gradient
for HMC, log-likelihood and prior standard deviations for pCN) and then the same arguments
for every sampler::

    sampler.sample(*target, x0, n_draws, n_chains=1, rng=None, in_bounds=None,
                   progress=None, callback=None) -> SamplerResult

``rng`` seeds ``n_chains`` independent streams (:meth:`numpy.random.Generator.spawn`), one
per chain, and the chains run one after the other. ``progress`` is ``None`` (silent),
``"auto"`` (one line per chain on stderr once a chain has run
:data:`advdiff_sens.progress.AUTO_DELAY` s) or a meter object with ``update(done, extra)``
and ``close()`` (:mod:`advdiff_sens.progress`), shared by the chains and counting the
iterations of all of them. ``callback`` is called with a :class:`Draw` after every
iteration of every chain, warm-up included.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, NamedTuple

import numpy as np

from advdiff_sens.validation import (as_real_array, as_rng, check_callable, check_integer,
                                     check_positive_scalar)
from advdiff_sens.progress import as_progress
from advdiff_sens.registry import Registry
from advdiff_sens.sampling.result import ChainResult, SamplerResult

__all__ = ["Sampler", "SAMPLERS", "Draw", "ChainMonitor", "Bounds"]

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


class ChainMonitor:
    """Reports one chain's iterations to its progress meter and to the user's callback.

    Parameters
    ----------
    chain : int
        The chain (0-based).
    meter : meter
        Progress meter (:mod:`advdiff_sens.progress`).
    offset : int
        Iterations of the earlier chains on a shared meter (0 for a meter of its own).
    prefix : str
        Start of the meter's extra text (the chain, on a shared meter).
    n_warmup : int
        Warm-up iterations of the chain.
    callback : callable or None
        Called with a :class:`Draw` after each iteration.
    """

    def __init__(self, chain: int, meter, offset: int, prefix: str, n_warmup: int,
                 callback: Callable[[Draw], object] | None) -> None:
        self.chain, self.meter, self.offset, self.prefix = chain, meter, offset, prefix
        self.n_warmup, self.callback = n_warmup, callback

    def report(self, iteration: int, x: np.ndarray, accept: float, phase_accepts: list,
               divergent: int) -> None:
        """Report the end of ``iteration`` (state ``x``, acceptance ``accept``; the meter
        shows the mean of ``phase_accepts`` and the ``divergent`` trajectories so far)."""
        warmup = iteration < self.n_warmup
        self.meter.update(self.offset + iteration + 1,
                          _progress_text(self.prefix, warmup, phase_accepts, divergent))
        if self.callback is not None:
            self.callback(Draw(self.chain, iteration, warmup, x.copy(), accept))


def _chain_meters(progress, label: str, n_chains: int, n_iter: int) -> list:
    """(meter, offset, prefix) per chain. None/"auto" give one meter per chain,
    ``label chain c/n  draw k/n_iter``; a user's meter object is shared, counting the draws of
    all chains, with the chain named in the extra text."""
    expected = "progress must be None, 'auto' or a meter (an object with update() and close())"
    if isinstance(progress, (bool, str)) and progress != "auto":
        raise ValueError(f"{expected}, got {progress!r}")
    if not (progress is None or isinstance(progress, str) or (
            callable(getattr(progress, "update", None))
            and callable(getattr(progress, "close", None)))):
        raise TypeError(f"{expected}, got {type(progress).__name__}")
    if progress is None or isinstance(progress, str):
        return [(as_progress(progress, n_iter, f"{label} chain {c + 1}/{n_chains}  draw"), 0, "")
                for c in range(n_chains)]
    meter = as_progress(progress, n_chains * n_iter, label)
    return [(meter, c * n_iter, f"chain {c + 1}/{n_chains} ") for c in range(n_chains)]


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
                   starts: np.ndarray, n_draws: int, *, rng, progress,
                   callback) -> tuple[list[ChainResult], float]:
        """Run ``chain(x, stream, monitor)`` from each starting point, with its own random
        stream and monitor; the chains' results and the wall time of all of them."""
        n_chains = starts.shape[0]
        streams = as_rng(rng).spawn(n_chains)
        meters = _chain_meters(progress, self.label, n_chains, self.n_warmup + n_draws)
        begin = time.perf_counter()
        try:
            out = [chain(starts[c].copy(), streams[c],
                         ChainMonitor(c, *meters[c], self.n_warmup, callback))
                   for c in range(n_chains)]
        finally:
            for meter in {id(m[0]): m[0] for m in meters}.values():
                meter.close()
        return out, time.perf_counter() - begin


#: Samplers by name: ``"hmc"`` (:class:`~advdiff_sens.sampling.hmc.HMC`) and ``"pcn"``
#: (:class:`~advdiff_sens.sampling.pcn.PCN`), each with its default options.
SAMPLERS: Registry[Sampler] = Registry("sampler", Sampler)
