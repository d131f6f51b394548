"""What a build keeps, deletes and adds: the source's rows compared with the table's.

Rows are matched on every stored column but the vector (row number, id, text hash, metadata), so a
row is kept only when nothing about it changed; the rest of the table's rows are deleted by row
number and the source's rows that are not kept are added (with their vectors reused when their
text is in the table, see :mod:`embedlab.memory.build`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["compare", "rows_predicate"]


def compare(source, held) -> tuple[np.ndarray, list[int]]:
    """Which source rows the table already holds unchanged (bool per source row), and the row
    numbers to delete from it (changed, gone, or held twice)."""
    counts = held["row"].value_counts()
    single = held[held["row"].isin(counts.index[counts == 1])]
    merged = source.merge(single, how="left", on=list(source.columns), indicator=True)
    keep = (merged["_merge"] == "both").to_numpy()
    stale = set(held["row"].tolist()) - set(source["row"][keep].tolist())
    return keep, sorted(int(r) for r in stale)


def rows_predicate(rows: list[int]) -> str:
    """A filter matching exactly the row numbers ``rows`` (sorted), as ranges: ``(row >= a AND row <= b) OR ...``."""
    ranges, start, previous = [], rows[0], rows[0]
    for r in rows[1:]:
        if r != previous + 1:
            ranges.append((start, previous))
            start = r
        previous = r
    ranges.append((start, previous))
    return " OR ".join(f"row = {a}" if a == b else f"(row >= {a} AND row <= {b})" for a, b in ranges)
