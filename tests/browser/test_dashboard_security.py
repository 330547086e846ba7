"""The dashboard works under its content security policy (no violation while the map and a unit page load; an
injected inline script does not run), and an admin reads the audit log in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from tests.browser.test_dashboard_live import DESKTOP, open_dashboard
from tests.support.hub_server import HubServer
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser


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


def test_an_admin_sees_who_logged_in_in_the_audit_log(browser: Browser, tmp_path: Path) -> None:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": "quantri", "role": "admin", "password_hash": hash_password("quan-tri-2026")},
            {"name": "giamsat", "role": "supervisor", "password_hash": hash_password("giam-sat-2026")},
        ]
    }
    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        hub = HubServer(broker, tmp_path / "hub.db", client_id="hub-audit", settings=HubSettings.model_validate(data))
        hub.http.auth = ("quantri", "quan-tri-2026")
        with hub:
            context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
            page = context.new_page()
            try:
                for name, password in (("giamsat", "giam-sat-2026"), ("quantri", "quan-tri-2026")):
                    page.goto(hub.url)
                    page.fill("#login-name", name)
                    page.fill("#login-password", password)
                    page.locator("#login-submit").click()
                    expect(page.locator("#user")).to_contain_text(name)
                    if name == "giamsat":
                        expect(page.locator("#audit-open")).to_be_hidden()  # not for supervisors
                        page.locator("#logout").click()
                        expect(page.locator("#login-title")).to_be_visible()
                page.locator("#audit-open").click()
                expect(page.locator("#audit-title")).to_have_text("Nhật ký truy cập")
                rows = page.locator("#audit-table tbody tr")
                expect(rows.first).to_contain_text("quantri")
                expect(rows.first).to_contain_text("Đăng nhập")
                expect(page.locator('#audit-table tr[data-action="session.logout"]')).to_contain_text("giamsat")
            finally:
                context.close()
