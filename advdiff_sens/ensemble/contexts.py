r"""The part every case shares: a problem built once per process from a picklable recipe.

A model caches its generator and propagators per thread and is not picklable; what travels
to the workers is the recipe — a module-level factory (e.g.
:func:`advdiff_sens.problems.r2_problem`) and its options. :class:`ProblemContext` builds the
problem on first use in each process and keeps it, with a model per diffusivity and any
task's precomputed quantities (:meth:`ProblemContext.memo`), for every later case that
process runs. The dask executor scatters the context to every worker once
(``broadcast=True``), so each worker builds the problem once, not once per case.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.problems import ReferenceProblem, r2_problem
from advdiff_sens.validation import check_callable

__all__ = ["ProblemContext"]


class ProblemContext:
    """A reference problem (model, velocity, θ0, final time) built lazily from
    ``factory(**options)``, once per process.

    Parameters
    ----------
    factory : callable
        A module-level function returning a
        :class:`~advdiff_sens.problems.ReferenceProblem` (default
        :func:`~advdiff_sens.problems.r2_problem`); it and the options must pickle.
    **options
        Keyword arguments of ``factory`` (numbers, strings; e.g. ``n=16``).

    Attributes
    ----------
    builds : int
        How many times this copy built the problem (0 or 1).
    uses : int
        How many cases this copy has served (the sweep's record of where the shared work
        was reused).

    Examples
    --------
    >>> import pickle
    >>> from advdiff_sens.ensemble import ProblemContext
    >>> context = ProblemContext(n=8, progress=False)
    >>> context.problem.model.grid.shape, context.builds
    ((8, 8), 1)
    >>> context.model(0.02).kappa, context.model(0.02) is context.model(0.02)
    (0.02, True)
    >>> pickle.loads(pickle.dumps(context)).builds        # the recipe travels, not the model
    0
    """

    def __init__(self, factory: Callable[..., ReferenceProblem] = r2_problem, **options) -> None:
        check_callable(factory, "factory")
        self.factory, self.options = factory, dict(options)
        self._reset()

    def _reset(self) -> None:
        self._problem: ReferenceProblem | None = None
        self._models: dict[float, AdvectionDiffusion] = {}
        self._memo: dict = {}
        self.builds, self.uses, self.pid = 0, 0, os.getpid()

    def __getstate__(self) -> dict:
        return {"factory": self.factory, "options": self.options}

    def __setstate__(self, state: dict) -> None:
        self.factory, self.options = state["factory"], state["options"]
        self._reset()

    @property
    def problem(self) -> ReferenceProblem:
        """The problem, built on first use in this process."""
        if self._problem is None:
            problem = self.factory(**self.options)
            if not isinstance(problem, ReferenceProblem):
                raise TypeError(f"the context's factory must return a ReferenceProblem, got "
                                f"{type(problem).__name__}")
            self._problem, self.builds = problem, self.builds + 1
        return self._problem

    def model(self, kappa: float | None = None) -> AdvectionDiffusion:
        """The problem's model with diffusivity ``kappa`` (default the problem's), one per
        κ, kept with its caches."""
        base = self.problem.model
        if kappa is None or kappa == base.kappa:
            return base
        if kappa not in self._models:
            self._models[kappa] = base.with_kappa(kappa)
        return self._models[kappa]

    def memo(self, key, compute: Callable[[], object]):
        """``compute()`` on the first call with ``key`` in this process, the stored value
        after (e.g. a twin experiment's true solution, shared by all its cases).

        Examples
        --------
        >>> from advdiff_sens.ensemble import ProblemContext
        >>> context = ProblemContext(n=8)
        >>> context.memo("x", lambda: [1]) is context.memo("x", lambda: [2])
        True
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def describe(self) -> dict:
        """The recipe as the manifest records it: factory path and options."""
        name = f"{self.factory.__module__}.{getattr(self.factory, '__qualname__', self.factory)}"
        return {"factory": name, "options": {k: _plain(v) for k, v in self.options.items()}}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"ProblemContext({self.factory.__name__}, {options})"


def _plain(value):
    """An option as JSON can hold it (its repr for objects)."""
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
