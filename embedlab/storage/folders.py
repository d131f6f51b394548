"""Folders and files that must never be lost or used half-made: setting aside, building once.

* :func:`set_aside` renames a damaged file or folder to ``<name>.broken-N`` (never deletes it);
* :func:`build_once` makes a folder once — in a temporary folder beside it, marked complete
  last, renamed into place — and reuses it afterwards (assembled and built models use it);
* :func:`replace_folder` makes a folder anew the same way, replacing what was there (models
  a user trains and retrains under one name use it);
* :func:`remove_folder` takes a folder away so no reader ever sees it half-deleted;
* :func:`folder_size` measures what such a folder holds on disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

#: Written last into a folder made by :func:`build_once`: a folder without it is incomplete.
COMPLETE_MARKER = ".embedlab-complete"
_build_lock = threading.Lock()


def set_aside(path: Path) -> Path:
    """Rename a damaged file or folder out of the way (never delete it) and return the new path.

    The new name is ``<name>.broken-N`` with the first ``N`` not taken yet.

    Raises
    ------
    OSError
        If 999 earlier copies are already there, or the rename fails.
    """
    for n in range(1, 1000):
        target = path.with_name(f"{path.name}.broken-{n}")
        if not target.exists():
            path.rename(target)
            return target
    raise OSError(f"cannot set aside {path}: too many earlier copies")


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` was finished by :func:`build_once` (its completion marker is there)."""
    return (folder / COMPLETE_MARKER).exists()


def build_once(target: Path, build: Callable[[Path], Path]) -> Path:
    """The folder ``target``, made once by ``build(work_folder)`` and then reused.

    ``build`` fills a temporary folder beside ``target`` and returns the folder to keep (that
    folder or one inside it); the completion marker is written last and the folder renamed into
    place, so a crash never leaves a half-made folder where it would be used. A folder there
    without the marker is set aside and rebuilt. Safe across threads and processes: when another
    process finished first, its folder is used.
    """
    if is_complete(target):
        return target
    with _build_lock:
        if is_complete(target):
            return target
        if target.exists():
            set_aside(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            folder = build(work)
            (folder / COMPLETE_MARKER).write_text("built by embedlab\n")
            try:
                os.replace(folder, target)
            except OSError:
                if not is_complete(target):  # not another process's finished copy
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def replace_folder(target: Path, build: Callable[[Path], Path]) -> Path:
    """Make ``target`` anew with ``build(work_folder)``, replacing a folder already there.

    As :func:`build_once`, the new folder is filled beside ``target``, marked complete last and
    renamed into place, so a crash (or a full disk) while it is built leaves the old folder — or
    nothing — where readers look, never a half-made one. The old folder is moved aside first and
    deleted after the new one is in place.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        folder = build(work)
        folder.chmod(0o755)  # mkdtemp makes it 0700; a model folder is as readable as its parent
        (folder / COMPLETE_MARKER).write_text("built by embedlab\n")
        with _build_lock:
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
                os.replace(target, old / "folder")
            os.replace(folder, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def remove_folder(target: Path) -> None:
    """Delete ``target``: renamed out of the way first (one atomic step for readers), then removed."""
    if not target.exists():
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}-deleted-", dir=target.parent))
    os.replace(target, trash / "folder")
    shutil.rmtree(trash, ignore_errors=True)


def folder_size(path: Path) -> int:
    """Bytes on disk under ``path`` (a file or a folder)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
