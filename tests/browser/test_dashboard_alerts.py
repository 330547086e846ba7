"""The dashboard in headless Chromium: a supervisor acknowledges an alert with "Xác nhận" (and its escalation
is called off), and a unit's page shows the three voices with the disagreement warning and the counts behind it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from hub.config import load_settings
from tests.browser.test_dashboard_live import open_dashboard, page  # noqa: F401 (fixture)
from tests.integration.test_alert_delivery import scripted_day
from tests.integration.test_three_voices import scripted_hour
from tests.support.hub_server import HubServer, Publisher
from tests.support.receivers import Mailbox, wait_for
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

SITE = "bn-kinh-bac"


@pytest.fixture(scope="module")
def hub_with_mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubServer, Mailbox]]:
    workdir = tmp_path_factory.mktemp("alerts-dashboard")
    with MosquittoBroker(workdir=workdir / "broker") as broker, Mailbox() as mailbox:
        settings = load_settings().with_overrides(
            notify={
                "smtp": {"host": "127.0.0.1", "port": mailbox.port, "security": "none", "sender": "canhbao@bn.vn"},
                "recipients": [
                    {
                        "id": "truong-bp",
                        "name": "Phạm Thị Dung",
                        "email": "dung@bn.vn",
                        "sites": [SITE],
                        "kinds": ["wait_target_broken"],
                        "escalation": {"to": "pho-gd", "after_minutes": 0.5},
                    },
                    {"id": "pho-gd", "name": "Hoàng Văn Em", "email": "em@bn.vn", "sites": []},
                ],
            }
        )
        with HubServer(broker, workdir / "hub.db", client_id="hub-alerts-dashboard", settings=settings) as hub:
            now = datetime.now(UTC).astimezone(settings.zone)
            start = max(now - timedelta(minutes=25), now.replace(hour=0, minute=0, second=0, microsecond=0))
            with Publisher(broker, client_id="pub-alerts-dashboard") as publisher:
                sent = publisher.send(scripted_day(SITE) + scripted_hour(SITE, start, 29, 1, 10, 2, 0, 0))
            hub.wait_until(lambda c: c["accepted"] >= sent)
            yield hub, mailbox


def test_a_supervisor_acknowledges_an_alert_from_the_dashboard(
    page: Page,  # noqa: F811
    hub_with_mail: tuple[HubServer, Mailbox],
) -> None:
    hub, mailbox = hub_with_mail
    wait_for(lambda: mailbox.to("dung@bn.vn"), 10, "the first person's e-mail")
    open_dashboard(page, f"{hub.url}/#/unit/{SITE}")
    alert = page.locator('#unit-view .alert[data-alert="wait_target_broken"]')
    expect(alert).to_have_count(1, timeout=10000)
    button = alert.get_by_role("button", name="Xác nhận đã tiếp nhận cảnh báo", exact=False)
    expect(button).to_have_text("Xác nhận")
    button.click()
    expect(alert.locator(".acked")).to_contain_text("Đã xác nhận: local, lúc ", timeout=5000)
    alert_id = alert.locator(".acked").get_attribute("data-acked")
    assert alert_id
    raised = datetime.fromisoformat(hub.get("/api/v1/alerts", site=SITE)[0]["ts"])
    assert datetime.now(UTC) - raised < timedelta(seconds=30), "acknowledged after the escalation was due"

    def decided() -> str | None:
        escalations = hub.get("/api/v1/notify/deliveries", alert=alert_id)["escalations"]
        return escalations[0]["status"] if escalations and escalations[0]["status"] != "waiting" else None

    assert wait_for(decided, 45, "the escalation decided") == "acknowledged"
    assert mailbox.to("em@bn.vn") == []
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.locator('#unit-view .alert[data-alert="wait_target_broken"] .acked')).to_contain_text("local")


def test_the_unit_page_shows_the_three_voices_and_the_warning(
    page: Page,  # noqa: F811
    hub_with_mail: tuple[HubServer, Mailbox],
    tmp_path: Path,
) -> None:
    hub, _ = hub_with_mail
    open_dashboard(page, f"{hub.url}/#/unit/{SITE}")
    panel = page.locator("#voices-panel")
    expect(panel).to_be_visible(timeout=10000)
    expect(panel.locator("#voices-title")).to_have_text("Ba tiếng nói của người dân")
    warning = panel.locator('[data-voices-warning="day"]')
    expect(warning).to_contain_text("Cả ngày: 97 % hài lòng trên 31 lượt bấm nút")
    expect(warning).to_contain_text("ép bấm đánh giá")
    day_row = panel.locator("tbody tr").last
    expect(day_row).to_contain_text("Cả ngày")
    expect(day_row).to_contain_text("(30/31)")
    expect(day_row).to_contain_text("(10/12)")
    expect(day_row).to_contain_text("không đo")
