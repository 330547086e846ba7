"""Headless Chromium for the browser tests: Debian's build (no browser is downloaded), driven by Playwright.

ONESTOP_CHROMIUM names another binary (CI checks that a missing one fails the run); ONESTOP_SCREENSHOTS names
where the screenshots go: test-artifacts/screenshots/ unless ``make screenshots`` points it at
docs/screenshots/ (tests never write into tracked files)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.require import require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ONESTOP_CHROMIUM", "/usr/bin/chromium")
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
SCREENSHOTS = Path(os.environ.get("ONESTOP_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")


def require_chromium() -> None:
    require(
        Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK),
        f"Chromium at {CHROMIUM}",
        "Debian's chromium: ./scripts/setup.sh installs it; ONESTOP_CHROMIUM names another binary",
    )
