"""Where collections live and how readers open them: LanceDB tables and their settings records.

Collections live in one LanceDB database folder, ``$EMBEDLAB_HOME/collections/``. Each has

* a settings record ``NAME.settings.json`` (written atomically): the model and its cache key, the
  source columns, the LanceDB table and **the table version readers see** (``version``), its
  approximate index, and ``pending`` while a build that is not finished yet writes a new table;
* a LanceDB table ``NAME.G`` (``G`` a generation number, new when the model or the columns
  change) with columns ``row``, ``id``, ``text``, ``vector``, ``text_hash`` and metadata strings.

A build appends batches to the table (each a LanceDB version) and writes the settings record last,
so readers — who check out the version the record names — see the previous complete collection
until then, and a killed build is never visible (the next build carries on from its batches).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..storage.files import write_text_atomic
from ..storage.home import data_dir
from .results import CollectionError, CollectionInfo, CollectionNotFound

__all__ = [
    "NAME_PATTERN",
    "Settings",
    "collection_info",
    "collection_rows",
    "collection_vectors",
    "collections_dir",
    "delete_collection",
    "list_collections",
    "lock",
    "now",
    "open_table",
    "read_settings",
    "write_settings",
]

#: A collection's name: letters, digits, "_" and "-", at most 64.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SUFFIX = ".settings.json"
#: Opened tables, by (database, table, version): a version never changes once written.
_TABLES: dict[tuple[str, str, int], object] = {}


@dataclass(frozen=True)
class Settings:
    """A collection's settings record, as stored (see the module docstring)."""

    name: str
    path: Path  # the database folder
    record: dict

    def __getitem__(self, key):
        return self.record.get(key)

    @property
    def complete(self) -> bool:
        return self.record.get("version") is not None

    def info(self) -> CollectionInfo:
        r = self.record
        return CollectionInfo(
            name=self.name,
            model=r["model"],
            dim=int(r["dim"]),
            rows=int(r.get("rows") or 0),
            text_column=r["text_column"],
            id_column=r.get("id_column"),
            metadata_columns=tuple(r.get("metadata_columns") or ()),
            source=r.get("source") or "",
            created=r.get("created") or "",
            updated=r.get("updated") or "",
            version=int(r.get("version") or 0),
            index=(r.get("index") or {}).get("kind"),
            path=str(self.path / f"{r['table']}.lance") if r.get("table") else "",
        )


def now() -> str:
    """The time now, ISO-8601 UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def collections_dir(home=None) -> Path:
    """The LanceDB database folder of the collections (created if needed)."""
    root = Path(home) if home is not None else data_dir()
    path = root / "collections"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_name(name: object) -> str:
    """``name`` if it is a valid collection name; TypeError/ValueError naming the parameter otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"name must be 1-64 letters, digits, '_' or '-' (starting with a letter or digit), got {name!r}."
        )
    return name


def read_settings(name: str, home=None) -> Settings | None:
    """The settings record of ``name`` (complete or not), None when there is none."""
    folder = collections_dir(home)
    path = folder / f"{check_name(name)}{_SUFFIX}"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        raise CollectionError(f"The settings of collection {name!r} cannot be read ({error}).") from None
    return Settings(name, folder, record)


def write_settings(settings: Settings, record: dict) -> Settings:
    """Replace the settings record atomically (readers see the old or the new one) and return it."""
    write_text_atomic(settings.path / f"{settings.name}{_SUFFIX}", json.dumps(record, indent=1, sort_keys=True))
    return Settings(settings.name, settings.path, record)


def complete_settings(name: str, home=None) -> Settings:
    """The settings of a complete collection; CollectionNotFound otherwise."""
    settings = read_settings(name, home)
    if settings is None:
        known = [info.name for info in list_collections(home)]
        hint = f"; the collections are: {', '.join(known)}" if known else "; there are none yet"
        raise CollectionNotFound(f"There is no collection named {name!r}{hint}.")
    if not settings.complete:
        raise CollectionNotFound(
            f"Collection {name!r} was never completed (its first build was stopped or killed); build it again "
            "to finish it."
        )
    return settings


def connect(folder: Path):
    import lancedb

    return lancedb.connect(str(folder))


def open_table(settings: Settings, *, version: int | None = None):
    """The collection's LanceDB table at the version readers see (or ``version``), read-only."""
    version = settings["version"] if version is None else version
    key = (str(settings.path), settings["table"], int(version))
    table = _TABLES.get(key)
    if table is None:
        try:
            table = connect(settings.path).open_table(settings["table"])
            table.checkout(int(version))
        except (ValueError, OSError, RuntimeError) as error:
            raise CollectionError(
                f"Collection {settings.name!r} cannot be opened ({str(error).splitlines()[0][:150]}); "
                "build it again or delete it."
            ) from None
        _TABLES[key] = table
    return table


@contextlib.contextmanager
def lock(name: str, home=None, *, doing: str = "built"):
    """Hold the collection's write lock (builds, indexing, deletion); CollectionError when it is taken."""
    folder = collections_dir(home) / ".locks"
    folder.mkdir(exist_ok=True)
    handle = open(folder / f"{name}.lock", "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CollectionError(
                f"Collection {name!r} is being {doing} by another process; wait for it to finish."
            ) from None
        yield
    finally:
        handle.close()


def list_collections(home=None) -> list[CollectionInfo]:
    """The complete collections, by name (a first build still running or killed is not listed)."""
    folder = collections_dir(home)
    out = []
    for path in sorted(folder.glob(f"*{_SUFFIX}")):
        name = path.name[: -len(_SUFFIX)]
        if NAME_PATTERN.fullmatch(name):
            settings = read_settings(name, home)
            if settings is not None and settings.complete:
                out.append(settings.info())
    return out


def collection_info(name: str, home=None) -> CollectionInfo:
    """The collection as readers see it; CollectionNotFound when there is none complete."""
    return complete_settings(name, home).info()


def collection_rows(name: str, home=None):
    """The collection's rows, without vectors: DataFrame with columns row, id, text and metadata, in row order."""
    settings = complete_settings(name, home)
    columns = ["row", "id", "text", *settings["metadata_columns"]]
    frame = open_table(settings).search().select(columns).limit(None).to_pandas()
    return frame.sort_values("row", kind="stable").reset_index(drop=True)[columns]


def collection_vectors(name: str, home=None):
    """The collection's rows (as :func:`collection_rows`) and their vectors, float32 of shape (rows, dim)."""
    import numpy as np

    settings = complete_settings(name, home)
    columns = ["row", "id", "text", *settings["metadata_columns"], "vector"]
    table = open_table(settings).search().select(columns).limit(None).to_arrow()
    order = np.argsort(table["row"].to_numpy(), kind="stable")
    vectors = vector_array(table["vector"], int(settings["dim"]))[order]
    frame = table.drop_columns(["vector"]).to_pandas().iloc[order].reset_index(drop=True)
    return frame, np.ascontiguousarray(vectors)


def vector_array(column, dim: int):
    """A FixedSizeList<float32> arrow column as a float32 array of shape (n, dim), without a copy when possible."""
    import numpy as np

    if len(column) == 0:
        return np.empty((0, dim), dtype=np.float32)
    values = column.combine_chunks().values if hasattr(column, "combine_chunks") else column.values
    return values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32, copy=False)


def delete_collection(name: str, home=None) -> None:
    """Delete the collection (its tables, settings and search files); CollectionNotFound when there is none."""
    settings = read_settings(name, home)
    if settings is None:
        complete_settings(name, home)  # raises, naming the collections there are
    with lock(name, home, doing="built"):
        db = connect(settings.path)
        # the record goes first: from then on readers find no collection, never a half-deleted one
        (settings.path / f"{name}{_SUFFIX}").unlink(missing_ok=True)
        for table in {settings["table"], (settings["pending"] or {}).get("table")} - {None}:
            with contextlib.suppress(Exception):  # a table a killed build never created
                db.drop_table(table)
        remove_exact_files(settings.path, name)
    for key in [k for k in _TABLES if k[0] == str(settings.path) and k[1].split(".")[0] == name]:
        _TABLES.pop(key, None)


def remove_exact_files(folder: Path, name: str, keep: str | None = None) -> None:
    """Remove the memory-mapped vector files of ``name`` (see :mod:`embedlab.memory.search`) but ``keep``."""
    exact = folder / ".exact"
    if exact.is_dir():
        for path in exact.glob(f"{name}.*"):
            if keep is None or not path.name.startswith(keep):
                with contextlib.suppress(OSError):
                    os.remove(path)
