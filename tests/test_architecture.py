"""The shape of the code: layers import only downward, no private name crosses a module
border, matplotlib stays in the plotting and command layers.

Checked by reading the source (``ast``), so the rules hold for code paths no test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "advdiff_sens"

#: What each part of the library may import from the library (besides itself). The base
#: modules are the foundation every layer uses.
BASE = {"validation", "exceptions", "progress", "registry"}
ALLOWED = {
    "validation": set(),
    "exceptions": set(),
    "progress": set(),
    "registry": set(),
    "matrix": BASE,
    "discretisation": BASE,
    "sensitivity": BASE | {"matrix"},
    "model": BASE | {"matrix", "discretisation", "sensitivity"},
    "sampling": BASE,
    "inference": BASE | {"matrix", "discretisation", "sensitivity", "model", "sampling"},
    "comparison": BASE | {"matrix", "discretisation", "sensitivity", "model"},
    "problems": BASE | {"matrix", "discretisation", "sensitivity", "model", "sampling",
                        "inference"},
    "plotting": BASE | {"discretisation"},
    "io": BASE | {"discretisation"},
    "ensemble": BASE | {"matrix", "discretisation", "sensitivity", "model", "sampling",
                        "inference", "comparison", "problems", "io"},
    "cli": BASE | {"matrix", "discretisation", "sensitivity", "model", "sampling", "inference",
                   "comparison", "problems", "plotting", "io", "ensemble"},
    "__init__": {"discretisation", "model", "inference", "sensitivity", "matrix"},
    "__main__": {"cli"},
}
#: Third-party private modules allowed in exactly one library module, with the reason.
THIRD_PARTY_PRIVATE = {
    ("advdiff_sens/matrix/expm/kernels.py", "scipy.sparse._sparsetools"):
        "scipy's compiled CSR kernel y += Mx in place (no temporary, the arithmetic of M @ x); "
        "the public fallback changes the last bit of every product",
}
#: Underscore names that are public API by convention (namedtuple methods).
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make"}
MATPLOTLIB_ALLOWED = {"plotting", "cli"}


def library_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def checked_sources() -> list[Path]:
    return library_modules() + sorted((ROOT / "examples").glob("*.py")) + sorted(
        (ROOT / "benchmarks").glob("*.py"))


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_modules(tree: ast.AST, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in the file."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name, []))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = path.relative_to(ROOT).with_suffix("").parts[:-node.level]
                module = ".".join(base + ((module,) if module else ()))
            found.append((node.lineno, module, [a.name for a in node.names]))
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_names(tree: ast.AST) -> set[str]:
    """Every name a module defines: functions, classes, assigned names and attributes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


@pytest.mark.parametrize("path", checked_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module_border(path):
    tree = ast.parse(path.read_text())
    problems = []
    for line, module, names in imported_modules(tree, path):
        allowed = (str(path.relative_to(ROOT)), module) in THIRD_PARTY_PRIVATE
        if any(is_private(part) for part in module.split(".")) and not allowed:
            problems.append(f"line {line}: imports the private module {module}")
        problems += [f"line {line}: imports the private name {name} from {module}"
                     for name in names if is_private(name)]
    own = defined_names(tree)
    problems += [f"line {node.lineno}: uses {node.attr}, private to another module"
                 for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and is_private(node.attr)
                 and node.attr not in own and node.attr not in PUBLIC_UNDERSCORED]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_only_downward(path):
    part = part_of(path)
    assert part in ALLOWED, f"{part} is a new part of the library: give it a place in ALLOWED"
    tree = ast.parse(path.read_text())
    problems = []
    for line, module, _ in imported_modules(tree, path):
        parts = module.split(".")
        if parts[0] != "advdiff_sens":
            if parts[0] == "matplotlib" and part not in MATPLOTLIB_ALLOWED:
                problems.append(f"line {line}: numerics import matplotlib")
            continue
        target = parts[1] if len(parts) > 1 else "__init__"
        if target != part and target not in ALLOWED[part]:
            problems.append(f"line {line}: {part} imports {module} (allowed: "
                            f"{sorted(ALLOWED[part])})")
    assert not problems, "\n".join(problems)


def test_the_matrix_level_never_touches_grids():
    for path in (PACKAGE / "matrix").rglob("*.py"):
        text = path.read_text()
        assert "Grid" not in text.replace("Grid-free", ""), path
