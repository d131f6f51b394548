"""Searching collections: exact top-k, LanceDB's approximate index with its recall measured, merging.

**Exact** search is :func:`embedlab.rank` over the collection's vectors memory-mapped from a plain
float32 file (``collections/.exact/<table>.v<version>.vectors.npy``, written from the LanceDB
table on the first exact search of a version and reused by every process): for one query it is a
matrix-vector product bound by memory bandwidth, several times faster than LanceDB's own flat scan,
which decodes the Lance pages on every query. The hits' texts and metadata come from the table by
offset. A ``where`` filter selects the rows first (a LanceDB scan of those columns), then ranks them.

**Approximate** search is LanceDB's IVF_PQ index (cosine; √rows partitions, dim/8 sub-vectors,
8 bits) queried with ``nprobes`` partitions and ``refine_factor``: the PQ candidates are re-scored
with the full vectors, which is what lifts recall@10 from ~0.55 to ~0.97; or, with
``build_index(kind="IVF_HNSW_SQ")``, LanceDB's HNSW graphs over scalar-quantised vectors.
:func:`build_index` measures recall@10 against exact search on queries drawn from the collection
itself and stores it; every approximate :class:`~embedlab.memory.SearchResult` carries it.

Measured by bench/memory_search.py --quick (100,000 × 384 rows made from ~1,100 real MiniLM
vectors; 100 held-out real queries; one query at a time) on the 2-core Xeon **under heavy load**
(load average 13-17 from other work), so absolute times are pessimistic and noisy:

==================================  =========  ==========  =========================
method                              median ms  recall@10   note
==================================  =========  ==========  =========================
search_collection, exact (rank)     162        1           min 46; rank alone 215
LanceDB flat scan (exact)           1,690      1           10× slower than rank
IVF_PQ nprobes 10, no refine        7.8        0.55
IVF_PQ nprobes 10, refine 10        11.0       0.95
IVF_PQ nprobes 20, refine 10        11.8       0.97        the default
IVF_PQ nprobes 20, refine 20        16.9       0.985
IVF_HNSW_SQ ef 50                   6.9        0.974       build 665 s (IVF_PQ: 497 s)
IVF_HNSW_SQ ef 100                  7.3        0.985       ``kind="IVF_HNSW_SQ"``
==================================  =========  ==========  =========================

At 1,000,000 × 384 (an earlier probe, synthetic clustered vectors, load 4-13): embedlab.rank
528 ms, LanceDB flat scan 8.8 s; rank reads 1.5 GB per query, so on a quiet machine it is bound
by memory bandwidth (~9 GB/s here: ~170 ms, as 34 ms at 200,000 rows suggests). The ANN indexes
were not built at 1M here (IVF_PQ took 8 minutes at 100,000 rows under this load).

``method="auto"`` searches exactly up to :data:`EXACT_LIMIT` rows (exact is fast enough there)
and approximately above it when the collection has an index.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ..validation import check_choice, check_positive_int
from .results import CollectionError, IndexReport, SearchResult
from .store import Settings, complete_settings, connect, lock, open_table, vector_array, write_settings

__all__ = ["EXACT_LIMIT", "build_index", "search_collection", "search_collections"]

#: Rows up to which ``method="auto"`` searches exactly (one query takes ~35 ms at 200,000 × 384 here).
EXACT_LIMIT = 200_000
#: Fewest rows an approximate index is built for (PQ trains 256 centroids per sub-vector).
MIN_INDEX_ROWS = 1000
#: Approximate search settings: partitions probed and the re-scoring factor (see the module docstring).
NPROBES, REFINE_FACTOR = 20, 10
#: IVF_HNSW_SQ's search breadth (candidates kept while walking the graph).
EF = 100
#: Sample queries drawn from the collection when its index is measured.
SAMPLE_QUERIES = 50
#: Reciprocal rank fusion's constant (Cormack et al., 2009).
RRF_K = 60
#: Seconds a model's identity, once checked against a collection's, is trusted by this process.
CHECK_SECONDS = 60.0
_CHECKED: dict[tuple[str, str], float] = {}
_EXACT: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def exact_arrays(settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The visible version's vectors (memory-mapped, table order), their row numbers, and the positions
    that sort the row numbers (to find a row's position)."""
    data_version = int(settings["data_version"] or settings["version"])
    key = (str(settings.path), settings["table"], data_version)
    if key not in _EXACT:
        folder = settings.path / ".exact"
        stem = folder / f"{settings['table']}.v{data_version}."
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


def query_vector(settings: Settings, query) -> np.ndarray:
    """``query`` encoded with the collection's model (or, given as a vector, checked), shape (dim,);
    CollectionError if the model changed since the collection was built."""
    from ..models.encoding import encode
    from ..validation import check_matrix
    from .build import _identity

    if not isinstance(query, str):
        vector = check_matrix(query, "query", dim=int(settings["dim"]))
        if vector.shape[0] != 1:
            raise ValueError(f"query must be one text or one vector, got shape {np.shape(query)}.")
        return vector[0]
    if not query.strip():
        raise ValueError(f"query must be a non-empty text, got {query!r}.")
    checked = (settings["model"], settings["model_key"])
    if time.monotonic() - _CHECKED.get(checked, -np.inf) > CHECK_SECONDS:
        if _identity(settings["model"])[0] != settings["model_key"]:
            raise CollectionError(
                f"The model {settings['model']} changed since collection {settings.name!r} was built; rebuild it "
                "(rebuild=True, --rebuild) to search it."
            )
        _CHECKED[checked] = time.monotonic()
    return encode([query], settings["model"])[0]


def _filter(settings: Settings, where: dict | None) -> str | None:
    """``where`` (column → value, all must hold) as a LanceDB SQL filter; CollectionError for an unknown column."""
    if not where:
        return None
    if not isinstance(where, dict):
        raise TypeError(f"where must be a dict of column -> value, got {type(where).__name__}.")
    allowed = ["id", "text", *settings["metadata_columns"]]
    parts = []
    for column, value in where.items():
        if column not in allowed:
            raise CollectionError(
                f"Collection {settings.name!r} has no column {column!r} to filter on; its columns are: "
                f"{', '.join(allowed)}."
            )
        text = str(value).replace("'", "''")
        parts.append(f"`{column}` = '{text}'")
    return " AND ".join(parts)


def _hits(settings: Settings, positions: np.ndarray, scores: np.ndarray):
    """The hits frame for table offsets ``positions`` with their cosine ``scores`` (best first)."""
    import pandas as pd

    columns = ["row", "id", "text", *settings["metadata_columns"]]
    if len(positions):
        got = open_table(settings).take_offsets([int(p) for p in positions]).select(columns).to_pandas()
        # LanceDB returns taken rows in table order: put them back in the order asked for
        wanted = exact_arrays(settings)[1][positions]
        got = got.set_index("row").loc[wanted].reset_index()
    else:
        got = pd.DataFrame({c: [] for c in columns})
    return _frame(settings, got, scores)


def _frame(settings: Settings, got, scores):
    import pandas as pd

    hits = pd.DataFrame(
        {
            "rank": np.arange(1, len(got) + 1, dtype=np.int64),
            "id": got["id"].astype(str).to_numpy(),
            "text": got["text"].astype(str).to_numpy(),
            "score": np.asarray(scores, dtype=np.float32),
            "collection": settings.name,
        }
    )
    for column in settings["metadata_columns"]:
        hits[column] = got[column].to_numpy()
    return hits


def _exact(settings: Settings, q: np.ndarray, k: int, sql: str | None):
    from ..retrieval.ranking import rank

    vectors, rows, order = exact_arrays(settings)
    if sql is None:
        if len(vectors) == 0:
            return _hits(settings, np.empty(0, np.int64), np.empty(0, np.float32))
        idx, scores = rank(q, vectors, k=k)
        return _hits(settings, idx[0], scores[0])
    wanted = open_table(settings).search().where(sql).select(["row"]).limit(None).to_arrow()["row"].to_numpy()
    if not len(wanted):
        return _hits(settings, np.empty(0, np.int64), np.empty(0, np.float32))
    positions = order[np.searchsorted(rows, wanted, sorter=order)]
    positions.sort()
    idx, scores = rank(q, np.asarray(vectors[positions]), k=k)
    return _hits(settings, positions[idx[0]], scores[0])


def _approximate(settings: Settings, q: np.ndarray, k: int, sql: str | None):
    got = _nearest(settings, q, k, sql)
    return _frame(settings, got, 1.0 - got["_distance"].to_numpy(dtype=np.float32))


def _nearest(settings: Settings, q: np.ndarray, k: int, sql: str | None):
    """LanceDB's approximate top ``k``: a frame with row, id, text, metadata and ``_distance`` (cosine)."""
    columns = ["row", "id", "text", *settings["metadata_columns"], "_distance"]
    index = settings["index"] or {}
    query = open_table(settings).search(q, vector_column_name="vector").distance_type("cosine").limit(k)
    query = query.nprobes(int(index.get("nprobes", NPROBES)))
    if index.get("kind") == "IVF_HNSW_SQ":
        query = query.ef(int(index.get("ef", EF)))
    elif index.get("refine_factor", REFINE_FACTOR):  # re-score the candidates with the full vectors
        query = query.refine_factor(int(index.get("refine_factor", REFINE_FACTOR)))
    if sql is not None:
        query = query.where(sql, prefilter=True)
    return query.select(columns).to_pandas()


def search_collection(
    name: str, query: str, *, k: int = 10, where: dict | None = None, method: str = "auto", home=None
) -> SearchResult:
    """The ``k`` rows of collection ``name`` nearest to ``query`` by cosine, best first.

    Parameters
    ----------
    name : str
        A complete collection (see :func:`~embedlab.memory.list_collections`).
    query : str or array of shape (dim,)
        The current context, encoded with the collection's model; or a vector already encoded
        with it (``SearchResult.query`` is then "").
    k : int, default 10
        Hits to return (fewer when the collection or the filter holds fewer rows).
    where : dict, optional
        Column → value; only rows whose metadata (or id) equal every value are searched.
    method : {"auto", "exact", "approximate"}
        "auto": exact up to :data:`EXACT_LIMIT` rows or without an index, approximate above.

    Returns
    -------
    SearchResult
        ``hits`` columns: rank, id, text, score, collection and the metadata columns.

    Raises
    ------
    CollectionNotFound, CollectionError
        No such collection; a filter on a column it lacks; "approximate" without an index.
    """
    started = time.perf_counter()
    k = check_positive_int(k, "k")
    check_choice(method, "method", ("auto", "exact", "approximate"))
    settings = complete_settings(name, home)
    sql = _filter(settings, where)
    q = query_vector(settings, query)
    index = settings["index"]
    if method == "approximate" and not index:
        raise CollectionError(
            f"Collection {name!r} has no approximate index; build one first (build_index, or "
            f"'python -m embedlab collection index {name}')."
        )
    approximate = method == "approximate" or (method == "auto" and index and int(settings["rows"]) > EXACT_LIMIT)
    hits = _approximate(settings, q, k, sql) if approximate else _exact(settings, q, k, sql)
    return SearchResult(
        query=query if isinstance(query, str) else "",
        hits=hits,
        method="approximate" if approximate else "exact",
        seconds=time.perf_counter() - started,
        recall_at_10=float(index["recall_at_10"]) if approximate else None,
        merged_by=None,
    )


def search_collections(names, query: str, *, k: int = 10, where: dict | None = None, home=None) -> SearchResult:
    """Search several collections and merge their hits into one list of ``k``, best first.

    Collections encoded by one model share one cosine scale: hits are merged by ``score``
    (``merged_by="cosine"``). Scores of different models are not comparable, so then each hit
    gets the reciprocal-rank score ``1 / (60 + rank in its collection)`` in ``fused_score``, which
    orders the list (``merged_by="reciprocal rank"``); ``score`` stays its own model's cosine.
    A ``where`` column a collection lacks matches none of its rows.
    """
    import pandas as pd

    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("names must hold at least one collection name, got an empty list.")
    started = time.perf_counter()
    k = check_positive_int(k, "k")
    results, models = [], set()
    for name in names:
        settings = complete_settings(name, home)
        models.add(settings["model_key"])
        columns = {"id", "text", *settings["metadata_columns"]}
        if where and not set(where) <= columns:
            continue
        results.append(search_collection(name, query, k=k, where=where, home=home))
    merged_by = "cosine" if len(models) == 1 else "reciprocal rank"
    frames = [r.hits for r in results if len(r.hits)]
    if not frames:
        hits = pd.DataFrame({"rank": [], "id": [], "text": [], "score": [], "collection": []})
    else:
        hits = pd.concat(frames, ignore_index=True)
        if merged_by == "cosine":
            hits = hits.sort_values("score", ascending=False, kind="stable")
        else:
            hits["fused_score"] = 1.0 / (RRF_K + hits["rank"].to_numpy(dtype=np.float64))
            hits = hits.sort_values(["fused_score", "score"], ascending=False, kind="stable")
        hits = hits.head(k).reset_index(drop=True)
        hits["rank"] = np.arange(1, len(hits) + 1, dtype=np.int64)
    approximate = [r for r in results if r.method == "approximate"]
    return SearchResult(
        query=query,
        hits=hits,
        method="approximate" if approximate else "exact",
        seconds=time.perf_counter() - started,
        recall_at_10=min(r.recall_at_10 for r in approximate) if approximate else None,
        merged_by=merged_by,
    )


def build_index(name: str, home=None, *, kind: str = "IVF_PQ", random_state: int = 0) -> IndexReport:
    """Build the approximate index of a collection and measure its recall@10 against exact search.

    ``kind`` "IVF_PQ" (√rows partitions, dim/8 sub-vectors, searched with :data:`NPROBES` and
    :data:`REFINE_FACTOR`) or "IVF_HNSW_SQ" (a graph per 250,000 rows, searched with ``ef`` =
    :data:`EF`). The recall and both methods' median time per query are measured on
    :data:`SAMPLE_QUERIES` queries drawn from the collection itself (by ``random_state``): each
    the normalised sum of two random rows' vectors, so no query is a row — stored with the
    collection and returned. Searching with ``method="approximate"`` (or "auto" above :data:`EXACT_LIMIT` rows)
    uses it from then on; a later build appends rows that LanceDB searches exactly until the next
    ``build_index``.

    Raises
    ------
    CollectionError
        Fewer than :data:`MIN_INDEX_ROWS` rows, or a build that is not finished.
    """
    from lancedb.index import IvfHnswSq, IvfPq

    from ..retrieval.ranking import rank

    check_choice(kind, "kind", ("IVF_PQ", "IVF_HNSW_SQ"))
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
        data_version = int(settings["data_version"] or settings["version"])
        started = time.perf_counter()
        if kind == "IVF_PQ":
            config = IvfPq(distance_type="cosine", num_partitions=max(1, round(rows**0.5)), num_sub_vectors=dim // 8)
            index = {"kind": kind, "nprobes": NPROBES, "refine_factor": REFINE_FACTOR, "rows": rows}
        else:
            partitions = max(1, rows // 250_000)
            config = IvfHnswSq(distance_type="cosine", num_partitions=partitions)
            index = {"kind": kind, "nprobes": partitions, "ef": EF, "rows": rows}
        table.create_index("vector", config=config, replace=True)
        seconds = time.perf_counter() - started
        record = {**settings.record, "version": int(table.version), "data_version": data_version, "index": index}
        indexed = Settings(settings.name, settings.path, {**record, "index": {**index, "recall_at_10": 0.0}})
        vectors, positions_rows, _ = exact_arrays(indexed)
        picks = np.random.default_rng(random_state).integers(0, rows, size=(SAMPLE_QUERIES, 2))
        recalls, exact_ms, approximate_ms = [], [], []
        for a, b in picks:
            q = np.asarray(vectors[a]) + np.asarray(vectors[b])
            q /= max(float(np.linalg.norm(q)), 1e-12)
            t0 = time.perf_counter()
            want = rank(q, vectors, k=10)[0][0]
            t1 = time.perf_counter()
            got = _nearest(indexed, q, 10, None)["row"]
            t2 = time.perf_counter()
            exact_ms.append((t1 - t0) * 1000)
            approximate_ms.append((t2 - t1) * 1000)
            want_rows = set(positions_rows[want].tolist())
            recalls.append(len(want_rows & set(got.tolist())) / len(want_rows))
        report = IndexReport(
            name=name,
            kind=kind,
            rows=rows,
            recall_at_10=float(np.mean(recalls)),
            exact_ms=float(np.median(exact_ms)),
            approximate_ms=float(np.median(approximate_ms)),
            seconds=seconds,
        )
        index.update(
            recall_at_10=report.recall_at_10,
            exact_ms=report.exact_ms,
            approximate_ms=report.approximate_ms,
            seconds=seconds,
        )
        write_settings(settings, {**record, "index": index})
    return report
