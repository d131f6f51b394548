"""Export a model review: one self-contained HTML file, Markdown, or JSON.

* :func:`to_html` — one file with plotly.js inside it, so its charts draw offline; a
  Content-Security-Policy forbids fetching anything; every piece of user text (name, notes,
  decision, model names, queries) is escaped, so markup in it shows literally.
* :func:`to_markdown` — for a pull request or a wiki: the table, the decision and its reasons.
* both with each model's dimensions-and-storage table (:mod:`~embedlab.reviewing.storage_report`).
* :func:`to_json` — every figure and detail; :func:`from_json` reads it back.

Each takes the :class:`~embedlab.reviewing.results.Review` that :func:`embedlab.review` returns,
or one :meth:`embedlab.reviewing.store.ReviewStore.load` gave back (its ``name``, ``notes`` and
``decision_text`` are used; pass ``name=``, ``notes=``, ``decision=`` to override).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd

from ..formatting import percent
from ..markup import markdown_literal
from ..storage.files import write_text_atomic
from .document import from_document, to_document
from .results import Review
from .storage_report import storage_html, storage_markdown

__all__ = ["from_json", "to_html", "to_json", "to_markdown", "write"]

#: The exported HTML may run its own inline scripts (plotly.js and the charts) and nothing else:
#: no request leaves the file.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'"
)

#: Table columns of the exports, with their headings.
TABLE = {
    "model": "model",
    "verdict": "verdict",
    "dim": "dims",
    "texts_per_s": "texts/s",
    "spread": "spread",
    "load_s": "load s",
    "size_bytes": "size MB",
    "memory_mb": "memory MB",
    "accuracy": "accuracy@1",
    "accuracy_at_k": "accuracy@k",
    "mrr": "MRR",
    "silhouette": "silhouette",
    "label_agreement": "kNN agreement",
    "pareto": "Pareto",
}


def _meta(review: Review, name, notes, decision) -> dict:
    return {
        "name": (review.name or "Model review") if name is None else name,
        "notes": review.notes if notes is None else notes,
        "decision": review.decision_text if decision is None else decision,
        "created": review.created,
        "review_id": review.review_id,
    }


def _number(value, spec: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, spec)


def _cells(review: Review) -> list[dict[str, str]]:
    """The exported table's cells as text (user text not yet escaped)."""
    k = review.k
    rows = []
    for r in review.table.itertuples(index=False):
        memory = sum(v for v in (r.load_mb, r.encode_mb) if v is not None and not pd.isna(v))
        measured = not (pd.isna(r.load_mb) and pd.isna(r.encode_mb))
        rows.append(
            {
                "model": r.model,
                "verdict": r.verdict,
                "dim": "–" if pd.isna(r.dim) else str(int(r.dim)),
                "texts_per_s": _number(r.texts_per_s, ",.1f"),
                "spread": percent(r.spread),
                "load_s": _number(r.load_s, ".2f"),
                "size_bytes": "–" if pd.isna(r.size_bytes) else f"{r.size_bytes / 1e6:,.0f}",
                "memory_mb": f"{memory:,.0f}" if measured else "–",
                "accuracy": "–"
                if pd.isna(r.accuracy)
                else f"{percent(r.accuracy)} ({int(r.correct)}/{int(r.n_queries)})",
                "accuracy_at_k": percent(r.accuracy_at_k),
                "mrr": percent(r.mrr),
                "silhouette": _number(r.silhouette, ".2f"),
                "label_agreement": percent(r.label_agreement),
                "pareto": "yes" if (not pd.isna(r.pareto) and bool(r.pareto)) else "",
            }
        )
    headings = dict(TABLE)
    headings["accuracy_at_k"] = f"accuracy@{k}"
    headings["mrr"] = f"MRR@{k}"
    return [headings, *rows]


# -- HTML ---------------------------------------------------------------------------------------------
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;margin:0;background:#f7f8fa}
main{max-width:1180px;margin:0 auto;padding:28px 32px 60px;background:#fff}
h1{font-size:1.9rem;margin:.2rem 0 .3rem}h2{font-size:1.25rem;margin:2rem 0 .6rem;border-bottom:1px solid #e4e7eb;padding-bottom:.3rem}
.meta{color:#616e7c;font-size:.92rem;margin:.2rem 0}
.decision{border-left:4px solid #0072B2;background:#f0f6fb;padding:.8rem 1rem;margin:1rem 0}
.notes{white-space:pre-wrap;background:#fafafa;border:1px solid #e4e7eb;padding:.8rem 1rem;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e4e7eb;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}.wide{grid-column:1/3}
.error{color:#b42318}code{background:#f1f3f5;padding:0 .25rem;border-radius:3px}
ul.reasons li{margin:.35rem 0}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def to_html(review: Review, *, name: str | None = None, notes: str | None = None, decision: str | None = None) -> str:
    """The review as one self-contained HTML page (charts drawn by plotly.js inlined in the file).

    Returns
    -------
    str
        A complete HTML document; it opens offline and requests nothing.
    """
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    from ..benchmarking.machine import describe
    from .figures import quality_figure, speed_figure, tradeoff_figure

    _check_review(review)
    meta = _meta(review, name, notes, decision)
    table = review.table
    rule = review.decision
    fingerprint = review.fingerprint
    config = {"displaylogo": False, "responsive": True}

    charts = []
    has_quality = table["accuracy"].notna().any()
    has_speed = table["texts_per_s"].notna().any()
    figures = []
    if has_quality and has_speed:
        figures.append(("wide", tradeoff_figure(review)))
    if has_speed:
        figures.append(("", speed_figure(review)))
    if has_quality:
        figures.append(("", quality_figure(review)))
    for i, (css, fig) in enumerate(figures):
        div = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=config, div_id=f"chart-{i}")
        charts.append(f'<div class="{css}">{div}</div>')

    cells = _cells(review)
    headings, rows = cells[0], cells[1:]
    numeric = {
        "dim",
        "texts_per_s",
        "spread",
        "load_s",
        "size_bytes",
        "memory_mb",
        "accuracy",
        "accuracy_at_k",
        "mrr",
        "silhouette",
        "label_agreement",
    }
    head = "".join(f"<th>{_e(headings[c])}</th>" for c in TABLE)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if c in numeric else ""}">{_e(row[c])}</td>' for c in TABLE) + "</tr>"
        for row in rows
    )

    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(meta['name'])} · embedlab model review</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body><main>",
        f"<h1>{_e(meta['name'])}</h1>",
    ]
    stamp = []
    if meta["review_id"] is not None:
        stamp.append(f"review #{_e(meta['review_id'])}")
    if meta["created"]:
        stamp.append(f"saved {_e(meta['created'])}")
    stamp.append(f"data fingerprint <code>{_e(fingerprint.get('data', '–'))}</code>")
    if review.stopped:
        stamp.append("<strong>stopped early: only the models that finished are compared</strong>")
    parts.append(f'<p class="meta">embedlab model review · {" · ".join(stamp)}</p>')
    parts.append(f'<p class="meta">Machine: {_e(describe(review.machine))}</p>')

    parts.append('<div class="decision">')
    if meta["decision"]:
        parts.append(f"<p><strong>Decision:</strong> {_e(meta['decision'])}</p>")
    else:
        parts.append("<p><strong>Decision:</strong> not recorded yet.</p>")
    if rule.recommended:
        parts.append(f"<p><strong>The decision framework recommends:</strong> {_e(rule.recommended)}</p>")
    parts.append("</div>")
    parts.append("<h2>Why: the lesson's decision framework</h2>")
    parts.append(
        '<p class="meta">Start here: all-MiniLM-L6-v2 (384-d) — fast, proven, a good baseline. '
        f"Upgrade if: retrieval quality &lt; {rule.threshold:.0%}, queries return wrong "
        "traces, speed not critical.</p>"
    )
    parts.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in rule.reasons) + "</ul>")
    if meta["notes"]:
        parts.append("<h2>Reviewer's notes</h2>")
        parts.append(f'<div class="notes">{_e(meta["notes"])}</div>')
    if charts:
        parts.append("<h2>Charts</h2>")
        parts.append('<div class="charts">' + "".join(charts) + "</div>")
    parts.append("<h2>Figures</h2>")
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append(
        '<p class="meta">texts/s: corpus size ÷ median encode time (embedlab.benchmark); spread: '
        "(slowest − fastest) ÷ median; memory: resident memory added by loading plus the peak while encoding "
        "(approximate); accuracy and MRR: embedlab.evaluate_retrieval; silhouette and kNN agreement: cosine, "
        "on the labelled sentences.</p>"
    )
    parts.append(_wrong_traces_html(review))
    parts.append(storage_html(review))
    parts.append("<h2>Data and settings</h2>")
    parts.append(_definition_list(_settings_lines(review)))
    parts.append("<h2>Models</h2>")
    parts.append(_versions_html(review.versions))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _wrong_traces_html(review: Review) -> str:
    retrieval = review.retrieval
    items = []
    for model, result in retrieval.items():
        wrong = [q for q in result.get("per_query", []) if not q.get("correct")]
        if not wrong:
            continue
        lines = "".join(
            f"<li>“{_e(q['query'])}” → trace {_e(q['top_id'])} (expected {_e(_ids(q['expected_id']))}, "
            f"{'rank ' + str(q['expected_rank']) if q.get('expected_rank') else 'not in the top k'})</li>"
            for q in wrong
        )
        items.append(f"<p><strong>{_e(model)}</strong></p><ul>{lines}</ul>")
    if not items:
        return "<h2>Queries that return wrong traces</h2><p>None: every model that finished put the expected trace first.</p>"
    return "<h2>Queries that return wrong traces</h2>" + "".join(items)


def _ids(value) -> str:
    return " or ".join(map(str, value)) if isinstance(value, list) else str(value)


def _settings_lines(review: Review) -> list[tuple[str, str]]:
    settings, fingerprint = review.settings, review.fingerprint
    lines = [
        ("Traces", f"{settings.get('n_traces', '–')} (fingerprint {fingerprint.get('traces', '–')})"),
        ("Test queries", f"{settings.get('n_queries', '–')} (fingerprint {fingerprint.get('queries', '–')})"),
        ("Speed measured on", f"{review.corpus_text} (fingerprint {fingerprint.get('corpus', '–')})"),
    ]
    if settings.get("n_sentences"):
        lines.append(
            (
                "Labelled sentences",
                f"{settings['n_sentences']} in {settings.get('n_labels', '–')} groups "
                f"(fingerprint {fingerprint.get('sentences', '–')})",
            )
        )
    else:
        lines.append(("Labelled sentences", "none (cluster quality not measured)"))
    lines.append(
        (
            "Settings",
            f"k {settings.get('k', '–')} · repeats {settings.get('repeats', '–')} · batch size "
            f"{settings.get('batch_size', '–')} · warm-up {'on' if settings.get('warmup', True) else 'off'} · "
            f"good enough at {float(settings.get('threshold', 0.8)):.0%}",
        )
    )
    return lines


def _definition_list(lines: list[tuple[str, str]]) -> str:
    return (
        "<table><tbody>" + "".join(f"<tr><th>{_e(a)}</th><td>{_e(b)}</td></tr>" for a, b in lines) + "</tbody></table>"
    )


def _version_rows(versions: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for model, v in versions.items():
        package = v.get("package") or "–"
        if v.get("package_version"):
            package = f"{package} {v['package_version']}"
        rows.append((str(model), str(v.get("source") or "–"), package, str(v.get("embedder") or "–")))
    return rows


def _versions_html(versions: dict) -> str:
    if not versions:
        return "<p>–</p>"
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in _version_rows(versions))
    return (
        "<table><thead><tr><th>model</th><th>source</th><th>package</th><th>embedding key</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


# -- Markdown -----------------------------------------------------------------------------------------


def _md_block(text: str) -> str:
    """Several lines of user text as a quote block, each line literal."""
    return "\n".join("> " + markdown_literal(line) if line.strip() else ">" for line in str(text).splitlines())


def to_markdown(
    review: Review, *, name: str | None = None, notes: str | None = None, decision: str | None = None
) -> str:
    """The review as Markdown (GitHub-flavoured tables), for a pull request or a wiki page."""
    from ..benchmarking.machine import describe

    _check_review(review)
    meta = _meta(review, name, notes, decision)
    rule = review.decision
    fingerprint = review.fingerprint
    out = [f"# {markdown_literal(meta['name'])}", ""]
    stamp = ["embedlab model review"]
    if meta["review_id"] is not None:
        stamp.append(f"review #{meta['review_id']}")
    if meta["created"]:
        stamp.append(f"saved {meta['created']}")
    stamp.append(f"data fingerprint `{fingerprint.get('data', '-')}`")
    out += [" · ".join(stamp), ""]
    if review.stopped:
        out += ["**Stopped early:** only the models that finished are compared.", ""]
    out += [f"**Decision:** {markdown_literal(meta['decision']) if meta['decision'] else 'not recorded yet.'}", ""]
    if rule.recommended:
        out += [f"**The decision framework recommends:** {markdown_literal(rule.recommended)}", ""]
    out += ["## Why", ""]
    out += [f"- {markdown_literal(r)}" for r in rule.reasons]
    out.append("")
    if meta["notes"]:
        out += ["## Reviewer's notes", "", _md_block(meta["notes"]), ""]
    cells = _cells(review)
    headings, rows = cells[0], cells[1:]
    out += ["## Figures", ""]
    out.append("| " + " | ".join(markdown_literal(headings[c]) for c in TABLE) + " |")
    out.append("|" + "|".join("---" if c in ("model", "verdict", "pareto") else "---:" for c in TABLE) + "|")
    out += ["| " + " | ".join(markdown_literal(row[c]) for c in TABLE) + " |" for row in rows]
    out.append("")
    wrong = []
    for model, result in review.retrieval.items():
        for q in result.get("per_query", []):
            if not q.get("correct"):
                wrong.append(
                    f"- {markdown_literal(model)}: “{markdown_literal(q['query'])}” → trace {markdown_literal(q['top_id'])} "
                    f"(expected {markdown_literal(_ids(q['expected_id']))})"
                )
    if wrong:
        out += ["## Queries that return wrong traces", "", *wrong, ""]
    out += storage_markdown(review)
    out += ["## Data and settings", ""]
    out += [f"- **{markdown_literal(a)}:** {markdown_literal(b)}" for a, b in _settings_lines(review)]
    out += [f"- **Machine:** {markdown_literal(describe(review.machine))}", ""]
    versions = _version_rows(review.versions)
    if versions:
        out += ["## Models", "", "| model | source | package | embedding key |", "|---|---|---|---|"]
        out += ["| " + " | ".join(markdown_literal(c) for c in row) + " |" for row in versions]
        out.append("")
    return "\n".join(out)


# -- JSON ---------------------------------------------------------------------------------------------
def to_json(review: Review, *, name: str | None = None, notes: str | None = None, decision: str | None = None) -> str:
    """The review as one JSON document: every figure, the decision, settings, machine, versions."""
    _check_review(review)
    document = to_document(review)
    meta = _meta(review, name, notes, decision)
    document.update({k: v for k, v in meta.items() if v is not None and k != "review_id"})
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)


def from_json(text: str | bytes) -> Review:
    """A review from :func:`to_json`'s text.

    Raises
    ------
    ValueError
        The text is not JSON, or not an embedlab review.
    """
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"this is not JSON ({error}).") from None
    return from_document(document)


def _check_review(review) -> None:
    if not isinstance(review, Review):
        raise TypeError(f"review must be the Review embedlab.review() returned, got {type(review).__name__}.")


def write(review: Review, path: str | Path, **meta) -> Path:
    """Write the review to ``path`` as HTML, Markdown or JSON, chosen by its suffix
    (.html/.htm, .md/.markdown, .json). Written beside the target and renamed into place,
    so a crash never leaves half a file.

    Raises
    ------
    ValueError
        Another suffix, or a folder that does not exist.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {".html": to_html, ".htm": to_html, ".md": to_markdown, ".markdown": to_markdown, ".json": to_json}
    if suffix not in writers:
        raise ValueError(f"path must end in .html, .md or .json, got {str(path)!r}.")
    if not path.parent.is_dir():
        raise ValueError(f"path {str(path)!r}: the folder {str(path.parent)!r} does not exist.")
    write_text_atomic(path, writers[suffix](review, **meta))
    return path
