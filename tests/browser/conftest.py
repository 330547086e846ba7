"""Debian's Chromium, headless, driven by Playwright: one browser per module for the tests that use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # as a hall TV's kiosk browser is started (hall display)
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium; a missing one fails the test (scripts/setup.sh installs it)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
