"""Command-line interface: ``advdiff-sens`` / ``python -m advdiff_sens``.

Commands (one module each)
--------------------------
forward (:mod:`advdiff_sens.cli.forward`)
    Solve reference problem R2 at a chosen resolution, print the time taken and save a PNG
    of θ(0) and θ(T).
sensitivity (:mod:`advdiff_sens.cli.sensitivity`)
    Run every sensitivity method on R2 (tangent, finite difference, adjoint, surrogates),
    print the table of values, errors against the tangent and times, and save the figure.
demo (:mod:`advdiff_sens.cli.demo`)
    The main job: an R3 twin experiment (velocity estimation from point-sensor data) with
    embedded defaults — MAP by continuation, Laplace covariance, a short HMC run — printing a
    table and saving figures (``--quick`` for a reduced size).
estimate DATA.npz (:mod:`advdiff_sens.cli.estimate`)
    The same estimation on user data (format: :mod:`advdiff_sens.cli.datafile`), writing
    ``estimate.npz`` and figures; or, with another parameter space, prior, set of unknowns
    (flow, θ0, κ) or sampler (:mod:`advdiff_sens.cli.unknowns`), the field pipeline
    :func:`advdiff_sens.inference.run_inference` (:mod:`advdiff_sens.cli.field_estimation`),
    writing ``inference.npz`` and figures; a time-varying flow with ``--windows``. With the
    ``io`` extra, ``results.nc`` and ``fit.nc`` beside them
    (:mod:`advdiff_sens.cli.results_netcdf`). ``--config FILE`` reads its options from a TOML
    file (:mod:`advdiff_sens.cli.config`).
sweep CONFIG.toml (:mod:`advdiff_sens.cli.sweep`)
    Map a task (solves, tangents, gradients, MCMC chains) over a table of cases with
    :mod:`advdiff_sens.ensemble`, serially or on a dask.distributed cluster (a LocalCluster,
    or ``--scheduler ADDRESS``), writing each finished case to disk and resuming from it.

The shared options and argument types are in :mod:`advdiff_sens.cli.options`; the
estimation both ``demo`` and ``estimate`` run by default is
:func:`advdiff_sens.inference.run_workflow` (:mod:`advdiff_sens.cli.estimation` prints it).

Bad input
---------
Every argument and every array of an input file is checked before any computation starts
(the output folder is created and test-written first). Every error is one line
``error: <what, which argument or array, what was expected>`` on stderr (argparse's own
``advdiff-sens <command>: error: argument --x: …`` for command-line syntax) with exit
status 2, never a traceback; options that do not apply to each other are errors naming
both. Results are written as soon as they exist (``estimate.npz`` right after the MAP, again
with the samples after HMC, figures last; ``inference.npz`` after the Laplace stage and
again after sampling, each time followed by that stage's figures); when a later step fails,
or on Ctrl-C (exit status 130), the message lists what was already saved.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from advdiff_sens.cli import demo, estimate, forward, sensitivity
from advdiff_sens.cli import sweep
from advdiff_sens.cli.config import CommandParser, read_config
from advdiff_sens.cli.options import saved_note
from advdiff_sens.exceptions import NonFiniteResultError, WorkLimitExceeded

__all__ = ["main", "build_parser", "COMMANDS", "REPORTED_ERRORS"]

#: The commands, in the order ``--help`` lists them: name → module with ``HELP``,
#: ``configure(parser)`` and ``run(args)``.
COMMANDS = {"forward": forward, "sensitivity": sensitivity, "demo": demo, "estimate": estimate}
COMMANDS["sweep"] = sweep          # advdiff_sens.cli.sweep: a task over a table of cases
#: Errors that are reported as ``error: …`` (exit status 2) instead of a traceback: bad
#: input found by the CLI or the library, files that cannot be read or written, and the
#: library's errors for results it cannot compute.
REPORTED_ERRORS = (ValueError, TypeError, OSError, NonFiniteResultError, WorkLimitExceeded)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI.

    Examples
    --------
    >>> build_parser().parse_args(["forward", "--n", "16"]).n
    16
    """
    parser = argparse.ArgumentParser(
        prog="advdiff-sens",
        description="Velocity sensitivity of the advection-diffusion equation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    parser.commands = {name: sub.add_parser(name, help=command.HELP)
                       for name, command in COMMANDS.items()}
    for name, command in COMMANDS.items():
        command.configure(parser.commands[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    0 on success; 2 for bad input (``error: …`` on stderr, after any results already
    saved are listed); 130 on Ctrl-C.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help (0) or a usage error argparse printed (2)
        return int(exc.code or 0)
    if getattr(args, "config", None) is not None:
        command = parser.commands[args.command]
        try:
            command.set_defaults(**read_config(args.config, command))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        args = parser.parse_args(argv)  # the command line wins over the file
    args.saved = []
    library_format = warnings.formatwarning
    warnings.formatwarning = format_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"interrupted; {saved_note(args.saved)}", file=sys.stderr)
        return 130
    except REPORTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.saved:
            print(saved_note(args.saved), file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = library_format


def format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as the CLI shows them: ``warning: <message> (<class>)``, no source line.

    Examples
    --------
    >>> format_warning("too few draws", UserWarning, "x.py", 1)
    'warning: too few draws (UserWarning)\\n'
    """
    return f"warning: {message} ({category.__name__})\n"
