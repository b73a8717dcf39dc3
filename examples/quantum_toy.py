"""Estimation problem 4.1 of the note: recover a skew-Hermitian generator from |x(t)|^2.

dx/dt = A x with A = i H, H Hermitian and traceless (a global phase i c I is invisible in
|x|^2, so the trace is not identifiable and is fixed to 0), parameterised by d^2 - 1 real
coefficients theta in the basis E_jk + E_kj, i(E_jk - E_kj) (j < k), diag(e_l - e_{l+1}).
Data: the probabilities |x_s(t_k)|^2 for a few complex unit initial states x_s and times
t_k, with Gaussian noise. Least squares

    Phi(theta) = 1/2 sum_{k,s} || |x_s(t_k)|^2 - y_{k,s} ||^2,
    dPhi/dtheta_p = sum_{k,s} r_{k,s} . 2 Re(conj(x_s(t_k)) * rho_{p,k,s}),

with the exact sensitivities rho_p = grad_{J_p} exp(tA) x_s (J_p = i B_p skew-Hermitian)
from ``expm_frechet_action`` (complex arithmetic), minimised by BFGS from several random
starts (d = 4, 3 states, 12 times, 4 starts; d = 2, 2 states, 6 times, 1 start with
``quick``). The same fit with the first-order surrogate rho_p ~ t e^{tA} J_p x_s (1.6) shows
what the surrogate costs here: e^{tA} is unitary, nothing decays, and (1.6) is exact only
when J_p commutes with A.

Run:  python examples/quantum_toy.py [--quick] [--outdir DIR]     (quick: d = 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from advdiff_sens import matrix as am

NOISE_STD = 1e-4
#: Seeds of the gallery figure and the README numbers (``main(rng=None)``): the truth, the
#: initial states, the noise and the starts; the direction of the gradient check.
GALLERY_SEEDS = (7, 1)
#: Step of the central difference in the gradient check.
FD_STEP = 1e-5


@dataclass(frozen=True)
class Setup:
    """Sizes of one run: dimension, initial states, observation times, BFGS tolerance, starts."""

    d: int
    n_states: int
    times: np.ndarray
    gtol: float
    n_starts: int

    @property
    def stages(self) -> tuple[int, int, int]:
        """Continuation in the window: a third of the times, two thirds, all."""
        n = self.times.size
        return n // 3, 2 * n // 3, n

    @property
    def basis(self) -> np.ndarray:
        """The traceless Hermitian basis B_p."""
        return hermitian_basis(self.d)


def setup(quick: bool = False) -> Setup:
    """d = 4, 3 states, 12 times, gtol 1e-10, 4 starts; or d = 2, 2, 6, 1e-7, 1 (``quick``)."""
    if quick:
        return Setup(2, 2, np.linspace(0.25, 3.0, 6), 1e-7, 1)
    return Setup(4, 3, np.linspace(0.25, 3.0, 12), 1e-10, 4)


def hermitian_basis(d: int) -> np.ndarray:
    """d^2 - 1 traceless Hermitian matrices, shape (d^2 - 1, d, d)."""
    basis = []
    for j in range(d):
        for k in range(j + 1, d):
            S = np.zeros((d, d), complex)
            S[j, k] = S[k, j] = 1.0
            A = np.zeros((d, d), complex)
            A[j, k], A[k, j] = 1j, -1j
            basis += [S, A]
    for l in range(d - 1):
        basis.append(np.diag(np.eye(d)[l] - np.eye(d)[l + 1]).astype(complex))
    return np.array(basis)


def generator(theta: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """A(theta) = i sum_p theta_p B_p (skew-Hermitian)."""
    return 1j * np.tensordot(theta, basis, axes=1)


def probabilities(theta: np.ndarray, basis: np.ndarray, x0: np.ndarray,
                  times: np.ndarray) -> np.ndarray:
    """|x_s(t_k)|^2, shape (len(times), d, number of states)."""
    return np.abs(am.expm_action(generator(theta, basis), x0, times)) ** 2


def sensitivities(theta: np.ndarray, basis: np.ndarray, x0: np.ndarray, times: np.ndarray,
                  method: str):
    """Return (x, rho) with x (m, d, s) and rho (P, m, d, s); exact or first-order surrogate."""
    A = generator(theta, basis)
    directions = 1j * basis  # J_p = dA/dtheta_p, skew-Hermitian
    if method == "exact":
        pairs = [am.expm_frechet_action(A, J, x0, times, with_expm=True) for J in directions]
        return pairs[0][1], np.array([rho for rho, _ in pairs])
    rho = [am.surrogate_action(A, J, x0, times, order=1) for J in directions]
    return am.expm_action(A, x0, times), np.array(rho)


def misfit_and_gradient(theta: np.ndarray, basis: np.ndarray, x0: np.ndarray,
                        times: np.ndarray, data: np.ndarray,
                        method: str = "exact") -> tuple[float, np.ndarray]:
    """Phi and dPhi/dtheta on the first len(data) observation times."""
    x, rho = sensitivities(theta, basis, x0, times[:len(data)], method)
    residual = np.abs(x) ** 2 - data
    dprob = 2.0 * np.real(np.conj(x)[None] * rho)
    return 0.5 * float(np.sum(residual**2)), np.tensordot(dprob, residual, axes=3)


def misfit(theta: np.ndarray, basis: np.ndarray, x0: np.ndarray, times: np.ndarray,
           data: np.ndarray) -> float:
    """Phi on the full observation window (no gradient)."""
    return 0.5 * float(np.sum((probabilities(theta, basis, x0, times) - data) ** 2))


def fit(theta0: np.ndarray, x0: np.ndarray, data: np.ndarray, method: str,
        config: Setup) -> tuple[OptimizeResult, np.ndarray]:
    """BFGS with continuation over the observation window (the misfit is non-convex for
    long windows): fit the first third of the times, then two thirds, then all.
    Returns the final result and the misfit on the full window after every iteration."""
    basis, times = config.basis, config.times
    history = []
    theta = theta0
    for n_times in config.stages:
        result = minimize(misfit_and_gradient, theta,
                          args=(basis, x0, times, data[:n_times], method), jac=True,
                          method="BFGS", options={"gtol": config.gtol, "maxiter": 500},
                          callback=lambda th: history.append(misfit(th, basis, x0, times, data)))
        theta = result.x
    return result, np.array(history)


def gradient_check(theta: np.ndarray, x0: np.ndarray, data: np.ndarray, config: Setup,
                   rng: np.random.Generator) -> float:
    """Relative difference of the exact directional derivative from central differences."""
    basis, times = config.basis, config.times
    direction = rng.standard_normal(theta.size)
    _, grad = misfit_and_gradient(theta, basis, x0, times, data)
    h = FD_STEP
    fd = (misfit_and_gradient(theta + h * direction, basis, x0, times, data)[0]
          - misfit_and_gradient(theta - h * direction, basis, x0, times, data)[0]) / (2 * h)
    return abs(fd - grad @ direction) / abs(fd)


def surrogate_errors(theta: np.ndarray, x0: np.ndarray, config: Setup) -> np.ndarray:
    """Relative error of the first-order sensitivities per time, over all p and states."""
    _, exact = sensitivities(theta, config.basis, x0, config.times, "exact")
    _, approx = sensitivities(theta, config.basis, x0, config.times, "surrogate")
    axes = (0, 2, 3)
    return np.sqrt(np.sum(np.abs(approx - exact) ** 2, axis=axes)
                   / np.sum(np.abs(exact) ** 2, axis=axes))


def gradient_cosine(theta: np.ndarray, x0: np.ndarray, data: np.ndarray,
                    config: Setup) -> float:
    """Cosine of the angle between the exact and the surrogate misfit gradient."""
    _, exact = misfit_and_gradient(theta, config.basis, x0, config.times, data, "exact")
    _, approx = misfit_and_gradient(theta, config.basis, x0, config.times, data, "surrogate")
    return float(exact @ approx / (np.linalg.norm(exact) * np.linalg.norm(approx)))


@dataclass(frozen=True)
class QuantumToyResult:
    """The fit of a skew-Hermitian generator from |x(t)|^2, exact vs surrogate gradients.

    Attributes
    ----------
    setup : Setup
    theta_true : ndarray
        The true coefficients.
    x0 : ndarray, shape (d, number of states)
        The complex unit initial states.
    data : ndarray, shape (len(times), d, number of states)
        The noisy probabilities.
    fits : list of (scipy.optimize.OptimizeResult, ndarray)
        BFGS with exact gradients from every start, with the misfit after every iteration.
    best : int
        Index of the fit with the smallest misfit.
    surrogate_fit : (scipy.optimize.OptimizeResult, ndarray)
        BFGS with the first-order surrogate gradient from the best start.
    gradient_check : float
        Relative difference of the exact directional derivative at the first start from a
        central difference with step ``FD_STEP``.
    gradient_cosine : float
        Cosine between the exact and the surrogate gradient at the best start.
    surrogate_error : ndarray
        Relative error of the first-order sensitivities at the truth, per time.
    """

    setup: Setup
    theta_true: np.ndarray
    x0: np.ndarray
    data: np.ndarray
    fits: list[tuple[OptimizeResult, np.ndarray]]
    best: int
    surrogate_fit: tuple[OptimizeResult, np.ndarray]
    gradient_check: float
    gradient_cosine: float
    surrogate_error: np.ndarray

    @property
    def noise_floor(self) -> float:
        """Expected misfit of the truth, sigma^2 n / 2 (n data)."""
        return 0.5 * NOISE_STD**2 * self.data.size

    def parameter_error(self, theta: np.ndarray) -> float:
        """||theta - theta_true|| / ||theta_true||."""
        return float(np.linalg.norm(theta - self.theta_true) / np.linalg.norm(self.theta_true))

    def summary(self) -> str:
        """The fits, the gradient check and the surrogate errors as text."""
        config = self.setup
        exact, history = self.fits[self.best]
        surrogate, surrogate_history = self.surrogate_fit
        lines = [
            f"d={config.d}, {config.d**2 - 1} real parameters, {config.n_states} initial "
            f"states, {config.times.size} times, noise std {NOISE_STD:g}",
            f"gradient check (exact vs central differences): relative difference "
            f"{self.gradient_check:.1e}",
            f"exact gradients, best of {config.n_starts} BFGS starts: misfit {exact.fun:.3e} "
            f"(noise floor ~{self.noise_floor:.1e}), {history.size} iterations, "
            f"relative parameter error {self.parameter_error(exact.x):.2e}",
            "  final misfits of all starts: " + ", ".join(f"{f.fun:.1e}" for f, _ in self.fits),
            f"first-order surrogate gradients, same start: misfit {surrogate.fun:.3e}, "
            f"{surrogate_history.size} iterations, relative parameter error "
            f"{self.parameter_error(surrogate.x):.2e} ({surrogate.message})",
            f"cosine(exact gradient, surrogate gradient) at the start: "
            f"{self.gradient_cosine:.3f}",
            "relative error of the first-order sensitivities at the truth, by t: "
            + ", ".join(f"t={t:.2f}: {e:.2f}"
                        for t, e in zip(config.times[::3], self.surrogate_error[::3])),
        ]
        return "\n".join(lines)


def main(quick: bool = False, rng=None) -> QuantumToyResult:
    """Fit A = iH to noisy |x(t)|^2 with exact and with surrogate gradients (module docstring).

    Parameters
    ----------
    quick : bool
        d = 2, 2 states, 6 times, one start (``setup``).
    rng : None, int or numpy.random.Generator
        None uses the seeds of the gallery figure (``GALLERY_SEEDS``); otherwise the two seeds
        are drawn from ``numpy.random.default_rng(rng)``.

    Returns
    -------
    QuantumToyResult
    """
    config = setup(quick)
    seeds = GALLERY_SEEDS if rng is None else np.random.default_rng(rng).integers(2**32, size=2)
    data_rng, check_rng = (np.random.default_rng(int(s)) for s in seeds)
    d, n_params = config.d, config.d**2 - 1
    theta_true = data_rng.standard_normal(n_params)
    x0 = data_rng.standard_normal((d, config.n_states)) + 1j * data_rng.standard_normal(
        (d, config.n_states))
    x0 /= np.linalg.norm(x0, axis=0)
    data = probabilities(theta_true, config.basis, x0, config.times) + (
        NOISE_STD * data_rng.standard_normal((config.times.size, d, config.n_states)))
    starts = data_rng.standard_normal((config.n_starts, n_params))
    fits = [fit(theta0, x0, data, "exact", config) for theta0 in starts]
    best = min(range(config.n_starts), key=lambda i: fits[i][0].fun)
    return QuantumToyResult(
        config, theta_true, x0, data, fits, best, fit(starts[best], x0, data, "surrogate", config),
        gradient_check(starts[0], x0, data, config, check_rng),
        gradient_cosine(starts[best], x0, data, config),
        surrogate_errors(theta_true, x0, config))


def plot(result: QuantumToyResult, path: Path) -> Path:
    """Misfit histories and surrogate error against t, saved to ``path``."""
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogy(result.fits[result.best][1], label="exact gradient (expm_frechet_action)")
    axes[0].semilogy(result.surrogate_fit[1], label="first-order surrogate gradient (1.6)")
    axes[0].axhline(result.noise_floor, color="k", ls=":", label="noise level")
    axes[0].set_xlabel("BFGS iteration")
    axes[0].set_ylabel("misfit")
    axes[0].legend(fontsize=8)
    d = result.setup.d
    axes[0].set_title(f"fit of a {d}x{d} skew-Hermitian A from |x(t)|^2")
    axes[1].plot(result.setup.times, result.surrogate_error, "o-")
    axes[1].set_xlabel("t")
    axes[1].set_ylabel(r"$\|t e^{tA}J x_0 - \nabla_J e^{tA} x_0\| / \|\nabla_J e^{tA} x_0\|$")
    axes[1].set_title("first-order surrogate error at the true A")
    fig.tight_layout()
    return save_figure(fig, path)



if __name__ == "__main__":
    from gallery_cli import parse_arguments

    args = parse_arguments(__doc__)
    result = main(quick=args.quick)
    print(result.summary())
    print(f"saved {plot(result, args.outdir / 'quantum_toy.png')}")
