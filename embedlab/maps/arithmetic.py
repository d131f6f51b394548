"""Vector arithmetic on sentence embeddings: "king - man + woman" → the nearest entries.

The lesson's claim that vector maths works on meaning, made testable: each text in the
expression is encoded, the unit vectors are added or subtracted, and the result is ranked
against candidate texts by cosine similarity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..models.embedders import Embedder
from ..models.entries import DEFAULT_MODEL
from ..validation import check_positive_int, check_texts

#: Texts one expression may combine at most.
MAX_TERMS = 20
_SIGNS = {"+": 1, "-": -1, "−": -1}
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}


@dataclass(frozen=True)
class Term:
    """One text of an expression and its sign (+1 or -1)."""

    sign: int
    text: str

    def __str__(self) -> str:
        return ("+ " if self.sign > 0 else "− ") + self.text


def parse_expression(expression: str) -> list[Term]:
    """Split an expression into signed texts.

    Operators are ``+``, ``-`` and ``−`` with a space on each side, so hyphenated words and
    sentences with dashes inside stay whole (``well-known``); a text may also be quoted.
    A leading operator applies to the first text.

    >>> [str(t) for t in parse_expression("king - man + woman")]
    ['+ king', '− man', '+ woman']

    Raises
    ------
    ValueError
        Empty expression, an operator with no text after it, two operators in a row, or more
        than MAX_TERMS texts.
    """
    if not isinstance(expression, str):
        raise TypeError(f"expression must be a str, got {type(expression).__name__}.")
    stripped = expression.strip()
    if not stripped:
        raise ValueError("expression must hold at least one text, such as 'king - man + woman'; got ''.")
    terms: list[Term] = []
    pieces = _split(stripped)
    if not pieces[0][1].strip() and len(pieces) > 1:
        pieces = pieces[1:]  # a leading operator applies to the first text
    for i, (sign, piece) in enumerate(pieces):
        text = _unquote(piece.strip())
        if not text:
            where = "between two operators"
            if i == len(pieces) - 1:
                where = "after the last operator"
            elif i == 0:
                where = "before the first operator"
            raise ValueError(f"expression has no text {where}: {stripped!r}.")
        terms.append(Term(sign, text))
    if len(terms) > MAX_TERMS:
        raise ValueError(f"expression may combine at most {MAX_TERMS} texts, got {len(terms)}.")
    return terms


def _split(expression: str) -> list[tuple[int, str]]:
    """(sign, text) pieces: an operator is + - or − outside quotes with a space (or an end) on each side."""
    pieces: list[tuple[int, str]] = []
    sign, start, quote = 1, 0, ""
    for i, char in enumerate(expression):
        if quote:
            quote = "" if char == quote else quote
        elif char in _QUOTES and (i == 0 or expression[i - 1].isspace()):
            quote = _QUOTES[char]
        elif (
            char in _SIGNS
            and (i == 0 or expression[i - 1].isspace())
            and (i == len(expression) - 1 or expression[i + 1].isspace())
        ):
            pieces.append((sign, expression[start:i]))
            sign, start = _SIGNS[char], i + 1
    pieces.append((sign, expression[start:]))
    return pieces


def _unquote(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def spacing_hint(expression: str, terms: list[Term]) -> str:
    """A sentence for the user when an expression probably meant operators without spaces, else ""."""
    if len(terms) == 1 and re.search(r"\w\s*[+−]\s*\w|\w\s+-\w|\w-\s+\w", terms[0].text):
        return (
            f"{expression.strip()!r} was read as one text; put a space on each side of + and − "
            "(king - man + woman) to combine texts."
        )
    return ""


@dataclass(frozen=True)
class ArithmeticResult:
    """The combined vector and the candidates nearest to it, best first."""

    terms: list[Term]
    vector: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    excluded: list[int]
    note: str

    @property
    def expression(self) -> str:
        """The terms as computed, e.g. "king - man + woman"."""
        return " ".join(str(t) for t in self.terms).removeprefix("+ ")

    def table(self, candidates: list[str]):
        """The nearest candidates as a DataFrame with columns nearest and cosine (float), best first."""
        import pandas as pd

        return pd.DataFrame(
            {"nearest": [candidates[i] for i in self.indices.tolist()], "cosine": self.scores.astype(float)}
        )


def evaluate(
    expression: str,
    candidates: list[str],
    *,
    model: str | Embedder = DEFAULT_MODEL,
    k: int = 5,
    candidate_embeddings: np.ndarray | None = None,
    exclude_terms: bool = True,
) -> ArithmeticResult:
    """Combine the expression's texts and rank ``candidates`` by cosine similarity to the result.

    Parameters
    ----------
    expression : str
        Texts joined by ``+`` and ``-`` (see :func:`parse_expression`).
    candidates : list of str
        What to search among.
    model : str or Embedder, default "all-MiniLM-L6-v2"
    k : int, default 5
        How many candidates to return (fewer when there are fewer).
    candidate_embeddings : ndarray of shape (len(candidates), dim), optional
        Precomputed embeddings of ``candidates`` with the same model (saves encoding them again).
    exclude_terms : bool, default True
        Leave out candidates equal to one of the expression's texts (ignoring case), as word
        analogy tests do: otherwise "king" tends to come first for "king - man + woman".

    Returns
    -------
    ArithmeticResult
        ``vector`` has shape (dim,): the sum of the signed unit vectors. ``indices`` index
        ``candidates``; ``scores`` are cosine similarities; ``excluded`` lists the candidates left out.

    Raises
    ------
    ValueError
        A malformed expression, no candidates, or texts that cancel out (a zero vector).
    """
    from ..models.encoding import encode
    from ..retrieval.ranking import rank

    terms = parse_expression(expression)
    candidates = check_texts(candidates, "candidates")
    k = check_positive_int(k, "k")
    vectors = encode([t.text for t in terms], model)
    combined = (np.array([t.sign for t in terms], dtype=np.float32)[:, None] * vectors).sum(axis=0)
    if float(np.linalg.norm(combined)) < 1e-4:
        raise ValueError(
            "The texts cancel out (the result is the zero vector), so nothing is nearer than anything else."
        )
    if candidate_embeddings is None:
        candidate_embeddings = encode(candidates, model)
    elif len(candidate_embeddings) != len(candidates):
        raise ValueError(
            f"candidate_embeddings must have one row per candidate ({len(candidates)}), got {len(candidate_embeddings)}."
        )
    own = {t.text.casefold() for t in terms}
    excluded = [i for i, c in enumerate(candidates) if exclude_terms and c.strip().casefold() in own]
    allowed = np.setdiff1d(np.arange(len(candidates)), excluded)
    if not len(allowed):
        raise ValueError("Every candidate is one of the expression's own texts; add others to search among.")
    idx, scores = rank(combined[None, :], np.asarray(candidate_embeddings)[allowed], k=k)
    return ArithmeticResult(terms, combined, allowed[idx[0]], scores[0], excluded, spacing_hint(expression, terms))
