"""The command line: ``python -m embedlab <command>``.

One module per command (:mod:`~embedlab.cli.models`, :mod:`~embedlab.cli.bench`,
:mod:`~embedlab.cli.runs`, :mod:`~embedlab.cli.review`; :mod:`~embedlab.cli.finetune` holds the
commands of the models made here: ``finetune``, ``distil``, ``keep-model``, ``delete-model``), each
with ``register(commands)`` adding its argparse subcommand and a ``run(args) -> int``; what they
share is in :mod:`~embedlab.cli.common`. This module only builds the parser and runs the command.

    python -m embedlab models
    python -m embedlab bench --models all-MiniLM-L6-v2 all-mpnet-base-v2 --texts FILE --repeats 5 --out results.csv
    python -m embedlab runs
    python -m embedlab finetune --pairs pairs.csv --name my-model
    python -m embedlab workspaces --prune-days 30
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import bench, collection, finetune, models, review, runs, workspaces
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m embedlab",
        description="embedlab: understand and choose text-embedding models, from the command line.",
        epilog="Run 'python -m embedlab COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    models.register(commands)
    bench.register(commands)
    runs.register(commands)
    review.register(commands)
    finetune.register(commands)
    collection.register(commands)
    workspaces.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 nothing measured, 2 bad usage, 130 stopped)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: say which there are
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {error}\n")
    except (ValueError, TypeError, LookupError) as error:  # the core's one-sentence messages
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {message}\n")
    except OSError as error:  # a full disk or a folder without permission, while saving
        parser.exit(EXIT_FAILED, f"{parser.prog} {args.command}: error: {error}\n")
    return EXIT_OK
