r"""What a sweep computes for each case: task objects with ``run(context, case, rng)``.

Each task reads the case parameters it knows (every one optional) and returns named arrays:

``amplitude``
    The velocity is ``amplitude`` times the problem's (default 1).
``kappa``
    The diffusivity (default the problem's).
``t``
    The final time (default the problem's ``T``).

:class:`SolveTask` returns θ(t); :class:`TangentTask` the sensitivity ρ(t) = ∂θ(t)/∂u[v] to
a direction ``v`` — the divergence-free Fourier mode
:math:`v = 2π\cos(2π(k_x x + k_y y))\,(k_y, −k_x)` of the stream function
:math:`ψ = \sin(2π(k_x x + k_y y))` when the case gives ``kx``, ``ky``, else a standard
normal nodal field drawn from the case's rng — with an optional κ change ``dkappa``;
:class:`GradientTask` a twin experiment: data :math:`d = θ_{\rm true}(t) + σε`,
:math:`ε \sim N(0, I)` from the case's rng (``noise_std`` σ, the truth the problem's flow
times ``truth_amplitude``), and the adjoint gradient of
:math:`Φ(\mathbf u) = \tfrac1{2σ^2}\|θ(t; \mathbf u) − d\|^2` at the case's flow.
:class:`ChainTask` runs one HMC chain per case on the posterior of one scalar of a twin
experiment (the flow's amplitude, or the released mass: θ0 scaled), all cases sharing one
data set, so the cases are independent chains of one posterior.
A task is any picklable object with ``run``, ``name`` and ``describe()``; a sweep checks that
every returned array is finite.
"""

from __future__ import annotations

import numpy as np

from advdiff_sens.ensemble.cases import Case
from advdiff_sens.ensemble.contexts import ProblemContext
from advdiff_sens.registry import Registry
from advdiff_sens.sampling import HMC
from advdiff_sens.sensitivity import ADJOINTS
from advdiff_sens.validation import check_integer, check_positive_scalar

__all__ = ["Task", "SolveTask", "TangentTask", "GradientTask", "ChainTask", "TASKS",
           "mode_direction"]


class Task:
    """Base class of the tasks a sweep maps over its cases.

    Subclasses set ``name`` and implement ``run(context, case, rng) -> dict`` of arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Task, Case, ProblemContext
    >>> class Mass(Task):
    ...     name = "mass"
    ...     def run(self, context, case, rng):
    ...         return {"mass": np.array(context.problem.theta0.sum())}
    >>> Mass().describe()
    {'name': 'mass', 'options': {}}
    """

    name = "task"

    def run(self, context: ProblemContext, case: Case, rng: np.random.Generator) -> dict:
        """The arrays of ``case`` (names → arrays)."""
        raise NotImplementedError

    def options(self) -> dict:
        """The task's options (for the manifest)."""
        return {}

    def describe(self) -> dict:
        """Name and options, as the manifest records them."""
        return {"name": self.name, "options": self.options()}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({options})"


#: The tasks by name (``advdiff-sens sweep``'s ``[task] kind``).
TASKS: Registry[Task] = Registry("ensemble task", Task)


def _setting(context: ProblemContext, case: Case):
    """The case's model, velocity, θ0 and final time."""
    problem = context.problem
    kappa = case.get("kappa")
    kappa = None if kappa is None else check_positive_scalar(kappa, f"case {case.id}: kappa")
    amplitude = float(case.get("amplitude", 1.0))
    t = check_positive_scalar(case.get("t", problem.T), f"case {case.id}: t")
    return context.model(kappa), amplitude * problem.u, problem.theta0, t


@TASKS.register("solve")
class SolveTask(Task):
    """θ(t) of each case (result ``theta``).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Case, ProblemContext, SolveTask
    >>> context = ProblemContext(n=8, progress=False)
    >>> out = SolveTask().run(context, Case("a", 0, {"t": 0.1}), np.random.default_rng(0))
    >>> out["theta"].shape
    (8, 8)
    """

    name = "solve"

    def run(self, context, case, rng) -> dict:
        model, u, theta0, t = _setting(context, case)
        return {"theta": model.solve(u, theta0, t)}


def mode_direction(grid, kx: int, ky: int) -> np.ndarray:
    r"""The divergence-free direction :math:`v = 2π\cos(2π(k_x x + k_y y))(k_y, −k_x)`, the
    perpendicular gradient :math:`(∂_yψ, −∂_xψ)` of :math:`ψ = \sin(2π(k_x x + k_y y))`.

    Examples
    --------
    >>> import advdiff_sens as ads
    >>> from advdiff_sens.ensemble.tasks import mode_direction
    >>> v = mode_direction(ads.Grid(shape=(8, 8), bc="periodic"), 1, 0)
    >>> v.shape, float(abs(v[0]).max()), float(v[1, 0, 0])
    ((2, 8, 8), 0.0, -6.283185307179586)
    """
    x, y = grid.coords
    phase = np.cos(2 * np.pi * (kx * x + ky * y))
    return 2 * np.pi * phase * np.stack([ky * np.ones_like(x), -kx * np.ones_like(x)])


@TASKS.register("tangent")
class TangentTask(Task):
    """ρ(t) = ∂θ(t)/∂u[v] and θ(t) of each case (results ``rho``, ``theta``; the direction
    ``v`` too, as ``direction``).

    The direction is the Fourier mode (``kx``, ``ky``) of the case, or a standard normal
    nodal field from the case's rng; ``dkappa`` adds a change of κ (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Case, ProblemContext, TangentTask
    >>> context = ProblemContext(n=8, progress=False)
    >>> case = Case("a", 0, {"kx": 1, "ky": 0, "t": 0.1})
    >>> sorted(TangentTask().run(context, case, np.random.default_rng(0)))
    ['direction', 'rho', 'theta']
    """

    name = "tangent"

    def run(self, context, case, rng) -> dict:
        model, u, theta0, t = _setting(context, case)
        if case.get("kx") is not None or case.get("ky") is not None:
            v = mode_direction(model.grid, int(case.get("kx", 0)), int(case.get("ky", 0)))
        else:
            v = rng.standard_normal(u.shape)
        dkappa = case.get("dkappa")
        rho, theta = model.tangent(u, theta0, v, t, with_solution=True,
                                   dkappa=None if dkappa is None else float(dkappa))
        return {"rho": rho, "theta": theta, "direction": v}


@TASKS.register("gradient")
class GradientTask(Task):
    r"""A twin experiment per case: noisy data from the true flow and the adjoint gradient
    of the misfit :math:`Φ = \tfrac1{2σ^2}\|θ(t) − d\|^2` at the case's flow (results
    ``value``, ``gradient``, ``data``; ``theta0_gradient``, ``kappa_gradient`` on request).

    Parameters
    ----------
    noise_std : float
        σ > 0 (a case may override it with the parameter ``noise_std``).
    truth_amplitude : float
        The true flow is the problem's times this.
    adjoint : str
        The adjoint method (:meth:`advdiff_sens.AdvectionDiffusion.gradient`).
    with_theta0, with_kappa : bool
        Also return :math:`∂Φ/∂θ_0` and :math:`∂Φ/∂κ`.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Case, GradientTask, ProblemContext
    >>> context = ProblemContext(n=8, progress=False)
    >>> out = GradientTask(noise_std=0.01).run(context, Case("a", 0, {"amplitude": 0.8, "t": 0.1}),
    ...                                        np.random.default_rng(0))
    >>> out["gradient"].shape, out["value"].shape
    ((2, 8, 8), ())
    """

    name = "gradient"

    def __init__(self, noise_std: float = 0.01, truth_amplitude: float = 1.0,
                 adjoint: str = "auto", with_theta0: bool = False,
                 with_kappa: bool = False) -> None:
        self.noise_std = check_positive_scalar(noise_std, "noise_std")
        self.truth_amplitude = float(truth_amplitude)
        if not isinstance(adjoint, str) or adjoint not in ADJOINTS:
            raise ValueError(f"adjoint must be one of {ADJOINTS.names()}, got {adjoint!r}")
        self.adjoint = adjoint
        self.with_theta0, self.with_kappa = bool(with_theta0), bool(with_kappa)

    def options(self) -> dict:
        return {"noise_std": self.noise_std, "truth_amplitude": self.truth_amplitude,
                "adjoint": self.adjoint, "with_theta0": self.with_theta0,
                "with_kappa": self.with_kappa}

    def run(self, context, case, rng) -> dict:
        model, u, theta0, t = _setting(context, case)
        problem = context.problem
        truth = context.memo(("truth", self.truth_amplitude, model.kappa, t),
                             lambda: model.solve(self.truth_amplitude * problem.u, theta0, t))
        sigma = check_positive_scalar(case.get("noise_std", self.noise_std),
                                      f"case {case.id}: noise_std")
        data = truth + sigma * rng.standard_normal(truth.shape)

        def misfit(theta):
            r = (theta - data) / sigma**2
            return 0.5 * float(np.sum((theta - data) * r)), r

        result = model.gradient(u, theta0, misfit, t, adjoint=self.adjoint,
                                with_theta0=self.with_theta0, with_kappa=self.with_kappa)
        out = {"value": np.array(result.value), "gradient": result.gradient, "data": data}
        if self.with_theta0:
            out["theta0_gradient"] = result.theta0_gradient
        if self.with_kappa:
            out["kappa_gradient"] = np.array(result.kappa_gradient)
        return out


@TASKS.register("chain")
class ChainTask(Task):
    r"""One HMC chain per case on the posterior of a scalar :math:`c` of a twin experiment
    (results ``samples``, ``log_density``, ``accept_rate``, ``divergences``).

    The unknown scales the problem's flow (``unknown="amplitude"``: :math:`\mathbf u =
    c\,\mathbf u_{R}`) or its initial condition (``"mass"``: :math:`θ_0 = c\,θ_{0,R}`).
    The data :math:`d = θ(t; c^†) + σε` come from ``truth`` :math:`c^†` with the noise
    :math:`ε` of ``default_rng(data_seed)`` — the same for every case — and the prior is
    :math:`N(μ, s^2)`, so

    .. math::

        \log π(c) = −\frac{\|θ(t; c) − d\|^2}{2σ^2} − \frac{(c − μ)^2}{2s^2},

    with :math:`∂_c\log π` from the adjoint gradient (:math:`⟨∇_{\mathbf u}Φ,
    \mathbf u_R⟩`) for the amplitude. The mass enters linearly, :math:`θ(t; c) = c\,b`,
    :math:`b = e^{tL}θ_{0,R}`: the posterior is Gaussian with precision
    :math:`|b|^2/σ^2 + 1/s^2` and mean :math:`(b·d/σ^2 + μ/s^2)` over the precision
    (:meth:`gaussian_posterior`). The chain's randomness is the case's generator; a case may
    set the start ``x0`` (default μ), ``kappa`` and ``t``.

    Parameters
    ----------
    unknown : {"amplitude", "mass"}
    noise_std, truth, prior_mean, prior_std : float
        σ, :math:`c^†`, μ, s.
    data_seed : int
        Seed of the data noise.
    n_draws, n_warmup : int
        Draws kept and warm-up iterations (step-size adaptation) of each chain.
    step_size : float
        Initial leapfrog step, in units of the prior sd (the metric is :math:`s^2`).
    n_leapfrog : int

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import Case, ChainTask, ProblemContext
    >>> context = ProblemContext(n=8, progress=False)
    >>> task = ChainTask("mass", noise_std=0.5, n_draws=50, n_warmup=50)
    >>> out = task.run(context, Case("a", 0, {"t": 0.1}), np.random.default_rng(0))
    >>> out["samples"].shape, out["log_density"].shape
    ((50,), (50,))
    """

    name = "chain"

    def __init__(self, unknown: str = "amplitude", *, noise_std: float = 0.05,
                 truth: float = 1.0, prior_mean: float = 1.0, prior_std: float = 0.5,
                 data_seed: int = 0, n_draws: int = 200, n_warmup: int = 100,
                 step_size: float = 0.5, n_leapfrog: int = 5) -> None:
        if unknown not in ("amplitude", "mass"):
            raise ValueError(f"unknown must be 'amplitude' or 'mass', got {unknown!r}")
        self.unknown = unknown
        self.noise_std = check_positive_scalar(noise_std, "noise_std")
        self.truth, self.prior_mean = float(truth), float(prior_mean)
        self.prior_std = check_positive_scalar(prior_std, "prior_std")
        self.data_seed = check_integer(data_seed, "data_seed", minimum=0)
        self.n_draws = check_integer(n_draws, "n_draws", minimum=4)
        self.n_warmup = check_integer(n_warmup, "n_warmup", minimum=0)
        self.step_size = check_positive_scalar(step_size, "step_size")
        self.n_leapfrog = check_integer(n_leapfrog, "n_leapfrog", minimum=1)

    def options(self) -> dict:
        return {"unknown": self.unknown, "noise_std": self.noise_std, "truth": self.truth,
                "prior_mean": self.prior_mean, "prior_std": self.prior_std,
                "data_seed": self.data_seed, "n_draws": self.n_draws,
                "n_warmup": self.n_warmup, "step_size": self.step_size,
                "n_leapfrog": self.n_leapfrog}

    def _state(self, context, case, c: float):
        """Flow and θ0 at the unknown ``c``."""
        model, u, theta0, t = _setting(context, case)
        return (model, c * u, theta0, t) if self.unknown == "amplitude" else \
            (model, u, c * theta0, t)

    def data(self, context: ProblemContext, case) -> np.ndarray:
        """The twin data :math:`d` (the same for every case of one κ and t)."""
        model, u, theta0, t = self._state(context, case, self.truth)

        def draw():
            clean = model.solve(u, theta0, t)
            noise = np.random.default_rng(self.data_seed).standard_normal(clean.shape)
            return clean + self.noise_std * noise

        return context.memo(("chain data", self.unknown, self.truth, self.noise_std,
                             self.data_seed, model.kappa, t), draw)

    def gaussian_posterior(self, context: ProblemContext, case) -> tuple[float, float]:
        """Mean and sd of the exact (Gaussian) posterior of the mass (``unknown="mass"``).

        Examples
        --------
        >>> from advdiff_sens.ensemble import Case, ChainTask, ProblemContext
        >>> task = ChainTask("mass", noise_std=0.5)
        >>> mean, sd = task.gaussian_posterior(ProblemContext(n=8), Case("a", 0, {"t": 0.1}))
        >>> bool(0 < sd < task.prior_std)
        True
        """
        if self.unknown != "mass":
            raise ValueError("the posterior is Gaussian for unknown='mass' only")
        b = self._basis(context, case)
        d = self.data(context, case)
        precision = float(np.sum(b * b)) / self.noise_std**2 + 1 / self.prior_std**2
        mean = (float(np.sum(b * d)) / self.noise_std**2
                + self.prior_mean / self.prior_std**2) / precision
        return mean, precision ** -0.5

    def _basis(self, context, case) -> np.ndarray:
        model, u, theta0, t = _setting(context, case)
        return context.memo(("chain basis", model.kappa, t), lambda: model.solve(u, theta0, t))

    def _log_density(self, context, case):
        """``(log π, ∂ log π)`` as functions of the 1-vector ``x = [c]``."""
        d, sigma = self.data(context, case), self.noise_std

        def prior(c):
            return (-0.5 * ((c - self.prior_mean) / self.prior_std) ** 2,
                    -(c - self.prior_mean) / self.prior_std**2)

        if self.unknown == "mass":
            b = self._basis(context, case)

            def evaluate(c):
                r = (c * b - d) / sigma
                lp, dlp = prior(c)
                return lp - 0.5 * float(np.sum(r * r)), dlp - float(np.sum(r * b)) / sigma
        else:
            model, u, theta0, t = _setting(context, case)

            def misfit(theta):
                r = (theta - d) / sigma**2
                return 0.5 * float(np.sum((theta - d) * r)), r

            def evaluate(c):
                result = model.gradient(c * u, theta0, misfit, t)
                lp, dlp = prior(c)
                return lp - result.value, dlp - float(np.sum(result.gradient * u))

        last: dict = {}

        def cached(x):
            c = float(x[0])
            if last.get("c") != c:
                last["c"], last["value"] = c, evaluate(c)
            return last["value"]

        return (lambda x: cached(x)[0]), (lambda x: np.array([cached(x)[1]]))

    def run(self, context, case, rng) -> dict:
        log_density, gradient = self._log_density(context, case)
        sampler = HMC(step_size=self.step_size, n_leapfrog=self.n_leapfrog,
                      n_warmup=self.n_warmup, inverse_mass=np.array([self.prior_std**2]))
        x0 = np.array([float(case.get("x0", self.prior_mean))])
        result = sampler.sample(log_density, gradient, x0, self.n_draws, rng=rng)
        return {"samples": result.samples[0, :, 0], "log_density": result.log_density[0],
                "accept_rate": np.array(result.accept_rate[0]),
                "divergences": np.array(result.divergences[0])}
