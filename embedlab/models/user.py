"""Models the user made here — fine-tuned and distilled — and where they live.

Each is a folder under ``$EMBEDLAB_HOME/models/<kind>/<name>/`` (``kind`` is ``finetuned`` or
``distilled``), written whole by :func:`embedlab.storage.folders.replace_folder` (a temporary
folder, a completion marker, one rename), holding the weights and ``embedlab-card.json``: what
it was made from, how, the held-out figures and the hash of its weights. A folder without the
marker is never listed or loaded.

The weights' hash is part of the model's embedding-cache key
(:func:`embedlab.models.embedders.vector_key`), so a model retrained under the same name never
serves the vectors of its earlier weights. This module trains nothing (see
:mod:`embedlab.tuning`); it only finds and describes what was made (naming, deleting and keeping
a rejected model are in :mod:`embedlab.tuning.saved`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..storage.folders import folder_size, is_complete
from ..storage.home import data_dir

#: Kinds of user-made models and the backend that runs each.
KINDS = {"finetuned": "sentence-transformers", "distilled": "model2vec"}
CARD_FILE = "embedlab-card.json"
#: A held-out result worse than the base model's is kept here until the user keeps it anyway.
REJECTED = ".rejected"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".npy")


@dataclass(frozen=True)
class UserModel:
    """One model made here, as its card describes it.

    Attributes
    ----------
    name : str
        What it is loaded as (``embedlab.encode(texts, model=name)``).
    kind : str
        ``"finetuned"`` or ``"distilled"``.
    path : pathlib.Path
        Its folder.
    card : dict
        The card (``embedlab-card.json``): ``base``, ``dim``, ``weights_sha256``, ``created``,
        figures and settings.
    """

    name: str
    kind: str
    path: Path
    card: dict

    @property
    def backend(self) -> str:
        return KINDS[self.kind]

    @property
    def dim(self) -> int:
        return int(self.card.get("dim") or 0)

    @property
    def base(self) -> str:
        return str(self.card.get("base") or "")

    @property
    def weights_hash(self) -> str:
        """The first 16 hex digits of the weights' SHA-256 (the cache-key version)."""
        return str(self.card.get("weights_sha256") or "")[:16] or "unknown"

    @property
    def max_tokens(self) -> int:
        return int(self.card.get("max_tokens") or 512)

    @property
    def size_bytes(self) -> int:
        return folder_size(self.path)

    def row(self) -> dict:
        """This model as one row of a table for people: name, kind, base, dimensions, held-out MRR, size, date."""
        before, after = self.card.get("before") or {}, self.card.get("after") or {}
        return {
            "model": self.name,
            "kind": "fine-tuned" if self.kind == "finetuned" else "distilled",
            "base": self.base,
            "dimensions": self.dim,
            "held-out MRR before": before.get("mrr"),
            "held-out MRR after": after.get("mrr"),
            "size (MB)": round(self.size_bytes / 1e6, 1),
            "created": str(self.card.get("created", ""))[:19].replace("T", " "),
        }

    def summary(self) -> str:
        """One line: what it was made from and its held-out change, e.g. for the model catalog."""
        made = "Fine-tuned" if self.kind == "finetuned" else "Distilled (static)"
        pairs = self.card.get("n_pairs")
        head = f"{made} from {self.base}" + (f" on {pairs:,} pairs" if pairs else "")
        before, after = self.card.get("before") or {}, self.card.get("after") or {}
        if "mrr" in before and "mrr" in after:
            head += f"; held-out MRR@{after.get('k', 10)} {before['mrr']:.3f} → {after['mrr']:.3f}"
        return head + f" ({str(self.card.get('created', ''))[:10]})"


def models_root() -> Path:
    return data_dir() / "models"


def folder_for(kind: str, name: str, *, rejected: bool = False) -> Path:
    """Where a user model of ``kind`` called ``name`` lives (it may not exist)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    root = models_root() / kind
    return (root / REJECTED / name) if rejected else (root / name)


def read_card(folder: Path) -> dict:
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def find(name: str, *, rejected: bool = False) -> UserModel | None:
    """The complete user model called ``name`` (fine-tuned first, then distilled), or None."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name.strip()):
        return None
    for kind in KINDS:
        folder = folder_for(kind, name.strip(), rejected=rejected)
        if is_complete(folder):
            return UserModel(name.strip(), kind, folder, read_card(folder))
    return None


def list_user_models() -> list[UserModel]:
    """Every complete user model, fine-tuned then distilled, each by name."""
    out = []
    for kind in KINDS:
        root = models_root() / kind
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and is_complete(folder):
                out.append(UserModel(folder.name, kind, folder, read_card(folder)))
    return out


def weights_sha256(folder: Path) -> str:
    """SHA-256 over the weight files under ``folder`` (their relative paths and bytes, in order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
