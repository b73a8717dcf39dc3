"""Finite-difference discretisation: grids, advection schemes, operators and observation operators."""

from advdiff_sens.discretisation.grid import Grid, BOUNDARY_CONDITIONS, MIN_NODES
from advdiff_sens.discretisation.operators import (
    SCHEMES, axis_matrix, difference_matrices, bernoulli, bernoulli_derivative,
    flux_coefficients, flux_coefficient_derivatives, assemble_generator, partial_generators,
    PHYSICS_CHECKS, WALL_NORMAL_RTOL, cell_peclet, wall_normal_velocity, check_physics
)
from advdiff_sens.discretisation.observations import observation_operator, LeastSquaresObjective

__all__ = [
    "Grid", "BOUNDARY_CONDITIONS", "MIN_NODES", "SCHEMES", "axis_matrix",
    "difference_matrices", "bernoulli", "bernoulli_derivative", "flux_coefficients",
    "flux_coefficient_derivatives", "assemble_generator", "partial_generators",
    "PHYSICS_CHECKS", "WALL_NORMAL_RTOL", "cell_peclet", "wall_normal_velocity",
    "check_physics", "observation_operator", "LeastSquaresObjective"
]
