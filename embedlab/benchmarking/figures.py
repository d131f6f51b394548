"""The Speed Benchmark's charts (plotly), built from a :class:`~embedlab.benchmarking.results.BenchmarkRun`.

Every label and hover text is escaped with :func:`embedlab.markup.html_literal` (plotly renders an
HTML subset, so a model called ``<b>x</b>`` must show literally).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from ..markup import html_literal
from .comparison import Comparison
from .results import BenchmarkRun

__all__ = ["compare_figure", "dims_figure", "speed_figure"]

ACCENT = "#2563eb"
MUTED = "#94a3b8"
BEFORE = "#f59e0b"


def _log_axis(values: pd.Series) -> bool:
    positive = values[values > 0]
    return len(positive) > 1 and positive.max() / positive.min() > 30


def _speed_axis(figure: go.Figure, values: pd.Series, title: str = "texts/s") -> None:
    """A linear axis, or a log one (ticks at powers of ten) when speeds span more than 30x."""
    if _log_axis(values):
        figure.update_yaxes(type="log", dtick=1, tickformat="~s", title=f"{title} (log scale)")
    else:
        figure.update_yaxes(type="linear", title=title, rangemode="tozero")


def speed_figure(run: BenchmarkRun) -> go.Figure:
    """Texts per second per model (median), with error bars from the slowest to the fastest repeat."""
    rows = run.measured
    baseline = run.baseline
    speed = rows["texts_per_s"].astype(float)
    low = rows["texts_per_s_low"].astype(float)
    high = rows["texts_per_s_high"].astype(float)
    hover = [
        html_literal(
            f"{r.name}: {r.texts_per_s:,.1f} texts/s (median of {r.repeats_done}; "
            f"{r.texts_per_s_low:,.1f}-{r.texts_per_s_high:,.1f})" + (f" · {r.comparison}" if r.comparison else "")
        )
        for r in rows.itertuples()
    ]
    figure = go.Figure(
        go.Bar(
            x=[html_literal(m) for m in rows["name"]],
            y=speed,
            error_y={"type": "data", "symmetric": False, "array": high - speed, "arrayminus": speed - low},
            marker_color=[ACCENT if m == baseline else MUTED for m in rows["name"]],
            hovertext=hover,
            hoverinfo="text",
        )
    )
    _speed_axis(figure, speed)
    figure.update_layout(
        title={"text": "Texts per second", "subtitle": {"text": "median; whiskers: slowest to fastest repeat"}},
        xaxis_title=None,
        margin={"t": 80, "b": 40, "l": 60, "r": 20},
        height=420,
        showlegend=False,
    )
    return figure


def dims_figure(run: BenchmarkRun) -> go.Figure:
    """Speed against dimensions, one point per model (bigger point: bigger on disk)."""
    rows = run.measured
    sizes = [10 + 1.5 * math.sqrt(float(s) / 1e6) if pd.notna(s) and s else 12 for s in rows["size_bytes"].tolist()]
    hover = [
        html_literal(
            f"{r.name}: {r.dim}-d, {r.texts_per_s:,.1f} texts/s"
            + (f", {r.size_bytes / 1e6:,.0f} MB on disk" if pd.notna(r.size_bytes) else "")
        )
        for r in rows.itertuples()
    ]
    figure = go.Figure(
        go.Scatter(
            x=rows["dim"].astype(float),
            y=rows["texts_per_s"].astype(float),
            mode="markers+text",
            text=[html_literal(m) for m in rows["name"]],
            textposition="top center",
            marker={"size": sizes, "color": ACCENT, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
            hovertext=hover,
            hoverinfo="text",
            cliponaxis=False,
        )
    )
    _speed_axis(figure, rows["texts_per_s"].astype(float))
    figure.update_layout(
        title={"text": "Speed against dimensions", "subtitle": {"text": "bigger point: bigger on disk"}},
        xaxis={"title": "dimensions", "rangemode": "tozero"},
        margin={"t": 80, "b": 40, "l": 60, "r": 20},
        height=420,
        showlegend=False,
    )
    return figure


def compare_figure(comparison: Comparison, *, now: str, before: str) -> go.Figure:
    """Texts per second of the models in both runs, side by side."""
    comparison = comparison.table
    names = [html_literal(m) for m in comparison["model"]]
    figure = go.Figure(
        [
            go.Bar(
                name=html_literal(before),
                x=names,
                y=comparison["texts_per_s_before"].astype(float),
                marker_color=BEFORE,
            ),
            go.Bar(name=html_literal(now), x=names, y=comparison["texts_per_s"].astype(float), marker_color=ACCENT),
        ]
    )
    _speed_axis(figure, pd.concat([comparison["texts_per_s"], comparison["texts_per_s_before"]]).astype(float))
    figure.update_layout(
        barmode="group",
        title="Texts per second, this run and the earlier one",
        height=360,
        margin={"t": 60, "b": 40, "l": 60, "r": 20},
    )
    return figure
