"""A collection's vector files and approximate indexes: built, checked for staleness, searched.

Beside the collections' LanceDB tables, in ``collections/.exact/``, each collection keeps files
named after its table and the *data version* they were made from (the table version of its last
build, ``data_version`` in the settings record):

* ``<table>.v<V>.vectors.npy`` and ``.rows.npy`` — every vector as one float32 file in table
  order, memory-mapped by exact search and by the HNSW index's re-scoring, and their row numbers
  (written from the table on first use, see :func:`exact_arrays`);
* ``<table>.v<V>.columns.arrow`` — the rows' id, text and metadata in the same order, memory-mapped,
  so a hit's text is read without a LanceDB query (:func:`exact_columns`);
* ``<table>.v<V>.hnsw-<stamp>.usearch`` — with ``kind="HNSW"``: usearch's HNSW graph over the
  vectors quantised to int8, memory-mapped. A query walks the graph for the :data:`CANDIDATES`
  nearest rows (keeping ``ef`` = :data:`EF` on the way) and re-scores them with the float32
  vectors, so scores are exact cosines and int8 only decides which rows are candidates;
* ``<table>.v<V>.ivf-<stamp>.faiss`` — with ``kind="IVF"``: FAISS's inverted file over 8-bit codes,
  its candidates re-scored with the float32 vectors the same way (:mod:`embedlab.memory.faiss_index`).

An index in a file (HNSW, IVF) covers exactly the rows of data version ``V``: a build that adds,
changes or deletes rows writes a new data version and removes the older files
(``store.remove_exact_files``), and a file index whose version is not the collection's is never searched — :func:`index_state`
says "stale", ``method="auto"`` searches exactly and ``method="approximate"`` asks for a new index.

"IVF_PQ" and "IVF_HNSW_SQ" are LanceDB's own indexes inside the table, searched by
LanceDB (which scans rows added after the index without it). At 1,000,000 × 384 (bench/memory_search.py,
docs/scaling-collections.md) the HNSW graph answered in ~1-6 ms but found only 0.79-0.86 of
exact search's top 10 on real queries with the build this 2-core machine bears (12 minutes),
while IVF_PQ probing 40 partitions and re-scoring 200 candidates found 0.972 in ~14 ms, and
FAISS's IVF ("IVF", the default) 0.984 in 1.8 ms end to end (its probe and re-scoring 0.6 ms).

:func:`build_index` builds one kind and measures its recall@10 against exact search on queries
drawn from the collection; every approximate search result carries that recall.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..validation import check_choice
from .results import CollectionError, IndexReport
from .store import Settings, complete_settings, connect, lock, open_table, vector_array, write_settings

__all__ = [
    "CANDIDATES",
    "DEFAULT_KIND",
    "EF",
    "KINDS",
    "MIN_INDEX_ROWS",
    "build_index",
    "exact_arrays",
    "exact_columns",
    "file_search",
    "hnsw_search",
    "index_state",
    "lance_search",
]

#: The index kinds: usearch's HNSW graph and FAISS's IVF in files, LanceDB's IVF_PQ and IVF_HNSW_SQ in the table.
KINDS = ("HNSW", "IVF", "IVF_PQ", "IVF_HNSW_SQ")
#: The kinds kept in a file beside the vector files, searched by :func:`file_search`.
FILE_KINDS = ("HNSW", "IVF")
#: The kind :func:`build_index` builds unless told otherwise: FAISS's IVF, the only one measured at
#: recall@10 >= 0.95 in < 10 ms at 1,000,000 rows on real queries (0.984 in 1.8 ms through
#: ``search_collection``, built in ~100 s on 2 loaded cores; see docs/scaling-collections.md).
DEFAULT_KIND = "IVF"
#: Fewest rows an approximate index is built for (below, exact search takes well under a millisecond).
MIN_INDEX_ROWS = 1000
#: HNSW: the stored scalar type, neighbours per node and search breadth while building.
HNSW_DTYPE, CONNECTIVITY, EXPANSION_ADD = "i8", 16, 64
#: HNSW search: candidates kept while walking the graph (``ef``), and those re-scored with float32.
EF, CANDIDATES = 256, 100
#: Rows handed to usearch per ``add`` call while building.
ADD_ROWS = 65_536
#: IVF_PQ search settings: partitions probed, and re-scoring factor (candidates re-scored with the full vectors).
NPROBES, REFINE_FACTOR = 40, 20
#: IVF_HNSW_SQ's search breadth.
LANCE_EF = 100
#: Sample queries drawn from the collection when its index is measured.
SAMPLE_QUERIES = 50

_EXACT: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_COLUMNS: dict[tuple[str, str, int], object] = {}
_GRAPHS: dict[str, object] = {}
#: One search at a time per process: usearch keeps one search context per thread slot, and
#: ``threads=1`` searches from several Python threads (Streamlit's sessions) would share one.
_SEARCHING = threading.Lock()


def data_version(settings: Settings) -> int:
    """The table version of the collection's last build (its rows; an index build adds later versions)."""
    return int(settings["data_version"] or settings["version"])


def exact_arrays(settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The visible version's vectors (memory-mapped, table order), their row numbers, and the positions
    that sort the row numbers (to find a row's position)."""
    version = data_version(settings)
    key = (str(settings.path), settings["table"], version)
    if key not in _EXACT:
        folder = settings.path / ".exact"
        stem = folder / f"{settings['table']}.v{version}."
        vectors_path, rows_path = Path(f"{stem}vectors.npy"), Path(f"{stem}rows.npy")
        if not (vectors_path.exists() and rows_path.exists()):
            folder.mkdir(exist_ok=True)
            _write_exact_files(settings, vectors_path, rows_path)
        rows = np.load(rows_path)
        _EXACT[key] = (np.load(vectors_path, mmap_mode="r"), rows, np.argsort(rows, kind="stable"))
    return _EXACT[key]


def _write_exact_files(settings: Settings, vectors_path: Path, rows_path: Path) -> None:
    """Stream the table's vectors into a float32 .npy file beside it (written aside, then renamed)."""
    table = open_table(settings)
    n, dim = table.count_rows(), int(settings["dim"])
    handle, temporary = tempfile.mkstemp(prefix=".vectors-", suffix=".npy", dir=vectors_path.parent)
    os.close(handle)
    try:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(n, dim))
        rows, at = np.empty(n, dtype=np.int64), 0
        for batch in table.search().select(["row", "vector"]).limit(None).to_batches():
            m = batch.num_rows
            out[at : at + m] = vector_array(batch.column("vector"), dim)
            rows[at : at + m] = batch.column("row").to_numpy()
            at += m
        out.flush()
        del out
        np.save(rows_path, rows)
        os.replace(temporary, vectors_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def exact_columns(settings: Settings):
    """The visible version's row, id, text and metadata columns in table order (as :func:`exact_arrays`'
    vectors), a pyarrow Table memory-mapped from an Arrow file beside them: a hit's text is read
    from it in microseconds, where LanceDB's take by offset costs milliseconds per query."""
    import pyarrow as pa

    version = data_version(settings)
    key = (str(settings.path), settings["table"], version)
    if key not in _COLUMNS:
        path = settings.path / ".exact" / f"{settings['table']}.v{version}.columns.arrow"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            _write_columns_file(settings, path)
        columns = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        rows = exact_arrays(settings)[1]
        if not np.array_equal(columns["row"].to_numpy(), rows):  # scanned in another order: align with the vectors
            where = np.argsort(columns["row"].to_numpy(), kind="stable")
            columns = columns.take(pa.array(where[np.searchsorted(columns["row"].to_numpy(), rows, sorter=where)]))
        _COLUMNS[key] = columns
    return _COLUMNS[key]


def _write_columns_file(settings: Settings, path: Path) -> None:
    """Stream the table's columns but the vectors into an Arrow file (written aside, then renamed)."""
    import pyarrow as pa

    names = ["row", "id", "text", *settings["metadata_columns"]]
    handle, temporary = tempfile.mkstemp(prefix=".columns-", suffix=".arrow", dir=path.parent)
    os.close(handle)
    try:
        batches = open_table(settings).search().select(names).limit(None).to_batches()
        writer = None
        for batch in batches:
            batch = batch.select(names)
            if writer is None:
                writer = pa.ipc.new_file(temporary, batch.schema)
            writer.write_batch(batch)
        if writer is None:  # an empty table
            schema = pa.schema([(n, pa.int64() if n == "row" else pa.string()) for n in names])
            writer = pa.ipc.new_file(temporary, schema)
        writer.close()
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def index_state(settings: Settings) -> str:
    """ "none" (no index), "current" (searchable) or "stale" (an HNSW index of rows since changed)."""
    index = settings["index"]
    if not index:
        return "none"
    if index.get("kind") not in FILE_KINDS:
        return "current"  # LanceDB's indexes live in the table and cover rows added later by a scan
    current = index.get("data_version") == data_version(settings)
    return "current" if current and (settings.path / ".exact" / index["file"]).exists() else "stale"


def _graph(path: Path):
    """The usearch index at ``path``, memory-mapped once per process."""
    key = str(path)
    if key not in _GRAPHS:
        from usearch.index import Index  # imported with the first HNSW search: not every collection has one

        try:
            _GRAPHS[key] = Index.restore(key, view=True)
        except (OSError, RuntimeError, ValueError) as error:
            raise CollectionError(
                f"The approximate index {path.name} cannot be read ({error}); build it again."
            ) from None
    return _GRAPHS[key]


def hnsw_search(settings: Settings, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The HNSW index's top ``k`` for the vector ``q``: table positions and exact cosines, best first.

    The graph gives ``max(k, candidates)`` rows; their float32 vectors give the scores and the order.
    """
    index = settings["index"]
    graph = _graph(settings.path / ".exact" / index["file"])
    vectors = exact_arrays(settings)[0]
    wanted = max(k, int(index.get("candidates", CANDIDATES)))
    with _SEARCHING:
        graph.expansion_search = max(int(index.get("ef", EF)), wanted)
        keys = graph.search(q, wanted, threads=1).keys
    positions = np.sort(keys[keys < len(vectors)].astype(np.int64))  # a short answer is padded with "no key"
    found = np.asarray(vectors[positions], dtype=np.float32)
    norms = np.linalg.norm(found, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
    scores = (found @ np.asarray(q, dtype=np.float32)) / np.maximum(norms, 1e-12)
    best = np.argsort(-scores, kind="stable")[:k]
    return positions[best], scores[best].astype(np.float32)


def file_search(settings: Settings, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The file index's (HNSW or IVF) top ``k`` for ``q``: table positions and exact cosines, best first."""
    if settings["index"]["kind"] == "IVF":
        from .faiss_index import ivf_search

        return ivf_search(settings, q, k, vectors=exact_arrays(settings)[0])
    return hnsw_search(settings, q, k)


def lance_search(settings: Settings, q: np.ndarray, k: int, sql: str | None):
    """LanceDB's approximate top ``k``: a frame with row, id, text, metadata and ``_distance`` (cosine)."""
    columns = ["row", "id", "text", *settings["metadata_columns"], "_distance"]
    index = settings["index"] or {}
    query = open_table(settings).search(q, vector_column_name="vector").distance_type("cosine").limit(k)
    query = query.nprobes(int(index.get("nprobes", NPROBES)))
    if index.get("kind") == "IVF_HNSW_SQ":
        query = query.ef(int(index.get("ef", LANCE_EF)))
    elif index.get("refine_factor", REFINE_FACTOR):  # re-score the candidates with the full vectors
        query = query.refine_factor(int(index.get("refine_factor", REFINE_FACTOR)))
    if sql is not None:
        query = query.where(sql, prefilter=True)
    return query.select(columns).to_pandas()


def nearest_rows(settings: Settings, q: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the index's approximate top ``k`` for ``q`` (no filter)."""
    if settings["index"]["kind"] in FILE_KINDS:
        return exact_arrays(settings)[1][file_search(settings, q, k)[0]]
    return lance_search(settings, q, k, None)["row"].to_numpy()


def _build_hnsw(settings: Settings, version: int) -> dict:
    """Write the HNSW index of data version ``version`` (aside, then renamed); its record fields."""
    from usearch.index import Index  # imported only to build: LanceDB's kinds do not need it

    vectors = exact_arrays(settings)[0]
    graph = Index(
        ndim=int(settings["dim"]),
        metric="cos",
        dtype=HNSW_DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EF,
    )
    for start in range(0, len(vectors), ADD_ROWS):
        stop = min(len(vectors), start + ADD_ROWS)
        graph.add(np.arange(start, stop, dtype=np.uint64), np.asarray(vectors[start:stop]), threads=0)
    file = f"{settings['table']}.v{version}.hnsw-{secrets.token_hex(4)}.usearch"
    temporary = settings.path / ".exact" / f".{file}.part"
    try:
        graph.save(str(temporary))
        os.replace(temporary, settings.path / ".exact" / file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    record = dict(file=file, data_version=version, dtype=HNSW_DTYPE, connectivity=CONNECTIVITY)
    return {**record, "expansion_add": EXPANSION_ADD, "ef": EF, "candidates": CANDIDATES}


def _build_lance(table, kind: str, rows: int, dim: int) -> dict:
    """Build LanceDB's index in the table; its record fields (search settings)."""
    from lancedb.index import IvfHnswSq, IvfPq

    if kind == "IVF_PQ":
        config = IvfPq(distance_type="cosine", num_partitions=max(1, round(rows**0.5)), num_sub_vectors=dim // 8)
        fields = {"nprobes": NPROBES, "refine_factor": REFINE_FACTOR}
    else:
        partitions = max(1, rows // 250_000)
        config = IvfHnswSq(distance_type="cosine", num_partitions=partitions)
        fields = {"nprobes": partitions, "ef": LANCE_EF}
    table.create_index("vector", config=config, replace=True)
    return fields


def remove_hnsw_files(folder: Path, table: str, keep: str | None = None) -> None:
    """Remove the index files (HNSW, IVF) of ``table`` but the file named ``keep``."""
    from .faiss_index import forget

    for pattern in ("hnsw-*.usearch", "ivf-*.faiss"):
        for path in (folder / ".exact").glob(f"{table}.v*.{pattern}"):
            if path.name != keep:
                with contextlib.suppress(OSError):
                    os.remove(path)
                _GRAPHS.pop(str(path), None)
                forget(path)


def measure(settings: Settings, random_state: int = 0, queries: int = SAMPLE_QUERIES) -> tuple[float, float, float]:
    """The index's recall@10 against exact search and both methods' median ms per query.

    The queries are drawn from the collection itself (by ``random_state``): each the normalised
    sum of two random rows' vectors, so no query is a row.
    """
    from ..retrieval.ranking import rank

    vectors, rows, _ = exact_arrays(settings)
    picks = np.random.default_rng(random_state).integers(0, len(vectors), size=(queries, 2))
    recalls, exact_ms, approximate_ms = [], [], []
    for a, b in picks:
        q = np.asarray(vectors[a]) + np.asarray(vectors[b])
        q /= max(float(np.linalg.norm(q)), 1e-12)
        t0 = time.perf_counter()
        want = rank(q, vectors, k=10)[0][0]
        t1 = time.perf_counter()
        got = nearest_rows(settings, q, 10)
        t2 = time.perf_counter()
        exact_ms.append((t1 - t0) * 1000)
        approximate_ms.append((t2 - t1) * 1000)
        want_rows = set(rows[want].tolist())
        recalls.append(len(want_rows & set(got.tolist())) / len(want_rows))
    return float(np.mean(recalls)), float(np.median(exact_ms)), float(np.median(approximate_ms))


def build_index(name: str, home=None, *, kind: str = DEFAULT_KIND, random_state: int = 0) -> IndexReport:
    """Build the approximate index of a collection and measure its recall@10 against exact search.

    Parameters
    ----------
    name : str
        A complete collection with at least :data:`MIN_INDEX_ROWS` rows.
    kind : {"HNSW", "IVF", "IVF_PQ", "IVF_HNSW_SQ"}, default :data:`DEFAULT_KIND`
        "HNSW": usearch's graph over int8 vectors in a file beside the table, searched for
        :data:`CANDIDATES` rows re-scored with the float32 vectors (see the module docstring).
        "IVF": FAISS's inverted file over 8-bit codes in a file beside the table, its ``nprobe``
        chosen on the collection for recall@10 >= 0.97, 100 candidates re-scored with float32
        (:mod:`embedlab.memory.faiss_index`).
        "IVF_PQ": LanceDB's, √rows partitions and dim/8 sub-vectors, searched with
        :data:`NPROBES` and :data:`REFINE_FACTOR`. "IVF_HNSW_SQ": LanceDB's graph per 250,000 rows.
    random_state : int
        Picks the :data:`SAMPLE_QUERIES` queries the recall and times are measured on.

    Returns
    -------
    IndexReport
        Recall@10 and both methods' median time per query, also stored with the collection:
        ``search_collection(method="approximate")`` (or "auto" above ``EXACT_LIMIT`` rows) uses
        the index from then on and carries the recall on every result.

    Raises
    ------
    CollectionError
        Fewer than :data:`MIN_INDEX_ROWS` rows, a build that is not finished, or one running.
    """
    check_choice(kind, "kind", KINDS)
    with lock(name, home, doing="built or indexed"):
        settings = complete_settings(name, home)
        rows, dim = int(settings["rows"]), int(settings["dim"])
        if rows < MIN_INDEX_ROWS:
            raise CollectionError(
                f"Collection {name!r} has {rows:,} rows; an approximate index needs at least {MIN_INDEX_ROWS:,}, "
                "and exact search is fast at this size."
            )
        table = connect(settings.path).open_table(settings["table"])
        if table.version != settings["version"]:
            raise CollectionError(
                f"A build of collection {name!r} was stopped or killed before it finished; build it again "
                "first, then index it."
            )
        version = data_version(settings)
        started = time.perf_counter()
        if kind == "HNSW":
            index = {"kind": kind, "rows": rows, **_build_hnsw(settings, version)}
        elif kind == "IVF":
            from .faiss_index import build_ivf  # faiss is imported only for this kind

            index = {
                "kind": kind,
                "rows": rows,
                **build_ivf(settings, version, exact_arrays(settings)[0], random_state),
            }
        else:
            index = {"kind": kind, "rows": rows, **_build_lance(table, kind, rows, dim)}
        seconds = time.perf_counter() - started
        record = {**settings.record, "version": int(table.version), "data_version": version, "index": index}
        recall, exact_ms, approximate_ms = measure(Settings(settings.name, settings.path, record), random_state)
        index.update(recall_at_10=recall, exact_ms=exact_ms, approximate_ms=approximate_ms, seconds=seconds)
        write_settings(settings, record)
        remove_hnsw_files(settings.path, settings["table"], keep=index.get("file"))
    return IndexReport(
        name=name,
        kind=kind,
        rows=rows,
        recall_at_10=recall,
        exact_ms=exact_ms,
        approximate_ms=approximate_ms,
        seconds=seconds,
    )
