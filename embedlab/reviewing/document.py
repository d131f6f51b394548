"""A review as plain JSON-ready data and back: the document the store saves and the JSON report holds.

The document (``format`` "embedlab.review", ``version`` 3): ``rows`` (one dict per model,
:data:`~embedlab.reviewing.results.COLUMNS`), ``machine``, ``settings``, ``fingerprint``,
``versions``, ``retrieval``, ``storage``, ``clusters``, ``framework``, ``baseline``, ``times``,
``stopped``, and for a saved review ``review_id``, ``name``, ``notes``, ``decision`` (the
reviewer's words) and ``created``.

Versions: 1 had no ``storage``; 2 adds it (per model, a
:meth:`~embedlab.retrieval.storage.StorageTable.to_plain` table); 3 records which texts the speed
was timed on (``settings``' ``corpus_source`` and ``corpus_name``). Older documents still open:
version 1 with no storage tables, versions 1 and 2 with the corpus told from its fingerprint —
the lesson's benchmark texts, or "unknown" (not recorded).

``framework`` keeps the keys older readers know (recommended, baseline, upgrade, reasons,
verdicts, threshold) and adds the rule's structured fields (suggestion, good_enough, fastest,
best_quality). Reading a document applies the rule again to its rows, so documents written
before those fields existed open the same way.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from .. import seed
from ..benchmarking.results import plain
from ..decision import Decision
from ..retrieval.storage import StorageTable
from .data import CORPUS_NAMES
from .results import COLUMNS, Review, decide_table, typed

__all__ = ["FORMAT", "FORMAT_VERSION", "digest", "expected_plain", "framework", "from_document", "to_document"]

#: The ``format`` field of a review document, and its version.
FORMAT = "embedlab.review"
FORMAT_VERSION = 3


def expected_plain(value):
    """An expected trace id (or a collection of them) as JSON-ready data."""
    return plain(list(value)) if isinstance(value, (tuple, list, set, frozenset)) else plain(value)


def digest(*parts: object) -> str:
    """A short, stable digest of JSON-ready data (16 hex digits)."""
    text = json.dumps([plain(p) for p in parts], ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def framework(decision: Decision) -> dict:
    """The document's ``framework`` dict for a decision (readable by older embedlab versions)."""
    return {
        "recommended": decision.recommended,
        "baseline": decision.baseline,
        "upgrade": decision.upgrade,
        "reasons": decision.reasons,
        "verdicts": decision.labels,
        "threshold": decision.threshold,
        "suggestion": decision.suggestion,
        "good_enough": decision.good_enough,
        "fastest": decision.fastest,
        "best_quality": decision.best_quality,
    }


def to_document(review: Review) -> dict:
    """The review as plain JSON-ready data; :func:`from_document` gives back an equal review."""
    if not isinstance(review, Review):
        raise TypeError(f"review must be the Review that embedlab.review() returned, got {type(review).__name__}.")
    table = review.table
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"review.table must be a review table; it lacks {', '.join(missing[:5])}.")
    rows = [plain(dict(zip(COLUMNS, row, strict=True))) for row in table[list(COLUMNS)].itertuples(index=False)]
    document = {"format": FORMAT, "version": FORMAT_VERSION, "rows": rows}
    if review.review_id is not None:
        document["review_id"] = review.review_id
    if review.review_id is not None or review.name or review.created:
        document.update(
            {"name": review.name, "notes": review.notes, "decision": review.decision_text, "created": review.created}
        )
    document.update(
        plain(
            {
                "machine": review.machine,
                "settings": review.settings,
                "fingerprint": review.fingerprint,
                "versions": review.versions,
                "retrieval": review.retrieval,
                "storage": {model: table.to_plain() for model, table in review.storage.items()},
                "clusters": review.clusters,
                "framework": framework(review.decision),
                "baseline": review.baseline,
                "times": review.times,
                "stopped": bool(review.stopped),
            }
        )
    )
    return document


def _corpus_before_v3(fingerprint: dict) -> dict:
    """Which corpus a review saved before version 3 timed: the lesson's (told by its fingerprint) or unknown."""
    if fingerprint.get("corpus") == digest(list(seed.BENCHMARK_CORPUS)):
        return {"corpus_source": "lesson", "corpus_name": CORPUS_NAMES["lesson"]}
    return {"corpus_source": "unknown", "corpus_name": "a corpus not recorded (saved by an older embedlab)"}


def _dict(document: dict, key: str) -> dict:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"this review document's {key!r} is not a mapping.")
    return value


def from_document(document: dict) -> Review:
    """A :class:`Review` from :func:`to_document`'s data (or an older embedlab's).

    Raises
    ------
    ValueError
        When ``document`` is not a review document (wrong format, newer version, no rows).
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("this is not an embedlab review document (its format field is missing or different).")
    version = document.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"this review document has version {version!r}; this embedlab reads versions 1 to {FORMAT_VERSION}."
        )
    rows = document.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("this review document has no rows list.")
    table = typed(pd.DataFrame(rows, columns=list(COLUMNS)))
    settings = _dict(document, "settings")
    if "corpus_source" not in settings:
        settings = {**settings, **_corpus_before_v3(_dict(document, "fingerprint"))}
    saved = _dict(document, "framework")
    retrieval = _dict(document, "retrieval")
    threshold = saved.get("threshold", settings.get("threshold", seed.GOOD_ENOUGH_ACCURACY))
    baseline = document.get("baseline") or saved.get("baseline")
    decision = decide_table(table, threshold=threshold, baseline=baseline, retrieval=retrieval)
    labels = decision.labels
    table["verdict"] = [labels.get(m, "") for m in table["model"]]
    review_id = document.get("review_id")
    return Review(
        table=table,
        decision=decision,
        machine=_dict(document, "machine"),
        settings=settings,
        fingerprint=_dict(document, "fingerprint"),
        versions=_dict(document, "versions"),
        retrieval=retrieval,
        storage={str(model): StorageTable.from_plain(data) for model, data in _dict(document, "storage").items()},
        clusters=_dict(document, "clusters"),
        baseline=baseline,
        times=_dict(document, "times"),
        stopped=bool(document.get("stopped", False)),
        review_id=review_id if isinstance(review_id, int) else None,
        name=str(document.get("name") or ""),
        notes=str(document.get("notes") or ""),
        decision_text=str(document.get("decision") or ""),
        created=str(document.get("created") or ""),
    )
