r"""Observations of the model state: sparse observation operators with their adjoints, data
with missing entries, per-datum noise, and the least-squares misfit.

* ``interpolation`` — the field between the nodes: :func:`observation_operator`
  (multilinear interpolation at points) and :func:`cell_average_operator` (exact means over
  boxes).
* ``operators`` — per observation time a sparse :math:`H_j`, forward and adjoint:
  :class:`ObservationOperator`, :class:`PointSensors` (fixed or moving),
  :class:`GriddedSnapshots` (bilinear or cell average on a rectilinear observation grid).
* ``misfit`` — :class:`Observations` (operator, data with a mask, noise sd per datum:
  whitened residual, misfit, gradient) and its point-sensor case
  :class:`LeastSquaresObjective`.
"""

from advdiff_sens.discretisation.observations.interpolation import (
    observation_operator, cell_average_operator, CELL_EDGE_RTOL
)
from advdiff_sens.discretisation.observations.operators import (
    ObservationOperator, PointSensors, GriddedSnapshots, PixelMethod, Bilinear, CellAverage,
    PIXEL_METHODS
)
from advdiff_sens.discretisation.observations.misfit import Observations, LeastSquaresObjective

__all__ = [
    "observation_operator", "cell_average_operator", "CELL_EDGE_RTOL", "ObservationOperator",
    "PointSensors", "GriddedSnapshots", "PixelMethod", "Bilinear", "CellAverage", "PIXEL_METHODS",
    "Observations", "LeastSquaresObjective",
]
