"""What every command of the command line shares: exit codes, usage errors, Ctrl-C, tables, files.

A command module (:mod:`embedlab.cli.bench`, :mod:`embedlab.cli.models`, :mod:`embedlab.cli.review`, …)
imports from here only; :mod:`embedlab.cli.main` builds the parser from the command modules.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "ProgressLines",
    "StopOnInterrupt",
    "UsageError",
    "check_out",
    "read_file",
    "read_texts",
    "table",
    "write_out",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


class StopOnInterrupt:
    """The first Ctrl-C asks the run to stop after the current step; a second one aborts.

    Use as a context manager around the run and pass the instance as its ``should_stop``.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping after the current step (Ctrl-C again to abort)...", file=sys.stderr, flush=True)

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, Ctrl-C aborts as usual
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class ProgressLines:
    """Progress lines on stderr for :class:`embedlab.runs.Progress` events: rewritten in place on a
    terminal, otherwise one line per event whose stage is in ``stages``."""

    def __init__(self, stages: Sequence[str] = ("load", "done", "waiting")):
        self.tty = sys.stderr.isatty()
        self.stages = tuple(stages)

    def __call__(self, event) -> None:
        if self.tty:
            end = "\n" if event.stage == "done" else ""
            print(f"\r\033[K{event.message}", end=end, file=sys.stderr, flush=True)
        elif event.stage in self.stages:
            print(event.message, file=sys.stderr, flush=True)


def table(rows: list[dict]) -> str:
    """A plain text table of ``rows`` (dicts with the same keys), columns left-aligned, for any terminal."""
    if not rows:
        return "(nothing)"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    lines.append("  ".join("-" * widths[h] for h in headers))
    lines += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers).rstrip() for r in rows]
    return "\n".join(lines)


def read_file(option: str, path: Path) -> bytes:
    """The bytes of ``path``, given with ``option`` (e.g. ``"--texts"``); UsageError when it cannot be read."""
    if not path.is_file():
        raise UsageError(f"{option} {path}: no such file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot read it ({error.strerror})") from None


def read_texts(option: str, path: Path, column: str | None = None) -> list[str]:
    """A corpus from ``path`` (one text per line, or a table's text column) via
    :func:`embedlab.tables.read_corpus`; its ValueError becomes a UsageError naming the option."""
    from ..tables import TABLE_TYPES, is_table_file, read_corpus

    if column is not None and not is_table_file(path.name):
        raise UsageError(f"--column applies to table files ({', '.join(TABLE_TYPES)}) only")
    data = read_file(option, path)
    try:
        return read_corpus(data, path.name, column=column)
    except ValueError as error:
        raise UsageError(f"{option} {str(error).rstrip('.')}") from None


def check_out(path: Path, *, option: str = "--out", suffixes: Sequence[str] = (".csv", ".json")) -> None:
    """UsageError unless ``path`` ends in one of ``suffixes`` and its folder exists (checked before a run)."""
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} must end in {' or '.join(suffixes)}, got {str(path)!r}")
    if not path.parent.exists():
        raise UsageError(f"{option} {path}: the folder {path.parent} does not exist")


def write_out(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, with ordinary file permissions
    (:func:`embedlab.storage.files.write_text_atomic`)."""
    from ..storage.files import write_text_atomic

    return write_text_atomic(path, text)
