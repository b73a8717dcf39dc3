r"""An operator :math:`A` with the quantities the propagator backends need, computed once.

:class:`ExpmOperator` validates :math:`A` and caches, on first use, its field-of-values
enclosure (:func:`~advdiff_sens.matrix.expm.chebyshev.field_of_values_enclosure`), the
shifted 1-norm :math:`\|A - \mu I\|_1` of the Taylor model
(:func:`~advdiff_sens.matrix.norms.shifted_norm1`) and how its stationary limit can be
certified (:func:`~advdiff_sens.matrix.expm.stationary.stationary_certificate`). A backend
plans from these; the operator is treated as immutable.
"""

from __future__ import annotations

from advdiff_sens.matrix.expm.chebyshev import Enclosure, field_of_values_enclosure
from advdiff_sens.matrix.expm.stationary import stationary_certificate
from advdiff_sens.matrix.norms import shifted_norm1, stored_entries
from advdiff_sens.validation import as_square_operator

__all__ = ["ExpmOperator"]


class ExpmOperator:
    """A validated square matrix (dense or sparse) with its lazily computed summaries.

    Parameters
    ----------
    A : ndarray or scipy sparse matrix, shape (d, d)

    Examples
    --------
    >>> import numpy as np
    >>> op = ExpmOperator(np.array([[-1.0, 1.0], [2.0, -2.0]]))
    >>> op.shifted_norm1, op.stationary_certificate
    (2.5, 'interval')
    """

    def __init__(self, A) -> None:
        self.A = as_square_operator(A, "A")
        self._enclosure: Enclosure | None = None
        self._shifted_norm1: float | None = None
        self._certificate: str | None | bool = False   # False: not yet computed

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    @property
    def enclosure(self) -> Enclosure:
        """Polygon containing the field of values :math:`W(A)` (computed once)."""
        if self._enclosure is None:
            self._enclosure = field_of_values_enclosure(self.A)
        return self._enclosure

    @property
    def shifted_norm1(self) -> float:
        r""":math:`\|A - \mu I\|_1`, :math:`\mu = \mathrm{tr}(A)/d` (computed once)."""
        if self._shifted_norm1 is None:
            self._shifted_norm1 = shifted_norm1(self.A)
        return self._shifted_norm1

    @property
    def stored_entries(self) -> int:
        """Entries a product with :math:`A` touches."""
        return stored_entries(self.A)

    @property
    def stationary_certificate(self) -> str | None:
        """``"interval"``, ``"sub-interval"``, ``"mean"`` or None (computed once)."""
        if self._certificate is False:
            self._certificate = stationary_certificate(self.A, self.enclosure)
        return self._certificate
