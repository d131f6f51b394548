"""Shared fixtures: a private data directory, the served app, and a real Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-quic",
]


def pytest_configure(config):
    # Every test, and every server a test starts, keeps its data in a fresh folder.
    os.environ["EMBEDLAB_HOME"] = tempfile.mkdtemp(prefix="embedlab-test-home-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # No background UMAP compilation in each test server (~40 s of CPU apiece on two cores);
    # tests/test_warmup.py turns it back on where it is the subject.
    os.environ.setdefault("EMBEDLAB_WARMUP", "0")
    # The reference backend everywhere, so tests compare with sentence-transformers' own vectors
    # and no fresh test home spends a minute calibrating; tests/test_backends.py tests "auto".
    os.environ.setdefault("EMBEDLAB_BACKEND", "torch-fp32")
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's expect() polls until its condition holds: a widget's restored value reaches the
    # DOM a moment after the run has ended (see wait_until_idle), later still on a loaded machine.
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app.py`` on a free loopback port (``script="server.py"``: as ``make run`` serves it)."""

    def __init__(self, env: dict | None = None, script: str = "app.py"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ARTIFACTS / f"server-{self.port}.log"
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / script),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as reply:
                    if reply.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url}; see {self.log}")

    def wait_for_log(self, pattern: re.Pattern, timeout_s: float = 600) -> re.Match:
        """The first match of ``pattern`` in the server's log, once it is written (a traceback there fails at once)."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            log = self.log.read_text(errors="replace")
            if found := pattern.search(log):
                return found
            assert "Traceback" not in log, log[-3000:]
            time.sleep(0.25)
        raise AssertionError(f"the server log never said {pattern.pattern!r}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser page that records console errors, page errors, dialogs and any request
    that leaves the machine (the test fails on those)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield watched_page(context)
    context.close()


def watched_page(context):
    """A new page in ``context`` that records page errors, dialogs and console errors in ``page.problems``
    and aborts (recording in ``page.outside``) every request that leaves the machine."""
    page = context.new_page()
    page.problems = []
    page.outside = []

    def on_request(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            route.continue_()
        else:
            page.outside.append(url)
            route.abort()

    context.route("**/*", on_request)
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    return page


#: Pages whose URL is set in app.py (``url_path``) rather than derived from the file name.
URL_PATHS = {"Fine-tune": "fine-tune", "Memory Search": "memory-search"}


def open_from_sidebar(page, server, name: str, timeout: int = 60_000) -> None:
    """Open the app and go to page ``name`` through the sidebar, as a person would.

    On a server's first session Streamlit briefly lists the ``pages/`` folder itself
    ("speed benchmark") until app.py's ``st.navigation`` has run; a click on that transient
    link can be lost. The app's own links carry the exact title, so wait for those.
    """
    page.goto(server.url)
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    link.wait_for(timeout=timeout)
    link.click()
    if name != "Space Explorer":  # the default page keeps the root URL
        path = URL_PATHS.get(name, name.lower().replace(" ", "_"))
        page.wait_for_url(re.compile(rf"/{path}(\?|$)"), timeout=timeout)  # ?ws=<id> follows the path
    page.get_by_role("heading", name=name).first.wait_for(timeout=timeout)


#: Streamlit marks its app root with the script's state; ``notRunning`` once a run has ended.
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def wait_until_idle(page, timeout: int = 120_000) -> None:
    """Wait until the app says its script run has ended (``data-test-script-state``).

    Call it after something on the page shows that the run being waited for has started (its
    heading, its first chart): right after a click the old run's ``notRunning`` is still there,
    which is why no fixed sleep stands in for that first signal.

    The run having ended does not mean the page has drawn it: on a loaded machine the front end
    first mounts a widget with its default (a number input's minimum, an empty text box) and shows
    the value from the session a moment later. Check a widget's value with Playwright's
    ``expect(locator).to_have_value(...)``, which waits for it, not with ``input_value() ==``.
    """
    page.locator(IDLE).wait_for(state="attached", timeout=timeout)


def rerun_after(page, action, timeout: float = 120_000, *, start_within: float | None = None) -> None:
    """Do ``action`` (something that makes the app rerun), then wait until that rerun has ended.

    A MutationObserver installed before the action counts the script-state changes Streamlit
    makes on its root element, so a rerun that starts and ends between two polls is still seen.
    ``start_within`` (seconds): for an action that may change nothing (then no rerun comes), stop
    waiting when no rerun has started by then.
    """
    page.evaluate(
        """() => { const app = document.querySelector('[data-testid=stApp]');
                   if (window.__runs) window.__runs.observer.disconnect();
                   const runs = { started: 0 };
                   runs.observer = new MutationObserver(() => {
                       if (app.dataset.testScriptState !== 'notRunning') runs.started += 1; });
                   runs.observer.observe(app, { attributes: true, attributeFilter: ['data-test-script-state'] });
                   window.__runs = runs; }"""
    )
    action()
    if start_within is not None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function("() => window.__runs.started > 0", timeout=start_within * 1000)
        except PlaywrightTimeout:
            return  # no rerun: the action changed nothing
    page.wait_for_function(
        """() => window.__runs.started > 0
                 && document.querySelector('[data-testid=stApp]').dataset.testScriptState === 'notRunning'""",
        timeout=timeout,
    )


def open_app(path: str, ws: str | None = None, *, timeout: float = 600):
    """A new AppTest session (a reload, or a new tab) of app.py on page ``path``; in workspace ``ws`` when given."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=timeout)
    if ws is not None:
        at.query_params["ws"] = ws  # a reload, or the same link in another tab
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def workspace_of(at) -> str:
    """An AppTest session's workspace id (app.py puts it in the address as ``?ws=``; browser tests check that)."""
    return at.session_state["workspace_id"]


def as_read(elements) -> list[str]:
    """Messages as a user reads them: the Markdown escapes the pages put in user text (``\\_`` shows ``_``)
    and the word joiners that keep URLs from becoming links are undone."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)).replace("\u2060", "") for e in elements]
