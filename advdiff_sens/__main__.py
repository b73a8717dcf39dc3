"""``python -m advdiff_sens``: the command-line interface (:mod:`advdiff_sens.cli`)."""

from advdiff_sens.cli import main

raise SystemExit(main())
