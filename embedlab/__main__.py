"""``python -m embedlab``: the command line (see :mod:`embedlab.cli`)."""

from .cli import main

raise SystemExit(main())
