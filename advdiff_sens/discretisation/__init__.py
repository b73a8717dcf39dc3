"""Finite-difference discretisation: grids, advection schemes, operators, physics checks and
observations (operators with their adjoints, masks, noise, the least-squares misfit)."""

from advdiff_sens.discretisation.grid import Grid, BOUNDARY_CONDITIONS, MIN_NODES
from advdiff_sens.discretisation.schemes import (
    Scheme, Central, Upwind, ExponentialFitting, SCHEMES, bernoulli, bernoulli_derivative
)
from advdiff_sens.discretisation.operators import (
    axis_matrix, difference_matrices, assemble_generator, partial_generators
)
from advdiff_sens.discretisation.physics import (
    PHYSICS_CHECKS, WALL_NORMAL_RTOL, cell_peclet, wall_normal_velocity, check_physics
)
from advdiff_sens.discretisation.observations import (
    observation_operator, cell_average_operator, CELL_EDGE_RTOL, ObservationOperator, PointSensors,
    GriddedSnapshots, PixelMethod, Bilinear, CellAverage, PIXEL_METHODS, Observations,
    LeastSquaresObjective
)

__all__ = [
    "Grid", "BOUNDARY_CONDITIONS", "MIN_NODES", "Scheme", "Central", "Upwind",
    "ExponentialFitting", "SCHEMES", "bernoulli", "bernoulli_derivative", "axis_matrix",
    "difference_matrices", "assemble_generator", "partial_generators",
    "PHYSICS_CHECKS", "WALL_NORMAL_RTOL", "cell_peclet", "wall_normal_velocity",
    "check_physics", "observation_operator", "cell_average_operator", "CELL_EDGE_RTOL",
    "ObservationOperator", "PointSensors", "GriddedSnapshots", "PixelMethod", "Bilinear",
    "CellAverage", "PIXEL_METHODS", "Observations", "LeastSquaresObjective"
]
