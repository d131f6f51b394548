"""Saved maps: a drawn map kept on disk under an id, to reopen it later or share it by link.

:func:`save_map` writes a :class:`~embedlab.maps.pipeline.MapResult` — its sentences, labels,
metadata columns (an uploaded table's other columns), embeddings, points, settings, model,
projection plan and, when given, its quality figures — to ``$EMBEDLAB_HOME/maps/<id>/``;
:func:`load_map` reads it back equal, with no model loaded and nothing encoded or projected. The
folder is filled beside its final place, marked complete last and renamed into place
(:func:`embedlab.storage.folders.replace_folder`), so no reader ever sees half a map, and two
saves never share a folder (each gets a new random id).

>>> from embedlab.maps.pipeline import build_map
>>> result = build_map(["The cat sits on the mat", "A kitten naps", "Stocks fell"], method="pca")
>>> map_id = save_map(result)
>>> load_map(map_id).result.texts == result.texts
True
>>> delete_map(map_id)

The files: ``map.json`` (settings, plan, figures; small, read by :func:`list_maps`), ``texts.json``
(sentences, labels and metadata columns) and ``arrays.npz`` (embeddings and points; loaded with
allow_pickle=False, so a file can hold numbers only). Anyone who knows an id (16 random hex digits) can open the map, as with a shared review link.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..models.own import OwnVectors
from ..storage.files import write_text_atomic
from ..storage.folders import folder_size, is_complete, remove_folder, replace_folder
from ..storage.home import data_dir
from .explore import MapQuality
from .figures import map_title
from .pipeline import MapResult, MapSettings
from .projection import ProjectionPlan
from .sentences import MetadataColumn

__all__ = [
    "FORMAT",
    "MapDamaged",
    "MapInfo",
    "MapNotFound",
    "SavedMap",
    "check_map_id",
    "delete_map",
    "is_shared",
    "list_maps",
    "load_map",
    "map_exists",
    "map_info",
    "maps_dir",
    "mark_shared",
    "save_map",
]

#: The version of the saved files' layout (``map.json``'s ``format``).
FORMAT = 1
#: Longest map name kept (characters).
MAX_NAME = 200
_ID = re.compile(r"[0-9a-f]{16}")
_SHARED_MARKER = "shared"
#: MapResult fields written on their own (the rest go to map.json as they are).
_APART = {"texts", "labels", "metadata", "settings", "plan", "embedder"}


class MapNotFound(ValueError):
    """No saved map has this id (never saved, deleted, or saved under another data directory)."""


class MapDamaged(ValueError):
    """A saved map's files cannot be read back; the message says which and what to do."""


@dataclass(frozen=True)
class SavedMap:
    """A map read back by :func:`load_map`.

    ``result`` is the map as drawn (its ``embedder`` is rebuilt from the saved vectors when the map
    was drawn from vectors brought from elsewhere, else None: a search encodes with the model by
    name); ``quality`` the figures saved with it, if any; ``created`` an ISO time in UTC;
    ``shared`` whether a share link was made for it (:func:`mark_shared`).
    """

    map_id: str
    result: MapResult = field(repr=False)
    quality: MapQuality | None
    created: str
    name: str = ""
    shared: bool = False


@dataclass(frozen=True)
class MapInfo:
    """One saved map as :func:`list_maps` lists it (read from its small ``map.json`` only)."""

    map_id: str
    created: str
    name: str
    model: str
    method: str
    n_points: int
    n_components: int
    labelled: bool
    shared: bool
    size_bytes: int
    #: The map's title as its chart shows it (plain text, not escaped), e.g.
    #: "all-MiniLM-L6-v2 · PCA 2-D · 16 sentences".
    title: str = ""


def maps_dir(home: str | Path | None = None) -> Path:
    """The folder that holds every saved map (``<data dir>/maps``), created if needed."""
    folder = (Path(home) if home is not None else data_dir()) / "maps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_map_id(map_id: object) -> str:
    """Return ``map_id`` if it has the form :func:`save_map` gives (16 hex digits); ValueError otherwise."""
    if not isinstance(map_id, str) or not _ID.fullmatch(map_id):
        shown = repr(map_id) if not isinstance(map_id, str) else repr(map_id[:40])
        raise ValueError(
            f"map_id must be 16 characters from 0-9 and a-f (the end of a map link), got {shown}; "
            "copy the whole link again."
        )
    return map_id


def _folder(map_id: object, home: str | Path | None) -> Path:
    map_id = check_map_id(map_id)
    folder = maps_dir(home) / map_id
    if not is_complete(folder):
        raise MapNotFound(
            f"No saved map has the id {map_id} on this server: it was deleted, or saved under another data directory."
        )
    return folder


def map_exists(map_id: object, *, home: str | Path | None = None) -> bool:
    """Whether a saved map with this id is there (False for an id of the wrong form too)."""
    try:
        _folder(map_id, home)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ saving
def save_map(
    result: MapResult,
    *,
    quality: MapQuality | None = None,
    name: str = "",
    home: str | Path | None = None,
) -> str:
    """Save ``result`` (and its ``quality`` figures, when given) under a new id, and return the id.

    Parameters
    ----------
    result : MapResult
        A map from :func:`embedlab.maps.pipeline.build_map`.
    quality : MapQuality, optional
        :func:`embedlab.maps.explore.map_quality` of the map, kept so a reader need not measure again.
    name : str, default ""
        What the map is called in lists (at most :data:`MAX_NAME` characters are kept).
    home : path, optional
        The data directory (default ``$EMBEDLAB_HOME``).

    Returns
    -------
    str
        The map's id: 16 random hex digits, also the end of its share link.

    Raises
    ------
    TypeError
        When ``result`` is not a MapResult or ``quality`` not a MapQuality.
    OSError
        When the data directory cannot be written (nothing half-written is left where readers look).
    """
    if not isinstance(result, MapResult):
        raise TypeError(f"result must be a MapResult (from build_map), got {type(result).__name__}.")
    if quality is not None and not isinstance(quality, MapQuality):
        raise TypeError(f"quality must be a MapQuality (from explore.map_quality), got {type(quality).__name__}.")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    folder = maps_dir(home)
    map_id = secrets.token_hex(8)
    while (folder / map_id).exists():  # 64 random bits: practically never
        map_id = secrets.token_hex(8)

    arrays, values = {}, {}
    for spec in dataclasses.fields(result):
        if spec.name in _APART:
            continue
        value = getattr(result, spec.name)
        if isinstance(value, np.ndarray):
            arrays[spec.name] = value
        else:
            values[spec.name] = list(value) if isinstance(value, tuple) else value
    header = {
        "format": FORMAT,
        "id": map_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "name": name.strip()[:MAX_NAME],
        "n_points": len(result.texts),
        "labelled": result.labels is not None,
        "settings": dataclasses.asdict(result.settings),
        "plan": dataclasses.asdict(result.plan),
        "result": values,
        "quality": None if quality is None else dataclasses.asdict(quality),
    }
    texts = {
        "texts": list(result.texts),
        "labels": None if result.labels is None else list(result.labels),
        "metadata": [{"name": c.name, "kind": c.kind, "values": list(c.values)} for c in result.metadata],
    }

    def build(work: Path) -> Path:
        (work / "map.json").write_text(
            json.dumps(header, ensure_ascii=False, indent=1, default=_plain), encoding="utf-8"
        )
        (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, default=_plain), encoding="utf-8")
        with (work / "arrays.npz").open("wb") as out:
            np.savez(out, **arrays)
        return work

    replace_folder(folder / map_id, build)
    return map_id


def is_shared(map_id: str, *, home: str | Path | None = None) -> bool:
    """Whether a share link was made for the saved map (:func:`mark_shared`). Raises as :func:`load_map`."""
    return (_folder(map_id, home) / _SHARED_MARKER).exists()


def mark_shared(map_id: str, *, home: str | Path | None = None) -> None:
    """Mark a saved map as shared (a link to it was given out): pages keep it when they tidy up.

    Raises MapNotFound / ValueError as :func:`load_map` does.
    """
    write_text_atomic(_folder(map_id, home) / _SHARED_MARKER, "a share link was made for this map\n")


# ------------------------------------------------------------------ reading
def load_map(map_id: str, *, home: str | Path | None = None) -> SavedMap:
    """The map saved under ``map_id``, equal to the one saved (arrays read-only).

    Raises
    ------
    ValueError
        When ``map_id`` does not have the form of an id (its message names ``map_id``).
    MapNotFound
        (a ValueError) When no map is saved under that id.
    MapDamaged
        (a ValueError) When the map's files cannot be read back.
    """
    folder = _folder(map_id, home)
    try:
        header = json.loads((folder / "map.json").read_text(encoding="utf-8"))
        if header.get("format") != FORMAT:
            raise ValueError(f"format {header.get('format')!r} is not {FORMAT}, the one this embedlab reads")
        stored = json.loads((folder / "texts.json").read_text(encoding="utf-8"))
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        result = _result(header, stored, arrays)
        quality = None if header.get("quality") is None else _dataclass(MapQuality, header["quality"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        if not is_complete(folder):  # deleted while it was read
            raise MapNotFound(f"No saved map has the id {map_id} on this server: it was just deleted.") from None
        raise MapDamaged(
            f"The saved map {map_id} cannot be read back ({type(error).__name__}: {str(error)[:200]}); "
            "draw it again and share a new link."
        ) from None
    return SavedMap(
        map_id=map_id,
        result=result,
        quality=quality,
        created=str(header.get("created", "")),
        name=str(header.get("name", "")),
        shared=(folder / _SHARED_MARKER).exists(),
    )


def _plain(value):
    """A numpy number as the Python number JSON writes (json.dumps' ``default``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be saved in a map's JSON")


def _dataclass(kind, values: dict):
    """``kind(**values)``, leaving out keys this version does not know (a newer file's)."""
    known = {spec.name for spec in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in values.items() if k in known})


def _result(header: dict, stored: dict, arrays: dict) -> MapResult:
    texts = tuple(str(t) for t in stored["texts"])
    labels = None if stored.get("labels") is None else tuple(str(label) for label in stored["labels"])
    metadata = tuple(
        MetadataColumn(str(c["name"]), c["kind"], tuple(c["values"])) for c in stored.get("metadata") or ()
    )
    if any(len(column) != len(texts) for column in metadata):
        raise ValueError(f"a metadata column does not have one value per text ({len(texts)})")
    settings = _dataclass(MapSettings, header["settings"])
    fields = {spec.name for spec in dataclasses.fields(MapResult)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in header["result"].items() if k in fields}
    for name, array in arrays.items():
        if name in fields:
            array.setflags(write=False)
            values[name] = array
    if len(values["embeddings"]) != len(texts) or len(values["points"]) != len(texts):
        raise ValueError(
            f"{len(texts)} texts but {len(values['embeddings'])} embeddings, {len(values['points'])} points"
        )
    extra = {}
    if settings.model_version:  # drawn from the user's own vectors: they stay usable for a search
        extra["embedder"] = OwnVectors(settings.model, texts, values["embeddings"])
    return MapResult(
        texts=texts,
        labels=labels,
        metadata=metadata,
        settings=settings,
        plan=_dataclass(ProjectionPlan, header["plan"]),
        **values,
        **extra,
    )


def _info(folder: Path) -> MapInfo:
    """A complete map folder's :class:`MapInfo`, from its ``map.json``; OSError/ValueError/TypeError/KeyError if unreadable."""
    header = json.loads((folder / "map.json").read_text(encoding="utf-8"))
    settings, plan = header["settings"], header["plan"]
    model, method, n_points = str(settings["model"]), str(plan["method"]), int(header["n_points"])
    title = map_title(
        model,
        method,
        n_points=n_points,
        n_components=int(settings["n_components"]),
        perplexity=plan.get("perplexity"),
        random_state=settings.get("random_state"),
        n_neighbors=(header.get("result") or {}).get("n_neighbors"),
    )
    return MapInfo(
        map_id=folder.name,
        created=str(header["created"]),
        name=str(header.get("name", "")),
        model=model,
        method=method,
        n_points=n_points,
        n_components=int(settings["n_components"]),
        labelled=bool(header["labelled"]),
        shared=(folder / _SHARED_MARKER).exists(),
        size_bytes=folder_size(folder),
        title=html.unescape(title),  # map_title escapes for plotly; this is plain text
    )


def map_info(map_id: str, *, home: str | Path | None = None) -> MapInfo:
    """One saved map as :func:`list_maps` lists it (its small ``map.json`` only).

    Raises ValueError / MapNotFound as :func:`load_map` does, and MapDamaged when ``map.json``
    cannot be read.
    """
    folder = _folder(map_id, home)
    try:
        return _info(folder)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        if not is_complete(folder):  # deleted while it was read
            raise MapNotFound(f"No saved map has the id {map_id} on this server: it was just deleted.") from None
        raise MapDamaged(
            f"The saved map {map_id} cannot be read ({type(error).__name__}: {str(error)[:200]})."
        ) from None


def list_maps(*, home: str | Path | None = None) -> list[MapInfo]:
    """Every saved map on this server, newest first (all users': never show it to one user as it is)."""
    found = []
    for folder in maps_dir(home).iterdir():
        if not _ID.fullmatch(folder.name) or not is_complete(folder):
            continue  # a map being written (a hidden temporary folder) or something else
        try:
            found.append(_info(folder))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
    return sorted(found, key=lambda info: (info.created, info.map_id), reverse=True)


def delete_map(map_id: str, *, home: str | Path | None = None) -> None:
    """Delete a saved map (renamed away first, so no reader sees it half-deleted).

    Raises MapNotFound / ValueError as :func:`load_map` does.
    """
    remove_folder(_folder(map_id, home))
