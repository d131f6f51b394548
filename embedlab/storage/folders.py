"""Folders and files that must never be lost or used half-made: setting aside, building once.

* :func:`set_aside` renames a damaged file or folder to ``<name>.broken-N`` (never deletes it);
* :func:`build_once` makes a folder once — in a temporary folder beside it, marked complete
  last, renamed into place — and reuses it afterwards (assembled and built models use it);
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


def folder_size(path: Path) -> int:
    """Bytes on disk under ``path`` (a file or a folder)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
