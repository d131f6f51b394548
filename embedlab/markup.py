"""User text made literal wherever it is shown: Markdown (Streamlit, reports) and plotly's HTML subset.

One home for escaping: pasted markup, links and Markdown syntax always show as typed, never render.
"""

from __future__ import annotations

import html
import string

# CommonMark: any ASCII punctuation may be backslash-escaped, and then shows literally.
_MARKDOWN_ESCAPES = {c: "\\" + c for c in string.punctuation}
_WORD_JOINER = "\u2060"  # invisible, no line break: keeps "https://x" and "a@b" from becoming links


def markdown_literal(text: object) -> str:
    """``text`` for one line of Markdown (st.markdown, st.error, a report's table cell or heading).

    Every ASCII punctuation character is backslash-escaped (no links, images, emphasis, code,
    HTML, maths or directives), a word joiner keeps URLs and e-mail addresses from being
    auto-linked and two hyphens from becoming a dash (Streamlit's Markdown typesets ``--`` as
    "—" even when escaped), and line breaks become spaces.

    >>> print(markdown_literal("<b>*hi*</b>"))
    \\<b\\>\\*hi\\*\\<\\/b\\>
    """
    text = " ".join(str(text).replace("\r", "\n").split("\n"))
    for pattern in ("://", "www.", "@"):
        text = text.replace(pattern, pattern[0] + _WORD_JOINER + pattern[1:])
    text = text.replace("--", "-" + _WORD_JOINER + "-").replace("--", "-" + _WORD_JOINER + "-")  # runs of any length
    return "".join(_MARKDOWN_ESCAPES.get(c, c) for c in text)


def markdown_sentence(text: object) -> str:
    """A message starting with a capital letter, made literal for st.error / st.warning."""
    text = str(text)
    return markdown_literal(text[:1].upper() + text[1:])


def html_literal(text: object) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, for plotly labels and hover text (an HTML subset)."""
    return html.escape(str(text), quote=False)
