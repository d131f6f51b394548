"""ReviewStore: saved reviews survive a restart with identical figures; damage stays contained.

Oracles: the review table as review() returned it (pandas equality), a second Python process
reading the same SQLite file, and sqlite3 itself (writing garbage into one record).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from embedlab.reviewing.document import from_document, to_document
from embedlab.reviewing.report import from_json
from embedlab.reviewing.run import review
from embedlab.reviewing.store import ReviewStore, compare_reviews

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table():
    return review(["static-64d", "nosuch/model"], corpus=["a short text", "another one"] * 3, repeats=2)


@pytest.fixture
def store(tmp_path):
    return ReviewStore(tmp_path / "reviews.sqlite3")


def test_save_restart_reopen_gives_identical_figures(table, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = ReviewStore(home / ReviewStore.FILE_NAME)
    review_id = store.save(table, name="Restart check", notes="kept\nacross restarts", decision="Use static-64d")
    # a new process, as after a server restart, reads the same file
    code = (
        "import json, sys\n"
        "from embedlab.reviewing.store import ReviewStore\n"
        "from embedlab.reviewing.document import to_document\n"
        f"print(json.dumps(to_document(ReviewStore().load({review_id}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "EMBEDLAB_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["name"] == "Restart check"
    assert document["notes"] == "kept\nacross restarts"
    assert document["decision"] == "Use static-64d"
    assert document["review_id"] == review_id
    original = to_document(table)
    assert document["rows"] == original["rows"]
    for key in ("machine", "settings", "fingerprint", "versions", "retrieval", "framework", "times", "stopped"):
        assert document[key] == original[key], key
    # and back into a table equal to the one review() returned
    reopened = store.load(review_id)
    pd.testing.assert_frame_equal(reopened.table, table.table)
    assert reopened.decision == table.decision
    assert (reopened.review_id, reopened.name, reopened.decision_text) == (review_id, "Restart check", "Use static-64d")


def test_empty_name_is_refused_with_a_clear_message(table, store):
    for name in ("", "   "):
        with pytest.raises(ValueError, match="name must not be empty"):
            store.save(table, name=name)
    with pytest.raises(ValueError, match="name must be at most 200 characters"):
        store.save(table, name="x" * 201)
    assert store.reviews().empty


def test_list_open_update_delete(table, store):
    first = store.save(table, name="First")
    second = store.save(table, name="Second", decision="Use static-64d")
    listed = store.reviews()
    assert listed["id"].tolist() == [second, first]  # newest first
    assert listed["name"].tolist() == ["Second", "First"]
    assert listed["models"].tolist() == ["static-64d, nosuch/model"] * 2
    assert listed["recommended"].tolist() == ["static-64d"] * 2
    assert not listed["damaged"].any()

    store.update(first, notes="Checked with the team", decision="Keep MiniLM")
    reopened = store.load(first)
    assert (reopened.notes, reopened.decision_text) == ("Checked with the team", "Keep MiniLM")
    with pytest.raises(ValueError, match="name must not be empty"):
        store.update(first, name=" ")

    assert store.delete(first) is True
    assert store.delete(first) is False
    with pytest.raises(KeyError, match=f"no saved review has id {first}"):
        store.load(first)
    with pytest.raises(KeyError):
        store.update(first, notes="gone")
    assert store.reviews()["id"].tolist() == [second]


@pytest.mark.parametrize("wanted", [999, "999", "abc", "1; DROP TABLE reviews", ""])
def test_unknown_ids_give_a_clear_key_error(store, wanted):
    with pytest.raises(KeyError, match="no saved review has id"):
        store.load(wanted)


def test_a_corrupt_record_is_reported_and_the_others_still_load(table, store):
    good = store.save(table, name="Good")
    bad = store.save(table, name="Bad <one>")
    connection = sqlite3.connect(store.path)
    with connection:
        connection.execute(
            "UPDATE reviews SET document = ? WHERE id = ?", ('{"format": "embedlab.review", "rows": [', bad)
        )
    connection.close()
    with pytest.raises(ValueError, match=rf"saved review {bad} .*is damaged and cannot be read"):
        store.load(bad)
    pd.testing.assert_frame_equal(store.load(good).table, table.table)
    listed = store.reviews().set_index("id")
    assert bool(listed.loc[bad, "damaged"]) and not bool(listed.loc[good, "damaged"])
    # a record that is valid JSON but not a review is damaged too
    connection = sqlite3.connect(store.path)
    with connection:
        connection.execute("UPDATE reviews SET document = ? WHERE id = ?", ('{"rows": 3}', bad))
    connection.close()
    with pytest.raises(ValueError, match="is damaged"):
        store.load(bad)
    assert store.delete(bad)  # a damaged record can still be deleted


def test_a_damaged_file_is_set_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = ReviewStore(path)
    assert store.notices and "set aside" in store.notices[0]
    assert store.reviews().empty
    assert list(tmp_path.glob("reviews.sqlite3.broken-*"))


def test_compare_two_reviews_side_by_side(table):
    other = review(["static-64d"], corpus=["completely different texts"] * 4, repeats=1, k=3)
    comparison = compare_reviews(table, other)
    both = comparison.table
    assert both["model"].tolist() == ["static-64d", "nosuch/model"]
    row = both.iloc[0]
    assert row["texts_per_s A"] == table.table.iloc[0]["texts_per_s"]
    assert row["texts_per_s B"] == other.table.iloc[0]["texts_per_s"]
    assert row["accuracy A"] == table.table.iloc[0]["accuracy"]
    assert pd.isna(both.iloc[1]["texts_per_s B"])
    differences = comparison.differences
    assert "different benchmark corpus" in differences
    assert "k 5 in A, 3 in B" in differences
    assert "different traces" not in differences


def _old_document(table) -> dict:
    """The document shape embedlab wrote before the decision became embedlab.decision (its prose and all)."""
    document = json.loads(json.dumps(to_document(table)))
    document["framework"] = {
        "recommended": "static-64d",
        "baseline": "static-64d",
        "upgrade": False,
        "reasons": ["static-64d: 3/3 correct (100%): start here — it reaches the 80% bar.", "an older sentence"],
        "verdicts": {"static-64d": "start here", "nosuch/model": "failed"},
        "threshold": 0.8,
    }
    for row in document["rows"]:
        row["verdict"] = document["framework"]["verdicts"][row["model"]]
    return document


def test_a_review_saved_by_the_old_code_still_opens(table, store):
    document = _old_document(table)
    connection = sqlite3.connect(store.path)
    with connection:  # exactly as the old ReviewStore.save wrote it
        review_id = connection.execute(
            "INSERT INTO reviews (created, name, notes, decision, models, fingerprint, recommended, document)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "2026-11-30T10:00:00+00:00",
                "Old review",
                "old notes",
                "Use static-64d",
                json.dumps(["static-64d", "nosuch/model"]),
                document["fingerprint"]["data"],
                "static-64d",
                json.dumps({**document, "name": "Old review", "notes": "old notes", "decision": "Use static-64d"}),
            ),
        ).lastrowid
    connection.close()
    assert not store.reviews()["damaged"].any()
    old = store.load(review_id)
    assert (old.name, old.notes, old.decision_text) == ("Old review", "old notes", "Use static-64d")
    assert old.decision.recommended == "static-64d" and old.decision.suggestion == "keep"
    assert old.decision.labels == {"static-64d": "start here", "nosuch/model": "failed"}
    assert old.table["verdict"].tolist() == ["start here", "failed"]
    pd.testing.assert_frame_equal(old.table, table.table)
    assert (old.settings, old.fingerprint, old.retrieval) == (
        json.loads(json.dumps(table.settings)),
        table.fingerprint,
        json.loads(json.dumps(table.retrieval)),
    )


def test_a_json_report_written_by_the_old_code_still_opens(table):
    old = from_json(json.dumps({**_old_document(table), "name": "Exported", "decision": "Use static-64d"}))
    assert (old.name, old.decision_text) == ("Exported", "Use static-64d")
    assert old.decision == table.decision
    pd.testing.assert_frame_equal(old.table, table.table)


def test_the_saved_framework_keeps_the_keys_old_readers_use(table):
    framework = to_document(table)["framework"]
    assert {"recommended", "baseline", "upgrade", "reasons", "verdicts", "threshold"} <= set(framework)
    assert framework["recommended"] == table.decision.recommended
    assert framework["verdicts"] == table.decision.labels
    assert framework["reasons"] == table.decision.reasons
    assert from_document(to_document(table)).decision == table.decision
