"""Building one embedder: a model, by name, on one backend — the catalog's, a made model's, a hub id's or a folder's.

:func:`build` is the one place that turns a name and a concrete backend into an
:class:`~embedlab.models.embedders.Embedder`. :func:`embedlab.load_model` keeps what it builds
(:mod:`embedlab.models.catalog`); the calibration of backends and the benchmark build fresh ones.
The heavy libraries are imported by the embedders' constructors, not here.
"""

from __future__ import annotations

from pathlib import Path

from . import embedders, quantization, user
from .entries import by_name, minilm_tokenizer
from .errors import ModelUnavailable
from .sources import local_folder, resolve_hub_id


def build(name: str, backend: str) -> embedders.Embedder:
    """A new Embedder for ``name`` (the catalog's spelling) on ``backend`` (a concrete backend
    that can run it here: checked by :func:`embedlab.models.backends.check_backend`, never "auto").

    Raises
    ------
    LookupError
        (:class:`ModelUnavailable`) when the model cannot be loaded here; one sentence says why.
    """
    entry = by_name(name)
    if entry is not None:
        if backend == "static":
            return embedders.StaticEmbedder(name, entry.locate(), max_tokens=entry.max_tokens)
        if entry.backend == "onnxruntime":  # a model that is an ONNX file (shipped, or the int8 MiniLM)
            return embedders.OnnxEmbedder(
                name,
                entry.locate(),
                minilm_tokenizer(),
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
    folder = local_folder(name)
    return _sentence_transformer(name, folder if folder is not None else name, backend=backend)


def _sentence_transformer(name: str, source: Path | str, *, version: str = "1", backend: str = "torch-fp32"):
    if isinstance(source, str):  # a hub id: fail in a second, not after minutes of retries
        source = resolve_hub_id(name, source)
    try:
        return embedders.SentenceTransformerEmbedder(name, source, version=version, backend=backend)
    except Exception as error:  # whatever the hub or the loader raises, the user gets one sentence
        raise ModelUnavailable(
            f"the model {name} could not be loaded ({type(error).__name__}: {str(error)[:120]})"
        ) from error
