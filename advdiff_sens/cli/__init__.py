"""The ``advdiff-sens`` command line (``python -m advdiff_sens``)."""

from advdiff_sens.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
