"""The Fine-tune page under AppTest: pairs from every source, a real small fine-tune, using and
deleting the model, and bad input in one sentence each with nothing lost."""

from __future__ import annotations

import json
import re

import pytest
from conftest import as_read
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab.models import user
from embedlab.tuning import example_pairs, heldout, split_pairs
from embedlab.tuning.pairs import check_pairs

PAGE = "pages/fine_tune.py"
PAIRS = example_pairs(40)


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=600)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


plain = as_read  # messages as a user reads them (tests/conftest.py)


def paste(at: AppTest, text: str) -> AppTest:
    at.radio(key="tune_source").set_value("paste").run()
    at.text_area(key="tune_paste").set_value(text).run()
    assert not at.exception, at.exception
    return at


def pasted(pairs) -> str:
    return "\n".join(f"{q} | {p}" for q, p in pairs)


@pytest.fixture(scope="module")
def tuned():
    """One real fine-tune through the page: 40 pasted pairs, batch 16, one epoch."""
    at = open_page()
    paste(at, pasted(PAIRS))
    at.number_input(key="tune_batch").set_value(16).run()
    at.text_input(key="tune_name").set_value("page-model").run()
    at.button(key="tune_run").click().run()
    assert not at.exception, at.exception
    return at


def test_example_pairs_show_split_sizes_and_estimate():
    at = open_page()
    info = plain(at.info)
    assert any("300 pairs: 240 training pairs, 60 held-out queries ranked against 300 documents" in t for t in info)
    assert any("Estimated time on this machine" in t for t in info)
    # the split the page announces is the core's
    split = split_pairs(check_pairs(example_pairs()), held_out=0.2, random_state=0)
    assert (len(split.train), len(split.test), len(split.corpus)) == (240, 60, 300)


def test_fine_tune_shows_held_out_before_and_after(tuned):
    at = tuned
    result = at.session_state["tune_result"]
    assert result.saved and not result.stopped
    verdict = plain(at.success) + plain(at.warning)
    assert any(t.startswith(("Promoted", "Not promoted")) for t in verdict)
    table = next(d.value for d in at.dataframe if "MRR@10" in d.value.columns)
    assert table["model"].tolist() == ["all-MiniLM-L6-v2", "page-model"]
    # the figures shown are those of the saved model judged again from disk (an independent run)
    again = heldout.evaluate(result.split, "page-model")
    assert table["MRR@10"].iloc[1] == pytest.approx(again.mrr, abs=1e-6)
    assert table["accuracy@1"].iloc[1] == pytest.approx(again.accuracy, abs=1e-6)
    captions = " ".join(plain(at.caption))
    counts = re.search(r"(\d+) held-out queries improved, (\d+) regressed, (\d+) kept their rank", captions)
    assert counts and sum(map(int, counts.groups())) == len(result.split.test)
    assert "page-model" in [m.name for m in embedlab.list_models()]


def test_use_it_puts_the_model_in_every_picker(tuned):
    at = tuned
    at.button(key="tune_use").click().run()
    assert not at.exception, at.exception
    assert "page-model" in at.session_state["_kept_retrieval_models"]
    assert "all-MiniLM-L6-v2" in at.session_state["_kept_retrieval_models"]  # the page's default stays
    assert at.session_state["_kept_space_model"] == "page-model"
    at.switch_page("pages/trace_retrieval.py").run()
    assert not at.exception, at.exception
    assert "page-model" in at.multiselect(key="retrieval_models").value


def test_delete_removes_the_model_and_the_pickers_forget_it(tuned):
    at = tuned
    at.switch_page(PAGE).run()
    at.selectbox(key="tune_delete_choice").set_value("page-model").run()
    at.button(key="tune_delete").click().run()
    assert not at.exception, at.exception
    assert "page-model was deleted." in plain(at.info)
    assert user.find("page-model") is None
    at.switch_page("pages/trace_retrieval.py").run()  # its picker had the deleted model: no error
    assert not at.exception, at.exception
    assert "page-model" not in at.multiselect(key="retrieval_models").value


def test_pairs_from_the_trace_retrieval_page_need_ten():
    at = open_page()
    at.radio(key="tune_source").set_value("retrieval").run()
    assert not at.exception, at.exception
    shown = " ".join(plain(at.info))
    assert "test queries with their expected traces from the Trace Retrieval page" in shown
    assert "at least 10 distinct pairs" in shown
    assert at.button(key="tune_run").disabled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just a line without a separator\n" + pasted(PAIRS[:12]), "Line 1 has no separator"),
        (pasted(PAIRS[:5]), "at least 10 distinct pairs"),
        (pasted(PAIRS[:12]) + f"\n{PAIRS[0][0]} | another document", "has two different positives"),
        (pasted(PAIRS[:9]) + "\n | an empty query", "Pair 10's query is empty"),
    ],
)
def test_bad_pasted_pairs_get_one_sentence_and_keep_the_text(text, message):
    at = paste(open_page(), text)
    errors = plain(at.error)
    assert len(errors) == 1 and message in errors[0], errors
    assert at.text_area(key="tune_paste").value == text  # nothing typed is lost
    assert at.button(key="tune_run").disabled


def test_too_few_for_the_held_out_share():
    at = paste(open_page(), pasted(PAIRS[:10]))
    at.slider(key="tune_held_out").set_value(0.1).run()
    errors = plain(at.error)
    assert len(errors) == 1 and "too few for a held-out split" in errors[0]


def test_catalog_name_is_refused_before_training():
    at = paste(open_page(), pasted(PAIRS[:12]))
    at.text_input(key="tune_name").set_value("all-mpnet-base-v2").run()
    at.button(key="tune_run").click().run()
    assert not at.exception, at.exception
    errors = plain(at.error)
    assert len(errors) == 1 and "is a catalog model's name" in errors[0]
    assert "tune_result" not in at.session_state


def test_uploaded_table_without_positive_column_names_the_columns():
    at = open_page()
    at.radio(key="tune_source").set_value("upload").run()
    # AppTest has no file-upload driver: the page's reader is the core's, called as the page calls it
    from ui.fine_tune import read_upload

    data = "\n".join(json.dumps({"query": q, "text": p}) for q, p in PAIRS[:12]).encode()
    with pytest.raises(ValueError, match=r"pairs.jsonl: pairs need the columns query and positive.*missing positive"):
        read_upload(data, "pairs.jsonl")
