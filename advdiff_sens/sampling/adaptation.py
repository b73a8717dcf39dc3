r"""Step-size adaptation during warm-up, shared by the gradient samplers.

:class:`DualAveraging` is the scheme of Hoffman & Gelman (2014, §3.2.1): after iteration k
with acceptance probability :math:`a_k`,

.. math::

    \bar H_k = (1 − η_k)\bar H_{k−1} + η_k(a^* − a_k),\quad η_k = \frac1{k + t_0},\qquad
    \log ε_k = μ − \frac{\sqrt k}{γ}\bar H_k,\qquad
    \log\bar ε_k = k^{−κ}\log ε_k + (1 − k^{−κ})\log\bar ε_{k−1},

with :math:`μ = \log(10ε_0)`, :math:`t_0 = 10`, :math:`γ = 0.05`, :math:`κ = 0.75`. The chain
uses :math:`ε_k` during warm-up and the averaged :math:`\bar ε` afterwards. It adapts any
positive step whose growth lowers the acceptance: the leapfrog step of
:class:`~advdiff_sens.sampling.hmc.HMC` and
:class:`~advdiff_sens.sampling.infinite.InfinityHMC`, the step h of
:class:`~advdiff_sens.sampling.infinite.InfinityMALA`.
"""

from __future__ import annotations

import numpy as np

from advdiff_sens.validation import check_positive_scalar

__all__ = ["DualAveraging"]


class DualAveraging:
    r"""Dual-averaging adaptation of a step size toward a target acceptance (module docstring).

    Parameters
    ----------
    step : float
        Initial step :math:`ε_0` (> 0); :math:`μ = \log(10ε_0)` is the point the iterates
        shrink toward.
    target : float
        Target mean acceptance probability :math:`a^*`, in (0, 1).

    Examples
    --------
    A toy sampler whose acceptance is :math:`e^{−ε}`: the averaged step :attr:`final` (the
    one a chain keeps after warm-up) approaches :math:`ε = −\log 0.8 ≈ 0.223`, where the
    acceptance is the target 0.8:

    >>> import numpy as np
    >>> adapt, step = DualAveraging(1.0, 0.8), 1.0
    >>> for _ in range(500):
    ...     step = adapt.update(np.exp(-step))
    >>> round(adapt.final, 2), round(float(np.exp(-adapt.final)), 2)
    (0.23, 0.8)
    """

    def __init__(self, step: float, target: float) -> None:
        step = check_positive_scalar(step, "step")
        target = check_positive_scalar(target, "target")
        if target >= 1:
            raise ValueError(f"target must be in (0, 1), got {target}")
        self.mu, self.target = np.log(10 * step), target
        self.h_bar, self.log_bar, self.k = 0.0, np.log(step), 0

    def update(self, accept: float) -> float:
        """Record the acceptance probability ``accept`` of one warm-up iteration; the step
        :math:`ε_k` for the next one."""
        self.k += 1
        eta = 1.0 / (self.k + 10)
        self.h_bar = (1 - eta) * self.h_bar + eta * (self.target - accept)
        log_step = self.mu - np.sqrt(self.k) / 0.05 * self.h_bar
        w = self.k ** -0.75
        self.log_bar = w * log_step + (1 - w) * self.log_bar
        return float(np.exp(log_step))

    @property
    def final(self) -> float:
        r"""The averaged step :math:`\bar ε` the chain keeps after warm-up."""
        return float(np.exp(self.log_bar))
