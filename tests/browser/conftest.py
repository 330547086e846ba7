"""Debian's Chromium, headless, driven by Playwright: one browser per module for the tests that use it
(tests/support/browser.py says which binary; a missing one fails under CI=true)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.support.require import require_module


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for the module's tests."""
    require_chromium()
    sync_api = require_module("playwright.sync_api", "Playwright", "installed with the dev extra")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
