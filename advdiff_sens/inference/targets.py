r"""What the dimension-robust samplers of :mod:`advdiff_sens.sampling` sample: a posterior written
relative to a Gaussian reference measure.

pCN, ∞-MALA and ∞-HMC sample :math:`dπ/dμ_0 ∝ e^{−\tilde Φ}` for a Gaussian reference
:math:`μ_0 = N(m_0, C_0)`. With the density :math:`e^{−Ψ}` of the posterior (up to a constant)
and the reference's :math:`e^{−\frac12|C_0^{-1/2}(x − m_0)|^2}`,

.. math::

    \tilde Φ(x) = Ψ(x) − \tfrac12|C_0^{-1/2}(x − m_0)|^2,\qquad
    ∇\tilde Φ(x) = ∇Ψ(x) − C_0^{-1}(x − m_0).

* Reference = the prior: :math:`\tilde Φ = Φ`, the data misfit (the classic function-space
  setting, well defined as the mesh is refined).
* Reference = a Laplace approximation :math:`N(\hat x, C_{post})`
  (:mod:`advdiff_sens.inference.laplace`): :math:`\tilde Φ` is the non-Gaussian remainder, small
  when the posterior is close to Gaussian, so the samplers take large steps in the
  data-informed directions.

The value of :math:`\tilde Φ` is always exact; its gradient comes from the posterior's gradient
strategy (``gradient``), e.g. the first-order surrogate: an approximate gradient inside a
Metropolis-corrected sampler changes its efficiency, never its target.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advdiff_sens.inference.gradients import GRADIENTS, PosteriorGradient
from advdiff_sens.inference.posterior import Posterior
from advdiff_sens.sampling.reference import GaussianReference

__all__ = ["sampling_potential"]


def sampling_potential(posterior: Posterior, reference: GaussianReference | None = None, *,
                       gradient: str | PosteriorGradient | None = None
                       ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    r"""The potential :math:`x ↦ (\tilde Φ(x), ∇\tilde Φ(x))` of ``posterior`` relative to
    ``reference`` (module docstring), for
    :class:`~advdiff_sens.sampling.InfinityHMC` and
    :class:`~advdiff_sens.sampling.InfinityMALA`.

    Parameters
    ----------
    posterior : Posterior
    reference : GaussianReference, optional
        Default: the posterior's prior (then :math:`\tilde Φ = Φ`).
    gradient : str or PosteriorGradient, optional
        The gradient strategy (default: the posterior's own).

    Returns
    -------
    callable

    Examples
    --------
    Relative to the prior the potential is the misfit:

    >>> import numpy as np
    >>> from advdiff_sens.problems import make_field_twin
    >>> twin = make_field_twin(12, n_sensors=6, times=[0.2, 0.4], rng=0)
    >>> post = twin.posterior
    >>> potential = sampling_potential(post)
    >>> value, grad = potential(twin.true_coefficients)
    >>> bool(np.isclose(value, post.misfit(twin.true_coefficients))), grad.shape
    (True, (144,))
    """
    if not isinstance(posterior, Posterior):
        raise TypeError(f"posterior must be a Posterior, got {type(posterior).__name__}")
    reference = posterior.prior if reference is None else reference
    if not isinstance(reference, GaussianReference) or reference.dim != posterior.n_params:
        raise TypeError(f"reference must be a GaussianReference of dimension "
                        f"{posterior.n_params}")
    strategy = None if gradient is None else GRADIENTS.resolve(gradient, "gradient")

    def potential(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = posterior.value_and_gradient(x, strategy)
        z = reference.whiten(x)
        return value - 0.5 * float(z @ z), grad - reference.unwhiten_transpose(z)

    return potential
