r"""``advdiff-sens sweep CONFIG.toml``: one task over a table of cases, on dask.distributed.

The file names the problem, the task and the cases; the run options can also be given on
the command line (which wins)::

    # sweep.toml
    [problem]                    # reference problem R2 (advdiff_sens.problems.r2_problem)
    nodes = 32
    scheme = "central"           # central, upwind, exponential

    [task]
    kind = "gradient"            # solve, tangent, gradient, chain
    noise-std = 0.01             # gradient, chain: σ of the twin data
    truth-amplitude = 1.0        # gradient: the true flow is this times R2's

    [cases]
    combine = "product"          # every combination, or "zip" (row i takes value i of each)
    amplitude = [0.5, 1.0, 1.5]
    kappa = [0.01, 0.02]

    [run]
    seed = 0
    outdir = "sweep"
    retries = 1
    executor = "dask"            # or "serial"
    workers = 2                  # local cluster size (default: one per core)
    # scheduler = "tcp://host:8786"

Case parameters (each a number or a list of them): ``amplitude`` (flow = amplitude × R2's),
``kappa``, ``t`` (final time), and for ``tangent`` the direction mode ``kx``, ``ky`` (else a
random direction from the case's seed) and ``dkappa``; for ``gradient`` ``noise_std``; for
``chain`` the start ``x0``. The ``chain`` task (one HMC chain per case,
:class:`~advdiff_sens.ensemble.ChainTask`) takes ``unknown`` (amplitude or mass),
``noise-std``, ``truth``, ``prior-mean``, ``prior-std``, ``data-seed``, ``draws``,
``warmup``, ``step-size`` and ``leapfrog``.
With no ``scheduler`` the cases run on a ``LocalCluster`` of single-threaded worker
processes that the command starts and stops; with ``--scheduler ADDRESS`` on that
scheduler's workers (started by dask-jobqueue, Kubernetes or ``dask scheduler`` /
``dask worker``). Each finished case is written to ``OUTDIR/cases/<id>.npz`` at once; a
rerun resumes, computing only the cases not on disk
(:mod:`advdiff_sens.ensemble.sweep`).

Exit status: 0 when every case is on disk; 1 when some cases failed after their retries
(each listed with its error, also in ``OUTDIR/failures.json``); 2 for a bad file or option
(``error: FILE: key 'section.key': …``), before anything is computed.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from advdiff_sens.cli.config import read_toml
from advdiff_sens.cli.options import integer_at_least, prepare_outdir
from advdiff_sens.discretisation import SCHEMES
from advdiff_sens.discretisation.grid import MIN_NODES
from advdiff_sens.sensitivity import ADJOINTS
from advdiff_sens.ensemble import (CaseTable, ChainTask, DaskExecutor, GradientTask,
                                   ProblemContext, SerialExecutor, SolveTask, Sweep,
                                   TangentTask)

__all__ = ["HELP", "configure", "run", "read_sweep_file", "CASE_PARAMETERS"]

#: The command's line in ``advdiff-sens --help``.
HELP = "run a task over a table of cases (a TOML file), on a dask cluster or serially"
#: The case parameters each task reads, with what each must be.
CASE_PARAMETERS = {
    "solve": {"amplitude": "number", "kappa": "positive", "t": "positive"},
    "tangent": {"amplitude": "number", "kappa": "positive", "t": "positive", "kx": "integer",
                "ky": "integer", "dkappa": "number"},
    "gradient": {"amplitude": "number", "kappa": "positive", "t": "positive",
                 "noise_std": "positive"},
    "chain": {"x0": "number", "kappa": "positive", "t": "positive"},
}
#: The keys of each section: key → (kind, default).
SCHEMA = {
    "problem": {"nodes": ("nodes", 32), "scheme": ("scheme", "central")},
    "task": {"kind": ("kind", None), "noise_std": ("positive", None),
             "truth_amplitude": ("number", 1.0), "adjoint": ("adjoint", "auto"),
             "with_theta0": ("boolean", False), "with_kappa": ("boolean", False),
             "unknown": ("unknown", "amplitude"), "truth": ("number", 1.0),
             "prior_mean": ("number", 1.0), "prior_std": ("positive", 0.5),
             "data_seed": ("seed", 0), "draws": ("draws", 200), "warmup": ("seed", 100),
             "step_size": ("positive", 0.5), "leapfrog": ("workers", 5)},
    "run": {"seed": ("seed", 0), "outdir": ("string", "advdiff_sens_sweep"),
            "retries": ("retries", 1), "executor": ("executor", "dask"),
            "workers": ("workers", None), "scheduler": ("string", None)},
}
#: The task options each kind takes: file key → the task's keyword.
TASK_OPTIONS = {
    "solve": {},
    "tangent": {},
    "gradient": {"noise_std": "noise_std", "truth_amplitude": "truth_amplitude",
                 "adjoint": "adjoint", "with_theta0": "with_theta0",
                 "with_kappa": "with_kappa"},
    "chain": {"unknown": "unknown", "noise_std": "noise_std", "truth": "truth",
              "prior_mean": "prior_mean", "prior_std": "prior_std", "data_seed": "data_seed",
              "draws": "n_draws", "warmup": "n_warmup", "step_size": "step_size",
              "leapfrog": "n_leapfrog"},
}
#: The task classes by kind.
TASK_CLASSES = {"solve": SolveTask, "tangent": TangentTask, "gradient": GradientTask,
                "chain": ChainTask}


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``sweep``."""
    parser.add_argument("sweep_file", metavar="CONFIG.toml",
                        help="TOML file: [problem], [task], [cases], [run] (see the CLI page)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="a dask scheduler to connect to (tcp://host:8786); default: a "
                             "local cluster")
    parser.add_argument("--workers", type=integer_at_least(1), default=None,
                        help="worker processes of the local cluster (one per core)")
    parser.add_argument("--executor", choices=("dask", "serial"), default=None,
                        help="where the cases run (dask)")
    parser.add_argument("--outdir", default=None, help="folder for the results")
    parser.add_argument("--seed", type=integer_at_least(0), default=None,
                        help="seed of the sweep (0)")
    parser.add_argument("--retries", type=integer_at_least(0), default=None,
                        help="further attempts of a failed case (1)")
    parser.set_defaults(func=run)


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check(kind: str, value, where: str):
    """``value`` converted as ``kind``, or a ValueError naming ``where``."""
    def fail(expected):
        raise ValueError(f"{where}: expected {expected}, got {value!r}")

    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return value if isinstance(value, bool) else fail("true or false")
    if kind == "string":
        return value if isinstance(value, str) and value else fail("a non-empty string")
    if kind == "number":
        return float(value) if is_number and abs(value) < float("inf") else fail("a number")
    if kind == "positive":
        return (float(value) if is_number and 0 < value < float("inf")
                else fail("a number > 0"))
    if kind == "integer":
        return value if is_int else fail("an integer")
    if kind in ("seed", "retries"):
        return value if is_int and value >= 0 else fail("an integer >= 0")
    if kind == "workers":
        return value if is_int and value >= 1 else fail("an integer >= 1")
    if kind == "nodes":
        return value if is_int and value >= MIN_NODES else fail(f"an integer >= {MIN_NODES}")
    if kind == "scheme":
        return value if value in SCHEMES.names() else fail(f"one of {', '.join(SCHEMES.names())}")
    if kind == "kind":
        return (value if isinstance(value, str) and value in CASE_PARAMETERS
                else fail(f"one of {', '.join(CASE_PARAMETERS)}"))
    if kind == "adjoint":
        return (value if isinstance(value, str) and value in ADJOINTS
                else fail(f"one of {', '.join(ADJOINTS.names())}"))
    if kind == "executor":
        return value if value in ("dask", "serial") else fail("dask or serial")
    if kind == "unknown":
        return value if value in ("amplitude", "mass") else fail("amplitude or mass")
    if kind == "draws":
        return value if is_int and value >= 4 else fail("an integer >= 4")
    raise AssertionError(kind)


def read_sweep_file(path) -> dict:
    """The checked contents of a sweep file: ``{"problem", "task", "run": dict, "cases":
    CaseTable}`` with every default filled in.

    Raises
    ------
    ValueError
        Naming the file and the key (``sweep.toml: key 'cases.kappa': …``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.toml"
    >>> _ = path.write_text('[task]\\nkind = "solve"\\n[cases]\\nkappa = [0.01, 0.02]\\n')
    >>> spec = read_sweep_file(path)
    >>> spec["task"]["kind"], len(spec["cases"]), spec["run"]["executor"]
    ('solve', 2, 'dask')
    >>> _ = path.write_text('[task]\\nkind = "solve"\\n[cases]\\nkapa = [0.01]\\n')
    >>> try:
    ...     read_sweep_file(path)
    ... except ValueError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    key 'cases.kapa': not a parameter of the solve task (did you mean 'kappa'?)
    """
    path = Path(path)
    table = read_toml(path, "sweep file")
    sections = set(SCHEMA) | {"cases"}
    for name, value in table.items():
        if name not in sections:
            raise ValueError(f"{path}: key {name!r}: not a section (expected "
                             f"{', '.join(sorted(sections))}){_suggest(name, sections)}")
        if not isinstance(value, dict):
            raise ValueError(f"{path}: key {name!r}: expected a [{name}] section")
    spec: dict = {}
    for section, keys in SCHEMA.items():
        given = {k.replace("-", "_"): v for k, v in table.get(section, {}).items()}
        for key in given:
            if key not in keys:
                raise ValueError(f"{path}: key '{section}.{key}': no such key"
                                 f"{_suggest(key, keys)}")
        spec[section] = {key: default if key not in given
                         else _check(kind, given[key], f"{path}: key '{section}.{key}'")
                         for key, (kind, default) in keys.items()}
    kind = spec["task"]["kind"]
    if kind is None:
        raise ValueError(f"{path}: key 'task.kind': missing (expected one of "
                         f"{', '.join(CASE_PARAMETERS)})")
    for key in table.get("task", {}):
        if key != "kind" and key.replace("-", "_") not in TASK_OPTIONS[kind]:
            takes = [k for k, options in TASK_OPTIONS.items() if key.replace("-", "_") in options]
            raise ValueError(f"{path}: key 'task.{key}': applies to the {' and '.join(takes)} "
                             f"task{'s' if len(takes) > 1 else ''} only, not {kind}")
    spec["cases"] = _cases(table.get("cases", {}), kind, path)
    return spec


def _cases(section: dict, kind: str, path: Path) -> CaseTable:
    allowed = CASE_PARAMETERS[kind]
    combine = section.get("combine", "product")
    if combine not in ("product", "zip"):
        raise ValueError(f"{path}: key 'cases.combine': expected product or zip, got "
                         f"{combine!r}")
    columns = {}
    for key, value in section.items():
        if key == "combine":
            continue
        name = key.replace("-", "_")
        if name not in allowed:
            raise ValueError(f"{path}: key 'cases.{key}': not a parameter of the {kind} task"
                             f"{_suggest(name, allowed)}")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"{path}: key 'cases.{key}': expected a value or a non-empty list")
        columns[name] = [_check(allowed[name], v, f"{path}: key 'cases.{key}'")
                         for v in values]
    if not columns:
        raise ValueError(f"{path}: section [cases]: no parameters (expected lists of "
                         f"{', '.join(allowed)})")
    try:
        return getattr(CaseTable, combine)(**columns)
    except ValueError as exc:
        raise ValueError(f"{path}: section [cases]: {exc}") from None


def _executor(settings: dict):
    if settings["executor"] == "serial":
        if settings["scheduler"] is not None or settings["workers"] is not None:
            raise ValueError("--executor serial runs in this process: --scheduler and "
                             "--workers do not apply")
        return SerialExecutor(retries=settings["retries"])
    if settings["scheduler"] is not None and settings["workers"] is not None:
        raise ValueError("--workers sets the local cluster's size and does not apply with "
                         "--scheduler (the cluster's deployment starts its workers)")
    try:
        return DaskExecutor(address=settings["scheduler"], n_workers=settings["workers"],
                            retries=settings["retries"])
    except ImportError as exc:
        raise ValueError(f"{exc}; or run with --executor serial") from None


def run(args: argparse.Namespace) -> int:
    """Run ``sweep``; return the exit code."""
    spec = read_sweep_file(args.sweep_file)
    settings = dict(spec["run"])
    for key in ("scheduler", "workers", "executor", "outdir", "seed", "retries"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    executor = _executor(settings)
    outdir = prepare_outdir(settings["outdir"])
    kind, given = spec["task"]["kind"], spec["task"]
    task = TASK_CLASSES[kind](**{keyword: given[key]
                                 for key, keyword in TASK_OPTIONS[kind].items()
                                 if given[key] is not None})
    problem = spec["problem"]
    context = ProblemContext(n=problem["nodes"], scheme=problem["scheme"], progress=False)
    sweep = Sweep(task, spec["cases"], context, seed=settings["seed"])
    print(f"sweep: {len(spec['cases'])} cases of the {kind} task on R2 at "
          f"{problem['nodes']}x{problem['nodes']} ({problem['scheme']}), {executor!r}, "
          f"results in {outdir}")
    args.saved.append(outdir / "cases")            # each case lands there as it finishes
    report = sweep.run(outdir, executor, progress=True)
    print(report.summary())
    if not report.complete:
        print(f"{len(report.failed)} cases failed (listed above and in "
              f"{outdir / 'failures.json'}); rerun the same command to retry only those")
        return 1
    return 0
