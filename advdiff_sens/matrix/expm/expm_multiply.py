r"""scipy's ``expm_multiply`` (Al-Mohy & Higham 2011) as the kernel of
:class:`~advdiff_sens.matrix.ExpmMultiplyBackend`.

Equally spaced times are computed in one call with ``start=0, stop=t[-1]-t[0],
num=len(t)`` after propagating to ``t[0]`` (this avoids scipy's documented loss of
accuracy when ``start != 0``); arbitrary increasing times are reached by stepping from the
previous time, :math:`x(t_{j+1}) = e^{(t_{j+1}-t_j)A}x(t_j)`, never from 0 again. A long
horizon can be crossed in chunks that report progress.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from advdiff_sens.matrix.norms import trace

__all__ = ["expm_multiply_action", "expm_multiply_once", "is_equally_spaced"]


def expm_multiply_once(A, b: np.ndarray, t: float, trace_a) -> np.ndarray:
    """:math:`e^{tA}b` by one ``expm_multiply`` call (``trace_a`` = tr A)."""
    if t == 0.0:
        return b.copy()
    return spla.expm_multiply(t * A, b, traceA=t * trace_a)


def is_equally_spaced(times: np.ndarray) -> bool:
    """Whether three or more times have equal steps (to 1e-12 of the horizon)."""
    if times.size < 3:
        return False
    steps = np.diff(times)
    return bool(np.all(np.abs(steps - steps[0]) <= 1e-12 * max(abs(times[-1]), 1.0)))


def expm_multiply_action(A, b: np.ndarray, times: np.ndarray, progress=None,
                         chunk: float | None = None, total: int = 0) -> np.ndarray:
    """``exp(t_j A) b`` for every time with ``expm_multiply``; shape ``(m, *b.shape)``.

    With ``chunk`` (a time), the horizon is crossed in pieces of at most that length, each
    one call stepping from the previous state, and ``progress`` (a meter,
    :mod:`advdiff_sens.progress`) is told after each piece the share of ``total`` products
    done."""
    trace_a = trace(A)
    if chunk is not None and float(times[-1]) > chunk:
        marks = np.arange(1, int(np.ceil(float(times[-1]) / chunk))) * chunk
        grid = np.union1d(times, marks[marks < times[-1]])
        keep = np.isin(grid, times)
        out = np.empty((times.size, *b.shape), dtype=np.result_type(b, A.dtype))
        x, previous, j = b, 0.0, 0
        for i, time_i in enumerate(grid):
            x = expm_multiply_once(A, x, float(time_i) - previous, trace_a)
            previous = float(time_i)
            if keep[i]:
                out[j], j = x, j + 1
            if progress is not None:
                progress.update(int(previous / float(times[-1]) * total))
        return out
    x0 = expm_multiply_once(A, b, float(times[0]), trace_a)
    out = np.empty((times.size, *b.shape), dtype=np.result_type(x0, A.dtype))
    out[0] = x0
    if is_equally_spaced(times):
        span = float(times[-1] - times[0])
        out[1:] = spla.expm_multiply(A, x0, start=0.0, stop=span, num=times.size,
                                     endpoint=True, traceA=trace_a)[1:]
        return out
    for j in range(1, times.size):
        out[j] = expm_multiply_once(A, out[j - 1], float(times[j] - times[j - 1]), trace_a)
    return out

