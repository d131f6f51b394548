"""Naming, deleting and keeping the models made here (see :mod:`embedlab.models.user` for where they live)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..models.catalog import forget
from ..models.entries import by_name
from ..models.user import KINDS, NAME_PATTERN, UserModel, find, folder_for, read_card
from ..storage.folders import is_complete, remove_folder, replace_folder

__all__ = ["SaveFailed", "check_new_name", "delete", "keep_rejected", "saving"]


class SaveFailed(OSError):
    """A made model could not be written (a full disk, no permission); nothing half-made was kept."""


@contextlib.contextmanager
def saving(folder: Path) -> Iterator[None]:
    """Turn an OSError while a model is written under ``folder`` into :class:`SaveFailed`, in one sentence."""
    try:
        yield
    except SaveFailed:
        raise
    except OSError as error:
        why = error.strerror or str(error) or type(error).__name__
        raise SaveFailed(
            f"the model could not be saved in {folder} ({why}); nothing was kept — free some disk space "
            "or fix the folder's permissions, then run again."
        ) from error


def check_new_name(name: object, kind: str) -> str:
    """``name`` if a new model of ``kind`` may be saved under it; else TypeError/ValueError naming ``name``.

    A name is 1-64 letters, digits, ``.``, ``_`` or ``-`` (starting with a letter or digit). It
    must not be a catalog model's name, nor a model of the other kind; a model of the same kind
    with that name is replaced (retrained).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; got {name!r}."
        )
    if by_name(name) is not None:
        raise ValueError(f"name {name!r} is a catalog model's name; choose another name for your model.")
    for other in KINDS:
        if other != kind and is_complete(folder_for(other, name)):
            raise ValueError(f"name {name!r} is already a {other} model; choose another name or delete that one first.")
    return name


def delete(name: str) -> UserModel:
    """Delete the user model ``name`` (and a rejected one of that name); return what was deleted.

    Raises LookupError naming the model when there is none. The catalog forgets it in this process.
    """
    found = find(name) or find(name, rejected=True)
    if found is None:
        raise LookupError(f"there is no fine-tuned or distilled model called {name!r}.")
    remove_folder(found.path)
    remove_folder(folder_for(found.kind, found.name, rejected=True))
    forget(found.name)
    return found


def keep_rejected(name: str) -> UserModel:
    """Use a fine-tune that was not promoted (its held-out MRR dropped) anyway: move it into place.

    Raises LookupError when no model of that name was kept aside.
    """
    for kind in KINDS:
        aside = folder_for(kind, name, rejected=True)
        if is_complete(aside):
            check_new_name(name, kind)
            target = replace_folder(folder_for(kind, name), lambda _, aside=aside: aside)
            forget(name)
            return UserModel(name, kind, target, read_card(target))
    raise LookupError(f"there is no model called {name!r} kept aside.")
