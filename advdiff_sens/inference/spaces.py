r"""Parameter spaces: which inputs of the model are unknown, how a coefficient vector maps to
them, and the chain rule back.

A :class:`ParameterSpace` stacks up to three blocks, each with its prior (a
:class:`~advdiff_sens.sampling.GaussianReference`):

* ``flow`` — the velocity :math:`\mathbf u = Bc_u` of a linear parameterisation
  (:class:`~advdiff_sens.inference.parameterisations.StreamFunctionBasis`,
  :class:`~advdiff_sens.inference.parameterisations.NodalStreamFunction`, …), or a
  time-varying one, one such parameterisation per time window
  (:class:`~advdiff_sens.inference.temporal.WindowedFlow`, with a
  :class:`~advdiff_sens.inference.temporal.TemporalGaussian` prior);
* ``theta0`` — the initial condition :math:`θ_0 = c_θ` (one value per node);
* ``log_kappa`` — the diffusivity :math:`κ = e^{c_κ}` (one value).

No-flux walls. On a grid with Neumann (no-flux) axes the flow block must be tangential to
the walls for every coefficient vector, or the walls let scalar through
(:mod:`advdiff_sens.discretisation.physics`). The wall-normal velocity on the wall nodes is
linear in the coefficients, :math:`PBc`, so it vanishes for every :math:`c` iff
:math:`B^TP^T = 0`: the space checks this with one pullback of a fixed generic wall vector
:math:`v` (:math:`c^* = B^TP^Tv`; the parameterisation is rejected when the flow
:math:`Bc^*` has :math:`\max|\mathbf u·\mathbf n|` above
:data:`~advdiff_sens.discretisation.physics.WALL_NORMAL_RTOL` times its speed).
:class:`~advdiff_sens.inference.parameterisations.StreamFunctionBasis` and
:class:`~advdiff_sens.inference.parameterisations.NodalStreamFunction` pass on every grid by
construction; :class:`~advdiff_sens.inference.parameterisations.NodalVelocity` and
:class:`~advdiff_sens.inference.parameterisations.UniformVelocity` are rejected on a grid with
Neumann axes. A known ``velocity`` is not checked here: the model warns about it
(:class:`~advdiff_sens.exceptions.PhysicsWarning`) when it builds the generator.

A block that is not inferred is a known input (``velocity``, ``theta0`` or the model's κ).
The model's gradients pull back as

.. math::

    ∇_{c_u}Φ = B^T∇_{\mathbf u}Φ,\qquad ∇_{c_θ}Φ = ∇_{θ_0}Φ = λ(0),\qquad
    ∂Φ/∂c_κ = κ\,∂Φ/∂κ,

all from one adjoint sweep (:meth:`advdiff_sens.AdvectionDiffusion.gradient` with
``with_theta0`` and ``with_kappa``), and a direction :math:`δc` pushes forward to
:math:`(Bδc_u,\ δc_θ,\ κδc_κ)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.physics import WALL_NORMAL_RTOL, wall_normal_velocity
from advdiff_sens.inference.priors import BlockGaussian
from advdiff_sens.inference.temporal import WindowedFlow
from advdiff_sens.sampling.reference import GaussianReference
from advdiff_sens.validation import as_real_array

__all__ = ["ParameterSpace", "ModelInputs", "BLOCKS"]

#: The blocks of a :class:`ParameterSpace`, in the order of the coefficient vector.
BLOCKS = ("flow", "theta0", "log_kappa")
# Seed of the fixed generic wall vector of the no-flux check (module docstring).
_WALL_PROBE_SEED = 20150


def _check_no_flux(grid: Grid, flow) -> None:
    """Raise if the flow parameterisation can cross a Neumann wall (module docstring)."""
    axes = [a for a, bc in enumerate(grid.bc) if bc == "neumann"]
    if not axes:
        return
    probe = np.random.default_rng(_WALL_PROBE_SEED).standard_normal((grid.ndim, *grid.shape))
    on_walls = np.zeros_like(probe)
    for a in axes:
        index = [slice(None)] * (grid.ndim + 1)
        index[0] = a
        for end in (0, -1):
            index[a + 1] = end
            on_walls[tuple(index)] = probe[tuple(index)]
    direction = np.asarray(flow.pullback(on_walls), dtype=float)
    if not np.any(direction):
        return
    u = flow.to_velocity(direction)
    speed = float(np.sqrt((u**2).sum(axis=0)).max())
    normal = wall_normal_velocity(grid, u)
    if normal > WALL_NORMAL_RTOL * speed:
        raise ValueError(
            f"flow {type(flow).__name__} can cross the no-flux (Neumann) walls: its flows have "
            f"a normal component on the walls (max |u·n| = {100 * normal / speed:.3g} % of "
            "max|u| for the probe direction), which lets scalar through them — use "
            "StreamFunctionBasis or NodalStreamFunction (tangential to the walls by "
            "construction), or bc='dirichlet' on that axis if the wall is meant to absorb")


class ModelInputs(NamedTuple):
    """What the model is run with: velocity ``(ndim, *grid.shape)``, initial field
    ``grid.shape`` and diffusivity.

    Examples
    --------
    >>> inputs = ModelInputs(np.zeros((2, 4, 4)), np.ones((4, 4)), 0.05)
    >>> inputs.kappa, inputs.velocity.shape
    (0.05, (2, 4, 4))
    """

    velocity: np.ndarray
    theta0: np.ndarray
    kappa: float


class ParameterSpace:
    r"""The unknowns of an estimation and their prior (module docstring).

    Parameters
    ----------
    grid : Grid
    flow : parameterisation, optional
        A linear velocity parameterisation on ``grid`` (``to_velocity``, ``pullback``,
        ``n_params``); with ``flow_prior``. Without it the velocity is known: ``velocity``.
        On a grid with Neumann axes it must be tangential to the walls (module docstring;
        otherwise ValueError).
    flow_prior : GaussianReference, optional
        Prior of the flow coefficients (dimension ``flow.n_params``).
    theta0_prior : GaussianReference, optional
        Prior of an unknown initial condition (dimension ``grid.n``, e.g. a
        :class:`~advdiff_sens.inference.priors.GaussianRandomField` around the first
        snapshot). Without it the initial condition is known: ``theta0``.
    log_kappa_prior : GaussianReference, optional
        Prior of :math:`\log κ` (dimension 1, e.g. ``DiagonalGaussian([np.log(0.05)], 0.5)``,
        a log-normal prior on κ). Without it κ is known: ``kappa``.
    velocity : array_like, optional
        The known velocity when there is no ``flow``.
    theta0 : array_like, optional
        The known initial condition when there is no ``theta0_prior``.
    kappa : float, optional
        The known diffusivity when there is no ``log_kappa_prior`` (the posterior's model's κ
        when None).

    Attributes
    ----------
    n_params : int
    prior : BlockGaussian
        The joint prior, block by block in the order of :data:`BLOCKS`.
    unknowns : tuple of str
        The inferred blocks.
    slices : dict
        Block name → slice of the coefficient vector.

    Examples
    --------
    Flow (12 Fourier coefficients) and log κ unknown, θ0 known:

    >>> import numpy as np
    >>> from advdiff_sens import Grid
    >>> from advdiff_sens.inference import StreamFunctionBasis, spectral_prior
    >>> from advdiff_sens.sampling import DiagonalGaussian
    >>> grid = Grid((16, 16))
    >>> basis = StreamFunctionBasis(grid, kmax=2)
    >>> space = ParameterSpace(grid, flow=basis, flow_prior=spectral_prior(basis),
    ...                        log_kappa_prior=DiagonalGaussian([np.log(0.05)], 0.5),
    ...                        theta0=np.cos(2 * np.pi * grid.coords[0]))
    >>> space.unknowns, space.n_params
    (('flow', 'log_kappa'), 13)
    >>> inputs = space.inputs(space.prior.mean)
    >>> inputs.velocity.shape, round(inputs.kappa, 3)
    ((2, 16, 16), 0.05)

    On a channel with no-flux walls at y = 0 and 1 a nodal velocity could cross them and is
    rejected; the nodal stream function cannot:

    >>> from advdiff_sens.inference import (GaussianRandomField, NodalStreamFunction,
    ...                                     NodalVelocity)
    >>> channel = Grid((16, 17), bc=("periodic", "neumann"))
    >>> ParameterSpace(channel, flow=NodalVelocity(channel),
    ...                flow_prior=DiagonalGaussian(np.zeros(2 * channel.n), 1.0),
    ...                theta0=np.zeros(channel.shape))     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: flow NodalVelocity can cross the no-flux (Neumann) walls: ...
    >>> psi = NodalStreamFunction(channel)
    >>> ParameterSpace(channel, flow=psi, flow_prior=GaussianRandomField(psi.free_grid, 0.05, 0.3),
    ...                theta0=np.zeros(channel.shape)).n_params
    240
    """

    def __init__(self, grid: Grid, *, flow=None, flow_prior: GaussianReference | None = None,
                 theta0_prior: GaussianReference | None = None,
                 log_kappa_prior: GaussianReference | None = None, velocity=None,
                 theta0=None, kappa: float | None = None) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an advdiff_sens.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.flow = flow
        blocks: dict[str, GaussianReference] = {}
        if flow is not None:
            if getattr(flow, "grid", None) is not grid:
                raise ValueError("flow must be a parameterisation on this grid")
            _check_no_flux(grid, flow.spatial if isinstance(flow, WindowedFlow) else flow)
            blocks["flow"] = self._check_prior(flow_prior, "flow_prior", flow.n_params)
            if velocity is not None:
                raise ValueError("give either flow (unknown velocity) or velocity (known), "
                                 "not both")
        else:
            if flow_prior is not None:
                raise ValueError("flow_prior needs a flow parameterisation")
            if velocity is None:
                raise ValueError("the velocity is neither inferred (flow=...) nor known "
                                 "(velocity=...)")
            self.velocity = grid.check_velocity(velocity, "velocity").copy()
        if theta0_prior is not None:
            blocks["theta0"] = self._check_prior(theta0_prior, "theta0_prior", grid.n)
            if theta0 is not None:
                raise ValueError("give either theta0_prior (unknown θ0) or theta0 (known), "
                                 "not both")
        else:
            if theta0 is None:
                raise ValueError("the initial condition is neither inferred (theta0_prior=...) "
                                 "nor known (theta0=...)")
            self.theta0 = grid.check_field(theta0, "theta0").copy()
        if log_kappa_prior is not None:
            blocks["log_kappa"] = self._check_prior(log_kappa_prior, "log_kappa_prior", 1)
            if kappa is not None:
                raise ValueError("give either log_kappa_prior (unknown κ) or kappa (known), "
                                 "not both")
        self.kappa = kappa
        if not blocks:
            raise ValueError("nothing is unknown: give flow, theta0_prior or log_kappa_prior")
        self.unknowns = tuple(blocks)
        self.prior = BlockGaussian(list(blocks.values()))
        self.slices = dict(zip(self.unknowns, self.prior.slices))
        self.n_params = self.prior.dim

    @staticmethod
    def _check_prior(prior, name: str, dim: int) -> GaussianReference:
        if not isinstance(prior, GaussianReference):
            raise TypeError(f"{name} must be a GaussianReference (advdiff_sens.sampling), got "
                            f"{type(prior).__name__}")
        if prior.dim != dim:
            raise ValueError(f"{name} must have dimension {dim}, got {prior.dim}")
        return prior

    def __repr__(self) -> str:
        return f"ParameterSpace(unknowns={self.unknowns}, n_params={self.n_params})"

    def infers(self, block: str) -> bool:
        """Whether ``block`` (one of :data:`BLOCKS`) is unknown."""
        return block in self.slices

    def _coefficients(self, c) -> np.ndarray:
        return as_real_array(c, "c", shape=(self.n_params,))

    def block(self, c, name: str) -> np.ndarray:
        """The coefficients of block ``name``."""
        return self._coefficients(c)[self.slices[name]]

    def inputs(self, c, model_kappa: float | None = None) -> ModelInputs:
        """The model inputs of coefficients ``c`` (κ falls back to ``model_kappa`` when it is
        neither inferred nor given)."""
        c = self._coefficients(c)
        u = (self.flow.to_velocity(c[self.slices["flow"]]) if self.infers("flow")
             else self.velocity)
        theta0 = (c[self.slices["theta0"]].reshape(self.grid.shape) if self.infers("theta0")
                  else self.theta0)
        if self.infers("log_kappa"):
            log_kappa = float(c[self.slices["log_kappa"]][0])
            if not np.isfinite(np.exp(log_kappa)) or np.exp(log_kappa) <= 0:
                raise ValueError(f"log κ = {log_kappa} gives no usable diffusivity")
            kappa = float(np.exp(log_kappa))
        else:
            kappa = self.kappa if self.kappa is not None else model_kappa
        return ModelInputs(u, theta0, kappa)

    def pullback(self, c, grad_u, grad_theta0, grad_kappa) -> np.ndarray:
        r"""The coefficient gradient from the model's gradients (module docstring); the blocks
        that are not inferred ignore theirs (which may be None)."""
        c = self._coefficients(c)
        out = np.empty(self.n_params)
        if self.infers("flow"):
            out[self.slices["flow"]] = self.flow.pullback(grad_u)
        if self.infers("theta0"):
            out[self.slices["theta0"]] = np.asarray(grad_theta0).ravel()
        if self.infers("log_kappa"):
            out[self.slices["log_kappa"]] = np.exp(c[self.slices["log_kappa"]]) * grad_kappa
        return out

    def push(self, c, dc) -> tuple[np.ndarray | None, np.ndarray | None, float]:
        r"""The input direction :math:`(δ\mathbf u, δθ_0, δκ)` of a coefficient direction
        ``dc`` at ``c`` (None for a block that is not inferred; δκ = 0 then)."""
        c, dc = self._coefficients(c), as_real_array(dc, "dc", shape=(self.n_params,))
        du = self.flow.to_velocity(dc[self.slices["flow"]]) if self.infers("flow") else None
        dtheta0 = (dc[self.slices["theta0"]].reshape(self.grid.shape)
                   if self.infers("theta0") else None)
        dkappa = (float(np.exp(c[self.slices["log_kappa"]][0]) * dc[self.slices["log_kappa"]][0])
                  if self.infers("log_kappa") else 0.0)
        return du, dtheta0, dkappa
