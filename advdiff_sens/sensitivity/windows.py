r"""Time-varying flows: a velocity constant on each of K time windows, and the window-by-window
adjoint sweep.

Windows. :class:`TimeWindows` holds the edges :math:`0 = τ_0 < τ_1 < … < τ_K` (:math:`τ_K`
finite or :math:`∞`); the velocity is :math:`\mathbf u_k` on :math:`[τ_k, τ_{k+1})`
(:class:`WindowedVelocity`). With :math:`L_k = L(\mathbf u_k)` and :math:`Δ_k = τ_{k+1} −
τ_k` the solution is the product of exponentials

.. math::

    θ(t) = e^{(t − τ_k)L_k}\,e^{Δ_{k-1}L_{k-1}} \cdots e^{Δ_0L_0}\,θ_0,\qquad
    τ_k ≤ t ≤ τ_{k+1},

continuous across the edges. An observation time on an edge :math:`τ_{k+1}` is the end of
window :math:`k` (:meth:`TimeWindows.segments`): each window propagates from its start state to
its observation times and, unless it holds the last one, to its end, which starts the next.

Tangent. A direction :math:`(δ\mathbf u_0, …, δ\mathbf u_{K-1})` gives, in window :math:`k`,
:math:`\dot ρ = L_kρ + J_kθ` with :math:`J_k = ∂L/∂\mathbf u[δ\mathbf u_k]` and the start
value :math:`ρ(τ_k)` carried from window :math:`k − 1`:
:math:`ρ(τ_k + s) = ∇_{J_k}e^{sL_k}θ(τ_k) + e^{sL_k}ρ(τ_k)`.

Adjoint (:func:`windowed_gradient`). The reverse sweep visits the windows from the last. The
cotangents of window :math:`k` are the objective's :math:`g_j = ∂Φ/∂θ(t_j)` at its
observation times plus, at its end, the adjoint state :math:`λ(τ_{k+1})` handed back by
window :math:`k + 1`; the window's adjoint method
(:meth:`~advdiff_sens.sensitivity.Adjoint.record`, then the recording's pullback) returns
:math:`∂Φ/∂\mathbf u_k` and the adjoint state at its start, :math:`λ(τ_k) = ∂Φ/∂θ(τ_k)`. So

.. math::

    \frac{∂Φ}{∂u_{k,a,i}} = \int_{τ_k}^{\min(τ_{k+1},\,t_q)} λ_i(s)\,(P_{k,a}θ(s))_i\,ds,
    \qquad λ(τ_k) = e^{Δ_kL_k^T}λ(τ_{k+1}) + \sum_{t_j ∈ (τ_k, τ_{k+1}]}
    e^{(t_j − τ_k)L_k^T}g_j,

one forward pass (recorded, for the discrete adjoint: its checkpointed tape per window) and
one backward pass over the whole horizon. The products add up over the windows to about those
of one window spanning the horizon, whatever K: a gradient with respect to every
:math:`\mathbf u_k` costs about what the steady gradient costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advdiff_sens.sensitivity.base import Adjoint, GradientProblem, GradientResult
from advdiff_sens.validation import as_real_array, as_times

__all__ = ["TimeWindows", "WindowedVelocity", "WindowSegment", "windowed_gradient"]


@dataclass(frozen=True)
class WindowSegment:
    """What one window propagates (:meth:`TimeWindows.segments`).

    Attributes
    ----------
    window : int
        The window index k.
    start : float
        :math:`τ_k`.
    times : ndarray
        Increasing local times :math:`t − τ_k`: the window's observation times, then (unless
        it holds the last observation) its end :math:`Δ_k` when that is not an observation.
    observed : slice
        The observation indices (into the global times) this window produces; they are the
        first ``observed.stop - observed.start`` entries of ``times``.
    carries : bool
        Whether the window's last local time is its end, which starts the next window.

    Examples
    --------
    >>> from advdiff_sens.sensitivity import TimeWindows
    >>> segment = TimeWindows([0.0, 1.0, 2.0]).segments([0.5, 1.5])[0]
    >>> segment.times.tolist(), segment.observed, segment.n_observed, segment.carries
    ([0.5, 1.0], slice(0, 1, None), 1, True)
    """

    window: int
    start: float
    times: np.ndarray
    observed: slice
    carries: bool

    @property
    def n_observed(self) -> int:
        return self.observed.stop - self.observed.start


class TimeWindows:
    r"""Edges :math:`0 = τ_0 < τ_1 < … < τ_K` of K time windows (module docstring).

    Parameters
    ----------
    edges : array_like, shape (K + 1,)
        Strictly increasing, ``edges[0] = 0``; the last may be ``np.inf`` (the last window
        is then open).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import TimeWindows
    >>> windows = TimeWindows([0.0, 0.5, np.inf])
    >>> windows.n_windows
    2
    >>> [(s.window, s.times.tolist(), s.carries) for s in windows.segments([0.25, 0.5, 1.0])]
    [(0, [0.25, 0.5], True), (1, [0.5], False)]
    >>> TimeWindows.uniform(4, 1.0).edges.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    def __init__(self, edges) -> None:
        edges = np.array(edges, dtype=float).ravel() if np.ndim(edges) <= 1 else None
        if edges is None or edges.size < 2:
            raise ValueError("edges must be a 1-D sequence of at least two times "
                             "(0 and the end of the first window)")
        if np.any(np.isnan(edges)) or np.any(np.isinf(edges[:-1])):
            raise ValueError("edges must be finite (only the last may be inf)")
        if edges[0] != 0.0:
            raise ValueError(f"edges must start at 0, got {edges[0]}")
        if np.any(np.diff(edges) <= 0):
            raise ValueError("edges must be strictly increasing")
        self._edges = edges
        self._edges.setflags(write=False)

    @classmethod
    def uniform(cls, n_windows: int, horizon: float) -> TimeWindows:
        """``n_windows`` windows of equal length on ``[0, horizon]``.

        Examples
        --------
        >>> from advdiff_sens.sensitivity import TimeWindows
        >>> TimeWindows.uniform(2, 3.0).edges.tolist()
        [0.0, 1.5, 3.0]
        """
        if not isinstance(n_windows, (int, np.integer)) or n_windows < 1:
            raise ValueError(f"n_windows must be an integer >= 1, got {n_windows!r}")
        if not np.isfinite(horizon) or horizon <= 0:
            raise ValueError(f"horizon must be finite and > 0, got {horizon!r}")
        return cls(np.linspace(0.0, float(horizon), int(n_windows) + 1))

    @property
    def edges(self) -> np.ndarray:
        """:math:`τ_0, …, τ_K` (read-only)."""
        return self._edges

    @property
    def n_windows(self) -> int:
        """K."""
        return self._edges.size - 1

    def __len__(self) -> int:
        return self.n_windows

    def __eq__(self, other) -> bool:
        return isinstance(other, TimeWindows) and np.array_equal(self.edges, other.edges)

    def __hash__(self) -> int:
        return hash(self._edges.tobytes())

    def __repr__(self) -> str:
        return f"TimeWindows({self._edges.tolist()})"

    def window_of(self, t: float) -> int:
        """The window of time ``t`` (an edge :math:`τ_{k+1}` belongs to window k; 0 to 0).

        Examples
        --------
        >>> from advdiff_sens.sensitivity import TimeWindows
        >>> windows = TimeWindows([0.0, 1.0, 2.0])
        >>> windows.window_of(0.0), windows.window_of(1.0), windows.window_of(1.5)
        (0, 0, 1)
        """
        if not 0.0 <= t <= self._edges[-1]:
            raise ValueError(f"time {t} is outside the windows [0, {self._edges[-1]}]")
        return max(int(np.searchsorted(self._edges, t, side="left")) - 1, 0)

    def segments(self, t) -> list[WindowSegment]:
        """The windows' propagations for observation times ``t`` (:class:`WindowSegment`),
        from window 0 to the window of the last time (later windows are not reached).

        Parameters
        ----------
        t : float or array_like
            Non-negative, strictly increasing times, at most the last edge.

        Returns
        -------
        list of WindowSegment

        Examples
        --------
        >>> from advdiff_sens.sensitivity import TimeWindows
        >>> segments = TimeWindows([0.0, 1.0, 2.0, 3.0]).segments([0.0, 1.5])
        >>> [(s.window, s.times.tolist(), s.observed) for s in segments]
        [(0, [0.0, 1.0], slice(0, 1, None)), (1, [0.5], slice(1, 2, None))]
        """
        times, _ = as_times(t, "t")
        last = self.window_of(float(times[-1]))
        owner = np.array([self.window_of(float(s)) for s in times])
        out = []
        for k in range(last + 1):
            start, end = self._edges[k], self._edges[k + 1]
            index = np.flatnonzero(owner == k)
            first = int(index[0]) if index.size else int(np.searchsorted(owner, k))
            observed = slice(first, first + index.size)
            local = times[observed] - start
            carries = k < last
            if carries and (local.size == 0 or local[-1] < end - start):
                local = np.append(local, end - start)
            out.append(WindowSegment(k, float(start), as_times(local, "local times")[0],
                                     observed, carries))
        return out


class WindowedVelocity:
    r"""A velocity constant on each of K time windows: ``values[k]`` on
    :math:`[τ_k, τ_{k+1})`. :class:`advdiff_sens.AdvectionDiffusion` takes it wherever it takes
    a velocity ``u`` in :meth:`~advdiff_sens.AdvectionDiffusion.solve`,
    :meth:`~advdiff_sens.AdvectionDiffusion.tangent` and
    :meth:`~advdiff_sens.AdvectionDiffusion.gradient` (module docstring).

    Parameters
    ----------
    windows : TimeWindows
    values : array_like, shape ``(K, ndim, *grid.shape)``
        Real nodal velocity of each window (the model checks the grid shape).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.sensitivity import TimeWindows, WindowedVelocity
    >>> u = WindowedVelocity(TimeWindows([0.0, 0.5, np.inf]), np.ones((2, 1, 16)))
    >>> u.n_windows, u.values.shape, u.window(1).shape
    (2, (2, 1, 16), (1, 16))
    """

    def __init__(self, windows: TimeWindows, values) -> None:
        if not isinstance(windows, TimeWindows):
            raise TypeError(f"windows must be a TimeWindows, got {type(windows).__name__}")
        values = as_real_array(values, "values")
        if values.ndim < 3 or values.shape[0] != windows.n_windows:
            raise ValueError(f"values must have shape ({windows.n_windows}, ndim, *grid.shape) "
                             f"(one velocity per window), got {values.shape}")
        self.windows = windows
        self.values = values

    @property
    def n_windows(self) -> int:
        return self.windows.n_windows

    def window(self, k: int) -> np.ndarray:
        """The velocity of window ``k``."""
        return self.values[k]

    def __repr__(self) -> str:
        return f"WindowedVelocity({self.windows!r}, values of shape {self.values.shape})"


def windowed_gradient(method: Adjoint, windows: TimeWindows,
                      window_problem: Callable[[int, np.ndarray, np.ndarray], GradientProblem],
                      theta0: np.ndarray, times: np.ndarray,
                      evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]]
                      ) -> GradientResult:
    r"""Gradient of :math:`Φ(θ(t_1), …, θ(t_q))` with respect to every window's parameters by
    one forward and one reverse sweep (module docstring).

    Parameters
    ----------
    method : Adjoint
        Used window by window (:meth:`~advdiff_sens.sensitivity.Adjoint.record`); the
        recording of window k is kept in slot k (``DiscreteAdjoint(reuse_tape=True)``).
    windows : TimeWindows
    window_problem : callable
        ``window_problem(k, start_state, local_times) -> GradientProblem`` of window ``k``
        (its ``evaluate`` is not used).
    theta0 : ndarray, shape (n,)
    times : ndarray, shape (q,)
        The observation times.
    evaluate : callable
        ``evaluate(states (q, n)) -> (value, grads (q, n))``, the objective.

    Returns
    -------
    GradientResult
        ``gradient`` of shape ``(K, p, n)`` (windows after the last observation: zeros),
        ``theta0_gradient`` :math:`λ(0)`, ``info`` the tuple of the windows' diagnostics
        (None for windows after the last observation).

    Examples
    --------
    The scalar problem :math:`L_k = −1 + p_k`, :math:`θ_0 = 1`, windows ``[0, 1, ∞)``,
    :math:`Φ = θ(2) = e^{−(1 − p_0)}e^{−(1 − p_1)}`: :math:`∂Φ/∂p_k = e^{−2}` for both.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator
    >>> from advdiff_sens.sensitivity import (DiscreteAdjoint, GradientProblem, TimeWindows,
    ...                                       windowed_gradient)
    >>> L, P = np.array([[-1.0]]), [np.array([[1.0]])]
    >>> def window_problem(k, x, local):
    ...     return GradientProblem(Propagator(L), lambda: Propagator(L.T), P, x, local, None,
    ...                            want_theta0=True)
    >>> result = windowed_gradient(DiscreteAdjoint(), TimeWindows([0.0, 1.0, np.inf]),
    ...                            window_problem, np.array([1.0]), np.array([2.0]),
    ...                            lambda states: (float(states[0, 0]), np.ones((1, 1))))
    >>> bool(np.allclose(result.gradient[:, 0, 0], np.exp(-2.0), rtol=1e-12))
    True
    >>> bool(np.isclose(result.theta0_gradient[0], np.exp(-2.0), rtol=1e-12))
    True
    """
    segments = windows.segments(times)
    x = theta0
    recordings, states = [], None
    for segment in segments:
        problem = window_problem(segment.window, x, segment.times)
        recording = method.record(problem, slot=segment.window)
        if states is None:
            states = np.empty((times.size, recording.states.shape[1]), recording.states.dtype)
        states[segment.observed] = recording.states[:segment.n_observed]
        x = recording.states[-1]
        recordings.append(recording)
    value, grads = evaluate(states)
    adjoint_state = None
    gradients, infos = [None] * len(segments), [None] * windows.n_windows
    for segment, recording in zip(reversed(segments), reversed(recordings)):
        cotangents = np.zeros(recording.states.shape)
        cotangents[:segment.n_observed] = grads[segment.observed]
        if segment.carries:
            cotangents[-1] += adjoint_state
        result = recording.pullback(cotangents)
        gradients[segment.window], infos[segment.window] = result.gradient, result.info
        adjoint_state = result.theta0_gradient
    total = np.zeros((windows.n_windows, *gradients[0].shape))
    total[:len(segments)] = gradients
    return GradientResult(value, total, tuple(infos), theta0_gradient=adjoint_state)
