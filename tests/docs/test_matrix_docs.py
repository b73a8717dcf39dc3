"""The README's "Matrix level" snippet runs and shows what it claims."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "README.md"


def snippet() -> str:
    section = DOC.read_text().split("## Matrix level", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_snippet_is_short():
    assert len(snippet().strip().splitlines()) <= 12


def test_snippet_runs(capsys):
    namespace: dict = {}
    exec(compile(snippet(), str(DOC), "exec"), namespace)
    assert "rel. error at t=25/e_m" in capsys.readouterr().out
    assert namespace["err"] <= 1e-8
    assert namespace["y"].shape == (30,)
