"""Streamlit-only: the Space Explorer's "This workspace's maps" — the maps this workspace drew, to open
again or delete.

The list itself (order, limit, rows) is :mod:`embedlab.maps.history`; the workspace keeps its ids
under :data:`ui.space_saved.MAPS`. Only those ids are read — never every user's maps. Open and
Delete are button callbacks, so they run before the page's widgets are drawn: Open fills the inputs
as a shared link does (:func:`ui.space_saved.fill_inputs`).

State kept in ``st.session_state`` (``space_history``-prefixed): ``space_history`` — the expander
(stays open across reruns); ``space_history_confirm`` — the shared map whose Delete waits for a
yes; ``space_history_said`` — what the last Open or Delete did, said once inside the expander.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import streamlit as st

from embedlab.formatting import count
from embedlab.maps import history, saved
from embedlab.markup import markdown_literal
from ui import space_explorer as ui
from ui import space_saved as saved_ui
from ui import workspace

__all__ = ["maps_expander"]

state = st.session_state

EXPANDER, CONFIRM, SAID = "space_history", "space_history_confirm", "space_history_said"
HOW = (
    f"The maps drawn in this workspace, newest first (the last {history.MAX_WORKSPACE_MAPS} are kept; older ones "
    "are deleted unless shared). **Open** shows a map again with its sentences and settings. **Delete** removes "
    "it from this server and breaks a shared map's link; the map on show stays drawn, no longer saved "
    "(a reload draws it anew from your sentences and settings)."
)


def maps_expander(models: Sequence[str]) -> None:
    """The expander "This workspace's maps (N)": one row per map, the one on show marked, Open and Delete."""
    ids = saved_ui.map_ids()
    shown = state.get(saved_ui.SAVED)
    on_show = shown[1] if shown and ui.RESULT in state and state[ui.RESULT].key == shown[0] else None
    found = history.workspace_maps(ids, on_show=on_show)
    if found.dropped:  # deleted in another tab: quietly gone from the list
        _store(found.ids)
    with st.expander(f"This workspace's maps ({len(found.rows)})", key=EXPANDER, icon=":material/history:"):
        said = state.pop(SAID, None)
        if said:
            (st.success if said[0] == "success" else st.error)(said[1])
        st.caption(HOW)
        if not found.rows:
            st.caption("No map is kept yet: press **Draw map**.")
        timezone = st.context.timezone
        for row in found.rows:
            _row(row, models, timezone)


def _row(row: history.WorkspaceMap, models: Sequence[str], timezone: str | None) -> None:
    text, open_col, delete_col = st.columns([6, 1, 1], vertical_alignment="center")
    badge = " :blue-badge[:material/visibility: on show]" if row.on_show else ""
    if row.readable:
        facts = [f"drawn {row.drawn(timezone)}", "shared (its link opens it)" if row.shared else "not shared", row.size]
        text.markdown(f"**{markdown_literal(row.summary)}**{badge}  \n:gray[{markdown_literal(' · '.join(facts))}]")
    else:
        text.markdown(f"**{markdown_literal(row.summary)}**{badge}  \n:gray[{markdown_literal(row.problem)}]")
    open_col.button(
        "Open",
        key=f"space_history_open_{row.map_id}",
        on_click=_open,
        args=(row.map_id, row.summary, tuple(models)),
        disabled=row.on_show or not row.readable,
        icon=":material/open_in_browser:",
        help="This map is on show." if row.on_show else "Show this map again, with its sentences and settings.",
        width="stretch",
    )
    delete_col.button(
        "Delete",
        key=f"space_history_delete_{row.map_id}",
        on_click=_delete_clicked,
        args=(row.map_id,),
        icon=":material/delete:",
        help="Delete this map from the server.",
        width="stretch",
    )
    if state.get(CONFIRM) == row.map_id:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.warning(
                "This map was shared: deleting it breaks its link for everyone who has it. Delete it anyway?",
                icon=":material/link_off:",
            )
            st.button("Delete anyway", key="space_history_confirmed", on_click=_delete, args=(row.map_id,))
            st.button("Keep it", key="space_history_keep", on_click=state.pop, args=(CONFIRM, None))


def _store(ids: Sequence[str]) -> None:
    with contextlib.suppress(OSError):  # not written: read (and tidied) again on the next run
        workspace.current().put(saved_ui.MAPS, list(ids))


def _open(map_id: str, summary: str, models: tuple[str, ...]) -> None:
    """Open's callback: the saved map on show, its sentences and settings in the inputs."""
    state.pop(CONFIRM, None)
    try:
        opened = saved.load_map(map_id)
    except ValueError as error:  # vanished, or damaged since it was listed
        state[SAID] = ("error", markdown_literal(f"This map cannot be opened: {error}"))
        return
    saved_ui.show(opened)
    saved_ui.fill_inputs(opened.result, models)
    saved_ui.forget_link(map_id)
    state[SAID] = ("success", markdown_literal(f"Opened the map {summary}."))


def _delete_clicked(map_id: str) -> None:
    """Delete's callback: a shared map (shared now, maybe in another tab) waits for a yes; others go."""
    try:
        shared = saved.is_shared(map_id)
    except ValueError:  # gone already, or damaged past reading its folder: delete what is there
        shared = False
    if shared:
        state[CONFIRM] = map_id
    else:
        _delete(map_id)


def _delete(map_id: str) -> None:
    """Delete's callback: the map goes from disk and from the list; the map on show stays drawn."""
    state.pop(CONFIRM, None)
    try:
        ids = history.remove_map(saved_ui.map_ids(), map_id)
    except (OSError, ValueError) as error:
        state[SAID] = ("error", markdown_literal(f"This map could not be deleted: {error}"))
        return
    _store(ids)
    ws = workspace.current()
    if ws.get(saved_ui.LAST_MAP) == map_id:
        workspace.forget(saved_ui.LAST_MAP)
    on_show = state.get(saved_ui.SAVED)
    for key in (saved_ui.SAVED, saved_ui.SHARED):
        if (state.get(key) or (None, None))[1] == map_id:
            del state[key]
    if st.query_params.get(saved_ui.LINK_PARAM) == map_id:  # the address no longer names a map
        saved_ui.forget_link()
    still = on_show is not None and on_show[1] == map_id and ui.RESULT in state
    state[SAID] = (
        "success",
        "Deleted the map"
        + (
            " on show: it stays drawn here, no longer saved (a reload draws it anew from your sentences and settings)."
            if still
            else "."
        )
        + f" {count(len(ids), 'map')} left in this workspace.",
    )
