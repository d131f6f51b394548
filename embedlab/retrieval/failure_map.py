"""Retrieval failures on a map: queries and traces in one 2-D picture, with what went wrong.

:func:`failure_map` projects a model's query and trace vectors together (:func:`embedlab.project`,
PCA or t-SNE) and records, per query, the trace it got first and the one it should have got;
:func:`failure_figure` draws it: for each query that misses at top-1 a solid line to the trace it
got and a dashed line to the one it should have got, both scores in the hover text, and one query
highlighted on request (the page's selected row).

User text (queries, trace texts, ids, the model's name) is escaped with
:func:`embedlab.markup.html_literal`, so plotly's HTML subset shows it literally.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..maps.figures import hover_text
from ..maps.projection import plan_projection, project
from ..markup import html_literal
from ..validation import check_choice, check_matrix
from .evaluation import RetrievalResult, check_ids

__all__ = ["COLOURS", "METHODS", "FailureMap", "failure_figure", "failure_map", "selected_query"]

#: Projections the map offers (fast ones: UMAP's first run compiles for a minute).
METHODS: tuple[str, ...] = ("pca", "tsne")
#: Okabe & Ito colours: traces, queries right and wrong at top-1, the two kinds of line.
COLOURS = {
    "trace": "#999999",
    "right": "#009E73",
    "wrong": "#D55E00",
    "got": "#D55E00",
    "expected": "#0072B2",
    "selected": "#000000",
}
#: Above this many points the markers are drawn with WebGL (scattergl).
WEBGL_FROM = 3_000
#: Up to this many traces, each is labelled with its id on the map.
LABELLED_UP_TO = 60
#: Trace text shown in a hover box, at most.
HOVER_CHARS = 300


@dataclass(frozen=True, eq=False)
class FailureMap:
    """Where a model's queries and traces fall on one map, and what each query got.

    Attributes
    ----------
    result : RetrievalResult
        The evaluation drawn (its per-query table gives the scores shown).
    ids : list
        The corpus ids, in corpus order.
    corpus_texts : list of str or None
        The corpus texts, for the hover boxes.
    query_points : ndarray of shape (n_queries, 2), float32
    corpus_points : ndarray of shape (n_corpus, 2), float32
        Projected together: ``project(vstack([query_vectors, corpus_vectors]))``.
    top_position : ndarray of shape (n_queries,), int64
        The corpus position of each query's first result.
    expected_position : ndarray of shape (n_queries,), int64
        The corpus position of the expected entry (the highest-scoring one when several are
        right; ties to the earlier entry).
    method : str
        How the points were projected, in words (e.g. "PCA (scikit-learn)").
    note : str
        Any change from what was asked (e.g. too few points for t-SNE), in a sentence; "" if none.
    """

    result: RetrievalResult = field(repr=False)
    ids: list = field(repr=False)
    corpus_texts: list[str] | None = field(repr=False)
    query_points: np.ndarray = field(repr=False)
    corpus_points: np.ndarray = field(repr=False)
    top_position: np.ndarray = field(repr=False)
    expected_position: np.ndarray = field(repr=False)
    method: str
    note: str = ""

    @property
    def wrong(self) -> np.ndarray:
        """Positions of the queries whose first result is not an expected entry."""
        return np.flatnonzero(~self.result.per_query["correct"].to_numpy(dtype=bool))

    def hover(self, query: int) -> str:
        """What a query's marker and lines say: the query, what it got and what it should have got."""
        row = self.result.per_query.iloc[query]
        text = f"“{hover_text(row['query'])}”<br>"
        top = f"trace {html_literal(row['top_id'])} · {row['top_score']:.3f}"
        if row["correct"]:
            return text + f"right at top-1: {top}"
        expected = f"trace {html_literal(self.ids[self.expected_position[query]])} · {row['expected_score']:.3f}"
        return text + f"got {top}<br>should have got {expected} (gap {row['gap']:.3f})"


def failure_map(
    result: RetrievalResult,
    query_vectors,
    corpus_vectors,
    *,
    ids: Sequence[Hashable] | None = None,
    corpus_texts: Sequence[str] | None = None,
    method: str = "pca",
    random_state: int = 42,
) -> FailureMap:
    """Project a model's queries and traces together and locate each query's first and expected trace.

    Parameters
    ----------
    result : RetrievalResult
        What :func:`embedlab.evaluate_retrieval` returned for these vectors.
    query_vectors : array-like of shape (n_queries, dim)
    corpus_vectors : array-like of shape (n_corpus, dim)
        The same model's vectors of the queries and the corpus, in the evaluation's order.
    ids : list of hashable, length n_corpus, optional
        The corpus ids the evaluation used (default: positions).
    corpus_texts : list of str, length n_corpus, optional
        Shown when hovering over a trace.
    method : {"pca", "tsne"}, default "pca"
        The projection (:func:`embedlab.project`); t-SNE needs at least 4 points, else PCA.
    random_state : int, default 42

    Returns
    -------
    FailureMap

    Raises
    ------
    TypeError, ValueError
        Naming the argument: vectors whose counts differ from the result's, ids or texts of the
        wrong length, an unknown method.
    """
    if not isinstance(result, RetrievalResult):
        raise TypeError(f"result must be the RetrievalResult of evaluate_retrieval, got {type(result).__name__}.")
    queries = check_matrix(query_vectors, "query_vectors")
    corpus = check_matrix(corpus_vectors, "corpus_vectors", dim=queries.shape[1])
    if len(queries) != result.n_queries:
        raise ValueError(f"query_vectors must have one row per query ({result.n_queries}), got {len(queries)}.")
    if len(corpus) != result.n_corpus:
        raise ValueError(f"corpus_vectors must have one row per corpus text ({result.n_corpus}), got {len(corpus)}.")
    ids = check_ids(ids, len(corpus))
    if corpus_texts is not None:
        corpus_texts = [str(t) for t in corpus_texts]
        if len(corpus_texts) != len(corpus):
            raise ValueError(
                f"corpus_texts must hold one text per corpus row ({len(corpus)}), got {len(corpus_texts)}."
            )
    method = check_choice(method, "method", METHODS)
    position = {item: i for i, item in enumerate(ids)}
    table = result.per_query
    top = np.array([position[i] for i in table["top_id"]], dtype=np.int64)
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True).clip(1e-12)
    expected = np.empty(len(queries), dtype=np.int64)
    for q, wanted in enumerate(table["expected_id"]):
        places = np.array(sorted(position[w] for w in (wanted if isinstance(wanted, tuple) else (wanted,))))
        expected[q] = places[np.argmax(unit[places] @ queries[q])] if len(places) > 1 else places[0]
    stacked = np.vstack([queries, corpus])
    plan = plan_projection(len(stacked), method, dim=stacked.shape[1])
    points = project(stacked, method=method, random_state=random_state)
    return FailureMap(
        result=result,
        ids=ids,
        corpus_texts=corpus_texts,
        query_points=points[: len(queries)],
        corpus_points=points[len(queries) :],
        top_position=top,
        expected_position=expected,
        method=plan.describe(),
        note=plan.note,
    )


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[list, list]:
    """x and y of separate line segments start → end, separated by None (one plotly trace)."""
    xs, ys = [], []
    for (x0, y0), (x1, y1) in zip(starts.tolist(), ends.tolist(), strict=True):
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    return xs, ys


def failure_figure(fmap: FailureMap, *, highlight: int | None = None) -> go.Figure:
    """The map: traces, queries (right / wrong at top-1), and lines for every wrong query.

    Parameters
    ----------
    fmap : FailureMap
    highlight : int, optional
        A query's position (the per-query table's row) to highlight with a ring and thick lines.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces named "traces", "right at top-1", "wrong at top-1" (markers; ``customdata`` holds
        the corpus or query position), "got (top-1)" (solid lines) and "should have got" (dashed
        lines), one segment per wrong query in :attr:`FailureMap.wrong` order, each end's hover
        text naming both traces with their scores; with ``highlight``, "selected query" (a ring)
        and "selected: got (top-1)" / "selected: should have got" (thick lines).
    """
    if not isinstance(fmap, FailureMap):
        raise TypeError(f"fmap must be a FailureMap from failure_map(), got {type(fmap).__name__}.")
    n_queries = len(fmap.query_points)
    if highlight is not None and (
        isinstance(highlight, bool) or not isinstance(highlight, (int, np.integer)) or not 0 <= highlight < n_queries
    ):
        raise ValueError(f"highlight must be a query position between 0 and {n_queries - 1}, got {highlight!r}.")
    scatter = go.Scattergl if n_queries + len(fmap.corpus_points) >= WEBGL_FROM else go.Scatter
    figure = go.Figure()
    texts = fmap.corpus_texts or [""] * len(fmap.ids)
    figure.add_trace(
        scatter(
            x=fmap.corpus_points[:, 0],
            y=fmap.corpus_points[:, 1],
            mode="markers+text" if len(fmap.ids) <= LABELLED_UP_TO else "markers",
            name="traces",
            marker={"symbol": "square", "size": 9, "color": COLOURS["trace"]},
            text=[html_literal(i) for i in fmap.ids] if len(fmap.ids) <= LABELLED_UP_TO else None,
            textposition="top center",
            textfont={"color": "#666666", "size": 11},
            customdata=np.arange(len(fmap.ids)),
            hovertext=[
                f"trace {html_literal(i)}" + (f"<br>{hover_text(t, limit=HOVER_CHARS)}" if t else "")
                for i, t in zip(fmap.ids, texts, strict=True)
            ],
            hoverinfo="text",
        )
    )
    correct = fmap.result.per_query["correct"].to_numpy(dtype=bool)
    for name, chosen in (("right at top-1", np.flatnonzero(correct)), ("wrong at top-1", fmap.wrong)):
        figure.add_trace(
            scatter(
                x=fmap.query_points[chosen, 0],
                y=fmap.query_points[chosen, 1],
                mode="markers",
                name=name,
                marker={"size": 10, "color": COLOURS["right" if name.startswith("right") else "wrong"]},
                customdata=chosen,
                hovertext=[fmap.hover(q) for q in chosen],
                hoverinfo="text",
            )
        )
    wrong = fmap.wrong
    _lines(figure, fmap, wrong, "got (top-1)", "got", fmap.top_position, width=1.5)
    _lines(figure, fmap, wrong, "should have got", "expected", fmap.expected_position, width=1.5)
    if highlight is not None:
        chosen = np.array([int(highlight)])
        figure.add_trace(
            go.Scatter(
                x=fmap.query_points[chosen, 0],
                y=fmap.query_points[chosen, 1],
                mode="markers",
                name="selected query",
                marker={
                    "size": 22,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": COLOURS["selected"]},
                },
                customdata=chosen,
                hovertext=[fmap.hover(int(highlight))],
                hoverinfo="text",
            )
        )
        _lines(figure, fmap, chosen, "selected: got (top-1)", "got", fmap.top_position, width=4)
        if not correct[highlight]:
            _lines(figure, fmap, chosen, "selected: should have got", "expected", fmap.expected_position, width=4)
    model = html_literal(fmap.result.model)
    figure.update_layout(
        title={"text": f"{model}: queries and traces, {len(wrong)} wrong at top-1 · {html_literal(fmap.method)}"},
        xaxis={"showticklabels": False, "title": None, "zeroline": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False},
        legend={"orientation": "h", "y": -0.08},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=520,
        hoverlabel={"align": "left"},
    )
    return figure


def _lines(figure: go.Figure, fmap: FailureMap, queries: np.ndarray, name: str, kind: str, ends, *, width: float):
    """One trace of segments from each query in ``queries`` to its trace in ``ends`` (corpus positions)."""
    xs, ys = _segments(fmap.query_points[queries], fmap.corpus_points[ends[queries]])
    hover = [text for q in queries.tolist() for text in (fmap.hover(q), fmap.hover(q), None)]
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=name,
            line={"color": COLOURS[kind], "width": width, "dash": "solid" if kind == "got" else "dash"},
            hovertext=hover,
            hoverinfo="text",
            showlegend=len(queries) > 0,
        )
    )


def selected_query(rows: Sequence[int], shown: pd.Index) -> int | None:
    """The query position of a table selection: ``rows`` are positions in the shown table, whose
    index holds the query positions (the per-query table, perhaps filtered); None when none or stale."""
    if len(rows) != 1 or not 0 <= int(rows[0]) < len(shown):
        return None
    return int(shown[int(rows[0])])
