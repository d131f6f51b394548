"""The session's workspace: what the user typed, uploaded and chose, kept on disk and named in the URL.

``app.py`` calls :func:`ensure_in_url` on every run, so the address always ends in ``?ws=<id>``
(page switches included). A reload, a closed and reopened tab, or the same link in another tab
opens that workspace again (:class:`embedlab.workspace.Workspace`), and each page fills its widgets
from it:

.. code-block:: python

    workspace.restore("space_sentences", DEFAULT_TEXT)     # before the widget: saved value or default
    st.text_area("Sentences", key="space_sentences")       # no value argument
    workspace.keep("space_sentences")                      # after: saved when it changed

Uploads: :func:`keep_table` when a file comes, :func:`restored_table` when the uploader is empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from embedlab.markup import markdown_literal
from embedlab.workspace import StoredBytes, StoredTable, Workspace

__all__ = [
    "MAX_KEPT_BYTES",
    "PARAM",
    "StoredTable",
    "Workspace",
    "current",
    "ensure_in_url",
    "forget",
    "keep",
    "keep_bytes",
    "keep_table",
    "keep_upload",
    "restore",
    "restored_bytes",
    "restored_notice",
    "restored_table",
]

#: The largest upload a workspace keeps as it came (the server's own upload limit is 50 MB by default).
MAX_KEPT_BYTES = 50 * 2**20
#: The query parameter that names the workspace.
PARAM = "ws"
_ID_KEY = "workspace_id"
#: What this session last read from or wrote to the workspace, per key (so unchanged values are not rewritten).
_SAVED_KEY = "workspace_saved"


def current() -> Workspace:
    """This session's workspace: the one the link names, else a new one (kept for the whole session)."""
    state = st.session_state
    workspace_id = state.get(_ID_KEY)
    if workspace_id is not None:
        return Workspace.open(workspace_id)
    wanted = st.query_params.get(PARAM)
    try:
        workspace = Workspace.open(wanted or None)
    except ValueError:
        workspace = Workspace.open()
        st.toast(
            "The link's workspace id is not one embedlab makes; a new workspace was started.",
            icon=":material/link_off:",
        )
    state[_ID_KEY] = workspace.id
    return workspace


def ensure_in_url() -> Workspace:
    """Put this session's workspace id in the address (after a page switch cleared it); return the workspace."""
    workspace = current()
    if st.query_params.get(PARAM) != workspace.id:
        st.query_params[PARAM] = workspace.id
    return workspace


def _saved() -> dict:
    return st.session_state.setdefault(_SAVED_KEY, {})


def restore(widget_key: str, default=None, *, allowed: Sequence | None = None) -> None:
    """Before a widget is drawn: give it the workspace's value for ``widget_key`` (else ``default``).

    Done once per session (and again after the widget's value was dropped, e.g. by a page switch);
    the widget must then be drawn with ``key=widget_key`` and no ``value``/``index`` of its own.
    ``allowed``: the widget's options today — a saved value no longer among them gives ``default``.
    Lists come back as lists (JSON has no tuples): sliders with two handles take them as they are.
    """
    state = st.session_state
    if widget_key in state:
        return
    value = current().get(widget_key, default)
    if allowed is not None and value not in allowed:
        value = default
    if value is not None:
        state[widget_key] = value
    _saved()[widget_key] = value


def keep(*widget_keys: str) -> None:
    """After widgets are drawn: write the values of ``widget_keys`` that changed since last kept.

    Values JSON cannot hold (an uploaded file, a DataFrame) are skipped: use :func:`keep_table`.
    """
    state, saved = st.session_state, _saved()
    workspace = None
    for key in widget_keys:
        if key not in state:
            continue
        value = state[key]
        if isinstance(value, tuple):
            value = list(value)
        if key in saved and saved[key] == value:
            continue
        workspace = workspace or current()
        try:
            workspace.put(key, value)
        except (TypeError, ValueError):
            continue  # not JSON, or too big to keep: the session still has it
        saved[key] = value


def keep_table(key: str, frame: pd.DataFrame, name: str = "") -> None:
    """Keep an uploaded (or edited) table under ``key`` with its file ``name``, when it changed."""
    digest = _digest(frame, name)
    saved = _saved()
    if saved.get(key) == digest:
        return
    current().put_table(key, frame, name)
    saved[key] = digest


def restored_table(key: str) -> StoredTable | None:
    """The table kept under ``key`` in this workspace (from an earlier session or tab), or None."""
    return current().table(key)


def keep_bytes(key: str, data: bytes, name: str) -> bool:
    """Keep an upload as it came under ``key`` with its file ``name``; one over :data:`MAX_KEPT_BYTES`
    is not kept (an older one under ``key`` is forgotten) and False says so — the session still has it."""
    if len(data) > MAX_KEPT_BYTES:
        forget(key)
        return False
    current().put_bytes(key, data, name)
    return True


def keep_upload(uploader_key: str, key: str) -> StoredBytes | None:
    """A file uploader's ``on_change``: keep its new file under ``key`` (see :func:`keep_bytes`), or forget
    ``key`` when the file was removed. Returns the file as :class:`StoredBytes`, None when removed."""
    upload = st.session_state.get(uploader_key)
    if upload is None:
        forget(key)
        return None
    data = upload.getvalue()
    keep_bytes(key, data, upload.name)
    return StoredBytes(data, upload.name)


def restored_bytes(key: str) -> StoredBytes | None:
    """The upload kept under ``key`` in this workspace (as it came, with its name), or None."""
    return current().bytes(key)


def restored_notice(
    name: str,
    amount: str = "",
    *,
    key: str,
    on_forget: Callable[..., None],
    args: tuple = (),
    replace: str = "upload another file",
    help: str = "Forget the restored file.",
) -> None:
    """Say under an empty uploader that the workspace's file is used instead, with a "Drop it" button.

    ``name``: the file's name (shown literally); ``amount``: e.g. "200 rows"; ``key``: the button's key;
    ``on_forget(*args)``: what dropping it does (usually :func:`forget` of the kept keys).
    """
    line = st.container(horizontal=True, vertical_alignment="center")
    line.caption(
        f"Restored from this workspace: {markdown_literal(name)}"
        + (f", {markdown_literal(amount)}" if amount else "")
        + f" — {replace} to replace it."
    )
    line.button("Drop it", key=key, type="tertiary", icon=":material/close:", help=help, on_click=on_forget, args=args)


def forget(*keys: str) -> None:
    """Drop ``keys`` from the workspace (e.g. a Reset button); the session's own values are untouched."""
    workspace, saved = current(), _saved()
    for key in keys:
        workspace.delete(key)
        saved.pop(key, None)


def _digest(frame: pd.DataFrame, name: str) -> str:
    """A fingerprint of a table's contents, columns and name (cheap: pandas' row hashes)."""
    hasher = hashlib.sha256(name.encode("utf-8"))
    hasher.update(repr(list(map(str, frame.columns))).encode("utf-8"))
    try:
        hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists): fall back to their text
        hasher.update(frame.to_json(orient="split", index=False).encode("utf-8"))
    return hasher.hexdigest()
