"""The Space Explorer in headless Chromium loses nothing to a reload (issue 13): pasted sentences and the
map drawn come back after ``page.reload()`` (the address carries the workspace, ``?ws=``), and
"Share this map" gives a link that opens the same map in another browser context (a new session).

Waits follow tests/test_browser_space.py: Streamlit's script state on its root element, never a fixed sleep.
"""

from __future__ import annotations

import re

import pytest
from conftest import ARTIFACTS, rerun_after, wait_until_idle, watched_page
from playwright.sync_api import expect
from test_browser_space import CHART, paste, wait_for_map

pytestmark = pytest.mark.browser

TEXT = "\n".join(
    [
        "Cats | a cat sleeps on the sofa",
        "Cats | a kitten chases a ball",
        "Dogs | a dog barks at the door",
        "Dogs | a puppy runs in the park",
        "Cars | a car drives down the road",
        "Cars | a truck honks in traffic <b>loud</b>",
    ]
)
STALE = "The sentences or settings changed since this map was drawn"


def title_of(page) -> str:
    return page.locator(CHART).first.locator(".gtitle").text_content()


def sentences_box(page):
    box = page.locator(".st-key-space_sentences textarea")
    if not box.is_visible():  # folded under "Your sentences" while a map is on show
        page.get_by_text("Your sentences: paste them or upload a table").click()
    box.wait_for()
    return box


def test_a_reload_keeps_sentences_and_map_and_a_share_link_opens_the_map(page, server, browser):
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(server.url)
    wait_for_map(page, 16)
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"[?&]ws=[A-Za-z0-9_-]{6,}"))
    workspace = re.search(r"ws=([A-Za-z0-9_-]+)", page.url)[1]

    paste(page, TEXT)
    rerun_after(page, lambda: page.get_by_role("button", name="Draw map").click())
    wait_for_map(page, 6)
    title = title_of(page)
    assert "6 sentences" in title

    # a reload: a new session of the same workspace shows the same sentences and map
    page.reload()
    wait_for_map(page, 6)
    wait_until_idle(page)
    assert f"ws={workspace}" in page.url
    assert title_of(page) == title
    expect(sentences_box(page)).to_have_value(TEXT)
    assert page.get_by_text(STALE).count() == 0

    # share it: the link opens the map in another browser context, a session of its own
    page.get_by_role("tab", name="Download").click()
    rerun_after(page, lambda: page.get_by_role("button", name="Share this map").click())
    link = page.get_by_test_id("stCode").last.inner_text().strip()
    assert re.fullmatch(rf"{re.escape(server.url)}/\?map=[0-9a-f]{{16}}", link), link
    page.screenshot(path=ARTIFACTS / "space-explorer-share.png")

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        visitor = watched_page(other)
        visitor.goto(link)
        wait_for_map(visitor, 6)
        wait_until_idle(visitor)
        assert title_of(visitor) == title
        assert "map=" + link.rsplit("=", 1)[1] in visitor.url and f"ws={workspace}" not in visitor.url
        assert visitor.get_by_text(STALE).count() == 0
        expect(sentences_box(visitor)).to_have_value(TEXT)  # ready to explore, and to draw again
        assert visitor.locator("b:text('loud')").count() == 0  # the sentence's markup shows as text
        assert visitor.get_by_test_id("stException").count() == 0
        assert visitor.outside == [] and visitor.problems == []
    finally:
        other.close()
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []
