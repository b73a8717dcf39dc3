r"""Twin experiments at scale (reference problems R5 and R6): field-valued unknowns under
function-space priors.

* **R5, flow at scale** (:func:`make_field_twin`): the periodic unit square, a nodal stream
  function drawn from a smooth Gaussian random field prior (α = 3, so the velocity
  :math:`∇^⊥_hψ` has a mesh-independent variance; default pointwise sd 0.05 and correlation
  length 0.3, rms speed ≈ 0.4), or Fourier modes :math:`|k| ≤ k_{max}` under a power-law
  spectrum; :math:`θ_0` of R3; κ = 0.01, exponential fitting; ``n_sensors`` uniform sensors
  read at 20 times in (0, 1]; Gaussian noise of sd ``noise`` × max |clean reading|.
  Optionally θ0 and/or κ are unknown as well.
* **R5w, the flow at scale between walls** (:func:`make_field_twin` with ``bc``): the same
  on the channel (``bc=("periodic", "neumann")`` or ``"dirichlet"`` across y) or the
  rectangle (walls on both axes); the walls are no-flux (Neumann) or absorbing (Dirichlet)
  for θ and impermeable for the flow, whose stream function vanishes on them: the nodal
  stream function at the free nodes under the same field prior with ψ = 0 on the walls
  (:attr:`~advdiff_sens.inference.NodalStreamFunction.free_grid`; the sd is
  ``flow_std`` at the centre and decays to 0 at the walls), or the sine/Fourier products
  of :class:`~advdiff_sens.inference.StreamFunctionBasis`.
* **R6, initial condition** (:func:`make_initial_condition_twin`), after hIPPYlib's
  advection–diffusion tutorial: the steady cellular flow of R2 (amplitude 0.5) is known, κ =
  0.01, the initial condition :math:`θ_0 = \min(0.5, e^{−100|x − (0.35, 0.7)|^2})` is unknown
  under a bi-Laplacian prior (α = 2, mean 0.25, sd 0.25, correlation length 0.2); 80 sensors
  read at 16 times in [0.2, 1]; noise sd 1 % of max θ.

Both return a :class:`FieldTwin`: the :class:`~advdiff_sens.inference.Posterior` built on the
noisy data and the truth that generated it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.inference.parameterisations import NodalStreamFunction, StreamFunctionBasis
from advdiff_sens.inference.posterior import Posterior
from advdiff_sens.inference.priors import (GaussianRandomField, PowerLawSpectrum,
                                           spectral_prior)
from advdiff_sens.inference.spaces import ModelInputs, ParameterSpace
from advdiff_sens.matrix import ChebyshevBackend
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.problems.cellular_flow import cellular_flow
from advdiff_sens.problems.twin import r3_initial_condition
from advdiff_sens.sampling.reference import DiagonalGaussian
from advdiff_sens.validation import (as_rng, as_times, check_integer, check_positive_scalar)

__all__ = ["FieldTwin", "make_field_twin", "make_initial_condition_twin", "INFERENCE_TOL",
           "FLOWS"]

#: Propagator tolerance of the twins' models: the a priori bound certifies it for strong
#: flows where 1e-12 forces the quadrature adjoint, and it is far below the 1 % noise.
INFERENCE_TOL = 1e-8
#: The flow parameterisations of :func:`make_field_twin`.
FLOWS = ("nodal", "fourier")


@dataclass
class FieldTwin:
    """A synthetic data set, its posterior and the truth.

    Attributes
    ----------
    posterior : Posterior
        Built on the noisy data.
    true_coefficients : ndarray (p,)
        The truth in the posterior's coefficients.
    true_inputs : ModelInputs
        The true velocity, initial condition and κ.
    clean : ndarray (k, m)
        Noise-free readings.
    noise_std : float

    Examples
    --------
    >>> twin = make_field_twin(16, n_sensors=9, times=[0.2, 0.4], rng=0)
    >>> twin.posterior.n_params, twin.clean.shape
    (256, (2, 9))
    """

    posterior: Posterior
    true_coefficients: np.ndarray
    true_inputs: ModelInputs
    clean: np.ndarray
    noise_std: float

    def velocity_error(self, c) -> float:
        """Relative rms velocity error :math:`\\|\\mathbf u(c) − \\mathbf u^†\\|/\\|\\mathbf u^†\\|`."""
        u = self.posterior.inputs(c).velocity
        return float(np.linalg.norm(u - self.true_inputs.velocity)
                     / np.linalg.norm(self.true_inputs.velocity))


def _finish(model: AdvectionDiffusion, space: ParameterSpace, truth: np.ndarray, sensors,
            times, noise: float, rng: np.random.Generator) -> FieldTwin:
    probe = Posterior(model, space, sensors, times, np.zeros((len(times), len(sensors))), 1.0)
    clean = probe.predict(truth)
    noise_std = noise * float(np.abs(clean).max())
    data = clean + noise_std * rng.standard_normal(clean.shape)
    posterior = Posterior(model, space, sensors, times, data, noise_std, gradient="adjoint")
    return FieldTwin(posterior, truth, posterior.inputs(truth), clean, noise_std)


def make_field_twin(n: int = 64, *, flow: str = "nodal", kmax: float = 8.0,
                    spectrum=None, flow_std: float = 0.05, correlation_length: float = 0.3,
                    infer_theta0: bool = False, infer_kappa: bool = False, kappa: float = 0.01,
                    n_sensors: int = 49, times=None, noise: float = 0.01,
                    bc: str | tuple[str, str] = "periodic", rng=None) -> FieldTwin:
    r"""Reference problem R5 (module docstring) on the ``n × n`` unit square: periodic (R5),
    or with walls (R5w).

    Parameters
    ----------
    n : int
        Nodes per axis.
    flow : {"nodal", "fourier"}
        Nodal stream function (p = the free nodes: n² when periodic) under a Gaussian random
        field prior (α = 3, ``flow_std``, ``correlation_length``; on the free grid, ψ = 0 on
        the walls), or the modes :math:`|k| ≤ k_{max}` of
        :class:`~advdiff_sens.inference.StreamFunctionBasis` (Fourier; sines across walls)
        under ``spectrum`` (default :class:`~advdiff_sens.inference.PowerLawSpectrum` with
        exponent 2, smooth enough that the truth's speed stays moderate for kmax = 8).
    kmax : float
    spectrum : callable, optional
    flow_std, correlation_length : float
    infer_theta0 : bool
        Also infer θ0 under a Gaussian random field prior (α = 2, sd 0.25, correlation
        length 0.2) around the constant mean 0.5; the truth is the R3 field.
    infer_kappa : bool
        Also infer κ under the log-normal prior :math:`\log κ \sim N(\log 2κ^†, 1)`.
    kappa : float
        The true κ.
    n_sensors : int
    times : array_like, optional
        Default 20 equally spaced in (0, 1].
    noise : float
        Noise sd relative to the largest clean reading.
    bc : str or (str, str)
        The grid's boundary conditions (:class:`~advdiff_sens.Grid`): ``"periodic"`` (R5),
        or walls on one axis (a channel) or both (a rectangle), ``"neumann"`` (no-flux for
        θ) or ``"dirichlet"`` (absorbing).
    rng : None, int or numpy.random.Generator
        Draws the truth (flow), the sensors and the noise.

    Returns
    -------
    FieldTwin

    Examples
    --------
    >>> twin = make_field_twin(16, flow="fourier", kmax=2, infer_kappa=True, n_sensors=9,
    ...                        times=[0.2, 0.4], rng=0)
    >>> twin.posterior.space.unknowns, twin.posterior.n_params
    (('flow', 'log_kappa'), 13)

    A channel with no-flux walls at y = 0 and 1 (the wall nodes' ψ is fixed, 16 × 14 free):

    >>> channel = make_field_twin(16, bc=("periodic", "neumann"), n_sensors=9,
    ...                           times=[0.2, 0.4], rng=0)
    >>> channel.posterior.n_params, float(abs(channel.true_inputs.velocity[1][:, [0, -1]]).max())
    (224, 0.0)
    """
    n = check_integer(n, "n", minimum=4)
    n_sensors = check_integer(n_sensors, "n_sensors", minimum=1)
    noise = check_positive_scalar(noise, "noise")
    kappa = check_positive_scalar(kappa, "kappa")
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
    times = np.linspace(0.05, 1.0, 20) if times is None else as_times(times, "times")[0]
    rng = as_rng(rng)
    grid = Grid((n, n), bc=bc)
    model = AdvectionDiffusion(grid, kappa, "exponential",
                               backend=ChebyshevBackend(tol=INFERENCE_TOL), progress=None)
    if flow == "nodal":
        parameterisation = NodalStreamFunction(grid)
        flow_prior = GaussianRandomField(parameterisation.free_grid, flow_std,
                                         correlation_length, alpha=3)
    else:
        parameterisation = StreamFunctionBasis(grid, kmax)
        flow_prior = spectral_prior(parameterisation,
                                    PowerLawSpectrum(exponent=2.0) if spectrum is None
                                    else spectrum)
    theta0 = r3_initial_condition(grid)
    options = {"flow": parameterisation, "flow_prior": flow_prior}
    truth = [flow_prior.sample(rng)]
    if infer_theta0:
        options["theta0_prior"] = GaussianRandomField(grid, 0.25, 0.2, mean=0.5)
        truth.append(theta0.ravel())
    else:
        options["theta0"] = theta0
    if infer_kappa:
        options["log_kappa_prior"] = DiagonalGaussian([np.log(2 * kappa)], 1.0)
        truth.append(np.array([np.log(kappa)]))
    space = ParameterSpace(grid, **options)
    sensors = rng.uniform(0.0, 1.0, size=(n_sensors, 2))
    return _finish(model, space, np.concatenate(truth), sensors, times, noise, rng)


def make_initial_condition_twin(n: int = 64, *, n_sensors: int = 80, times=None,
                                noise: float = 0.01, rng=None) -> FieldTwin:
    r"""Reference problem R6 (module docstring): infer θ0 in a known steady flow.

    Parameters
    ----------
    n : int
        Nodes per axis.
    n_sensors : int
    times : array_like, optional
        Default 16 equally spaced in [0.2, 1].
    noise : float
        Noise sd relative to the largest clean reading.
    rng : None, int or numpy.random.Generator
        Draws the sensors and the noise.

    Returns
    -------
    FieldTwin

    Examples
    --------
    >>> twin = make_initial_condition_twin(16, n_sensors=10, times=[0.5, 1.0], rng=0)
    >>> twin.posterior.space.unknowns, twin.posterior.n_params
    (('theta0',), 256)
    """
    n = check_integer(n, "n", minimum=4)
    n_sensors = check_integer(n_sensors, "n_sensors", minimum=1)
    noise = check_positive_scalar(noise, "noise")
    times = np.linspace(0.2, 1.0, 16) if times is None else as_times(times, "times")[0]
    rng = as_rng(rng)
    grid = Grid((n, n))
    model = AdvectionDiffusion(grid, 0.01, "exponential",
                               backend=ChebyshevBackend(tol=INFERENCE_TOL), progress=None)
    x, y = grid.coords
    theta0 = np.minimum(0.5, np.exp(-100 * ((x - 0.35) ** 2 + (y - 0.7) ** 2)))
    space = ParameterSpace(grid, theta0_prior=GaussianRandomField(grid, 0.25, 0.2, mean=0.25),
                           velocity=cellular_flow(grid, 0.5))
    sensors = rng.uniform(0.0, 1.0, size=(n_sensors, 2))
    return _finish(model, space, theta0.ravel(), sensors, times, noise, rng)
