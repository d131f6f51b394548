"""Dimensions and storage: how much retrieval quality smaller vectors keep, and what they cost.

:func:`storage_table` scores the user's own queries against their corpus with the vectors

* truncated to 32, 64, 128, 256, … dimensions up to the full width (each truncation renormalised
  to unit length), and at each width
* kept in float32, or quantised to int8 or binary with sentence-transformers'
  ``quantize_embeddings`` (int8 ranges calibrated on the corpus),

and says, for each, accuracy@1 and MRR@k, the bytes per vector (and MB per million vectors), the
share of the full float32 storage, and the share of the full-precision top-1 accuracy kept — so a
team can read "256 dims in int8 keep 99% of our accuracy at 1/6 of the storage". The result is a
frozen :class:`StorageTable` whose ``best`` is the cheapest row that keeps at least ``keep`` (99%)
of that accuracy.

How each precision is scored (:data:`SCORING`; :mod:`embedlab.retrieval.compression`): float32
by cosine (:func:`embedlab.rank`, so the full-width float32 row is
:func:`embedlab.evaluate_retrieval`'s figure), int8 by the integer dot product of the codes, binary
by Hamming distance of the sign bits; equal scores go to the earlier corpus entry.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..decision import check_fraction
from ..formatting import percent
from ..models.catalog import load_model
from ..models.embedders import Embedder
from ..models.encoding import encode
from ..models.entries import DEFAULT_MODEL
from ..validation import check_matrix, check_positive_int, check_texts
from .compression import PRECISIONS, SCORING, bytes_per_vector, check_relevant, precision_ranks, unit_truncation
from .evaluation import check_ids, relevant_positions

__all__ = [
    "COLUMNS",
    "DEFAULT_K",
    "DEFAULT_KEEP",
    "PRECISIONS",
    "SCORING",
    "StorageOption",
    "StorageTable",
    "default_dims",
    "storage_for",
    "storage_table",
]

#: MRR is computed at this cut-off unless told otherwise.
DEFAULT_K = 10
#: The share of the full-precision top-1 accuracy the best row must keep.
DEFAULT_KEEP = 0.99
#: The narrowest truncation tried by default.
SMALLEST_DIM = 32
#: The table's columns and dtypes, in order.
COLUMNS: dict[str, str] = {
    "dims": "int64",
    "precision": "str",
    "bytes_per_vector": "int64",
    "mb_per_million": "float64",  # MB (10**6 bytes) per million vectors
    "storage_share": "float64",  # of the full-width float32 storage
    "accuracy": "float64",  # accuracy@1
    "mrr": "float64",  # MRR@k
    "accuracy_kept": "float64",  # accuracy / full-precision accuracy; NaN when that is 0
    "mrr_kept": "float64",  # mrr / full-precision mrr; NaN when that is 0
}


@dataclass(frozen=True)
class StorageOption:
    """One row of a :class:`StorageTable`: a width and a precision with what they cost and keep."""

    dims: int
    precision: str
    bytes_per_vector: int
    storage_share: float
    accuracy: float
    mrr: float
    accuracy_kept: float

    @property
    def storage_fraction(self) -> str:
        """The share of the full storage as a person says it: "1/6", "1/5.3", "all"."""
        if self.storage_share >= 1:
            return "all"
        ratio = 1 / self.storage_share
        return f"1/{round(ratio)}" if abs(ratio - round(ratio)) < 1e-9 else f"1/{ratio:.1f}"


@dataclass(frozen=True, eq=False)
class StorageTable:
    """Retrieval quality and storage of one model's vectors, truncated and quantised.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per width × precision (widths ascending, then float32, int8, binary), columns
        :data:`COLUMNS`: ``dims``, ``precision``, ``bytes_per_vector``, ``mb_per_million``,
        ``storage_share`` (of the full-width float32), ``accuracy`` (accuracy@1), ``mrr`` (MRR@k),
        ``accuracy_kept`` and ``mrr_kept`` (shares of the full-width float32 figures; NaN when
        that figure is 0).
    model : str
        Whose vectors ("" when not said).
    dim : int
        The full width.
    k : int
        The cut-off of MRR@k.
    keep : float
        The share of the full-precision accuracy :attr:`best` must keep.
    n_queries, n_corpus : int
    best : StorageOption or None
        The cheapest row (fewest bytes; then the more accurate) that keeps at least ``keep`` of
        the full-precision top-1 accuracy; None when that accuracy is 0 (nothing to keep).
    """

    table: pd.DataFrame = field(repr=False)
    model: str
    dim: int
    k: int
    keep: float
    n_queries: int
    n_corpus: int
    best: StorageOption | None

    @property
    def full(self) -> StorageOption:
        """The full-width float32 row: what the others are compared with."""
        return _option(self.table[(self.table["dims"] == self.dim) & (self.table["precision"] == "float32")].iloc[0])

    def marked(self) -> pd.DataFrame:
        """:attr:`table` with a boolean ``best`` column: True on the :attr:`best` row."""
        best = self.best
        chosen = (
            (self.table["dims"] == best.dims) & (self.table["precision"] == best.precision)
            if best is not None
            else pd.Series(False, index=self.table.index)
        )
        return self.table.assign(best=chosen.to_numpy(dtype=bool))

    def headline(self) -> str:
        """The finding in one sentence, e.g. "256 dims in int8 keep 99.5% of the top-1 accuracy at 1/6 of the storage …".

        Shares read as :func:`embedlab.formatting.percent` writes them, so a share below 1 never reads 100%.
        """
        best = self.best
        if best is None:
            return (
                "No query finds its trace first at full precision, so there is no top-1 accuracy to keep; "
                "the table still shows what each size costs."
            )
        bytes_text = f"{best.bytes_per_vector:,} bytes per vector, {best.bytes_per_vector:,} MB per million vectors"
        if best.dims == self.dim and best.precision == "float32":
            return (
                f"Nothing smaller keeps {self.keep:.0%} of the top-1 accuracy here: keep all {self.dim} dims in "
                f"float32 ({bytes_text})."
            )
        return (
            f"{best.dims} dims in {best.precision} keep {percent(best.accuracy_kept)} of the top-1 accuracy at {best.storage_fraction} "
            f"of the storage ({bytes_text}; accuracy@1 {percent(best.accuracy)}, at full precision {percent(self.full.accuracy)})."
        )

    def to_plain(self) -> dict:
        """JSON-ready data; :meth:`from_plain` gives back an equal table."""
        rows = [
            {c: (None if isinstance(v, float) and math.isnan(v) else v) for c, v in row.items()}
            for row in _records(self.table)
        ]
        return {
            "model": self.model,
            "dim": self.dim,
            "k": self.k,
            "keep": self.keep,
            "n_queries": self.n_queries,
            "n_corpus": self.n_corpus,
            "rows": rows,
        }

    @classmethod
    def from_plain(cls, data: dict) -> StorageTable:
        """A table from :meth:`to_plain`'s data. Raises ValueError when it is not such data."""
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or not data["rows"]:
            raise ValueError("a storage table must be a mapping with a non-empty rows list.")
        try:
            table = _typed(pd.DataFrame(data["rows"], columns=list(COLUMNS)))
            dim, k, keep = int(data["dim"]), int(data["k"]), float(data["keep"])
            n_queries, n_corpus = int(data["n_queries"]), int(data["n_corpus"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"a storage table's data is damaged ({error}).") from None
        return cls(table, str(data.get("model") or ""), dim, k, keep, n_queries, n_corpus, _cheapest(table, dim, keep))

    def __repr__(self) -> str:
        best = "None" if self.best is None else f"{self.best.dims} dims {self.best.precision}"
        return f"StorageTable(model={self.model!r}, dim={self.dim}, rows={len(self.table)}, best={best})"


def default_dims(dim: int) -> list[int]:
    """32, 64, 128, … below ``dim``, then ``dim`` itself (just ``dim`` when it is 32 or less)."""
    dim = check_positive_int(dim, "dim")
    widths, width = [], SMALLEST_DIM
    while width < dim:
        widths.append(width)
        width *= 2
    return [*widths, dim]


def storage_table(
    query_vectors,
    corpus_vectors,
    relevant: Sequence,
    *,
    dims: Sequence[int] | None = None,
    k: int = DEFAULT_K,
    keep: float = DEFAULT_KEEP,
    model: str = "",
) -> StorageTable:
    """Accuracy@1 and MRR@k of truncated and quantised vectors, with the storage each needs.

    Parameters
    ----------
    query_vectors : array-like of shape (n_queries, dim)
        The queries' embeddings (any norm).
    corpus_vectors : array-like of shape (n_corpus, dim)
        The corpus's embeddings (e.g. the rendered traces'), same width.
    relevant : sequence of length n_queries
        Per query, the corpus position (0-based int) that should come first, or a collection of
        positions when any of them is right (see :func:`~embedlab.retrieval.evaluation.relevant_positions`).
    dims : sequence of int, optional
        The widths to truncate to; each between 1 and ``dim``. Default: 32, 64, 128, … below
        ``dim`` (:func:`default_dims`). The full width is always added: it is the reference.
    k : int, default 10
        The cut-off of MRR@k.
    keep : float in (0, 1], default 0.99
        The share of the full-precision top-1 accuracy the best row must keep.
    model : str, optional
        Whose vectors, for the table's title.

    Returns
    -------
    StorageTable
        One row per width × precision (float32, int8, binary).

    Raises
    ------
    TypeError, ValueError
        Naming the argument: vectors not 2-D or finite or of different widths, ``relevant`` of
        the wrong length or naming a position outside the corpus, a width outside 1..dim,
        ``k`` < 1, ``keep`` outside (0, 1].

    Notes
    -----
    Truncation keeps the first ``d`` coordinates and divides each row by its Euclidean norm
    (``np.linalg.norm(v[:, :d], axis=1, keepdims=True)``, float32; a zero row stays zero). Only
    models trained for it (Matryoshka) keep their quality when truncated; the table shows whether
    this one does on these queries.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> corpus = rng.normal(size=(40, 64)).astype(np.float32)
    >>> result = storage_table(corpus[:10] + 0.1, corpus, list(range(10)))
    >>> result.table[["dims", "precision", "bytes_per_vector"]].head(3).values.tolist()
    [[32, 'float32', 128], [32, 'int8', 32], [32, 'binary', 4]]
    >>> float(result.full.accuracy)
    1.0
    """
    queries = check_matrix(query_vectors, "query_vectors")
    corpus = check_matrix(corpus_vectors, "corpus_vectors", dim=queries.shape[1])
    relevant = check_relevant(relevant, len(queries), len(corpus))
    k = check_positive_int(k, "k")
    keep = check_fraction(keep, "keep")
    if keep == 0:
        raise ValueError("keep must be a share above 0 (e.g. 0.99), got 0.0.")
    dim = queries.shape[1]
    widths = _check_dims(dims, dim)
    rows = []
    for width in widths:
        q, c = unit_truncation(queries, width), unit_truncation(corpus, width)
        ranks = precision_ranks(q, c, relevant, k=k)
        for precision in PRECISIONS:
            found = ranks[precision]
            size = bytes_per_vector(width, precision)
            rows.append(
                {
                    "dims": width,
                    "precision": precision,
                    "bytes_per_vector": size,
                    "mb_per_million": float(size),  # × 10**6 vectors ÷ 10**6 bytes per MB
                    "storage_share": size / (4 * dim),
                    "accuracy": float(np.mean(found == 1)),
                    "mrr": float(np.mean(np.where((found >= 1) & (found <= k), 1.0 / np.maximum(found, 1), 0.0))),
                }
            )
    table = pd.DataFrame(rows)
    full = table[(table["dims"] == dim) & (table["precision"] == "float32")].iloc[0]
    table["accuracy_kept"] = table["accuracy"] / full["accuracy"] if full["accuracy"] > 0 else np.nan
    table["mrr_kept"] = table["mrr"] / full["mrr"] if full["mrr"] > 0 else np.nan
    table = _typed(table)
    return StorageTable(table, str(model), dim, k, keep, len(queries), len(corpus), _cheapest(table, dim, keep))


def storage_for(
    queries: Sequence[str],
    corpus: Sequence[str],
    expected: Sequence,
    *,
    ids: Sequence[Hashable] | None = None,
    model: str | Embedder = DEFAULT_MODEL,
    batch_size: int = 32,
    dims: Sequence[int] | None = None,
    k: int = DEFAULT_K,
    keep: float = DEFAULT_KEEP,
) -> StorageTable:
    """:func:`storage_table` for texts: the arguments of :func:`~embedlab.retrieval.evaluation.evaluate_retrieval`.

    The texts are encoded through :func:`embedlab.encode`'s cache, so right after an evaluation
    of the same texts with the same model no model work is done. ``expected`` and ``ids`` are
    read as there (an id, or a collection of ids, per query). Raises as both functions do.
    """
    queries = check_texts(queries, "queries")
    corpus = check_texts(corpus, "corpus")
    relevant = relevant_positions(expected, check_ids(ids, len(corpus)), len(queries))
    embedder = model if isinstance(model, Embedder) else load_model(model)
    vectors = [encode(texts, embedder, batch_size=batch_size) for texts in (queries, corpus)]
    return storage_table(*vectors, relevant, dims=dims, k=k, keep=keep, model=embedder.name)


def _check_dims(dims, dim: int) -> list[int]:
    if dims is None:
        return default_dims(dim)
    if isinstance(dims, (str, bytes)) or not isinstance(dims, (Sequence, np.ndarray)):
        raise TypeError(f"dims must be a list of widths (ints), got {type(dims).__name__}.")
    widths = set()
    for i, value in enumerate(dims):
        width = check_positive_int(value, f"dims[{i}]")
        if width > dim:
            raise ValueError(f"dims[{i}] must be at most the vectors' width {dim}, got {width}.")
        widths.add(width)
    return sorted(widths | {dim})


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    for column, dtype in COLUMNS.items():
        table[column] = table[column].astype(str) if dtype == "str" else pd.to_numeric(table[column]).astype(dtype)
    return table[list(COLUMNS)].reset_index(drop=True)


def _records(table: pd.DataFrame) -> list[dict]:
    return [
        {c: (v.item() if isinstance(v, np.generic) else v) for c, v in row.items()}
        for row in table.to_dict(orient="records")
    ]


def _option(row) -> StorageOption:
    return StorageOption(
        dims=int(row["dims"]),
        precision=str(row["precision"]),
        bytes_per_vector=int(row["bytes_per_vector"]),
        storage_share=float(row["storage_share"]),
        accuracy=float(row["accuracy"]),
        mrr=float(row["mrr"]),
        accuracy_kept=float(row["accuracy_kept"]),
    )


def _cheapest(table: pd.DataFrame, dim: int, keep: float) -> StorageOption | None:
    """The fewest bytes among rows keeping ``keep`` of the full accuracy; then more accurate, higher MRR, wider."""
    full = table[(table["dims"] == dim) & (table["precision"] == "float32")]
    if full.empty or not full["accuracy"].iloc[0] > 0:
        return None
    reference = float(full["accuracy"].iloc[0])
    good = table[table["accuracy"] >= keep * reference - 1e-12]
    order = good.sort_values(
        ["bytes_per_vector", "accuracy", "mrr", "dims"], ascending=[True, False, False, False], kind="stable"
    )
    return _option(order.iloc[0])
