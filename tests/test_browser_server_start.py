"""server.py (what ``make run`` serves): the default model is warmed up when the server starts.

Before it, the warm-up began with the first page a browser asked for, and that first visitor
waited for the model. The oracle is the server's own log: the warm-up's "ready" line is written
while no browser has connected, and only then does a browser open the app and get its map.
"""

import re

from conftest import Server, watched_page
from test_browser_space import wait_for_map

READY = re.compile(r"embedlab warm-up: (\S+) ready \((\S+)\)")


def test_the_model_is_ready_before_any_browser_asks_and_the_app_is_served(browser):
    server = Server(env={"EMBEDLAB_WARMUP": "model"}, script="server.py")
    try:
        ready = server.wait_for_log(READY)  # nobody has opened a page yet
        assert ready[1] == "all-MiniLM-L6-v2" and ready[2] == "torch-fp32"  # the test session's backend
        assert "UMAP" not in server.log.read_text()  # EMBEDLAB_WARMUP=model: that part off, as asked

        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = watched_page(context)
            page.goto(server.url)
            wait_for_map(page, 16)
            assert page.get_by_role("heading", name="Space Explorer").first.is_visible()
            assert not page.get_by_test_id("stException").count()
            assert not page.problems and not page.outside, (page.problems, page.outside)
        finally:
            context.close()
        assert len(READY.findall(server.log.read_text())) == 1  # the page's run did not warm up again
    finally:
        server.stop()
