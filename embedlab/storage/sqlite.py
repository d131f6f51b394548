"""Opening embedlab's SQLite files (saved runs, saved reviews, the embedding cache): checked once, never lost.

A file that fails SQLite's quick check is set aside (renamed ``*.broken-N``, with its ``-wal``
and ``-shm`` companions), never deleted, and a new one is started; the caller shows the notice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .folders import set_aside

#: Files SQLite keeps beside a database in WAL mode; they belong to it and move with it.
COMPANIONS = ("-wal", "-shm")


def connect(path: Path) -> sqlite3.Connection:
    """A connection that waits up to 30 s for another writer instead of failing."""
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


def set_aside_database(path: Path) -> Path:
    """Set a damaged database aside (see :func:`~embedlab.storage.folders.set_aside`) with its
    ``-wal`` and ``-shm`` companions, and return the database's new path."""
    for suffix in COMPANIONS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            set_aside(side)
    return set_aside(path)


def open_checked(path: Path, schema: str, what: str) -> str | None:
    """Check ``path``, set it aside when damaged, then put it in WAL mode with ``schema``.

    Returns a sentence for the user ("The saved reviews file was damaged; …") when a damaged
    file was set aside, else None. ``what`` names the file's contents in that sentence.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = connect(path)
        try:
            ok = connection.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        ok = False
    notice = None
    if not ok:
        moved = set_aside_database(path)
        notice = f"The {what} file was damaged; it was set aside as {moved.name} and a new one started."
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(schema)
    finally:
        connection.close()
    return notice
