"""Questions asked of a drawn map: a sentence's neighbours, a search, the heatmap's neighbourhood.

Each takes a :class:`~embedlab.maps.pipeline.MapResult` and answers in the original embedding
space (cosine), as tables and small frozen dataclasses a page draws directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validation import check_matrix, check_positive_int
from . import explore
from .pipeline import MapResult

__all__ = ["Heatmap", "Search", "heatmap", "neighbour_table", "search"]


def neighbour_table(result: MapResult, *, k: int = 5, row: int | None = None, query=None):
    """The ``k`` sentences of the map nearest (cosine) to one of its rows, or to a query vector.

    Parameters
    ----------
    result : MapResult
    k : int, default 5
    row : int, optional
        A row of the map; it is left out of its own neighbours.
    query : array-like of shape (1, dim) or (dim,), optional
        An embedding from the same model (give ``row`` or ``query``, not both).

    Returns
    -------
    DataFrame with columns cosine (float), label ("" when unlabelled) and sentence, best first: the
    short columns first, so a long sentence never pushes them out of view.
    """
    import pandas as pd

    if (row is None) == (query is None):
        raise ValueError("give either row or query, not both or neither.")
    k = check_positive_int(k, "k")
    if row is not None:
        row = _check_row(row, len(result))
        idx, scores = explore.neighbours(result.embeddings[[row]], result.embeddings, k=k, exclude=[row])
    else:
        vector = check_matrix(np.atleast_2d(query), "query", dim=result.embeddings.shape[1])
        idx, scores = explore.neighbours(vector[:1], result.embeddings, k=k)
    found = idx[0].tolist()
    return pd.DataFrame(
        {
            "cosine": scores[0].astype(float),
            "label": [result.labels[i] for i in found] if result.labels else [""] * len(found),
            "sentence": [result.texts[i] for i in found],
        }
    )


@dataclass(frozen=True)
class Search:
    """Where a searched sentence lands on the map, and its nearest sentences.

    ``star`` is a points table (text, label, x, y[, z]) for the marker; ``how`` says in one
    sentence how the position was found; ``neighbours`` is a :func:`neighbour_table`.
    """

    text: str
    star: object = field(repr=False)
    how: str
    neighbours: object = field(repr=False)


def search(result: MapResult, text: str, vector, *, k: int = 5, place_k: int = 10) -> Search:
    """Place ``text`` (embedded as ``vector`` by the map's model) on the map and list its ``k`` neighbours.

    The position comes from :func:`embedlab.maps.explore.place` with the ``place_k`` nearest
    sentences (at most all of them).
    """
    vector = check_matrix(np.atleast_2d(vector), "vector", dim=result.embeddings.shape[1])[:1]
    placement = explore.place(
        vector, result.embeddings, result.points, method=result.plan.method, k=min(place_k, len(result))
    )
    star = explore.points_table([text], None, placement.points)
    return Search(text, star, placement.how, neighbour_table(result, k=k, query=vector))


@dataclass(frozen=True)
class Heatmap:
    """The sentences the similarity heatmap shows, their cosine matrix, and a caption ("" for none).

    ``rows`` are rows of the map; ``matrix`` has shape (len(rows), len(rows)).
    """

    rows: tuple[int, ...]
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    matrix: np.ndarray = field(repr=False)
    note: str


def heatmap(result: MapResult, *, around: int | None = None, limit: int = explore.HEATMAP_MAX) -> Heatmap:
    """Which sentences the heatmap shows: all (in label order) up to ``limit``; above it the row
    ``around`` and its ``limit - 1`` nearest neighbours, or else the first ``limit`` in label order."""
    limit = check_positive_int(limit, "limit")
    n = len(result)
    order = explore.label_order(list(result.labels) if result.labels else None, n).tolist()
    note = ""
    if n > limit:
        if around is not None:
            around = _check_row(around, n)
            idx, _ = explore.neighbours(result.embeddings[[around]], result.embeddings, k=limit - 1, exclude=[around])
            order = [around, *idx[0].tolist()]
            note = (
                f"The heatmap shows {limit} of your {n:,} sentences: the selected one and its "
                f"{limit - 1} nearest neighbours."
            )
        else:
            order = order[:limit]
            note = (
                f"The heatmap shows at most {limit} sentences; these are the first "
                f"{limit} of your {n:,} (in label order). Select a point to see its neighbourhood instead."
            )
    rows = tuple(int(i) for i in order)
    return Heatmap(
        rows=rows,
        texts=tuple(result.texts[i] for i in rows),
        labels=tuple(result.labels[i] for i in rows) if result.labels else None,
        matrix=explore.similarity_matrix(result.embeddings[list(rows)]),
        note=note,
    )


def _check_row(row: object, n: int) -> int:
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < n:
        raise ValueError(f"row must be a row of the map (0 to {n - 1}), got {row!r}.")
    return int(row)
