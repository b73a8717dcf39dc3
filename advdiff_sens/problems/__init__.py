r"""The reference problems by name: plane wave (R1), cellular flow (R2), twin experiment (R3).

* R1: a plane wave :math:`θ_0 = \sin(k·x)` carried by a constant velocity on a periodic
  domain, with the exact solution :func:`plane_wave_solution`.
* R2: the periodic unit square, cellular flow
  :math:`u = (\sin 2πx\cos 2πy, −\cos 2πx\sin 2πy)`, κ = 0.01, T = 1, Gaussian blob
  :math:`θ_0` centred at (0.3, 0.5) (:func:`r2_problem`).
* R3: the twin experiment: a flow drawn from a stream-function prior carries
  :math:`θ_0 = \tfrac12 − \tfrac14\cos 2πx − \tfrac14\cos 2πy` on the periodic unit
  square, read by noisy point sensors (:func:`make_twin`).
* R5: the flow at scale — a nodal stream function (p = n) or Fourier modes up to k_max under
  a function-space prior, optionally with θ0 and κ unknown (:func:`make_field_twin`);
  R5w, the same in a channel or a rectangle with no-flux or absorbing walls
  (``make_field_twin(bc=...)``).
* R6: the initial condition under a bi-Laplacian prior in the known cellular flow, after
  hIPPYlib's advection–diffusion tutorial (:func:`make_initial_condition_twin`).

The documentation's "Reference problems" page defines R1–R3 in full.
"""

from advdiff_sens.problems.cellular_flow import (ReferenceProblem, cellular_flow,
                                                 gaussian_blob, r2_problem)
from advdiff_sens.problems.plane_wave import plane_wave, plane_wave_solution
from advdiff_sens.problems.twin import TwinExperiment, r3_initial_condition, make_twin
from advdiff_sens.problems.field_twin import (FieldTwin, make_field_twin,
                                              make_initial_condition_twin, INFERENCE_TOL, FLOWS)

__all__ = [
    "plane_wave", "plane_wave_solution", "cellular_flow", "gaussian_blob",
    "ReferenceProblem", "r2_problem", "TwinExperiment", "r3_initial_condition", "make_twin",
    "FieldTwin", "make_field_twin", "make_initial_condition_twin", "INFERENCE_TOL", "FLOWS"
]
