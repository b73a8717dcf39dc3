r"""Posteriors of the model's unknowns given observations of the scalar.

:class:`Posterior` is the general one: any :class:`~advdiff_sens.inference.spaces.ParameterSpace`
(flow by Fourier or nodal stream function, initial condition, log κ, any combination) with
its Gaussian prior :math:`N(m, C)`,

.. math::

    Ψ(c) = Φ(c) + \tfrac12|C^{-1/2}(c − m)|^2,\qquad
    Φ(c) = \tfrac12\sum_{(j,s)∈O} \bigl((H_jθ(t_j; c))_s − d_{js}\bigr)^2/σ_{js}^2,

its gradient from one adjoint sweep of the model, and the Gauss–Newton Hessian actions of a
:class:`Linearisation` (one tangent solve, then the adjoint of the linearised misfit):

.. math::

    H_{GN}v = G^TGv + C^{-1}v,\qquad (Gv)_{js} = (H_j\,δθ(t_j)[δc = v])_s/σ_{js},
    \ (j, s) ∈ O,

The observations are point sensors (the signature ``sensors, times, data, noise_std``: one
:math:`H`, complete data, one σ) or any
:class:`~advdiff_sens.discretisation.Observations` (``observations=``): fixed or moving
:class:`~advdiff_sens.discretisation.PointSensors`, gridded snapshots
(:class:`~advdiff_sens.discretisation.GriddedSnapshots`), missing data (the set :math:`O` of
observed entries) and a noise sd per datum.

with :math:`δθ` the tangent of the pushed-forward direction
(:meth:`~advdiff_sens.inference.spaces.ParameterSpace.push`): velocity and diffusivity
changes through the arrow system of :meth:`advdiff_sens.AdvectionDiffusion.tangent`, an
initial-condition change through one more forward solve :math:`e^{tL}δθ_0`; :math:`G^T` is
the model's adjoint of :math:`θ ↦ (Gv)^T(H_jθ_j/σ_{js})_{(j,s)∈O}`, pulled back to the
coefficients.

:class:`VelocityPosterior` is the stream-function posterior of reference problem R3 with
known θ0 and κ and a diagonal prior: the special case the MAP → Laplace → HMC workflow runs.

Model (reference problem R3, defined on the documentation's "Reference problems" page). The velocity is divergence free,
:math:`\mathbf u = Bc` with :math:`B` the stream-function basis of
:class:`advdiff_sens.inference.parameterisations.StreamFunctionBasis` (modes
:math:`0 < |k| ≤ k_{max}`), and

.. math::

    d_j = Hθ(t_j; c) + ε_j,\quad ε_j \sim N(0, σ^2 I),\qquad
    c_k \sim N(0, s_k^2),\quad s_k = s_0|k|^{-γ}.

The negative log-posterior (up to a constant) is

.. math::

    Ψ(c) = \underbrace{\tfrac12\sum_j \|(Hθ(t_j; c) − d_j)/σ\|^2}_{Φ(c)}
           + \tfrac12\sum_k (c_k/s_k)^2 .

Its gradient is computed by a strategy of :mod:`advdiff_sens.inference.gradients` (the
tangent Jacobian, or an adjoint of the model). The Gauss–Newton Hessian-vector product is
the tangent in direction :math:`Bv` followed by the adjoint of the linearised misfit,
:math:`(G^TG + S^{-2})v`, with :math:`G` the whitened Jacobian. The Laplace approximation at
the MAP :math:`\hat c` is :math:`N(\hat c, (G^TG + S^{-2})^{-1})`.

Sampling bound. HMC trajectories can run away to flows so strong that a single solve takes
minutes; :meth:`VelocityPosterior.in_bounds` (rms speed ≤ :attr:`VelocityPosterior.max_speed`)
is the bound to hand to :meth:`advdiff_sens.sampling.HMC.sample`.
"""

from __future__ import annotations

import numpy as np

import copy

from advdiff_sens.discretisation.observations import (
    LeastSquaresObjective, Observations, PointSensors
)
from advdiff_sens.inference.gradients import GRADIENTS, PosteriorGradient, model_gradient
from advdiff_sens.inference.parameterisations import StreamFunctionBasis
from advdiff_sens.inference.spaces import ModelInputs, ParameterSpace
from advdiff_sens.model import AdvectionDiffusion
from advdiff_sens.sampling.reference import DiagonalGaussian
from advdiff_sens.sensitivity import AutoAdjoint, DiscreteAdjoint
from advdiff_sens.validation import as_real_array, as_times, check_integer, check_positive_scalar

__all__ = ["Posterior", "Linearisation", "VelocityPosterior", "stacked_tangent",
           "DEFAULT_PRIOR_STD", "SPEED_BOUND_FACTOR"]

#: Prior sd scale :math:`s_0` when ``prior_std`` is None: unit velocity sd per mode for
#: decay 1.
DEFAULT_PRIOR_STD = 1 / (2 * np.pi)
#: Default :attr:`VelocityPosterior.max_speed`: this many times the prior's rms speed (and,
#: after :func:`advdiff_sens.inference.estimate.estimate_velocity`, the MAP's rms speed if
#: that is larger). Under the prior
#: the squared rms speed is a weighted sum of p ≥ 4 squared normals; with the default
#: spectrum (nearly equal weights) exceeding 3² = 9 times its mean has probability about
#: P(χ²₄ > 36) = 3e-7, and e⁻⁹ ≈ 1e-4 if a single cos/sin pair dominated. It is a guard
#: against runaway HMC trajectories, not a constraint the posterior should feel; a bound that
#: is hit shows as divergences in :meth:`advdiff_sens.sampling.SamplerResult.diagnostics`.
SPEED_BOUND_FACTOR = 3.0


def stacked_tangent(model: AdvectionDiffusion, u: np.ndarray, theta0: np.ndarray,
                    directions: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""θ(t_j) and the exact tangents (4.5) ρ_i(t_j) = ∂θ(t_j)/∂u[v_i] for p directions in one
    solve (the arrow system of :func:`advdiff_sens.matrix.expm_frechet_actions`, through
    :meth:`AdvectionDiffusion.tangent`).

    Parameters
    ----------
    model : AdvectionDiffusion
    u : ndarray ``(ndim, *grid.shape)``
        Velocity at which θ is differentiated.
    theta0 : ndarray, grid.shape
        Initial scalar field.
    directions : ndarray ``(p, ndim, *grid.shape)``
        Velocity directions :math:`v_i`.
    times : ndarray (k,)
        Strictly increasing times.

    Returns
    -------
    theta : ndarray (k, n)
    rho : ndarray (p, k, n)

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import AdvectionDiffusion, Grid
    >>> from advdiff_sens.inference import StreamFunctionBasis
    >>> grid = Grid((8, 8))
    >>> model = AdvectionDiffusion(grid, 0.05, "exponential", backend="scipy")
    >>> basis = StreamFunctionBasis(grid, kmax=1)
    >>> directions = np.stack([basis.to_velocity(e) for e in np.eye(basis.n_params)])
    >>> u, theta0, times = directions[0], np.cos(2 * np.pi * grid.coords[0]), np.array([0.1, 0.2])
    >>> theta, rho = stacked_tangent(model, u, theta0, directions, times)
    >>> theta.shape, rho.shape
    ((2, 64), (4, 2, 64))
    >>> bool(np.allclose(theta, model.solve(u, theta0, times).reshape(2, -1)))
    True
    >>> bool(np.allclose(rho[2], model.tangent(u, theta0, directions[2], times).reshape(2, -1)))
    True
    """
    rho, theta = model.tangent(u, theta0, directions, times, with_solution=True)
    n = model.grid.n
    return theta.reshape(len(times), n), rho.reshape(len(directions), len(times), n)


class Posterior:
    r"""The posterior of a :class:`~advdiff_sens.inference.spaces.ParameterSpace`'s unknowns
    given observations of the scalar (module docstring).

    Parameters
    ----------
    model : AdvectionDiffusion
        The forward model (its κ is used unless the space infers or fixes κ).
    space : ParameterSpace
        The unknowns and their prior.
    sensors : array_like (m, ndim)
        Sensor coordinates inside the domain (point sensors; without ``observations``).
    times : array_like (k,)
        Strictly increasing observation times > 0.
    data : array_like (k, m)
        Sensor readings (point sensors).
    noise_std : float
        Noise standard deviation σ > 0 (point sensors).
    observations : Observations, optional
        Instead of ``sensors``, ``data`` and ``noise_std``: any observation operator with its
        data (missing entries allowed) and per-datum noise
        (:class:`~advdiff_sens.discretisation.Observations`), one row of data per time.
    gradient : {"auto", "adjoint", "tangent", "surrogate"} or PosteriorGradient
        How :meth:`value_and_gradient` computes :math:`∇Ψ`
        (:mod:`advdiff_sens.inference.gradients`).

    Attributes
    ----------
    prior : GaussianReference
        ``space.prior``.
    observations, objective : Observations
        The same object: the operator, data and noise; the callable misfit. For point
        sensors a :class:`~advdiff_sens.discretisation.LeastSquaresObjective`.
    sensors : ndarray or None
        The sensor positions, ``(m, ndim)`` or (moving) ``(k, m, ndim)``; None unless the
        operator is :class:`~advdiff_sens.discretisation.PointSensors`.
    data : ndarray (k, m)
        The data, NaN where missing.
    noise_std : float or ndarray (k, m)
        σ (per datum when the observations have one per datum).
    gradient : PosteriorGradient

    Examples
    --------
    A nodal stream function (p = n = 256) under a bi-Laplacian prior:

    >>> import numpy as np
    >>> from advdiff_sens import AdvectionDiffusion, Grid
    >>> from advdiff_sens.inference import (GaussianRandomField, NodalStreamFunction,
    ...                                     ParameterSpace, Posterior)
    >>> grid = Grid((16, 16))
    >>> model = AdvectionDiffusion(grid, 0.05, "exponential")
    >>> space = ParameterSpace(grid, flow=NodalStreamFunction(grid),
    ...                        flow_prior=GaussianRandomField(grid, 0.05, 0.3),
    ...                        theta0=np.cos(2 * np.pi * grid.coords[0]))
    >>> post = Posterior(model, space, [[0.25, 0.5], [0.75, 0.5]], [0.1, 0.2], np.zeros((2, 2)),
    ...                  0.01)
    >>> value, grad = post.value_and_gradient(np.zeros(post.n_params))
    >>> post.n_params, grad.shape, post.n_data
    (256, (256,), 4)

    The same unknowns seen as 4 × 4 cell-averaged images with a missing pixel at the second
    time and a noise sd per pixel (:class:`~advdiff_sens.discretisation.Observations`):

    >>> from advdiff_sens.discretisation import GriddedSnapshots, Observations
    >>> centres = np.array([0.125, 0.375, 0.625, 0.875])
    >>> images = GriddedSnapshots(grid, (centres, centres), "cell_average")
    >>> data = np.zeros((2, 4, 4))
    >>> data[1, 0, 0] = np.nan
    >>> obs = Observations(images, data, noise_std=np.full((4, 4), 0.01))
    >>> post = Posterior(model, space, times=[0.1, 0.2], observations=obs)
    >>> post.n_data, post.residuals(np.zeros(post.n_params)).shape      # 31 + p
    (31, (287,))
    """

    def __init__(self, model: AdvectionDiffusion, space: ParameterSpace, sensors=None,
                 times=None, data=None, noise_std=None, *,
                 observations: Observations | None = None,
                 gradient: str | PosteriorGradient = "auto") -> None:
        if not isinstance(model, AdvectionDiffusion):
            raise TypeError(f"model must be an AdvectionDiffusion, got {type(model).__name__}")
        if not isinstance(space, ParameterSpace) or space.grid is not model.grid:
            raise TypeError("space must be a ParameterSpace on model.grid")
        self.model, self.space = model, space
        if times is None:
            raise TypeError("times is required (one observation time per row of data)")
        self.times = as_times(times, "times")[0]
        if self.times[0] <= 0:
            raise ValueError(f"times must be > 0, got first time {self.times[0]}")
        if observations is None:
            if sensors is None or data is None or noise_std is None:
                raise TypeError("give sensors, data and noise_std (point sensors) or "
                                "observations=")
            data = as_real_array(data, "data", ndim=2)
            if data.shape[0] != self.times.size:
                raise ValueError(f"data must have one row per time: shape ({self.times.size}, "
                                 f"n_sensors), got {data.shape}")
            observations = LeastSquaresObjective(model.grid, sensors, data, noise_std)
        else:
            if sensors is not None or data is not None or noise_std is not None:
                raise TypeError("with observations=, sensors, data and noise_std are theirs: "
                                "do not pass them")
            if not isinstance(observations, Observations):
                raise TypeError(f"observations must be an Observations, got "
                                f"{type(observations).__name__}")
            grid, mine = observations.grid, model.grid
            if (grid.shape, grid.extent, grid.bc) != (mine.shape, mine.extent, mine.bc):
                raise ValueError(f"observations are on {grid!r}, the model on {mine!r}")
            if observations.n_times != self.times.size:
                raise ValueError(f"observations have {observations.n_times} time(s) of data, "
                                 f"times has {self.times.size}")
        self._observe(observations)
        self.gradient = GRADIENTS.resolve(gradient, "gradient")
        self._last_value: tuple[np.ndarray, float] | None = None

    def _observe(self, observations: Observations) -> None:
        """Set :attr:`observations` and the attributes read from it."""
        self.observations = self.objective = observations
        operator = observations.operator
        self.sensors = operator.positions if isinstance(operator, PointSensors) else None
        self.data, self.noise_std = observations.data, observations.noise_std

    @property
    def prior(self):
        """The prior :math:`N(m, C)` (``space.prior``)."""
        return self.space.prior

    @property
    def n_params(self) -> int:
        """Number of coefficients p."""
        return self.space.n_params

    @property
    def n_data(self) -> int:
        """Number N of observed scalar data (k·m for complete data; the expected 2Φ at the
        truth)."""
        return self.observations.n_data

    def _coefficients(self, c) -> np.ndarray:
        return as_real_array(c, "c", shape=(self.n_params,))

    def truncated(self, n_times: int) -> Posterior:
        """The same posterior given only the first ``n_times`` observation times."""
        n_times = check_integer(n_times, "n_times", minimum=1)
        if n_times > self.times.size:
            raise ValueError(f"n_times must be <= {self.times.size}, got {n_times}")
        out = copy.copy(self)
        out.times = self.times[:n_times]
        out._observe(self.observations.truncated(n_times))
        out._last_value = None
        return out

    def inputs(self, c) -> ModelInputs:
        """Velocity, initial condition and κ of coefficients ``c``."""
        return self.space.inputs(self._coefficients(c), self.model.kappa)

    def model_at(self, inputs: ModelInputs) -> AdvectionDiffusion:
        """The model with the diffusivity of ``inputs``."""
        return self.model.with_kappa(inputs.kappa)

    def solve(self, c) -> np.ndarray:
        """:math:`θ(t_j; c)` at the observation times, shape ``(k, *grid.shape)``."""
        inputs = self.inputs(c)
        return self.model_at(inputs).solve(inputs.velocity, inputs.theta0, self.times)

    def predict(self, c) -> np.ndarray:
        """Noise-free readings :math:`H_jθ(t_j; c)` of every entry, shape ``(k, m)``."""
        return self.observations.predict(self.solve(c))

    def misfit(self, c) -> float:
        """Data misfit :math:`Φ(c)` (the negative log-likelihood up to a constant)."""
        return self.observations.misfit(self.solve(c))

    def log_likelihood(self, c) -> float:
        """:math:`−Φ(c)`, the log-likelihood pCN needs."""
        return -self.misfit(c)

    def prior_term(self, c) -> tuple[float, np.ndarray]:
        r"""The prior's part of :math:`Ψ` and of its gradient:
        :math:`\tfrac12|C^{-1/2}(c − m)|^2` and :math:`C^{-1}(c − m)`."""
        c = self._coefficients(c)
        z = self.prior.whiten(c)
        return 0.5 * float(z @ z), self.prior.unwhiten_transpose(z)

    def neg_log_posterior(self, c) -> float:
        """:math:`Ψ(c) = Φ(c) + \\tfrac12|C^{-1/2}(c − m)|^2` (up to an additive constant).

        Reuses the exact value :meth:`value_and_gradient` computed at the same ``c``.
        """
        c = self._coefficients(c)
        last = self._last_value                # read once: chains may run on threads
        if last is not None and np.array_equal(c, last[0]):
            return last[1]
        return self.misfit(c) + self.prior_term(c)[0]

    def log_density(self, c) -> float:
        """Unnormalised log-posterior :math:`−Ψ(c)`."""
        return -self.neg_log_posterior(c)

    def value_and_gradient(self, c, gradient: str | PosteriorGradient | None = None
                           ) -> tuple[float, np.ndarray]:
        r""":math:`Ψ(c)` and :math:`∇Ψ(c) = ∇_cΦ + C^{-1}(c − m)`.

        Parameters
        ----------
        c : array_like (p,)
        gradient : {"auto", "adjoint", "tangent", "surrogate"} or PosteriorGradient, optional
            How :math:`∇_cΦ` is computed (:mod:`advdiff_sens.inference.gradients`); default
            :attr:`gradient`. ``"surrogate"`` is the first-order surrogate (1.6) and is
            approximate in the flow block.
        """
        c = self._coefficients(c)
        strategy = self.gradient if gradient is None else GRADIENTS.resolve(gradient, "gradient")
        value, grad = strategy.value_and_gradient(self, c)
        self._last_value = (c.copy(), value)     # exact for every strategy (θ from the solve)
        return value, grad

    def _pulled_back_adjoint(self, c: np.ndarray, objective, adjoint) -> tuple[float, np.ndarray]:
        """``objective``'s value and coefficient gradient (no prior) by the model's adjoint."""
        inputs = self.inputs(c)
        result = model_gradient(self.model_at(inputs), inputs.velocity, inputs.theta0,
                                objective, self.times, adjoint,
                                with_theta0=self.space.infers("theta0"),
                                with_kappa=self.space.infers("log_kappa"))
        return result.value, self.space.pullback(c, result.gradient, result.theta0_gradient,
                                                 result.kappa_gradient)

    def adjoint_value_and_gradient(self, c, adjoint="auto") -> tuple[float, np.ndarray]:
        r""":math:`Ψ(c)` and :math:`∇Ψ(c)` with :math:`∇_cΦ` from one sweep of the model's
        ``adjoint`` (:mod:`advdiff_sens.sensitivity`), pulled back by the space."""
        c = self._coefficients(c)
        value, grad = self._pulled_back_adjoint(c, self.objective, adjoint)
        prior_value, prior_grad = self.prior_term(c)
        return value + prior_value, grad + prior_grad

    def linearised_solve(self, c, dc) -> np.ndarray:
        r"""The tangent :math:`δθ(t_j) = ∂θ(t_j; c)/∂c\,[δc]`, shape ``(k, *grid.shape)``: the
        arrow system for the velocity and κ parts, one forward solve for the θ0 part."""
        c = self._coefficients(c)
        inputs = self.inputs(c)
        model = self.model_at(inputs)
        du, dtheta0, dkappa = self.space.push(c, dc)
        out = np.zeros((self.times.size, *self.model.grid.shape))
        if du is not None or dkappa != 0.0:
            v = np.zeros_like(inputs.velocity) if du is None else du
            out += model.tangent(inputs.velocity, inputs.theta0, v, self.times,
                                 dkappa=dkappa if dkappa != 0.0 else None)
        if dtheta0 is not None:
            out += model.solve(inputs.velocity, dtheta0, self.times)
        return out

    def misfit_and_jacobian(self, c) -> tuple[np.ndarray, np.ndarray]:
        r"""Whitened data residual :math:`r = (Hθ − d)/σ` on the observed entries (N,) and its
        Jacobian :math:`G` (N, p), one :meth:`linearised_solve` per coefficient (for small p)."""
        c = self._coefficients(c)
        residual = self.observations.residual(self.solve(c))
        columns = [self.observations.forward(self.linearised_solve(c, e))
                   for e in np.eye(self.n_params)]
        return residual, np.stack(columns, axis=1)

    def misfit_jacobian(self, c) -> np.ndarray:
        r"""Whitened Jacobian :math:`G = ∂[(Hθ − d)/σ]/∂c`, shape ``(N, p)``."""
        return self.misfit_and_jacobian(c)[1]

    def residuals(self, c) -> np.ndarray:
        r"""Whitened residual vector :math:`[(Hθ − d)/σ;\ C^{-1/2}(c − m)]` of length
        ``N + p`` (N observed data): :math:`Ψ(c) = \tfrac12\|\,\text{residuals}(c)\|^2`."""
        c = self._coefficients(c)
        return np.concatenate([self.observations.residual(self.solve(c)),
                               self.prior.whiten(c)])

    def jacobian(self, c) -> np.ndarray:
        """Jacobian of :meth:`residuals`, shape ``(N + p, p)`` (dense: for small p)."""
        mean = self.prior.mean
        whitening = np.stack([self.prior.whiten(mean + e) for e in np.eye(self.n_params)],
                             axis=1)
        return np.vstack([self.misfit_jacobian(c), whitening])

    def linearise(self, c) -> Linearisation:
        """The :class:`Linearisation` at ``c``: Ψ, Φ, ∇Ψ and the Gauss–Newton Hessian actions."""
        return Linearisation(self, c)


class Linearisation:
    r"""A posterior linearised at a point: :math:`Ψ`, :math:`Φ`, :math:`∇Ψ` there and the
    matrix-free Gauss–Newton Hessian :math:`G^TG + C^{-1}` (module docstring).

    Parameters
    ----------
    posterior : Posterior
    c : array_like (p,)
        The point.

    Attributes
    ----------
    point : ndarray (p,)
    value, misfit, gradient
        :math:`Ψ`, :math:`Φ` and :math:`∇Ψ` at the point, computed on first access (one
        gradient evaluation, shared).
    hessian_products : int
        Gauss–Newton products applied so far.

    Examples
    --------
    The Gauss–Newton Hessian is symmetric:

    >>> import numpy as np
    >>> from advdiff_sens.inference import VelocityPosterior
    >>> from advdiff_sens.problems import make_twin
    >>> twin = make_twin(8, kmax=1, n_sensors=9, times=[0.1, 0.2, 0.3], scheme="exponential",
    ...                  rng=1)
    >>> post = VelocityPosterior(twin.model, twin.theta0, twin.sensors, twin.times, twin.data,
    ...                          twin.noise_std, twin.basis)
    >>> lin = post.linearise(twin.true_coefficients)
    >>> x, y = np.random.default_rng(0).standard_normal((2, 4))
    >>> bool(np.isclose(lin.hessian(x) @ y, x @ lin.hessian(y), rtol=1e-9))
    True
    >>> lin.hessian_products
    2
    """

    def __init__(self, posterior: Posterior, c) -> None:
        self.posterior = posterior
        self.point = posterior._coefficients(c).copy()
        self.hessian_products = 0
        self._value_and_gradient: tuple[float, np.ndarray] | None = None
        # every product's adjoint runs at this point: record the forward propagation once
        self._adjoint = AutoAdjoint(preferred=DiscreteAdjoint(reuse_tape=True))

    def _evaluated(self) -> tuple[float, np.ndarray]:
        """Ψ and ∇Ψ at the point, computed on first use (one gradient evaluation)."""
        if self._value_and_gradient is None:
            self._value_and_gradient = self.posterior.value_and_gradient(self.point)
        return self._value_and_gradient

    @property
    def value(self) -> float:
        """:math:`Ψ` at the point."""
        return self._evaluated()[0]

    @property
    def gradient(self) -> np.ndarray:
        """:math:`∇Ψ` at the point (the posterior's gradient strategy)."""
        return self._evaluated()[1]

    @property
    def misfit(self) -> float:
        """:math:`Φ` at the point."""
        return self.value - self.posterior.prior_term(self.point)[0]

    def misfit_hessian(self, v) -> np.ndarray:
        r""":math:`G^TGv`: the tangent :math:`δθ[v]`, then the adjoint of the linear functional
        :math:`θ ↦ (Gv)^T(H_jθ_j/σ_{js})_{(j,s)∈O}` at the point (the discrete adjoint's
        forward recording is made once and reused by every product:
        ``DiscreteAdjoint(reuse_tape=True)``)."""
        post = self.posterior
        v = as_real_array(v, "v", shape=(post.n_params,))
        rho = post.linearised_solve(self.point, v)
        weight = post.observations.adjoint(post.observations.forward(rho))

        def linearised(theta):
            return float(np.sum(weight * theta)), weight

        self.hessian_products += 1
        return post._pulled_back_adjoint(self.point, linearised, self._adjoint)[1]

    def hessian(self, v) -> np.ndarray:
        """:math:`(G^TG + C^{-1})v`."""
        v = as_real_array(v, "v", shape=(self.posterior.n_params,))
        return self.misfit_hessian(v) + self.posterior.prior.precision(v)


def _coefficient_prior_std(basis: StreamFunctionBasis, prior_std) -> np.ndarray:
    """Per-coefficient prior sd: ``prior_std·|k|^-decay`` (scalar or None) or an explicit (p,) array."""
    if prior_std is None:
        return DEFAULT_PRIOR_STD * basis.prior_scale
    if np.ndim(prior_std) == 0:
        return check_positive_scalar(prior_std, "prior_std") * basis.prior_scale
    s = as_real_array(prior_std, "prior_std", shape=(basis.n_params,))
    if np.any(s <= 0):
        raise ValueError("prior_std must be > 0 for every coefficient")
    return s


class VelocityPosterior(Posterior):
    r"""The posterior of the stream-function coefficients given point-sensor data.

    Parameters
    ----------
    model : AdvectionDiffusion
        On a 2-D grid, periodic or walled (the basis picks its modes from the grid).
    theta0 : array_like, grid.shape
        Known initial scalar field.
    sensors : array_like (m, 2)
        Sensor coordinates inside the domain.
    times : array_like (k,)
        Strictly increasing observation times > 0.
    data : array_like (k, m)
        Sensor readings.
    noise_std : float
        Noise standard deviation σ > 0.
    basis : StreamFunctionBasis
    prior_std : None, float or array_like (p,)
        See :func:`estimate_velocity`.
    max_speed : float, optional
        Bound on the rms speed for :meth:`in_bounds`; default :data:`SPEED_BOUND_FACTOR`
        times :attr:`prior_rms_speed`.
    gradient : {"auto", "adjoint", "tangent", "surrogate"} or PosteriorGradient
        How :meth:`value_and_gradient` computes :math:`∇Ψ`
        (:mod:`advdiff_sens.inference.gradients`, :data:`~advdiff_sens.inference.gradients.GRADIENTS`).

    Attributes
    ----------
    directions : ndarray ``(p, 2, *grid.shape)``
        The basis velocity fields :math:`Bε_i`, one per coefficient.
    gradient : PosteriorGradient

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens import AdvectionDiffusion, Grid
    >>> from advdiff_sens.inference import StreamFunctionBasis, VelocityPosterior
    >>> grid = Grid((8, 8), (1.0, 1.0), "periodic")
    >>> model = AdvectionDiffusion(grid, 0.05, "exponential", backend="scipy")
    >>> theta0 = 0.5 - 0.25 * np.cos(2 * np.pi * grid.coords[0])
    >>> post = VelocityPosterior(model, theta0, [[0.25, 0.5], [0.75, 0.5]], [0.1, 0.2],
    ...                          np.zeros((2, 2)), 0.01, StreamFunctionBasis(grid, 1))
    >>> post.n_params, post.gradient
    (4, AutoGradient(max_tangent_params=48))
    >>> value, grad = post.value_and_gradient(np.zeros(4))
    >>> grad.shape
    (4,)
    """

    def __init__(self, model: AdvectionDiffusion, theta0, sensors, times, data, noise_std,
                 basis: StreamFunctionBasis, prior_std=None, max_speed: float | None = None,
                 gradient: str | PosteriorGradient = "auto") -> None:
        if not isinstance(model, AdvectionDiffusion):
            raise TypeError(f"model must be an AdvectionDiffusion, got {type(model).__name__}")
        if not isinstance(basis, StreamFunctionBasis) or basis.grid is not model.grid:
            raise TypeError("basis must be a StreamFunctionBasis on model.grid")
        self.basis = basis
        self.prior_std = _coefficient_prior_std(basis, prior_std)
        space = ParameterSpace(model.grid, flow=basis,
                               flow_prior=DiagonalGaussian(np.zeros(basis.n_params),
                                                           self.prior_std),
                               theta0=theta0)
        super().__init__(model, space, sensors, times, data, noise_std, gradient=gradient)
        self.theta0 = space.theta0
        self.directions = np.stack([basis.to_velocity(e) for e in np.eye(basis.n_params)])
        fields = self.directions.reshape(basis.n_params, -1)
        self._speed_gram = fields @ fields.T / model.grid.n
        self.max_speed = (SPEED_BOUND_FACTOR * self.prior_rms_speed if max_speed is None
                          else max_speed)

    @property
    def max_speed(self) -> float:
        """Largest rms speed :meth:`in_bounds` accepts (settable, > 0)."""
        return self._max_speed

    @max_speed.setter
    def max_speed(self, value: float) -> None:
        self._max_speed = check_positive_scalar(value, "max_speed")

    @property
    def prior_rms_speed(self) -> float:
        r"""Prior root-mean-square speed :math:`\sqrt{E[\overline{|\mathbf u|^2}]}
        = \sqrt{\sum_k s_k^2 G_{kk}}`, with :math:`G` the Gram matrix of
        :meth:`rms_speed` (the overline is the mean over the grid nodes)."""
        return float(np.sqrt(np.sum(self.prior_std**2 * np.diag(self._speed_gram))))

    def rms_speed(self, c) -> float:
        r"""Root-mean-square speed of :math:`\mathbf u = Bc` over the grid nodes,
        :math:`\sqrt{c^TGc}` with :math:`G = B^TB/n`."""
        c = self._coefficients(c)
        return float(np.sqrt(max(c @ self._speed_gram @ c, 0.0)))

    def in_bounds(self, c) -> bool:
        """Whether the flow of ``c`` has rms speed ≤ :attr:`max_speed`.

        Pass it as ``in_bounds`` to :meth:`advdiff_sens.sampling.HMC.sample`: a trajectory that
        leaves the bound ends as a divergence before a (slow) solve at the wild flow starts.
        """
        return self.rms_speed(c) <= self.max_speed

    def velocity(self, c) -> np.ndarray:
        """Velocity field :math:`Bc`, shape ``(2, *grid.shape)``."""
        return self.basis.to_velocity(c)

    def misfit_and_jacobian(self, c) -> tuple[np.ndarray, np.ndarray]:
        r"""Whitened data residual :math:`r = (Hθ − d)/σ` (N,) and its Jacobian
        :math:`G` (N, p), from one stacked tangent solve (:func:`stacked_tangent`)."""
        c = self._coefficients(c)
        theta, rho = stacked_tangent(self.model, self.velocity(c), self.theta0,
                                     self.directions, self.times)
        residual = self.observations.residual(theta)
        return residual, np.stack([self.observations.forward(r) for r in rho], axis=-1)

    def gauss_newton_hvp(self, c, v) -> np.ndarray:
        r"""Gauss–Newton Hessian-vector product :math:`(G^TG + S^{-2})v`
        (:meth:`Linearisation.hessian`: one tangent solve, one adjoint)."""
        return self.linearise(c).hessian(v)

    def gauss_newton_hessian(self, c) -> np.ndarray:
        """Dense Gauss–Newton Hessian :math:`G^TG + S^{-2}` (p tangent solves)."""
        G = self.misfit_jacobian(c)
        return G.T @ G + np.diag(1.0 / self.prior_std**2)

    def laplace_covariance(self, c) -> np.ndarray:
        """Laplace covariance :math:`(G^TG + S^{-2})^{-1}` at ``c`` (meant for the MAP)."""
        return np.linalg.inv(self.gauss_newton_hessian(c))

