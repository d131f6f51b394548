"""embedlab: understand and choose text-embedding models.

A pure, cached core — encoding, projection, cosine ranking — used by the Streamlit dashboard,
the command line (``python -m embedlab``) and notebooks alike. Importing it is fast: torch and
sentence-transformers load only when a model does.

>>> import embedlab
>>> vectors = embedlab.encode(["The cat sits on the mat", "Dogs are loyal companions"])
>>> idx, scores = embedlab.rank(vectors[:1], vectors, k=2)
>>> idx.tolist()
[[0, 1]]
"""

from .maps.compare import neighbour_overlap
from .maps.projection import ProjectionPlan, plan_projection, project
from .maps.quality import knn_label_agreement, neighbour_kept, silhouette, trustworthiness
from .models.backends import BACKENDS, available_backends, choose_backend
from .models.cache import EmbeddingCache, embedding_cache
from .models.calibration import BackendChoice
from .models.catalog import ModelInfo, list_models, load_model
from .models.embedders import Embedder
from .models.encoding import encode, truncated
from .models.entries import DEFAULT_MODEL
from .models.packaged import ModelUnavailable
from .retrieval.ranking import rank
from .storage.home import data_dir

__version__ = "0.1.0"

# Names whose modules import pandas: loaded on first use, so ``import embedlab`` stays fast.
_LAZY = {
    "benchmark": "benchmarking.run",
    "BenchmarkStore": "benchmarking.store",
    "evaluate_retrieval": "retrieval.evaluation",
    "RetrievalResult": "retrieval.evaluation",
    "Recommendation": "decision",
    "recommend": "decision",
    "review": "reviewing.run",
    "ReviewStore": "reviewing.store",
    "storage_table": "retrieval.storage",
    "StorageTable": "retrieval.storage",
    "finetune": "tuning.finetune",
    "FinetuneResult": "tuning.finetune",
    "distil": "tuning.distil",
    "DistilResult": "tuning.distil",
    "build_collection": "memory",
    "search_collection": "memory",
    "list_collections": "memory",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'embedlab' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "BackendChoice",
    "BenchmarkStore",
    "DistilResult",
    "Embedder",
    "EmbeddingCache",
    "FinetuneResult",
    "ModelInfo",
    "ModelUnavailable",
    "ProjectionPlan",
    "RetrievalResult",
    "StorageTable",
    "available_backends",
    "benchmark",
    "build_collection",
    "choose_backend",
    "data_dir",
    "distil",
    "embedding_cache",
    "encode",
    "evaluate_retrieval",
    "finetune",
    "knn_label_agreement",
    "list_collections",
    "list_models",
    "load_model",
    "neighbour_kept",
    "neighbour_overlap",
    "plan_projection",
    "project",
    "rank",
    "recommend",
    "review",
    "search_collection",
    "silhouette",
    "storage_table",
    "truncated",
    "trustworthiness",
]
