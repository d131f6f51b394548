"""Vectors computed elsewhere, used like any model's: read, checked, and looked up by text.

A user brings embeddings made outside embedlab — a Parquet file with a text column and a vector
column (a list or fixed-size-list of numbers), or a ``.npy`` array beside a table of texts. They
become an :class:`OwnVectors` embedder named by the user: "encoding" a text looks its vector up, so
the map, retrieval evaluation and every measure work on them unchanged. A text the file has no
vector for is refused in one sentence (it cannot be embedded here).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import PurePath

import numpy as np

from .embedders import Embedder, normalise_rows

#: Files larger than this are refused before they are parsed.
MAX_BYTES = 256 * 1024 * 1024
VECTOR_TYPES = ("parquet", "npy")

__all__ = ["MAX_BYTES", "VECTOR_TYPES", "OwnVectors", "check_vectors", "read_npy", "read_vectors"]


class OwnVectors(Embedder):
    """Vectors brought by the user, one per text, looked up by text.

    Parameters
    ----------
    name : str
        What the vectors are called in tables and charts (e.g. "openai-3-small (mine)").
    texts : sequence of str
        One per row of ``vectors``; a text given twice must have the same vector both times.
    vectors : array of shape (n, d)
        Finite numbers; rows are normalised to unit length (a zero row is refused).
    """

    backend = "own vectors"

    def __init__(self, name: str, texts: Sequence[str], vectors):
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"name must be a non-empty str naming the vectors, got {name!r}.")
        texts = [str(t) for t in texts]
        array = check_vectors(vectors, n=len(texts))
        self._rows: dict[str, int] = {}
        for i, text in enumerate(texts):
            first = self._rows.setdefault(text, i)
            if first != i and not np.allclose(array[first], array[i], atol=1e-6):
                raise ValueError(f"the text {text[:60]!r} appears twice (rows {first} and {i}) with different vectors.")
        self._vectors = normalise_rows(array)
        digest = hashlib.sha256(self._vectors.tobytes())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\x1e")
        self.digest = digest.hexdigest()[:16]
        super().__init__(name.strip(), dim=int(array.shape[1]), max_tokens=10**9, version=self.digest)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def texts(self) -> list[str]:
        return list(self._rows)

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The ``texts`` that have no vector here."""
        return [t for t in texts if t not in self._rows]

    def _encode(self, texts, batch_size):
        missing = self.missing(texts)
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(texts)} texts have no vector in {self.name!r}, "
                f"e.g. {missing[0][:60]!r}; vectors brought from elsewhere cover only their own texts."
            )
        return self._vectors[[self._rows[t] for t in texts]]

    def token_counts(self, texts):
        return np.zeros(len(texts), dtype=np.int64)  # no tokenizer: nothing is ever truncated here


def check_vectors(vectors, *, n: int | None = None, name: str = "vectors") -> np.ndarray:
    """``vectors`` as a float32 array of shape (n, d), finite, no zero row; one sentence otherwise.

    Raises
    ------
    ValueError
        Not 2-D (a 1-D array, ragged rows), a count other than ``n``, NaN or infinity, a zero row.
    """
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be rows of numbers of one length; some rows differ in length or hold non-numbers."
        ) from None
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (one row per text), got {array.ndim} dimension(s), shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {array.shape}.")
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]:,} rows but there are {n:,} texts; give one vector per text.")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"{name} must hold only finite numbers; row {int(np.flatnonzero(~finite)[0])} has NaN or infinity."
        )
    zero = ~np.any(array != 0, axis=1)
    if zero.any():
        raise ValueError(f"{name} row {int(np.flatnonzero(zero)[0])} is all zeros: it has no direction to compare.")
    return array


def _check_size(data: bytes, filename: str) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}.")
    if len(data) > MAX_BYTES:
        raise ValueError(
            f"{filename} is {len(data) / 2**20:,.1f} MB; embedlab reads vector files of at most "
            f"{MAX_BYTES / 2**20:,.1f} MB."
        )


def read_npy(data: bytes, filename: str) -> np.ndarray:
    """A 2-D array from a ``.npy`` file's bytes (never unpickled); one sentence naming the file otherwise."""
    _check_size(data, filename)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{filename} is not a readable .npy array of numbers ({str(error)[:80]}).") from None
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{filename} holds {array.dtype} values, not numbers.")
    return check_vectors(array, name=filename)


def read_vectors(
    data: bytes,
    filename: str,
    *,
    name: str,
    texts: Sequence[str] | None = None,
    vector_column: str | None = None,
    text_column: str | None = None,
) -> OwnVectors:
    """Vectors from a file, ready to use as a model called ``name``.

    Parameters
    ----------
    data : bytes
        The file: Parquet (a text column and a list / fixed-size-list vector column) or ``.npy``
        (a 2-D array; then ``texts`` gives one text per row, in order).
    filename : str
        Its name; the extension says which.
    name : str
        What to call the vectors.
    texts : sequence of str, optional
        For ``.npy``: the texts of its rows (e.g. the pasted sentences or a table beside it).
    vector_column, text_column : str, optional
        For Parquet: which columns (default: the one list column; the best text column).

    Raises
    ------
    ValueError
        In one sentence naming the file: an unknown type, too large, unreadable, no vector or
        text column, ragged rows, NaN, a count that does not match ``texts``.
    """
    base = PurePath(filename or "").name
    kind = PurePath(base).suffix.lower().lstrip(".")
    if kind not in VECTOR_TYPES:
        raise ValueError(f"{base!r} is not a vector file embedlab reads; use .parquet (text + vector columns) or .npy.")
    _check_size(data, base)
    if kind == "npy":
        if texts is None:
            raise ValueError(f"{base} holds vectors only; give the texts of its rows too (one per row, in order).")
        array = read_npy(data, base)
        return OwnVectors(name, list(texts), check_vectors(array, n=len(texts), name=base))
    import pandas as pd

    from ..tables import text_columns

    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise ValueError(f"{base} could not be read as Parquet: {str(error).splitlines()[0][:120]}") from None
    if frame.empty:
        raise ValueError(f"{base} holds no rows.")
    listed = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).all()]
    if vector_column is None:
        if len(listed) != 1:
            found = ", ".join(map(str, listed)) or "none"
            raise ValueError(f"{base} must have exactly one column of vectors (lists of numbers); found {found}.")
        vector_column = listed[0]
    elif vector_column not in frame.columns:
        raise ValueError(
            f"column {vector_column!r} is not in {base}; its columns are: {', '.join(map(str, frame.columns))}."
        )
    if texts is None:
        candidates = [c for c in text_columns(frame) if c != vector_column]
        text_column = text_column or (candidates[0] if candidates else None)
        if text_column is None or text_column not in frame.columns:
            raise ValueError(
                f"{base} has no column of texts beside its vectors; its columns are: {', '.join(map(str, frame.columns))}."
            )
        texts = frame[text_column].astype(str).tolist()
    rows = frame[vector_column].tolist()
    lengths = {len(row) for row in rows}
    if len(lengths) != 1:
        raise ValueError(
            f"{base}: the vectors in {vector_column!r} have different lengths ({', '.join(map(str, sorted(lengths)[:4]))}…); all must have one length."
        )
    try:
        array = np.stack([np.asarray(row, dtype=np.float32) for row in rows])
    except (TypeError, ValueError):
        raise ValueError(f"{base}: the column {vector_column!r} holds something other than numbers.") from None
    return OwnVectors(name, list(texts), check_vectors(array, n=len(texts), name=base))
