"""Vectors brought by the user, checked against what a retrieval evaluation will look up.

:class:`embedlab.models.own.OwnVectors` answers only for the texts its file holds. Before it is
evaluated beside the catalog models, :func:`own_vectors_problem` says in one sentence what would
stop it: a name already used by a chosen model, or trace and query texts the file has no vector
for (how many, and one of them).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..models.own import OwnVectors

__all__ = ["own_vectors_problem"]

#: An example text is cut to this many characters in the sentence.
EXAMPLE_CHARS = 80


def own_vectors_problem(
    vectors: OwnVectors, *, traces: Sequence[str], queries: Sequence[str], taken: Collection[str] = ()
) -> str | None:
    """Why ``vectors`` cannot be evaluated on these traces and queries, in one sentence; None if they can.

    Parameters
    ----------
    vectors : OwnVectors
        What :func:`embedlab.models.own.read_vectors` returned.
    traces, queries : list of str
        The rendered traces and the queries the evaluation embeds.
    taken : collection of str
        Names already in use (the chosen catalog models): the results are keyed by name.

    Examples
    --------
    >>> import numpy as np
    >>> mine = OwnVectors("mine", ["a trace", "a query"], np.eye(2))
    >>> own_vectors_problem(mine, traces=["a trace", "another trace"], queries=["a query"])
    '1 of the 3 trace and query texts has no vector in “mine”, e.g. “another trace”: the file must hold every trace as the template renders it, and every query, exactly.'
    """
    if not isinstance(vectors, OwnVectors):
        raise TypeError(f"vectors must be the OwnVectors read_vectors() returned, got {type(vectors).__name__}.")
    if vectors.name in set(taken):
        return f"The name “{vectors.name}” is already a chosen model's; give your vectors another name."
    texts = list(dict.fromkeys([*traces, *queries]))
    missing = vectors.missing(texts)
    if not missing:
        return None
    example = missing[0] if len(missing[0]) <= EXAMPLE_CHARS else missing[0][: EXAMPLE_CHARS - 1] + "…"
    verb = "has" if len(missing) == 1 else "have"
    return (
        f"{len(missing):,} of the {len(texts):,} trace and query texts {verb} no vector in “{vectors.name}”, "
        f"e.g. “{' '.join(example.split())}”: the file must hold every trace as the template renders it, "
        "and every query, exactly."
    )
