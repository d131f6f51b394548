"""The review's "dimensions and storage" tables in the HTML and Markdown exports.

One table per model (:class:`~embedlab.retrieval.storage.StorageTable`): each width × precision
with the bytes per vector, MB per million vectors, the share of the full storage, accuracy@1,
MRR@k and the share of the full-precision accuracy kept, its one-sentence finding above it and
the cheapest row that keeps enough marked. The JSON export holds the tables themselves (the
document's ``storage``).
"""

from __future__ import annotations

import html

from ..formatting import percent
from ..markup import markdown_literal
from ..retrieval.storage import SCORING, StorageTable
from .results import Review

__all__ = ["HEADINGS", "storage_html", "storage_markdown", "storage_rows"]

#: The exported columns, with their headings ("MRR@k" names the table's k).
HEADINGS = {
    "dims": "dims",
    "precision": "precision",
    "bytes_per_vector": "bytes/vector",
    "mb_per_million": "MB per 1M vectors",
    "storage_share": "storage",
    "accuracy": "accuracy@1",
    "mrr": "MRR@k",
    "accuracy_kept": "accuracy kept",
    "best": "",
}
_NUMERIC = {"dims", "bytes_per_vector", "mb_per_million", "storage_share", "accuracy", "mrr", "accuracy_kept"}
_SCORING_NOTE = (
    "float32: {float32}; int8: {int8}; binary: {binary}. Truncated vectors are renormalised; storage is "
    "per vector, without an index."
).format(**SCORING)


def _percent(value: float) -> str:
    return percent(value)


def storage_rows(table: StorageTable) -> list[dict[str, str]]:
    """The table's rows as text cells; the best row's ``best`` cell says so."""
    best = table.best
    rows = []
    for r in table.table.itertuples(index=False):
        chosen = best is not None and (r.dims, r.precision) == (best.dims, best.precision)
        rows.append(
            {
                "dims": str(r.dims),
                "precision": r.precision,
                "bytes_per_vector": f"{r.bytes_per_vector:,}",
                "mb_per_million": f"{r.mb_per_million:,.0f}",
                "storage_share": _percent(r.storage_share),
                "accuracy": _percent(r.accuracy),
                "mrr": percent(r.mrr),
                "accuracy_kept": _percent(r.accuracy_kept),
                "best": f"cheapest keeping ≥ {table.keep:.0%}" if chosen else "",
            }
        )
    return rows


def _headings(table: StorageTable) -> dict[str, str]:
    return {**HEADINGS, "mrr": f"MRR@{table.k}"}


def storage_html(review: Review) -> str:
    """The "Dimensions and storage" section of the HTML export ("" when the review has no tables)."""
    if not review.storage:
        return ""
    e = lambda text: html.escape(str(text), quote=True)
    parts = [
        "<h2>Dimensions and storage</h2>",
        f"<p class=\"meta\">Accuracy on the review's traces with each model's vectors truncated and quantised. "
        f"{e(_SCORING_NOTE)}</p>",
    ]
    for model, table in review.storage.items():
        headings = _headings(table)
        head = "".join(f"<th>{e(headings[c])}</th>" for c in HEADINGS)
        body = "".join(
            "<tr>"
            + "".join(f'<td class="{"num" if c in _NUMERIC else ""}">{e(row[c])}</td>' for c in HEADINGS)
            + "</tr>"
            for row in storage_rows(table)
        )
        parts.append(f"<p><strong>{e(model)}</strong> ({table.dim} dims): {e(table.headline())}</p>")
        parts.append(f'<table class="storage"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')
    return "\n".join(parts)


def storage_markdown(review: Review) -> list[str]:
    """The "Dimensions and storage" section of the Markdown export, as lines ([] without tables)."""
    if not review.storage:
        return []
    out = ["## Dimensions and storage", "", markdown_literal(_SCORING_NOTE), ""]
    for model, table in review.storage.items():
        headings = _headings(table)
        out += [f"**{markdown_literal(model)}** ({table.dim} dims): {markdown_literal(table.headline())}", ""]
        out.append("| " + " | ".join(markdown_literal(headings[c]) or " " for c in HEADINGS) + " |")
        out.append("|" + "|".join("---:" if c in _NUMERIC else "---" for c in HEADINGS) + "|")
        out += ["| " + " | ".join(markdown_literal(row[c]) for c in HEADINGS) + " |" for row in storage_rows(table)]
        out.append("")
    return out
