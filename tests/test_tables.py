"""Reading pasted lines and uploaded tables: every bad file gets one clear sentence."""

import io
import json

import pandas as pd
import pytest

from embedlab.tables import MAX_ROWS, parse_lines, read_table


def test_labelled_and_plain_lines():
    lines = parse_lines("Animals | The cat sits on the mat\n\n  \nplain line\nx | y | z\n")
    assert lines.texts == ["The cat sits on the mat", "plain line", "y | z"]
    assert lines.labels == ["Animals", "", "x"]
    assert lines.skipped_blank == 2 and lines.partly_labelled


@pytest.mark.parametrize("kind", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_each_file_type_round_trips(kind):
    frame = pd.DataFrame({"text": ["a <b>", "日本語 🙂"], "label": ["x", "y"]})
    buffer = io.BytesIO()
    if kind == "csv":
        frame.to_csv(buffer, index=False)
    elif kind == "tsv":
        frame.to_csv(buffer, index=False, sep="\t")
    elif kind == "json":
        buffer.write(json.dumps(frame.to_dict("records")).encode())
    elif kind == "jsonl":
        frame.to_json(buffer, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(buffer)
    read = read_table(buffer.getvalue(), f"upload.{kind}")
    assert read["text"].tolist() == frame["text"].tolist()


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"text\n" + b"\n" * 1_000_000, "empty-rows.csv", "holds no rows"),
        (b"text,label\n" + b",\n" * 1_000_000, "commas.csv", f"at most {MAX_ROWS:,}"),
        (b'{"text": "a"}', "object.json", "JSON list of objects"),
        (b"[1, 2, 3]", "numbers.json", "some items are not objects"),
        (b"[{", "broken.json", "not valid JSON"),
        (b'{"a": 1}\nnot json\n', "broken.jsonl", "line 2"),
        ("caf\u00e9,ol\u00e9".encode("latin-1"), "latin1.csv", "not UTF-8"),
        (b"PK\x03\x04 zip", "archive.zip", "not a file type"),
        (b"\x80\x04\x95 pickle", "model.pkl", "not a file type"),
        (b"not parquet", "bad.parquet", "could not be read as PARQUET"),
        (b"", "empty.csv", "empty"),
    ],
)
def test_bad_files_get_one_sentence(data, name, words):
    with pytest.raises(ValueError, match=words) as caught:
        read_table(data, name)
    assert "\n" not in str(caught.value)
