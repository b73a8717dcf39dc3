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
A task is any picklable object with ``run``, ``name`` and ``describe()``; a sweep checks that
every returned array is finite.
"""

from __future__ import annotations

import numpy as np

from advdiff_sens.ensemble.cases import Case
from advdiff_sens.ensemble.contexts import ProblemContext
from advdiff_sens.registry import Registry
from advdiff_sens.validation import check_positive_scalar

__all__ = ["Task", "SolveTask", "TangentTask", "GradientTask", "TASKS", "mode_direction"]


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
        self.adjoint = str(adjoint)
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
