r"""Synthetic data for reference problem R3, the twin experiment (the documentation's
"Reference problems" page defines R1–R3).

A flow is drawn from the stream-function prior of :mod:`advdiff_sens.inference.estimate`, the scalar

.. math::

    θ_0(x, y) = \tfrac12 − \tfrac14\cos 2πx − \tfrac14\cos 2πy

is carried by it on the periodic unit square, and point sensors read
:math:`d_{jl} = (Hθ(t_j))_l + σ\,ε_{jl}`, :math:`ε_{jl} \sim N(0, 1)` i.i.d. The same
generator then serves as the "truth" an estimator must recover. The defaults of
:func:`make_twin` are R3: a 24 × 24 grid, stream-function modes :math:`|k| ≤ 2`, κ = 0.01, 25
sensors read at 20 equally spaced times in (0, 1], noise σ = 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import (as_rng, as_times, check_integer, check_nonnegative_scalar,
                          check_positive_scalar)
from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.discretisation.observations import observation_operator
from advdiff_sens.inference.parameterisations import StreamFunctionBasis

__all__ = ["TwinExperiment", "r3_initial_condition", "make_twin"]


def r3_initial_condition(grid: Grid) -> np.ndarray:
    r""":math:`θ_0 = \tfrac12 − \tfrac14\cos(2πx/ℓ_x) − \tfrac14\cos(2πy/ℓ_y)` on a 2-D grid.

    Parameters
    ----------
    grid : Grid
        A 2-D grid with extents :math:`ℓ_x, ℓ_y`.

    Returns
    -------
    ndarray, shape grid.shape
        Values in :math:`[0, 1]`.

    Examples
    --------
    >>> import advdiff_sens as ads
    >>> from advdiff_sens.problems import r3_initial_condition
    >>> theta0 = r3_initial_condition(ads.Grid(shape=(16, 16), bc="periodic"))
    >>> float(theta0[0, 0]), float(theta0[8, 8])         # at (0, 0) and (1/2, 1/2)
    (0.0, 1.0)
    """
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D for R3, got ndim={grid.ndim}")
    (x, y), (lx, ly) = grid.coords, grid.extent
    return 0.5 - 0.25 * np.cos(2 * np.pi * x / lx) - 0.25 * np.cos(2 * np.pi * y / ly)


@dataclass
class TwinExperiment:
    """A synthetic R3 data set together with the truth that generated it.

    Attributes
    ----------
    model : AdvectionDiffusion
    basis : StreamFunctionBasis
    theta0 : ndarray, grid.shape
    sensors : ndarray (m, 2)
    times : ndarray (k,)
    data : ndarray (k, m)
        Noisy sensor readings.
    clean : ndarray (k, m)
        Noise-free readings of the true flow.
    noise_std : float
    true_coefficients : ndarray (p,)
    true_velocity : ndarray ``(2, *grid.shape)``

    Examples
    --------
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(n=8, n_sensors=4, times=[0.5, 1.0], scheme="exponential", rng=0)
    >>> twin.data.shape, twin.sensors.shape, twin.true_velocity.shape
    ((2, 4), (4, 2), (2, 8, 8))
    >>> twin.basis.n_params == twin.true_coefficients.size
    True
    """

    model: AdvectionDiffusion
    basis: StreamFunctionBasis
    theta0: np.ndarray
    sensors: np.ndarray
    times: np.ndarray
    data: np.ndarray
    clean: np.ndarray
    noise_std: float
    true_coefficients: np.ndarray
    true_velocity: np.ndarray


def make_twin(n: int = 24, *, kmax: float = 2.0, kappa: float = 0.01, n_sensors: int = 25,
              times=None, noise_std: float = 0.01, flow_strength: float = 1.0,
              prior_std: float = 1 / (2 * np.pi), decay: float = 1.0, scheme: str = "central",
              backend: str = "scipy", bc: str | tuple[str, str] = "periodic",
              rng=None) -> TwinExperiment:
    r"""Draw an R3 twin experiment on the ``n × n`` unit square (periodic unless ``bc``
    puts walls on it).

    The true coefficients are ``flow_strength`` times a draw from the prior
    :math:`c_k \sim N(0, s_k^2)`, :math:`s_k = \text{prior\_std}\,|k|^{-\text{decay}}`
    (with the default ``prior_std = 1/2π`` every velocity mode has unit standard deviation
    for ``decay = 1``). Sensors are uniform in the domain.

    Parameters
    ----------
    n : int
        Grid points per axis (≥ 3).
    kmax : float
        Stream-function modes :math:`0 < |k| ≤ k_{max}`.
    kappa : float
        Diffusivity κ.
    n_sensors : int
        Number of point sensors m.
    times : array_like, optional
        Strictly increasing observation times; default 20 equally spaced in (0, 1].
    noise_std : float
        Noise standard deviation σ ≥ 0 (0 gives exact data).
    flow_strength : float
        Multiplier of the prior draw (> 0).
    prior_std, decay : float
        The prior spectrum (see above).
    scheme : str
        Advection scheme of the model.
    backend : str
        Propagator of the model. Default ``"scipy"``: estimation does many solves on small
        grids at ever new velocities, where the Chebyshev backend's per-generator set-up
        (enclosure and schedule search) costs more than a whole ``expm_multiply`` solve.
    bc : str or (str, str)
        The grid's boundary conditions; a non-periodic axis is an impermeable wall for the
        flow (:class:`~advdiff_sens.inference.StreamFunctionBasis` then has sines across
        it) and no-flux (``"neumann"``) or absorbing (``"dirichlet"``) for θ.
    rng : None, int or numpy.random.Generator
        Source of the flow, the sensor positions and the noise.

    Returns
    -------
    TwinExperiment

    Examples
    --------
    With ``noise_std=0`` the data are the clean readings:

    >>> import numpy as np
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(n=8, n_sensors=4, times=[0.5, 1.0], noise_std=0.0,
    ...                  scheme="exponential", rng=0)
    >>> twin.data.shape, bool(np.array_equal(twin.data, twin.clean))
    ((2, 4), True)

    A rectangle with no-flux walls: the 3 sine products :math:`\sin(πmx)\sin(πly)` with
    :math:`|(m, l)/2| ≤ 1.2`, and no flow through the walls:

    >>> walled = make_twin(n=9, kmax=1.2, n_sensors=4, times=[0.5], bc="neumann", rng=0)
    >>> walled.basis.n_params, float(abs(walled.true_velocity[0][[0, -1]]).max())
    (3, 0.0)
    """
    n = check_integer(n, "n", minimum=3)
    n_sensors = check_integer(n_sensors, "n_sensors", minimum=1)
    noise_std = check_nonnegative_scalar(noise_std, "noise_std")
    flow_strength = check_positive_scalar(flow_strength, "flow_strength")
    prior_std = check_positive_scalar(prior_std, "prior_std")
    times = np.linspace(0.05, 1.0, 20) if times is None else as_times(times, "times")[0]
    rng = as_rng(rng)
    grid = Grid((n, n), (1.0, 1.0), bc)
    model = AdvectionDiffusion(grid, kappa, scheme, backend=backend)
    basis = StreamFunctionBasis(grid, kmax, decay=decay)
    coefficients = flow_strength * prior_std * basis.prior_scale * rng.standard_normal(basis.n_params)
    velocity = basis.to_velocity(coefficients)
    theta0 = r3_initial_condition(grid)
    sensors = rng.uniform(0.0, 1.0, size=(n_sensors, 2))
    H = observation_operator(grid, sensors)
    clean = (H @ model.solve(velocity, theta0, times).reshape(len(times), -1).T).T
    data = clean + noise_std * rng.standard_normal(clean.shape)
    return TwinExperiment(model, basis, theta0, sensors, times, data, clean,
                          noise_std, coefficients, velocity)
