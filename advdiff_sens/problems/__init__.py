"""The reference problems by name: plane wave (R1), cellular flow (R2), twin experiment (R3)."""

from advdiff_sens.problems.reference_problems import (
    plane_wave, plane_wave_solution, cellular_flow, gaussian_blob, ReferenceProblem, r2_problem
)
from advdiff_sens.problems.twin import TwinExperiment, r3_initial_condition, make_twin

__all__ = [
    "plane_wave", "plane_wave_solution", "cellular_flow", "gaussian_blob",
    "ReferenceProblem", "r2_problem", "TwinExperiment", "r3_initial_condition", "make_twin"
]
