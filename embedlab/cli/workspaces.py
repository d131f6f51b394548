"""``python -m embedlab workspaces``: list the dashboard's workspaces, or remove those left unused.

    python -m embedlab workspaces                         # id, last used, size, keys; most recent first
    python -m embedlab workspaces --prune-days 30 [--dry-run]

A workspace holds what one person typed, uploaded and chose (``?ws=<id>`` in the dashboard's
address; :mod:`embedlab.workspace`). Nothing removes them by itself: run ``--prune-days`` from a
nightly job to bound the disk they take; the maps a removed workspace drew go with it (shared
maps stay: their links still open them). A link to a removed workspace opens an empty one.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from ..formatting import count, file_size
from .common import EXIT_OK, UsageError, table

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``workspaces`` command to the command line's subparsers."""
    workspaces = commands.add_parser(
        "workspaces",
        help="list the dashboard's workspaces, or remove the ones not used for some days",
        description="Workspaces keep each dashboard user's inputs and uploads under $EMBEDLAB_HOME/workspaces/.",
    )
    workspaces.add_argument(
        "--prune-days",
        type=float,
        metavar="DAYS",
        help="remove the workspaces not opened for DAYS days or more, and the maps they drew (shared maps stay)",
    )
    workspaces.add_argument("--dry-run", action="store_true", help="with --prune-days: only list what would go")
    workspaces.set_defaults(run=run)


def run(args) -> int:
    from ..maps.history import delete_workspace_maps
    from ..workspace import list_workspaces, prune_workspaces

    if args.prune_days is None:
        if args.dry_run:
            raise UsageError("--dry-run goes with --prune-days DAYS")
        found = list_workspaces()
        if not found:
            print("No workspaces yet (the dashboard makes one per browser session).")
            return EXIT_OK
        print(table([_row(info) for info in found]))
        total = sum(info.size_bytes for info in found)
        print(f"\n{count(len(found), 'workspace')}, {file_size(total)} in all.")
        return EXIT_OK
    if not args.prune_days > 0:  # also NaN
        raise UsageError(f"--prune-days must be a number of days above 0, got {args.prune_days}")
    old = prune_workspaces(timedelta(days=args.prune_days), dry_run=args.dry_run, on_remove=delete_workspace_maps)
    size = file_size(sum(info.size_bytes for info in old))
    days = f"{args.prune_days:g} days"
    if not old:
        print(f"No workspace has gone unused for {days}.")
    elif args.dry_run:
        print(table([_row(info) for info in old]))
        print(f"\nWould remove {count(len(old), 'workspace')} ({size}) unused for {days} or more.")
    else:
        print(f"Removed {count(len(old), 'workspace')} ({size}) unused for {days} or more.")
    return EXIT_OK


def _row(info) -> dict:
    return {
        "id": info.id,
        "last used (UTC)": info.last_used.strftime("%Y-%m-%d %H:%M"),
        "size": file_size(info.size_bytes),
        "keys": info.keys,
    }
