"""The real app in headless Chromium: every page opens from the sidebar without an error."""

import pytest
from conftest import ARTIFACTS, wait_until_idle

pytestmark = pytest.mark.browser

PAGES = ["Space Explorer", "Speed Benchmark", "Trace Retrieval", "Model Review"]


def test_every_page_opens_from_the_sidebar(page, server):
    page.goto(server.url)
    nav = page.get_by_test_id("stSidebarNav")
    nav.wait_for(timeout=30_000)
    for name in PAGES:
        nav.get_by_role("link", name=name, exact=True).click()
        page.get_by_role("heading", name=name).first.wait_for(timeout=60_000)  # its run has started
        wait_until_idle(page)  # and ended: an exception would be on the page by now
        assert page.get_by_test_id("stException").count() == 0
        page.screenshot(path=ARTIFACTS / f"page-{name.lower().replace(' ', '-')}.png")
    assert page.outside == []
    assert page.problems == []
