"""Drive the machine's Chromium with Playwright against the app served from a real thread.

Without Chromium or Playwright these tests are skipped on a workstation and FAIL when the
environment variable CI is set (CI must run them). A failing test leaves a screenshot of
every page it opened under test-output/.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import unavailable
from tests.views.conftest import referral_process, world  # noqa: F401  (shared fixtures)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium for the whole session."""
    problem = _missing()
    if problem:
        unavailable(f"browser tests: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test app from a real HTTP server thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Remember each phase's report on the test item (for screenshots on failure)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def new_page(browser, live_server, request) -> Iterator[Any]:
    """Open pages in fresh browser contexts (a phone-sized one with phone=True)."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(phone: bool = False) -> Any:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=size)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        OUTPUT.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for number, page in enumerate(pages, 1):
            try:
                page.screenshot(path=str(OUTPUT / f"{name}-{number}.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the real failure
                print(f"no screenshot of page {number}: {exc}")
    for context in contexts:
        context.close()
