"""build_collection(): a source's texts encoded once into a LanceDB table, incrementally and resumably.

A build compares the source with what the table holds (at its latest version, so the batches of
a killed or stopped build count): rows already there unchanged are kept, rows that changed or went
away are deleted, and only the texts whose sha256 (``text_hash``) is in no row yet are encoded —
locally through :func:`embedlab.encode` in batches, or with Ray Data
(:func:`embedlab.memory.ray_engine.encode_with_ray`). Rows are appended every :data:`WRITE_ROWS`
rows (each append a LanceDB version); the settings record is written last with the final version,
so readers see the previous collection until the build completes (see :mod:`.store`).

A model change writes a new table (the old one stays visible until the new one is complete), and
only with ``rebuild=True``; so does a change in the source's metadata columns (vectors reused).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..models.entries import DEFAULT_MODEL
from ..validation import check_choice, check_positive_int
from .diff import compare, rows_predicate
from .results import BuildProgress, BuildResult, CollectionError, CollectionInfo
from .sources import read_rows, text_hash
from .store import Settings, check_name, collections_dir, connect, lock, now, read_settings, remove_exact_files
from .store import write_settings as _write_settings

__all__ = ["WRITE_ROWS", "build_collection"]

#: Rows appended to the table at once: a killed build loses at most this many encoded texts.
WRITE_ROWS = 4096
#: Hashes looked up with one ``IN (...)`` filter; more are found by scanning the table.
LOOKUP_LIMIT = 2000
#: Columns every collection has, before its metadata columns.
BASE_COLUMNS = ("row", "id", "text", "text_hash")


def build_collection(
    name: str,
    source,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    model: str = DEFAULT_MODEL,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 256,
    rebuild: bool = False,
    home=None,
    progress: Callable[[BuildProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BuildResult:
    """Build (or bring up to date) the collection ``name`` from ``source``.

    Parameters
    ----------
    name : str
        1-64 letters, digits, "_" or "-".
    source : str, Path or pandas.DataFrame
        What :func:`~embedlab.memory.read_source` reads (tables and chat logs).
    text_column, id_column : str
        The texts' column; the ids' column (None: the row number is the id).
    model : str, default "all-MiniLM-L6-v2"
        The model that encodes the texts (and later the queries).
    engine : {"local", "ray"}
        "ray" encodes with Ray Data on the cluster at ``address`` (None: a local Ray for the run).
    batch_size : int, default 256
        Texts per encoding call (progress and Stop are checked between calls).
    rebuild : bool, default False
        Re-encode everything; needed to change the model of an existing collection.
    home : path, optional
        The data directory (default :func:`embedlab.data_dir`).
    progress : callable, optional
        Called with a :class:`~embedlab.memory.BuildProgress` after every batch.
    should_stop : callable, optional
        Asked between batches; True writes what is encoded and ends the run (``stopped``); the
        collection readers see stays the previous one, and the next build carries on.

    Returns
    -------
    BuildResult

    Raises
    ------
    CollectionError
        A bad source (see :func:`~embedlab.memory.read_source`), a model change without
        ``rebuild``, a build already running, a write that failed (a full disk): one sentence
        each, the previous collection intact.
    """
    check_name(name)
    check_choice(engine, "engine", ("local", "ray"))
    batch_size = check_positive_int(batch_size, "batch_size")
    for callback, label in ((progress, "progress"), (should_stop, "should_stop")):
        if callback is not None and not callable(callback):
            raise TypeError(f"{label} must be callable or None, got {type(callback).__name__}.")
    started = time.perf_counter()
    emit = progress or (lambda event: None)
    emit(BuildProgress(0, 0, "read", f"reading {source if isinstance(source, (str, Path)) else 'the DataFrame'}"))
    rows, empty, text_column = read_rows(source, text_column=text_column, id_column=id_column)
    rows["text_hash"] = rows["text"].map(text_hash)
    metadata = [c for c in rows.columns if c not in BASE_COLUMNS]
    model_key, dim = _identity(model)
    plan = dict(
        model=model,
        model_key=model_key,
        dim=dim,
        text_column=text_column,
        id_column=id_column,
        metadata_columns=metadata,
        source=str(Path(source).resolve()) if isinstance(source, (str, Path)) else "DataFrame",
    )
    with lock(name, home):
        settings = read_settings(name, home) or _new_settings(name, home)
        target, reuse_from, settings = _choose_table(settings, plan, rebuild)
        job = _Build(settings, target, reuse_from, rows, plan, emit, should_stop)
        try:
            added, skipped, resumed, stopped, truncated = job.run(engine, address, batch_size)
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            raise CollectionError(
                f"Collection {name!r} could not be written ({reason}); the previous collection is intact, "
                "and building again carries on from the batches already written."
            ) from None
        if not stopped:
            settings = job.finish()
    seconds = time.perf_counter() - started
    info = settings.info() if settings.complete else _nothing_yet(name, plan)
    emit(BuildProgress(added, added, "done", f"{added:,} encoded, {skipped:,} already there"))
    return BuildResult(
        info=info,
        added=added,
        skipped=skipped,
        seconds=seconds,
        texts_per_second=added / seconds if seconds > 0 else 0.0,
        engine=engine,
        stopped=stopped,
        resumed=resumed,
        empty=empty,
        truncated=truncated,
    )


def _identity(model: str) -> tuple[str, int]:
    """(key, dim) identifying ``model``'s vectors: its cache key without the backend — name, dim and
    weights' version — so the backend this machine picks (fp32, bf16, ONNX) never reads as a model
    change; loads the model when it is not in the catalog."""
    from ..models.catalog import cached_identity, load_model

    if not isinstance(model, str) or not model:
        raise TypeError(f"model must be a model name, got {model!r}.")
    identity = cached_identity(model)
    if identity is None:
        embedder = load_model(model)
        identity = (embedder.cache_key, embedder.dim)
    parts = identity[0].split("|")
    return ("|".join([parts[0], *parts[2:]]) if len(parts) == 4 else identity[0]), identity[1]


def _new_settings(name: str, home) -> Settings:
    return Settings(name, collections_dir(home), {"version": None, "generation": 0, "created": None})


def _choose_table(settings: Settings, plan: dict, rebuild: bool) -> tuple[str, list[str], Settings]:
    """The table to write (the visible one, or a new generation's) and the tables to reuse vectors from."""
    r = settings.record
    if settings.complete and r["model_key"] != plan["model_key"] and not rebuild:
        was = r["model"] if r["model"] != plan["model"] else f"an earlier version of {r['model']}"
        raise CollectionError(
            f"Collection {settings.name!r} was built with {was}; building it with {plan['model']} would mix two "
            "models' vectors, so pass rebuild=True (--rebuild) to re-encode all of it, or choose another name."
        )
    same = {k: r.get(k) for k in ("model_key", "dim", "metadata_columns")} == {
        k: plan[k] for k in ("model_key", "dim", "metadata_columns")
    }
    if settings.complete and same and not rebuild:
        return r["table"], [], settings
    pending = r.get("pending") or {}
    reuse = [r["table"]] if settings.complete and r["model_key"] == plan["model_key"] and not rebuild else []
    if pending and all(pending.get(k) == plan[k] for k in ("model_key", "dim", "metadata_columns")):
        return pending["table"], reuse, settings
    if pending:  # a killed build for another model or other columns: its table is of no use
        _drop(settings.path, pending["table"])
    generation = int(r.get("generation") or 0) + 1
    target = f"{settings.name}.{generation}"
    _drop(settings.path, target)
    record = {**r, "generation": generation, "pending": {**plan, "table": target, "started": now()}}
    return target, reuse, _write_settings(settings, record)


def _drop(folder: Path, table: str) -> None:
    db = connect(folder)
    if table in db.list_tables().tables:
        db.drop_table(table)


def _nothing_yet(name: str, plan: dict) -> CollectionInfo:
    """What readers see of a collection whose first build has not completed: nothing (version 0)."""
    return CollectionInfo(
        name=name,
        model=plan["model"],
        dim=plan["dim"],
        rows=0,
        text_column=plan["text_column"],
        id_column=plan["id_column"],
        metadata_columns=tuple(plan["metadata_columns"]),
        source=plan["source"],
        created="",
        updated="",
        version=0,
        index=None,
        path="",
    )


def _write(table, batch) -> None:
    """Append one batch to the table (one LanceDB version). Tests inject a full disk here."""
    table.add(batch)


class _Build:
    """One build's state: the target table, what to keep, delete, reuse and encode."""

    def __init__(self, settings: Settings, target: str, reuse_from: list[str], rows, plan, emit, should_stop):
        self.settings, self.target, self.reuse_from = settings, target, reuse_from
        self.rows, self.plan, self.emit, self.should_stop = rows, plan, emit, should_stop
        self.db = connect(settings.path)
        self.columns = [*BASE_COLUMNS, *plan["metadata_columns"]]

    def schema(self):
        import pyarrow as pa

        fields = [pa.field("row", pa.int64()), pa.field("id", pa.string()), pa.field("text", pa.string())]
        fields.append(pa.field("vector", pa.list_(pa.float32(), self.plan["dim"])))
        fields += [pa.field(c, pa.string()) for c in ["text_hash", *self.plan["metadata_columns"]]]
        return pa.schema(fields)

    def run(self, engine: str, address: str | None, batch_size: int):
        import pandas as pd

        visible = self.target == self.settings["table"]
        compared = [c for c in self.columns if c != "text"]  # its hash stands for the text
        if self.target in self.db.list_tables().tables:
            self.table = self.db.open_table(self.target)
            held = self.table.search().select(compared).limit(None).to_pandas()
            # rows written after the version readers see: a killed or stopped build's batches
            resumed = self.table.version != self.settings["version"] if visible else len(held) > 0
        else:
            self.table = self.db.create_table(self.target, schema=self.schema())
            held = pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str") for c in compared})
            resumed = False
        keep, stale = compare(self.rows[compared], held[compared])
        add = self.rows[~keep].reset_index(drop=True)
        vectors = self._reuse(add, held)
        skipped = int(keep.sum()) + int(add["text_hash"].isin(vectors).sum())
        if stale:
            self.table.delete(rows_predicate(stale))
        missing = add.loc[~add["text_hash"].isin(vectors), ["text", "text_hash"]].drop_duplicates("text_hash")
        texts, hashes = missing["text"].tolist(), missing["text_hash"].tolist()
        from ..models.encoding import truncated as truncated_texts

        truncated = len(truncated_texts(texts, self.plan["model"])) if texts else 0
        done = self._write_rows(add, vectors, texts, hashes, engine, address, batch_size)
        return done, skipped, bool(resumed), done < len(texts), truncated

    def _reuse(self, add, held) -> dict[str, np.ndarray]:
        """Vectors already in the target table (or the previous table, same model) for rows to add."""
        needed = set(add["text_hash"])
        found: dict[str, np.ndarray] = {}
        sources = [self.table] if needed & set(held["text_hash"]) else []
        sources += [self.db.open_table(t) for t in self.reuse_from]
        for table in sources:
            wanted = sorted(needed - set(found))
            if not wanted:
                break
            query = table.search().select(["text_hash", "vector"]).limit(None)
            if len(wanted) <= LOOKUP_LIMIT:
                query = query.where("text_hash IN (" + ", ".join(f"'{h}'" for h in wanted) + ")")
            got = query.to_arrow()
            from .store import vector_array

            matrix = vector_array(got["vector"], self.plan["dim"])
            for h, v in zip(got["text_hash"].to_pylist(), matrix, strict=True):
                if h in needed:
                    found.setdefault(h, v)
        return found

    def _write_rows(self, add, vectors, texts, hashes, engine, address, batch_size) -> int:
        """Append the rows to add: those with reused vectors first, the others as their texts are
        encoded; returns how many texts were encoded (fewer than ``texts`` when stopped)."""
        position = {h: i for i, h in enumerate(hashes)}
        by_text: dict[int, list[int]] = {}
        ready = []
        for i, h in enumerate(add["text_hash"]):
            if h in vectors:
                ready.append(i)
            else:
                by_text.setdefault(position[h], []).append(i)
        buffer = _Buffer(self, add, vectors)
        buffer.extend(ready)
        total, done, began = len(texts), 0, time.perf_counter()
        self.emit(BuildProgress(0, total, "encode", f"{len(add) - len(ready):,} rows to encode"))
        for positions, matrix in self._encoded(texts, engine, address, batch_size):
            for p, v in zip(positions.tolist(), matrix, strict=True):
                vectors[hashes[p]] = v
                buffer.extend(by_text[p])
            done += len(positions)
            rate = done / max(time.perf_counter() - began, 1e-9)
            self.emit(BuildProgress(done, total, "encode", f"{rate:.0f} texts/s"))
            if self.should_stop is not None and self.should_stop():
                break
        buffer.flush()
        return done

    def _encoded(self, texts, engine, address, batch_size) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not texts:
            return iter(())
        if engine == "ray":
            from .ray_engine import encode_with_ray  # imported only for engine="ray": Ray is heavy

            return encode_with_ray(
                texts, model=self.plan["model"], address=address, batch_size=batch_size, should_stop=self.should_stop
            )
        return _encode_locally(texts, self.plan["model"], batch_size)

    def finish(self) -> Settings:
        """Make the written version the one readers see: the settings record, written last."""
        r = self.settings.record
        old_table = r.get("table")
        same = old_table == self.target
        index = r.get("index") if same else None
        record = {
            **r,
            **{k: v for k, v in self.plan.items()},
            "table": self.target,
            "version": int(self.table.version),
            "data_version": int(self.table.version),
            "rows": int(self.table.count_rows()),
            "created": r.get("created") or now(),
            "updated": now(),
            "index": index,
            "pending": None,
        }
        settings = _write_settings(self.settings, record)
        if old_table and not same:
            _drop(self.settings.path, old_table)
        remove_exact_files(self.settings.path, self.settings.name, keep=f"{self.target}.v{record['version']}.")
        return settings


class _Buffer:
    """Rows waiting to be appended, written every :data:`WRITE_ROWS`."""

    def __init__(self, build: _Build, add, vectors):
        self.build, self.add, self.vectors, self.rows = build, add, vectors, []

    def extend(self, rows: list[int]) -> None:
        self.rows += rows
        while len(self.rows) >= WRITE_ROWS:
            chunk, self.rows = self.rows[:WRITE_ROWS], self.rows[WRITE_ROWS:]
            self._write(chunk)

    def flush(self) -> None:
        if self.rows:
            self._write(self.rows)
            self.rows = []

    def _write(self, chunk: list[int]) -> None:
        import pyarrow as pa

        frame = self.add.iloc[sorted(chunk)]
        matrix = np.stack([self.vectors[h] for h in frame["text_hash"]]).astype(np.float32, copy=False)
        dim = self.build.plan["dim"]
        columns = {
            c: pa.array(frame[c].tolist(), pa.int64() if c == "row" else pa.string()) for c in self.build.columns
        }
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dim)
        _write(self.build.table, pa.table(columns).select(self.build.schema().names).cast(self.build.schema()))
        # written vectors are dropped unless a row still waiting shares the text: memory stays bounded
        waiting = set(self.add["text_hash"].iloc[self.rows]) if self.rows else set()
        for h in set(frame["text_hash"]) - waiting:
            self.vectors.pop(h, None)


def _encode_locally(texts: list[str], model: str, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode ``texts`` with :func:`embedlab.encode` in batches of ``batch_size``; yields (positions, vectors)."""
    from ..models.catalog import load_model
    from ..models.encoding import encode

    embedder = load_model(model)
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        # no embedding cache: the table is this corpus's store, and a second copy would double the disk
        yield np.arange(start, start + len(chunk)), encode(chunk, embedder, use_cache=False)
