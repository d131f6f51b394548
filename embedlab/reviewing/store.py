"""Saved model reviews: SQLite in embedlab's data directory (``reviews.sqlite3``).

A review is saved whole — its name, the reviewer's notes and decision, the time, the data
fingerprint, the models and their versions, the machine and every figure — in one transaction,
so a crash while saving leaves either the whole review or nothing. Each review is one row
whose ``document`` column holds :func:`embedlab.reviewing.document.to_document`'s JSON; a few fields are
copied into their own columns so the list reads without parsing every document. A record that
cannot be read back gives a clear error for that review only; the others still load.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..storage import sqlite as sqlite_files
from ..storage.home import data_dir
from .document import from_document, to_document
from .results import COLUMNS, Review

__all__ = ["MAX_NAME", "Comparison", "ReviewStore", "compare_reviews"]

#: Longest review name kept (characters).
MAX_NAME = 200
#: Longest notes or decision kept (characters).
MAX_TEXT = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    name TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    recommended TEXT NOT NULL DEFAULT '',
    document TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: object, name: str, *, limit: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}.")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{name} must be at most {limit:,} characters, got {len(value):,}.")
    return value


def _check_name(name: object) -> str:
    name = _text(name, "name", limit=MAX_NAME)
    if not name:
        raise ValueError("name must not be empty: give the review a name, e.g. “Trace search model, May”.")
    return name


def _check_id(review_id: object) -> int:
    if isinstance(review_id, bool):
        raise TypeError(f"review_id must be a whole number, got {review_id!r}.")
    if isinstance(review_id, str):
        text = review_id.strip()
        if not text.isdigit():
            raise KeyError(f"no saved review has id {review_id!r}: a review id is a whole number.")
        review_id = int(text)
    if not isinstance(review_id, int):
        raise TypeError(f"review_id must be a whole number, got {type(review_id).__name__} {review_id!r}.")
    return review_id


@dataclass(frozen=True)
class _Head:
    id: int
    created: str
    name: str
    notes: str
    decision: str


class ReviewStore:
    """Model reviews kept in SQLite (``reviews.sqlite3`` in :func:`embedlab.data_dir`).

    Safe to use from several threads and processes (one connection per call, WAL journal,
    busy timeout). A file that fails SQLite's integrity check when opened is set aside
    (renamed, never deleted), started afresh, and a line about it is added to :attr:`notices`.

    Examples
    --------
    >>> store = ReviewStore()                                                # doctest: +SKIP
    >>> review_id = store.save(embedlab.review(["static-64d"]), name="First look")  # doctest: +SKIP
    >>> store.load(review_id).name                                 # doctest: +SKIP
    'First look'
    """

    FILE_NAME = "reviews.sqlite3"

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else data_dir() / self.FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notices: list[str] = []
        self._open()

    def _connect(self) -> sqlite3.Connection:
        return sqlite_files.connect(self.path)

    def _open(self) -> None:
        notice = sqlite_files.open_checked(self.path, _SCHEMA, "saved reviews")
        if notice:
            self.notices.append(notice)

    # -- writing -------------------------------------------------------------------------------------
    def save(self, review: Review, *, name: str, notes: str = "", decision: str = "") -> int:
        """Save a review with its name, the reviewer's notes and decision; return its id.

        Parameters
        ----------
        review : Review
            What :func:`embedlab.review` returned (or :meth:`load` gave back).
        name : str
            Required, at most 200 characters; leading and trailing spaces are dropped.
        notes, decision : str
            The reviewer's words, kept as written (at most 20,000 characters each).

        Raises
        ------
        ValueError
            An empty name, or text too long.
        TypeError
            ``review`` is not a :class:`~embedlab.reviewing.results.Review`.
        """
        name = _check_name(name)
        notes = _text(notes, "notes", limit=MAX_TEXT)
        decision = _text(decision, "decision", limit=MAX_TEXT)
        document = to_document(review)
        created = _now()
        document.update({"name": name, "notes": notes, "decision": decision, "created": created})
        document.pop("review_id", None)
        framework = document.get("framework") or {}
        connection = self._connect()
        try:
            with connection:  # one transaction: the whole review or nothing
                cursor = connection.execute(
                    "INSERT INTO reviews (created, name, notes, decision, models, fingerprint, recommended, document)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        created,
                        name,
                        notes,
                        decision,
                        json.dumps([row["model"] for row in document["rows"]]),
                        str((document.get("fingerprint") or {}).get("data") or ""),
                        str(framework.get("recommended") or ""),
                        json.dumps(document, ensure_ascii=False, allow_nan=False),
                    ),
                )
                return int(cursor.lastrowid)
        finally:
            connection.close()

    def update(
        self, review_id: int, *, name: str | None = None, notes: str | None = None, decision: str | None = None
    ) -> None:
        """Change a saved review's name, notes or decision (its figures never change).

        Raises
        ------
        KeyError
            No review has this id.
        ValueError
            An empty name or text too long.
        """
        review_id = _check_id(review_id)
        changes = {}
        if name is not None:
            changes["name"] = _check_name(name)
        if notes is not None:
            changes["notes"] = _text(notes, "notes", limit=MAX_TEXT)
        if decision is not None:
            changes["decision"] = _text(decision, "decision", limit=MAX_TEXT)
        if not changes:
            return
        assignments = ", ".join(f"{column} = ?" for column in changes)
        connection = self._connect()
        try:
            with connection:
                count = connection.execute(
                    f"UPDATE reviews SET {assignments} WHERE id = ?", (*changes.values(), review_id)
                ).rowcount
        finally:
            connection.close()
        if not count:
            raise KeyError(f"no saved review has id {review_id}; it may have been deleted.")

    def delete(self, review_id: int) -> bool:
        """Delete a review. Returns False when there was no such review."""
        review_id = _check_id(review_id)
        connection = self._connect()
        try:
            with connection:
                return connection.execute("DELETE FROM reviews WHERE id = ?", (review_id,)).rowcount > 0
        finally:
            connection.close()

    # -- reading -------------------------------------------------------------------------------------
    def reviews(self) -> pd.DataFrame:
        """Saved reviews, newest first: id, created (UTC), name, decision, recommended, models,
        fingerprint, damaged (True when the record cannot be read back)."""
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT id, created, name, decision, recommended, models, fingerprint, document"
                " FROM reviews ORDER BY id DESC"
            ).fetchall()
        finally:
            connection.close()
        out = []
        for review_id, created, name, decision, recommended, models, fingerprint, document in rows:
            try:
                names = json.loads(models)
                shown = ", ".join(map(str, names)) if isinstance(names, list) else "(damaged)"
            except ValueError:
                shown = "(damaged)"
            out.append(
                {
                    "id": review_id,
                    "created": created,
                    "name": name,
                    "decision": decision,
                    "recommended": recommended,
                    "models": shown,
                    "fingerprint": fingerprint,
                    "damaged": not _readable(document),
                }
            )
        columns = ["id", "created", "name", "decision", "recommended", "models", "fingerprint", "damaged"]
        frame = pd.DataFrame(out, columns=columns)
        frame["id"] = frame["id"].astype("Int64")
        frame["damaged"] = frame["damaged"].astype(bool)
        return frame

    def load(self, review_id: int | str) -> Review:
        """The saved review as :func:`embedlab.review` returned it, with ``review_id``,
        ``name``, ``notes``, ``decision_text`` and ``created`` set.

        Raises
        ------
        KeyError
            No review has this id (never saved, deleted, or not a number).
        ValueError
            The record is damaged and cannot be read back; other reviews are unaffected.
        """
        review_id = _check_id(review_id)
        connection = self._connect()
        try:
            row = connection.execute(
                "SELECT id, created, name, notes, decision, document FROM reviews WHERE id = ?", (review_id,)
            ).fetchone()
        finally:
            connection.close()
        if row is None:
            raise KeyError(f"no saved review has id {review_id}; it may have been deleted.")
        head = _Head(*row[:5])
        try:
            document = json.loads(row[5])
            loaded = from_document(document)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            raise ValueError(
                f"saved review {review_id} (“{head.name}”) is damaged and cannot be read ({reason}); "
                "the other reviews are unaffected."
            ) from None
        return loaded.saved(
            review_id=head.id, name=head.name, notes=head.notes, decision_text=head.decision, created=head.created
        )


def _readable(document: str) -> bool:
    try:
        from_document(json.loads(document))
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


#: Figures put side by side by :func:`compare_reviews`.
COMPARED = (
    "texts_per_s",
    "spread",
    "accuracy",
    "accuracy_at_k",
    "mrr",
    "silhouette",
    "label_agreement",
    "load_s",
    "verdict",
)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two reviews side by side (see :func:`compare_reviews`).

    Attributes
    ----------
    table : pandas.DataFrame
        ``model`` then, for each figure in :data:`COMPARED`, ``<figure> A`` and ``<figure> B``
        (missing where a review lacks the model).
    differences : tuple of str
        What differs between the reviews besides the figures (data, settings, machine), in words.
    """

    table: pd.DataFrame
    differences: tuple[str, ...]


def compare_reviews(first: Review, second: Review) -> Comparison:
    """Two reviews side by side, one row per model in either."""
    for given, name in ((first, "first"), (second, "second")):
        if not isinstance(given, Review):
            raise TypeError(f"{name} must be a Review, got {type(given).__name__}.")
    keep = ["model", *COMPARED]
    a = first.table[keep].rename(columns={c: f"{c} A" for c in COMPARED})
    b = second.table[keep].rename(columns={c: f"{c} B" for c in COMPARED})
    both = a.merge(b, on="model", how="outer", sort=False)
    order = list(dict.fromkeys([*first.table["model"], *second.table["model"]]))
    both = both.set_index("model").loc[order].reset_index()
    columns = ["model"] + [f"{c} {side}" for c in COMPARED for side in ("A", "B")]
    both = both[columns]
    for c in COMPARED:
        if COLUMNS[c] == "str":
            for side in ("A", "B"):
                both[f"{c} {side}"] = both[f"{c} {side}"].fillna("")
    return Comparison(both, tuple(_differences(first, second)))


def _differences(a: Review, b: Review) -> list[str]:
    out = []
    fa, fb = a.fingerprint, b.fingerprint
    for key, label in (
        ("traces", "traces"),
        ("queries", "queries"),
        ("corpus", "benchmark corpus"),
        ("sentences", "labelled sentences"),
    ):
        if fa.get(key) != fb.get(key):
            out.append(f"different {label}")
    sa, sb = a.settings, b.settings
    for key, label in (("k", "k"), ("repeats", "repeats"), ("batch_size", "batch size"), ("threshold", "threshold")):
        if sa.get(key) != sb.get(key):
            out.append(f"{label} {sa.get(key)} in A, {sb.get(key)} in B")
    ma, mb = a.machine, b.machine
    for key, label in (("cpu_model", "CPU"), ("usable_cores", "cores"), ("torch", "torch version")):
        if ma.get(key) != mb.get(key):
            out.append(f"{label} {ma.get(key)} in A, {mb.get(key)} in B")
    return out
