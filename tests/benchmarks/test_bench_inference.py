"""``benchmarks/bench_inference.py`` runs end to end at its quick size (16² and 24²) and
writes its fragment; no timing is asserted, only the table structure, the product counts
(exact, independent of timing) and the gradients' agreement that the methods guarantee."""

import docutils.core
import docutils.writers.null
import pytest

from advdiff_sens.problems import INFERENCE_TOL
from conftest import ROOT, run_script

NOISE = 0.01          # the benchmark's noise sd relative to the largest clean reading


def _tables(stdout: str) -> list[dict[str, list[str]]]:
    """The printed Markdown tables in order, each as rows keyed by their first cell (the
    header row is keyed by its first cell too)."""
    tables, current = [], None
    for line in stdout.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        if line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = {}
            tables.append(current)
        current[cells[0]] = cells[1:]
    return tables


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bench_inference")
    target = tmp_path / "bench_inference.rst"
    proc = run_script([str(ROOT / "benchmarks" / "bench_inference.py"), "--quick",
                       "--repeats", "1", "--sensors", "9", "--write-docs", str(target)],
                      tmp_path)
    return proc.stdout, target


@pytest.mark.timeout(300)
def test_gradient_tables_compare_the_same_velocity(quick_run):
    stdout, _ = quick_run
    tables = _tables(stdout)
    assert len(tables) == 4          # gradients at 16² and 24², Hessian products, targets
    for table, n in zip(tables[:2], (16, 24)):
        adjoint = {label: table[f"adjoint gradient, {label}"]
                   for label in ("Fourier, kmax = 2", "Fourier, kmax = 8", "nodal ψ")}
        tangent = table["tangent Jacobian, Fourier, kmax = 2"]
        forward = table["forward θ(t_j)"]
        assert [row[0] for row in adjoint.values()] == ["12", "196", str(n * n)]
        assert tangent[0] == "12" and forward[2] == "1.00"
        # one velocity, so one schedule: every parameterisation's adjoint sweep makes the
        # same products, and the tangent Jacobian one tangent solve per coefficient plus
        # the forward solve of the residual
        assert len({row[4] for row in adjoint.values()}) == 1
        assert (int(tangent[4]) - int(forward[4])) % 12 == 0
        # ∇Φ mapped to the p = 12 coefficients: the same polynomial at the same velocity
        # (to rounding over ~10³ products of length n), and the tangent Jacobian, whose
        # residual comes from the forward plan (tol away from the adjoint's, amplified by
        # 1/noise in the whitened residual)
        errors = {label: float(row[-1]) for label, row in adjoint.items()}
        assert errors["Fourier, kmax = 2"] == 0.0
        assert errors["Fourier, kmax = 8"] <= 1e-10 and errors["nodal ψ"] <= 1e-10
        assert float(tangent[-1]) <= INFERENCE_TOL / NOISE
        assert forward[-1] == "nan"


@pytest.mark.timeout(300)
def test_hessian_products_are_one_tangent_and_one_adjoint(quick_run):
    stdout, _ = quick_run
    gradients, hessian, targets = _tables(stdout)[1:]
    products = {name: int(row[4]) for name, row in hessian.items() if name != "method"}
    assert products["forward θ(t_j)"] == int(gradients["forward θ(t_j)"][4])
    assert products["adjoint gradient ∇Ψ alone"] == int(gradients["adjoint gradient, nodal ψ"][4])
    # the linearisation records the forward propagation once and every product reuses it:
    # a product is a tangent plus the adjoint sweep without its forward recording
    # (the recording runs the tape's own schedule, a few products off a plain solve's)
    forward = products["forward θ(t_j)"]
    expected = (products["tangent δθ(t_j)[v] alone"] + products["adjoint gradient ∇Ψ alone"]
                - forward)
    assert abs(products["Gauss–Newton product (GᵀG + C⁻¹)v"] - expected) <= 0.05 * forward
    # the tangent Jacobian of p = 12 at 24²: twelve such tangents and the forward solve
    assert (int(gradients["tangent Jacobian, Fourier, kmax = 2"][4])
            == 12 * products["tangent δθ(t_j)[v] alone"] + products["forward θ(t_j)"])
    assert all(row[0] == "576" for name, row in hessian.items()
               if name not in ("method", "forward θ(t_j)"))
    assert list(targets) == ["quantity", "gradient seconds, p = n / p = 12, 16²",
                             "gradient seconds, p = n / p = 12, 24²",
                             "Gauss–Newton product / forward, 24²"]
    for name, (value, target, met) in list(targets.items())[1:]:
        assert met == ("yes" if float(value) <= float(target.lstrip("≤ ")) else "no")


@pytest.mark.timeout(300)
def test_fragment_holds_the_tables(quick_run):
    stdout, target = quick_run
    assert f"documentation fragment written to {target}" in stdout
    text = target.read_text()
    assert ":Command: ``python benchmarks/bench_inference.py --quick" in text
    assert text.count(".. list-table::") == 4
    docutils.core.publish_string(text, writer=docutils.writers.null.Writer(),
                                 settings_overrides={"report_level": 2, "halt_level": 2})
