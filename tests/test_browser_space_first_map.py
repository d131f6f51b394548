"""A new server loads the default model in the background: the first map finds it loaded.

No timing threshold here (machines are noisy; ``bench/first_map.py`` times the first map): the
oracle is the server's own log, where the warm-up says it loaded the model, and the page, which
draws the 16-sentence map once it has.
"""

import re

import pytest
from conftest import Server, open_from_sidebar, wait_until_idle
from test_browser_space import wait_for_map

pytestmark = pytest.mark.browser

READY = re.compile(r"embedlab warm-up: all-MiniLM-L6-v2 ready \((\S+)\) in ([\d.]+) s: loaded in ([\d.]+) s")


@pytest.fixture(scope="module")
def server():
    # the model part of the warm-up only (UMAP's costs ~40 s of CPU and is tested elsewhere); a fixed
    # backend, so that choosing one for this machine (its own tests) does not lengthen this one
    running = Server(env={"EMBEDLAB_WARMUP": "model", "EMBEDLAB_BACKEND": "torch-fp32"})
    yield running
    running.stop()


def test_the_first_page_run_loads_the_model_in_the_background_and_the_map_finds_it(page, server):
    # the first visit is to another page: nothing there loads a model, yet the warm-up does
    open_from_sidebar(page, server, "Speed Benchmark")
    found = server.wait_for_log(READY)
    assert found[1] == "torch-fp32"
    assert float(found[3]) > 0.2  # it loaded the model itself (an instance already there takes ~0 s)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Space Explorer", exact=True).click()
    wait_for_map(page, 16, timeout=300_000)
    wait_until_idle(page)
    assert page.get_by_test_id("stException").count() == 0
    # the map's caption: every sentence came from the cache the warm-up filled
    assert page.get_by_text(re.compile(r"Encoded 16 sentences in [\d.]+ s \(16 from the cache\)")).count() == 1
    assert len(READY.findall(server.log.read_text())) == 1  # once per server
    assert page.outside == []
    assert page.problems == []
