"""User text shown literally: Markdown made by ``markdown_literal`` reads back as the text typed.

Oracles: a CommonMark parser (markdown-it-py) for the escaping, and a real Chromium on a tiny
Streamlit page for what Streamlit's own Markdown adds on top (it typesets ``--`` as a dash).
"""

from __future__ import annotations

import html
import re

import pytest
from conftest import Server
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from embedlab.markup import markdown_literal

JOINER = "\u2060"
#: What people paste: markup, links, code, maths, dashes, quotes.
NASTY = [
    "<b>bold</b> <script>alert(1)</script>",
    "**not bold** _not italic_ `not code` $x^2$ ~~no~~",
    "[a link](https://example.com) ![img](x.png) https://example.com www.example.com a@b.co",
    "# not a heading",
    "- not a list -- two hyphens --- three ---- four",
    "1. not a list\\ back\\slash",
    ":material/home: :smile: {red}[not red]",
    "> not a quote | not | a table |",
]


def rendered_text(markdown: str) -> str:
    """The text CommonMark shows for ``markdown`` (tags dropped, entities decoded, word joiners gone)."""
    out = MarkdownIt("commonmark").render(markdown)
    assert re.fullmatch(r"(<p>.*</p>\n)?", out, flags=re.S), out  # one paragraph of text, nothing else
    return html.unescape(re.sub(r"</?p>", "", out)).strip().replace(JOINER, "")


@pytest.mark.parametrize("text", NASTY)
def test_pasted_markup_reads_back_as_typed(text):
    assert rendered_text(markdown_literal(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f\x85\xa0")))
def test_any_line_reads_back_as_typed(text):
    text = text.strip(" ")  # a paragraph's edges are not shown (Streamlit dedents them away too)
    assert rendered_text(markdown_literal(text)) == text


def test_line_breaks_become_spaces():
    assert rendered_text(markdown_literal("one\ntwo\r\nthree")) == "one two  three"


@pytest.mark.browser
def test_streamlit_shows_hyphens_as_typed(tmp_path, browser):
    """Streamlit's Markdown turns an escaped ``\\-\\-`` into "—"; the word joiner keeps the hyphens."""
    script = tmp_path / "page.py"
    script.write_text(
        "import streamlit as st\n"
        "from embedlab.markup import markdown_literal\n"
        "st.markdown(markdown_literal('A -- B --- C'))\n"
        "st.error(markdown_literal('err -- y'))\n"
        "st.markdown('plain -- z')\n",
        encoding="utf-8",
    )
    server = Server(script=str(script))  # an absolute path: ROOT / script is the script itself
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url)
        page.get_by_text("plain").wait_for(timeout=60_000)
        shown = [el.inner_text().replace(JOINER, "") for el in page.get_by_test_id("stMarkdownContainer").all()]
        context.close()
    finally:
        server.stop()
    assert shown == ["A -- B --- C", "err -- y", "plain — z"]  # the last: Streamlit's own typesetting, unescaped
