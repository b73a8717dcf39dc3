"""advdiff_sens: velocity sensitivity of the advection–diffusion equation.

``∂t θ = (κΔ − u·∇)θ`` is discretised by finite differences into a sparse generator L(u),
``θ(t) = exp(tL)θ0``, and the library computes ``∂θ(t)/∂u[v]`` (a Fréchet derivative of the
matrix exponential) by tangent, adjoint and surrogate methods.
"""

from advdiff_sens.discretisation.grid import Grid
from advdiff_sens.discretisation.schemes import Central, ExponentialFitting, Upwind
from advdiff_sens.inference import VelocityEstimate, estimate_velocity
from advdiff_sens.model import AdvectionDiffusion

__all__ = ["Grid", "AdvectionDiffusion", "estimate_velocity", "VelocityEstimate", "Central",
           "Upwind", "ExponentialFitting"]
__version__ = "0.1.0"
