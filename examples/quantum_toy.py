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
starts. The same fit with the first-order surrogate rho_p ~ t e^{tA} J_p x_s (1.6) shows
what the surrogate costs here: e^{tA} is unitary, nothing decays, and (1.6) is exact only
when J_p commutes with A.

Run:  python examples/quantum_toy.py   (ADVDIFF_SENS_QUICK=1 for a smaller run)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from advdiff_sens import matrix as am

QUICK = os.environ.get("ADVDIFF_SENS_QUICK") == "1"
D = 2 if QUICK else 4
N_STATES = 2 if QUICK else 3
TIMES = np.linspace(0.25, 3.0, 6 if QUICK else 12)
STAGES = (TIMES.size // 3, 2 * TIMES.size // 3, TIMES.size)  # continuation in the window
GTOL = 1e-7 if QUICK else 1e-10
NOISE_STD = 1e-4
N_STARTS = 1 if QUICK else 4
SEED = 7


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


BASIS = hermitian_basis(D)
DIRECTIONS = 1j * BASIS  # J_p = dA/dtheta_p, skew-Hermitian


def generator(theta: np.ndarray) -> np.ndarray:
    """A(theta) = i sum_p theta_p B_p (skew-Hermitian)."""
    return 1j * np.tensordot(theta, BASIS, axes=1)


def probabilities(theta: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """|x_s(t_k)|^2, shape (len(TIMES), d, N_STATES)."""
    return np.abs(am.expm_action(generator(theta), x0, TIMES)) ** 2


def sensitivities(theta: np.ndarray, x0: np.ndarray, times: np.ndarray, method: str):
    """Return (x, rho) with x (m, d, s) and rho (P, m, d, s); exact or first-order surrogate."""
    A = generator(theta)
    if method == "exact":
        pairs = [am.expm_frechet_action(A, J, x0, times, with_expm=True) for J in DIRECTIONS]
        return pairs[0][1], np.array([rho for rho, _ in pairs])
    rho = [am.surrogate_action(A, J, x0, times, order=1) for J in DIRECTIONS]
    return am.expm_action(A, x0, times), np.array(rho)


def misfit_and_gradient(theta: np.ndarray, x0: np.ndarray, data: np.ndarray,
                        method: str = "exact") -> tuple[float, np.ndarray]:
    """Phi and dPhi/dtheta on the first len(data) observation times."""
    x, rho = sensitivities(theta, x0, TIMES[:len(data)], method)
    residual = np.abs(x) ** 2 - data
    dprob = 2.0 * np.real(np.conj(x)[None] * rho)
    return 0.5 * float(np.sum(residual**2)), np.tensordot(dprob, residual, axes=3)


def misfit(theta: np.ndarray, x0: np.ndarray, data: np.ndarray) -> float:
    """Phi on the full observation window (no gradient)."""
    return 0.5 * float(np.sum((probabilities(theta, x0) - data) ** 2))


def fit(theta0: np.ndarray, x0: np.ndarray, data: np.ndarray, method: str):
    """BFGS with continuation over the observation window (the misfit is non-convex for
    long windows): fit the first third of the times, then two thirds, then all.
    Returns the final result and the misfit on the full window after every iteration."""
    history = []
    theta = theta0
    for n_times in STAGES:
        result = minimize(misfit_and_gradient, theta, args=(x0, data[:n_times], method),
                          jac=True, method="BFGS", options={"gtol": GTOL, "maxiter": 500},
                          callback=lambda th: history.append(misfit(th, x0, data)))
        theta = result.x
    return result, np.array(history)


rng = np.random.default_rng(SEED)
THETA_TRUE = rng.standard_normal(D * D - 1)
X0 = rng.standard_normal((D, N_STATES)) + 1j * rng.standard_normal((D, N_STATES))
X0 /= np.linalg.norm(X0, axis=0)
DATA = probabilities(THETA_TRUE, X0) + NOISE_STD * rng.standard_normal(
    (TIMES.size, D, N_STATES))
STARTS = rng.standard_normal((N_STARTS, D * D - 1))


def gradient_check(theta: np.ndarray) -> float:
    """Relative difference of the exact directional derivative from central differences."""
    direction = np.random.default_rng(1).standard_normal(theta.size)
    _, grad = misfit_and_gradient(theta, X0, DATA)
    h = 1e-5
    fd = (misfit_and_gradient(theta + h * direction, X0, DATA)[0]
          - misfit_and_gradient(theta - h * direction, X0, DATA)[0]) / (2 * h)
    return abs(fd - grad @ direction) / abs(fd)


FITS = [fit(theta0, X0, DATA, "exact") for theta0 in STARTS]
BEST = min(range(N_STARTS), key=lambda i: FITS[i][0].fun)
THETA_HAT = FITS[BEST][0].x
SURROGATE_FIT = fit(STARTS[BEST], X0, DATA, "surrogate")
GRAD_CHECK = gradient_check(STARTS[0])


def surrogate_errors(theta: np.ndarray) -> np.ndarray:
    """Relative error of the first-order sensitivities per time, over all p and states."""
    _, exact = sensitivities(theta, X0, TIMES, "exact")
    _, approx = sensitivities(theta, X0, TIMES, "surrogate")
    axes = (0, 2, 3)
    return np.sqrt(np.sum(np.abs(approx - exact) ** 2, axis=axes)
                   / np.sum(np.abs(exact) ** 2, axis=axes))


SURROGATE_ERROR = surrogate_errors(THETA_TRUE)


def gradient_cosine(theta: np.ndarray) -> float:
    _, exact = misfit_and_gradient(theta, X0, DATA, "exact")
    _, approx = misfit_and_gradient(theta, X0, DATA, "surrogate")
    return float(exact @ approx / (np.linalg.norm(exact) * np.linalg.norm(approx)))


def parameter_error(theta: np.ndarray) -> float:
    return float(np.linalg.norm(theta - THETA_TRUE) / np.linalg.norm(THETA_TRUE))


def summary() -> str:
    exact, history = FITS[BEST]
    surrogate, surrogate_history = SURROGATE_FIT
    lines = [
        f"d={D}, {D * D - 1} real parameters, {N_STATES} initial states, {TIMES.size} times, "
        f"noise std {NOISE_STD:g}",
        f"gradient check (exact vs central differences): relative difference {GRAD_CHECK:.1e}",
        f"exact gradients, best of {N_STARTS} BFGS starts: misfit {exact.fun:.3e} "
        f"(noise floor ~{0.5 * NOISE_STD**2 * DATA.size:.1e}), {history.size} iterations, "
        f"relative parameter error {parameter_error(exact.x):.2e}",
        "  final misfits of all starts: " + ", ".join(f"{f.fun:.1e}" for f, _ in FITS),
        f"first-order surrogate gradients, same start: misfit {surrogate.fun:.3e}, "
        f"{surrogate_history.size} iterations, relative parameter error "
        f"{parameter_error(surrogate.x):.2e} ({surrogate.message})",
        f"cosine(exact gradient, surrogate gradient) at the start: "
        f"{gradient_cosine(STARTS[BEST]):.3f}",
        "relative error of the first-order sensitivities at the truth, by t: "
        + ", ".join(f"t={t:.2f}: {e:.2f}" for t, e in zip(TIMES[::3], SURROGATE_ERROR[::3])),
    ]
    return "\n".join(lines)


def plot(figdir: Path) -> Path:
    import matplotlib.pyplot as plt

    from advdiff_sens.plotting import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogy(FITS[BEST][1], label="exact gradient (expm_frechet_action)")
    axes[0].semilogy(SURROGATE_FIT[1], label="first-order surrogate gradient (1.6)")
    axes[0].axhline(0.5 * NOISE_STD**2 * DATA.size, color="k", ls=":", label="noise level")
    axes[0].set_xlabel("BFGS iteration")
    axes[0].set_ylabel("misfit")
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"fit of a {D}x{D} skew-Hermitian A from |x(t)|^2")
    axes[1].plot(TIMES, SURROGATE_ERROR, "o-")
    axes[1].set_xlabel("t")
    axes[1].set_ylabel(r"$\|t e^{tA}J x_0 - \nabla_J e^{tA} x_0\| / \|\nabla_J e^{tA} x_0\|$")
    axes[1].set_title("first-order surrogate error at the true A")
    fig.tight_layout()
    return save_figure(fig, figdir / "quantum_toy.png")


if __name__ == "__main__":
    from advdiff_sens.plotting import figure_directory

    figdir = figure_directory()
    print(summary())
    print(f"saved {plot(figdir)}")
