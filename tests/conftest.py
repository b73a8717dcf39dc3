"""Shared fixtures and helpers for the test-suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def run_script(args: list[str], cwd: Path, *, extra_env: dict | None = None,
               timeout: float = 600, returncode: int = 0) -> subprocess.CompletedProcess:
    """Run ``python args...`` (a script, or ``-m advdiff_sens ...``) in a subprocess with the
    Agg backend; assert it exits with ``returncode`` (2 for the CLI's bad
    input) and, when it fails as expected, without a traceback."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == returncode, (f"{args} exited with {proc.returncode}, expected "
                                           f"{returncode}:\nstdout:\n{proc.stdout}\n"
                                           f"stderr:\n{proc.stderr}")
    if returncode:
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _started(*args, **kwargs):
    raise AssertionError("a computation started before the input was checked")


@pytest.fixture
def no_computation(monkeypatch):
    """``estimate``'s two computations replaced by an assertion: for tests of input that must
    be refused before anything is computed."""
    import advdiff_sens.inference.workflow
    from advdiff_sens.cli import field_estimation

    monkeypatch.setattr(field_estimation, "run_inference", _started)
    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", _started)


@pytest.fixture
def recorded(monkeypatch):
    """``run_inference`` replaced by a recorder that stops the run (Ctrl-C) at once; returns
    the dict of its arguments (``posterior`` and the keywords)."""
    import advdiff_sens.inference.workflow
    from advdiff_sens.cli import field_estimation

    calls = {}

    def record(posterior, **kwargs):
        calls.update(kwargs, posterior=posterior)
        raise KeyboardInterrupt

    monkeypatch.setattr(field_estimation, "run_inference", record)
    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", _started)
    return calls
