"""``python -m embedlab runs``: list, show or delete saved benchmark runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_OK, UsageError, check_out, table
from .output import print_run, write_run

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``runs`` command to the command line's subparsers."""
    runs = commands.add_parser(
        "runs",
        help="list, show or delete saved benchmark runs",
        description="Benchmark runs saved by the dashboard or by 'bench --save', newest first.",
    )
    action = runs.add_mutually_exclusive_group()
    action.add_argument("--show", type=int, metavar="ID", help="print one saved run's results")
    action.add_argument("--delete", type=int, metavar="ID", help="delete one saved run")
    runs.add_argument("--out", type=Path, metavar="FILE", help="with --show: also write it as FILE.csv or FILE.json")
    runs.set_defaults(run=run)


def run(args) -> int:
    from ..benchmarking.machine import describe
    from ..benchmarking.store import BenchmarkStore

    store = BenchmarkStore()
    for notice in store.notices:
        print(notice, file=sys.stderr)
    if args.delete is not None:
        if not store.delete(args.delete):
            raise UsageError(f"--delete {args.delete}: no saved run has this id")
        print(f"Deleted run {args.delete}.")
        return EXIT_OK
    if args.show is not None:
        if args.out is not None:
            check_out(args.out)
        saved = store.load(args.show)
        label = f" ({saved.label})" if saved.label else ""
        print(f"Run {args.show}{label}, {saved.created}")
        print(f"Machine: {describe(saved.machine)}\n")
        print_run(saved)
        if args.out is not None:
            write_run(saved, args.out)
            print(f"\nWrote {args.out}")
        return EXIT_OK
    if args.out is not None:
        raise UsageError("--out goes with --show ID")
    runs = store.runs()
    if runs.empty:
        print("No saved benchmark runs yet (run 'python -m embedlab bench --save', or use the dashboard).")
        return EXIT_OK
    print(table([{k: ("" if v is None else v) for k, v in row.items()} for row in runs.to_dict("records")]))
    return EXIT_OK
