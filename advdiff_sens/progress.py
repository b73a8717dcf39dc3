"""Progress meters for long computations, written on stderr.

A meter is an object with ``update(done, extra="")`` and ``close()``; the library's long
loops (propagator steps, optimiser iterations, sampler draws) report to one. :class:`Progress`
prints a single refreshed line; with ``delay`` it stays silent unless the work is still
running after ``delay`` seconds, so short calls print nothing.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

__all__ = ["Progress", "NullProgress", "as_progress", "meter_closed", "AUTO_DELAY"]

#: Seconds of silence before an ``"auto"`` meter prints its first line.
AUTO_DELAY = 2.0


class Progress:
    r"""A progress line on stderr: ``label  done/total  [extra]``, refreshed at most 4×/s.

    Parameters
    ----------
    total : int
        Units of work (products, iterations, draws) in the whole computation.
    label : str
        What is running, printed at the start of the line.
    enabled : bool
        False makes the meter silent.
    stream : file-like, optional
        Where to write (default ``sys.stderr``).
    delay : float
        Seconds of silence, counted from the first report, before the first line (0: print
        from the start). A computation that finishes sooner prints nothing.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> meter = Progress(3, "work", stream=out)
    >>> for k in range(1, 4):
    ...     meter.update(k)
    >>> out.getvalue().rstrip().split("\r")[-1]
    'work  3/3'
    """

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None,
                 delay: float = 0.0) -> None:
        self.total, self.label, self.enabled = int(total), label, enabled
        self.stream = sys.stderr if stream is None else stream
        self.delay = float(delay)
        self._start: float | None = None
        self._last = 0.0
        self._shown = False
        self._width = 0

    def update(self, done: int, extra: str = "") -> None:
        """Report ``done`` of ``total`` units (the last unit is always printed once the line
        has been shown)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        self._start = now if self._start is None else self._start
        finished = done >= self.total
        if not self._shown and now - self._start < self.delay:
            return
        if now - self._last < 0.25 and not finished:
            return
        self._last, self._shown = now, True
        end = "\n" if finished else ""
        line = f"{self.label}  {done}/{self.total}  {extra}"
        padding = " " * max(self._width - len(line), 0)     # blank what a longer line left
        self._width = len(line)
        self.stream.write(f"\r{line}{padding}{end}")
        self.stream.flush()
        if finished:
            self.enabled = False

    def close(self) -> None:
        """End the line if one was shown and the work stopped short of ``total``."""
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False


class NullProgress:
    """A meter that reports nothing.

    Examples
    --------
    >>> from advdiff_sens.progress import NullProgress, as_progress
    >>> meter = as_progress(False, 100, "solve")
    >>> isinstance(meter, NullProgress), meter.update(50), meter.close()
    (True, None, None)
    """

    total = 0

    def update(self, done: int, extra: str = "") -> None:
        """Ignore the report."""

    def close(self) -> None:
        """Nothing to close."""


def as_progress(progress, total: int, label: str, *, delay: float = AUTO_DELAY):
    """A meter from a user's ``progress`` argument: ``False``/``None`` → silent, ``True`` →
    :class:`Progress` on stderr, ``"auto"`` → :class:`Progress` after ``delay`` seconds
    (default :data:`AUTO_DELAY`), or any object with ``update`` and ``close`` (used as it
    is).

    Parameters
    ----------
    progress : bool, None, "auto" or meter
        The user's argument.
    total : int
        Units of work of the computation.
    label : str
        What is running.
    delay : float
        Seconds of silence of an ``"auto"`` meter.

    Returns
    -------
    Progress, NullProgress or the user's meter

    Raises
    ------
    ValueError
        A string other than ``"auto"``.
    TypeError
        Anything else without ``update`` and ``close``.

    Examples
    --------
    >>> from advdiff_sens.progress import AUTO_DELAY, NullProgress, Progress, as_progress
    >>> type(as_progress(None, 10, "solve")).__name__, type(as_progress(True, 10, "solve")).__name__
    ('NullProgress', 'Progress')
    >>> as_progress("auto", 10, "solve").delay == AUTO_DELAY
    True
    >>> meter = NullProgress()
    >>> as_progress(meter, 10, "solve") is meter
    True
    """
    if progress is None or progress is False:
        return NullProgress()
    if progress is True:
        return Progress(total, label)
    if isinstance(progress, str):
        if progress != "auto":
            raise ValueError(f"progress must be True, False, 'auto' or a meter, got {progress!r}")
        return Progress(total, label, delay=delay)
    if callable(getattr(progress, "update", None)) and callable(getattr(progress, "close", None)):
        return progress
    raise TypeError("progress must be True, False, 'auto' or an object with update() and "
                    f"close(), got {type(progress).__name__}")


@contextmanager
def meter_closed(meter):
    """Use ``meter`` in a ``with`` block and close it however the block ends.

    Parameters
    ----------
    meter : object with ``update`` and ``close``

    Yields
    ------
    meter
        The same meter.

    Examples
    --------
    A run stopped short of its total still ends its line:

    >>> import io
    >>> from advdiff_sens.progress import Progress, meter_closed
    >>> out = io.StringIO()
    >>> with meter_closed(Progress(10, "work", stream=out)) as meter:
    ...     meter.update(4)
    >>> out.getvalue()
    '\\rwork  4/10  \\n'
    """
    try:
        yield meter
    finally:
        meter.close()
