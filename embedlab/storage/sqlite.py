"""Opening embedlab's SQLite files (saved runs, saved reviews): checked once, never lost.

A file that fails SQLite's quick check is set aside (renamed ``*.broken-N``, with its ``-wal``
and ``-shm`` companions), never deleted, and a new one is started; the caller shows the notice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """A connection that waits up to 30 s for another writer instead of failing."""
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


def open_checked(path: Path, schema: str, what: str) -> str | None:
    """Check ``path``, set it aside when damaged, then put it in WAL mode with ``schema``.

    Returns a sentence for the user ("The saved reviews file was damaged; …") when a damaged
    file was set aside, else None. ``what`` names the file's contents in that sentence.
    """
    from ..models.packaged import set_aside

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
        moved = set_aside(path)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                set_aside(side)
        notice = f"The {what} file was damaged; it was set aside as {moved.name} and a new one started."
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(schema)
    finally:
        connection.close()
    return notice
