"""Fixtures for the browser tests: one Chromium and one live server per test session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_harness import CHROMIUM, CHROMIUM_ARGS, LiveServer, live_server, require_test_parts


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download). Module scope: while
    Playwright's sync API runs, its event loop occupies this thread, and the async tests of the other
    folders need it free."""
    require_test_parts()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("explorer-server")) as live:
        yield live
