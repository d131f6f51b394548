"""What the Trace Retrieval page draws, built here so the page only shows it: the summary chart
of several models and the per-query table as read by a person.

User text (model names) is escaped with :func:`embedlab.markup.html_literal`, so plotly's HTML
subset shows it literally.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from ..decision import check_fraction
from ..formatting import percent
from ..markup import html_literal
from .evaluation import RetrievalResult

__all__ = ["THRESHOLD_COLOR", "per_query_csv", "per_query_table", "summary_chart"]

THRESHOLD_COLOR = "#c0392b"


def summary_chart(results: Mapping[str, RetrievalResult], threshold: float) -> go.Figure:
    """Grouped bars per model: accuracy@1/3/5/10 (and @k), then MRR@k, with the good-enough line.

    Parameters
    ----------
    results : mapping of str to RetrievalResult
        Model name → its result, in the order to draw (one bar group colour per model).
    threshold : float in [0, 1]
        The top-1 accuracy that is good enough, drawn as a dashed line.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per model (``y``: fractions in the order of ``x``), then the line.
    """
    threshold = check_fraction(threshold, "threshold")
    if not results:
        raise ValueError("results must hold at least one model's RetrievalResult, got none.")
    figure = go.Figure()
    categories: list[str] = []
    for result in results.values():
        metrics = {f"accuracy@{c}": v for c, v in result.accuracy_at_k.items()}
        metrics[f"MRR@{result.k}"] = result.mrr
        categories = categories or list(metrics)
        name = html_literal(result.model)
        figure.add_bar(
            x=list(metrics),
            y=list(metrics.values()),
            name=name,
            text=[percent(v) for v in metrics.values()],
            textposition="outside",
            hovertemplate=name + "<br>%{x}: %{text}<extra></extra>",
        )
    figure.add_scatter(
        x=categories,
        y=[threshold] * len(categories),
        mode="lines",
        line={"dash": "dash", "color": THRESHOLD_COLOR, "width": 2},
        name=f"good enough: {threshold:.0%} top-1",
        hoverinfo="skip",
    )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "share of queries", "range": [0, 1.12], "tickformat": ".0%"},
        xaxis_title=None,
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 30, "b": 10, "l": 10, "r": 10},
        height=380,
    )
    return figure


def per_query_table(result: RetrievalResult) -> pd.DataFrame:
    """One row per query as a person reads it, top-k as "id · score" items, best first.

    Returns
    -------
    pandas.DataFrame
        Columns ``query``, ``expected`` (ids joined with " | "), ``correct``, ``rank`` (int: where
        the expected trace came over the whole corpus, 1 = first), ``expected score``, ``top-1``,
        ``top score``, ``gap`` and ``top k`` (lists of "id · score").
    """
    table = result.per_query
    return pd.DataFrame(
        {
            "query": table["query"],
            "expected": table["expected_id"].map(lambda e: " | ".join(map(str, e)) if isinstance(e, tuple) else str(e)),
            "correct": table["correct"],
            "rank": _ranks(result),
            "expected score": table["expected_score"],
            "top-1": table["top_id"].astype(str),
            "top score": table["top_score"],
            "gap": table["gap"],
            f"top {result.k}": [
                [f"{i} · {s:.3f}" for i, s in zip(ids, scores, strict=True)]
                for ids, scores in zip(table["top_ids"], table["top_scores"], strict=True)
            ],
        }
    )


def _ranks(result: RetrievalResult) -> pd.array:
    if len(result.ranks) == result.n_queries:
        return pd.array(result.ranks, dtype="int64")
    # a result made without the ranks over the whole corpus: only those within the top k are known
    return result.per_query["expected_rank"].astype("Int64").array


def per_query_csv(result: RetrievalResult) -> bytes:
    """The per-query table as UTF-8 CSV for a spreadsheet: ``rank`` an integer, the top k as two
    plain columns — ``top k`` (ids joined with " | ", best first) and ``top k scores`` (the same way).
    """
    table = per_query_table(result)
    top = f"top {result.k}"
    per_query = result.per_query
    table[top] = [" | ".join(map(str, ids)) for ids in per_query["top_ids"]]
    table[f"{top} scores"] = [" | ".join(f"{s:.3f}" for s in scores) for scores in per_query["top_scores"]]
    return table.to_csv(index=False).encode("utf-8")
