"""Plotly figures of a model review: speed × quality with the Pareto front, speed, retrieval quality.

Pure builders over the :class:`~embedlab.reviewing.results.Review` :func:`embedlab.review` returns; the Model Review page and
the HTML report draw the same figures. Model names are escaped before they reach plotly
(which renders a subset of HTML in text and hover), so markup in a name shows literally.
"""

from __future__ import annotations

import pandas as pd

from ..formatting import percent
from ..maps.figures import OKABE_ITO
from ..markup import html_literal
from .results import Review

__all__ = ["quality_figure", "speed_figure", "tradeoff_figure"]

FRONT = OKABE_ITO[0]  # blue
OTHER = "#999999"
CHOSEN = OKABE_ITO[5]  # vermillion
BAR_COLOURS = (OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2])
_LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "hoverlabel": {"align": "left"}}


def _measured(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["status"] == "ok") & table["texts_per_s"].notna() & table["accuracy"].notna()]


def _log_speed(values: pd.Series) -> bool:
    positive = values[values > 0]
    return len(positive) > 1 and positive.max() / positive.min() > 30


def tradeoff_figure(review: Review, *, threshold: float | None = None):
    """Speed (texts/s) against retrieval quality (top-1 accuracy), one point per model.

    Models on the Pareto front are filled and joined by a line; the others are hollow; the
    framework's recommended model is ringed; a dashed line marks the good-enough threshold.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    rows = _measured(review.table)
    chosen = review.decision.recommended
    if threshold is None:
        threshold = review.decision.threshold
    k = review.k
    fig = go.Figure()
    front = rows[rows["pareto"].fillna(False).astype(bool)].sort_values("texts_per_s")
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=front["texts_per_s"].astype(float),
                y=front["accuracy"].astype(float),
                mode="lines",
                line={"color": FRONT, "width": 2, "dash": "dot", "shape": "hv"},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
    for on_front, group in (
        (True, rows[rows["pareto"].fillna(False).astype(bool)]),
        (False, rows[~rows["pareto"].fillna(False).astype(bool)]),
    ):
        if group.empty:
            continue
        hover = [
            html_literal(
                f"{r.model}\n{r.texts_per_s:,.1f} texts/s · {r.dim}-d\n"
                f"accuracy@1 {percent(r.accuracy)} ({r.correct}/{r.n_queries}) · accuracy@{k} {percent(r.accuracy_at_k)} · "
                f"MRR {percent(r.mrr)}\n{r.verdict}"
            ).replace("\n", "<br>")
            for r in group.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=group["texts_per_s"].astype(float),
                y=group["accuracy"].astype(float),
                mode="markers+text",
                text=[html_literal(m) for m in group["model"]],
                textposition="top center",
                cliponaxis=False,
                marker={
                    "size": 16,
                    "color": FRONT if on_front else "white",
                    "line": {"width": 2, "color": FRONT if on_front else OTHER},
                    "symbol": "circle",
                },
                name="on the front" if on_front else "beaten on both",
                hovertext=hover,
                hoverinfo="text",
            )
        )
    if chosen in set(rows["model"]):
        pick = rows[rows["model"] == chosen]
        fig.add_trace(
            go.Scatter(
                x=pick["texts_per_s"].astype(float),
                y=pick["accuracy"].astype(float),
                mode="markers",
                marker={"size": 28, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": CHOSEN}},
                name="recommended",
                hoverinfo="skip",
            )
        )
    fig.add_hline(
        y=threshold,
        line={"color": CHOSEN, "width": 1, "dash": "dash"},
        annotation_text=f"good enough: {threshold:.0%}",
        annotation_position="bottom right",
        annotation_font={"color": CHOSEN, "size": 12},
    )
    speeds = rows["texts_per_s"].astype(float)
    if _log_speed(speeds):
        fig.update_xaxes(type="log", title="texts per second (log scale) → faster", tickformat="~s")
    else:
        fig.update_xaxes(title="texts per second → faster", rangemode="tozero")
    fig.update_yaxes(title="retrieval accuracy@1 → better", tickformat=".0%", range=[-0.05, 1.12])
    fig.update_layout(
        title={
            "text": "Speed × retrieval quality",
            "subtitle": {
                "text": "filled: on the Pareto front (nothing is both faster and better); ringed: recommended"
            },
        },
        height=460,
        margin={"t": 90, "b": 60, "l": 70, "r": 30},
        legend={"orientation": "h", "y": -0.18, "x": 0},
        **_LAYOUT,
    )
    return fig


def speed_figure(review: Review):
    """Texts per second per model (median), whiskers from the slowest to the fastest repeat."""
    import plotly.graph_objects as go

    table = review.table
    rows = table[table["texts_per_s"].notna()]
    speed = rows["texts_per_s"].astype(float)
    low = rows["texts_per_s_low"].astype(float).fillna(speed)
    high = rows["texts_per_s_high"].astype(float).fillna(speed)
    hover = [
        html_literal(f"{r.model}: {r.texts_per_s:,.1f} texts/s (median of {r.repeats_done}; {low_:,.1f}–{high_:,.1f})")
        for r, low_, high_ in zip(rows.itertuples(), low, high, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=[html_literal(m) for m in rows["model"]],
            y=speed,
            error_y={"type": "data", "symmetric": False, "array": high - speed, "arrayminus": speed - low},
            marker_color=FRONT,
            hovertext=hover,
            hoverinfo="text",
        )
    )
    if _log_speed(speed):
        fig.update_yaxes(type="log", title="texts/s (log scale)", tickformat="~s")
    else:
        fig.update_yaxes(title="texts/s", rangemode="tozero")
    fig.update_layout(
        title={"text": "Texts per second", "subtitle": {"text": "median; whiskers: slowest to fastest repeat"}},
        height=380,
        margin={"t": 80, "b": 40, "l": 70, "r": 20},
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def quality_figure(review: Review):
    """Retrieval accuracy@1, accuracy@k and MRR@k per model, grouped bars."""
    import plotly.graph_objects as go

    table = review.table
    rows = table[table["accuracy"].notna()]
    k = review.k
    names = [html_literal(m) for m in rows["model"]]
    fig = go.Figure(
        [
            go.Bar(
                name=label,
                x=names,
                y=rows[column].astype(float),
                marker_color=colour,
                text=[percent(v) for v in rows[column]],
                textposition="none",
                hovertemplate="%{text}<extra>" + label + "</extra>",
            )
            for (column, label), colour in zip(
                (("accuracy", "accuracy@1"), ("accuracy_at_k", f"accuracy@{k}"), ("mrr", f"MRR@{k}")),
                BAR_COLOURS,
                strict=True,
            )
        ]
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title=None)
    fig.update_layout(
        barmode="group",
        title={"text": "Retrieval quality", "subtitle": {"text": "on the review's traces and test queries"}},
        height=380,
        margin={"t": 80, "b": 40, "l": 60, "r": 20},
        legend={"orientation": "h", "y": -0.15, "x": 0},
        **_LAYOUT,
    )
    return fig
