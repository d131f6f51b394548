"""The "IVF" index kind: FAISS's inverted file over 8-bit scalar-quantised unit vectors, in a file.

Built by :func:`embedlab.memory.index.build_index` with ``kind="IVF"``: the collection's vectors
(the memory-mapped float32 file, :func:`~embedlab.memory.index.exact_arrays`), normalised, are
clustered into :func:`partitions` lists by k-means on a sample, then each is stored in its nearest
list as 8-bit codes (``IndexIVFScalarQuantizer``, inner product, 384 bytes a row at 384
dimensions). A query probes the ``nprobe`` lists whose centroids are nearest, takes the
:data:`CANDIDATES` best by the 8-bit codes, and re-scores them with the float32 vectors: every
score is an exact cosine, and the codes only decide which rows are candidates.

``nprobe`` is chosen on the collection itself when the index is built: the smallest of
:data:`NPROBES` whose recall@10 against exact search reaches :data:`TARGET_RECALL` on queries
drawn from the collection (other queries than those :func:`~embedlab.memory.index.measure`
reports the recall on). The file ``<table>.v<V>.ivf-<stamp>.faiss`` lives beside the vector files
and covers exactly data version ``V``, like the HNSW file: stale once rows change.

faiss runs one query on :data:`SEARCH_THREADS` OpenMP thread(s): for a single query the work is a
few thousand codes per list, and waking a team of threads costs more than it saves (see
docs/scaling-collections.md); the build uses every core.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

import numpy as np

from .results import CollectionError

__all__ = ["CANDIDATES", "NPROBES", "TARGET_RECALL", "build_ivf", "ivf_search", "partitions"]

#: Candidates taken from the 8-bit codes and re-scored with the float32 vectors.
CANDIDATES = 100
#: The ``nprobe`` values tried when the index is built, smallest first.
NPROBES = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
#: recall@10 the chosen ``nprobe`` reaches on the build's own sample queries (above the 0.95
#: asked of the index, so that the recall measured on other queries stays above it).
TARGET_RECALL = 0.97
#: Queries drawn from the collection to choose ``nprobe``; k-means training rows per list.
CHOICE_QUERIES, TRAIN_PER_LIST = 100, 64
#: OpenMP threads for one query (the build uses all of them).
SEARCH_THREADS = 1
#: Rows normalised and added per call while building.
ADD_ROWS = 65_536

_INDEXES: dict[str, object] = {}
#: faiss's thread count is one setting per process: searches and builds take turns.
_FAISS = threading.Lock()


def partitions(rows: int) -> int:
    """Inverted lists for ``rows`` rows: 2·√rows, at most 4,096 and at most rows / 39 (k-means wants
    39 training rows per centroid)."""
    return int(max(1, min(4096, round(2 * rows**0.5), rows // 39)))


def _unit(block: np.ndarray) -> np.ndarray:
    block = np.array(block, dtype=np.float32)
    block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    return block


def _faiss():
    """The faiss module, imported with the first IVF build or search: not every collection has one."""
    try:
        import faiss
    except ImportError:
        raise CollectionError(
            "The IVF index needs FAISS, which is not installed: pip install faiss-cpu==1.15.1"
        ) from None
    return faiss


def _index(path: Path):
    """The faiss index at ``path``, read once per process."""
    key = str(path)
    if key not in _INDEXES:
        faiss = _faiss()
        try:
            _INDEXES[key] = faiss.read_index(key)
        except (OSError, RuntimeError, ValueError) as error:
            raise CollectionError(
                f"The approximate index {path.name} cannot be read ({error}); build it again."
            ) from None
    return _INDEXES[key]


def forget(path: Path) -> None:
    """Drop the cached index read from ``path`` (its file was replaced or removed)."""
    _INDEXES.pop(str(path), None)


def _candidates(index, q: np.ndarray, wanted: int, nprobe: int) -> np.ndarray:
    faiss = _faiss()

    with _FAISS:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            index.nprobe = int(nprobe)
            keys = index.search(q, wanted)[1]
        finally:
            faiss.omp_set_num_threads(threads)
    return keys


def ivf_search(settings, q: np.ndarray, k: int, *, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The IVF index's top ``k`` for the vector ``q``: table positions and exact cosines, best first.

    ``vectors`` are the collection's float32 vectors in table order (memory-mapped); the
    index's ``max(k, candidates)`` rows are re-scored with them.
    """
    record = settings["index"]
    index = _index(settings.path / ".exact" / record["file"])
    wanted = max(k, int(record.get("candidates", CANDIDATES)))
    keys = _candidates(index, _unit(np.asarray(q).reshape(1, -1)), wanted, record["nprobe"])[0]
    return _top(vectors, keys, q, k)


def _top(vectors: np.ndarray, keys: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` of the candidate positions ``keys`` nearest ``q`` by float32 cosine: positions, scores."""
    positions = np.sort(keys[(keys >= 0) & (keys < len(vectors))])  # a short answer is padded with -1
    found = np.asarray(vectors[positions], dtype=np.float32)
    norms = np.linalg.norm(found, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
    scores = (found @ np.asarray(q, dtype=np.float32)) / np.maximum(norms, 1e-12)
    best = np.argsort(-scores, kind="stable")[:k]
    return positions[best], scores[best].astype(np.float32)


def _choose_nprobe(index, vectors: np.ndarray, random_state: int) -> tuple[int, float]:
    """The smallest of :data:`NPROBES` reaching :data:`TARGET_RECALL` (else every list) and its recall."""
    from ..retrieval.ranking import rank

    picks = np.random.default_rng([random_state, 16]).integers(0, len(vectors), size=(CHOICE_QUERIES, 2))
    queries = _unit(np.asarray(vectors[picks[:, 0]]) + np.asarray(vectors[picks[:, 1]]))
    want = rank(queries, vectors, k=10)[0]
    lists, recall = int(index.nlist), 0.0
    for nprobe in [p for p in NPROBES if p < lists] + [lists]:
        with _FAISS:  # the sample's queries at once, on every thread
            index.nprobe = nprobe
            keys = index.search(queries, CANDIDATES)[1]
        got = [_top(vectors, g, q, 10)[0] for g, q in zip(keys, queries, strict=True)]
        recall = float(
            np.mean([len(set(g.tolist()) & set(w.tolist())) / len(w) for g, w in zip(got, want, strict=True)])
        )
        if recall >= TARGET_RECALL:
            return nprobe, recall
    return lists, recall


def build_ivf(settings, version: int, vectors: np.ndarray, random_state: int = 0, *, lists: int | None = None) -> dict:
    """Write the IVF index of data version ``version`` (aside, then renamed); its record fields.

    ``lists``: inverted lists, :func:`partitions` of the rows unless given (the bench tries others).
    """
    faiss = _faiss()

    rows, dim = vectors.shape
    lists = partitions(rows) if lists is None else int(lists)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(rows, size=min(rows, TRAIN_PER_LIST * lists), replace=False))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = int(random_state)
    with _FAISS:
        index.train(_unit(vectors[sample]))
        for start in range(0, rows, ADD_ROWS):
            index.add(_unit(vectors[start : min(rows, start + ADD_ROWS)]))
    nprobe, chosen_recall = _choose_nprobe(index, vectors, random_state)
    file = f"{settings['table']}.v{version}.ivf-{secrets.token_hex(4)}.faiss"
    folder = settings.path / ".exact"
    temporary = folder / f".{file}.part"
    try:
        faiss.write_index(index, str(temporary))
        os.replace(temporary, folder / file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    _INDEXES[str(folder / file)] = index
    record = dict(file=file, data_version=version, partitions=lists, nprobe=nprobe, candidates=CANDIDATES)
    return {**record, "quantizer": "SQ8", "nprobe_recall_at_10": chosen_recall}
