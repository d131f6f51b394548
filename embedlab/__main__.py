"""``python -m embedlab``: the command line (see :mod:`embedlab.cli.main`)."""

from .cli.main import main

raise SystemExit(main())
