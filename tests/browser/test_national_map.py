"""The national page in headless Chromium against a real national hub and Mosquitto: the map of Việt Nam shows
its 34 provinces, each named, the two the hub follows marked, Hoàng Sa and Trường Sa drawn and named; choosing a
followed province lists its units, and only its units, with the figures published for them, choosing another
says it is not followed; English on a tap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.mosquitto import MosquittoBroker
from protocol.messages import TicketEvent
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, require_chromium
from tests.support.hub_server import HubServer, Publisher
from tests.support.national import DAY, settings_of_provinces, visit
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def national_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    workdir = tmp_path_factory.mktemp("national")
    _, _, national = settings_of_provinces()
    national = national.with_overrides(mqtt={"username": None})
    with (
        MosquittoBroker(workdir=workdir / "broker") as broker,
        HubServer(broker, workdir / "hub.db", client_id="hub-national", settings=national) as hub,
    ):
        done = TicketEvent.FINISHED
        messages = visit("qn-ha-long", "C1", "08:00:00", "08:20:00", "08:30:00", done)
        messages += visit("qn-ha-long", "C2", "08:02:00", "08:30:00", "08:40:00", done)
        messages += visit("bn-kinh-bac", "A1", "08:00:00", "08:05:00", "08:15:00", done)
        with Publisher(broker, "desks") as desks:
            sent = desks.send(messages)
        hub.wait_until(lambda c: c["accepted"] >= sent)
        yield hub


@pytest.fixture()
def page(national_hub: HubServer) -> Iterator[Page]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
            yield context.new_page()
        finally:
            browser.close()


# The 34 provinces and cities since 1 July 2025 (Resolution 202/2025/QH15) with their codes (Decision
# 19/2025/QĐ-TTg), written out here, not read from the shipped map.
PROVINCES_2025 = {
    1: "Hà Nội", 4: "Cao Bằng", 8: "Tuyên Quang", 11: "Điện Biên", 12: "Lai Châu", 14: "Sơn La", 15: "Lào Cai",
    19: "Thái Nguyên", 20: "Lạng Sơn", 22: "Quảng Ninh", 24: "Bắc Ninh", 25: "Phú Thọ", 31: "Hải Phòng",
    33: "Hưng Yên", 37: "Ninh Bình", 38: "Thanh Hóa", 40: "Nghệ An", 42: "Hà Tĩnh", 44: "Quảng Trị", 46: "Huế",
    48: "Đà Nẵng", 51: "Quảng Ngãi", 52: "Gia Lai", 56: "Khánh Hòa", 66: "Đắk Lắk", 68: "Lâm Đồng", 75: "Đồng Nai",
    79: "Thành phố Hồ Chí Minh", 80: "Tây Ninh", 82: "Đồng Tháp", 86: "Vĩnh Long", 91: "An Giang", 92: "Cần Thơ",
    96: "Cà Mau",
}  # fmt: skip


def test_the_national_map_shows_provinces_then_a_provinces_units(national_hub: HubServer, page: Page) -> None:
    page.goto(f"{national_hub.url}/national.html?date={DAY}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.locator("#load-error")).to_be_hidden()
    country = page.locator("#country-map")
    expect(country.locator("a[data-province] path.province-shape")).to_have_count(34)
    for code, name in PROVINCES_2025.items():
        expect(country.locator(f'a[data-province="{code}"] path.province-shape')).to_have_count(1)
        expect(country.locator(f'[data-province-label="{code}"]')).to_have_text(name)
    # The two the hub follows are marked as followed; the others are drawn but not followed.
    expect(country.locator("a.followed[data-province]")).to_have_count(2)
    expect(country.locator('a.followed[data-province="24"]')).to_have_count(1)
    expect(country.locator('a.followed[data-province="22"]')).to_have_count(1)
    expect(country.locator("[data-archipelago]")).to_have_text(["Quần đảo Hoàng Sa", "Quần đảo Trường Sa"])
    islands = country.locator("path.island")
    expect(islands).to_have_count(1)
    box = islands.bounding_box()
    assert box is not None and box["width"] > 20 and box["height"] > 20, box  # islands drawn, not only named
    expect(page.locator("#province-table tr[data-province]")).to_have_count(2)
    expect(page.locator("#province-panel")).to_be_hidden()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    country.locator('a[data-province="22"] path').click()
    expect(page.locator("#province-panel")).to_be_visible()
    expect(page.locator("#province-title")).to_have_text("Quảng Ninh")
    rows = page.locator("#unit-table tr[data-unit]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-unit", "qn-ha-long")
    expect(rows.nth(1)).to_have_attribute("data-unit", "qn-cam-pha")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("2")  # C1 and C2 served
    expect(page.locator("#province-summary")).to_contain_text("2 đơn vị · 2 lượt phục vụ")
    expect(page.locator('#unit-table a[href="index.html#/unit/qn-ha-long"]')).to_have_text(
        "Bộ phận Một cửa phường Hạ Long"
    )
    page.screenshot(path=str(SCREENSHOTS / "national-map.png"), full_page=True)

    page.locator('#province-table button:has-text("Bắc Ninh")').click()
    expect(page.locator("#province-title")).to_have_text("Bắc Ninh")
    expect(page.locator("#unit-table tr[data-unit]")).to_have_count(len(national_hub.settings.provinces[0].units))
    expect(page.locator('#unit-table tr[data-unit="bn-kinh-bac"] td').nth(3)).to_have_text("1")

    country.locator('a[data-province="1"] path').click()
    expect(page.locator("#province-title")).to_have_text("Hà Nội")
    expect(page.locator("#province-summary")).to_have_text("Hệ thống chưa theo dõi đơn vị nào của tỉnh, thành phố này.")
    expect(page.locator("#unit-table tr[data-unit]")).to_have_count(0)

    page.locator("#lang").click()
    expect(page.locator("#provinces-title")).to_have_text("Provinces")
    expect(page.locator("#province-summary")).to_have_text("This hub follows no unit of this province yet.")
    page.locator('#province-table button:has-text("Bắc Ninh")').click()
    expect(page.locator("#province-summary")).to_contain_text("served")


def test_the_dashboard_links_to_the_national_map(national_hub: HubServer, page: Page) -> None:
    page.goto(f"{national_hub.url}/index.html")
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
    link = page.locator("#national-link")
    expect(link).to_be_visible()
    expect(link).to_have_text("Bộ phận Một cửa toàn quốc")
    link.click()
    expect(page).to_have_url(f"{national_hub.url}/national.html")
    expect(page.locator("#country-map a.followed[data-province]")).to_have_count(2)
