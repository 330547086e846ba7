"""The camera's view of the line on the supervisors' dashboard, in headless Chromium against a real hub and a
real Mosquitto: walk-outs and the wait before the ticket on the desk card and the unit's day figures, with
their sample sizes, and the warning when the camera's line and the tickets waiting disagree for too long."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from devtools.mosquitto import MosquittoBroker
from hub.config import HubSettings, load_settings
from protocol.messages import LineEvent, LineMessage, QueueMessage, QueueSource, TicketEvent, TicketMessage
from tests.support.hub_server import HubServer, Publisher

pytestmark = pytest.mark.browser

SITE = "bn-kinh-bac"


def settings() -> HubSettings:
    data = load_settings().model_dump()
    data["live"] = {**data["live"], "line_mismatch_after_s": 3, "tick_s": 0.5}  # minutes in real life
    return HubSettings.model_validate(data)


@pytest.fixture()
def hub(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, HubServer]]:
    with (
        MosquittoBroker(workdir=tmp_path / "broker") as broker,
        HubServer(broker, tmp_path / "hub.db", client_id="hub-line-card", settings=settings()) as server,
    ):
        yield broker, server


def test_walk_outs_pre_ticket_waits_and_a_line_mismatch_show_on_the_unit_page(
    browser: Browser, hub: tuple[MosquittoBroker, HubServer]
) -> None:
    broker, server = hub
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    page = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="vi-VN").new_page()
    with Publisher(broker, client_id="line-card") as publisher:
        publisher.send(
            [
                LineMessage(site=SITE, desk="q01", event=LineEvent.WALKOUT, duration_s=420.0),
                LineMessage(site=SITE, desk="q01", event=LineEvent.PRE_TICKET_WAIT, duration_s=60.0),
                LineMessage(site=SITE, desk="q01", event=LineEvent.PRE_TICKET_WAIT, duration_s=180.0),
                TicketMessage(ts=earlier, site=SITE, desk="q02", event=TicketEvent.ISSUED, ticket="7"),
            ]
        )
        server.wait_until(lambda c: c["accepted"] >= 4)
        page.goto(f"{server.url}/#/unit/{SITE}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
        card = page.locator('#desks .desk[data-desk="q01"]')
        expect(card.locator('[data-field="walkouts"]')).to_have_text("1")
        expect(card.locator('[data-field="pre_ticket_wait"]')).to_have_text("2 phút (2 lượt)")
        expect(page.locator('#unit-figures [data-figure="walkouts"] .figure-value')).to_have_text("1")
        expect(page.locator('#unit-figures [data-figure="pre_ticket_wait"] .figure-note')).to_have_text("2 lượt")

        # One ticket waits at q02, but the camera there sees six people in line, sample after sample.
        other = page.locator('#desks .desk[data-desk="q02"]')
        for _ in range(12):
            sample = QueueMessage(site=SITE, desk="q02", length=6, source=QueueSource.CAMERA, present=True)
            publisher.send([sample])
            if other.locator('[data-field="line_mismatch"]').count():
                break
            page.wait_for_timeout(500)
        expect(other.locator('[data-field="line_mismatch"]')).to_have_text(
            "⚠ Camera thấy 6 người xếp hàng nhưng chỉ 1 số đang chờ: "
            "máy in số có thể hỏng / người xếp hàng không lấy số",
            timeout=5000,
        )
        alert = page.locator('#unit-view .alert[data-alert="line_ticket_mismatch"][data-desk="q02"]')
        expect(alert).to_be_visible()
    page.context.close()
