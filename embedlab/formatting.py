"""How numbers read: one rule for shares shown as percentages, and counts with their plural.

Every share a page, a chart or a report shows — accuracy@k, MRR, neighbours kept, label
agreement, chance levels — goes through :func:`percent` (text) or :func:`percent_value` (a
number for a table column formatted with :data:`PERCENT_FORMAT`), so one figure reads the same
everywhere: 189/200 is "94.5%" in the table, in the text and in the reports. JSON keeps the
exact fractions.

The rule: one decimal, rounded half up on the number as written (0.945 → 94.5%, 2/3 → 66.7%);
a share below 1 never reads 100% and one above 0 never reads 0% (0.9999 → 99.9%).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["DECIMALS", "PERCENT_FORMAT", "count", "file_size", "percent", "percent_value"]

#: Decimals of a percentage.
DECIMALS = 1
#: printf-style format of a table column holding :func:`percent_value` numbers (Streamlit's NumberColumn).
PERCENT_FORMAT = f"%.{DECIMALS}f%%"
_STEP = Decimal(1).scaleb(-DECIMALS)  # 0.1


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True  # pandas.NA and other non-numbers


def percent_value(value) -> float:
    """A share in [0, 1] as the percentage shown: 0.945 → 94.5; NaN (or None, NA) → NaN.

    >>> percent_value(189 / 200), percent_value(0.9999), percent_value(2 / 3)
    (94.5, 99.9, 66.7)
    """
    if _missing(value):
        return float("nan")
    value = float(value)
    shown = (Decimal(repr(value)) * 100).quantize(_STEP, rounding=ROUND_HALF_UP)
    if value < 1 and shown >= 100:
        shown = 100 - _STEP
    elif value > 0 and shown <= 0:
        shown = _STEP
    return float(shown)


def percent(value) -> str:
    """A share in [0, 1] as text: "94.5%"; "–" when missing.

    >>> percent(0.995), percent(1.0), percent(None)
    ('99.5%', '100.0%', '–')
    """
    shown = percent_value(value)
    return "–" if math.isnan(shown) else f"{shown:.{DECIMALS}f}%"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: "1 sentence", "2 labels", "1,234 queries".

    >>> count(1, "label"), count(3, "query", "queries")
    ('1 label', '3 queries')
    """
    n = int(n)
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def file_size(n_bytes: int) -> str:
    """A size on disk as people read it, in powers of 1,000: "812 B", "4.2 kB", "12.3 MB", "1.5 GB".

    >>> file_size(812), file_size(4_200), file_size(12_345_678)
    ('812 B', '4.2 kB', '12.3 MB')
    """
    n = int(n_bytes)
    if n < 0:
        raise ValueError(f"n_bytes must be 0 or more, got {n_bytes!r}.")
    if n < 1000:
        return f"{n} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n_bytes = n_bytes / 1000
        if n_bytes < 999.95 or unit == "TB":
            return f"{n_bytes:,.1f} {unit}"
