"""The matrix-level snippet of the rate-matrix theory page runs and shows what it claims."""

from __future__ import annotations

from test_readme import DOCS, rst_python_blocks

PAGE = DOCS / "theory" / "rate_matrices.rst"


def snippet() -> str:
    section = PAGE.read_text().split("Theorem 2.1, corrected\n", 1)[1]
    return rst_python_blocks(section)[0]


def test_snippet_is_short():
    assert len(snippet().strip().splitlines()) <= 12


def test_snippet_runs(capsys):
    namespace: dict = {}
    exec(compile(snippet(), str(PAGE), "exec"), namespace)
    assert "rel. error at t=25/e_m" in capsys.readouterr().out
    assert namespace["err"] <= 1e-8
    assert namespace["y"].shape == (30,)
