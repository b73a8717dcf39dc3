r"""Chebyshev series of the exponential on an ellipse enclosing the field of values.

Algorithm
---------
1. **Enclosure** (:func:`field_of_values_enclosure`). For every angle :math:`\varphi`,
   :math:`\mathrm{Re}(e^{-i\varphi}z) \le \lambda_{\max}(H_\varphi)` on the field of values
   :math:`W(A) = \{x^*Ax : \|x\| = 1\}`, where
   :math:`H_\varphi = (e^{-i\varphi}A + e^{i\varphi}A^*)/2` is Hermitian. Gershgorin's
   theorem bounds :math:`\lambda_{\max}(H_\varphi)` from the rows of :math:`A` in
   :math:`O(\mathrm{nnz})` operations, so a few dozen angles give a convex polygon
   :math:`P \supset W(A)`. For a discretised advection–diffusion generator :math:`P` is a
   thin lens: real extent :math:`\approx[-4d\kappa/h^2, 0]`, imaginary half-height
   :math:`\approx|u|/h` in the middle but only :math:`O(\sqrt{|z|})` near the origin —
   much smaller than the bounding box, which matters because :math:`e^{tz}` is
   :math:`O(1)` only there.
2. **Series.** For an ellipse :math:`E \supset P` with centre :math:`c`, semi-axes
   :math:`a` (real) and :math:`b` (imaginary), and foci :math:`c \pm f`,
   :math:`f = \sqrt{a^2 - b^2}` (Bessel generating function),

   .. math::

       e^{\tau z} = e^{\tau c}\Big[I_0(\tau f) + 2\sum_{k\ge1} I_k(\tau f)\,T_k(X)\Big],
       \qquad X = (z - c)/f;

   when :math:`b > a` (advection-dominated generators) the foci are :math:`c \pm if`,
   :math:`f = \sqrt{b^2 - a^2}`, and (Jacobi–Anger)

   .. math::

       e^{\tau z} = e^{\tau c}\Big[J_0(\tau f) + 2\sum_{k\ge1} J_k(\tau f)\,V_k(X)\Big],
       \qquad V_{k+1} = 2XV_k + V_{k-1},\ V_0 = 1,\ V_1 = X,

   with :math:`V_k(X) = i^{-k}T_k(iX)`. Both recurrences are real for real :math:`A`.
   On :math:`E` (Bernstein parameter :math:`R = (a + b)/f`), :math:`|T_k|, |V_k| \le R^k`.
3. **A priori schedule** (:func:`select_schedule`, once per operator and time). The time
   :math:`t` is split into :math:`s` equal steps :math:`\tau = t/s`, each applying the
   degree-:math:`m` truncation :math:`p` with coefficients :math:`a_k`. By the
   Crouzeix–Palencia theorem, :math:`\|g(A)\| \le (1+\sqrt2)\max_{W(A)}|g|`, and the maximum
   principle on :math:`E`, one step errs, relative to :math:`e^{\tau\beta_-}\|b\|`
   (:math:`\beta = \max\mathrm{Re}\,W(A)`, :math:`\beta_- = \min(\beta, 0)`), by at most

   .. math::

       \varepsilon_{\mathrm{step}}(m) = (1+\sqrt2)\Big[\sum_{k>m}|a_k|R^k
       + u\,\sqrt{m+1}\sum_{k\le m}|a_k|R^k\Big]e^{-\tau\beta_-},

   the second term modelling rounding (:math:`u` the unit round-off; the sum is the
   cancellation factor :math:`\approx \max_E|e^{\tau z}|`, which also forces short steps
   when :math:`W(A)` reaches into the right half-plane, as for strongly non-normal
   upwind generators). Telescoping :math:`p(\tau A)^s - e^{tA}` gives a total error
   :math:`\le s\,\Gamma^2\varepsilon_{\mathrm{step}}\, e^{t\beta_-}\|b\|` with
   :math:`\Gamma = \sup_{j \le s}\max(\|p(\tau A)^j\|, \|e^{j\tau A}\|)\,e^{-j\tau\beta_-}`;
   for :math:`\beta \le 0`, :math:`\Gamma \le 1+\sqrt2` (Crouzeix) and the bound is
   rigorous, otherwise :math:`\Gamma` is the growth of the semigroup (1 in the maximum
   norm for a rate matrix). Over a
   one-parameter family of ellipses containing :math:`P` and over step counts :math:`s`,
   the schedule minimises the **cost** :math:`s\,m` (matrix–vector products) subject to
   :math:`(1+\sqrt2)\,s\,\varepsilon_{\mathrm{step}} \le \mathrm{tol}`. No norm is evaluated
   while the series runs.
4. **Evaluation** (:func:`run_schedule`). One product with the shifted, scaled
   matrix :math:`M = 2(A - cI)/f` per term, accumulated in place into the vector two terms
   back (``y += M x``), plus one scaled addition per requested output time. For real foci the
   sign alternation :math:`\sigma_k = (-1)^{\lfloor k/2 \rfloor}` turns
   :math:`T_{k+1} = 2XT_k - T_{k-1}` into :math:`\sigma_{k+1}T_{k+1} = \pm M(\sigma_k T_k)
   + \sigma_{k-1}T_{k-1}` (``M`` and ``-M`` share the index arrays), so no vector is
   negated or copied. Output times inside one step share its basis vectors (dense output):
   only the coefficients change.

Cost model: :math:`s\,m` sparse products (``nnz`` multiply–adds each), two vector passes
per term and output time, :math:`O(n_\varphi\,\mathrm{nnz})` for the enclosure and a
scalar search (independent of ``nnz``, cached per enclosure, time and tol) for the schedule; memory:
three work vectors plus the outputs. The degree grows like
:math:`\sqrt{w t\log(1/\mathrm{tol})} + h_0 t` (:math:`w` the real half-width of
:math:`P`, :math:`h_0` its height near the right end) instead of the :math:`\|tA\|_1` of a
Taylor series.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.special import ive, jv

from advdiff_sens.matrix.expm.kernels import PRODUCTS, active_kernel, csr_matvec_add

__all__ = [
    "Enclosure",
    "Schedule",
    "chebyshev_action",
    "ShiftedOperator",
    "chebyshev_terms",
    "recurrence_sign",
    "ToleranceUnreachable",
    "field_of_values_enclosure",
    "run_schedule",
    "select_schedule",
    "shifted_operator",
    "step_plan",
]

_UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
_CROUZEIX = 1.0 + np.sqrt(2.0)
_N_HALF_ANGLES = 12
_COARSE_RATIOS = np.geomspace(1.0 + 1e-3, 30.0, 12)
_COARSE_STEP = _COARSE_RATIOS[1] / _COARSE_RATIOS[0]
_MAX_LOG_R = np.log(1e3)
_MAX_STEPS = 1_000_000
#: Largest :math:`m\log R` a schedule may have: the basis vectors :math:`Y_k = \sigma_kT_k(X)x`
#: grow up to :math:`\|Y_k\| \le (1+\sqrt2)R^k\|x\|` (Crouzeix), so with rows of ``x``
#: scaled to unit size every intermediate stays below :math:`e^{600}\sqrt d \approx 10^{261}\sqrt d`,
#: far inside the double range (:math:`e^{709}`).
MAX_LOG_GROWTH = 600.0


class ToleranceUnreachable(ValueError):
    """The a priori bound cannot certify the requested tolerance."""


@dataclass(frozen=True)
class Enclosure:
    r"""Convex polygon :math:`\{z : \mathrm{Re}(e^{-i\varphi_j}z) \le \eta_j\ \forall j\}
    \supset W(A)`, stored as its angles :math:`\varphi_j` (increasing, covering the
    circle) and support values :math:`\eta_j`."""

    angles: tuple[float, ...]
    support: tuple[float, ...]

    @property
    def beta(self) -> float:
        r""":math:`\max\mathrm{Re}` of the polygon (support at :math:`\varphi = 0`)."""
        return float(self.vertices().real.max())

    def enlarged(self, r: float) -> Enclosure:
        """Polygon containing :math:`W(A) + \\{|z| \\le r\\}` (support values + ``r``)."""
        return Enclosure(self.angles, tuple(s + r for s in self.support))

    def vertices(self) -> np.ndarray:
        """Intersections of consecutive supporting lines, as complex numbers."""
        phi = np.asarray(self.angles)
        eta = np.asarray(self.support)
        phi2, eta2 = np.roll(phi, -1), np.roll(eta, -1)
        det = np.sin(phi2 - phi)
        x = (eta * np.sin(phi2) - eta2 * np.sin(phi)) / det
        y = (eta2 * np.cos(phi) - eta * np.cos(phi2)) / det
        return x + 1j * y


@dataclass(frozen=True)
class Schedule:
    r"""Ellipse (in units of :math:`A`), number of steps and degree per step.

    ``imaginary`` selects foci :math:`c \pm if` (Bessel :math:`J`) instead of
    :math:`c \pm f` (Bessel :math:`I`); ``log_r`` is :math:`\log R`; ``beta`` is
    :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))`, the scale of the relative error;
    ``cost = steps * degree``.
    """

    center: complex
    focal: float
    imaginary: bool
    log_r: float
    beta: float
    steps: int
    degree: int

    @property
    def cost(self) -> int:
        return self.steps * self.degree


def _half_angles() -> np.ndarray:
    """Angles in [0, pi], clustered at both ends (the tips of a long thin enclosure)."""
    u = np.arange(_N_HALF_ANGLES + 1) / _N_HALF_ANGLES
    return 0.5 * np.pi * (1.0 - np.cos(np.pi * u))


def _offdiagonal_parts(A) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Row of each stored off-diagonal entry, :math:`H_{ij}`, :math:`K_{ij}` on a common
    pattern, and :math:`\mathrm{diag}(A)`.

    For real sparse :math:`A` one sparse sum
    :math:`Z = \tfrac{1+i}{2}A + \tfrac{1-i}{2}A^T = H + iS` carries both parts
    (:math:`K = -iS`); complex input aligns :math:`A` and :math:`A^*` through one
    coordinate list.
    """
    if sp.issparse(A):
        A = sp.csr_array(A)
        if np.iscomplexobj(A.data):
            coo = A.tocoo()
            rows = np.concatenate([coo.row, coo.col])
            cols = np.concatenate([coo.col, coo.row])
            zeros = np.zeros(coo.nnz, dtype=coo.dtype)
            first = sp.csr_array((np.concatenate([coo.data, zeros]), (rows, cols)),
                                 shape=A.shape)
            second = sp.csr_array((np.concatenate([zeros, np.conj(coo.data)]), (rows, cols)),
                                  shape=A.shape)
            first.sum_duplicates()
            second.sum_duplicates()
            a_ij, a_ji, pattern = first.data, second.data, first
        else:
            pattern = sp.csr_array((0.5 + 0.5j) * A + (0.5 - 0.5j) * A.T.tocsr())
            z = pattern.data
            a_ij, a_ji = z.real + z.imag, z.real - z.imag
        row = np.repeat(np.arange(A.shape[0]), np.diff(pattern.indptr))
        off = row != pattern.indices
        a_ij, a_ji, row = a_ij[off], a_ji[off], row[off]
        diag = A.diagonal()
    else:
        row, col = np.nonzero(~np.eye(A.shape[0], dtype=bool))
        a_ij, a_ji, diag = A[row, col], np.conj(A[col, row]), np.diag(A)
    return row, 0.5 * (a_ij + a_ji), -0.5j * (a_ij - a_ji), diag


def field_of_values_enclosure(A) -> Enclosure:
    r"""Gershgorin polygon enclosing the field of values :math:`W(A)`.

    With :math:`H = (A + A^*)/2` and :math:`K = (A - A^*)/(2i)` (both Hermitian),
    :math:`H_\varphi = \cos\varphi\,H + \sin\varphi\,K` and

    .. math::

        \eta(\varphi) = \max_i\Big(\cos\varphi\,\mathrm{Re}\,a_{ii}
        + \sin\varphi\,\mathrm{Im}\,a_{ii}
        + \sum_{j\ne i}|\cos\varphi\,H_{ij} + \sin\varphi\,K_{ij}|\Big)
        \ \ge\ \lambda_{\max}(H_\varphi).

    Angles cluster at :math:`0` and :math:`\pi`; for real :math:`A`, :math:`W(A)` is
    symmetric about the real axis and only :math:`[0, \pi]` is computed.
    Cost :math:`O(n_\varphi\,\mathrm{nnz}(A))`.
    """
    rows, h, k, diag = _offdiagonal_parts(A)
    real = not np.iscomplexobj(diag) and not (np.iscomplexobj(h) and np.any(h.imag))
    upper = _half_angles()
    phis = upper if real else np.concatenate([upper, -upper[-2:0:-1]])
    if real:  # H real, K imaginary: |c H + s K| = sqrt(c^2 H^2 + s^2 |K|^2)
        h2, k2 = np.real(h) ** 2, np.abs(k) ** 2
    support = []
    for phi in phis:
        c, s = np.cos(phi), np.sin(phi)
        mags = np.sqrt(c * c * h2 + s * s * k2) if real else np.abs(c * h + s * k)
        radius = np.bincount(rows, weights=mags, minlength=diag.size)
        support.append(float(np.max(c * diag.real + s * np.imag(diag) + radius)))
    if real:
        phis = np.concatenate([phis, -phis[-2:0:-1]])
        support = support + support[-2:0:-1]
    phis = np.mod(phis, 2 * np.pi)
    order = np.argsort(phis)
    return Enclosure(tuple(phis[order]), tuple(np.asarray(support)[order]))


def _ellipses(enclosure: Enclosure, ratios: np.ndarray = _COARSE_RATIOS
              ) -> tuple[complex, np.ndarray, np.ndarray, np.ndarray]:
    r"""Centre, semi-axes ``(a_i, b_i)`` and ratios ``b_i/h`` of ellipses containing the
    polygon.

    The centre is the midpoint of its bounding box; for each :math:`b` = ``ratios`` times
    the polygon's half-height, :math:`a` is the least value with every vertex
    :math:`(x, y)` (relative to the centre) satisfying :math:`(x/a)^2 + (y/b)^2 \le 1`.
    A polygon more than twice as wide as tall keeps only ellipses with :math:`b < a`
    (real foci; :math:`J_k` of large argument is costly to evaluate).
    """
    v = enclosure.vertices()
    mid_imag = 0.5 * (v.imag.min() + v.imag.max())
    # symmetric polygon (real A; a zero-height one for symmetric A): real centre
    if abs(mid_imag) <= 1e-12 * max(np.ptp(v.imag), np.abs(v).max()):
        mid_imag = 0.0
    center = complex(0.5 * (v.real.min() + v.real.max()), mid_imag)
    x, y = np.abs(v.real - center.real), np.abs(v.imag - center.imag)
    if y.max() == 0.0 or x.max() == 0.0:
        return center, np.array([x.max()]), np.array([y.max()]), np.array([1.0])
    b = y.max() * ratios
    a = np.max(x[None, :] / np.sqrt(1.0 - (y[None, :] / b[:, None]) ** 2), axis=1)
    if x.max() >= 2.0 * y.max():  # wide polygon: only ellipses with real foci (cheap Bessel I)
        keep = b < a
        a, b, ratios = a[keep], b[keep], ratios[keep]
    return center, a, b, ratios


def _log_bessel_i(k: np.ndarray, x: float) -> np.ndarray:
    r""":math:`\log I_k(x)`: exact (``ive``) for :math:`k < 50`, above that the uniform
    (Debye) asymptotic :math:`\sqrt{k^2+x^2} + k\log\frac{x}{k+\sqrt{k^2+x^2}}
    - \tfrac12\log(2\pi\sqrt{k^2+x^2})`, whose relative error there is below 0.2%
    (raised by 1% to stay an upper bound); it never underflows and costs a few ``log``."""
    small, large = k[k < 50], k[k >= 50]
    root = np.sqrt(large * large + x * x)
    with np.errstate(divide="ignore"):
        exact = np.log(ive(small, x)) + x
    debye = root + large * np.log(x / (large + root)) - 0.5 * np.log(2 * np.pi * root)
    return np.concatenate([exact, debye + np.log(1.01)])


def _log_bessel_j_bound(k: np.ndarray, x: float) -> np.ndarray:
    r"""Upper bound on :math:`\log|J_k(x)|`: exact for :math:`k < 30`; above, Landau's
    :math:`|J_k(x)| \le \min(1,\ 0.6749\,k^{-1/3},\ 0.7858\,x^{-1/3})` and, past the
    turning point :math:`k > x`, the leading Debye term
    :math:`e^{-k(\alpha - \tanh\alpha)}/\sqrt{2\pi k\tanh\alpha}`,
    :math:`\cosh\alpha = k/x` (which the next term only lowers), raised by 10%."""
    small, large = k[k < 30], k[k >= 30]
    with np.errstate(divide="ignore"):
        exact = np.log(np.abs(jv(small, x)))
        landau = np.minimum(0.0, np.log(np.minimum(0.6749 * large ** (-1 / 3),
                                                   0.7858 * x ** (-1 / 3))))
        alpha = np.arccosh(np.maximum(large / x, 1.0))
        debye = (-large * (alpha - np.tanh(alpha))
                 - 0.5 * np.log(2 * np.pi * large * np.tanh(alpha)) + np.log(1.1))
    return np.concatenate([exact, np.where(large > x, np.minimum(landau, debye), landau)])


def _log_term_bounds(n_terms: int, focal: float, log_r: float, shift: float,
                     imaginary: bool) -> np.ndarray:
    r""":math:`\log(|a_k| R^k e^{-\tau\beta_-})` for ``k = 0..n_terms`` (scaled units)."""
    k = np.arange(n_terms + 1, dtype=float)
    log_values = _log_bessel_j_bound(k, focal) if imaginary else _log_bessel_i(k, focal)
    return np.log(np.where(k == 0, 1.0, 2.0)) + log_values + k * log_r + shift


def _step_errors(a_t: float, b_t: float, shift: float, max_terms: int):
    r"""Error bound :math:`\varepsilon_{\mathrm{step}}(m)`, ``m = 0..K``, for the ellipse with
    scaled semi-axes ``a_t, b_t``; ``shift`` is :math:`\tau(\mathrm{Re}\,c - \beta_-)`.

    Returns ``(errors, log_r, imaginary, focal_t)`` or None when the ellipse is unusable
    (a circle, too eccentric a Bernstein parameter, or no convergence within ``max_terms``).
    """
    imaginary = b_t > a_t
    focal = float(np.sqrt(abs(a_t * a_t - b_t * b_t)))
    if focal == 0.0:
        if a_t == 0.0:  # the enclosure is a point: A = cI
            return np.array([0.0]), 0.0, False, 0.0
        return None
    log_r = float(np.log((a_t + b_t) / focal))
    if log_r > _MAX_LOG_R:
        return None
    # the basis vectors grow like R^k (module docstring, step 4): keep them in range
    max_terms = min(max_terms, int(MAX_LOG_GROWTH / log_r) if log_r > 0 else max_terms)
    # Bessel I terms peak near k = b and then fall like exp(-(k - b)^2 / (2a)); Bessel J
    # terms grow up to k ~ f before they fall, so only the long count is safe for them
    long = int(np.ceil(a_t + b_t + 10.0 * np.sqrt(a_t + b_t) + 40.0))
    short = long if imaginary else int(np.ceil(b_t + np.sqrt(300.0 * a_t) + 40.0))
    for n_terms in sorted({min(short, long), long}):
        if n_terms > max_terms:
            return None
        log_terms = _log_term_bounds(n_terms, focal, log_r, shift, imaginary)
        top = log_terms.max()
        if top >= 575.0:
            return None  # cancellation beyond 1e250: hopeless
        if log_terms[-1] <= top - 70.0:
            break  # past the peak and 1e-30 below it
    else:
        return None  # the series has not converged within n_terms
    terms = np.exp(log_terms)
    k = np.arange(terms.size)
    tail = np.concatenate([np.cumsum(terms[::-1])[::-1][1:], [0.0]])
    rounding = _UNIT_ROUNDOFF * np.sqrt(k + 1) * np.cumsum(terms)
    return _CROUZEIX * (tail + rounding), log_r, imaginary, focal


def _best_for_steps(enclosure: Enclosure, t: float, steps: int, tol: float, max_terms: int,
                    ratios: np.ndarray = _COARSE_RATIOS):
    """Cheapest ``(degree, focal, log_r, imaginary, ratio)`` meeting ``tol`` with ``steps``
    steps over the ellipses ``_ellipses(enclosure, ratios)``, or None."""
    tau = t / steps
    center, a, b, ratios = _ellipses(enclosure, ratios)
    shift = tau * (center.real - min(enclosure.beta, 0.0))
    budget = tol / (_CROUZEIX * steps)
    best = None
    for a_i, b_i, ratio in zip(a, b, ratios):
        found = _step_errors(tau * a_i, tau * b_i, shift, max_terms)
        if found is None:
            continue
        errors, log_r, imaginary, focal_t = found
        ok = np.flatnonzero(errors <= budget)
        if ok.size and (best is None or ok[0] < best[0]):
            best = (int(ok[0]), focal_t / tau, log_r, imaginary, float(ratio))
    return best


@lru_cache(maxsize=256)
def select_schedule(enclosure: Enclosure, t: float, tol: float,
                    max_terms: int = 50_000) -> Schedule:
    r"""Choose ellipse, step count :math:`s` and degree :math:`m` minimising :math:`s\,m`.

    Parameters
    ----------
    enclosure : Enclosure
        Polygon containing :math:`W(A)` (:func:`field_of_values_enclosure`).
    t : float
        Time horizon, ``t > 0``.
    tol : float
        Bound on :math:`\|p(\tau A)^s b - e^{tA}b\| / (e^{t\beta_-}\|b\|)`,
        :math:`\beta_- = \min(0, \max\mathrm{Re}\,W(A))` (module docstring).
    max_terms : int
        Largest degree considered per step.

    Notes
    -----
    Step counts are tried on a geometric grid between 1 and :math:`t(w + h) + 1` (beyond
    which every step is a low-degree series), then linearly around the best; each is scored
    by the cheapest of 12 ellipses of :func:`_ellipses` that meets the per-step budget
    :math:`\mathrm{tol}/((1+\sqrt2)s)`; the ellipse is then refined on a finer grid
    around the best one for the three cheapest :math:`s`.

    Raises
    ------
    ToleranceUnreachable
        If no step count certifies ``tol`` (tol near round-off, or very long times where
        the rounding term grows with the number of steps).
    """
    v = enclosure.vertices()
    extent = 0.5 * (np.ptp(v.real) + np.ptp(v.imag))
    upper = int(min(_MAX_STEPS, np.ceil(t * extent) + 1))
    grid = np.unique(np.geomspace(1, upper, num=min(upper, 16)).round().astype(int))
    scored: dict[int, tuple | None] = {}

    def cost(s: int) -> float:
        if s not in scored:
            scored[s] = _best_for_steps(enclosure, t, s, tol, max_terms)
        return np.inf if scored[s] is None else s * max(scored[s][0], 1)

    costs = [cost(int(s)) for s in grid]
    if not np.isfinite(min(costs)):
        raise ToleranceUnreachable(f"tol={tol:g} cannot be certified for this operator and "
                                   f"time t={t:g} by the a priori bound")
    i_best = int(np.argmin(costs))
    lo, hi = int(grid[max(i_best - 1, 0)]), int(grid[min(i_best + 1, grid.size - 1)])
    for s in np.unique(np.linspace(lo, hi, num=min(hi - lo + 1, 8)).round().astype(int)):
        cost(int(s))
    candidates = sorted((s for s in scored if scored[s] is not None), key=cost)[:3]
    for s in candidates:  # refine the ellipse around the best coarse one
        ratio = scored[s][4]
        fine = np.geomspace(max(ratio / _COARSE_STEP, 1.0 + 1e-3), ratio * _COARSE_STEP, 9)
        refined = _best_for_steps(enclosure, t, s, tol, max_terms, fine)
        if refined is not None and refined[0] < scored[s][0]:
            scored[s] = refined
    steps = min(candidates, key=cost)
    degree, focal, log_r, imaginary, _ = scored[steps]
    center = _ellipses(enclosure)[0]
    return Schedule(center, float(focal), imaginary, log_r, min(enclosure.beta, 0.0), steps,
                    degree)


def _output_degree(schedule: Schedule, tau: float, budget: float) -> int:
    """Degree the schedule's ellipse needs for an output time ``tau`` inside a step."""
    if schedule.focal == 0.0 or tau == 0.0:
        return 0
    long_axis = tau * schedule.focal * np.cosh(schedule.log_r)
    short_axis = tau * schedule.focal * np.sinh(schedule.log_r)
    a_t, b_t = (short_axis, long_axis) if schedule.imaginary else (long_axis, short_axis)
    shift = tau * (schedule.center.real - schedule.beta)
    found = _step_errors(a_t, b_t, shift, 4 * schedule.degree + 100)
    if found is None:
        return schedule.degree
    ok = np.flatnonzero(found[0] <= budget)
    return int(ok[0]) if ok.size else schedule.degree


def _coefficients(schedule: Schedule, tau: float, degree: int) -> np.ndarray:
    r"""Coefficients :math:`a_k/\sigma_k`, ``k = 0..degree``, of :math:`e^{\tau z}` in the
    schedule's basis (see the module docstring)."""
    k = np.arange(degree + 1)
    x = tau * schedule.focal
    weight = np.where(k == 0, 1.0, 2.0)
    if schedule.imaginary:
        coeffs = weight * jv(k, x)
        scale = np.exp(tau * schedule.center)
    else:
        coeffs = weight * ive(k, x) * np.where((k // 2) % 2 == 0, 1.0, -1.0)
        scale = np.exp(tau * schedule.center + x)
    return coeffs * scale if scale.imag != 0.0 else coeffs * scale.real


class ShiftedOperator:
    r"""Applies ``y += ±M x`` with :math:`M = 2(A - cI)/f` to each row of a ``(k, d)`` block."""

    def __init__(self, A, center: complex, focal: float, dtype):
        d = A.shape[0]
        shift = center.real if center.imag == 0.0 else center
        if sp.issparse(A):
            M = sp.csr_array((sp.csr_array(A) - shift * sp.eye_array(d, format="csr"))
                             * (2.0 / focal), dtype=dtype)
            M.sum_duplicates()
            self._sparse = M
            self._data = {1: M.data, -1: -M.data}
        else:
            M = ((A - shift * np.eye(d)) * (2.0 / focal)).astype(dtype)
            self._sparse = None
            self._dense = {1: M.T, -1: -M.T}

    @property
    def matrix(self):
        """:math:`M = 2(A - cI)/f` (CSR for a sparse ``A``, else an ndarray)."""
        return self._dense[1].T if self._sparse is None else self._sparse

    def transposed(self) -> ShiftedOperator:
        """The same operator for :math:`M^T` (no new shift or scaling)."""
        new = object.__new__(ShiftedOperator)
        if self._sparse is None:
            new._sparse, new._dense = None, {s: M.T for s, M in self._dense.items()}
        else:
            Mt = sp.csr_array(self._sparse.T)
            new._sparse, new._data = Mt, {1: Mt.data, -1: -Mt.data}
        return new

    def matvec_add(self, sign: int, x: np.ndarray, y: np.ndarray) -> None:
        """``y += sign * M x`` for every row of the ``(k, d)`` blocks ``x`` and ``y``."""
        PRODUCTS.add(x.shape[0])
        M = self._sparse
        if M is None:
            y += x @ self._dense[sign]
        else:
            for xi, yi in zip(x, y):
                csr_matvec_add(M, self._data[sign], xi, yi)

    def recurrence_accumulate(self, sign: int, cur: np.ndarray, prev: np.ndarray,
                              out: np.ndarray, c) -> None:
        """One term for every row of the ``(k, d)`` blocks: ``prev += sign * M cur`` (now
        the next basis vector), then ``out += c * prev`` — one fused pass per row with a
        kernel that fuses it (:meth:`~advdiff_sens.matrix.expm.kernels.SparseKernel.recurrence_accumulate`)."""
        M = self._sparse
        if M is None:
            self.matvec_add(sign, cur, prev)
            out += prev * c
            return
        PRODUCTS.add(cur.shape[0])
        kernel = active_kernel()
        for ci, pi, oi in zip(cur, prev, out):
            kernel.recurrence_accumulate(M, self._data[sign], ci, pi, oi, c)


_BASIS_BYTES = 64 * 2**20


def recurrence_sign(k: int, imaginary: bool) -> int:
    r"""Sign :math:`s_k` in :math:`Y_{k+1} = Y_{k-1} + s_k M Y_k` (module docstring, step 4)."""
    return 1 if imaginary or k % 2 == 0 else -1


def chebyshev_terms(op: ShiftedOperator, degree: int, imaginary: bool, first: np.ndarray,
           second: np.ndarray | None = None, start: int = 0):
    r"""Yield ``(k, Y_k)``, :math:`Y_k = \sigma_k T_k(X)x`, for ``k = start..degree``.

    From ``start = 0`` (``first`` :math:`= x`): :math:`Y_1 = \tfrac12 M Y_0`,
    :math:`Y_{k+1} = Y_{k-1} + s_k M Y_k`, one product per term, in place in two work
    vectors; from a stored pair ``(first, second)`` :math:`= (Y_{start}, Y_{start+1})` the
    recurrence resumes there. The yielded array is overwritten by the next term.
    """
    prev = first.copy()
    yield start, prev
    if degree == start:
        return
    if second is None:
        cur = np.zeros_like(first)
        op.matvec_add(1, prev, cur)
        cur *= 0.5
    else:
        cur = second.copy()
    for k in range(start + 1, degree + 1):
        yield k, cur
        if k == degree:
            return
        op.matvec_add(recurrence_sign(k, imaginary), cur, prev)
        prev, cur = cur, prev


_TICK_TERMS = 64


def _series_step(op: ShiftedOperator | None, x: np.ndarray, coeffs: list[np.ndarray],
                 imaginary: bool, record=None, tick=None) -> list[np.ndarray]:
    r""":math:`\sum_k (a^{(j)}_k/\sigma_k)\,\sigma_k T_k(X)\,x` for each coefficient row
    ``coeffs[j]`` (each of its own length = degree + 1); ``x`` has shape (k, d).

    A single row (the usual case) is accumulated in place term by term with numpy (one
    scratch vector), not with BLAS ``axpy``: a threaded level-1 call can stall on a loaded
    machine. Several rows (dense output at several times) are zero-padded to one
    matrix :math:`C`; the basis vectors :math:`\sigma_kT_k(X)x` are buffered in chunks of at
    most 64 MiB and combined by one matrix product per chunk,
    :math:`\text{outs} \mathrel{+}= C_{:,\text{chunk}}\,[T_kx]_{k∈\text{chunk}}` (BLAS 3).
    ``record(k, Y_k)``, if given, sees every basis vector (the adjoint's checkpoints);
    ``tick(k)``, if given, is called every 64 terms (progress reports).
    """
    degree = max(c.size for c in coeffs) - 1
    if len(coeffs) == 1:
        return [_single_series(op, x, coeffs[0], imaginary, record, tick)]
    terms = chebyshev_terms(op, degree, imaginary, x)
    C = np.zeros((len(coeffs), degree + 1), dtype=np.result_type(*coeffs))
    for j, c in enumerate(coeffs):
        C[j, :c.size] = c
    chunk = int(max(1, min(degree + 1, _BASIS_BYTES // (x.size * x.itemsize))))
    buffer = np.empty((chunk, x.size), dtype=x.dtype)
    outs = np.zeros((len(coeffs), x.size), dtype=np.result_type(C, x))
    filled, first = 0, 0
    for k, y in terms:
        if record is not None:
            record(k, y)
        if tick is not None and k % _TICK_TERMS == 0:
            tick(k)
        buffer[filled] = y.ravel()
        filled += 1
        if filled == chunk or k == degree:
            outs += C[:, first:first + filled] @ buffer[:filled]
            first, filled = first + filled, 0
    return list(outs.reshape(len(coeffs), *x.shape))


def _single_series(op: ShiftedOperator | None, x: np.ndarray, c: np.ndarray, imaginary: bool,
                   record, tick) -> np.ndarray:
    r""":math:`\sum_k (c_k/\sigma_k)\,\sigma_k T_k(X)\,x` for one coefficient row, the
    recurrence and the accumulation fused into one pass per term
    (:meth:`ShiftedOperator.recurrence_accumulate`); ``record`` and ``tick`` as in
    :func:`_series_step`."""
    dtype = np.result_type(c, x)
    out = np.zeros_like(x, dtype=dtype)
    prev = x.copy()
    if record is not None:
        record(0, prev)
    if tick is not None:
        tick(0)
    out += prev * c[0]
    degree = c.size - 1
    if degree == 0:
        return out
    cur = np.zeros_like(x)
    op.matvec_add(1, prev, cur)
    cur *= 0.5
    out += cur * c[1]
    for k in range(1, degree + 1):
        if record is not None:
            record(k, cur)
        if tick is not None and k % _TICK_TERMS == 0:
            tick(k)
        if k == degree:
            break
        op.recurrence_accumulate(recurrence_sign(k, imaginary), cur, prev, out, c[k + 1])
        prev, cur = cur, prev
    return out


def step_plan(times: np.ndarray, schedule: Schedule, tol: float
              ) -> list[tuple[int, int, list[np.ndarray]]]:
    r"""For each of the schedule's steps over ``(0, times[-1]]``: the index of its first
    output time, how many output times fall inside it, and the coefficient rows — one per
    output time (dense output, with the degree ``tol`` needs at that offset), then the
    step's end unless it is the last step."""
    horizon = float(times[-1])
    budget = tol / (_CROUZEIX * schedule.steps)
    plan, start, j = [], 0.0, 0
    for i in range(1, schedule.steps + 1):
        end = horizon * i / schedule.steps
        last = i == schedule.steps
        inside = [jj for jj in range(j, times.size) if last or times[jj] < end]
        full = (end - start) * (1.0 - 1e-12)
        coeffs = []
        for jj in inside:
            dt = float(times[jj]) - start
            degree = schedule.degree if dt >= full else _output_degree(schedule, dt, budget)
            coeffs.append(_coefficients(schedule, dt, degree))
        if not last:
            coeffs.append(_coefficients(schedule, end - start, schedule.degree))
        plan.append((j, len(inside), coeffs))
        j, start = j + len(inside), end
    return plan


def shifted_operator(A, schedule: Schedule, dtype) -> ShiftedOperator | None:
    r"""The operator :math:`M = 2(A - cI)/f` of the schedule's series (None if :math:`f = 0`)."""
    if schedule.focal == 0.0:
        return None
    return ShiftedOperator(A, schedule.center, schedule.focal, dtype)


def run_schedule(A, x0: np.ndarray, times: np.ndarray, schedule: Schedule,
                 tol: float, record=None, op: ShiftedOperator | None = None,
                 progress=None) -> np.ndarray:
    r"""Evaluate a given :class:`Schedule` over ``(0, times[-1]]`` (``times[-1] > 0``);
    ``tol`` sets the degree of output times inside a step. ``x0`` has shape ``(k, d)`` (one
    initial vector per row, its dtype the working dtype), the result ``(q, k, d)``: the
    horizon is split into the schedule's :math:`s` equal steps and an output time inside a
    step is read off that step's basis vectors with its own coefficients (dense output), so
    the cost is :math:`s\,m` products however many times are requested.
    ``record(i, k, Y_k)``, if given, sees basis vector ``k`` of step ``i`` (0-based).
    ``op``: the schedule's :func:`shifted_operator` for ``A`` and the dtype of ``x0``, if
    already built. ``progress``: a meter (:mod:`advdiff_sens.progress`) told the products
    done so far, every 64 terms."""
    out = np.empty((times.size, *x0.shape), dtype=x0.dtype)
    op = shifted_operator(A, schedule, x0.dtype) if op is None else op
    x = x0
    rows = x0.shape[0]
    for i, (j, count, coeffs) in enumerate(step_plan(times, schedule, tol)):
        hook = None if record is None else (lambda k, y, i=i: record(i, k, y))
        tick = None if progress is None else (
            lambda k, i=i: progress.update(rows * (i * schedule.degree + k)))
        results = _series_step(op, x, coeffs, schedule.imaginary, hook, tick)
        if count:
            out[j:j + count] = results[:count]
        x = results[-1]
    return out


def _as_rows(b: np.ndarray, A) -> tuple[np.ndarray, bool]:
    """The Chebyshev kernel's ``(k, d)`` block for ``b`` (columns become rows); for real
    ``A`` a complex ``b`` is split into its real and imaginary parts (two real products
    beat one complex one). Returns the block and whether it was split."""
    rows = b[:, None].T if b.ndim == 1 else b.T
    split = np.iscomplexobj(rows) and not np.iscomplexobj(A)
    work = np.concatenate([rows.real, rows.imag]) if split else rows
    return np.ascontiguousarray(work, dtype=np.result_type(work, A.dtype)), split


def _from_rows(z: np.ndarray, b: np.ndarray, split: bool) -> np.ndarray:
    """Inverse of :func:`_as_rows` on the ``(m, k, d)`` output: shape ``(m, *b.shape)``."""
    if split:
        k = z.shape[1] // 2
        z = z[:, :k] + 1j * z[:, k:]
    z = np.swapaxes(z, 1, 2)
    return z[..., 0] if b.ndim == 1 else z


def chebyshev_action(A, b: np.ndarray, times: np.ndarray, tol: float,
                      enclosure=None, schedule: Schedule | None = None,
                      progress=None) -> np.ndarray:
    """``exp(t_j A) b`` by the stepped series for ``b`` of shape ``(d,)`` or ``(d, k)``
    (columns; :func:`run_schedule` works on rows); shape ``(m, *b.shape)``, ``times[-1] >
    0``. ``schedule``: the one selected for ``times[-1]`` at ``tol``, if already known;
    ``progress``: a meter counting products."""
    work, split = _as_rows(b, A)
    if schedule is None:
        enclosure = field_of_values_enclosure(A) if enclosure is None else enclosure
        schedule = select_schedule(enclosure, float(times[-1]), tol)
    z = run_schedule(A, work, times, schedule, tol, progress=progress)
    return _from_rows(z, b, split)
