"""``python -m advdiff_sens`` runs the command-line interface."""

from .cli import main

raise SystemExit(main())
