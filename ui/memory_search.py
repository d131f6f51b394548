"""Streamlit-only helpers of the Memory Search page: the build source, uploads, progress and Stop.

Session keys are ``memory_``-prefixed:

* ``memory_upload_frame`` / ``memory_upload_name``: the last upload that could be read (a bad
  upload leaves them as they were, with its sentence in ``memory_upload_error``);
* ``memory_examples``: collection name → the example it was built from in this session;
* ``memory_built``: the last :class:`embedlab.memory.BuildResult`; ``memory_index``: the last
  :class:`embedlab.memory.IndexReport`;
* ``memory_search``: the last search — ``{"query", "where", "per_collection", "merged"}``;
* ``memory_labelled`` / ``memory_labelled_error``: the labelled queries read from an upload;
* ``memory_upload_restored`` / ``memory_labelled_restored``: the file shown is the one kept in the
  workspace (a new session: the uploader is empty), said in a caption with a "Drop it" button;
* ``memory_evaluation``: the last :class:`embedlab.memory.evaluation.MemoryEvaluation`.

Kept in the workspace (:mod:`ui.workspace`: a reload or the same ``?ws=`` link in another tab finds
them): every input's widget value under its key; the uploaded memories file (:data:`UPLOAD_FILE`)
and labelled queries file (:data:`LABELLED_FILE`) as they came, with their names; which collection
was built from which example (``memory_examples``). Collections are on disk already.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

import pandas as pd
import streamlit as st

from embedlab import memory
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.memory import labelled
from embedlab.memory.search import RRF_K
from embedlab.tables import read_table
from ui import runs, workspace

state = st.session_state

SOURCES = {
    "lesson-traces": "Example: the lesson's 3 traces",
    "debian-packages": "Example: 300 Debian package descriptions",
    "upload": "Upload a file",
}
UPLOAD_TYPES = ["csv", "tsv", "jsonl", "json", "parquet"]
LABELLED_SOURCES = {"paste": "Paste lines", "upload": "Upload a table", "example": "The examples' labelled queries"}
#: The column picker's entry for "no id column: the row number is the id".
ROW_NUMBER = "(row number)"
#: Workspace keys of the uploaded memories and labelled queries (the files' bytes, with their names).
UPLOAD_FILE = "memory_upload_file"
LABELLED_FILE = "memory_labelled_file"

PERCENT = st.column_config.NumberColumn(format="percent")
HIT_COLUMNS = {
    "rank": st.column_config.NumberColumn("rank", width="small"),
    "id": st.column_config.TextColumn("id", width="small"),
    "text": st.column_config.TextColumn("text", width="large"),
    "score": st.column_config.NumberColumn(
        "score", format="%.3f", help="Cosine similarity under the collection's model."
    ),
    "fused_score": st.column_config.NumberColumn(
        "fused score",
        format="%.4f",
        help=f"Reciprocal-rank fusion: 1 / ({RRF_K} + the hit's rank in its own collection); orders the merged list.",
    ),
}


# -- the build source ---------------------------------------------------------------------------------
@st.cache_data(max_entries=2, show_spinner=False)
def example(name: str) -> pd.DataFrame:
    """An example corpus (columns id, text and metadata)."""
    return labelled.example_memories(name)


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(data: bytes, name: str) -> pd.DataFrame:
    """An uploaded file's table, its columns as in the file, for the column pickers.

    A chat log with one conversation per line is read as a collection reads it: one row per
    message, its text in ``text``. Raises ValueError (one sentence) when it cannot be read.
    """
    try:
        return read_table(data, name)
    except ValueError as error:
        if not name.lower().endswith(".jsonl") or "must be a JSON object" not in str(error):
            raise
    with tempfile.TemporaryDirectory(prefix="embedlab-upload-") as folder:
        path = Path(folder) / "upload.jsonl"
        path.write_bytes(data)
        return memory.read_source(path).drop(columns="row")


def on_upload() -> None:
    """Read the uploaded file; a bad one keeps the previous upload and says why in one sentence.

    A file that can be read is kept in the workspace (when at most 50 MB), for a reload to find.
    """
    upload = state.get("memory_upload")
    state.pop("memory_upload_error", None)
    if upload is None:
        return
    data = upload.getvalue()
    try:
        frame = read_upload(data, upload.name)
    except ValueError as error:
        state["memory_upload_error"] = str(error)
        return
    state["memory_upload_frame"] = frame
    state["memory_upload_name"] = upload.name
    state.pop("memory_upload_restored", None)
    workspace.keep_bytes(UPLOAD_FILE, data, upload.name)


def restore_upload() -> None:
    """Once per session: the file kept in the workspace becomes the upload (``memory_upload_restored``
    says so); a file that no longer reads gives its sentence in ``memory_upload_error``."""
    if state.get("memory_upload_checked"):
        return
    state["memory_upload_checked"] = True
    kept = workspace.restored_bytes(UPLOAD_FILE)
    if kept is None or "memory_upload_frame" in state:
        return
    try:
        state["memory_upload_frame"] = read_upload(kept.data, kept.name)
    except ValueError as error:
        state["memory_upload_error"] = str(error)
    state["memory_upload_name"] = kept.name
    state["memory_upload_restored"] = True


def forget_upload() -> None:
    """The "Drop it" button of a restored upload: gone from the workspace and the session."""
    workspace.forget(UPLOAD_FILE)
    for key in ("memory_upload_frame", "memory_upload_name", "memory_upload_restored", "memory_upload_error"):
        state.pop(key, None)


def restore_once(key: str, default, *, allowed=None) -> None:
    """A build-form widget's value: the workspace's on the session's first draw; later, when the
    widget comes back after the source changed, ``default`` (as suggested for the new source)."""
    flag = f"_restored_{key}"
    if not state.get(flag):
        state[flag] = True
        workspace.restore(key, default, allowed=allowed)
    elif key not in state and default is not None:
        state[key] = default


def upload_sentence(message: str) -> str:
    """A reader's message for st.error: capitalised, unless it starts with the file's own name."""
    upload = state.get("memory_upload")
    name = upload.name if upload is not None else state.get("memory_upload_name") or ""  # or the restored file's
    return markdown_literal(message) if name and message.startswith(name) else markdown_sentence(message)


def suggested_name(source: str) -> str:
    """A collection name for the source: the example's name or the file's stem, as the store accepts it."""
    if source != "upload":
        return source
    stem = PurePath(state.get("memory_upload_name") or "memories").stem.lower()
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-_")
    return cleaned[:48] or "memories"


# -- progress ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildEvent:
    """A build's :class:`embedlab.memory.BuildProgress` in the shape :func:`ui.runs.run` draws."""

    progress: memory.BuildProgress

    @property
    def fraction(self) -> float:
        return self.progress.fraction

    @property
    def message(self) -> str:
        return self.progress.message.capitalize()

    def results(self):
        return None  # a stopped build leaves the collection as it was: nothing partial to show


def build(
    name: str,
    source,
    *,
    text_column: str,
    id_column: str | None,
    model: str,
    rebuild: bool = False,
    example: str | None = None,
):
    """Build (or update) a collection with a progress bar and Stop; returns the BuildResult.

    ``example``: the example it was built from, remembered so its labelled queries can be offered.
    """

    def start(progress):
        return memory.build_collection(
            name,
            source,
            text_column=text_column,
            id_column=id_column,
            model=model,
            rebuild=rebuild,
            progress=lambda p: progress(BuildEvent(p)),
        )

    result = runs.run(
        "memory_build",
        start,
        stop_help="Stop now: the collection stays as it was; build again to resume (texts already encoded "
        "are not encoded again).",
        done=lambda r: f"Done: {r.added:,} texts encoded, {r.skipped:,} already there, in {r.seconds:.1f} s.",
    )
    state["memory_search_collections"] = [name]  # search what was just built (section 3 is drawn after this)
    examples = restore_examples()
    if example is None:
        examples.pop(name, None)
    else:
        examples[name] = example
    workspace.current().put("memory_examples", examples)
    return result


def restore_examples() -> dict:
    """Collection name → the example it was built from: this session's, else the workspace's."""
    if "memory_examples" not in state:
        kept = workspace.current().get("memory_examples", {})
        state["memory_examples"] = {str(k): str(v) for k, v in kept.items()} if isinstance(kept, dict) else {}
    return state["memory_examples"]


def evaluate(frame: pd.DataFrame, names: list[str], *, k: int, models: list[str]):
    """Run the evaluation with a progress bar and Stop; returns the MemoryEvaluation."""
    from embedlab.memory.evaluation import evaluate_memory

    return runs.run(
        "memory_eval",
        lambda progress: evaluate_memory(frame, names, k=k, models=models or None, progress=progress),
        stop_help="Stop now: the steps that finished are kept.",
        done=lambda r: f"Done: {len(r.table)} searches scored in {r.seconds:.1f} s.",
    )


# -- labelled queries ----------------------------------------------------------------------------------
def on_labelled_upload() -> None:
    """Read uploaded labelled queries; a bad file keeps the previous ones and says why; a good one
    is kept in the workspace too."""
    upload = state.get("memory_labelled_upload")
    state.pop("memory_labelled_error", None)
    if upload is None:
        return
    data = upload.getvalue()
    try:
        state["memory_labelled"] = labelled.read_labelled(data, upload.name)
    except ValueError as error:
        state["memory_labelled_error"] = str(error)
        return
    state["memory_labelled_name"] = upload.name
    state.pop("memory_labelled_restored", None)
    workspace.keep_bytes(LABELLED_FILE, data, upload.name)


def restore_labelled() -> None:
    """Once per session: the labelled queries file kept in the workspace, read again (its sentence
    in ``memory_labelled_error`` when it no longer reads)."""
    if state.get("memory_labelled_checked"):
        return
    state["memory_labelled_checked"] = True
    kept = workspace.restored_bytes(LABELLED_FILE)
    if kept is None or "memory_labelled" in state:
        return
    try:
        state["memory_labelled"] = labelled.read_labelled(kept.data, kept.name)
    except ValueError as error:
        state["memory_labelled_error"] = str(error)
    state["memory_labelled_name"] = kept.name
    state["memory_labelled_restored"] = True


def forget_labelled() -> None:
    """The "Drop it" button of restored labelled queries."""
    workspace.forget(LABELLED_FILE)
    for key in ("memory_labelled", "memory_labelled_name", "memory_labelled_restored", "memory_labelled_error"):
        state.pop(key, None)


restored_notice = workspace.restored_notice  # the page's name for it (one home: ui/workspace.py)


def example_labelled(infos) -> pd.DataFrame | None:
    """The labelled queries of the collections built from an example (in this session, or under
    the example's own name), or None when there is none."""
    made = restore_examples()
    frames = []
    for info in infos:
        example = made.get(info.name) or (info.name if info.name in labelled.EXAMPLES else None)
        if example is not None:
            frames.append(labelled.example_labelled(example, info.name, n=info.rows))
    return pd.concat(frames, ignore_index=True) if frames else None


# -- drawing -----------------------------------------------------------------------------------------
def collection_rows(infos) -> pd.DataFrame:
    """The "Your collections" table: one row per collection."""
    return pd.DataFrame(
        [
            {
                "name": i.name,
                "model": i.model,
                "rows": i.rows,
                "updated": i.updated.replace("T", " ")[:19],
                "index": i.index or "exact only",
                "text column": i.text_column,
                "metadata": ", ".join(i.metadata_columns),
                "source": i.source,
            }
            for i in infos
        ]
    )


def hits_table(hits: pd.DataFrame, *, merged: bool) -> pd.DataFrame:
    """A search's hits for display: rank, (collection,) id, text, score, then metadata."""
    first = ["rank", *(["collection"] if merged else []), "id", "text", "fused_score", "score"]
    rest = [c for c in hits.columns if c not in first and c != "collection"]
    return hits[[c for c in first if c in hits.columns] + rest]


PER_QUERY_COLUMNS = {
    "query": st.column_config.TextColumn("query", width="medium"),
    "rank": st.column_config.NumberColumn("rank", help="Where the expected memory came (1 = first); empty beyond k."),
    "top score": st.column_config.NumberColumn("top score", format="%.3f"),
}


def forget_deleted(key: str, names: list[str]) -> None:
    """Drop collections that no longer exist from a multiselect's kept value."""
    if key in state:
        state[key] = [n for n in state[key] if n in names]


# -- searching ---------------------------------------------------------------------------------------
def search(names: list[str], query: str, *, k: int, where: dict | None, infos) -> dict:
    """Each chosen collection searched, and (with several) all of them merged.

    A metadata filter applies to the collections that have its column; the others are left out
    (``skipped``), since a memory without that field cannot equal the value asked.
    """
    if where:
        column = next(iter(where))
        having = {i.name for i in infos if column in i.metadata_columns}
        skipped = [n for n in names if n not in having]
        names = [n for n in names if n in having]
    else:
        skipped = []
    per_collection = {name: memory.search_collection(name, query, k=k, where=where) for name in names}
    merged = memory.search_collections(names, query, k=k, where=where) if len(names) > 1 else None
    return {"query": query, "where": where, "per_collection": per_collection, "merged": merged, "skipped": skipped}


def score_caption(result) -> str:
    """What a result's scores mean, and how it was searched, in one or two sentences."""
    speed = f"{result.seconds * 1000:,.0f} ms"
    if result.merged_by == "reciprocal rank":
        return (
            "Merged by reciprocal rank: these collections use different models, whose cosines do not compare, so "
            f"each hit scores 1 / ({RRF_K} + its rank in its own collection) — reciprocal-rank fusion, in "
            f'"fused score"; "score" is still each hit\'s cosine under its own model. {speed}.'
        )
    if result.merged_by:
        return (
            "Merged by cosine: the collections share one model, so their cosine similarities compare directly "
            f"(1 = same direction, 0 = unrelated). {speed}."
        )
    how = (
        f"approximate search, recall@10 {result.recall_at_10:.2f} against exact measured on this collection"
        if result.method == "approximate" and result.recall_at_10 is not None
        else f"{result.method} search"
    )
    return f"Scores are cosine similarities (1 = same direction, 0 = unrelated); {how}, {speed}."
