"""Write what a benchmark prints as a fragment of the documentation's performance page.

A benchmark script adds the ``--write-docs`` option with :func:`add_option` and records its
main work with a :class:`Recorder`: between ``start()`` and ``finish()`` everything printed
goes to the terminal and into a copy, and ``finish()`` writes, when the option was given,
the reStructuredText fragment ``docs/performance/<benchmark>.rst`` (or the path given): the
date, the machine (platform, CPU model, core count, Python/numpy/scipy versions, load
average before and after the run), the exact command line that was run, the options that
differ from the script's defaults, and the printed output — Markdown tables as tables,
every other line verbatim. ``docs/performance.rst`` includes the fragments.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs" / "performance"


def add_option(parser: argparse.ArgumentParser, benchmark: str) -> None:
    """Add ``--write-docs [PATH]`` (default ``docs/performance/<benchmark>.rst``)."""
    parser.add_argument("--write-docs", nargs="?", const=str(DOCS_DIR / f"{benchmark}.rst"),
                        default=None, metavar="PATH",
                        help="also write the results as a documentation fragment "
                             f"(default path: docs/performance/{benchmark}.rst)")


def cpu_model() -> str:
    """The CPU model named in ``/proc/cpuinfo``, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or ``"unavailable"``."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "unavailable"


def command_line() -> str:
    """The command that was run, with the script's path relative to the repository."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    return shlex.join(["python", script_text, *sys.argv[1:]])


def changed_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """``name = value (default: d)`` for every argument whose value is not the default."""
    defaults = vars(parser.parse_args([]))
    return [f"{name} = {value} (default: {defaults[name]})" for name, value in vars(args).items()
            if name != "write_docs" and value != defaults.get(name)]


def escape(text: str) -> str:
    """Text for a reStructuredText table cell: inline markup characters escaped."""
    for char in "\\*`|_":
        text = text.replace(char, "\\" + char)
    return text


def rst_blocks(output: str) -> list[str]:
    """reStructuredText for printed output: Markdown tables become list-tables, every other
    run of lines a literal text block."""
    blocks: list[str] = []
    lines = output.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            rows = []          # one table: a header row, its |---| rule, then body rows
            while i < len(lines) and lines[i].startswith("|"):
                next_is_rule = i + 1 < len(lines) and lines[i + 1].startswith("|---")
                if rows and next_is_rule:
                    break      # the header of the next table
                if not lines[i].startswith("|---"):
                    rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            body = [".. list-table::", "   :header-rows: 1", ""]
            for row in rows:
                body += [f"   * - {escape(row[0])}"] + [f"     - {escape(c)}" for c in row[1:]]
            blocks.append("\n".join(body))
        else:
            text = []
            while i < len(lines) and not lines[i].startswith("|"):
                text.append(lines[i])
                i += 1
            while text and not text[0].strip():
                text.pop(0)
            while text and not text[-1].strip():
                text.pop()
            if text:
                blocks.append("\n".join([".. code-block:: text", ""]
                                        + ["   " + line if line.strip() else "" for line in text]))
    return blocks


def fragment(output: str, *, command: str, started: datetime.datetime, load_before: str,
             load_after: str, changed: list[str]) -> str:
    """The whole fragment (reStructuredText, no section titles: the page gives them)."""
    script = command.split()[1] if len(command.split()) > 1 else command
    fields = [
        f".. Written by ``{command}``; rerun it to update, do not edit by hand.",
        "",
        f":Date: {started:%Y-%m-%d %H:%M} (local time)",
        f":Command: ``{command}``",
        f":Machine: {escape(platform.platform())}; {escape(cpu_model())}; "
        f"{os.cpu_count()} logical cores",
        f":Versions: Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}",
        f":Load average: {load_before} before the run, {load_after} after it (1, 5, 15 min)",
    ]
    if changed:
        fields.append(f":Options: run with non-default options: {escape('; '.join(changed))}")
    else:
        fields.append(f":Options: the defaults of ``{script}``")
    return "\n".join(fields) + "\n\n" + "\n\n".join(rst_blocks(output)) + "\n"


class Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, stream) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class Recorder:
    """Records stdout from :meth:`start` to :meth:`finish` and then, if ``args.write_docs``
    is set, writes the fragment.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The benchmark's parser (for its defaults).
    args : argparse.Namespace
        The parsed arguments, with ``write_docs`` from :func:`add_option`.
    """

    def __init__(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        self.parser, self.args = parser, args
        self.path = None if args.write_docs is None else Path(args.write_docs)

    def start(self) -> Recorder:
        """Note the date and load, and start keeping a copy of stdout."""
        self.started, self.load_before = datetime.datetime.now(), load_average()
        self.saved, self.tee = sys.stdout, Tee(sys.stdout)
        sys.stdout = self.tee
        return self

    def finish(self) -> None:
        """Restore stdout and write the fragment if it was asked for."""
        sys.stdout = self.saved
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(fragment(
                self.tee.copy.getvalue(), command=command_line(), started=self.started,
                load_before=self.load_before, load_after=load_average(),
                changed=changed_options(self.parser, self.args)))
            print(f"documentation fragment written to {self.path}")
