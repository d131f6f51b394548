"""Memory Search: named collections of texts encoded once, stored in LanceDB, searched exactly or approximately.

* :func:`read_source` — a file (CSV, TSV, JSON, JSONL, Parquet, chat logs) or DataFrame → rows;
* :func:`build_collection` — encode and store them, incrementally and resumably (local or Ray);
* :func:`list_collections`, :func:`collection_info`, :func:`collection_rows`,
  :func:`collection_vectors`, :func:`delete_collection` — what is stored;
* :func:`search_collection`, :func:`search_collections` — top-k for the current context, one
  collection or merged; :func:`build_index` — the approximate index and its measured recall;
* :func:`evaluate_memory` — labelled queries → accuracy@k and MRR per collection and per model.

Collections live under ``$EMBEDLAB_HOME/collections/`` (see :mod:`embedlab.memory.store`).
"""

from .build import build_collection
from .evaluation import MemoryEvaluation, evaluate_memory
from .results import (
    BuildProgress,
    BuildResult,
    CollectionError,
    CollectionInfo,
    CollectionNotFound,
    IndexReport,
    SearchResult,
)
from .search import EXACT_LIMIT, build_index, search_collection, search_collections
from .sources import read_source
from .store import collection_info, collection_rows, collection_vectors, delete_collection, list_collections

__all__ = [
    "EXACT_LIMIT",
    "BuildProgress",
    "BuildResult",
    "CollectionError",
    "CollectionInfo",
    "CollectionNotFound",
    "IndexReport",
    "MemoryEvaluation",
    "SearchResult",
    "build_collection",
    "build_index",
    "collection_info",
    "collection_rows",
    "collection_vectors",
    "delete_collection",
    "evaluate_memory",
    "list_collections",
    "read_source",
    "search_collection",
    "search_collections",
]
