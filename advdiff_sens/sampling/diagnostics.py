r"""Convergence diagnostics of MCMC draws: autocorrelation, effective sample size, split-R̂.

The estimators are those of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021) without
rank normalisation: split-:math:`\hat R`, and the effective sample size

.. math::

    \text{ESS} = \frac{MN}{1 + 2\sum_{t≥1}\hat ρ_t},\qquad
    \hat ρ_t = 1 − \frac{W − \overline{\text{acov}}_t}{\widehat{\text{var}}^+},

computed on the half-chains (each chain split in two, so that a drift within a chain lowers
the ESS) with the sum truncated by Geyer's initial monotone positive sequence. These are
ArviZ's ``ess(method="mean")`` and ``rhat(method="split")``, kept here (a few lines of numpy)
so that the samplers need no extra dependency; ``tests/sampling/test_diagnostics.py`` checks
them against ArviZ. For rank-normalised bulk and tail ESS and plots,
:meth:`advdiff_sens.sampling.result.SamplerResult.to_inference_data` hands the draws to ArviZ
(``pip install "advdiff_sens[diagnostics]"``).

:meth:`advdiff_sens.sampling.result.SamplerResult.diagnostics` compares these numbers with
:data:`MAX_RHAT` and :data:`MIN_ESS` and returns a :class:`SamplerDiagnostics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import as_real_array

__all__ = ["MAX_RHAT", "MIN_ESS", "SamplerDiagnostics", "autocorrelation",
           "effective_sample_size", "split_rhat"]

#: :meth:`~advdiff_sens.sampling.result.SamplerResult.diagnostics` warns when the largest
#: split-R̂ exceeds this (Vehtari et al. 2021).
MAX_RHAT = 1.01
#: :meth:`~advdiff_sens.sampling.result.SamplerResult.diagnostics` warns when the smallest ESS
#: (all chains together) is below this. A rule of thumb: below 100 the Monte Carlo error of a
#: mean is more than a tenth of the posterior sd (MCSE = sd/√ESS), and the ESS and R̂
#: estimates themselves are unreliable; Vehtari et al. (2021) recommend 100 per chain (400 for
#: four chains) for rank-normalised ESS.
MIN_ESS = 100.0


@dataclass
class SamplerDiagnostics:
    """What :meth:`advdiff_sens.sampling.result.SamplerResult.diagnostics` measured.

    Attributes
    ----------
    max_rhat : float
        Largest split-R̂ over the parameters.
    min_ess : float
        Smallest effective sample size (all chains together).
    accept_rate : float
        Mean acceptance over the chains.
    accept_range : (float, float)
        The band the acceptance was checked against.
    divergences : int
        Divergent trajectories after warm-up, all chains.
    warnings : list of str
        One message per failed check (empty for a run that passed them all).

    Examples
    --------
    A healthy HMC run on a 2-D standard normal passes R̂, ESS and divergences (this short
    run is checked against a wide acceptance band):

    >>> import numpy as np
    >>> from advdiff_sens.sampling import HMC
    >>> target = (lambda x: -0.5 * float(x @ x), lambda x: -x)
    >>> res = HMC(step_size=1.0, n_leapfrog=3, n_warmup=100).sample(*target, np.zeros(2), 500,
    ...                                                             n_chains=2, rng=0)
    >>> diag = res.diagnostics(accept_range=(0.6, 1.0), warn=False)
    >>> diag.ok, diag.max_rhat < 1.01, diag.min_ess > 100, diag.divergences
    (True, True, True, 0)

    A step far too large for the target rejects every proposal:

    >>> stuck = HMC(step_size=20.0, n_leapfrog=1).sample(*target, np.ones(2), 20, n_chains=2,
    ...                                                  rng=0)
    >>> diag = stuck.diagnostics(warn=False)
    >>> diag.ok, diag.accept_rate, diag.divergences, "never moved" in diag.warnings[0]
    (False, 0.0, 40, True)
    """

    max_rhat: float
    min_ess: float
    accept_rate: float
    accept_range: tuple
    divergences: int
    warnings: list

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.warnings

    def __str__(self) -> str:
        lines = [f"max R-hat {self.max_rhat:.3f}, min ESS {self.min_ess:.0f}, acceptance "
                 f"{self.accept_rate:.2f} (band {self.accept_range[0]:.2f}-"
                 f"{self.accept_range[1]:.2f}), {self.divergences} divergences"]
        return "\n".join(lines + [f"warning: {m}" for m in self.warnings])


def _as_chains(samples) -> np.ndarray:
    x = as_real_array(samples, "samples")
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 4:
        raise ValueError(f"samples must have shape (n_chains, n_draws >= 4, p), got {x.shape}")
    return x


def autocorrelation(x) -> np.ndarray:
    r"""Autocorrelation :math:`\hat ρ_t = \hat γ_t/\hat γ_0`, t = 0..n−1, of a 1-D series.

    The biased autocovariance :math:`\hat γ_t = \frac1n\sum_{i=0}^{n-1-t}(x_i-\bar x)
    (x_{i+t}-\bar x)` is computed by FFT (zero-padded to 2n, so no wrap-around).

    Parameters
    ----------
    x : array_like (n,)

    Returns
    -------
    ndarray (n,)
        :math:`\hat ρ_0 = 1`; all ones for a constant series.

    Examples
    --------
    >>> autocorrelation([1.0, -1.0, 1.0, -1.0]).round(2).tolist()
    [1.0, -0.75, 0.5, -0.25]
    """
    x = as_real_array(x, "x", ndim=1)
    n = x.size
    y = x - x.mean()
    f = np.fft.rfft(y, 2 * n)
    acov = np.fft.irfft(f * np.conj(f))[:n] / n
    return acov / acov[0] if acov[0] > 0 else np.ones(n)


def _ess_1d(chains: np.ndarray) -> float:
    m, n = chains.shape
    acov = np.stack([autocorrelation(c) * c.var() for c in chains])
    within = float(np.mean(chains.var(axis=1, ddof=1)))
    var_plus = within * (n - 1) / n + (float(np.var(chains.mean(axis=1), ddof=1)) if m > 1 else 0.0)
    if var_plus <= 0:
        return float(m * n)
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer's initial positive sequence over pairs (ρ_{2k}, ρ_{2k+1}), keeping the positive
    # even lag of the first non-positive pair (antithetic chains), then the initial
    # monotone sequence; the same steps as Stan and ArviZ
    kept = np.zeros(n)
    kept[:2] = rho[:2]
    t, even, odd = 1, 1.0, rho[1]
    while t < n - 3 and even + odd > 0.0:
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0.0:
            kept[t + 1], kept[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0.0:
        kept[last + 1] = even
    for t in range(1, last - 1, 2):
        if kept[t + 1] + kept[t + 2] > kept[t - 1] + kept[t]:
            kept[t + 1] = kept[t + 2] = 0.5 * (kept[t - 1] + kept[t])
    tau = -1.0 + 2.0 * float(np.sum(kept[:last + 1])) + float(np.sum(kept[last + 1:last + 2]))
    tau = max(tau, 1.0 / np.log10(m * n))
    return float(m * n / tau)


def _split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain's first and last ``n // 2`` draws as two chains (the middle draw of an odd
    length is dropped)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def effective_sample_size(samples) -> np.ndarray:
    r"""Multi-chain effective sample size of each parameter, over the half-chains.

    :math:`\text{ESS} = MN/(1 + 2\sum_{t≥1}\hat ρ_t)` with M half-chains of N draws and the
    sum truncated by Geyer's initial monotone positive sequence (module docstring).

    Parameters
    ----------
    samples : array_like (n_chains, n_draws, p), (n_draws, p) or (n_draws,)
        At least 4 draws per chain.

    Returns
    -------
    ndarray (p,)

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).standard_normal((4, 1000, 1))
    >>> bool(3000 < effective_sample_size(draws)[0] < 5000)       # independent: ≈ 4000
    True
    """
    x = _split_chains(_as_chains(samples))
    return np.array([_ess_1d(x[:, :, j]) for j in range(x.shape[2])])


def split_rhat(samples) -> np.ndarray:
    r"""Split-:math:`\hat R` of each parameter over the half-chains (Gelman et al., BDA3 §11.4).

    .. math::

        \hat R = \sqrt{\widehat{\text{var}}^+/W},\qquad
        \widehat{\text{var}}^+ = \frac{N-1}{N}W + B,

    with W the mean within-half-chain variance, B the variance of the half-chain means and N
    the draws per half-chain. Values above :data:`MAX_RHAT` flag non-convergence.

    Parameters
    ----------
    samples : array_like (n_chains, n_draws, p), (n_draws, p) or (n_draws,)
        At least 4 draws per chain.

    Returns
    -------
    ndarray (p,)

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).standard_normal((4, 500, 1))
    >>> bool(split_rhat(draws)[0] < MAX_RHAT)
    True
    >>> bool(split_rhat(draws + np.arange(4.0)[:, None, None])[0] > 1.1)   # chains disagree
    True
    """
    halves = _split_chains(_as_chains(samples))
    n = halves.shape[1]
    within = halves.var(axis=1, ddof=1).mean(axis=0)
    between = halves.mean(axis=1).var(axis=0, ddof=1)
    var_plus = within * (n - 1) / n + between
    return np.sqrt(var_plus / np.where(within > 0, within, np.inf))


