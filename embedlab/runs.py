"""One run mechanism for long measurements over models in turn: progress events, Stop, partial results.

The benchmark and the review (and whatever measures candidate models one after another next)
are subclasses of :class:`ModelRun`. A run

* calls ``progress(event)`` with a :class:`Progress` before each model and after every step;
  ``event.results()`` is the run as if it ended now, so a caller that is interrupted (Stop in
  the dashboard, Ctrl-C on the command line) still holds every finished model;
* asks ``should_stop()`` between steps and, when it answers True, ends after the current
  step and returns what it measured, marked stopped;
* keeps a model that fails in its own row, with the reason in one sentence (:func:`reason`),
  and goes on with the next one.

A subclass implements :meth:`ModelRun.results` (the typed result so far) and calls
:meth:`ModelRun.emit` and :meth:`ModelRun.stop_requested` from its loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Result = TypeVar("Result")


@dataclass(frozen=True)
class Progress(Generic[Result]):
    """Where a running measurement is, passed to the ``progress`` callback.

    Attributes
    ----------
    model_index : int
        1-based index of the model being measured; 0 while the run waits to start.
    n_models : int
        Models in the run.
    model : str
        The model being measured ("" while waiting).
    stage : str
        What the model is going through, named by the run (e.g. ``"load"``, ``"encode"``,
        ``"retrieval"``), ``"waiting"`` before the run starts and ``"done"`` when a model finished.
    detail : str
        The stage in words, e.g. "repeat 2 of 3".
    fraction : float
        Share of the whole run done, in [0, 1].
    """

    model_index: int
    n_models: int
    model: str
    stage: str
    detail: str
    fraction: float
    _partial: Callable[[], Result] = field(repr=False, compare=False)

    @property
    def message(self) -> str:
        """One line for people, e.g. "Model 1 of 2 · all-MiniLM-L6-v2 · repeat 2 of 3"."""
        if self.model_index == 0:
            return self.detail
        head = f"Model {self.model_index} of {self.n_models} · {self.model}"
        return f"{head} · {self.detail}" if self.detail else head

    def results(self) -> Result:
        """The run as if it ended now: finished models, and the one in progress marked "stopped"."""
        return self._partial()


class ModelRun(Generic[Result]):
    """The shared loop state of a run over ``models``: progress events and Stop.

    Parameters
    ----------
    models : list of str
        Already checked (see :func:`check_models`).
    progress : callable, optional
        Called with a :class:`Progress`.
    should_stop : callable, optional
        Asked between steps; True ends the run after the current step.
    """

    def __init__(
        self,
        models: Sequence[str],
        *,
        progress: Callable[[Progress[Result]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        check_callback(progress, "progress")
        check_callback(should_stop, "should_stop")
        self.models = list(models)
        self.progress = progress
        self.should_stop = should_stop
        self.stopped = False

    def stop_requested(self) -> bool:
        """Whether the caller asked to stop; once it has, the run stays stopped."""
        if not self.stopped and self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def emit(self, index: int, stage: str, detail: str = "", *, fraction: float) -> None:
        """Report that model ``index`` (0-based; ignored while ``stage == "waiting"``) is at ``stage``."""
        if self.progress is None:
            return
        waiting = stage == "waiting"
        self.progress(
            Progress(
                model_index=0 if waiting else index + 1,
                n_models=len(self.models),
                model="" if waiting else self.models[index],
                stage=stage,
                detail=detail,
                fraction=min(1.0, max(0.0, fraction)),
                _partial=lambda: self.results(partial=True),
            )
        )

    def results(self, *, partial: bool = False) -> Result:
        """The typed result so far; ``partial``: as if the run ended now."""
        raise NotImplementedError


def check_callback(value: object, name: str) -> None:
    """Raise TypeError unless ``value`` is callable or None; the message names the parameter."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable or None, got {type(value).__name__}.")


def check_models(models: object) -> list[str]:
    """``models`` as a list of distinct, non-empty model names.

    Raises
    ------
    TypeError
        A single str, something not iterable, or an entry that is not a non-empty str.
    ValueError
        No model, or a model named twice.
    """
    if isinstance(models, str):
        raise TypeError(f"models must be a list of model names, got a single str; wrap it in a list: [{models!r}].")
    try:
        names = list(models)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"models must be a list of model names, got {type(models).__name__}.") from None
    if not names:
        raise ValueError("models must name at least one model, got an empty list.")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"models[{i}] must be a model name (a non-empty str), got {name!r}.")
        if name in seen:
            raise ValueError(f"models must not name a model twice, got {name!r} more than once.")
        seen.add(name)
    return names


def reason(error: BaseException) -> str:
    """Why a model failed, in one line: the exception's first line (at most 300 characters) and its type.

    A :class:`~embedlab.models.packaged.ModelUnavailable` is already a sentence for people and
    is kept as it is.
    """
    from .models.packaged import ModelUnavailable

    text = str(error).strip().rstrip(".")
    if isinstance(error, ModelUnavailable):
        return text
    text = text.splitlines()[0] if text else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
