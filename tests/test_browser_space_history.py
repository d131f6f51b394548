"""The Space Explorer's "This workspace's maps" in headless Chromium: draw, redraw with PCA, open the
list and open the first map again (its chart's title and point count show it), the list staying open;
a screenshot of the list goes to test-artifacts/space-history.png.

Waits follow tests/test_browser_space.py: Streamlit's script state on its root element, never a fixed sleep.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, rerun_after, wait_until_idle
from playwright.sync_api import expect
from test_browser_space import CHART, wait_for_map

from embedlab.maps import saved

pytestmark = pytest.mark.browser

LIST = ".st-key-space_history"
OPEN = "[class*='st-key-space_history_open_']"


def title_of(page) -> str:
    return page.locator(CHART).first.locator(".gtitle").text_content()


def row_ids(page) -> list[str]:
    """The map ids the list shows, in order, read from its Open buttons' keys."""
    classes = page.locator(OPEN).evaluate_all("els => els.map(e => e.className)")
    return [c.split("st-key-space_history_open_", 1)[1].split()[0] for c in classes]


def open_button(page, map_id: str):
    """A row's Open button (Streamlit also draws a hidden copy of a button with help, to measure it)."""
    return page.locator(f".st-key-space_history_open_{map_id}").get_by_role("button", name="Open")


def test_two_maps_listed_and_the_first_opened_again(page, server):
    page.goto(server.url)
    wait_for_map(page, 16)  # the first visit draws the lesson's 16 sentences with t-SNE
    wait_until_idle(page)
    first_title = title_of(page)
    assert "t-SNE 2-D" in first_title

    rerun_after(page, lambda: page.get_by_test_id("stSidebar").get_by_text("PCA", exact=True).click())
    rerun_after(page, lambda: page.get_by_role("button", name="Draw map").click())
    wait_for_map(page, 16)
    expect(page.locator(CHART).first.locator(".gtitle")).to_contain_text("PCA 2-D")
    second_title = title_of(page)

    summary = page.locator(LIST).get_by_text("This workspace's maps (2)")
    expect(summary).to_be_visible()
    summary.click()
    expect(page.locator(OPEN)).to_have_count(2)
    newest, oldest = row_ids(page)
    assert saved.load_map(newest).result.title() == second_title  # the chart's title, as saved
    assert saved.load_map(oldest).result.title() == first_title
    expect(open_button(page, newest)).to_be_disabled()  # on show

    rerun_after(page, lambda: open_button(page, oldest).click())
    expect(page.locator(CHART).first.locator(".gtitle")).to_have_text(first_title)
    wait_for_map(page, 16)
    expect(open_button(page, newest)).to_be_visible()  # the list stayed open
    expect(open_button(page, oldest)).to_be_disabled()
    expect(open_button(page, newest)).to_be_enabled()
    expect(page.locator(LIST).get_by_text("Opened the map")).to_be_visible()
    assert row_ids(page) == [newest, oldest]  # opening keeps the order
    # the sidebar shows the opened map's settings: t-SNE again
    expect(page.get_by_test_id("stSidebar").get_by_text("Perplexity")).to_be_visible()

    page.locator(LIST).scroll_into_view_if_needed()
    page.locator(LIST).screenshot(path=ARTIFACTS / "space-history.png")
    assert page.problems == [] and page.outside == []
