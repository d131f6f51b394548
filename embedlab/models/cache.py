"""The embedding cache: texts already encoded by a model cost no model work again.

Two levels, both keyed by (model cache key, sha256 of the text):

* in memory, bounded: at most :data:`MEMORY_BYTES` (512 MiB) of vectors, or ``$EMBEDLAB_CACHE_MEMORY_MB``
  MiB (least recently used vectors leave first; Python's bookkeeping adds ~0.3 kB per vector on top);
* on disk, in SQLite under :func:`embedlab.storage.home.data_dir` — survives restarts, safe with several
  threads (one connection each) and processes (WAL mode, busy timeout), and a crash mid-write
  cannot corrupt it (each batch is one transaction). A database that fails its integrity check
  when opened is set aside (renamed, never deleted) and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..storage.home import data_dir
from ..storage.sqlite import set_aside_database

log = logging.getLogger("embedlab")

FILE_NAME = "embeddings.sqlite3"
#: Bytes of vectors the memory level holds at most, unless ``$EMBEDLAB_CACHE_MEMORY_MB`` says otherwise.
MEMORY_BYTES = 512 * 1024 * 1024
MEMORY_ENV = "EMBEDLAB_CACHE_MEMORY_MB"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    key BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID
"""
_CHUNK = 500  # keys per SELECT … IN (…): well under SQLite's variable limit


def text_key(text: str) -> bytes:
    """The cache key of a text: sha256 of its UTF-8 bytes (surrogates escaped)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def memory_limit() -> int:
    """Bytes of vectors the memory level of a new cache holds at most: ``$EMBEDLAB_CACHE_MEMORY_MB``
    MiB when set, else :data:`MEMORY_BYTES`.

    Raises
    ------
    ValueError
        If the variable is set to something other than a positive integer (the message names it).
    """
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return MEMORY_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MEMORY_ENV} must be a positive integer, got {raw!r}.")
    return int(raw) * 2**20


class EmbeddingCache:
    """Vectors by (model key, text key), in memory and in one SQLite file.

    ``memory_bytes`` bounds the memory level (default :func:`memory_limit`).
    """

    def __init__(self, path: Path, *, memory_bytes: int | None = None):
        self.path = Path(path)
        self.memory_bytes = memory_limit() if memory_bytes is None else memory_bytes
        self.notices: list[str] = []
        self._memory: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._check_on_open()

    # -- SQLite -------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(_SCHEMA)
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def _check_on_open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            return
        try:
            connection = sqlite3.connect(self.path, timeout=30)
            ok = connection.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            connection.execute(_SCHEMA)
            connection.close()
        except sqlite3.DatabaseError:
            ok = False
        if not ok:
            moved = set_aside_database(self.path)
            message = f"The embedding cache {self.path} was damaged; it was set aside as {moved.name} and rebuilt."
            log.warning(message)
            self.notices.append(message)

    # -- public -------------------------------------------------------------------------------
    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors found for ``keys`` (missing keys are absent from the result)."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._memory.get((model, key))
                if vector is not None:
                    self._memory.move_to_end((model, key))
                    found[key] = vector
        rest = [k for k in keys if k not in found]
        if not rest:
            return found
        connection = self._connection()
        from_disk: dict[bytes, np.ndarray] = {}
        for start in range(0, len(rest), _CHUNK):
            chunk = rest[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})", (model, *chunk)
            ).fetchall()
            for key, blob in rows:
                from_disk[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        self._remember(model, from_disk.items())
        found.update(from_disk)
        return found

    def put_many(self, model: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        """Store vectors: in memory, and on disk in a single transaction."""
        items = [(key, np.ascontiguousarray(vector, dtype=np.float32)) for key, vector in items]
        if not items:
            return
        self._remember(model, items)
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                "INSERT OR REPLACE INTO embeddings (model, key, vector) VALUES (?, ?, ?)",
                [(model, key, vector.tobytes()) for key, vector in items],
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def count(self, model: str | None = None) -> int:
        """Vectors stored on disk (for one model, or all)."""
        sql, args = "SELECT COUNT(*) FROM embeddings", ()
        if model is not None:
            sql, args = sql + " WHERE model = ?", (model,)
        return int(self._connection().execute(sql, args).fetchone()[0])

    @property
    def memory_entries(self) -> int:
        """Vectors held in the memory level now (at most ``memory_bytes`` of them)."""
        with self._lock:
            return len(self._memory)

    def close(self) -> None:
        """Close this thread's connection (other threads' close when they end)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def clear_memory(self) -> None:
        """Forget the in-memory level (the disk level stays)."""
        with self._lock:
            self._memory.clear()
            self._memory_used = 0

    def _remember(self, model: str, items) -> None:
        with self._lock:
            for key, vector in items:
                slot = (model, key)
                if slot in self._memory:
                    self._memory.move_to_end(slot)
                    continue
                vector = vector.copy()
                vector.flags.writeable = False
                self._memory[slot] = vector
                self._memory_used += vector.nbytes
            while self._memory_used > self.memory_bytes and self._memory:
                _, dropped = self._memory.popitem(last=False)
                self._memory_used -= dropped.nbytes


_caches: dict[Path, EmbeddingCache] = {}
_caches_lock = threading.Lock()


def embedding_cache() -> EmbeddingCache:
    """The process-wide cache for the current data directory."""
    path = data_dir() / FILE_NAME
    with _caches_lock:
        cache = _caches.get(path)
        if cache is None:
            cache = _caches[path] = EmbeddingCache(path)
        return cache
