"""The supervisor's Decree 335 form in headless Chromium against a real hub: a supervisor logs in, enters
general-criteria points, days off and a transfer for an officer named from the configuration; each entry is
signed with the supervisor's name, shown in the page, written to the audit log, and appears in the year's
pack (JSON and PDF) that the personnel department downloads. A viewer may not enter anything."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from tests.support.hub_server import HubServer
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

from tests.support.browser import SCREENSHOTS  # noqa: E402


def settings_with_roles() -> HubSettings:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": "giamsat", "role": "supervisor", "password_hash": hash_password("mat-khau-8")},
            {"name": "tochuc", "role": "admin", "password_hash": hash_password("mat-khau-9")},
            {"name": "xem", "role": "viewer", "password_hash": hash_password("mat-khau-7")},
            {"name": "cb-an", "role": "viewer", "password_hash": hash_password("mat-khau-6")},
        ]
    }
    data["evaluation"]["officers"] = {
        "cb-an": {"name": "Nguyễn Thị An", "position": "Chuyên viên"},
        "cb-binh": {"name": "Trần Văn Bình", "position": "Cán sự"},
    }
    return HubSettings.model_validate(data)


def test_the_supervisor_form_signs_entries_into_the_pack_and_the_audit_log(browser: Browser, tmp_path: Path) -> None:
    os.environ.pop("ONESTOP_HUB_SESSION_SECRET", None)
    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        hub = HubServer(broker, tmp_path / "hub.db", client_id="hub-evaluation", settings=settings_with_roles())
        hub.http.auth = ("tochuc", "mat-khau-9")
        with hub:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page = context.new_page()
            try:
                login = page.request.post(
                    f"{hub.url}/api/v1/auth/login", data={"name": "giamsat", "password": "mat-khau-8"}
                )
                assert login.ok
                page.goto(hub.url)
                expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
                expect(page.locator("#evaluation-link")).to_be_visible()
                expect(page.locator("#evaluation-link")).to_have_text("Đánh giá công chức")
                page.goto(f"{hub.url}/evaluation.html?year=2026")
                expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
                expect(page.locator("#eval-staff option")).to_have_text(
                    ["Nguyễn Thị An — Chuyên viên (cb-an)", "Trần Văn Bình — Cán sự (cb-binh)"]
                )

                page.select_option("#eval-staff", "cb-an")
                page.select_option("#eval-kind", "general")
                page.fill("#eval-month", "2026-03")
                page.fill("#eval-value", "27.5")
                page.fill("#eval-note", "Thái độ phục vụ tốt")
                page.locator("#eval-submit").click()
                expect(page.locator("#eval-saved")).to_have_text(
                    "Đã lưu: Điểm tiêu chí chung — Nguyễn Thị An, ký bởi giamsat."
                )

                page.select_option("#eval-kind", "days_off")
                page.fill("#eval-month", "2026-04")
                page.fill("#eval-value", "3")
                page.fill("#eval-note", "nghỉ phép")
                page.locator("#eval-submit").click()
                expect(page.locator("#eval-entries tbody tr")).to_have_count(2)

                page.select_option("#eval-kind", "transfer")
                expect(page.locator("#eval-site")).to_be_visible()
                page.fill("#eval-day", "2026-07-01")
                page.select_option("#eval-site", "bn-hcc")
                page.fill("#eval-note", "điều động")
                page.locator("#eval-submit").click()
                rows = page.locator("#eval-entries tbody tr")
                expect(rows).to_have_count(3)
                expect(rows.nth(0)).to_contain_text("Nguyễn Thị An")
                expect(rows.nth(0)).to_contain_text("Điểm tiêu chí chung")
                expect(rows.nth(0)).to_contain_text("27,5")
                expect(rows.nth(0)).to_contain_text("giamsat")
                expect(rows.nth(2)).to_contain_text("Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh")

                # A value out of range is refused with the field named, and nothing is added.
                page.select_option("#eval-kind", "general")
                page.fill("#eval-month", "2026-05")
                page.fill("#eval-value", "31")
                page.evaluate("document.getElementById('eval-value').removeAttribute('max')")
                page.locator("#eval-submit").click()
                expect(page.locator("#eval-error")).to_have_text(
                    "Không lưu được: value: điểm tiêu chí chung phải từ 0 đến 30, nhận được 31"
                )
                expect(rows).to_have_count(3)

                # The monthly tracking shows March's general points from the person.
                expect(page.locator("#eval-tracking tbody tr").nth(2)).to_contain_text("27,50")
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "dashboard-evaluation-form.png"), full_page=True)
            finally:
                context.close()

            # The officer logs in and sees their own months, without the form.
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page = context.new_page()
            try:
                assert page.request.post(
                    f"{hub.url}/api/v1/auth/login", data={"name": "cb-an", "password": "mat-khau-6"}
                ).ok
                page.goto(f"{hub.url}/evaluation.html?year=2026")
                expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
                expect(page.locator("#eval-form")).to_be_hidden()
                expect(page.locator("#eval-tracking tbody tr").nth(2)).to_contain_text("27,50")
                expect(page.locator("#eval-entries tbody tr")).to_have_count(3)
            finally:
                context.close()

            # A viewer may not enter points.
            refused = httpx.post(
                f"{hub.url}/api/v1/evaluation/entries",
                json={"staff": "cb-an", "kind": "general", "month": "2026-06", "value": 10},
                auth=("xem", "mat-khau-7"),
            )
            assert refused.status_code == 403
            # An officer sees their own monthly tracking as the year goes, not a colleague's.
            tracking = f"{hub.url}/api/v1/evaluation/tracking"
            mine = {"year": 2026, "staff": "cb-an"}
            own = httpx.get(tracking, params=mine, auth=("cb-an", "mat-khau-6"))
            assert own.status_code == 200 and own.json()["months"][2]["general_points"] == 27.5
            other = httpx.get(tracking, params=mine, auth=("xem", "mat-khau-7"))
            assert other.status_code == 403

            # The pack of the year (personnel department) carries the entries with their signatures.
            pack = hub.get("/api/v1/reports/evaluation", period="2026")
            (an,) = [o for o in pack["officers"] if o["staff"] == "cb-an"]
            assert an["name"] == "Nguyễn Thị An" and an["general_points"] == 27.5
            assert an["months"][2]["general_source"].startswith("giamsat, ")
            assert an["months"][3]["days_off"] == 3
            assert an["months"][6]["sites"] == {"bn-hcc": 31}
            pdf = hub.http.get("/api/v1/reports/evaluation", params={"period": "2026", "format": "pdf"})
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    with sqlite3.connect(tmp_path / "hub.db") as conn:
        audit = conn.execute(
            "SELECT actor, target, detail FROM audit_log WHERE action = 'evaluation.entry.add' ORDER BY seq"
        ).fetchall()
    assert [(actor, target) for actor, target, _ in audit] == [("giamsat", "cb-an")] * 3
    assert [json.loads(detail)["kind"] for _, _, detail in audit] == ["general", "days_off", "transfer"]
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        stored = conn.execute(
            "SELECT month, result FROM evaluation_months WHERE staff = 'cb-an' ORDER BY month"
        ).fetchall()
    assert len(stored) == 12 and json.loads(stored[2][1])["general_points"] == 27.5
