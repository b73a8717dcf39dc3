"""Sphinx configuration of the advdiff_sens documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import advdiff_sens  # noqa: E402  (imported from this checkout, after the path is set)

project = "advdiff_sens"
author = "the advdiff_sens developers"
copyright = "the advdiff_sens developers"
release = advdiff_sens.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
# docs/performance/*.rst are fragments written by the benchmarks (--write-docs) and included
# by performance.rst, not pages of their own.
exclude_patterns = ["_build", "performance"]

autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False

html_theme = "pydata_sphinx_theme"
html_title = "advdiff_sens"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}

# The packages with a page of their own in api/: a name the top-level package re-exports from
# one of them is documented there once (documenting a class twice is a duplicate object
# description) and listed on the top-level page with a link.
API_PACKAGES = ("matrix", "discretisation", "sensitivity", "inference", "sampling", "problems",
                "plotting", "exceptions", "progress", "registry")


def _home_package(obj) -> str | None:
    """The ``advdiff_sens.<package>`` with its own API page that defines ``obj``, if any."""
    module = getattr(obj, "__module__", None) or ""
    for package in API_PACKAGES:
        name = f"advdiff_sens.{package}"
        if module == name or module.startswith(name + "."):
            return name
    return None


def _reexport_lines() -> list[str]:
    lines = []
    for name in advdiff_sens.__all__:
        obj = getattr(advdiff_sens, name)
        home = _home_package(obj)
        if home is not None:
            role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
            lines.append(f"* ``advdiff_sens.{name}``: :{role}:`{home}.{name}`")
    return lines


_DOCUMENTING = {"module": None}   # the module whose automodule directive runs


def _top_level_docstring(app, what, name, obj, options, lines):
    """Note the module being documented; on the top-level package, list the re-exports."""
    if what == "module":
        _DOCUMENTING["module"] = name
        reexports = _reexport_lines() if name == "advdiff_sens" else []
        if reexports:
            lines.extend(["", "Also re-exported at the top level (documented in their package):",
                          "", *reexports, ""])


def _skip_top_level_reexports(app, what, name, obj, skip, options):
    """On the top-level page, skip the names documented on a sub-package's page."""
    if _DOCUMENTING["module"] == "advdiff_sens" and _home_package(obj) is not None:
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _top_level_docstring)
    app.connect("autodoc-skip-member", _skip_top_level_reexports)
