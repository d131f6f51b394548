"""Drawing helpers for the Speed Benchmark page: charts, the display table, the corpus inputs.

Nothing here measures anything; the figures come from :func:`embedlab.benchmark`.
"""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

#: Text file types the corpus upload reads, one text per line.
LINE_TYPES = ("txt",)
#: Texts one run may time at most (larger corpora are cut, with a warning).
MAX_TEXTS = 50_000
ACCENT = "#2563eb"
MUTED = "#94a3b8"
BEFORE = "#f59e0b"


def safe(text: object) -> str:
    """Text for plotly labels and hover: its HTML subset must show ``<b>`` literally, not render it."""
    return html.escape(str(text), quote=False)


def lines_of(text: str) -> list[str]:
    """One text per non-blank line, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def measured(results: pd.DataFrame) -> pd.DataFrame:
    """Rows with a speed (at least one timed repeat)."""
    return results[results["texts_per_s"].notna()]


def _log_axis(values: pd.Series) -> bool:
    positive = values[values > 0]
    return len(positive) > 1 and positive.max() / positive.min() > 30


def _speed_axis(figure: go.Figure, values: pd.Series, title: str = "texts/s") -> None:
    """A linear axis, or a log one (ticks at powers of ten) when speeds span more than 30x."""
    if _log_axis(values):
        figure.update_yaxes(type="log", dtick=1, tickformat="~s", title=f"{title} (log scale)")
    else:
        figure.update_yaxes(type="linear", title=title, rangemode="tozero")


def speed_figure(results: pd.DataFrame) -> go.Figure:
    """Texts per second per model (median), with error bars from the slowest to the fastest repeat."""
    rows = measured(results)
    baseline = results.attrs.get("baseline")
    speed = rows["texts_per_s"].astype(float)
    low = rows["texts_per_s_low"].astype(float)
    high = rows["texts_per_s_high"].astype(float)
    hover = [
        safe(
            f"{r.model}: {r.texts_per_s:,.1f} texts/s (median of {r.repeats_done}; "
            f"{r.texts_per_s_low:,.1f}-{r.texts_per_s_high:,.1f})" + (f" · {r.comparison}" if r.comparison else "")
        )
        for r in rows.itertuples()
    ]
    figure = go.Figure(
        go.Bar(
            x=[safe(m) for m in rows["model"]],
            y=speed,
            error_y={"type": "data", "symmetric": False, "array": high - speed, "arrayminus": speed - low},
            marker_color=[ACCENT if m == baseline else MUTED for m in rows["model"]],
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


def dims_figure(results: pd.DataFrame) -> go.Figure:
    """Speed against dimensions, one point per model (bigger point: bigger on disk)."""
    rows = measured(results)
    sizes = [10 + 1.5 * math.sqrt(float(s) / 1e6) if pd.notna(s) and s else 12 for s in rows["size_bytes"].tolist()]
    hover = [
        safe(
            f"{r.model}: {r.dim}-d, {r.texts_per_s:,.1f} texts/s"
            + (f", {r.size_bytes / 1e6:,.0f} MB on disk" if pd.notna(r.size_bytes) else "")
        )
        for r in rows.itertuples()
    ]
    figure = go.Figure(
        go.Scatter(
            x=rows["dim"].astype(float),
            y=rows["texts_per_s"].astype(float),
            mode="markers+text",
            text=[safe(m) for m in rows["model"]],
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


def compare_figure(comparison: pd.DataFrame, *, now: str, before: str) -> go.Figure:
    """Texts per second of the models in both runs, side by side."""
    names = [safe(m) for m in comparison["model"]]
    figure = go.Figure(
        [
            go.Bar(name=safe(before), x=names, y=comparison["texts_per_s_before"].astype(float), marker_color=BEFORE),
            go.Bar(name=safe(now), x=names, y=comparison["texts_per_s"].astype(float), marker_color=ACCENT),
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


#: Columns shown in the results table, with their headings.
TABLE = {
    "model": "model",
    "status": "status",
    "repeats_done": "repeats",
    "texts_per_s": "texts/s",
    "comparison": "vs baseline",
    "encode_median_s": "encode s (median)",
    "encode_min_s": "min s",
    "encode_max_s": "max s",
    "tokens_per_s": "tokens/s",
    "load_s": "load s",
    "warmup_s": "warm-up s",
    "dim": "dim",
    "parameters": "parameters",
    "size_mb": "size MB",
    "load_mb": "+MB load",
    "encode_mb": "+MB encode",
    "noisy": "noisy",
    "backend": "backend",
    "error": "error",
}


def display_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results with sizes in MB and the columns people read first."""
    table = results.copy()
    table["size_mb"] = table["size_bytes"].astype("Float64") / 1e6
    return table[list(TABLE)].rename(columns=TABLE)
