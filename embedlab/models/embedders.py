"""Embedders: one loaded model behind one small interface, whatever runs it.

An :class:`Embedder` turns texts into L2-normalised float32 rows. It does no caching; that is
:func:`embedlab.encode`'s job. Heavy libraries (torch, sentence-transformers, onnxruntime) are
imported inside the constructors, so ``import embedlab`` stays fast.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit L2 norm (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


#: The names two backends had in cache keys before a model could run on several: vectors cached
#: then were computed exactly as these backends compute them, so they keep answering.
_KEY_NAMES = {"torch-fp32": "sentence-transformers", "onnx-fp32": "onnxruntime"}


def vector_key(name: str, backend: str, dim: int, version: str = "1") -> str:
    """Identifies one model's vectors on one backend in the embedding cache (see :attr:`Embedder.cache_key`).

    Every backend has its own key, so vectors of two backends are never mixed under one:
    ``vector_key("all-MiniLM-L6-v2", "torch-bf16", 384)`` is ``"all-MiniLM-L6-v2|torch-bf16|384|1"``.
    ``torch-fp32`` and ``onnx-fp32`` keep the names they had in keys before backends existed
    (``sentence-transformers``, ``onnxruntime``), so vectors cached then still answer.
    """
    return f"{name}|{_KEY_NAMES.get(backend, backend)}|{dim}|{version}"


class Embedder:
    """A loaded model. Safe to share between threads: calls to :meth:`encode` are serialised.

    Attributes
    ----------
    name : str
        The catalog name (or Hugging Face id / folder) it was loaded as.
    dim : int
        Length of each embedding.
    max_tokens : int
        Longer inputs are truncated to this many tokens.
    backend : str
        What runs it, one of :data:`embedlab.models.backends.BACKENDS` (``"torch-fp32"``,
        ``"torch-bf16"``, ``"onnx-fp32"``, ``"onnx-int8"``, ``"openvino"``, ``"cuda-fp16"``), or a
        static model's own path: ``"static"`` or ``"model2vec"``. It is part of :attr:`cache_key`.
    """

    backend = "none"
    #: Made here (fine-tuned or distilled): reloaded when its weights change (see catalog.load_model).
    user_made = False

    def __init__(self, name: str, *, dim: int, max_tokens: int, version: str = "1"):
        self.name = name
        self.dim = dim
        self.max_tokens = max_tokens
        self.version = version
        self._lock = threading.Lock()

    @property
    def cache_key(self) -> str:
        """Identifies this model's vectors in the embedding cache."""
        return vector_key(self.name, self.backend, self.dim, self.version)

    @property
    def parameters(self) -> int | None:
        """Number of weights, when known."""
        return None

    @property
    def weight_bytes(self) -> int | None:
        """Bytes its weights take in this process's memory, when known: what
        :func:`embedlab.load_model`'s bound counts (read once, when the model is kept)."""
        return None

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed ``texts`` (no caching). Returns float32 of shape (len(texts), dim), unit rows."""
        with self._lock:
            return normalise_rows(self._encode(texts, batch_size))

    def token_counts(self, texts: list[str]) -> np.ndarray:
        """Tokens per text before truncation, special tokens included; int array of len(texts)."""
        raise NotImplementedError

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, backend={self.backend!r})"


class SentenceTransformerEmbedder(Embedder):
    """A model loaded by sentence-transformers from a folder or a Hugging Face id.

    ``backend`` says how it runs: ``"torch-fp32"`` (the reference), ``"torch-bf16"`` (the same
    weights, the forward pass inside ``torch.autocast("cpu", dtype=torch.bfloat16)``, outputs cast
    back to float32 before they are normalised) or ``"cuda-fp16"`` (weights in half precision on
    the GPU). Which of them this machine can run: :func:`embedlab.models.backends.available_backends`.
    """

    def __init__(self, name: str, source: str | Path, *, version: str = "1", backend: str = "torch-fp32"):
        # Imported here, not at module level: torch + sentence-transformers cost seconds.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        device = "cuda" if backend == "cuda-fp16" else "cpu"
        self.model = SentenceTransformer(str(source), device=device, trust_remote_code=False)
        if backend == "cuda-fp16":
            self.model.half()
        self.backend = backend
        super().__init__(
            name,
            dim=int(self.model.get_embedding_dimension()),
            max_tokens=int(self.model.max_seq_length or 512),
            version=version,
        )

    def sharing_weights(self, backend: str) -> SentenceTransformerEmbedder:
        """This model on another CPU backend (``"torch-fp32"`` or ``"torch-bf16"``), sharing the
        loaded weights (autocast changes how products run, not the weights)."""
        twin = object.__new__(type(self))
        twin.model, twin.backend, twin.user_made = self.model, backend, self.user_made
        Embedder.__init__(twin, self.name, dim=self.dim, max_tokens=self.max_tokens, version=self.version)
        return twin

    @property
    def parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    @property
    def weight_bytes(self) -> int:
        """Parameters and buffers at their element size (on the GPU for cuda-fp16: none in this process's RAM)."""
        if self.backend == "cuda-fp16":
            return 0
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return int(sum(t.numel() * t.element_size() for t in tensors))

    def _encode(self, texts, batch_size):
        if self.backend == "torch-fp32":
            return self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.backend == "torch-bf16"):
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return vectors.float().cpu().numpy()  # normalised in float32 by Embedder.encode

    def token_counts(self, texts):
        ids = self.model.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]
        return np.array([len(row) for row in ids], dtype=np.int64)


class OnnxEmbedder(Embedder):
    """A transformer exported to ONNX, run by onnxruntime with the ``tokenizers`` library.

    Mean pooling over the attention mask, then L2 normalisation — what sentence-transformers
    does for the MiniLM and MPNet families — done here by hand, so no ``optimum`` is needed.
    ``backend`` names what the file holds: ``"onnx-fp32"`` or ``"onnx-int8"``
    (:mod:`embedlab.models.quantization` builds both).
    """

    def __init__(
        self,
        name: str,
        onnx_file: Path,
        tokenizer_file: Path,
        *,
        max_tokens: int,
        threads: int | None = None,
        version: str = "1",
        backend: str = "onnx-fp32",
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a CPU shared with the server, torch and
        # other users, spinning made encoding 3-4x slower (bench/onnx_backend.py, bench/README.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        outputs = self.session.get_outputs()
        # The token states (batch, sequence, dim): some exports list other outputs first.
        self._output = next((o.name for o in outputs if len(o.shape) == 3), outputs[0].name)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._size = Path(onnx_file).stat().st_size
        self._file = Path(onnx_file)
        self._parameters: int | None = None
        self.backend = backend
        super().__init__(name, dim=0, max_tokens=max_tokens, version=version)
        self.dim = int(self._encode(["dimension probe"], 1).shape[1])

    def _batch(self, texts):
        encodings = self.tokenizer.encode_batch(list(texts))
        length = min(max(len(e.ids) for e in encodings), self.max_tokens)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            tokens = encoding.ids
            if len(tokens) > length:  # keep [CLS] ... and the final [SEP]
                tokens = tokens[: length - 1] + tokens[-1:]
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return ids, mask

    @property
    def parameters(self) -> int | None:
        """Weights stored in the graph (quantisation scales included); None without ``onnx``."""
        if self._parameters is None:
            try:
                import onnx
            except ImportError:
                return None
            graph = onnx.load(str(self._file), load_external_data=False).graph
            self._parameters = int(sum(int(np.prod(t.dims)) for t in graph.initializer))
        return self._parameters

    @property
    def weight_bytes(self) -> int:
        """The ONNX file's size: onnxruntime holds its initializers (the weights) in memory."""
        return self._size

    def _encode(self, texts, batch_size):
        out = []
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch
        for start in range(0, len(texts), batch_size):
            chunk = [texts[i] for i in order[start : start + batch_size]]
            ids, mask = self._batch(chunk)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run([self._output], {k: v for k, v in feeds.items() if k in self._inputs})[0]
            if hidden.ndim == 3:
                weights = mask[:, :, None].astype(np.float32)
                hidden = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out.append(np.asarray(hidden, dtype=np.float32))
        result = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        result[order] = np.concatenate(out)
        return result

    def token_counts(self, texts):
        return np.array([len(e.ids) for e in self.tokenizer.encode_batch(list(texts))], dtype=np.int64)


class StaticEmbedder(Embedder):
    """A static (model2vec-style) model: a token → vector table, averaged. No transformer.

    Encoding uses the ``static_model`` package's own compiled encoder; the tokenizer in its
    folder counts tokens.
    """

    backend = "static"

    def __init__(self, name: str, folder: Path, *, max_tokens: int = 512):
        from static_model import encode_batch
        from tokenizers import Tokenizer

        self._encode_batch = encode_batch
        self._folder = str(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        super().__init__(name, dim=0, max_tokens=max_tokens)
        self.dim = int(self._encode(["dimension probe"], 1).shape[1])

    @property
    def weight_bytes(self) -> int:
        """The token table's file size (``static_model`` keeps the table itself, per folder)."""
        return sum(f.stat().st_size for f in Path(self._folder).glob("*.safetensors"))

    def _encode(self, texts, batch_size):
        return np.asarray(self._encode_batch(self._folder, list(texts), self.max_tokens), dtype=np.float32)

    def token_counts(self, texts):
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return np.array([len(e.ids) for e in encodings], dtype=np.int64)


class Model2VecEmbedder(Embedder):
    """A static model made by model2vec's distillation (:func:`embedlab.tuning.distil`).

    model2vec's ``StaticModel`` tokenizes, looks up and mean-pools; there is no transformer.
    """

    backend = "model2vec"

    def __init__(self, name: str, folder: Path, *, max_tokens: int = 512, version: str = "1"):
        from model2vec import StaticModel

        self.model = StaticModel.from_pretrained(str(folder))
        self.tokenizer = self.model.tokenizer
        super().__init__(name, dim=int(self.model.dim), max_tokens=max_tokens, version=version)

    @property
    def parameters(self) -> int:
        return int(np.prod(self.model.embedding.shape))

    @property
    def weight_bytes(self) -> int:
        return int(np.asarray(self.model.embedding).nbytes)

    def _encode(self, texts, batch_size):
        return np.asarray(
            self.model.encode(
                list(texts), batch_size=max(batch_size, 1024), max_length=self.max_tokens, show_progress_bar=False
            ),
            dtype=np.float32,
        )

    def token_counts(self, texts):
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return np.array([len(e.ids) for e in encodings], dtype=np.int64)
