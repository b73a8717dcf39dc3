r"""Reverse mode of :math:`b \mapsto e^{tA}b`: gradients with respect to every entry scale of
:math:`A` at the cost of about three forward propagations of products (plus contractions).

Setting
-------
:math:`A(p) = A + \sum_a \operatorname{diag}(p_a)P_a` for given matrices :math:`P_a` (for the
PDE, :math:`P_a = ∂L/∂u_a`, so :math:`p_a` is the nodal velocity component :math:`a`), and a
scalar :math:`Φ = \sum_j c_j^T x(t_j)`, :math:`x(t) = e^{tA}b`. Then

.. math::

    \frac{∂Φ}{∂p_{a,i}} = \sum_j \big(P_a ⊙ \bar A_j\big)\mathbf 1\big|_i,\qquad
    \bar A_j = \nabla^*_{(t_j)} (c_j b^T) = t_j\,L_{\exp}(t_jA^T, c_j b^T),

the adjoint of the Fréchet derivative (1.1): :math:`\langle W, L_{\exp}(A, E)\rangle =
\langle L_{\exp}(A^T, W), E\rangle`. This module never forms :math:`\bar A`.

Discrete adjoint of the Chebyshev propagator
--------------------------------------------
The forward solution is the stepped series of
:mod:`~advdiff_sens.matrix.expm.chebyshev`: per step, with :math:`M = 2(A - cI)/f`,
:math:`Y_0 = x`, :math:`Y_1 = \tfrac12 MY_0`, :math:`Y_{k+1} = Y_{k-1} + s_kMY_k`
(:math:`s_k = \pm1`), and every output of the step (its end, and observation times inside
it) is :math:`\sum_k C_{ok} Y_k`. Reverse-mode differentiation of this recurrence, with the
adjoint seeds :math:`S_k = \sum_o C_{ok}\bar o_o`, is the Clenshaw-type recurrence

.. math::

    Z_k = S_k + s_kM^TZ_{k+1} + Z_{k+2}\ (k \ge 1),\qquad
    Z_0 = S_0 + \tfrac12 M^TZ_1 + Z_2,

(:math:`Z_{m+1} = Z_{m+2} = 0`), :math:`Z_0` being the adjoint of the step's input, and
:math:`\bar A = \tfrac1f Z_1Y_0^T + \tfrac2f\sum_{k=1}^{m-1} s_kZ_{k+1}Y_k^T`, so

.. math::

    \frac{∂Φ}{∂p_{a}} \mathrel{+}= \big(P_a ⊙ G\big)\mathbf 1,\qquad
    G = \sum_{k=0}^{m-1} Z_{k+1}\,(w_kY_k)^T,
    \qquad w_0 = \tfrac1f,\ w_k = \tfrac{2s_k}{f},

:math:`G` sampled only on the pattern of the :math:`P_a` and accumulated over blocks of
terms (:mod:`~advdiff_sens.matrix.expm.pattern`: one vectorised pass per
well-filled diagonal of the pattern — for the 2-D PDE with central differences four
full-length ones, plus short ones or a small sparse remainder for the periodic
wrap-around — instead of a product with every :math:`P_a` per term).

The schedule is the tangent's: both take it from the backend's
:meth:`~advdiff_sens.matrix.expm.backends.Backend.tangent_plan` (the enclosure grown by
:math:`1/t`, tolerance ``tol/3``), so the polynomial whose derivative is differentiated here
is exactly the one the tangent's complex step differentiates: gradient · v equals the tangent to rounding, and both err from the exact
Fréchet derivative by at most the tangent's a priori bound. There is no quadrature and no
quadrature error.

Cost and memory (checkpointing)
-------------------------------
The recording forward pass stores the recurrence state :math:`(Y_k, Y_{k+1})` every
``stride`` terms of every step (the *checkpoints*). The reverse sweep walks the blocks of
``stride`` terms from the last backwards: it recomputes the block's weighted states
:math:`w_kY_k` from its checkpoint (``stride`` products with :math:`M`), runs the Clenshaw
recurrence through it (``stride`` products with :math:`M^T`) and adds the block to
:math:`G`. Two threads share the work about equally (independent work in GIL-free
kernels): the main one runs the recurrence of a block while the second recomputes that
block's states, then each adds half of the block's pattern. Total: the forward, one
recomputation and one adjoint pass — three times the products of the forward solve — plus
the contraction (for the 2-D PDE a fraction of a product per term). Memory: about
``2 × checkpoints + 4 × stride`` vectors (two adjoint blocks and two blocks of weighted
states) plus the pattern's coefficients and accumulators (:attr:`ExpmTape.work_nbytes`);
the default ``stride ≈ √terms`` nearly minimises it, to :math:`O(\sqrt{\text{terms}})`
vectors against one stored state per quadrature node for the quadrature adjoint. The cost
does not depend on the stride.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from advdiff_sens.exceptions import PlanUnavailable
from advdiff_sens.matrix.expm.backends import ChebyshevBackend
from advdiff_sens.matrix.expm.chebyshev import (
    chebyshev_terms,
    recurrence_sign,
    run_schedule,
    shifted_operator,
    step_plan,
)
from advdiff_sens.matrix.expm.pattern import PatternContraction
from advdiff_sens.matrix.expm.propagator import Propagator
from advdiff_sens.validation import as_array, as_times, check_integer

__all__ = ["ExpmTape", "record_expm_action", "expm_action_gradient"]


def _stride_for(degrees: list[int], checkpoints: int | None) -> int:
    """Terms per block. About ``sqrt(total terms)`` balances the stored states against the
    block buffers (least memory, the default); ``checkpoints`` caps the stored states (one
    per step at least), lengthening the blocks to the shortest that meets the cap. The cost
    does not depend on the stride."""
    stride = max(1, math.isqrt(sum(m + 1 for m in degrees)))

    def stored(r: int) -> int:
        return sum(-(-(m + 1) // r) for m in degrees)

    if checkpoints is None or stored(stride) <= checkpoints:
        return stride
    lo, hi = stride, max(degrees) + 1          # stored(hi) = number of steps
    while lo + 1 < hi:                          # invariant: stored(lo) > cap >= stored(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if stored(mid) <= max(checkpoints, len(degrees)) else (mid, hi)
    return hi


@dataclass
class _Step:
    """One step of the recorded schedule: outputs inside it, coefficient rows, degree."""

    first: int
    count: int
    coeffs: np.ndarray            # (rows, degree + 1), outputs then (unless last) the end
    degree: int


class ExpmTape:
    r"""The propagation :math:`x(t_j) = e^{t_jA}b` recorded for its reverse mode.

    Made by :func:`record_expm_action`. ``states`` holds :math:`x(t_j)`; :meth:`pullback`
    returns the gradients of :math:`Φ = \sum_j c_j^Tx(t_j)` for any cotangents :math:`c_j`
    (module docstring).

    Attributes
    ----------
    states : ndarray, shape (q, d)
    steps, degree, stride, checkpoints : int
        The schedule's steps and degree, the terms per checkpoint block and the number of
        stored recurrence states.
    work_nbytes : int
        Memory of the work arrays of the last :meth:`pullback` (0 before the first).

    Examples
    --------
    The gradient contracted with a direction ``v`` is the tangent
    :math:`c^T\nabla_{\operatorname{diag}(v)P}e^{tA}b`:

    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator, expm_frechet, record_expm_action
    >>> A = np.array([[-2.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, -2.0]])
    >>> P = np.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    >>> b = np.array([1.0, 0.0, 0.0])
    >>> tape = record_expm_action(Propagator(A, backend="chebyshev"), b, [0.5, 1.0])
    >>> tape.states.shape
    (2, 3)
    >>> c = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])     # Φ = x(1)[1]
    >>> b_bar, grads = tape.pullback(c, [P])
    >>> v = np.array([0.3, -0.2, 0.5])
    >>> exact = (expm_frechet(A, np.diag(v) @ P, 1.0) @ b)[1]
    >>> bool(abs(grads[0] @ v - exact) < 1e-12)
    True
    """

    def __init__(self, A, b: np.ndarray, times: np.ndarray, schedule, tol: float,
                 checkpoints: int | None) -> None:
        self._schedule = schedule
        self._steps: list[_Step] = []
        self._stored: dict[tuple[int, int], list] = {}
        self.work_nbytes = 0
        if schedule is None:                       # horizon 0: every state is b
            self.stride = 1
            self.states = np.broadcast_to(b, (times.size, b.size)).copy()
            return
        for first, count, coeffs in step_plan(times, schedule, tol):
            degree = max(c.size for c in coeffs) - 1
            C = np.zeros((len(coeffs), degree + 1))
            for row, c in zip(C, coeffs):
                row[:c.size] = c
            self._steps.append(_Step(first, count, C, degree))
        self.stride = _stride_for([s.degree for s in self._steps], checkpoints)
        self._op = shifted_operator(A, schedule, np.float64)    # reused by the pullback
        self.states = run_schedule(A, b[None, :], times, schedule, tol, self._record,
                                   self._op)[:, 0]

    def _record(self, i: int, k: int, y: np.ndarray) -> None:
        block = k - k % self.stride
        if k == block:
            self._stored[(i, k)] = [y[0].copy(), None]
        elif k == block + 1:
            self._stored[(i, block)][1] = y[0].copy()

    @property
    def steps(self) -> int:
        return len(self._steps)

    @property
    def degree(self) -> int:
        return max((s.degree for s in self._steps), default=0)

    @property
    def checkpoints(self) -> int:
        return len(self._stored)

    def nbytes(self) -> int:
        """Memory of the stored states, plus the work arrays of the last :meth:`pullback`
        (:attr:`work_nbytes`)."""
        d = self.states.shape[1]
        stored = sum(1 + (second is not None) for _, second in self._stored.values())
        return 8 * d * stored + self.work_nbytes

    def pullback(self, cotangents, partials=()) -> tuple[np.ndarray, np.ndarray]:
        r"""Gradients of :math:`Φ = \sum_j c_j^T x(t_j)` by the reverse sweep.

        Parameters
        ----------
        cotangents : array_like, shape (q, d)
            :math:`c_j = ∂Φ/∂x(t_j)`.
        partials : sequence of p matrices of shape (d, d)
            :math:`P_a`, dense or sparse.

        Returns
        -------
        b_bar : ndarray, shape (d,)
            :math:`∂Φ/∂b = \sum_j e^{t_jA^T}c_j` (of the same polynomial).
        grads : ndarray, shape (p, d)
            :math:`∂Φ/∂p_{a,i}` at :math:`p = 0` for :math:`A(p) = A + \sum_a
            \operatorname{diag}(p_a)P_a`.
        """
        q, d = self.states.shape
        cot = as_array(cotangents, "cotangents", shape=(q, d))
        if np.iscomplexobj(cot):
            raise TypeError("cotangents must be real (the tape records a real propagation)")
        contraction = PatternContraction(partials, d)
        if self._schedule is None:                 # horizon 0: every state is b
            self.work_nbytes = contraction.nbytes
            return cot.sum(axis=0), contraction.gradients()
        s = self._schedule
        op, op_t = self._op, self._op.transposed()
        weights = np.array([2.0 * recurrence_sign(k, s.imaginary) for k in range(self.degree + 1)])
        weights[0] = 1.0
        weights /= s.focal
        rows = min(self.stride, self.degree + 1)
        work = _Buffers((np.empty((rows + 2, d)), np.empty((rows + 2, d))),
                        (np.empty((rows, d)), np.empty((rows, d))), np.empty((1, d)))
        self.work_nbytes = (sum(a.nbytes for a in (*work.adjoint, *work.states, work.vector))
                            + contraction.nbytes)
        x_bar = np.zeros(d)
        with ThreadPoolExecutor(max_workers=1) as pool:
            for i in range(len(self._steps) - 1, -1, -1):
                step = self._steps[i]
                seeds = cot[step.first:step.first + step.count]
                if i < len(self._steps) - 1:
                    seeds = np.concatenate([seeds, x_bar[None]])
                x_bar = self._pullback_step(i, step, seeds, op, op_t, weights,
                                            None if contraction.empty else contraction, work, pool)
        return x_bar, contraction.gradients()

    def _weighted_states(self, i: int, k0: int, k1: int, op, weights, out) -> None:
        """``out[k - k0] = w_k Y_k`` for ``k0 <= k < min(k1, m)`` of step ``i``, the basis
        recomputed from the block's checkpoint (all the sweep needs of Y)."""
        first, second = self._stored[(i, k0)]
        m = self._steps[i].degree
        for k, y in chebyshev_terms(op, k1 - 1, self._schedule.imaginary, first[None],
                           None if second is None else second[None], start=k0):
            if k < m:
                np.multiply(y[0], weights[k], out=out[k - k0])

    def _pullback_step(self, i, step, seeds, op, op_t, weights, contraction, work, pool):
        """Reverse sweep through step ``i``; returns the adjoint of its input.

        Blocks are processed from the last. While the main thread runs the backward
        recurrence of block ``b`` (into one of two adjoint buffers), a second thread
        contracts its half of block ``b - 1`` and recomputes the weighted states
        :math:`w_kY_k` of block ``b`` (into one of two state buffers); then each thread
        contracts half of block ``b``'s pattern. The two threads get about equal work, in
        GIL-free kernels. Without a ``contraction`` (only the adjoint of the input wanted)
        no state is recomputed.
        """
        m, imaginary = step.degree, self._schedule.imaginary
        spans = [(k0, min(k0 + self.stride, m + 1))
                 for k0 in range(m - m % self.stride, -1, -self.stride)]
        after = (np.zeros(seeds.shape[1]), np.zeros(seeds.shape[1]))    # (Z_{k1}, Z_{k1+1})

        def contract(b: int, share: tuple[int, int]) -> None:   # pairs (Z_{k+1}, w_kY_k), k < m
            k0, k1 = spans[b]
            n_terms = min(k1, m) - k0
            contraction.add(work.adjoint[b % 2][1:n_terms + 1], work.states[b % 2][:n_terms],
                            share)

        def second_thread(b: int) -> None:
            if b > 0:
                contract(b - 1, (1, 2))
            if b < len(spans):
                self._weighted_states(i, *spans[b], op, weights, work.states[b % 2])

        pending = None if contraction is None else pool.submit(second_thread, 0)
        for b, (k0, k1) in enumerate(spans):
            Z, n = work.adjoint[b % 2], k1 - k0
            if seeds.shape[0] == 1:                               # seeds S_k
                np.multiply(step.coeffs[0, k0:k1, None], seeds, out=Z[:n])
            else:
                np.matmul(step.coeffs[:, k0:k1].T, seeds, out=Z[:n])
            Z[n], Z[n + 1] = after
            for k in range(k1 - 1, k0 - 1, -1):
                if k == m:
                    continue                       # Z_m = S_m
                z, z_next = Z[k - k0:k - k0 + 1], Z[k - k0 + 1:k - k0 + 2]
                if k == 0:
                    work.vector[...] = 0.0
                    op_t.matvec_add(1, z_next, work.vector)
                    work.vector *= 0.5
                    z += work.vector
                else:
                    op_t.matvec_add(recurrence_sign(k, imaginary), z_next, z)
                z += Z[k - k0 + 2]
            after = (Z[0].copy(), Z[1].copy())
            if pending is not None:
                pending.result()                   # block b's states, block b - 1 contracted
                pending = pool.submit(second_thread, b + 1)
                contract(b, (0, 2))
        if pending is not None:
            pending.result()
        return after[0]


@dataclass
class _Buffers:
    """Work arrays of the reverse sweep, allocated once per pullback."""

    adjoint: tuple                    # two (block + 2, d) arrays: Z_{k0} .. Z_{k1+1}
    states: tuple                     # two (block, d) arrays: w_k Y_k
    vector: np.ndarray                # (1, d)


def record_expm_action(propagator: Propagator, b, t, *, checkpoints: int | None = None
                       ) -> ExpmTape:
    r"""Propagate :math:`e^{t_jA}b` with the Chebyshev backend and record it for
    :meth:`ExpmTape.pullback`.

    Parameters
    ----------
    propagator : Propagator
        Holds :math:`A` (real), its backend and tolerance.
    b : array_like, shape (d,)
        Real initial vector.
    t : float or array_like of shape (q,)
        Non-negative, strictly increasing times.
    checkpoints : int, optional
        Largest number of stored recurrence states (each two vectors); one per step of the
        schedule at least (smaller values are raised to that). Default: about
        :math:`\sqrt{\text{terms}}`, which nearly minimises the memory.

    Returns
    -------
    ExpmTape
        The recorded propagation. With :class:`~advdiff_sens.matrix.AutoBackend` the tape
        is recorded whenever a tangent plan exists, even where :meth:`Propagator.apply`
        would prefer ``expm_multiply`` for a plain solve.

    Raises
    ------
    PlanUnavailable
        When no Chebyshev schedule can be recorded, with the reason: the ``"scipy"``
        backend, complex ``A`` or ``b``, a horizon so short (below ~1e-154) that the
        derivative enclosure overflows, or an a priori bound that cannot certify the
        tolerance (the caller then needs another adjoint, e.g. the
        quadrature of :class:`advdiff_sens.sensitivity.QuadratureAdjoint`).
    WorkLimitExceeded
        When the recording would pass the propagator's ``max_products``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.matrix import Propagator, record_expm_action
    >>> A = np.array([[-2.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, -2.0]])
    >>> b = np.array([1.0, 0.0, 0.0])
    >>> tape = record_expm_action(Propagator(A, backend="chebyshev"), b, 1.0)
    >>> bool(np.allclose(tape.states[0], Propagator(A).apply(b, 1.0), rtol=0, atol=1e-12))
    True
    >>> record_expm_action(Propagator(A, backend="scipy"), b, 1.0)
    Traceback (most recent call last):
    ...
    advdiff_sens.exceptions.PlanUnavailable: the 'scipy' backend (ExpmMultiplyBackend) has no Chebyshev schedule to record or differentiate
    """
    if not isinstance(propagator, Propagator):
        raise TypeError(f"propagator must be a Propagator, got {type(propagator).__name__}")
    A = propagator.A
    d = A.shape[0]
    b = as_array(b, "b", shape=(d,))
    times, _ = as_times(t, "t")
    if checkpoints is not None:
        checkpoints = check_integer(checkpoints, "checkpoints", minimum=1)
    if np.iscomplexobj(A) or np.iscomplexobj(b):
        raise PlanUnavailable("the reverse sweep records real propagations; A or b is complex")
    b = b.astype(float)
    if times[-1] == 0.0:
        return ExpmTape(A, b, times, None, propagator.tol, checkpoints)
    plan = propagator.tangent_plan(float(times[-1]))      # the tangent's (module docstring)
    if plan.schedule.focal == 0.0:      # a degenerate ellipse: no recurrence to record
        raise PlanUnavailable("the tangent plan's Chebyshev ellipse degenerates to a point")
    propagator.check_work(plan.schedule.cost, f"the adjoint's recording to t = {times[-1]:g}")
    return ExpmTape(A, b, times, plan.schedule, plan.tol, checkpoints)


def expm_action_gradient(A, partials, b, t, cotangents, *, tol: float = 1e-12,
                         checkpoints: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient of :math:`Φ(p) = \sum_j c_j^T e^{t_jA(p)}b` at :math:`p = 0`,
    :math:`A(p) = A + \sum_a \operatorname{diag}(p_a)P_a` (module docstring).

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d), real
    partials : sequence of p matrices of shape (d, d)
    b : array_like, shape (d,), real
    t : float or array_like of shape (q,)
    cotangents : array_like, shape (d,) for scalar ``t``, else (q, d)
    tol, checkpoints
        See :class:`~advdiff_sens.matrix.expm.propagator.Propagator` and
        :func:`record_expm_action`.

    Returns
    -------
    b_bar : ndarray, shape (d,)
        :math:`∂Φ/∂b`.
    grads : ndarray, shape (p, d)
        :math:`∂Φ/∂p_{a,i}`; for a single ``P`` and :math:`p = v`,
        :math:`\langle \text{grads}[0], v\rangle = \sum_j c_j^T\nabla_{\operatorname{diag}(v)P}
        e^{t_jA}b`.

    Raises
    ------
    PlanUnavailable
        If no Chebyshev schedule certifies ``tol`` for this operator, or ``A`` or ``b`` is
        complex (a ``ValueError``; use :func:`~advdiff_sens.matrix.expm_frechet` on small
        dense problems instead).

    Examples
    --------
    :math:`Φ(p) = e^{t(-1 + p)}` at :math:`t = 2`: :math:`∂Φ/∂b = e^{-2}`,
    :math:`∂Φ/∂p = 2e^{-2}`.

    >>> import numpy as np
    >>> from advdiff_sens.matrix import expm_action_gradient
    >>> b_bar, grads = expm_action_gradient(np.array([[-1.0]]), [np.array([[1.0]])],
    ...                                     np.array([1.0]), 2.0, np.array([1.0]))
    >>> grads.shape
    (1, 1)
    >>> bool(abs(b_bar[0] - np.exp(-2.0)) < 1e-12 and abs(grads[0, 0] - 2 * np.exp(-2.0)) < 1e-12)
    True
    """
    propagator = Propagator(A, backend=ChebyshevBackend(tol=tol))
    tape = record_expm_action(propagator, b, t, checkpoints=checkpoints)
    if np.ndim(t) == 0:
        cotangents = as_array(cotangents, "cotangents", shape=(A.shape[0],))[None]
    return tape.pullback(cotangents, partials)
