"""Argument checks shared by the public functions, in one error format.

Every message names the parameter, what is allowed and what was given, e.g.
``"batch_size must be a positive integer, got 0."``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_texts(texts: Iterable[str], name: str = "texts") -> list[str]:
    """Return ``texts`` as a non-empty list of ``str``; raise TypeError/ValueError otherwise."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of strings, got a single {type(texts).__name__}; wrap it in a list: [{name}]."
        )
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise TypeError(f"{name} must be a 1-D list of strings, got an array of shape {texts.shape}.")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}.") from None
    if not items:
        raise ValueError(f"{name} must contain at least one text, got an empty list.")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(item).__name__} {_show(item)}.")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"{name}[{i}] must be valid Unicode text, got a lone surrogate {item[error.start]!r} "
                f"at position {error.start}."
            ) from None
    return items


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int >= 1; raise TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__} {_show(value)}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")
    return int(value)


def check_choice(value: object, name: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; raise ValueError listing them otherwise."""
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {_show(value)}.")
    return value  # type: ignore[return-value]


def check_matrix(values: object, name: str, *, dim: int | None = None) -> np.ndarray:
    """Return ``values`` as a finite float32 array of shape (n, d) with n >= 1.

    A 1-D vector is taken as one row. ``dim``, when given, is the required number of columns.
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array of shape (n, d) of numbers, got a {type(values).__name__}.")
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be an array of shape (n, d) of numbers, got {type(values).__name__}: {error}."
        ) from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must be an array of shape (n, d), got {array.ndim} dimensions, shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {array.shape}.")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns to match the other argument, got shape {array.shape}.")
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise ValueError(f"{name} must contain only finite numbers, got NaN or infinity in row {bad}.")
    return array
