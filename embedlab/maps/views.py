"""What a map shows, computed: filters, substring highlight, the sentence finder, density contours and
hover text.

Pure functions over a map's points table (:meth:`MapResult.points_table`) and its points. A
:class:`View` says which rows are drawn and which of them are emphasised; it never changes the
projection (the points stay where they were, nothing is encoded or projected again).

>>> import pandas as pd
>>> table = pd.DataFrame({"text": ["A cat", "A dog", "Cats purr"], "label": ["pet", "pet", "sound"]})
>>> view(table, [ColumnFilter("label", values=("pet",))], highlight="cat").rows_shown
[0, 1]
>>> view(table, highlight="CAT").n_matches
2
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..markup import html_literal as escape
from ..validation import check_matrix, check_positive_int
from .sentences import MAX_CATEGORIES, MetadataColumn

__all__ = [
    "CONTOUR_THRESHOLD",
    "DEFAULT_HOVER",
    "FIND_LIMIT",
    "HOVER_CELL_CHARS",
    "HOVER_CHARS",
    "POINT_TEXT_CHARS",
    "ColumnFilter",
    "DensityGrid",
    "Kind",
    "View",
    "categories",
    "column_kinds",
    "density_grid",
    "filter_mask",
    "find_rows",
    "hover_labels",
    "hover_text",
    "number_range",
    "row_mask",
    "short_text",
    "substring_mask",
    "view",
]

Kind = Literal["number", "category", "text"]
#: Above this many points a 2-D map draws density contours by default.
CONTOUR_THRESHOLD = 2_000
#: The sentence finder lists at most this many matches.
FIND_LIMIT = 200
#: What the hover box shows by default: the sentence and its label.
DEFAULT_HOVER: tuple[str, ...] = ("text", "label")
#: Hover text shows at most this many characters of a sentence.
HOVER_CHARS = 600
#: Hover shows at most this many characters of another text column.
HOVER_CELL_CHARS = 200
#: Point text (labels on the map) shows at most this many characters.
POINT_TEXT_CHARS = 28


@dataclass(frozen=True)
class ColumnFilter:
    """Keep the rows whose ``column`` passes one test.

    Give exactly one of: ``values`` (a category: the cell, as text, is one of them), ``low`` and/or
    ``high`` (a number: inside the closed range; empty cells fail), or ``contains`` (text: holds
    it, ignoring case).
    """

    column: str
    values: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    contains: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"column must be a column name, got {self.column!r}.")
        ranged = self.low is not None or self.high is not None
        given = sum([self.values is not None, ranged, self.contains is not None])
        if given != 1:
            raise ValueError(f"a filter of {self.column!r} needs exactly one of values, low/high or contains.")
        if self.values is not None:
            object.__setattr__(self, "values", tuple(str(v) for v in self.values))
        if ranged and self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low must not be above high, got {self.low} and {self.high}.")


@dataclass(frozen=True)
class View:
    """Which rows of a map are drawn and which are emphased.

    Attributes
    ----------
    shown : ndarray of shape (n,), bool
        Rows drawn (the filters and the isolated selection passed).
    matches : ndarray of shape (n,), bool, or None
        Rows whose text holds the highlight (drawn or not); None when nothing is highlighted.
    """

    shown: np.ndarray
    matches: np.ndarray | None = None

    @property
    def n_total(self) -> int:
        return len(self.shown)

    @property
    def n_shown(self) -> int:
        return int(self.shown.sum())

    @property
    def rows_shown(self) -> list[int]:
        return np.flatnonzero(self.shown).tolist()

    @property
    def n_matches(self) -> int:
        """Drawn rows that match the highlight (0 without one)."""
        return 0 if self.matches is None else int((self.matches & self.shown).sum())

    @property
    def emphasised(self) -> np.ndarray | None:
        """Drawn rows that match, as the figure emphasises them; None without a highlight."""
        return None if self.matches is None else self.matches & self.shown


def column_kinds(
    labels: Sequence[str] | None, metadata: Sequence[MetadataColumn] = (), clusters: Sequence[str] | None = None
) -> dict[str, Kind]:
    """The columns a map can be filtered by, with how: "label" and "cluster" are categories (text
    above :data:`MAX_CATEGORIES` values), each metadata column its own kind."""
    kinds: dict[str, Kind] = {}
    for name, values in (("label", labels), ("cluster", clusters)):
        if values is not None:
            kinds[name] = "category" if len(set(values)) <= MAX_CATEGORIES else "text"
    for column in metadata:
        kinds[column.name] = column.kind
    return kinds


def categories(table, column: str) -> dict[str, int]:
    """A column's values (as text) and how many rows hold each, most frequent first (ties: first seen)."""
    values = _column(table, column).astype(str)
    counts = values.value_counts(sort=False)
    order = {value: i for i, value in enumerate(dict.fromkeys(values))}
    return {str(v): int(c) for v, c in sorted(counts.items(), key=lambda item: (-item[1], order[item[0]]))}


def number_range(table, column: str) -> tuple[float, float] | None:
    """The smallest and largest number in a column (empty cells left out); None when it has none."""
    import pandas as pd

    values = pd.to_numeric(_column(table, column), errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if len(values) else None


def filter_mask(table, filters: Sequence[ColumnFilter] = ()) -> np.ndarray:
    """Rows of ``table`` that pass every filter, shape (len(table),), bool (all True without filters).

    Raises
    ------
    ValueError
        A filter names a column the table does not have.
    """
    import pandas as pd

    keep = np.ones(len(table), dtype=bool)
    for rule in filters:
        if not isinstance(rule, ColumnFilter):
            raise TypeError(f"filters must hold ColumnFilter objects, got {type(rule).__name__}.")
        cells = _column(table, rule.column)
        if rule.values is not None:
            keep &= cells.astype(str).isin(rule.values).to_numpy()
        elif rule.contains is not None:
            keep &= _contains(cells.astype(str).tolist(), rule.contains)
        else:
            numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
            inside = np.isfinite(numbers)
            if rule.low is not None:
                inside &= numbers >= rule.low
            if rule.high is not None:
                inside &= numbers <= rule.high
            keep &= inside
    return keep


def substring_mask(texts: Sequence[str], needle: str) -> np.ndarray:
    """Which texts hold ``needle``, ignoring case (Unicode case folding), shape (len(texts),), bool.

    An empty or blank ``needle`` matches nothing.
    """
    if not isinstance(needle, str):
        raise TypeError(f"needle must be a str, got {type(needle).__name__}.")
    return _contains(list(texts), needle)


def find_rows(texts: Sequence[str], query: str, *, limit: int = FIND_LIMIT) -> list[int]:
    """The first ``limit`` rows whose text holds ``query`` (ignoring case), in row order.

    A blank query finds the first ``limit`` rows.
    """
    limit = check_positive_int(limit, "limit")
    if not query.strip():
        return list(range(min(limit, len(texts))))
    return np.flatnonzero(substring_mask(texts, query))[:limit].tolist()


def view(
    table,
    filters: Sequence[ColumnFilter] = (),
    *,
    isolate: Sequence[int] | None = None,
    highlight: str = "",
) -> View:
    """Which rows to draw and which to emphasise.

    Parameters
    ----------
    table : DataFrame
        The map's points table (a ``text`` column and those the filters name).
    filters : sequence of ColumnFilter
        Every one must pass (see :func:`filter_mask`).
    isolate : sequence of int, optional
        Draw only these rows (a selection isolated); numbers outside the table are ignored.
    highlight : str
        Emphasise the rows whose text holds it, ignoring case; "" for none.
    """
    shown = filter_mask(table, filters)
    if isolate is not None:
        rows = np.asarray(list(isolate), dtype=np.int64)
        only = np.zeros(len(table), dtype=bool)
        only[rows[(rows >= 0) & (rows < len(table))]] = True
        shown &= only
    matches = substring_mask(table["text"].tolist(), highlight) if highlight.strip() else None
    return View(shown, matches)


@dataclass(frozen=True)
class DensityGrid:
    """A Gaussian kernel density estimate of 2-D points on a regular grid.

    Attributes
    ----------
    x : ndarray of shape (nx,)
        The grid's x positions; ``y`` likewise, shape (ny,).
    density : ndarray of shape (ny, nx)
        The estimate at (x[j], y[i]) in row i, column j (plotly's contour layout); it integrates to
        about 1 over the plane.
    bandwidth : (float, float)
        The kernel's standard deviation along x and y (Scott's rule: each axis's standard
        deviation times n ** (-1/6)).
    """

    x: np.ndarray
    y: np.ndarray
    density: np.ndarray
    bandwidth: tuple[float, float]


def density_grid(points, *, rows: np.ndarray | Sequence[int] | None = None, size: int = 60) -> DensityGrid | None:
    """Density of a map's points on a ``size`` × ``size`` grid, for contours under the points.

    Parameters
    ----------
    points : array-like of shape (n, 2)
    rows : boolean mask of shape (n,) or row numbers, optional
        The points to estimate from (those drawn); all by default.
    size : int, default 60

    Returns
    -------
    DensityGrid or None
        None when fewer than 3 points are left or they do not spread along both axes.
        The grid spans the points plus three bandwidths on each side. The kernel is a product
        of two Gaussians, so the grid is ``Ky @ Kx.T`` (exact, no binning).
    """
    size = check_positive_int(size, "size")
    xy = check_matrix(points, "points").astype(np.float64)
    if xy.shape[1] != 2:
        raise ValueError(f"points must have 2 columns (a 2-D map), got {xy.shape[1]}.")
    if rows is not None:
        xy = xy[np.asarray(rows)]
    n = len(xy)
    if n < 3:
        return None
    spread = xy.std(axis=0, ddof=1)
    if not (spread > 0).all():
        return None
    h = spread * n ** (-1 / 6)
    axes = [np.linspace(xy[:, d].min() - 3 * h[d], xy[:, d].max() + 3 * h[d], size) for d in range(2)]
    kernels = [np.exp(-0.5 * ((axes[d][:, None] - xy[None, :, d]) / h[d]) ** 2) for d in range(2)]
    density = kernels[1] @ kernels[0].T / (n * 2 * np.pi * h[0] * h[1])
    return DensityGrid(axes[0], axes[1], density, (float(h[0]), float(h[1])))


def row_mask(value, n: int, name: str = "rows") -> np.ndarray:
    """A boolean mask of length ``n`` from a mask (all True for None).

    Raises
    ------
    ValueError
        Not one entry per row; the message names ``name``.
    """
    if value is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(value, dtype=bool).ravel()
    if len(mask) != n:
        raise ValueError(f"{name} must have one entry per row ({n}), got {len(mask)}.")
    return mask


# ------------------------------------------------------------------ hover text (plotly's HTML subset, escaped)
def hover_text(text: str, *, width: int = 70, limit: int = HOVER_CHARS) -> str:
    """A sentence for a hover box: escaped, wrapped at ``width`` characters with ``<br>``.

    Longer than ``limit`` characters, it is cut and ends with how many were left out.
    """
    text = str(text)
    extra = ""
    if len(text) > limit:
        extra = f" … (+{len(text) - limit:,} characters)"
        text = text[:limit]
    lines = textwrap.wrap(text, width, break_long_words=True, replace_whitespace=True) or [""]
    return "<br>".join(escape(line) for line in lines) + escape(extra)


def short_text(text: str, limit: int = POINT_TEXT_CHARS) -> str:
    """The first ``limit`` characters of ``text`` (with … when cut), escaped."""
    text = " ".join(str(text).split())
    return escape(text if len(text) <= limit else text[: limit - 1].rstrip() + "…")


def hover_labels(table, columns: Sequence[str] = DEFAULT_HOVER, *, groups: Sequence[str] | None = None) -> list[str]:
    """One hover box per row of a map's points table: the chosen ``columns``, escaped.

    The colour group (``groups``, e.g. the label or cluster) comes first in bold; "text" is the
    whole sentence wrapped (:func:`hover_text`); "label" (bold) and "cluster" show unless they are
    the group already; any other column reads "name: value" (numbers without trailing zeros, "–"
    when empty).
    Every box ends with the row number. Columns the table lacks are left out.

    >>> import pandas as pd
    >>> hover_labels(pd.DataFrame({"text": ["a <b>"], "label": ["L"], "year": [2021.0]}), ["text", "year"])
    ['a &lt;b&gt;<br>year: 2021<br><i>row 1</i>']
    """
    n = len(table)
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups must have one entry per row ({n}), got {len(groups)}.")
    parts = []
    for name in dict.fromkeys(columns):
        if name not in table.columns:
            continue
        cells = table[name].tolist()
        if name == "text":
            parts.append([hover_text(cell) for cell in cells])
        elif name == "label":
            parts.append(
                [
                    "" if not cell or (groups is not None and cell == groups[i]) else f"<b>{escape(cell)}</b>"
                    for i, cell in enumerate(cells)
                ]
            )
        elif name == "cluster":
            same = [groups is not None and cell == groups[i] for i, cell in enumerate(cells)]
            parts.append(["" if same[i] else f"cluster: {escape(cell)}" for i, cell in enumerate(cells)])
        else:
            parts.append([f"{escape(name)}: {_cell_text(cell)}" for cell in cells])
    out = []
    for i in range(n):
        lines = [f"<b>{escape(groups[i])}</b>"] if groups is not None and groups[i] else []
        lines += [part[i] for part in parts if part[i]]
        out.append("<br>".join([*lines, f"<i>row {i + 1}</i>"]))
    return out


def _cell_text(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "–"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return hover_text(value, limit=HOVER_CELL_CHARS) if str(value) else "–"


def _column(table, column: str):
    if column not in table.columns:
        raise ValueError(
            f"filters must name columns of the map ({', '.join(map(str, table.columns))}), got {column!r}."
        )
    return table[column]


def _contains(texts: list[str], needle: str) -> np.ndarray:
    needle = needle.strip().casefold()
    if not needle:
        return np.zeros(len(texts), dtype=bool)
    return np.fromiter((needle in str(t).casefold() for t in texts), dtype=bool, count=len(texts))
