"""The command line every example shares: ``--quick`` and ``--outdir`` (default
``docs/gallery`` of the checkout, where the documentation's gallery takes its figures)."""

from __future__ import annotations

import argparse
from pathlib import Path

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"


def parse_arguments(description: str) -> argparse.Namespace:
    """``--quick`` (reduced sizes, as in the tests) and ``--outdir`` of an example script."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (as in the tests)")
    parser.add_argument("--outdir", type=Path, default=GALLERY,
                        help="where to save the figure (default: docs/gallery of the checkout)")
    return parser.parse_args()
