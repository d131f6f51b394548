"""Workspaces: a page's work in progress kept on disk under an id, so a reload loses nothing.

A workspace is a folder ``$EMBEDLAB_HOME/workspaces/<id>/`` holding what a user typed, uploaded and
chose — one file per key, each written atomically — so that a reload, a closed tab or the same
link in another tab finds it again (the dashboard carries the id in the address as ``?ws=<id>``,
see ``ui/workspace.py``). Values are JSON (text, numbers, lists, dicts); tables are Parquet (JSON
when a column is too mixed for Parquet); uploads are bytes. Each keeps a name (the uploaded file's).

>>> ws = Workspace.open()                        # a new workspace
>>> ws.put("space_sentences", "A cat | The cat sits on the mat")
>>> Workspace.open(ws.id).get("space_sentences")
'A cat | The cat sits on the mat'

Anyone who knows a workspace's id can read and change it, as with a shared review link: the id is
random (64 bits), and the folder lives in the server's data directory, never the browser.

Workspaces are kept until someone removes them: :func:`list_workspaces` says when each was last
opened and how much it holds, :func:`prune_workspaces` removes those unused for a while
(``python -m embedlab workspaces --prune-days 30``; a nightly job, say).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from embedlab.storage.files import write_bytes_atomic, write_text_atomic
from embedlab.storage.folders import folder_size, remove_folder
from embedlab.storage.home import data_dir

__all__ = [
    "MAX_BYTES",
    "StoredBytes",
    "StoredTable",
    "Workspace",
    "WorkspaceInfo",
    "list_workspaces",
    "prune_workspaces",
    "workspaces_dir",
]

#: The largest value, table or upload one key holds (the dashboard's uploads stop at 50 MB).
MAX_BYTES = 200 * 1024 * 1024
_ID = re.compile(r"[A-Za-z0-9_-]{6,64}")
_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")  # no dots: a key never reads as another key's suffix
_SUFFIXES = (".json", ".parquet", ".table.json", ".bin", ".meta.json")


def workspaces_dir(home: str | Path | None = None) -> Path:
    """The folder that holds every workspace (``<data dir>/workspaces``), created if needed."""
    path = Path(home) if home is not None else data_dir()
    folder = path / "workspaces"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class WorkspaceInfo:
    """One workspace as :func:`list_workspaces` sees it."""

    id: str
    last_used: datetime  # when it was last opened or written (UTC)
    size_bytes: int
    keys: int  # how many keys hold something


@dataclass(frozen=True)
class StoredTable:
    """A table kept in a workspace, with the name it came under (an uploaded file's name, or "")."""

    frame: pd.DataFrame = field(repr=False)
    name: str = ""


@dataclass(frozen=True)
class StoredBytes:
    """Bytes kept in a workspace (an upload as it came), with their name."""

    data: bytes = field(repr=False)
    name: str = ""


class Workspace:
    """One user's work in progress: keys → values, tables and bytes in a folder of their own.

    Use :meth:`open`; reading a key nobody wrote (or a damaged file) gives the default, never an error.
    """

    def __init__(self, workspace_id: str, folder: Path) -> None:
        self.id = workspace_id
        self.folder = folder

    def __repr__(self) -> str:
        return f"Workspace({self.id!r})"

    @classmethod
    def open(cls, workspace_id: str | None = None, *, home: str | Path | None = None) -> Workspace:
        """The workspace ``workspace_id`` (created if new), or a new one with a random id when None.

        Raises
        ------
        ValueError
            When ``workspace_id`` is not 6–64 letters, digits, ``_`` or ``-`` (a link cut short, or
            an attempt to reach a path outside the workspaces folder).
        """
        if workspace_id is None:
            workspace_id = secrets.token_hex(8)
        elif not isinstance(workspace_id, str) or not _ID.fullmatch(workspace_id):
            raise ValueError(
                f"workspace_id must be 6 to 64 letters, digits, '_' or '-', got {str(workspace_id)[:80]!r}."
            )
        folder = workspaces_dir(home) / workspace_id
        folder.mkdir(exist_ok=True)
        os.utime(folder)  # "last used", for prune_workspaces: reading a workspace uses it too
        return cls(workspace_id, folder)

    # ------------------------------------------------------------------ JSON values
    def get(self, key: str, default=None):
        """The JSON value kept under ``key``, else ``default`` (also when its file is damaged)."""
        try:
            return json.loads(self._path(key, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default

    def put(self, key: str, value) -> None:
        """Keep ``value`` (anything JSON can write: str, numbers, bools, None, lists, dicts) under ``key``.

        Raises TypeError when ``value`` is not JSON, ValueError when it is over :data:`MAX_BYTES`.
        """
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"value for {key!r} must be JSON (text, numbers, lists, dicts): {error}") from None
        self._check_size(key, len(text.encode("utf-8")))
        write_text_atomic(self._path(key, ".json"), text)

    # ------------------------------------------------------------------ tables and bytes
    def put_table(self, key: str, frame: pd.DataFrame, name: str = "") -> None:
        """Keep a table under ``key`` with its ``name``: Parquet, or JSON when a column is too mixed for it."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except (ValueError, TypeError, NotImplementedError, OverflowError):  # pyarrow's Arrow*Error subclass these
            self._write(key, ".table.json", frame.to_json(orient="split", index=False).encode("utf-8"), name)
            self._path(key, ".parquet").unlink(missing_ok=True)
            return
        self._write(key, ".parquet", buffer.getvalue(), name)
        self._path(key, ".table.json").unlink(missing_ok=True)

    def table(self, key: str) -> StoredTable | None:
        """The table kept under ``key``, or None."""
        name = self._name(key)
        for suffix, read in ((".parquet", pd.read_parquet), (".table.json", _read_json_table)):
            path = self._path(key, suffix)
            if path.exists():
                try:
                    return StoredTable(read(path), name)
                except (OSError, ValueError):  # a damaged file reads as nothing kept (ArrowInvalid is a ValueError)
                    return None
        return None

    def put_bytes(self, key: str, data: bytes, name: str = "") -> None:
        """Keep ``data`` (an upload as it came) under ``key`` with its ``name``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, got {type(data).__name__}.")
        self._write(key, ".bin", bytes(data), name)

    def bytes(self, key: str) -> StoredBytes | None:
        """The bytes kept under ``key``, or None."""
        try:
            return StoredBytes(self._path(key, ".bin").read_bytes(), self._name(key))
        except OSError:
            return None

    # ------------------------------------------------------------------ the rest
    def delete(self, key: str) -> None:
        """Forget ``key`` (its value, table or bytes); nothing happens when it holds nothing."""
        for suffix in _SUFFIXES:
            self._path(key, suffix).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        """The keys that hold something, sorted."""
        return sorted(
            {
                path.name.split(".", 1)[0]
                for path in self.folder.iterdir()
                if not path.name.startswith(".") and not path.name.endswith(".meta.json")
            }
        )

    def _path(self, key: str, suffix: str) -> Path:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"key must be 1 to 100 letters, digits, '_' or '-', got {str(key)[:80]!r}.")
        return self.folder / f"{key}{suffix}"

    def _check_size(self, key: str, size: int) -> None:
        if size > MAX_BYTES:
            raise ValueError(
                f"{key} holds {size / 2**20:,.0f} MB, more than a workspace keeps ({MAX_BYTES / 2**20:,.0f} MB)."
            )

    def _write(self, key: str, suffix: str, data: bytes, name: str) -> None:
        self._check_size(key, len(data))
        write_bytes_atomic(self._path(key, suffix), data)
        write_text_atomic(self._path(key, ".meta.json"), json.dumps({"name": str(name)}, ensure_ascii=False))

    def _name(self, key: str) -> str:
        try:
            return str(json.loads(self._path(key, ".meta.json").read_text(encoding="utf-8")).get("name", ""))
        except (OSError, ValueError, AttributeError):
            return ""


def list_workspaces(*, home: str | Path | None = None) -> list[WorkspaceInfo]:
    """Every workspace, the most recently used first (a folder being deleted is left out)."""
    found = []
    for folder in workspaces_dir(home).iterdir():
        if not _ID.fullmatch(folder.name) or not folder.is_dir():
            continue
        try:
            used = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
            keys = len(Workspace(folder.name, folder).keys())
            found.append(WorkspaceInfo(folder.name, used, folder_size(folder), keys))
        except OSError:  # removed while being read
            continue
    return sorted(found, key=lambda info: (info.last_used, info.id), reverse=True)


def prune_workspaces(
    older_than: timedelta,
    *,
    home: str | Path | None = None,
    dry_run: bool = False,
    on_remove: Callable[[Workspace], object] | None = None,
) -> list[WorkspaceInfo]:
    """Remove the workspaces not used for ``older_than`` or longer; the ones removed (or, with
    ``dry_run``, that would be). A link to a removed workspace opens an empty one.

    ``on_remove`` is called with each workspace just before its folder goes, to tidy what it points
    to elsewhere (``embedlab.maps.history.delete_workspace_maps``: the maps it drew); an OSError
    there does not stop the removal.

    Raises ValueError when ``older_than`` is not a positive :class:`~datetime.timedelta`.
    """
    if not isinstance(older_than, timedelta) or older_than <= timedelta(0):
        raise ValueError(f"older_than must be a positive timedelta, got {older_than!r}.")
    cutoff = datetime.now(UTC) - older_than
    old = [info for info in list_workspaces(home=home) if info.last_used <= cutoff]
    if dry_run:
        return old
    removed = []
    for info in old:
        folder = workspaces_dir(home) / info.id
        try:
            if datetime.fromtimestamp(folder.stat().st_mtime, UTC) > cutoff:
                continue  # opened since it was listed
        except OSError:
            continue  # already gone
        if on_remove is not None:
            with contextlib.suppress(OSError):
                on_remove(Workspace(info.id, folder))  # not Workspace.open: that would mark it used
        remove_folder(folder)
        removed.append(info)
    return removed


def _read_json_table(path: Path) -> pd.DataFrame:
    return pd.read_json(io.StringIO(path.read_text(encoding="utf-8")), orient="split")
