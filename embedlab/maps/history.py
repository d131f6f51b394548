"""A workspace's maps: the ids of the maps it drew, newest first, and the rows a page lists them by.

A workspace (``embedlab.workspace``) keeps its maps' ids as one JSON list; this module holds the
rules for that list, with no Streamlit in it: :func:`add_map` puts a drawn map at the front (once),
keeps at most :data:`MAX_WORKSPACE_MAPS` and deletes the ones that fall off the end unless a share
link was made for them; :func:`workspace_maps` reads each map's small ``map.json`` into a
:class:`WorkspaceMap` row, drops the ids whose folder vanished (deleted in another tab) and keeps a
damaged map as a row that says so, so it can still be deleted. Only the ids a workspace holds are
ever read: :func:`embedlab.maps.saved.list_maps` (every user's maps) is not used here.

>>> from embedlab.maps import pipeline, saved
>>> first = saved.save_map(pipeline.build_map(["A cat naps", "A dog barks", "Stocks fell"], method="pca"))
>>> ids = add_map([], first).ids
>>> [row.summary for row in workspace_maps(ids, on_show=first).rows]
['all-MiniLM-L6-v2 · PCA 2-D · 3 sentences · no labels']
>>> remove_map(ids, first)
()
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..formatting import file_size
from ..validation import check_positive_int
from . import saved

__all__ = [
    "LAST_MAP_KEY",
    "MAPS_KEY",
    "MAX_WORKSPACE_MAPS",
    "Kept",
    "WorkspaceMap",
    "WorkspaceMaps",
    "add_map",
    "delete_workspace_maps",
    "drawn_at",
    "remove_map",
    "stored_ids",
    "workspace_maps",
]

#: The most maps one workspace keeps; drawing one more deletes the oldest (unless it was shared).
MAX_WORKSPACE_MAPS = 20
#: The workspace keys that hold its maps' ids (newest first) and the map on show (a workspace from
#: before the list was kept has the second only).
MAPS_KEY, LAST_MAP_KEY = "space_maps", "space_last_map"


@dataclass(frozen=True)
class Kept:
    """The list after :func:`add_map`: ``ids`` newest first; ``evicted``, the ids that fell off its end
    (deleted from disk unless shared; ``deleted`` says which were)."""

    ids: tuple[str, ...]
    evicted: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspaceMap:
    """One row of a workspace's maps. ``info`` is None when the map's ``map.json`` cannot be read
    (``problem`` says why); ``on_show`` marks the map the page shows."""

    map_id: str
    info: saved.MapInfo | None
    problem: str = ""
    on_show: bool = False

    @property
    def readable(self) -> bool:
        return self.info is not None

    @property
    def summary(self) -> str:
        """Its title and whether it is labelled, e.g. "all-MiniLM-L6-v2 · PCA 2-D · 16 sentences · labelled"
        (plain text: the model's name may be a user's, so show it literally); "cannot be read" when damaged."""
        if self.info is None:
            return f"Map {self.map_id}: cannot be read"
        return f"{self.info.title} · {'labelled' if self.info.labelled else 'no labels'}"

    @property
    def shared(self) -> bool:
        return self.info is not None and self.info.shared

    @property
    def size(self) -> str:
        """Its size on disk as people read it ("48.2 kB"), "" when unknown."""
        return "" if self.info is None else file_size(self.info.size_bytes)

    def drawn(self, timezone: str | None = None) -> str:
        """When it was drawn, in ``timezone`` (an IANA name, e.g. the browser's), see :func:`drawn_at`."""
        return "" if self.info is None else drawn_at(self.info.created, timezone)


@dataclass(frozen=True)
class WorkspaceMaps:
    """What :func:`workspace_maps` found: ``rows`` in the list's order, ``ids`` the list with the
    vanished ids dropped (``dropped``): store it back when ``dropped`` is not empty."""

    rows: tuple[WorkspaceMap, ...]
    ids: tuple[str, ...]
    dropped: tuple[str, ...] = ()


def stored_ids(value: object, last: object = None) -> list[str]:
    """The map ids a workspace keeps, from its stored list: well-formed ids, once each, in order.

    ``last``: the workspace's last map, for a workspace from before it kept a list (``value`` None):
    that map alone is its list. Anything that is not a list of ids (a damaged file) reads as none.

    >>> stored_ids(["0123456789abcdef", "not an id", "0123456789abcdef"])
    ['0123456789abcdef']
    >>> stored_ids(None, "fedcba9876543210")
    ['fedcba9876543210']
    """
    if value is None:
        value = [last] if last is not None else []
    if not isinstance(value, list):
        return []
    ids: list[str] = []
    for item in value:
        if _well_formed(item) and item not in ids:
            ids.append(item)
    return ids


def _well_formed(map_id: object) -> bool:
    try:
        saved.check_map_id(map_id)
    except ValueError:
        return False
    return True


def add_map(
    ids: Sequence[str],
    map_id: str,
    *,
    to_front: bool = True,
    limit: int = MAX_WORKSPACE_MAPS,
    home: str | Path | None = None,
) -> Kept:
    """The list with ``map_id`` in it once: at the front (a map just drawn), or where it already is when
    ``to_front`` is False (a map opened again). Ids whose map vanished are dropped; past ``limit``
    the oldest leave the list and are deleted from disk unless a share link was made for them.

    Raises
    ------
    ValueError
        When ``map_id`` is not an id (its message names ``map_id``) or ``limit`` is not a positive int.
    """
    saved.check_map_id(map_id)
    check_positive_int(limit, "limit")
    ids = [i for i in stored_ids(list(ids)) if i == map_id or saved.map_exists(i, home=home)]
    listed = ids if map_id in ids and not to_front else [map_id, *(i for i in ids if i != map_id)]
    kept, evicted = listed[:limit], listed[limit:]
    return Kept(tuple(kept), tuple(evicted), _delete_unless_shared(evicted, home))


def _delete_unless_shared(ids: Sequence[str], home: str | Path | None) -> tuple[str, ...]:
    """Delete the maps ``ids`` that no share link was made for; the ids deleted. A map already gone
    (another tab of the workspace tidied it) is skipped."""
    deleted = []
    for map_id in ids:
        try:
            if not saved.is_shared(map_id, home=home):
                saved.delete_map(map_id, home=home)
                deleted.append(map_id)
        except (OSError, ValueError):
            continue
    return tuple(deleted)


def remove_map(ids: Sequence[str], map_id: str, *, home: str | Path | None = None) -> tuple[str, ...]:
    """Delete the saved map ``map_id`` (shared or not: its link stops working) and return the list
    without it. A map already gone is simply left out.

    Raises ValueError when ``map_id`` is not an id, OSError when its folder cannot be removed.
    """
    saved.check_map_id(map_id)
    with contextlib.suppress(saved.MapNotFound):  # already gone: simply left out
        saved.delete_map(map_id, home=home)
    return tuple(i for i in stored_ids(list(ids)) if i != map_id)


def delete_workspace_maps(workspace, *, home: str | Path | None = None) -> tuple[str, ...]:
    """Delete the maps ``workspace`` (an :class:`embedlab.workspace.Workspace`) drew, when it is removed
    (``prune_workspaces(..., on_remove=...)``); shared maps stay, their links still open them.
    The ids deleted."""
    return _delete_unless_shared(stored_ids(workspace.get(MAPS_KEY), workspace.get(LAST_MAP_KEY)), home)


def workspace_maps(ids: Sequence[str], *, on_show: str | None = None, home: str | Path | None = None) -> WorkspaceMaps:
    """The rows for a workspace's maps ``ids`` (read from each ``map.json``), ``on_show`` marked.

    A vanished map is dropped (see :class:`WorkspaceMaps`); a damaged one is a row whose ``info``
    is None and whose ``problem`` says why.
    """
    rows, dropped = [], []
    for map_id in stored_ids(list(ids)):
        try:
            rows.append(WorkspaceMap(map_id, saved.map_info(map_id, home=home), on_show=map_id == on_show))
        except saved.MapDamaged as error:
            rows.append(WorkspaceMap(map_id, None, str(error), on_show=map_id == on_show))
        except ValueError:  # MapNotFound: deleted in another tab
            dropped.append(map_id)
    return WorkspaceMaps(tuple(rows), tuple(row.map_id for row in rows), tuple(dropped))


def drawn_at(created: str, timezone: str | None = None) -> str:
    """A saved map's ``created`` (ISO, UTC) as people read it, in ``timezone`` when it is a known IANA
    name, else in UTC and saying so; the text as it came when it is not a time.

    >>> drawn_at("2026-12-02T21:05:09+00:00", "Europe/Paris")
    '2 Dec 2026, 22:05'
    >>> drawn_at("2026-12-02T21:05:09+00:00")
    '2 Dec 2026, 21:05 UTC'
    """
    try:
        when = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return str(created)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    zone, suffix = UTC, " UTC"
    if timezone:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):  # not a zone name: UTC
            zone, suffix = ZoneInfo(timezone), ""
    local = when.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M}{suffix}"
