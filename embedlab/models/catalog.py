"""The model catalog as users see it, and loading: each model once per process, a bounded few at a time.

:func:`list_models` says which models embedlab knows and whether each can run here (the entries
themselves are in :mod:`embedlab.models.entries`). :func:`load_model` builds a model
(:mod:`embedlab.models.builders`) on the backend ``auto`` chose for this machine
(:mod:`embedlab.models.backends`) and keeps it for the next call — at most
:data:`MAX_MODELS` models and :data:`MAX_MODEL_MB` MB of weights (``$EMBEDLAB_MAX_MODELS``,
``$EMBEDLAB_MAX_MODEL_MB``): past either, the least recently used model leaves the process and
is built again if asked for (the default model reloads in well under a second once torch is
imported). A server that showed one user several models no longer holds them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..storage.folders import folder_size, is_complete
from . import backends, builders, user
from .embedders import Embedder, vector_key
from .entries import DEFAULT_MODEL, ENTRIES, CatalogEntry, by_name, canonical_name, checked_name
from .errors import ModelUnavailable
from .sources import hub_cache_dir, is_hub_id, local_folder

#: Models a process keeps loaded at most (each backend of a model counts as one); ``$EMBEDLAB_MAX_MODELS``.
MAX_MODELS = 3
MAX_MODELS_ENV = "EMBEDLAB_MAX_MODELS"
#: Megabytes of weights the loaded models may hold at most (the last one used always stays); ``$EMBEDLAB_MAX_MODEL_MB``.
MAX_MODEL_MB = 1536
MAX_MODEL_MB_ENV = "EMBEDLAB_MAX_MODEL_MB"


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
    return [_info(entry) for entry in ENTRIES] + [_user_info(m) for m in user.list_user_models()]


# -- the loaded models ---------------------------------------------------------------------------

#: (name, backend) → Embedder, least recently used first; with each one's weight bytes.
_loaded: OrderedDict[tuple[str, str], Embedder] = OrderedDict()
_weights: dict[tuple[str, str], int] = {}
_load_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _setting(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{variable} must be a positive integer, got {raw!r}.")
    return value


def model_limits() -> tuple[int, int]:
    """``(models, bytes)``: how many models, and how many bytes of their weights, a process keeps
    loaded at most — :data:`MAX_MODELS` and :data:`MAX_MODEL_MB` MB unless ``$EMBEDLAB_MAX_MODELS``
    or ``$EMBEDLAB_MAX_MODEL_MB`` say otherwise.

    Raises
    ------
    ValueError
        If either variable is set to something other than a positive integer (the message names it).
    """
    return _setting(MAX_MODELS_ENV, MAX_MODELS), _setting(MAX_MODEL_MB_ENV, MAX_MODEL_MB) * 2**20


def load_model(name: str = DEFAULT_MODEL, *, backend: str = "auto") -> Embedder:
    """Load a model once per process (per backend) and return its :class:`~embedlab.models.embedders.Embedder`.

    Loaded models are kept for the next call, a bounded few (:func:`model_limits`): loading one
    more drops the least recently used, which a later call builds again.

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
        If ``backend`` is not "auto" or a backend that runs this model here (the message lists
        those), or a limit in the environment is not a positive integer.
    LookupError
        (:class:`ModelUnavailable`) if the model cannot be loaded here; the message says why
        and how to make it available.
    """
    name = checked_name(name)
    backend = backends.check_backend(name, backend)
    limits = model_limits()
    with _registry_lock:
        for key in [k for k in _loaded if k[0] == name and _is_stale(name, _loaded[k])]:
            _drop(key)  # retrained or deleted since it was loaded
        lock = _load_locks.setdefault(name, threading.Lock())
    with lock:
        built = None
        if backend == "auto":
            backend, built = backends.auto_backend(name)
        key = (name, backend)
        with _registry_lock:
            if key in _loaded:
                _loaded.move_to_end(key)
                return _loaded[key]
        embedder = built if built is not None else builders.build(name, backend)
        size = int(embedder.weight_bytes or 0)
        with _registry_lock:
            _loaded[key] = embedder
            _weights[key] = size
            dropped = _over_limits(*limits)
    if dropped:
        del dropped
        release_memory()
    return embedder


def _over_limits(max_models: int, max_bytes: int) -> list[Embedder]:
    """Drop the least recently used models until both limits hold or one model is left (the
    registry lock held); the models dropped (the caller lets go of them outside the lock)."""
    dropped = []
    while len(_loaded) > 1 and (len(_loaded) > max_models or sum(_weights.values()) > max_bytes):
        dropped.append(_drop(next(iter(_loaded))))
    return dropped


def _drop(key: tuple[str, str]) -> Embedder:
    _weights.pop(key, None)
    return _loaded.pop(key)


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the operating system (glibc's ``malloc_trim``
    where there is one), so that a model dropped from memory lowers the process's resident size."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: the allocator keeps what it keeps
        ctypes.CDLL(None).malloc_trim(0)  # the C library this process already runs on


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
            _drop(key)


def loaded_models() -> list[str]:
    """Names of the models this process holds loaded (on any backend), least recently used first."""
    with _registry_lock:
        return list(dict.fromkeys(name for name, _ in _loaded))


def loaded_weight_bytes() -> int:
    """Bytes of weights the models this process holds loaded take (their
    :attr:`~embedlab.models.embedders.Embedder.weight_bytes`; at most :func:`model_limits`' second
    figure, unless a single model is larger)."""
    with _registry_lock:
        return sum(_weights.values())


def loaded_embedder(name: str) -> Embedder | None:
    """An Embedder of ``name`` this process holds loaded (on any backend), or None."""
    name = checked_name(name)
    with _registry_lock:
        return next((embedder for (loaded, _), embedder in _loaded.items() if loaded == name), None)


def build_fresh(name: str, *, backend: str = "auto") -> Embedder:
    """A new Embedder for ``name`` on ``backend``, built the way :func:`load_model` builds it the
    first time, but neither taken from nor kept in its per-process cache (the benchmark loads every
    model fresh). ``"auto"`` resolves as in :func:`load_model` (and may calibrate). Same names and
    errors as :func:`load_model`."""
    name = checked_name(name)
    backend = backends.check_backend(name, backend)
    if backend == "auto":
        backend, _ = backends.auto_backend(name)
    return builders.build(name, backend)


def cached_identity(name: str, backend: str = "auto") -> tuple[str, int] | None:
    """``(cache key, dim)`` of a catalog or made model's vectors on ``backend``, known without
    loading it (nor importing torch); None for other models.

    ``"auto"`` is the backend recorded for this machine (see
    :func:`embedlab.models.backends.key_backend`): torch-fp32 until a choice is recorded. Lets
    :func:`embedlab.encode` answer from the cache before paying for a model load.
    """
    entry = by_name(name)
    made = None if entry is not None or not isinstance(name, str) else user.find(name)
    if entry is None and (made is None or not made.dim):
        return None
    backend = backends.key_backend(name, backends.check_backend(name, backend))
    if entry is None:
        return vector_key(made.name, backend, made.dim, made.weights_hash), made.dim
    return vector_key(entry.name, backend, entry.dim, entry.version), entry.dim


def trainable_folder(name: str) -> Path:
    """The folder of a sentence-transformers model that can be fine-tuned or distilled from.

    A catalog transformer (assembled or located as for loading), a model fine-tuned here, or an
    allowed local folder. Raises :class:`ModelUnavailable` with one sentence for a model that is
    not a transformer run by sentence-transformers (ONNX, static), or that is not on this machine.
    """
    name = checked_name(name)
    entry = by_name(name)
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
    folder = local_folder(name)
    if folder is not None:
        return folder
    cached = hub_cache_dir(name) if is_hub_id(name) else None
    if cached is None:
        raise ModelUnavailable(
            f"the base model {name} is not on this machine; choose a catalog transformer such as {DEFAULT_MODEL}"
        )
    return cached
