"""Options the commands share and the argument types that check them.

Every argument type is a function ``text -> value`` for argparse that raises
``argparse.ArgumentTypeError("expected …, got '<text>'")``; argparse turns that into
``advdiff-sens <command>: error: argument --x: expected …`` with exit status 2.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation import SCHEMES
from advdiff_sens.inference import OPTIMIZERS, NewtonCG

__all__ = ["integer_at_least", "number_above", "number_at_least", "number_between",
           "finite_number", "continuation_stages",
           "prepare_outdir", "saved_note", "add_outdir_option", "add_estimation_options",
           "add_newton_options", "NEWTON_OPTIONS", "ESTIMATE_SCHEME", "DEFAULT_STAGES"]

#: Advection scheme of ``demo`` and ``estimate``: positive at every cell Péclet number and
#: differentiable in u (the demo's 20² grid has cell Péclet ≈ 9).
ESTIMATE_SCHEME = "exponential"
#: Default continuation schedule (``--stages``), that of
#: :func:`advdiff_sens.inference.estimate_velocity`.
DEFAULT_STAGES = (3, 6, 10)
#: The options of :func:`add_newton_options` (argparse ``dest``) and the
#: :class:`~advdiff_sens.inference.NewtonCG` parameter each sets.
NEWTON_OPTIONS = {"newton_max_iter": "max_iter", "cg_max_iter": "cg_max_iter"}


def integer_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer ``>= minimum``.

    Examples
    --------
    >>> integer_at_least(3)("4")
    4
    >>> integer_at_least(3)("2")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 3, got '2'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _finite_number(expected: str, accepts: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a finite number for which ``accepts`` holds, ``expected`` naming it."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and accepts(value)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


def number_above(low: float) -> Callable[[str], float]:
    """An argparse type: a finite number ``> low``.

    Examples
    --------
    >>> number_above(0.0)("0.01")
    0.01
    """
    return _finite_number(f"a number > {low:g}", lambda value: value > low)


def number_at_least(low: float) -> Callable[[str], float]:
    """An argparse type: a finite number ``>= low``.

    Examples
    --------
    >>> number_at_least(1.0)("1")
    1.0
    >>> number_at_least(1.0)("0.5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number >= 1, got '0.5'
    """
    return _finite_number(f"a number >= {low:g}", lambda value: value >= low)


def finite_number(text: str) -> float:
    """An argparse type: any finite number.

    Examples
    --------
    >>> finite_number("-1.5")
    -1.5
    >>> finite_number("inf")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a finite number, got 'inf'
    """
    return _finite_number("a finite number", lambda value: True)(text)


finite_number.__name__ = "a finite number"


def number_between(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number in the open interval ``(low, high)``.

    Examples
    --------
    >>> number_between(0.0, 1.0)("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number in (0, 1), got '1'
    """
    return _finite_number(f"a number in ({low:g}, {high:g})", lambda value: low < value < high)


def continuation_stages(text: str) -> tuple[int, ...]:
    """An argparse type: the continuation schedule, ``"3,6,10"`` or ``"none"`` (``()``).

    Examples
    --------
    >>> continuation_stages("3,6,10"), continuation_stages("none")
    ((3, 6, 10), ())
    """
    if text.strip().lower() == "none":
        return ()
    try:
        stages = tuple(int(s) for s in text.split(","))
    except ValueError:
        stages = ()
    if not stages or min(stages) < 1 or any(b <= a for a, b in itertools.pairwise(stages)):
        raise argparse.ArgumentTypeError(
            "expected a comma-separated list of increasing positive integers (numbers of "
            f"times fitted per continuation stage, e.g. 3,6,10) or 'none', got {text!r}")
    return stages


continuation_stages.__name__ = "continuation stages"


def prepare_outdir(outdir: str) -> Path:
    """Create ``outdir`` (with its parents) and check that a file can be written in it.

    Raises
    ------
    ValueError
        ``outdir`` is a file, or cannot be created or written to (the message names
        ``--outdir``).
    """
    path = Path(outdir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"argument --outdir: {outdir!r} exists and is not a folder; expected "
                         "a folder to write the results to (or a path where one can be created)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"argument --outdir: cannot create or write to {outdir!r} "
                         f"({exc.strerror or exc}); expected a writable folder") from None
    return path


def saved_note(saved: list[Path]) -> str:
    """What was written before a run stopped, for its last message.

    Examples
    --------
    >>> saved_note([])
    'nothing was saved'
    """
    if not saved:
        return "nothing was saved"
    return "saved before stopping: " + ", ".join(str(p.resolve()) for p in saved)


def add_outdir_option(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    """``--outdir`` (default ``default``): the folder for ``what`` (figures, results)."""
    parser.add_argument("--outdir", default=default, help=f"folder for {what}")


def add_estimation_options(parser: argparse.ArgumentParser, *, warmup: int | None,
                           warmup_help: str, optimizer: str | None = OPTIMIZERS.names()[0],
                           optimizer_help: str | None = None) -> None:
    """The options ``demo`` and ``estimate`` share: ``--seed``, ``--starts``,
    ``--optimizer`` (default ``optimizer``; None: the command chooses), ``--stages``,
    ``--warmup`` (default ``warmup``) and ``--scheme``."""
    optimizers = OPTIMIZERS.names()
    parser.add_argument("--seed", type=integer_at_least(0), default=0,
                        help="random seed, >= 0 (0)")
    parser.add_argument("--starts", type=integer_at_least(1), default=1,
                        help="optimiser starting points: zero, then prior draws; the lowest "
                             "Ψ wins (1)")
    parser.add_argument("--optimizer", choices=optimizers, default=optimizer,
                        help=optimizer_help or f"MAP optimiser ({optimizer})")
    parser.add_argument("--stages", type=continuation_stages, default=DEFAULT_STAGES,
                        help="continuation schedule: how many times to fit in the stages "
                             "before all of them, comma-separated, or 'none' "
                             f"({','.join(map(str, DEFAULT_STAGES))})")
    parser.add_argument("--warmup", type=integer_at_least(0), default=warmup, help=warmup_help)
    parser.add_argument("--scheme", choices=SCHEMES.names(), default=ESTIMATE_SCHEME,
                        help=f"advection scheme of the model ({ESTIMATE_SCHEME}: positive at "
                             "every cell Péclet number)")


def add_newton_options(parser: argparse.ArgumentParser) -> None:
    """``--newton-max-iter`` and ``--cg-max-iter``: the iteration limits of Newton-CG
    (:class:`~advdiff_sens.inference.NewtonCG` ``max_iter``, ``cg_max_iter``; default None,
    the class's defaults). CG needs about as many iterations per Newton step as the
    prior-preconditioned data Hessian has eigenvalues above 1, so well-informed problems
    need more than the default."""
    defaults = inspect.signature(NewtonCG).parameters
    for dest, name in NEWTON_OPTIONS.items():
        what = ("Newton iterations (CG solves) per continuation stage" if name == "max_iter"
                else "CG iterations (Hessian products) per Newton iteration")
        parser.add_argument("--" + dest.replace("_", "-"), type=integer_at_least(1),
                            default=None, help=f"newton-cg: {what}, >= 1 "
                                               f"({defaults[name].default})")
