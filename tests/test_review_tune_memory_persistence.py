"""Nothing lost on reload: Model Review, Fine-tune and Memory Search restore their inputs from the workspace.

Each test fills a page's inputs in one AppTest (one browser session), then opens a NEW AppTest
with the same ``?ws=<id>`` (a reload, or the link in another tab) and compares every input with
what was typed and uploaded: the oracle is the original values. Uploaded files come back as the
table they were, with their file names, said in one caption with a way to forget them.
"""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
from conftest import as_read, open_app, workspace_of
from streamlit.testing.v1 import AppTest

from embedlab import memory, tuning
from embedlab.memory.labelled import read_labelled
from embedlab.reviewing.store import ReviewStore
from embedlab.tables import column_texts, read_table
from embedlab.workspace import Workspace

TIMEOUT = 600
REVIEW, TUNE, MEMORY = "pages/model_review.py", "pages/fine_tune.py", "pages/memory_search.py"
RESTORED = re.compile(r"^Restored from this workspace: (?P<name>.+?), (?P<amount>[\d,]+) (?P<what>[a-z ]+) — upload")


plain = as_read  # messages as a user reads them (tests/conftest.py)


def restored(at: AppTest) -> list[dict]:
    """The "Restored from this workspace" captions shown: file name, amount and what."""
    return [m.groupdict() for m in map(RESTORED.match, plain(at.caption)) if m]


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------------------------------ Model Review
CORPUS_CSV = (
    b"text,note\n"
    b"short,User asked how to reset a password after a lockout\n"
    b"bits,Bot explained how to export the monthly report as a PDF\n"
    b"here,User wants to cancel the subscription before renewal\n"
)
SENTENCES = (
    "Animals | The cat sits on the mat\nAnimals | A dog runs in the park\n"
    "Food | Pizza is delicious\nFood | Fresh bread from the bakery"
)


def test_model_review_restores_its_inputs_the_save_form_and_the_last_review():
    at = open_app(REVIEW)
    typed = {
        "review_models": ["static-64d"],
        "review_repeats": 1,
        "review_batch": 16,
        "review_k": 3,
        "review_threshold": 70,
    }
    at.multiselect(key="review_models").set_value(typed["review_models"])
    for key in ("review_repeats", "review_batch", "review_k", "review_threshold"):
        at.number_input(key=key).set_value(typed[key])
    at.radio(key="review_corpus_source").set_value("upload")
    at.radio(key="review_sentence_source").set_value("paste")
    run(at)
    at.file_uploader(key="review_corpus_upload").set_value(("corpus.csv", CORPUS_CSV, "text/csv"))
    at.text_area(key="review_sentences_paste").set_value(SENTENCES)
    run(at)
    at.selectbox(key="review_corpus_column").set_value("note")
    run(at)
    at.button(key="review_run").click()
    run(at)
    current = at.session_state["review_current"]
    texts = column_texts(read_table(CORPUS_CSV, "corpus.csv"), "note", source="corpus.csv")
    assert current.corpus_text.startswith("corpus.csv, column note")
    assert current.settings["n_corpus"] == len(texts)
    # save it, then go on writing in the form without saving
    at.text_input(key="review_name").set_value("Kept review")
    at.button(key="review_save").click()
    run(at)
    review_id = int(at.query_params["review"])
    at.text_input(key="review_name").set_value("Kept review, renamed")
    at.text_input(key="review_decision").set_value("Use static-64d <b>for now</b>")
    at.text_area(key="review_notes").set_value("Half-written notes…")
    run(at)
    ws = workspace_of(at)

    for link in ({}, {"review": str(review_id)}):  # another tab (only ?ws=), and a reload (?ws= and ?review=)
        again = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
        again.query_params.update({"ws": ws, **link})
        again.switch_page(REVIEW)
        run(again)
        assert again.multiselect(key="review_models").value == typed["review_models"]
        for key in ("review_repeats", "review_batch", "review_k", "review_threshold"):
            assert again.number_input(key=key).value == typed[key], key
        assert again.radio(key="review_corpus_source").value == "upload"
        assert again.selectbox(key="review_corpus_column").value == "note"
        assert restored(again) == [{"name": "corpus.csv", "amount": str(len(texts)), "what": "texts"}]
        assert any(f"{len(texts)} texts ({len(set(texts))} distinct)" in c for c in plain(again.caption))
        assert again.radio(key="review_sentence_source").value == "paste"
        assert again.text_area(key="review_sentences_paste").value == SENTENCES
        # the review last saved is open again; the form holds what was being written, not what was saved
        assert again.session_state["review_current"].review_id == review_id
        assert again.text_input(key="review_name").value == "Kept review, renamed"
        assert again.text_input(key="review_decision").value == "Use static-64d <b>for now</b>"
        assert again.text_area(key="review_notes").value == "Half-written notes…"
        assert ReviewStore().load(review_id).name == "Kept review"

    # a run with the restored corpus times the same texts
    again.button(key="review_run").click()
    run(again)
    rerun = again.session_state["review_current"]
    assert rerun.corpus_text.startswith("corpus.csv, column note") and rerun.settings["n_corpus"] == len(texts)
    assert rerun.fingerprint["corpus"] == current.fingerprint["corpus"]  # the very texts uploaded
    # "Drop it" forgets the kept file: the page asks for one again, in one sentence
    again.radio(key="review_corpus_source").set_value("upload")
    run(again)
    again.button(key="review_corpus_forget").click()
    run(again)
    assert restored(again) == []
    assert Workspace.open(ws).bytes("review_corpus_file") is None
    again.button(key="review_run").click()
    run(again)
    assert any("Upload a file with the texts to time" in e for e in plain(again.error))


# ------------------------------------------------------------------------------------------ Fine-tune
PAIRS = tuning.example_pairs(40)
PAIRS_CSV = pd.DataFrame(PAIRS, columns=["query", "positive"]).to_csv(index=False).encode()


def test_fine_tune_restores_its_pairs_and_settings():
    at = open_app(TUNE)
    at.radio(key="tune_source").set_value("upload")
    run(at)
    at.file_uploader(key="tune_upload").set_value(("pairs.csv", PAIRS_CSV, "text/csv"))
    run(at)
    typed = {
        "tune_held_out": 0.25,
        "tune_epochs": 2,
        "tune_batch": 16,
        "tune_lr": 5e-5,
        "tune_seed": 7,
        "tune_name": "my-tuned",
        "tune_matryoshka": [128, 64],
        "tune_keep_worse": True,
        "tune_pca": 128,
        "tune_distil_name": "my-static",
    }
    at.slider(key="tune_held_out").set_value(typed["tune_held_out"])
    at.number_input(key="tune_epochs").set_value(typed["tune_epochs"])
    at.number_input(key="tune_batch").set_value(typed["tune_batch"])
    at.select_slider(key="tune_lr").set_value(typed["tune_lr"])
    at.number_input(key="tune_seed").set_value(typed["tune_seed"])
    at.text_input(key="tune_name").set_value(typed["tune_name"])
    at.multiselect(key="tune_matryoshka").set_value(typed["tune_matryoshka"])
    at.checkbox(key="tune_keep_worse").check()
    at.selectbox(key="tune_pca").set_value(typed["tune_pca"])
    at.text_input(key="tune_distil_name").set_value(typed["tune_distil_name"])
    run(at)
    base = at.selectbox(key="tune_base").value
    announced = [t for t in plain(at.info) if t.startswith("40 pairs:")]
    assert announced
    ws = workspace_of(at)

    again = open_app(TUNE, ws)
    assert again.radio(key="tune_source").value == "upload"
    assert restored(again) == [{"name": "pairs.csv", "amount": "40", "what": "pairs"}]
    assert [t for t in plain(again.info) if t.startswith("40 pairs:")] == announced  # same pairs, same split
    assert again.selectbox(key="tune_base").value == base
    assert again.slider(key="tune_held_out").value == typed["tune_held_out"]
    assert again.select_slider(key="tune_lr").value == typed["tune_lr"]
    assert again.multiselect(key="tune_matryoshka").value == typed["tune_matryoshka"]
    assert again.checkbox(key="tune_keep_worse").value is True
    assert again.selectbox(key="tune_pca").value == typed["tune_pca"]
    for key in ("tune_epochs", "tune_batch", "tune_seed"):
        assert again.number_input(key=key).value == typed[key], key
    for key in ("tune_name", "tune_distil_name"):
        assert again.text_input(key=key).value == typed[key], key
    assert not again.button(key="tune_run").disabled  # the restored pairs can be trained on
    # the restored pairs are the uploaded ones (checked by the core, independently of the page)
    assert tuning.read_pairs(Workspace.open(ws).bytes("tune_upload_file").data, "pairs.csv").digest == (
        tuning.check_pairs(PAIRS).digest
    )

    # pasted pairs come back as typed
    again.radio(key="tune_source").set_value("paste")
    run(again)
    text = "\n".join(f"{q} | {p}" for q, p in PAIRS[:20])
    again.text_area(key="tune_paste").set_value(text)
    run(again)
    third = open_app(TUNE, ws)
    assert third.radio(key="tune_source").value == "paste"
    assert third.text_area(key="tune_paste").value == text
    assert any(t.startswith("20 pairs:") for t in plain(third.info))


def test_fine_tune_a_kept_file_that_no_longer_reads_gets_the_usual_sentence():
    at = open_app(TUNE)
    ws = workspace_of(at)
    broken = "\n".join(json.dumps({"query": q, "text": p}) for q, p in PAIRS[:12]).encode()
    Workspace.open(ws).put_bytes("tune_upload_file", broken, "pairs.jsonl")
    Workspace.open(ws).put("tune_source", "upload")
    again = open_app(TUNE, ws)
    with pytest.raises(ValueError) as expected:
        tuning.read_pairs(broken, "pairs.jsonl")
    sentence = str(expected.value)
    assert plain(again.error) == [sentence[:1].upper() + sentence[1:]]  # the page's usual sentence
    assert any(c.startswith("Restored from this workspace: pairs.jsonl —") for c in plain(again.caption))
    assert again.button(key="tune_run").disabled


# ------------------------------------------------------------------------------------------ Memory Search
NOTES = b"note,topic,author\nBuy milk on the way home,errands,ana\nThe meeting moved to Friday,work,bo\n"
LABELLED_CSV = b"query,collection,id\nWhen is the meeting?,kept-notes,bo\nWhat to buy?,kept-notes,ana\n"
LABELLED_LINES = "When is the meeting? | kept-notes | bo"


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """This test's own data directory: the collections listed are the ones it builds."""
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    return tmp_path


def test_memory_search_restores_build_search_and_evaluation_inputs(own_home):
    at = open_app(MEMORY)
    at.radio(key="memory_source").set_value("upload")
    run(at)
    at.file_uploader(key="memory_upload").set_value(("notes.csv", NOTES, "text/csv"))
    run(at)
    at.selectbox(key="memory_text_column").set_value("note")
    at.text_input(key="memory_name").set_value("kept-notes")
    at.selectbox(key="memory_model").set_value("static-64d")
    run(at)
    at.selectbox(key="memory_id_column").set_value("author")
    run(at)
    at.button(key="memory_build").click()
    run(at)
    assert memory.collection_info("kept-notes").rows == 2
    search = {"memory_query": "when do we meet?", "memory_k": 2, "memory_filter_value": "work"}
    at.multiselect(key="memory_search_collections").set_value(["kept-notes"])
    at.text_area(key="memory_query").set_value(search["memory_query"])
    at.number_input(key="memory_k").set_value(search["memory_k"])
    at.selectbox(key="memory_filter_column").set_value("topic")
    run(at)
    at.text_input(key="memory_filter_value").set_value(search["memory_filter_value"])
    # evaluation: a labelled file uploaded, then lines pasted (the file stays kept)
    at.radio(key="memory_labelled_source").set_value("upload")
    run(at)
    at.file_uploader(key="memory_labelled_upload").set_value(("labelled.csv", LABELLED_CSV, "text/csv"))
    run(at)
    at.radio(key="memory_labelled_source").set_value("paste")
    run(at)
    at.text_area(key="memory_labelled_paste").set_value(LABELLED_LINES)
    at.multiselect(key="memory_eval_models").set_value(["paraphrase-MiniLM-L3-v2"])
    at.number_input(key="memory_eval_k").set_value(3)
    run(at)
    ws = workspace_of(at)

    again = open_app(MEMORY, ws)
    assert again.radio(key="memory_source").value == "upload"
    rows = read_table(NOTES, "notes.csv")
    assert restored(again) == [{"name": "notes.csv", "amount": str(len(rows)), "what": "rows"}]
    pd.testing.assert_frame_equal(again.session_state["memory_upload_frame"], rows)
    assert again.text_input(key="memory_name").value == "kept-notes"
    assert again.selectbox(key="memory_text_column").value == "note"
    assert again.selectbox(key="memory_id_column").value == "author"
    assert again.selectbox(key="memory_model").value == "static-64d"
    assert again.multiselect(key="memory_search_collections").value == ["kept-notes"]
    assert again.text_area(key="memory_query").value == search["memory_query"]
    assert again.number_input(key="memory_k").value == search["memory_k"]
    assert again.selectbox(key="memory_filter_column").value == "topic"
    assert again.text_input(key="memory_filter_value").value == search["memory_filter_value"]
    assert again.radio(key="memory_labelled_source").value == "paste"
    assert again.text_area(key="memory_labelled_paste").value == LABELLED_LINES
    assert again.multiselect(key="memory_eval_models").value == ["paraphrase-MiniLM-L3-v2"]
    assert again.number_input(key="memory_eval_k").value == 3
    # the restored inputs search as typed: the filter leaves the one "work" note
    again.button(key="memory_search_run").click()
    run(again)
    found = again.session_state["memory_search"]["per_collection"]["kept-notes"].hits
    assert found["text"].tolist() == ["The meeting moved to Friday"]
    # the labelled file is back too, read as the core reads it
    again.radio(key="memory_labelled_source").set_value("upload")
    run(again)
    expected = read_labelled(LABELLED_CSV, "labelled.csv")
    assert {"name": "labelled.csv", "amount": str(len(expected)), "what": "labelled queries"} in restored(again)
    pd.testing.assert_frame_equal(again.session_state["memory_labelled"], expected)
    # forgetting the memories file: gone from the page and the workspace
    again.button(key="memory_upload_forget").click()
    run(again)
    assert "memory_upload_frame" not in again.session_state
    assert Workspace.open(ws).bytes("memory_upload_file") is None
    assert not [b for b in again.button if b.key == "memory_build"]


def test_memory_search_a_kept_file_that_no_longer_reads_gets_the_usual_sentence(own_home):
    at = open_app(MEMORY)
    ws = workspace_of(at)
    Workspace.open(ws).put("memory_source", "upload")
    Workspace.open(ws).put_bytes("memory_upload_file", b"", "empty.csv")
    again = open_app(MEMORY, ws)
    assert plain(again.error) == ["empty.csv is empty."]  # the page's usual sentence for this file
    assert any(c.startswith("Restored from this workspace: empty.csv —") for c in plain(again.caption))
    assert not [b for b in again.button if b.key == "memory_build"]


def test_a_workspace_belongs_to_its_own_link(own_home):
    """Another workspace (another link) starts from the defaults: nothing leaks between them."""
    at = open_app(TUNE)
    at.radio(key="tune_source").set_value("paste")
    run(at)
    at.text_area(key="tune_paste").set_value("a | b")
    run(at)
    other = open_app(TUNE)
    assert workspace_of(other) != workspace_of(at)
    assert other.radio(key="tune_source").value == "example"
    assert os.path.isdir(own_home / "workspaces" / workspace_of(at))
