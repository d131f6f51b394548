"""Searching collections: exact top-k, the approximate index with its recall measured, merging.

**Exact** search is :func:`embedlab.rank` over the collection's vectors memory-mapped from a plain
float32 file (``collections/.exact/<table>.v<version>.vectors.npy``, written from the LanceDB
table on the first exact search of a version and reused by every process; see
:mod:`embedlab.memory.index`): for one query it is a matrix-vector product bound by memory
bandwidth, many times faster than LanceDB's own flat scan, which decodes the Lance pages on every
query. The hits' texts and metadata come from the table by offset. A ``where`` filter selects the
rows first (a LanceDB scan of those columns), then ranks them.

**Approximate** search uses the index :func:`build_index` made (see :mod:`embedlab.memory.index`):
by default FAISS's IVF over 8-bit codes ("IVF"), or usearch's HNSW graph over int8 vectors,
whose candidates are re-scored with the float32 vectors, so every score is an exact cosine; or
LanceDB's IVF_PQ / IVF_HNSW_SQ. Each
approximate :class:`~embedlab.memory.SearchResult` carries the recall@10 measured against exact
search on the collection itself. An IVF or HNSW index covers the rows it was built from: once a build
changes them it is stale, and searches go exact until it is built again (never a stale answer).

Measured at 1,000,000 × 384 by bench/memory_search.py (figures and the choice of the default
index in docs/scaling-collections.md): exact ~230-310 ms per query under load (LanceDB's own flat
scan: 1.8-2.4 s); FAISS's IVF, the default index, recall@10 0.984 in 1.8 ms end to end;
LanceDB's IVF_PQ 0.972 in ~14 ms; usearch's HNSW ~1-6 ms but at recall@10 0.79-0.86 with the
build this machine bears.

``method="auto"`` searches exactly up to :data:`EXACT_LIMIT` rows (exact is fast enough there)
and approximately above it when the collection has an up-to-date index.
"""

from __future__ import annotations

import time

import numpy as np

from ..validation import check_choice, check_positive_int
from .index import FILE_KINDS, build_index, exact_arrays, exact_columns, file_search, index_state, lance_search
from .results import CollectionError, SearchResult
from .store import Settings, complete_settings, open_table

__all__ = ["EXACT_LIMIT", "build_index", "search_collection", "search_collections"]

#: Rows up to which ``method="auto"`` searches exactly (one query takes ~35 ms at 200,000 × 384 here).
EXACT_LIMIT = 200_000
#: Reciprocal rank fusion's constant (Cormack et al., 2009).
RRF_K = 60
#: Seconds a model's identity, once checked against a collection's, is trusted by this process.
CHECK_SECONDS = 60.0
_CHECKED: dict[tuple[str, str], float] = {}


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


#: id(columns) → (columns, their record batches, each batch's first position): see :func:`_hits`.
_BATCHES: dict[int, tuple] = {}


def _hits(settings: Settings, positions: np.ndarray, scores: np.ndarray):
    """The hits frame for table offsets ``positions`` with their cosine ``scores`` (best first).

    Each hit is sliced from its record batch of the memory-mapped columns file: ``Table.take``
    on its ~1,000 chunks at 1,000,000 rows costs ~30 ms, a slice per hit a few microseconds.
    """
    import pyarrow as pa

    columns = exact_columns(settings)
    if id(columns) not in _BATCHES:  # the entry holds the table, so its id is never reused
        batches = columns.to_batches()
        starts = np.cumsum([0] + [b.num_rows for b in batches])[:-1]
        _BATCHES[id(columns)] = (columns, batches, starts)
    _, batches, starts = _BATCHES[id(columns)]
    positions = np.asarray(positions, dtype=np.int64)
    which = np.searchsorted(starts, positions, side="right") - 1
    pieces = [batches[b].slice(int(p - starts[b]), 1) for p, b in zip(positions, which, strict=True)]
    got = pa.Table.from_batches(pieces, schema=columns.schema).to_pandas()
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
    if settings["index"]["kind"] in FILE_KINDS:
        return _hits(settings, *file_search(settings, q, k))
    got = lance_search(settings, q, k, sql)
    return _frame(settings, got, 1.0 - got["_distance"].to_numpy(dtype=np.float32))


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
        "auto": exact up to :data:`EXACT_LIMIT` rows or without an up-to-date index, approximate
        above. With a ``where`` filter, a collection whose index is "HNSW" or "IVF" is searched exactly
        over the rows that pass it (``method`` of the result: "exact").

    Returns
    -------
    SearchResult
        ``hits`` columns: rank, id, text, score, collection and the metadata columns.

    Raises
    ------
    CollectionNotFound, CollectionError
        No such collection; a filter on a column it lacks; "approximate" without an index, or
        with an HNSW or IVF index built before the collection's rows last changed.
    """
    started = time.perf_counter()
    k = check_positive_int(k, "k")
    check_choice(method, "method", ("auto", "exact", "approximate"))
    settings = complete_settings(name, home)
    sql = _filter(settings, where)
    q = query_vector(settings, query)
    index, state = settings["index"], index_state(settings)
    if method == "approximate" and state != "current":
        how = "build one first" if state == "none" else "its rows changed since it was built: build it again"
        raise CollectionError(
            f"Collection {name!r} has no {'up-to-date ' if state == 'stale' else ''}approximate index; {how} "
            f"(build_index, or 'python -m embedlab collection index {name}')."
        )
    wanted = method == "approximate" or (method == "auto" and int(settings["rows"]) > EXACT_LIMIT)
    # a filter on a file index (HNSW, IVF): the rows that pass it are ranked exactly (it cannot skip the others)
    approximate = wanted and state == "current" and not (sql is not None and index["kind"] in FILE_KINDS)
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
