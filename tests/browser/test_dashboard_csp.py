"""The dashboard works under its content security policy: no violation while the map and a unit page load, and
an injected inline script does not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from tests.browser.test_dashboard_live import DESKTOP, browser, open_dashboard
from tests.support.hub_server import HubServer

pytest.importorskip("playwright.sync_api", reason="Playwright is installed with the dev extra")
from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the shared Chromium fixture


def test_the_dashboard_runs_under_its_csp_and_inline_scripts_do_not(browser: Browser, tmp_path: Path) -> None:
    with (
        MosquittoBroker(workdir=tmp_path / "broker") as broker,
        HubServer(broker, tmp_path / "hub.db", client_id="hub-csp") as hub,
    ):
        context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        try:
            open_dashboard(page, hub.url)
            expect(page.locator("#province-map .map-unit")).to_have_count(len(hub.settings.sites))
            page.goto(f"{hub.url}/#/unit/bn-kinh-bac")
            expect(page.locator("#unit-name")).to_have_text("Trung tâm Phục vụ hành chính công phường Kinh Bắc")
            assert violations == []
            page.evaluate(
                "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                " document.body.append(s); }"
            )
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            assert page.evaluate("() => window.injected") is None
            page.wait_for_function("() => true")
            assert any("inline script" in v or "script-src" in v for v in violations), violations
        finally:
            context.close()
