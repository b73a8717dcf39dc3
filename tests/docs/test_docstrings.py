"""Every public callable of the documented packages has a runnable ``Examples`` section.

The examples themselves run as doctests (``--doctest-modules`` in pyproject.toml); this test
checks that none is missing in the public packages (:data:`PACKAGES`) and the model's
methods (:data:`OBJECTS`); a new public package joins :data:`PACKAGES`.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
import typing

import pytest

#: Packages whose ``__all__`` callables (functions and classes) must carry Examples.
PACKAGES = (
    "advdiff_sens",
    "advdiff_sens.discretisation",
    "advdiff_sens.inference",
    "advdiff_sens.sampling",
    "advdiff_sens.matrix",
    "advdiff_sens.matrix.expm",
    "advdiff_sens.matrix.rate",
    "advdiff_sens.sensitivity",
    "advdiff_sens.problems",
    "advdiff_sens.io",
    "advdiff_sens.ensemble",
    "advdiff_sens.progress",
    "advdiff_sens.registry",
)

#: Further public objects, by dotted path (module, then attributes).
OBJECTS = (
    "advdiff_sens.AdvectionDiffusion",
    *(f"advdiff_sens.AdvectionDiffusion.{method}" for method in (
        "solve", "tangent", "surrogate", "gradient", "generator", "generator_derivative",
        "plan_solve", "propagator", "partial_generators")),
    "advdiff_sens.comparison.compare_methods",
)

_HEADING = re.compile(r"^[ \t]*Examples[ \t]*\n[ \t]*-{3,}[ \t]*$", re.M)
_PROMPT = re.compile(r"^[ \t]*>>> ", re.M)


def _is_checked(name: str, obj) -> bool:
    """Functions and classes; not constants, type aliases or exception/warning classes."""
    if name.isupper() or not callable(obj):
        return False
    if isinstance(obj, types.GenericAlias) or typing.get_origin(obj) is not None:
        return False                                     # a type alias such as Objective
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return False
    return inspect.isclass(obj) or inspect.isroutine(obj)


def _exported() -> list[tuple[str, object]]:
    """``(public name, object)`` for every checked callable, each object once (under the
    first package of :data:`PACKAGES` that exports it)."""
    seen: set[int] = set()
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if _is_checked(name, obj) and id(obj) not in seen:
                seen.add(id(obj))
                found.append((f"{package}.{name}", obj))
    return found


def _resolve(path: str):
    module_name, _, rest = path.partition(".")
    obj = importlib.import_module(module_name)
    for part in rest.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(f"{obj.__name__}.{part}")
    return obj


EXPORTED = _exported()


def _check_examples(name: str, obj) -> None:
    doc = inspect.getdoc(obj) or ""
    match = _HEADING.search(doc)
    assert match, f"{name} has no 'Examples' section in its docstring"
    assert _PROMPT.search(doc, match.end()), (
        f"{name}: its 'Examples' section has no '>>>' line")


def test_the_checked_packages_export_something():
    assert len(EXPORTED) >= 60
    assert all(isinstance(package, str) for package in PACKAGES)


@pytest.mark.parametrize("name, obj", EXPORTED, ids=[name for name, _ in EXPORTED])
def test_exported_callable_has_examples(name, obj):
    _check_examples(name, obj)


@pytest.mark.parametrize("path", OBJECTS)
def test_public_object_has_examples(path):
    _check_examples(path, _resolve(path))


def test_filter_skips_constants_aliases_and_exceptions():
    from advdiff_sens.exceptions import AccuracyWarning, PlanUnavailable
    from advdiff_sens.matrix import DEFAULT_TOL, expm_action
    from advdiff_sens.sensitivity import Objective

    assert not _is_checked("DEFAULT_TOL", DEFAULT_TOL)
    assert not _is_checked("Objective", Objective)
    assert not _is_checked("PlanUnavailable", PlanUnavailable)
    assert not _is_checked("AccuracyWarning", AccuracyWarning)
    assert _is_checked("expm_action", expm_action)


def test_missing_examples_are_reported_by_name():
    def undocumented():
        """No examples here."""

    with pytest.raises(AssertionError, match="undocumented has no 'Examples'"):
        _check_examples("undocumented", undocumented)
