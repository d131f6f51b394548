"""``python -m embedlab models``: the model catalog and whether each model can run here."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, table
from .output import megabytes

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``models`` command to the command line's subparsers."""
    models = commands.add_parser(
        "models",
        help="list the model catalog: dimensions, backend, whether each can run here",
        description="List every catalog model, whether it can run on this machine (and why not), its size on disk "
        "and the lesson's speed / quality / use case.",
    )
    models.add_argument("--json", action="store_true", help="print the catalog as JSON instead of a table")
    models.set_defaults(run=run)


def run(args) -> int:
    import json

    from ..models.catalog import list_models

    models = list_models()
    if args.json:
        print(json.dumps([m.__dict__ for m in models], indent=2))
        return EXIT_OK
    rows = [
        {
            "model": m.name,
            "dim": m.dim,
            "backend": m.backend,
            "size": megabytes(m.size_bytes) if m.size_bytes else ("assembled on first use" if m.available else "-"),
            "speed": m.speed,
            "quality": m.quality,
            "use case": m.use_case,
            "here": "yes" if m.available else "no",
        }
        for m in models
    ]
    print(table(rows))
    for m in models:
        if not m.available:
            print(f"\n{m.name} cannot run here: {m.reason}.")
    return EXIT_OK
