"""Every Python code block of the README and of the documentation pages runs as written, in
order, in one namespace per page (later blocks continue earlier ones, as a reader would type
them), and uses only the public names of the library."""

import ast
import importlib
import re
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts
               and p.parent != DOCS / "performance")


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def rst_python_blocks(text: str) -> list[str]:
    """The bodies of the ``.. code-block:: python`` directives of a reStructuredText page."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1                                    # directive options
        body = []
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip() + "\n")
    return blocks


def run_blocks(blocks: list[str], name: str) -> dict:
    namespace = {"__name__": name}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{name} block {index}", "exec"), namespace)
    return namespace


def test_rst_extraction_finds_blocks_and_only_python():
    text = ("Title\n=====\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = a\n"
            "\ntext\n\n.. code-block:: console\n\n   $ ls\n\n  .. code-block:: python\n\n"
            "     c = 2\n")
    assert rst_python_blocks(text) == ["a = 1\n\nb = a\n", "c = 2\n"]


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    assert readme_blocks()
    monkeypatch.chdir(tmp_path)
    run_blocks(readme_blocks(), "README")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_python_blocks_run_in_order(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_blocks(rst_python_blocks(page.read_text()), str(page.relative_to(ROOT)))


def test_the_theory_and_guide_pages_have_code():
    with_code = {p.relative_to(DOCS).as_posix() for p in PAGES if rst_python_blocks(p.read_text())}
    assert {"theory/discretisation.rst", "theory/sensitivity.rst", "theory/rate_matrices.rst",
            "guides/sensitivity_studies.rst", "guides/flow_estimation.rst",
            "guides/guarantees.rst", "reference_problems.rst"} <= with_code


ALL_BLOCKS = readme_blocks() + [b for p in PAGES for b in rst_python_blocks(p.read_text())]


@pytest.mark.parametrize("index", range(len(ALL_BLOCKS)))
def test_code_uses_only_public_names(index):
    """Imports come from the top level or a package, and name only what it re-exports."""
    problems = []
    for node in ast.walk(ast.parse(ALL_BLOCKS[index])):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("advdiff_sens"):
            if node.module.count(".") > 1:
                problems.append(f"imports from the module {node.module}, not a package")
                continue
            package = importlib.import_module(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if alias.name not in getattr(package, "__all__", ()) and not (
                        importlib.util.find_spec(sub) and (ROOT / Path(*sub.split("."))).is_dir()):
                    problems.append(f"{alias.name} is not public in {node.module}")
        elif isinstance(node, ast.Import):
            problems += [f"imports the module {a.name}" for a in node.names
                         if a.name.startswith("advdiff_sens") and a.name.count(".") > 0]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            problems.append(f"uses the private name {node.attr}")
    assert not problems, problems
