"""The lesson's decision rule, in one place: start small; upgrade if retrieval quality is below the bar.

*Start here:* all-MiniLM-L6-v2 (384-d) — fast, proven, a good baseline. *Upgrade if:* retrieval
quality < 80%, queries return wrong traces, speed not critical.

:func:`decide` applies the rule to whatever was measured — speed only (Speed Benchmark),
quality only (Trace Retrieval), or both (Model Review) — and returns a :class:`Decision`:
structured fields (``good_enough``, ``fastest``, ``best_quality``, ``recommended``,
``suggestion``) plus one :class:`ModelVerdict` per model, each worded once here, so the pages,
the reports and the command line say the same thing. A model is called fast only when its
speed was measured and it is the faster one. Measured shares read as
:func:`embedlab.formatting.percent` writes them ("94.5%"), like every table and report.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from . import seed
from .formatting import percent

#: Speeds within this factor of each other are "about as fast".
SAME_SPEED = 1.05

Suggestion = Literal["keep", "upgrade", "fine-tune", "measure quality", "nothing to decide"]


@dataclass(frozen=True)
class Candidate:
    """What the rule needs to know of one model; leave unmeasured figures as None.

    Attributes
    ----------
    model : str
    accuracy : float or None
        Top-1 retrieval accuracy on the user's traces, in [0, 1].
    mrr : float or None
        Mean reciprocal rank (a tie-breaker between equally accurate models).
    texts_per_s : float or None
        Encoding speed measured on this machine.
    correct, n_queries : int or None
        The counts behind ``accuracy`` ("3/3 correct").
    failing : tuple of str
        Queries whose first trace is wrong.
    label_agreement, silhouette : float or None
        Cluster quality on labelled sentences.
    status : {"ok", "failed", "stopped"}
    error : str
        Why a failed model failed.
    """

    model: str
    accuracy: float | None = None
    mrr: float | None = None
    texts_per_s: float | None = None
    correct: int | None = None
    n_queries: int | None = None
    failing: tuple[str, ...] = ()
    label_agreement: float | None = None
    silhouette: float | None = None
    status: str = "ok"
    error: str = ""


@dataclass(frozen=True)
class ModelVerdict:
    """The rule's word on one model: a short ``label`` for tables and one ``reason`` sentence.

    ``label`` is one of "start here", "below the bar", "upgrade to this", "better, not best",
    "no better", "not needed", "faster alternative", "upgrade candidate", "about as fast",
    "failed", "stopped". ``speed_ratio`` is this model's speed over the baseline's (above 1:
    faster), None when either was not measured.
    """

    model: str
    label: str
    reason: str
    speed_ratio: float | None = None


@dataclass(frozen=True)
class Decision:
    """The rule applied (see :func:`decide`).

    Attributes
    ----------
    threshold : float
        The accuracy that is good enough.
    baseline : str or None
        The "start here" model; None when no model finished.
    good_enough : bool or None
        Whether the baseline reaches ``threshold``; None when its quality was not measured.
    fastest : str or None
        The fastest model whose speed was measured; None when no speed was measured.
    best_quality : str or None
        The most accurate model (then MRR, then speed); None when no quality was measured.
    recommended : str or None
        The model to use.
    upgrade : bool
        True when the rule says to move from the baseline to ``recommended``.
    suggestion : str
        "keep", "upgrade", "fine-tune", "measure quality" or "nothing to decide".
    verdicts : tuple of ModelVerdict
        One per model, the baseline first.
    rule : str
        The rule and how it applies here, one sentence.
    notes : tuple of str
        Cluster quality and the models that failed or were stopped.
    """

    threshold: float
    baseline: str | None
    good_enough: bool | None
    fastest: str | None
    best_quality: str | None
    recommended: str | None
    upgrade: bool
    suggestion: Suggestion
    verdicts: tuple[ModelVerdict, ...] = ()
    rule: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def reasons(self) -> list[str]:
        """Every sentence, in reading order: one per model, the rule, then the notes."""
        return (
            [v.reason for v in self.verdicts if v.label not in ("failed", "stopped")]
            + ([self.rule] if self.rule else [])
            + list(self.notes)
        )

    @property
    def labels(self) -> dict[str, str]:
        """Model → short verdict, for a table column."""
        return {v.model: v.label for v in self.verdicts}

    def verdict(self, model: str) -> ModelVerdict | None:
        """The verdict on ``model``, or None when it was not a candidate."""
        return next((v for v in self.verdicts if v.model == model), None)


def times(ratio: float) -> str:
    """A speed ratio in words' digits: 5.8×, 12×, 3,900×."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def speed_words(ratio: float, other: str) -> str:
    """ "5.8× faster than X", "3.0× slower than X" or "about as fast as X" for a ratio of speeds."""
    if ratio >= SAME_SPEED:
        return f"{times(ratio)} faster than {other}"
    if ratio <= 1 / SAME_SPEED:
        return f"{times(1 / ratio)} slower than {other}"
    return f"about as fast as {other}"


def decide(
    candidates: Sequence[Candidate], *, threshold: float = seed.GOOD_ENOUGH_ACCURACY, baseline: str | None = None
) -> Decision:
    """Apply the lesson's rule to the candidates' measured figures.

    The baseline is ``baseline`` when it finished, else all-MiniLM-L6-v2 when it finished,
    else the first model that finished. When the baseline's top-1 accuracy reaches
    ``threshold`` it is kept; otherwise the most accurate candidate above it (then MRR, then
    speed) is the upgrade, to take if speed is not critical; when none does better,
    fine-tuning is advised. Without quality figures the rule can only say where to start and
    to measure quality; without speed figures it never calls a model fast.

    Parameters
    ----------
    candidates : list of Candidate
    threshold : float in [0, 1], default 0.8
        The accuracy that is good enough (the lesson's 80%); reaching it exactly is enough.
    baseline : str, optional

    Returns
    -------
    Decision

    Examples
    --------
    >>> d = decide([Candidate("all-MiniLM-L6-v2", accuracy=0.9, texts_per_s=700.0),
    ...             Candidate("all-mpnet-base-v2", accuracy=0.95, texts_per_s=90.0)])
    >>> d.recommended, d.fastest, d.best_quality, d.suggestion
    ('all-MiniLM-L6-v2', 'all-MiniLM-L6-v2', 'all-mpnet-base-v2', 'keep')
    """
    threshold = check_fraction(threshold, "threshold")
    if isinstance(candidates, Candidate) or not all(isinstance(c, Candidate) for c in candidates):
        raise TypeError("candidates must be a list of embedlab.decision.Candidate.")
    verdicts: list[ModelVerdict] = []
    for c in candidates:
        if c.status == "failed":
            verdicts.append(ModelVerdict(c.model, "failed", f"{c.model}: could not be measured — {c.error}."))
        elif c.status == "stopped":
            reason = f"{c.model}: stopped before it finished, so it is not compared."
            verdicts.append(ModelVerdict(c.model, "stopped", reason))
    notes = [v.reason for v in verdicts]
    ran = [c for c in candidates if c.status == "ok"]
    timed = [c for c in ran if c.texts_per_s is not None]
    scored = [c for c in ran if c.accuracy is not None]
    fastest = max(timed, key=lambda c: c.texts_per_s).model if timed else None
    best = max(scored, key=lambda c: (c.accuracy, c.mrr or 0.0, c.texts_per_s or 0.0)).model if scored else None
    if not ran:
        rule = "No model finished, so there is nothing to decide yet."
        return Decision(
            threshold, None, None, fastest, best, None, False, "nothing to decide", tuple(verdicts), rule, tuple(notes)
        )

    names = [c.model for c in ran]
    if baseline not in names:
        baseline = seed.BENCHMARK_MODELS[0] if seed.BENCHMARK_MODELS[0] in names else names[0]
    base = next(c for c in ran if c.model == baseline)
    others = [c for c in ran if c.model != baseline]
    others.sort(key=lambda c: -(c.texts_per_s or 0.0))
    good = None if base.accuracy is None else base.accuracy >= threshold
    better = [c for c in others if base.accuracy is not None and c.accuracy is not None and c.accuracy > base.accuracy]
    upgrade_to = (
        max(better, key=lambda c: (c.accuracy, c.mrr or 0.0, c.texts_per_s or 0.0))
        if good is False and better
        else None
    )

    rows = [_baseline_verdict(base, others, good, threshold)]
    rows += [_other_verdict(c, base, good, upgrade_to, threshold) for c in others]
    rule, recommended, upgrade, suggestion = _rule(base, good, upgrade_to, threshold)
    clusters = [c for c in ran if c.label_agreement is not None]
    if clusters:
        top = max(clusters, key=lambda c: c.label_agreement)
        notes.insert(
            0,
            f"Cluster quality on the labelled sentences: {top.model} groups them best "
            f"(kNN label agreement {percent(top.label_agreement)}, silhouette {top.silhouette or 0.0:.2f}).",
        )
    return Decision(
        threshold,
        baseline,
        good,
        fastest,
        best,
        recommended,
        upgrade,
        suggestion,
        tuple(rows + verdicts),
        rule,
        tuple(notes),
    )


def _ratio(c: Candidate, base: Candidate) -> float | None:
    if c.texts_per_s is None or base.texts_per_s is None or base.texts_per_s <= 0:
        return None
    return c.texts_per_s / base.texts_per_s


def _score(c: Candidate) -> str:
    if c.accuracy is None:
        return "retrieval quality not measured"
    if c.correct is not None and c.n_queries:
        return f"{c.correct}/{c.n_queries} correct ({percent(c.accuracy)})"
    return f"{percent(c.accuracy)} top-1 accuracy"


def _quoted(queries: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"“{q}”" for q in queries[:limit])
    more = len(queries) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _baseline_verdict(base: Candidate, others: list[Candidate], good: bool | None, threshold: float) -> ModelVerdict:
    ratios = [(r, c) for c in others if (r := _ratio(base, c)) is not None]
    versus = ""
    if ratios:
        ratio, other = min(ratios, key=lambda rc: -rc[0])  # against the slowest other model
        if ratio < SAME_SPEED:
            ratio, other = min(ratios, key=lambda rc: rc[0])  # not faster than all: against the fastest
        versus = ", " + speed_words(ratio, other.model)
    head = f"{base.model}: {_score(base)}{versus}"
    if good is True:
        return ModelVerdict(base.model, "start here", f"{head}: start here — it reaches the {threshold:.0%} bar.", 1.0)
    if good is False:
        wrong = f" Wrong traces for {_quoted(base.failing)}." if base.failing else ""
        reason = f"{head}: below the {threshold:.0%} bar, so consider an upgrade.{wrong}"
        return ModelVerdict(base.model, "below the bar", reason, 1.0)
    speed = f" ({base.texts_per_s:,.0f} texts/s on this machine)" if base.texts_per_s is not None else ""
    reason = (
        f"{base.model}{speed}{versus}: start here — whether it is good enough depends on retrieval quality on "
        "your traces: measure it."
    )
    return ModelVerdict(base.model, "start here", reason, 1.0)


def _other_verdict(
    c: Candidate, base: Candidate, good: bool | None, upgrade_to: Candidate | None, threshold: float
) -> ModelVerdict:
    ratio = _ratio(c, base)
    speed = speed_words(ratio, base.model) if ratio is not None else "speed not measured here"
    line = f"{c.model}: {_score(c)}, {speed}"
    more_accurate = c.accuracy is not None and base.accuracy is not None and c.accuracy > base.accuracy
    if good is None:
        if ratio is None or ratio < 1 / SAME_SPEED:
            label, tail = (
                "upgrade candidate",
                f"upgrade to this only if retrieval quality with {base.model} is insufficient.",
            )
        elif ratio >= SAME_SPEED:
            label, tail = "faster alternative", "check its retrieval quality on your traces before switching."
        else:
            label, tail = "about as fast", f"compare its retrieval quality with {base.model}'s on your traces."
        return ModelVerdict(c.model, label, f"{line}: {tail}", ratio)
    if good:
        reaches = c.accuracy is not None and c.accuracy >= threshold
        if ratio is not None and ratio >= SAME_SPEED and reaches:
            return ModelVerdict(
                c.model,
                "faster alternative",
                (
                    f"{line}: also reaches the bar and is faster — worth a look where speed is critical; "
                    "check it on more queries before switching."
                ),
                ratio,
            )
        if ratio is not None and ratio >= SAME_SPEED:
            return ModelVerdict(c.model, "below the bar", f"{line}: faster, but below the {threshold:.0%} bar.", ratio)
        extra = "more accurate here, but " if more_accurate else ""
        why = "speed matters" if ratio is not None else "compare their speed on the Speed Benchmark before switching"
        reason = f"{line}: not needed — {extra}{base.model} already reaches the bar; {why}."
        return ModelVerdict(c.model, "not needed", reason, ratio)
    if upgrade_to is not None and c.model == upgrade_to.model:
        fixed = len(base.failing) - len(c.failing)
        if ratio is None:
            cost = "compare their speed on the Speed Benchmark"
        else:
            cost = f"it takes {times(1 / ratio)} the time" if ratio < 1 else "it is not even slower"
        tail = "reaches the bar" if c.accuracy >= threshold else "still below the bar: consider fine-tuning too"
        fixes = f", fixes {fixed} wrong trace{'s' if fixed != 1 else ''}" if fixed > 0 else ""
        reason = f"{line}: upgrade to this if speed is not critical — {tail}{fixes}; {cost}."
        return ModelVerdict(c.model, "upgrade to this", reason, ratio)
    if more_accurate:
        other = upgrade_to.model if upgrade_to else "another model"
        return ModelVerdict(
            c.model, "better, not best", f"{line}: better than {base.model}, but {other} is better still.", ratio
        )
    return ModelVerdict(c.model, "no better", f"{line}: no better than {base.model} on these queries.", ratio)


def _rule(
    base: Candidate, good: bool | None, upgrade_to: Candidate | None, threshold: float
) -> tuple[str, str, bool, Suggestion]:
    rule = f"Upgrade if: retrieval quality < {threshold:.0%}, queries return wrong traces, speed not critical"
    n_wrong = len(base.failing)
    if good is None:
        return (
            f"{rule} — measure retrieval quality on your traces (Trace Retrieval) to apply it; until then "
            f"start with {base.model}.",
            base.model,
            False,
            "measure quality",
        )
    if good:
        wrong = (
            f"; {n_wrong} quer{'ies return' if n_wrong != 1 else 'y returns'} a wrong trace"
            if n_wrong
            else "; no query returns a wrong trace"
        )
        return (
            f"{rule} — not the case here: {base.model} is at {percent(base.accuracy)}{wrong}. Use {base.model}.",
            base.model,
            False,
            "keep",
        )
    if upgrade_to is not None:
        return (
            f"{rule} — the first two hold for {base.model} ({percent(base.accuracy)}, {n_wrong} wrong). "
            f"Use {upgrade_to.model} if speed is not critical; otherwise keep {base.model} and improve the traces "
            "or fine-tune.",
            upgrade_to.model,
            True,
            "upgrade",
        )
    return (
        f"{rule} — {base.model} is below the bar, but no candidate does better on these queries: keep it and "
        "consider fine-tuning, a larger model, or clearer trace texts.",
        base.model,
        False,
        "fine-tune",
    )


@dataclass(frozen=True)
class Recommendation:
    """The rule's word on one model's retrieval quality (see :func:`recommend`).

    ``headline`` is one sentence; ``failing`` the queries not answered at top-1;
    :attr:`message` adds which queries fail to the headline.
    """

    good_enough: bool
    accuracy: float
    threshold: float
    failing: tuple[str, ...]
    model: str | None
    headline: str

    #: Failing queries named in :attr:`message` at most.
    NAMED = 5

    @property
    def message(self) -> str:
        if not self.failing:
            return self.headline
        named = ", ".join(repr(q) for q in self.failing[: self.NAMED])
        more = len(self.failing) - self.NAMED
        tail = f" and {more} more" if more > 0 else ""
        noun = "query fails" if len(self.failing) == 1 else "queries fail"
        return f"{self.headline} {len(self.failing)} {noun} at top-1: {named}{tail}."


def recommend(
    accuracy: float,
    failing: Sequence[str] = (),
    *,
    threshold: float = seed.GOOD_ENOUGH_ACCURACY,
    model: str | None = None,
) -> Recommendation:
    """The rule for one model whose speed is not compared: keep it if top-1 accuracy reaches ``threshold``.

    Saying which of several models is the fast choice needs their speeds: use :func:`decide`.

    Parameters
    ----------
    accuracy : float in [0, 1]
        Top-1 retrieval accuracy.
    failing : list of str
        The queries answered wrongly at top-1 (named in the message).
    threshold : float in [0, 1], default 0.8
        The accuracy that is good enough (the lesson's 80%); reaching it exactly is enough.
    model : str, optional
        The model's name, for the sentence.

    Returns
    -------
    Recommendation
        ``good_enough`` True: the model is good enough, keep it; False: consider a larger model
        or fine-tuning.

    Examples
    --------
    >>> recommend(2 / 3, ["What did I mention last Tuesday?"], model="all-MiniLM-L6-v2").good_enough
    False
    """
    accuracy = check_fraction(accuracy, "accuracy")
    threshold = check_fraction(threshold, "threshold")
    if isinstance(failing, str):
        raise TypeError("failing must be a list of query texts, got a single str; wrap it in a list.")
    failing = tuple(str(q) for q in failing)
    who = model or "The model"
    if accuracy >= threshold:
        headline = (
            f"{who} is good enough: top-1 accuracy {percent(accuracy)} reaches the {threshold:.0%} threshold, "
            "so it need not be upgraded."
        )
    else:
        headline = (
            f"Consider a larger model or fine-tuning: {who if model else 'the model'} reaches "
            f"{percent(accuracy)} top-1 accuracy, below the {threshold:.0%} threshold."
        )
    return Recommendation(accuracy >= threshold, accuracy, threshold, failing, model, headline)


def check_fraction(value: object, name: str) -> float:
    """``value`` as a float in [0, 1]; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number between 0 and 1, got {type(value).__name__} {value!r}.")
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value}.")
    return value
