"""The supervisors' dashboard in headless Chromium (Debian's, driven by Playwright) against a real hub, a real
Mosquitto and the simulator: the province map shows every unit, a ticket published over MQTT changes its desk
card within two seconds without a reload, an alert appears when a queue breaks the target, and a hub with users
asks for a login. Screenshots of each page go to test-artifacts/screenshots/ (`make screenshots` refreshes
docs/screenshots/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from protocol.messages import QueueMessage, QueueSource, TicketEvent, TicketMessage
from tests.support.browser import SCREENSHOTS
from tests.support.hub_server import HubServer, Publisher
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TICKET_DESK = ("bn-tien-du", "q01")  # left out of the simulation: only this test's events reach it
QUEUE_DESK = ("bn-tien-du", "q02")
DESKTOP = {"width": 1600, "height": 1000}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MosquittoBroker, HubServer]]:
    """Broker, hub and the simulated province: three hours of traffic back-filled, then in real time."""
    workdir = tmp_path_factory.mktemp("dashboard")
    with (
        MosquittoBroker(workdir=workdir / "broker") as broker,
        HubServer(broker, workdir / "hub.db", client_id="hub-dashboard") as hub,
    ):
        simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.cli",
                "--broker",
                broker.address,
                "--backfill-minutes",
                "180",
                "--always-open",
                "--seed",
                "5",
                "--skip-desk",
                "/".join(TICKET_DESK),
                "--skip-desk",
                "/".join(QUEUE_DESK),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_backfill(hub)
            yield broker, hub
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)


def wait_for_backfill(hub: HubServer, timeout: float = 90) -> None:
    """Until the hub has taken the back-filled hours (the count then grows only at the real-time pace)."""
    deadline = time.monotonic() + timeout
    previous = -1
    while time.monotonic() < deadline:
        counts = hub.counts()
        taken = counts["accepted"] + counts["duplicates"]
        if taken > 1000 and taken - previous < 20:
            return
        previous = taken
        time.sleep(0.5)
    raise AssertionError("the simulator's back-fill never reached the hub")


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    try:
        yield context.new_page()
    finally:
        context.close()


def open_dashboard(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)


def shot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the last redraw settle
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=full_page)


def test_the_province_map_shows_every_unit(page: Page, province: tuple[MosquittoBroker, HubServer]) -> None:
    _, hub = province
    open_dashboard(page, hub.url)
    expect(page.locator("#map-title")).to_have_text("Bản đồ Bộ phận Một cửa tỉnh Bắc Ninh")
    expect(page.locator("#province-map .map-province")).to_have_count(1)
    for site in hub.settings.sites:
        marker = page.locator(f'#province-map .map-unit[data-unit="{site.id}"]')
        expect(marker).to_have_count(1)
        assert site.name in (marker.get_attribute("aria-label") or "")
        expect(page.locator(f'#unit-list [data-unit="{site.id}"]')).to_be_visible()
    # Every state is told in words too, not by colour alone.
    expect(page.locator("#map-legend li")).to_have_text(["Trong chỉ tiêu", "Sắp vượt chỉ tiêu", "Vượt chỉ tiêu"])
    shot(page, "map")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    expect(page.locator("#province-map .map-unit")).to_have_count(len(hub.settings.sites))
    shot(page, "map-phone")

    # Drill into a unit from the map.
    page.set_viewport_size(DESKTOP)
    page.locator('#province-map .map-unit[data-unit="bn-hcc"]').click()
    expect(page.locator("#unit-name")).to_have_text("Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh")
    expect(page.locator("#desks .desk")).to_have_count(8)


def test_an_old_ticket_makes_the_unit_red_on_the_map(page: Page, province: tuple[MosquittoBroker, HubServer]) -> None:
    broker, hub = province
    site, desk = TICKET_DESK
    open_dashboard(page, hub.url)
    with Publisher(broker, client_id="dashboard-old-ticket") as publisher:
        publisher.send(
            [
                TicketMessage(
                    ts=datetime.now(UTC) - timedelta(minutes=25),
                    site=site,
                    desk=desk,
                    event=TicketEvent.ISSUED,
                    ticket="B099",
                )
            ]
        )
    marker = page.locator(f'#province-map .map-unit[data-unit="{site}"]')
    expect(marker).to_have_class("map-unit state-broken", timeout=5000)
    expect(page.locator(f'#unit-list [data-unit="{site}"] .badge')).to_have_text("■ Vượt chỉ tiêu")


def test_a_ticket_changes_its_desk_card_within_two_seconds(
    page: Page, province: tuple[MosquittoBroker, HubServer]
) -> None:
    broker, hub = province
    site, desk = TICKET_DESK
    open_dashboard(page, f"{hub.url}/#/unit/{site}")
    card = page.locator(f'#desks .desk[data-desk="{desk}"]')
    waiting = card.locator('[data-field="queue_length"]')
    expect(waiting).to_have_text(re.compile(r"^\d+$"))
    before = int(waiting.inner_text())
    page.evaluate("window.__notReloaded = true")

    with Publisher(broker, client_id="dashboard-ticket") as publisher:
        publisher.send([TicketMessage(site=site, desk=desk, event=TicketEvent.ISSUED, ticket="B101")])
        expect(waiting).to_have_text(str(before + 1), timeout=2000)
        publisher.send(
            [TicketMessage(site=site, desk=desk, event=TicketEvent.CALLED, ticket="B101", staff="cb-tien-du-1")]
        )
        expect(card.locator('[data-field="serving"]')).to_have_text("Đang phục vụ số B101 (dưới 1 phút)", timeout=2000)
        expect(waiting).to_have_text(str(before))
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded instead of updating live"

    # English on a tap, the same figures.
    page.locator("#lang").click()
    expect(page.locator("#app-title")).to_have_text("One-stop desk monitor")
    expect(card.locator('[data-field="serving"]')).to_have_text("Serving no. B101 (under 1 min)")
    page.locator("#lang").click()
    expect(page.locator("#app-title")).to_have_text("Giám sát Bộ phận Một cửa")


def test_an_alert_appears_when_a_queue_breaks_the_target(
    page: Page, province: tuple[MosquittoBroker, HubServer]
) -> None:
    broker, hub = province
    site, desk = QUEUE_DESK
    open_dashboard(page, f"{hub.url}/#/unit/{site}")
    alert = page.locator(f'#unit-view .alert[data-alert="wait_target_broken"][data-desk="{desk}"]')
    expect(alert).to_have_count(0)
    # The camera sees six people; the first has waited 20 minutes, over the 15-minute target.
    sample = QueueMessage(
        site=site, desk=desk, length=6, head_wait_s=1200, est_wait_s=2400, source=QueueSource.CAMERA, present=True
    )
    with Publisher(broker, client_id="dashboard-queue") as publisher:
        publisher.send([sample])
    expect(alert).to_be_visible(timeout=5000)
    expect(alert).to_contain_text("người đầu hàng đã chờ 20 phút, vượt chỉ tiêu 15 phút")
    expect(alert.locator(".severity")).to_have_text("■ Khẩn")
    card = page.locator(f'#desks .desk[data-desk="{desk}"]')
    expect(card.locator('[data-field="state"]')).to_have_text("■ Vượt chỉ tiêu")
    expect(card.locator('[data-field="queue_length"]')).to_have_text("6")
    expect(page.locator("#announcer")).to_contain_text("vượt chỉ tiêu 15 phút")
    shot(page, "alert")

    # A unit of the simulation, with a day of figures: the charts, by hour and over the week.
    page.goto(f"{hub.url}/#/unit/bn-kinh-bac")
    expect(page.locator("#unit-name")).to_have_text("Trung tâm Phục vụ hành chính công phường Kinh Bắc")
    expect(page.locator("#wait-chart .bar").first).to_be_visible()
    expect(page.locator("#sat-chart .bar").first).to_be_visible()
    shot(page, "unit", full_page=True)
    page.locator("#tab-week").click()
    expect(page.locator("#tab-week")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#wait-chart .bar").first).to_be_visible()
    page.locator("#tab-day").click()

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{hub.url}/#/unit/bn-hcc")
    expect(page.locator("#desks .desk")).to_have_count(8)
    shot(page, "tv")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{hub.url}/#/unit/{site}")
    expect(alert).to_be_visible()
    shot(page, "unit-phone", full_page=True)


def settings_with_users() -> HubSettings:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [{"name": "giamsat", "role": "supervisor", "password_hash": hash_password("mat-khau-8")}],
        "public_units": ["bn-kinh-bac"],
    }
    return HubSettings.model_validate(data)


def test_a_hub_with_users_asks_for_a_login(browser: Browser, tmp_path: Path) -> None:
    os.environ.pop("ONESTOP_HUB_SESSION_SECRET", None)
    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        hub = HubServer(broker, tmp_path / "hub.db", client_id="hub-login", settings=settings_with_users())
        hub.http.auth = ("giamsat", "mat-khau-8")  # the test's own requests log in with HTTP Basic
        hub.start()
        try:
            check_login_and_public_view(browser, hub)
        finally:
            hub.stop()


def check_login_and_public_view(browser: Browser, hub: HubServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    try:
        # The public view of one unit needs no login, and shows nothing else.
        open_dashboard(page, hub.url)
        expect(page.locator("#unit-name")).to_have_text("Trung tâm Phục vụ hành chính công phường Kinh Bắc")
        expect(page.locator("#mode-note")).to_have_text("Chế độ xem công khai")
        expect(page.locator("#back")).to_be_hidden()

        page.locator("#login-open").click()
        expect(page.locator("#login-title")).to_have_text("Đăng nhập để xem bảng theo dõi")
        page.fill("#login-name", "giamsat")
        page.fill("#login-password", "sai-mat-khau")
        page.locator("#login-submit").click()
        expect(page.locator("#login-error")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
        shot(page, "login")
        page.fill("#login-password", "mat-khau-8")
        page.locator("#login-submit").click()
        expect(page.locator("#map-title")).to_have_text("Bản đồ Bộ phận Một cửa tỉnh Bắc Ninh")
        expect(page.locator("#user")).to_have_text("giamsat (giám sát)")
        expect(page.locator("#province-map .map-unit")).to_have_count(len(hub.settings.sites))
    finally:
        context.close()
    assert httpx.get(f"{hub.url}/api/v1/sites").status_code == 401
    assert httpx.get(f"{hub.url}/api/v1/sites/bn-kinh-bac/live").status_code == 200
