"""One progress bar and Stop button for every long run a page starts (benchmark, review, …).

How Stop really works. Clicking Stop — or any other widget — while the script runs asks
Streamlit for a rerun. Streamlit serves that request at the script's next ``st.*`` call, which
during a run is the progress-bar update inside the ``progress`` callback: there it raises
``RerunException``, a ``BaseException``. The exception unwinds through the core's loop (which
catches only ``Exception``, so it does not swallow it), through :func:`run`, and ends the script;
``finally`` blocks do run on the way. The rerun then starts the page from the top.

So the rows measured so far must already be in the session when the exception is raised, and
nothing may clear them on the way out: the progress callback stores ``event.results()`` before it
touches the bar, and the ``<prefix>_running`` flag and ``<prefix>_partial`` are cleared only when
the run returns normally (never in a ``finally``). The page calls :func:`interrupted` near its
top; it finds the flag still set and hands back what was kept.

The callback stores the rows in a holder put in the session when the run starts, by a plain
attribute assignment, so no Streamlit call stands between computing the rows and keeping them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

Result = TypeVar("Result")

state = st.session_state


class _Holder:
    """What a run finished so far; mutated without a Streamlit call (see the module docstring)."""

    def __init__(self):
        self.value = None


@dataclass(frozen=True)
class Interrupted:
    """A run that did not return: ``partial`` is what it had finished (None: nothing yet)."""

    partial: Any


def interrupted(prefix: str) -> Interrupted | None:
    """The run of this page that was cut short (Stop, another click, a page switch), once; else None."""
    if not state.get(f"{prefix}_running"):
        return None
    state[f"{prefix}_running"] = False
    kept = state.pop(f"{prefix}_partial", None)
    return Interrupted(kept.value if isinstance(kept, _Holder) else kept)


def run(
    prefix: str,
    start: Callable[[Callable], Result],
    *,
    stop_help: str,
    done: Callable[[Result], str] | None = None,
) -> Result:
    """Run ``start(progress)`` with a progress bar and a Stop button; return its result.

    Parameters
    ----------
    prefix : str
        The page's state-key prefix (``"speed"``, ``"review"``): the Stop button's key is
        ``<prefix>_stop``; the kept rows are ``<prefix>_partial``.
    start : callable
        Called with the progress callback to pass to the core function (which calls it with
        a :class:`embedlab.runs.Progress`).
    stop_help : str
        The Stop button's tooltip.
    done : callable, optional
        The bar's last line for the result, e.g. "Done: 2 model(s) measured on 100 texts.".

    Raises
    ------
    Whatever ``start`` raises; the run then counts as ended (not interrupted).
    """
    state[f"{prefix}_running"] = True
    holder = state[f"{prefix}_partial"] = _Holder()
    bar = st.progress(0.0, text="Starting…")
    stop_slot = st.empty()
    stop_slot.button("Stop", key=f"{prefix}_stop", icon=":material/stop_circle:", help=stop_help)

    def progress(event) -> None:
        holder.value = event.results()  # first, and no Streamlit call: Stop raises in the bar update below
        bar.progress(event.fraction, text=event.message)

    try:
        result = start(progress)
    except Exception:
        _ended(prefix)
        stop_slot.empty()
        bar.empty()
        raise
    _ended(prefix)
    stop_slot.empty()
    bar.progress(1.0, text=done(result) if done is not None else "Done.")
    return result


def _ended(prefix: str) -> None:
    state[f"{prefix}_running"] = False
    state.pop(f"{prefix}_partial", None)
