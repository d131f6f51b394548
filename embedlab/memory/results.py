"""The types of Memory Search: errors, collection settings, build, search and index results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads with the functions that return frames
    import pandas as pd

__all__ = [
    "BuildProgress",
    "BuildResult",
    "CollectionError",
    "CollectionInfo",
    "CollectionNotFound",
    "IndexReport",
    "SearchResult",
]


class CollectionError(ValueError):
    """A collection cannot be built, read or searched as asked; the message is one sentence."""


class CollectionNotFound(CollectionError):
    """No complete collection of that name."""


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as readers see it (its last complete version).

    Attributes
    ----------
    name, model, dim, rows : the collection's name, the model that encoded it, vector size, rows.
    text_column, id_column : the source columns of the texts and ids (None: ids are row numbers).
    metadata_columns : the other source columns, kept as strings (filterable in search).
    source : where it was built from (a path, or "DataFrame").
    created, updated : ISO-8601 UTC times of the first and of the last complete build.
    version : the LanceDB table version readers see (a running build writes later ones).
    index : the approximate index kind ("IVF_PQ", ...), None if searched exactly only.
    path : the LanceDB table's folder.
    """

    name: str
    model: str
    dim: int
    rows: int
    text_column: str
    id_column: str | None
    metadata_columns: tuple[str, ...]
    source: str
    created: str
    updated: str
    version: int
    index: str | None
    path: str


@dataclass(frozen=True)
class BuildProgress:
    """Where a build is: ``done`` of ``total`` texts at ``stage`` ("read", "encode", "write", "done")."""

    done: int
    total: int
    stage: str
    detail: str = ""

    @property
    def fraction(self) -> float:
        """Share of the texts to encode that are written, in [0, 1]."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def message(self) -> str:
        """One line for people, e.g. "encode · 512 of 2,000 texts · 210 texts/s"."""
        if self.total <= 0 and self.stage != "done":
            return f"{self.stage} · {self.detail}" if self.detail else self.stage
        head = f"{self.stage} · {self.done:,} of {self.total:,} texts"
        return f"{head} · {self.detail}" if self.detail else head


@dataclass(frozen=True)
class BuildResult:
    """What a build did.

    Attributes
    ----------
    info : the collection now visible (after a stop or before the first complete build: the
        previous one; ``version`` 0 and ``rows`` 0 when there is none yet).
    added : texts encoded by this run.
    skipped : rows whose text was already in the collection (their vectors reused, not encoded).
    seconds, texts_per_second : the run's wall time and ``added / seconds``.
    engine : "local" or "ray".
    stopped : True when ``should_stop`` ended it early (the next build resumes it).
    resumed : True when it carried on a build that was killed or stopped.
    empty : source rows skipped because their text is empty or blank.
    truncated : texts longer than the model's maximum tokens: only their beginning was encoded
        (the whole text is stored).
    """

    info: CollectionInfo
    added: int
    skipped: int
    seconds: float
    texts_per_second: float
    engine: str
    stopped: bool
    resumed: bool
    empty: int = 0
    truncated: int = 0


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query, best first.

    Attributes
    ----------
    query : the text searched for.
    hits : DataFrame with columns rank (1-based), id, text, score (cosine similarity under the
        collection's model), collection, then metadata columns; merged over collections whose
        models differ it also has ``fused_score`` (reciprocal rank), which orders it.
    method : "exact" or "approximate" (approximate when any collection was searched so).
    seconds : wall time of the search (query encoding included).
    recall_at_10 : the approximate index's recall@10 against exact search, measured on the
        collection when it was indexed (the lowest over collections); None when exact.
    merged_by : for several collections, "cosine" (one model) or "reciprocal rank" (models differ).
    """

    query: str
    hits: pd.DataFrame
    method: str
    seconds: float
    recall_at_10: float | None
    merged_by: str | None


@dataclass(frozen=True)
class IndexReport:
    """An approximate index and how good it is on the collection it was built for.

    Attributes
    ----------
    name, kind, rows : the collection, the index kind ("IVF_PQ", ...) and the rows it covers.
    recall_at_10 : mean share of exact search's top 10 found by the index, over sample queries
        drawn from the collection itself.
    exact_ms, approximate_ms : median milliseconds per query of each method on those queries.
    seconds : time to build the index.
    """

    name: str
    kind: str
    rows: int
    recall_at_10: float
    exact_ms: float
    approximate_ms: float
    seconds: float
