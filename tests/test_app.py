"""AppTest: every page renders without an exception."""

import pytest
from streamlit.testing.v1 import AppTest

PAGES = [
    "pages/space_explorer.py",
    "pages/speed_benchmark.py",
    "pages/trace_retrieval.py",
    "pages/model_review.py",
    "pages/fine_tune.py",
    "pages/memory_search.py",
]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title
