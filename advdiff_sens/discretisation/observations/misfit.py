r"""Data, missing entries and noise: the whitened residual of an observation operator and the
least-squares misfit.

Given an :class:`~advdiff_sens.discretisation.ObservationOperator`
(:math:`H_j` per time), data :math:`d_{js}` with a mask :math:`O` of the observed entries
(``NaN``, a fill value or a masked array's mask mark the missing ones, a different set per
time) and a noise sd :math:`σ_{js} > 0` per observed datum, the whitened residual is the
vector of the observed entries

.. math::

    r = \bigl((H_jθ(t_j))_s − d_{js}\bigr)/σ_{js},\qquad (j, s) ∈ O

(time-major order), the misfit :math:`Φ(θ) = \tfrac12|r|^2 = \tfrac12\sum_{(j,s)∈O}
((H_jθ_j)_s − d_{js})^2/σ_{js}^2` and its gradient

.. math::

    ∂Φ/∂θ_j = H_j^T w_j,\qquad w_{js} = r_{js}/σ_{js}\ \text{on } O,\quad 0\ \text{off } O .

A missing datum is absent from :math:`r`, not a zero datum: changing it changes nothing.
The linear part :math:`Gθ = (H_jθ_j/σ_{js})_{(j,s)∈O}` (:meth:`Observations.forward`) and its
adjoint (:meth:`Observations.adjoint`) are what Gauss–Newton products and Jacobians use.
"""

from __future__ import annotations

import numpy as np

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.observations.operators import ObservationOperator, PointSensors
from advdiff_sens.validation import as_real_array, check_integer, check_positive_scalar

__all__ = ["Observations", "LeastSquaresObjective"]


def _as_data(data, operator: ObservationOperator, fill_value) -> tuple[np.ndarray, np.ndarray]:
    """``(values (k, m) with NaN where missing, observed mask (k, m))``."""
    missing = np.ma.getmaskarray(data) if np.ma.isMaskedArray(data) else None
    values = np.ma.getdata(data) if missing is not None else data
    values = np.asarray(values)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.number)
                                      or values.dtype == bool):
        raise TypeError(f"data must be an array of numbers, got dtype {values.dtype}")
    if np.iscomplexobj(values):
        raise TypeError("data must be real, got a complex array")
    values = values.astype(np.float64)
    m, obs_shape = operator.n_obs, operator.obs_shape
    if values.ndim < 2 or values.shape[0] == 0 or values.shape[1:] not in ((m,), obs_shape):
        raise ValueError(f"data must have shape (n_times, {m})"
                         + ("" if obs_shape == (m,) else f" or (n_times, *{obs_shape})")
                         + f" (one row per time), got {values.shape}")
    k = values.shape[0]
    operator.check_n_times(k, "data")
    values = values.reshape(k, m)
    missing = np.isnan(values) if missing is None else missing.reshape(k, m) | np.isnan(values)
    if fill_value is not None:
        fill = float(fill_value)
        if not np.isnan(fill):
            missing |= values == fill
    infinite = np.isinf(values) & ~missing
    if infinite.any():
        j, s = np.argwhere(infinite)[0]
        raise ValueError(f"data contains inf ({int(infinite.sum())} entries, the first at time "
                         f"index {j}, entry {s}); mark missing data with NaN or fill_value")
    empty = np.where(missing.all(axis=1))[0]
    if empty.size:
        raise ValueError(f"data has no observed entry at time index(es) {empty.tolist()} (all "
                         f"missing); drop those times")
    values = np.where(missing, np.nan, values)
    return values, ~missing


def _as_noise(noise_std, shape: tuple[int, ...], obs_shape: tuple[int, ...],
              mask: np.ndarray) -> np.ndarray:
    """σ broadcast to ``(k, m)``, checked positive and finite where observed; NaN elsewhere."""
    noise = np.asarray(noise_std)
    if noise.dtype == object or not np.issubdtype(noise.dtype, np.number) \
            or np.iscomplexobj(noise):
        raise TypeError(f"noise_std must be a real number or array, got dtype {noise.dtype}")
    k, m = mask.shape
    for target in dict.fromkeys((shape, (k, m), (k, *obs_shape))):
        try:
            sigma = np.broadcast_to(noise.astype(np.float64), target).reshape(k, m)
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"noise_std must be a scalar or broadcast to the data's shape "
                         f"{shape} (per time: (k, 1); per sensor or pixel: ({m},) or "
                         f"{obs_shape}), got shape {noise.shape}")
    bad = mask & ~(np.isfinite(sigma) & (sigma > 0))
    if bad.any():
        j, s = np.argwhere(bad)[0]
        raise ValueError(f"noise_std must be finite and > 0 at every observed datum; "
                         f"{int(bad.sum())} are not, the first at time index {j}, entry {s} "
                         f"(σ = {sigma[j, s]})")
    return np.where(mask, sigma, np.nan)


class Observations:
    r"""An observation operator with its data and noise: the whitened residual, the misfit and
    its gradient (module docstring).

    Callable as ``observations(theta) -> (Φ, ∂Φ/∂θ)`` with ``theta`` of shape
    ``(k, *grid.shape)`` (the output of ``model.solve`` at the k observation times), so it
    plugs into :meth:`advdiff_sens.AdvectionDiffusion.gradient`; pass it to
    :class:`~advdiff_sens.inference.Posterior` as ``observations=``.

    Parameters
    ----------
    operator : ObservationOperator
        :class:`PointSensors`, :class:`GriddedSnapshots` or any
        :class:`ObservationOperator`.
    data : array_like or numpy.ma.MaskedArray, shape ``(k, m)`` or ``(k, *obs_shape)``
        One row (or image) per observation time. ``NaN`` entries, entries equal to
        ``fill_value`` and masked entries are missing; every time needs at least one
        observed entry.
    noise_std : float or array_like
        σ > 0 per datum, broadcast to the data: a scalar, per time ``(k, 1)``, per sensor or
        pixel ``(m,)`` (or ``obs_shape``), or the full ``(k, m)``; positive and finite where
        observed (ignored where missing).
    fill_value : float, optional
        A value that marks missing data (besides NaN).

    Attributes
    ----------
    operator : ObservationOperator
    data : ndarray (k, m)
        The data, NaN where missing.
    mask : ndarray of bool (k, m)
        True where observed.
    noise_std : float or ndarray (k, m)
        A float when given one, else σ per datum (NaN where missing).
    n_times, n_obs, n_data : int
        k, m and the number of observed entries :math:`|O|`.

    Examples
    --------
    Three pixels at two times, one pixel missing at the second; θ ≡ 1 against zero data
    misses each observed datum by 1, weighed by 1/σ²:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> from advdiff_sens.discretisation.observations import GriddedSnapshots
    >>> grid = Grid((8,), bc="neumann")
    >>> op = GriddedSnapshots(grid, [np.array([0.25, 0.5, 0.75])], "cell_average")
    >>> obs = Observations(op, [[0.0, 0.0, 0.0], [0.0, np.nan, 0.0]],
    ...                    noise_std=[0.5, 1.0, 1.0])
    >>> obs.n_data, obs.mask.tolist()
    (5, [[True, True, True], [True, False, True]])
    >>> value, grad = obs(np.ones((2, 8)))
    >>> value                                           # ½ (4 + 1 + 1 + 4 + 1)
    5.5
    >>> obs.residual(np.ones((2, 8))).tolist()          # observed entries, time-major
    [2.0, 1.0, 1.0, 2.0, 1.0]
    """

    def __init__(self, operator: ObservationOperator, data, noise_std=1.0, *,
                 fill_value: float | None = None) -> None:
        if not isinstance(operator, ObservationOperator):
            raise TypeError(f"operator must be an ObservationOperator, got "
                            f"{type(operator).__name__}")
        self.operator = operator
        shape = np.shape(data)
        self.data, self.mask = _as_data(data, operator, fill_value)
        sigma = _as_noise(noise_std, shape, operator.obs_shape, self.mask)
        self.noise_std = (check_positive_scalar(noise_std, "noise_std")
                          if np.ndim(noise_std) == 0 else sigma)
        self.sigma = sigma
        self._observed_sigma = sigma[self.mask]

    def __repr__(self) -> str:
        return (f"Observations({self.operator!r}, n_times={self.n_times}, "
                f"n_data={self.n_data})")

    @property
    def grid(self) -> Grid:
        """The model grid of the operator."""
        return self.operator.grid

    @property
    def n_times(self) -> int:
        """Number k of observation times (rows of :attr:`data`)."""
        return self.data.shape[0]

    @property
    def n_obs(self) -> int:
        """Observations m per time (observed or not)."""
        return self.operator.n_obs

    @property
    def n_data(self) -> int:
        """Number of observed entries :math:`|O|` (the expected :math:`2Φ` at the truth)."""
        return int(self._observed_sigma.size)

    def predict(self, theta) -> np.ndarray:
        """Noise-free readings :math:`H_jθ(t_j)` of every entry, shape ``(k, m)``."""
        return self.operator.forward(theta)

    def whiten(self, values) -> np.ndarray:
        r"""The observed entries of ``values`` (k, m) divided by their σ: a vector of length
        :attr:`n_data`, time-major."""
        values = np.asarray(values)
        if values.shape != self.mask.shape:
            raise ValueError(f"values must have shape {self.mask.shape} (one row per "
                             f"observation time), got {values.shape}")
        return values[self.mask] / self._observed_sigma

    def forward(self, theta) -> np.ndarray:
        r"""The linear whitened readings :math:`Gθ = (H_jθ_j/σ_{js})_{(j,s)∈O}`, length
        :attr:`n_data` (``theta`` of shape ``(k, *grid.shape)`` or ``(k, n)``)."""
        return self.whiten(self.predict(theta))

    def adjoint(self, r) -> np.ndarray:
        r"""The adjoint of :meth:`forward`: :math:`H_j^Tw_j` with :math:`w = r/σ` on the
        observed entries and 0 elsewhere, shape ``(k, *grid.shape)``."""
        r = np.asarray(r)
        if r.shape != (self.n_data,):
            raise ValueError(f"r must have shape ({self.n_data},) (one entry per observed "
                             f"datum), got {r.shape}")
        weights = np.zeros(self.mask.shape)
        weights[self.mask] = r / self._observed_sigma
        return self.operator.adjoint(weights)

    def residual(self, theta) -> np.ndarray:
        r"""The whitened residual :math:`r = ((H_jθ_j)_s − d_{js})/σ_{js}` on the observed
        entries, length :attr:`n_data`."""
        return self.whiten(self.predict(theta) - self.data)

    def misfit(self, theta) -> float:
        r""":math:`Φ(θ) = \tfrac12|r|^2`."""
        r = self.residual(theta)
        return 0.5 * float(r @ r)

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta)
        k = self.n_times
        if theta.shape != (k, *self.grid.shape):
            raise ValueError(f"theta must have shape {(k, *self.grid.shape)}, got {theta.shape}")
        r = self.residual(theta)
        return 0.5 * float(r @ r), self.adjoint(r)

    def truncated(self, n_times: int) -> Observations:
        """The observations of the first ``n_times`` times."""
        n_times = check_integer(n_times, "n_times", minimum=1)
        if n_times > self.n_times:
            raise ValueError(f"n_times must be <= {self.n_times}, got {n_times}")
        noise = self.noise_std if np.ndim(self.noise_std) == 0 else self.sigma[:n_times]
        return Observations(self.operator.truncated(n_times), self.data[:n_times], noise)


class LeastSquaresObjective(Observations):
    r"""Misfit :math:`Φ(θ) = \tfrac12\sum_j \|Hθ(t_j) − d_j\|^2/σ^2` of point-sensor data: the
    :class:`Observations` of fixed :class:`PointSensors`, complete data and one σ.

    Callable as ``objective(theta) -> (value, dΦ/dθ)`` with ``theta`` of shape
    ``(k, *grid.shape)`` (the output of ``model.solve`` at ``k`` times), so it plugs into
    :meth:`advdiff_sens.AdvectionDiffusion.gradient`.

    Parameters
    ----------
    grid : Grid
    sensors : array_like, shape (m, ndim)
    data : array_like, shape (k, m)
        Finite (for missing data use :class:`Observations`).
    noise_std : float
        σ > 0 (1 gives the plain half sum of squares).

    Attributes
    ----------
    H : scipy.sparse.csr_array (m, grid.n)
        :func:`observation_operator` of ``sensors``.
    sensors : ndarray (m, ndim)
    data : ndarray (k, m)
    noise_std : float

    Examples
    --------
    With zero data and θ ≡ 1 at k = 2 times, every one of the 2·3 readings is off by 1:

    >>> import numpy as np
    >>> from advdiff_sens.discretisation.grid import Grid
    >>> grid = Grid((8, 8), bc="periodic")
    >>> objective = LeastSquaresObjective(grid, [[0.1, 0.2], [0.5, 0.5], [0.9, 0.3]],
    ...                                   np.zeros((2, 3)), noise_std=0.5)
    >>> value, grad = objective(np.ones((2, 8, 8)))
    >>> value, grad.shape                                  # ½ · 6 · (1/0.5)²
    (12.0, (2, 8, 8))
    >>> bool(np.allclose(grad.sum(axis=(1, 2)), 3 / 0.5**2))   # Hᵀr/σ, H rows sum to 1
    True
    """

    def __init__(self, grid: Grid, sensors, data, noise_std: float = 1.0) -> None:
        sensors = as_real_array(sensors, "sensors", ndim=2)
        operator = PointSensors(grid, sensors)
        data = as_real_array(data, "data", ndim=2)
        if data.shape[1] != operator.n_obs:
            raise ValueError(f"data must have shape (n_times, {operator.n_obs}) (one column "
                             f"per sensor), got {data.shape}")
        super().__init__(operator, data, check_positive_scalar(noise_std, "noise_std"))
        self.sensors = sensors
        self.H = operator.matrix(0)

    def truncated(self, n_times: int) -> LeastSquaresObjective:
        """The objective of the first ``n_times`` times."""
        n_times = check_integer(n_times, "n_times", minimum=1)
        if n_times > self.n_times:
            raise ValueError(f"n_times must be <= {self.n_times}, got {n_times}")
        return LeastSquaresObjective(self.grid, self.sensors, self.data[:n_times],
                                     self.noise_std)
