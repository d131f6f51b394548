"""Streamlit-only helpers that keep the Space Explorer's work: its inputs in the workspace, the last
map on disk, and maps shared by link.

* The source, the pasted sentences, the uploaded table (with its file name and chosen columns) and the
  Model/Projection settings are kept in the session's workspace (:mod:`ui.workspace`, ``?ws=<id>``):
  :func:`restore_inputs` fills the widgets before they are drawn, :func:`keep_inputs` saves them after.
* Every map drawn is saved (:func:`embedlab.maps.saved.save_map`) and its id kept in the workspace as
  its last map (:func:`remember`): a new session of the workspace shows it again (:func:`start`)
  without loading a model, encoding or projecting. The workspace also keeps the ids of all its maps,
  newest first (:data:`MAPS`, :mod:`embedlab.maps.history`); ``ui/space_history.py`` lists them.
* "Share this map" (:func:`share_action`) marks the saved map shared and gives a link,
  ``<app>/?map=<id>`` (the Space Explorer is the app's default page, whose URL path is the root), that
  opens it in any tab on this server (:func:`open_from_link`), ready to explore.

State kept in ``st.session_state`` (all ``space_``-prefixed): ``space_saved_map`` — ``(map key, id)``
of the map shown, once saved; ``space_shared_map`` — the same for the last link given;
``space_link_seen`` — the ``?map=`` id already handled (opened once per link);
``space_restore_tried`` — the workspace's last map looked for (once per session);
``space_table_kept`` — the upload (file id) last kept, and ``space_table_restored`` — the table read back.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from embedlab.formatting import count
from embedlab.maps import explore, history, saved
from embedlab.markup import markdown_literal
from embedlab.models.catalog import DEFAULT_MODEL
from ui import space_explorer as ui
from ui import workspace
from ui.workspace import StoredTable

__all__ = [
    "INPUT_KEYS",
    "LAST_MAP",
    "LINK_PARAM",
    "MAPS",
    "TABLE",
    "fill_inputs",
    "forget_link",
    "keep_inputs",
    "keep_table",
    "map_ids",
    "open_from_link",
    "remember",
    "restore_column",
    "restore_inputs",
    "restored_caption",
    "restored_table",
    "share_action",
    "share_link",
    "show",
    "start",
]

state = st.session_state

#: The query parameter a shared map's link carries.
LINK_PARAM = "map"
#: Workspace keys: the uploaded table, the id of the map on show (the last drawn or opened), and the
#: ids of the workspace's maps, newest first (a workspace from before that list has LAST_MAP only).
TABLE, LAST_MAP, MAPS = "space_table", history.LAST_MAP_KEY, history.MAPS_KEY
SOURCE, SENTENCES, TEXT_COLUMN, LABEL_COLUMN = (
    ui.key(n) for n in ("source", "sentences", "text_column", "label_column")
)
MODEL, METHOD, DIMS = ui.key("model"), ui.key("method"), ui.key("dims")
PERPLEXITY, NEIGHBOURS, SEED = ui.key("perplexity"), ui.key("n_neighbors"), ui.key("seed")
#: The widgets whose values the workspace keeps.
INPUT_KEYS = (SOURCE, SENTENCES, TEXT_COLUMN, LABEL_COLUMN, MODEL, METHOD, DIMS, PERPLEXITY, NEIGHBOURS, SEED)
SHARE = "space_share"
#: The name a shared map's sentences go by when they come into the workspace as a table.
SHARED_TABLE = "the shared map's sentences"
SAVED, SHARED, LINK_SEEN = "space_saved_map", "space_shared_map", "space_link_seen"
RESTORE_TRIED, TABLE_KEPT, TABLE_RESTORED = "space_restore_tried", "space_table_kept", "space_table_restored"
#: The sliders' and the seed's ranges (as drawn by the page).
SLIDER_RANGE, SEED_RANGE = (2, 100), (0, 2**31 - 1)


class _Whole:
    """``value in _Whole(lo, hi)``: an int (not a bool) from lo to hi — a saved value the widget takes."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


class _Text:
    def __contains__(self, value: object) -> bool:
        return isinstance(value, str)


# ------------------------------------------------------------------ inputs and settings
def restore_inputs(models: Sequence[str]) -> None:
    """Before the page's widgets: the workspace's source, sentences and settings (else the defaults), once."""
    workspace.restore(SOURCE, "paste", allowed=("paste", "upload"))
    workspace.restore(SENTENCES, ui.DEFAULT_TEXT, allowed=_Text())
    workspace.restore(MODEL, DEFAULT_MODEL, allowed=list(models))
    workspace.restore(METHOD, "tsne", allowed=tuple(ui.METHOD_NAMES))
    workspace.restore(DIMS, 2, allowed=(2, 3))
    workspace.restore(PERPLEXITY, 30, allowed=_Whole(*SLIDER_RANGE))
    workspace.restore(NEIGHBOURS, 15, allowed=_Whole(*SLIDER_RANGE))
    workspace.restore(SEED, 42, allowed=_Whole(*SEED_RANGE))


def restore_column(widget_key: str, options: Sequence[str]) -> None:
    """Before a column picker: the workspace's choice when the table still has that column, else the first."""
    if widget_key in state and state[widget_key] not in options:  # another table since: its columns differ
        del state[widget_key]
    workspace.restore(widget_key, options[0], allowed=list(options))


def keep_inputs() -> None:
    """After the widgets: save the inputs and settings that changed (cheap on every rerun)."""
    workspace.keep(*INPUT_KEYS)


def keep_table(frame: pd.DataFrame, name: str, file_id: str) -> None:
    """Keep an uploaded table (as read, with its file name) in the workspace, once per upload."""
    if state.get(TABLE_KEPT) == file_id:
        return
    try:
        workspace.keep_table(TABLE, frame, name)
    except (OSError, TypeError, ValueError) as error:
        st.warning(markdown_literal(f"This table could not be kept for a reload: {error}"))
    state[TABLE_KEPT] = file_id
    state.pop(TABLE_RESTORED, None)  # read back from disk only if the uploader is emptied (no second copy in memory)


def restored_table() -> StoredTable | None:
    """The table the workspace kept (read from disk once per session), or None."""
    if TABLE_RESTORED not in state:
        state[TABLE_RESTORED] = workspace.restored_table(TABLE)
    return state[TABLE_RESTORED]


def restored_caption(table: StoredTable) -> str:
    """What the page says under an empty uploader when the workspace's table is used instead."""
    name = table.name or "a table"
    return markdown_literal(
        f"Restored from this workspace: {name}, {count(len(table.frame), 'row')} — upload another file to replace it."
    )


# ------------------------------------------------------------------ the map: shown again, saved, shared
def start(models: Sequence[str]) -> None:
    """At the top of the page: the inputs from the workspace, then a shared map's link (once per link)
    or else the workspace's last map (once per session) as the map shown."""
    restore_inputs(models)
    if not open_from_link(models):
        _restore_last_map()


def open_from_link(models: Sequence[str] = ()) -> bool:
    """Open the map a shared link names (``?map=<id>``), once per link; its settings and sentences fill the
    page's inputs (see :func:`fill_inputs`). False when there is none, or it cannot be opened (said in one sentence)."""
    wanted = st.query_params.get(LINK_PARAM)
    if not wanted or state.get(LINK_SEEN) == wanted:
        return False
    state[LINK_SEEN] = wanted
    try:
        opened = saved.load_map(wanted)
    except ValueError as error:
        why = str(error)
        st.error(
            markdown_literal(f"The map in this link cannot be opened: {why[:1].lower()}{why[1:]}"),
            icon=":material/link_off:",
        )
        del st.query_params[LINK_PARAM]
        return False
    show(opened)
    fill_inputs(opened.result, models)
    st.toast(
        markdown_literal(f"Opened the shared map: {count(len(opened.result), 'sentence')}, {opened.result.model}."),
        icon=":material/link:",
    )
    return True


def _restore_last_map() -> None:
    if ui.RESULT in state or state.get(RESTORE_TRIED):
        return
    state[RESTORE_TRIED] = True
    map_id = workspace.current().get(LAST_MAP)
    if not map_id:
        return
    try:
        opened = saved.load_map(map_id)
    except ValueError as error:
        workspace.forget(LAST_MAP)
        st.caption(markdown_literal(f"This workspace's last map could not be shown again ({error}); it is redrawn."))
        return
    show(opened)


def show(opened: saved.SavedMap) -> None:
    """Make a saved map the one on show, and this workspace's last map (in its maps, where it already is)."""
    ui.forget_picks()
    state[ui.RESULT] = opened.result
    state[ui.TRIED] = True
    state[SAVED] = (opened.result.key, opened.map_id)
    _make_last(opened.map_id)


def fill_inputs(result: ui.MapResult, models: Sequence[str]) -> None:
    """Put a saved map's settings and sentences in the inputs: as lines when they read back the same,
    else as a table (text, label and metadata columns) in the workspace; neither when nothing reads back."""
    settings = result.settings
    if settings.model in models:
        state[MODEL] = settings.model
    state[METHOD], state[DIMS], state[SEED] = settings.method, settings.n_components, int(settings.random_state)
    whole = float(settings.perplexity).is_integer()
    if settings.method == "tsne" and whole and int(settings.perplexity) in _Whole(*SLIDER_RANGE):
        state[PERPLEXITY] = int(settings.perplexity)
    if settings.method == "umap" and settings.n_neighbors in _Whole(*SLIDER_RANGE):
        state[NEIGHBOURS] = settings.n_neighbors

    def same(sentences: explore.Sentences) -> bool:  # what the page's "changed since drawn" check compares
        return ui.request_key(sentences.texts, sentences.labels, settings, sentences.metadata) == result.key

    labels = result.labels
    if not result.metadata:
        lines = "\n".join(f"{labels[i]} | {t}" if labels else t for i, t in enumerate(result.texts))
        try:
            if same(explore.from_lines(lines)):
                state[SOURCE], state[SENTENCES] = "paste", lines
                return
        except ValueError:
            pass
    table = result.points_table().drop(columns=["x", "y", "z", *([] if labels else ["label"])], errors="ignore")
    try:
        if not same(explore.from_table(table, "text", "label" if labels else None)):
            return
        workspace.keep_table(TABLE, table, SHARED_TABLE)
    except (OSError, TypeError, ValueError):
        return
    state[SOURCE], state[TEXT_COLUMN], state[LABEL_COLUMN] = "upload", "text", "label" if labels else "(none)"
    state[TABLE_RESTORED] = StoredTable(table, SHARED_TABLE)


def map_ids() -> list[str]:
    """This workspace's maps' ids, newest first (an old workspace's last map alone when it has no list)."""
    ws = workspace.current()
    return history.stored_ids(ws.get(MAPS), ws.get(LAST_MAP))


def _make_last(map_id: str, *, to_front: bool = False) -> None:
    """Record ``map_id`` as the map on show (the workspace's last map) and among the workspace's maps:
    at the front when it was just drawn, else where it is; the oldest past the limit leave the list and
    are deleted unless a link was given for them (:func:`embedlab.maps.history.add_map`)."""
    ws = workspace.current()
    before = map_ids()  # read before LAST_MAP changes: an old workspace's last map is its list
    try:
        if ws.get(LAST_MAP) != map_id:
            ws.put(LAST_MAP, map_id)
        kept = list(history.add_map(before, map_id, to_front=to_front).ids)
        if ws.get(MAPS) != kept:
            ws.put(MAPS, kept)
    except OSError as error:  # the map is on show all the same
        st.warning(markdown_literal(f"This workspace could not note its map, so a reload draws it again: {error}"))


def forget_link(map_id: str | None = None) -> None:
    """Take a ``?map=`` link out of the address unless it names ``map_id`` (the map now on show)."""
    if st.query_params.get(LINK_PARAM) not in (None, map_id):
        del st.query_params[LINK_PARAM]
        state.pop(LINK_SEEN, None)


def remember(result: ui.MapResult, *, measure: bool = True) -> None:
    """After a map is drawn: save it (once per map) as this workspace's last map; a ``?map=`` link of
    another map leaves the address. ``measure``: save its quality figures too (cached for the page)."""
    map_id = _saved_id(result, measure=measure)
    if map_id is None:
        return
    _make_last(map_id, to_front=True)
    forget_link(map_id)


def _saved_id(result: ui.MapResult, *, measure: bool) -> str | None:
    """The id this map is saved under (saved now if it is not yet); None, with a warning, when it cannot be."""
    kept = state.get(SAVED)
    if kept and kept[0] == result.key and saved.map_exists(kept[1]):
        return kept[1]
    quality = None
    if measure:
        try:
            with st.spinner("Measuring the map…"):
                quality = ui.map_quality(result.digest + result.key, result)  # the page shows the same, cached
        except Exception:  # saved without its figures: the page measures (and says) what went wrong
            quality = None
    try:
        map_id = saved.save_map(result, quality=quality)
    except (OSError, TypeError, ValueError) as error:
        st.warning(markdown_literal(f"This map could not be saved, so a reload will draw it again: {error}"))
        return None
    state[SAVED] = (result.key, map_id)
    return map_id


def share_link(map_id: str) -> str:
    """The address that opens a saved map on this server: ``<app>/?map=<id>`` (the default page's path is the root)."""
    base = (st.context.url or "").split("?", 1)[0].split("#", 1)[0].rstrip("/")
    base = base.removesuffix("/space_explorer")  # should the address ever carry the page's file name
    return f"{base}/?{LINK_PARAM}={saved.check_map_id(map_id)}"


def share_action(result: ui.MapResult, *, measure: bool = True) -> None:
    """The Download tab's "Share this map": saves the map (if not yet), marks it shared, shows the link."""
    clicked = st.button("Share this map", key=SHARE, icon=":material/share:")
    if clicked:
        map_id = _saved_id(result, measure=measure)
        if map_id is not None:
            _make_last(map_id)  # saved again after it was deleted from the list: listed again
            try:
                saved.mark_shared(map_id)
            except ValueError as error:  # deleted between saving and marking: said, never raised
                st.warning(markdown_literal(f"The map could not be shared: {error}"))
            else:
                state[SHARED] = (result.key, map_id)
                st.query_params[LINK_PARAM] = map_id
                state[LINK_SEEN] = map_id
    shared = state.get(SHARED)
    if shared and shared[0] == result.key:
        st.caption(
            "Anyone who can reach this server opens this map, ready to explore, with this link "
            "(it is kept in the data directory, so it outlives a server restart):"
        )
        st.code(share_link(shared[1]), language=None)
    else:
        st.caption("Saves this map on the server and gives a link that opens it in any tab, ready to explore.")
