"""encode(): texts → unit-length float32 vectors, through the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..validation import check_choice, check_positive_int, check_texts
from .backends import BACKENDS, SINGLE_PATHS
from .cache import embedding_cache, text_key
from .catalog import cached_identity, load_model, loaded_embedder
from .embedders import Embedder
from .entries import DEFAULT_MODEL, by_name, model_backends

#: ``progress(done, total)``: texts encoded so far out of those the model has to encode.
Progress = Callable[[int, int], None]
#: Texts handed to the model at once when a progress callback wants news between them.
PROGRESS_CHUNK = 256
#: Tokens a tokenizer may add beyond one per byte of text (CLS/SEP, <s></s>, a prefix space), with room to spare.
SPECIAL_TOKENS = 4


def encode(
    texts: Iterable[str],
    model: str | Embedder = DEFAULT_MODEL,
    *,
    backend: str = "auto",
    batch_size: int = 32,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> np.ndarray:
    """Embed texts with a model; rows are L2-normalised.

    Texts already encoded with the same model on the same backend — in this process or, through
    the persistent cache, in an earlier one — cost no model work (a catalog model is not even
    loaded when every text is cached), and a text repeated within ``texts`` is encoded once.
    Vectors of different backends are cached apart and never mixed in one answer.

    Parameters
    ----------
    texts : list of str
        One or more texts. Empty strings are allowed.
    model : str or Embedder, default "all-MiniLM-L6-v2"
        A catalog name, Hugging Face id or allowed local folder, or a loaded Embedder.
    backend : str, default "auto"
        How to run the model (see :func:`embedlab.load_model`): ``"auto"`` — the backend chosen
        for this machine, read from its record without loading anything when the texts are
        cached (torch-fp32 until a choice is recorded) — or a backend name; ``"torch-fp32"``
        reproduces sentence-transformers exactly. With an Embedder: "auto" or its own backend.
    batch_size : int, default 32
        Texts per forward pass.
    progress : callable, optional
        Called as ``progress(done, total)`` while the texts missing from the cache are encoded.
    use_cache : bool, default True
        False skips both cache levels (for measuring the model itself).

    Returns
    -------
    ndarray of shape (n_texts, dim), float32
        Unit-length rows; with ``backend="torch-fp32"`` within 1e-5 of
        ``SentenceTransformer(...).encode(texts, normalize_embeddings=True)``, on the other backends
        within the cosine their check allows (0.999, or 0.99 for int8). (Under the static model a
        text with no known tokens, such as "", has no direction and is the zero row.)

    Raises
    ------
    TypeError, ValueError
        For an empty list, non-string items, text that is not valid Unicode, a bad
        ``batch_size``, a ``backend`` that cannot run the model here;
        :class:`~embedlab.ModelUnavailable` (a LookupError) when the model cannot be loaded here.

    Examples
    --------
    >>> import embedlab
    >>> vectors = embedlab.encode(["The cat sits on the mat", "A cat is sitting on a rug"])
    >>> vectors.shape
    (2, 384)
    """
    texts = check_texts(texts)
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(model, Embedder):
        if backend not in ("auto", model.backend):
            raise ValueError(
                f"backend must be 'auto' or {model.backend!r} (the backend the given model runs on), got {backend!r}."
            )
    else:
        check_choice(backend, "backend", ("auto", *BACKENDS, *SINGLE_PATHS))
    if not use_cache:
        embedder = model if isinstance(model, Embedder) else load_model(model, backend=backend)
        return _encode_with_progress(embedder, texts, batch_size, progress)

    embedder = model if isinstance(model, Embedder) else None
    identity = (embedder.cache_key, embedder.dim) if embedder is not None else cached_identity(model, backend)
    if identity is None:  # not a catalog model: its key is known once it is loaded
        embedder = load_model(model, backend=backend)
        identity = (embedder.cache_key, embedder.dim)
    cache_key, dim = identity

    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    cache = embedding_cache()
    found = _cached(cache, cache_key, list(first), dim)
    missing = [key for key in first if key not in found]
    if missing and embedder is None:
        embedder = load_model(model, backend=backend)
        if embedder.cache_key != cache_key:  # "auto" chose its backend while loading: look under its key
            cache_key, dim = embedder.cache_key, embedder.dim
            found = _cached(cache, cache_key, list(first), dim)
            missing = [key for key in first if key not in found]
    if missing:
        vectors = _encode_with_progress(embedder, [texts[first[k]] for k in missing], batch_size, progress)
        fresh = dict(zip(missing, vectors, strict=True))
        cache.put_many(cache_key, fresh.items())
        found.update(fresh)
    elif progress is not None:
        progress(0, 0)
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = found[key]
    return out


def _cached(cache, cache_key: str, keys: list[bytes], dim: int) -> dict[bytes, np.ndarray]:
    found = cache.get_many(cache_key, keys)
    return {key: vector for key, vector in found.items() if vector.shape == (dim,)}


def _encode_with_progress(embedder: Embedder, texts: list[str], batch_size: int, progress: Progress | None):
    if progress is None:
        return embedder.encode(texts, batch_size=batch_size)
    chunk = max(PROGRESS_CHUNK, batch_size)
    parts = []
    progress(0, len(texts))
    for start in range(0, len(texts), chunk):
        parts.append(embedder.encode(texts[start : start + chunk], batch_size=batch_size))
        progress(min(start + chunk, len(texts)), len(texts))
    return np.concatenate(parts)


def truncated(texts: Iterable[str], model: str | Embedder = DEFAULT_MODEL) -> list[int]:
    """Indices of the texts longer than the model's maximum tokens (they are truncated when encoded).

    For a catalog model given by name, texts too short in UTF-8 bytes to reach its limit are
    answered without loading it (a token covers at least one byte; :data:`SPECIAL_TOKENS` spare).
    Otherwise every backend of a model shares its tokenizer: one already loaded is used, else the
    reference (no calibration is needed to count tokens).
    """
    texts = check_texts(texts)
    if not isinstance(model, Embedder):
        entry = by_name(model) if isinstance(model, str) else None
        if entry is not None and all(
            len(t.encode("utf-8", "surrogatepass")) + SPECIAL_TOKENS <= entry.max_tokens for t in texts
        ):
            return []
        model = loaded_embedder(model) or load_model(model, backend=model_backends(model)[0])
    counts = model.token_counts(texts)
    return [int(i) for i in np.flatnonzero(counts > model.max_tokens)]
