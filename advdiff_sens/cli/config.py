r"""Run configuration files: every option of a command in a TOML file (``--config FILE``).

A configuration file names options by their long names (``flow-std`` or ``flow_std``), either
at the top level or inside the section that groups them (:data:`SECTIONS`)::

    # run.toml for advdiff-sens estimate DATA --config run.toml
    [unknowns]
    unknowns = ["flow", "theta0"]

    [space]
    space = "nodal"
    flow-std = 0.05
    correlation-length = 0.3

    [optimiser]
    optimizer = "newton-cg"
    starts = 2
    stages = [3, 6, 10]          # or "none"
    cg-max-iter = 500

    [sampler]
    sampler = "infinity-hmc"
    samples = 60

    [output]
    outdir = "results"

Values are TOML strings, numbers, booleans or arrays (joined by commas for the options that
take a comma-separated list). Each value is checked by the option's own argparse type, so a
file accepts exactly what the command line accepts; options given on the command line win
over the file. The whole file is checked before any computation: an unknown section or key,
a key in the wrong section, the positional argument, or a bad value is a ``ValueError``
naming the file and the key (``error: run.toml: key 'space.kmax': expected a number >= 1,
got '0'``).
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["read_config", "read_toml", "CommandParser", "SECTIONS", "CONFIG_HELP"]

#: Help text of ``--config``.
CONFIG_HELP = ("a TOML file of options (long names, optionally grouped in the sections domain, "
               "data, model, unknowns, space, optimiser, sampler, output); the command line "
               "wins")
#: Sections of a configuration file and the options each groups (argparse ``dest`` names).
SECTIONS: dict[str, frozenset[str]] = {
    "domain": frozenset({"nodes", "bc"}),
    "data": frozenset({"observation", "noise_std"}),
    "model": frozenset({"scheme", "kappa"}),
    "unknowns": frozenset({"unknowns", "theta0_std", "theta0_correlation_length",
                           "kappa_log_std"}),
    "space": frozenset({"space", "kmax", "spectrum_scale", "spectrum_exponent", "flow_std",
                        "correlation_length", "alpha", "windows", "temporal",
                        "temporal_scale", "through_flow_std"}),
    "optimiser": frozenset({"optimizer", "starts", "stages", "newton_max_iter",
                            "cg_max_iter"}),
    "sampler": frozenset({"sampler", "reference", "laplace_rank", "warmup", "samples",
                          "seed"}),
    "output": frozenset({"outdir"}),
}


def _text(value, key: str, path: Path) -> str:
    """A TOML value as the text argparse would have been given."""
    if isinstance(value, bool):
        raise ValueError(f"{path}: key {key!r}: expected a value, got the boolean {value}")
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, (int, float, str))
                                                  and not isinstance(v, bool) for v in value):
        return ",".join(str(v) for v in value)
    raise ValueError(f"{path}: key {key!r}: expected a string, a number or a non-empty array "
                     f"of them, got {value!r}")


class CommandParser(argparse.ArgumentParser):
    """An argument parser that records its arguments: ``arguments`` maps each ``dest`` to
    its action (argparse keeps them private), for :func:`read_config`.

    Examples
    --------
    >>> parser = CommandParser()
    >>> _ = parser.add_argument("--flow-std", type=float)
    >>> sorted(parser.arguments)
    ['flow_std', 'help']
    """

    def __init__(self, *args, **kwargs) -> None:
        self.arguments: dict[str, argparse.Action] = {}
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.arguments[action.dest] = action
        return action

    def add_argument_group(self, *args, **kwargs):
        """A group whose arguments are recorded in ``arguments`` too."""
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument

        def add_recorded(*a, **k) -> argparse.Action:
            action = add(*a, **k)
            self.arguments[action.dest] = action
            return action

        group.add_argument = add_recorded
        return group


def _options(parser: CommandParser) -> dict[str, argparse.Action]:
    """The parser's optional arguments by ``dest`` (help and ``--config`` itself left out)."""
    return {dest: action for dest, action in parser.arguments.items()
            if action.option_strings and dest not in ("help", "config")}


def _convert(action: argparse.Action, value, key: str, path: Path):
    if action.nargs == 0 and isinstance(action.const, bool):      # a flag
        if not isinstance(value, bool):
            raise ValueError(f"{path}: key {key!r}: expected true or false, got {value!r}")
        return value
    text = _text(value, key, path)
    try:
        converted = action.type(text) if action.type is not None else text
    except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: key {key!r}: {exc}") from None
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"{path}: key {key!r}: expected one of "
                         f"{', '.join(map(str, action.choices))}, got {text!r}")
    return converted


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_toml(path: Path, what: str) -> dict:
    """The table of the TOML file ``path``; a missing file, non-UTF-8 text or invalid TOML is
    a ``ValueError`` naming the file (``what`` says what kind of file it should be).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text("[space]\\nkmax = 2\\n")
    >>> read_toml(path, "configuration file")
    {'space': {'kmax': 2}}
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such {what}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None


def read_config(path, parser: CommandParser) -> dict[str, object]:
    """The options of the configuration file ``path`` for the command ``parser``, checked
    and converted by the options' own types (module docstring).

    Parameters
    ----------
    path : str or Path
        A TOML file.
    parser : CommandParser
        The command's parser (its optional arguments are the allowed keys).

    Returns
    -------
    dict
        ``dest`` → value, ready for ``parser.set_defaults``.

    Raises
    ------
    ValueError
        Naming the file and the key.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> parser = CommandParser()
    >>> _ = parser.add_argument("--starts", type=int, default=1)
    >>> _ = parser.add_argument("--outdir", default="out")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('[optimiser]\\nstarts = 3\\n[output]\\noutdir = "results"\\n')
    >>> read_config(path, parser)
    {'starts': 3, 'outdir': 'results'}
    >>> _ = path.write_text('[optimiser]\\nstart = 3\\n')
    >>> try:
    ...     read_config(path, parser)
    ... except ValueError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    key 'optimiser.start': no such option (did you mean 'starts'?)
    """
    path = Path(path)
    table = read_toml(path, "configuration file")
    options = _options(parser)
    home = {dest: section for section, dests in SECTIONS.items() for dest in dests}
    out: dict[str, object] = {}

    def take(key: str, value, section: str | None) -> None:
        dest = key.replace("-", "_")
        shown = key if section is None else f"{section}.{key}"
        if dest in parser.arguments and dest not in options and dest != "help":
            raise ValueError(f"{path}: key {shown!r}: given on the command line, not in the "
                             "configuration")
        if dest not in options:
            raise ValueError(f"{path}: key {shown!r}: no such option"
                             f"{_suggest(dest, options)}")
        if section is not None and home.get(dest, section) != section:
            raise ValueError(f"{path}: key {shown!r}: belongs in section [{home[dest]}]")
        if dest in out:
            raise ValueError(f"{path}: key {shown!r}: given twice")
        out[dest] = _convert(options[dest], value, shown, path)

    for name, value in table.items():
        if isinstance(value, Mapping):
            if name not in SECTIONS:
                raise ValueError(f"{path}: section [{name}]: no such section (expected one of "
                                 f"{', '.join(SECTIONS)}){_suggest(name, SECTIONS)}")
            for key, item in value.items():
                if isinstance(item, Mapping):
                    raise ValueError(f"{path}: key '{name}.{key}': sections do not nest")
                take(key, item, name)
        else:
            take(name, value, None)
    return out
