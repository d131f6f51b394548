"""What the Fine-tune page draws besides the retrieval chart: the training loss per step."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

__all__ = ["loss_figure"]


def loss_figure(losses: Sequence[float], *, title: str = "Training loss per step") -> go.Figure:
    """A line of the training loss at each optimiser step (1-based ``x``).

    Raises ValueError when ``losses`` is empty.
    """
    values = [float(v) for v in losses]
    if not values:
        raise ValueError("losses must hold at least one step's loss, got none.")
    figure = go.Figure()
    figure.add_scatter(
        x=list(range(1, len(values) + 1)),
        y=values,
        mode="lines+markers" if len(values) <= 60 else "lines",
        name="loss",
        hovertemplate="step %{x}: loss %{y:.4f}<extra></extra>",
    )
    figure.update_layout(
        title=title,
        xaxis={"title": "step", "tickformat": "d", "dtick": max(1, len(values) // 10)},
        yaxis_title="loss",
        height=280,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return figure
