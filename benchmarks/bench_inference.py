r"""Benchmark of inference at scale on reference problem R5 (the field twin).

Prints, measured side by side in one run (methods in interleaved rounds; each ratio is the
median over rounds of the ratio within a round, so that a drifting machine load cancels):
seconds (median), the ratio to the forward solve, CPU seconds over wall seconds (how many
cores a method kept busy), matrix–vector products with L or Lᵀ (counted), and peak Python
memory (tracemalloc, a separate untimed call), for

* **gradient cost against p**: Ψ and ∇Ψ by one adjoint sweep of the model for three
  parameterisations of the *same* velocity — the R5 twin's Fourier truth with
  :math:`k_{max} = 2` (p = 12), the same coefficients embedded in :math:`k_{max} = 8`
  (p = 196), and its stream function on the nodes (p = n; a Fourier velocity is exactly
  the central-difference curl of its stream function) — and, for contrast, the
  tangent-Jacobian gradient of p = 12 (one tangent solve per coefficient). The last column
  compares each misfit gradient, mapped to the p = 12 coefficients by the chain rule, with
  the adjoint one of p = 12. The cost of a solve depends on the flow (through the
  generator's norm), so only a comparison at one velocity says how the cost depends on p;
* **Gauss–Newton Hessian-vector products** on the largest grid (nodal ψ, p = n) at the same
  velocity: :math:`(G^TG + C^{-1})v` for a prior draw :math:`v` (one tangent solve and the
  adjoint sweep without its forward recording, which the linearisation makes once), beside
  its two parts alone.

Each parameterisation has its own model, assembled for the velocity in a warm-up call, so
the timings exclude the generator's assembly (as in a line search or the inner loop of
Newton-CG, where the point is fixed).

Usage::

    python benchmarks/bench_inference.py              # 64² and 128²
    python benchmarks/bench_inference.py --quick      # 16² and 24² (a smoke test)
    python benchmarks/bench_inference.py --n 96 --repeats 3
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from advdiff_sens import AdvectionDiffusion
from advdiff_sens.inference import (GaussianRandomField, NodalStreamFunction, ParameterSpace,
                                    Posterior, PowerLawSpectrum, StreamFunctionBasis,
                                    spectral_prior)
from advdiff_sens.problems import FieldTwin, make_field_twin

import docs_fragment
from bench_sensitivity import measure

#: Targets the measured ratios are compared with (printed beside them).
GRADIENT_RATIO_TARGET = 1.3       # gradient seconds, p = n over p = 12
HESSIAN_PRODUCT_TARGET = 6.0      # Gauss–Newton product over the forward solve
#: The flow of the comparison: R5's Fourier truth with this kmax, embedded in the larger one.
SMALL_KMAX, LARGE_KMAX = 2, 8
#: Noise sd of the twin, relative to the largest clean reading.
NOISE = 0.01


@dataclass
class Flow:
    """One parameterisation of the common velocity: its posterior, the coefficients of that
    velocity, and the matrix ``S`` (p, 12) with ``∇_{c12}Φ = Sᵀ ∇_cΦ`` (the chain rule from
    its coefficients to the p = 12 ones)."""

    label: str
    posterior: Posterior
    point: np.ndarray
    to_small: np.ndarray


@dataclass
class Case:
    """One grid of the run: the R5 twin and its velocity under the three parameterisations
    (``flows[0]`` the twin's own Fourier posterior, ``flows[-1]`` the nodal stream function)."""

    n: int
    twin: FieldTwin
    flows: list[Flow]


def same_velocity_case(n: int, n_sensors: int, rng) -> Case:
    """The R5 twin with the Fourier flow of ``SMALL_KMAX``, and the same data, velocity and
    θ0 under the ``LARGE_KMAX`` Fourier and the nodal stream-function parameterisations
    (with their R5 priors)."""
    twin = make_field_twin(n, flow="fourier", kmax=SMALL_KMAX, n_sensors=n_sensors,
                           noise=NOISE, rng=rng)
    small = twin.posterior
    model, grid = small.model, small.model.grid
    basis, c = small.space.flow, twin.true_coefficients
    large = StreamFunctionBasis(grid, LARGE_KMAX)
    index = {(tuple(k), kind): i for i, (k, kind) in enumerate(zip(large.wavevectors,
                                                                    large.kind))}
    embed = np.zeros((large.n_params, basis.n_params))
    for j, (k, kind) in enumerate(zip(basis.wavevectors, basis.kind)):
        embed[index[(tuple(k), kind)], j] = 1.0
    # ψ = Σ_j c_j ψ_j: the nodal coefficients are linear in c with the modes as columns
    modes = np.stack([basis.stream_function(e).ravel() for e in np.eye(basis.n_params)],
                     axis=1)

    def posterior(flow, prior) -> Posterior:
        own_model = AdvectionDiffusion(grid, model.kappa, model.scheme, backend=model.backend,
                                       progress=None)
        space = ParameterSpace(grid, flow=flow, flow_prior=prior, theta0=small.space.theta0)
        return Posterior(own_model, space, small.sensors, small.times, small.data,
                         small.noise_std, gradient="adjoint")

    flows = [                                      # with R5's priors (make_field_twin)
        Flow(f"Fourier, kmax = {SMALL_KMAX}", small, c, np.eye(basis.n_params)),
        Flow(f"Fourier, kmax = {LARGE_KMAX}",
             posterior(large, spectral_prior(large, PowerLawSpectrum(exponent=2.0))),
             embed @ c, embed),
        Flow("nodal ψ", posterior(NodalStreamFunction(grid),
                                  GaussianRandomField(grid, 0.05, 0.3, alpha=3)),
             modes @ c, modes),
    ]
    reference = flows[0].posterior.inputs(c).velocity
    for flow in flows[1:]:
        velocity = flow.posterior.inputs(flow.point).velocity
        if not np.allclose(velocity, reference, rtol=0, atol=1e-12 * np.abs(reference).max()):
            raise RuntimeError(f"{flow.label}: not the velocity of the p = "
                                 f"{basis.n_params} truth")
    return Case(n, twin, flows)


def interleaved(methods: dict, repeats: int) -> tuple[dict, dict]:
    """Wall and CPU seconds of each method in ``repeats`` interleaved rounds (one array per
    method), after one warm-up call each."""
    for fn in methods.values():
        fn()
    wall = {name: [] for name in methods}
    cpu = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return ({k: np.array(v) for k, v in wall.items()}, {k: np.array(v) for k, v in cpu.items()})


def within_round_ratio(wall: dict, name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s seconds over ``baseline``'s in the same round."""
    return float(np.median(wall[name] / wall[baseline]))


def print_table(rows: list[tuple], last_column: str | None) -> None:
    """A Markdown table of (method, p, seconds, × forward, CPU ÷ wall, products, peak MiB
    [, last column]) rows."""
    header = ["method", "p", "seconds", "× forward", "CPU ÷ wall", "products", "peak MiB"]
    header += [last_column] if last_column else []
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, p, seconds, ratio, cores, products, memory, *extra in rows:
        cells = [name, str(p), f"{seconds:.3f}", f"{ratio:.2f}", f"{cores:.2f}",
                 str(products), f"{memory:.0f}"] + [f"{e:.1e}" for e in extra]
        print("| " + " | ".join(cells) + " |")


def print_targets(rows: list[tuple[str, float, float]]) -> None:
    """A Markdown table of (quantity, measured, target ≤) rows."""
    print("| quantity | measured | target | met |")
    print("|---|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value:.2f} | ≤ {target:g} | {'yes' if value <= target else 'no'} |")


def misfit_gradient(flow: Flow, gradient: np.ndarray) -> np.ndarray:
    """∇Φ mapped to the p = 12 coefficients: the posterior's ∇Ψ without its prior term."""
    return flow.to_small.T @ (gradient - flow.posterior.prior_term(flow.point)[1])


def gradient_costs(case: Case, repeats: int) -> list[tuple[str, float, float]]:
    """Gradient seconds against p at one velocity (module docstring): prints the table and
    the within-round ratios, returns the targeted one."""
    flows, small = case.flows, case.flows[0]
    post = small.posterior
    print(f"\nGradients: R5 at {case.n}x{case.n} (n = {case.n ** 2}), "
          f"{post.sensors.shape[0]} sensors × {post.times.size} times, noise {100 * NOISE:g} %, at "
          f"the velocity of the twin's p = {post.n_params} truth (rms speed "
          f"{np.sqrt(np.mean(case.twin.true_inputs.velocity ** 2)):.2f})")
    methods = {"forward": lambda: post.predict(small.point)}
    for flow in flows:
        methods[flow.label] = (lambda f=flow: f.posterior.value_and_gradient(f.point))
    tangent = f"tangent Jacobian, {small.label}"
    methods[tangent] = lambda: post.value_and_gradient(small.point, "tangent")
    wall, cpu = interleaved(methods, repeats)
    mapped, rows = {}, []
    for name, fn in methods.items():
        memory, products, result = measure(fn)
        flow = small if name == tangent else next((f for f in flows if f.label == name), None)
        if flow is not None:
            mapped[name] = misfit_gradient(flow, result[1])
        label = ("forward θ(t_j)" if flow is None
                 else name if name == tangent else f"adjoint gradient, {name}")
        rows.append([label, "–" if flow is None else flow.posterior.n_params,
                     float(np.median(wall[name])), within_round_ratio(wall, name, "forward"),
                     float(np.sum(cpu[name]) / np.sum(wall[name])), products, memory])
    reference = mapped[small.label]
    for row, name in zip(rows, methods):
        row.append(float(np.linalg.norm(mapped[name] - reference) / np.linalg.norm(reference))
                   if name in mapped else float("nan"))
    print_table(rows, f"rel. diff of ∇Φ from the adjoint, {small.label}")
    large = within_round_ratio(wall, flows[1].label, small.label)
    nodal = within_round_ratio(wall, flows[-1].label, small.label)
    print(f"gradient seconds, within-round ratios: p = {flows[1].posterior.n_params} / "
          f"p = {post.n_params}: {large:.2f}; p = n / p = {post.n_params}: {nodal:.2f}; "
          f"tangent Jacobian / adjoint, p = {post.n_params}: "
          f"{within_round_ratio(wall, tangent, small.label):.2f}")
    return [(f"gradient seconds, p = n / p = {post.n_params}, {case.n}²", nodal,
             GRADIENT_RATIO_TARGET)]


def hessian_costs(case: Case, repeats: int, rng) -> list[tuple[str, float, float]]:
    """Gauss–Newton Hessian-vector products at the case's velocity, nodal ψ (module
    docstring): prints the table, returns the targeted ratio."""
    flow = case.flows[-1]
    post, c = flow.posterior, flow.point
    print(f"\nGauss–Newton Hessian-vector products: R5 at {case.n}x{case.n}, {flow.label} "
          f"(p = n = {post.n_params}), the same velocity; v a prior draw")
    linearisation = post.linearise(c)
    v = post.prior.sample(rng) - post.prior.mean
    forward, product = "forward θ(t_j)", "Gauss–Newton product (GᵀG + C⁻¹)v"
    methods = {
        forward: lambda: post.predict(c),
        "tangent δθ(t_j)[v] alone": lambda: post.linearised_solve(c, v),
        "adjoint gradient ∇Ψ alone": lambda: post.value_and_gradient(c),
        product: lambda: linearisation.hessian(v),
    }
    wall, cpu = interleaved(methods, repeats)
    rows = []
    for name, fn in methods.items():
        memory, products, _ = measure(fn)
        rows.append((name, "–" if name == forward else post.n_params,
                     float(np.median(wall[name])), within_round_ratio(wall, name, forward),
                     float(np.sum(cpu[name]) / np.sum(wall[name])), products, memory))
    print_table(rows, None)
    return [(f"Gauss–Newton product / forward, {case.n}²",
             within_round_ratio(wall, product, forward), HESSIAN_PRODUCT_TARGET)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[64, 128],
                        help="grid points per axis (the Hessian products run on the largest)")
    parser.add_argument("--quick", action="store_true", help="16² and 24² instead of --n (a smoke test)")
    parser.add_argument("--sensors", type=int, default=49)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument("--seed", type=int, default=0)
    docs_fragment.add_option(parser, "bench_inference")
    args = parser.parse_args()
    recorder = docs_fragment.Recorder(parser, args).start()
    rng = np.random.default_rng(args.seed)
    cases = [same_velocity_case(n, args.sensors, rng)
             for n in ([16, 24] if args.quick else args.n)]
    targets = []
    for case in cases:
        targets += gradient_costs(case, args.repeats)
    targets += hessian_costs(cases[-1], args.repeats, rng)
    print("\nTargets")
    print_targets(targets)
    recorder.finish()


if __name__ == "__main__":
    main()
